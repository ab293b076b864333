// core/fields.h: one list of named fields saves and loads an object; every
// mismatch on loading (missing, other type, size, shape, range, NaN, unknown
// field, damaged bytes) names the object and the field.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/fields.h"

using namespace dl;

namespace {

struct Thing {
    int count = 3;
    long step = -7;
    std::uint64_t seed = 0xFFFFFFFFFFFFull;
    bool flag = true;
    double sum = 0.25;
    float rate = 1e-3f;
    std::string label = "a\nb";
    std::vector<float> buffer{1.0f, 2.0f, 3.0f};
    Tensor weights = Tensor(Shape{2, 2}, 0.5f);

    void state_fields(Fields& f) {
        f("count", count);
        f("step", step);
        f("seed", seed);
        f("flag", flag);
        f("sum", sum);
        f("rate", rate);
        f("label", label);
        f("buffer", buffer);
        f("weights", weights);
    }
};

std::string save(Thing& t) {
    Fields f = Fields::writer("thing");
    t.state_fields(f);
    return f.bytes();
}

std::string load_error(const std::string& bytes, Thing& t) {
    try {
        Fields f = Fields::reader(bytes, "thing");
        t.state_fields(f);
        f.finish();
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("fields: one list saves and loads every type, bit for bit") {
    Thing a;
    a.weights[3] = -2.5f;
    const std::string bytes = save(a);
    Thing b;
    b.count = 0;
    b.step = 0;
    b.seed = 0;
    b.flag = false;
    b.sum = 0;
    b.rate = 0;
    b.label.clear();
    b.buffer.assign(3, 0.0f);
    b.weights.fill(0.0f);
    CHECK(load_error(bytes, b).empty());
    CHECK(b.count == 3);
    CHECK(b.step == -7);
    CHECK(b.seed == 0xFFFFFFFFFFFFull);
    CHECK(b.flag);
    CHECK(b.sum == 0.25);
    CHECK(b.rate == 1e-3f);
    CHECK(b.label == "a\nb");
    CHECK(b.buffer == a.buffer);
    CHECK(b.weights.vec() == a.weights.vec());
    CHECK(save(b) == bytes);

    // Scopes prefix the names, as a Sequential does for its layers.
    Fields w = Fields::writer();
    {
        Fields::Scope s(w, "3.");
        w("rng", a.seed);
    }
    Fields r = Fields::reader(w.bytes(), "model");
    CHECK(r.has("3.rng"));
    CHECK_FALSE(r.has("rng"));
}

TEST_CASE("fields: loading names the object and the field of every mismatch") {
    Thing a;
    const std::string bytes = save(a);
    Thing t;
    t.buffer.resize(4);
    CHECK(load_error(bytes, t) == "thing: field 'buffer' has 3 values, expected 4");
    Thing u;
    u.weights = Tensor(Shape{4}, 0.0f);
    CHECK(load_error(bytes, u) == "thing: field 'weights' has shape (2, 2), expected (4)");

    // Another list: a field missing, of another type, out of range, unknown.
    Fields w = Fields::writer();
    int count = 1;
    w("count", count);
    Thing v;
    CHECK(load_error(w.bytes(), v) == "thing: field 'step' is missing");
    Fields typed = Fields::writer();
    std::string text = "3";
    typed("count", text);
    CHECK(load_error(typed.bytes(), v) == "thing: field 'count' is a string, expected a integer");
    Fields big = Fields::writer();
    long huge = 1L << 40;
    big("count", huge);
    struct Small {
        int count = 0;
    } small;
    Fields rb = Fields::reader(big.bytes(), "small");
    CHECK_THROWS_WITH_AS(rb("count", small.count), doctest::Contains("small: field 'count' holds 1099511627776"),
                         std::runtime_error);
    Fields extra = Fields::writer();
    Thing x;
    x.state_fields(extra);
    double more = 1;
    extra("more", more);
    CHECK(load_error(extra.bytes(), x) ==
          "thing: field 'more' is not one this program knows (written by another version?)");

    // NaN is refused when saving and when loading.
    Thing n;
    n.buffer[1] = std::nanf("");
    CHECK_THROWS_WITH_AS(save(n), "thing: field 'buffer' holds nan at element 1", std::runtime_error);

    // Damaged bytes: every truncation fails cleanly.
    for (size_t len = 0; len < bytes.size(); ++len) {
        Thing y;
        const std::string msg = load_error(bytes.substr(0, len), y);
        INFO(len << ": " << msg);
        CHECK(msg.rfind("thing: ", 0) == 0);
    }
}
