/*
 * The analyser (tools/analyze/: core, flows, series, keys, out, html,
 * cmd_decrypt) over captures this test crafts with known ground truth.
 *
 * A simulator plays a client and a server exchanging request/response UDP
 * packets through the library's own egress and ingress rules
 * (pdm_flow_on_send / pdm_flow_on_recv), each on its own clock, with known
 * one-way delays and known server and client think times, and seals
 * encrypted PDMv2 options with pdm_profile_tx_seal() (rotating keys every
 * few hundred packets). The capture point sits next to the client. Then the
 * capture is edited the way networks and attackers do: packets dropped
 * before the capture point, duplicated, reordered, replayed later, altered.
 * The expected results come from the simulation's own bookkeeping (which
 * packet is which, what delay it was given), not from the analyser's code:
 *
 *   - delays: every sample equals the true delay encoded and decoded
 *     (pdm_time truncation), so count, min, max, median and p95 are exact
 *     and the mean exact to truncation;
 *   - lost, reordered, duplicates, replayed, auth failures, key rotations
 *     per direction, exactly;
 *   - replayed and out-of-order options never reach the delays;
 *   - the same capture framed as raw IPv6, Ethernet, Ethernet with 802.1ad
 *     and 802.1Q tags, Linux cooked v1 and v2, pcapng, and cut by a small
 *     snapshot length, gives the same results; options in a Hop-by-Hop
 *     header or a Destination Options header before a Routing header are
 *     found;
 *   - key logs with PDMV2_SECRET (either orientation) and PDMV2_PRIMARY
 *     (client in a prefix) lines;
 *   - `pdm decrypt` writes, for each option that opens, exactly the packet
 *     an unencrypted sender would have sent with the same fields, RN and F;
 *     tshark reads the result as well-formed IPv6 with a 24-byte
 *     Destination Options header holding an 18-byte option; analysing it
 *     without keys gives what analysing the original with keys gives;
 *   - JSON output parses and carries the same numbers; the HTML report is
 *     written (tests/it_report_chromium.sh renders it).
 *
 * `test_analyze --emit DIR` writes the captures, key log and an
 * expected.json for tests/it_analyze.sh and tests/it_report_chromium.sh.
 */
#include "harness.h"
#include "ip6sum.h"
#include "vectors.h"

#include "analyze/analyze.h"
#include "common/pcapw.h"
#include "common/tools.h"
#include <pdm/keylog.h>
#include <pdm/profile.h>
#include <pdm/time.h>

#include <arpa/inet.h>
#include <pcap/pcap.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conv.h"

#define PKT_CAP  256
#define MAX_PKTS 16384

static char tmpdir[256];

/* ---- simulation ---------------------------------------------------------- */

struct spkt {
    uint64_t ts;        /* capture time */
    unsigned from;      /* AN_CLIENT or AN_SERVER */
    size_t seq;         /* index among its sender's packets */
    uint8_t b[PKT_CAP]; /* as sent (encrypted when the flow is) */
    size_t len;
    uint8_t clear[PKT_CAP]; /* the same packet with the unencrypted PDMv2 option */
    size_t clear_len;
    struct pdm_fields f;
    uint64_t tlr_true, tls_true; /* the sender's deltas before encoding (0: absent) */
    uint16_t kri;
    int altered; /* bytes changed after sealing */
    int copy;    /* a duplicate / replay of an earlier packet */
};

struct sim {
    enum pdm_format fmt;
    size_t n; /* exchanges */
    uint64_t owd1, owd2, t0, server_clock_offset;
    uint16_t max_packets; /* rotation policy (encrypted) */
    uint8_t caddr[16], saddr[16];
    uint16_t cport, sport;
    struct pdm_profile_secret secret;
    struct spkt *p;
    size_t np;
    size_t sent[2];
};

static uint64_t server_delay_of(size_t i)
{
    return 50000 + (uint64_t)((i * 7919) % 1000) * 97;
}

static uint64_t client_delay_of(size_t i)
{
    return 1000000 + (uint64_t)((i * 104729) % 500) * 1013;
}

static uint64_t enc_dec(uint64_t ns)
{
    uint16_t d;
    uint8_t s;
    pdm_time_encode_ns(ns, &d, &s);
    return pdm_time_decode_ns(d, s);
}

/* IPv6 + UDP with an 8-byte payload, then the option inserted by the codec. */
static size_t build_udp(uint8_t *p, const uint8_t src[16], const uint8_t dst[16], uint16_t sport,
                        uint16_t dport, uint32_t tag, const uint8_t *opt, size_t optlen)
{
    size_t len = PDM_IPV6_HDR_SIZE + 16;
    uint8_t *ul = p + PDM_IPV6_HDR_SIZE;

    memset(p, 0, PKT_CAP);
    p[0] = 0x60;
    p[6] = PDM_NH_UDP;
    p[7] = 64;
    memcpy(p + 8, src, 16);
    memcpy(p + 24, dst, 16);
    pdm_put_u16be(p + 4, 16);
    pdm_put_u16be(ul, sport);
    pdm_put_u16be(ul + 2, dport);
    pdm_put_u16be(ul + 4, 16);
    pdm_put_u32be(ul + 8, tag);
    pdm_put_u32be(ul + 12, 0x70646d21);
    pdm_put_u16be(ul + 6, upper_checksum(p, PDM_NH_UDP, ul, 16));
    if (opt && pdm_pkt_insert(p, &len, PKT_CAP, opt, optlen, NULL) <= 0)
        return 0;
    return len;
}

static void tuple_of(struct pdm_flow_tuple *t, const uint8_t *src, const uint8_t *dst, uint16_t sp,
                     uint16_t dp)
{
    memset(t, 0, sizeof *t);
    memcpy(t->src, src, 16);
    memcpy(t->dst, dst, 16);
    t->sport = sp;
    t->dport = dp;
    t->proto = PDM_NH_UDP;
}

/*
 * Runs s->n request/response exchanges. Times: the client sends request i
 * at T (captured at T), the server gets it at T + owd1, answers after
 * server_delay_of(i), the answer is captured and received at the client
 * owd2 later, and the client sends the next request client_delay_of(i)
 * after that. The server's clock runs server_clock_offset ahead.
 */
static int simulate(struct sim *s)
{
    struct pdm_flow_table *tc = NULL, *ts = NULL;
    struct pdm_flow *fc, *fs;
    struct pdm_flow_tuple tcs, tsc;
    struct pdm_profile_tx tx[2];
    struct pdm_profile_policy pol = {s->max_packets, 0};
    struct pdm_gp gp[2];
    uint8_t hk[PDM_FLOW_HASH_KEY_SIZE] = {1, 2, 3};
    unsigned dir_c;
    uint64_t T = s->t0;
    int rv = -1;

    memset(tx, 0, sizeof tx);
    pdm_gp_init(&gp[0]);
    pdm_gp_init(&gp[1]);
    tuple_of(&tcs, s->caddr, s->saddr, s->cport, s->sport);
    tuple_of(&tsc, s->saddr, s->caddr, s->sport, s->cport);
    if (pdm_flow_table_new(&tc, 4, 0, hk) || pdm_flow_table_new(&ts, 4, 0, hk))
        goto out;
    if (pdm_flow_get(tc, &tcs, T, 0x1234fff0u, &fc, &dir_c) < 0 ||
        pdm_flow_get(ts, &tcs, T, 0xfff81234u, &fs, NULL) < 0)
        goto out;
    if (s->fmt == PDM_FORMAT_V2_ENCRYPTED &&
        (pdm_profile_tx_start(&tx[0], &s->secret, &tcs, 0, T) != 0 ||
         pdm_profile_tx_start(&tx[1], &s->secret, &tsc, 0, T + s->server_clock_offset) != 0))
        goto out;
    s->np = 0;
    s->sent[0] = s->sent[1] = 0;
    for (size_t i = 0; i < s->n; i++) {
        for (unsigned from = 0; from < 2; from++) {
            struct spkt *p = &s->p[s->np++];
            struct pdm_flow *f = from == AN_CLIENT ? fc : fs;
            unsigned d = from == AN_CLIENT ? dir_c : dir_c ^ 1;
            uint64_t now =
                from == AN_CLIENT ? T : T + s->owd1 + server_delay_of(i) + s->server_clock_offset;
            const struct pdm_flow_dir *st = &f->dir[d];
            struct pdm_option o;
            uint8_t ob[PDM_OPTSIZE_MAX];
            ssize_t n;

            memset(p, 0, sizeof *p);
            p->from = from;
            p->seq = s->sent[from]++;
            p->ts = from == AN_CLIENT ? T : T + s->owd1 + server_delay_of(i) + s->owd2;
            /* The true deltas, from the sender's own records. */
            if (st->flags & PDM_FLOW_RECEIVED) {
                p->tlr_true = now - st->last_recv_ns;
                if (st->flags & PDM_FLOW_SENT_BEFORE_RECV)
                    p->tls_true = st->last_recv_ns - st->sent_before_recv_ns;
            }
            pdm_flow_on_send(f, d, now, &p->f);
            if (s->fmt != PDM_FORMAT_RFC8250)
                p->f.global_pointer = pdm_gp_next(&gp[from], from ? s->saddr : s->caddr);
            memset(&o, 0, sizeof o);
            o.type = PDM_OPT_TYPE;
            o.fields = p->f;
            if (s->fmt == PDM_FORMAT_V2_ENCRYPTED) {
                if (pdm_profile_tx_seal(&tx[from], &s->secret, from ? &tsc : &tcs, &pol, now,
                                        PDM_OPT_TYPE, &p->f, ob, sizeof ob) != PDM_OPTSIZE_V2_ENC)
                    goto out;
                p->kri = tx[from].kri;
                o.format = PDM_FORMAT_V2;
                o.rn = (uint16_t)(pdm_get_u16be(ob + 4) >> 1);
                o.f = ob[5] & 1;
            } else {
                o.format = s->fmt;
                o.rn = (uint16_t)(1 + (p->seq * 31) % PDM_RN_MAX);
                if ((n = pdm_option_encode(ob, sizeof ob, &o)) <= 0)
                    goto out;
            }
            {
                uint8_t cb[PDM_OPTSIZE_MAX];
                if ((n = pdm_option_encode(cb, sizeof cb, &o)) <= 0)
                    goto out;
                p->clear_len =
                    build_udp(p->clear, from ? s->saddr : s->caddr, from ? s->caddr : s->saddr,
                              from ? s->sport : s->cport, from ? s->cport : s->sport,
                              (uint32_t)s->np, cb, (size_t)n);
                p->len = build_udp(p->b, from ? s->saddr : s->caddr, from ? s->caddr : s->saddr,
                                   from ? s->sport : s->cport, from ? s->cport : s->sport,
                                   (uint32_t)s->np, ob, pdm_option_size(s->fmt));
                if (!p->len || !p->clear_len)
                    goto out;
            }
            /* The peer receives it. */
            if (from == AN_CLIENT) {
                pdm_flow_on_recv(fs, dir_c, T + s->owd1 + s->server_clock_offset, p->f.psntp);
            } else {
                pdm_flow_on_recv(fc, dir_c ^ 1, p->ts, p->f.psntp);
                T = p->ts + client_delay_of(i);
            }
        }
    }
    rv = 0;
out:
    pdm_profile_tx_clear(&tx[0]);
    pdm_profile_tx_clear(&tx[1]);
    pdm_flow_table_free(tc);
    pdm_flow_table_free(ts);
    return rv;
}

