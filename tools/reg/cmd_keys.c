/*
 * pdm keygen / pdm pubkey: static HPKE keys for registration.
 *
 *   pdm keygen [--kem x25519|p256|p384|p521] [--out FILE]
 *   pdm pubkey [FILE]
 *
 * keygen draws Nsk random bytes from getrandom(2) and runs RFC 9180
 * DeriveKeyPair on them (pdm_hpke_keygen), then prints the private key as
 * one line "KEM:HEX" (SerializePrivateKey), or writes it to FILE created
 * mode 0600. pubkey reads such a line (standard input, or FILE, which must
 * not be readable by others) and prints the public key "KEM:HEX"
 * (SerializePublicKey), the form --pin and authorized-keys files take.
 *
 * Exit status: 0 success, 1 failure (one line on stderr), 2 usage.
 */
#include "reg/reg.h"

#include "common/keyfile.h"
#include "common/sys.h"
#include "common/tools.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char usage_keygen[] =
    "usage: pdm keygen [--kem x25519|p256|p384|p521] [--out FILE]\n"
    "\n"
    "Makes a static key pair for registration (RFC 9180 DeriveKeyPair over\n"
    "fresh getrandom(2) bytes) and prints the private key as KEM:HEX.\n"
    "\n"
    "  --kem K          x25519 (default), p256, p384 or p521\n"
    "  -o, --out FILE   write the key to FILE, created mode 0600 (it must not\n"
    "                   exist), instead of standard output\n"
    "\n"
    "`pdm pubkey` prints the public key of a private key.\n";

static const char usage_pubkey[] =
    "usage: pdm pubkey [FILE]\n"
    "\n"
    "Reads a private key KEM:HEX (from FILE, or standard input) and\n"
    "prints its public key as KEM:HEX. FILE must not be readable by\n"
    "its group or others.\n";

int cmd_keygen(int argc, char **argv)
{
    uint16_t kem = PDM_HPKE_KEM_X25519_SHA256;
    const char *out = NULL, *kem_name = NULL;
    const struct rg_opt opts[] = {RG_TEXT("kem", &kem_name),
                                  {.name = "out", .letter = 'o', .text = &out}};
    uint8_t ikm[PDM_HPKE_NSK_MAX];
    struct pdm_hpke_key key;
    char line[TOOL_KEYFILE_LINE_MAX + 2], err[300];
    int rv = 1, c;

    if ((c = rg_getopt("keygen", argc, argv, opts, sizeof opts / sizeof opts[0], NULL, usage_keygen,
                       0)) != 0)
        return c == 1 ? 0 : c;
    if (kem_name && tool_keyfile_kem_parse(kem_name, &kem) != 0)
        return rg_usage("keygen: unknown KEM '%s' (x25519, p256, p384 or p521)", kem_name);
    memset(&key, 0, sizeof key);
    if (tool_random(ikm, tool_keyfile_nsk(kem)) != 0) {
        tool_err("keygen: getrandom: %s", strerror(errno));
        goto out;
    }
    if (pdm_hpke_keygen(kem, ikm, tool_keyfile_nsk(kem), &key) != 0 ||
        tool_keyfile_format_private(&key, line, sizeof line - 1) < 0) {
        tool_err("keygen: key derivation failed");
        goto out;
    }
    if (out) {
        strcat(line, "\n");
        if (tool_keyfile_write_private(out, line, 0, err, sizeof err) != 0) {
            tool_err("keygen: %s", err);
            goto out;
        }
    } else {
        if (isatty(STDOUT_FILENO))
            fprintf(stderr, "pdm: keygen: printing a private key on a terminal; "
                            "--out FILE writes it to a 0600 file\n");
        printf("%s\n", line);
        if (fflush(stdout) != 0) {
            tool_err("keygen: write error");
            goto out;
        }
    }
    rv = 0;
out:
    pdm_memzero(ikm, sizeof ikm);
    pdm_memzero(line, sizeof line);
    pdm_hpke_key_wipe(&key);
    return rv;
}

int cmd_pubkey(int argc, char **argv)
{
    const char *path = "-";
    struct pdm_hpke_key key;
    char line[TOOL_KEYFILE_LINE_MAX], err[300];

    int rv;

    /* FILE may come before or after the options; "-" is standard input. */
    if ((rv = rg_getopt("pubkey", argc, argv, NULL, 0, NULL, usage_pubkey, 1)) != 0)
        return rv == 1 ? 0 : rv;
    if (optind < argc)
        path = argv[optind];
    memset(&key, 0, sizeof key);
    if (tool_keyfile_read_private(path, &key, err, sizeof err) != 0) {
        tool_err("pubkey: %s", !strcmp(path, "-") && !strncmp(err, "-: ", 3) ? err + 3 : err);
        return 1;
    }
    if (tool_keyfile_format_public(&key, line, sizeof line) < 0) {
        pdm_hpke_key_wipe(&key);
        tool_err("pubkey: cannot serialize the public key");
        return 1;
    }
    pdm_hpke_key_wipe(&key);
    printf("%s\n", line);
    return fflush(stdout) == 0 ? 0 : 1;
}
