#!/bin/sh
# Integration test of the Debian packaging (debian/, make package): builds
# the packages out of tree into BUILD_DIR/deb/, runs lintian on them (no E:
# line allowed), checks each .deb's name, files and dependencies, unpacks
# them into a scratch root and runs the unpacked tool there (--version,
# `pdm demo --sample`, which must find the packaged sample in
# /usr/share/openpdm/sample) and builds examples/pdm-encode.c against the
# unpacked libpdm-dev through pkg-config. With CI=true (a throwaway machine)
# it also installs the packages with dpkg -i, runs the installed pdm (and
# tshark with the plugin) and removes them again with dpkg -P (purged: nothing is left, not even the package's status).
#
#   sh tests/it_package.sh BUILD_DIR      (from the repository root)
#
# BUILD_DIR only receives deb/; the package build compiles in its own copy
# of the tree. Ends with "RESULT <passed> <failed> [<skipped>]".
set -u
cd "$(dirname "$0")/.." || exit 2
. tests/lib.sh
if [ $# -ne 1 ]; then
    echo "usage: sh tests/it_package.sh BUILD_DIR" >&2
    echo "RESULT 0 1"
    exit 1
fi
B=$1
V=0.1.0
for t in dpkg-buildpackage dh fakeroot lintian dpkg-deb git; do
    if ! command -v "$t" >/dev/null 2>&1; then
        skip "Debian packaging: $t missing (make deps installs it)"
        t_result
        exit 0
    fi
done
tmp=$(mktemp -d)
installed=""
cleanup() {
    # shellcheck disable=SC2086 # package names are words
    [ -z "$installed" ] || dpkg -P $installed >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM
unset MAKEFLAGS MFLAGS MAKELEVEL

# The build: bounded, so that a hung build fails rather than stalls make check.
start=$(date +%s)
if timeout 900 make --no-print-directory package BUILD="$B" >"$tmp/build.log" 2>&1; then ok; else
    bad "make package BUILD=$B"
    tail -n 40 "$tmp/build.log" >&2
    t_result
    exit 1
fi
echo "make package: $(($(date +%s) - start)) s"
check "work tree has no debian/tmp or debian/build" sh -c '! test -e debian/tmp && ! test -e debian/build'
D=$B/deb
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
ARCH=$(dpkg-architecture -qDEB_HOST_ARCH)
deb() { echo "$D/${1}_${V}_$ARCH.deb"; }
PKGS="openpdm libpdm0 libpdm-dev wireshark-pdmv2"
for p in $PKGS; do
    check "$p .deb built" test -s "$(deb "$p")"
    check "$p: Package field" test "$(dpkg-deb -f "$(deb "$p")" Package 2>/dev/null)" = "$p"
done
[ -s "$(deb openpdm)" ] || {
    t_result
    exit 1
}

# lintian: errors fail, warnings are shown.
timeout 300 lintian --tag-display-limit 0 "$D"/openpdm_"$V"_"$ARCH".changes >"$tmp/lintian.log" 2>&1
grep '^[EW]: ' "$tmp/lintian.log"
check "lintian: no E: line" sh -c "! grep -q '^E: ' '$tmp/lintian.log'"

# Contents: has FILE PACKAGE PATH (as dpkg-deb -c prints it, ./ stripped).
for p in $PKGS; do
    dpkg-deb -c "$(deb "$p")" | awk '{ sub(/^\.\//, "", $6); print $6 }' >"$tmp/$p.files"
done
has() { check "$1 ships $2" grep -qx "$2" "$tmp/$1.files"; }
L=usr/lib/$MA
has openpdm usr/bin/pdm
for m in docs/man/*.8; do has openpdm "usr/share/man/man8/${m##*/}.gz"; done
has openpdm lib/systemd/system/pdm-registrar.service
for f in demo-client.pcap demo.keylog README.md; do has openpdm "usr/share/openpdm/sample/$f"; done
has libpdm0 "$L/libpdm.so.$V"
has libpdm0 "$L/libpdm.so.0"
for h in include/pdm/*.h; do has libpdm-dev "usr/$h"; done
has libpdm-dev "$L/libpdm.so"
has libpdm-dev "$L/libpdm.a"
has libpdm-dev "$L/pkgconfig/pdm.pc"
check "wireshark-pdmv2 ships epan/pdmv2.so" grep -q "^$L/wireshark/plugins/[0-9.]*/epan/pdmv2\.so$" \
    "$tmp/wireshark-pdmv2.files"
check "libpdm0 ships no headers or .a" sh -c "! grep -q 'include/\|\.a$\|libpdm\.so$' '$tmp/libpdm0.files'"
check "openpdm ships no library" sh -c "! grep -q 'libpdm' '$tmp/openpdm.files'"

# Dependencies and the library's control files.
dep() { dpkg-deb -f "$(deb "$1")" Depends; }
check "libpdm0: symbols file for libpdm.so.0" sh -c \
    "dpkg-deb -I '$(deb libpdm0)' symbols | grep -q '^libpdm\.so\.0 libpdm0 #MINVER#'"
check "libpdm0: symbols list pdm_option_encode@PDM_0.1" sh -c \
    "dpkg-deb -I '$(deb libpdm0)' symbols | grep -q '^ pdm_option_encode@PDM_0\.1 $V'"
check "libpdm0: shlibs" sh -c "dpkg-deb -I '$(deb libpdm0)' shlibs | grep -qx 'libpdm 0 libpdm0 (>= $V)'"
dep_has() { check "$1 depends on $2" sh -c "echo '$(dep "$1")' | grep -q '$2'"; }
dep_has libpdm0 'libssl3'
dep_has libpdm-dev "libpdm0 (= $V)"
for l in libpcap0.8 libnetfilter-queue1 libjansson4 libcap-ng0 libssl3; do dep_has openpdm "$l"; done
dep_has wireshark-pdmv2 'libwireshark'
dep_has wireshark-pdmv2 'libwireshark-data (<< '
check "openpdm postinst does not start the registrar" sh -c \
    "! dpkg-deb -I '$(deb openpdm)' postinst 2>/dev/null | grep -q 'deb-systemd-invoke.*start'"

# Unpacked into a scratch root: the tool runs and finds its sample there.
R=$tmp/root
for p in $PKGS; do dpkg-deb -x "$(deb "$p")" "$R"; done
pdm=$R/usr/bin/pdm
check "unpacked pdm --version" sh -c "'$pdm' --version | grep -q '$V'"
mkdir "$tmp/cwd"
if (cd "$tmp/cwd" && env -u PDM_DATADIR "$pdm" demo --sample --out "$tmp/demo") >"$tmp/demo.log" 2>&1; then
    ok
else
    bad "unpacked pdm demo --sample"
    tail -n 20 "$tmp/demo.log" >&2
fi
check "demo used the packaged sample" grep -q "$R/usr/share/openpdm/sample" "$tmp/demo.log"
check "demo wrote a JSON report" python3 -c "import json, sys; json.load(open(sys.argv[1]))" \
    "$tmp/demo/report.json"

# libpdm-dev: the example, through the unpacked pdm.pc (sysroot for -I/-L).
ex=$tmp/pdm-encode
# shellcheck disable=SC2046 # pkg-config's flags are words
if cc -std=c11 -Wall -Wextra -Werror -o "$ex" examples/pdm-encode.c \
    $(PKG_CONFIG_PATH=$R/$L/pkgconfig PKG_CONFIG_SYSROOT_DIR=$R pkg-config --cflags --libs pdm) \
    2>"$tmp/cc.log"; then ok; else
    bad "examples/pdm-encode.c builds against the unpacked libpdm-dev"
    cat "$tmp/cc.log" >&2
fi
if [ -x "$ex" ]; then
    check "example runs on the unpacked libpdm.so.0" sh -c \
        "LD_LIBRARY_PATH='$R/$L' '$ex' 7 6 1500000 250000 | grep -q 'psntp=7 psnlr=6'"
    check "example resolves libpdm.so.0 from the unpacked root" sh -c \
        "LD_LIBRARY_PATH='$R/$L' ldd '$ex' | grep -q 'libpdm\.so\.0 => $R/$L/libpdm\.so\.0'"
fi

# dpkg -i for real: only on a throwaway machine (CI=true), never over an
# existing pdm.
if [ "${CI:-}" != true ]; then
    skip "dpkg -i of the packages: only with CI=true (it changes /usr)"
elif [ "$(id -u)" != 0 ]; then
    skip "dpkg -i of the packages: needs root"
elif [ -e /usr/bin/pdm ] || [ "$(dpkg-query -W -f='${Status}' openpdm 2>/dev/null)" = "install ok installed" ]; then
    skip "dpkg -i of the packages: /usr/bin/pdm or openpdm already there"
else
    installed="wireshark-pdmv2 libpdm-dev openpdm libpdm0"
    # shellcheck disable=SC2046 # the four paths are words
    if dpkg -i $(for p in $PKGS; do deb "$p"; done) >"$tmp/dpkg.log" 2>&1; then ok; else
        bad "dpkg -i"
        cat "$tmp/dpkg.log" >&2
    fi
    check "installed pdm --version" sh -c "/usr/bin/pdm --version | grep -q '$V'"
    check "installed pdm demo --sample" sh -c \
        "cd '$tmp/cwd' && /usr/bin/pdm demo --sample --out '$tmp/demo2' | grep -q /usr/share/openpdm/sample"
    check "installed pkg-config pdm" test "$(pkg-config --modversion pdm)" = "$V"
    if command -v tshark >/dev/null 2>&1; then
        check "tshark loads the installed plugin" sh -c "tshark -G plugins 2>/dev/null | grep -q pdmv2"
    else
        skip "tshark missing: plugin load not checked"
    fi
    # shellcheck disable=SC2086 # package names are words
    if dpkg -P $installed >"$tmp/dpkg.log" 2>&1; then ok; else
        bad "dpkg -P"
        cat "$tmp/dpkg.log" >&2
    fi
    installed=""
    check "dpkg -P removed /usr/bin/pdm" test ! -e /usr/bin/pdm
fi

t_result
