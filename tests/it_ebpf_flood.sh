#!/bin/sh
# tests/it_flood.sh with both agents on the tc-eBPF fast path
# (`--datapath ebpf`): a million forged PDMv2 options and a primary prefix's
# forged sources against B while a legitimate 8 MB TCP transfer goes
# through; the checks of that path are in it_flood.sh (FLOOD_DATAPATH).
#
#   sh tests/it_ebpf_flood.sh BUILD_DIR     (as root, from the repository root)
#
# Ends with "RESULT <passed> <failed> [<skipped>]". Bounded: about 30-60 s.
FLOOD_DATAPATH=ebpf exec sh tests/it_flood.sh "$@"
