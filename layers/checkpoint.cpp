#include "layers/checkpoint.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace dl {

namespace {

const char kMagic[4] = {'D', 'L', 'C', 'K'};
const char kEnd[4] = {'E', 'N', 'D', '.'};

// ---- writing ------------------------------------------------------------------------------

template <class T>
void put(std::string& out, T v) {
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

void put_string(std::string& out, const std::string& s) {
    put<std::uint32_t>(out, static_cast<std::uint32_t>(s.size()));
    out += s;
}

void put_tensor(std::string& out, const std::string& name, const Tensor& t) {
    put_string(out, name);
    put<std::uint32_t>(out, static_cast<std::uint32_t>(t.rank()));
    for (int i = 0; i < t.rank(); ++i) put<std::int32_t>(out, t.dim(i));
    out.append(reinterpret_cast<const char*>(t.data()), t.size() * sizeof(float));
}

std::string serialize(const ModelSpec& spec, Module& model, const std::map<std::string, std::string>& extra) {
    std::string out(kMagic, 4);
    put<std::uint32_t>(out, kCheckpointVersion);
    put_string(out, spec.name);
    put_string(out, spec.layers);
    for (int v : {spec.channels, spec.height, spec.width, spec.classes}) put<std::int32_t>(out, v);
    const ParameterList params = model.parameters();
    const BufferList buffers = model.buffers();
    put<std::uint32_t>(out, static_cast<std::uint32_t>(params.size() + buffers.size()));
    for (Parameter* p : params) put_tensor(out, p->name, p->value);
    for (Buffer* b : buffers) put_tensor(out, b->name, b->value);
    put<std::uint32_t>(out, static_cast<std::uint32_t>(extra.size()));
    for (const auto& [key, blob] : extra) {
        put_string(out, key);
        put<std::uint64_t>(out, blob.size());
        out += blob;
    }
    return out + std::string(kEnd, 4);
}

// ---- reading: a cursor over the file's bytes that names what it was reading ----------------

class Reader {
public:
    Reader(const std::string& path, const std::string& bytes) : path_(path), bytes_(bytes) {}

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
        if (n > bytes_.size() - pos_)
            fail("truncated file: it ends while reading " + what + " (needs " + std::to_string(n) + " bytes at offset " +
                 std::to_string(pos_) + ", " + std::to_string(bytes_.size() - pos_) + " left)");
        const char* p = bytes_.data() + pos_;
        pos_ += n;
        return p;
    }
    size_t left() const { return bytes_.size() - pos_; }
    [[noreturn]] void fail(const std::string& msg) const {
        throw std::runtime_error("checkpoint '" + path_ + "': " + msg);
    }

private:
    const std::string& path_;
    const std::string& bytes_;
    size_t pos_ = 0;
};

// Returns the format version: 1 (no layers field) or 2.
unsigned read_header(Reader& r) {
    const std::string magic(r.take(4, "the magic number"), 4);
    if (magic != std::string(kMagic, 4))
        r.fail("not a checkpoint of this framework (the file starts with bytes that are not 'DLCK'); "
               "was it written by another program?");
    const auto version = r.get<std::uint32_t>("the format version");
    if (version != 1 && version != kCheckpointVersion)
        r.fail("format version " + std::to_string(version) + ", but this program reads versions 1 to " +
               std::to_string(kCheckpointVersion));
    return version;
}

Tensor read_tensor(Reader& r, const std::string& name) {
    const auto rank = r.get<std::uint32_t>("the rank of tensor '" + name + "'");
    if (rank > 4) r.fail("tensor '" + name + "' has rank " + std::to_string(rank) + " (at most 4)");
    Shape s;
    s.rank = static_cast<int>(rank);
    double need = sizeof(float);  // in double: a corrupt shape must not overflow
    for (std::uint32_t i = 0; i < rank; ++i) {
        s.dims[i] = r.get<std::int32_t>("the shape of tensor '" + name + "'");
        if (s.dims[i] < 0) r.fail("tensor '" + name + "' has a negative dimension " + std::to_string(s.dims[i]));
        need *= s.dims[i];
    }
    if (need > (double)r.left())
        r.fail("truncated file: tensor '" + name + "' " + s.str() + " needs " + std::to_string((std::uint64_t)need) +
               " bytes of values, " + std::to_string(r.left()) + " left");
    const std::uint64_t bytes = s.numel() * sizeof(float);
    const char* data = r.take(bytes, "the values of tensor '" + name + "'");
    Tensor t(s);
    std::memcpy(t.data(), data, bytes);
    return t;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("checkpoint '" + path + "': cannot open the file for reading");
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The spec text a model spec stands for (version 1 files hold only a name).
std::string layers_of(const ModelSpec& s) { return s.layers.empty() ? model_layers(s.name) : s.layers; }

std::string spec_str(const ModelSpec& s) {
    return "'" + s.name + "' for " + std::to_string(s.channels) + "x" + std::to_string(s.height) + "x" +
           std::to_string(s.width) + " inputs and " + std::to_string(s.classes) + " classes";
}

}  // namespace

void save_checkpoint(const std::string& path, const ModelSpec& spec, Module& model,
                     const std::map<std::string, std::string>& extra) {
    const std::string bytes = serialize(spec, model, extra);
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) throw std::runtime_error("checkpoint '" + path + "': cannot open '" + tmp + "' for writing");
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        out.close();
        if (!out) {
            std::remove(tmp.c_str());
            throw std::runtime_error("checkpoint '" + path + "': writing '" + tmp + "' failed (disk full?)");
        }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        throw std::runtime_error("checkpoint '" + path + "': cannot rename '" + tmp + "' to it");
    }
}

