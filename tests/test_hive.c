/*
 * The POSIX backend's .reg hive: parsing (BOM, CRLF, continuations,
 * escapes, UTF-16 multi-strings), serialization and round trips, the model's
 * edits, and every refusal of damaged input, first on the parser (error code
 * and "line N: what" message), then through the platform table (the error,
 * the message naming registry.reg and the line, and the file left as it was).
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hive.h"
#include "machine.h"

const char *test_machine_root(test_machine *m);

#define HDR "Windows Registry Editor Version 5.00\r\n"
#define LXSS_KEY "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Lxss"
#define LXSS_PATH "HKEY_LOCAL_MACHINE\\" LXSS_KEY

static ksvc__hive *parse_ok(const char *text)
{
    ksvc__hive *hive = NULL;
    char err[256];
    int rc = ksvc__hive_parse(text, strlen(text), &hive, err, sizeof(err));

    if (rc != KSVC_OK)
        fail_msg("parse failed: %s: %s", ksvc_error_name(rc), err);
    return hive;
}

static ksvc__hive *parse_bytes_ok(const char *text, size_t len)
{
    ksvc__hive *hive = NULL;
    char err[256];
    int rc = ksvc__hive_parse(text, len, &hive, err, sizeof(err));

    if (rc != KSVC_OK)
        fail_msg("parse failed: %s: %s", ksvc_error_name(rc), err);
    return hive;
}

/* parse(serialize(h)) == h, and serializing again gives the same text. */
static void assert_round_trip(const ksvc__hive *hive)
{
    char *text = NULL, *again = NULL;
    size_t len = 0, len2 = 0;
    ksvc__hive *back;

    assert_int_equal(ksvc__hive_serialize(hive, &text, &len), KSVC_OK);
    assert_int_equal(strlen(text), len);
    back = parse_ok(text);
    assert_true(ksvc__hive_equal(hive, back));
    assert_int_equal(ksvc__hive_serialize(back, &again, &len2), KSVC_OK);
    assert_string_equal(text, again);
    ksvc__hive_free(back);
    free(text);
    free(again);
}

static const ksvc__hive_value *get(const ksvc__hive *h, const char *key,
                                   const char *name)
{
    const ksvc__hive_value *v = ksvc__hive_get(h, key, name);
    if (!v)
        fail_msg("no value %s in %s", name, key);
    return v;
}

static void assert_sz(const ksvc__hive *h, const char *key, const char *name,
                      const char *expected)
{
    const ksvc__hive_value *v = get(h, key, name);
    assert_int_equal(v->type, KSVC_REG_SZ);
    assert_int_equal(v->size, strlen(expected) + 1);
    assert_memory_equal(v->data, expected, v->size);
}

static void assert_data(const ksvc__hive *h, const char *key, const char *name,
                        uint32_t type, const void *expected, size_t size)
{
    const ksvc__hive_value *v = get(h, key, name);
    assert_int_equal(v->type, type);
    assert_int_equal(v->size, size);
    if (size)
        assert_memory_equal(v->data, expected, size);
}

/* ---- parsing ---- */

static const char sample[] =
    HDR
    "\r\n"
    "; a comment line\r\n"
    "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Test]\r\n"
    "@=\"default\"\r\n"
    "\"Plain\"=\"5.15.153.1-microsoft-standard-WSL2\"\r\n"
    "\"Esc\\\"aped\"=\"C:\\\\Windows\\\\System32 \\\"quoted\\\"\"\r\n"
    "\"Number\"=dword:0000002a\r\n"
    "\"Max\"=dword:FFFFFFFF\r\n"
    "\"Multi\"=hex(7):61,00,62,00,00,00,fc,00,00,00,00,00\r\n"
    "\"Bin\"=hex:de,ad,be,ef\r\n"
    "\"Empty\"=hex:\r\n"
    "\"Qword\"=hex(b):01,02,03,04,05,06,07,08\r\n"
    "\r\n"
    "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Test\\Child]\r\n"
    "\r\n";

static void parses_every_form(void **state)
{
    static const char multi[] = "ab\0\xC3\xBC\0";
    static const unsigned char bin[] = { 0xde, 0xad, 0xbe, 0xef };
    static const unsigned char qword[] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    uint32_t n42 = 42, max = 0xFFFFFFFFu;
    ksvc__hive *h = parse_ok(sample);
    const char *key = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Test";

    (void)state;
    assert_int_equal(h->key_count, 2);
    assert_string_equal(h->keys[0].path, key);
    assert_int_equal(h->keys[0].value_count, 9);
    assert_sz(h, key, "", "default");
    assert_sz(h, key, "Plain", "5.15.153.1-microsoft-standard-WSL2");
    assert_sz(h, key, "Esc\"aped", "C:\\Windows\\System32 \"quoted\"");
    assert_data(h, key, "Number", KSVC_REG_DWORD, &n42, 4);
    assert_data(h, key, "Max", KSVC_REG_DWORD, &max, 4);
    assert_data(h, key, "Multi", KSVC_REG_MULTI_SZ, multi, sizeof(multi));
    assert_data(h, key, "Bin", 3, bin, sizeof(bin));
    assert_data(h, key, "Empty", 3, NULL, 0);
    assert_data(h, key, "Qword", 11, qword, sizeof(qword));
    assert_int_equal(h->keys[1].value_count, 0);
    /* values keep the file's order */
    assert_string_equal(h->keys[0].values[0].name, "");
    assert_string_equal(h->keys[0].values[8].name, "Qword");
    assert_round_trip(h);
    ksvc__hive_free(h);
}

static void bom_lf_and_crlf_read_alike(void **state)
{
    const char *lf =
        "Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\A]\n"
        "\"x\"=\"1\"\n\"y\"=hex(7):61,00,\\\n  00,00,00,00\n";
    const char *crlf =
        "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\A]\r\n"
        "\"x\"=\"1\"\r\n\"y\"=hex(7):61,00,\\\r\n  00,00,00,00\r\n";
    char bom[512];
    ksvc__hive *a, *b, *c;

    (void)state;
    snprintf(bom, sizeof(bom), "\xEF\xBB\xBF%s", crlf);
    a = parse_ok(lf);
    b = parse_ok(crlf);
    c = parse_ok(bom);
    assert_true(ksvc__hive_equal(a, b));
    assert_true(ksvc__hive_equal(a, c));
    assert_data(a, "HKEY_LOCAL_MACHINE\\A", "y", KSVC_REG_MULTI_SZ, "a\0", 3);
    ksvc__hive_free(a);
    ksvc__hive_free(b);
    ksvc__hive_free(c);
}

static void continuation_lines_join(void **state)
{
    /* A regedit-style wrapped value, with blanks around the pieces and a
     * continuation whose next line holds nothing but the indent. */
    const char *text =
        HDR "[HKEY_LOCAL_MACHINE\\A]\r\n"
        "\"Long\"=hex:00,01,02,03,\\\r\n"
        "  04,05,\\\r\n"
        "\t06 , 07 ,\\\r\n"
        "  \\\r\n"
        "  08\r\n"
        "\"After\"=dword:00000001\r\n";
    static const unsigned char want[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8 };
    uint32_t one = 1;
    ksvc__hive *h = parse_ok(text);

    (void)state;
    assert_data(h, "HKEY_LOCAL_MACHINE\\A", "Long", 3, want, sizeof(want));
    assert_data(h, "HKEY_LOCAL_MACHINE\\A", "After", KSVC_REG_DWORD, &one, 4);
    ksvc__hive_free(h);
}

/* Join regedit's wrapped hex lines (",\\" CRLF and a two-space indent). */
static void unwrap(char *text)
{
    char *at;

    while ((at = strstr(text, ",\\\r\n  ")) != NULL)
        memmove(at + 1, at + 6, strlen(at + 6) + 1);
}

