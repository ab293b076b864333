// Everything of core/ in one include.
#pragma once
#include "core/kernels.h"
#include "core/ops.h"
#include "core/parallel.h"
#include "core/parameter.h"
#include "core/tape.h"
#include "core/tensor.h"
