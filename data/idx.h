// IDX files: the format of MNIST, Fashion-MNIST, KMNIST and EMNIST.
//
// Layout (all integers big-endian): two zero bytes, a type byte (0x08 =
// unsigned byte, the only type these data sets use), a dimension count, one
// uint32 size per dimension, then the data row-major. Images files have 3
// dimensions (count, height, width), label files 1 (count).
//
// Files may be plain or gzip-compressed: zlib's gzread reads both. Every
// problem (missing file, wrong magic number or dimension count, truncation,
// corrupt gzip stream, extra bytes, mismatched counts, labels out of range)
// throws std::runtime_error with a message that names the file.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace dl {

// The contents of one IDX file of unsigned bytes.
struct IdxArray {
    std::vector<int> dims;      // e.g. (60000, 28, 28)
    std::vector<uint8_t> data;  // product of dims bytes
};

// Reads `path` (plain or .gz). expected_rank > 0 demands that many dimensions;
// `what` ("images", "labels") words the messages.
IdxArray read_idx(const std::string& path, int expected_rank = 0, const std::string& what = "data");

// Writes an IDX file of unsigned bytes, gzip-compressed when `gzip` is true.
// data.size() must equal the product of dims (std::invalid_argument otherwise).
void write_idx(const std::string& path, const std::vector<int>& dims,
               const std::vector<uint8_t>& data, bool gzip);

// A label outside the class range (a std::runtime_error, so callers can add
// which classes they expected).
struct LabelRangeError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Loads an images file (count, height, width) and its labels file (count).
// classes > 0 fixes the class count (a label >= classes is an error);
// classes == 0 uses max(label) + 1, at least 10 (digit sets), and refuses a
// count past 10 that leaves a class without examples (a damaged label byte).
// Sizes are checked against the file before anything is allocated: a side
// of an image above 4096, a byte count above 4 GiB, more bytes than a plain
// file holds or than a gzip file can expand to, is a corrupt header.
// Class names are those of Fashion-MNIST when the images path contains
// "fashion" (any case) and there are 10 classes, else "0", "1", ...
Dataset load_idx(const std::string& images_path, const std::string& labels_path, int classes = 0);

// The training (train = true) or test split of a directory holding the four
// standard files: train-images-idx3-ubyte, train-labels-idx1-ubyte,
// t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each with or without ".gz"
// (a "." instead of the "-" before "idx" is accepted too).
// A directory whose path contains "fashion" is read as Fashion-MNIST (10 classes).
// classes > 0 fixes the class count (the test split takes the training split's).
Dataset load_mnist_dir(const std::string& dir, bool train, int classes = 0);

// Where the Debian package dataset-fashion-mnist installs the data.
std::string default_data_dir();

// The ten Fashion-MNIST class names, "T-shirt/top" ... "Ankle boot".
const std::vector<std::string>& fashion_mnist_class_names();

}  // namespace dl