static void sim_init(struct sim *s, enum pdm_format fmt, size_t n)
{
    static const uint8_t salt[32] = {0x5a, 1, 2, 3};
    static const uint8_t secret[32] = {0x11, 0x22, 0x33, 0x44};

    memset(s, 0, sizeof *s);
    s->fmt = fmt;
    s->n = n;
    s->owd1 = 2000000;
    s->owd2 = 3000000;
    s->t0 = 1700000000ull * 1000000000u + 123456789;
    s->server_clock_offset = 987654321;
    s->max_packets = 200;
    inet_pton(AF_INET6, "2001:db8:1::5", s->caddr);
    inet_pton(AF_INET6, "2001:db8:2::1", s->saddr);
    s->cport = 40001;
    s->sport = 4433;
    s->p = calloc(MAX_PKTS, sizeof *s->p);
    if (pdm_profile_secret_init(&s->secret, PDM_PROFILE_SUITE_DEFAULT, salt, sizeof salt, secret,
                                sizeof secret) != 0)
        fprintf(stderr, "secret_init failed\n");
}

static void sim_free(struct sim *s)
{
    pdm_profile_secret_wipe(&s->secret);
    free(s->p);
}

/* ---- capture editing ----------------------------------------------------- */

/* The capture: indexes into sim.p, in capture order, plus copies. */
struct cap {
    struct spkt *v[MAX_PKTS];
    size_t n;
};

static void cap_all(struct cap *c, struct sim *s)
{
    c->n = 0;
    for (size_t i = 0; i < s->np; i++)
        c->v[c->n++] = &s->p[i];
}

/* Position in c of packet `seq` of sender `from`. */
static size_t cap_find(const struct cap *c, unsigned from, size_t seq)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i]->from == from && c->v[i]->seq == seq && !c->v[i]->copy)
            return i;
    return SIZE_MAX;
}

static void cap_remove(struct cap *c, size_t pos)
{
    memmove(&c->v[pos], &c->v[pos + 1], (c->n - pos - 1) * sizeof c->v[0]);
    c->n--;
}

static void cap_insert(struct cap *c, size_t pos, struct spkt *p)
{
    memmove(&c->v[pos + 1], &c->v[pos], (c->n - pos) * sizeof c->v[0]);
    c->v[pos] = p;
    c->n++;
}

/* Copies of packets live in a side pool (same contents, copy flag). */
static struct spkt pool[256];
static size_t npool;

static struct spkt *make_copy(const struct spkt *p, uint64_t ts)
{
    struct spkt *q = &pool[npool++];
    *q = *p;
    q->copy = 1;
    q->ts = ts;
    return q;
}

/* Capture times must not go backwards: after editing, each record takes
 * the later of its own time and the previous record's. */
static void cap_fix_times(struct cap *c)
{
    for (size_t i = 1; i < c->n; i++)
        if (c->v[i]->ts < c->v[i - 1]->ts)
            c->v[i]->ts = c->v[i - 1]->ts;
}

/* ---- expectations -------------------------------------------------------- */

struct expect {
    uint64_t lost[2], reordered[2], dups[2], replayed[2], auth[2], late[2];
    uint64_t rtd_negative; /* round trips that come out negative: no sample */
    uint64_t *v[AN_KINDS]; /* delay samples */
    size_t nv[AN_KINDS];
};

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/*
 * What the analyser must find in capture c, from the simulation's
 * bookkeeping. Per direction: a packet counts when it opened (not
 * altered), is not a copy already seen, and its sequence index is above
 * every one seen so far; only such packets give delays. A client packet's
 * round trip needs the server packet named by its PSNLR to have given a
 * server delay and to be among the last 32 that did.
 */
static void expect_compute(struct expect *e, const struct cap *c, int encrypted)
{
    size_t highest[2] = {0, 0}, hist[64], nh = 0;
    int started[2] = {0, 0};
    uint8_t *seen[2];
    const struct spkt **srv_by_psn = calloc(65536, sizeof *srv_by_psn);

    memset(e->lost, 0, sizeof e->lost);
    memset(e->reordered, 0, sizeof e->reordered);
    memset(e->dups, 0, sizeof e->dups);
    memset(e->replayed, 0, sizeof e->replayed);
    memset(e->auth, 0, sizeof e->auth);
    memset(e->late, 0, sizeof e->late);
    e->rtd_negative = 0;
    for (int k = 0; k < AN_KINDS; k++) {
        e->v[k] = calloc(MAX_PKTS, sizeof *e->v[k]);
        e->nv[k] = 0;
    }
    seen[0] = calloc(MAX_PKTS, 1);
    seen[1] = calloc(MAX_PKTS, 1);
    for (size_t i = 0; i < c->n; i++) {
        const struct spkt *p = c->v[i];
        unsigned r = p->from;
        if (p->altered) {
            e->auth[r]++;
            continue;
        }
        /* 256 = PDM_METRICS_WINDOW: copies of options whose PSN is that far
         * behind are "late" (the replay ring has moved on too). */
        int far = started[r] && highest[r] >= p->seq + 256;
        if (encrypted && seen[r][p->seq] && !far) {
            e->replayed[r]++;
            continue;
        }
        if (far) {
            e->late[r]++;
            continue;
        }
        if (seen[r][p->seq]) {
            e->dups[r]++;
            continue;
        }
        int behind = started[r] && p->seq < highest[r];
        if (behind)
            e->reordered[r]++;
        seen[r][p->seq] = 1;
        if (!started[r] || p->seq > highest[r])
            highest[r] = p->seq;
        started[r] = 1;
        if (behind)
            continue;
        if (r == AN_SERVER) {
            if (p->tlr_true) {
                e->v[AN_SERVER_DELAY][e->nv[AN_SERVER_DELAY]++] = enc_dec(p->tlr_true);
                srv_by_psn[p->f.psntp] = p;
                hist[nh++ % 32] = p->seq;
            }
        } else {
            if (p->tlr_true)
                e->v[AN_CLIENT_DELAY][e->nv[AN_CLIENT_DELAY]++] = enc_dec(p->tlr_true);
            if (p->tls_true) {
                const struct spkt *sp = srv_by_psn[p->f.psnlr];
                int inhist = 0;
                for (size_t h = 0; sp && h < (nh < 32 ? nh : 32); h++)
                    inhist |= hist[h] == sp->seq;
                if (inhist) {
                    uint64_t tls = enc_dec(p->tls_true), tlr = enc_dec(sp->tlr_true);
                    if (tls >= tlr)
                        e->v[AN_RTD][e->nv[AN_RTD]++] = tls - tlr;
                    else
                        e->rtd_negative++;
                }
            }
        }
    }
    /* Loss: sequence indexes between the first and the highest seen that
     * never arrived intact. */
    for (unsigned r = 0; r < 2; r++) {
        size_t first = SIZE_MAX;
        for (size_t q = 0; q < MAX_PKTS; q++)
            if (seen[r][q] && first == SIZE_MAX)
                first = q;
        for (size_t q = first; started[r] && q < highest[r]; q++)
            e->lost[r] += !seen[r][q];
    }
    free(seen[0]);
    free(seen[1]);
    free(srv_by_psn);
}

static void expect_free(struct expect *e)
{
    for (int k = 0; k < AN_KINDS; k++)
        free(e->v[k]);
}

/* Checks one flow's summaries against the expected samples. */
static void check_delays(const struct an_flow *f, struct expect *e)
{
    for (int k = 0; k < AN_KINDS; k++) {
        const struct an_summary *s = &f->sum[k];
        size_t n = e->nv[k];
        CHECK_INT(s->count, n);
        if (n == 0 || s->count != n)
            continue;
        qsort(e->v[k], n, sizeof e->v[k][0], cmp_u64);
        pdm_u128 sum = 0;
        for (size_t i = 0; i < n; i++)
            sum += e->v[k][i];
        CHECK_INT(s->min, e->v[k][0]);
        CHECK_INT(s->max, e->v[k][n - 1]);
        CHECK_INT(s->median, e->v[k][(n + 1) / 2 - 1]);
        CHECK_INT(s->p95, e->v[k][(n * 95 + 99) / 100 - 1]);
        CHECK_INT(s->mean, (uint64_t)(sum / n));
        CHECK(s->exact);
    }
    CHECK_INT(f->sum[AN_SERVER_DELAY].negative, 0);
    CHECK_INT(f->sum[AN_CLIENT_DELAY].negative, 0);
    CHECK_INT(f->sum[AN_RTD].negative, e->rtd_negative);
}

static void check_counts(const struct an_flow *f, const struct expect *e)
{
    for (unsigned r = 0; r < 2; r++) {
        CHECK_INT(f->dir[r].lost, e->lost[r]);
        CHECK_INT(f->dir[r].reordered, e->reordered[r]);
        CHECK_INT(f->dir[r].duplicates, e->dups[r]);
        CHECK_INT(f->dir[r].replayed, e->replayed[r]);
        CHECK_INT(f->dir[r].auth_failures, e->auth[r]);
        CHECK_INT(f->dir[r].no_key, 0);
        CHECK_INT(f->dir[r].late, e->late[r]);
    }
}

/* ---- writing captures ---------------------------------------------------- */

enum frame { FR_RAW, FR_ETH, FR_VLAN, FR_SLL, FR_SLL2 };

static uint32_t linktype_of(enum frame fr)
{
    switch (fr) {
    case FR_ETH:
    case FR_VLAN:
        return TOOL_PCAPW_LINKTYPE_ETHERNET;
    case FR_SLL:
        return 113;
    case FR_SLL2:
        return 276;
    default:
        return TOOL_PCAPW_LINKTYPE_RAW;
    }
}

