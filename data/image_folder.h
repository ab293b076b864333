// Image files (PNG, JPEG, BMP) through stb_image: one picture for `predict`,
// or a labelled folder tree ROOT/<class name>/<image> for training on your own
// pictures. Images become grayscale (1 channel) or RGB (3 channels), are
// resized to height x width with stb_image_resize, and are stored as uint8
// (C, H, W) like the IDX data sets.
#pragma once
#include <csignal>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace dl {

// One image as (channels, height, width) uint8. channels is 1 (grayscale) or
// 3 (RGB); any alpha channel is dropped. Throws std::runtime_error naming the
// file when it is missing or cannot be decoded, std::invalid_argument on bad
// sizes.
std::vector<uint8_t> load_image(const std::string& path, int channels, int height, int width);

struct ImageFolderOptions {
    int channels = 1;              // 1 grayscale, 3 RGB
    int height = 28;
    int width = 28;
    bool skip_unreadable = false;  // true: leave out images that fail to decode instead of throwing
    // When given and set while the images decode (a signal handler's flag), loading
    // stops and throws LoadInterrupted.
    const volatile std::sig_atomic_t* stop = nullptr;
};

// What load_image_folder left out, for the caller to report.
struct ImageFolderReport {
    std::vector<std::string> skipped;  // "path: reason" of images that failed to decode (skip_unreadable)
    std::vector<std::string> ignored;  // files that are not .png, .jpg, .jpeg or .bmp
};

// Thrown when ImageFolderOptions::stop was set during loading.
struct LoadInterrupted : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// ROOT/<class>/<file>.png|jpg|jpeg|bmp (extensions in any case). Classes are
// the subfolders sorted by name, labels their positions; files are sorted by
// name within a class; hidden entries (".name") are left out, other files are
// listed in report->ignored. Throws std::runtime_error when ROOT is missing,
// has no class folders, a class folder holds no images, or an image is
// unreadable (unless skipped; then it is listed in report->skipped). Images
// decode in parallel.
Dataset load_image_folder(const std::string& root, const ImageFolderOptions& options,
                          ImageFolderReport* report = nullptr);

}  // namespace dl
