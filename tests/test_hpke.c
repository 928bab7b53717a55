/*
 * HPKE (RFC 9180) and the crypto backend (lib/crypto.h).
 *
 * Known answers: all 28 vectors of RFC 9180 Appendix A
 * (tests/vectors/hpke-rfc9180-appendix-a-vectors.json), plus two vectors for
 * DHKEM(P-384, HKDF-SHA384) / HKDF-SHA384 / AES-256-GCM, which Appendix A
 * lacks, computed by an independent Python implementation of RFC 9180 (on
 * pyca/cryptography for the curve and the AEAD). Also HKDF from RFC 5869
 * Appendix A and SHA-256 from FIPS 180-2. Then negative tests: forged
 * ciphertexts, invalid public keys, §5.1 input checks, sequence limits.
 */
#include "harness.h"
#include "vectors.h"

#include <pdm/hpke.h>

#include "crypto.h"

#define VECTORS "tests/vectors/hpke-rfc9180-appendix-a-vectors.json"

/* Large enough for every field of the vectors. */
#define BUF 512

static const struct pdm_hpke_suite x25519_suite = {
    PDM_HPKE_KEM_X25519_SHA256, PDM_HPKE_KDF_HKDF_SHA256, PDM_HPKE_AEAD_AES_128_GCM};

static uint16_t get_u16(const json_t *o, const char *key)
{
    uint64_t v = 0;
    if (vec_u64(o, key, &v) != 0 || v > 0xFFFF)
        return 0;
    return (uint16_t)v;
}

/* ------------------------------------------------------------------------ */
/* Known-answer vectors                                                     */

/* Advances sender and receiver together by one message (vectors skip
 * sequence numbers; the receiver must follow the sender). */
static int step(struct pdm_hpke_ctx *s, struct pdm_hpke_ctx *r)
{
    uint8_t ct[32], pt[32];
    const uint8_t msg[3] = {1, 2, 3};
    int n = pdm_hpke_ctx_seal(s, NULL, 0, msg, sizeof msg, ct, sizeof ct);

    return n == 19 && pdm_hpke_ctx_open(r, NULL, 0, ct, (size_t)n, pt, sizeof pt) == 3 &&
           memcmp(pt, msg, 3) == 0;
}

