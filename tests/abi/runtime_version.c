/*
 * The runtime version calls agree with the version macros of the headers
 * and with the Meson project version, passed by tests/abi/meson.build as
 * KSVC_TEST_PROJECT_VERSION.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <kservice/kservice.h>

#ifndef KSVC_TEST_PROJECT_VERSION
#error "tests/abi/meson.build passes -DKSVC_TEST_PROJECT_VERSION"
#endif

static void runtime_number_matches_macros(void **state)
{
    (void)state;
    assert_int_equal(ksvc_version(), KSVC_VERSION_HEX);
    assert_int_equal((ksvc_version() >> 16) & 0xffu, KSVC_VERSION_MAJOR);
    assert_int_equal((ksvc_version() >> 8) & 0xffu, KSVC_VERSION_MINOR);
    assert_int_equal(ksvc_version() & 0xffu, KSVC_VERSION_PATCH);
}

static void runtime_string_matches_macros(void **state)
{
    char dotted[32];

    (void)state;
    assert_non_null(ksvc_version_string());
    assert_string_equal(ksvc_version_string(), KSVC_VERSION_STRING);
    snprintf(dotted, sizeof dotted, "%d.%d.%d", KSVC_VERSION_MAJOR,
             KSVC_VERSION_MINOR, KSVC_VERSION_PATCH);
    assert_string_equal(KSVC_VERSION_STRING, dotted);
}

static void macros_match_meson_project_version(void **state)
{
    (void)state;
    assert_string_equal(KSVC_VERSION_STRING, KSVC_TEST_PROJECT_VERSION);
    assert_string_equal(ksvc_version_string(), KSVC_TEST_PROJECT_VERSION);
}

static void runtime_string_is_stable(void **state)
{
    const char *first = ksvc_version_string();

    (void)state;
    /* A static string: the same pointer and text on every call. */
    assert_ptr_equal(first, ksvc_version_string());
    assert_string_equal(first, ksvc_version_string());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(runtime_number_matches_macros),
        cmocka_unit_test(runtime_string_matches_macros),
        cmocka_unit_test(macros_match_meson_project_version),
        cmocka_unit_test(runtime_string_is_stable),
    };
    return cmocka_run_group_tests_name("runtime_version", tests, NULL, NULL);
}