/* Frames pkt (len bytes) for link fr into out; returns the frame length. */
static size_t frame_of(enum frame fr, const uint8_t *pkt, size_t len, uint8_t *out, int outgoing)
{
    static const uint8_t mac_a[6] = {0x02, 0, 0, 0, 0, 0xaa}, mac_b[6] = {0x02, 0, 0, 0, 0, 0xbb};
    size_t h = 0;

    switch (fr) {
    case FR_RAW:
        break;
    case FR_ETH:
    case FR_VLAN:
        memcpy(out, outgoing ? mac_b : mac_a, 6);
        memcpy(out + 6, outgoing ? mac_a : mac_b, 6);
        h = 12;
        if (fr == FR_VLAN) {
            pdm_put_u16be(out + h, AN_ETHERTYPE_QINQ);
            pdm_put_u16be(out + h + 2, 100);
            pdm_put_u16be(out + h + 4, AN_ETHERTYPE_VLAN);
            pdm_put_u16be(out + h + 6, 0x2000 | 42);
            h += 8;
        }
        pdm_put_u16be(out + h, AN_ETHERTYPE_IPV6);
        h += 2;
        break;
    case FR_SLL:
        pdm_put_u16be(out, outgoing ? 4 : 0);
        pdm_put_u16be(out + 2, 1); /* ARPHRD_ETHER */
        pdm_put_u16be(out + 4, 6);
        memcpy(out + 6, outgoing ? mac_a : mac_b, 6);
        out[12] = out[13] = 0;
        pdm_put_u16be(out + 14, AN_ETHERTYPE_IPV6);
        h = 16;
        break;
    case FR_SLL2:
        pdm_put_u16be(out, AN_ETHERTYPE_IPV6);
        pdm_put_u16be(out + 2, 0);
        pdm_put_u32be(out + 4, 2);
        pdm_put_u16be(out + 8, 1);
        out[10] = outgoing ? 4 : 0;
        out[11] = 6;
        memcpy(out + 12, outgoing ? mac_a : mac_b, 6);
        out[18] = out[19] = 0;
        h = 20;
        break;
    }
    memcpy(out + h, pkt, len);
    return h + len;
}

/* Writes capture c as pcap (pcapw) with framing fr, plus an IPv4 and an
 * ARP frame on Ethernet-like links (they must be skipped). */
static int write_pcap(const char *path, const struct cap *c, enum frame fr, int clear)
{
    struct tool_pcapw w;
    uint8_t fb[PKT_CAP + 32];
    int rv;

    if ((rv = tool_pcapw_open(&w, path, linktype_of(fr))) != 0)
        return rv;
    if (fr == FR_ETH || fr == FR_VLAN) {
        /* IPv4 UDP (192.0.2.1 -> 192.0.2.2, checksum 0 = none) and an
         * ARP request: both must be skipped. */
        static const uint8_t v4[] = {0x45, 0,  0, 36, 0,   1,   0,   0,   64,   17,   0,    0,
                                     192,  0,  2, 1,  192, 0,   2,   2,   0x13, 0x88, 0x13, 0x89,
                                     0,    16, 0, 0,  'n', 'o', 't', ' ', 'i',  'p',  'v',  '6'};
        static const uint8_t arp[] = {0,   1, 8, 0, 6, 4, 0, 1, 2, 0, 0,   0, 0, 0xaa,
                                      192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 192, 0, 2, 2};
        uint32_t sum = 0;
        size_t h = fr == FR_VLAN ? 22 : 14;
        memset(fb, 0, sizeof fb);
        frame_of(fr, v4, sizeof v4, fb, 1);
        pdm_put_u16be(fb + h - 2, 0x0800);
        for (size_t i = 0; i < 20; i += 2)
            sum += pdm_get_u16be(fb + h + i);
        while (sum >> 16)
            sum = (sum & 0xffff) + (sum >> 16);
        pdm_put_u16be(fb + h + 10, (uint16_t)~sum);
        if ((rv = tool_pcapw_write(&w, c->v[0]->ts - 2, fb,
                                   h + sizeof v4 < 60 ? 60 : h + sizeof v4)) != 0)
            goto out;
        memset(fb, 0, sizeof fb);
        frame_of(fr, arp, sizeof arp, fb, 1);
        pdm_put_u16be(fb + h - 2, 0x0806);
        if ((rv = tool_pcapw_write(&w, c->v[0]->ts - 1, fb, 60)) != 0)
            goto out;
    }
    for (size_t i = 0; i < c->n && rv == 0; i++) {
        const struct spkt *p = c->v[i];
        size_t n = frame_of(fr, clear ? p->clear : p->b, clear ? p->clear_len : p->len, fb,
                            p->from == AN_CLIENT);
        rv = tool_pcapw_write(&w, p->ts, fb, n);
    }
out:
    if (tool_pcapw_close(&w) != 0 && rv == 0)
        rv = PDM_ERR_SYSTEM;
    return rv;
}

/* A classic pcap with records cut at snaplen (caplen < wire length). */
static int write_pcap_snap(const char *path, const struct cap *c, size_t snaplen)
{
    FILE *f = fopen(path, "wb");
    uint8_t h[24] = {0};

    if (!f)
        return -1;
    pdm_put_u32be(h, 0xa1b23c4d);
    pdm_put_u16be(h + 4, 2);
    pdm_put_u16be(h + 6, 4);
    pdm_put_u32be(h + 16, (uint32_t)snaplen);
    pdm_put_u32be(h + 20, TOOL_PCAPW_LINKTYPE_RAW);
    fwrite(h, sizeof h, 1, f);
    for (size_t i = 0; i < c->n; i++) {
        const struct spkt *p = c->v[i];
        size_t cl = p->len < snaplen ? p->len : snaplen;
        uint8_t r[16];
        pdm_put_u32be(r, (uint32_t)(p->ts / 1000000000u));
        pdm_put_u32be(r + 4, (uint32_t)(p->ts % 1000000000u));
        pdm_put_u32be(r + 8, (uint32_t)cl);
        pdm_put_u32be(r + 12, (uint32_t)p->len);
        fwrite(r, sizeof r, 1, f);
        fwrite(p->b, cl, 1, f);
    }
    return fclose(f) == 0 ? 0 : -1;
}

/* pcapng (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html):
 * SHB, IDB (LINKTYPE_ETHERNET, if_tsresol 9 = nanoseconds), EPBs. Little
 * endian, as most writers produce. */
static void le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static int write_pcapng(const char *path, const struct cap *c)
{
    FILE *f = fopen(path, "wb");
    uint8_t b[PKT_CAP + 128];

    if (!f)
        return -1;
    memset(b, 0, 28);
    le32(b, 0x0a0d0d0a);
    le32(b + 4, 28);
    le32(b + 8, 0x1a2b3c4d);
    b[12] = 1;               /* version 1.0 */
    memset(b + 16, 0xff, 8); /* section length unknown */
    le32(b + 24, 28);
    fwrite(b, 28, 1, f);
    memset(b, 0, 32);
    le32(b, 1);
    le32(b + 4, 32);
    b[8] = 1; /* LINKTYPE_ETHERNET */
    le32(b + 12, 262144);
    b[16] = 9; /* if_tsresol */
    b[18] = 1;
    b[20] = 9;
    /* opt_endofopt at 24..27 is zero */
    le32(b + 28, 32);
    fwrite(b, 32, 1, f);
    for (size_t i = 0; i < c->n; i++) {
        const struct spkt *p = c->v[i];
        uint8_t fr[PKT_CAP + 32];
        size_t n = frame_of(FR_ETH, p->b, p->len, fr, p->from == AN_CLIENT);
        size_t padded = (n + 3) & ~(size_t)3, total = 32 + padded;
        memset(b, 0, total);
        le32(b, 6);
        le32(b + 4, (uint32_t)total);
        le32(b + 12, (uint32_t)(p->ts >> 32));
        le32(b + 16, (uint32_t)p->ts);
        le32(b + 20, (uint32_t)n);
        le32(b + 24, (uint32_t)n);
        memcpy(b + 28, fr, n);
        le32(b + 28 + padded, (uint32_t)total);
        fwrite(b, total, 1, f);
    }
    return fclose(f) == 0 ? 0 : -1;
}

static void path_in(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmpdir, name);
}

/* ---- running the analyser ------------------------------------------------ */

static struct an_ctx *analyse_opts(const char *path, struct an_opts *o)
{
    struct an_ctx *a = NULL;
    char err[256];
    int rv;

    if (an_new(&a, o) != 0)
        return NULL;
    rv = an_read_file(a, path, NULL, err, sizeof err);
    CHECK_INT(rv, 0);
    if (rv != 0)
        fprintf(stderr, "  %s\n", err);
    CHECK_INT(an_finish(a), 0);
    return a;
}

/* Sample times are kept (as for a report) when keep_times is set: the
 * results must not depend on it. */
static int keep_times;

static struct an_ctx *analyse(const char *path, struct an_keys *keys)
{
    struct an_opts o;
    memset(&o, 0, sizeof o);
    o.opt_type = PDM_OPT_TYPE;
    o.keys = keys;
    o.keep_times = keep_times;
    return analyse_opts(path, &o);
}

static struct an_keys *write_keylog(const char *path, const struct sim *s, const char *extra,
                                    int swap, const uint8_t *secret, size_t secret_len)
{
    struct pdm_keylog_entry e;
    static const uint8_t salt[32] = {0x5a, 1, 2, 3};
    struct an_keys *k = NULL;
    char line[PDM_KEYLOG_LINE_MAX], err[256];
    FILE *f = fopen(path, "w");

    if (!f)
        return NULL;
    fprintf(f, "# openpdm test key log\n");
    if (extra)
        fprintf(f, "%s\n", extra);
    memset(&e, 0, sizeof e);
    e.kind = PDM_KEYLOG_SECRET;
    memcpy(e.client, swap ? s->saddr : s->caddr, 16);
    memcpy(e.server, swap ? s->caddr : s->saddr, 16);
    e.client_plen = e.server_plen = 128;
    e.suite = PDM_PROFILE_SUITE_DEFAULT;
    memcpy(e.salt, salt, 32);
    memcpy(e.secret, secret, secret_len);
    e.secret_len = (uint8_t)secret_len;
    if (pdm_keylog_format_line(&e, line, sizeof line) > 0)
        fprintf(f, "%s\n", line);
    fclose(f);
    CHECK_INT(an_keys_load(&k, path, err, sizeof err), 0);
    return k;
}

/* ---- tests --------------------------------------------------------------- */

