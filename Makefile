# SPDX-License-Identifier: MIT
# braid: userspace WireGuard. `make check` runs every test; `make demo` shows a tunnel.

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
MANDIR ?= $(PREFIX)/share/man
# systemd reads units from /usr/local/lib/systemd/system too; Debian's rules pass /lib/...
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
BUILD ?= build

CC ?= cc
CFLAGS ?= -O2
# How every C file of the project is compiled, whatever its optimisation (tests/fuzz/fuzz.mk too).
BASE_CFLAGS := -std=gnu11 -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes \
	       -Wmissing-prototypes -Wno-unused-parameter -fno-strict-aliasing -MMD -MP
CFLAGS += $(BASE_CFLAGS)
CPPFLAGS += -D_GNU_SOURCE
LDLIBS += -lcrypto -lpthread

# The layers, and the headers each may include: a file that includes a header of a layer it
# must not see fails to build. Dependencies point one way, daemon -> linux -> include/, and the
# core hides behind include/braid.h from both.
INCLUDES_core := -Iinclude -Isrc/core
INCLUDES_linux := -Iinclude -Isrc/linux
INCLUDES_daemon := -Iinclude -Isrc/linux -Isrc/daemon

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

# Quiet recipes print one line, "  CC      build/core/noise.o", unless V=1:
# $(call quiet,CC) goes in front of a command.
ifeq ($(V),1)
Q :=
quiet =
else
Q := @
quiet = @printf '  %-7s %s\n' '$1' '$@';
endif

# libbraid: the protocol, no I/O.
CORE := \
	crypto.c \
	keys.c \
	replay.c \
	allowedips.c \
	pubkeys.c \
	index.c \
	ratelimiter.c \
	cookie.c \
	noise.c \
	deadlines.c \
	timers.c \
	transport.c \
	staged.c \
	reorder.c \
	path.c \
	probe.c \
	aggregate.c \
	peer.c \
	device.c

# Linux I/O: the event loop and what it drives.
LINUX := \
	watch.c \
	iolog.c \
	workers.c \
	dataplane.c \
	offload.c \
	tun.c \
	tun_reader.c \
	tun_writer.c \
	icmp.c \
	sendq.c \
	udp.c \
	backlog.c \
	netlink.c \
	uplinks.c \
	ops.c \
	loop.c

# The braid program.
DAEMON := \
	log.c \
	multipath.c \
	spool.c \
	resolver.c \
	uapi.c \
	uapi_get.c \
	uapi_sock.c \
	privilege.c \
	seccomp.c \
	sandbox.c \
	daemon.c \
	uapi_client.c \
	devinfo.c \
	show.c \
	conf.c \
	setconf.c \
	nl.c \
	hostnet.c \
	nft.c \
	up.c \
	cli.c \
	main.c

core-objs = $(addprefix $(BUILD)/core/,$(addsuffix .o,$(basename $1)))
linux-objs = $(addprefix $(BUILD)/linux/,$(addsuffix .o,$(basename $1)))
daemon-objs = $(addprefix $(BUILD)/daemon/,$(addsuffix .o,$(basename $1)))

LIB := $(BUILD)/libbraid.a
BRAID := $(BUILD)/braid

.PHONY: all lib shared deps analyze unit unit-san unit-tsan unit-valgrind netns check demo bench \
	bench-net bench-flood bench-failover bench-multipath bench-scale soak clean install uninstall install-check deb \
	deb-check
all: lib $(BRAID)

lib: $(LIB)

$(LIB): $(call core-objs,$(CORE))
	$(call quiet,AR) $(AR) rcs $@ $^

# Every object, with the include path of its layer (the first directory under src/).
layer = $(firstword $(subst /, ,$*))
$(BUILD)/%.o: src/%.c
	@mkdir -p $(@D)
	$(call quiet,CC) $(CC) $(CPPFLAGS) $(INCLUDES_$(layer)) $(CFLAGS) -c -o $@ $<

