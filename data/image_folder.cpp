// Image loading with stb_image (decoding) and stb_image_resize (resizing).
// Debian's libstb already holds the implementations, so no *_IMPLEMENTATION here.
#include "data/image_folder.h"

#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>

namespace fs = std::filesystem;

namespace dl {
namespace {

void check_image_size(int channels, int height, int width) {
    if (channels != 1 && channels != 3)
        throw std::invalid_argument("image: " + std::to_string(channels) +
                                    " channels, expected 1 (grayscale) or 3 (RGB)");
    if (height < 1 || width < 1 || height > 4096 || width > 4096)
        throw std::invalid_argument("image: size " + std::to_string(height) + " x " +
                                    std::to_string(width) + ", expected 1 .. 4096 each way");
}

// Decodes `path` into out (C, H, W); throws std::runtime_error with the reason.
void decode_into(uint8_t* out, const std::string& path, int channels, int height, int width) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
        throw std::runtime_error("image: cannot open " + path + ": no such file");
    int w = 0, h = 0, file_channels = 0;
    std::unique_ptr<uint8_t, void (*)(void*)> pixels(
        stbi_load(path.c_str(), &w, &h, &file_channels, channels), stbi_image_free);
    if (!pixels)
        throw std::runtime_error("image: cannot decode " + path + " (stb_image: " +
                                 stbi_failure_reason() + "); expected a PNG, JPEG or BMP file");
    // stb gives (H, W, C) interleaved pixels; resize first, then reorder to (C, H, W).
    std::vector<uint8_t> hwc(size_t(height) * width * channels);
    if (w == width && h == height)
        std::memcpy(hwc.data(), pixels.get(), hwc.size());
    else if (!stbir_resize_uint8(pixels.get(), w, h, 0, hwc.data(), width, height, 0, channels))
        throw std::runtime_error("image: resizing " + path + " from " + std::to_string(h) + " x " +
                                 std::to_string(w) + " failed");
    for (int c = 0; c < channels; ++c)
        for (int k = 0; k < height * width; ++k)
            out[size_t(c) * height * width + k] = hwc[size_t(k) * channels + c];
}

bool hidden(const fs::path& p) { return p.filename().string().rfind('.', 0) == 0; }

bool is_image_file(const fs::path& p) {
    std::string ext = p.extension().string();
    for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

// Sorted entries of dir that satisfy keep.
template <class Keep>
std::vector<fs::path> sorted_entries(const fs::path& dir, Keep keep) {
    std::vector<fs::path> out;
    for (const fs::directory_entry& e : fs::directory_iterator(dir))
        if (!hidden(e.path()) && keep(e)) out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

// The class folders of root and the image files with their labels; other
// files (not hidden) go to `ignored`.
void list_folder(const std::string& root, std::vector<std::string>& class_names,
                 std::vector<fs::path>& files, std::vector<int>& labels, std::vector<std::string>& ignored) {
    std::error_code ec;
    if (!fs::is_directory(root, ec))
        throw std::runtime_error("image folder: " + root + " does not exist or is not a directory");
    std::vector<fs::path> classes =
        sorted_entries(root, [](const fs::directory_entry& e) { return e.is_directory(); });
    for (const fs::path& f : sorted_entries(root, [](const fs::directory_entry& e) { return !e.is_directory(); }))
        ignored.push_back(f.string());
    if (classes.empty())
        throw std::runtime_error("image folder: " + root + " has no class folders; expected " +
                                 root + "/<class name>/<image>.png|jpg|jpeg|bmp");
    for (const fs::path& dir : classes) {
        std::vector<fs::path> images = sorted_entries(dir, [](const fs::directory_entry& e) {
            return e.is_regular_file() && is_image_file(e.path());
        });
        for (const fs::path& f : sorted_entries(dir, [](const fs::directory_entry& e) {
                 return !(e.is_regular_file() && is_image_file(e.path()));
             }))
            ignored.push_back(f.string());
        if (images.empty())
            throw std::runtime_error("image folder: class folder " + dir.string() +
                                     " holds no .png, .jpg, .jpeg or .bmp images");
        for (const fs::path& f : images) {
            files.push_back(f);
            labels.push_back(int(class_names.size()));
        }
        class_names.push_back(dir.filename().string());
    }
}

}  // namespace

std::vector<uint8_t> load_image(const std::string& path, int channels, int height, int width) {
    check_image_size(channels, height, width);
    std::vector<uint8_t> out(size_t(channels) * height * width);
    decode_into(out.data(), path, channels, height, width);
    return out;
}

Dataset load_image_folder(const std::string& root, const ImageFolderOptions& opt, ImageFolderReport* report) {
    check_image_size(opt.channels, opt.height, opt.width);
    Dataset d;
    d.source = root;
    std::vector<fs::path> files;
    ImageFolderReport local;
    ImageFolderReport& rep = report ? *report : local;
    rep = ImageFolderReport{};
    list_folder(root, d.class_names, files, d.labels, rep.ignored);
    d.classes = int(d.class_names.size());
    d.channels = opt.channels;
    d.height = opt.height;
    d.width = opt.width;
    const int n = int(files.size());
    d.images.resize(size_t(n) * d.image_size());
    // Decode in parallel; an error is kept per file (exceptions must not leave an OpenMP loop).
    std::vector<std::string> errors(static_cast<size_t>(n));
#pragma omp parallel for schedule(dynamic)
    for (int i = 0; i < n; ++i) {
        if (opt.stop && *opt.stop) continue;  // interrupted: the remaining images are not decoded
        try {
            decode_into(d.images.data() + size_t(i) * d.image_size(), files[i].string(),
                        d.channels, d.height, d.width);
        } catch (const std::exception& e) {
            errors[i] = e.what();
        }
    }
    if (opt.stop && *opt.stop)
        throw LoadInterrupted("image folder " + root + ": interrupted while loading its " + std::to_string(n) +
                              " images");
    // Keep the readable images, in order.
    int kept = 0;
    for (int i = 0; i < n; ++i) {
        if (!errors[i].empty()) {
            if (!opt.skip_unreadable)
                throw std::runtime_error(errors[i] + " (in image folder " + root +
                                         "; build/train --skip-unreadable leaves such files out)");
            rep.skipped.push_back(errors[i]);
            continue;
        }
        if (kept != i)
            std::memmove(d.images.data() + size_t(kept) * d.image_size(),
                         d.images.data() + size_t(i) * d.image_size(), d.image_size());
        d.labels[kept++] = d.labels[i];
    }
    if (kept == 0)
        throw std::runtime_error("image folder: " + root + ": none of its " + std::to_string(n) +
                                 " images could be read");
    d.count = kept;
    d.images.resize(size_t(kept) * d.image_size());
    d.labels.resize(size_t(kept));
    return d;
}

}  // namespace dl
