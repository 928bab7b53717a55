#!/bin/sh
# Installs the Debian packages openpdm needs to build and test, when missing.
# Runs as root on Debian 12 (CI and the README's set-up commands); as another
# user it only reports what is missing.
set -eu
PKGS="build-essential pkg-config clang clang-format llvm libclang-rt-14-dev libssl-dev \
libpcap-dev libnetfilter-queue-dev libmnl-dev libbpf-dev libjansson-dev libcap-ng-dev libseccomp-dev \
libwireshark-dev libglib2.0-dev \
debhelper dpkg-dev fakeroot lintian \
tshark tcpdump iproute2 iptables nftables iputils-ping python3 openssl \
chromium fonts-liberation python3-pil python3-scapy"
# Features list their own packages in mk/deps.d/*.txt (one or more per line).
for f in "$(dirname "$0")"/deps.d/*.txt; do
    if [ -f "$f" ]; then PKGS="$PKGS $(grep -v '^#' "$f" | tr '\n' ' ')"; fi
done
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "deps: missing Debian packages:$missing (run as root to install them)" >&2
    exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
