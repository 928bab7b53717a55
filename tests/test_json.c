/* Tests for the tools' JSON reader (tools/common/json.c). */
#include "harness.h"

#include "common/json.h"

static struct json *parse(const char *s)
{
    char err[128];
    return json_parse(s, strlen(s), err, sizeof err);
}

static void test_values(void)
{
    struct json *j =
        parse(" {\"a\": [1, -2.5e3, true, false, null], \"b\": \"x\\u00e9\\ud83d\\ude00\\n\","
              " \"big\": 340282366920938463463374607431768211455, \"e\": {}, \"z\": []} ");
    CHECK(j != NULL);
    if (!j)
        return;
    CHECK_INT(json_type(j), JSON_OBJ);
    CHECK_INT(json_len(j), 5);
    const struct json *a = json_get(j, "a");
    CHECK_INT(json_len(a), 5);
    uint64_t v = 0;
    CHECK_INT(json_u64(json_at(a, 0), &v), 0);
    CHECK_INT(v, 1);
    CHECK_INT(json_u64(json_at(a, 1), &v), -1); /* negative, fractional */
    CHECK(strcmp(json_num_text(json_at(a, 1)), "-2.5e3") == 0);
    CHECK_INT(json_bool(json_at(a, 2)), 1);
    CHECK_INT(json_bool(json_at(a, 3)), 0);
    CHECK_INT(json_type(json_at(a, 4)), JSON_NULL);
    CHECK(json_at(a, 5) == NULL);
    CHECK(strcmp(json_str(json_get(j, "b")), "x\xc3\xa9\xf0\x9f\x98\x80\n") == 0);
    CHECK_INT(json_str_len(json_get(j, "b")), 8);
    CHECK_INT(json_u64(json_get(j, "big"), &v), -1); /* does not fit in 64 bits */
    CHECK(strcmp(json_num_text(json_get(j, "big")), "340282366920938463463374607431768211455") ==
          0);
    CHECK_INT(json_len(json_get(j, "e")), 0);
    CHECK(strcmp(json_key_at(j, 4), "z") == 0);
    CHECK(json_get(j, "missing") == NULL);
    CHECK(json_get(a, "a") == NULL); /* not an object */
    json_free(j);
}

static void test_errors(void)
{
    static const char *const bad[] = {
        "",           "{",     "[1,]",        "{\"a\" 1}",
        "{\"a\":1,}", "\"abc", "\"\\x\"",     "01",
        "1.",         "1e",    "-",           "tru",
        "nul",        "[1] 2", "\"\\ud800\"", "\"\\udc00\"",
        "\"a\tb\"",   "{1:2}", "[\"\\u12\"]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[128] = "";
        struct json *j = json_parse(bad[i], strlen(bad[i]), err, sizeof err);
        CHECK(j == NULL);
        CHECK(err[0] != '\0');
        json_free(j);
    }
    /* Depth is bounded. */
    char deep[600];
    memset(deep, '[', sizeof deep - 1);
    deep[sizeof deep - 1] = '\0';
    CHECK(parse(deep) == NULL);
}

static void test_vector_files(void)
{
    char err[256];
    struct json *p = json_load_file("tests/vectors/pdmv2-profile-vectors.json", err, sizeof err);
    CHECK(p != NULL);
    CHECK(strcmp(json_str(json_get(p, "profile")), "pdmv2-hpke-1") == 0);
    CHECK_INT(json_len(json_get(p, "scaling")), 21);
    CHECK_INT(json_len(json_get(p, "options")), 12);
    json_free(p);
    struct json *h =
        json_load_file("tests/vectors/hpke-rfc9180-appendix-a-vectors.json", err, sizeof err);
    CHECK(h != NULL);
    CHECK_INT(json_len(h), 28);
    json_free(h);
    CHECK(json_load_file("tests/vectors/no-such-file.json", err, sizeof err) == NULL);
    CHECK(strstr(err, "no-such-file") != NULL);
}

int main(void)
{
    RUN(test_values);
    RUN(test_errors);
    RUN(test_vector_files);
    return harness_done();
}
