#include "layers/checkpoint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <set>
#include <stdexcept>

namespace dl {

namespace {

const char kMagic[4] = {'D', 'L', 'C', 'K'};
const char kEnd[4] = {'E', 'N', 'D', '.'};
const std::string kModel = "model", kTensor = "tensor/", kClassNames = "class_names", kNormalization = "normalization",
                  kModuleState = "module_state";
constexpr std::uint64_t kMaxFileBytes = std::uint64_t(1) << 32;  // 4 GiB, far above any model here

std::uint32_t crc(const char* p, size_t n) {
    return static_cast<std::uint32_t>(crc32_z(0L, reinterpret_cast<const Bytef*>(p), n));
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

// ---- writing ------------------------------------------------------------------------------

template <class T>
void put(std::string& out, T v) {
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

void put_string(std::string& out, const std::string& s) {
    put<std::uint32_t>(out, static_cast<std::uint32_t>(s.size()));
    out += s;
}

// One record: name, payload, and the checksum of both.
void put_record(std::string& out, const std::string& name, const std::string& payload) {
    const size_t start = out.size();
    put_string(out, name);
    put<std::uint64_t>(out, payload.size());
    out += payload;
    put<std::uint32_t>(out, crc(out.data() + start, out.size() - start));
}

// Throws unless every value is finite: a checkpoint never holds a damaged model.
void check_finite(const std::string& where, const std::string& name, const Tensor& t) {
    for (size_t i = 0; i < t.size(); ++i)
        if (!std::isfinite(t[i]))
            throw std::runtime_error(where + "tensor '" + printable(name) + "' " + t.shape().str() + " holds " +
                                     (std::isnan(t[i]) ? "NaN" : "infinity") + " at element " + std::to_string(i) +
                                     "; the model is damaged (a diverged run, or a corrupted file)");
}

std::string tensor_payload(const Tensor& t) {
    std::string out;
    put<std::uint32_t>(out, static_cast<std::uint32_t>(t.rank()));
    for (int i = 0; i < t.rank(); ++i) put<std::int32_t>(out, t.dim(i));
    out.append(reinterpret_cast<const char*>(t.data()), t.size() * sizeof(float));
    return out;
}

// The "model" record's fields.
void spec_fields(Fields& f, ModelSpec& s) {
    f("name", s.name);
    f("layers", s.layers);
    f("channels", s.channels);
    f("height", s.height);
    f("width", s.width);
    f("classes", s.classes);
}

// What is wrong with `data` for a model of `spec` ("" when nothing is).
std::string data_info_problem(const ModelSpec& spec, const DataInfo& data) {
    if (data.class_names.size() != static_cast<size_t>(std::max(spec.classes, 0)))
        return std::to_string(data.class_names.size()) + " class names for a model of " + std::to_string(spec.classes) +
               " classes";
    for (size_t c = 0; c < data.class_names.size(); ++c)
        if (data.class_names[c].empty()) return "class " + std::to_string(c) + " has an empty name";
    if (data.mean.empty()) return "the normalisation is empty";
    if (data.mean.size() != data.std.size() || data.mean.size() != static_cast<size_t>(std::max(spec.channels, 0)))
        return "the normalisation has " + std::to_string(data.mean.size()) + " means and " +
               std::to_string(data.std.size()) + " standard deviations for a model of " +
               std::to_string(spec.channels) + " channels";
    for (size_t c = 0; c < data.mean.size(); ++c)
        if (!std::isfinite(data.mean[c]) || !std::isfinite(data.std[c]) || data.std[c] <= 0.0f)
            return "the normalisation holds mean " + std::to_string(data.mean[c]) + " and std " +
                   std::to_string(data.std[c]) + " for channel " + std::to_string(c) +
                   " (expected finite values, std > 0)";
    return "";
}

std::string normalization_payload(const DataInfo& data) {
    std::string out;
    put<std::uint32_t>(out, static_cast<std::uint32_t>(data.mean.size()));
    for (size_t c = 0; c < data.mean.size(); ++c) {
        put<float>(out, data.mean[c]);
        put<float>(out, data.std[c]);
    }
    return out;
}

std::string serialize(const std::string& path, const ModelSpec& spec, Module& model,
                      const std::map<std::string, std::string>& extra, const DataInfo& data) {
    const std::string where = "checkpoint '" + path + "': not saved: ";
    std::vector<std::pair<std::string, const Tensor*>> tensors;
    for (Parameter* p : model.parameters()) tensors.emplace_back(p->name, &p->value);
    for (const auto& [name, t] : tensors) check_finite(where, name, *t);
    Fields module_state = Fields::writer(where + "the module state");  // refuses NaN too
    model.state_fields(module_state);
    for (const auto& kv : extra)
        if (kv.first.empty() || kv.first == kModel || kv.first == kClassNames || kv.first == kNormalization ||
            kv.first == kModuleState || starts_with(kv.first, kTensor))
            throw std::invalid_argument(where + "extra record name '" + printable(kv.first) + "' is reserved");
    if (!data.empty())
        if (const std::string problem = data_info_problem(spec, data); !problem.empty())
            throw std::invalid_argument(where + problem);

    Fields model_record = Fields::writer();
    ModelSpec copy = spec;
    spec_fields(model_record, copy);

    std::string out(kMagic, 4);
    put<std::uint32_t>(out, kCheckpointVersion);
    put<std::uint32_t>(out, static_cast<std::uint32_t>(2 + tensors.size() + (data.empty() ? 0 : 2) + extra.size()));
    put_record(out, kModel, model_record.bytes());
    for (const auto& [name, t] : tensors) put_record(out, kTensor + name, tensor_payload(*t));
    put_record(out, kModuleState, module_state.bytes());
    if (!data.empty()) {
        put_record(out, kClassNames, encode_strings(data.class_names));
        put_record(out, kNormalization, normalization_payload(data));
    }
    for (const auto& [key, blob] : extra) put_record(out, key, blob);
    const std::uint32_t sum = crc(out.data(), out.size());
    out.append(kEnd, 4);
    put<std::uint32_t>(out, sum);
    return out;
}

// Writes all of `bytes` to `path` and flushes them to the disk; false with errno set on failure.
bool write_durably(const std::string& path, const std::string& bytes) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return false;
    size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n == 0) errno = ENOSPC;
            const int e = errno;
            ::close(fd);
            errno = e;
            return false;
        }
        done += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0) {
        const int e = errno;
        ::close(fd);
        errno = e;
        return false;
    }
    return ::close(fd) == 0;
}

