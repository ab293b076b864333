// Checkpoints: every parameter and buffer of a model, with what is needed to
// rebuild it, in one binary file of named records (little-endian, as written
// by this machine):
//
//   "DLCK" magic, u32 format version,
//   u32 record count, then each record:
//       name (u32 length + bytes), u64 payload length, payload, u32 CRC-32 of
//       the record's bytes before it (name length, name, payload length, payload),
//   "END." marker, u32 CRC-32 of every byte before the marker.
//
// Records, in this order:
//   "model"          the ModelSpec as named fields (core/fields.h): name, layers
//                    (the spec text), channels, height, width, classes
//   "tensor/NAME"    one per parameter, in model order: u32 rank, i32 dims[rank], f32 values
//   "module_state"   what the layers keep besides parameters (Module::state_fields):
//                    batch norm's running statistics, dropout's generator, as named fields
//   "class_names"    (when known) u32 count, then each name: u32 length + bytes
//   "normalization"  (when known) u32 channels, then per channel f32 mean, f32 std
//   any other name   a blob for the trainer (optimizer state and progress as named
//                    fields, the run's options), returned in Checkpoint::extra
//
// A reader checks the structure, every record's checksum (a flipped byte
// anywhere is found, and the damaged record named), that every tensor value
// is finite (NaN or infinity names the tensor and the element), and that the
// class names and normalisation fit the model (one name per class, one finite
// mean and std > 0 per channel; an empty record is refused). Adding a record
// kind needs no new version: records are found by name.
//
// Saving refuses non-finite values, writes PATH.tmp, flushes it to disk and
// renames it over PATH, so an interrupted save or a full disk never leaves a
// corrupt checkpoint and never damages the previous one. Errors are
// std::runtime_error naming the file and what did not match.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "layers/models.h"
#include "layers/module.h"

namespace dl {

// Older versions (1 and 2: before records and checksums; 3: before named fields)
// are refused with a message naming the version.
constexpr unsigned kCheckpointVersion = 4;

// What the model's inputs and outputs mean: the data it was trained on. build/train
// records both; a program that feeds the model (predict, export) must use them.
struct DataInfo {
    std::vector<std::string> class_names;  // (classes)
    std::vector<float> mean, std;          // (channels): an input is (pixel / 255 - mean[c]) / std[c]
    bool empty() const { return class_names.empty() && mean.empty() && std.empty(); }
};

struct Checkpoint {
    ModelSpec spec;
    std::vector<std::pair<std::string, Tensor>> tensors;  // parameters, in model order
    std::string module_state;                              // Module::state_fields, as written
    DataInfo data;                                         // empty when the writer recorded none
    std::map<std::string, std::string> extra;              // the other records, by name
};

// `extra` names must not be empty, "model", "class_names", "normalization", or begin
// with "tensor/". `data` is recorded unless empty (then it must be entirely empty).
void save_checkpoint(const std::string& path, const ModelSpec& spec, Module& model,
                     const std::map<std::string, std::string>& extra = {}, const DataInfo& data = {});

// Reads and validates the file (structure, checksums, finite values), not yet against a model.
Checkpoint read_checkpoint(const std::string& path);

// Copies the checkpoint's tensors into the model's parameters and its module state
// into the layers (Module::state_fields); every name, type and shape must match.
// Nothing is copied unless all of them do. `path` only names the file in messages.
void load_state(Module& model, const Checkpoint& ck, const std::string& path);

// read_checkpoint + a check that the file holds model `spec` + load_state.
// Returns the checkpoint (for its extra records).
Checkpoint load_checkpoint(const std::string& path, const ModelSpec& spec, Module& model);

// A list of strings as a record's bytes (u32 count, then u32 length + bytes each),
// and back; decode_strings throws std::runtime_error naming `what` on bad bytes.
std::string encode_strings(const std::vector<std::string>& strings);
std::vector<std::string> decode_strings(const std::string& bytes, const std::string& what);

// `s` with control characters written as \n, \t, \xNN: for names read from a
// file, so that a damaged name cannot garble a message or a terminal.
std::string printable(const std::string& s);

}  // namespace dl
