# SPDX-License-Identifier: MIT
# Thin wrapper over Meson. `make run` and `make test` install missing Debian packages first.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
PY         := /usr/bin/python3
ARGS       ?= help

.PHONY: all deps build build-asan run test bench fuzz format lint clean

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

# Until `gymhelper serve` exists this runs the CLI: make run ARGS="hash photo.jpg".
run: build
	./$(BUILD)/gymhelper $(ARGS)

test: build build-asan
	@scripts/lint
	$(PY) -m pytest -q tests --build=$(BUILD) --asan-build=$(ASAN_BUILD) $(PYTEST_ARGS)

bench: build
	$(PY) bench/run.py --build=$(BUILD)

# libFuzzer with clang: make fuzz [SECONDS=60]
SECONDS ?= 60
fuzz: deps
	[ -f $(FUZZ_BUILD)/build.ninja ] || CC=clang meson setup $(FUZZ_BUILD) --buildtype=debug \
	    -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false
	meson compile -C $(FUZZ_BUILD)
	mkdir -p $(FUZZ_BUILD)/corpus && ./$(FUZZ_BUILD)/fuzz/validate_fuzz \
	    -dict=fuzz/validate.dict -max_total_time=$(SECONDS) -rss_limit_mb=2048 \
	    $(FUZZ_BUILD)/corpus fuzz/corpus/validate

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
