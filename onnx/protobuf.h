// ProtoWriter: the protobuf wire format, as far as ONNX files need it.
//
// A protobuf message is a sequence of fields. Each field is a key, the varint
// (field_number << 3 | wire_type), followed by its value:
//
//   wire type 0, varint:            int32, int64, enums (a negative number takes 10 bytes)
//   wire type 2, length-delimited:  a varint byte count, then the bytes of a
//                                   string, a bytes field or a nested message
//   wire type 5, fixed32:           float, 4 bytes little-endian
//
// A varint stores 7 bits per byte, least significant group first; the high bit
// of a byte says that another byte follows (300 -> 0xAC 0x02).
//
// A repeated field is its key and value written once per element (onnx.proto is
// proto2, whose repeated numbers are unpacked unless marked otherwise). Fields
// are written in the order the caller writes them; writing them in field-number
// order gives the same bytes as protobuf's own serializer.
// https://protobuf.dev/programming-guides/encoding/
#pragma once
#include <cstdint>
#include <string>

namespace dl::onnx {

class ProtoWriter {
public:
    // int32, int64 and enum fields: the two's complement value as a varint.
    void int_field(int field, std::int64_t value);
    void float_field(int field, float value);
    // string, bytes, or a nested message already encoded.
    void bytes_field(int field, const std::string& bytes);

    const std::string& bytes() const { return out_; }

    // Appends v as a varint (1 to 10 bytes).
    static void put_varint(std::string& out, std::uint64_t v);

private:
    void key(int field, int wire_type);
    std::string out_;
};

}  // namespace dl::onnx
