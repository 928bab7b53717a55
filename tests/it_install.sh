#!/bin/sh
# Integration test of `make install` / `make uninstall` (Makefile): installs
# an existing build into a temporary DESTDIR with PREFIX=/usr, checks the
# tree (the tool runs, man pages, public headers, libpdm.a, libpdm.so.0.1.0
# with its soname and links, exporting only pdm_* under version PDM_0.1 and
# not the lib-private reg_vector functions, pdm.pc, the systemd unit, the
# Wireshark plugin or the message saying it was skipped), builds
# examples/pdm-encode.c against the installed tree through pkg-config only,
# runs it on the installed libpdm.so.0 and compares its option with what
# `pdm option encode` makes of the same fields, then uninstalls and checks
# that none of the installed files is left.
#
#   sh tests/it_install.sh BUILD_DIR      (from the repository root)
#
# BUILD_DIR is a plain build (make all BUILD=BUILD_DIR), not a SAN=1 one;
# make only relinks what is out of date. Ends with "RESULT <passed> <failed>".
set -u
cd "$(dirname "$0")/.." || exit 2
. tests/lib.sh
if [ $# -ne 1 ] || [ ! -x "$1/pdm" ]; then
    echo "usage: sh tests/it_install.sh BUILD_DIR (with BUILD_DIR/pdm built)" >&2
    echo "RESULT 0 1"
    exit 1
fi
B=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
# Run from make check: its jobserver and flags are not ours.
unset MAKEFLAGS MFLAGS MAKELEVEL
D=$tmp/root
U=$D/usr
mk() {
    make --no-print-directory -s "$@" DESTDIR="$D" PREFIX=/usr BUILD="$B" >"$tmp/make.log" 2>&1
}

if mk install; then ok; else
    bad "make install"
    cat "$tmp/make.log" >&2
    t_result
    exit 1
fi

# The tool and its documentation.
check "bin/pdm --version" sh -c "'$U/bin/pdm' --version | grep -q '0\.1\.0'"
for m in docs/man/*.8; do
    check "man page $m installed" cmp -s "$m" "$U/share/man/man8/${m##*/}"
done
check "pdm.8 is there" test -f "$U/share/man/man8/pdm.8"
for h in include/pdm/*.h; do
    check "header $h installed" cmp -s "$h" "$U/include/pdm/${h##*/}"
done
check "systemd unit" cmp -s contrib/pdm-registrar.service \
    "$U/lib/systemd/system/pdm-registrar.service"
check "systemd agent unit" cmp -s contrib/pdm-agent.service \
    "$U/lib/systemd/system/pdm-agent.service"
check "pdm mode 0755" test -x "$U/bin/pdm"

# The libraries.
check "libpdm.a" test -s "$U/lib/libpdm.a"
check "libpdm.so.0.1.0 is a file" sh -c "test -f '$U/lib/libpdm.so.0.1.0' && ! test -L '$U/lib/libpdm.so.0.1.0'"
check "libpdm.so.0 -> libpdm.so.0.1.0" test "$(readlink "$U/lib/libpdm.so.0")" = libpdm.so.0.1.0
check "libpdm.so -> libpdm.so.0" test "$(readlink "$U/lib/libpdm.so")" = libpdm.so.0
check "soname libpdm.so.0" sh -c "readelf -d '$U/lib/libpdm.so.0.1.0' | grep -q 'SONAME.*\[libpdm\.so\.0\]'"
check "needs libcrypto" sh -c "readelf -d '$U/lib/libpdm.so.0.1.0' | grep -q 'NEEDED.*\[libcrypto\.so'"
check "version node PDM_0.1" sh -c "readelf -V '$U/lib/libpdm.so.0.1.0' | grep -q 'PDM_0\.1'"
check "version node PDM_0.2 (draft -14 codec)" sh -c "nm -D --defined-only '$U/lib/libpdm.so.0.1.0' | grep -q 'pdm_v214_encode@@PDM_0\.2'"
check "version node PDM_0.3 (a sender's RN sequence)" sh -c "nm -D --defined-only '$U/lib/libpdm.so.0.1.0' | grep -q 'pdm_profile_rn_at@@PDM_0\.3'"
# Defined dynamic symbols, less the version node's own (absolute) symbol.
nm -D --defined-only "$U/lib/libpdm.so.0.1.0" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' \
    | sort >"$tmp/syms"
