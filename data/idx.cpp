// IDX reader and writer over zlib's gz* functions (plain files read through
// them unchanged), and the MNIST-directory convention on top.
#include "data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace dl {
namespace {

const char* kDataHint = "install Fashion-MNIST with `make deps` or pass `--data DIR`";

std::string hex32(uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08X", v);
    return buf;
}

// A file opened for reading through zlib; closes itself.
class GzReader {
public:
    explicit GzReader(const std::string& path) : path_(path) {
        errno = 0;
        file_ = gzopen(path.c_str(), "rb");
        if (!file_)
            throw std::runtime_error("idx: cannot open " + path + ": " +
                                     (errno ? std::strerror(errno) : "out of memory") + "; " +
                                     kDataHint);
        gzbuffer(file_, 1 << 17);
    }
    ~GzReader() { gzclose(file_); }
    GzReader(const GzReader&) = delete;
    GzReader& operator=(const GzReader&) = delete;

    // Reads exactly n bytes or throws, naming `what` and how far it got.
    void read_exact(uint8_t* dst, size_t n, const std::string& what) {
        size_t got = read_up_to(dst, n);
        if (got < n) throw_truncated(got, n, what);
    }

    // True when nothing follows; reading to the end also makes zlib verify
    // the gzip trailer (CRC and length).
    bool at_end() {
        uint8_t byte;
        if (read_up_to(&byte, 1) == 1) return false;
        if (cut_short_)
            throw std::runtime_error("idx: " + path_ + ": file is truncated: the gzip stream ends "
                                     "before its trailer; download or reinstall the file");
        return true;
    }

    // Reads a large array in 1 MB steps, so that a corrupt header claiming
    // gigabytes fails on truncation before allocating them.
    void read_growing(std::vector<uint8_t>& out, size_t n, const std::string& what) {
        out.clear();
        while (out.size() < n) {
            size_t old = out.size();
            out.resize(std::min(n, old + (size_t(1) << 20)));
            size_t got = read_up_to(out.data() + old, out.size() - old);
            if (old + got < out.size()) throw_truncated(old + got, n, what);
        }
    }

private:
    // Reads up to n bytes, fewer only at the end of the file; throws on a
    // corrupt gzip stream or a read error.
    size_t read_up_to(uint8_t* dst, size_t n) {
        size_t got = 0;
        while (got < n) {
            unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - got, 1 << 20));
            int r = gzread(file_, dst + got, chunk);
            if (r <= 0) {
                check_stream();
                break;
            }
            got += static_cast<size_t>(r);
        }
        return got;
    }

    // After a short read: a damaged stream or an I/O error throws, a plain end
    // of file returns, and a gzip stream cut short is remembered in cut_short_.
    void check_stream() {
        int err = Z_OK;
        const char* msg = gzerror(file_, &err);
        cut_short_ = err == Z_BUF_ERROR;
        if (err == Z_DATA_ERROR)
            throw std::runtime_error("idx: " + path_ + ": corrupt gzip stream (zlib: " + msg +
                                     "); download or reinstall the file");
        if (err == Z_ERRNO)
            throw std::runtime_error("idx: " + path_ + ": read error: " + std::strerror(errno));
    }

    [[noreturn]] void throw_truncated(size_t got, size_t n, const std::string& what) {
        throw std::runtime_error("idx: " + path_ + ": file is truncated: " + what + " needs " +
                                 std::to_string(n) + " bytes, found only " + std::to_string(got) +
                                 "; download or reinstall the file");
    }

    std::string path_;
    gzFile file_ = nullptr;
    bool cut_short_ = false;  // zlib reported "unexpected end of file"
};

uint32_t big_endian(const uint8_t* p) {
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}

std::string dimensions(int n) { return std::to_string(n) + (n == 1 ? " dimension" : " dimensions"); }

std::string magic_expected(int rank) {
    if (rank <= 0) return "0x000008NN (unsigned bytes, NN dimensions)";
    return hex32(0x800u + unsigned(rank)) + " (unsigned bytes, " + dimensions(rank) + ")";
}

std::string rank_meaning(int rank) {
    if (rank == 3) return " (count, height, width)";
    if (rank == 1) return " (count)";
    return "";
}

// Reads magic number and sizes; returns the dims.
std::vector<int> read_header(GzReader& in, const std::string& path, int expected_rank,
                             const std::string& what) {
    uint8_t magic[4];
    in.read_exact(magic, 4, "the magic number");
    uint32_t m = big_endian(magic);
    if (magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08 || magic[3] == 0 || magic[3] > 4)
        throw std::runtime_error("idx: " + path + ": wrong magic number " + hex32(m) +
                                 ", expected " + magic_expected(expected_rank) +
                                 "; is this an IDX " + what + " file?");
    int rank = magic[3];
    if (expected_rank > 0 && rank != expected_rank)
        throw std::runtime_error("idx: " + path + ": " + what + " file has " + dimensions(rank) +
                                 ", expected " + std::to_string(expected_rank) +
                                 rank_meaning(expected_rank) +
                                 "; are the images and labels files swapped?");
    std::vector<int> dims(static_cast<size_t>(rank));
    for (int d = 0; d < rank; ++d) {
        uint8_t size[4];
        in.read_exact(size, 4, "the header");
        uint32_t v = big_endian(size);
        if (v == 0 || v > (1u << 30))
            throw std::runtime_error("idx: " + path + ": dimension " + std::to_string(d) +
                                     " has size " + std::to_string(v) +
                                     ", expected 1 .. 2^30; the header is corrupt");
        dims[d] = static_cast<int>(v);
    }
    return dims;
}

