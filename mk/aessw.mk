# Software AES for the tc-eBPF path (bpf/aes_soft.h, issue 10 item 2): the
# test object $(BUILD)/bpf-aessw/test_aes_soft.bpf.o for
# tests/test_bpf_aes_soft.c and bench/bench_bpf_aes_soft.c, and libbpf for
# them. Same toolchain as mk/bpf-aead.mk (clang >= 15: the object's key
# slots carry aead.h's crypto context kptr, for the kfunc figures side by
# side), found here again because this fragment is included before that
# one; vmlinux.h goes into this feature's own directory. Without the
# toolchain nothing of this is built and the test and bench SKIP.
BPF_AESSW_CLANG ?= $(firstword $(foreach c,clang-19 clang-18 clang-17 clang-16 clang-15,\
	$(shell command -v $(c) 2>/dev/null)))
BPF_AESSW_BPFTOOL ?= $(firstword $(shell command -v bpftool 2>/dev/null) \
	$(wildcard /usr/sbin/bpftool /sbin/bpftool))
BPF_AESSW_LIBBPF := $(shell pkg-config --exists libbpf 2>/dev/null && echo 1)
BPF_AESSW_BTF := $(wildcard /sys/kernel/btf/vmlinux)
BPF_AESSW_ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
BPF_AESSW_DIR := $(BUILD)/bpf-aessw
BPF_AESSW_OBJ := $(BPF_AESSW_DIR)/test_aes_soft.bpf.o
BPF_AESSW_OBJ_FT := $(BPF_AESSW_DIR)/test_aes_soft_ft.bpf.o

ifeq ($(BPF_AESSW_LIBBPF),1)
BPF_AESSW_USERS := $(BUILD)/tests/test_bpf_aes_soft $(BUILD)/bench/bench_bpf_aes_soft
$(BPF_AESSW_USERS:%=%.o): CFLAGS_ALL += -DPDM_HAVE_LIBBPF $(shell pkg-config --cflags libbpf)
$(BPF_AESSW_USERS): LDLIBS_ALL += $(shell pkg-config --libs libbpf)
endif

ifneq ($(and $(BPF_AESSW_CLANG),$(BPF_AESSW_BPFTOOL),$(BPF_AESSW_LIBBPF),$(BPF_AESSW_BTF)),)
ALL_EXTRA += $(BPF_AESSW_OBJ) $(BPF_AESSW_OBJ_FT)
$(BPF_AESSW_USERS): | $(BPF_AESSW_OBJ) $(BPF_AESSW_OBJ_FT)

$(BPF_AESSW_DIR)/vmlinux.h:
	@mkdir -p $(dir $@)
	@[ "$(V)" != 0 ] || echo "  GEN   $@"
	$(Q)$(BPF_AESSW_BPFTOOL) btf dump file $(BPF_AESSW_BTF) format c > $@.tmp && mv $@.tmp $@

# The same object with the fixed-time cipher (-DPDM_AES_SOFT_FIXED_TIME).
$(BPF_AESSW_OBJ_FT): BPF_AESSW_DEFS := -DPDM_AES_SOFT_FIXED_TIME
$(BPF_AESSW_OBJ) $(BPF_AESSW_OBJ_FT): bpf/test_aes_soft.bpf.c $(BPF_AESSW_DIR)/vmlinux.h $(BUILD)/config
	@mkdir -p $(dir $@)
	@[ "$(V)" != 0 ] || echo "  BPF   $@"
	$(Q)$(BPF_AESSW_CLANG) -g -O2 -target bpf -mcpu=v3 $(BPF_DEPFLAGS) -D__TARGET_ARCH_$(BPF_AESSW_ARCH) \
		-Wall -Werror $(BPF_AESSW_DEFS) -I$(BPF_AESSW_DIR) -Ibpf \
		$(shell pkg-config --cflags libbpf) -c $< -o $@
endif
