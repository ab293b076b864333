// Dataset: labelled images kept as uint8 in memory (Fashion-MNIST's 60,000
// training images are 47 MB this way, four times less than as floats). They
// become normalised float batches only when the DataLoader makes a batch.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dl {

struct Dataset {
    std::vector<uint8_t> images;  // (count, channels, height, width), row-major, 0..255
    std::vector<int> labels;      // (count), each in [0, classes)
    int count = 0;
    int channels = 0;
    int height = 0;
    int width = 0;
    int classes = 0;
    std::vector<std::string> class_names;  // (classes)
    std::string source;           // where it came from (a file or folder), for messages

    size_t image_size() const { return size_t(channels) * height * width; }
    const uint8_t* image(int i) const { return images.data() + size_t(i) * image_size(); }
};

// Throws std::invalid_argument unless the sizes agree with each other and every
// label lies in [0, classes). `source` names where the data came from.
void check_dataset(const Dataset& d, const std::string& source);

// A subset of d (in the order of `indices`), e.g. a few images for a picture.
Dataset subset(const Dataset& d, const std::vector<int>& indices);

// Number of examples of each class (classes entries).
std::vector<int> class_counts(const Dataset& d);

}  // namespace dl
