// What a trained model expects of its inputs: its ModelSpec (input shape, class
// count) with the names of its classes and the normalisation of its training
// set (a checkpoint's DataInfo, checked when it was read). build/predict,
// --resume and --init-from compare them with the data at hand and refuse data
// that does not fit, instead of scoring a model against another data set's labels.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "data/data.h"
#include "layers/checkpoint.h"

namespace dl {

struct Task {
    ModelSpec spec;
    std::vector<std::string> class_names;  // (spec.classes)
    Normalization norm;                    // (spec.channels) means and standard deviations
};

// The DataInfo a checkpoint records for these class names and normalisation.
DataInfo data_info(const std::vector<std::string>& class_names, const Normalization& norm);

// The task of a checkpoint written by build/train. Throws std::runtime_error naming
// `path` when it records no class names and normalisation (read_checkpoint has
// checked them when it does).
Task read_task(const Checkpoint& ck, const std::string& path);

// Throws std::invalid_argument naming both sides unless `d` has the task's input
// shape and class names. `model` and `data` name the two in the message.
void check_data_fits(const Task& t, const std::string& model, const Dataset& d, const std::string& data);

// True when two sets of statistics could come from the same kind of data: means
// within 0.02 + 0.1 std, standard deviations within a factor 1.25, per channel.
// Two splits of one data set pass; Fashion-MNIST against MNIST does not.
bool similar_normalization(const Normalization& a, const Normalization& b);

// "mean 0.286, std 0.353" (per channel), for messages.
std::string describe_normalization(const Normalization& n);

// Throws std::invalid_argument unless two checkpoints share input shape, class names
// and (similar) normalisation: an ensemble averages models of one task.
void check_same_task(const Task& a, const std::string& a_name, const Task& b, const std::string& b_name);

// One line per class name would break line-oriented output: names print with
// control characters escaped (see printable()).
std::string class_name_for_print(const std::string& name);

}  // namespace dl
