// Consistency checks and small helpers for Dataset.
#include "data/dataset.h"

#include <cstring>
#include <stdexcept>

namespace dl {

void check_dataset(const Dataset& d, const std::string& source) {
    const std::string where = "dataset " + source + ": ";
    if (d.count < 0 || d.channels <= 0 || d.height <= 0 || d.width <= 0)
        throw std::invalid_argument(where + "bad sizes count=" + std::to_string(d.count) +
                                    " channels=" + std::to_string(d.channels) + " height=" +
                                    std::to_string(d.height) + " width=" + std::to_string(d.width));
    if (d.images.size() != size_t(d.count) * d.image_size())
        throw std::invalid_argument(where + "holds " + std::to_string(d.images.size()) +
                                    " pixel bytes, expected count * channels * height * width = " +
                                    std::to_string(size_t(d.count) * d.image_size()));
    if (d.labels.size() != size_t(d.count))
        throw std::invalid_argument(where + "holds " + std::to_string(d.labels.size()) +
                                    " labels for " + std::to_string(d.count) + " images");
    if (!d.class_names.empty() && d.class_names.size() != size_t(d.classes))
        throw std::invalid_argument(where + "has " + std::to_string(d.class_names.size()) +
                                    " class names for " + std::to_string(d.classes) + " classes");
    for (int i = 0; i < d.count; ++i)
        if (d.labels[i] < 0 || d.labels[i] >= d.classes)
            throw std::invalid_argument(where + "label " + std::to_string(d.labels[i]) +
                                        " of example " + std::to_string(i) +
                                        " is outside the class range [0, " +
                                        std::to_string(d.classes) + ")");
}

Dataset subset(const Dataset& d, const std::vector<int>& indices) {
    Dataset s;  // copy the description, not the (possibly large) pixels
    s.channels = d.channels;
    s.height = d.height;
    s.width = d.width;
    s.classes = d.classes;
    s.class_names = d.class_names;
    s.source = d.source;
    s.count = static_cast<int>(indices.size());
    s.images.resize(size_t(s.count) * d.image_size());
    s.labels.resize(size_t(s.count));
    for (int i = 0; i < s.count; ++i) {
        int k = indices[i];
        if (k < 0 || k >= d.count)
            throw std::invalid_argument("subset: index " + std::to_string(k) +
                                        " is outside [0, " + std::to_string(d.count) + ")");
        std::memcpy(s.images.data() + size_t(i) * d.image_size(), d.image(k), d.image_size());
        s.labels[i] = d.labels[k];
    }
    return s;
}

std::vector<int> class_counts(const Dataset& d) {
    std::vector<int> counts(size_t(d.classes > 0 ? d.classes : 0), 0);
    for (int y : d.labels)
        if (y >= 0 && y < d.classes) ++counts[y];
    return counts;
}

}  // namespace dl
