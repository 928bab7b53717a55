#!/bin/sh
# The tc-eBPF programs (bpf/pdm.bpf.c, issue 10) pass this kernel's verifier:
# each program of build/bpf/pdm.bpf.o is loaded (type from its section) with bpftool and
# unloaded again. Nothing attaches them to a device here (tests/it_ebpf.sh runs
# them through the agent's loader), so this checks only what the verifier
# accepts: the programs' size and loops sit close to its limits
# (docs/fastpath-design.md).
#
#   sh tests/it_bpf_load.sh BUILD_DIR      (from the repository root)
#
# Pins go to a private bpffs mount, unmounted at the end.
#
# Ends with "RESULT <passed> <failed> <skipped>".
set -u
. tests/lib.sh
t_pdm_arg "$@"
OBJ=$1/bpf/pdm.bpf.o
BPFTOOL=$(command -v bpftool 2>/dev/null || ls /usr/sbin/bpftool 2>/dev/null)
LOG=$(mktemp)

if [ "$(id -u)" != 0 ]; then
    skip "bpf load: needs root"
elif [ ! -f "$OBJ" ]; then
    skip "bpf load: $OBJ not built (no BPF clang, bpftool or kernel BTF at build time)"
elif [ -z "$BPFTOOL" ]; then
    skip "bpf load: bpftool not installed"
else
    # A private bpffs of the test's own: pins go there and vanish with it.
    MNT=$(mktemp -d)
    PIN=$MNT/p
    trap 'umount "$MNT" 2>/dev/null; rmdir "$MNT" 2>/dev/null; rm -f "$LOG"' EXIT INT TERM
    check "a private bpffs mounts" mount -t bpf bpf "$MNT"
    check "bpftool loads every program of pdm.bpf.o (verifier)" \
        sh -c "'$BPFTOOL' prog loadall '$OBJ' '$PIN' >'$LOG' 2>&1"
    n=$(ls "$PIN" 2>/dev/null | wc -l)
    echo "INFO programs loaded: $n ($(ls "$PIN" 2>/dev/null | tr '\n' ' '))"
    check "an egress and an ingress program loaded" [ "$n" -ge 2 ]
    [ "$n" -ge 2 ] || tail -n 20 "$LOG"
    umount "$MNT"
    check "bpffs unmounted (nothing left loaded)" sh -c "! mountpoint -q '$MNT'"
    rmdir "$MNT"
fi
rm -f "$LOG"
t_result
