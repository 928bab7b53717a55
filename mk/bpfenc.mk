# v2-encrypted in the tc-eBPF data path (bpf/pdm_v2enc.h, issue 10 item 2):
# the test object $(BUILD)/bpf-v2enc/test_v2enc.bpf.o for
# tests/test_bpf_v2enc.c and bench/bench_bpf_v2enc.c, and libbpf for them
# and for tools/agent/ebpf_keys.c (the keys in user space). Same toolchain
# as mk/bpf-aead.mk (clang >= 15 for the kptr), whose variables it uses;
# without it nothing of this is built and the test and bench SKIP.
BPF_V2ENC_DIR := $(BUILD)/bpf-v2enc
BPF_V2ENC_OBJ := $(BPF_V2ENC_DIR)/test_v2enc.bpf.o

ifeq ($(BPF_AEAD_LIBBPF),1)
BPF_V2ENC_USERS := $(BUILD)/tests/test_bpf_v2enc $(BUILD)/bench/bench_bpf_v2enc
$(BPF_V2ENC_USERS:%=%.o) $(BUILD)/tools/agent/ebpf_keys.o $(BUILD)/tools/agent/ebpf_ks.o: CFLAGS_ALL += -DPDM_HAVE_LIBBPF \
	$(shell pkg-config --cflags libbpf)
TOOL_LIBS += $(shell pkg-config --libs libbpf)
endif

ifneq ($(and $(BPF_AEAD_CLANG),$(BPF_AEAD_BPFTOOL),$(BPF_AEAD_LIBBPF),$(BPF_AEAD_BTF)),)
ALL_EXTRA += $(BPF_V2ENC_OBJ)
$(BPF_V2ENC_USERS): | $(BPF_V2ENC_OBJ)
ifeq ($(BPF_OK),yes)
$(BUILD)/bench/bench_bpf_v2enc: | $(BUILD)/bpf/pdm.bpf.o
endif

$(BPF_V2ENC_OBJ): bpf/test_v2enc.bpf.c $(BPF_AEAD_DIR)/vmlinux.h $(BUILD)/config
	@mkdir -p $(dir $@)
	@[ "$(V)" != 0 ] || echo "  BPF   $@"
	$(Q)$(BPF_AEAD_CLANG) -g -O2 -target bpf -mcpu=v3 $(BPF_DEPFLAGS) -D__TARGET_ARCH_$(BPF_AEAD_ARCH) \
		-DPDM_V2ENC_FLOWS=1024 -I$(BPF_AEAD_DIR) -Ibpf $(shell pkg-config --cflags libbpf) \
		-c $< -o $@
endif
