# SPDX-License-Identifier: MIT
# Fuzzing (libFuzzer); included from the top Makefile.
#
#   make fuzz FUZZ_SECONDS=N   build every harness with clang and its fuzzer,
#                              AddressSanitizer and UndefinedBehaviorSanitizer,
#                              then run each for N seconds; fails on any crash,
#                              leak, sanitizer report or broken invariant
#   make fuzz-build            build the harnesses only
#
# The code under test is compiled again here with the fuzzer's coverage
# instrumentation, into $(BUILD)/fuzz, apart from the normal objects, each
# file with its layer's include path as in the top Makefile.
# Seeds live in tests/fuzz/corpus/<target>/ and are only read: each run
# writes what it finds to a fresh $(BUILD)/fuzz/corpus/<target>/, and a
# crashing input to $(BUILD)/fuzz/artifacts/<target>/.

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_RSS_MB ?= 2048
FUZZ_TARGETS := receive uapi allowedips offload conf
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_BINS := $(addprefix $(FUZZ_DIR)/fuzz_,$(FUZZ_TARGETS))

FUZZ_CPPFLAGS := -D_GNU_SOURCE
FUZZ_CFLAGS := $(BASE_CFLAGS) -g -O1 -fno-omit-frame-pointer \
	       -fsanitize=address,undefined -fno-sanitize-recover=all

# The layer whose headers each harness includes, and what it links besides itself.
FUZZ_CORE_OBJS := $(addprefix $(FUZZ_DIR)/obj/core/,$(CORE:.c=.o))
FUZZ_LAYER_receive := core
FUZZ_DEPS_receive := $(FUZZ_CORE_OBJS)
FUZZ_LAYER_uapi := daemon
FUZZ_DEPS_uapi := $(FUZZ_CORE_OBJS) $(FUZZ_DIR)/obj/daemon/uapi.o $(FUZZ_DIR)/obj/daemon/log.o \
	$(FUZZ_DIR)/obj/daemon/uapi_get.o $(FUZZ_DIR)/obj/daemon/spool.o \
	$(FUZZ_DIR)/obj/daemon/multipath.o $(FUZZ_DIR)/obj/linux/uplinks.o \
	$(FUZZ_DIR)/obj/daemon/resolver.o $(FUZZ_DIR)/obj/daemon/privilege.o \
	$(FUZZ_DIR)/obj/linux/watch.o
FUZZ_LAYER_conf := daemon
FUZZ_DEPS_conf := $(FUZZ_DEPS_uapi) $(FUZZ_DIR)/obj/daemon/conf.o
FUZZ_LAYER_allowedips := core
FUZZ_DEPS_allowedips := $(FUZZ_DIR)/obj/core/allowedips.o
FUZZ_LAYER_offload := linux
FUZZ_DEPS_offload := $(FUZZ_DIR)/obj/linux/offload.o

.PHONY: fuzz fuzz-build

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	$(Q)./tests/fuzz/run.sh $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_RSS_MB) $(FUZZ_TARGETS)

$(FUZZ_DIR)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(call quiet,FUZZCC) $(FUZZ_CC) $(FUZZ_CPPFLAGS) $(INCLUDES_$(layer)) $(FUZZ_CFLAGS) \
		-fsanitize=fuzzer-no-link -c -o $@ $<

$(foreach t,$(FUZZ_TARGETS),$(eval $(FUZZ_DIR)/fuzz_$(t): $(FUZZ_DEPS_$(t))))
$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c
	@mkdir -p $(@D)
	$(call quiet,FUZZLD) $(FUZZ_CC) $(FUZZ_CPPFLAGS) $(INCLUDES_$(FUZZ_LAYER_$*)) $(FUZZ_CFLAGS) \
		-fsanitize=fuzzer -o $@ $< $(FUZZ_DEPS_$*) $(LDLIBS)
