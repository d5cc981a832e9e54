# Thin wrapper over CMake. `make` builds build/clawgate; `make run` and `make test`
# first install whatever the machine is missing (scripts/deps.sh).
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
ARGS ?=

.PHONY: all deps run test test-asan test-fast bench format clean fuzz

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

# libFuzzer on the cron expression parser (fuzz/cron_expr_fuzz.c), bounded by FUZZ_TIME
# seconds; new inputs go to build-fuzz/corpus, crashes to build-fuzz/ (copy them into
# tests/fuzz/cron_expr/ as regression inputs).
FUZZ_TIME ?= 60
FUZZ_BUILD ?= build-fuzz
FUZZ_SRCS = fuzz/cron_expr_fuzz.c src/cron/expr.c src/cron/tz.c src/cron/schedule.c
fuzz:
	mkdir -p $(FUZZ_BUILD)/corpus
	clang -std=c17 -D_GNU_SOURCE -g -O1 -Isrc -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined $(FUZZ_SRCS) $$(pkg-config --cflags --libs jansson) \
		-o $(FUZZ_BUILD)/cron_expr_fuzz
	cd $(FUZZ_BUILD) && ./cron_expr_fuzz -max_total_time=$(FUZZ_TIME) -max_len=300 \
		-artifact_prefix=./ corpus ../tests/fuzz/cron_expr

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
