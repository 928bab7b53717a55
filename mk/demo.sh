#!/bin/sh
# `make demo`: the main job, `pdm demo` (pdm-demo(8)): two network
# namespaces, keys, a registration, an encrypted-PDMv2 agent on each side,
# ping / UDP / TCP traffic, a capture on each side, `pdm analyze` with the
# registration's key log; prints the report and what it shows, then removes
# everything it made. As root; otherwise it analyses the sample capture
# shipped in docs/sample/.
#
# Output: client.pcap, server.pcap, keylog, report.json, report.html in
# $DEMO_OUT (default BUILD_DIR/demo, replaced on each run).
set -eu
B=${1:-build}
PDM="$B/pdm"
cd "$(dirname "$0")/.."
exec "$PDM" demo --out "${DEMO_OUT:-$B/demo}"
