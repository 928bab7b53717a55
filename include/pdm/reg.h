/*
 * openpdm: PDMv2 registration (draft-ietf-ippm-encrypted-pdmv2-04 Appendix
 * A.2), the message formats and rules of docs/profile.md §4, over TCP.
 *
 *   client                                   server
 *   ClientHello (version, mode, suites,
 *                [psk_id], [client pk])  ->
 *                                        <-  ServerHello (suite, server pk)
 *   ClientKey (enc, salt)                ->
 *                                        <-  Status (code [, Confirm])
 *
 * Sans-IO: the client and server state machines below take the bytes that
 * arrived (any amount; they consume whole messages only) and write the
 * bytes to send into a caller buffer. They do no I/O, read no clock and
 * draw no randomness: the client's ephemeral key and salt come in its
 * config (fresh random bytes in the tool; fixed ones in known-answer tests,
 * which is the only seam for the vectors), and time comes in as now_ns
 * (only used for the per-message deadline and the result's creation time).
 *
 * Every function returns 0 or a non-negative count, or a negative
 * PDM_ERR_* code (include/pdm/common.h); each one lists its codes.
 * Secrets (PSK copies, the shared secret, HPKE contexts) are wiped on every
 * failure and by the *_wipe functions.
 */
#ifndef PDM_REG_H
#define PDM_REG_H

#include <pdm/common.h>
#include <pdm/hpke.h>
#include <pdm/protocol.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Type(1) || Length(2) in front of every body. */
#define PDM_REG_HDR_SIZE 3
/* Largest whole message: header and a 2048-byte body. */
#define PDM_REG_WIRE_MAX (PDM_REG_HDR_SIZE + PDM_REG_MSG_MAX)
/* PskIdLen is one byte; HPKE needs a non-empty psk_id (RFC 9180 §5.1). */
#define PDM_REG_PSK_ID_MAX 255
/* Longest PSK the state machines hold (HPKE asks for >= 32 bytes). */
#define PDM_REG_PSK_MAX 256
/* "pdmv2 registration" (18 bytes) || SHA-256(...) (32 bytes). */
#define PDM_REG_INFO_SIZE 50
/* The largest message a server sends: a P-521 ServerHello (3 + 8 + 133). */
#define PDM_REG_SERVER_OUT_MAX (PDM_REG_HDR_SIZE + 8 + PDM_HPKE_NPK_MAX)
/* The largest message a client sends after its ClientHello: a P-521
 * ClientKey (3 + 2 + 133 + 32). */
#define PDM_REG_CLIENT_OUT_MAX (PDM_REG_HDR_SIZE + 2 + PDM_HPKE_NENC_MAX + PDM_REG_SALT_SIZE)
/* Status(OK): header, Code, Confirm. */
#define PDM_REG_STATUS_OK_SIZE (PDM_REG_HDR_SIZE + 1 + PDM_REG_CONFIRM_SIZE)
/* Status with an error code: header, Code. */
#define PDM_REG_STATUS_ERR_SIZE (PDM_REG_HDR_SIZE + 1)

enum pdm_reg_msg_type {
    PDM_REG_MSG_CLIENT_HELLO = 1,
    PDM_REG_MSG_SERVER_HELLO = 2,
    PDM_REG_MSG_CLIENT_KEY = 3,
    PDM_REG_MSG_STATUS = 4,
};

/* Status codes, docs/profile.md §4. */
enum pdm_reg_status {
    PDM_REG_STATUS_OK = 0,
    PDM_REG_STATUS_NO_COMMON_SUITE = 1,
    PDM_REG_STATUS_MALFORMED = 2,
    PDM_REG_STATUS_UNAUTHORIZED = 3, /* unknown PSK id or client key, failed decapsulation */
    PDM_REG_STATUS_BUSY = 4,
    PDM_REG_STATUS_INTERNAL = 5,
    PDM_REG_STATUS_VERSION = 6,
    PDM_REG_STATUS_MAX = 6,
    PDM_REG_STATUS_NONE = 0xFF /* not a code: no Status was sent or received */
};

