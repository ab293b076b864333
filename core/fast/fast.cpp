#include "core/fast/fast.h"

namespace dl::fast {

namespace {
bool g_enabled = true;
}

bool enabled() { return g_enabled; }
void set_enabled(bool on) { g_enabled = on; }

}  // namespace dl::fast
