# The tc-eBPF data path (bpf/pdm.bpf.c, issue 10): built when clang, bpftool
# and the kernel's BTF are there; CO-RE against $(BUILD)/bpf/vmlinux.h from
# bpftool btf dump, skeleton by bpftool gen skeleton. Without them the build
# goes on without it (the agent keeps NFQUEUE). The loader: mk/ebpf.mk.
# Every BPF object (here and in the other mk/*.mk) is compiled with
# $(BPF_DEPFLAGS) and depends on $(BUILD)/config: the Makefile includes the
# .d files, so its rules list the source and vmlinux.h only and an edited
# header rebuilds what includes it; a tree built before a flag or compiler
# changed is rebuilt (the flags are part of the configuration).
BPF_DEPFLAGS := -MMD -MP
BPF_CLANG ?= $(shell command -v clang-16 2>/dev/null || command -v clang 2>/dev/null)
BPFTOOL ?= $(shell command -v bpftool 2>/dev/null || ls /usr/sbin/bpftool 2>/dev/null)
BPF_VMLINUX_BTF ?= /sys/kernel/btf/vmlinux
BPF_OK := $(if $(and $(BPF_CLANG),$(BPFTOOL),$(wildcard $(BPF_VMLINUX_BTF))),yes)
BPF_OUT := $(BUILD)/bpf

ifeq ($(BPF_OK),yes)
$(BPF_OUT)/vmlinux.h:
	@mkdir -p $(dir $@)
	@[ "$(V)" != 0 ] || echo "  BTF   $@"
	$(Q)$(BPFTOOL) btf dump file $(BPF_VMLINUX_BTF) format c >$@.tmp && mv $@.tmp $@

$(BPF_OUT)/pdm.bpf.o: bpf/pdm.bpf.c $(BPF_OUT)/vmlinux.h $(BUILD)/config
	@[ "$(V)" != 0 ] || echo "  BPF   $<"
	$(Q)$(BPF_CLANG) -target bpf -mcpu=v3 $(BPF_DEPFLAGS) -O2 -g -Wall -Werror -I$(BPF_OUT) -Ibpf -c $< -o $@

$(BPF_OUT)/pdm.skel.h: $(BPF_OUT)/pdm.bpf.o
	@[ "$(V)" != 0 ] || echo "  SKEL  $@"
	$(Q)$(BPFTOOL) gen skeleton $< name pdm_bpf >$@.tmp && mv $@.tmp $@

ALL_EXTRA += $(BPF_OUT)/pdm.skel.h
endif