static void non_ascii_multi_strings(void **state)
{
    /* "Grüße", "日本", U+1F600 (a surrogate pair in UTF-16), "x" */
    static const char multi[] =
        "Gr\xC3\xBC\xC3\x9F" "e\0\xE6\x97\xA5\xE6\x9C\xAC\0\xF0\x9F\x98\x80\0x\0";
    ksvc__hive *h = ksvc__hive_new(), *back;
    const ksvc__hive_value *v;
    char *text;
    size_t len;

    (void)state;
    assert_non_null(h);
    assert_int_equal(ksvc__hive_set(h, LXSS_PATH, "KServiceBadVersions",
                                    KSVC_REG_MULTI_SZ, multi, sizeof(multi)),
                     KSVC_OK);
    assert_int_equal(ksvc__hive_serialize(h, &text, &len), KSVC_OK);
    unwrap(text);
    /* Stored the way regedit exports it: UTF-16LE in hex(7). */
    assert_non_null(strstr(text, "\"KServiceBadVersions\"=hex(7):47,00,72,00,"
                                 "fc,00,df,00,65,00,00,00,e5,65,2c,67,00,00,"
                                 "3d,d8,00,de,00,00,78,00,00,00,00,00\r\n"));
    back = parse_ok(text);
    v = get(back, LXSS_PATH, "KServiceBadVersions");
    assert_int_equal(v->type, KSVC_REG_MULTI_SZ);
    assert_int_equal(v->size, sizeof(multi));
    assert_memory_equal(v->data, multi, sizeof(multi));
    assert_round_trip(h);
    free(text);
    ksvc__hive_free(back);
    ksvc__hive_free(h);
}

static void empty_multi_string(void **state)
{
    ksvc__hive *h = parse_ok(HDR "[HKEY_LOCAL_MACHINE\\A]\r\n"
                                 "\"one\"=hex(7):00,00\r\n"
                                 "\"two\"=hex(7):00,00,00,00\r\n");
    (void)state;
    assert_data(h, "HKEY_LOCAL_MACHINE\\A", "one", KSVC_REG_MULTI_SZ, "", 1);
    assert_data(h, "HKEY_LOCAL_MACHINE\\A", "two", KSVC_REG_MULTI_SZ, "", 1);
    assert_round_trip(h);
    ksvc__hive_free(h);
}

static void sz_and_dword_as_hex(void **state)
{
    /* hex(1) is a REG_SZ in UTF-16LE, hex(4) a little-endian REG_DWORD */
    ksvc__hive *h = parse_ok(HDR "[HKEY_LOCAL_MACHINE\\A]\r\n"
                                 "\"s\"=hex(1):68,00,e9,00,00,00\r\n"
                                 "\"d\"=hex(4):2a,01,00,00\r\n");
    uint32_t d = 0x12a;

    (void)state;
    assert_sz(h, "HKEY_LOCAL_MACHINE\\A", "s", "h\xC3\xA9");
    assert_data(h, "HKEY_LOCAL_MACHINE\\A", "d", KSVC_REG_DWORD, &d, 4);
    ksvc__hive_free(h);
}

/* ---- serialization ---- */

static void serializes_like_regedit(void **state)
{
    static const char expected[] =
        "Windows Registry Editor Version 5.00\r\n"
        "\r\n"
        "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Lxss]\r\n"
        "\"KernelVersion\"=\"5.15.153.1\"\r\n"
        "\"Quote\"=\"a\\\\b\\\"c\"\r\n"
        "\"UBR\"=dword:00000edb\r\n"
        "@=\"def\"\r\n"
        "\"Lines\"=hex(1):61,00,0a,00,62,00,00,00\r\n"
        "\"M\"=hex(7):41,00,00,00,00,00\r\n"
        "\r\n"
        "[HKEY_LOCAL_MACHINE\\SYSTEM\\Empty]\r\n"
        "\r\n";
    ksvc__hive *h = ksvc__hive_new();
    uint32_t ubr = 3803;
    char *text;
    size_t len;

    (void)state;
    assert_int_equal(ksvc__hive_set(h, LXSS_PATH, "KernelVersion", KSVC_REG_SZ,
                                    "5.15.153.1", 11), KSVC_OK);
    assert_int_equal(ksvc__hive_set(h, LXSS_PATH, "Quote", KSVC_REG_SZ,
                                    "a\\b\"c", 6), KSVC_OK);
    assert_int_equal(ksvc__hive_set(h, LXSS_PATH, "UBR", KSVC_REG_DWORD, &ubr,
                                    4), KSVC_OK);
    assert_int_equal(ksvc__hive_set(h, LXSS_PATH, "", KSVC_REG_SZ, "def", 4),
                     KSVC_OK);
    assert_int_equal(ksvc__hive_set(h, LXSS_PATH, "Lines", KSVC_REG_SZ,
                                    "a\nb", 4), KSVC_OK);
    assert_int_equal(ksvc__hive_set(h, LXSS_PATH, "M", KSVC_REG_MULTI_SZ,
                                    "A\0", 3), KSVC_OK);
    assert_non_null(ksvc__hive_add_key(h, "HKEY_LOCAL_MACHINE\\SYSTEM\\Empty"));
    assert_int_equal(ksvc__hive_serialize(h, &text, &len), KSVC_OK);
    assert_string_equal(text, expected);
    assert_round_trip(h);
    free(text);
    ksvc__hive_free(h);
}

static void long_values_wrap_at_80_columns(void **state)
{
    unsigned char big[1000];
    ksvc__hive *h = ksvc__hive_new();
    char *text, *line;
    size_t len, i, lines = 0;

    (void)state;
    for (i = 0; i < sizeof(big); i++)
        big[i] = (unsigned char)(i * 7);
    assert_int_equal(ksvc__hive_set(h, "HKEY_LOCAL_MACHINE\\A", "Blob", 3, big,
                                    sizeof(big)), KSVC_OK);
    assert_int_equal(ksvc__hive_serialize(h, &text, &len), KSVC_OK);
    for (line = text; *line; lines++) {
        char *end = strstr(line, "\r\n");
        assert_non_null(end);
        assert_true(end - line <= 80);
        line = end + 2;
    }
    assert_true(lines > 3000 / 80);
    assert_round_trip(h);
    free(text);
    ksvc__hive_free(h);
}

/* ---- the model ---- */

static void names_compare_without_case(void **state)
{
    ksvc__hive *h = parse_ok(HDR "[HKEY_LOCAL_MACHINE\\Software\\Lxss]\r\n"
                                 "\"KernelVersion\"=\"1\"\r\n");
    const ksvc__hive_value *v;

    (void)state;
    v = ksvc__hive_get(h, "hkey_local_machine\\SOFTWARE\\LXSS", "kernelversion");
    assert_non_null(v);
    assert_int_equal(ksvc__hive_set(h, "HKEY_LOCAL_MACHINE\\SOFTWARE\\lxss",
                                    "KERNELVERSION", KSVC_REG_SZ, "2", 2),
                     KSVC_OK);
    /* overwritten in place: one key, one value, the first spelling kept */
    assert_int_equal(h->key_count, 1);
    assert_int_equal(h->keys[0].value_count, 1);
    assert_string_equal(h->keys[0].values[0].name, "KernelVersion");
    assert_string_equal(h->keys[0].path, "HKEY_LOCAL_MACHINE\\Software\\Lxss");
    assert_sz(h, "HKEY_LOCAL_MACHINE\\Software\\Lxss", "KernelVersion", "2");
    assert_true(ksvc__hive_key_exists(h, "HKEY_LOCAL_MACHINE\\software"));
    assert_true(ksvc__hive_key_exists(h, "HKEY_LOCAL_MACHINE"));
    assert_false(ksvc__hive_key_exists(h, "HKEY_LOCAL_MACHINE\\Soft"));
    assert_false(ksvc__hive_key_exists(h, "HKEY_LOCAL_MACHINE\\Software\\Lxss\\X"));
    ksvc__hive_free(h);
}