static void test_percentiles(void)
{
    /* Small arrays (quickselect) and large ones (sampled brackets first),
     * with many ties, with distinct values, and sorted / reversed input. */
    static const size_t sizes[] = {1, 2, 3, 10, 999, 8191, 8192, 20001, 100000};
    uint64_t rng = 42;
    int bad = 0, checks = 0;

    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        uint64_t *v = malloc(n * sizeof *v), *w = malloc(n * sizeof *w), *c = malloc(n * sizeof *c);
        for (int shape = 0; shape < 4; shape++) {
            for (size_t i = 0; i < n; i++) {
                rng = rng * 6364136223846793005ull + 1442695040888963407ull;
                v[i] = shape == 0   ? (rng >> 33) % 97 /* many ties */
                       : shape == 1 ? rng >> 11
                       : shape == 2 ? i      /* sorted */
                                    : n - i; /* reversed */
            }
            memcpy(w, v, n * sizeof v[0]);
            qsort(w, n, sizeof w[0], cmp_u64);
            for (unsigned pct = 1; pct <= 100; pct += 7) {
                memcpy(c, v, n * sizeof v[0]);
                checks++;
                bad += an_percentile(c, n, pct) != w[(n * pct + 99) / 100 - 1];
            }
        }
        free(v);
        free(w);
        free(c);
    }
    CHECK_INT(bad, 0);
    CHECK_INT(checks, 9 * 4 * 15);
    /* Reservoir: count, min, max, mean exact; at most max kept. */
    struct an_series s;
    struct pdm_metrics_stat st;
    struct an_summary sum;
    memset(&s, 0, sizeof s);
    memset(&st, 0, sizeof st);
    rng = 7;
    int add_fail = 0;
    for (uint64_t i = 1; i <= 100000; i++) {
        add_fail |= an_series_add(&s, i, i, 1, 1000, &rng);
        pdm_metrics_stat_add(&st, i);
    }
    CHECK_INT(add_fail, 0);
    CHECK_INT(s.n, 1000);
    CHECK_INT(s.offered, 100000);
    CHECK_INT(an_series_summary(&s, &st, &sum), 0);
    CHECK_INT(sum.count, 100000);
    CHECK_INT(sum.min, 1);
    CHECK_INT(sum.max, 100000);
    CHECK_INT(sum.mean, 50000);
    CHECK(!sum.exact);
    /* A uniform sample of 1..100000: the median within 5 % of 50000. */
    CHECK(sum.median > 45000 && sum.median < 55000);
    CHECK(sum.p95 > 90000 && sum.p95 < 99000);
    CHECK(s.t != NULL);
    an_series_free(&s);
}

static void test_endpoints(void)
{
    struct an_endpoint ep;
    uint8_t a[16];

    inet_pton(AF_INET6, "2001:db8::1", a);
    CHECK_INT(an_endpoint_parse(&ep, "2001:db8::1"), 0);
    CHECK(ep.has_addr && !ep.has_port && !memcmp(ep.addr, a, 16));
    CHECK_INT(an_endpoint_parse(&ep, "[2001:db8::1]:443"), 0);
    CHECK(ep.has_addr && ep.has_port && ep.port == 443);
    CHECK_INT(an_endpoint_parse(&ep, ":8250"), 0);
    CHECK(!ep.has_addr && ep.has_port && ep.port == 8250);
    CHECK_INT(an_endpoint_parse(&ep, "::1"), 0);
    CHECK(ep.has_addr && !ep.has_port);
    CHECK_INT(an_endpoint_parse(&ep, "[2001:db8::1]:65536"), PDM_ERR_INVAL);
    CHECK_INT(an_endpoint_parse(&ep, "[2001:db8::1"), PDM_ERR_INVAL);
    CHECK_INT(an_endpoint_parse(&ep, "192.0.2.1"), PDM_ERR_INVAL);
    CHECK_INT(an_endpoint_parse(&ep, ":"), PDM_ERR_INVAL);
}

/* Clean exchanges in each format: exact delays, nothing lost, GP rate. */
static void test_clean(enum pdm_format fmt)
{
    struct sim s;
    struct cap *c = calloc(1, sizeof *c);
    struct expect e;
    struct an_keys *k = NULL;
    char path[512], kl[512];

    sim_init(&s, fmt, 600);
    keep_times = fmt == PDM_FORMAT_V2;
    CHECK_INT(simulate(&s), 0);
    cap_all(c, &s);
    expect_compute(&e, c, fmt == PDM_FORMAT_V2_ENCRYPTED);
    CHECK_INT(e.nv[AN_SERVER_DELAY], 600);
    CHECK_INT(e.nv[AN_CLIENT_DELAY], 599);
    CHECK_INT(e.nv[AN_RTD], 599);
    path_in(path, sizeof path, "clean.pcap");
    CHECK_INT(write_pcap(path, c, FR_RAW, 0), 0);
    if (fmt == PDM_FORMAT_V2_ENCRYPTED) {
        static const uint8_t secret[32] = {0x11, 0x22, 0x33, 0x44};
        path_in(kl, sizeof kl, "clean.keys");
        k = write_keylog(kl, &s, NULL, 0, secret, sizeof secret);
    }
    struct an_ctx *a = analyse(path, k);
    CHECK(a && a->nflows == 1);
    if (a && a->nflows == 1) {
        const struct an_flow *f = a->flows[0];
        CHECK_INT(f->packets, 1200);
        CHECK(!memcmp(f->tup.src, s.caddr, 16) && f->tup.sport == s.cport);
        CHECK(!memcmp(f->tup.dst, s.saddr, 16) && f->tup.dport == s.sport);
        CHECK_INT(f->tup.proto, PDM_NH_UDP);
        CHECK(!strcmp(an_flow_format(f), pdm_format_name(fmt)));
        check_counts(f, &e);
        check_delays(f, &e);
        /* Known delays, independently of the codec: each server delay is
         * the simulated one minus under 2^-15 of it. */
        {
            uint64_t lo = UINT64_MAX, hi = 0;
            for (size_t i = 0; i < 600; i++) {
                uint64_t v = server_delay_of(i);
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
            CHECK(f->sum[AN_SERVER_DELAY].min <= lo &&
                  f->sum[AN_SERVER_DELAY].min >= lo - lo / 32768 - 1);
            CHECK(f->sum[AN_SERVER_DELAY].max <= hi &&
                  f->sum[AN_SERVER_DELAY].max >= hi - hi / 32768 - 1);
        }
        CHECK(f->sum[AN_RTD].min >= s.owd1 + s.owd2 - (s.owd1 + s.owd2) / 16384 - 200 &&
              f->sum[AN_RTD].max <= s.owd1 + s.owd2 + 200);
        if (fmt != PDM_FORMAT_RFC8250) {
            /* GP: one per packet of its node; the client's rate is its
             * packets over the span of its capture times. */
            const struct an_dir *d = &f->dir[AN_CLIENT];
            uint64_t span = s.p[2 * 599].ts - s.p[0].ts;
            double want = 599e9 / (double)span;
            double got = an_gp_rate(d->gp_min, d->gp_max, d->gp_first_ns, d->gp_last_ns);
            CHECK_INT(d->gp_min, 1);
            CHECK_INT(d->gp_max, 600);
            CHECK(got > want * 0.999999 && got < want * 1.000001);
            CHECK_INT(a->nsources, 2);
        } else {
            CHECK_INT(a->nsources, 0);
        }
        if (fmt == PDM_FORMAT_V2_ENCRYPTED) {
            /* 600 packets per direction, a new key every 200. */
            CHECK_INT(f->dir[AN_CLIENT].rotations, 2);
            CHECK_INT(f->dir[AN_SERVER].rotations, 2);
            CHECK_INT(f->dir[AN_CLIENT].kri_last, 2);
        }
    }
    an_free(a);
    /* Without the key, encrypted options are counted and never used. */
    if (fmt == PDM_FORMAT_V2_ENCRYPTED) {
        a = analyse(path, NULL);
        CHECK(a && a->nflows == 1);
        if (a && a->nflows == 1) {
            CHECK_INT(a->flows[0]->dir[0].no_key + a->flows[0]->dir[1].no_key, 1200);
            CHECK_INT(a->flows[0]->sum[AN_SERVER_DELAY].count, 0);
        }
        an_free(a);
    }
    an_keys_free(k);
    expect_free(&e);
    sim_free(&s);
    free(c);
    keep_times = 0;
}

/*
 * Loss, reordering, duplicates, replays and altered bytes, exactly; all of
 * them kept out of the delays.
 */
static void test_impaired(enum pdm_format fmt)
{
    static const uint8_t secret[32] = {0x11, 0x22, 0x33, 0x44};
    int enc = fmt == PDM_FORMAT_V2_ENCRYPTED;
    struct sim s;
    struct cap *c = calloc(1, sizeof *c);
    struct expect e;
    struct an_keys *k = NULL;
    char path[512], kl[512];
    size_t pos;

    npool = 0;
    sim_init(&s, fmt, 1000);
    CHECK_INT(simulate(&s), 0);
    cap_all(c, &s);
    /* Loss before the capture point: 5 client and 5 server packets. */
    static const size_t drop_c[] = {10, 11, 12, 300, 777}, drop_s[] = {20, 21, 500, 650, 901};
    for (size_t i = 0; i < sizeof drop_c / sizeof drop_c[0]; i++)
        if ((pos = cap_find(c, AN_CLIENT, drop_c[i])) != SIZE_MAX)
            cap_remove(c, pos);
    for (size_t i = 0; i < sizeof drop_s / sizeof drop_s[0]; i++)
        if ((pos = cap_find(c, AN_SERVER, drop_s[i])) != SIZE_MAX)
            cap_remove(c, pos);
    if (enc) {
        /* A whole key lost: client packets 400..599 (all of Kri 2) gone;
         * the receiver must find Kri 3 ahead. */
        for (size_t q = 400; q < 600; q++)
            if ((pos = cap_find(c, AN_CLIENT, q)) != SIZE_MAX)
                cap_remove(c, pos);
    }
    /* Reordering: client 100 after client 101, server 250 after 252. */
    pos = cap_find(c, AN_CLIENT, 100);
    struct spkt *moved = c->v[pos];
    cap_remove(c, pos);
    cap_insert(c, cap_find(c, AN_CLIENT, 101) + 1, moved);
    pos = cap_find(c, AN_SERVER, 250);
    moved = c->v[pos];
    cap_remove(c, pos);
    cap_insert(c, cap_find(c, AN_SERVER, 252) + 1, moved);
    /* Duplicates right behind their original: 3 client, 2 server. */
    static const size_t dup_c[] = {40, 41, 700}, dup_s[] = {60, 800};
    for (size_t i = 0; i < 3; i++) {
        pos = cap_find(c, AN_CLIENT, dup_c[i]);
        cap_insert(c, pos + 1, make_copy(c->v[pos], c->v[pos]->ts));
    }
    for (size_t i = 0; i < 2; i++) {
        pos = cap_find(c, AN_SERVER, dup_s[i]);
        cap_insert(c, pos + 1, make_copy(c->v[pos], c->v[pos]->ts));
    }
    /* Replays: old options pasted into packets 50 to 100 exchanges later
     * (within the PSN window, so clear formats see duplicates). */
    static const size_t rep_c[] = {150, 151}, rep_s[] = {160};
    for (size_t i = 0; i < 2; i++) {
        size_t at = cap_find(c, AN_CLIENT, rep_c[i] + 60);
        cap_insert(c, at, make_copy(c->v[cap_find(c, AN_CLIENT, rep_c[i])], c->v[at]->ts));
    }
    {
        size_t at = cap_find(c, AN_SERVER, rep_s[0] + 90);
        cap_insert(c, at, make_copy(c->v[cap_find(c, AN_SERVER, rep_s[0])], c->v[at]->ts));
    }
    /* A copy of client 650 before client 960: 310 PSNs back, beyond the
     * window: "late" in every format. */
    {
        size_t at = cap_find(c, AN_CLIENT, 960);
        cap_insert(c, at, make_copy(c->v[cap_find(c, AN_CLIENT, 650)], c->v[at]->ts));
    }
    /* Altered bytes (encrypted only: the tag catches them): a bit of the
     * ciphertext, of the tag, of RN (in the AAD), in 3 client and 1 server
     * packets. */
    if (enc) {
        static const size_t alt_c[] = {30, 31, 900}, alt_s[] = {33};
        static const size_t alt_at[] = {PDM_IPV6_HDR_SIZE + 2 + 10, PDM_IPV6_HDR_SIZE + 2 + 35,
                                        PDM_IPV6_HDR_SIZE + 2 + 5, PDM_IPV6_HDR_SIZE + 2 + 20};
        for (size_t i = 0; i < 3; i++) {
            struct spkt *p = c->v[cap_find(c, AN_CLIENT, alt_c[i])];
            p->b[alt_at[i]] ^= 0x10;
            p->altered = 1;
        }
        struct spkt *p = c->v[cap_find(c, AN_SERVER, alt_s[0])];
        p->b[alt_at[3]] ^= 0x01;
        p->altered = 1;
    }
    cap_fix_times(c);
    expect_compute(&e, c, enc);
    /* The expectations themselves, by hand: */
    CHECK_INT(e.lost[AN_CLIENT], 5 + (enc ? 200 + 3 : 0));
    CHECK_INT(e.lost[AN_SERVER], 5 + (enc ? 1 : 0));
    CHECK_INT(e.reordered[AN_CLIENT], 1);
    CHECK_INT(e.reordered[AN_SERVER], 1);
    CHECK_INT(e.dups[AN_CLIENT], enc ? 0 : 5);
    CHECK_INT(e.dups[AN_SERVER], enc ? 0 : 3);
    CHECK_INT(e.replayed[AN_CLIENT], enc ? 5 : 0);
    CHECK_INT(e.replayed[AN_SERVER], enc ? 3 : 0);
    CHECK_INT(e.late[AN_CLIENT], 1);
    CHECK_INT(e.late[AN_SERVER], 0);

    path_in(path, sizeof path, "impaired.pcap");
    CHECK_INT(write_pcap(path, c, FR_RAW, 0), 0);
    if (enc) {
        path_in(kl, sizeof kl, "impaired.keys");
        k = write_keylog(kl, &s, NULL, 0, secret, sizeof secret);
    }
    struct an_ctx *a = analyse(path, k);
    CHECK(a && a->nflows == 1);
    if (a && a->nflows == 1) {
        const struct an_flow *f = a->flows[0];
        CHECK_INT(f->packets, c->n);
        check_counts(f, &e);
        check_delays(f, &e);
        CHECK_INT(f->dir[AN_CLIENT].excluded, 2); /* the reordered one and the late copy */
        CHECK_INT(f->dir[AN_SERVER].excluded, 1);
        if (enc) {
            /* The lost Kri 2 did not stop the receiver: it followed to 4. */
            CHECK_INT(f->dir[AN_CLIENT].rotations, 4);
            CHECK_INT(f->dir[AN_CLIENT].kri_last, 4);
            CHECK_INT(f->dir[AN_SERVER].rotations, 4);
        }
    }
    an_free(a);
    an_keys_free(k);
    expect_free(&e);
    sim_free(&s);
    free(c);
}

/* Rewrites the clear option of p with DeltaTLS tls_ns (the sender's
 * bookkeeping too). */
static void set_tls(struct spkt *p, uint64_t tls_ns)
{
    struct pdm_pkt_info info;
    struct pdm_option o;

    CHECK_INT(pdm_pkt_parse(p->b, p->len, PDM_OPT_TYPE, &info), 0);
    p->tls_true = tls_ns;
    pdm_time_encode_ns(tls_ns, &p->f.delta_tls, &p->f.scale_dtls);
    o = info.pdm;
    o.fields = p->f;
    CHECK_INT(pdm_option_encode(p->b + info.pdm_off, p->len - info.pdm_off, &o),
              (ssize_t)pdm_option_size(o.format));
}

/* The HTML report written to path, as `pdm analyze --report` does. */
static int report_to(const struct an_ctx *a, const char *path)
{
    FILE *o = fopen(path, "w");
    int rv;

    if (!o)
        return PDM_ERR_SYSTEM;
    rv = an_report_html(a, o);
    if (fclose(o) != 0 && rv == 0)
        rv = PDM_ERR_SYSTEM;
    return rv;
}

/* Text output of one of the printers. */
static char *printed(int (*print)(const struct an_ctx *, FILE *), const struct an_ctx *a)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    CHECK_INT(print(a, f), 0);
    fclose(f);
    return buf;
}

