# Omni -- build, test and run.  See README.md.
#
#   make           build build/omni-fcgi
#   make test      deps, build, unit + integration tests, then both again
#                  built with ASan + UBSan, a clang -Werror build, valgrind
#   make run       deps, build, pool + nginx on http://127.0.0.1:$${PORT:-8080}
#                  (FRONT=caddy for Caddy)
#   make deps      install the missing Debian packages (idempotent)
#   make clean

CC      ?= cc
PKGS    := fcgi libcurl json-c libcrypto cmocka
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs fcgi libcurl json-c libcrypto 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

WARN    := -Wall -Wextra -Werror
# CFLAGS (optimisation, sanitizers) may be set on the command line; the
# flags every build needs live apart so that doing so cannot drop them.
CFLAGS  ?= -O2 -g
BASE_CFLAGS := -std=c17 $(WARN) -D_GNU_SOURCE -Iinclude $(PKG_CFLAGS) -pthread
LDLIBS  += $(PKG_LIBS) -pthread

# BUILD selects the variant: build/ (plain) or build/asan/ (sanitizers).
BUILD   ?= build
SRCS    := $(sort $(wildcard app/*.c app/*/*.c handlers/*.c))
LIBSRCS := $(filter-out app/main.c,$(SRCS))
OBJS    := $(LIBSRCS:%.c=$(BUILD)/obj/%.o)
TESTS   := $(sort $(wildcard tests/unit/test_*.c))
TESTBINS := $(TESTS:tests/unit/%.c=$(BUILD)/tests/%)
BIN     := $(BUILD)/omni-fcgi

ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined

.PHONY: all test unit integration asan clang-check valgrind run deps clean \
	bench tests-bin

all: $(BIN)

$(BUILD)/obj/%.o: %.c $(wildcard include/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/libomni.a: $(OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(BUILD)/obj/app/main.o $(BUILD)/libomni.a
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libomni.a $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $(LDFLAGS) $< $(BUILD)/libomni.a $(LDLIBS) \
		$(CMOCKA_LIBS) -o $@

tests-bin: $(BIN) $(TESTBINS)

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
	clang $(BASE_CFLAGS) $(CFLAGS) -c $< -o $@

valgrind: $(BIN)
	@python3 tests/integration/valgrind_check.py --bin $(BIN)

bench: $(BIN)
	@sh bench/bench_get_root.sh

run: deps
	@$(MAKE) --no-print-directory $(BIN)
	@sh scripts/run.sh

clean:
	rm -rf build
