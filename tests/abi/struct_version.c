/*
 * Every options or result structure starts with a version field, and the
 * library refuses a version it does not know with KSVC_E_STRUCT_VERSION
 * (KSVC_E_PLATFORM_VERSION for the platform table) without touching the
 * machine or the caller's structure.  Each case is paired with the same call
 * at the current version, which must succeed, so the refusal is known to
 * come from the version and nothing else.
 */
#ifndef _WIN32
#define _POSIX_C_SOURCE 200809L /* lstat */
#endif

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <kservice/kservice.h>
#ifdef _WIN32
#include <kservice/win32.h>
#else
#include <kservice/posix.h>
#include <sys/stat.h>
#endif

#include "machine.h"

/* An older version (0: before the first release) and unknown newer ones. */
#define BAD_VERSION_COUNT 3
static unsigned bad_versions(unsigned current, size_t k)
{
    const unsigned list[BAD_VERSION_COUNT] = { 0u, current + 1u, UINT_MAX };
    return list[k];
}

/* Bytes a refused call must leave alone in the caller's structure. */
#define POISON 0xA5

struct fixture {
    test_machine *machine;
    ksvc_context *ctx;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);

    assert_non_null(f);
    f->machine = test_machine_new(NULL);
    assert_int_equal(ksvc_open(&f->ctx, test_machine_platform(f->machine),
                               NULL),
                     KSVC_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    ksvc_close(f->ctx);
    test_machine_free(f->machine);
    free(f);
    return 0;
}

/* ---- ksvc_kver ---------------------------------------------------------- */

static void kver_parse_refuses_unknown_versions(void **state)
{
    ksvc_kver good = KSVC_KVER_INIT;
    size_t k;

    (void)state;
    for (k = 0; k < BAD_VERSION_COUNT; k++) {
        ksvc_kver out, before;

        memset(&out, POISON, sizeof out);
        out.version = bad_versions(KSVC_KVER_VERSION, k);
        memcpy(&before, &out, sizeof before);
        assert_int_equal(ksvc_kver_parse("5.15.153.1", &out),
                         KSVC_E_STRUCT_VERSION);
        assert_memory_equal(&out, &before, sizeof out);
    }
    assert_int_equal(ksvc_kver_parse("5.15.153.1", &good), KSVC_OK);
    assert_int_equal(good.count, 4);
    assert_int_equal(good.parts[2], 153);
}

/* ---- ksvc_open_options and the platform table ---------------------------- */

static void open_refuses_unknown_option_versions(void **state)
{
    struct fixture *f = *state;
    char *before = test_machine_snapshot(f->machine);
    ksvc_open_options good = KSVC_OPEN_OPTIONS_INIT;
    ksvc_context *ctx;
    size_t k;

    for (k = 0; k < BAD_VERSION_COUNT; k++) {
        ksvc_open_options options = KSVC_OPEN_OPTIONS_INIT;
        char *after;

        options.version = bad_versions(KSVC_OPEN_OPTIONS_VERSION, k);
        ctx = (ksvc_context *)&options; /* must be reset to NULL */
        assert_int_equal(ksvc_open(&ctx, test_machine_platform(f->machine),
                                   &options),
                         KSVC_E_STRUCT_VERSION);
        assert_null(ctx);
        after = test_machine_snapshot(f->machine);
        assert_string_equal(after, before);
        free(after);
    }
    assert_int_equal(ksvc_open(&ctx, test_machine_platform(f->machine),
                               &good),
                     KSVC_OK);
    assert_non_null(ctx);
    ksvc_close(ctx);
    free(before);
}

static void open_refuses_unknown_platform_versions(void **state)
{
    struct fixture *f = *state;
    const int bad[] = { 0, -1, INT_MIN };
    char *before = test_machine_snapshot(f->machine);
    const ksvc_platform *real = test_machine_platform(f->machine);
    ksvc_platform copy;
    ksvc_context *ctx;
    size_t k;

    /* The copy differs from the machine's table only in its version, and
     * the version must be refused before any method is called: a method of
     * the copy may not be called at all (the test machine's methods find
     * their state from the table's address). */
    for (k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char *after;

        memcpy(&copy, real, sizeof copy);
        copy.version = bad[k];
        ctx = (ksvc_context *)&copy;
        assert_int_equal(ksvc_open(&ctx, &copy, NULL),
                         KSVC_E_PLATFORM_VERSION);
        assert_null(ctx);
        after = test_machine_snapshot(f->machine);
        assert_string_equal(after, before);
        free(after);
    }
    /* The table itself, at its own version, is accepted. */
    assert_int_equal(real->version, KSVC_PLATFORM_VERSION);
    assert_int_equal(ksvc_open(&ctx, real, NULL), KSVC_OK);
    ksvc_close(ctx);
    free(before);
}

