/*
 * `pdm agent` configuration: --peer arguments and the --config file.
 *
 * The file is line based ('#' starts a comment, words are separated by
 * blanks); every setting a flag can give has a line of the same name:
 *
 *   peer 2001:db8:1::/64 mode v2-encrypted rotate-packets 10000 rotate-seconds 60
 *   peer 2001:db8:2::7 mode pdm
 *   mode v2                   # default mode of later peer lines without one (pdm, v2,
 *                             # v2-encrypted, v2-14)
 *   queue 0-1                 # NFQUEUE numbers (N or N-M)
 *   fanout yes|no
 *   option-type 0x0f
 *   records /var/log/openpdm/records.jsonl
 *   store /var/lib/openpdm    keylog FILE    primary-secret FILE    state FILE
 *   control /run/openpdm/agent.sock
 *   metrics [::1]:9464        # Prometheus /metrics (metrics.c)
 *   firewall auto|nft|ip6tables    table openpdm
 *   flows 65536    idle-seconds 120    psn-window 4096    clamp-mss yes|no
 *   datapath nfqueue|ebpf|auto   # ebpf.c: the tc-eBPF fast path
 *   user nobody               # account to run as after setup
 *
 * Flags on the command line that come after --config override the file's
 * settings; peers from both are merged.
 */
#include "agent.h"
#include "common/tools.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void agent_config_init(struct agent_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->core.opt_type = PDM_OPT_TYPE;
    cfg->core.flow_capacity = AGENT_DEFAULT_CAPACITY;
    cfg->core.idle_timeout_ns = AGENT_DEFAULT_IDLE_NS;
    cfg->core.psn_window = AGENT_DEFAULT_WINDOW;
    cfg->core.clamp_mss = 1;
    cfg->default_mode = PDM_FORMAT_RFC8250;
    cfg->queue_first = 0;
    cfg->queue_count = 1;
    cfg->firewall = "auto";
    cfg->table = AGENT_DEFAULT_TABLE;
    cfg->control_path = AGENT_DEFAULT_CONTROL;
}

void agent_config_free(struct agent_config *cfg)
{
    for (size_t i = 0; i < cfg->nowned; i++)
        free(cfg->owned[i]);
    cfg->nowned = 0;
}

int agent_peer_parse_prefix(struct agent_peer *p, const char *text, char *err, size_t errlen)
{
    char buf[INET6_ADDRSTRLEN + 8];
    const char *slash = strchr(text, '/');
    size_t alen = slash ? (size_t)(slash - text) : strlen(text);
    unsigned long plen = 128;
    uint8_t addr[16];

    if (alen == 0 || alen >= INET6_ADDRSTRLEN)
        return tool_fail(err, errlen, "'%s' is not an IPv6 prefix", text);
    memcpy(buf, text, alen);
    buf[alen] = '\0';
    if (inet_pton(AF_INET6, buf, addr) != 1)
        return tool_fail(err, errlen, "'%s' is not an IPv6 address or prefix", text);
    if (slash != NULL) {
        char *end;
        errno = 0;
        plen = strtoul(slash + 1, &end, 10);
        if (slash[1] == '\0' || *end != '\0' || errno != 0 || plen > 128)
            return tool_fail(err, errlen, "'%s': prefix length is not 0..128", text);
    }
    /* Keep only the prefix bits so that equal prefixes compare equal. */
    for (unsigned i = 0; i < 16; i++) {
        unsigned bits = plen >= (i + 1) * 8u ? 8u : plen > i * 8u ? (unsigned)plen - i * 8u : 0u;
        addr[i] = (uint8_t)(addr[i] & (uint8_t)(0xff00u >> bits));
    }
    memcpy(p->prefix, addr, 16);
    p->plen = (uint8_t)plen;
    return 0;
}

int agent_config_add_peer(struct agent_core_config *cfg, const struct agent_peer *p, char *err,
                          size_t errlen)
{
    for (size_t i = 0; i < cfg->npeers; i++) {
        if (cfg->peers[i].plen == p->plen && memcmp(cfg->peers[i].prefix, p->prefix, 16) == 0) {
            cfg->peers[i] = *p;
            return 0;
        }
    }
    if (cfg->npeers >= AGENT_PEERS_MAX)
        return tool_fail(err, errlen, "more than %d peer prefixes", AGENT_PEERS_MAX);
    cfg->peers[cfg->npeers++] = *p;
    return 0;
}

int agent_opt_type_ok(uint64_t type)
{
    /* RFC 8200 §4.2: the two high-order bits of an option type say what a
     * node that does not know the option does with the packet; anything
     * but 00 (skip over it) discards it. PDM must never cost a packet. */
    return type <= 255 && (type & 0xc0u) == 0;
}

