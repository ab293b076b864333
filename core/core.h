// Everything of core/ in one include: tensors, the tape and every op.
#pragma once
#include "core/fast/gemm.h"
#include "core/ops.h"
#include "core/ops_nn.h"
#include "core/parallel.h"
#include "core/parameter.h"
#include "core/tape.h"
#include "core/tensor.h"
