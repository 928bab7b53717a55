# Flow keys derived in BPF (bpf/kdf.h, issue 10 item 2): the test object
# $(BUILD)/bpf-kdf/test_kdf.bpf.o for tests/test_bpf_kdf.c and
# bench/bench_bpf_kdf.c, and libbpf for them. Same toolchain as
# mk/bpf-aead.mk, whose variables (and vmlinux.h) it uses; without it the
# object is not built and the BPF parts of the test and the bench SKIP.
BPF_KDF_DIR := $(BUILD)/bpf-kdf
BPF_KDF_OBJ := $(BPF_KDF_DIR)/test_kdf.bpf.o

ifeq ($(BPF_AEAD_LIBBPF),1)
BPF_KDF_USERS := $(BUILD)/tests/test_bpf_kdf $(BUILD)/bench/bench_bpf_kdf
$(BPF_KDF_USERS:%=%.o): CFLAGS_ALL += -DPDM_HAVE_LIBBPF $(shell pkg-config --cflags libbpf)
$(BPF_KDF_USERS): LDLIBS_ALL += $(shell pkg-config --libs libbpf)
endif

ifneq ($(and $(BPF_AEAD_CLANG),$(BPF_AEAD_BPFTOOL),$(BPF_AEAD_LIBBPF),$(BPF_AEAD_BTF)),)
ALL_EXTRA += $(BPF_KDF_OBJ)
$(BPF_KDF_USERS): | $(BPF_KDF_OBJ)

$(BPF_KDF_OBJ): bpf/test_kdf.bpf.c $(BPF_AEAD_DIR)/vmlinux.h $(BUILD)/config
	@mkdir -p $(dir $@)
	@[ "$(V)" != 0 ] || echo "  BPF   $@"
	$(Q)$(BPF_AEAD_CLANG) -g -O2 -target bpf -mcpu=v3 $(BPF_DEPFLAGS) -D__TARGET_ARCH_$(BPF_AEAD_ARCH) \
		-I$(BPF_AEAD_DIR) -Ibpf $(shell pkg-config --cflags libbpf) -c $< -o $@
endif