static void set_and_delete_keep_order(void **state)
{
    ksvc__hive *h = ksvc__hive_new();
    const char *k = "HKEY_LOCAL_MACHINE\\A";

    (void)state;
    assert_int_equal(ksvc__hive_set(h, k, "a", KSVC_REG_SZ, "1", 2), KSVC_OK);
    assert_int_equal(ksvc__hive_set(h, k, "b", KSVC_REG_SZ, "2", 2), KSVC_OK);
    assert_int_equal(ksvc__hive_set(h, k, "c", KSVC_REG_SZ, "3", 2), KSVC_OK);
    assert_int_equal(ksvc__hive_delete(h, k, "B"), KSVC_OK);
    assert_int_equal(ksvc__hive_delete(h, k, "b"), KSVC_E_NOT_FOUND);
    assert_int_equal(ksvc__hive_delete(h, "HKEY_LOCAL_MACHINE\\Z", "a"),
                     KSVC_E_NOT_FOUND);
    assert_int_equal(h->keys[0].value_count, 2);
    assert_string_equal(h->keys[0].values[0].name, "a");
    assert_string_equal(h->keys[0].values[1].name, "c");
    assert_int_equal(ksvc__hive_set(h, k, "a", KSVC_REG_DWORD, "\1\0\0\0", 4),
                     KSVC_OK);
    assert_string_equal(h->keys[0].values[0].name, "a");
    assert_int_equal(h->keys[0].values[0].type, KSVC_REG_DWORD);
    assert_round_trip(h);
    ksvc__hive_free(h);
}

static void set_refuses_malformed_data(void **state)
{
    ksvc__hive *h = ksvc__hive_new();
    const char *k = "HKEY_LOCAL_MACHINE\\A";
    char *big = calloc(2 * KSVC__HIVE_KEEP_MAX + 2, 1);
    char *name = malloc(KSVC__HIVE_NAME_MAX + 2);

    (void)state;
    assert_non_null(big);
    assert_non_null(name);
    /* REG_SZ: must end in its only NUL, valid UTF-8 */
    assert_int_equal(ksvc__hive_set(h, k, "v", KSVC_REG_SZ, "ab", 2),
                     KSVC_E_INVALID_ARGUMENT);
    assert_int_equal(ksvc__hive_set(h, k, "v", KSVC_REG_SZ, "a\0b", 4),
                     KSVC_E_INVALID_ARGUMENT);
    assert_int_equal(ksvc__hive_set(h, k, "v", KSVC_REG_SZ, "\xC3(\0", 3),
                     KSVC_E_INVALID_ARGUMENT);
    /* REG_DWORD: 4 bytes */
    assert_int_equal(ksvc__hive_set(h, k, "v", KSVC_REG_DWORD, "abc", 3),
                     KSVC_E_INVALID_ARGUMENT);
    /* REG_MULTI_SZ: terminators, no empty string inside */
    assert_int_equal(ksvc__hive_set(h, k, "v", KSVC_REG_MULTI_SZ, "a", 1),
                     KSVC_E_INVALID_ARGUMENT);
    assert_int_equal(ksvc__hive_set(h, k, "v", KSVC_REG_MULTI_SZ, "a\0", 2),
                     KSVC_E_INVALID_ARGUMENT);
    assert_int_equal(ksvc__hive_set(h, k, "v", KSVC_REG_MULTI_SZ, "a\0\0b\0", 6),
                     KSVC_E_INVALID_ARGUMENT);
    /* names */
    assert_int_equal(ksvc__hive_set(h, "HKEY_LOCAL_MACHINE\\\\A", "v",
                                    KSVC_REG_SZ, "", 1), KSVC_E_INVALID_ARGUMENT);
    assert_int_equal(ksvc__hive_set(h, k, "a\nb", KSVC_REG_SZ, "", 1),
                     KSVC_E_INVALID_ARGUMENT);
    memset(name, 'n', KSVC__HIVE_NAME_MAX + 1);
    name[KSVC__HIVE_NAME_MAX + 1] = '\0';
    assert_int_equal(ksvc__hive_set(h, k, name, KSVC_REG_SZ, "", 1),
                     KSVC_E_TOO_LONG);
    assert_int_equal(h->key_count, 0);
    /* sizes: a value larger than what a parsed hive holds in memory is set
     * (held) and round-trips (parsed again, it is spanned) */
    memset(big, 'x', 2 * KSVC__HIVE_KEEP_MAX);
    assert_int_equal(ksvc__hive_set(h, k, "v", KSVC_REG_SZ, big,
                                    2 * KSVC__HIVE_KEEP_MAX + 1), KSVC_OK);
    assert_int_equal(ksvc__hive_set(h, k, "b", 3, big,
                                    2 * KSVC__HIVE_KEEP_MAX), KSVC_OK);
    assert_round_trip(h);
    free(big);
    free(name);
    ksvc__hive_free(h);
}

static void many_values_parse_quickly(void **state)
{
    /* 200000 values: duplicate detection must not be quadratic. */
    size_t count = 200000, i, room = count * 32 + 256, used;
    char *text = malloc(room);
    ksvc__hive *h;
    char err[256];

    (void)state;
    assert_non_null(text);
    used = (size_t)snprintf(text, room, HDR "[HKEY_LOCAL_MACHINE\\A]\r\n");
    for (i = 0; i < count; i++)
        used += (size_t)snprintf(text + used, room - used,
                                 "\"v%lu\"=dword:%08lx\r\n", (unsigned long)i,
                                 (unsigned long)i);
    h = parse_ok(text);
    assert_int_equal(h->keys[0].value_count, count);
    ksvc__hive_free(h);
    /* the same with the last name repeated in other case */
    used += (size_t)snprintf(text + used, room - used, "\"V7\"=dword:0\r\n");
    assert_int_equal(ksvc__hive_parse(text, used, &h, err, sizeof(err)),
                     KSVC_E_HIVE);
    assert_non_null(strstr(err, "duplicate value"));
    free(text);
}

/* ---- refusals ---- */

typedef struct refusal {
    const char *text;
    int code;
    unsigned line;
    const char *says; /* expected inside the message */
} refusal;

