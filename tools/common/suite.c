/* Suites and modes (tools/common/suite.h). */
#include "suite.h"

#include "tools.h"

#include <pdm/profile.h>
#include <pdm/reg.h>

#include <stdio.h>
#include <string.h>

int tool_parse_suites(const char *list, struct pdm_hpke_suite *out, size_t cap, char *err,
                      size_t errlen)
{
    char buf[1024], *save = NULL, *tok;
    size_t n = 0;

    if (strlen(list) >= sizeof buf)
        return tool_fail(err, errlen, "suite list too long");
    strcpy(buf, list);
    for (tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        struct pdm_hpke_suite s;
        if (n == cap || n == PDM_REG_SUITES_MAX)
            return tool_fail(err, errlen, "too many suites (at most %d)", PDM_REG_SUITES_MAX);
        if (pdm_suite_parse(tok, &s) != 0)
            return tool_fail(err, errlen, "'%s': not a suite (want kem-kdf-aead ids, e.g. %s)", tok,
                             "0020-0001-0001");
        if (pdm_profile_suite_check(s) != 0)
            return tool_fail(err, errlen, "'%s': suite not supported for PDM data", tok);
        out[n++] = s;
    }
    if (n == 0)
        return tool_fail(err, errlen, "empty suite list");
    return (int)n;
}

size_t tool_default_suites(uint16_t kem, struct pdm_hpke_suite *out, size_t cap)
{
    static const struct pdm_hpke_suite all[] = {
        {PDM_HPKE_KEM_X25519_SHA256, PDM_HPKE_KDF_HKDF_SHA256, PDM_HPKE_AEAD_AES_128_GCM},
        {PDM_HPKE_KEM_X25519_SHA256, PDM_HPKE_KDF_HKDF_SHA256, PDM_HPKE_AEAD_CHACHA20POLY1305},
        {PDM_HPKE_KEM_X25519_SHA256, PDM_HPKE_KDF_HKDF_SHA256, PDM_HPKE_AEAD_AES_256_GCM},
        {PDM_HPKE_KEM_P256_SHA256, PDM_HPKE_KDF_HKDF_SHA256, PDM_HPKE_AEAD_AES_128_GCM},
        {PDM_HPKE_KEM_P256_SHA256, PDM_HPKE_KDF_HKDF_SHA256, PDM_HPKE_AEAD_CHACHA20POLY1305},
        {PDM_HPKE_KEM_P256_SHA256, PDM_HPKE_KDF_HKDF_SHA256, PDM_HPKE_AEAD_AES_256_GCM},
        {PDM_HPKE_KEM_P384_SHA384, PDM_HPKE_KDF_HKDF_SHA384, PDM_HPKE_AEAD_AES_256_GCM},
        {PDM_HPKE_KEM_P384_SHA384, PDM_HPKE_KDF_HKDF_SHA384, PDM_HPKE_AEAD_CHACHA20POLY1305},
        {PDM_HPKE_KEM_P384_SHA384, PDM_HPKE_KDF_HKDF_SHA384, PDM_HPKE_AEAD_AES_128_GCM},
        {PDM_HPKE_KEM_P521_SHA512, PDM_HPKE_KDF_HKDF_SHA512, PDM_HPKE_AEAD_AES_256_GCM},
        {PDM_HPKE_KEM_P521_SHA512, PDM_HPKE_KDF_HKDF_SHA512, PDM_HPKE_AEAD_CHACHA20POLY1305},
        {PDM_HPKE_KEM_P521_SHA512, PDM_HPKE_KDF_HKDF_SHA512, PDM_HPKE_AEAD_AES_128_GCM},
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0] && n < cap; i++)
        if (kem == 0 || all[i].kem_id == kem)
            out[n++] = all[i];
    return n;
}

void tool_format_suites(const struct pdm_hpke_suite *s, size_t n, char *out, size_t cap)
{
    size_t len = 0;
    if (cap)
        out[0] = 0;
    for (size_t i = 0; i < n && len + PDM_SUITE_TEXT_SIZE + 1 < cap; i++) {
        char t[PDM_SUITE_TEXT_SIZE];
        pdm_suite_format(s[i], t);
        len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? "," : "", t);
    }
}

int tool_parse_modes(const char *list, unsigned *modes)
{
    static const char *const names[] = {"base", "psk", "auth", "auth_psk"};
    char buf[128], *save = NULL, *tok;
    unsigned m = 0;

    if (strlen(list) >= sizeof buf)
        return -1;
    strcpy(buf, list);
    for (tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        unsigned i;
        for (i = 0; i < 4; i++)
            if (!strcmp(tok, names[i]) ||
                (i == 3 && (!strcmp(tok, "auth-psk") || !strcmp(tok, "authpsk"))))
                break;
        if (i == 4)
            return -1;
        m |= 1u << i;
    }
    if (!m)
        return -1;
    *modes = m;
    return 0;
}

struct pdm_hpke_suite tool_kem_suite(uint16_t kem)
{
    struct pdm_hpke_suite s = {kem, PDM_HPKE_KDF_HKDF_SHA256, PDM_HPKE_AEAD_AES_128_GCM};
    if (kem == PDM_HPKE_KEM_P384_SHA384) {
        s.kdf_id = PDM_HPKE_KDF_HKDF_SHA384;
        s.aead_id = PDM_HPKE_AEAD_AES_256_GCM;
    } else if (kem == PDM_HPKE_KEM_P521_SHA512) {
        s.kdf_id = PDM_HPKE_KDF_HKDF_SHA512;
        s.aead_id = PDM_HPKE_AEAD_AES_256_GCM;
    }
    return s;
}
