#include "core/fields.h"

#include <cmath>
#include <cstring>
#include <stdexcept>

namespace dl {

namespace {

const char* type_name(Fields::Type t) {
    switch (t) {
        case Fields::Type::I64: return "integer";
        case Fields::Type::U64: return "unsigned integer";
        case Fields::Type::F64: return "double";
        case Fields::Type::F32: return "float";
        case Fields::Type::String: return "string";
        case Fields::Type::Floats: return "float vector";
        case Fields::Type::Tensor: return "tensor";
    }
    return "unknown type";
}

template <class T>
std::string raw(const T& v) {
    return std::string(reinterpret_cast<const char*>(&v), sizeof v);
}

template <class T>
T from_raw(const std::string& s, size_t at = 0) {
    T v;
    std::memcpy(&v, s.data() + at, sizeof v);
    return v;
}

// Bytes a payload of this type must have (0: checked by the type's own rule).
size_t fixed_size(Fields::Type t) {
    switch (t) {
        case Fields::Type::I64:
        case Fields::Type::U64:
        case Fields::Type::F64: return 8;
        case Fields::Type::F32: return 4;
        default: return 0;
    }
}

// The index of the first non-finite value, or n.
size_t first_non_finite(const float* v, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (!std::isfinite(v[i])) return i;
    return n;
}

}  // namespace

Fields Fields::writer(const std::string& what) { return Fields(false, what); }

Fields Fields::reader(const std::string& bytes, const std::string& what) {
    Fields f(true, what);
    size_t at = 0;
    auto take = [&](size_t n, const char* part) {
        if (n > bytes.size() - at)
            throw std::runtime_error(what + ": the field list is cut short (in " + part + " at byte " +
                                     std::to_string(at) + ")");
        const size_t start = at;
        at += n;
        return start;
    };
    const auto count = from_raw<std::uint32_t>(bytes, take(4, "the field count"));
    for (std::uint32_t i = 0; i < count; ++i) {
        const auto len = from_raw<std::uint32_t>(bytes, take(4, "a field name"));
        std::string name = bytes.substr(take(len, "a field name"), len);
        const auto type = static_cast<Type>(static_cast<unsigned char>(bytes[take(1, "a field type")]));
        size_t n = fixed_size(type);
        if (type == Type::String || type == Type::Floats) {
            const auto m = from_raw<std::uint64_t>(bytes, take(8, "a field length"));
            const std::uint64_t unit = type == Type::Floats ? 4 : 1;
            if (m > (bytes.size() - at) / unit) take(bytes.size() - at + 1, "a field's values");
            at -= 8;
            n = 8 + static_cast<size_t>(m * unit);
        } else if (type == Type::Tensor) {
            const auto rank = from_raw<std::uint32_t>(bytes, take(4, "a tensor's rank"));
            if (rank > 4) throw std::runtime_error(what + ": field '" + name + "' is a tensor of rank " + std::to_string(rank));
            std::uint64_t values = 1;
            for (std::uint32_t d = 0; d < rank; ++d) {
                const auto dim = from_raw<std::int32_t>(bytes, take(4, "a tensor's shape"));
                if (dim < 0) throw std::runtime_error(what + ": field '" + name + "' has a negative dimension");
                if (dim > 0 && values > (bytes.size() - at) / 4 / static_cast<std::uint64_t>(dim) + 1)
                    take(bytes.size() - at + 1, "a tensor's values");
                values *= static_cast<std::uint64_t>(dim);
            }
            at -= 4 + 4 * rank;
            n = 4 + 4 * rank + static_cast<size_t>(values * 4);
        } else if (n == 0) {
            throw std::runtime_error(what + ": field '" + name + "' has unknown type " +
                                     std::to_string(static_cast<int>(type)));
        }
        const size_t start = take(n, "a field's value");
        if (!f.fields_.emplace(name, Field{type, bytes.substr(start, n)}).second)
            throw std::runtime_error(what + ": two fields are named '" + name + "'");
    }
    if (at != bytes.size()) throw std::runtime_error(what + ": bytes after the last field");
    return f;
}

void Fields::fail(const std::string& name, const std::string& problem) const {
    throw std::runtime_error(what_ + ": field '" + name + "' " + problem);
}

void Fields::put(const std::string& name, Type type, std::string payload) {
    const std::string full = prefix_ + name;
    if (!fields_.emplace(full, Field{type, std::move(payload)}).second)
        throw std::logic_error("Fields: two fields are named '" + full + "'");
    order_.push_back(full);
}

const std::string& Fields::get(const std::string& name, Type type) {
    const std::string full = prefix_ + name;
    auto it = fields_.find(full);
    if (it == fields_.end()) fail(full, "is missing");
    if (it->second.type != type)
        fail(full, std::string("is a ") + type_name(it->second.type) + ", expected a " + type_name(type));
    it->second.read = true;
    return it->second.payload;
}

bool Fields::has(const std::string& name) const { return fields_.count(prefix_ + name) > 0; }

void Fields::integer(const std::string& name, std::int64_t* i, std::uint64_t* u, double lo, double hi) {
    if (!loading_) {
        if (i) put(name, Type::I64, raw(*i));
        else put(name, Type::U64, raw(*u));
        return;
    }
    const std::string& p = get(name, i ? Type::I64 : Type::U64);
    const double v = i ? static_cast<double>(from_raw<std::int64_t>(p)) : static_cast<double>(from_raw<std::uint64_t>(p));
    if (v < lo || v > hi) fail(prefix_ + name, "holds " + std::to_string(v) + ", out of range");
    if (i) *i = from_raw<std::int64_t>(p);
    else *u = from_raw<std::uint64_t>(p);
}

void Fields::operator()(const std::string& name, bool& v) {
    std::uint64_t x = v;
    integer(name, nullptr, &x, 0.0, 1.0);
    v = x != 0;
}

void Fields::operator()(const std::string& name, double& v) {
    if (!loading_) return put(name, Type::F64, raw(v));
    v = from_raw<double>(get(name, Type::F64));
}

void Fields::operator()(const std::string& name, float& v) {
    if (!loading_) return put(name, Type::F32, raw(v));
    v = from_raw<float>(get(name, Type::F32));
}

void Fields::operator()(const std::string& name, std::string& v) {
    if (!loading_) return put(name, Type::String, raw(static_cast<std::uint64_t>(v.size())) + v);
    v = get(name, Type::String).substr(8);
}

void Fields::operator()(const std::string& name, std::vector<float>& v) {
    if (!loading_) {
        if (const size_t bad = first_non_finite(v.data(), v.size()); bad < v.size())
            fail(prefix_ + name, "holds " + std::to_string(v[bad]) + " at element " + std::to_string(bad));
        std::string p = raw(static_cast<std::uint64_t>(v.size()));
        p.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
        return put(name, Type::Floats, std::move(p));
    }
    const std::string& p = get(name, Type::Floats);
    const auto n = from_raw<std::uint64_t>(p);
    if (n != v.size())
        fail(prefix_ + name, "has " + std::to_string(n) + " values, expected " + std::to_string(v.size()));
    std::vector<float> copy(n);
    std::memcpy(copy.data(), p.data() + 8, n * sizeof(float));
    if (const size_t bad = first_non_finite(copy.data(), n); bad < n)
        fail(prefix_ + name, "holds " + std::to_string(copy[bad]) + " at element " + std::to_string(bad));
    v = std::move(copy);
}

void Fields::operator()(const std::string& name, Tensor& v) {
    if (!loading_) {
        if (const size_t bad = first_non_finite(v.data(), v.size()); bad < v.size())
            fail(prefix_ + name, "holds " + std::to_string(v[bad]) + " at element " + std::to_string(bad));
        std::string p = raw(static_cast<std::uint32_t>(v.rank()));
        for (int d = 0; d < v.rank(); ++d) p += raw(static_cast<std::int32_t>(v.dim(d)));
        p.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
        return put(name, Type::Tensor, std::move(p));
    }
    const std::string& p = get(name, Type::Tensor);
    Shape s;
    s.rank = static_cast<int>(from_raw<std::uint32_t>(p));
    for (int d = 0; d < s.rank; ++d) s.dims[d] = from_raw<std::int32_t>(p, 4 + 4 * d);
    if (s != v.shape()) fail(prefix_ + name, "has shape " + s.str() + ", expected " + v.shape().str());
    Tensor t(s);
    std::memcpy(t.data(), p.data() + 4 + 4 * s.rank, t.size() * sizeof(float));
    if (const size_t bad = first_non_finite(t.data(), t.size()); bad < t.size())
        fail(prefix_ + name, "holds " + std::to_string(t[bad]) + " at element " + std::to_string(bad));
    v = std::move(t);
}

std::string Fields::bytes() const {
    std::string out = raw(static_cast<std::uint32_t>(order_.size()));
    for (const std::string& name : order_) {
        const Field& f = fields_.at(name);
        out += raw(static_cast<std::uint32_t>(name.size())) + name;
        out += static_cast<char>(f.type);
        out += f.payload;
    }
    return out;
}

void Fields::finish() const {
    for (const auto& [name, f] : fields_)
        if (!f.read) throw std::runtime_error(what_ + ": field '" + name + "' is not one this program knows (written by "
                                              "another version?)");
}

}  // namespace dl
