/*
 * Kernel version identity and order (issue 10, part C): the shapes real
 * kernels name themselves with (WSL's, Debian's, Ubuntu's, `+` builds),
 * the normalisation that makes two spellings one version, the library's
 * match of a version recorded without suffix, and the order being total.
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

static int order(const char *a, const char *b)
{
    int result = 99;

    if (ksvc_kver_compare(a, b, &result) != KSVC_OK)
        fail_msg("comparing \"%s\" with \"%s\" failed", a, b);
    return result;
}

/* a < b, both ways round, and neither is the same version as the other. */
static void assert_older(const char *a, const char *b)
{
    if (order(a, b) != -1 || order(b, a) != 1)
        fail_msg("expected %s < %s, got %d and %d", a, b, order(a, b),
                 order(b, a));
}

/* Versions that real kernels name, each strictly older than the next. */
static const char *const ascending[] = {
    "4.19.128-microsoft-standard",
    "5.10.102.1",
    "5.15",
    "5.15.0-91-generic",
    "5.15.0-91-generic+",
    "5.15.0-100-generic",
    "5.15.90.1",
    "5.15.153.1",
    "5.15.153.1-microsoft-standard-WSL2",
    "5.15.153.1-microsoft-standard-WSL2+",
    "6.1.0",
    "6.1.0+deb12u1",
    "6.1.0-9-amd64",
    "6.1.0-57-amd64",
    "6.1.0-57-cloud-amd64",
    "6.1.0-58-amd64",
    "6.1.0-100-amd64",
    "6.1.0-rc1",
    "6.6.87.2-microsoft-standard-WSL2",
    "10.0",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void order_sorts_real_shapes(void **state)
{
    size_t i, j;

    (void)state;
    for (i = 0; i < COUNT(ascending); i++) {
        assert_int_equal(order(ascending[i], ascending[i]), 0);
        for (j = i + 1; j < COUNT(ascending); j++)
            assert_older(ascending[i], ascending[j]);
    }
}

static void suffix_digit_runs_are_numbers(void **state)
{
    (void)state;
    assert_older("6.1.0-57-amd64", "6.1.0-58-amd64");
    assert_older("6.1.0-58-amd64", "6.1.0-100-amd64");
    assert_older("5.15.0-9-generic", "5.15.0-91-generic");
    /* Longer than 64 bits still compares as a number, not as text. */
    assert_older("1-99999999999999999999", "1-100000000000000000000");
    assert_older("1-a9b", "1-a10b");
}

/* Pairs that are one version after the normalisation. */
static const char *const same[][2] = {
    {"5.15", "5.15.0"},
    {"5.15", "5.15.0.0"},
    {"05.015.0153.01", "5.15.153.1"},
    {"6.1.0-057-amd64", "6.1.0-57-amd64"},
    {"6.1.0-0-amd64", "6.1.0-000-amd64"},
    {"6.1.0-57-AMD64", "6.1.0-57-amd64"},
    {"5.15.153.1-Microsoft-Standard-WSL2",
     "5.15.153.1-microsoft-standard-wsl2"},
    {"6.1-57-amd64", "6.1.0-57-amd64"},
    {"4294967295", "04294967295"},
};

/* Pairs that are different versions, though close. */
static const char *const different[][2] = {
    {"6.1.0-57-amd64", "6.1.0-58-amd64"},
    {"6.1.0-57-amd64", "6.1.0-57-cloud-amd64"},
    {"6.1.0+deb12u1", "6.1.0-deb12u1"},
    {"5.15.0-91-generic", "5.15.0-91-generic+"},
    {"5.15.0-91-generic", "5.15.0-91_generic"},
    {"5.15.153.1", "5.15.153.1.1"},
    {"5.15.153.1", "5.15.153"},
    {"6.1.0-5-7", "6.1.0-57"},
    {"6.1.0-rc1", "6.1.0-rc01a"},
};

static void identity_is_normalised_text(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < COUNT(same); i++) {
        if (order(same[i][0], same[i][1]) != 0 ||
            order(same[i][1], same[i][0]) != 0)
            fail_msg("%s and %s should be one version", same[i][0],
                     same[i][1]);
        assert_true(ksvc__kver_equal(same[i][0], same[i][1]));
        assert_true(ksvc__kver_equal(same[i][1], same[i][0]));
    }
    for (i = 0; i < COUNT(different); i++) {
        int ab = order(different[i][0], different[i][1]);
        if (ab == 0 || order(different[i][1], different[i][0]) != -ab)
            fail_msg("%s and %s should be two versions", different[i][0],
                     different[i][1]);
        assert_false(ksvc__kver_equal(different[i][0], different[i][1]));
        assert_false(ksvc__kver_equal(different[i][1], different[i][0]));
    }
}

