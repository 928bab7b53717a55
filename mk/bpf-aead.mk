# The profile's AEADs in BPF (bpf/aead.h): the test object
# $(BUILD)/bpf-aead/test_aead.bpf.o and libbpf for tests/test_bpf_aead.c
# and bench/bench_bpf_aead.c. clang >= 15 is needed (clang-14 emits the
# __kptr type tag in an order the kernel rejects: "R1 has no valid kptr").
# Without clang, bpftool, libbpf or the kernel's BTF nothing BPF is built
# and the test and the bench SKIP. vmlinux.h is generated into this
# feature's own directory so it cannot clash with another fragment's rule.

BPF_AEAD_CLANG ?= $(firstword $(foreach c,clang-19 clang-18 clang-17 clang-16 clang-15,\
	$(shell command -v $(c) 2>/dev/null)))
BPF_AEAD_BPFTOOL ?= $(firstword $(shell command -v bpftool 2>/dev/null) \
	$(wildcard /usr/sbin/bpftool /sbin/bpftool))
BPF_AEAD_LIBBPF := $(shell pkg-config --exists libbpf 2>/dev/null && echo 1)
BPF_AEAD_BTF := $(wildcard /sys/kernel/btf/vmlinux)
BPF_AEAD_DIR := $(BUILD)/bpf-aead
BPF_AEAD_OBJ := $(BPF_AEAD_DIR)/test_aead.bpf.o
BPF_AEAD_ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

ifeq ($(BPF_AEAD_LIBBPF),1)
BPF_AEAD_USERS := $(BUILD)/tests/test_bpf_aead $(BUILD)/bench/bench_bpf_aead
$(BPF_AEAD_USERS:%=%.o): CFLAGS_ALL += -DPDM_HAVE_LIBBPF $(shell pkg-config --cflags libbpf)
$(BPF_AEAD_USERS): LDLIBS_ALL += $(shell pkg-config --libs libbpf)
endif

ifneq ($(and $(BPF_AEAD_CLANG),$(BPF_AEAD_BPFTOOL),$(BPF_AEAD_LIBBPF),$(BPF_AEAD_BTF)),)
ALL_EXTRA += $(BPF_AEAD_OBJ)
# `make tests` (the sanitizer build of `make check`) builds the object too.
$(BPF_AEAD_USERS): | $(BPF_AEAD_OBJ)

$(BPF_AEAD_DIR)/vmlinux.h:
	@mkdir -p $(dir $@)
	@[ "$(V)" != 0 ] || echo "  GEN   $@"
	$(Q)$(BPF_AEAD_BPFTOOL) btf dump file $(BPF_AEAD_BTF) format c > $@.tmp && mv $@.tmp $@

$(BPF_AEAD_OBJ): bpf/test_aead.bpf.c $(BPF_AEAD_DIR)/vmlinux.h $(BUILD)/config
	@[ "$(V)" != 0 ] || echo "  BPF   $@"
	$(Q)$(BPF_AEAD_CLANG) -g -O2 -target bpf -mcpu=v3 $(BPF_DEPFLAGS) -D__TARGET_ARCH_$(BPF_AEAD_ARCH) \
		-I$(BPF_AEAD_DIR) -Ibpf $(shell pkg-config --cflags libbpf) -c $< -o $@
endif
