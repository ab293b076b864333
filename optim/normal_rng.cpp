#include "optim/normal_rng.h"

#include <cmath>
#include <sstream>
#include <stdexcept>


namespace dl {

double NormalRng::uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

float NormalRng::next() {
    const double u1 = 1.0 - uniform();  // (0, 1]: log(u1) is finite
    const double u2 = uniform();
    const double two_pi = 6.283185307179586;
    return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(two_pi * u2));
}

void NormalRng::state_fields(Fields& f) {
    std::ostringstream text;
    text << engine_;
    std::string state = text.str();
    f("rng", state);
    if (!f.loading()) return;
    std::istringstream in(state);
    std::mt19937_64 engine;
    in >> engine;
    if (!in) throw std::runtime_error("load_state: the random number generator state is corrupt");
    engine_ = engine;
}

}  // namespace dl