/*
 * Negative round trips: client packets whose DeltaTLS (10 us) is below the
 * server delay of the packet they answer (50 us and more). They give no
 * round-trip sample (before: a 0 entered the statistics, "min 0 ns") and
 * are counted per flow and kind in every output.
 */
static void test_negative(enum pdm_format fmt)
{
    static const size_t neg_c[] = {10, 20, 21, 35};
    struct sim s;
    struct cap *c = calloc(1, sizeof *c);
    struct expect e;
    char path[512], html[512], want[160];
    struct an_ctx *a;

    npool = 0;
    sim_init(&s, fmt, 50);
    CHECK_INT(simulate(&s), 0);
    cap_all(c, &s);
    for (size_t i = 0; i < sizeof neg_c / sizeof neg_c[0]; i++)
        set_tls(c->v[cap_find(c, AN_CLIENT, neg_c[i])], 10000);
    expect_compute(&e, c, 0);
    CHECK_INT(e.rtd_negative, 4);
    CHECK_INT(e.nv[AN_RTD], 49 - 4);
    path_in(path, sizeof path, "negative.pcap");
    CHECK_INT(write_pcap(path, c, FR_RAW, 0), 0);
    keep_times = 1;
    a = analyse(path, NULL);
    keep_times = 0;
    CHECK(a && a->nflows == 1);
    if (a && a->nflows == 1) {
        const struct an_summary *rt = &a->flows[0]->sum[AN_RTD];
        char *t;
        check_delays(a->flows[0], &e);
        CHECK(rt->min > 4000000); /* the true round trips: 5 ms and more */
        snprintf(want, sizeof want, "\"rtd_ns\":{\"count\":45,\"negative\":4,");
        t = printed(an_print_json, a);
        CHECK(t && strstr(t, want) &&
              strstr(t, "\"server_delay_ns\":{\"count\":50,\"negative\":0,"));
        free(t);
        t = printed(an_print_csv, a);
        CHECK(t && strstr(t, ",rtd_count,rtd_negative,rtd_min_ns,") && strstr(t, ",45,4,"));
        free(t);
        t = printed(an_print_table, a);
        CHECK(t && strstr(t, " negative\n"));
        CHECK(t && strstr(t, "  round trip           45 ") && strstr(t, "         4\n"));
        free(t);
        path_in(html, sizeof html, "negative.html");
        CHECK_INT(report_to(a, html), 0);
        {
            FILE *f = fopen(html, "r");
            char *h = calloc(1, 1 << 20);
            size_t n = f ? fread(h, 1, (1 << 20) - 1, f) : 0;
            if (f)
                fclose(f);
            CHECK(n > 0 && strstr(h, ">negative</th>") && strstr(h, "</td><td>4</td></tr>"));
            free(h);
        }
    }
    an_free(a);
    expect_free(&e);
    sim_free(&s);
    free(c);
}

/* One capture in every framing and container gives the same results. */
static void test_framings(void)
{
    static const uint8_t secret[32] = {0x11, 0x22, 0x33, 0x44};
    static const enum frame frs[] = {FR_RAW, FR_ETH, FR_VLAN, FR_SLL, FR_SLL2};
    struct sim s;
    struct cap *c = calloc(1, sizeof *c);
    struct expect e;
    struct an_keys *k;
    char path[512], kl[512];

    npool = 0;
    sim_init(&s, PDM_FORMAT_V2_ENCRYPTED, 300);
    CHECK_INT(simulate(&s), 0);
    cap_all(c, &s);
    cap_remove(c, cap_find(c, AN_SERVER, 100));
    expect_compute(&e, c, 1);
    path_in(kl, sizeof kl, "framing.keys");
    k = write_keylog(kl, &s, NULL, 0, secret, sizeof secret);
    for (size_t i = 0; i < sizeof frs / sizeof frs[0] + 2; i++) {
        struct an_ctx *a;
        if (i < sizeof frs / sizeof frs[0]) {
            snprintf(path, sizeof path, "%s/framing%zu.pcap", tmpdir, i);
            CHECK_INT(write_pcap(path, c, frs[i], 0), 0);
        } else if (i == sizeof frs / sizeof frs[0]) {
            path_in(path, sizeof path, "framing.pcapng");
            CHECK_INT(write_pcapng(path, c), 0);
        } else {
            /* Snapshot length 88: IPv6 (40), the 40-byte Destination
             * Options header and the 8-byte UDP header, no payload. */
            path_in(path, sizeof path, "framing-snap.pcap");
            CHECK_INT(write_pcap_snap(path, c, 88), 0);
        }
        a = analyse(path, k);
        CHECK(a && a->nflows == 1);
        if (a && a->nflows == 1) {
            check_counts(a->flows[0], &e);
            check_delays(a->flows[0], &e);
            CHECK_INT(a->c.pdm, c->n);
            CHECK_INT(a->c.not_ipv6, i == 1 || i == 2 ? 2 : 0);
            CHECK_INT(a->c.truncated, 0);
            CHECK_INT(a->c.malformed, 0);
        }
        an_free(a);
    }
    /* Cut inside the option: counted as truncated, nothing else. */
    path_in(path, sizeof path, "framing-cut.pcap");
    CHECK_INT(write_pcap_snap(path, c, 60), 0);
    struct an_ctx *a = analyse(path, k);
    CHECK(a && a->nflows == 0 && a->c.truncated == c->n);
    an_free(a);
    an_keys_free(k);
    expect_free(&e);
    sim_free(&s);
    free(c);
}

/* Options in a Hop-by-Hop header, and in a Destination Options header
 * before a Routing header, are found like final ones. */
