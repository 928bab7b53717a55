#!/bin/sh
# systemd sandboxing of contrib/pdm-*.service (docs/security.md): each unit's
# `systemd-analyze security --offline=yes` exposure score is reported and held
# at or under a threshold (agent 1.8, registrar 2.0; lower is safer; the agent back as root would be 2.0), so a
# setting dropped from a unit fails here. (`systemd-analyze verify` of the
# units is in it_hardening.sh.)
#
#   sh tests/it_sandbox.sh BUILD_DIR      (from the repository root)
#
# Ends with "RESULT <passed> <failed> <skipped>".
set -u
. tests/lib.sh
t_pdm_arg "$@"

# score UNIT: the overall exposure level, e.g. "2.0".
score() {
    timeout 30 systemd-analyze security --offline=yes "$1" 2>/dev/null |
        sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}

# within SCORE MAX: SCORE is a number no greater than MAX.
within() {
    [ -n "$1" ] && awk -v s="$1" -v m="$2" 'BEGIN { exit !(s + 0 <= m + 0) }'
}

if ! command -v systemd-analyze >/dev/null 2>&1; then
    skip "systemd-analyze security: systemd-analyze not installed"
elif ! systemd-analyze security --help 2>&1 | grep -q -- --offline; then
    skip "systemd-analyze security: no --offline (systemd < 252)"
else
    for pair in agent:1.8 registrar:2.0; do
        u=contrib/pdm-${pair%%:*}.service
        s=$(score "$u")
        echo "INFO $u systemd-analyze security score ${s:-none} (max ${pair#*:})"
        check "$u security score ${s:-none} <= ${pair#*:}" within "$s" "${pair#*:}"
    done
fi
t_result
