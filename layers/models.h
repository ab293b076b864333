// Model builders by name, used by every program:
//
//   mlp     Flatten-Linear(F,256)-ReLU-Linear(256,128)-ReLU-Linear(128,classes)
//   cnn     Conv2d(C,16,5,pad 2)-ReLU-MaxPool(2)-Conv2d(16,32,5,pad 2)-ReLU-MaxPool(2)
//           -Flatten-Linear(32*(H/4)*(W/4),128)-ReLU-Linear(128,classes)
//   cnn-bn  Conv2d(C,32,3,pad 1)-BatchNorm2d-ReLU-MaxPool(2)-Conv2d(32,64,3,pad 1)-BatchNorm2d
//           -ReLU-MaxPool(2)-Flatten-Linear(64*(H/4)*(W/4),256)-BatchNorm1d-ReLU-Dropout(0.25)
//           -Linear(256,classes). The layers before a batch norm have no bias (it would
//           be redundant). Wider than cnn: cnn with batch norm under-fitted with --augment
//           (92.4% at best after 15 epochs; this one 93.4%, see README).
//
// F = C*H*W. The input shape and class count come from the data set, so the
// same names work for any MNIST-like set. The seed fixes every initial value
// (and dropout's mask sequence): the same seed gives the same model.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "layers/module.h"

namespace dl {

// What a model is: its builder's name and the data shape it was built for.
// Checkpoints store it, so a program can rebuild the model before loading.
struct ModelSpec {
    std::string name;
    int channels = 1, height = 28, width = 28, classes = 10;
};

const std::vector<std::string>& model_names();

// Throws std::invalid_argument for an unknown name (listing the known ones) or
// a data shape the model cannot take.
std::unique_ptr<Module> make_model(const std::string& name, int channels, int height, int width, int classes,
                                   unsigned seed);
std::unique_ptr<Module> make_model(const ModelSpec& spec, unsigned seed);

}  // namespace dl