nsyms=$(wc -l <"$tmp/syms")
echo "libpdm.so.0.1.0 exports $nsyms symbols"
check "exports some symbols" test "$nsyms" -gt 50
check "exports only pdm_*" test "$(grep -vc '^pdm_' "$tmp/syms")" -eq 0
for s in pdm_option_encode pdm_option_decode pdm_time_encode_ns pdm_strerror pdm_hex_encode; do
    check "exports $s" grep -qx "$s" "$tmp/syms"
done
for s in pdm_reg_vector_run pdm_reg_transcript_wipe; do
    check "does not export lib-private $s" sh -c "! grep -qx '$s' '$tmp/syms'"
done

# The Wireshark plugin: installed when the build made it, else skipped aloud.
if [ -f "$B/wireshark/pdmv2.so" ]; then
    check "wireshark plugin installed" sh -c "find '$U' -path '*/epan/pdmv2.so' | grep -q ."
else
    check "wireshark plugin skipped with a message" grep -q 'Wireshark plugin skipped' "$tmp/make.log"
fi

# pkg-config, relocated into the temporary tree.
PKG_CONFIG_PATH=$U/lib/pkgconfig
export PKG_CONFIG_PATH
pc() { pkg-config --define-prefix "$@" pdm; }
check "pdm.pc: version 0.1.0" test "$(pc --modversion)" = 0.1.0
check "pdm.pc: -I into the tree" sh -c "pkg-config --define-prefix --cflags pdm | grep -q -- '-I$U/include'"
check "pdm.pc: -L into the tree, -lpdm" sh -c "pkg-config --define-prefix --libs pdm | grep -q -- '-L$U/lib .*-lpdm'"
check "pdm.pc: static needs libcrypto" sh -c "pkg-config --define-prefix --static --libs pdm | grep -q -- '-lcrypto'"

# The example, against the installed headers and library only.
ex=$tmp/pdm-encode
# shellcheck disable=SC2046 # pkg-config's flags are words
if cc -std=c11 -Wall -Wextra -Wpedantic -Werror -o "$ex" examples/pdm-encode.c \
    $(pc --cflags --libs) 2>"$tmp/cc.log"; then ok; else
    bad "examples/pdm-encode.c builds with pkg-config pdm"
    cat "$tmp/cc.log" >&2
fi
if [ -x "$ex" ]; then
    check "example resolves libpdm.so.0 from the tree" sh -c \
        "LD_LIBRARY_PATH='$U/lib' ldd '$ex' | grep -q 'libpdm\.so\.0 => $U/lib/libpdm\.so\.0'"
    for args in "7 6 1500000 250000" "0 0 0 0" "65535 1 18446744073709551615 1"; do
        # shellcheck disable=SC2086 # the four numbers are words
        if LD_LIBRARY_PATH=$U/lib "$ex" $args >"$tmp/ex.out" 2>&1; then ok; else
            bad "pdm-encode $args"
            cat "$tmp/ex.out" >&2
            continue
        fi
        hex=$(sed -n 1p "$tmp/ex.out")
        fields=$(sed -n 2p "$tmp/ex.out")
        # shellcheck disable=SC2086 # field=value words
        want=$("$U/bin/pdm" option encode --format pdm $fields)
        check "pdm-encode $args: $hex = pdm option encode $fields" test "$hex" = "$want"
        # shellcheck disable=SC2086 # the four numbers are words
        set -- $args
        check "pdm-encode $args: psntp, psnlr" sh -c "echo '$fields' | grep -q 'psntp=$1 psnlr=$2 '"
    done
    # The times come back truncated: at most 2^-15 (and 1 ns) below.
    tlr=$(LD_LIBRARY_PATH=$U/lib "$ex" 7 6 1500000 250000 | sed -n 's/^tlr_ns=\([0-9]*\) .*/\1/p')
    check "time 1500000 ns back as $tlr" sh -c "[ '${tlr:-0}' -le 1500000 ] && [ '${tlr:-0}' -ge 1499953 ]"
    check "usage error exits 2" sh -c "LD_LIBRARY_PATH='$U/lib' '$ex' 1 2 3 >/dev/null 2>&1; [ \$? -eq 2 ]"
fi

# Uninstall: nothing of ours stays (directories made by install -d may).
if mk uninstall; then ok; else
    bad "make uninstall"
    cat "$tmp/make.log" >&2
fi
left=$(find "$D" \( -type f -o -type l \) | head -n 5)
check "uninstall leaves no file${left:+: $left}" test -z "$left"
check "uninstall removes include/pdm" test ! -e "$U/include/pdm"

t_result