static void test_positions(void)
{
    static const uint8_t src[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    static const uint8_t dst[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2};
    struct tool_pcapw w;
    struct pdm_option o;
    uint8_t opt[PDM_OPTSIZE_MAX], p[PKT_CAP], hdr[64];
    char path[512];
    ssize_t on;

    path_in(path, sizeof path, "positions.pcap");
    CHECK_INT(tool_pcapw_open(&w, path, TOOL_PCAPW_LINKTYPE_RAW), 0);
    for (unsigned i = 0; i < 20; i++) {
        size_t len = build_udp(p, i % 2 ? dst : src, i % 2 ? src : dst, i % 2 ? 53 : 5353,
                               i % 2 ? 5353 : 53, i, NULL, 0);
        size_t ext = 0;
        ssize_t hl;
        memset(&o, 0, sizeof o);
        o.type = PDM_OPT_TYPE;
        o.format = PDM_FORMAT_V2;
        o.rn = (uint16_t)(i + 1);
        o.fields.psntp = (uint16_t)(1000 + i / 2);
        o.fields.global_pointer = i / 2 + 1;
        if (i >= 1) {
            /* Every packet after the first answers the one before. */
            o.fields.psnlr = (uint16_t)(1000 + (i - 1) / 2);
            pdm_time_encode_ns(10000 + (uint64_t)i * 1000, &o.fields.delta_tlr,
                               &o.fields.scale_dtlr);
        }
        on = pdm_option_encode(opt, sizeof opt, &o);
        CHECK_INT(on, PDM_OPTSIZE_V2);
        /* Even packets: Hop-by-Hop; odd: Destination Options, then a
         * Routing header (type 4 segment list, no segments left). */
        memmove(p + PDM_IPV6_HDR_SIZE + 64, p + PDM_IPV6_HDR_SIZE, 16);
        if (i % 2 == 0) {
            hl = pdm_dstopt_build(hdr, sizeof hdr, PDM_NH_UDP, opt, (size_t)on);
            memcpy(p + PDM_IPV6_HDR_SIZE, hdr, (size_t)hl);
            p[6] = PDM_NH_HOPOPTS;
            ext = (size_t)hl;
        } else {
            hl = pdm_dstopt_build(hdr, sizeof hdr, PDM_NH_ROUTING, opt, (size_t)on);
            memcpy(p + PDM_IPV6_HDR_SIZE, hdr, (size_t)hl);
            uint8_t *rh = p + PDM_IPV6_HDR_SIZE + hl;
            memset(rh, 0, 8);
            rh[0] = PDM_NH_UDP;
            rh[1] = 0;
            rh[2] = 4;
            rh[3] = 0;
            p[6] = PDM_NH_DSTOPTS;
            ext = (size_t)hl + 8;
        }
        memmove(p + PDM_IPV6_HDR_SIZE + ext, p + PDM_IPV6_HDR_SIZE + 64, 16);
        len = PDM_IPV6_HDR_SIZE + ext + 16;
        pdm_put_u16be(p + 4, (uint16_t)(len - PDM_IPV6_HDR_SIZE));
        CHECK_INT(tool_pcapw_write(&w, 1000000000ull + i * 1000000ull, p, len), 0);
    }
    CHECK_INT(tool_pcapw_close(&w), 0);
    struct an_ctx *a = analyse(path, NULL);
    CHECK(a && a->nflows == 1);
    if (a && a->nflows == 1) {
        const struct an_flow *f = a->flows[0];
        CHECK_INT(f->packets, 20);
        CHECK_INT(f->dir[0].packets, 10);
        CHECK_INT(f->dir[1].packets, 10);
        CHECK_INT(f->sum[AN_SERVER_DELAY].count, 10);
        CHECK_INT(f->sum[AN_CLIENT_DELAY].count, 9);
        CHECK_INT(f->dir[0].lost + f->dir[1].lost, 0);
        CHECK(!strcmp(an_flow_format(f), "v2"));
        /* The client is the first sender: src, port 5353. */
        CHECK(f->tup.sport == 5353 && f->tup.dport == 53);
    }
    an_free(a);
}

/* Roles: the first sender is the client unless --server says otherwise;
 * --flow keeps only matching flows. */
static void test_roles(void)
{
    struct sim s;
    struct cap *c = calloc(1, sizeof *c);
    struct an_endpoint ep;
    struct an_opts o;
    char path[512];

    sim_init(&s, PDM_FORMAT_V2, 50);
    CHECK_INT(simulate(&s), 0);
    cap_all(c, &s);
    cap_remove(c, 0); /* the capture starts with the server's answer */
    path_in(path, sizeof path, "roles.pcap");
    CHECK_INT(write_pcap(path, c, FR_RAW, 0), 0);
    struct an_ctx *a = analyse(path, NULL);
    CHECK(a && a->nflows == 1);
    if (a && a->nflows == 1) {
        CHECK(!memcmp(a->flows[0]->tup.src, s.saddr, 16));
        CHECK(!a->flows[0]->role_forced);
        /* Roles swapped: the server's DeltaTLR count as client delays. */
        CHECK_INT(a->flows[0]->sum[AN_CLIENT_DELAY].count, 50);
    }
    an_free(a);
    memset(&o, 0, sizeof o);
    o.opt_type = PDM_OPT_TYPE;
    CHECK_INT(an_endpoint_parse(&ep, "[2001:db8:2::1]:4433"), 0);
    o.servers = &ep;
    o.nservers = 1;
    a = analyse_opts(path, &o);
    CHECK(a && a->nflows == 1);
    if (a && a->nflows == 1) {
        CHECK(!memcmp(a->flows[0]->tup.src, s.caddr, 16));
        CHECK(a->flows[0]->role_forced);
        CHECK_INT(a->flows[0]->sum[AN_SERVER_DELAY].count, 50);
        CHECK_INT(a->flows[0]->sum[AN_CLIENT_DELAY].count, 49);
    }
    an_free(a);
    /* --flow with a port no flow uses: everything filtered out. */
    memset(&o, 0, sizeof o);
    o.opt_type = PDM_OPT_TYPE;
    CHECK_INT(an_endpoint_parse(&ep, ":9999"), 0);
    o.flows = &ep;
    o.nflows = 1;
    a = analyse_opts(path, &o);
    CHECK(a && a->nflows == 0 && a->c.filtered == c->n);
    an_free(a);
    CHECK_INT(an_endpoint_parse(&ep, "2001:db8:1::5"), 0);
    a = analyse_opts(path, &o);
    CHECK(a && a->nflows == 1 && a->c.filtered == 0);
    an_free(a);
    sim_free(&s);
    free(c);
}

/* Key logs: the secret listed with the roles swapped, a stale secret for
 * the same pair first, and a PDMV2_PRIMARY prefix; a wrong secret only
 * gives authentication failures. */
static void test_keylogs(void)
{
    static const uint8_t salt[32] = {0x5a, 1, 2, 3};
    static const uint8_t primary[32] = {0xee, 0xdd};
    static const uint8_t secret[32] = {0x11, 0x22, 0x33, 0x44};
    static const uint8_t wrong[32] = {0x99};
    struct pdm_profile_primary pp;
    struct pdm_keylog_entry e;
    struct sim s;
    struct cap *c = calloc(1, sizeof *c);
    struct an_keys *k;
    char path[512], kl[512], line[PDM_KEYLOG_LINE_MAX], stale[PDM_KEYLOG_LINE_MAX];
    struct an_ctx *a;

    sim_init(&s, PDM_FORMAT_V2_ENCRYPTED, 100);
    CHECK_INT(simulate(&s), 0);
    cap_all(c, &s);
    path_in(path, sizeof path, "keylog.pcap");
    CHECK_INT(write_pcap(path, c, FR_RAW, 0), 0);

    /* Stale line first, then the right one listed server-first. */
    memset(&e, 0, sizeof e);
    e.kind = PDM_KEYLOG_SECRET;
    memcpy(e.client, s.caddr, 16);
    memcpy(e.server, s.saddr, 16);
    e.client_plen = e.server_plen = 128;
    e.suite = PDM_PROFILE_SUITE_DEFAULT;
    memcpy(e.salt, salt, 32);
    memcpy(e.secret, wrong, 32);
    e.secret_len = 32;
    CHECK(pdm_keylog_format_line(&e, stale, sizeof stale) > 0);
    path_in(kl, sizeof kl, "swap.keys");
    k = write_keylog(kl, &s, stale, 1, secret, sizeof secret);
    a = analyse(path, k);
    CHECK(a && a->nflows == 1);
    if (a && a->nflows == 1) {
        CHECK_INT(a->flows[0]->sum[AN_SERVER_DELAY].count, 100);
        CHECK_INT(a->flows[0]->dir[0].auth_failures + a->flows[0]->dir[1].auth_failures, 0);
    }
    an_free(a);
    an_keys_free(k);

    /* Only the wrong secret: every option fails authentication. */
    path_in(kl, sizeof kl, "wrong.keys");
    k = write_keylog(kl, &s, NULL, 0, wrong, sizeof wrong);
    a = analyse(path, k);
    CHECK(a && a->nflows == 1);
    if (a && a->nflows == 1) {
        CHECK_INT(a->flows[0]->dir[0].auth_failures, 100);
        CHECK_INT(a->flows[0]->dir[1].auth_failures, 100);
        CHECK_INT(a->flows[0]->sum[AN_SERVER_DELAY].count, 0);
    }
    an_free(a);
    an_keys_free(k);
    sim_free(&s);

    /* PDMV2_PRIMARY: the flow's secret is ClientSecret(client). */
    sim_init(&s, PDM_FORMAT_V2_ENCRYPTED, 100);
    CHECK_INT(pdm_profile_primary_init(&pp, PDM_PROFILE_SUITE_DEFAULT, salt, 32, primary, 32), 0);
    pdm_profile_secret_wipe(&s.secret);
    CHECK_INT(pdm_profile_primary_secret(&pp, s.caddr, &s.secret), 0);
    CHECK_INT(simulate(&s), 0);
    cap_all(c, &s);
    path_in(path, sizeof path, "primary.pcap");
    CHECK_INT(write_pcap(path, c, FR_RAW, 0), 0);
    memset(&e, 0, sizeof e);
    e.kind = PDM_KEYLOG_PRIMARY;
    inet_pton(AF_INET6, "2001:db8:1::", e.client);
    e.client_plen = 48;
    memcpy(e.server, s.saddr, 16);
    e.server_plen = 128;
    e.suite = PDM_PROFILE_SUITE_DEFAULT;
    memcpy(e.salt, salt, 32);
    memcpy(e.secret, primary, 32);
    e.secret_len = 32;
    CHECK(pdm_keylog_format_line(&e, line, sizeof line) > 0);
    {
        FILE *f;
        char err[256];
        path_in(kl, sizeof kl, "primary.keys");
        f = fopen(kl, "w");
        fprintf(f, "%s\n", line);
        fclose(f);
        k = NULL;
        CHECK_INT(an_keys_load(&k, kl, err, sizeof err), 0);
    }
    a = analyse(path, k);
    CHECK(a && a->nflows == 1);
    if (a && a->nflows == 1) {
        CHECK_INT(a->flows[0]->sum[AN_SERVER_DELAY].count, 100);
        CHECK_INT(a->flows[0]->sum[AN_RTD].count, 99);
        CHECK_INT(a->flows[0]->dir[0].auth_failures + a->flows[0]->dir[1].auth_failures, 0);
    }
    an_free(a);
    an_keys_free(k);
    pdm_profile_primary_wipe(&pp);
    sim_free(&s);
    /* Malformed key logs are refused with the line number. */
    {
        char err[256];
        FILE *f;
        path_in(kl, sizeof kl, "bad.keys");
        f = fopen(kl, "w");
        fprintf(f, "# fine\nPDMV2_SECRET 2001:db8::1 2001:db8::2 0020-0001-0001 00 11\n");
        fclose(f);
        k = NULL;
        CHECK_INT(an_keys_load(&k, kl, err, sizeof err), PDM_ERR_MALFORMED);
        CHECK(strstr(err, "line 2") != NULL);
        CHECK(k == NULL);
    }
    free(c);
}

/* A PDMV2_SECRET line for (client, server) with the simulation's salt. */
static void secret_line(char *out, size_t cap, const uint8_t client[16], const uint8_t server[16],
                        uint8_t first_byte)
{
    static const uint8_t salt[32] = {0x5a, 1, 2, 3};
    struct pdm_keylog_entry e;

    memset(&e, 0, sizeof e);
    e.kind = PDM_KEYLOG_SECRET;
    memcpy(e.client, client, 16);
    memcpy(e.server, server, 16);
    e.client_plen = e.server_plen = 128;
    e.suite = PDM_PROFILE_SUITE_DEFAULT;
    memcpy(e.salt, salt, 32);
    e.secret[0] = first_byte;
    e.secret[1] = 0x22; /* with 0x11: the simulation's secret {0x11, 0x22, 0x33, 0x44} */
    e.secret[2] = 0x33;
    e.secret[3] = 0x44;
    e.secret_len = 32;
    CHECK(pdm_keylog_format_line(&e, out, cap) > 0);
}

/*
 * Analyses `path` with a key log of `nstale` wrong lines for (client,
 * server) and the right line, written `right_first` or last, for
 * (client, server) or, `right_swapped`, (server, client). Returns the
 * authentication failures of both directions, or -1.
 */
static long keylog_order_case(const char *path, const struct sim *s, int nstale, int right_first,
                              int right_swapped)
{
    char kl[512], line[PDM_KEYLOG_LINE_MAX], err[256];
    struct an_keys *k = NULL;
    struct an_ctx *a;
    long fails = -1;
    FILE *f;

    path_in(kl, sizeof kl, "order.keys");
    if (!(f = fopen(kl, "w")))
        return -1;
    secret_line(line, sizeof line, right_swapped ? s->saddr : s->caddr,
                right_swapped ? s->caddr : s->saddr, 0x11);
    if (right_first)
        fprintf(f, "%s\n", line);
    for (int i = 0; i < nstale; i++) {
        char st[PDM_KEYLOG_LINE_MAX];
        secret_line(st, sizeof st, s->caddr, s->saddr, (uint8_t)(0x80 + i));
        fprintf(f, "%s\n", st);
    }
    if (!right_first)
        fprintf(f, "%s\n", line);
    fclose(f);
    CHECK_INT(an_keys_load(&k, kl, err, sizeof err), 0);
    if ((a = analyse(path, k)) != NULL && a->nflows == 1)
        fails = (long)(a->flows[0]->dir[0].auth_failures + a->flows[0]->dir[1].auth_failures);
    an_free(a);
    an_keys_free(k);
    return fails;
}

/*
 * The candidate order of docs/analysis.md: pdm_keylog_lookup() ranks, the
 * later line first among equals, the two orientations interleaved, at
 * most 8 candidates per direction.
 */
static void test_keylog_order(void)
{
    struct sim s;
    struct cap *c = calloc(1, sizeof *c);
    char path[512];

    sim_init(&s, PDM_FORMAT_V2_ENCRYPTED, 50);
    CHECK_INT(simulate(&s), 0);
    cap_all(c, &s);
    path_in(path, sizeof path, "order.pcap");
    CHECK_INT(write_pcap(path, c, FR_RAW, 0), 0);
    /* The newest line is tried first: 8 stale lines before it do not hide
     * it (in file order it would be the ninth candidate). */
    CHECK_INT(keylog_order_case(path, &s, 8, 0, 0), 0);
    /* The cap, the other way round: behind 8 newer stale lines for the
     * same pair, an older right line is never tried. */
    CHECK_INT(keylog_order_case(path, &s, 8, 1, 0), 100);
    /* Interleaved orientations: the right line registered the other way
     * round is the client direction's second candidate, not its ninth. */
    CHECK_INT(keylog_order_case(path, &s, 8, 1, 1), 0);
    CHECK_INT(keylog_order_case(path, &s, 8, 0, 1), 0);
    sim_free(&s);
    free(c);
}

/* Reads every record of a pcap file: calls fn for each. */
static int read_records(const char *path,
                        int (*fn)(void *, const struct pcap_pkthdr *, const u_char *, int),
                        void *arg)
{
    char eb[PCAP_ERRBUF_SIZE];
    struct pcap_pkthdr *h;
    const u_char *d;
    pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, eb);
    int n, rv = 0;

    if (!p)
        return -1;
    while ((n = pcap_next_ex(p, &h, &d)) == 1 && rv == 0)
        rv = fn(arg, h, d, pcap_datalink(p));
    pcap_close(p);
    return rv;
}

