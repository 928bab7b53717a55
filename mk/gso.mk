# GSO for the tc-eBPF data path (issue 10 item 3, docs/agent.md "GSO"):
# bpf/gso.h is part of pdm.bpf.o; tools/agent/gso.c (the segmenting veth
# pairs, called by ebpf.c) is built with the other tools/ sources.
ifeq ($(BPF_OK),yes)
$(BPF_OUT)/pdm.bpf.o: bpf/gso.h
endif