/* Runs one vector; returns 1 when every check in it passed. */
static int run_vector(const json_t *v)
{
    int failed_before = h_failed;
    struct pdm_hpke_suite suite = {get_u16(v, "kem_id"), get_u16(v, "kdf_id"),
                                   get_u16(v, "aead_id")};
    uint16_t mode = get_u16(v, "mode");
    int auth = mode == PDM_HPKE_MODE_AUTH || mode == PDM_HPKE_MODE_AUTH_PSK;
    uint8_t ikmE[BUF], ikmR[BUF], ikmS[BUF], info[BUF], psk[BUF], psk_id[BUF], enc_v[BUF];
    uint8_t buf[BUF], buf2[BUF], ss[BUF], ksc[BUF], secret[BUF];
    long ikmE_n, ikmR_n, ikmS_n = -1, info_n, psk_n, psk_id_n, enc_n;
    struct pdm_hpke_key skR, pkR, skS, pkS, skE;
    struct pdm_hpke_ctx cs, cr;
    struct pdm_hpke_sizes sz;
    struct pdm_hpke_params ps, pr;
    struct pdm_hpke_eph eph;
    const json_t *list;
    int n;

    memset(&cs, 0, sizeof cs);
    memset(&cr, 0, sizeof cr);
    CHECK_INT(pdm_hpke_suite_sizes(suite, &sz), 0);
    ikmE_n = get_hex(v, "ikmE", ikmE, sizeof ikmE);
    ikmR_n = get_hex(v, "ikmR", ikmR, sizeof ikmR);
    info_n = get_hex(v, "info", info, sizeof info);
    psk_n = get_hex(v, "psk", psk, sizeof psk);
    psk_id_n = get_hex(v, "psk_id", psk_id, sizeof psk_id);
    enc_n = get_hex(v, "enc", enc_v, sizeof enc_v);
    CHECK(ikmE_n > 0 && ikmR_n > 0 && info_n >= 0 && enc_n > 0);
    if (auth) {
        ikmS_n = get_hex(v, "ikmS", ikmS, sizeof ikmS);
        CHECK(ikmS_n > 0);
    }

    /* DeriveKeyPair (§7.1.3). */
    CHECK_INT(pdm_hpke_keygen(suite.kem_id, ikmR, ulen(ikmR_n), &skR), 0);
    CHECK_FIELD(v, "skRm", skR.sk, sz.nsk);
    CHECK_FIELD(v, "pkRm", skR.pk, sz.npk);
    CHECK_INT(pdm_hpke_keygen(suite.kem_id, ikmE, ulen(ikmE_n), &skE), 0);
    CHECK_FIELD(v, "skEm", skE.sk, sz.nsk);
    CHECK_FIELD(v, "pkEm", skE.pk, sz.npk);
    if (auth) {
        CHECK_INT(pdm_hpke_keygen(suite.kem_id, ikmS, ulen(ikmS_n), &skS), 0);
        CHECK_FIELD(v, "skSm", skS.sk, sz.nsk);
        CHECK_FIELD(v, "pkSm", skS.pk, sz.npk);
    }

    /* Serialization round trips: private (clamped for X25519) and public. */
    n = pdm_hpke_privkey_serialize(&skR, buf, sizeof buf);
    CHECK_INT(n, (long)sz.nsk);
    if (suite.kem_id == PDM_HPKE_KEM_X25519_SHA256) {
        /* §7.1.2: serialized X25519 keys are clamped (RFC 7748 §5). */
        uint8_t clamped[32];
        memcpy(clamped, skR.sk, 32);
        clamped[0] &= 248;
        clamped[31] = (uint8_t)((clamped[31] & 127) | 64);
        CHECK_MEM(buf, clamped, 32);
    } else {
        CHECK_MEM(buf, skR.sk, sz.nsk);
    }
    CHECK_INT(pdm_hpke_pubkey_from_priv(suite.kem_id, buf, sz.nsk, &pkR), 0);
    CHECK_MEM(pkR.pk, skR.pk, sz.npk);
    CHECK_INT(pdm_hpke_pubkey_deserialize(suite.kem_id, skR.pk, sz.npk, &pkR), 0);
    CHECK_INT(pkR.has_sk, 0);
    CHECK_INT(pdm_hpke_pubkey_serialize(&pkR, buf, sizeof buf), (long)sz.npk);
    CHECK_FIELD(v, "pkRm", buf, sz.npk);
    if (auth)
        CHECK_INT(pdm_hpke_pubkey_deserialize(suite.kem_id, skS.pk, sz.npk, &pkS), 0);

    /* Encap with the fixed ikmE, Decap (§4.1). */
    memset(&eph, 0, sizeof eph);
    eph.ikm = ikmE;
    eph.ikm_len = ulen(ikmE_n);
    CHECK_INT(pdm_hpke_encap(&pkR, auth ? &skS : NULL, &eph, buf, sizeof buf, ss, sizeof ss), 0);
    CHECK_FIELD(v, "enc", buf, sz.nenc);
    CHECK_FIELD(v, "shared_secret", ss, sz.nsecret);
    memset(ss, 0, sizeof ss);
    CHECK_INT(pdm_hpke_decap(&skR, auth ? &pkS : NULL, enc_v, ulen(enc_n), ss, sizeof ss), 0);
    CHECK_FIELD(v, "shared_secret", ss, sz.nsecret);

    /* The key schedule's intermediate values through the exported
     * LabeledExtract (§5.1). */
    ksc[0] = (uint8_t)mode;
    CHECK_INT(pdm_hpke_labeled_extract(suite, NULL, 0, "psk_id_hash", psk_id, ulen(psk_id_n),
                                       ksc + 1, sz.nh),
              0);
    CHECK_INT(pdm_hpke_labeled_extract(suite, NULL, 0, "info_hash", info, ulen(info_n),
                                       ksc + 1 + sz.nh, sz.nh),
              0);
    CHECK_FIELD(v, "key_schedule_context", ksc, 1 + 2 * sz.nh);
    CHECK_INT(
        pdm_hpke_labeled_extract(suite, ss, sz.nsecret, "secret", psk, ulen(psk_n), secret, sz.nh),
        0);
    CHECK_FIELD(v, "secret", secret, sz.nh);
    if (sz.nk != 0) {
        CHECK_INT(
            pdm_hpke_labeled_expand(suite, secret, sz.nh, "key", ksc, 1 + 2 * sz.nh, buf, sz.nk),
            0);
        CHECK_FIELD(v, "key", buf, sz.nk);
    }

    /* SetupS / SetupR. */
    memset(&ps, 0, sizeof ps);
    ps.suite = suite;
    ps.mode = (enum pdm_hpke_mode)mode;
    ps.info = info;
    ps.info_len = ulen(info_n);
    if (psk_n > 0) {
        ps.psk = psk;
        ps.psk_len = ulen(psk_n);
        ps.psk_id = psk_id;
        ps.psk_id_len = ulen(psk_id_n);
    }
    pr = ps;
    ps.sender = auth ? &skS : NULL;
    pr.sender = auth ? &pkS : NULL;
    CHECK_INT(pdm_hpke_setup_s(&cs, &ps, &pkR, &eph, buf, sizeof buf), (long)sz.nenc);
    CHECK_FIELD(v, "enc", buf, sz.nenc);
    CHECK_INT(pdm_hpke_setup_r(&cr, &pr, &skR, enc_v, ulen(enc_n)), 0);
    CHECK_FIELD(v, "key", cs.key, sz.nk);
    CHECK_FIELD(v, "base_nonce", cs.base_nonce, sz.nn);
    CHECK_FIELD(v, "exporter_secret", cs.exporter_secret, sz.nh);
    CHECK_FIELD(v, "key", cr.key, sz.nk);
    CHECK_FIELD(v, "base_nonce", cr.base_nonce, sz.nn);
    CHECK_FIELD(v, "exporter_secret", cr.exporter_secret, sz.nh);

    /* Every encryption, in sequence (§5.2). */
    list = json_object_get(v, "encryptions");
    if (suite.aead_id == PDM_HPKE_AEAD_EXPORT_ONLY) {
        CHECK(list == NULL);
        CHECK_INT(pdm_hpke_ctx_seal(&cs, NULL, 0, info, 4, buf, sizeof buf), PDM_ERR_UNSUPPORTED);
        CHECK_INT(pdm_hpke_ctx_open(&cr, NULL, 0, buf, 20, buf2, sizeof buf2), PDM_ERR_UNSUPPORTED);
    } else {
        CHECK(json_array_size(list) > 0);
    }
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *e = json_array_get(list, i);
        uint8_t pt[BUF], aad[BUF], ct[BUF];
        long pt_n = get_hex(e, "pt", pt, sizeof pt), aad_n = get_hex(e, "aad", aad, sizeof aad);
        long ct_n = get_hex(e, "ct", ct, sizeof ct);
        uint64_t seq = UINT64_MAX;

        CHECK(vec_u64(e, "sequence number", &seq) == 0 && seq >= cs.seq);
        CHECK(pt_n >= 0 && aad_n >= 0 && ct_n == pt_n + (long)sz.nt);
        int steps_ok = 1;
        for (int guard = 0; cs.seq < seq && guard < 1000; guard++)
            steps_ok &= step(&cs, &cr);
        CHECK(steps_ok && cs.seq == seq && cr.seq == seq);
        n = pdm_hpke_ctx_seal(&cs, aad, ulen(aad_n), pt, ulen(pt_n), buf, sizeof buf);
        CHECK_INT(n, ct_n);
        CHECK_MEM(buf, ct, ulen(ct_n));
        n = pdm_hpke_ctx_open(&cr, aad, ulen(aad_n), ct, ulen(ct_n), buf2, sizeof buf2);
        CHECK_INT(n, pt_n);
        CHECK_MEM(buf2, pt, ulen(pt_n));
        /* Single-shot Seal/Open (§6.1) give the first message. */
        if (seq == 0) {
            n = pdm_hpke_seal(&ps, &pkR, &eph, aad, ulen(aad_n), pt, ulen(pt_n), buf2, sizeof buf2,
                              buf, sizeof buf);
            CHECK_INT(n, ct_n);
            CHECK_MEM(buf, ct, ulen(ct_n));
            CHECK_MEM(buf2, enc_v, ulen(enc_n));
            n = pdm_hpke_open(&pr, &skR, enc_v, ulen(enc_n), aad, ulen(aad_n), ct, ulen(ct_n), buf2,
                              sizeof buf2);
            CHECK_INT(n, pt_n);
            CHECK_MEM(buf2, pt, ulen(pt_n));
        }
    }

    /* Every export (§5.3), on both sides. */
    list = json_object_get(v, "exports");
    CHECK(json_array_size(list) > 0);
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *e = json_array_get(list, i);
        uint8_t c[BUF];
        long c_n = get_hex(e, "exporter_context", c, sizeof c);
        uint64_t L = 0;

        CHECK(c_n >= 0 && vec_u64(e, "L", &L) == 0 && L > 0 && L <= sizeof buf);
        if (L == 0 || L > sizeof buf)
            continue;
        CHECK_INT(pdm_hpke_ctx_export(&cs, c, ulen(c_n), buf, (size_t)L), 0);
        CHECK_FIELD(e, "exported_value", buf, L);
        CHECK_INT(pdm_hpke_ctx_export(&cr, c, ulen(c_n), buf, (size_t)L), 0);
        CHECK_FIELD(e, "exported_value", buf, L);
        /* Single-shot (§6.2): SendExport with the fixed ikmE gives the same
         * enc and value; ReceiveExport from the vector's enc too. */
        uint8_t enc1[PDM_HPKE_NENC_MAX];
        memset(buf, 0, sizeof buf);
        CHECK_INT(
            pdm_hpke_send_export(&ps, &pkR, &eph, c, ulen(c_n), enc1, sizeof enc1, buf, (size_t)L),
            0);
        CHECK_FIELD(v, "enc", enc1, sz.nenc);
        CHECK_FIELD(e, "exported_value", buf, L);
        memset(buf, 0, sizeof buf);
        CHECK_INT(
            pdm_hpke_receive_export(&pr, &skR, enc_v, ulen(enc_n), c, ulen(c_n), buf, (size_t)L),
            0);
        CHECK_FIELD(e, "exported_value", buf, L);
    }
    /* An all-zero enc (not a valid public key, or a zero DH) fails ReceiveExport. */
    {
        uint8_t bad[PDM_HPKE_NENC_MAX] = {0};
        memset(buf, 0xAA, 32);
        CHECK(pdm_hpke_receive_export(&pr, &skR, bad, ulen(enc_n), NULL, 0, buf, 32) < 0);
    }

    pdm_hpke_ctx_free(&cs);
    pdm_hpke_ctx_free(&cr);
    CHECK(cs.actx == NULL && cs.role == 0 && cs.key[0] == 0);
    pdm_hpke_key_wipe(&skR);
    pdm_hpke_key_wipe(&skE);
    pdm_hpke_key_wipe(&skS);
    return h_failed == failed_before;
}