$(BRAID): $(call daemon-objs,$(DAEMON)) $(call linux-objs,$(LINUX)) $(LIB)
	$(call quiet,LD) $(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(LDLIBS)

# A program built from one source file ($<), linked with the objects and archives among its
# prerequisites; $1 is its include path, $2 what it links besides them.
build-program = $(call quiet,CC) $(CC) $(CPPFLAGS) $1 $(CFLAGS) $(LDFLAGS) -o $@ $< \
	$(filter %.o %.a,$^) $2 $(LDLIBS)

# libbraid.so: the core again, compiled position-independent into a separate object set (the
# static build and the daemon keep their faster non-PIC objects), linked with a version script
# that exports only braid_* (dist/libbraid.map). SOVERSION changes when the ABI breaks.
VERSION := $(shell sed -n 's/^\#define BRAID_VERSION "\(.*\)"/\1/p' include/braid.h)
SOVERSION := 0
SONAME := libbraid.so.$(SOVERSION)
SHLIB := $(BUILD)/libbraid.so.$(VERSION)
pic-objs = $(addprefix $(BUILD)/pic/core/,$(addsuffix .o,$(basename $1)))

shared: $(SHLIB) $(BUILD)/libbraid.so

$(BUILD)/pic/core/%.o: src/core/%.c
	@mkdir -p $(@D)
	$(call quiet,CC) $(CC) $(CPPFLAGS) $(INCLUDES_core) $(CFLAGS) -fPIC -c -o $@ $<

$(SHLIB): $(call pic-objs,$(CORE)) dist/libbraid.map
	$(call quiet,LD) $(CC) $(CFLAGS) $(LDFLAGS) -shared -Wl,-soname,$(SONAME) \
		-Wl,--version-script=dist/libbraid.map -Wl,--no-undefined -o $@ \
		$(filter %.o,$^) $(LDLIBS)

# The development names, in the build tree too, so tests can link with -L$(BUILD).
$(BUILD)/libbraid.so: $(SHLIB)
	$(Q)ln -sf $(notdir $(SHLIB)) $(BUILD)/$(SONAME)
	$(Q)ln -sf $(SONAME) $@

# Unit tests, one per module. Each sees the headers of the layer it tests and links only what
# it tests: libbraid for the core's, the objects below for the others, so a file that does not
# build stops only the tests that use it.
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
UNIT_LAYER_test_batch := linux
UNIT_DEPS_test_batch := $(call linux-objs,sendq udp iolog backlog tun tun_reader tun_writer \
	offload dataplane workers watch) $(LIB)
UNIT_LAYER_test_icmp := linux
UNIT_DEPS_test_icmp := $(call linux-objs,icmp offload)
UNIT_LAYER_test_offload := linux
UNIT_DEPS_test_offload := $(call linux-objs,offload)
UNIT_LAYER_test_workers := linux
UNIT_DEPS_test_workers := $(call linux-objs,workers watch)
UNIT_LAYER_test_sandbox := daemon
UNIT_DEPS_test_sandbox := $(call daemon-objs,privilege seccomp)
UNIT_LAYER_test_uapi := daemon
UNIT_DEPS_test_uapi := $(call daemon-objs,uapi uapi_get spool log multipath resolver privilege) \
	$(call linux-objs,uplinks watch) $(LIB)
UNIT_LAYER_test_conf := daemon
UNIT_DEPS_test_conf := $(call daemon-objs,conf setconf uapi_client devinfo) $(UNIT_DEPS_test_uapi)
UNIT_LAYER_test_show := daemon
UNIT_DEPS_test_show := $(call daemon-objs,show devinfo uapi_client) $(LIB)
UNIT_LAYER_test_multipath := daemon
UNIT_DEPS_test_multipath := $(UNIT_DEPS_test_uapi)
# Anything else is a test of the core.
unit-layer = $(or $(UNIT_LAYER_$1),core)
unit-deps = $(or $(UNIT_DEPS_$1),$(LIB))
$(foreach t,$(UNIT_TESTS),$(eval $(t): $(call unit-deps,$(notdir $(t)))))

$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h)
	@mkdir -p $(@D)
	$(call build-program,-Itests/unit $(INCLUDES_$(call unit-layer,$*)),-lcmocka)

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
# call valgrind does not implement; it runs in unit and unit-san. The many-peer tests run
# with 10,000 peers here rather than 100,000 (BRAID_TEST_SCALE), to stay within seconds.
unit-valgrind: $(UNIT_TESTS)
	$(Q)RUNNER="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite" \
		SKIP=test_sandbox BRAID_TEST_SCALE=10000 \
		./scripts/run-unit.sh $(UNIT_TESTS)

