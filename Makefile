# Omni -- build, test and run.  See README.md.
#
#   make           build build/omni-fcgi and build/omni-executor
#   make test      deps, build, unit + integration tests, then both again
#                  built with ASan + UBSan, a clang -Werror build, valgrind
#   make run       deps, build, the local executor + pool + nginx on
#                  http://127.0.0.1:$${PORT:-8080} (FRONT=caddy for Caddy)
#   make deps      install the missing Debian packages (idempotent)
#   make clean

CC      ?= cc
PKGS    := fcgi libcurl json-c libcrypto cmocka
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs fcgi libcurl json-c libcrypto 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)
# The local executor (app/executor/) alone needs SQLite and libmicrohttpd:
# the pool never links them.
EXEC_PKGS := sqlite3 libmicrohttpd
EXEC_CFLAGS := $(shell pkg-config --cflags $(EXEC_PKGS) 2>/dev/null)
EXEC_LIBS := $(shell pkg-config --libs $(EXEC_PKGS) 2>/dev/null)

WARN    := -Wall -Wextra -Werror
# CFLAGS (optimisation, sanitizers) may be set on the command line; the
# flags every build needs live apart so that doing so cannot drop them.
CFLAGS  ?= -O2 -g
BASE_CFLAGS := -std=c17 $(WARN) -D_GNU_SOURCE -Iinclude $(PKG_CFLAGS) \
	$(EXEC_CFLAGS) -pthread
LDLIBS  += $(PKG_LIBS) -pthread

