/*
 * pdm demo: setting up the two hosts with the pdm subcommands themselves:
 * keys (pdm keygen, pdm pubkey), the registration (pdm registrar in the
 * server namespace, pdm register --pin --key from the client's), and an
 * agent on each side (pdm agent --mode v2-encrypted, pdm agent --status).
 *
 * Keys, secret stores, agent state and logs go to the private temporary
 * directory; only the registration's key log goes to DIR, for analysers.
 */
#include "demo/demo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KEY_TEXT_MAX 256 /* a public key as pdm pubkey prints it */

/* Runs `pdm ARGS` (in ns when not NULL) and keeps its first stdout line in
 * line (NULL: discarded). Returns its exit code or -1. */
static int pdm_line(struct demo *d, const char *ns, struct demo_argv *a, char *line, size_t cap,
                    const char *log)
{
    char outp[PATH_MAX];
    int rc;
    if (a->overflow || demo_work_path(d, outp, sizeof outp, "pdm.out") != 0)
        return -1;
    rc = demo_run(d, ns, a->v, outp, log, 20000);
    if (line != NULL) {
        char buf[4096];
        line[0] = '\0';
        if (demo_read_text(outp, buf, sizeof buf) > 0) {
            buf[strcspn(buf, "\n")] = '\0';
            if (demo_fmt(line, cap, "%s", buf) != 0)
                return -1;
        }
    }
    return rc;
}

/* Shortens a long key for display: "x25519:4612ab…9f01". */
static void short_key(const char *key, char *out, size_t cap)
{
    const char *colon = strchr(key, ':');
    size_t n = strlen(key);
    if (colon == NULL || n < (size_t)(colon - key) + 20 ||
        demo_fmt(out, cap, "%.*s%.8s...%s", (int)(colon - key + 1), key, colon + 1, key + n - 4) !=
            0)
        demo_fmt(out, cap, "%s", key);
}

/* pdm keygen --out path, then its public key into pub. */
static int make_key(struct demo *d, const char *path, char pub[static KEY_TEXT_MAX],
                    const char *log)
{
    struct demo_argv a;

    demo_av_pdm(d, &a, "keygen");
    DEMO_AV(&a, "--out", path);
    if (pdm_line(d, NULL, &a, NULL, 0, log) != 0) {
        demo_err("demo: pdm keygen failed");
        demo_show_log(log);
        return -1;
    }
    demo_av_pdm(d, &a, "pubkey");
    demo_av_add(&a, path);
    if (pdm_line(d, NULL, &a, pub, KEY_TEXT_MAX, log) != 0 || pub[0] == '\0') {
        demo_err("demo: pdm pubkey failed");
        demo_show_log(log);
        return -1;
    }
    return 0;
}

/* The files of the registration: in the temporary directory but keylog. */
struct reg_files {
    char skey[PATH_MAX], ckey[PATH_MAX], auth[PATH_MAX], sstore[PATH_MAX], cstore[PATH_MAX],
        keylog[PATH_MAX], rlog[PATH_MAX], clog[PATH_MAX];
};

static int reg_files(const struct demo *d, struct reg_files *f)
{
    return demo_work_path(d, f->skey, sizeof f->skey, "registrar.key") ||
                   demo_work_path(d, f->ckey, sizeof f->ckey, "client.key") ||
                   demo_work_path(d, f->auth, sizeof f->auth, "authorized_keys") ||
                   demo_work_path(d, f->sstore, sizeof f->sstore, "server-store") ||
                   demo_work_path(d, f->cstore, sizeof f->cstore, "client-store") ||
                   demo_work_path(d, f->rlog, sizeof f->rlog, "registrar.log") ||
                   demo_work_path(d, f->clog, sizeof f->clog, "register.log") ||
                   demo_out_path(d, f->keylog, sizeof f->keylog, "keylog")
               ? -1
               : 0;
}

/* The registrar's authorized_keys: the client's key alone. */
static int write_auth(const char *path, const char *cpub)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "# the clients the demo registrar accepts\n%s demo-client\n", cpub);
    return fclose(f) == 0 ? 0 : -1;
}

/* pdm register from the client's namespace against the running registrar
 * reg, then the registrar's log line that says it stored its copy. */
static int do_register(struct demo *d, const struct reg_files *f, const char *spub, pid_t reg)
{
    struct demo_argv a;

    /* A key log of this run only (a reused --out DIR keeps no old lines). */
    unlink(f->keylog);
    demo_av_pdm(d, &a, "register");
    DEMO_AV(&a, "--server", DEMO_REG_ENDPOINT, "--pin", spub, "--key", f->ckey, "--store",
            f->cstore, "--keylog", f->keylog, "--lifetime", "1h");
    if (pdm_line(d, d->ns_c, &a, NULL, 0, f->clog) != 0) {
        demo_err("demo: pdm register failed");
        demo_show_log(f->clog);
        demo_show_log(f->rlog);
        return -1;
    }
    /* The registrar stores its copy right after sending Status(OK): wait
     * for its log line, which comes after. */
    if (demo_wait_log(d, f->rlog, "registered mode=", reg, 5000) != 0) {
        demo_err("demo: the registrar did not log the registration");
        demo_show_log(f->rlog);
        return -1;
    }
    return 0;
}

