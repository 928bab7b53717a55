#!/bin/sh
# Runs tshark with the PDMv2 plugin of a build directory, without installing
# it: HOME becomes a temporary directory whose personal plugin folder
# (~/.local/lib/wireshark/plugins/4.0/epan/) links to BUILD_DIR's plugin.
#
#   wireshark/tshark-with-plugin.sh BUILD_DIR [tshark arguments ...]
#   e.g. wireshark/tshark-with-plugin.sh build -o pdmv2.keylog_file:k.log \
#            -r c.pcap -Y pdmv2 -T fields -e pdmv2.psntp -e pdmv2.rtd_ns
#
# Wireshark never loads personal plugins when started by root (it counts
# uid 0 as "special privileges", wsutil/privileges.c), so as root tshark runs
# as nobody with the one capability CAP_DAC_OVERRIDE in its ambient set
# (setpriv): it can still read root's 0600 key logs and write where root can.
#
# Exits with tshark's status; 2 for a usage error.
set -eu
if [ $# -lt 1 ]; then
    echo "usage: $0 BUILD_DIR [tshark arguments ...]" >&2
    exit 2
fi
so="$1/wireshark/pdmv2.so"
shift
if [ ! -f "$so" ]; then
    echo "$0: $so not found (make wireshark BUILD=...)" >&2
    exit 2
fi
case "$so" in /*) ;; *) so="$PWD/$so" ;; esac
ver=$(pkg-config --modversion wireshark 2>/dev/null | cut -d. -f1,2)
[ -n "$ver" ] || ver=$(tshark --version | sed -n '1s/.* \([0-9]*\.[0-9]*\)\..*/\1/p')
home=$(mktemp -d "${TMPDIR:-/tmp}/pdmv2-home.XXXXXX")
trap 'rm -rf "$home"' EXIT INT TERM
mkdir -p "$home/.local/lib/wireshark/plugins/$ver/epan" "$home/.config/wireshark"
ln -s "$so" "$home/.local/lib/wireshark/plugins/$ver/epan/pdmv2.so"
chmod -R a+rX "$home"
rc=0
if [ "$(id -u)" = 0 ]; then
    HOME="$home" XDG_CONFIG_HOME="$home/.config" setpriv --reuid=65534 --regid=65534 \
        --clear-groups --inh-caps=+dac_override --ambient-caps=+dac_override tshark "$@" || rc=$?
else
    HOME="$home" XDG_CONFIG_HOME="$home/.config" tshark "$@" || rc=$?
fi
exit "$rc"