/* ---- ksvc_precheck_result ------------------------------------------------ */

static void precheck_refuses_unknown_result_versions(void **state)
{
    struct fixture *f = *state;
    ksvc_precheck_result good = KSVC_PRECHECK_RESULT_INIT;
    size_t k;

    for (k = 0; k < BAD_VERSION_COUNT; k++) {
        ksvc_precheck_result result, before;

        memset(&result, POISON, sizeof result);
        result.version = bad_versions(KSVC_PRECHECK_RESULT_VERSION, k);
        memcpy(&before, &result, sizeof before);
        assert_int_equal(ksvc_precheck(f->ctx, &result),
                         KSVC_E_STRUCT_VERSION);
        assert_memory_equal(&result, &before, sizeof result);
    }
    assert_int_equal(ksvc_precheck(f->ctx, &good), KSVC_OK);
    assert_int_equal(good.reason, KSVC_PRECHECK_OK);
}

/* ---- ksvc_install_options ------------------------------------------------ */

static void install_refuses_unknown_option_versions(void **state)
{
    struct fixture *f = *state;
    const char *payload = test_machine_payload(f->machine, "A", 1, 8192);
    ksvc_install_options good = KSVC_INSTALL_OPTIONS_INIT;
    char *before = test_machine_snapshot(f->machine);
    char *after;
    size_t k;

    for (k = 0; k < BAD_VERSION_COUNT; k++) {
        ksvc_install_options options = KSVC_INSTALL_OPTIONS_INIT;

        options.version = bad_versions(KSVC_INSTALL_OPTIONS_VERSION, k);
        assert_int_equal(ksvc_install(f->ctx, payload, "5.15.153.1", &options),
                         KSVC_E_STRUCT_VERSION);
        after = test_machine_snapshot(f->machine);
        assert_string_equal(after, before);
        free(after);
    }
    /* The same call at the current version installs. */
    assert_int_equal(ksvc_install(f->ctx, payload, "5.15.153.1", &good),
                     KSVC_OK);
    after = test_machine_snapshot(f->machine);
    assert_string_not_equal(after, before);
    free(after);
    free(before);
}

/* ---- ksvc_status ---------------------------------------------------------- */

static void status_refuses_unknown_versions(void **state)
{
    struct fixture *f = *state;
    ksvc_status good = KSVC_STATUS_INIT;
    size_t k;

    for (k = 0; k < BAD_VERSION_COUNT; k++) {
        ksvc_status status, before;

        memset(&status, POISON, sizeof status);
        status.version = bad_versions(KSVC_STATUS_VERSION, k);
        status.flags = 0;
        memcpy(&before, &status, sizeof before);
        assert_int_equal(ksvc_status_get(f->ctx, &status),
                         KSVC_E_STRUCT_VERSION);
        assert_memory_equal(&status, &before, sizeof status);
    }
    assert_int_equal(ksvc_status_get(f->ctx, &good), KSVC_OK);
    assert_int_equal(good.effective, KSVC_SLOT_NONE);
}

/* A caller built when ksvc_status was at version 1 has a smaller structure:
 * the library must accept version 1 and write nothing past its fields. */
static void status_accepts_version_1_and_stays_inside_it(void **state)
{
    struct fixture *f = *state;
    const size_t v1_size = offsetof(ksvc_status, kernel_image_version);
    unsigned char *raw = malloc(sizeof(ksvc_status));
    ksvc_status *status = (ksvc_status *)raw;
    size_t k;

    assert_non_null(raw);
    memset(raw, POISON, sizeof(ksvc_status));
    status->version = 1;
    status->flags = 0;
    assert_int_equal(ksvc_status_get(f->ctx, status), KSVC_OK);
    assert_int_equal(status->version, 1);
    assert_int_equal(status->effective, KSVC_SLOT_NONE);
    for (k = v1_size; k < sizeof(ksvc_status); k++)
        assert_int_equal(raw[k], POISON);
    free(raw);
}

