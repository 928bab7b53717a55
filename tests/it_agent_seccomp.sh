#!/bin/sh
# The agent's privileges while it marks traffic (docs/security.md §1, §2),
# read off /proc/PID/task/*/status of a running agent in a namespace:
#
#   - default (root): Seccomp 2; the main thread one filter (the deny-list
#     of tools/agent/sandbox.c: it runs nft at exit), each queue thread two
#     (that, and its allow-list); uid 0, CapEff CAP_NET_ADMIN alone, nothing
#     ambient;
#   - --user nobody: every thread nobody's uid and gid, CAP_NET_ADMIN
#     effective and ambient, queue threads Seccomp 2; v2 packets marked; at
#     SIGTERM its rules go (nft, then ip6tables, run as nobody with the
#     ambient capability), status 0;
#   - started as nobody with ambient CAP_NET_ADMIN (setpriv): kept ambient,
#     marks, rules removed at SIGTERM;
#   - v2-encrypted at both ends as nobody: sealed and opened under the filter;
#   - PDM_TEST_FORBIDDEN_SYSCALL=1: the first packet makes a queue thread
#     call umount2, and the filter kills the agent (status 128 + SIGSYS);
#     with --no-seccomp the same call is let through and it keeps marking;
#   - the registrar beside it: Seccomp 2, nobody, no capability.
#
#   sh tests/it_agent_seccomp.sh BUILD_DIR      (as root, from the repository root)
#
# Ends with "RESULT <passed> <failed> <skipped>".
set -u
. tests/agent/lib.sh
t_pdm_arg "$@"
T_DIR=$(mktemp -d /tmp/openpdm-it-agent-seccomp.XXXXXX)
# nobody's agent (started unprivileged) makes its status socket here.
chmod 1777 "$T_DIR"
trap 't_cleanup' EXIT
trap 'exit 1' INT TERM HUP

# field STATUS_FILE NAME: one field of a /proc status file.
field() {
    awk -v k="$2:" '$1 == k { print $2; exit }' "$1" 2>/dev/null
}

# seccomp STATUS_FILE: "MODE/FILTERS" of a thread, e.g. "2/1" (Seccomp and,
# on Linux 5.9 and later, Seccomp_filters: how many filters are stacked on it).
seccomp() {
    echo "$(field "$1" Seccomp)/$(field "$1" Seccomp_filters)"
}

# want_seccomp N: the seccomp() of a thread with N filters ("0/0", "2/1",
# "2/2"), the count left out on kernels without Seccomp_filters.
want_seccomp() {
    if [ -z "$(field /proc/self/status Seccomp_filters)" ]; then
        [ "$1" = 0 ] && echo 0/ || echo 2/
    elif [ "$1" = 0 ]; then
        echo 0/0
    else
        echo "2/$1"
    fi
}

# threads PID WANT_MAIN WANT_QUEUE WANT_UID WANT_AMB MIN_QUEUE: the main
# thread (tid = pid) has WANT_MAIN seccomp filters (its deny-list: 1), every
# other thread (at least MIN_QUEUE of them) WANT_QUEUE (the deny-list it
# inherited and its allow-list: 2); all of them real, effective, saved and
# fs uid WANT_UID, CapEff and CapPrm CAP_NET_ADMIN alone, CapAmb WANT_AMB.
# Says what differs.
threads() {
    _nq=0
    for _d in /proc/"$1"/task/*; do
        _s=$_d/status
        _want=$(want_seccomp "$3")
        [ "${_d##*/}" = "$1" ] && _want=$(want_seccomp "$2") || _nq=$((_nq + 1))
        _u=$(awk '$1 == "Uid:" { print $2 $3 $4 $5 }' "$_s")
        if [ "$(seccomp "$_s")" != "$_want" ] || [ "$_u" != "$4$4$4$4" ] ||
            [ "$(field "$_s" CapEff)" != 0000000000001000 ] ||
            [ "$(field "$_s" CapPrm)" != 0000000000001000 ] ||
            [ "$(field "$_s" CapAmb)" != "$5" ]; then
            echo "thread ${_d##*/}: Seccomp/filters $(seccomp "$_s") (want $_want), uid $_u," \
                "CapEff $(field "$_s" CapEff) CapAmb $(field "$_s" CapAmb)" >&2
            return 1
        fi
    done
    [ "$_nq" -ge "$6" ] || {
        echo "$_nq queue threads, want $6" >&2
        return 1
    }
}

