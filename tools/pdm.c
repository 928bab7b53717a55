/*
 * pdm: the openpdm command line. One binary, subcommands like `ip` or `wg`:
 * `pdm <command> [args]`. The table below is the whole dispatch.
 */
#include "common/tools.h"

#include <stdio.h>
#include <string.h>

#ifndef PDM_VERSION
#define PDM_VERSION "0.1.0"
#endif

static const struct pdm_cmd commands[] = {
    {"option", cmd_option, "encode or decode a PDM / PDMv2 option (interop debugging)"},
    {"vectors", cmd_vectors, "check known-answer vector files (RFC 9180, PDMv2 profile)"},
    {"analyze", cmd_analyze, "per-flow delays, loss and reordering from captures or live traffic"},
    {"decrypt", cmd_decrypt, "rewrite a capture with encrypted PDMv2 options opened"},
    {"agent", cmd_agent, "add and read PDM options on any application's traffic (NFQUEUE)"},
    {"keygen", cmd_keygen, "make a static key pair for registration (prints KEM:HEX)"},
    {"pubkey", cmd_pubkey, "print the public key of a private key"},
    {"registrar", cmd_registrar, "serve PDMv2 registrations (key agreement over TCP)"},
    {"register", cmd_register, "register with a registrar: agree on a PDMv2 secret"},
    {"secret", cmd_secret, "derive, seal, open, import, list and expire stored secrets"},
    {"demo", cmd_demo, "the whole of openpdm between two namespaces, explained (root)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: pdm <command> [arguments]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n`pdm <command> --help` shows a command's arguments; see also pdm(8).\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("pdm %s\n", PDM_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    tool_err("unknown command '%s' (try 'pdm --help')", argv[1]);
    return 2;
}
