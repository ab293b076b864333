// IDX reader and writer over zlib's gz* functions (plain files read through
// them unchanged), and the MNIST-directory convention on top.
#include "data/idx.h"

#include <sys/stat.h>
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
constexpr uint64_t kMaxIdxBytes = uint64_t(1) << 32;  // 4 GiB: far above any MNIST-like set
constexpr int kMaxImageSide = 4096;

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
        struct stat st;
        if (::stat(path.c_str(), &st) == 0) file_size_ = static_cast<uint64_t>(st.st_size);
    }
    ~GzReader() { gzclose(file_); }
    GzReader(const GzReader&) = delete;
    GzReader& operator=(const GzReader&) = delete;

    // Reads exactly n bytes or throws, naming `what` and how far it got.
    void read_exact(uint8_t* dst, size_t n, const std::string& what) {
        size_t got = read_up_to(dst, n);
        if (got < n) throw_truncated(got, n, what);
    }

    // Size of the file on disk, and whether it is gzip-compressed (known after the first read).
    uint64_t file_size() const { return file_size_; }
    bool compressed() { return gzdirect(file_) == 0; }

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

    // Reads a large array in 1 MB steps, so that a gzip stream shorter than its
    // header claims fails on truncation before all of it is allocated.
    void read_growing(std::vector<uint8_t>& out, size_t n, const std::string& what) {
        out.clear();
        if (!compressed()) out.reserve(n);  // a plain file was checked against its size
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

  public:
    [[noreturn]] void throw_truncated(uint64_t got, uint64_t n, const std::string& what) {
        throw std::runtime_error("idx: " + path_ + ": file is truncated: " + what + " needs " +
                                 std::to_string(n) + " bytes, found only " + std::to_string(got) +
                                 "; download or reinstall the file");
    }

  private:
    std::string path_;
    gzFile file_ = nullptr;
    uint64_t file_size_ = 0;
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
    // Images (count, height, width): a side beyond kMaxImageSide is a corrupt header, and
    // would overflow the int sizes of the tensors made from it.
    if (rank == 3 && (dims[1] > kMaxImageSide || dims[2] > kMaxImageSide))
        throw std::runtime_error("idx: " + path + ": " + what + " of " + std::to_string(dims[1]) + " x " +
                                 std::to_string(dims[2]) + " pixels, expected at most " +
                                 std::to_string(kMaxImageSide) + " x " + std::to_string(kMaxImageSide) +
                                 "; the header is corrupt");
    return dims;
}

// The product of dims, or false when it exceeds `limit` (checked before each
// multiplication, so it cannot wrap around).
bool checked_product(const std::vector<int>& dims, uint64_t limit, uint64_t& n) {
    n = 1;
    for (int d : dims) {
        if (uint64_t(d) != 0 && n > limit / uint64_t(d)) return false;
        n *= uint64_t(d);
    }
    return n <= limit;
}

// Deflate expands at most 1032-fold (RFC 1951: a 258-byte match costs at least 2 bits),
// so a gzip file of S bytes holds at most 1032 S bytes (plus its own header).
constexpr uint64_t kMaxDeflateRatio = 1032;

