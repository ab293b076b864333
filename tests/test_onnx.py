#!/usr/bin/python3
"""Checks build/export's ONNX files with runtimes nobody here wrote (run by tests/test_onnx.cpp).

  test_onnx.py encoder FILE
      FILE (written by the C++ test "onnx: every message and attribute type") parses with the
      onnx package into exactly the model built here with onnx.helper.
  test_onnx.py models MODEL.onnx LOGITS.txt [MODEL.onnx LOGITS.txt ...]
      each model passes onnx.checker (with shape inference), re-serialises to the same bytes,
      has a dynamic batch and its class names; OpenCV's DNN module runs it on the images named
      in LOGITS.txt (lines "PATH: logit logit ...", from build/predict --logits) and its logits
      match to 1e-4, with the same predicted class for every image.

Exits 1 with one line per failure, and 77 (skipped) when python3-onnx or python3-opencv
is not installed.
"""
import json
import sys

try:
    import cv2
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError as e:
    print("skipped: %s (make deps installs python3-onnx and python3-opencv)" % e)
    sys.exit(77)

TOLERANCE = 1e-4
failures = []


def check(ok, message):
    if not ok:
        failures.append(message)
    return ok


def kitchen_sink():
    """The model the C++ test writes, built with the onnx package's own helpers."""
    attrs = dict(f=0.5, i=-3, s="h\u00e9llo", floats=[1.5, -2.25], ints=[1, -1, 300], strings=["a", ""],
                 t=numpy_helper.from_array(np.array([7, -8], np.int64), "t"))
    node = helper.make_node("Custom", ["x", "w"], ["y"], name="n0", **attrs)
    # make_node sorts keyword attributes by name; the C++ side writes them in that order too.
    w = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5, "w")
    big = numpy_helper.from_array(np.full(40, 1e-3, np.float32), "big")  # a length over 127 bytes
    shape = numpy_helper.from_array(np.array([0, -1], np.int64), "shape")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])], [w, big, shape])
    model = helper.make_model(graph, producer_name="dl", doc_string="doc", opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    helper.set_model_props(model, {"class_names": '["a", "b"]', "model": "m"})
    return model


def check_encoder(path):
    data = open(path, "rb").read()
    parsed = onnx.load_from_string(data)
    expected = kitchen_sink()
    check(parsed == expected, "%s: parsed, it differs from the same model built by onnx.helper:\n%s\n-- expected --\n%s"
          % (path, parsed, expected))
    check(parsed.SerializeToString() == data, "%s: re-serialised by protobuf, the bytes differ" % path)


def read_logits(path):
    rows = []
    for line in open(path):
        image, values = line.rsplit(":", 1)
        rows.append((image, np.array([float(v) for v in values.split()], np.float32)))
    return rows


def load_batch(paths, channels):
    """Pixels scaled to [0, 1], (N, C, H, W), as a user of the ONNX file would feed them."""
    images = []
    for p in paths:
        img = cv2.imread(p, cv2.IMREAD_GRAYSCALE if channels == 1 else cv2.IMREAD_COLOR)
        if img is None:
            raise RuntimeError("cannot read image " + p)
        img = img[None] if channels == 1 else cv2.cvtColor(img, cv2.COLOR_BGR2RGB).transpose(2, 0, 1)
        images.append(img.astype(np.float32) / np.float32(255))
    return np.stack(images)


def check_model(path, logits_path):
    data = open(path, "rb").read()
    model = onnx.load_from_string(data)
    onnx.checker.check_model(model, full_check=True)  # raises on an invalid model
    check(model.SerializeToString() == data, "%s: re-serialised by protobuf, the bytes differ" % path)
    check([(o.domain, o.version) for o in model.opset_import] == [("", 13)], "%s: opset is not 13" % path)
    dims = lambda v: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
    inp, out = dims(model.graph.input[0]), dims(model.graph.output[0])
    check(inp[0] == "N" and out[0] == "N", "%s: the batch dimension is not dynamic: %s -> %s" % (path, inp, out))
    names = json.loads({p.key: p.value for p in model.metadata_props}.get("class_names", "null"))
    check(isinstance(names, list) and len(names) == out[1], "%s: class_names %s for %d classes" % (path, names, out[1]))

    rows = read_logits(logits_path)
    want = np.stack([r[1] for r in rows])
    x = load_batch([r[0] for r in rows], inp[1])
    net = cv2.dnn.readNetFromONNX(path)
    net.setInput(x)
    got = net.forward()
    check(got.shape == want.shape, "%s: OpenCV's output is %s, build/predict's %s" % (path, got.shape, want.shape))
    if got.shape != want.shape:
        return
    net.setInput(x[:1])  # another batch size through the same file
    one = net.forward()
    diff = np.abs(got - want).max()
    top2 = np.sort(want, axis=1)[:, -2:]
    same = (got.argmax(1) == want.argmax(1)).sum()
    check(diff <= TOLERANCE, "%s: logits differ by up to %.3g (tolerance %g)" % (path, diff, TOLERANCE))
    check(same == len(rows), "%s: %d of %d images get another class" % (path, len(rows) - same, len(rows)))
    check(np.abs(one[0] - got[0]).max() <= TOLERANCE, "%s: a batch of one gives other logits" % path)
    print("%s: checker ok, %d images through OpenCV %s: max |logit - reference| %.2g, smallest top-2 margin "
          "%.2g, %d of %d classes identical" % (path, len(rows), cv2.__version__, diff, (top2[:, 1] - top2[:, 0]).min(),
                                                same, len(rows)))


def main(argv):
    if len(argv) == 3 and argv[1] == "encoder":
        check_encoder(argv[2])
    elif len(argv) >= 4 and argv[1] == "models" and len(argv) % 2 == 0:
        for i in range(2, len(argv), 2):
            check_model(argv[i], argv[i + 1])
    else:
        sys.exit(__doc__)
    for f in failures:
        print("FAIL " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
