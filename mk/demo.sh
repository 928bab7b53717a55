#!/bin/sh
# `make demo`: the main job. Runs `pdm demo` (two hosts, registration,
# agents, traffic, capture, analysis) when this build has it; until then it
# shows what exists: the known-answer checks and an option round trip.
set -eu
B=${1:-build}
PDM="$B/pdm"
cd "$(dirname "$0")/.."
if "$PDM" --help | grep -q '^  demo '; then
    exec "$PDM" demo --out "${DEMO_OUT:-demo-out}"
fi
echo "== known-answer vectors (RFC 9180 HPKE and the pdmv2-hpke-1 profile) =="
if "$PDM" --help | grep -q '^  vectors '; then
    "$PDM" vectors tests/vectors/hpke-rfc9180-appendix-a-vectors.json \
        tests/vectors/pdmv2-profile-vectors.json
fi
echo
echo "== an RFC 8250 option: 5 ms server delay, PSN 4660 =="
opt=$("$PDM" option encode --format pdm psntp=4660 psnlr=4659 scale_dtlr=37 delta_tlr=36379)
echo "$opt"
"$PDM" option decode "$opt"
echo
echo "== the same in a PDMv2 Destination Options header before UDP (17) =="
hdr=$("$PDM" option encode --format v2 --rn 77 --next-header 17 psntp=4660 global_pointer=1)
echo "$hdr"
"$PDM" option decode --header "$hdr"
