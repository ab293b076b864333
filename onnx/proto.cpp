#include "onnx/proto.h"

#include <cstring>

#include "onnx/protobuf.h"

namespace dl::onnx {

namespace {

// Host bytes to little-endian, whatever the host is.
template <class T>
std::string little_endian(const T* values, size_t count) {
    std::string out(count * sizeof(T), '\0');
    for (size_t k = 0; k < count; ++k) {
        std::uint64_t bits = 0;
        std::memcpy(&bits, &values[k], sizeof(T));
        for (size_t b = 0; b < sizeof(T); ++b) out[k * sizeof(T) + b] = static_cast<char>(bits >> (8 * b) & 0xff);
    }
    return out;
}

// An optional string field: left out when empty (a reader sees "" either way).
void optional_string(ProtoWriter& w, int field, const std::string& s) {
    if (!s.empty()) w.bytes_field(field, s);
}

std::string encode_string_pair(const std::string& key, const std::string& value) {
    ProtoWriter w;  // StringStringEntryProto
    w.bytes_field(1, key);
    w.bytes_field(2, value);
    return w.bytes();
}

std::string encode_type(const ValueInfoProto& v) {
    ProtoWriter shape;  // TensorShapeProto
    for (const Dimension& d : v.shape) {
        ProtoWriter dim;  // TensorShapeProto.Dimension: dim_value = 1 or dim_param = 2
        if (d.param.empty())
            dim.int_field(1, d.value);
        else
            dim.bytes_field(2, d.param);
        shape.bytes_field(1, dim.bytes());
    }
    ProtoWriter tensor;  // TypeProto.Tensor
    tensor.int_field(1, v.elem_type);
    tensor.bytes_field(2, shape.bytes());
    ProtoWriter type;  // TypeProto: tensor_type = 1
    type.bytes_field(1, tensor.bytes());
    return type.bytes();
}

AttributeProto named(const std::string& name, AttributeProto::Type type) {
    AttributeProto a;
    a.name = name;
    a.type = type;
    return a;
}

}  // namespace

TensorProto float_tensor(const std::string& name, const std::vector<std::int64_t>& dims, const float* values) {
    size_t count = 1;
    for (std::int64_t d : dims) count *= static_cast<size_t>(d);
    return TensorProto{name, dims, kFloat, little_endian(values, count)};
}

TensorProto int64_tensor(const std::string& name, const std::vector<std::int64_t>& values) {
    return TensorProto{name, {static_cast<std::int64_t>(values.size())}, kInt64, little_endian(values.data(), values.size())};
}

AttributeProto attr_float(const std::string& name, float f) {
    AttributeProto a = named(name, AttributeProto::kFloat);
    a.f = f;
    return a;
}
AttributeProto attr_int(const std::string& name, std::int64_t i) {
    AttributeProto a = named(name, AttributeProto::kInt);
    a.i = i;
    return a;
}
AttributeProto attr_string(const std::string& name, const std::string& s) {
    AttributeProto a = named(name, AttributeProto::kString);
    a.s = s;
    return a;
}
AttributeProto attr_tensor(const std::string& name, const TensorProto& t) {
    AttributeProto a = named(name, AttributeProto::kTensor);
    a.t = {t};
    return a;
}
AttributeProto attr_floats(const std::string& name, const std::vector<float>& floats) {
    AttributeProto a = named(name, AttributeProto::kFloats);
    a.floats = floats;
    return a;
}
AttributeProto attr_ints(const std::string& name, const std::vector<std::int64_t>& ints) {
    AttributeProto a = named(name, AttributeProto::kInts);
    a.ints = ints;
    return a;
}
AttributeProto attr_strings(const std::string& name, const std::vector<std::string>& strings) {
    AttributeProto a = named(name, AttributeProto::kStrings);
    a.strings = strings;
    return a;
}

std::string encode(const TensorProto& t) {
    ProtoWriter w;
    for (std::int64_t d : t.dims) w.int_field(1, d);
    w.int_field(2, t.data_type);
    optional_string(w, 8, t.name);
    w.bytes_field(9, t.raw_data);
    return w.bytes();
}

std::string encode(const AttributeProto& a) {
    ProtoWriter w;
    w.bytes_field(1, a.name);
    switch (a.type) {
        case AttributeProto::kFloat: w.float_field(2, a.f); break;
        case AttributeProto::kInt: w.int_field(3, a.i); break;
        case AttributeProto::kString: w.bytes_field(4, a.s); break;
        case AttributeProto::kTensor:
            for (const TensorProto& t : a.t) w.bytes_field(5, encode(t));
            break;
        case AttributeProto::kFloats:
            for (float f : a.floats) w.float_field(7, f);
            break;
        case AttributeProto::kInts:
            for (std::int64_t i : a.ints) w.int_field(8, i);
            break;
        case AttributeProto::kStrings:
            for (const std::string& s : a.strings) w.bytes_field(9, s);
            break;
    }
    w.int_field(20, a.type);
    return w.bytes();
}

std::string encode(const NodeProto& n) {
    ProtoWriter w;
    for (const std::string& s : n.inputs) w.bytes_field(1, s);
    for (const std::string& s : n.outputs) w.bytes_field(2, s);
    optional_string(w, 3, n.name);
    w.bytes_field(4, n.op_type);
    for (const AttributeProto& a : n.attributes) w.bytes_field(5, encode(a));
    return w.bytes();
}

std::string encode(const ValueInfoProto& v) {
    ProtoWriter w;
    w.bytes_field(1, v.name);
    w.bytes_field(2, encode_type(v));
    return w.bytes();
}

std::string encode(const GraphProto& g) {
    ProtoWriter w;
    for (const NodeProto& n : g.nodes) w.bytes_field(1, encode(n));
    optional_string(w, 2, g.name);
    for (const TensorProto& t : g.initializers) w.bytes_field(5, encode(t));
    for (const ValueInfoProto& v : g.inputs) w.bytes_field(11, encode(v));
    for (const ValueInfoProto& v : g.outputs) w.bytes_field(12, encode(v));
    return w.bytes();
}

std::string encode(const ModelProto& m) {
    ProtoWriter opset;  // OperatorSetIdProto: domain = 1 ("" is ai.onnx), version = 2
    opset.bytes_field(1, "");  // written even though empty, as onnx.helper.make_opsetid does
    opset.int_field(2, m.opset);
    ProtoWriter w;
    w.int_field(1, m.ir_version);
    optional_string(w, 2, m.producer_name);
    optional_string(w, 3, m.producer_version);
    optional_string(w, 6, m.doc_string);
    w.bytes_field(7, encode(m.graph));
    w.bytes_field(8, opset.bytes());
    for (const auto& [key, value] : m.metadata_props) w.bytes_field(14, encode_string_pair(key, value));
    return w.bytes();
}

}  // namespace dl::onnx
