#include "apps/common/task.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace dl {

namespace {

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

DataInfo data_info(const std::vector<std::string>& class_names, const Normalization& norm) {
    return DataInfo{class_names, norm.mean, norm.std};
}

Task read_task(const Checkpoint& ck, const std::string& path) {
    if (ck.data.empty())
        throw std::runtime_error("checkpoint '" + path + "': it records no class names and normalisation; was it "
                                 "written by build/train?");
    return Task{ck.spec, ck.data.class_names, Normalization{ck.data.mean, ck.data.std}};
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
