# openpdm: one GNU Make build.
#
#   make            build lib, the `pdm` tool, tests and benchmarks into $(BUILD)/
#   make check      install missing Debian packages, check the house rules
#                   (make lint), build, run every test (plain and under
#                   ASan+UBSan); ends with "N passed, N failed, N skipped"
#   make demo       install, build, run the end-to-end demo
#   make fuzz       build libFuzzer targets and run each for FUZZ_SECONDS
#   make bench      build with -O2 and run the benchmarks
#   make install    install under DESTDIR$(PREFIX) (PREFIX=/usr/local): bin/pdm,
#                   share/man/man8/pdm*.8, include/pdm/*.h, lib/libpdm.a,
#                   lib/libpdm.so.0.1.0 (+ libpdm.so.0, libpdm.so links),
#                   lib/pkgconfig/pdm.pc, lib/systemd/system/pdm-registrar.service,
#                   lib/systemd/system/pdm-agent.service
#                   (LIBDIR, SYSTEMDDIR, BINDIR, INCLUDEDIR, MANDIR override),
#                   and the Wireshark plugin in Wireshark's plugin directory
#                   when pkg-config finds wireshark; make uninstall removes
#                   exactly those files. Uses an existing plain build (not SAN=1).
#   make build-install  build only what `make install` installs (no tests)
#   make package    Debian packages (debian/) built from a copy of the tree in
#                   a temporary directory; the .debs go to $(BUILD)/deb/
#
# BUILD=dir selects the build directory (several can coexist); SAN=1 builds
# with AddressSanitizer and UndefinedBehaviorSanitizer.

BUILD ?= build
CC ?= cc
PKG_CONFIG ?= pkg-config
SAN ?= 0
V ?= 0

WARN := -Wall -Wextra -Werror -Wconversion -Wsign-conversion -Wshadow \
	-Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla \
	-Wpointer-arith -Wcast-qual -Wundef -Wnull-dereference
OPT ?= -O2 -g
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -fvisibility=hidden \
	-fno-strict-aliasing -fstack-protector-strong -Iinclude -Ilib -Itools
ifeq ($(SAN),1)
CFLAGS_BASE += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS_SAN := -fsanitize=address,undefined
endif

# Optional system libraries: each is used when pkg-config finds it.
pc_cflags = $(shell $(PKG_CONFIG) --cflags $(1) 2>/dev/null)
pc_libs = $(shell $(PKG_CONFIG) --libs $(1) 2>/dev/null)
CRYPTO_CFLAGS := $(call pc_cflags,libcrypto)
CRYPTO_LIBS := $(call pc_libs,libcrypto)
PCAP_LIBS := $(shell $(PKG_CONFIG) --libs libpcap 2>/dev/null || echo -lpcap)
NFQ_LIBS := $(call pc_libs,libnetfilter_queue libmnl)
JANSSON_CFLAGS := $(call pc_cflags,jansson)
JANSSON_LIBS := $(call pc_libs,jansson)
CAPNG_LIBS := $(call pc_libs,libcap-ng)
SECCOMP_LIBS := $(call pc_libs,libseccomp)

# The Wireshark plugin (wireshark/): built when pkg-config finds
# libwireshark-dev, and not under the sanitizers (tshark would not load it).
WS_PKG := $(shell $(PKG_CONFIG) --exists wireshark 2>/dev/null && echo yes)
ifeq ($(SAN),1)
WS_PKG :=
endif
WS_CFLAGS := $(patsubst -I%,-isystem %,$(call pc_cflags,wireshark))
WS_LIBS := $(call pc_libs,wireshark)
WS_PLUGINDIR := $(shell $(PKG_CONFIG) --variable=plugindir wireshark 2>/dev/null)/epan
DESTDIR ?=
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
SYSTEMDDIR ?= $(PREFIX)/lib/systemd/system
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
VERSION := 0.1.0
SONAME := libpdm.so.0

