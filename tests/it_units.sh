#!/bin/sh
# contrib/pdm-*.service started the way systemd would start them, as far as
# privileges go (docs/security.md §3): each unit's own User= (DynamicUser=
# taken as nobody), CapabilityBoundingSet=, AmbientCapabilities=,
# NoNewPrivileges= and UMask= are read from the file and applied by setpriv(1)
# to the unit's own ExecStart= (paths moved under a scratch directory: the
# binary, /etc/pdm, /run, /var/log, ${CREDENTIALS_DIRECTORY},
# ${STATE_DIRECTORY}), inside network namespaces of the test's own. Then:
#
#   - the registrar serves a registration on its port 8250, writes its store
#     in the StateDirectory, and runs as nobody with no capability, Seccomp 2;
#   - the agent runs as the unit's User= (pdm, or nobody for a dynamic user;
#     not uid 0) with CAP_NET_ADMIN alone in every set of every thread
#     (ambient too), NoNewPrivs and Seccomp 2; marks v2 packets to a peer of
#     its config file, answers on the RuntimeDirectory's status socket,
#     writes records to the LogsDirectory and, at SIGHUP after a rotation,
#     to a new file it creates there; at SIGTERM removes its rules (nft or
#     ip6tables run as that user with the ambient capability) and its
#     socket, with status 0;
#   - the same with contrib/pdm-agent-ebpf.conf as a drop-in (--datapath
#     ebpf, CAP_BPF and CAP_PERFMON ambient too): ready on the fast path as
#     that user, CAP_NET_ADMIN alone effective once loaded, marks packets,
#     status 0 (SKIP in a build without the fast path).
#
# What systemd adds beyond these (ProtectSystem=, SystemCallFilter=, ...)
# is not applied here: no systemd is PID 1 on the test machines.
#
#   sh tests/it_units.sh BUILD_DIR      (as root, from the repository root)
#
# Ends with "RESULT <passed> <failed> <skipped>".
set -u
. tests/agent/lib.sh
t_pdm_arg "$@"
T_DIR=$(mktemp -d /tmp/openpdm-it-units.XXXXXX)
chmod 755 "$T_DIR"
trap 't_cleanup' EXIT
trap 'exit 1' INT TERM HUP

# try DESCRIPTION COMMAND...: check, returning the command's status.
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