struct dec_check {
    const struct cap *c;
    enum frame fr;
    size_t i, same, bad;
};

static int dec_record(void *arg, const struct pcap_pkthdr *h, const u_char *d, int dlt)
{
    struct dec_check *dc = arg;
    uint8_t want[PKT_CAP + 32];
    const struct spkt *p;
    size_t n;

    size_t off;
    if (an_link_ipv6(dlt, d, h->caplen, &off) != 0)
        return 0; /* the IPv4 and ARP frames */
    if (dc->i >= dc->c->n) {
        dc->bad++;
        return 0;
    }
    p = dc->c->v[dc->i++];
    /* Altered options do not open: copied as they are. */
    n = p->altered ? frame_of(dc->fr, p->b, p->len, want, p->from == AN_CLIENT)
                   : frame_of(dc->fr, p->clear, p->clear_len, want, p->from == AN_CLIENT);
    if (h->caplen == n && h->len == n && !memcmp(d, want, n) &&
        (uint64_t)h->ts.tv_sec * 1000000000u + (uint64_t)h->ts.tv_usec == p->ts)
        dc->same++;
    else
        dc->bad++;
    return 0;
}

/* tshark reads each decrypted packet as IPv6 with a 24-byte Destination
 * Options header holding an 18-byte PDM option, then UDP; nothing
 * malformed. Wireshark 4.0 knows only RFC 8250's layout, and flags
 * Option Length 18 with "PDM: Invalid length" (expert info, not
 * malformed); test_pcap_interop documents that. */
static void tshark_check(const char *path, size_t nrows, size_t ngood)
{
    char cmd[1024], line[1024];
    size_t rows = 0, good = 0, bad_expert = 0;
    FILE *f;

    if (system("command -v tshark >/dev/null 2>&1") != 0) {
        fprintf(stderr, "tshark is not installed (Debian package tshark)\n");
        CHECK(0);
        return;
    }
    snprintf(cmd, sizeof cmd,
             "tshark -n -r '%s' -o udp.check_checksum:TRUE -T fields -E separator=/t "
             "-E occurrence=a -E aggregator='|' -e ipv6.nxt -e ipv6.dstopts.len_oct "
             "-e ipv6.opt.type -e ipv6.opt.length -e udp.checksum.status "
             "-e _ws.malformed.expert -e _ws.expert.message 2>/dev/null",
             path);
    if (!(f = popen(cmd, "r"))) {
        CHECK(0);
        return;
    }
    while (fgets(line, sizeof line, f)) {
        char *fld[8] = {0}, *q = line;
        size_t nf = 0;
        line[strcspn(line, "\n")] = '\0';
        while (nf < 8) {
            fld[nf++] = q;
            if (!(q = strchr(q, '\t')))
                break;
            *q++ = '\0';
        }
        rows++;
        if (nf != 7)
            continue;
        /* Expert messages: only what Wireshark 4.0 says of any PDMv2
         * option (its PDM dissector knows RFC 8250's length 10 only). */
        int expert_ok = 1;
        for (char *m = fld[6]; *m;) {
            size_t ml = strcspn(m, "|");
            if (!(ml == 30 && !strncmp(m, "PDM: Invalid length (18 bytes)", ml)) &&
                !(ml == 30 && !strncmp(m, "Unknown Data (not interpreted)", ml)))
                expert_ok = 0;
            m += ml + (m[ml] == '|');
        }
        bad_expert += !expert_ok || fld[5][0] != '\0';
        good += !strcmp(fld[0], "60") && !strcmp(fld[1], "24") && !strcmp(fld[2], "0x0f|0x01") &&
                !strcmp(fld[3], "18|0") && !strcmp(fld[4], "1") && fld[5][0] == '\0' && expert_ok;
    }
    CHECK(pclose(f) == 0);
    CHECK_INT(rows, nrows);
    CHECK_INT(good, ngood);
    CHECK_INT(bad_expert, nrows - ngood); /* the packet left encrypted: "Invalid length (34)" */
}

/* pdm decrypt: byte-exact unencrypted equivalents, on two framings; tshark
 * reads them; and analysing them without keys equals analysing the
 * original with keys. */
static void test_decrypt(void)
{
    static const uint8_t secret[32] = {0x11, 0x22, 0x33, 0x44};
    static const enum frame frs[] = {FR_RAW, FR_VLAN, FR_SLL2};
    struct sim s;
    struct cap *c = calloc(1, sizeof *c);
    struct an_keys *k;
    char in[512], out[512], kl[512];

    npool = 0;
    sim_init(&s, PDM_FORMAT_V2_ENCRYPTED, 500);
    CHECK_INT(simulate(&s), 0);
    cap_all(c, &s);
    cap_remove(c, cap_find(c, AN_CLIENT, 77));
    struct spkt *alt = c->v[cap_find(c, AN_SERVER, 99)];
    alt->b[PDM_IPV6_HDR_SIZE + 2 + 12] ^= 0x80;
    alt->altered = 1;
    path_in(kl, sizeof kl, "decrypt.keys");
    k = write_keylog(kl, &s, NULL, 0, secret, sizeof secret);
    for (size_t i = 0; i < sizeof frs / sizeof frs[0]; i++) {
        struct dec_check dc = {c, frs[i], 0, 0, 0};
        char *argv[] = {"decrypt", in, out, "--keylog", kl, NULL};
        snprintf(in, sizeof in, "%s/enc%zu.pcap", tmpdir, i);
        snprintf(out, sizeof out, "%s/dec%zu.pcap", tmpdir, i);
        CHECK_INT(write_pcap(in, c, frs[i], 0), 0);
        fflush(stdout);
        CHECK_INT(cmd_decrypt(5, argv), 0);
        CHECK_INT(read_records(out, dec_record, &dc), 0);
        CHECK_INT(dc.same, c->n);
        CHECK_INT(dc.bad, 0);
        if (i == 0)
            tshark_check(out, c->n, c->n - 1); /* the altered one stays encrypted */

        struct an_ctx *a = analyse(in, k), *b = analyse(out, NULL);
        CHECK(a && b && a->nflows == 1 && b->nflows == 1);
        if (a && b && a->nflows == 1 && b->nflows == 1) {
            const struct an_flow *fa = a->flows[0], *fb = b->flows[0];
            for (int kk = 0; kk < AN_KINDS; kk++)
                CHECK_MEM(&fa->sum[kk], &fb->sum[kk], sizeof fa->sum[kk]);
            for (unsigned r = 0; r < 2; r++) {
                CHECK_INT(fa->dir[r].lost, fb->dir[r].lost);
                CHECK_INT(fa->dir[r].gp_max, fb->dir[r].gp_max);
            }
            CHECK(!strcmp(an_flow_format(fb), "mixed")); /* the altered one */
            CHECK_INT(fb->dir[AN_SERVER].no_key, 1);
            CHECK_INT(fa->dir[AN_SERVER].auth_failures, 1);
        }
        an_free(a);
        an_free(b);
    }
    /* Usage errors. */
    {
        char *argv[] = {"decrypt", in, NULL};
        CHECK_INT(cmd_decrypt(2, argv), 2);
    }
    an_keys_free(k);
    sim_free(&s);
    free(c);
}

