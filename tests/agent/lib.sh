# Shared by tests/it_agent*.sh and bench/agent.sh (sourced, POSIX sh).
#
# Two network namespaces A and B joined by a veth pair (MTU 1500):
#   A: va  2001:db8:1::1/64 (enabled)   2001:db8:2::1/64 (not enabled)
#   B: vb  2001:db8:1::2/64 (enabled)   2001:db8:2::2/64 (not enabled)
# Everything made here is named after the test's pid and removed by
# t_cleanup (called from an EXIT trap): processes by their pid, then the
# namespaces (which takes their veths and netfilter rules with them).

# The counting (ok, bad, check, skip, add_result, t_result) is tests/lib.sh's.
. tests/lib.sh
T_PIDS=""
T_NS=""
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
A1=2001:db8:1::1
B1=2001:db8:1::2
A2=2001:db8:2::1
B2=2001:db8:2::2

# Remembers a background process to stop at cleanup.
t_track() {
    T_PIDS="$T_PIDS $1"
}

t_cleanup() {
    for _p in $T_PIDS; do
        kill "$_p" 2>/dev/null
    done
    sleep 0.2
    for _p in $T_PIDS; do
        kill -9 "$_p" 2>/dev/null
    done
    for _n in $T_NS; do
        ip netns del "$_n" 2>/dev/null
    done
    [ -n "${T_DIR:-}" ] && rm -rf "$T_DIR"
}

# t_netns SUFFIX: creates the two namespaces NA and NB and the veth pair.
t_netns() {
    NA=opdm-a-$1
    NB=opdm-b-$1
    T_NS="$T_NS $NA $NB"
    ip netns add "$NA" || return 1
    ip netns add "$NB" || return 1
    ip link add va netns "$NA" mtu 1500 type veth peer name vb netns "$NB" mtu 1500 || return 1
    ip -n "$NA" link set lo up
    ip -n "$NB" link set lo up
    ip -n "$NA" link set va up
    ip -n "$NB" link set vb up
    ip -n "$NA" addr add $A1/64 dev va nodad
    ip -n "$NA" addr add $A2/64 dev va nodad
    ip -n "$NB" addr add $B1/64 dev vb nodad
    ip -n "$NB" addr add $B2/64 dev vb nodad
    # Neighbours up front: the first packets of a test then go straight out.
    ip netns exec "$NA" ping -6 -c 1 -W 2 $B1 >/dev/null 2>&1
    ip netns exec "$NA" ping -6 -c 1 -W 2 $B2 >/dev/null 2>&1
    return 0
}

# wait_for FILE TEXT [TENTHS]: waits until FILE contains TEXT.
wait_for() {
    _i=0
    while [ "$_i" -lt "${3:-50}" ]; do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
        _i=$((_i + 1))
    done
    return 1
}

# hex32: 32 random bytes in hex (a secret for a PDMV2_SECRET key-log line).
hex32() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# ebpf_ok [ARGS...]: an agent in $NA with --peer $B1 --datapath ebpf ARGS
# starts ("agent: ready"), so this build and kernel run the fast path; its
# stderr stays in $T_DIR/probe.err for the caller's SKIP reason.
ebpf_ok() {
    rm -f "$T_DIR/probe.err"
    ip netns exec "$NA" timeout 10 "$PDM" agent --peer "$B1" --datapath ebpf "$@" \
        --control "$T_DIR/probe.sock" >/dev/null 2>"$T_DIR/probe.err" &
    _p=$!
    wait_for "$T_DIR/probe.err" "agent: ready\|agent: --datapath\|error" 60
    kill $_p 2>/dev/null
    wait $_p 2>/dev/null
    grep -q "agent: ready" "$T_DIR/probe.err"
}

# start_agent NS NAME ARGS...: runs `pdm agent ARGS` in NS with its status
# socket and stderr under $T_DIR/NAME.*; sets AGENT_PID. Returns 1 when it
# did not say "ready".
start_agent() {
    _ns=$1
    _name=$2
    shift 2
    # Removed first: the redirection below truncates it only once the child
    # runs, and a "ready" left by an earlier agent must not be read.
    rm -f "$T_DIR/$_name.err"
    ip netns exec "$_ns" "$PDM" agent --control "$T_DIR/$_name.sock" "$@" \
        2>"$T_DIR/$_name.err" &
    AGENT_PID=$!
    t_track $AGENT_PID
    if ! wait_for "$T_DIR/$_name.err" "agent: ready"; then
        cat "$T_DIR/$_name.err" >&2
        return 1
    fi
    return 0
}

# stop_pid PID SIGNAL: sends SIGNAL and waits for the process, at most 10
# s (then SIGKILL), so that a stuck agent cannot hang a test. Sets STOP_RC
# to its exit status (128 + n when killed by signal n).
stop_pid() {
    kill -"$2" "$1" 2>/dev/null
    _i=0
    while [ $_i -lt 100 ] && [ -e "/proc/$1" ] &&
        [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != Z ]; do
        sleep 0.1
        _i=$((_i + 1))
    done
    if [ $_i -ge 100 ]; then
        echo "FAIL process $1 ignored SIG$2 for 10 s: killed" >&2
        T_FAIL=$((T_FAIL + 1))
        kill -9 "$1" 2>/dev/null
    fi
    wait "$1" 2>/dev/null
    STOP_RC=$?
}

# counter NAME FIELD: a counter from `pdm agent --status`.
counter() {
    "$PDM" agent --status --control "$T_DIR/$1.sock" | awk -v k="$2" '$1 == k { print $2 }'
}

# no_rules NS: the agent's nft table and ip6tables chains are gone.
no_rules() {
    if ip netns exec "$1" nft list table ip6 openpdm >/dev/null 2>&1; then
        return 1
    fi
    ! ip netns exec "$1" ip6tables -w -t mangle -S 2>/dev/null | grep -q OPENPDM
}

# has_rules NS
has_rules() {
    ip netns exec "$1" nft list table ip6 openpdm >/dev/null 2>&1 ||
        ip netns exec "$1" ip6tables -w -t mangle -S 2>/dev/null | grep -q OPENPDM
}

# caps_only_net_admin PID: every thread of PID (at least $2 of them) has
# CAP_NET_ADMIN (bit 12) alone in its effective, permitted and bounding
# sets, and no inheritable or ambient capability (/proc/PID/task/*/status).
caps_only_net_admin() {
    _n=0
    for _s in /proc/"$1"/task/*/status; do
        awk '/^Cap(Eff|Prm|Bnd):/ && $2 != "0000000000001000" { bad = 1 }
             /^Cap(Inh|Amb):/ && $2 != "0000000000000000" { bad = 1 }
             END { exit bad }' "$_s" || return 1
        _n=$((_n + 1))
    done
    [ "$_n" -ge "${2:-1}" ]
}