int agent_parse_queues(const char *text, unsigned *first, unsigned *count)
{
    char *end;
    unsigned long a, b;

    errno = 0;
    a = strtoul(text, &end, 10);
    if (end == text || errno != 0 || a > 65535)
        return -1;
    b = a;
    if (*end == '-') {
        const char *s = end + 1;
        b = strtoul(s, &end, 10);
        if (end == s || errno != 0 || b > 65535 || b < a)
            return -1;
    }
    if (*end != '\0' || b - a + 1 > AGENT_QUEUES_MAX)
        return -1;
    *first = (unsigned)a;
    *count = (unsigned)(b - a + 1);
    return 0;
}

static int parse_bool(const char *s, int *out)
{
    if (!strcmp(s, "yes") || !strcmp(s, "on") || !strcmp(s, "true") || !strcmp(s, "1"))
        *out = 1;
    else if (!strcmp(s, "no") || !strcmp(s, "off") || !strcmp(s, "false") || !strcmp(s, "0"))
        *out = 0;
    else
        return -1;
    return 0;
}

int agent_parse_datapath(const char *s, int *out)
{
    if (!strcmp(s, "nfqueue"))
        *out = AGENT_DP_NFQUEUE;
    else if (!strcmp(s, "ebpf"))
        *out = AGENT_DP_EBPF;
    else if (!strcmp(s, "auto"))
        *out = AGENT_DP_AUTO;
    else
        return -1;
    return 0;
}

int agent_parse_mode(const char *s, enum pdm_format *out)
{
    enum pdm_format f = pdm_format_parse(s);
    if (f == PDM_FORMAT_NONE)
        return -1;
    *out = f;
    return 0;
}

int agent_peer_parse_words(struct agent_peer *p, char **w, size_t n, enum pdm_format dflt,
                           char *err, size_t errlen)
{
    uint64_t v;

    memset(p, 0, sizeof *p);
    p->mode = dflt;
    if (n < 1)
        return tool_fail(err, errlen, "peer needs a PREFIX");
    if (agent_peer_parse_prefix(p, w[0], err, errlen) != 0)
        return -1;
    for (size_t i = 1; i < n; i += 2) {
        if (i + 1 >= n)
            return tool_fail(err, errlen, "'%s' needs a value", w[i]);
        if (!strcmp(w[i], "mode")) {
            if (agent_parse_mode(w[i + 1], &p->mode) != 0)
                return tool_fail(err, errlen, "unknown mode '%s' (pdm, v2, v2-encrypted, v2-14)",
                                 w[i + 1]);
        } else if (!strcmp(w[i], "rotate-packets")) {
            if (tool_parse_u64(w[i + 1], PDM_RN_COUNT, &v) != 0)
                return tool_fail(err, errlen, "rotate-packets '%s' is not 0..%d", w[i + 1],
                                 PDM_RN_COUNT);
            p->rotate_packets = v;
        } else if (!strcmp(w[i], "rotate-seconds")) {
            if (tool_parse_u64(w[i + 1], UINT64_MAX / 1000000000u, &v) != 0)
                return tool_fail(err, errlen, "rotate-seconds '%s' is not a number", w[i + 1]);
            p->rotate_ns = v * 1000000000u;
        } else
            return tool_fail(err, errlen, "unknown peer setting '%s'", w[i]);
    }
    return 0;
}

#define WORDS_MAX 16

/* A path or word setting: where it goes, NULL when k is none. */
static const char **string_slot(struct agent_config *cfg, const char *k)
{
    if (!strcmp(k, "records"))
        return &cfg->records_path;
    if (!strcmp(k, "store"))
        return &cfg->tool_store_dir;
    if (!strcmp(k, "keylog"))
        return &cfg->keylog_path;
    if (!strcmp(k, "primary-secret"))
        return &cfg->primary_secret_path;
    if (!strcmp(k, "state"))
        return &cfg->state_path;
    if (!strcmp(k, "control"))
        return &cfg->control_path;
    if (!strcmp(k, "metrics"))
        return &cfg->metrics_addr;
    if (!strcmp(k, "firewall"))
        return &cfg->firewall;
    if (!strcmp(k, "table"))
        return &cfg->table;
    if (!strcmp(k, "user"))
        return &cfg->user;
    return NULL;
}

const char *const agent_config_flag_settings[] = {
    "records",         "store",    "keylog", "primary-secret", "state",          "control",
    "firewall",        "table",    "queue",  "option-type",    "flows",          "idle-seconds",
    "psn-window",      "datapath", "user",   "ipfix",          "ipfix-interval", "ipfix-pen",
    "ipfix-transport", "metrics",  NULL,
};