Checkpoint read_checkpoint(const std::string& path) {
    const std::string bytes = read_file(path);
    Reader r(path, bytes);
    const unsigned version = read_header(r);
    Checkpoint ck;
    ck.spec.name = r.get_string("the model name");
    if (version >= 2) ck.spec.layers = r.get_string("the model's layers");
    ck.spec.channels = r.get<std::int32_t>("the model's input channels");
    ck.spec.height = r.get<std::int32_t>("the model's input height");
    ck.spec.width = r.get<std::int32_t>("the model's input width");
    ck.spec.classes = r.get<std::int32_t>("the model's class count");
    const auto count = r.get<std::uint32_t>("the tensor count");
    for (std::uint32_t i = 0; i < count; ++i) {
        std::string name = r.get_string("the name of tensor " + std::to_string(i));
        Tensor t = read_tensor(r, name);
        ck.tensors.emplace_back(std::move(name), std::move(t));
    }
    const auto blobs = r.get<std::uint32_t>("the extra blob count");
    for (std::uint32_t i = 0; i < blobs; ++i) {
        std::string key = r.get_string("the name of extra blob " + std::to_string(i));
        const auto n = r.get<std::uint64_t>("the length of extra blob '" + key + "'");
        ck.extra[key] = std::string(r.take(n, "extra blob '" + key + "'"), n);
    }
    if (std::string(r.take(4, "the end marker"), 4) != std::string(kEnd, 4))
        r.fail("the end marker is missing: the file is corrupt");
    if (r.left() != 0) r.fail(std::to_string(r.left()) + " unexpected bytes after the end marker");
    return ck;
}

void load_state(Module& model, const Checkpoint& ck, const std::string& path) {
    std::vector<std::pair<std::string, Tensor*>> targets;
    for (Parameter* p : model.parameters()) targets.emplace_back(p->name, &p->value);
    for (Buffer* b : model.buffers()) targets.emplace_back(b->name, &b->value);
    const std::string where = "checkpoint '" + path + "': ";
    for (size_t i = 0; i < targets.size(); ++i) {
        if (i >= ck.tensors.size())
            throw std::runtime_error(where + "the model has tensor '" + targets[i].first + "' " +
                                     targets[i].second->shape().str() + " that the file does not have (the file has " +
                                     std::to_string(ck.tensors.size()) + " tensors, the model " +
                                     std::to_string(targets.size()) + ")");
        const auto& [name, value] = ck.tensors[i];
        if (name != targets[i].first)
            throw std::runtime_error(where + "tensor " + std::to_string(i) + " is '" + name + "' in the file but '" +
                                     targets[i].first + "' in the model");
        if (value.shape() != targets[i].second->shape())
            throw std::runtime_error(where + "tensor '" + name + "' has shape " + value.shape().str() +
                                     " in the file but " + targets[i].second->shape().str() + " in the model");
    }
    if (ck.tensors.size() > targets.size())
        throw std::runtime_error(where + "the file has tensor '" + ck.tensors[targets.size()].first +
                                 "' that the model does not have (the file has " + std::to_string(ck.tensors.size()) +
                                 " tensors, the model " + std::to_string(targets.size()) + ")");
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
        throw std::runtime_error("checkpoint '" + path + "': it holds model '" + s.name + "' as '" + layers_of(s) +
                                 "', expected '" + layers_of(spec) + "'");
    load_state(model, ck, path);
    return ck;
}

}  // namespace dl
