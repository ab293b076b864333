// A picture of the data: a PNG grid of images with each one's label index
// drawn beneath it in a tiny 3 x 5 pixel font, so users can see what they
// train on (and spot a wrong label or a wrong channel order at a glance).
#pragma once
#include <string>
#include <vector>

#include "data/dataset.h"

namespace dl {

struct GridOptions {
    int count = 64;    // the first `count` images (fewer if the set is smaller)
    int columns = 0;   // tiles per row; 0: about square
    int scale = 2;     // each pixel becomes scale x scale pixels
};

// Layout before scaling: a 2-pixel gray border around every tile; a tile is
// the image (H x W) over a 7-pixel black strip holding the label in white.
// The PNG is grayscale for 1-channel sets, RGB for 3-channel ones.
// Throws std::invalid_argument on bad options or a picture larger than 32768
// pixels a side or 256 MB, std::runtime_error naming `path` when the file
// cannot be written.
void write_image_grid(const std::string& path, const Dataset& d, const GridOptions& options = {});

// The same for the examples `indices` of d, in that order (options.count is
// ignored), e.g. the misclassified test images.
void write_image_grid_of(const std::string& path, const Dataset& d, const std::vector<int>& indices,
                         const GridOptions& options = {});

}  // namespace dl