static void test_rfc9180_vectors(void)
{
    json_t *doc = vec_load(VECTORS);
    int passed = 0, kinds[4] = {0, 0, 0, 0};

    CHECK(doc != NULL);
    if (doc == NULL)
        return;
    CHECK_INT(json_array_size(doc), 28);
    for (size_t i = 0; i < json_array_size(doc); i++) {
        const json_t *v = json_array_get(doc, i);
        uint16_t mode = get_u16(v, "mode");
        if (run_vector(v))
            passed++;
        else
            fprintf(stderr, "vector %zu (%s, %s) failed\n", i, vec_str(v, "suite_name"),
                    vec_str(v, "mode_name"));
        if (mode < 4)
            kinds[mode]++;
    }
    printf("RFC 9180 vectors: %d/%zu passed (modes base %d, psk %d, auth %d, auth_psk %d)\n",
           passed, json_array_size(doc), kinds[0], kinds[1], kinds[2], kinds[3]);
    CHECK_INT(passed, 28);
    json_decref(doc);
}

/* DHKEM(P-384, HKDF-SHA384), HKDF-SHA384, AES-256-GCM; modes base and
 * auth_psk; generated by an independent implementation (see the top). */
static const char p384_vectors[] =
    "[{\"mode\":0,\"kem_id\":17,\"kdf_id\":2,\"aead_id\":2,\"info\":"
    "\"4f6465206f6e2061204772656369616e2055"
    "726e\",\"ikmE\":\"101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435"
    "363738393a3b3c3d3e3f\",\"ikmR\":\"404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d"
    "5e5f606162636465666768696a6b6c6d6e6f\",\"skEm\":\"07533659a577085dfcc27fe94ff34d69758c0a863f1e"
    "5cdcfad8862023b2febad12fcd7daefc9091c801fac030207964\",\"pkEm\":\"047286f352579d02eb3ebe7b9282"
    "e7281fdd38b19eee094cbbd4d5c050785a87d7fa0dfc436f5518aa43b4a6422ddf0b2c4038a71ec990b99ebdd7"
    "7117163bca83d0ac4f291d24ad129ef628f5bff6c49a73b7d9e6c0e8491c310e23685c7c5ed0\",\"skRm\":\"5fe3"
    "7f712eb61256e6372409c5aca8358250eb140e2e1b0fed4887dd5382ba7a0dbf71a8519ceda6440371d77b5e43"
    "c0\",\"pkRm\":\"044bbd504681d980e396cc357ca4f6c913424de13f8204f276c8fb816bfea313660c3aef6f1a96"
    "5acb8e0f4ba1892260716df16bcb2dc04d77739241d97f929c59b593bb1eb6c0304a5b9490b55f2d340a8d83fd"
    "c0630d22b93c72f4471478f390\",\"enc\":\"047286f352579d02eb3ebe7b9282e7281fdd38b19eee094cbbd4d5c"
    "050785a87d7fa0dfc436f5518aa43b4a6422ddf0b2c4038a71ec990b99ebdd77117163bca83d0ac4f291d24ad1"
    "29ef628f5bff6c49a73b7d9e6c0e8491c310e23685c7c5ed0\",\"shared_secret\":\"66a049dd6168ad51f64001"
    "cdc256dc59148dba80ec136b576f50fdd077238bfe577138627e6829ce6e4c893ab0498638\",\"key_schedule_"
    "context\":\"00cb6b6c22166837986129d57dd606893c6d38ce24b765e577f45d3c7259947d44ac499819e00b3d"
    "260abffeebb7e108c91d1b7f97b58c3c144a664adb27f4c6ce43743d82c37e8845aeb0a888cff34fd209953e77"
    "cd59160a96ce69a179a2ee90\",\"secret\":\"e791c34fbacad6a0b453f3df6b3aef459441d4d91f6fda9d969fb7"
    "de26a2d62d453de4e205b4a4d26249f98fefdd5f31\",\"key\":\"1a90f8c4c760474ba2f70bb4e65347f290dca39"
    "92323384b79759afd08aba63f\",\"base_nonce\":\"4d6d33671fe1da85a51515b0\",\"exporter_secret\":"
    "\"cf7b"
    "dad38f59ebecf2c376bd444bc7cf3418337fb77970b0d1e20603f353aaeab0ce386d04d49c712d8b2b678fd476"
    "dd\",\"encryptions\":[{\"sequence "
    "number\":0,\"pt\":\"4265617574792069732074727574682c207472757468"
    "20626561757479\",\"aad\":\"436f756e742d30\",\"nonce\":\"4d6d33671fe1da85a51515b0\",\"ct\":"
    "\"de0c783bd0"
    "6769e6aae7e5516bbff06be0b66ce11d12777ae6e3959ebd0227b42332820c2c15cb5ceb12e2b2ed\"},{\"seque"
    "nce "
    "number\":1,\"pt\":\"4265617574792069732074727574682c20747275746820626561757479\",\"aad\":\"436"
    "f756e742d31\",\"nonce\":\"4d6d33671fe1da85a51515b1\",\"ct\":"
    "\"645d74c50995ccae3f318cc4b81a626029a6"
    "d80750e9a11a84560822f0c230c9b0ea40204410e105317c754e75\"}],\"exports\":[{\"exporter_context\":"
    "\""
    "\",\"L\":32,\"exported_value\":"
    "\"826338496da912fabf63b5cd5af73341e4f15542c86933a1d00a9349684b3d2"
    "d\"},{\"exporter_context\":\"54657374436f6e74657874\",\"L\":100,\"exported_value\":"
    "\"a17cf86aac87184"
    "fc39a9a5f4311b6acbd510d33fcc9a7819e10214dc54f31c82944aae64ce8955f1b3052334aea62180db76df32"
    "56c4f7d57eba1f55320d1d70d0b3e69b1d35eeda0801cd5a5b4ac1ba06b32d74d2138b856ad0eff15a26c539f2"
    "3c1aa\"}]},{\"mode\":3,\"kem_id\":17,\"kdf_id\":2,\"aead_id\":2,\"info\":"
    "\"4f6465206f6e206120477265636"
    "9616e2055726e\",\"ikmE\":\"101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303"
    "132333435363738393a3b3c3d3e3f\",\"ikmR\":\"404142434445464748494a4b4c4d4e4f5051525354555657585"
    "95a5b5c5d5e5f606162636465666768696a6b6c6d6e6f\",\"skEm\":\"07533659a577085dfcc27fe94ff34d69758"
    "c0a863f1e5cdcfad8862023b2febad12fcd7daefc9091c801fac030207964\",\"pkEm\":\"047286f352579d02eb3"
    "ebe7b9282e7281fdd38b19eee094cbbd4d5c050785a87d7fa0dfc436f5518aa43b4a6422ddf0b2c4038a71ec99"
    "0b99ebdd77117163bca83d0ac4f291d24ad129ef628f5bff6c49a73b7d9e6c0e8491c310e23685c7c5ed0\",\"sk"
    "Rm\":\"5fe37f712eb61256e6372409c5aca8358250eb140e2e1b0fed4887dd5382ba7a0dbf71a8519ceda644037"
    "1d77b5e43c0\",\"pkRm\":\"044bbd504681d980e396cc357ca4f6c913424de13f8204f276c8fb816bfea313660c3"
    "aef6f1a965acb8e0f4ba1892260716df16bcb2dc04d77739241d97f929c59b593bb1eb6c0304a5b9490b55f2d3"
    "40a8d83fdc0630d22b93c72f4471478f390\",\"ikmS\":\"707172737475767778797a7b7c7d7e7f8081828384858"
    "68788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f\",\"skSm\":\"91e15cecce3a02d58cf7023eeb536"
    "f33bf5911634d9c4d55ff84d087882b0e6c3e07e56ef20f68480789a5b729b51644\",\"pkSm\":\"0490827fdd871"
    "4f9250b14451b4a13ac697fbcaed0dfea76050757b51ed6bed07411460591c55fd42a6dc091f31132b143a2ca9"
    "8a6f637a140391228579b5b496e10fcb97770c1ce908ad2c43a1804320b1220d89b89397b68487ab1b6ea9800e"
    "9\",\"enc\":\"047286f352579d02eb3ebe7b9282e7281fdd38b19eee094cbbd4d5c050785a87d7fa0dfc436f5518"
    "aa43b4a6422ddf0b2c4038a71ec990b99ebdd77117163bca83d0ac4f291d24ad129ef628f5bff6c49a73b7d9e6"
    "c0e8491c310e23685c7c5ed0\",\"shared_secret\":\"57ee78e615c0e0c6af929f2a4757c9967826081b41a70f3"
    "cb20f7595fff335fd5a05d915dcc2a24e6a919105803a12f4\",\"key_schedule_context\":\"03415dd9ae9a49d"
    "845cdad591cd2e60aaf4bf03e5768c1994398509e8261213e2031d007952bcd6eae17c4b9db3ca8a55f1d1b7f9"
    "7b58c3c144a664adb27f4c6ce43743d82c37e8845aeb0a888cff34fd209953e77cd59160a96ce69a179a2ee90\""
    ",\"secret\":\"fc222e09a5cd0a00ec7eb35c21de66cc6ad79f126d140a754f5f81a7bdaff130ebab18a1dd1c830"
    "18f43ee417257ca5e\",\"key\":\"2a687dbdb419108ae6e1bac69f485048b32c2945a41ae41b102726d0ca82e1d2"
    "\",\"base_nonce\":\"1789d85b0e82e60b478b52e8\",\"exporter_secret\":"
    "\"3dca5179b6c3e6da28d1cf155f4c2"
    "fc02ee83a8c051027b23ff4e9e4ae99360e4841c77787ce5f0420b3e258f1bc2c39\",\"encryptions\":[{\"sequ"
    "ence "
    "number\":0,\"pt\":\"4265617574792069732074727574682c20747275746820626561757479\",\"aad\":\"43"
    "6f756e742d30\",\"nonce\":\"1789d85b0e82e60b478b52e8\",\"ct\":"
    "\"2d5123870002e91b4f5a192ba9aefc92dab"
    "6327586692cdac66a26d72677d90a40b2b6adce1537ae2000ea2692\"},{\"sequence "
    "number\":1,\"pt\":\"42656"
    "17574792069732074727574682c20747275746820626561757479\",\"aad\":\"436f756e742d31\",\"nonce\":"
    "\"178"
    "9d85b0e82e60b478b52e9\",\"ct\":\"ae9a3ef4c705afeaaceb61eb52565cff0a98734fee675ec26b7467317a211"
    "f0a04c917cedd8780cbb95b8babf6\"}],\"exports\":[{\"exporter_context\":\"\",\"L\":32,\"exported_"
    "value\""
    ":\"a4e069cab85b3185da5b3689c3fcfdb298b6ae5eb52a3b45e2f99017ff2a96a8\"},{\"exporter_context\":"
    "\""
    "54657374436f6e74657874\",\"L\":100,\"exported_value\":"
    "\"ba1b3d102c6afe263525687869ad3168764a7bfa"
    "871691ad523f7712a7cf4f24b853563b0ec010e0f07bac8a180e301e8cac0e72e598f2d7c92672bf8126e48643"
    "a71f0b09f69bdd13a4dbf1ffb6f95b59277c31a35149718d74f0bb521b5d0363315faf\"}],\"psk\":\"0247fd33b"
    "913760fa1fa51e1892d9f307fbe65eb171e8132c2af18555a738b82\",\"psk_id\":\"456e6e796e20447572696e2"
    "06172616e204d6f726961\"}]";

