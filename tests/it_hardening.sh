#!/bin/sh
# Process hardening (docs/security.md), read off /proc/PID/status of the
# running processes:
#
#   - `pdm registrar --user nobody`: Seccomp 2 (filter), NoNewPrivs 1, the
#     uid and gid of nobody, no capability; a registration through it (store
#     with --sync, key log), a SIGHUP reload and SIGTERM all pass the filter;
#   - the filter kills: with PDM_TEST_FORBIDDEN_SYSCALL=1 the registrar makes
#     one forbidden call (umount2) right after installing it and dies by
#     SIGSYS (status 128 + 31); with --no-seccomp the same call is let
#     through, it serves (Seccomp 0), and says the filter is off;
#   - `pdm agent` in a network namespace: NoNewPrivs 1 and CAP_NET_ADMIN
#     alone in every thread, and its rules still go at SIGTERM (nft run
#     under no_new_privs);
#   - contrib/pdm-*.service pass `systemd-analyze verify` (when installed).
#
# A failed start skips the checks that need the process (try, not check).
#
#   sh tests/it_hardening.sh BUILD_DIR      (as root, from the repository root)
#
# Ends with "RESULT <passed> <failed> <skipped>".
set -u
. tests/agent/lib.sh
t_pdm_arg "$@"
T_DIR=$(mktemp -d /tmp/openpdm-it-hardening.XXXXXX)
chmod 755 "$T_DIR"
trap 't_cleanup' EXIT
trap 'exit 1' INT TERM HUP

# try DESCRIPTION COMMAND...: check (tests/lib.sh) that also returns the
# command's status, for the checks that later ones depend on (lib.sh's
# check returns 0 either way).
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

# field PID NAME: a field of /proc/PID/status ("Seccomp", "CapEff", ...).
field() {
    awk -v k="$2:" '$1 == k { print $2; exit }' "/proc/$1/status" 2>/dev/null
}

# is FIELD_VALUE WANT DESCRIPTION
is() {
    if [ "$1" = "$2" ]; then ok; else bad "$3: '$1', want '$2'"; fi
}

# start_registrar NAME ARGS...: a registrar on [::1]:0 in the background;
# REG_PID, REG_PORT. Returns 1 when it did not log "listening on".
start_registrar() {
    _n=$1
    shift
    "$PDM" registrar --listen '[::1]:0' --key "$T_DIR/srv.key" "$@" 2>"$T_DIR/$_n.err" &
    REG_PID=$!
    t_track $REG_PID
    wait_for "$T_DIR/$_n.err" "listening on" || return 1
    REG_PORT=$(sed -n 's/.*listening on \[::1\]:\([0-9]*\).*/\1/p' "$T_DIR/$_n.err" | head -n 1)
    [ -n "$REG_PORT" ]
}

if [ "$(id -u)" != 0 ] || ! id nobody >/dev/null 2>&1; then
    skip "registrar --user nobody and the agent: need root and a user nobody"
    t_result
    exit
fi
NOBODY_UID=$(id -u nobody)
NOBODY_GID=$(id -g nobody)

