# SPDX-License-Identifier: MIT
# braid: userspace WireGuard. `make check` runs every test; `make demo` shows a tunnel.

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
BUILD ?= build

CC ?= cc
CFLAGS ?= -O2
CFLAGS += -std=gnu11 -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes \
	  -Wmissing-prototypes -Wno-unused-parameter -fno-strict-aliasing -MMD -MP
CPPFLAGS += -D_GNU_SOURCE -Iinclude -Isrc/core
LDLIBS += -lcrypto -lpthread

# Test builds only: run every protocol timer TIME_DIVISOR times faster.
ifneq ($(TIME_DIVISOR),)
CPPFLAGS += -DBRAID_TIME_DIVISOR=$(TIME_DIVISOR)
endif

# Test builds only: hooks that let tests/netns/privilege.sh provoke the sandbox (sandbox.h).
ifeq ($(TEST_HOOKS),1)
CPPFLAGS += -DBRAID_TEST_HOOKS
endif

ifeq ($(DEBUG),1)
CFLAGS += -g -O0
endif
ifeq ($(SAN),1)
CFLAGS += -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif
ifeq ($(TSAN),1)
CFLAGS += -g -fsanitize=thread -fno-omit-frame-pointer
LDFLAGS += -fsanitize=thread
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

# libbraid: the protocol, no I/O.
CORE := \
	crypto.c \
	keys.c \
	replay.c \
	allowedips.c \
	index.c \
	ratelimiter.c \
	cookie.c \
	noise.c \
	timers.c \
	transport.c \
	peer.c \
	device.c \
	source_refused_tmp.c

CORE_OBJS := $(addprefix $(BUILD)/core/,$(CORE:.c=.o))
LIB := $(BUILD)/libbraid.a

UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))