# unit_get UNIT KEY: the last value of KEY= in UNIT ("" when absent or
# empty), continuation lines joined, comments skipped.
unit_get() {
    awk -v k="$2" '
        /^[ \t]*[#;]/ && !cont { next }
        { line = cont ? line " " $0 : $0 }
        /\\$/ { sub(/\\$/, "", line); cont = 1; next }
        { cont = 0 }
        index(line, k "=") == 1 { v = substr(line, length(k) + 2); found = 1 }
        { line = "" }
        END { if (found) print v }' "$1" | tr -s ' '
}

# caps_arg "CAP_A CAP_B": "+a,+b" for setpriv ("" for none).
caps_arg() {
    for _c in $1; do
        printf '+%s,' "$(echo "${_c#CAP_}" | tr 'A-Z' 'a-z')"
    done | sed 's/,$//'
}

# field STATUS_FILE NAME
field() {
    awk -v k="$2:" '$1 == k { print $2; exit }' "$1" 2>/dev/null
}

# caps_ambient_net_admin PID N UID: every thread of PID (at least N) has
# uid UID (real, effective, saved, fs) and CAP_NET_ADMIN alone in each of
# its five sets: a unit's User= with AmbientCapabilities=CAP_NET_ADMIN.
caps_ambient_net_admin() {
    _n=0
    for _s in /proc/"$1"/task/*/status; do
        awk -v u="$3" '/^Cap(Eff|Prm|Bnd|Inh|Amb):/ && $2 != "0000000000001000" { bad = 1 }
             /^Uid:/ && ($2 != u || $3 != u || $4 != u || $5 != u) { bad = 1 }
             END { exit bad }' "$_s" || return 1
        _n=$((_n + 1))
    done
    [ "$_n" -ge "$2" ]
}

# unit_cmd UNIT: the unit's ExecStart= with its paths moved under $T_DIR,
# prefixed by the setpriv(1) call its User=, CapabilityBoundingSet=,
# AmbientCapabilities= and NoNewPrivileges= ask for. Sets U_USER.
unit_cmd() {
    _u=$1
    U_USER=$(unit_get "$_u" User)
    # DynamicUser=: User='s account when it exists (systemd uses it then),
    # else a dynamic one, taken as nobody.
    if [ "$(unit_get "$_u" DynamicUser)" = yes ] &&
        { [ -z "$U_USER" ] || ! id "$U_USER" >/dev/null 2>&1; }; then
        U_USER=nobody
    fi
    _bnd=$(unit_get "$_u" CapabilityBoundingSet)
    _amb=$(unit_get "$_u" AmbientCapabilities)
    _sp="setpriv"
    if [ -n "$U_USER" ] && [ "$U_USER" != root ]; then
        _sp="$_sp --reuid $U_USER --regid $(id -g "$U_USER") --clear-groups"
    fi
    if [ -n "$_bnd" ]; then
        _sp="$_sp --bounding-set -all,$(caps_arg "$_bnd")"
    else
        _sp="$_sp --bounding-set -all"
    fi
    if [ -n "$_amb" ]; then
        _sp="$_sp --inh-caps $(caps_arg "$_amb") --ambient-caps $(caps_arg "$_amb")"
    fi
    [ "$(unit_get "$_u" NoNewPrivileges)" = yes ] && _sp="$_sp --no-new-privs"
    _exec=$(unit_get "$_u" ExecStart | sed -e "s|/usr/local/bin/pdm|$PDM|" \
        -e "s|/etc/pdm|$T_DIR/etc/pdm|g" -e "s|/run/|$T_DIR/run/|g" \
        -e "s|/var/log/|$T_DIR/log/|g" -e "s|\${CREDENTIALS_DIRECTORY}|$T_DIR/cred|g" \
        -e "s|\${STATE_DIRECTORY}|$T_DIR/state/$(unit_get "$_u" StateDirectory)|g")
    case $_exec in
    *'${'* | *'%'*)
        echo "unit_cmd: $_u: unknown variable or specifier in: $_exec" >&2
        return 1
        ;;
    esac
    echo "$_sp $_exec"
}

# unit_dirs UNIT: its RuntimeDirectory=, StateDirectory=, LogsDirectory=
# made under $T_DIR, owned by U_USER with their modes, as systemd would.
unit_dirs() {
    for _kv in RuntimeDirectory:run StateDirectory:state LogsDirectory:log; do
        _d=$(unit_get "$1" "${_kv%%:*}")
        [ -n "$_d" ] || continue
        _m=$(unit_get "$1" "${_kv%%:*}Mode")
        mkdir -p "$T_DIR/${_kv#*:}/$_d"
        chmod "${_m:-0755}" "$T_DIR/${_kv#*:}/$_d"
        [ -n "$U_USER" ] && chown "$U_USER" "$T_DIR/${_kv#*:}/$_d"
    done
    return 0
}

if [ "$(id -u)" != 0 ] || ! id nobody >/dev/null 2>&1; then
    skip "units: need root and a user nobody"
    t_result
    exit
fi
if ! command -v setpriv >/dev/null 2>&1; then
    skip "units: setpriv (util-linux) not installed"
    t_result
    exit
fi
if ! try "create namespaces" t_netns n$$; then
    t_result
    exit
fi
NOBODY=$(id -u nobody)
mkdir -p "$T_DIR/etc/pdm" "$T_DIR/cred" "$T_DIR/run" "$T_DIR/state" "$T_DIR/log"

# --- the registrar ---------------------------------------------------------
U=contrib/pdm-registrar.service
"$PDM" keygen --out "$T_DIR/etc/pdm/registrar.key" >/dev/null 2>&1
PUB=$("$PDM" pubkey "$T_DIR/etc/pdm/registrar.key")
if try "$U: ExecStart and privileges parsed" unit_cmd "$U" >"$T_DIR/reg.cmd"; then
    unit_dirs "$U"
    # LoadCredential=: a copy only the service's user can read.
    cp "$T_DIR/etc/pdm/registrar.key" "$T_DIR/cred/registrar.key"
    chown "${U_USER:-root}" "$T_DIR/cred/registrar.key"
    chmod 0400 "$T_DIR/cred/registrar.key"
    echo "INFO $U: $(cat "$T_DIR/reg.cmd")"
    ip netns exec "$NB" sh -c "umask $(unit_get $U UMask); exec $(cat "$T_DIR/reg.cmd")" \
        2>"$T_DIR/reg.err" &
    REG=$!
    t_track $REG
    if try "$U: the registrar listens" wait_for "$T_DIR/reg.err" "listening on" 50; then
        # ip netns exec, sh and setpriv exec each other: $REG is the registrar.
        s=/proc/$REG/status
        check "$U: uid $(field $s Uid), want ${U_USER:-root}" test "$(field $s Uid)" = "$NOBODY"
        check "$U: CapEff $(field $s CapEff) and CapBnd $(field $s CapBnd), want none" \
            test "$(field $s CapEff)$(field $s CapBnd)" = 00000000000000000000000000000000
        check "$U: NoNewPrivs 1" test "$(field $s NoNewPrivs)" = 1
        check "$U: Seccomp 2" test "$(field $s Seccomp)" = 2
        check "$U: serves a registration on port 8250" ip netns exec "$NB" "$PDM" register \
            --server '[::1]:8250' --pin "$PUB" --print >"$T_DIR/register.out" 2>&1
        check "$U: stored it in its StateDirectory" \
            test -n "$(ls "$T_DIR/state/pdm-registrar/secrets" 2>/dev/null)"
        stop_pid $REG TERM
        check "$U: stops with status 0 ($STOP_RC)" test "$STOP_RC" = 0
    else
        cat "$T_DIR/reg.err" >&2
    fi
fi

# --- the agent -----------------------------------------------------------------
U=contrib/pdm-agent.service
printf 'mode v2\npeer %s\n' "$B1" >"$T_DIR/etc/pdm/agent.conf"
if try "$U: ExecStart and privileges parsed" unit_cmd "$U" >"$T_DIR/agent.cmd"; then
    unit_dirs "$U"
    echo "INFO $U: $(cat "$T_DIR/agent.cmd")"
    ip netns exec "$NA" sh -c "umask $(unit_get $U UMask); exec $(cat "$T_DIR/agent.cmd")" \
        2>"$T_DIR/agent.err" &
    AG=$!
    t_track $AG
    SOCK=$T_DIR/run/openpdm/agent.sock
    if try "$U: the agent is ready" wait_for "$T_DIR/agent.err" "agent: ready" 50; then
        s=/proc/$AG/status
        # The deployed agent is not root (issue 13): a unit without User= fails.
        want=$(id -u "${U_USER:-root}")
        check "$U: uid $(field $s Uid), want ${U_USER:-root}'s $want, not 0" \
            test "$(field $s Uid)" = "$want" -a "$want" != 0
        check "$U: every thread ${U_USER:-root} with CAP_NET_ADMIN alone, ambient too" \
            caps_ambient_net_admin $AG 2 "$want"
        check "$U: NoNewPrivs 1" test "$(field $s NoNewPrivs)" = 1
        check "$U: Seccomp 2" test "$(field $s Seccomp)" = 2
        ip netns exec "$NA" ping -6 -c 3 -i 0.2 -W 2 $B1 >/dev/null 2>&1
        m=$("$PDM" agent --status --control "$SOCK" | awk '$1 == "tx_marked" { print $2 }')
        check "$U: marks packets to its config's peer (tx_marked ${m:-none})" test "${m:-0}" -ge 3
        # Log rotation: the file moved away, SIGHUP, and the agent (not
        # root) makes a new one in its LogsDirectory for what follows.
        REC=$T_DIR/log/openpdm/records.jsonl
        mv "$REC" "$REC.1"
        kill -HUP $AG
        n=0
        while [ $n -lt 50 ] && [ ! -e "$REC" ]; do
            sleep 0.1
            n=$((n + 1))
        done
        check "$U: SIGHUP reopens its records file, as its own user" \
            test "$(stat -c %U "$REC" 2>/dev/null)" = "${U_USER:-root}"
        ip netns exec "$NA" ping -6 -c 2 -i 0.2 -W 2 $B1 >/dev/null 2>&1
        stop_pid $AG TERM
        check "$U: stops with status 0 ($STOP_RC)" test "$STOP_RC" = 0
        check "$U: its rules are gone" no_rules "$NA"
        check "$U: its status socket is gone" test ! -e "$SOCK"
        check "$U: records in its LogsDirectory before SIGHUP" grep -q '"direction":"tx"' "$REC.1"
        check "$U: and after it" grep -q '"direction":"tx"' "$REC"
    else
        cat "$T_DIR/agent.err" >&2
    fi
fi
# --- the agent with contrib/pdm-agent-ebpf.conf (drop-in: the later value wins) --
U=contrib/pdm-agent.service+ebpf.conf
cat contrib/pdm-agent.service contrib/pdm-agent-ebpf.conf >"$T_DIR/ebpf.service"
rm -rf "$T_DIR/run/openpdm" "$T_DIR/log/openpdm"
if try "$U: ExecStart and privileges parsed" unit_cmd "$T_DIR/ebpf.service" >"$T_DIR/ebpf.cmd"; then
    unit_dirs "$T_DIR/ebpf.service"
    echo "INFO $U: $(cat "$T_DIR/ebpf.cmd")"
    ip netns exec "$NA" sh -c "umask 0077; exec $(cat "$T_DIR/ebpf.cmd")" 2>"$T_DIR/ebpf.err" &
    AG=$!
    t_track $AG
    wait_for "$T_DIR/ebpf.err" "agent: ready\|no eBPF fast path" 50
    if grep -q "no eBPF fast path" "$T_DIR/ebpf.err"; then
        skip "$U: this build has no eBPF fast path"
        stop_pid $AG TERM
    elif try "$U: the agent is ready on ebpf" grep -q "agent: ready" "$T_DIR/ebpf.err"; then
        s=/proc/$AG/status
        want=$(id -u "${U_USER:-root}")
        check "$U: uid $(field $s Uid), want ${U_USER:-root}'s $want, not 0" \
            test "$(field $s Uid)" = "$want" -a "$want" != 0
        check "$U: CapEff $(field $s CapEff): CAP_NET_ADMIN alone once loaded" \
            test "$(field $s CapEff)$(field $s CapPrm)" = 00000000000010000000000000001000
        ip netns exec "$NA" ping -6 -c 3 -i 0.2 -W 2 $B1 >/dev/null 2>&1
        m=$("$PDM" agent --status --control "$SOCK" | awk '$1 == "tx_marked" { print $2 }')
        check "$U: marks packets on the fast path (tx_marked ${m:-none})" test "${m:-0}" -ge 3
        stop_pid $AG TERM
        check "$U: stops with status 0 ($STOP_RC)" test "$STOP_RC" = 0
    else
        cat "$T_DIR/ebpf.err" >&2
    fi
fi
t_result