CFLAGS_ALL = $(CFLAGS_BASE) $(CRYPTO_CFLAGS) $(JANSSON_CFLAGS) $(CFLAGS)
LDLIBS_ALL = $(CRYPTO_LIBS) $(LDLIBS)
TOOL_LIBS = $(PCAP_LIBS) $(NFQ_LIBS) $(JANSSON_LIBS) $(CAPNG_LIBS) $(SECCOMP_LIBS)

ifeq ($(V),0)
Q := @
else
Q :=
endif

LIB_SRC := $(sort $(wildcard lib/*.c lib/crypto/*.c))
TOOLS_SRC := $(sort $(wildcard tools/*/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
BENCH_SRC := $(sort $(wildcard bench/bench_*.c))
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
TOOLS_OBJ := $(TOOLS_SRC:%.c=$(BUILD)/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
LIBPDM := $(BUILD)/libpdm.a
LIBTOOLS := $(BUILD)/libpdmtools.a
PDM := $(BUILD)/pdm
# lib/ again, position-independent, for the plugin (a shared object).
PIC_OBJ := $(LIB_SRC:%.c=$(BUILD)/pic/%.o)
LIBPDM_PIC := $(BUILD)/pic/libpdm_pic.a
WS_SRC := $(sort $(wildcard wireshark/*.c))
WS_OBJ := $(WS_SRC:%.c=$(BUILD)/%.o)
WS_PLUGIN := $(if $(WS_PKG),$(BUILD)/wireshark/pdmv2.so)
# The shared library, from the PIC objects; not under the sanitizers.
LIBPDM_SO_FILE := $(BUILD)/libpdm.so.$(VERSION)
LIBPDM_SO := $(if $(filter 1,$(SAN)),,$(LIBPDM_SO_FILE))
MAN_PAGES := $(sort $(wildcard docs/man/*.8))
PUB_HEADERS := $(sort $(wildcard include/pdm/*.h))

.SECONDARY:
.PHONY: all check demo fuzz fuzz-build bench deps clean format lint tests install uninstall wireshark \
	build-install package
all: $(PDM) $(TEST_BIN) $(BENCH_BIN) $(WS_PLUGIN) $(LIBPDM_SO)
wireshark: $(WS_PLUGIN)
tests: $(TEST_BIN)

$(BUILD)/%.o: %.c $(BUILD)/config
	@mkdir -p $(dir $@)
	@[ "$(V)" != 0 ] || echo "  CC    $<"
	$(Q)$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(BUILD)/pic/%.o: %.c $(BUILD)/config
	@mkdir -p $(dir $@)
	@[ "$(V)" != 0 ] || echo "  CC    $< (PIC)"
	$(Q)$(CC) $(CFLAGS_ALL) -fPIC -MMD -MP -c $< -o $@

# The plugin's own files: Wireshark's headers as system headers (-isystem),
# so the strict warnings apply to our code only.
$(BUILD)/wireshark/%.o: wireshark/%.c $(BUILD)/config
	@mkdir -p $(dir $@)
	@[ "$(V)" != 0 ] || echo "  CC    $<"
	$(Q)$(CC) $(CFLAGS_ALL) $(WS_CFLAGS) -fPIC -MMD -MP -c $< -o $@

$(LIBPDM_PIC): $(PIC_OBJ)
	@rm -f $@
	$(Q)ar rcs $@ $^

# --exclude-libs: the library's pdm_* symbols stay inside the plugin; it
# exports only plugin_version, plugin_want_major/minor and plugin_register.
$(BUILD)/wireshark/pdmv2.so: $(WS_OBJ) $(LIBPDM_PIC)
	@[ "$(V)" != 0 ] || echo "  LD    $@"
	$(Q)$(CC) -shared $(LDFLAGS) -Wl,--exclude-libs,ALL -Wl,-z,defs -o $@ $^ \
		$(WS_LIBS) $(CRYPTO_LIBS)

# The shared libpdm: only the API's pdm_* symbols are exported
# (lib/libpdm.map); tests and the tool keep linking libpdm.a.
$(LIBPDM_SO_FILE): $(PIC_OBJ) lib/libpdm.map
	@[ "$(V)" != 0 ] || echo "  LD    $@"
	$(Q)$(CC) -shared $(LDFLAGS) -Wl,-soname,$(SONAME) -Wl,--version-script=lib/libpdm.map \
		-Wl,-z,defs -o $@ $(PIC_OBJ) $(CRYPTO_LIBS)

# pdm.pc: paths under ${prefix} when they are, so that
# pkg-config --define-prefix can relocate an installed tree.
pc_rel = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))
define PDM_PC
prefix=$(PREFIX)
libdir=$(call pc_rel,$(LIBDIR))
includedir=$(call pc_rel,$(INCLUDEDIR))

Name: pdm
Description: IPv6 Performance and Diagnostic Metrics (RFC 8250, PDMv2) library
Version: $(VERSION)
Requires.private: libcrypto
Cflags: -I$${includedir}
Libs: -L$${libdir} -lpdm
endef
export PDM_PC

# The Wireshark plugin goes to Wireshark's plugin directory (PREFIX does not
# apply: Wireshark looks only there and in ~/.local/lib/wireshark/plugins).
install: $(PDM) $(LIBPDM) $(LIBPDM_SO_FILE) $(WS_PLUGIN)
	@[ "$(SAN)" != 1 ] || { echo "install: not from a SAN=1 build" >&2; exit 1; }
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(INCLUDEDIR)/pdm \
		$(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(SYSTEMDDIR)
	install -m 0755 $(PDM) $(DESTDIR)$(BINDIR)/pdm
	install -m 0644 $(MAN_PAGES) $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 $(PUB_HEADERS) $(DESTDIR)$(INCLUDEDIR)/pdm/
	install -m 0644 $(LIBPDM) $(DESTDIR)$(LIBDIR)/libpdm.a
	install -m 0755 $(LIBPDM_SO_FILE) $(DESTDIR)$(LIBDIR)/libpdm.so.$(VERSION)
	ln -sf libpdm.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libpdm.so
	printf '%s\n' "$$PDM_PC" > $(DESTDIR)$(PKGCONFIGDIR)/pdm.pc
	chmod 0644 $(DESTDIR)$(PKGCONFIGDIR)/pdm.pc
	install -m 0644 contrib/pdm-registrar.service $(DESTDIR)$(SYSTEMDDIR)/pdm-registrar.service
	install -m 0644 contrib/pdm-agent.service $(DESTDIR)$(SYSTEMDDIR)/pdm-agent.service
ifneq ($(WS_PKG),)
	install -d $(DESTDIR)$(WS_PLUGINDIR)
	install -m 0644 $(WS_PLUGIN) $(DESTDIR)$(WS_PLUGINDIR)/pdmv2.so
else
	@echo "install: Wireshark plugin skipped (pkg-config finds no wireshark)"
endif

build-install: $(PDM) $(LIBPDM) $(LIBPDM_SO_FILE) $(WS_PLUGIN)

package:
	@sh mk/package.sh $(BUILD)/deb

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/pdm
	rm -f $(patsubst docs/man/%,$(DESTDIR)$(MANDIR)/man8/%,$(MAN_PAGES))
	rm -f $(patsubst include/pdm/%,$(DESTDIR)$(INCLUDEDIR)/pdm/%,$(PUB_HEADERS))
	[ ! -d $(DESTDIR)$(INCLUDEDIR)/pdm ] || rmdir $(DESTDIR)$(INCLUDEDIR)/pdm
	rm -f $(DESTDIR)$(LIBDIR)/libpdm.a $(DESTDIR)$(LIBDIR)/libpdm.so.$(VERSION) \
		$(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libpdm.so
	rm -f $(DESTDIR)$(PKGCONFIGDIR)/pdm.pc $(DESTDIR)$(SYSTEMDDIR)/pdm-registrar.service \
		$(DESTDIR)$(SYSTEMDDIR)/pdm-agent.service
ifneq ($(WS_PKG),)
	rm -f $(DESTDIR)$(WS_PLUGINDIR)/pdmv2.so
endif

$(LIBPDM): $(LIB_OBJ)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(LIBTOOLS): $(TOOLS_OBJ)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(PDM): $(BUILD)/tools/pdm.o $(LIBTOOLS) $(LIBPDM)
	@[ "$(V)" != 0 ] || echo "  LD    $@"
	$(Q)$(CC) $(LDFLAGS_SAN) $(LDFLAGS) -o $@ $^ $(TOOL_LIBS) $(LDLIBS_ALL)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIBTOOLS) $(LIBPDM)
	@[ "$(V)" != 0 ] || echo "  LD    $@"
	$(Q)$(CC) $(LDFLAGS_SAN) $(LDFLAGS) -o $@ $^ $(TOOL_LIBS) $(LDLIBS_ALL)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIBTOOLS) $(LIBPDM)
	@[ "$(V)" != 0 ] || echo "  LD    $@"
	$(Q)$(CC) $(LDFLAGS_SAN) $(LDFLAGS) -o $@ $^ $(TOOL_LIBS) $(LDLIBS_ALL)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# Feature fragments (mk/*.mk): each adds its own rules and appends to
# ALL_EXTRA (built by `all`), so features don't edit this file's lists.
ALL_EXTRA :=
include $(sort $(wildcard mk/*.mk))
all: $(ALL_EXTRA)

# The build's configuration: its flags and the optional features found
# (mk/*.mk add theirs to TOOL_LIBS). Every object depends on $(BUILD)/config,
# rewritten only when this changes, so a tree built before `make deps`
# installed clang-16 or libbpf is rebuilt with them: make alone does not
# see a changed flag, and the agent would keep its NFQUEUE-only objects.
BUILD_CONFIG := $(CC) $(CFLAGS_ALL) | $(TOOL_LIBS) $(LDLIBS_ALL) | ws=$(WS_PKG) \
	bpf=$(BPF_OK) $(BPF_CLANG) $(BPF_AEAD_CLANG) $(BPF_AESSW_CLANG) $(BPF_DEPFLAGS) \
	ebpf=$(EBPF_OK) mhd=$(MHD_PKG)
ifeq ($(filter clean deps format lint,$(MAKECMDGOALS)),)
ifneq ($(BUILD_CONFIG),$(file <$(BUILD)/config))
$(shell mkdir -p $(BUILD))
$(file >$(BUILD)/config,$(BUILD_CONFIG))
endif
endif
$(BUILD)/config: ;

deps:
	@sh mk/deps.sh

check: deps
	@python3 mk/lint.py
	@$(MAKE) --no-print-directory all BUILD=build
	@$(MAKE) --no-print-directory tests BUILD=build-san SAN=1 OPT="-O1 -g"
	@sh tests/run.sh build build-san

demo: deps
	@$(MAKE) --no-print-directory all BUILD=build
	@sh mk/demo.sh build

# libFuzzer targets: clang, ASan+UBSan, one binary per fuzz/fuzz_*.c.
FUZZ_BUILD := build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -O1 -g -Iinclude -Ilib $(CRYPTO_CFLAGS) \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
fuzz-build: deps
	@mkdir -p $(FUZZ_BUILD)
	@for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
	  echo "  FUZZ  $$n"; \
	  clang $(FUZZ_CFLAGS) -o $(FUZZ_BUILD)/$$n $$f $(LIB_SRC) $(CRYPTO_LIBS) || exit 1; done
fuzz: fuzz-build
	@sh mk/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

bench: deps
	@$(MAKE) --no-print-directory all BUILD=build-bench OPT="-O2 -g -march=native"
	@sh bench/run.sh build-bench

format:
	clang-format -i $$(git ls-files -co --exclude-standard '*.c' '*.h')

# House rules: formatting, file and function sizes (mk/lint.py).
lint:
	@python3 mk/lint.py

clean:
	rm -rf build build-san build-bench build-fuzz
