/*
 * JSON reader: a recursive-descent parser building a tree of nodes.
 * Depth is bounded (JSON_MAX_DEPTH) so hostile input cannot exhaust the
 * stack; every read is bounds-checked against the end of the text.
 */
#include "json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 128

struct json {
    enum json_type type;
    int boolean;
    char *str; /* string bytes, or number text */
    size_t slen;
    size_t n, cap;       /* array/object members */
    struct json **items; /* values */
    char **keys;         /* object member names */
};

struct parser {
    const char *p, *end, *start;
    char *err;
    size_t errlen;
    int failed;
};

static void fail(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct parser *ps, const char *fmt, ...)
{
    if (ps->failed)
        return;
    ps->failed = 1;
    if (!ps->err || ps->errlen == 0)
        return;
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(ps->err, ps->errlen, "%s at byte %zu", msg, (size_t)(ps->p - ps->start));
}

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static struct json *node_new(struct parser *ps, enum json_type t)
{
    struct json *j = calloc(1, sizeof *j);
    if (!j)
        fail(ps, "out of memory");
    else
        j->type = t;
    return j;
}

static int node_push(struct parser *ps, struct json *parent, char *key, struct json *val)
{
    if (parent->n == parent->cap) {
        size_t ncap = parent->cap ? parent->cap * 2 : 4;
        struct json **ni = realloc(parent->items, ncap * sizeof *ni);
        if (!ni) {
            fail(ps, "out of memory");
            return -1;
        }
        parent->items = ni;
        if (parent->type == JSON_OBJ) {
            char **nk = realloc(parent->keys, ncap * sizeof *nk);
            if (!nk) {
                fail(ps, "out of memory");
                return -1;
            }
            parent->keys = nk;
        }
        parent->cap = ncap;
    }
    parent->items[parent->n] = val;
    if (parent->type == JSON_OBJ)
        parent->keys[parent->n] = key;
    parent->n++;
    return 0;
}

static int hex4(struct parser *ps, unsigned *out)
{
    unsigned v = 0;
    if (ps->end - ps->p < 4) {
        fail(ps, "truncated \\u escape");
        return -1;
    }
    for (int i = 0; i < 4; i++) {
        char c = ps->p[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else {
            fail(ps, "bad \\u escape");
            return -1;
        }
        v = v << 4 | d;
    }
    ps->p += 4;
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Parses a string starting at the opening quote; returns a malloc'd copy. */
static char *parse_string(struct parser *ps, size_t *len)
{
    ps->p++; /* opening quote */
    const char *s = ps->p;
    /* The unescaped string is never longer than the escaped one. */
    while (ps->p < ps->end && *ps->p != '"') {
        if (*ps->p == '\\')
            ps->p++;
        ps->p++;
    }
    if (ps->p >= ps->end) {
        fail(ps, "unterminated string");
        return NULL;
    }
    size_t cap = (size_t)(ps->p - s) + 1;
    char *out = malloc(cap);
    if (!out) {
        fail(ps, "out of memory");
        return NULL;
    }
    const char *end = ps->p;
    ps->p = s;
    size_t n = 0;
    while (ps->p < end) {
        unsigned char c = (unsigned char)*ps->p++;
        if (c < 0x20) {
            fail(ps, "control character in string");
            goto bad;
        }
        if (c != '\\') {
            out[n++] = (char)c;
            continue;
        }
        char e = *ps->p++;
        switch (e) {
        case '"':
            out[n++] = '"';
            break;
        case '\\':
            out[n++] = '\\';
            break;
        case '/':
            out[n++] = '/';
            break;
        case 'b':
            out[n++] = '\b';
            break;
        case 'f':
            out[n++] = '\f';
            break;
        case 'n':
            out[n++] = '\n';
            break;
        case 'r':
            out[n++] = '\r';
            break;
        case 't':
            out[n++] = '\t';
            break;
        case 'u': {
            unsigned cp, lo;
            if (hex4(ps, &cp))
                goto bad;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u') {
                    fail(ps, "lone surrogate");
                    goto bad;
                }
                ps->p += 2;
                if (hex4(ps, &lo))
                    goto bad;
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    fail(ps, "bad surrogate pair");
                    goto bad;
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                fail(ps, "lone surrogate");
                goto bad;
            }
            n += put_utf8(out + n, cp); /* at most 4 bytes for 6 or 12 read */
            break;
        }
        default:
            fail(ps, "bad escape");
            goto bad;
        }
    }
    ps->p = end + 1; /* closing quote */
    out[n] = '\0';
    *len = n;
    return out;
bad:
    free(out);
    return NULL;
}

static struct json *parse_value(struct parser *ps, int depth);

static struct json *parse_container(struct parser *ps, int depth, enum json_type t)
{
    char close = t == JSON_ARR ? ']' : '}';
    struct json *j = node_new(ps, t);
    if (!j)
        return NULL;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return j;
    }
    for (;;) {
        char *key = NULL;
        size_t klen;
        skip_ws(ps);
        if (t == JSON_OBJ) {
            if (ps->p >= ps->end || *ps->p != '"') {
                fail(ps, "expected member name");
                break;
            }
            if (!(key = parse_string(ps, &klen)))
                break;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                fail(ps, "expected ':'");
                free(key);
                break;
            }
            ps->p++;
        }
        struct json *v = parse_value(ps, depth + 1);
        if (!v || node_push(ps, j, key, v)) {
            free(key);
            json_free(v);
            break;
        }
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            return j;
        }
        fail(ps, "expected ',' or '%c'", close);
        break;
    }
    json_free(j);
    return NULL;
}

