# make          build the library and every program into build/
# make test     install what is missing, build, run every test (non-zero exit on failure)
# make demo     install what is missing, build, train cnn on Fashion-MNIST, classify an image
# make bench    speed of training steps and kernels (JSON lines)
# make lecture  run every experiment of the lecture into docs/lecture/ and README.md
# make study    the optimizer study: every algorithm on fmnist_mlp and cnn into docs/study/ (long)
# make sanitize build with AddressSanitizer and UBSan in a scratch copy and run every test (slow)
# make deps     install the Debian packages the project needs
# make clean

# The default build runs on any x86-64 CPU (and any aarch64 one): the SIMD kernels of
# core/fast/ are compiled for AVX-512, AVX2 (NEON) and scalar, and the best one this CPU
# has is picked at run time (DL_SIMD caps it), so their speed needs no -march=native.
CXX      ?= g++
OPT      ?= -O3
# -fno-math-errno: no program reads errno after sqrt, and without it GCC keeps a scalar
# sqrt (with a branch to set errno) in every elementwise loop: Adam's update ran unvectorised.
# -fno-trapping-math: nothing here turns on floating-point traps, and without it GCC keeps
# a branch for every ?: between floats (ReLU's x <= 0 ? 0 : 1) instead of a vector select;
# ReLU's backward took 6 ns an element, a branch mispredicted half the time. Neither flag
# changes a computed value (no reassociation: that would need -fassociative-math).
CXXFLAGS += -std=c++17 $(OPT) -fno-math-errno -fno-trapping-math -fopenmp -Wall -Wextra -I. -MMD -MP
# The tests' own code and the programs' command-line parsing do no heavy arithmetic (that is
# in the library, built with OPT): they build at -O1 (whatever level OPT names), which
# compiles 40% faster; doctest and CLI11 are large header-only libraries. (`private`: not
# inherited by the prerequisites, so build/flags keeps recording OPT.)
LIGHT_OPT = $(patsubst -O%,-O1,$(OPT))
# `make test`, `make demo` and the others build with one compile job per core.
JOBS     := -j$(shell nproc 2>/dev/null || echo 2)
LDLIBS   += -lopenblas -lhwy -lstb -lz -lpthread

# MPI (data-parallel training) when Open MPI's compiler wrapper is installed.
ifneq ($(shell command -v mpicxx 2>/dev/null),)
MPI_CFLAGS := $(shell mpicxx --showme:compile) -DDL_WITH_MPI -DOMPI_SKIP_MPICXX
MPI_LIBS   := $(shell mpicxx --showme:link)
endif