static void test_p384_vectors(void)
{
    json_t *doc = vec_parse(p384_vectors, sizeof p384_vectors - 1);
    int passed = 0;

    CHECK(doc != NULL);
    if (doc == NULL)
        return;
    CHECK_INT(json_array_size(doc), 2);
    for (size_t i = 0; i < json_array_size(doc); i++)
        passed += run_vector(json_array_get(doc, i));
    printf("P-384 vectors: %d/%zu passed\n", passed, json_array_size(doc));
    CHECK_INT(passed, 2);
    json_decref(doc);
}

/* ------------------------------------------------------------------------ */
/* Backend primitives                                                       */

/* RFC 5869 A.1 and A.3 (HKDF-SHA256), ikm and info fed in several pieces. */
static void test_hkdf_rfc5869(void)
{
    const struct pdm_kdf_alg *kdf = pdm_kdf_find(PDM_HPKE_KDF_HKDF_SHA256);
    uint8_t ikm[22], salt[13], info[10], prk[32], okm[42], want[64];
    struct pdm_iov in[3], inf[2];

    CHECK(kdf != NULL && kdf->nh == 32);
    if (kdf == NULL)
        return;
    memset(ikm, 0x0b, sizeof ikm);
    for (int i = 0; i < 13; i++)
        salt[i] = (uint8_t)i;
    for (int i = 0; i < 10; i++)
        info[i] = (uint8_t)(0xf0 + i);
    in[0] = (struct pdm_iov){ikm, 5};
    in[1] = (struct pdm_iov){NULL, 0};
    in[2] = (struct pdm_iov){ikm + 5, 17};
    inf[0] = (struct pdm_iov){info, 3};
    inf[1] = (struct pdm_iov){info + 3, 7};
    CHECK_INT(kdf->extract(kdf, salt, sizeof salt, in, 3, prk), 0);
    h_unhex(want, sizeof want, "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5");
    CHECK_MEM(prk, want, 32);
    CHECK_INT(kdf->expand(kdf, prk, 32, inf, 2, okm, 42), 0);
    h_unhex(want, sizeof want,
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
    CHECK_MEM(okm, want, 42);

    /* A.3: empty salt (HashLen zeros) and empty info. */
    CHECK_INT(kdf->extract(kdf, NULL, 0, in, 3, prk), 0);
    h_unhex(want, sizeof want, "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04");
    CHECK_MEM(prk, want, 32);
    CHECK_INT(kdf->expand(kdf, prk, 32, NULL, 0, okm, 42), 0);
    h_unhex(want, sizeof want,
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
    CHECK_MEM(okm, want, 42);

    /* Output length bounds: 1 .. 255 * Nh. */
    CHECK_INT(kdf->expand(kdf, prk, 32, NULL, 0, okm, 0), PDM_ERR_INVAL);
    CHECK_INT(kdf->expand(kdf, prk, 32, NULL, 0, okm, 255 * 32 + 1), PDM_ERR_INVAL);
}

static void test_sha256(void)
{
    uint8_t out[PDM_SHA256_SIZE], want[32];
    struct pdm_iov in[2] = {{"a", 1}, {"bc", 2}};

    CHECK_INT(pdm_sha256(in, 2, out), 0);
    h_unhex(want, sizeof want, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK_MEM(out, want, 32);
    CHECK_INT(pdm_sha256(NULL, 0, out), 0);
    h_unhex(want, sizeof want, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK_MEM(out, want, 32);
}

static void test_lookup(void)
{
    CHECK(pdm_kem_find(0x0021) == NULL); /* X448: not supported */
    CHECK(pdm_kdf_find(0) == NULL && pdm_kdf_find(4) == NULL);
    CHECK(pdm_aead_find(0) == NULL && pdm_aead_find(4) == NULL);
    CHECK(pdm_kem_find(PDM_HPKE_KEM_P521_SHA512)->nsk == 66);
    CHECK(pdm_kem_find(PDM_HPKE_KEM_P521_SHA512)->kdf == pdm_kdf_find(3));
    CHECK(pdm_aead_find(PDM_HPKE_AEAD_EXPORT_ONLY)->seal == NULL);
    CHECK(pdm_aead_find(PDM_HPKE_AEAD_CHACHA20POLY1305)->nk == 32);
}

/* One AEAD context seals and opens many messages (the profile's use: 14-byte
 * pt, 6-byte aad), in place too; a forgery leaves no plaintext behind. */
static void test_aead_ctx(void)
{
    static const uint16_t ids[] = {PDM_HPKE_AEAD_AES_128_GCM, PDM_HPKE_AEAD_AES_256_GCM,
                                   PDM_HPKE_AEAD_CHACHA20POLY1305};

    for (size_t k = 0; k < sizeof ids / sizeof ids[0]; k++) {
        const struct pdm_aead_alg *a = pdm_aead_find(ids[k]);
        struct pdm_aead_ctx *ctx = NULL;
        uint8_t key[32], nonce[12], aad[6] = {0x0f, 0x22, 0x20, 0x00, 0x00, 0x03};
        uint8_t pt[14], ct[2][30], out[30];

        memset(key, 0x5a, sizeof key);
        memset(nonce, 0xa5, sizeof nonce);
        for (int i = 0; i < 14; i++)
            pt[i] = (uint8_t)i;
        CHECK_INT(a->ctx_new(a, key, &ctx), 0);
        if (ctx == NULL)
            continue;
        CHECK_INT(a->seal(ctx, nonce, aad, 6, pt, 14, ct[0]), 0);
        nonce[11] ^= 1;
        CHECK_INT(a->seal(ctx, nonce, aad, 6, pt, 14, ct[1]), 0);
        CHECK(memcmp(ct[0], ct[1], 30) != 0); /* the nonce changed */
        CHECK_INT(a->open(ctx, nonce, aad, 6, ct[1], 30, out), 0);
        CHECK_MEM(out, pt, 14);
        nonce[11] ^= 1;
        CHECK_INT(a->open(ctx, nonce, aad, 6, ct[0], 30, out), 0);
        CHECK_MEM(out, pt, 14);
        /* The same again, sealed in place. */
        memcpy(out, pt, 14);
        CHECK_INT(a->seal(ctx, nonce, aad, 6, out, 14, out), 0);
        CHECK_MEM(out, ct[0], 30);
        CHECK_INT(a->open(ctx, nonce, aad, 6, out, 30, out), 0);
        CHECK_MEM(out, pt, 14);
        /* Forgeries: wrong nonce, aad, ciphertext, tag. */
        memcpy(out, ct[0], 30);
        out[29] ^= 0x80;
        CHECK_INT(a->open(ctx, nonce, aad, 6, out, 30, out), PDM_ERR_AUTH);
        uint8_t acc = 0;
        for (int i = 0; i < 14; i++)
            acc |= out[i];
        CHECK(acc == 0); /* the would-be plaintext was wiped */
        aad[5] ^= 1;
        CHECK_INT(a->open(ctx, nonce, aad, 6, ct[0], 30, out), PDM_ERR_AUTH);
        aad[5] ^= 1;
        ct[0][0] ^= 1;
        CHECK_INT(a->open(ctx, nonce, aad, 6, ct[0], 30, out), PDM_ERR_AUTH);
        ct[0][0] ^= 1;
        CHECK_INT(a->open(ctx, nonce, aad, 6, ct[0], 15, out), PDM_ERR_AUTH);
        CHECK_INT(a->open(ctx, nonce, aad, 6, ct[0], 30, out), 0);
        a->ctx_free(ctx);
    }
}

/* ------------------------------------------------------------------------ */
/* Round trips over every suite, every mode                                 */

static int counter_rand(void *arg, uint8_t *out, size_t n)
{
    uint8_t *c = arg;
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(*c + i * 7);
    (*c)++;
    return 0;
}

static int failing_rand(void *arg, uint8_t *out, size_t n)
{
    (void)arg;
    (void)out;
    (void)n;
    return -1;
}

static void test_roundtrip_all(void)
{
    static const uint16_t kems[] = {PDM_HPKE_KEM_P256_SHA256, PDM_HPKE_KEM_P384_SHA384,
                                    PDM_HPKE_KEM_P521_SHA512, PDM_HPKE_KEM_X25519_SHA256};
    static const uint16_t aeads[] = {PDM_HPKE_AEAD_AES_128_GCM, PDM_HPKE_AEAD_AES_256_GCM,
                                     PDM_HPKE_AEAD_CHACHA20POLY1305, PDM_HPKE_AEAD_EXPORT_ONLY};
    uint8_t ikm[66], psk[32], enc[PDM_HPKE_NENC_MAX], ct[64], pt[64], e1[40], e2[40];
    uint8_t rnd = 1;
    int combos = 0, ok = 0;

    memset(psk, 0x33, sizeof psk);
    for (size_t k = 0; k < 4; k++) {
        struct pdm_hpke_key skR, skS, pkS;

        memset(ikm, (int)(0x10 + k), sizeof ikm);
        CHECK_INT(pdm_hpke_keygen(kems[k], ikm, sizeof ikm, &skR), 0);
        ikm[0] ^= 0xff;
        CHECK_INT(pdm_hpke_keygen(kems[k], ikm, sizeof ikm, &skS), 0);
        CHECK_INT(pdm_hpke_pubkey_deserialize(kems[k], skS.pk, pdm_kem_find(kems[k])->npk, &pkS),
                  0);
        for (size_t a = 0; a < 4; a++) {
            for (int mode = 0; mode < 4; mode++) {
                int before = h_failed;
                struct pdm_hpke_params p;
                struct pdm_hpke_ctx cs, cr;
                struct pdm_hpke_eph eph = {NULL, 0, counter_rand, &rnd};
                int nenc;

                memset(&p, 0, sizeof p);
                p.suite = (struct pdm_hpke_suite){kems[k], (uint16_t)(1 + (k + a) % 3), aeads[a]};
                p.mode = (enum pdm_hpke_mode)mode;
                p.info = (const uint8_t *)"info";
                p.info_len = 4;
                if (mode & 1) {
                    p.psk = psk;
                    p.psk_len = sizeof psk;
                    p.psk_id = (const uint8_t *)"id";
                    p.psk_id_len = 2;
                }
                p.sender = (mode & 2) ? &skS : NULL;
                nenc = pdm_hpke_setup_s(&cs, &p, &skR, &eph, enc, sizeof enc);
                CHECK_INT(nenc, (long)pdm_kem_find(kems[k])->nenc);
                p.sender = (mode & 2) ? &pkS : NULL;
                CHECK_INT(pdm_hpke_setup_r(&cr, &p, &skR, enc, nenc > 0 ? (size_t)nenc : 0), 0);
                for (int i = 0; aeads[a] != PDM_HPKE_AEAD_EXPORT_ONLY && i < 3; i++) {
                    CHECK_INT(
                        pdm_hpke_ctx_seal(&cs, enc, 3, (const uint8_t *)"hello", 5, ct, sizeof ct),
                        21);
                    CHECK_INT(pdm_hpke_ctx_open(&cr, enc, 3, ct, 21, pt, sizeof pt), 5);
                    CHECK_MEM(pt, "hello", 5);
                }
                CHECK_INT(pdm_hpke_ctx_export(&cs, (const uint8_t *)"x", 1, e1, sizeof e1), 0);
                CHECK_INT(pdm_hpke_ctx_export(&cr, (const uint8_t *)"x", 1, e2, sizeof e2), 0);
                CHECK_MEM(e1, e2, sizeof e1);
                pdm_hpke_ctx_free(&cs);
                pdm_hpke_ctx_free(&cr);
                combos++;
                ok += h_failed == before;
            }
        }
        pdm_hpke_key_wipe(&skR);
        pdm_hpke_key_wipe(&skS);
    }
    printf("round trips: %d/%d suite x mode combinations\n", ok, combos);
    CHECK_INT(ok, 64);
}

/* ------------------------------------------------------------------------ */
/* Negative tests                                                           */

/* Sets up a sender/receiver pair on suite (base mode, ikm fixed). */
static int pair(struct pdm_hpke_suite suite, struct pdm_hpke_key *skR, struct pdm_hpke_ctx *cs,
                struct pdm_hpke_ctx *cr)
{
    uint8_t ikm[66], enc[PDM_HPKE_NENC_MAX];
    struct pdm_hpke_params p;
    struct pdm_hpke_eph eph;
    int n;

    memset(ikm, 0x77, sizeof ikm);
    memset(&p, 0, sizeof p);
    memset(&eph, 0, sizeof eph);
    p.suite = suite;
    eph.ikm = ikm;
    eph.ikm_len = sizeof ikm;
    if (pdm_hpke_keygen(suite.kem_id, ikm + 1, sizeof ikm - 1, skR) != 0)
        return -1;
    if ((n = pdm_hpke_setup_s(cs, &p, skR, &eph, enc, sizeof enc)) < 0)
        return n;
    return pdm_hpke_setup_r(cr, &p, skR, enc, (size_t)n);
}

static void test_forgeries(void)
{
    struct pdm_hpke_key skR;
    struct pdm_hpke_ctx cs, cr;
    uint8_t aad[6] = "abcdef", pt[14] = "fourteen bytes", ct[30], bad[30], out[14];

    CHECK_INT(pair(x25519_suite, &skR, &cs, &cr), 0);
    CHECK_INT(pdm_hpke_ctx_seal(&cs, aad, 6, pt, 14, ct, sizeof ct), 30);
    /* ciphertext, tag, aad altered; a truncated ct; all leave seq at 0. */
    memcpy(bad, ct, 30);
    bad[3] ^= 0x01;
    CHECK_INT(pdm_hpke_ctx_open(&cr, aad, 6, bad, 30, out, sizeof out), PDM_ERR_AUTH);
    memcpy(bad, ct, 30);
    bad[29] ^= 0x40;
    CHECK_INT(pdm_hpke_ctx_open(&cr, aad, 6, bad, 30, out, sizeof out), PDM_ERR_AUTH);
    aad[0] ^= 0x20;
    CHECK_INT(pdm_hpke_ctx_open(&cr, aad, 6, ct, 30, out, sizeof out), PDM_ERR_AUTH);
    aad[0] ^= 0x20;
    CHECK_INT(pdm_hpke_ctx_open(&cr, aad, 5, ct, 30, out, sizeof out), PDM_ERR_AUTH);
    CHECK_INT(pdm_hpke_ctx_open(&cr, aad, 6, ct, 29, out, sizeof out), PDM_ERR_AUTH);
    CHECK_INT(pdm_hpke_ctx_open(&cr, aad, 6, ct, 15, out, sizeof out), PDM_ERR_AUTH);
    CHECK_INT(cr.seq, 0);
    /* Too small an output buffer: refused before anything happens. */
    CHECK_INT(pdm_hpke_ctx_open(&cr, aad, 6, ct, 30, out, 13), PDM_ERR_NOBUF);
    CHECK_INT(pdm_hpke_ctx_seal(&cs, aad, 6, pt, 14, bad, 29), PDM_ERR_NOBUF);
    CHECK_INT(cs.seq, 1);
    /* The genuine message still opens, once; replayed it fails (seq moved). */
    CHECK_INT(pdm_hpke_ctx_open(&cr, aad, 6, ct, 30, out, sizeof out), 14);
    CHECK_MEM(out, pt, 14);
    CHECK_INT(pdm_hpke_ctx_open(&cr, aad, 6, ct, 30, out, sizeof out), PDM_ERR_AUTH);
    /* Roles: a sender does not open, a receiver does not seal. */
    CHECK_INT(pdm_hpke_ctx_open(&cs, aad, 6, ct, 30, out, sizeof out), PDM_ERR_STATE);
    CHECK_INT(pdm_hpke_ctx_seal(&cr, aad, 6, pt, 14, bad, sizeof bad), PDM_ERR_STATE);
    /* Export bounds: 1 .. 255 * Nh. */
    {
        uint8_t big[255 * 32 + 1];
        CHECK_INT(pdm_hpke_ctx_export(&cs, NULL, 0, big, 0), PDM_ERR_INVAL);
        CHECK_INT(pdm_hpke_ctx_export(&cs, NULL, 0, big, 255 * 32), 0);
        CHECK_INT(pdm_hpke_ctx_export(&cs, NULL, 0, big, 255 * 32 + 1), PDM_ERR_INVAL);
    }
    pdm_hpke_ctx_free(&cs);
    pdm_hpke_ctx_free(&cr);
    CHECK_INT(pdm_hpke_ctx_seal(&cs, aad, 6, pt, 14, ct, sizeof ct), PDM_ERR_STATE);
    CHECK_INT(pdm_hpke_ctx_export(&cr, NULL, 0, out, 8), PDM_ERR_STATE);

    /* Single-shot Open of a forged message. */
    {
        struct pdm_hpke_params p;
        struct pdm_hpke_eph eph = {pt, 32, NULL, NULL};
        uint8_t m[64], enc[32], c[64];

        memset(&p, 0, sizeof p);
        p.suite = x25519_suite;
        memset(m, 0x11, sizeof m);
        eph.ikm = m;
        CHECK_INT(pdm_hpke_seal(&p, &skR, &eph, NULL, 0, pt, 14, enc, sizeof enc, c, sizeof c), 30);
        CHECK_INT(pdm_hpke_open(&p, &skR, enc, 32, NULL, 0, c, 30, out, sizeof out), 14);
        enc[7] ^= 4; /* another valid X25519 point: another key, so the tag fails */
        CHECK_INT(pdm_hpke_open(&p, &skR, enc, 32, NULL, 0, c, 30, out, sizeof out), PDM_ERR_AUTH);
    }
    pdm_hpke_key_wipe(&skR);
}

static void test_sequence_limit(void)
{
    struct pdm_hpke_key skR;
    struct pdm_hpke_ctx cs, cr;
    uint8_t pt[4] = {1, 2, 3, 4}, ct[20], out[4];

    CHECK_INT(pair(x25519_suite, &skR, &cs, &cr), 0);
    /* Jump both counters to the end (only a test may touch seq). */
    cs.seq = cr.seq = UINT64_MAX - 1;
    CHECK_INT(pdm_hpke_ctx_seal(&cs, NULL, 0, pt, 4, ct, sizeof ct), 20);
    CHECK(cs.seq == UINT64_MAX);
    CHECK_INT(pdm_hpke_ctx_open(&cr, NULL, 0, ct, 20, out, sizeof out), 4);
    CHECK_MEM(out, pt, 4);
    CHECK_INT(pdm_hpke_ctx_seal(&cs, NULL, 0, pt, 4, ct, sizeof ct), PDM_ERR_NONCE_REUSE);
    CHECK_INT(pdm_hpke_ctx_open(&cr, NULL, 0, ct, 20, out, sizeof out), PDM_ERR_NONCE_REUSE);
    CHECK(cs.seq == UINT64_MAX && cr.seq == UINT64_MAX);
    /* Export still works: it does not use the sequence. */
    CHECK_INT(pdm_hpke_ctx_export(&cs, NULL, 0, out, 4), 0);
    pdm_hpke_ctx_free(&cs);
    pdm_hpke_ctx_free(&cr);
    pdm_hpke_key_wipe(&skR);
}

/* Invalid public keys, as DeserializePublicKey input, as enc, as pkR. */
static void check_bad_pk(uint16_t kem_id, const uint8_t *pk, size_t len, const char *what)
{
    struct pdm_hpke_suite suite = {kem_id, PDM_HPKE_KDF_HKDF_SHA256, PDM_HPKE_AEAD_AES_128_GCM};
    struct pdm_hpke_key skR, pkR, key;
    struct pdm_hpke_params p;
    struct pdm_hpke_ctx ctx;
    uint8_t ikm[66], enc[PDM_HPKE_NENC_MAX], ss[64];
    struct pdm_hpke_eph eph = {ikm, sizeof ikm, NULL, NULL};
    int before = h_failed;

    memset(ikm, 0x42, sizeof ikm);
    memset(&p, 0, sizeof p);
    p.suite = suite;
    CHECK_INT(pdm_hpke_keygen(kem_id, ikm, sizeof ikm, &skR), 0);
    if (kem_id != PDM_HPKE_KEM_X25519_SHA256)
        CHECK_INT(pdm_hpke_pubkey_deserialize(kem_id, pk, len, &key), PDM_ERR_KEY);
    CHECK_INT(pdm_hpke_decap(&skR, NULL, pk, len, ss, sizeof ss), PDM_ERR_KEY);
    CHECK_INT(pdm_hpke_setup_r(&ctx, &p, &skR, pk, len), PDM_ERR_KEY);
    CHECK(ctx.role == 0 && ctx.actx == NULL);
    /* A sender given such a key (built by hand, unvalidated) refuses it too
     * (a key struct has no length: only same-length cases apply). */
    if (len == pdm_kem_find(kem_id)->npk) {
        pkR = skR;
        pkR.has_sk = 0;
        memset(pkR.pk, 0, sizeof pkR.pk);
        memcpy(pkR.pk, pk, len);
        CHECK_INT(pdm_hpke_setup_s(&ctx, &p, &pkR, &eph, enc, sizeof enc), PDM_ERR_KEY);
        CHECK(ctx.role == 0 && ctx.actx == NULL);
    }
    pdm_hpke_key_wipe(&skR);
    if (h_failed != before)
        fprintf(stderr, "  (bad key case: %s)\n", what);
}

static void test_invalid_public_keys(void)
{
    static const char *const x25519_low_order[] = {
        "0000000000000000000000000000000000000000000000000000000000000000", /* 0 */
        "0100000000000000000000000000000000000000000000000000000000000000", /* 1 */
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800", /* order 8 */
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157", /* order 8 */
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", /* p - 1 */
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", /* p */
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", /* p + 1 */
    };
    static const uint16_t curves[] = {PDM_HPKE_KEM_P256_SHA256, PDM_HPKE_KEM_P384_SHA384,
                                      PDM_HPKE_KEM_P521_SHA512};
    uint8_t pk[PDM_HPKE_NPK_MAX + 2], ikm[66];
    struct pdm_hpke_key key;

    /* X25519: low-order points give an all-zero DH; wrong lengths. */
    for (size_t i = 0; i < sizeof x25519_low_order / sizeof x25519_low_order[0]; i++) {
        h_unhex(pk, sizeof pk, x25519_low_order[i]);
        check_bad_pk(PDM_HPKE_KEM_X25519_SHA256, pk, 32, x25519_low_order[i]);
    }
    memset(pk, 9, sizeof pk);
    check_bad_pk(PDM_HPKE_KEM_X25519_SHA256, pk, 31, "X25519 31 bytes");
    check_bad_pk(PDM_HPKE_KEM_X25519_SHA256, pk, 33, "X25519 33 bytes");
    CHECK_INT(pdm_hpke_pubkey_deserialize(PDM_HPKE_KEM_X25519_SHA256, pk, 31, &key), PDM_ERR_KEY);
    CHECK_INT(pdm_hpke_pubkey_deserialize(PDM_HPKE_KEM_X25519_SHA256, pk, 32, &key), 0);

    memset(ikm, 0x24, sizeof ikm);
    for (size_t c = 0; c < 3; c++) {
        const struct pdm_kem_alg *kem = pdm_kem_find(curves[c]);
        size_t npk = kem->npk, half = (npk - 1) / 2;
        struct pdm_hpke_key good;

        CHECK_INT(pdm_hpke_keygen(curves[c], ikm, sizeof ikm, &good), 0);
        CHECK_INT(pdm_hpke_pubkey_deserialize(curves[c], good.pk, npk, &key), 0);
        /* Off the curve: Y changed. */
        memcpy(pk, good.pk, npk);
        pk[npk - 1] ^= 0x01;
        check_bad_pk(curves[c], pk, npk, "off-curve");
        /* Compressed and hybrid prefixes, a bad prefix, the identity. */
        memcpy(pk, good.pk, npk);
        pk[0] = 0x02;
        check_bad_pk(curves[c], pk, 1 + half, "compressed form");
        check_bad_pk(curves[c], pk, npk, "prefix 02 with full length");
        pk[0] = 0x06 | (pk[npk - 1] & 1);
        check_bad_pk(curves[c], pk, npk, "hybrid prefix");
        pk[0] = 0x05;
        check_bad_pk(curves[c], pk, npk, "prefix 05");
        pk[0] = 0x00;
        check_bad_pk(curves[c], pk, 1, "identity (00)");
        memset(pk, 0, npk);
        check_bad_pk(curves[c], pk, npk, "all zeros");
        pk[0] = 0x04;
        check_bad_pk(curves[c], pk, npk, "04 || 0 || 0");
        /* Coordinates >= p (all ones is above p for each curve). */
        memcpy(pk, good.pk, npk);
        memset(pk + 1, 0xff, half);
        check_bad_pk(curves[c], pk, npk, "X >= p");
        /* Wrong lengths. */
        memcpy(pk, good.pk, npk);
        check_bad_pk(curves[c], pk, npk - 1, "one byte short");
        check_bad_pk(curves[c], pk, npk + 1, "one byte long");
        pdm_hpke_key_wipe(&good);
    }
}

/* Private scalars: range checks on the P-curves, clamping for X25519. */
static void test_private_keys(void)
{
    uint8_t sk[66], out[66], want[32];
    struct pdm_hpke_key key;

    /* P-256: 0 and n are refused, n - 1 gives -G (same X as G). */
    memset(sk, 0, 32);
    CHECK_INT(pdm_hpke_pubkey_from_priv(PDM_HPKE_KEM_P256_SHA256, sk, 32, &key), PDM_ERR_KEY);
    CHECK_INT(key.has_sk, 0);
    h_unhex(sk, sizeof sk, "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
    CHECK_INT(pdm_hpke_pubkey_from_priv(PDM_HPKE_KEM_P256_SHA256, sk, 32, &key), PDM_ERR_KEY);
    sk[31] = 0x50;
    CHECK_INT(pdm_hpke_pubkey_from_priv(PDM_HPKE_KEM_P256_SHA256, sk, 32, &key), 0);
    h_unhex(want, sizeof want, "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296");
    CHECK(key.pk[0] == 0x04);
    CHECK_MEM(key.pk + 1, want, 32);
    CHECK_INT(pdm_hpke_pubkey_from_priv(PDM_HPKE_KEM_P256_SHA256, sk, 31, &key), PDM_ERR_INVAL);
    /* P-521: a 66-byte scalar with high bits set is >= n. */
    memset(sk, 0xff, 66);
    CHECK_INT(pdm_hpke_pubkey_from_priv(PDM_HPKE_KEM_P521_SHA512, sk, 66, &key), PDM_ERR_KEY);

    /* X25519: SerializePrivateKey clamps; Deserialize(clamped) keeps pk. */
    memset(sk, 0xff, 32);
    CHECK_INT(pdm_hpke_pubkey_from_priv(PDM_HPKE_KEM_X25519_SHA256, sk, 32, &key), 0);
    CHECK_INT(pdm_hpke_privkey_serialize(&key, out, sizeof out), 32);
    CHECK(out[0] == 0xf8 && out[31] == 0x7f && out[15] == 0xff);
    CHECK_INT(pdm_hpke_privkey_serialize(&key, out, 31), PDM_ERR_NOBUF);
    key.has_sk = 0;
    CHECK_INT(pdm_hpke_privkey_serialize(&key, out, sizeof out), PDM_ERR_INVAL);
    pdm_hpke_key_wipe(&key);

    /* DeriveKeyPair needs Nsk bytes of ikm. */
    memset(sk, 1, sizeof sk);
    CHECK_INT(pdm_hpke_keygen(PDM_HPKE_KEM_X25519_SHA256, sk, 31, &key), PDM_ERR_INVAL);
    CHECK_INT(pdm_hpke_keygen(PDM_HPKE_KEM_P521_SHA512, sk, 65, &key), PDM_ERR_INVAL);
    CHECK_INT(pdm_hpke_keygen(0x0021, sk, 66, &key), PDM_ERR_UNSUPPORTED);
    CHECK_INT(pdm_hpke_keygen(PDM_HPKE_KEM_X25519_SHA256, NULL, 32, &key), PDM_ERR_INVAL);
}

/* §5.1 VerifyPSKInputs and the sender key against the mode. */
static void test_setup_inputs(void)
{
    struct pdm_hpke_key skR, skS, pkS, other;
    struct pdm_hpke_params p;
    struct pdm_hpke_ctx ctx;
    uint8_t ikm[66], psk[40], enc[PDM_HPKE_NENC_MAX];
    struct pdm_hpke_eph eph = {ikm, 32, NULL, NULL};
    uint8_t rnd = 9;

    memset(ikm, 3, sizeof ikm);
    memset(psk, 4, sizeof psk);
    CHECK_INT(pdm_hpke_keygen(PDM_HPKE_KEM_X25519_SHA256, ikm, 32, &skR), 0);
    ikm[0] = 4;
    CHECK_INT(pdm_hpke_keygen(PDM_HPKE_KEM_X25519_SHA256, ikm, 32, &skS), 0);
    CHECK_INT(pdm_hpke_pubkey_deserialize(PDM_HPKE_KEM_X25519_SHA256, skS.pk, 32, &pkS), 0);
    CHECK_INT(pdm_hpke_keygen(PDM_HPKE_KEM_P256_SHA256, ikm, 32, &other), 0);

#define SETUP_S() pdm_hpke_setup_s(&ctx, &p, &skR, &eph, enc, sizeof enc)
    memset(&p, 0, sizeof p);
    p.suite = x25519_suite;
    CHECK_INT(SETUP_S(), 32);
    pdm_hpke_ctx_free(&ctx);

    /* psk mode without psk, without psk_id, with neither. */
    p.mode = PDM_HPKE_MODE_PSK;
    CHECK_INT(SETUP_S(), PDM_ERR_INVAL);
    CHECK(ctx.role == 0);
    p.psk_id = (const uint8_t *)"id";
    p.psk_id_len = 2;
    CHECK_INT(SETUP_S(), PDM_ERR_INVAL);
    p.psk = psk;
    p.psk_len = 32;
    CHECK_INT(SETUP_S(), 32);
    pdm_hpke_ctx_free(&ctx);
    p.psk_id_len = 0;
    CHECK_INT(SETUP_S(), PDM_ERR_INVAL);
    p.psk_id_len = 2;
    p.psk_len = 31; /* shorter than §9.5's 32 bytes */
    CHECK_INT(SETUP_S(), PDM_ERR_INVAL);
    p.psk_len = 32;
    /* base and auth modes given a psk. */
    p.mode = PDM_HPKE_MODE_BASE;
    CHECK_INT(SETUP_S(), PDM_ERR_INVAL);
    p.mode = PDM_HPKE_MODE_AUTH;
    p.sender = &skS;
    CHECK_INT(SETUP_S(), PDM_ERR_INVAL);
    p.psk = NULL;
    p.psk_len = 0;
    p.psk_id = NULL;
    p.psk_id_len = 0;
    CHECK_INT(SETUP_S(), 32);
    pdm_hpke_ctx_free(&ctx);
    /* auth without a sender key, with a public-only one, another KEM's. */
    p.sender = NULL;
    CHECK_INT(SETUP_S(), PDM_ERR_INVAL);
    p.sender = &pkS;
    CHECK_INT(SETUP_S(), PDM_ERR_INVAL);
    p.sender = &other;
    CHECK_INT(SETUP_S(), PDM_ERR_INVAL);
    /* base with a sender key; an unknown mode. */
    p.mode = PDM_HPKE_MODE_BASE;
    p.sender = &skS;
    CHECK_INT(SETUP_S(), PDM_ERR_INVAL);
    p.sender = NULL;
    p.mode = (enum pdm_hpke_mode)4;
    CHECK_INT(SETUP_S(), PDM_ERR_INVAL);
    p.mode = PDM_HPKE_MODE_BASE;
    /* Receiver side: psk mode without psk; receiver key without sk. */
    p.mode = PDM_HPKE_MODE_PSK;
    CHECK_INT(pdm_hpke_setup_r(&ctx, &p, &skR, skS.pk, 32), PDM_ERR_INVAL);
    p.mode = PDM_HPKE_MODE_BASE;
    CHECK_INT(pdm_hpke_setup_r(&ctx, &p, &pkS, skS.pk, 32), PDM_ERR_INVAL);
    CHECK_INT(pdm_hpke_setup_r(&ctx, &p, &other, skS.pk, 32), PDM_ERR_INVAL);
    /* Unknown ids. */
    p.suite.aead_id = 4;
    CHECK_INT(SETUP_S(), PDM_ERR_UNSUPPORTED);
    p.suite = x25519_suite;
    p.suite.kdf_id = 0;
    CHECK_INT(SETUP_S(), PDM_ERR_UNSUPPORTED);
    p.suite = x25519_suite;
    p.suite.kem_id = 0x0021;
    CHECK_INT(SETUP_S(), PDM_ERR_UNSUPPORTED);
    CHECK_INT(pdm_hpke_labeled_extract(p.suite, NULL, 0, "x", NULL, 0, enc, 32), 0);
    p.suite.kdf_id = 9;
    CHECK_INT(pdm_hpke_labeled_extract(p.suite, NULL, 0, "x", NULL, 0, enc, 32),
              PDM_ERR_UNSUPPORTED);
    p.suite = x25519_suite;
    CHECK_INT(pdm_hpke_labeled_extract(p.suite, NULL, 0, "x", NULL, 0, enc, 31), PDM_ERR_INVAL);
    /* Ephemeral source: too short an ikm, none at all, a failing RNG, an RNG. */
    eph.ikm_len = 31;
    CHECK_INT(SETUP_S(), PDM_ERR_INVAL);
    eph.ikm = NULL;
    CHECK_INT(SETUP_S(), PDM_ERR_INVAL);
    eph.rand = failing_rand;
    CHECK_INT(SETUP_S(), PDM_ERR_CRYPTO);
    eph.rand = counter_rand;
    eph.rand_arg = &rnd;
    CHECK_INT(SETUP_S(), 32);
    CHECK_INT(rnd, 10);
    pdm_hpke_ctx_free(&ctx);
    /* Output buffers. */
    CHECK_INT(pdm_hpke_setup_s(&ctx, &p, &skR, &eph, enc, 31), PDM_ERR_NOBUF);
    CHECK_INT(pdm_hpke_setup_s(NULL, &p, &skR, &eph, enc, 32), PDM_ERR_INVAL);
#undef SETUP_S
    pdm_hpke_key_wipe(&skR);
    pdm_hpke_key_wipe(&skS);
    pdm_hpke_key_wipe(&other);
}

int main(void)
{
    RUN(test_hkdf_rfc5869);
    RUN(test_sha256);
    RUN(test_lookup);
    RUN(test_aead_ctx);
    RUN(test_rfc9180_vectors);
    RUN(test_p384_vectors);
    RUN(test_roundtrip_all);
    RUN(test_forgeries);
    RUN(test_sequence_limit);
    RUN(test_invalid_public_keys);
    RUN(test_private_keys);
    RUN(test_setup_inputs);
    return harness_done();
}