static struct json *parse_number(struct parser *ps)
{
    const char *s = ps->p;
    if (ps->p < ps->end && *ps->p == '-')
        ps->p++;
    if (ps->p < ps->end && *ps->p == '0') {
        ps->p++;
    } else if (ps->p < ps->end && *ps->p >= '1' && *ps->p <= '9') {
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
            ps->p++;
    } else {
        fail(ps, "bad number");
        return NULL;
    }
    if (ps->p < ps->end && *ps->p == '.') {
        ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') {
            fail(ps, "bad fraction");
            return NULL;
        }
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
            ps->p++;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
            ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') {
            fail(ps, "bad exponent");
            return NULL;
        }
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
            ps->p++;
    }
    struct json *j = node_new(ps, JSON_NUM);
    if (!j)
        return NULL;
    j->slen = (size_t)(ps->p - s);
    if (!(j->str = malloc(j->slen + 1))) {
        fail(ps, "out of memory");
        free(j);
        return NULL;
    }
    memcpy(j->str, s, j->slen);
    j->str[j->slen] = '\0';
    return j;
}

static int literal(struct parser *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) >= n && memcmp(ps->p, word, n) == 0) {
        ps->p += n;
        return 1;
    }
    return 0;
}

static struct json *parse_value(struct parser *ps, int depth)
{
    struct json *j;
    if (depth > JSON_MAX_DEPTH) {
        fail(ps, "nesting too deep");
        return NULL;
    }
    skip_ws(ps);
    if (ps->p >= ps->end) {
        fail(ps, "unexpected end of input");
        return NULL;
    }
    switch (*ps->p) {
    case '{':
        return parse_container(ps, depth, JSON_OBJ);
    case '[':
        return parse_container(ps, depth, JSON_ARR);
    case '"': {
        size_t len;
        char *s = parse_string(ps, &len);
        if (!s)
            return NULL;
        if (!(j = node_new(ps, JSON_STR))) {
            free(s);
            return NULL;
        }
        j->str = s;
        j->slen = len;
        return j;
    }
    case 't':
    case 'f':
    case 'n':
        if (literal(ps, "true") || literal(ps, "false")) {
            if ((j = node_new(ps, JSON_BOOL)))
                j->boolean = ps->p[-1] == 'e' && ps->p[-2] == 'u';
            return j;
        }
        if (literal(ps, "null"))
            return node_new(ps, JSON_NULL);
        fail(ps, "unexpected word");
        return NULL;
    default:
        return parse_number(ps);
    }
}

struct json *json_parse(const char *text, size_t len, char *err, size_t errlen)
{
    struct parser ps = {text, text + len, text, err, errlen, 0};
    struct json *j = parse_value(&ps, 0);
    if (j) {
        skip_ws(&ps);
        if (ps.p != ps.end) {
            fail(&ps, "trailing data");
            json_free(j);
            j = NULL;
        }
    }
    return j;
}

struct json *json_load_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    struct json *j = NULL;
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    for (;;) {
        if (cap - len < 65536) {
            cap = cap ? cap * 2 : 262144;
            char *nb = realloc(buf, cap);
            if (!nb) {
                snprintf(err, errlen, "%s: out of memory", path);
                goto out;
            }
            buf = nb;
        }
        size_t r = fread(buf + len, 1, cap - len, f);
        len += r;
        if (r == 0)
            break;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        goto out;
    }
    j = json_parse(buf, len, err, errlen);
out:
    free(buf);
    fclose(f);
    return j;
}

void json_free(struct json *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->n; i++) {
        json_free(j->items[i]);
        if (j->keys)
            free(j->keys[i]);
    }
    free(j->items);
    free(j->keys);
    free(j->str);
    free(j);
}

enum json_type json_type(const struct json *j)
{
    return j ? j->type : JSON_NULL;
}

const struct json *json_get(const struct json *obj, const char *key)
{
    if (!obj || obj->type != JSON_OBJ)
        return NULL;
    for (size_t i = 0; i < obj->n; i++)
        if (strcmp(obj->keys[i], key) == 0)
            return obj->items[i];
    return NULL;
}

size_t json_len(const struct json *j)
{
    return j && (j->type == JSON_ARR || j->type == JSON_OBJ) ? j->n : 0;
}

const struct json *json_at(const struct json *j, size_t i)
{
    return i < json_len(j) ? j->items[i] : NULL;
}

const char *json_key_at(const struct json *obj, size_t i)
{
    return obj && obj->type == JSON_OBJ && i < obj->n ? obj->keys[i] : NULL;
}

const char *json_str(const struct json *j)
{
    return j && j->type == JSON_STR ? j->str : NULL;
}

size_t json_str_len(const struct json *j)
{
    return j && j->type == JSON_STR ? j->slen : 0;
}

const char *json_num_text(const struct json *j)
{
    return j && j->type == JSON_NUM ? j->str : NULL;
}

int json_u64(const struct json *j, uint64_t *out)
{
    const char *s = json_num_text(j);
    uint64_t v = 0;
    if (!s || !*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int json_bool(const struct json *j)
{
    return j && j->type == JSON_BOOL && j->boolean;
}