#define K "[HKEY_LOCAL_MACHINE\\A]\r\n"
static const refusal refusals[] = {
    { "", KSVC_E_HIVE, 1, "missing header" },
    { "REGEDIT3\r\n\r\n" K, KSVC_E_HIVE, 1, "missing header" },
    { "Windows Registry Editor Version 5.00 extra\r\n", KSVC_E_HIVE, 1,
      "missing header" },
    { "\r\n" HDR, KSVC_E_HIVE, 1, "missing header" },
    { HDR "\r\n[HKEY_LOCAL_MACHINE\\A\r\n", KSVC_E_HIVE, 3, "truncated line" },
    { HDR K "\"a\"\r\n", KSVC_E_HIVE, 3, "truncated line" },
    { HDR K "\"a\"=\r\n", KSVC_E_HIVE, 3, "truncated line" },
    { HDR K "\"a\"=hex:01,02,\r\n", KSVC_E_HIVE, 3, "truncated line" },
    { HDR K "\"a\"=hex:01,02,\\\r\n", KSVC_E_HIVE, 3, "truncated line" },
    { HDR K "\"a\"=hex:01,\\\r\n  02,\\", KSVC_E_HIVE, 4, "truncated line" },
    { HDR K "\"a\"=\"abc\r\n", KSVC_E_HIVE, 3, "unterminated string" },
    { HDR K "\"a=\"abc\"\r\n", KSVC_E_HIVE, 3, "" },
    { HDR K "\"abc\r\n", KSVC_E_HIVE, 3, "unterminated string" },
    { HDR K "\"a\"=\"ab\\\r\n", KSVC_E_HIVE, 3, "unterminated string" },
    { HDR K "\"a\"=\"a\\nb\"\r\n", KSVC_E_HIVE, 3, "bad escape" },
    { HDR K "\"a\\x\"=\"b\"\r\n", KSVC_E_HIVE, 3, "bad escape" },
    { HDR K "\"a\"=\"b\" junk\r\n", KSVC_E_HIVE, 3, "after the closing quote" },
    { HDR K "\"a\"=dword:\r\n", KSVC_E_HIVE, 3, "bad dword" },
    { HDR K "\"a\"=dword:12345678a\r\n", KSVC_E_HIVE, 3, "bad dword" },
    { HDR K "\"a\"=dword:xyz\r\n", KSVC_E_HIVE, 3, "bad dword" },
    { HDR K "\"a\"=dword:12 34\r\n", KSVC_E_HIVE, 3, "bad dword" },
    { HDR K "\"a\"=dword:-1\r\n", KSVC_E_HIVE, 3, "bad dword" },
    { HDR K "\n\"a\"=hex:1,02\r\n", KSVC_E_HIVE, 4, "odd hex" },
    { HDR K "\"a\"=hex:012\r\n", KSVC_E_HIVE, 3, "odd hex" },
    { HDR K "\"a\"=hex:0g\r\n", KSVC_E_HIVE, 3, "" },
    { HDR K "\"a\"=hex:01 02\r\n", KSVC_E_HIVE, 3, "expected ','" },
    { HDR K "\"a\"=hex(7:61,00\r\n", KSVC_E_HIVE, 3, "bad value type" },
    { HDR K "\"a\"=hex(123456789):00\r\n", KSVC_E_HIVE, 3, "bad value type" },
    { HDR K "\"a\"=qword:1\r\n", KSVC_E_HIVE, 3, "unknown value data" },
    { HDR K "\"a\"=-x\r\n", KSVC_E_HIVE, 3, "deletion" },
    { HDR "[-HKEY_LOCAL_MACHINE\\A]\r\n\"a\"=\"b\"\r\n", KSVC_E_HIVE, 3,
      "value outside any key" },
    { HDR "\"a\"=\"b\"\r\n" K, KSVC_E_HIVE, 2, "value outside any key" },
    { HDR "\r\n@=\"b\"\r\n", KSVC_E_HIVE, 3, "value outside any key" },
    { HDR K "\r\n[HKEY_LOCAL_MACHINE\\B]\r\n[hkey_local_machine\\a]\r\n",
      KSVC_E_HIVE, 5, "duplicate key section" },
    { HDR K "\"Name\"=\"1\"\r\n\"x\"=\"2\"\r\n\"NAME\"=dword:1\r\n", KSVC_E_HIVE,
      5, "duplicate value" },
    { HDR K "@=\"1\"\r\n\"\"=\"2\"\r\n", KSVC_E_HIVE, 4, "duplicate value" },
    { HDR K "\"a\"=\"\xC3\x28\"\r\n", KSVC_E_HIVE, 3, "invalid UTF-8" },
    { HDR K "\"a\"=\"\xC0\xAF\"\r\n", KSVC_E_HIVE, 3, "invalid UTF-8" },
    { HDR K "\"a\"=\"\xED\xA0\x80\"\r\n", KSVC_E_HIVE, 3, "invalid UTF-8" },
    { HDR K "\"a\"=\"\xF4\x90\x80\x80\"\r\n", KSVC_E_HIVE, 3, "invalid UTF-8" },
    { HDR K "; \xFF comment\r\n", KSVC_E_HIVE, 3, "invalid UTF-8" },
    { HDR K "\"a\"=\"b\x01\"\r\n", KSVC_E_HIVE, 3, "control character" },
    { HDR K "\"a\"=\"b\rc\"\r\n", KSVC_E_HIVE, 3, "control character" },
    { HDR K "\"a\"=hex(7):61,00,62,00\r\n", KSVC_E_HIVE, 3,
      "REG_MULTI_SZ without terminators" },
    { HDR K "\"a\"=hex(7):61,00,00,00\r\n", KSVC_E_HIVE, 3,
      "REG_MULTI_SZ without terminators" },
    { HDR K "\"a\"=hex(7):\r\n", KSVC_E_HIVE, 3,
      "REG_MULTI_SZ without terminators" },
    { HDR K "\"a\"=hex(7):61,00,00\r\n", KSVC_E_HIVE, 3, "odd size" },
    { HDR K "\"a\"=hex(7):61,00,00,00,00,00,62,00,00,00,00,00\r\n",
      KSVC_E_HIVE, 3, "empty string inside REG_MULTI_SZ" },
    { HDR K "\"a\"=hex(7):00,d8,00,00,00,00\r\n", KSVC_E_HIVE, 3,
      "invalid UTF-16" },
    { HDR K "\"a\"=hex(1):61,00\r\n", KSVC_E_HIVE, 3, "REG_SZ" },
    { HDR K "\"a\"=hex(4):01,02\r\n", KSVC_E_HIVE, 3, "REG_DWORD" },
    { HDR "[HKEY_LOCAL_MACHINE\\\\A]\r\n", KSVC_E_HIVE, 2, "bad key path" },
    { HDR "[]\r\n", KSVC_E_HIVE, 2, "" },
    { HDR "[SOFTWARE\\A]\r\n", KSVC_E_HIVE, 2, "HKEY_" },
    { HDR K "garbage\r\n", KSVC_E_HIVE, 3, "unexpected text" },
};
#undef K

static void check_refusal(const refusal *r, size_t index)
{
    ksvc__hive *h = (ksvc__hive *)1;
    char err[512], prefix[32];
    int rc = ksvc__hive_parse(r->text, strlen(r->text), &h, err, sizeof(err));

    if (rc != r->code)
        fail_msg("refusal %lu: got %s (%s), want %s", (unsigned long)index,
                 ksvc_error_name(rc), err, ksvc_error_name(r->code));
    assert_null(h);
    snprintf(prefix, sizeof(prefix), "line %u: ", r->line);
    if (strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, r->says))
        fail_msg("refusal %lu: message \"%s\", want \"%s...%s\"",
                 (unsigned long)index, err, prefix, r->says);
}

static void parser_refuses_damage(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++)
        check_refusal(&refusals[i], i);
}

static void parser_refuses_a_nul_byte(void **state)
{
    static const char text[] = HDR "[HKEY_LOCAL_MACHINE\\A]\r\n\"a\"=\"b\0c\"\r\n";
    ksvc__hive *h = NULL;
    char err[256];

    (void)state;
    assert_int_equal(ksvc__hive_parse(text, sizeof(text) - 1, &h, err,
                                      sizeof(err)), KSVC_E_HIVE);
    assert_non_null(strstr(err, "line 3: control character 0x00"));
}

static void parser_refuses_binary_garbage(void **state)
{
    unsigned char garbage[4096];
    uint32_t x = 12345;
    ksvc__hive *h = NULL;
    char err[256];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(garbage); i++) {
        x = x * 1103515245u + 12345u;
        garbage[i] = (unsigned char)(x >> 16);
    }
    assert_int_equal(ksvc__hive_parse((const char *)garbage, sizeof(garbage),
                                      &h, err, sizeof(err)), KSVC_E_HIVE);
    assert_null(h);
    assert_non_null(strstr(err, "line "));
    /* a valid header followed by garbage: still refused */
    memcpy(garbage, HDR, strlen(HDR));
    assert_int_equal(ksvc__hive_parse((const char *)garbage, sizeof(garbage),
                                      &h, err, sizeof(err)), KSVC_E_HIVE);
    assert_non_null(strstr(err, "line 2: "));
}

/* A temporary file of @p size bytes (sparse beyond @p head) whose
 * descriptor is returned. */
static int sparse_file(const char *head, uint64_t size)
{
    FILE *f = tmpfile();
    int fd;

    assert_non_null(f);
    fd = dup(fileno(f));
    fclose(f);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, head, strlen(head)), (ssize_t)strlen(head));
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    return fd;
}