// ---- reading: a cursor over bytes that names what it was reading ---------------------------

class Reader {
public:
    // `complete`: the file ends with an end marker, so running out of bytes means a
    // damaged length field rather than a truncated file.
    Reader(const std::string& path, const char* data, size_t size, bool complete, std::string context = "")
        : path_(path), data_(data), size_(size), complete_(complete), context_(std::move(context)) {}

    template <class T>
    T get(const std::string& what) {
        T v;
        std::memcpy(&v, take(sizeof v, what), sizeof v);
        return v;
    }
    std::string get_string(const std::string& what) {
        const std::uint32_t n = get<std::uint32_t>("the length of " + what);
        return std::string(take(n, what), n);
    }
    const char* take(std::uint64_t n, const std::string& what) {
        if (n > size_ - pos_)
            fail(std::string(complete_ ? "damaged file: a length field is wrong: " : "truncated file: ") +
                 "it ends while reading " + what + context_ + " (needs " + std::to_string(n) + " bytes at offset " +
                 std::to_string(pos_) + ", " + std::to_string(size_ - pos_) + " left)");
        const char* p = data_ + pos_;
        pos_ += n;
        return p;
    }
    size_t pos() const { return pos_; }
    const char* at(size_t pos) const { return data_ + pos; }
    size_t left() const { return size_ - pos_; }
    [[noreturn]] void fail(const std::string& msg) const {
        throw std::runtime_error("checkpoint '" + path_ + "': " + msg);
    }

private:
    const std::string& path_;
    const char* data_;
    size_t size_;
    bool complete_;
    std::string context_;  // " in record 'NAME'" for a record's payload
    size_t pos_ = 0;
};

void read_header(Reader& r) {
    const std::string magic(r.take(4, "the magic number"), 4);
    if (magic != std::string(kMagic, 4))
        r.fail("not a checkpoint of this framework (the file starts with bytes that are not 'DLCK'); "
               "was it written by another program?");
    const auto version = r.get<std::uint32_t>("the format version");
    if (version >= 1 && version < kCheckpointVersion)
        r.fail("format version " + std::to_string(version) + ", written by an older build; this program reads version " +
               std::to_string(kCheckpointVersion) + ": train again (or load it with the older build)");
    if (version != kCheckpointVersion)
        r.fail("format version " + std::to_string(version) + ", but this program reads version " +
               std::to_string(kCheckpointVersion) + (version > kCheckpointVersion ? " (written by a newer build?)" : ""));
}

