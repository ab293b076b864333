// The ONNX messages an exported model needs, as plain structs, and their
// encoding with ProtoWriter. Field numbers are those of onnx.proto (ONNX 1.12,
// the same since IR version 3); tests/test_onnx.py parses what we write with the
// onnx package and checks that re-serialising it gives back the same bytes.
//
//   ModelProto            ir_version, producer, opset, metadata_props, graph
//   └ GraphProto          nodes (in execution order), initializers (the weights),
//     │                   inputs and outputs with their types and shapes
//     ├ NodeProto         op_type ("Conv"), input and output value names, attributes
//     │ └ AttributeProto  one named value: float, int, string, tensor or a list of one kind
//     ├ TensorProto       dims, data type, values as little-endian raw bytes
//     └ ValueInfoProto    name, element type, shape (a dimension is a number or a name, "N")
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace dl::onnx {

// TensorProto.DataType (only the ones we write).
enum DataType : int { kFloat = 1, kInt64 = 7 };

struct TensorProto {
    std::string name;
    std::vector<std::int64_t> dims;
    int data_type = kFloat;
    std::string raw_data;  // row-major, little-endian
};

// A float tensor from `dims` and their product of values; an int64 vector.
TensorProto float_tensor(const std::string& name, const std::vector<std::int64_t>& dims, const float* values);
TensorProto int64_tensor(const std::string& name, const std::vector<std::int64_t>& values);

struct AttributeProto {
    // AttributeProto.AttributeType (the ones we write).
    enum Type : int { kFloat = 1, kInt = 2, kString = 3, kTensor = 4, kFloats = 6, kInts = 7, kStrings = 8 };
    std::string name;
    Type type = kInt;
    float f = 0;
    std::int64_t i = 0;
    std::string s;
    std::vector<TensorProto> t;  // one tensor when type == kTensor
    std::vector<float> floats;
    std::vector<std::int64_t> ints;
    std::vector<std::string> strings;
};

AttributeProto attr_float(const std::string& name, float f);
AttributeProto attr_int(const std::string& name, std::int64_t i);
AttributeProto attr_string(const std::string& name, const std::string& s);
AttributeProto attr_tensor(const std::string& name, const TensorProto& t);
AttributeProto attr_floats(const std::string& name, const std::vector<float>& floats);
AttributeProto attr_ints(const std::string& name, const std::vector<std::int64_t>& ints);
AttributeProto attr_strings(const std::string& name, const std::vector<std::string>& strings);

struct NodeProto {
    std::vector<std::string> inputs, outputs;
    std::string name, op_type;
    std::vector<AttributeProto> attributes;
};

// A tensor dimension: a size, or a name for a size known only at run time.
struct Dimension {
    std::int64_t value = 0;
    std::string param;  // when not empty, the dimension is this symbol (e.g. "N")
};

struct ValueInfoProto {
    std::string name;
    int elem_type = kFloat;
    std::vector<Dimension> shape;
};

struct GraphProto {
    std::string name;
    std::vector<NodeProto> nodes;
    std::vector<TensorProto> initializers;
    std::vector<ValueInfoProto> inputs, outputs;
};

struct ModelProto {
    std::int64_t ir_version = 7;  // ONNX 1.8 and later; what opset 13 needs
    std::string producer_name, producer_version, doc_string;
    std::int64_t opset = 13;      // of the default domain "ai.onnx"
    GraphProto graph;
    std::vector<std::pair<std::string, std::string>> metadata_props;
};

// Each message's bytes, fields in field-number order.
std::string encode(const TensorProto& t);
std::string encode(const AttributeProto& a);
std::string encode(const NodeProto& n);
std::string encode(const ValueInfoProto& v);
std::string encode(const GraphProto& g);
std::string encode(const ModelProto& m);

}  // namespace dl::onnx
