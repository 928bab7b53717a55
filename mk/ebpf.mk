# The loader of the tc-eBPF fast path (tools/agent/ebpf.c, `pdm agent
# --datapath ebpf`): compiled against the skeleton mk/bpf.mk generates and
# linked with libbpf when both are there; otherwise ebpf.c builds without
# them and the agent keeps NFQUEUE only (--datapath ebpf then says so).
EBPF_OK := $(if $(and $(filter yes,$(BPF_OK)),$(shell $(PKG_CONFIG) --exists libbpf && echo yes)),yes)

ifeq ($(EBPF_OK),yes)
# The skeleton as a system header: its generated code is not held to our
# warning set.
$(BUILD)/tools/agent/ebpf.o: CFLAGS_ALL += -DPDM_AGENT_EBPF -isystem $(BPF_OUT) -Ibpf \
	$(shell $(PKG_CONFIG) --cflags libbpf)
$(BUILD)/tools/agent/ebpf.o: $(BPF_OUT)/pdm.skel.h
TOOL_LIBS += $(shell $(PKG_CONFIG) --libs libbpf)
endif

# bench/bench_ebpf_prog.c: the egress program's cost through
# BPF_PROG_TEST_RUN, from the same skeleton.
ifeq ($(EBPF_OK),yes)
$(BUILD)/bench/bench_ebpf_prog.o: CFLAGS_ALL += -DPDM_AGENT_EBPF -isystem $(BPF_OUT) -Ibpf \
	$(shell $(PKG_CONFIG) --cflags libbpf)
$(BUILD)/bench/bench_ebpf_prog.o: $(BPF_OUT)/pdm.skel.h
$(BUILD)/bench/bench_ebpf_prog: LDLIBS_ALL += $(shell $(PKG_CONFIG) --libs libbpf)
endif