static void bare_version_matches_any_suffix(void **state)
{
    static const char *const matches[][2] = {
        {"5.15.153.1", "5.15.153.1-microsoft-standard-WSL2"},
        {"6.1.0", "6.1.0-57-amd64"},
        {"6.1", "6.1.0-58-amd64"},
        {"6.1.0", "6.1.0+deb12u1"},
        {"5.15.0", "5.15.0-91-generic+"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < COUNT(matches); i++) {
        assert_true(ksvc__kver_equal(matches[i][0], matches[i][1]));
        assert_true(ksvc__kver_equal(matches[i][1], matches[i][0]));
        /* A match is not the same version: the order stays total. */
        assert_older(matches[i][0], matches[i][1]);
    }
    /* Other numbers never match, and two suffixes never match each other
     * even though both match the bare version. */
    assert_false(ksvc__kver_equal("5.15.153", "5.15.153.1-microsoft"));
    assert_false(ksvc__kver_equal("5.15.153.2", "5.15.153.1-microsoft"));
    assert_false(ksvc__kver_equal("6.1.0-57-amd64", "6.1.0-58-amd64"));
}

static void invalid_text_matches_only_itself(void **state)
{
    int result = 99;

    (void)state;
    assert_true(ksvc__kver_equal("banana", "banana"));
    assert_false(ksvc__kver_equal("banana", "Banana"));
    assert_false(ksvc__kver_equal("banana", "5.15.153.1"));
    assert_false(ksvc__kver_equal("5.15.153.1", "5.15.153.1 "));
    assert_int_equal(ksvc_kver_compare("6.1.0-57-amd64", "6.1.0-", &result),
                     KSVC_E_VERSION_SYNTAX);
    assert_int_equal(result, 99);
    assert_int_equal(ksvc_kver_compare("6.1.0", "6.1.0-a", NULL),
                     KSVC_E_INVALID_ARGUMENT);
}

static void plus_suffixes_parse(void **state)
{
    static const char *const texts[] = {
        "6.1.0+deb12u1", "5.15.0-91-generic+", "6.6.36.3+x_y.z", "6.1.0+",
    };
    static const char *const suffixes[] = {
        "+deb12u1", "-91-generic+", "+x_y.z", NULL,
    };
    ksvc_kver v = KSVC_KVER_INIT;
    size_t i;

    (void)state;
    for (i = 0; i < COUNT(texts); i++) {
        int err = ksvc_kver_parse(texts[i], &v);
        if (!suffixes[i]) {
            assert_int_equal(err, KSVC_E_VERSION_SYNTAX);
            continue;
        }
        assert_int_equal(err, KSVC_OK);
        assert_string_equal(v.suffix, suffixes[i]);
    }
}

/* Every triple of the sorted list and of the identity pairs: the order is
 * transitive, also through versions that are the same. */
static void order_is_transitive_over_the_examples(void **state)
{
    const char *all[COUNT(ascending) + 2 * COUNT(same)];
    size_t n = 0, i, j, k;

    (void)state;
    for (i = 0; i < COUNT(ascending); i++)
        all[n++] = ascending[i];
    for (i = 0; i < COUNT(same); i++) {
        all[n++] = same[i][0];
        all[n++] = same[i][1];
    }
    for (i = 0; i < n; i++)
        for (j = 0; j < n; j++)
            for (k = 0; k < n; k++) {
                int ij = order(all[i], all[j]), jk = order(all[j], all[k]);
                int ik = order(all[i], all[k]);
                if (ij <= 0 && jk <= 0 && ik > 0)
                    fail_msg("%s <= %s <= %s but %s > %s", all[i], all[j],
                             all[k], all[i], all[k]);
                if (ij == 0 && jk == 0 && ik != 0)
                    fail_msg("%s = %s = %s but %s != %s", all[i], all[j],
                             all[k], all[i], all[k]);
            }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(order_sorts_real_shapes),
        cmocka_unit_test(suffix_digit_runs_are_numbers),
        cmocka_unit_test(identity_is_normalised_text),
        cmocka_unit_test(bare_version_matches_any_suffix),
        cmocka_unit_test(invalid_text_matches_only_itself),
        cmocka_unit_test(plus_suffixes_parse),
        cmocka_unit_test(order_is_transitive_over_the_examples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
