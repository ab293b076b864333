#include "onnx/protobuf.h"

#include <cstring>
#include <stdexcept>

namespace dl::onnx {

namespace {
constexpr int kVarint = 0, kLengthDelimited = 2, kFixed32 = 5;
}

void ProtoWriter::put_varint(std::string& out, std::uint64_t v) {
    while (v >= 0x80) {
        out += static_cast<char>((v & 0x7f) | 0x80);
        v >>= 7;
    }
    out += static_cast<char>(v);
}

void ProtoWriter::key(int field, int wire_type) {
    if (field < 1 || field > (1 << 29) - 1)
        throw std::invalid_argument("protobuf: field number " + std::to_string(field) + " is outside [1, 2^29)");
    put_varint(out_, static_cast<std::uint64_t>(field) << 3 | static_cast<std::uint64_t>(wire_type));
}

void ProtoWriter::int_field(int field, std::int64_t value) {
    key(field, kVarint);
    put_varint(out_, static_cast<std::uint64_t>(value));  // negative: sign-extended to 64 bits, as protobuf does
}

void ProtoWriter::float_field(int field, float value) {
    static_assert(sizeof(float) == 4, "fixed32 floats");
    key(field, kFixed32);
    std::uint32_t bits;
    std::memcpy(&bits, &value, 4);
    for (int i = 0; i < 4; ++i) out_ += static_cast<char>(bits >> (8 * i) & 0xff);  // little-endian on any host
}

void ProtoWriter::bytes_field(int field, const std::string& bytes) {
    key(field, kLengthDelimited);
    put_varint(out_, bytes.size());
    out_ += bytes;
}

}  // namespace dl::onnx
