/*
 * pdm_hex_encode() / pdm_hex_decode(), the hex codec of secrets
 * (include/pdm/common.h): every byte value both ways and in both cases,
 * all 65536 character pairs against a reference, every character that is
 * not a digit at several positions of a longer input, odd lengths,
 * capacities, arguments. That decoding time does not depend on
 * the digits is a property of the construction (docs/crypto.md §9), not
 * something a timing test could show without being flaky.
 */
#include <pdm/common.h>

#include <ctype.h>

#include "harness.h"

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return 0;
    return 1;
}

/* The reference: what a hex digit is, spelled out. */
static int is_hex_digit(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static void test_every_byte(void)
{
    uint8_t all[256], back[256];
    char text[513], want[3];
    int bad_encode = 0, bad_decode = 0, bad_upper = 0;

    for (int v = 0; v < 256; v++) {
        uint8_t b = (uint8_t)v, got;
        char up[2];
        all[v] = b;
        /* Encoding one byte gives what printf's %02x gives. */
        snprintf(want, sizeof want, "%02x", v);
        if (pdm_hex_encode(text, sizeof text, &b, 1) != 2 || strcmp(text, want) != 0)
            bad_encode++;
        if (pdm_hex_decode(&got, 1, want, 2) != 1 || got != b)
            bad_decode++;
        /* Upper case, and each mix of cases, read the same. */
        up[0] = (char)toupper((unsigned char)want[0]);
        up[1] = (char)toupper((unsigned char)want[1]);
        if (pdm_hex_decode(&got, 1, up, 2) != 1 || got != b)
            bad_upper++;
        up[1] = want[1];
        if (pdm_hex_decode(&got, 1, up, 2) != 1 || got != b)
            bad_upper++;
    }
    CHECK_INT(bad_encode, 0);
    CHECK_INT(bad_decode, 0);
    CHECK_INT(bad_upper, 0);

    /* All 256 values in one run, there and back. */
    CHECK_INT(pdm_hex_encode(text, sizeof text, all, sizeof all), 512);
    CHECK_INT(strlen(text), 512);
    CHECK(strncmp(text, "000102", 6) == 0);
    CHECK(strcmp(text + 506, "fdfeff") == 0);
    memset(back, 0, sizeof back);
    CHECK_INT(pdm_hex_decode(back, sizeof back, text, 512), 256);
    CHECK_MEM(back, all, sizeof all);
}

static void test_known(void)
{
    static const uint8_t bytes[] = {0xde, 0xad, 0xbe, 0xef, 0x00, 0x7f, 0x80, 0x09, 0xa0};
    uint8_t out[16];
    char text[32];

    CHECK_INT(pdm_hex_encode(text, sizeof text, bytes, sizeof bytes), 18);
    CHECK(strcmp(text, "deadbeef007f8009a0") == 0);
    CHECK_INT(pdm_hex_decode(out, sizeof out, "DeadBEEF007F8009A0", 18), 9);
    CHECK_MEM(out, bytes, sizeof bytes);
    /* hexlen bounds what is read: no NUL needed, the rest ignored. */
    CHECK_INT(pdm_hex_decode(out, sizeof out, "0a0bzz", 4), 2);
    CHECK_INT(out[0], 0x0a);
    CHECK_INT(out[1], 0x0b);
    /* Empty both ways. */
    CHECK_INT(pdm_hex_encode(text, 1, bytes, 0), 0);
    CHECK_INT(text[0], '\0');
    CHECK_INT(pdm_hex_encode(text, 1, NULL, 0), 0);
    CHECK_INT(pdm_hex_decode(out, 0, "", 0), 0);
    CHECK_INT(pdm_hex_decode(NULL, 0, NULL, 0), 0);
}

/*
 * Every character that is not a hex digit (the 234 others of 0..255:
 * NUL and the controls, space, the neighbours of the digit ranges '/',
 * ':', '@', 'G', '`', 'g', and the 0x80.. half, where c | 0x20 must not
 * fold onto a letter), as the high and as the low digit of the first, the
 * middle and the last bytes: refused, out wiped.
 */
static void test_every_invalid_character(void)
{
    int refused = 0, accepted = 0, not_wiped = 0, wrong = 0;

    for (int c = 0; c < 256; c++) {
        for (size_t pos = 0; pos < 8; pos++) {
            char text[8];
            uint8_t out[4];
            int rv;
            memcpy(text, "1a2B3c4D", 8);
            text[pos] = (char)c;
            memset(out, 0xEE, sizeof out);
            rv = pdm_hex_decode(out, sizeof out, text, sizeof text);
            if (is_hex_digit(c)) {
                accepted += rv == 4;
                if (rv != 4)
                    wrong++;
                continue;
            }
            if (rv == PDM_ERR_MALFORMED)
                refused++;
            else
                wrong++;
            if (!all_zero(out, sizeof out))
                not_wiped++;
        }
    }
    CHECK_INT(refused, (256 - 22) * 8);
    CHECK_INT(accepted, 22 * 8);
    CHECK_INT(wrong, 0);
    CHECK_INT(not_wiped, 0);
}

/* All 65536 pairs of characters against the reference: the codec maps
 * each pair on its own, so this covers every input of one byte. */
static void test_every_pair(void)
{
    int wrong = 0;

    for (int a = 0; a < 256; a++) {
        for (int b = 0; b < 256; b++) {
            char text[2] = {(char)a, (char)b};
            uint8_t out = 0xEE;
            int rv = pdm_hex_decode(&out, 1, text, 2);
            if (is_hex_digit(a) && is_hex_digit(b)) {
                unsigned want;
                char z[3] = {(char)a, (char)b, 0};
                sscanf(z, "%2x", &want);
                wrong += rv != 1 || out != want;
            } else {
                wrong += rv != PDM_ERR_MALFORMED || out != 0;
            }
        }
    }
    CHECK_INT(wrong, 0);
}

static void test_lengths_and_arguments(void)
{
    uint8_t out[4], in[4] = {1, 2, 3, 4};
    char text[9];

    /* Odd lengths are malformed, whatever the digits. */
    for (size_t n = 1; n < 9; n += 2)
        CHECK_INT(pdm_hex_decode(out, sizeof out, "01234567", n), PDM_ERR_MALFORMED);
    /* Capacity: 4 bytes fit in 4, not in 3; nothing is written. */
    memset(out, 0xEE, sizeof out);
    CHECK_INT(pdm_hex_decode(out, 3, "01020304", 8), PDM_ERR_NOBUF);
    CHECK_INT(out[0], 0xEE);
    CHECK_INT(pdm_hex_decode(out, 4, "01020304", 8), 4);
    /* The length error comes before any digit is looked at. */
    CHECK_INT(pdm_hex_decode(out, 3, "zz020304", 8), PDM_ERR_NOBUF);
    CHECK_INT(pdm_hex_decode(out, 4, "zz02030", 7), PDM_ERR_MALFORMED);
    /* Encoding needs 2n + 1 bytes for the NUL; nothing is written short. */
    memset(text, 'Q', sizeof text);
    CHECK_INT(pdm_hex_encode(text, 8, in, 4), PDM_ERR_NOBUF);
    CHECK_INT(text[0], 'Q');
    CHECK_INT(pdm_hex_encode(text, 9, in, 4), 8);
    CHECK(strcmp(text, "01020304") == 0);
    CHECK_INT(pdm_hex_encode(text, 0, in, 0), PDM_ERR_NOBUF);
    /* Arguments. */
    CHECK_INT(pdm_hex_encode(NULL, 9, in, 4), PDM_ERR_INVAL);
    CHECK_INT(pdm_hex_encode(text, 9, NULL, 4), PDM_ERR_INVAL);
    CHECK_INT(pdm_hex_decode(NULL, 4, "01", 2), PDM_ERR_INVAL);
    CHECK_INT(pdm_hex_decode(out, 4, NULL, 2), PDM_ERR_INVAL);
    /* Sizes past the int result: refused before anything is touched. */
    CHECK_INT(pdm_hex_encode(text, sizeof text, in, (size_t)1 << 31), PDM_ERR_TOO_BIG);
    CHECK_INT(pdm_hex_decode(out, sizeof out, "01", (size_t)1 << 33), PDM_ERR_TOO_BIG);
}

int main(void)
{
    RUN(test_every_byte);
    RUN(test_known);
    RUN(test_every_invalid_character);
    RUN(test_every_pair);
    RUN(test_lengths_and_arguments);
    return harness_done();
}
