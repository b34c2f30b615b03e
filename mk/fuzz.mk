# mk/fuzz.mk - libFuzzer targets for the engine's parsers (clang only).
#
# Included by GNUmakefile. Each t/fuzz/fuzz_NAME.c becomes build-fuzz/fuzz_NAME,
# linked against its own copy of the engine built with
# -fsanitize=fuzzer-no-link,address,undefined, so no flag reaches build/.
#
#   make fuzz                    each target for FUZZ_SECONDS (default 60) on a
#                                working copy of its seeds (build-fuzz/corpus/);
#                                fails if any target crashes, leaks or hits UB
#   make fuzz FUZZ_SECONDS=10    a quick run
#   make fuzz FUZZ_TARGETS=fuzz_units   one target only
#   make fuzz-regress            every target once over its seeds and over
#                                t/fuzz/regress/NAME/ (inputs that once
#                                crashed); quick, for CI
#   make fuzz-clean              remove build-fuzz/
#
# Crash inputs go to build-fuzz/artifacts/NAME/, logs to build-fuzz/logs/;
# the repository is never written. t/fuzz/README.md says how to keep a crash
# as a regression input. Needs clang and its libFuzzer runtime
# (libclang-rt-14-dev on Debian 12, installed by "make deps").

FUZZ_B       := build-fuzz
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS   = -O1 -g -std=gnu11 $(WARN) -pthread -MMD -MP $(FUZZ_SAN) \
                $(shell pkg-config --cflags $(PKGS) 2>/dev/null)

FUZZ_SRC        := $(wildcard t/fuzz/fuzz_*.c)
FUZZ_ALL        := $(FUZZ_SRC:t/fuzz/%.c=%)
FUZZ_TARGETS    ?= $(FUZZ_ALL)
FUZZ_BIN        := $(FUZZ_ALL:%=$(FUZZ_B)/%)
FUZZ_ENGINE_OBJ := $(ENGINE_SRC:%.c=$(FUZZ_B)/%.o)
FUZZ_OBJ        := $(FUZZ_SRC:%.c=$(FUZZ_B)/%.o)

.PHONY: fuzz fuzz-build fuzz-regress fuzz-clean

fuzz-build: $(FUZZ_BIN)

fuzz: fuzz-build
	t/fuzz/run-fuzz.sh --build $(FUZZ_B) --seconds $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-regress: fuzz-build
	t/fuzz/run-fuzz.sh --build $(FUZZ_B) --regress $(FUZZ_TARGETS)

fuzz-clean:
	rm -rf $(FUZZ_B)

clean: fuzz-clean

# The engine: instrumented for coverage, but without libFuzzer's main().
$(FUZZ_ENGINE_OBJ): $(FUZZ_B)/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_B)/libmdengine.a: $(FUZZ_ENGINE_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_OBJ): $(FUZZ_B)/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BIN): $(FUZZ_B)/%: $(FUZZ_B)/t/fuzz/%.o $(FUZZ_B)/libmdengine.a
	$(FUZZ_CC) -pthread $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $< $(FUZZ_B)/libmdengine.a $(LIBS)

-include $(FUZZ_ENGINE_OBJ:.o=.d) $(FUZZ_OBJ:.o=.d)
