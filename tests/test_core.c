/*
 * Backend-free parts of the core: kernel version parsing and comparison,
 * the built-in SHA-256 against the FIPS 180 vectors, the error list.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

static void kver_parses_wsl_versions(void **state)
{
    ksvc_kver v = KSVC_KVER_INIT;

    (void)state;
    assert_int_equal(ksvc_kver_parse("5.15.153.1-microsoft-standard-WSL2", &v),
                     KSVC_OK);
    assert_int_equal(v.count, 4);
    assert_int_equal(v.parts[0], 5);
    assert_int_equal(v.parts[1], 15);
    assert_int_equal(v.parts[2], 153);
    assert_int_equal(v.parts[3], 1);
    assert_string_equal(v.suffix, "-microsoft-standard-WSL2");
    assert_int_equal(ksvc_kver_parse("4294967295", &v), KSVC_OK);
    assert_int_equal(v.parts[0], 4294967295u);
    assert_int_equal(ksvc_kver_parse("1.2.3.4.5.6.7.8", &v), KSVC_OK);
    assert_int_equal(v.count, 8);
}

static void kver_refuses_malformed(void **state)
{
    static const char *const bad[] = {
        "", "B", ".1", "1.", "1..2", "1.2.", "v1.2", "1.2 ", " 1.2",
        "1.2-", "1.2-a b", "1.2_x", "4294967296", "1.99999999999999999999",
        "1.2.3.4.5.6.7.8.9", "1.2-\xc3\xa9", "-1",
    };
    ksvc_kver v = KSVC_KVER_INIT;
    char overlong[KSVC_KVER_MAX + 2];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int err = ksvc_kver_parse(bad[i], &v);
        if (err != KSVC_E_VERSION_SYNTAX)
            fail_msg("\"%s\" gave %s", bad[i], ksvc_error_name(err));
    }
    memset(overlong, '1', sizeof overlong - 1);
    overlong[sizeof overlong - 1] = '\0';
    assert_int_equal(ksvc_kver_parse(overlong, &v), KSVC_E_TOO_LONG);
    v.version = 0;
    assert_int_equal(ksvc_kver_parse("1.2", &v), KSVC_E_STRUCT_VERSION);
    v.version = 77;
    assert_int_equal(ksvc_kver_parse("1.2", &v), KSVC_E_STRUCT_VERSION);
}

static void kver_compares_numerically(void **state)
{
    static const struct {
        const char *a, *b;
        int expected;
    } cases[] = {
        {"5.10.102.1", "5.15.90.1", -1},
        {"5.15.153.1", "5.15.90.1", 1},   /* 153 > 90, not as text */
        /* the suffix counts: a bare version sorts first (test_kver.c) */
        {"5.15.153.1-microsoft-standard-WSL2", "5.15.153.1", 1},
        {"5.15", "5.15.0.0", 0},
        {"5.15.0.1", "5.15", 1},
        {"10.0", "9.99", 1},
        {"4294967295", "4294967294", 1},
    };
    size_t i;
    int result;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(ksvc_kver_compare(cases[i].a, cases[i].b, &result),
                         KSVC_OK);
        assert_int_equal(result, cases[i].expected);
        assert_int_equal(ksvc_kver_compare(cases[i].b, cases[i].a, &result),
                         KSVC_OK);
        assert_int_equal(result, -cases[i].expected);
    }
    assert_int_equal(ksvc_kver_compare("1.x", "1.0", &result),
                     KSVC_E_VERSION_SYNTAX);
    assert_int_equal(ksvc_kver_compare("1.0", NULL, &result),
                     KSVC_E_INVALID_ARGUMENT);
}

static void sha_hex(const void *data, size_t size, size_t split, char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    ksvc__sha256 s;
    unsigned char digest[32];
    size_t i;

    ksvc__sha256_init(&s);
    ksvc__sha256_update(&s, data, split);
    ksvc__sha256_update(&s, (const char *)data + split, size - split);
    ksvc__sha256_final(&s, digest);
    for (i = 0; i < 32; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[64] = '\0';
}

/* FIPS 180-2 appendix B vectors, fed whole and in uneven pieces. */
static void builtin_sha256_matches_fips_vectors(void **state)
{
    static const struct {
        const char *text;
        const char *digest;
    } vectors[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc",
         "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    char hex[65];
    char *million;
    size_t i, split;

    (void)state;
    for (i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        size_t len = strlen(vectors[i].text);
        for (split = 0; split <= len; split++) {
            sha_hex(vectors[i].text, len, split, hex);
            assert_string_equal(hex, vectors[i].digest);
        }
    }
    million = malloc(1000000);
    assert_non_null(million);
    memset(million, 'a', 1000000);
    sha_hex(million, 1000000, 63, hex);
    assert_string_equal(
        hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(million);
}

static void error_list_is_complete(void **state)
{
    int err;

    (void)state;
    assert_string_equal(ksvc_error_name(KSVC_OK), "KSVC_OK");
    assert_string_equal(ksvc_error_name(KSVC_E_BUSY), "KSVC_E_BUSY");
    assert_string_equal(ksvc_error_name(1), "KSVC_E_UNKNOWN");
    assert_string_equal(ksvc_strerror(-1000), "unknown error");
    assert_string_equal(ksvc_strerror(KSVC_E_PRECHECK),
                        "This update only applies to machines with the "
                        "Windows Subsystem for Linux.");
    for (err = -1; err > KSVC_E_LAST_; err--) {
        assert_string_not_equal(ksvc_error_name(err), "KSVC_E_UNKNOWN");
        assert_string_not_equal(ksvc_strerror(err), "unknown error");
    }
    assert_string_equal(ksvc_error_name(KSVC_E_LAST_), "KSVC_E_UNKNOWN");
}

static void runtime_version_matches_headers(void **state)
{
    char text[32];

    (void)state;
    assert_int_equal(ksvc_version(), KSVC_VERSION_HEX);
    snprintf(text, sizeof text, "%d.%d.%d", KSVC_VERSION_MAJOR,
             KSVC_VERSION_MINOR, KSVC_VERSION_PATCH);
    assert_string_equal(ksvc_version_string(), text);
    assert_string_equal(ksvc_version_string(), KSVC_VERSION_STRING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kver_parses_wsl_versions),
        cmocka_unit_test(kver_refuses_malformed),
        cmocka_unit_test(kver_compares_numerically),
        cmocka_unit_test(builtin_sha256_matches_fips_vectors),
        cmocka_unit_test(error_list_is_complete),
        cmocka_unit_test(runtime_version_matches_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