#ifndef _WIN32
/* ---- the POSIX backend's structures --------------------------------------- */

static void posix_open_refuses_unknown_option_versions(void **state)
{
    struct fixture *f = *state;
    char root[4096];
    ksvc_posix_options good = KSVC_POSIX_OPTIONS_INIT;
    ksvc_platform *platform;
    size_t k;

    snprintf(root, sizeof root, "%s/posix-open", test_machine_scratch(f->machine));
    assert_int_equal(ksvc_posix_init_machine(root, NULL), KSVC_OK);
    for (k = 0; k < BAD_VERSION_COUNT; k++) {
        ksvc_posix_options options = KSVC_POSIX_OPTIONS_INIT;

        options.version = bad_versions(KSVC_POSIX_OPTIONS_VERSION, k);
        options.root = root;
        platform = (ksvc_platform *)&options;
        assert_int_equal(ksvc_posix_open(&platform, &options),
                         KSVC_E_STRUCT_VERSION);
        assert_null(platform);
    }
    good.root = root;
    assert_int_equal(ksvc_posix_open(&platform, &good), KSVC_OK);
    assert_non_null(platform);
    ksvc_posix_free(platform);
}

static void posix_init_machine_refuses_unknown_versions(void **state)
{
    struct fixture *f = *state;
    char root[4096];
    ksvc_mock_machine good = KSVC_MOCK_MACHINE_INIT;
    struct stat st;
    size_t k;

    snprintf(root, sizeof root, "%s/init-machine", test_machine_scratch(f->machine));
    for (k = 0; k < BAD_VERSION_COUNT; k++) {
        ksvc_mock_machine machine = KSVC_MOCK_MACHINE_INIT;

        machine.version = bad_versions(KSVC_MOCK_MACHINE_VERSION, k);
        assert_int_equal(ksvc_posix_init_machine(root, &machine),
                         KSVC_E_STRUCT_VERSION);
        /* Nothing was created. */
        assert_int_not_equal(lstat(root, &st), 0);
    }
    assert_int_equal(ksvc_posix_init_machine(root, &good), KSVC_OK);
    assert_int_equal(lstat(root, &st), 0);
}
#endif

#ifdef _WIN32
/* ---- the Win32 backend's options ------------------------------------------ */

static void win32_open_refuses_unknown_option_versions(void **state)
{
    struct fixture *f = *state;
    char tools[4096];
    ksvc_win32_options good = KSVC_WIN32_OPTIONS_INIT;
    ksvc_platform *platform;
    size_t k;

    snprintf(tools, sizeof tools, "%s\\abi-tools",
             test_machine_scratch(f->machine));
    for (k = 0; k < BAD_VERSION_COUNT; k++) {
        ksvc_win32_options options = KSVC_WIN32_OPTIONS_INIT;

        options.version = bad_versions(KSVC_WIN32_OPTIONS_VERSION, k);
        options.tools_path = tools;
        options.registry_root = "HKCU\\Software\\kservice-abi-test";
        platform = (ksvc_platform *)&options;
        assert_int_equal(ksvc_win32_open(&platform, &options),
                         KSVC_E_STRUCT_VERSION);
        assert_null(platform);
    }
    good.tools_path = tools;
    good.registry_root = "HKCU\\Software\\kservice-abi-test";
    assert_int_equal(ksvc_win32_open(&platform, &good), KSVC_OK);
    assert_non_null(platform);
    ksvc_win32_free(platform);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kver_parse_refuses_unknown_versions),
        cmocka_unit_test_setup_teardown(open_refuses_unknown_option_versions,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(open_refuses_unknown_platform_versions,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(precheck_refuses_unknown_result_versions,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(install_refuses_unknown_option_versions,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(status_refuses_unknown_versions,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            status_accepts_version_1_and_stays_inside_it, setup, teardown),
#ifdef _WIN32
        cmocka_unit_test_setup_teardown(
            win32_open_refuses_unknown_option_versions, setup, teardown),
#else
        cmocka_unit_test_setup_teardown(
            posix_open_refuses_unknown_option_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(
            posix_init_machine_refuses_unknown_versions, setup, teardown),
#endif
    };
    return cmocka_run_group_tests_name("struct_version", tests, NULL, NULL);
}