static void parser_refuses_absurd_sizes(void **state)
{
    size_t used;
    char *text = malloc(4 * KSVC__HIVE_NAME_MAX);
    ksvc__hive *h = NULL;
    char err[256];
    int fd, os_error;

    (void)state;
    assert_non_null(text);
    /* the whole file: refused before a byte is read */
    fd = sparse_file(HDR, (uint64_t)KSVC__HIVE_FILE_MAX + 1);
    assert_int_equal(ksvc__hive_parse_fd(fd, (uint64_t)KSVC__HIVE_FILE_MAX + 1,
                                         &h, err, sizeof(err), &os_error),
                     KSVC_E_TOO_LONG);
    assert_null(h);
    assert_non_null(strstr(err, "larger than the 268435456 byte limit"));
    close(fd);
    /* a value name of more than 16383 bytes */
    used = (size_t)sprintf(text, HDR "[HKEY_LOCAL_MACHINE\\A]\r\n\"");
    memset(text + used, 'n', KSVC__HIVE_NAME_MAX + 1);
    used += KSVC__HIVE_NAME_MAX + 1;
    used += (size_t)sprintf(text + used, "\"=\"\"\r\n");
    assert_int_equal(ksvc__hive_parse(text, used, &h, err, sizeof(err)),
                     KSVC_E_TOO_LONG);
    assert_non_null(strstr(err, "line 3: "));
    /* a key path of more than 16383 bytes */
    used = (size_t)sprintf(text, HDR "[HKEY_LOCAL_MACHINE\\");
    memset(text + used, 'k', KSVC__HIVE_NAME_MAX);
    used += KSVC__HIVE_NAME_MAX;
    used += (size_t)sprintf(text + used, "]\r\n");
    assert_int_equal(ksvc__hive_parse(text, used, &h, err, sizeof(err)),
                     KSVC_E_TOO_LONG);
    free(text);
}

/* ---- refusals through the platform table ---- */

static char *hive_file(test_machine *m)
{
    const char *root = test_machine_root(m);
    char *path = malloc(strlen(root) + 32);

    assert_non_null(path);
    sprintf(path, "%s/registry.reg", root);
    return path;
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *data;
    long size;

    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    size = ftell(f);
    assert_true(size >= 0);
    rewind(f);
    data = malloc((size_t)size + 1);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *len = (size_t)size;
    return data;
}

/* The mock services a registry.reg that regedit wrote (UTF-16LE with a
 * BOM) and keeps it in that encoding. */
static void platform_keeps_the_encoding_it_read(void **state)
{
    test_machine *m = test_machine_new(NULL);
    ksvc_platform *p = test_machine_platform(m);
    char *path = hive_file(m), *text, *utf16, buf[64];
    ksvc_reg_change change = { "KernelVersion", 0, KSVC_REG_SZ, "6.1.0", 6 };
    ksvc__hive *h;
    size_t len, size = sizeof(buf);
    uint32_t type;

    (void)state;
    text = read_file(path, &len); /* the machine's facts, as UTF-8 */
    h = parse_bytes_ok(text, len);
    free(text);
    h->encoding = KSVC__HIVE_UTF16LE;
    assert_int_equal(ksvc__hive_serialize(h, &utf16, &len), KSVC_OK);
    ksvc__hive_free(h);
    write_file(path, utf16, len);
    free(utf16);
    assert_int_equal(p->reg_write(p, LXSS_KEY, &change, 1), KSVC_OK);
    assert_int_equal(p->reg_read(p, LXSS_KEY, "KernelVersion", &type, buf,
                                 &size),
                     KSVC_OK);
    assert_string_equal(buf, "6.1.0");
    text = read_file(path, &len);
    assert_memory_equal(text, "\xFF\xFE" "W\0i\0n\0", 8);
    h = parse_bytes_ok(text, len);
    assert_sz(h, LXSS_PATH, "KernelVersion", "6.1.0");
    ksvc__hive_free(h);
    free(text);
    free(path);
    test_machine_free(m);
}

static void platform_refuses_damaged_hive(void **state)
{
    test_machine *m = test_machine_new(NULL);
    ksvc_platform *p = test_machine_platform(m);
    char *path = hive_file(m);
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
        const refusal *r = &refusals[i];
        ksvc_reg_change change = { "KernelVersion", 0, KSVC_REG_SZ, "1.2", 4 };
        char what[1024], want[64], buf[64], *after;
        size_t size = sizeof(buf), len;
        uint32_t type;
        long os_error = -1;
        int exists = 7;

        write_file(path, r->text, strlen(r->text));
        assert_int_equal(p->reg_write(p, LXSS_KEY, &change, 1), r->code);
        p->last_error(p, &os_error, what, sizeof(what));
        snprintf(want, sizeof(want), "registry.reg line %u: ", r->line);
        if (!strstr(what, want) || !strstr(what, r->says))
            fail_msg("refusal %lu: last_error \"%s\", want \"%s...%s\"",
                     (unsigned long)i, what, want, r->says);
        /* the hive on disk is exactly as it was */
        after = read_file(path, &len);
        assert_int_equal(len, strlen(r->text));
        assert_memory_equal(after, r->text, len);
        free(after);
        assert_int_equal(p->reg_read(p, LXSS_KEY, "KernelVersion", &type, buf,
                                     &size), r->code);
        assert_int_equal(p->reg_key_exists(p, LXSS_KEY, &exists), r->code);
        assert_int_equal(exists, 0);
    }
    free(path);
    test_machine_free(m);
}

static void platform_refuses_oversized_hive(void **state)
{
    test_machine *m = test_machine_new(NULL);
    ksvc_platform *p = test_machine_platform(m);
    char *path = hive_file(m), first[sizeof(HDR) - 1];
    off_t big = (off_t)KSVC__HIVE_FILE_MAX + 1;
    FILE *head;
    char what[1024], buf[8];
    size_t size = sizeof(buf), len;
    ksvc_reg_change change = { "KernelVersion", 0, KSVC_REG_SZ, "1", 2 };
    struct stat before, now;

    (void)state;
    /* sparse beyond the header: the bound is checked before reading */
    write_file(path, HDR, strlen(HDR));
    assert_int_equal(truncate(path, big), 0);
    assert_int_equal(stat(path, &before), 0);
    assert_int_equal(p->reg_read(p, LXSS_KEY, "KernelVersion", NULL, buf, &size),
                     KSVC_E_TOO_LONG);
    p->last_error(p, NULL, what, sizeof(what));
    assert_non_null(strstr(what, "registry.reg"));
    assert_non_null(strstr(what, "268435456 bytes (256 MiB)"));
    assert_int_equal(p->reg_write(p, LXSS_KEY, &change, 1), KSVC_E_TOO_LONG);
    p->last_error(p, NULL, what, sizeof(what));
    assert_non_null(strstr(what, "registry.reg"));
    /* nothing changed: the same file, untouched, and no temporary */
    assert_int_equal(stat(path, &now), 0);
    assert_int_equal(now.st_ino, before.st_ino);
    assert_int_equal(now.st_size, big);
    assert_int_equal(now.st_mtime, before.st_mtime);
    head = fopen(path, "rb");
    assert_non_null(head);
    len = fread(first, 1, sizeof(first), head);
    fclose(head);
    assert_int_equal(len, sizeof(first));
    assert_memory_equal(first, HDR, sizeof(first));
    free(path);
    path = malloc(strlen(test_machine_root(m)) + 32);
    sprintf(path, "%s/registry.reg.tmp", test_machine_root(m));
    assert_int_equal(stat(path, &now), -1);
    free(path);
    test_machine_free(m);
}

static void platform_reads_hand_written_hive(void **state)
{
    /* what a person might write: BOM, LF, comments, blanks, odd case */
    static const char text[] =
        "\xEF\xBB\xBFWindows Registry Editor Version 5.00\n"
        "; written by hand\n"
        "\n"
        "[hkey_local_machine\\software\\microsoft\\windows\\currentversion\\lxss]\n"
        "  \"KernelVersion\" = \"5.15.153.1\"\n"
        "\"KServiceBadVersions\"=hex(7):35,00,2e,00,31,00,00,00,\\\n"
        "    00,00\n";
    test_machine *m = test_machine_new(NULL);
    ksvc_platform *p = test_machine_platform(m);
    char *path = hive_file(m);
    char buf[64];
    size_t size = sizeof(buf);
    uint32_t type = 0;
    int exists = 0;

    (void)state;
    write_file(path, text, sizeof(text) - 1);
    assert_int_equal(p->reg_read(p, LXSS_KEY, "KernelVersion", &type, buf,
                                 &size), KSVC_OK);
    assert_int_equal(type, KSVC_REG_SZ);
    assert_string_equal(buf, "5.15.153.1");
    size = sizeof(buf);
    assert_int_equal(p->reg_read(p, LXSS_KEY, "KServiceBadVersions", &type, buf,
                                 &size), KSVC_OK);
    assert_int_equal(type, KSVC_REG_MULTI_SZ);
    assert_int_equal(size, 5);
    assert_memory_equal(buf, "5.1\0", 5);
    assert_int_equal(p->reg_key_exists(p, "SOFTWARE\\Microsoft", &exists),
                     KSVC_OK);
    assert_true(exists);
    free(path);
    test_machine_free(m);
}

