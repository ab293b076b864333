// Checkpoints: every parameter and buffer of a model, with what is needed to
// rebuild it, in one binary file (little-endian, as written by this machine):
//
//   "DLCK" magic, u32 format version,
//   model spec: name (u32 length + bytes), layers (the spec text, u32 length + bytes;
//   not in version 1 files, which hold only named models), i32 channels, height, width, classes,
//   u32 tensor count, then each tensor: name, u32 rank, i32 dims[rank], f32 data,
//   u32 extra count, then each extra blob: name, u64 length + bytes,
//   "END." marker (so that a truncated file is always detected).
//
// `extra` holds opaque named blobs for the trainer (optimizer state, epoch, RNG).
// Saving writes PATH.tmp and renames it over PATH, so an interrupted save never
// leaves a corrupt checkpoint. Errors are std::runtime_error naming the file and
// what did not match.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "layers/models.h"
#include "layers/module.h"

namespace dl {

constexpr unsigned kCheckpointVersion = 2;  // version 1 files are read too

struct Checkpoint {
    ModelSpec spec;
    std::vector<std::pair<std::string, Tensor>> tensors;  // parameters, then buffers, in model order
    std::map<std::string, std::string> extra;
};

void save_checkpoint(const std::string& path, const ModelSpec& spec, Module& model,
                     const std::map<std::string, std::string>& extra = {});

// Reads and validates the file's structure (not yet against a model).
Checkpoint read_checkpoint(const std::string& path);

// Copies the checkpoint's tensors into the model's parameters and buffers; every
// name and shape must match. `path` only names the file in messages.
void load_state(Module& model, const Checkpoint& ck, const std::string& path);

// read_checkpoint + a check that the file holds model `spec` + load_state.
// Returns the checkpoint (for its extra blobs).
Checkpoint load_checkpoint(const std::string& path, const ModelSpec& spec, Module& model);

}  // namespace dl