# BUILD selects the variant: build/ (plain) or build/asan/ (sanitizers).
BUILD   ?= build
SRCS    := $(sort $(wildcard app/*.c app/*/*.c handlers/*.c))
EXEC_SRCS := $(sort $(wildcard app/executor/*.c))
LIBSRCS := $(filter-out app/main.c $(EXEC_SRCS),$(SRCS))
OBJS    := $(LIBSRCS:%.c=$(BUILD)/obj/%.o)
EXEC_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(filter-out app/executor/main.c,$(EXEC_SRCS)))
TESTS   := $(sort $(wildcard tests/unit/test_*.c))
TESTBINS := $(TESTS:tests/unit/%.c=$(BUILD)/tests/%)
BIN     := $(BUILD)/omni-fcgi
EXEC_BIN := $(BUILD)/omni-executor

# What the build reports (build_info.h): the VERSION file and the git
# revision; a build outside a checkout passes OMNI_REVISION=... itself.
OMNI_VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
OMNI_REVISION ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || \
	echo unknown)

ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined

.PHONY: all test unit integration asan clang-check valgrind run deps clean \
	bench bench-executor bench-metrics soak tests-bin

all: $(BIN) $(EXEC_BIN)

# Every compile writes its header dependencies (-MMD) next to its output,
# so that editing any header -- include/ or a module's internal one --
# rebuilds exactly what includes it; -MP keeps a deleted header from
# breaking the build.
DEPFLAGS := -MMD -MP

# Objects compiled before the dependency files existed do not know their
# headers: a build directory without this stamp is rebuilt once.
%/.depfiles:
	@mkdir -p $(dir $@)
	@touch $@
.PRECIOUS: %/.depfiles

$(BUILD)/obj/%.o: %.c $(BUILD)/.depfiles
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(DEPFLAGS) $(CFLAGS) -c $< -o $@

# Only build_info.c sees the version and revision, and it is rebuilt
# when they change: the stamp is rewritten only when its text differs.
$(BUILD)/obj/app/build_info.o: BASE_CFLAGS += \
	-DOMNI_VERSION='"$(OMNI_VERSION)"' -DOMNI_REVISION='"$(OMNI_REVISION)"'
$(BUILD)/obj/app/build_info.o: $(BUILD)/build-info.stamp
$(BUILD)/build-info.stamp: FORCE
	@mkdir -p $(dir $@)
	@echo '$(OMNI_VERSION) $(OMNI_REVISION)' | cmp -s - $@ || \
		echo '$(OMNI_VERSION) $(OMNI_REVISION)' > $@
FORCE:

$(BUILD)/libomni.a: $(OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(BUILD)/obj/app/main.o $(BUILD)/libomni.a
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libomni.a $(BUILD)/.depfiles
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(DEPFLAGS) $(CFLAGS) $(LDFLAGS) $< \
		$(BUILD)/libomni.a $(LDLIBS) \
		$(CMOCKA_LIBS) -o $@

$(BUILD)/libexecutor.a: $(EXEC_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(EXEC_BIN): $(BUILD)/obj/app/executor/main.o $(BUILD)/libexecutor.a \
		$(BUILD)/libomni.a
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $(LDFLAGS) $^ $(EXEC_LIBS) $(LDLIBS) -o $@

# The executor's unit tests link its library as well.
$(BUILD)/tests/test_exec_%: tests/unit/test_exec_%.c $(BUILD)/libexecutor.a \
		$(BUILD)/libomni.a $(BUILD)/.depfiles
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(DEPFLAGS) $(CFLAGS) $(LDFLAGS) $< \
		$(BUILD)/libexecutor.a $(BUILD)/libomni.a $(EXEC_LIBS) $(LDLIBS) \
		$(CMOCKA_LIBS) -o $@

tests-bin: $(BIN) $(EXEC_BIN) $(TESTBINS)

deps:
	@sh scripts/deps.sh

# The whole suite: plain build, sanitizer build, clang, valgrind.
test: deps
	@$(MAKE) --no-print-directory tests-bin
	@$(MAKE) --no-print-directory clang-check
	@$(MAKE) --no-print-directory BUILD=build/asan \
		CFLAGS="$(ASAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" \
		tests-bin
	@python3 tests/run.py --build build --asan-build build/asan

unit: tests-bin
	@python3 tests/run.py --build $(BUILD) --only unit

integration: tests-bin
	@python3 tests/run.py --build $(BUILD) --only integration

# Every file compiled by clang with the same -Werror flags (no link).
clang-check:
	@$(MAKE) --no-print-directory BUILD=build/clang CC=clang \
		$(patsubst %.c,build/clang/obj/%.o,$(SRCS)) \
		$(patsubst tests/unit/%.c,build/clang/obj/tests/unit/%.o,$(TESTS))

build/clang/obj/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(dir $@)
	clang $(BASE_CFLAGS) $(DEPFLAGS) $(CFLAGS) -c $< -o $@

valgrind: $(BIN)
	@python3 tests/integration/valgrind_check.py --bin $(BIN)

# Every benchmark in one run, gathered into bench/results.md (bench/README.md).
bench: deps $(BIN) $(EXEC_BIN)
	@sh bench/run_all.sh

# Two minutes of a request mix through nginx; fails on a 5xx, a worker
# restart, RSS growth over 10% or descriptor growth; its section goes into
# bench/results.md too.
soak: deps $(BIN)
	@python3 bench/soak.py > build/soak.md; rc=$$?; cat build/soak.md; \
		python3 bench/put_section.py bench/results.md build/soak.md; \
		exit $$rc

# GET / with OMNI_METRICS on and off, same pool (bench/README.md).
bench-metrics: $(BIN)
	@sh bench/bench_metrics.sh

# The local executor against the test executor (bench/README.md).
bench-executor: $(BIN) $(EXEC_BIN)
	@python3 bench/bench_executor.py

run: deps
	@$(MAKE) --no-print-directory $(BIN) $(EXEC_BIN)
	@sh scripts/run.sh

clean:
	rm -rf build

# ---- the production image (Dockerfile; docs/deploy.md) --------------------
#
#   make image        the base (scripts/image-base.sh: debootstrap, when
#                     the tag is missing), then the image with buildah,
#                     tagged localhost/omni:<VERSION>-<revision>
#   make test-image   build it, run the pool from it behind nginx, and
#                     scripts/deploy.sh's deploy and rollback (tests/run.py
#                     runs it in make test where buildah and debootstrap
#                     are installed)

.PHONY: image test-image

image:
	@sh scripts/image-base.sh
	@OMNI_BUILD_PULL=never sh scripts/deploy.sh build

test-image:
	@python3 tests/image/test_image.py

# ---- libFuzzer targets (tests/fuzz/README.md) -----------------------------
#
#   make fuzz         build every target into build/fuzz/ and run each for
#                     FUZZ_SECONDS (default 60) on a copy of its corpus
#   make fuzz-smoke   the same for 5 seconds each (part of make test)
#
# The library objects are compiled once, with coverage but without
# libFuzzer's main, into build/fuzz/obj/; each target links them with its
# harness.  A target runs on build/fuzz/corpus-work/<target>, seeded from
# tests/fuzz/corpus/<target>/ (which is never written), its log goes to
# build/fuzz/logs/<target>.log and a crash to build/fuzz/artifacts/<target>/.

FUZZ_SECONDS ?= 60
FUZZ_DIR     := build/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS  := -g -O1 -fno-omit-frame-pointer $(FUZZ_SAN) $(BASE_CFLAGS)
FUZZ_OBJS    := $(LIBSRCS:%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_EXEC_OBJS := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(filter-out \
	app/executor/main.c,$(EXEC_SRCS)))
FUZZ_TARGETS := fuzz_request fuzz_json fuzz_inngest fuzz_jcs fuzz_jwt \
	fuzz_signature fuzz_daytona fuzz_endpoints fuzz_exec_expr \
	fuzz_exec_events
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/%)
FUZZ_LINK     = clang $(FUZZ_CFLAGS) -fsanitize=fuzzer

.PHONY: fuzz fuzz-smoke fuzz-build

$(FUZZ_DIR)/obj/%.o: %.c $(FUZZ_DIR)/.depfiles
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(DEPFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_DIR)/libomni.a: $(FUZZ_OBJS)
	@rm -f $@
	ar rcs $@ $^

# The local executor's library (app/executor/ but its main.c), for the
# fuzz_exec_* targets, which link SQLite and libmicrohttpd too.
$(FUZZ_DIR)/libexecutor.a: $(FUZZ_EXEC_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_DIR)/fuzz_exec_%: tests/fuzz/fuzz_exec_%.c $(FUZZ_DIR)/libexecutor.a \
		$(FUZZ_DIR)/libomni.a $(wildcard tests/fuzz/*.h)
	$(FUZZ_LINK) $< $(FUZZ_DIR)/libexecutor.a $(FUZZ_DIR)/libomni.a \
		$(EXEC_LIBS) $(LDLIBS) -o $@

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_DIR)/libomni.a $(wildcard tests/fuzz/*.h)
	$(FUZZ_LINK) $< $(FUZZ_DIR)/libomni.a $(LDLIBS) -o $@

# Two targets are variants of another harness, chosen by a define.
$(FUZZ_DIR)/fuzz_json: tests/fuzz/fuzz_request.c $(FUZZ_DIR)/libomni.a $(wildcard tests/fuzz/*.h)
	$(FUZZ_LINK) -DFUZZ_JSON $< $(FUZZ_DIR)/libomni.a $(LDLIBS) -o $@

$(FUZZ_DIR)/fuzz_jcs: tests/fuzz/fuzz_inngest.c $(FUZZ_DIR)/libomni.a $(wildcard tests/fuzz/*.h)
	$(FUZZ_LINK) -DFUZZ_JCS $< $(FUZZ_DIR)/libomni.a $(LDLIBS) -o $@

fuzz-build: $(FUZZ_BINS)

# One line per target, "fuzz <target>: ok|FAIL ..." (tests/run.py counts
# them); every target runs even when an earlier one failed.
fuzz: fuzz-build
	@fail=0; for t in $(FUZZ_TARGETS); do \
		w=$(FUZZ_DIR)/corpus-work/$$t; a=$(FUZZ_DIR)/artifacts/$$t; \
		log=$(FUZZ_DIR)/logs/$$t.log; \
		mkdir -p $$w $$a $(FUZZ_DIR)/logs; \
		if [ -d tests/fuzz/corpus/$$t ]; then \
			cp -p tests/fuzz/corpus/$$t/* $$w/ 2>/dev/null || :; fi; \
		if UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		    $(FUZZ_DIR)/$$t -max_total_time=$(FUZZ_SECONDS) \
		    -max_len=4096 -timeout=10 -artifact_prefix=$$a/ \
		    $$w >$$log 2>&1; then \
			echo "fuzz $$t: ok, $$(grep -o 'Done [0-9]* runs' $$log | \
			    tail -n 1 | tr -d '\n'), corpus $$(ls $$w | wc -l)"; \
		else \
			echo "fuzz $$t: FAIL (log: $$log, artifacts: $$a/)"; \
			grep -v '^{"ts"' $$log | tail -n 40; fail=1; \
		fi; \
	done; exit $$fail

fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=5

# The dependency files the compiles above wrote (none on a clean tree).
-include $(shell find build -name '*.d' 2>/dev/null)