size_t product(const std::vector<int>& dims) {
    size_t n = 1;
    for (int d : dims) n *= size_t(d);
    return n;
}

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// The first existing file among the spellings of one standard name.
std::string find_standard_file(const std::string& dir, const std::string& prefix,
                               const std::string& suffix) {
    namespace fs = std::filesystem;
    for (const char* sep : {"-", "."})
        for (const char* gz : {".gz", ""}) {
            fs::path p = fs::path(dir) / (prefix + sep + suffix + gz);
            std::error_code ec;
            if (fs::is_regular_file(p, ec)) return p.string();
        }
    throw std::runtime_error("idx: " + dir + " holds neither " + prefix + "-" + suffix +
                             " nor " + prefix + "-" + suffix + ".gz; " + kDataHint +
                             " (a directory with the four MNIST files)");
}

}  // namespace

IdxArray read_idx(const std::string& path, int expected_rank, const std::string& what) {
    GzReader in(path);
    IdxArray a;
    a.dims = read_header(in, path, expected_rank, what);
    size_t n = product(a.dims);
    if (n > (size_t(1) << 32))
        throw std::runtime_error("idx: " + path + ": header claims " + std::to_string(n) +
                                 " bytes of " + what + ", more than 4 GiB; the header is corrupt");
    in.read_growing(a.data, n, what);
    if (!in.at_end())
        throw std::runtime_error("idx: " + path + ": extra bytes after the " + std::to_string(n) +
                                 " bytes of " + what + " its header describes; the file is damaged"
                                 " or not an IDX file");
    return a;
}

void write_idx(const std::string& path, const std::vector<int>& dims,
               const std::vector<uint8_t>& data, bool gzip) {
    if (dims.empty() || dims.size() > 4 || product(dims) != data.size())
        throw std::invalid_argument("write_idx: " + path + ": " + std::to_string(dims.size()) +
                                    " dims with product " + std::to_string(product(dims)) +
                                    " for " + std::to_string(data.size()) +
                                    " bytes; expected 1..4 dims whose product is the byte count");
    gzFile f = gzopen(path.c_str(), gzip ? "wb" : "wbT");  // "T": plain, no compression
    if (!f) throw std::runtime_error("write_idx: cannot create " + path + ": " + std::strerror(errno));
    std::vector<uint8_t> header = {0, 0, 0x08, static_cast<uint8_t>(dims.size())};
    for (int d : dims)
        for (int shift = 24; shift >= 0; shift -= 8) header.push_back(uint8_t(unsigned(d) >> shift));
    bool ok = gzwrite(f, header.data(), unsigned(header.size())) == int(header.size());
    for (size_t at = 0; ok && at < data.size(); at += size_t(1) << 20) {
        unsigned chunk = unsigned(std::min(data.size() - at, size_t(1) << 20));
        ok = gzwrite(f, data.data() + at, chunk) == int(chunk);
    }
    if (gzclose(f) != Z_OK || !ok)
        throw std::runtime_error("write_idx: writing " + path + " failed (disk full?)");
}

Dataset load_idx(const std::string& images_path, const std::string& labels_path, int classes) {
    IdxArray images = read_idx(images_path, 3, "images");
    IdxArray labels = read_idx(labels_path, 1, "labels");
    if (images.dims[0] != labels.dims[0])
        throw std::runtime_error("idx: " + images_path + " holds " + std::to_string(images.dims[0]) +
                                 " images but " + labels_path + " holds " +
                                 std::to_string(labels.dims[0]) +
                                 " labels; expected the same count (files of the same split?)");
    Dataset d;
    d.count = images.dims[0];
    d.channels = 1;
    d.height = images.dims[1];
    d.width = images.dims[2];
    d.images = std::move(images.data);
    d.labels.assign(labels.data.begin(), labels.data.end());
    int max_label = *std::max_element(d.labels.begin(), d.labels.end());
    d.classes = classes > 0 ? classes : std::max(10, max_label + 1);
    if (max_label >= d.classes) {
        size_t i = std::find(d.labels.begin(), d.labels.end(), max_label) - d.labels.begin();
        throw std::runtime_error("idx: " + labels_path + ": label " + std::to_string(max_label) +
                                 " of example " + std::to_string(i) +
                                 " is outside the class range [0, " + std::to_string(d.classes) +
                                 "); wrong labels file or wrong data set?");
    }
    bool fashion = lower(images_path).find("fashion") != std::string::npos && d.classes == 10;
    if (fashion) d.class_names = fashion_mnist_class_names();
    else
        for (int c = 0; c < d.classes; ++c) d.class_names.push_back(std::to_string(c));
    return d;
}

Dataset load_mnist_dir(const std::string& dir, bool train) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec))
        throw std::runtime_error("idx: data directory " + dir + " does not exist; " + kDataHint);
    const std::string split = train ? "train" : "t10k";
    std::string images = find_standard_file(dir, split + "-images", "idx3-ubyte");
    std::string labels = find_standard_file(dir, split + "-labels", "idx1-ubyte");
    bool fashion = lower(dir).find("fashion") != std::string::npos;
    return load_idx(images, labels, fashion ? 10 : 0);
}

std::string default_data_dir() { return "/usr/share/datasets/fashion-mnist"; }

const std::vector<std::string>& fashion_mnist_class_names() {
    static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                                   "Coat",        "Sandal",  "Shirt",    "Sneaker",
                                                   "Bag",         "Ankle boot"};
    return names;
}

}  // namespace dl