# try DESCRIPTION COMMAND...: check, returning the command's status (so that
# what depends on it is not run after a failure).
try() {
    _td=$1
    shift
    if "$@"; then
        ok
        return 0
    fi
    bad "$_td"
    return 1
}

# marks NAME N: the agent NAME marked at least N packets after pings.
marks() {
    ip netns exec "$NA" ping -6 -c 3 -i 0.2 -W 2 $B1 >/dev/null 2>&1
    test "$(counter "$1" tx_marked)" -ge "$2"
}

if [ "$(id -u)" != 0 ] || ! id nobody >/dev/null 2>&1; then
    skip "agent privileges: need root and a user nobody"
    t_result
    exit
fi
NOBODY=$(id -u nobody)
if ! try "create namespaces" t_netns s$$; then
    t_result
    exit
fi

# --- root, two queues: filtered queue threads, unfiltered main thread -------
if try "agent (root, 2 queues) starts" start_agent "$NA" r --peer $B1 --mode v2 --queue 0-1; then
    if grep -q "seccomp off (sanitizer build)" "$T_DIR/r.err"; then
        SAN=1
        skip "queue-thread filter: off in a sanitizer build"
    else
        check "root agent: Seccomp 2, main thread 1 filter, queue threads 2; uid 0, CAP_NET_ADMIN" \
            threads $AGENT_PID 1 2 0 0000000000000000 2
        check "root agent: /proc/PID/status Seccomp 2" \
            test "$(field /proc/$AGENT_PID/status Seccomp)" = 2
    fi
    check "root agent marks packets under the filter" marks r 3
    FW=$(counter r firewall)
    stop_pid $AGENT_PID TERM
    is_rc=$STOP_RC
    check "root agent stops with status 0 (not SIGSYS: $is_rc)" test "$is_rc" = 0
    check "root agent removed its rules" no_rules "$NA"
fi
SAN=${SAN:-0}
SC=2 # filters on a queue thread, on the main thread
SM=1
[ "$SAN" = 1 ] && SC=0 SM=0

# --- --user nobody: both firewalls ----------------------------------------
for fw in nft ip6tables; do
    if [ $fw = ip6tables ] && ! command -v ip6tables >/dev/null 2>&1; then
        skip "--user nobody with ip6tables: not installed"
        continue
    fi
    if [ $fw = nft ] && [ "${FW:-}" != nft ]; then
        skip "--user nobody with nft: this kernel's nft has no queue support (auto chose ${FW:-?})"
        continue
    fi
    n=u$fw
    if try "agent --user nobody --firewall $fw starts" start_agent "$NA" $n --peer $B1 \
        --mode v2 --firewall $fw --user nobody --records "$T_DIR/$n.jsonl"; then
        check "--user nobody ($fw): every thread nobody, CAP_NET_ADMIN ambient, Seccomp $SC" \
            threads $AGENT_PID $SM $SC "$NOBODY" 0000000000001000 1
        check "--user nobody ($fw): NoNewPrivs 1" \
            test "$(field /proc/$AGENT_PID/status NoNewPrivs)" = 1
        check "--user nobody ($fw): marks packets" marks $n 3
        check "--user nobody ($fw): rules in" has_rules "$NA"
        stop_pid $AGENT_PID TERM
        check "--user nobody ($fw): stops with status 0 ($STOP_RC)" test "$STOP_RC" = 0
        check "--user nobody ($fw): its $fw, run as nobody, removed the rules" no_rules "$NA"
        check "--user nobody ($fw): records written" grep -q '"direction":"tx"' "$T_DIR/$n.jsonl"
    fi
done
# --- started as nobody with ambient CAP_NET_ADMIN (a unit's User= and
# AmbientCapabilities=): it keeps the capability ambient, so its ip6tables or
# nft at exit still removes the rules -----------------------------------------
if ! command -v setpriv >/dev/null 2>&1; then
    skip "started as nobody with ambient CAP_NET_ADMIN: no setpriv"
else
    rm -f "$T_DIR/amb.err"
    ip netns exec "$NA" setpriv --reuid nobody --regid "$(id -g nobody)" --clear-groups \
        --inh-caps +net_admin --ambient-caps +net_admin "$PDM" agent --control "$T_DIR/amb.sock" \
        --peer $B1 --mode v2 2>"$T_DIR/amb.err" &
    AGENT_PID=$!
    t_track $AGENT_PID
    if try "agent started as nobody (ambient CAP_NET_ADMIN) is ready" \
        wait_for "$T_DIR/amb.err" "agent: ready"; then
        check "ambient start: every thread nobody, CAP_NET_ADMIN ambient, Seccomp $SC" \
            threads $AGENT_PID $SM $SC "$NOBODY" 0000000000001000 1
        check "ambient start: marks packets" marks amb 3
        stop_pid $AGENT_PID TERM
        check "ambient start: stops with status 0 ($STOP_RC)" test "$STOP_RC" = 0
        check "ambient start: its rules are gone" no_rules "$NA"
    fi