# The library (build/libdl.a) is core, layers, optim, data and onnx: what a program
# of your own links. The training loop with its reports and MPI (apps/common) and the
# lecture's experiments (apps/lecture) are parts of their own, linked only by the
# programs that use them.
LIB_SRC     := $(wildcard core/*.cpp core/ops/*.cpp core/fast/*.cpp layers/*.cpp optim/*.cpp data/*.cpp onnx/*.cpp)
TRAIN_SRC   := $(wildcard apps/common/*.cpp)
LECTURE_SRC := $(wildcard apps/lecture/*.cpp)
STUDY_SRC   := $(wildcard apps/study/*.cpp)
LIB_OBJ     := $(LIB_SRC:%.cpp=build/obj/%.o)
TRAIN_OBJ   := $(TRAIN_SRC:%.cpp=build/obj/%.o)
LECTURE_OBJ := $(LECTURE_SRC:%.cpp=build/obj/%.o)
STUDY_OBJ   := $(STUDY_SRC:%.cpp=build/obj/%.o)
APP_SRC     := $(wildcard apps/*.cpp)
APPS        := $(APP_SRC:apps/%.cpp=build/%)
# Programs a user copies to start their own: they link the library only.
EXAMPLE_SRC := $(wildcard apps/examples/*.cpp)
EXAMPLES    := $(EXAMPLE_SRC:apps/%.cpp=build/%)
TEST_SRC    := $(wildcard tests/*.cpp)
TEST_OBJ    := $(TEST_SRC:%.cpp=build/obj/%.o)
PARTS       := build/libdl_study.a build/libdl_lecture.a build/libdl_train.a build/libdl.a

# build/bench_onednn (our convolutions beside Intel's oneDNN) when oneDNN is installed
# (Debian libdnnl-dev): optional, like PyTorch for apps/compare_pytorch.py.
ifneq ($(wildcard /usr/include/dnnl.hpp),)
OPTIONAL    += build/bench_onednn
endif

.PHONY: all test demo bench lecture study deps clean sanitize
# The programs' objects are kept (not deleted as intermediate files), so that a
# second `make` relinks nothing.
.SECONDARY: $(APP_SRC:%.cpp=build/obj/%.o) $(EXAMPLE_SRC:%.cpp=build/obj/%.o)
all: $(PARTS) $(APPS) $(EXAMPLES) build/tests $(OPTIONAL)

# Every object depends on the compiler and flags it was built with (build/flags), so a
# new OPT (say OPT='-O3 -march=native') rebuilds everything instead of mixing objects.
build/flags: FORCE
	@mkdir -p build
	@echo '$(CXX) $(CXXFLAGS)' | cmp -s - $@ || echo '$(CXX) $(CXXFLAGS)' > $@
.PHONY: FORCE

build/obj/%.o: %.cpp build/flags
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

build/obj/apps/common/distributed.o: CXXFLAGS += $(MPI_CFLAGS)
$(TEST_OBJ) $(patsubst %,build/obj/apps/%.o,predict study show_data export train lecture) \
    build/obj/apps/common/train_main.o: private OPT := $(LIGHT_OPT)

build/libdl.a: $(LIB_OBJ)
build/libdl_train.a: $(TRAIN_OBJ)
build/libdl_lecture.a: $(LECTURE_OBJ)
build/libdl_study.a: $(STUDY_OBJ)
$(PARTS):
	@mkdir -p build
	rm -f $@ && ar rcs $@ $^

# Which parts each program links, besides the library (and MPI for the trainer).
build/train build/predict: build/libdl_train.a
build/lecture: build/libdl_lecture.a build/libdl_train.a
build/study: build/libdl_study.a build/libdl_train.a
build/train build/lecture build/tests: LDLIBS += $(MPI_LIBS)

build/%: build/obj/apps/%.o build/libdl.a
	$(CXX) $(CXXFLAGS) $< $(filter %.a,$(filter-out build/libdl.a,$^)) build/libdl.a -o $@ $(LDLIBS)

build/bench_onednn: build/obj/apps/optional/bench_onednn.o build/libdl.a
	$(CXX) $(CXXFLAGS) $< build/libdl.a -o $@ $(LDLIBS) -ldnnl

build/examples/%: build/obj/apps/examples/%.o build/libdl.a
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $< build/libdl.a -o $@ $(LDLIBS)

build/tests: $(TEST_OBJ) $(PARTS)
	$(CXX) $(CXXFLAGS) $(TEST_OBJ) $(PARTS) -o $@ $(LDLIBS)

deps:
	@bash scripts/deps.sh

sanitize: deps
	@bash scripts/sanitize.sh

test: deps
	@$(MAKE) --no-print-directory $(JOBS) all
	@bash scripts/run_tests.sh ./build/tests

# A CNN on Fashion-MNIST in a few minutes, then one test image classified.
demo: deps
	@$(MAKE) --no-print-directory $(JOBS) all
	@mkdir -p runs/demo
	./build/show_data --grid 48 --out runs/demo/data.png
	./build/show_data --test --index 0 --out runs/demo/test-0.png
	./build/train --model cnn --epochs 3 --optimizer adam --lr 0.002 --schedule cosine-restarts --cycle-epochs 3 --out runs/demo
	./build/predict runs/demo/best.ckpt runs/demo/test-0.png
	@echo "demo: the run is in runs/demo (metrics.csv, curves.png, best.ckpt, data.png)"

bench: deps
	@$(MAKE) --no-print-directory $(JOBS) build/bench
	./build/bench --table

lecture: deps
	@$(MAKE) --no-print-directory $(JOBS) build/lecture
	./build/lecture all --out docs/lecture --readme README.md

# The optimizer study of the README (docs/study/): all eleven algorithms, each on
# its own 5-point grid, 5 epochs, the best lr rerun with 3 seeds (adaptive with
# per-example sigma: in batch mode it diverges). The runs stay in runs/study/
# (rerunning continues an interrupted study); tables, plots and report.html are
# copied into docs/study/<model>/.
STUDY_ARGS := --epochs 5 --seeds 3 --train-arg adaptive:--per-example-sigma=true
study: deps
	@$(MAKE) --no-print-directory $(JOBS) build/study build/train
	./build/study --model fmnist_mlp $(STUDY_ARGS) --target 0.87 --out runs/study/fmnist_mlp --publish docs/study/fmnist_mlp
	./build/study --model cnn $(STUDY_ARGS) --target 0.89 --out runs/study/cnn --publish docs/study/cnn

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(TRAIN_OBJ:.o=.d) $(LECTURE_OBJ:.o=.d) $(STUDY_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(APP_SRC:apps/%.cpp=build/obj/apps/%.d) \
         $(EXAMPLE_SRC:%.cpp=build/obj/%.d) build/obj/apps/optional/bench_onednn.d