// The byte count a header claims, checked against the file before anything is allocated:
// exactly the rest of a plain file, at most what a gzip file of its size can expand to.
size_t data_bytes(GzReader& in, const std::vector<int>& dims, const std::string& path, const std::string& what) {
    uint64_t n = 0;
    std::string dims_text;
    for (size_t d = 0; d < dims.size(); ++d) dims_text += (d ? " x " : "") + std::to_string(dims[d]);
    if (!checked_product(dims, kMaxIdxBytes, n))
        throw std::runtime_error("idx: " + path + ": header claims " + dims_text + " bytes of " + what +
                                 ", more than 4 GiB; the header is corrupt");
    const uint64_t header = 4 + 4 * dims.size(), size = in.file_size();
    if (size == 0) return size_t(n);  // not a regular file (a pipe): the streaming checks apply
    if (!in.compressed()) {
        if (n > size - header) in.throw_truncated(size - header, n, what);
    } else if (n / kMaxDeflateRatio > size) {
        throw std::runtime_error("idx: " + path + ": header claims " + dims_text + " = " + std::to_string(n) +
                                 " bytes of " + what + ", but a gzip file of " + std::to_string(size) +
                                 " bytes expands to at most " + std::to_string(size * kMaxDeflateRatio) +
                                 "; the header is corrupt");
    }
    return size_t(n);
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
    const size_t n = data_bytes(in, a.dims, path, what);
    in.read_growing(a.data, n, what);
    if (!in.at_end())
        throw std::runtime_error("idx: " + path + ": extra bytes after the " + std::to_string(n) +
                                 " bytes of " + what + " its header describes; the file is damaged"
                                 " or not an IDX file");
    return a;
}

void write_idx(const std::string& path, const std::vector<int>& dims,
               const std::vector<uint8_t>& data, bool gzip) {
    uint64_t n = 0;
    const bool fits = checked_product(dims, kMaxIdxBytes, n);
    for (int d : dims)
        if (d <= 0) throw std::invalid_argument("write_idx: " + path + ": dimension " + std::to_string(d) + ", expected > 0");
    if (dims.empty() || dims.size() > 4 || !fits || n != data.size())
        throw std::invalid_argument("write_idx: " + path + ": " + std::to_string(dims.size()) +
                                    " dims with product " + (fits ? std::to_string(n) : std::string("> 4 GiB")) +
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
    d.source = images_path;
    const int max_label = *std::max_element(d.labels.begin(), d.labels.end());
    const size_t at_max = std::find(d.labels.begin(), d.labels.end(), max_label) - d.labels.begin();
    d.classes = classes > 0 ? classes : std::max(10, max_label + 1);
    if (max_label >= d.classes)
        throw LabelRangeError("idx: " + labels_path + ": label " + std::to_string(max_label) +
                                 " of example " + std::to_string(at_max) +
                                 " is outside the class range [0, " + std::to_string(d.classes) +
                                 "); wrong labels file or wrong data set?");
    if (classes <= 0) {
        // The class count comes from the labels: a stray large label (a damaged byte)
        // must not widen it silently, so every class past the first ten needs an example.
        const std::vector<int> counts = class_counts(d);
        for (int c = 10; c < d.classes; ++c)
            if (counts[c] == 0)
                throw LabelRangeError("idx: " + labels_path + ": label " + std::to_string(max_label) +
                                         " of example " + std::to_string(at_max) + " makes " +
                                         std::to_string(d.classes) + " classes, but no example has label " +
                                         std::to_string(c) + "; is the labels file damaged?");
    }
    bool fashion = lower(images_path).find("fashion") != std::string::npos && d.classes == 10;
    if (fashion) d.class_names = fashion_mnist_class_names();
    else
        for (int c = 0; c < d.classes; ++c) d.class_names.push_back(std::to_string(c));
    return d;
}

Dataset load_mnist_dir(const std::string& dir, bool train, int classes) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec))
        throw std::runtime_error("idx: data directory " + dir + " does not exist; " + kDataHint);
    const std::string split = train ? "train" : "t10k";
    std::string images = find_standard_file(dir, split + "-images", "idx3-ubyte");
    std::string labels = find_standard_file(dir, split + "-labels", "idx1-ubyte");
    bool fashion = lower(dir).find("fashion") != std::string::npos;
    return load_idx(images, labels, classes > 0 ? classes : fashion ? 10 : 0);
}

std::string default_data_dir() { return "/usr/share/datasets/fashion-mnist"; }

const std::vector<std::string>& fashion_mnist_class_names() {
    static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                                   "Coat",        "Sandal",  "Shirt",    "Sneaker",
                                                   "Bag",         "Ankle boot"};
    return names;
}

}  // namespace dl