/* Static upper-case name of a status code ("OK", "UNAUTHORIZED", ...);
 * "unknown" for a code above PDM_REG_STATUS_MAX. */
PDM_EXTERN const char *pdm_reg_status_name(unsigned code);

/* Static name of an HPKE mode: "base", "psk", "auth", "auth_psk", or
 * "unknown". */
PDM_EXTERN const char *pdm_reg_mode_name(unsigned mode);

/* ---- Message codec --------------------------------------------------- */

/*
 * Looks at the start of a byte stream: when in[0..in_len) begins with a
 * whole message, stores its type and body length and returns its total
 * size (PDM_REG_HDR_SIZE + Length); returns 0 while more bytes are needed
 * (fewer than the header, or than the Length it declares), and
 * PDM_ERR_MALFORMED as soon as the header declares a Length above
 * PDM_REG_MSG_MAX (an oversized message is refused from its first three
 * bytes). type and body_len may be NULL.
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_reg_frame(const uint8_t *in, size_t in_len, uint8_t *type,
                                             size_t *body_len);

/*
 * ClientHello body. Decoding points psk_id and client_pk into the body
 * (no copy): they are valid while the body is. psk_id is present (non-NULL)
 * exactly in the psk modes and client_pk exactly in the auth modes.
 */
struct pdm_reg_client_hello {
    uint8_t version;
    uint8_t mode; /* enum pdm_hpke_mode */
    uint8_t nsuites;
    struct pdm_hpke_suite suites[PDM_REG_SUITES_MAX];
    const uint8_t *psk_id;
    size_t psk_id_len;
    const uint8_t *client_pk;
    size_t client_pk_len;
};

struct pdm_reg_server_hello {
    struct pdm_hpke_suite suite;
    const uint8_t *server_pk;
    size_t server_pk_len;
};

struct pdm_reg_client_key {
    const uint8_t *enc;
    size_t enc_len;
    const uint8_t *salt; /* PDM_REG_SALT_SIZE bytes */
};

struct pdm_reg_status_msg {
    uint8_t code;           /* enum pdm_reg_status */
    const uint8_t *confirm; /* PDM_REG_CONFIRM_SIZE bytes when code is OK, else NULL */
};

/*
 * Encoders write a whole message (Type, Length, Body) and return its size,
 * or PDM_ERR_NOBUF (out_cap too small), PDM_ERR_INVAL (a field out of its
 * range: version 0 aside, nsuites 0 or above 32, mode above 3, psk_id
 * missing or present against the mode or longer than 255, client_pk
 * likewise, a body above PDM_REG_MSG_MAX, a status code above 6, a
 * missing Confirm for OK).
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_reg_client_hello_encode(const struct pdm_reg_client_hello *m,
                                                           uint8_t *out, size_t out_cap);
PDM_EXTERN PDM_WARN_UNUSED int pdm_reg_server_hello_encode(const struct pdm_reg_server_hello *m,
                                                           uint8_t *out, size_t out_cap);
PDM_EXTERN PDM_WARN_UNUSED int pdm_reg_client_key_encode(const struct pdm_reg_client_key *m,
                                                         uint8_t *out, size_t out_cap);
PDM_EXTERN PDM_WARN_UNUSED int pdm_reg_status_encode(const struct pdm_reg_status_msg *m,
                                                     uint8_t *out, size_t out_cap);

/*
 * Decoders read one body (without Type and Length) and return 0, or
 * PDM_ERR_MALFORMED (too short, bytes left over, a count or length out of
 * range, an unknown mode or status code, an empty PskId). The ClientHello
 * decoder reads Version first and returns PDM_ERR_UNSUPPORTED when it is
 * not PDM_REG_VERSION (m->version tells which it was; the rest of *m is
 * not filled: another version's layout is unknown).
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_reg_client_hello_decode(const uint8_t *body, size_t len,
                                                           struct pdm_reg_client_hello *m);
PDM_EXTERN PDM_WARN_UNUSED int pdm_reg_server_hello_decode(const uint8_t *body, size_t len,
                                                           struct pdm_reg_server_hello *m);
PDM_EXTERN PDM_WARN_UNUSED int pdm_reg_client_key_decode(const uint8_t *body, size_t len,
                                                         struct pdm_reg_client_key *m);
PDM_EXTERN PDM_WARN_UNUSED int pdm_reg_status_decode(const uint8_t *body, size_t len,
                                                     struct pdm_reg_status_msg *m);

/*
 * The KEM whose serialized public keys (and encapsulations) have n bytes:
 * X25519 32, P-256 65, P-384 97, P-521 133; 0 for any other length. The
 * four sizes differ, so a ClientPk names its KEM by its length.
 */
