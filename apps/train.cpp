// build/train: trains a model from the command line. The command line and main are
// train_main (apps/common/train_main.h), so that a program can register optimizers
// and schedules of its own and then be build/train with them.
#include "apps/common/train_main.h"

int main(int argc, char** argv) { return dl::train_main(argc, argv); }