# The braid daemon: Linux I/O (src/linux) and the program (src/daemon).
DAEMON_SRCS := $(wildcard src/linux/*.c src/daemon/*.c)
DAEMON_OBJS := $(patsubst src/%.c,$(BUILD)/%.o,$(DAEMON_SRCS))
BRAID := $(BUILD)/braid

.PHONY: all lib deps analyze unit unit-san unit-tsan unit-valgrind netns check demo bench bench-net bench-flood soak clean install
all: lib $(BRAID)

lib: $(LIB)

$(LIB): $(CORE_OBJS)
	@echo "  AR      $@"
	$(Q)$(AR) rcs $@ $^

$(BUILD)/core/%.o: src/core/%.c
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/linux/%.o $(BUILD)/daemon/%.o: CPPFLAGS += -Isrc/linux -Isrc/daemon
$(BUILD)/linux/%.o: src/linux/%.c
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/daemon/%.o: src/daemon/%.c
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BRAID): $(DAEMON_OBJS) $(LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(DAEMON_OBJS) $(LIB) $(LDLIBS)

# Unit tests may exercise daemon code too: they link every daemon object but main.o.
TEST_DAEMON_OBJS := $(filter-out $(BUILD)/daemon/main.o,$(DAEMON_OBJS))
$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(LIB) $(TEST_DAEMON_OBJS)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) -Itests/unit -Isrc/linux -Isrc/daemon $(CFLAGS) $(LDFLAGS) -o $@ $< $(TEST_DAEMON_OBJS) $(LIB) -lcmocka $(LDLIBS)

deps:
	$(Q)./scripts/deps.sh

unit: $(UNIT_TESTS)
	$(Q)./scripts/run-unit.sh $(UNIT_TESTS)

# The same unit tests built with AddressSanitizer and UndefinedBehaviorSanitizer.
unit-san:
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/san SAN=1 unit

# The tests whose threads share data (the worker pool, batches sealed and opened on it,
# keypairs used from several threads), built with ThreadSanitizer.
TSAN_TESTS := test_workers test_batch test_device

unit-tsan:
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/tsan TSAN=1 \
		$(addprefix $(BUILD)/tsan/tests/,$(TSAN_TESTS))
	$(Q)TSAN_OPTIONS=halt_on_error=1 ./scripts/run-unit.sh \
		$(addprefix $(BUILD)/tsan/tests/,$(TSAN_TESTS))

# The unit tests under valgrind's memcheck. test_sandbox installs seccomp filters, a system
# call valgrind does not implement; it runs in unit and unit-san.
unit-valgrind: $(UNIT_TESTS)
	$(Q)RUNNER="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite" \
		SKIP=test_sandbox ./scripts/run-unit.sh $(UNIT_TESTS)

# Test tools (tests/tools), linked with libbraid for its crypto.
TOOLS := $(BUILD)/tools/flood $(BUILD)/tools/relay

$(BUILD)/tools/%: tests/tools/%.c $(LIB)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# Integration tests in network namespaces (root), in parallel groups (tests/netns/check.sh):
#  - every behaviour script for braid/braid, braid/wireguard-go and wireguard-go/braid, the
#    handshake floods one at a time;
#  - bad networks and rekeying under load (a braid with 40 times faster timers) against
#    braid and wireguard-go, with braid as host a;
#  - every script but privilege.sh and flood.sh with braid built under ASan+UBSan (sandbox
#    off: the sanitizer runtimes make system calls of their own), against braid and wireguard-go,
#    and privilege.sh with it in its sandbox;
#  - basic and traffic with braid built under ThreadSanitizer: the crypto workers under traffic.
netns: $(BRAID) $(TOOLS)
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/hooks TEST_HOOKS=1 $(BUILD)/hooks/braid
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/fast TIME_DIVISOR=40 $(BUILD)/fast/braid
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/san SAN=1 $(BUILD)/san/braid
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/tsan TSAN=1 $(BUILD)/tsan/braid
	$(Q)./tests/netns/check.sh $(BUILD)

# A short fuzzing pass per harness in check; longer runs: make fuzz FUZZ_SECONDS=600.
CHECK_FUZZ_SECONDS ?= 15

# Traffic, peer churn and endpoint changes for SOAK_SECONDS (default 30 min), watching RSS and
# file descriptors; not part of check.
soak: $(BRAID)
	$(Q)./tests/soak/soak.sh $(abspath $(BRAID))

# The clang static analyzer and cppcheck over src/ (scripts/analyze.sh); any finding fails.
analyze:
	$(Q)./scripts/analyze.sh $(BUILD)/analyze

check: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory analyze
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)$(MAKE) --no-print-directory unit-san
	$(Q)$(MAKE) --no-print-directory unit-tsan
	$(Q)$(MAKE) --no-print-directory unit-valgrind
	$(Q)$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(CHECK_FUZZ_SECONDS)
	$(Q)$(MAKE) --no-print-directory netns

# Two namespaces, a braid tunnel between them, a handshake, pings, iperf3, then clean up.
demo: deps $(BRAID)
	$(Q)./scripts/demo.sh $(abspath $(BRAID))

install: $(BRAID)
	install -D -m 0755 $(BRAID) $(DESTDIR)$(BINDIR)/braid

# Benchmarks, side by side with the reference in one run (root, ~10 min; not part of check):
# per-packet crypto against direct OpenSSL calls, then braid vs wireguard-go vs the bare veth
# in namespaces. BENCH_SECONDS=3 BENCH_ROUNDS=1 for a quick look; BENCH_PROFILE=1 adds perf.
bench: deps $(BRAID) $(BUILD)/bench/crypto $(BUILD)/bench/workers
	$(Q)$(BUILD)/bench/crypto
	$(Q)$(BUILD)/bench/workers
	$(Q)BENCH_OUT="$${BENCH_OUT:-$(abspath $(BUILD))/bench/results.json}" ./bench/run.sh $(abspath $(BRAID))

# Handshake floods against braid and wireguard-go (root, ~12 min; not part of check).
bench-flood: deps $(BRAID) $(BUILD)/tools/flood
	$(Q)./bench/flood.sh $(abspath $(BRAID)) /usr/bin/wireguard-go $(abspath $(BUILD)/tools/flood)

bench-net: deps $(BRAID)
	$(Q)BENCH_OUT="$${BENCH_OUT:-$(abspath $(BUILD))/bench/results.json}" ./bench/run.sh $(abspath $(BRAID))

# The worker pool's scaling, measured on the daemon's own pool.
$(BUILD)/bench/workers: CPPFLAGS += -Isrc/linux
$(BUILD)/bench/workers: $(BUILD)/linux/workers.o $(BUILD)/linux/watch.o

$(BUILD)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(filter %.o,$^) $(LIB) $(LDLIBS)

# make fuzz FUZZ_SECONDS=N (libFuzzer harnesses).
include tests/fuzz/fuzz.mk

clean:
	$(RM) -r $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