PDM_EXTERN uint16_t pdm_reg_kem_by_pk_len(size_t n);

/* ---- What a finished registration leaves ----------------------------- */

/*
 * Both sides end with the same suite, salt and secret. peer_pk is the
 * other side's static public key: the server's for a client, the client's
 * (auth modes only, else peer_pk_len 0) for a server. created_ns is the
 * now_ns of the call that finished. Wipe with pdm_reg_result_wipe.
 */
struct pdm_reg_result {
    uint8_t mode; /* enum pdm_hpke_mode */
    struct pdm_hpke_suite suite;
    uint8_t salt[PDM_REG_SALT_SIZE];
    uint8_t secret[PDM_HPKE_NH_MAX]; /* SharedSecret, Nh bytes */
    size_t secret_len;
    uint8_t confirm[PDM_REG_CONFIRM_SIZE];
    uint8_t peer_pk[PDM_HPKE_NPK_MAX];
    size_t peer_pk_len;
    uint8_t psk_id[PDM_REG_PSK_ID_MAX]; /* psk modes */
    size_t psk_id_len;
    uint64_t created_ns;
};

PDM_EXTERN void pdm_reg_result_wipe(struct pdm_reg_result *r);

/* State of either side. */
enum pdm_reg_state {
    PDM_REG_ST_INIT = 0,    /* not started */
    PDM_REG_ST_WAIT_HELLO,  /* server: waits for ClientHello; client: for ServerHello */
    PDM_REG_ST_WAIT_KEY,    /* server: waits for ClientKey */
    PDM_REG_ST_WAIT_STATUS, /* client: waits for Status */
    PDM_REG_ST_DONE,        /* success: result is valid */
    PDM_REG_ST_FAILED,      /* failure: reason, status say why */
};

/* ---- Server ---------------------------------------------------------- */

/*
 * What a server accepts. suites: its preference order (the first one the
 * client also offers wins; suites with the export-only AEAD are never
 * chosen). keys: its static key pairs, at most one per KEM; a suite is
 * chosen only when there is a key for its KEM. modes: bit (1 << mode) set
 * for each accepted mode; 0 is taken as PDM_REG_MODES_ALL (all four).
 *
 * psk_lookup (psk modes): copies the PSK named by id into psk (at most cap
 * bytes) and returns its length, or PDM_ERR_NOT_FOUND. client_key_check
 * (auth modes): returns 0 when pk (validated, has_sk 0) is an authorized
 * client key, else PDM_ERR_NOT_FOUND. Either may be NULL: then no PSK id,
 * or no client key, is known. arg is passed to both. They run inside
 * pdm_reg_server_recv; the config and what the callbacks read may change
 * between calls (a reload), never during one.
 *
 * timeout_ns: the most time a server waits for each message (0: none).
 */
#define PDM_REG_MODES_ALL 0x0Fu