/* JSON: parses, and carries the analyser's numbers; CSV has a header and
 * a row per flow; the HTML report is written with its SVG plots. */
static void test_outputs(void)
{
    struct sim s;
    struct cap *c = calloc(1, sizeof *c);
    char path[512], html[512], *buf = NULL;
    size_t blen = 0;
    FILE *f;

    npool = 0;
    sim_init(&s, PDM_FORMAT_V2, 300);
    CHECK_INT(simulate(&s), 0);
    cap_all(c, &s);
    cap_remove(c, cap_find(c, AN_CLIENT, 33));
    path_in(path, sizeof path, "outputs.pcap");
    CHECK_INT(write_pcap(path, c, FR_ETH, 0), 0);
    keep_times = 1;
    struct an_ctx *a = analyse(path, NULL);
    keep_times = 0;
    CHECK(a && a->nflows == 1);
    if (!a || a->nflows != 1)
        goto out;
    f = open_memstream(&buf, &blen);
    CHECK_INT(an_print_json(a, f), 0);
    fclose(f);
    json_t *j = vec_parse(buf, blen);
    CHECK(j != NULL);
    if (j) {
        const json_t *fl = json_array_get(json_object_get(j, "flows"), 0), *st;
        uint64_t v = 0;
        char want[64];
        CHECK_INT(json_array_size(json_object_get(j, "flows")), 1);
        an_addr_str(s.caddr, want, sizeof want);
        CHECK(vec_str(fl, "src") && !strcmp(vec_str(fl, "src"), want));
        CHECK(vec_u64(fl, "sport", &v) == 0 && v == s.cport);
        CHECK(vec_u64(fl, "dport", &v) == 0 && v == s.sport);
        CHECK(vec_u64(fl, "protocol", &v) == 0 && v == 17);
        CHECK(!strcmp(vec_str(fl, "format"), "v2"));
        CHECK(vec_u64(fl, "packets", &v) == 0 && v == c->n);
        CHECK(vec_u64(fl, "lost", &v) == 0 && v == 1);
        CHECK(vec_u64(fl, "auth_failures", &v) == 0 && v == 0);
        CHECK(vec_u64(fl, "reordered", &v) == 0 && v == 0);
        CHECK(vec_u64(fl, "duplicates", &v) == 0 && v == 0);
        static const char *const keys[] = {"server_delay_ns", "client_delay_ns", "rtd_ns"};
        static const char *const stats[] = {"count", "min", "mean", "median", "p95", "max"};
        for (int k = 0; k < AN_KINDS; k++) {
            const struct an_summary *sm = &a->flows[0]->sum[k];
            const uint64_t want_v[] = {sm->count, sm->min, sm->mean, sm->median, sm->p95, sm->max};
            st = json_object_get(fl, keys[k]);
            for (int q = 0; q < 6; q++)
                CHECK(vec_u64(st, stats[q], &v) == 0 && v == want_v[q]);
        }
        CHECK(json_is_number(json_object_get(json_object_get(fl, "client"), "gp_rate")));
        CHECK_INT(json_array_size(json_object_get(j, "sources")), 2);
        json_decref(j);
    }
    free(buf);
    buf = NULL;
    f = open_memstream(&buf, &blen);
    CHECK_INT(an_print_csv(a, f), 0);
    fclose(f);
    {
        size_t lines = 0, commas_h = 0, commas_r = 0;
        for (size_t i = 0; i < blen; i++) {
            if (buf[i] == '\n')
                lines++;
            else if (buf[i] == ',')
                *(lines == 0 ? &commas_h : &commas_r) += 1;
        }
        CHECK_INT(lines, 2);
        CHECK_INT(commas_h, commas_r);
        CHECK(!strncmp(buf, "src,dst,sport,dport,protocol,format,packets", 43));
    }
    free(buf);
    buf = NULL;
    f = open_memstream(&buf, &blen);
    CHECK_INT(an_print_table(a, f), 0);
    fclose(f);
    CHECK(strstr(buf, "server delay") && strstr(buf, "round trip"));
    free(buf);
    buf = NULL;
    path_in(html, sizeof html, "report.html");
    CHECK_INT(report_to(a, html), 0);
    if ((f = fopen(html, "r")) != NULL) {
        char *t = calloc(1, 1 << 22);
        size_t n = fread(t, 1, (1 << 22) - 1, f);
        size_t svgs = 0;
        fclose(f);
        for (char *q = t; (q = strstr(q, "<svg")) != NULL; q++)
            svgs++;
        CHECK_INT(svgs, 6); /* three kinds × (time series, histogram) */
        CHECK(strstr(t, "<script") == NULL && strstr(t, "http://") == strstr(t, "http://www.w3"));
        CHECK(n > 1000 && strstr(t, "</html>"));
        free(t);
    }
out:
    an_free(a);
    sim_free(&s);
    free(c);
}

/* Writes the captures the shell tests use, and what they must find. */
static int emit(const char *dir)
{
    static const uint8_t secret[32] = {0x11, 0x22, 0x33, 0x44};
    struct sim s;
    struct cap *c = calloc(1, sizeof *c);
    struct expect e;
    char path[512];
    FILE *f;

    snprintf(tmpdir, sizeof tmpdir, "%s", dir);
    npool = 0;
    sim_init(&s, PDM_FORMAT_V2_ENCRYPTED, 2000);
    if (simulate(&s) != 0)
        return 1;
    cap_all(c, &s);
    cap_remove(c, cap_find(c, AN_CLIENT, 500));
    cap_remove(c, cap_find(c, AN_SERVER, 700));
    size_t pos = cap_find(c, AN_CLIENT, 900);
    cap_insert(c, pos + 1, make_copy(c->v[pos], c->v[pos]->ts));
    struct spkt *alt = c->v[cap_find(c, AN_SERVER, 1500)];
    alt->b[PDM_IPV6_HDR_SIZE + 2 + 12] ^= 0x80;
    alt->altered = 1;
    expect_compute(&e, c, 1);
    path_in(path, sizeof path, "enc.pcap");
    if (write_pcap(path, c, FR_ETH, 0) != 0)
        return 1;
    path_in(path, sizeof path, "clear.pcap");
    alt->altered = 0;
    if (write_pcap(path, c, FR_RAW, 1) != 0)
        return 1;
    path_in(path, sizeof path, "enc.keys");
    an_keys_free(write_keylog(path, &s, NULL, 0, secret, sizeof secret));
    path_in(path, sizeof path, "expected.json");
    if (!(f = fopen(path, "w")))
        return 1;
    char ca[64], sa[64];
    an_addr_str(s.caddr, ca, sizeof ca);
    an_addr_str(s.saddr, sa, sizeof sa);
    qsort(e.v[AN_SERVER_DELAY], e.nv[AN_SERVER_DELAY], sizeof(uint64_t), cmp_u64);
    fprintf(f,
            "{\"src\":\"%s\",\"dst\":\"%s\",\"sport\":%u,\"dport\":%u,\"packets\":%zu,"
            "\"frames\":%zu,\"lost\":%" PRIu64 ",\"replayed\":%" PRIu64
            ",\"auth_failures\":%" PRIu64 ",\"server_delay_count\":%zu,"
            "\"server_delay_min\":%" PRIu64 ",\"server_delay_max\":%" PRIu64
            ",\"rtd_count\":%zu,\"client_delay_count\":%zu}\n",
            ca, sa, s.cport, s.sport, c->n, c->n + 2, e.lost[0] + e.lost[1],
            e.replayed[0] + e.replayed[1], e.auth[0] + e.auth[1], e.nv[AN_SERVER_DELAY],
            e.v[AN_SERVER_DELAY][0], e.v[AN_SERVER_DELAY][e.nv[AN_SERVER_DELAY] - 1], e.nv[AN_RTD],
            e.nv[AN_CLIENT_DELAY]);
    fclose(f);
    expect_free(&e);
    sim_free(&s);
    free(c);
    return 0;
}

/* an_percentile() leaves no larger values before the rank, no smaller
 * after: an_series_summary() selects the p95 after the median in place. */
static void test_select_order(void)
{
    static const size_t sizes[] = {5, 17, 100, 4000, 9000, 50000};
    uint64_t rng = 99;
    int bad = 0;

    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        uint64_t *v = malloc(n * sizeof *v);
        for (int shape = 0; shape < 2; shape++) {
            for (unsigned pct = 1; pct <= 100; pct += 9) {
                size_t k;
                uint64_t x;
                for (size_t i = 0; i < n; i++) {
                    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
                    v[i] = shape ? rng >> 11 : (rng >> 33) % 13;
                }
                x = an_percentile(v, n, pct);
                k = (n * pct + 99) / 100 - 1;
                bad += v[k] != x;
                for (size_t i = 0; i < n; i++)
                    bad += i < k ? v[i] > x : v[i] < x;
            }
        }
        free(v);
    }
    CHECK_INT(bad, 0);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--emit"))
        return emit(argv[2]);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_analyze.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_select_order);
    RUN(test_percentiles);
    RUN(test_endpoints);
    h_test = "clean pdm";
    test_clean(PDM_FORMAT_RFC8250);
    h_test = "clean v2";
    test_clean(PDM_FORMAT_V2);
    h_test = "clean v2-encrypted";
    test_clean(PDM_FORMAT_V2_ENCRYPTED);
    h_test = "impaired pdm";
    test_impaired(PDM_FORMAT_RFC8250);
    h_test = "impaired v2";
    test_impaired(PDM_FORMAT_V2);
    h_test = "impaired v2-encrypted";
    test_impaired(PDM_FORMAT_V2_ENCRYPTED);
    h_test = "negative pdm";
    test_negative(PDM_FORMAT_RFC8250);
    h_test = "negative v2";
    test_negative(PDM_FORMAT_V2);
    RUN(test_framings);
    RUN(test_positions);
    RUN(test_roles);
    RUN(test_keylogs);
    RUN(test_keylog_order);
    RUN(test_decrypt);
    RUN(test_outputs);
    {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    return harness_done();
}
