# bench/bench_gso.sh's designs other than the agent's: pdm.bpf.o loaded and
# pinned by bpftool in a private bpffs, pdm_egress and pdm_ingress on a
# device through tc clsact, one enabled peer in the peers map (no segmenting
# pair: super-packets go out unmarked unless something else segments them).
# Sourced after tests/agent/lib.sh (T_DIR).

# The instance the functions act on: one per namespace (GSO_P=b for a second).
GSO_P=p
GSO_BPFTOOL=$(command -v bpftool 2>/dev/null || ls /usr/sbin/bpftool 2>/dev/null)

# hexbytes ADDR: the 16 bytes of an IPv6 address as bpftool's hex words.
gso_hex6() {
    python3 -c 'import ipaddress,sys;print(" ".join("%02x"%b for b in ipaddress.IPv6Address(sys.argv[1]).packed))' "$1"
}

# gso_le32 N: N as 4 little-endian hex bytes.
gso_le32() {
    printf '%02x %02x %02x %02x' $(($1 & 255)) $((($1 >> 8) & 255)) $((($1 >> 16) & 255)) \
        $((($1 >> 24) & 255))
}

# gso_mount: a private bpffs at $GSO_MNT (gso_umount removes it). No dot
# in its path: libbpf turns dots of a pin path into underscores.
gso_mount() {
    GSO_MNT=$(mktemp -d /tmp/openpdm-gso-bpffs-XXXXXX) && mount -t bpf bpf "$GSO_MNT"
}

gso_umount() {
    [ -n "${GSO_MNT:-}" ] && umount "$GSO_MNT" 2>/dev/null && rmdir "$GSO_MNT"
    GSO_MNT=
}

# gso_load OBJ NS DEV PEER MODE: loads pdm.bpf.o afresh into $GSO_MNT/$GSO_P
# (maps in $GSO_MNT/${GSO_P}m), attaches egress and ingress on DEV in NS, and
# enables PEER (/128) in MODE (1 pdm, 2 v2).
gso_load() {
    rm -rf "$GSO_MNT/$GSO_P" "$GSO_MNT/${GSO_P}m"
    mkdir "$GSO_MNT/${GSO_P}m" || return 1
    # No "type tc": the object also has a syscall program (the key install).
    "$GSO_BPFTOOL" prog loadall "$1" "$GSO_MNT/$GSO_P" pinmaps "$GSO_MNT/${GSO_P}m" ||
        return 1
    "$GSO_BPFTOOL" map update pinned "$GSO_MNT/${GSO_P}m/peers" \
        key hex 80 00 00 00 $(gso_hex6 "$4") value hex 0$5 00 00 00 || return 1
    ip netns exec "$2" tc qdisc add dev "$3" clsact &&
        ip netns exec "$2" tc filter add dev "$3" egress bpf da pinned "$GSO_MNT/$GSO_P/pdm_egress" &&
        ip netns exec "$2" tc filter add dev "$3" ingress bpf da pinned "$GSO_MNT/$GSO_P/pdm_ingress"
}

# gso_unload NS DEV: detaches and forgets the programs.
gso_unload() {
    ip netns exec "$1" tc qdisc del dev "$2" clsact 2>/dev/null
    rm -rf "$GSO_MNT/$GSO_P" "$GSO_MNT/${GSO_P}m"
}

# gso_counter I: the sum over CPUs of counter I of the loaded programs.
gso_counter() {
    "$GSO_BPFTOOL" -j map lookup pinned "$GSO_MNT/${GSO_P}m/counters" key hex $(gso_le32 "$1") |
        python3 -c 'import json,sys
d=json.load(sys.stdin)
v=d.get("values") or d.get("formatted",{}).get("values") or []
t=0
for e in v:
    x=e.get("value")
    t+= int.from_bytes(bytes(int(b,16) for b in x),"little") if isinstance(x,list) else int(x)
print(t)'
}