fi

# --- v2-encrypted under the filter, both ends --user nobody ------------------
# The keys are read as root before the switch (a key log of mode 0600); the
# queue threads derive per-flow keys and seal and open options under the
# filter (OpenSSL's first use, which reads its configuration file, is made
# before: sandbox.c).
SALT=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "PDMV2_SECRET $A1 $B1 0020-0001-0001 $SALT $SECRET" >"$T_DIR/keys.log"
chmod 600 "$T_DIR/keys.log"
if try "v2-encrypted agents --user nobody start" start_agent "$NA" ea --peer $B1 \
    --mode v2-encrypted --keylog "$T_DIR/keys.log" --user nobody; then
    EA=$AGENT_PID
    if try "v2-encrypted peer agent starts" start_agent "$NB" eb --peer $A1 \
        --mode v2-encrypted --keylog "$T_DIR/keys.log" --user nobody; then
        EB=$AGENT_PID
        check "v2-encrypted: sealed under the filter" marks ea 3
        check "v2-encrypted: the peer opened them (rx_logged $(counter eb rx_logged))" \
            test "$(counter eb rx_logged)" -ge 3
        check "v2-encrypted: no failed authentication" test "$(counter eb rx_auth_failed)" = 0
        check "v2-encrypted: both threads still filtered, nobody" \
            threads $EB $SM $SC "$NOBODY" 0000000000001000 1
        stop_pid $EB TERM
        check "v2-encrypted peer stops with status 0 ($STOP_RC)" test "$STOP_RC" = 0
    fi
    stop_pid $EA TERM
    check "v2-encrypted agent stops with status 0 ($STOP_RC)" test "$STOP_RC" = 0
fi

# A user that does not exist: refused before any queue or rule.
ip netns exec "$NA" "$PDM" agent --peer $B1 --user no-such-user-pdm --control "$T_DIR/x.sock" >/dev/null \
    2>"$T_DIR/x.err"
check "--user no-such-user: refused with a message" grep -q "no such user" "$T_DIR/x.err"

# --- the filter kills a forbidden call --------------------------------------
if [ "$SAN" = 1 ]; then
    skip "forbidden system call: no filter in a sanitizer build"
else
    export PDM_TEST_FORBIDDEN_SYSCALL=1
    if try "agent with the test trigger starts" start_agent "$NA" k --peer $B1 --mode pdm; then
        ip netns exec "$NA" ping -6 -c 1 -W 1 $B1 >/dev/null 2>&1
        stop_pid $AGENT_PID TERM
        check "forbidden call in a queue thread: killed by SIGSYS (status $STOP_RC, want 159)" \
            test "$STOP_RC" = 159
    fi
    if try "--no-seccomp with the trigger starts" start_agent "$NA" o --peer $B1 --no-seccomp; then
        check "--no-seccomp: the call is let through, it marks" marks o 3
        check "--no-seccomp: every thread Seccomp 0" \
            threads $AGENT_PID 0 0 0 0000000000000000 1
        check "--no-seccomp is logged" grep -q "seccomp off (--no-seccomp)" "$T_DIR/o.err"
        stop_pid $AGENT_PID TERM
        check "--no-seccomp agent stops with status 0 ($STOP_RC)" test "$STOP_RC" = 0
    fi
    unset PDM_TEST_FORBIDDEN_SYSCALL
fi

# --- the registrar's status beside it ----------------------------------------
"$PDM" keygen --out "$T_DIR/srv.key" >/dev/null 2>&1
"$PDM" registrar --listen '[::1]:0' --key "$T_DIR/srv.key" --user nobody 2>"$T_DIR/reg.err" &
REG=$!
t_track $REG
if try "registrar --user nobody starts" wait_for "$T_DIR/reg.err" "listening on"; then
    s=/proc/$REG/status
    [ "$SAN" = 1 ] || check "registrar Seccomp 2" test "$(field $s Seccomp)" = 2
    check "registrar uid nobody" test "$(field $s Uid)" = "$NOBODY"
    check "registrar CapEff 0" test "$(field $s CapEff)" = 0000000000000000
    stop_pid $REG TERM
    check "registrar stops with status 0 ($STOP_RC)" test "$STOP_RC" = 0
fi
t_result
