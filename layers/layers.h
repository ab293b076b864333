// Every layer in one include. A new layer is one header here plus one line below.
#pragma once
#include "layers/activations.h"
#include "layers/batchnorm.h"
#include "layers/conv2d.h"
#include "layers/dropout.h"
#include "layers/flatten.h"
#include "layers/fused.h"
#include "layers/group_norm.h"
#include "layers/layer_norm.h"
#include "layers/linear.h"
#include "layers/module.h"
#include "layers/pooling.h"
#include "layers/sequential.h"
