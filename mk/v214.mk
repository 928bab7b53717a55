# Engineer v214: draft -14 in the tc-eBPF data path (bpf/pdm_v214.h, included
# by bpf/pdm.bpf.c; mk/bpf.mk has the rule).
ifeq ($(BPF_OK),yes)
$(BPF_OUT)/pdm.bpf.o: bpf/pdm_v214.h
endif