struct pdm_reg_server_config {
    const struct pdm_hpke_suite *suites;
    size_t nsuites;
    const struct pdm_hpke_key *keys;
    size_t nkeys;
    unsigned modes;
    int (*psk_lookup)(void *arg, const uint8_t *id, size_t id_len, uint8_t *psk, size_t cap);
    int (*client_key_check)(void *arg, const struct pdm_hpke_key *pk);
    void *arg;
    uint64_t timeout_ns;
};

/*
 * One server side of one connection. Fields are readable: state, status
 * (the Status code sent, once DONE or FAILED; PDM_REG_STATUS_NONE before,
 * and after a timeout, which sends none), reason (a static one-line
 * text saying why it failed, for logs), result (valid in DONE). Only the
 * functions below change them. The server's static key is copied, so the
 * config's keys may be reloaded while a handshake is in flight.
 */
struct pdm_reg_server {
    const struct pdm_reg_server_config *cfg;
    uint8_t state;  /* enum pdm_reg_state */
    uint8_t status; /* enum pdm_reg_status */
    const char *reason;
    uint64_t deadline_ns;          /* 0: none */
    struct pdm_hpke_key key;       /* copy of the chosen one of cfg->keys, between
                                      ServerHello and ClientKey only (then wiped) */
    struct pdm_hpke_key client_pk; /* auth modes */
    uint8_t info[PDM_REG_INFO_SIZE];
    uint8_t psk[PDM_REG_PSK_MAX];
    size_t psk_len;
    struct pdm_reg_result result;
};

/* Starts *s in WAIT_HELLO with cfg (which must outlive it) at now_ns. */
PDM_EXTERN void pdm_reg_server_init(struct pdm_reg_server *s,
                                    const struct pdm_reg_server_config *cfg, uint64_t now_ns);

/*
 * Feeds the bytes that arrived on the connection and not yet consumed.
 * in and out must not overlap. Handles at most one whole message; writes the reply (at most
 * PDM_REG_SERVER_OUT_MAX bytes) to out and its size to *out_len (0 when
 * nothing is to be sent). Returns the number of bytes of in consumed (0
 * while no whole message is there: read more and call again), or:
 *  - a peer failure: PDM_ERR_MALFORMED (bad framing, unexpected message or
 *    body), PDM_ERR_UNSUPPORTED (version, or no common suite),
 *    PDM_ERR_AUTH (mode not accepted, unknown PSK id or client key, failed
 *    decapsulation), or for Status INTERNAL the code of what failed
 *    (PDM_ERR_CRYPTO, PDM_ERR_NOMEM, or the psk_lookup / client_key_check
 *    callback's own error): out then holds the Status to send before
 *    closing, state is FAILED, status and reason say why;
 *  - PDM_ERR_STATE (already DONE or FAILED), PDM_ERR_NOBUF (out_cap below
 *    PDM_REG_SERVER_OUT_MAX), PDM_ERR_INVAL (NULL argument): nothing
 *    written, state unchanged.
 * Tell the two kinds apart by s->state (FAILED) or *out_len, not by the
 * code.
 * When the call leaves state DONE, out holds Status(OK): send it, and only
 * then keep s->result (docs/profile.md §4: nothing is kept before).
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_reg_server_recv(struct pdm_reg_server *s, const uint8_t *in,
                                                   size_t in_len, uint64_t now_ns, uint8_t *out,
                                                   size_t out_cap, size_t *out_len);

/*
 * The time at which the server gives up waiting (0: no deadline, or not
 * waiting). pdm_reg_server_expire(s, now_ns) fails *s with reason
 * "timeout" when now_ns has reached it and returns PDM_ERR_EXPIRED; else
 * returns 0. A timeout sends no Status: the connection is just closed.
 */
PDM_EXTERN uint64_t pdm_reg_server_deadline(const struct pdm_reg_server *s);
PDM_EXTERN int pdm_reg_server_expire(struct pdm_reg_server *s, uint64_t now_ns);

/* Wipes every secret in *s (PSK copy, result, keys). */
PDM_EXTERN void pdm_reg_server_wipe(struct pdm_reg_server *s);

