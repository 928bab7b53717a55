/*
 * libFuzzer target for opening encrypted PDMv2 options (lib/profile.c):
 * arbitrary bytes of any length through pdm_option_decode(),
 * pdm_profile_open() under a fixed key, and a receiver's
 * pdm_profile_rx_open() (which also tries the previous Kri and the window
 * ahead). The key is the one of vector options[0] of
 * tests/vectors/pdmv2-profile-vectors.json (X25519 / HKDF-SHA256 /
 * AES-128-GCM, Kri 29057).
 *
 * Besides "no crash, no leak, no undefined behaviour" it checks:
 * - nothing opens except the genuine vector option (the first 36 bytes of
 *   the input equal it; trailing bytes are not the option's): anything
 *   else opening would be a forgery;
 * - a failed open leaves its output all zeros, and the receiver's Kri
 *   never moves on a failure;
 * - round trip: the first 16 bytes taken as RN and fields seal under the
 *   key and open back to the same fields, and the same option with one bit
 *   flipped (which bit: from the input) does not open.
 *
 * Seeds in fuzz/corpus/open/: the 12 vector options (only the first opens
 * under this key), that option truncated, with trailing bytes, with a
 * flipped tag bit, RN 0, an unencrypted option and an empty input.
 */
#include <pdm/codec.h>
#include <pdm/profile.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Vector options[0]. */
static const uint8_t shared_secret[32] = {
    0x8d, 0x3b, 0x58, 0x3b, 0xad, 0x38, 0xc2, 0x75, 0xf3, 0x4a, 0xed, 0x05, 0x6a, 0xd6, 0xea, 0x8e,
    0xec, 0xa4, 0x19, 0x2f, 0xa1, 0xfe, 0xb9, 0xdc, 0x4b, 0x1e, 0xbe, 0x55, 0xe5, 0xb8, 0xf9, 0xb6};
static const uint8_t salt[32] = {0x80, 0xef, 0xf7, 0x6c, 0x81, 0xd4, 0xe9, 0xab, 0x30, 0x4d, 0x48,
                                 0x96, 0xf9, 0xe1, 0x7f, 0xd8, 0xf0, 0x81, 0x64, 0x96, 0xda, 0x08,
                                 0x7a, 0x3e, 0xbe, 0xcc, 0x67, 0x6a, 0xaa, 0x2c, 0x5d, 0x8c};
/* fe80::f11a:e651:705:6a6 port 47570 -> fe80::2f0:e161:af37:f86c port 1904, UDP */
static const uint8_t src[16] = {0xfe, 0x80, 0,    0,    0,    0,    0,    0,
                                0xf1, 0x1a, 0xe6, 0x51, 0x07, 0x05, 0x06, 0xa6};
static const uint8_t dst[16] = {0xfe, 0x80, 0,    0,    0,    0,    0,    0,
                                0x02, 0xf0, 0xe1, 0x61, 0xaf, 0x37, 0xf8, 0x6c};
#define KRI 29057
static const uint8_t genuine[PDM_OPTSIZE_V2_ENC] = {
    0x0f, 0x22, 0x20, 0x00, 0xff, 0xff, 0x6c, 0x2d, 0x3f, 0x19, 0x7a, 0x4c,
    0xfa, 0xaa, 0xa0, 0x4a, 0x30, 0x5b, 0x4c, 0x3b, 0x74, 0x01, 0x14, 0xef,
    0xf8, 0x04, 0x5a, 0x49, 0x56, 0xf4, 0x4a, 0xaf, 0xbb, 0x27, 0x0e, 0x38};

static struct pdm_profile_secret secret;
static struct pdm_flow_tuple tuple;
static struct pdm_profile_key key;
static struct pdm_profile_rx rx;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct pdm_hpke_suite suite = PDM_PROFILE_SUITE_DEFAULT;
    struct pdm_option o;

    (void)argc;
    (void)argv;
    memcpy(tuple.src, src, 16);
    memcpy(tuple.dst, dst, 16);
    tuple.sport = 47570;
    tuple.dport = 1904;
    tuple.proto = 17;
    if (pdm_profile_secret_init(&secret, suite, salt, sizeof salt, shared_secret,
                                sizeof shared_secret) != 0 ||
        pdm_profile_key_init(&key, &secret, &tuple, KRI) != 0)
        abort();
    pdm_profile_rx_init(&rx, KRI);
    /* The key is the vector's: the genuine option opens, to its fields. */
    if (pdm_profile_open(&key, genuine, sizeof genuine, PDM_OPT_TYPE, &o) != PDM_OPTSIZE_V2_ENC ||
        o.fields.psntp != 57535)
        abort();
    return 0;
}

