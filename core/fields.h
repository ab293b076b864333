// Fields: saved state as named, typed values, written and read by one list.
//
// An object that keeps state lists its fields once, in a function that takes a
// Fields&, and that one function both saves and loads it:
//
//   struct Progress {
//       int epoch = 0;  long step = 0;  double loss_sum = 0;
//       void fields(Fields& f) { f("epoch", epoch); f("step", step); f("loss_sum", loss_sum); }
//   };
//   Fields out = Fields::writer();               progress.fields(out);   std::string bytes = out.bytes();
//   Fields in = Fields::reader(bytes, "progress");   progress.fields(in);   in.finish();
//
// Modules (Module::state), optimizers (Optimizer::state) and the trainer's
// progress all save this way, inside a checkpoint's checksummed records. Loading
// checks each field: it must be present, of the same type, of the same size or
// shape as the object's (float vectors, tensors), in range (integers), and finite
// (floats in vectors and tensors; saving refuses them too); finish() refuses a
// field nobody asked for.
// A load that throws leaves nothing half-loaded only if the caller loads into a
// copy; errors are std::runtime_error naming `what` and the field.
//
// Layout (little-endian): u32 field count, then per field: name (u32 length +
// bytes), u8 type, payload: i64 | u64 | f64 (8 bytes), f32 (4), string (u64
// length + bytes), floats (u64 count + f32 values), tensor (u32 rank, i32 dims,
// f32 values).
#pragma once
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include "core/tensor.h"

namespace dl {

class Fields {
public:
    enum class Type : std::uint8_t { I64 = 1, U64, F64, F32, String, Floats, Tensor };

    // `what` names the object in the writer's one message: a NaN or infinity refused.
    static Fields writer(const std::string& what = "fields");
    // Parses `bytes` (throws on a malformed list); `what` names the object in messages.
    static Fields reader(const std::string& bytes, const std::string& what);

    bool loading() const { return loading_; }

    template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
    void operator()(const std::string& name, T& v) {
        if constexpr (std::is_signed_v<T>) {
            std::int64_t x = v;
            integer(name, &x, nullptr, static_cast<double>(std::numeric_limits<T>::min()),
                    static_cast<double>(std::numeric_limits<T>::max()));
            v = static_cast<T>(x);
        } else {
            std::uint64_t x = v;
            integer(name, nullptr, &x, 0.0, static_cast<double>(std::numeric_limits<T>::max()));
            v = static_cast<T>(x);
        }
    }
    void operator()(const std::string& name, bool& v);
    void operator()(const std::string& name, double& v);
    void operator()(const std::string& name, float& v);
    void operator()(const std::string& name, std::string& v);
    void operator()(const std::string& name, std::vector<float>& v);  // loading: the size must match
    void operator()(const std::string& name, Tensor& v);              // loading: the shape must match

    // Reader: whether the list holds `name` (for a field added after files were written).
    bool has(const std::string& name) const;

    // Names given while a Scope lives get its prefix: a Sequential gives layer 3 "3.".
    class Scope {
    public:
        Scope(Fields& f, const std::string& prefix) : f_(f), size_(f.prefix_.size()) { f.prefix_ += prefix; }
        ~Scope() { f_.prefix_.resize(size_); }
        Scope(const Scope&) = delete;
        Scope& operator=(const Scope&) = delete;

    private:
        Fields& f_;
        size_t size_;
    };

    std::string bytes() const;  // writer: the encoded list
    void finish() const;        // reader: throws if a field of the list was not read

private:
    struct Field {
        Type type;
        std::string payload;
        bool read = false;
    };
    Fields(bool loading, std::string what) : loading_(loading), what_(std::move(what)) {}
    void integer(const std::string& name, std::int64_t* i, std::uint64_t* u, double lo, double hi);
    void put(const std::string& name, Type type, std::string payload);
    // Reader: the field's payload, checked for presence and type.
    const std::string& get(const std::string& name, Type type);
    [[noreturn]] void fail(const std::string& name, const std::string& problem) const;

    bool loading_;
    std::string what_;
    std::string prefix_;
    std::vector<std::string> order_;  // writer: names in the order given
    std::map<std::string, Field> fields_;
};

}  // namespace dl
