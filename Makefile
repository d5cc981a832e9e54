# Thin wrapper over CMake. `make` builds build/clawgate; `make run` and `make test`
# first install whatever the machine is missing (scripts/deps.sh).
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
ARGS ?=

.PHONY: all deps run test test-asan test-fast bench format clean

all: $(BUILD)/Makefile
	cmake --build $(BUILD) -j$(JOBS)

$(BUILD)/Makefile:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

deps:
	./scripts/deps.sh

run: deps all
	./$(BUILD)/clawgate run $(ARGS)

# The whole suite: unit + integration + interop on the normal build, then again under ASan+UBSan.
test: deps
	./scripts/peer.sh
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j$(JOBS)
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCLAWGATE_SANITIZE=ON
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	./scripts/test.sh $(BUILD) $(ASAN_BUILD)

bench: deps all
	./scripts/peer.sh
	./bench/run.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
