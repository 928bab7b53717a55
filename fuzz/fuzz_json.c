/* libFuzzer target: the JSON reader used by `pdm vectors` on arbitrary files. */
#include "../tools/common/json.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[128];
    struct json *j = json_parse((const char *)data, size, err, sizeof err);
    if (j) {
        /* Walk the top level so lookups run on fuzzed trees too. */
        for (size_t i = 0; i < json_len(j); i++) {
            (void)json_key_at(j, i);
            (void)json_str(json_at(j, i));
        }
    }
    json_free(j);
    return 0;
}