std::string read_file(const std::string& path) {
    const std::string where = "checkpoint '" + path + "': ";
    struct stat st;
    if (::stat(path.c_str(), &st) != 0)
        throw std::runtime_error(where + (errno == ENOENT ? std::string("cannot open the file for reading")
                                                          : "cannot read it: " + std::string(std::strerror(errno))));
    if (!S_ISREG(st.st_mode))
        throw std::runtime_error(where + "cannot open the file for reading (it is " +
                                 (S_ISDIR(st.st_mode) ? "a directory" : "not a regular file") + ")");
    if (static_cast<std::uint64_t>(st.st_size) > kMaxFileBytes)
        throw std::runtime_error(where + "the file has " + std::to_string(st.st_size) +
                                 " bytes, more than any checkpoint (4 GiB); is it a checkpoint?");
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) throw std::runtime_error(where + "cannot open the file for reading");
    std::string bytes(static_cast<size_t>(st.st_size), '\0');
    const size_t got = std::fread(bytes.data(), 1, bytes.size(), f);
    const bool error = std::ferror(f) != 0;
    std::fclose(f);
    if (error) throw std::runtime_error(where + "read error");
    bytes.resize(got);  // the file shrank while being read: the checks below call it truncated
    return bytes;
}

struct Record {
    std::string name;
    const char* data;
    std::uint64_t size;
};

// The records between the header and the end marker, each checked against its checksum.
std::vector<Record> read_records(Reader& r) {
    const auto count = r.get<std::uint32_t>("the record count");
    std::vector<Record> records;
    for (std::uint32_t i = 0; i < count; ++i) {
        const size_t start = r.pos();
        Record rec;
        rec.name = r.get_string("the name of record " + std::to_string(i));
        rec.size = r.get<std::uint64_t>("the length of record '" + printable(rec.name) + "'");
        rec.data = r.take(rec.size, "record '" + printable(rec.name) + "'");
        const size_t end = r.pos();
        const auto stored = r.get<std::uint32_t>("the checksum of record '" + printable(rec.name) + "'");
        if (stored != crc(r.at(start), end - start))
            r.fail("record '" + printable(rec.name) + "' (record " + std::to_string(i) + ", at offset " +
                   std::to_string(start) + ") is damaged: its checksum does not match; the file was changed "
                   "after it was written (use another checkpoint, e.g. best.ckpt or a snapshot)");
        records.push_back(rec);
    }
    return records;
}

ModelSpec decode_model(const std::string& path, const Record& rec) {
    Fields f = Fields::reader(std::string(rec.data, rec.size), "checkpoint '" + path + "': the 'model' record");
    ModelSpec s;
    spec_fields(f, s);
    f.finish();
    return s;
}

Tensor decode_tensor(const std::string& path, const std::string& name, const Record& rec) {
    const std::string what = "tensor '" + printable(name) + "'";
    Reader r(path, rec.data, rec.size, true, " in record '" + printable(rec.name) + "'");
    const auto rank = r.get<std::uint32_t>("the rank of " + what);
    if (rank > 4) r.fail(what + " has rank " + std::to_string(rank) + " (at most 4)");
    Shape s;
    s.rank = static_cast<int>(rank);
    std::uint64_t count = 1;  // checked against the bytes left before each product, so it cannot wrap
    for (std::uint32_t i = 0; i < rank; ++i) {
        s.dims[i] = r.get<std::int32_t>("the shape of " + what);
        if (s.dims[i] < 0) r.fail(what + " has a negative dimension " + std::to_string(s.dims[i]));
        if (s.dims[i] > 0 && count > r.left() / sizeof(float) / static_cast<std::uint64_t>(s.dims[i]) + 1)
            r.fail(what + " claims more values than its record holds");
        count *= static_cast<std::uint64_t>(s.dims[i]);
    }
    if (count * sizeof(float) != r.left())
        r.fail(what + " " + s.str() + " needs " + std::to_string(count * sizeof(float)) + " bytes of values, its record holds " +
               std::to_string(r.left()));
    Tensor t(s);
    std::memcpy(t.data(), r.take(count * sizeof(float), "the values of " + what), count * sizeof(float));
    check_finite("checkpoint '" + path + "': ", name, t);
    return t;
}