# Test tools (tests/tools), linked with libbraid for its crypto.
TOOLS := $(BUILD)/tools/flood $(BUILD)/tools/relay $(BUILD)/tools/linkem

$(BUILD)/tools/%: tests/tools/%.c $(LIB)
	@mkdir -p $(@D)
	$(call build-program,$(INCLUDES_core))

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

# make print-VAR: a variable's value, for scripts (scripts/analyze.sh asks for INCLUDES_*).
print-%:
	@echo '$($*)'

check: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory analyze
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)$(MAKE) --no-print-directory unit-san
	$(Q)$(MAKE) --no-print-directory unit-tsan
	$(Q)$(MAKE) --no-print-directory unit-valgrind
	$(Q)$(MAKE) --no-print-directory install-check
	$(Q)$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(CHECK_FUZZ_SECONDS)
	$(Q)$(MAKE) --no-print-directory netns

# Two namespaces, a braid tunnel between them, a handshake, pings, iperf3, then clean up.
demo: deps $(BRAID)
	$(Q)./scripts/demo.sh $(abspath $(BRAID))

# PREFIX (default /usr/local) and DESTDIR as usual; BINDIR, LIBDIR, INCLUDEDIR, PKGCONFIGDIR,
# MANDIR, SYSTEMDUNITDIR and BASHCOMPDIR follow PREFIX unless given. braid.pc and the unit are
# written at install time, for the directories of that install.
INSTALLED := $(BINDIR)/braid $(LIBDIR)/libbraid.so.$(VERSION) $(LIBDIR)/$(SONAME) \
	$(LIBDIR)/libbraid.so $(LIBDIR)/libbraid.a $(INCLUDEDIR)/braid.h $(INCLUDEDIR)/braid_wire.h \
	$(PKGCONFIGDIR)/braid.pc $(MANDIR)/man8/braid.8 $(MANDIR)/man5/braid.conf.5 \
	$(SYSTEMDUNITDIR)/braid@.service $(SYSTEMDUNITDIR)/braid.target $(BASHCOMPDIR)/braid

install: $(BRAID) $(LIB) shared
	install -D -m 0755 $(BRAID) $(DESTDIR)$(BINDIR)/braid
	install -D -m 0644 $(SHLIB) $(DESTDIR)$(LIBDIR)/libbraid.so.$(VERSION)
	ln -sf libbraid.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libbraid.so
	install -D -m 0644 $(LIB) $(DESTDIR)$(LIBDIR)/libbraid.a
	install -D -m 0644 include/braid.h $(DESTDIR)$(INCLUDEDIR)/braid.h
	install -D -m 0644 include/braid_wire.h $(DESTDIR)$(INCLUDEDIR)/braid_wire.h
	install -d $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(SYSTEMDUNITDIR)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(VERSION)|' dist/braid.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/braid.pc
	sed -e 's|@BINDIR@|$(BINDIR)|' dist/braid@.service.in \
		>$(DESTDIR)$(SYSTEMDUNITDIR)/braid@.service
	install -D -m 0644 man/braid.8 $(DESTDIR)$(MANDIR)/man8/braid.8
	install -D -m 0644 man/braid.conf.5 $(DESTDIR)$(MANDIR)/man5/braid.conf.5
	install -D -m 0644 dist/braid.target $(DESTDIR)$(SYSTEMDUNITDIR)/braid.target
	install -D -m 0644 dist/braid.bash-completion $(DESTDIR)$(BASHCOMPDIR)/braid
	install -d -m 0700 $(DESTDIR)/etc/braid
	@if [ -z "$(DESTDIR)" ] && command -v ldconfig >/dev/null; then ldconfig; fi

