#!/bin/sh
# `pdm agent --metrics` (tools/agent/metrics.c) scraped by a real Prometheus:
# agents in two namespaces (tests/agent/lib.sh), each serving /metrics on
# its namespace's loopback; a UDP server in B that answers after 20 ms, and
# a few pings. Then:
#   - `promtool check metrics` passes on both agents' pages;
#   - the page's counters are those of `pdm agent --status`;
#   - a Prometheus server (own config, own storage in a temp dir, scrape
#     interval 1 s, in namespace A: its ports are not the host's, so a
#     packaged prometheus service on 9090 cannot collide) scrapes agent A;
#     its HTTP API returns A's rx_logged counter equal to --status, and
#     histogram_quantile(0.5) of A's server delay for peer B lies in the
#     bucket around the 20 ms the server waits (10-25 ms), and the round
#     trip's median below 10 ms (a veth), above 0.
# All of it with the NFQUEUE data path, then with the tc-eBPF one
# (`--datapath ebpf`, whose histograms are fed from its ring-buffer events),
# mode v2 and v2-encrypted (the options opened at ingress); SKIP where the
# fast path does not load.
# Bounded: every wait has a limit; cleanup by trap.
#
#   sh tests/it_metrics.sh BUILD_DIR      (as root, from the repository root)
set -u
. tests/agent/lib.sh
t_pdm_arg "$@"
T_DIR=$(mktemp -d /tmp/openpdm-it-metrics.XXXXXX)
trap 't_cleanup' EXIT
trap 'exit 1' INT TERM HUP
TR=tests/agent/traffic.py
SERVER_MS=20
MPORT=9464
PPORT=19090

if [ "$(id -u)" != 0 ]; then
    skip "it_metrics.sh: needs root (network namespaces, netfilter)"
    t_result
    exit 0
fi
for t in promtool prometheus curl; do
    if ! command -v $t >/dev/null 2>&1; then
        skip "it_metrics.sh: no $t (mk/deps.d/prom.txt: prometheus, curl)"
        t_result
        exit 0
    fi
done
check "create namespaces" t_netns $$
# Without libmicrohttpd the agent says so (and exits before any rule: the
# address is checked first, and is bad here anyway).
if ip netns exec "$NA" "$PDM" agent --peer "$B1" --metrics '[::1]' --control "$T_DIR/p.sock" 2>&1 |
    grep -q "without libmicrohttpd"; then
    skip "it_metrics.sh: pdm built without libmicrohttpd (libmicrohttpd-dev)"
    t_result
    exit 0
fi
bad_addr() {
    ip netns exec "$NA" "$PDM" agent --peer "$B1" --metrics '[::1]' --control "$T_DIR/bad.sock" \
        >"$T_DIR/bad.out" 2>&1
    [ $? = 1 ] && grep -q 'is not \[ADDR\]:PORT' "$T_DIR/bad.out"
}
check "a bad --metrics address is refused" bad_addr
# run_dp DATAPATH THREADS MODE: the checks with both agents on DATAPATH in
# MODE (v2-encrypted: keys from a key log), agent A holding THREADS threads
# at least. Check names start with DATAPATH/MODE ($DP).
run_dp() {
    DP=$1/$3
    NTHREADS=$2
    set -- --datapath "$1"
    case $DP in
    */v2-encrypted)
        echo "PDMV2_SECRET $A1 $B1 0020-0001-0001 $(hex32) $(hex32)" >"$T_DIR/klog"
        chmod 600 "$T_DIR/klog"
        set -- "$@" --keylog "$T_DIR/klog"
        ;;
    esac
    if ! start_agent "$NA" a --peer "$B1,mode=${DP#*/}" "$@" --metrics "[::1]:$MPORT"; then
        bad "$DP: agent A starts with --metrics"
        return 0
    fi
    pa=$AGENT_PID
    if ! start_agent "$NB" b --peer "$A1,mode=${DP#*/}" "$@" --metrics ":$MPORT"; then
        bad "$DP: agent B starts with --metrics"
        stop_pid $pa TERM
        return 0
    fi
    pb=$AGENT_PID
    # The HTTP thread is started after the privileges went: no thread keeps more.
    check "$DP: agent A: every thread CAP_NET_ADMIN only" caps_only_net_admin "$pa" $NTHREADS

    # A real Prometheus in namespace A, scraping agent A every second.
    cat >"$T_DIR/prom.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: pdm
    static_configs:
      - targets: ['[::1]:$MPORT']