std::vector<float> decode_normalization(const std::string& path, const Record& rec, std::vector<float>& stds) {
    Reader r(path, rec.data, rec.size, true, " in record 'normalization'");
    const auto channels = r.get<std::uint32_t>("the channel count");
    if (channels == 0) r.fail("the 'normalization' record is empty");
    if (static_cast<std::uint64_t>(channels) * 8 != r.left())
        r.fail("the 'normalization' record has " + std::to_string(r.left()) + " bytes for " + std::to_string(channels) +
               " channels");
    std::vector<float> means;
    for (std::uint32_t c = 0; c < channels; ++c) {
        means.push_back(r.get<float>("a mean"));
        stds.push_back(r.get<float>("a standard deviation"));
    }
    return means;
}

// The spec text a model spec stands for (empty: the named model's).
std::string layers_of(const ModelSpec& s) { return s.layers.empty() ? model_layers(s.name) : s.layers; }

std::string spec_str(const ModelSpec& s) {
    return "'" + printable(s.name) + "' for " + std::to_string(s.channels) + "x" + std::to_string(s.height) + "x" +
           std::to_string(s.width) + " inputs and " + std::to_string(s.classes) + " classes";
}

}  // namespace

std::string printable(const std::string& s) {
    std::string out;
    for (unsigned char c : s) {
        if (c == '\n') out += "\\n";
        else if (c == '\t') out += "\\t";
        else if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02X", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

std::string encode_strings(const std::vector<std::string>& strings) {
    std::string out;
    put<std::uint32_t>(out, static_cast<std::uint32_t>(strings.size()));
    for (const std::string& s : strings) put_string(out, s);
    return out;
}

std::vector<std::string> decode_strings(const std::string& bytes, const std::string& what) {
    const std::size_t n = bytes.size();
    std::size_t at = 0;
    auto u32 = [&] {
        std::uint32_t v;
        if (n - at < sizeof v) throw std::runtime_error(what + " is cut short");
        std::memcpy(&v, bytes.data() + at, sizeof v);
        at += sizeof v;
        return v;
    };
    const std::uint32_t count = u32();
    std::vector<std::string> out;
    for (std::uint32_t i = 0; i < count; ++i) {
        const std::uint32_t len = u32();
        if (len > n - at) throw std::runtime_error(what + " is cut short");
        out.emplace_back(bytes.data() + at, len);
        at += len;
    }
    if (at != n) throw std::runtime_error(what + " has bytes after its last string");
    return out;
}

void save_checkpoint(const std::string& path, const ModelSpec& spec, Module& model,
                     const std::map<std::string, std::string>& extra, const DataInfo& data) {
    const std::string bytes = serialize(path, spec, model, extra, data);
    const std::string tmp = path + ".tmp";
    if (!write_durably(tmp, bytes)) {
        const int e = errno;
        const bool created = e != ENOENT && e != EACCES && e != ENOTDIR && e != EISDIR;
        if (created) std::remove(tmp.c_str());
        throw std::runtime_error("checkpoint '" + path + "': " + (created ? "writing '" : "cannot open '") + tmp +
                                 (created ? "' failed: " : "' for writing: ") + std::strerror(e) +
                                 (e == ENOSPC || e == EFBIG || e == EDQUOT ? " (disk full?)" : "") +
                                 "; the previous checkpoint, if any, is unchanged");
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        const int e = errno;
        std::remove(tmp.c_str());
        throw std::runtime_error("checkpoint '" + path + "': cannot rename '" + tmp + "' to it: " + std::strerror(e));
    }
}

Checkpoint read_checkpoint(const std::string& path) {
    const std::string bytes = read_file(path);
    const size_t n = bytes.size();
    const bool complete = n >= 8 && bytes.compare(n - 8, 4, kEnd, 4) == 0;
    Reader r(path, bytes.data(), n, complete);
    read_header(r);
    const std::vector<Record> records = read_records(r);
    const size_t body = r.pos();
    if (std::string(r.take(4, "the end marker"), 4) != std::string(kEnd, 4))
        r.fail(complete ? "damaged file: the record count or a record length is wrong (the end marker is not "
                          "where the records end)"
                        : "the end marker is missing: the file is corrupt");
    const auto sum = r.get<std::uint32_t>("the file's checksum");
    if (r.left() != 0) r.fail(std::to_string(r.left()) + " unexpected bytes after the end marker");
    if (sum != crc(bytes.data(), body))
        r.fail("damaged file: its checksum does not match (every record checks, so the header or the checksum "
               "itself was changed)");

    Checkpoint ck;
    bool have_model = false, have_names = false, have_norm = false;
    std::set<std::string> seen;
    for (const Record& rec : records) {
        if (!seen.insert(rec.name).second) r.fail("two records are named '" + printable(rec.name) + "'");
        if (rec.name == kModel) {
            ck.spec = decode_model(path, rec);
            have_model = true;
        } else if (starts_with(rec.name, kTensor)) {
            const std::string name = rec.name.substr(kTensor.size());
            ck.tensors.emplace_back(name, decode_tensor(path, name, rec));
        } else if (rec.name == kModuleState) {
            ck.module_state = std::string(rec.data, rec.size);
            Fields::reader(ck.module_state, "checkpoint '" + path + "': the module state");  // well formed
        } else if (rec.name == kClassNames) {
            ck.data.class_names = decode_strings(std::string(rec.data, rec.size),
                                                 "checkpoint '" + path + "': the 'class_names' record");
            have_names = true;
        } else if (rec.name == kNormalization) {
            ck.data.mean = decode_normalization(path, rec, ck.data.std);
            have_norm = true;
        } else {
            ck.extra[rec.name] = std::string(rec.data, rec.size);
        }
    }
    if (!have_model) r.fail("it has no 'model' record");
    if (have_names != have_norm) r.fail(std::string("it has a '") + (have_names ? kClassNames : kNormalization) +
                                        "' record but no '" + (have_names ? kNormalization : kClassNames) + "' record");
    if (have_names)
        if (const std::string problem = data_info_problem(ck.spec, ck.data); !problem.empty()) r.fail(problem);
    return ck;
}

void load_state(Module& model, const Checkpoint& ck, const std::string& path) {
    std::vector<std::pair<std::string, Tensor*>> targets;
    for (Parameter* p : model.parameters()) targets.emplace_back(p->name, &p->value);
    const std::string where = "checkpoint '" + path + "': ";
    for (size_t i = 0; i < targets.size(); ++i) {
        if (i >= ck.tensors.size())
            throw std::runtime_error(where + "the model has tensor '" + targets[i].first + "' " +
                                     targets[i].second->shape().str() + " that the file does not have (the file has " +
                                     std::to_string(ck.tensors.size()) + " tensors, the model " +
                                     std::to_string(targets.size()) + ")");
        const auto& [name, value] = ck.tensors[i];
        if (name != targets[i].first)
            throw std::runtime_error(where + "tensor " + std::to_string(i) + " is '" + printable(name) +
                                     "' in the file but '" + targets[i].first + "' in the model");
        if (value.shape() != targets[i].second->shape())
            throw std::runtime_error(where + "tensor '" + printable(name) + "' has shape " + value.shape().str() +
                                     " in the file but " + targets[i].second->shape().str() + " in the model");
    }
    if (ck.tensors.size() > targets.size())
        throw std::runtime_error(where + "the file has tensor '" + printable(ck.tensors[targets.size()].first) +
                                 "' that the model does not have (the file has " + std::to_string(ck.tensors.size()) +
                                 " tensors, the model " + std::to_string(targets.size()) + ")");
    // The module state loads into the layers; if it does not fit, they get their old state back.
    Fields backup = Fields::writer();
    model.state_fields(backup);
    try {
        Fields in = Fields::reader(ck.module_state, where + "the module state");
        model.state_fields(in);
        in.finish();
    } catch (...) {
        Fields old = Fields::reader(backup.bytes(), "the module state as it was");
        model.state_fields(old);
        throw;
    }
    for (size_t i = 0; i < targets.size(); ++i) *targets[i].second = ck.tensors[i].second;
}

Checkpoint load_checkpoint(const std::string& path, const ModelSpec& spec, Module& model) {
    Checkpoint ck = read_checkpoint(path);
    const ModelSpec& s = ck.spec;
    if (s.name != spec.name || s.channels != spec.channels || s.height != spec.height || s.width != spec.width ||
        s.classes != spec.classes)
        throw std::runtime_error("checkpoint '" + path + "': it holds model " + spec_str(s) + ", expected " +
                                 spec_str(spec));
    if (layers_of(s) != layers_of(spec))
        throw std::runtime_error("checkpoint '" + path + "': it holds model '" + printable(s.name) + "' as '" +
                                 printable(layers_of(s)) + "', expected '" + printable(layers_of(spec)) + "'");
    load_state(model, ck, path);
    return ck;
}

}  // namespace dl