# --- the registrar: filter, no_new_privs, identity, capabilities ------------
"$PDM" keygen --out "$T_DIR/srv.key" >"$T_DIR/srv.pub" 2>"$T_DIR/keygen.err"
PUB=$("$PDM" pubkey "$T_DIR/srv.key")
mkdir -m 700 "$T_DIR/reg"
chown nobody "$T_DIR/reg"
if try "registrar --user nobody starts" start_registrar reg --user nobody --sync \
    --store "$T_DIR/reg/store" --keylog "$T_DIR/reg/keylog"; then
    p=$REG_PID
    if grep -q "seccomp: off (sanitizer build)" "$T_DIR/reg.err"; then
        SAN_BUILD=1
        skip "seccomp filter: off in an AddressSanitizer build"
    else
        is "$(field $p Seccomp)" 2 "registrar Seccomp (2: filter)"
    fi
    is "$(field $p NoNewPrivs)" 1 "registrar NoNewPrivs"
    is "$(field $p Uid | cut -f1)" "$NOBODY_UID" "registrar uid"
    is "$(awk '$1 == "Uid:" { print $2 $3 $4 $5 }' /proc/$p/status)" \
        "$NOBODY_UID$NOBODY_UID$NOBODY_UID$NOBODY_UID" "registrar real, effective, saved, fs uid"
    is "$(awk '$1 == "Gid:" { print $2 }' /proc/$p/status)" "$NOBODY_GID" "registrar gid"
    is "$(field $p CapEff)" 0000000000000000 "registrar CapEff"
    is "$(field $p CapPrm)" 0000000000000000 "registrar CapPrm"
    # The real paths under the filter: a registration (store written with
    # --sync: fsync, rename; key log appended), then SIGHUP, then SIGTERM.
    check "a registration through the filtered registrar" "$PDM" register \
        --server "[::1]:$REG_PORT" --pin "$PUB" --keylog "$T_DIR/client.keylog" --print \
        >"$T_DIR/register.out" 2>&1
    # The registrar keeps a secret once the client has closed (D14): wait
    # for its log line before looking at what it kept.
    check "registrar logged the registration" wait_for "$T_DIR/reg.err" "registered mode="
    check "registrar stored the secret" test -n "$(ls "$T_DIR/reg/store" 2>/dev/null)"
    check "registrar appended to its key log" grep -q PDMV2_SECRET "$T_DIR/reg/keylog"
    kill -HUP $p
    check "registrar reloads on SIGHUP under the filter" wait_for "$T_DIR/reg.err" reloaded
    check "a second registration after the reload" "$PDM" register \
        --server "[::1]:$REG_PORT" --pin "$PUB" --print >>"$T_DIR/register.out" 2>&1
    stop_pid $p TERM
    is "$STOP_RC" 0 "registrar stops on SIGTERM with status 0 (not SIGSYS)"
    check "registrar logs its summary" grep -q "stopped: 2 registered" "$T_DIR/reg.err"
fi

# --- the filter kills a forbidden call ------------------------------------
if [ "${SAN_BUILD:-0}" = 1 ]; then
    skip "forbidden system call: no filter in an AddressSanitizer build"
else
    PDM_TEST_FORBIDDEN_SYSCALL=1 "$PDM" registrar --listen '[::1]:0' --key "$T_DIR/srv.key" \
        --user nobody 2>"$T_DIR/kill.err"
    is "$?" 159 "forbidden system call: killed by SIGSYS (128 + 31)"
    check "killed before it listens" sh -c "! grep -q 'listening on' '$T_DIR/kill.err'"
    export PDM_TEST_FORBIDDEN_SYSCALL=1
    if try "--no-seccomp: the same call is let through" start_registrar off --no-seccomp; then
        is "$(field $REG_PID Seccomp)" 0 "--no-seccomp: Seccomp 0"
        check "--no-seccomp is logged" grep -q "seccomp: off (--no-seccomp)" "$T_DIR/off.err"
        stop_pid $REG_PID TERM
        is "$STOP_RC" 0 "--no-seccomp registrar stops with status 0"
    fi
    unset PDM_TEST_FORBIDDEN_SYSCALL
fi

# --- the agent: no_new_privs, CAP_NET_ADMIN only ----------------------------
if try "create namespaces" t_netns h$$; then
    if try "agent starts" start_agent "$NA" a --peer $B1 --mode pdm; then
        p=$AGENT_PID
        is "$(field $p NoNewPrivs)" 1 "agent NoNewPrivs"
        check "agent threads: CAP_NET_ADMIN alone" caps_only_net_admin $p 2
        is "$(field $p CapEff)" 0000000000001000 "agent CapEff"
        ip netns exec "$NA" ping -6 -c 3 -i 0.2 -W 2 $B1 >/dev/null 2>&1
        check "agent marks packets (tx_marked $(counter a tx_marked))" \
            test "$(counter a tx_marked)" -ge 3
        stop_pid $p TERM
        is "$STOP_RC" 0 "agent stops on SIGTERM"
        check "agent removed its rules (nft under no_new_privs)" no_rules "$NA"
    fi
fi

# --- the systemd units ----------------------------------------------------
if command -v systemd-analyze >/dev/null 2>&1; then
    for u in contrib/pdm-*.service; do
        # The unit's binary must exist for verify: point it at this build.
        sed "s|/usr/local/bin/pdm|$PDM|" "$u" >"$T_DIR/${u##*/}"
        check "systemd-analyze verify $u" systemd-analyze verify --man=no "$T_DIR/${u##*/}"
    done
else
    skip "systemd-analyze verify: systemd-analyze not installed"
fi

t_result