/* What regedit /E writes by default: UTF-16LE after a BOM, CRLF, the
 * version 5 header, hex(2) (REG_EXPAND_SZ), hex(7), hex(b) (REG_QWORD) and
 * hex: lists continued with a backslash. */
static const char regedit_export[] =
    HDR "\r\n"
    "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Lxss]\r\n"
    "\"KernelVersion\"=\"5.15.153.1\"\r\n"
    "\"Path\"=hex(2):25,00,53,00,79,00,73,00,74,00,65,00,6d,00,52,00,6f,00,\\\r\n"
    "  6f,00,74,00,25,00,00,00\r\n"
    "\"List\"=hex(7):61,00,00,00,c3,00,00,00,00,00\r\n"
    "\"Big\"=hex(b):01,00,00,00,00,00,00,00\r\n"
    "\"Raw\"=hex:de,ad,\\\r\n"
    "  be,ef\r\n"
    "\"Flags\"=dword:0000002a\r\n"
    "\r\n";

/* @text (ASCII) as UTF-16LE after a BOM; @len receives the bytes. */
static char *utf16le_of(const char *text, size_t *len)
{
    const unsigned char *in = (const unsigned char *)text;
    size_t n = strlen(text), i, used = 2;
    char *out = malloc(2 * n + 2);

    assert_non_null(out);
    out[0] = (char)0xFF;
    out[1] = (char)0xFE;
    for (i = 0; i < n; i++) {
        unsigned unit = in[i];
        if ((in[i] & 0xE0) == 0xC0 && i + 1 < n) { /* two-byte UTF-8 */
            unit = ((in[i] & 0x1Fu) << 6) | (in[i + 1] & 0x3Fu);
            i++;
        }
        out[used++] = (char)(unit & 0xFF);
        out[used++] = (char)(unit >> 8);
    }
    *len = used;
    return out;
}


static void reads_and_writes_back_regedit_utf16(void **state)
{
    const unsigned char qword[8] = { 1, 0, 0, 0, 0, 0, 0, 0 };
    const unsigned char raw[4] = { 0xde, 0xad, 0xbe, 0xef };
    size_t len, out_len;
    char *utf16 = utf16le_of(regedit_export, &len), *out = NULL;
    ksvc__hive *utf8 = parse_ok(regedit_export);
    ksvc__hive *h = parse_bytes_ok(utf16, len);

    (void)state;
    assert_int_equal(h->encoding, KSVC__HIVE_UTF16LE);
    assert_true(ksvc__hive_equal(h, utf8));
    assert_sz(h, LXSS_PATH, "KernelVersion", "5.15.153.1");
    assert_data(h, LXSS_PATH, "Big", 11, qword, 8);
    assert_data(h, LXSS_PATH, "Raw", KSVC__REG_BINARY, raw, 4);
    assert_data(h, LXSS_PATH, "List", KSVC_REG_MULTI_SZ, "a\0\xC3\x83\0", 6);
    assert_int_equal(get(h, LXSS_PATH, "Path")->type, 2);
    /* Written back as it came: UTF-16LE with its BOM, the same text. */
    assert_int_equal(ksvc__hive_serialize(h, &out, &out_len), KSVC_OK);
    assert_true(out_len > 2);
    assert_memory_equal(out, "\xFF\xFE", 2);
    ksvc__hive_free(utf8);
    utf8 = parse_bytes_ok(out, out_len);
    assert_true(ksvc__hive_equal(h, utf8));
    assert_int_equal(utf8->encoding, KSVC__HIVE_UTF16LE);
    free(out);
    free(utf16);
    ksvc__hive_free(utf8);
    ksvc__hive_free(h);
}

static void keeps_bom_and_regedit4_header(void **state)
{
    const char *v4 = "REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\A]\r\n"
                     "\"x\"=\"1\"\r\n\r\n";
    char bom[1024], *out = NULL;
    size_t out_len;
    ksvc__hive *h;

    (void)state;
    h = parse_ok(v4);
    assert_true(h->regedit4);
    assert_int_equal(ksvc__hive_serialize(h, &out, &out_len), KSVC_OK);
    assert_string_equal(out, v4);
    free(out);
    ksvc__hive_free(h);
    snprintf(bom, sizeof(bom), "\xEF\xBB\xBF%s", regedit_export);
    h = parse_ok(bom);
    assert_int_equal(h->encoding, KSVC__HIVE_UTF8_BOM);
    assert_int_equal(ksvc__hive_serialize(h, &out, &out_len), KSVC_OK);
    assert_memory_equal(out, "\xEF\xBB\xBF" HDR, 3 + strlen(HDR));
    free(out);
    ksvc__hive_free(h);
}

static void refuses_broken_utf16(void **state)
{
    static const char odd[] = "\xFF\xFE" "W\0i\0n";
    static const char lone[] = "\xFF\xFE" "W\0\x00\xD8" "i\0";
    static const char nul[] = "\xFF\xFE" "W\0\0\0i\0";
    ksvc__hive *h = NULL;
    char err[256];

    (void)state;
    assert_int_equal(ksvc__hive_parse(odd, sizeof(odd) - 1, &h, err,
                                      sizeof(err)),
                     KSVC_E_HIVE);
    assert_non_null(strstr(err, "odd"));
    assert_int_equal(ksvc__hive_parse(lone, sizeof(lone) - 1, &h, err,
                                      sizeof(err)),
                     KSVC_E_HIVE);
    assert_non_null(strstr(err, "not UTF-16"));
    assert_int_equal(ksvc__hive_parse(nul, sizeof(nul) - 1, &h, err,
                                      sizeof(err)),
                     KSVC_E_HIVE);
    assert_null(h);
}

/* ---- values too large to be held ---- */

/* A growable text for the tests below. */
typedef struct text_buf {
    char *data;
    size_t len;
    size_t room;
} text_buf;

static void add_text(text_buf *t, const char *text, size_t n)
{
    if (t->len + n + 1 > t->room) {
        t->room = 2 * (t->len + n + 1);
        t->data = realloc(t->data, t->room);
        assert_non_null(t->data);
    }
    memcpy(t->data + t->len, text, n);
    t->len += n;
    t->data[t->len] = '\0';
}

static void add_str(text_buf *t, const char *text)
{
    add_text(t, text, strlen(text));
}

/* `"name"=hex:` (or hex(N) when @p type is not REG_BINARY) with the
 * @p size bytes made by @p byte_at, 25 a line like regedit; @p lines
 * receives the number of lines it takes. */
static void add_hex_value(text_buf *t, const char *name, const char *type,
                          size_t size, unsigned char (*byte_at)(size_t),
                          unsigned *lines)
{
    char pair[8];
    size_t i;

    add_str(t, "\"");
    add_str(t, name);
    add_str(t, "\"=");
    add_str(t, type);
    *lines = 1;
    for (i = 0; i < size; i++) {
        sprintf(pair, i + 1 < size ? "%02x," : "%02x", byte_at(i));
        add_str(t, pair);
        if (i % 25 == 24 && i + 1 < size) {
            add_str(t, "\\\r\n  ");
            ++*lines;
        }
    }
    add_str(t, "\r\n");
}

static unsigned char pattern_byte(size_t i)
{
    return (unsigned char)(i * 7u % 251u);
}

/* UTF-16LE of strings "ab...z" of 100 characters each, NUL-terminated,
 * then the final empty string: the bytes of a hex(7) list. */