/* ---- Client ---------------------------------------------------------- */

/*
 * What a client asks for. mode: enum pdm_hpke_mode. suites: offered, in
 * the client's order (1..32). psk and psk_id (psk modes; psk at least 32
 * bytes). key (auth modes): the client's key pair; every offered suite
 * must have its KEM. pin: the server's expected public key; a ServerHello
 * with another key (or another KEM) fails. pin NULL accepts any server key
 * and is only for trust on first use: the caller then checks
 * result.peer_pk against what it recorded. eph: where the ephemeral key
 * comes from (fresh random ikm in real use; a fixed ikm in known-answer
 * tests). salt: 32 fresh random bytes. timeout_ns: the most time to wait
 * for each reply (0: none). The config must outlive the client.
 */
struct pdm_reg_client_config {
    uint8_t mode;
    const struct pdm_hpke_suite *suites;
    size_t nsuites;
    const uint8_t *psk;
    size_t psk_len;
    const uint8_t *psk_id;
    size_t psk_id_len;
    const struct pdm_hpke_key *key;
    const struct pdm_hpke_key *pin;
    struct pdm_hpke_eph eph;
    uint8_t salt[PDM_REG_SALT_SIZE];
    uint64_t timeout_ns;
};

/*
 * One client side. Readable fields as for the server: state, status (the
 * code the server sent, once it sent one; PDM_REG_STATUS_NONE before),
 * reason, result.
 * hello keeps the ClientHello body for the transcript hash.
 */
struct pdm_reg_client {
    const struct pdm_reg_client_config *cfg;
    uint8_t state;
    uint8_t status;
    const char *reason;
    uint64_t deadline_ns;
    uint8_t hello[PDM_REG_MSG_MAX];
    size_t hello_len;
    struct pdm_reg_result result;
};

/*
 * Checks cfg, writes the ClientHello into out (returns its size) and
 * starts *c in WAIT_HELLO. Returns the size, PDM_ERR_INVAL (a config field
 * out of range or against the mode, a key or pin of a KEM that an offered
 * suite does not have, an unsupported suite), PDM_ERR_NOBUF.
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_reg_client_start(struct pdm_reg_client *c,
                                                    const struct pdm_reg_client_config *cfg,
                                                    uint64_t now_ns, uint8_t *out, size_t out_cap);

/*
 * Feeds the bytes that arrived and not yet consumed (in and out must not
 * overlap); handles at most one
 * whole message, writes what to send to out (*out_len; at most
 * PDM_REG_CLIENT_OUT_MAX). Returns bytes consumed (0: read more), or a
 * failure with state FAILED and reason set: PDM_ERR_MALFORMED (bad
 * message), PDM_ERR_PROTO (the server chose a suite not offered, or sent
 * an unexpected message), PDM_ERR_KEY (the server key is not the pin, or
 * not a valid key), PDM_ERR_AUTH (Confirm mismatch, or the server sent a
 * Status other than OK: status says which), PDM_ERR_CRYPTO, PDM_ERR_NOMEM;
 * or PDM_ERR_STATE, PDM_ERR_NOBUF (nothing changed). state DONE: the
 * Confirm matched; keep c->result.
 */
PDM_EXTERN PDM_WARN_UNUSED int pdm_reg_client_recv(struct pdm_reg_client *c, const uint8_t *in,
                                                   size_t in_len, uint64_t now_ns, uint8_t *out,
                                                   size_t out_cap, size_t *out_len);

/* As for the server; PDM_ERR_EXPIRED when now_ns reached the deadline. */
PDM_EXTERN uint64_t pdm_reg_client_deadline(const struct pdm_reg_client *c);
PDM_EXTERN int pdm_reg_client_expire(struct pdm_reg_client *c, uint64_t now_ns);

PDM_EXTERN void pdm_reg_client_wipe(struct pdm_reg_client *c);

#ifdef __cplusplus
}
#endif

#endif /* PDM_REG_H */