static int all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return 0;
    return 1;
}

static int fields_equal(const struct pdm_fields *a, const struct pdm_fields *b)
{
    return a->scale_dtlr == b->scale_dtlr && a->scale_dtls == b->scale_dtls &&
           a->global_pointer == b->global_pointer && a->psntp == b->psntp && a->psnlr == b->psnlr &&
           a->delta_tlr == b->delta_tlr && a->delta_tls == b->delta_tls;
}

static int is_genuine(const uint8_t *data, size_t size)
{
    return size >= sizeof genuine && memcmp(data, genuine, sizeof genuine) == 0;
}

/* One open attempt: success only for the genuine option; failure leaves
 * nothing behind. */
static void try_open(const uint8_t *data, size_t size, uint8_t type)
{
    struct pdm_option o;
    uint16_t kri = 0;
    int rv;

    memset(&o, 0xA5, sizeof o);
    rv = pdm_profile_open(&key, data, size, type, &o);
    if (rv >= 0 && (rv != PDM_OPTSIZE_V2_ENC || !is_genuine(data, size)))
        abort();
    if (rv < 0 && !all_zero(&o, sizeof o))
        abort();

    memset(&o, 0xA5, sizeof o);
    rv = pdm_profile_rx_open(&rx, &secret, &tuple, data, size, type, &o, &kri);
    if (rv >= 0 && (rv != PDM_OPTSIZE_V2_ENC || !is_genuine(data, size) || kri != KRI))
        abort();
    if (rv < 0 && !all_zero(&o, sizeof o))
        abort();
    if (rx.kri != KRI)
        abort();
    /* Every failure is a documented one. */
    if (rv < 0 && rv != PDM_ERR_AUTH && rv != PDM_ERR_TRUNCATED && rv != PDM_ERR_OPT_TYPE &&
        rv != PDM_ERR_OPT_LENGTH && rv != PDM_ERR_OPT_VERSION && rv != PDM_ERR_OPT_RN)
        abort();
}

/* Seal the input's RN and fields, open them back, then a one-bit change. */
static void round_trip(const uint8_t *data, size_t size)
{
    uint8_t opt[PDM_OPTSIZE_V2_ENC];
    struct pdm_fields f;
    struct pdm_option o;
    uint16_t rn;
    size_t bit;

    if (size < 2 + PDM_V2_PT_SIZE)
        return;
    rn = (uint16_t)((data[0] << 8 | data[1]) & PDM_RN_MAX);
    if (rn == 0)
        rn = 1;
    pdm_fields_unpack(&f, data + 2);
    if (pdm_profile_seal(&key, PDM_OPT_TYPE, rn, &f, opt, sizeof opt) != PDM_OPTSIZE_V2_ENC)
        abort();
    if (pdm_profile_open(&key, opt, sizeof opt, PDM_OPT_TYPE, &o) != PDM_OPTSIZE_V2_ENC ||
        o.rn != rn || o.f != (KRI & 1) || !fields_equal(&o.fields, &f))
        abort();
    bit = size > 16 ? data[16] % (8 * sizeof opt) : 0;
    opt[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
    if (pdm_profile_open(&key, opt, sizeof opt, PDM_OPT_TYPE, &o) >= 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pdm_option o;

    (void)pdm_option_decode(&o, data, size, PDM_OPT_TYPE);
    try_open(data, size, PDM_OPT_TYPE);
    /* Any option type: the type is part of the tag's AAD. */
    if (size > 0 && data[0] != PDM_OPT_TYPE)
        try_open(data, size, data[0]);
    round_trip(data, size);
    return 0;
}
