// build/show_data: look at what you train on.
//
//   build/show_data --grid 64 --out grid.png          the first 64 training images with their labels
//   build/show_data --test --index 0 --out shoe.png   one test image as a plain PNG (for build/predict)
#include <CLI/CLI.hpp>
#include <stb/stb_image_write.h>

#include <cstdio>
#include <new>

#include "data/data.h"

using namespace dl;

int main(int argc, char** argv) {
    CLI::App app{"Writes a PNG grid of a data set's first images, or one image as a PNG."};
    std::string dir, out;
    int grid = 0, index = -1, scale = 2;
    bool test = false;
    app.add_option("--data", dir, "directory of MNIST-style IDX files (default: the Fashion-MNIST package)");
    app.add_flag("--test", test, "use the test split (default: training split)");
    app.add_option("--grid", grid, "write a grid of the first N images, labels under each")->check(CLI::Range(1, 10000));
    app.add_option("--index", index, "write image number INDEX alone")->check(CLI::NonNegativeNumber);
    app.add_option("--scale", scale, "grid: pixels per image pixel")->capture_default_str()->check(CLI::Range(1, 16));
    app.add_option("--out", out, "PNG file to write")->required();
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    try {
        if ((grid > 0) == (index >= 0)) throw std::invalid_argument("give exactly one of --grid N and --index I");
        if (index >= 0 && app.count("--scale"))
            throw std::invalid_argument("--scale has no effect with --index (it applies to --grid)");
        const Dataset d = load_mnist_dir(dir.empty() ? default_data_dir() : dir, !test);
        if (grid > 0) {
            GridOptions g;
            g.count = grid;
            g.scale = scale;
            write_image_grid(out, d, g);
        } else {
            if (index >= d.count)
                throw std::invalid_argument("--index " + std::to_string(index) + " is past the last image (" +
                                            std::to_string(d.count - 1) + ")");
            const std::string tmp = out + ".tmp.png";
            if (!stbi_write_png(tmp.c_str(), d.width, d.height, d.channels, d.image(index), d.width * d.channels) ||
                std::rename(tmp.c_str(), out.c_str()) != 0) {
                std::remove(tmp.c_str());
                throw std::runtime_error("cannot write " + out + "; does its directory exist and is it writable?");
            }
            std::printf("%s: %s image %d, label %d (%s)\n", out.c_str(), test ? "test" : "training", index,
                        d.labels[index], d.class_names.at(d.labels[index]).c_str());
        }
        return 0;
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "show_data: out of memory (draw fewer images or use a smaller --scale)\n");
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "show_data: %s\n", e.what());
        return 1;
    }
}
