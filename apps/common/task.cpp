#include "apps/common/task.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace dl {

namespace {

template <class T>
void put(std::string& out, T v) {
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

// A cursor over a record's bytes; every read is bounds-checked.
class Cursor {
public:
    Cursor(const std::string& bytes, std::string where) : bytes_(bytes), where_(std::move(where)) {}
    template <class T>
    T get() {
        T v;
        std::memcpy(&v, take(sizeof v), sizeof v);
        return v;
    }
    const char* take(std::uint64_t n) {
        if (n > bytes_.size() - pos_) throw std::runtime_error(where_ + " is cut short");
        const char* p = bytes_.data() + pos_;
        pos_ += n;
        return p;
    }
    bool done() const { return pos_ == bytes_.size(); }

private:
    const std::string& bytes_;
    std::string where_;
    size_t pos_ = 0;
};

const std::string& record(const Checkpoint& ck, const std::string& key, const std::string& path) {
    auto it = ck.extra.find(key);
    if (it == ck.extra.end())
        throw std::runtime_error("checkpoint '" + path + "': no '" + key +
                                 "' record; was this checkpoint written by build/train?");
    return it->second;
}

std::string shape_str(int c, int h, int w) {
    return std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
}

std::string first_names(const std::vector<std::string>& names) {
    std::string s;
    for (size_t i = 0; i < names.size() && i < 4; ++i) s += (i ? ", " : "") + class_name_for_print(names[i]);
    return s + (names.size() > 4 ? ", ..." : "");
}

// Throws unless the class names agree, naming the first difference.
void check_same_names(const std::vector<std::string>& a, const std::string& a_name,
                      const std::vector<std::string>& b, const std::string& b_name) {
    if (a.size() != b.size())
        throw std::invalid_argument(a_name + " has " + std::to_string(a.size()) + " classes (" + first_names(a) + "), " +
                                    b_name + " " + std::to_string(b.size()) + " (" + first_names(b) +
                                    "): they are not the same task");
    for (size_t c = 0; c < a.size(); ++c)
        if (a[c] != b[c])
            throw std::invalid_argument("class " + std::to_string(c) + " is '" + class_name_for_print(a[c]) + "' in " +
                                        a_name + " but '" + class_name_for_print(b[c]) + "' in " + b_name +
                                        ": they are not the same classes");
}

}  // namespace

std::string encode_strings(const std::vector<std::string>& strings) {
    std::string out;
    put<std::uint32_t>(out, static_cast<std::uint32_t>(strings.size()));
    for (const std::string& s : strings) {
        put<std::uint32_t>(out, static_cast<std::uint32_t>(s.size()));
        out += s;
    }
    return out;
}

std::vector<std::string> decode_strings(const std::string& bytes, const std::string& what) {
    Cursor in(bytes, what);
    const auto n = in.get<std::uint32_t>();
    std::vector<std::string> out;
    for (std::uint32_t i = 0; i < n; ++i) {
        const auto len = in.get<std::uint32_t>();
        out.emplace_back(in.take(len), len);
    }
    if (!in.done()) throw std::runtime_error(what + " has bytes after its last string");
    return out;
}

void put_task(std::map<std::string, std::string>& extra, const std::vector<std::string>& class_names,
              const Normalization& norm) {
    extra["class_names"] = encode_strings(class_names);
    std::string n;
    put<std::uint32_t>(n, static_cast<std::uint32_t>(norm.mean.size()));
    for (size_t c = 0; c < norm.mean.size(); ++c) {
        put<float>(n, norm.mean[c]);
        put<float>(n, norm.std.at(c));
    }
    extra["normalization"] = n;
}

Task read_task(const Checkpoint& ck, const std::string& path) {
    Task t;
    t.spec = ck.spec;
    const std::string where = "checkpoint '" + path + "': ";
    {
        t.class_names = decode_strings(record(ck, "class_names", path), where + "the 'class_names' record");
        if (static_cast<std::int64_t>(t.class_names.size()) != ck.spec.classes)
            throw std::runtime_error(where + std::to_string(t.class_names.size()) + " class names for a model of " +
                                     std::to_string(ck.spec.classes) + " classes");
        for (size_t c = 0; c < t.class_names.size(); ++c)
            if (t.class_names[c].empty()) throw std::runtime_error(where + "class " + std::to_string(c) + " has an empty name");
    }
    {
        const std::string& bytes = record(ck, "normalization", path);
        Cursor in(bytes, where + "the 'normalization' record");
        const auto channels = in.get<std::uint32_t>();
        if (channels == 0) throw std::runtime_error(where + "the 'normalization' record is empty");
        if (static_cast<std::int64_t>(channels) != ck.spec.channels)
            throw std::runtime_error(where + "the 'normalization' record has " + std::to_string(channels) +
                                     " channels, the model " + std::to_string(ck.spec.channels));
        for (std::uint32_t c = 0; c < channels; ++c) {
            const float mean = in.get<float>(), sd = in.get<float>();
            if (!std::isfinite(mean) || !std::isfinite(sd) || sd <= 0.0f)
                throw std::runtime_error(where + "the 'normalization' record holds mean " + std::to_string(mean) +
                                         " and std " + std::to_string(sd) + " for channel " + std::to_string(c) +
                                         " (expected finite values, std > 0)");
            t.norm.mean.push_back(mean);
            t.norm.std.push_back(sd);
        }
        if (!in.done()) throw std::runtime_error(where + "the 'normalization' record has bytes after its last channel");
    }
    return t;
}

void check_data_fits(const Task& t, const std::string& model, const Dataset& d, const std::string& data) {
    const ModelSpec& s = t.spec;
    if (d.channels != s.channels || d.height != s.height || d.width != s.width)
        throw std::invalid_argument(model + " takes " + shape_str(s.channels, s.height, s.width) + " images of " +
                                    std::to_string(s.classes) + " classes; " + data + " has " +
                                    shape_str(d.channels, d.height, d.width) + " images of " +
                                    std::to_string(d.classes));
    check_same_names(t.class_names, model, d.class_names, data);
}

bool similar_normalization(const Normalization& a, const Normalization& b) {
    if (a.mean.size() != b.mean.size() || a.std.size() != b.std.size()) return false;
    for (size_t c = 0; c < a.mean.size(); ++c) {
        const double sd = std::max(a.std[c], b.std[c]);
        if (!(std::fabs(double(a.mean[c]) - b.mean[c]) <= 0.02 + 0.1 * sd)) return false;
        if (!(a.std[c] <= 1.25 * b.std[c] && b.std[c] <= 1.25 * a.std[c])) return false;
    }
    return true;
}

std::string describe_normalization(const Normalization& n) {
    std::string s;
    for (size_t c = 0; c < n.mean.size(); ++c) {
        char buf[96];
        std::snprintf(buf, sizeof buf, "%smean %.3f, std %.3f", c ? "; " : "", n.mean[c], n.std[c]);
        s += buf;
    }
    return s.empty() ? "none" : s;
}

void check_same_task(const Task& a, const std::string& a_name, const Task& b, const std::string& b_name) {
    if (a.spec.channels != b.spec.channels || a.spec.height != b.spec.height || a.spec.width != b.spec.width)
        throw std::invalid_argument(a_name + " takes " + shape_str(a.spec.channels, a.spec.height, a.spec.width) +
                                    " images, " + b_name + " " +
                                    shape_str(b.spec.channels, b.spec.height, b.spec.width) + ": not the same task");
    check_same_names(a.class_names, a_name, b.class_names, b_name);
    if (!similar_normalization(a.norm, b.norm))
        throw std::invalid_argument(a_name + " was trained on data with " + describe_normalization(a.norm) + ", " +
                                    b_name + " on data with " + describe_normalization(b.norm) +
                                    ": not the same data set");
}

std::string class_name_for_print(const std::string& name) { return printable(name); }

}  // namespace dl