EOF
    ip netns exec "$NA" timeout 55 prometheus --config.file="$T_DIR/prom.yml" \
        --storage.tsdb.path="$T_DIR/tsdb-${DP%/*}-${DP#*/}" --web.listen-address="[::1]:$PPORT" \
        >"$T_DIR/prom-${DP%/*}-${DP#*/}.out" 2>&1 &
    prom=$!
    t_track $prom
    PURL="http://[::1]:$PPORT"

    ip netns exec "$NB" $PY $TR udp-echo :: 7000 --delay-ms $SERVER_MS >"$T_DIR/echo.out" 2>&1 &
    echo_pid=$!
    t_track $echo_pid
    wait_for "$T_DIR/echo.out" listening || bad "UDP server did not start"
    ip netns exec "$NA" ping -6 -c 5 -i 0.05 -q "$B1" >/dev/null 2>&1
    out=$(ip netns exec "$NA" timeout 20 $PY $TR udp-client "$B1" 7000 40 --interval-ms 5)
    check "$DP: UDP exchange ($out)" [ "$out" = "sent 40 received 40" ]
    sleep 0.3

    # The pages as served, checked by promtool.
    scrape() { ip netns exec "$1" curl -sf -m 5 "http://[::1]:$MPORT/metrics"; }
    scrape "$NA" >"$T_DIR/a.prom"
    scrape "$NB" >"$T_DIR/b.prom"
    check "$DP: promtool check metrics (agent A)" sh -c "promtool check metrics <$T_DIR/a.prom"
    check "$DP: promtool check metrics (agent B)" sh -c "promtool check metrics <$T_DIR/b.prom"
    pval() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }
    st=$(counter a rx_logged)
    pg=$(pval "$T_DIR/a.prom" pdm_agent_rx_logged_total)
    check "$DP: page's rx_logged is --status's ($pg, $st)" [ -n "$st" ] && [ "$st" -ge 40 ] && [ "$pg" = "$st" ]
    cnt=$(pval "$T_DIR/a.prom" "pdm_server_delay_seconds_count{peer=\"$B1/128\"}")
    check "$DP: server delay histogram of peer $B1/128 has the answers (${cnt:-none})" \
        [ "${cnt:-0}" -ge 40 ]
    check "$DP: only configured prefixes label the histograms" \
        sh -c "! grep '^pdm_.*_bucket' $T_DIR/a.prom | grep -v 'peer=\"$B1/128\"'"
    ip netns exec "$NA" curl -s -o /dev/null -w '%{http_code}' "http://[::1]:$MPORT/other" \
        >"$T_DIR/404" 2>/dev/null
    check "$DP: other paths: 404" [ "$(cat "$T_DIR/404")" = 404 ]

    # Prometheus: ready, then scraped at least once after the traffic.
    i=0
    while [ $i -lt 150 ] && ! ip netns exec "$NA" curl -sf -m 1 "$PURL/-/ready" >/dev/null 2>&1; do
        sleep 0.1
        i=$((i + 1))
    done
    check "$DP: prometheus is ready" [ $i -lt 150 ]
    query() {
        ip netns exec "$NA" curl -sf -m 5 "$PURL/api/v1/query" --data-urlencode "query=$1" |
            $PY -c 'import json,sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "")'
    }
    i=0
    while [ $i -lt 20 ]; do
        v=$(query 'pdm_agent_rx_logged_total{job="pdm"}')
        [ -n "$v" ] && [ "$v" = "$(counter a rx_logged)" ] && break
        sleep 0.5
        i=$((i + 1))
    done
    check "$DP: prometheus: rx_logged = --status ($v)" [ -n "$v" ] && [ "$v" = "$(counter a rx_logged)" ]
    q=$(query "histogram_quantile(0.5, pdm_server_delay_seconds_bucket{peer=\"$B1/128\"})")
    check "$DP: prometheus: median server delay $q s in (0.010, 0.025] around $SERVER_MS ms" \
        $PY -c "import sys; q = float('$q' or 'nan'); sys.exit(not 0.010 < q <= 0.025)"
    r=$(query "histogram_quantile(0.5, pdm_round_trip_delay_seconds_bucket{peer=\"$B1/128\"})")
    check "$DP: prometheus: median round trip $r s in (0, 0.010)" \
        $PY -c "import sys; q = float('$r' or 'nan'); sys.exit(not 0 < q < 0.010)"
    echo "note: $DP: prometheus medians: server delay $q s (server waits $SERVER_MS ms), round trip $r s"

    stop_pid $pa TERM
    check "$DP: agent A exits 0" [ "$STOP_RC" = 0 ]
    stop_pid $pb TERM
    kill $prom $echo_pid 2>/dev/null
    wait $prom $echo_pid 2>/dev/null
}

run_dp nfqueue 3 v2
# The fast path where it loads here (else SKIP, with the agent's reason).
if ebpf_ok; then
    run_dp ebpf 2 v2
    run_dp ebpf 3 v2-encrypted # main, key and HTTP threads
else
    skip "it_metrics.sh: no eBPF fast path here ($(head -c 200 "$T_DIR/probe.err"))"
fi
t_result
