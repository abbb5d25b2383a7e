# Portico: plain GNU Makefile.
#
#   make              build bin/portico (optimised, no sanitizers)
#   make run          install what is missing, build, start `portico standalone` with examples
#   make test         install what is missing, build with ASan+UBSan, run every test
#   make bench        benchmarks side by side with kpt / git (see docs/benchmarks.md)
#   make fuzz         run each fuzz target for FUZZ_SECONDS with libFuzzer (clang)
#   make lint         cppcheck + banned-function check
#   make format       clang-format -i on every source
#
# Layout: every directory in MODULES contributes its *.c to libportico.a; cmd/*.c make the
# binary. test/unit/<module>/*.c are Check programs, one binary per file. test/fuzz/*.c
# are fuzz targets whose corpora (test/fuzz/corpus/<name>/) `make test` replays.
# SANITIZER=address,undefined (or thread) builds into build/<sanitizer>/.

comma     := ,
MODULES   := base apiserver controller reconcilers cad fn repository
CC        ?= cc
SANITIZER ?=
PKGS      := libuv libcurl jansson yaml-0.1 libgit2 openssl sqlite3 libseccomp
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers \
               -fno-strict-aliasing -g -I. $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libcurl and libgit2 are not linked: base/lazy_curl.c and base/lazy_git2.c load them on
# first use (their ~30 dependencies cost ~10 ms at every start otherwise; see base/lazylib.h).
LINK_PKGS := $(filter-out libcurl libgit2,$(PKGS))
# The libraries are linked statically when their archives (from the same -dev packages)
# are there: every shared object costs start-up time on every `portico` command (dynamic
# relocation and page faults: `portico --version` takes ~1.7 ms static against ~4.5 ms,
# measured with perf stat). libc and libm stay shared (lazylib needs dlopen). OpenSSL's
# static copy is private to the binary (none of its symbols is exported), so the shared
# one that the lazily loaded libcurl brings is a separate copy; no object crosses over.
STATIC_ARCHIVES := libuv_a libjansson libyaml libsqlite3 libseccomp libhttp_parser libssl libcrypto
MISSING_STATIC := $(shell for a in $(STATIC_ARCHIVES); do $(CC) -print-file-name=$$a.a | grep -q / || echo $$a; done)
ifeq ($(MISSING_STATIC),)
  LDLIBS_BASE := -Wl,-Bstatic $(patsubst lib%,-l%,$(STATIC_ARCHIVES)) -Wl,-Bdynamic -lpthread -lm -ldl
else
  LDLIBS_BASE := $(shell pkg-config --libs $(LINK_PKGS) 2>/dev/null) -lhttp_parser -lpthread -lm -ldl
endif

ifeq ($(SANITIZER),)
  BUILD    := build/release
  OPTFLAGS := -O2
  SANFLAGS :=
else
  BUILD    := build/$(subst $(comma),-,$(SANITIZER))
  OPTFLAGS := -O1 -fno-omit-frame-pointer
  SANFLAGS := -fsanitize=$(SANITIZER) -fno-sanitize-recover=all
endif
CFLAGS  += $(CFLAGS_BASE) $(OPTFLAGS) $(SANFLAGS)
LDFLAGS += $(SANFLAGS)
LDLIBS  += $(LDLIBS_BASE)

LIB_SRCS  := $(foreach m,$(MODULES),$(wildcard $(m)/*.c))
CMD_SRCS  := $(wildcard cmd/*.c)
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
CMD_OBJS  := $(CMD_SRCS:%.c=$(BUILD)/%.o)
LIB       := $(BUILD)/libportico.a
BIN       := $(BUILD)/portico

TEST_SRCS := $(wildcard test/unit/*/*.c)
TEST_BINS := $(patsubst %.c,$(BUILD)/%,$(filter-out test/unit/common/%,$(TEST_SRCS)))
TEST_COMMON_SRCS := $(wildcard test/unit/common/*.c)
TEST_COMMON_OBJS := $(TEST_COMMON_SRCS:%.c=$(BUILD)/%.o)
FUZZ_SRCS := $(wildcard test/fuzz/*.c)
FUZZ_REPLAY_BINS := $(patsubst test/fuzz/%.c,$(BUILD)/test/fuzz/replay-%,$(filter-out test/fuzz/replay_main.c,$(FUZZ_SRCS)))

SAN_TEST := address,undefined

.PHONY: all portico run test test-build unit e2e bench fuzz lint format clean deps tests-bin
all: bin/portico

bin/portico: $(BIN)
	@mkdir -p bin
	cp $(BIN) $@

$(BIN): $(CMD_OBJS) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(CMD_OBJS) $(LIB) $(LDLIBS)

$(LIB): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/test/unit/%: test/unit/%.c $(LIB) $(TEST_COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itest/unit -MMD -MP -o $@ $< $(TEST_COMMON_OBJS) $(LIB) $(LDFLAGS) $(LDLIBS) $(shell pkg-config --libs check)

$(BUILD)/test/fuzz/replay-%: test/fuzz/%.c test/fuzz/replay_main.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -o $@ $< test/fuzz/replay_main.c $(LIB) $(LDFLAGS) $(LDLIBS)

tests-bin: $(BIN) $(TEST_BINS) $(FUZZ_REPLAY_BINS)

deps:
	@hack/install-deps.sh

run: deps
	$(MAKE) bin/portico
	hack/run-standalone.sh

# Tests run under ASan + UBSan; the e2e tests drive that same sanitizer binary.
test: deps
	$(MAKE) SANITIZER=$(SAN_TEST) tests-bin
	hack/run-tests.sh build/$(subst $(comma),-,$(SAN_TEST))

unit: 
	$(MAKE) SANITIZER=$(SAN_TEST) tests-bin
	PORTICO_ONLY=unit hack/run-tests.sh build/$(subst $(comma),-,$(SAN_TEST))

e2e:
	$(MAKE) SANITIZER=$(SAN_TEST) tests-bin
	PORTICO_ONLY=e2e hack/run-tests.sh build/$(subst $(comma),-,$(SAN_TEST))

bench: deps
	$(MAKE) bin/portico
	hack/run-bench.sh

FUZZ_SECONDS ?= 60
fuzz: deps
	hack/run-fuzz.sh $(FUZZ_SECONDS)

lint:
	hack/lint.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build bin

-include $(LIB_OBJS:.o=.d) $(CMD_OBJS:.o=.d) $(TEST_BINS:=.d) $(TEST_COMMON_OBJS:.o=.d)
