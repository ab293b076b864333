// Everything of data/ in one include.
#pragma once
#include "data/dataset.h"
#include "data/grid.h"
#include "data/idx.h"
#include "data/image_folder.h"
#include "data/loader.h"
#include "data/random.h"
#include "data/synthetic.h"
#include "data/transform.h"