# Removes what install put there; /etc/braid stays (it may hold keys), unless empty.
uninstall:
	$(RM) $(addprefix $(DESTDIR),$(INSTALLED))
	-rmdir $(DESTDIR)/etc/braid 2>/dev/null
	@if [ -z "$(DESTDIR)" ] && command -v ldconfig >/dev/null; then ldconfig; fi

# make install into a scratch DESTDIR, then check what landed (tests/install/check.sh): man
# pages, pkg-config, a program built against the installed library, exports, the unit, bash
# completion, and that uninstall leaves nothing.
install-check: $(BRAID) $(LIB) shared
	$(Q)./tests/install/check.sh $(BUILD)

# Debian packages from a copy of the tree, then lintian (scripts/deb.sh; about 1.5 minutes
# here, the unit tests included); deb-check installs them on this machine, builds and runs
# examples/handshake.c through pkg-config, and purges them again (tests/deb/check.sh, root).
deb:
	$(Q)./scripts/deps.sh deb
	$(Q)./scripts/deb.sh $(abspath $(BUILD))/deb

deb-check: deb
	$(Q)./tests/deb/check.sh $(abspath $(BUILD))/deb

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

# How long the tunnel stays dark when one of two uplinks fails: braid's failover beside braid
# without multipath, against wireguard-go, and Linux MPTCP; redundant mode under loss; probes when
# idle (root, ~15 min; not part of check). BENCH_ROUNDS=1 for a look.
bench-failover: deps $(BRAID) $(BUILD)/tools/linkem
	$(Q)FAILOVER_OUT="$${FAILOVER_OUT:-$(abspath $(BUILD))/bench/failover.tsv}" \
		./bench/failover.sh $(abspath $(BRAID)) /usr/bin/wireguard-go $(abspath $(BUILD)/tools/linkem)

# Multipath aggregation against each uplink alone and against Linux MPTCP, on the same emulated
# link pairs (root, ~12 min; not part of check). BENCH_ROUNDS=1 MULTIPATH_SECONDS=3 for a look.
bench-multipath: deps $(BRAID) $(BUILD)/tools/linkem
	$(Q)MULTIPATH_OUT="$${MULTIPATH_OUT:-$(abspath $(BUILD))/bench/multipath.json}" \
		./bench/multipath.sh $(abspath $(BRAID)) $(abspath $(BUILD)/tools/linkem)

# A server with many peers (root, ~10 min; not part of check): handshakes per second with 100k
# peers against a handful, in process; then bench/scale.sh: setconf, show dump, syncconf,
# clearing and memory at 1k-60k peers beside wireguard-go, 100k and 1M alone, ping through a
# tunnel while 100k-peer operations run, and stopping the daemon in the middle of a set.
bench-scale: deps $(BRAID) $(BUILD)/bench/handshakes
	$(Q)$(BUILD)/bench/handshakes
	$(Q)SCALE_OUT="$${SCALE_OUT:-$(abspath $(BUILD))/bench/scale.tsv}" \
		./bench/scale.sh $(abspath $(BRAID))

bench-net: deps $(BRAID)
	$(Q)BENCH_OUT="$${BENCH_OUT:-$(abspath $(BUILD))/bench/results.json}" ./bench/run.sh $(abspath $(BRAID))

# The micro-benchmarks measure the core's crypto and, for workers, the daemon's own worker pool.
$(BUILD)/bench/workers: $(call linux-objs,workers watch)

$(BUILD)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(@D)
	$(call build-program,$(INCLUDES_core) -Isrc/linux)

# make fuzz FUZZ_SECONDS=N (libFuzzer harnesses).
include tests/fuzz/fuzz.mk

clean:
	$(RM) -r $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