static unsigned char multi_byte(size_t i)
{
    size_t unit = i / 2, in_string = unit % 101;

    if (i % 2 == 1 || in_string == 100 || unit >= 1010 * 101)
        return 0; /* high bytes, terminators, the final empty string */
    return (unsigned char)('a' + in_string % 26);
}

#define BIG_BIN (100u * 1024u)    /* bytes of a binary value */
#define BIG_STR (200u * 1024u)    /* characters of a string */
#define BIG_MULTI (202u * 1010u + 2u) /* of a hex(7) list: 1010 strings */

/* A hive with one value of each kind beyond KSVC__HIVE_KEEP_MAX, and a
 * small one after them. */
static text_buf large_values_hive(void)
{
    text_buf t = { NULL, 0, 0 };
    unsigned lines;
    size_t i;

    add_str(&t, HDR "\r\n[HKEY_LOCAL_MACHINE\\A]\r\n");
    add_hex_value(&t, "bin", "hex:", BIG_BIN, pattern_byte, &lines);
    add_str(&t, "\"str\"=\"");
    for (i = 0; i < BIG_STR; i++)
        add_text(&t, i % 1000 == 999 ? "\\\"" : i % 1000 == 500 ? "\xC3\xBC"
                                                                 : "s",
                 i % 1000 == 999 || i % 1000 == 500 ? 2 : 1);
    add_str(&t, "\"\r\n");
    add_hex_value(&t, "multi", "hex(7):", BIG_MULTI, multi_byte, &lines);
    add_str(&t, "\"small\"=\"x\"\r\n\r\n");
    return t;
}

static void assert_spanned_value(const ksvc__hive *h, const char *name,
                                 uint32_t type, const void *want,
                                 size_t want_size)
{
    const ksvc__hive_value *v = get(h, "HKEY_LOCAL_MACHINE\\A", name);
    unsigned char *buf;
    int os_error = -1;

    assert_non_null(v);
    assert_true(v->span.length > 0);
    assert_null(v->data);
    assert_int_equal(v->type, type);
    assert_int_equal(v->size, want_size);
    buf = malloc(v->size);
    assert_non_null(buf);
    assert_int_equal(ksvc__hive_value_read(h, v, buf, &os_error), KSVC_OK);
    assert_memory_equal(buf, want, want_size);
    free(buf);
}

/* The in-memory forms the values of large_values_hive() must read as. */
static void check_large_values(const ksvc__hive *h)
{
    unsigned char *bin = malloc(BIG_BIN), *multi = malloc(BIG_MULTI);
    char *str = malloc(BIG_STR + BIG_STR / 500 + 2), *at;
    size_t i, used = 0;

    assert_non_null(bin);
    assert_non_null(multi);
    assert_non_null(str);
    for (i = 0; i < BIG_BIN; i++)
        bin[i] = pattern_byte(i);
    assert_spanned_value(h, "bin", KSVC__REG_BINARY, bin, BIG_BIN);
    at = str;
    for (i = 0; i < BIG_STR; i++) {
        if (i % 1000 == 500) {
            memcpy(at, "\xC3\xBC", 2);
            at += 2;
        } else {
            *at++ = i % 1000 == 999 ? '"' : 's';
        }
    }
    *at++ = '\0';
    assert_spanned_value(h, "str", KSVC_REG_SZ, str, (size_t)(at - str));
    /* hex(7) in memory: UTF-8 strings, each with its NUL, then one more */
    for (i = 0; i + 1 < BIG_MULTI; i += 2)
        if (multi_byte(i) != 0 || (i / 2) % 101 == 100)
            multi[used++] = multi_byte(i);
    multi[used++] = '\0'; /* the final empty string */
    assert_spanned_value(h, "multi", KSVC_REG_MULTI_SZ, multi, used);
    assert_sz(h, "HKEY_LOCAL_MACHINE\\A", "small", "x");
    free(bin);
    free(multi);
    free(str);
}

/* A value whose in-memory form is beyond KSVC__HIVE_KEEP_MAX is checked
 * and spanned, not held; it reads back on demand, and serializing copies
 * its text verbatim. */
static void large_values_are_spanned(void **state)
{
    text_buf t = large_values_hive();
    ksvc__hive *h = parse_bytes_ok(t.data, t.len), *from_file = NULL;
    char *text, err[256];
    size_t len;
    int fd, os_error = 0;
    FILE *f = tmpfile();

    (void)state;
    check_large_values(h);
    assert_int_equal(ksvc__hive_serialize(h, &text, &len), KSVC_OK);
    assert_int_equal(len, t.len);
    assert_memory_equal(text, t.data, len);
    assert_round_trip(h);
    free(text);
    /* the same from a file, which the hive keeps open */
    assert_non_null(f);
    assert_int_equal(fwrite(t.data, 1, t.len, f), t.len);
    fflush(f);
    fd = dup(fileno(f));
    fclose(f);
    assert_int_equal(ksvc__hive_parse_fd(fd, t.len, &from_file, err,
                                         sizeof(err), &os_error), KSVC_OK);
    check_large_values(from_file);
    assert_true(ksvc__hive_equal(h, from_file));
    /* setting a spanned value holds the new data */
    assert_int_equal(ksvc__hive_set(from_file, "HKEY_LOCAL_MACHINE\\A", "str",
                                    KSVC_REG_SZ, "y", 2), KSVC_OK);
    assert_sz(from_file, "HKEY_LOCAL_MACHINE\\A", "str", "y");
    assert_int_equal(get(from_file, "HKEY_LOCAL_MACHINE\\A", "str")->span.length,
                     0);
    assert_round_trip(from_file);
    ksvc__hive_free(from_file);
    ksvc__hive_free(h);
    free(t.data);
}

/* The same hive in UTF-16LE: spans are its bytes, copied verbatim. */
static void large_values_are_spanned_in_utf16(void **state)
{
    text_buf t = large_values_hive();
    size_t wide_len, len;
    char *wide = utf16le_of(t.data, &wide_len), *text;
    ksvc__hive *h = parse_bytes_ok(wide, wide_len);

    (void)state;
    assert_int_equal(h->encoding, KSVC__HIVE_UTF16LE);
    check_large_values(h);
    assert_int_equal(ksvc__hive_serialize(h, &text, &len), KSVC_OK);
    assert_int_equal(len, wide_len);
    assert_memory_equal(text, wide, len);
    free(text);
    ksvc__hive_free(h);
    free(wide);
    free(t.data);
}

/* Damage inside a value that is not held is found as it goes by, with the
 * line it is on. */
