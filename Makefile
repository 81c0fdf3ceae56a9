# SPDX-License-Identifier: MIT
# Thin wrapper over Meson. `make run` and `make test` install missing Debian packages first.
BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
FUZZ_BUILD ?= build-fuzz
PY         := /usr/bin/python3
ARGS       ?=

.PHONY: all deps build build-asan build-tsan run test bench fuzz format lint clean

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=debugoptimized

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) --buildtype=debug -Db_sanitize=address,undefined

build: deps $(BUILD)/build.ninja
	meson compile -C $(BUILD)

build-asan: deps $(ASAN_BUILD)/build.ninja
	meson compile -C $(ASAN_BUILD)

# ThreadSanitizer: the threaded unit tests (meson suite "threaded") and the HTTP tests marked
# tsan run against it in `make test`.
$(TSAN_BUILD)/build.ninja:
	meson setup $(TSAN_BUILD) --buildtype=debug -Db_sanitize=thread

build-tsan: deps $(TSAN_BUILD)/build.ninja
	meson compile -C $(TSAN_BUILD)

# Serves the API on http://127.0.0.1:8000 with the embedded SQLite store in ./data/.
# Settings come from the environment (see README) or ARGS, e.g. make run ARGS="--port 9000".
# The first run pulls the default CLIP model when none is there (scripts/first-run;
# NO_MODEL_PULL=1 skips it; offline it says what to do and starts anyway).
run: build
	@scripts/first-run ./$(BUILD)/gymhelper
	./$(BUILD)/gymhelper serve $(ARGS)

lint:
	@scripts/lint

test: build build-asan build-tsan lint
	$(PY) -m pytest -q tests --build=$(BUILD) --asan-build=$(ASAN_BUILD) \
	    --tsan-build=$(TSAN_BUILD) $(PYTEST_ARGS)

bench: build
	@scripts/install-deps --bench
	$(PY) bench/run.py --build=$(BUILD)
	$(PY) bench/http_bench.py --build=$(BUILD)
	$(PY) bench/hostile_bench.py --build=$(BUILD)
	$(PY) bench/pg_bench.py --build=$(BUILD)
	$(PY) bench/clip_bench.py --build=$(BUILD)
	$(PY) bench/auth_bench.py --build=$(BUILD)
	$(PY) bench/vmem_bench.py --build=$(BUILD)
	$(PY) bench/storage_bench.py --build=$(BUILD)
	$(PY) bench/workouts_bench.py --build=$(BUILD)

# libFuzzer with clang: make fuzz [SECONDS=60]
SECONDS ?= 60
fuzz: deps
	[ -f $(FUZZ_BUILD)/build.ninja ] || CC=clang meson setup $(FUZZ_BUILD) --buildtype=debug \
	    -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false
	meson compile -C $(FUZZ_BUILD)
	for t in validate multipart safetensors openai_answer redis_value feedback; do \
	    mkdir -p $(FUZZ_BUILD)/corpus-$$t && ./$(FUZZ_BUILD)/fuzz/$${t}_fuzz \
	        -dict=fuzz/$$t.dict -max_total_time=$(SECONDS) -rss_limit_mb=2048 \
	        $(FUZZ_BUILD)/corpus-$$t fuzz/corpus/$$t || exit 1; done

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)
