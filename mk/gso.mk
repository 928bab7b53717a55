# GSO for the tc-eBPF data path (issue 10 item 3, docs/agent.md "GSO"):
# bpf/gso.h is part of pdm.bpf.o; tools/agent/gso.c (the segmenting veth
# pairs) is built with the other tools/ sources.
ifeq ($(BPF_OK),yes)
$(BPF_OUT)/pdm.bpf.o: bpf/gso.h
endif

# tests/gso_attach: gso.c on its own for tests/it_gso.sh and bench/bench_gso.sh.
GSO_ATTACH := $(BUILD)/tests/gso_attach
ALL_EXTRA += $(GSO_ATTACH)
$(GSO_ATTACH): $(BUILD)/tests/gso_attach.o $(LIBTOOLS)
	$(Q)$(CC) $(LDFLAGS_SAN) $(LDFLAGS) -o $@ $^ $(call pc_libs,libmnl)
