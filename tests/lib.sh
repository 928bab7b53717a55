# The counting side of the test protocol (tests/run.sh, docs/testing.md)
# for the integration scripts tests/it_*.sh: sourced, POSIX sh.
#
#   . tests/lib.sh
#   t_pdm_arg "$@"           # BUILD_DIR, the one argument: sets PDM
#   check "the agent starts" start_agent ...
#   [ "$(id -u)" = 0 ] || skip "live capture: needs root"
#   t_result                 # the last line; status 0 when nothing failed
#
# The names and variables match those of tests/agent/lib.sh (ok, bad,
# check, add_result, t_result; T_PASS, T_FAIL), which can source this file
# in place of its own copies.

# t_pdm_arg "$@": the one argument of an integration script, BUILD_DIR with
# BUILD_DIR/pdm built. Sets PDM to that binary's absolute path; otherwise
# prints the usage on stderr and "RESULT 0 1" (one failure), and exits 1.
t_pdm_arg() {
    if [ $# -ne 1 ] || [ ! -x "$1/pdm" ]; then
        echo "usage: sh tests/${0##*/} BUILD_DIR (with BUILD_DIR/pdm built)" >&2
        echo "RESULT 0 1"
        exit 1
    fi
    PDM=$(cd "$1" && pwd)/pdm
}

T_PASS=0
T_FAIL=0
T_SKIP=0

# Counts one passed check.
ok() {
    T_PASS=$((T_PASS + 1))
}

# bad DESCRIPTION: counts one failed check and says which on stderr.
bad() {
    T_FAIL=$((T_FAIL + 1))
    echo "FAIL $*" >&2
}

# check DESCRIPTION COMMAND...: passes when the command succeeds.
check() {
    _cd=$1
    shift
    if "$@"; then ok; else bad "$_cd"; fi
}

# skip REASON: counts one part not run, and says why ("SKIP REASON"). For
# what the environment lacks (root, a tool), never for a wrong result.
skip() {
    T_SKIP=$((T_SKIP + 1))
    echo "SKIP $*"
}

# add_result FILE: adds the last "RESULT <passed> <failed> [<skipped>]" line
# of a helper's output to the counts, and repeats its SKIP lines (skipped:
# the larger of <skipped> and their number, as tests/run.sh counts).
# A missing or malformed RESULT line is a failure.
add_result() {
    _f=$1
    _r=$(grep '^RESULT ' "$_f" | tail -n 1)
    _n=$(grep -c '^SKIP ' "$_f")
    set -f
    # shellcheck disable=SC2086 # split into words on purpose
    set -- $_r
    set +f
    if [ $# -lt 3 ] || [ $# -gt 4 ]; then
        bad "no RESULT line in $_f"
        return
    fi
    case "$2$3${4-0}" in
    *[!0-9]*)
        bad "malformed $_r in $_f"
        return
        ;;
    esac
    grep '^SKIP ' "$_f"
    _s=${4-0}
    [ "$_n" -le "$_s" ] || _s=$_n
    T_PASS=$((T_PASS + $2))
    T_FAIL=$((T_FAIL + $3))
    T_SKIP=$((T_SKIP + _s))
}

# Prints the RESULT line; returns 0 when nothing failed.
t_result() {
    echo "RESULT $T_PASS $T_FAIL $T_SKIP"
    [ "$T_FAIL" -eq 0 ]
}
