# The tc-eBPF data path (bpf/pdm.bpf.c, issue 10): built when clang, bpftool
# and the kernel's BTF are there; CO-RE against $(BUILD)/bpf/vmlinux.h from
# bpftool btf dump, skeleton by bpftool gen skeleton. Without them the build
# goes on without it (the agent keeps NFQUEUE). The loader: mk/ebpf.mk.
# Every BPF object is compiled with -MMD -MP: the Makefile includes the .d
# files, so an edited header rebuilds it even if no rule below lists it.
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

$(BPF_OUT)/pdm.bpf.o: bpf/pdm.bpf.c bpf/pdm_bpf.h $(BPF_OUT)/vmlinux.h
	@[ "$(V)" != 0 ] || echo "  BPF   $<"
	$(Q)$(BPF_CLANG) -target bpf -mcpu=v3 -MMD -MP -O2 -g -Wall -Werror -I$(BPF_OUT) -Ibpf -c $< -o $@

$(BPF_OUT)/pdm.skel.h: $(BPF_OUT)/pdm.bpf.o
	@[ "$(V)" != 0 ] || echo "  SKEL  $@"
	$(Q)$(BPFTOOL) gen skeleton $< name pdm_bpf >$@.tmp && mv $@.tmp $@

ALL_EXTRA += $(BPF_OUT)/pdm.skel.h
endif
