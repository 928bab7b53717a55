/*
 * A small JSON reader (RFC 8259) for the tools and tests: reads a whole
 * document into a tree, then answers lookups. Not on any packet path.
 * Numbers are kept as their text (json_num_text) so that big integers
 * survive; json_u64 converts the common case. Strings are unescaped
 * (\uXXXX to UTF-8, surrogate pairs joined); a string holding NUL bytes is
 * allowed and json_str_len tells its real length.
 */
#ifndef PDM_TOOLS_JSON_H
#define PDM_TOOLS_JSON_H

#include <stddef.h>
#include <stdint.h>

struct json;

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUM, JSON_STR, JSON_ARR, JSON_OBJ };

/* Parses text[0..len); NULL on error with a message (with byte offset) in err. */
struct json *json_parse(const char *text, size_t len, char *err, size_t errlen);

/* Reads and parses a file; NULL on error with a message in err. */
struct json *json_load_file(const char *path, char *err, size_t errlen);

void json_free(struct json *j);

enum json_type json_type(const struct json *j);

/* Value of key in an object; NULL if j is not an object or has no such key. */
const struct json *json_get(const struct json *obj, const char *key);

/* Number of elements of an array or members of an object; 0 otherwise. */
size_t json_len(const struct json *j);

/* The i-th array element or object member value; NULL when out of range. */
const struct json *json_at(const struct json *j, size_t i);

/* The i-th member name of an object; NULL when out of range. */
const char *json_key_at(const struct json *obj, size_t i);

/* A string's bytes (NUL-terminated) and length; NULL / 0 unless a string. */
const char *json_str(const struct json *j);
size_t json_str_len(const struct json *j);

/* A number's text as written; NULL unless a number. */
const char *json_num_text(const struct json *j);

/* 0 and *out when j is a non-negative integer that fits; -1 otherwise. */
int json_u64(const struct json *j, uint64_t *out);

/* 1 for true, 0 for anything else. */
int json_bool(const struct json *j);

#endif /* PDM_TOOLS_JSON_H */