int agent_config_set(struct agent_config *cfg, const char *k, const char *val, int copy, char *err,
                     size_t errlen)
{
    const char **slot;
    uint64_t v;
    int b;

    if (!strncmp(k, "ipfix", 5))
        return agent_ipfix_set(cfg, k, val, err, errlen);
    if (!strcmp(k, "mode")) {
        if (agent_parse_mode(val, &cfg->default_mode) != 0)
            return tool_fail(err, errlen, "unknown mode '%s' (pdm, v2, v2-encrypted, v2-14)", val);
    } else if (!strcmp(k, "datapath")) {
        if (agent_parse_datapath(val, &cfg->datapath) != 0)
            return tool_fail(err, errlen, "datapath '%s' is not auto, ebpf or nfqueue", val);
    } else if (!strcmp(k, "queue")) {
        if (agent_parse_queues(val, &cfg->queue_first, &cfg->queue_count) != 0)
            return tool_fail(err, errlen, "queue '%s' is not N or N-M (at most %d queues)", val,
                             AGENT_QUEUES_MAX);
    } else if (!strcmp(k, "fanout") || !strcmp(k, "clamp-mss") || !strcmp(k, "passthrough")) {
        if (parse_bool(val, &b) != 0)
            return tool_fail(err, errlen, "%s '%s' is not yes or no", k, val);
        if (!strcmp(k, "fanout"))
            cfg->fanout = b;
        else if (!strcmp(k, "clamp-mss"))
            cfg->core.clamp_mss = b;
        else
            cfg->passthrough = b;
    } else if (!strcmp(k, "option-type")) {
        /* Action bits 00: receivers that do not know the option must skip
         * it, not drop the packet. */
        if (tool_parse_u64(val, 255, &v) != 0 || !agent_opt_type_ok(v))
            return tool_fail(err, errlen, "option-type '%s' is not 0..63 (action bits 00)", val);
        cfg->core.opt_type = (uint8_t)v;
    } else if (!strcmp(k, "flows")) {
        if (tool_parse_u64(val, PDM_FLOW_CAPACITY_MAX, &v) != 0 || v == 0)
            return tool_fail(err, errlen, "flows '%s' is not 1..%zu", val,
                             (size_t)PDM_FLOW_CAPACITY_MAX);
        cfg->core.flow_capacity = (size_t)v;
    } else if (!strcmp(k, "idle-seconds")) {
        if (tool_parse_u64(val, UINT64_MAX / 1000000000u, &v) != 0)
            return tool_fail(err, errlen, "idle-seconds '%s' is not a number", val);
        cfg->core.idle_timeout_ns = v * 1000000000u;
    } else if (!strcmp(k, "psn-window")) {
        if (tool_parse_u64(val, 32767, &v) != 0 || v == 0)
            return tool_fail(err, errlen, "psn-window '%s' is not 1..32767", val);
        cfg->core.psn_window = (uint16_t)v;
    } else {
        if ((slot = string_slot(cfg, k)) == NULL)
            return tool_fail(err, errlen, "unknown setting '%s'", k);
        if (!copy) {
            *slot = val;
            return 0;
        }
        if (cfg->nowned == sizeof cfg->owned / sizeof cfg->owned[0])
            return tool_fail(err, errlen, "too many settings");
        if ((*slot = cfg->owned[cfg->nowned] = strdup(val)) == NULL)
            return tool_fail(err, errlen, "out of memory");
        cfg->nowned++;
    }
    return 0;
}

/* Applies one line's words. Returns 0 or -1 with err. */
static int apply_line(struct agent_config *cfg, char **w, size_t n, char *err, size_t errlen)
{
    if (!strcmp(w[0], "peer")) {
        struct agent_peer p;
        if (agent_peer_parse_words(&p, w + 1, n - 1, cfg->default_mode, err, errlen) != 0)
            return -1;
        return agent_config_add_peer(&cfg->core, &p, err, errlen);
    }
    if (n != 2)
        return tool_fail(err, errlen, "'%s' takes exactly one value", w[0]);
    return agent_config_set(cfg, w[0], w[1], 1, err, errlen);
}

int agent_config_load(struct agent_config *cfg, const char *path, char *err, size_t errlen)
{
    char line[1024], msg[256];
    unsigned lineno = 0;
    FILE *f;
    int rv = 0;

    if ((f = fopen(path, "r")) == NULL)
        return tool_fail(err, errlen, "%s: %s", path, strerror(errno));
    while (fgets(line, sizeof line, f) != NULL) {
        char *w[WORDS_MAX], *save = NULL, *hash, *tok;
        size_t n = 0;

        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            tool_fail(err, errlen, "%s:%u: line too long", path, lineno);
            rv = -1;
            break;
        }
        if ((hash = strchr(line, '#')) != NULL)
            *hash = '\0';
        for (tok = strtok_r(line, " \t\r\n", &save); tok != NULL;
             tok = strtok_r(NULL, " \t\r\n", &save)) {
            if (n == WORDS_MAX) {
                tool_fail(err, errlen, "%s:%u: too many words", path, lineno);
                rv = -1;
                goto out;
            }
            w[n++] = tok;
        }
        if (n == 0)
            continue;
        if (apply_line(cfg, w, n, msg, sizeof msg) != 0) {
            tool_fail(err, errlen, "%s:%u: %s", path, lineno, msg);
            rv = -1;
            break;
        }
    }
out:
    fclose(f);
    return rv;
}