int demo_registration(struct demo *d)
{
    char spub[KEY_TEXT_MAX], cpub[KEY_TEXT_MAX], s1[64], s2[64], text[8192], *m;
    struct reg_files f;
    struct demo_argv a;
    pid_t reg;
    int rc = -1, st;

    if (reg_files(d, &f) != 0 || make_key(d, f.skey, spub, f.clog) != 0 ||
        make_key(d, f.ckey, cpub, f.clog) != 0)
        return -1;
    short_key(spub, s1, sizeof s1);
    short_key(cpub, s2, sizeof s2);
    demo_step(d, "keys", "pdm keygen: registrar %s, client %s", s1, s2);
    if (write_auth(f.auth, cpub) != 0)
        return -1;

    demo_av_pdm(d, &a, "registrar");
    DEMO_AV(&a, "--key", f.skey, "--listen", DEMO_REG_ENDPOINT, "--authorized-keys", f.auth,
            "--store", f.sstore, "--lifetime", "1h");
    if (a.overflow ||
        (reg = demo_spawn_exec(d, d->ns_s, a.v, NULL, f.rlog, "registrar", SIGTERM)) < 0)
        return -1;
    if (demo_wait_log(d, f.rlog, "listening on", reg, 10000) != 0) {
        demo_err("demo: pdm registrar did not start");
        demo_show_log(f.rlog);
        goto out;
    }
    if (do_register(d, &f, spub, reg) != 0)
        goto out;
    demo_read_text(f.rlog, text, sizeof text);
    if ((m = strstr(text, "registered mode=")) != NULL)
        m[strcspn(m, "\n")] = '\0';
    demo_step(d, "register", "pdm register --pin %s --key client.key (from the client)", s1);
    demo_step(d, "", "pdm registrar (server): %s", m ? m + 11 : "registered");
    demo_step(d, "", "both secret stores hold the same PDMV2_SECRET; for analysers: keylog");
    rc = 0;
out:
    st = demo_stop_pid(d, reg, SIGTERM, 3000);
    if (rc == 0 && !demo_exited_ok(st)) {
        demo_err("demo: pdm registrar did not stop cleanly");
        demo_show_log(f.rlog);
        rc = -1;
    }
    return rc;
}

int demo_agent_start(struct demo *d, struct demo_side *s)
{
    char store[PATH_MAX], state[PATH_MAX], name[64];
    struct demo_argv a;

    if (demo_fmt(name, sizeof name, "%s-store", s->name) ||
        demo_work_path(d, store, sizeof store, name) ||
        demo_fmt(name, sizeof name, "%s-agent.state", s->name) ||
        demo_work_path(d, state, sizeof state, name) ||
        demo_fmt(name, sizeof name, "%s-agent.sock", s->name) ||
        demo_work_path(d, s->sock, sizeof s->sock, name) ||
        demo_fmt(name, sizeof name, "%s-agent.log", s->name) ||
        demo_work_path(d, s->log, sizeof s->log, name))
        return -1;
    demo_av_pdm(d, &a, "agent");
    DEMO_AV(&a, "--peer", s->peer, "--mode", "v2-encrypted", "--store", store, "--state", state,
            "--control", s->sock);
    if (a.overflow ||
        (s->agent = demo_spawn_exec(d, s->ns, a.v, NULL, s->log, "agent", SIGTERM)) < 0)
        return -1;
    if (demo_wait_log(d, s->log, "agent: ready", s->agent, 15000) != 0) {
        demo_err("demo: the %s's pdm agent did not start", s->name);
        demo_show_log(s->log);
        return -1;
    }
    return 0;
}

int demo_agent_status(struct demo *d, const struct demo_side *s, char *buf, size_t cap)
{
    char outp[PATH_MAX];
    struct demo_argv a;
    demo_av_pdm(d, &a, "agent");
    DEMO_AV(&a, "--status", "--control", s->sock);
    if (demo_work_path(d, outp, sizeof outp, "status.out") ||
        demo_run(d, NULL, a.v, outp, NULL, 5000) != 0)
        return -1;
    return demo_read_text(outp, buf, cap) > 0 ? 0 : -1;
}

uint64_t demo_agent_counter(const char *status, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = status; p != NULL && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (!strncmp(p, name, n) && p[n] == ' ')
            return strtoull(p + n + 1, NULL, 10);
    return 0;
}
