// Editing a checkpoint's records the way a hostile or careless user could, with
// valid checksums afterwards: the tests then see what the value checks (not the
// checksums) catch. Follows the layout documented in layers/checkpoint.h.
#pragma once
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace dl::testing {

struct RecordSpan {
    std::string name;
    size_t start, payload, size;  // offsets of the record, of its payload; payload bytes
};

inline std::vector<RecordSpan> checkpoint_records(const std::string& bytes) {
    std::vector<RecordSpan> out;
    size_t at = 8;
    std::uint32_t count;
    std::memcpy(&count, bytes.data() + at, 4);
    at += 4;
    for (std::uint32_t i = 0; i < count; ++i) {
        RecordSpan r;
        r.start = at;
        std::uint32_t len;
        std::memcpy(&len, bytes.data() + at, 4);
        r.name = bytes.substr(at + 4, len);
        std::uint64_t size;
        std::memcpy(&size, bytes.data() + at + 4 + len, 8);
        r.payload = at + 4 + len + 8;
        r.size = size;
        at = r.payload + size + 4;
        out.push_back(r);
    }
    return out;
}

// Replaces the payload of record `name` by edit(payload) and recomputes every checksum.
inline std::string edit_record(const std::string& bytes, const std::string& name,
                               const std::function<std::string(std::string)>& edit) {
    std::string out = bytes.substr(0, 12);
    for (const RecordSpan& r : checkpoint_records(bytes)) {
        std::string payload = bytes.substr(r.payload, r.size);
        if (r.name == name) payload = edit(payload);
        const size_t start = out.size();
        const std::uint32_t len = static_cast<std::uint32_t>(r.name.size());
        out.append(reinterpret_cast<const char*>(&len), 4);
        out += r.name;
        const std::uint64_t size = payload.size();
        out.append(reinterpret_cast<const char*>(&size), 8);
        out += payload;
        const std::uint32_t c = static_cast<std::uint32_t>(
            crc32_z(0, reinterpret_cast<const Bytef*>(out.data() + start), out.size() - start));
        out.append(reinterpret_cast<const char*>(&c), 4);
    }
    const std::uint32_t c = static_cast<std::uint32_t>(crc32_z(0, reinterpret_cast<const Bytef*>(out.data()), out.size()));
    out += "END.";
    out.append(reinterpret_cast<const char*>(&c), 4);
    return out;
}

// Sets float number `index` of a tensor record's values to v.
inline std::string set_tensor_value(const std::string& bytes, const std::string& tensor, size_t index, float v) {
    return edit_record(bytes, "tensor/" + tensor, [&](std::string p) {
        std::uint32_t rank;
        std::memcpy(&rank, p.data(), 4);
        std::memcpy(p.data() + 4 + 4 * rank + 4 * index, &v, 4);
        return p;
    });
}

}  // namespace dl::testing