static void damage_inside_large_values(void **state)
{
    text_buf t = { NULL, 0, 0 };
    ksvc__hive *h = NULL;
    char err[256], expected[64];
    unsigned lines;
    size_t i, at;

    (void)state;
    /* a bad hex byte on line 3 + 2000 of a binary value */
    add_str(&t, HDR "[HKEY_LOCAL_MACHINE\\A]\r\n");
    add_hex_value(&t, "bin", "hex:", BIG_BIN, pattern_byte, &lines);
    at = (size_t)(strstr(t.data, "\\\r\n") - t.data);
    for (i = 0; i < 2000; i++)
        at += (size_t)(strstr(t.data + at + 1, "\\\r\n") - (t.data + at));
    memcpy(t.data + at + 5, "zz", 2); /* the first byte of line 2003 */
    assert_int_equal(ksvc__hive_parse(t.data, t.len, &h, err, sizeof(err)),
                     KSVC_E_HIVE);
    assert_null(h);
    assert_non_null(strstr(err, "line 2004: bad hex byte 'z'"));
    /* invalid UTF-8 and a control character far into a long string line */
    t.len = 0;
    add_str(&t, HDR "[HKEY_LOCAL_MACHINE\\A]\r\n\"s\"=\"");
    for (i = 0; i < BIG_STR; i++)
        add_str(&t, "s");
    add_str(&t, "\"\r\n");
    t.data[t.len - 1000] = '\xFF';
    assert_int_equal(ksvc__hive_parse(t.data, t.len, &h, err, sizeof(err)),
                     KSVC_E_HIVE);
    assert_non_null(strstr(err, "line 3: invalid UTF-8"));
    t.data[t.len - 1000] = '\x02';
    assert_int_equal(ksvc__hive_parse(t.data, t.len, &h, err, sizeof(err)),
                     KSVC_E_HIVE);
    assert_non_null(strstr(err, "line 3: control character 0x02"));
    t.data[t.len - 3] = 's'; /* the closing quote */
    t.data[t.len - 1000] = 's';
    assert_int_equal(ksvc__hive_parse(t.data, t.len, &h, err, sizeof(err)),
                     KSVC_E_HIVE);
    assert_non_null(strstr(err, "line 3: unterminated string"));
    /* invalid UTF-16 inside a large hex(7): found at the list's end */
    t.len = 0;
    add_str(&t, HDR "[HKEY_LOCAL_MACHINE\\A]\r\n");
    add_hex_value(&t, "multi", "hex(7):", BIG_MULTI, multi_byte, &lines);
    at = (size_t)(strstr(t.data, "hex(7):") - t.data) + 7 + 3 * 100000;
    memcpy(t.data + at, "00,dc", 5); /* a lone low surrogate */
    assert_int_equal(ksvc__hive_parse(t.data, t.len, &h, err, sizeof(err)),
                     KSVC_E_HIVE);
    snprintf(expected, sizeof(expected),
             "line %u: REG_MULTI_SZ holds invalid UTF-16", 2 + lines);
    assert_non_null(strstr(err, expected));
    assert_null(h);
    free(t.data);
}

/* Through the platform table: a value too large to be held is read into a
 * buffer large enough and reported too long for a smaller one, listed with
 * KSVC_E_TOO_LONG, and kept byte for byte by a write of another value. */
static int list_big(void *arg, const ksvc_reg_value *value)
{
    size_t *seen = arg;

    if (strcmp(value->name, "str") == 0) {
        assert_int_equal(value->error, KSVC_E_TOO_LONG);
        assert_null(value->data);
        *seen = value->size;
    }
    return KSVC_OK;
}

static void platform_reads_large_values_on_demand(void **state)
{
    test_machine *m = test_machine_new(NULL);
    ksvc_platform *p = test_machine_platform(m);
    char *path = hive_file(m), *text, *after, *big;
    ksvc_reg_change change = { "KernelVersion", 0, KSVC_REG_SZ, "6.1.0", 6 };
    text_buf t = { NULL, 0, 0 };
    size_t len, size, listed = 0, i;
    uint32_t type = 0;
    const char *value_line;

    (void)state;
    text = read_file(path, &len);
    add_text(&t, text, len);
    free(text);
    add_str(&t, "[HKEY_LOCAL_MACHINE\\" LXSS_KEY "\\Big]\r\n\"str\"=\"");
    for (i = 0; i < BIG_STR; i++)
        add_str(&t, "s");
    add_str(&t, "\"\r\n\r\n");
    write_file(path, t.data, t.len);
    big = malloc(BIG_STR + 1);
    assert_non_null(big);
    size = 100;
    assert_int_equal(p->reg_read(p, LXSS_KEY "\\Big", "str", &type, big,
                                 &size), KSVC_E_TOO_LONG);
    assert_int_equal(size, BIG_STR + 1);
    assert_int_equal(p->reg_read(p, LXSS_KEY "\\Big", "str", &type, big,
                                 &size), KSVC_OK);
    assert_int_equal(type, KSVC_REG_SZ);
    assert_int_equal(strlen(big), BIG_STR);
    assert_int_equal(strspn(big, "s"), BIG_STR);
    assert_int_equal(p->reg_list(p, LXSS_KEY "\\Big", list_big, &listed),
                     KSVC_OK);
    assert_int_equal(listed, BIG_STR + 1);
    assert_int_equal(p->reg_write(p, LXSS_KEY, &change, 1), KSVC_OK);
    after = read_file(path, &len);
    value_line = strstr(t.data, "\"str\"=");
    assert_non_null(value_line);
    assert_true(len > strlen(value_line));
    assert_memory_equal(after + len - strlen(value_line), value_line,
                        strlen(value_line));
    free(after);
    free(big);
    free(t.data);
    free(path);
    test_machine_free(m);
}

/* Deletions as regedit imports them: the value or the key (with every
 * key below it) is gone, absent is fine, and a name may come back. */
static void reads_deletions(void **state)
{
    ksvc__hive *h = parse_ok(
        HDR "\r\n[HKEY_LOCAL_MACHINE\\A]\r\n\"x\"=\"1\"\r\n\"y\"=\"2\"\r\n"
        "\"x\"=-\r\n\"absent\"=-\r\n\"X\"=\"3\"\r\n\r\n"
        "[HKEY_LOCAL_MACHINE\\A\\B]\r\n\"z\"=\"4\"\r\n"
        "[HKEY_LOCAL_MACHINE\\AB]\r\n\"w\"=\"5\"\r\n"
        "[-HKEY_LOCAL_MACHINE\\a\\b]\r\n[-HKEY_LOCAL_MACHINE\\None]\r\n"
        "[HKEY_LOCAL_MACHINE\\C]\r\n\"v\"=\"6\"\r\n[-HKEY_LOCAL_MACHINE\\C]\r\n"
        "[HKEY_LOCAL_MACHINE\\C]\r\n\"v\"=\"7\"\r\n");

    (void)state;
    assert_int_equal(h->key_count, 3); /* A, AB, C */
    assert_null(ksvc__hive_get(h, "HKEY_LOCAL_MACHINE\\A", "absent"));
    assert_sz(h, "HKEY_LOCAL_MACHINE\\A", "y", "2");
    assert_sz(h, "HKEY_LOCAL_MACHINE\\A", "X", "3");
    assert_int_equal(ksvc__hive_find_key(h, "HKEY_LOCAL_MACHINE\\A")
                         ->values[1].name[0], 'X'); /* x went, X came after y */
    assert_null(ksvc__hive_find_key(h, "HKEY_LOCAL_MACHINE\\A\\B"));
    assert_sz(h, "HKEY_LOCAL_MACHINE\\AB", "w", "5");
    assert_sz(h, "HKEY_LOCAL_MACHINE\\C", "v", "7");
    assert_round_trip(h);
    ksvc__hive_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_every_form),
        cmocka_unit_test(reads_and_writes_back_regedit_utf16),
        cmocka_unit_test(keeps_bom_and_regedit4_header),
        cmocka_unit_test(refuses_broken_utf16),
        cmocka_unit_test(reads_deletions),
        cmocka_unit_test(large_values_are_spanned),
        cmocka_unit_test(large_values_are_spanned_in_utf16),
        cmocka_unit_test(damage_inside_large_values),
        cmocka_unit_test(platform_reads_large_values_on_demand),
        cmocka_unit_test(platform_keeps_the_encoding_it_read),
        cmocka_unit_test(bom_lf_and_crlf_read_alike),
        cmocka_unit_test(continuation_lines_join),
        cmocka_unit_test(non_ascii_multi_strings),
        cmocka_unit_test(empty_multi_string),
        cmocka_unit_test(sz_and_dword_as_hex),
        cmocka_unit_test(serializes_like_regedit),
        cmocka_unit_test(long_values_wrap_at_80_columns),
        cmocka_unit_test(names_compare_without_case),
        cmocka_unit_test(set_and_delete_keep_order),
        cmocka_unit_test(set_refuses_malformed_data),
        cmocka_unit_test(many_values_parse_quickly),
        cmocka_unit_test(parser_refuses_damage),
        cmocka_unit_test(parser_refuses_a_nul_byte),
        cmocka_unit_test(parser_refuses_binary_garbage),
        cmocka_unit_test(parser_refuses_absurd_sizes),
        cmocka_unit_test(platform_refuses_damaged_hive),
        cmocka_unit_test(platform_refuses_oversized_hive),
        cmocka_unit_test(platform_reads_hand_written_hive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
