/*
 * Trial boot, on whatever backend tests/machine.h is built for: a new
 * kernel is on trial until a boot of it is confirmed; ksvc_boot_begin()
 * counts each try durably, and when the tries are used up it rolls back by
 * itself, exactly as `wsl --update --rollback` does, and never takes that
 * version again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "machine.h"

#define A "5.10.102.1"
#define B "5.15.90.1"
#define C "5.15.153.1"

typedef struct fixture {
    test_machine *m;
    ksvc_platform *p;
    ksvc_context *ctx;
    const char *pay_a, *pay_b, *pay_c;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);

    assert_non_null(f);
    f->m = test_machine_new(NULL);
    f->p = test_machine_platform(f->m);
    assert_int_equal(ksvc_open(&f->ctx, f->p, NULL), KSVC_OK);
    f->pay_a = test_machine_payload(f->m, "A", 1, 4096 + 17);
    f->pay_b = test_machine_payload(f->m, "B", 2, 8192 + 5);
    f->pay_c = test_machine_payload(f->m, "C", 3, 3 * 4096);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    ksvc_close(f->ctx);
    test_machine_free(f->m);
    free(f);
    return 0;
}

static int install_tries(fixture *f, const char *payload, const char *version,
                         unsigned tries)
{
    ksvc_install_options o = KSVC_INSTALL_OPTIONS_INIT;

    o.tries = tries;
    return ksvc_install(f->ctx, payload, version, &o);
}

static ksvc_status status_of(fixture *f)
{
    ksvc_status s = KSVC_STATUS_INIT;

    assert_int_equal(ksvc_status_get(f->ctx, &s), KSVC_OK);
    return s;
}

static ksvc_result result_of(fixture *f)
{
    ksvc_result r = KSVC_RESULT_INIT;

    assert_int_equal(ksvc_last_result(f->ctx, &r), KSVC_OK);
    return r;
}

/* The full path of a slot, as the library names it. */
static void path_of(fixture *f, const char *slot, char out[4096])
{
    assert_int_equal(f->p->full_path(f->p, slot, out, 4096), KSVC_OK);
}

static void begin_returns(fixture *f, const char *slot)
{
    char path[4096], expected[4096];

    assert_int_equal(ksvc_boot_begin(f->ctx, path, sizeof path), KSVC_OK);
    path_of(f, slot, expected);
    assert_string_equal(path, expected);
}

/* The page's worked example, with the rollback made by the trial: A
 * confirmed, B never confirms, the fourth begin rolls back to A, B is bad
 * for good, C keeps A as its rollback kernel. */
static void tries_used_up_roll_back_by_themselves(void **state)
{
    fixture *f = *state;
    char path[4096];
    ksvc_status s;
    ksvc_result r;
    int i;

    assert_int_equal(install_tries(f, f->pay_a, A, 3), KSVC_OK);
    begin_returns(f, "kernel");
    assert_int_equal(ksvc_boot_confirm(f->ctx), KSVC_OK);
    assert_true(result_of(f).moved & KSVC_MOVED_TRIAL_ENDED);
    s = status_of(f);
    assert_false(s.on_trial);
    assert_true(s.confirmed);

    assert_int_equal(install_tries(f, f->pay_b, B, 3), KSVC_OK);
    s = status_of(f);
    assert_true(s.on_trial);
    assert_int_equal(s.trial_tries, 3);
    assert_int_equal(s.trial_tries_left, 3);
    for (i = 0; i < 3; i++) {
        begin_returns(f, "kernel");
        r = result_of(f);
        assert_int_equal(r.operation, KSVC_OPERATION_BOOT_BEGIN);
        assert_true(r.moved & KSVC_MOVED_TRY_COUNTED);
        assert_int_equal(status_of(f).trial_tries_left, 2 - i);
    }
    /* boot_path counts nothing and still names kernel. */
    assert_int_equal(ksvc_boot_path(f->ctx, path, sizeof path), KSVC_OK);
    assert_int_equal(status_of(f).trial_tries_left, 0);
    /* The fourth begin: rolled back by itself, A boots. */
    begin_returns(f, "kernel.rollback");
    r = result_of(f);
    assert_true(r.moved & KSVC_MOVED_AUTO_ROLLBACK);
    assert_string_equal(r.marked_bad, B);
    s = status_of(f);
    assert_true(s.rolled_back);
    assert_false(s.on_trial);
    assert_string_equal(s.rolled_back_from, B);
    assert_non_null(strstr(s.auto_rollback_reason,
                           B " did not confirm a boot in 3 tries"));
    assert_true(s.auto_rollback_time[0] != '\0');
    assert_int_equal(ksvc_boot_confirm(f->ctx), KSVC_OK);
    assert_int_equal(install_tries(f, f->pay_b, B, 3), KSVC_E_BAD_VERSION);
    assert_int_equal(install_tries(f, f->pay_c, C, 3), KSVC_OK);
    begin_returns(f, "kernel");
    assert_int_equal(ksvc_boot_confirm(f->ctx), KSVC_OK);
    s = status_of(f);
    assert_string_equal(s.kernel.kernel_version, C);
    assert_string_equal(s.rollback.kernel_version, A);
    assert_false(s.on_trial);
}

/* Each try is written before begin returns: a new process (a launcher
 * that crashed with the VM) sees the count. */
static void tries_are_durable(void **state)
{
    fixture *f = *state;
    ksvc_context *other = NULL;
    ksvc_status s = KSVC_STATUS_INIT;

    assert_int_equal(install_tries(f, f->pay_a, A, 2), KSVC_OK);
    begin_returns(f, "kernel");
    assert_int_equal(ksvc_open(&other, f->p, NULL), KSVC_OK);
    assert_int_equal(ksvc_status_get(other, &s), KSVC_OK);
    assert_int_equal(s.trial_tries_left, 1);
    ksvc_close(other);
}

/* No tries: the behaviour before trial boot, trusted at once. */
static void zero_tries_means_no_trial(void **state)
{
    fixture *f = *state;
    int i;

    assert_int_equal(install_tries(f, f->pay_a, A, 0), KSVC_OK);
    assert_false(status_of(f).on_trial);
    for (i = 0; i < 5; i++)
        begin_returns(f, "kernel");
    assert_false(status_of(f).rolled_back);
    assert_int_equal(result_of(f).moved, 0);
}

/* With no good kernel.rollback the tries used up still make the version
 * bad: the missing-kernel error, never the failing kernel. */
static void used_up_without_rollback_kernel(void **state)
{
    fixture *f = *state;
    char path[4096];

    assert_int_equal(install_tries(f, f->pay_a, A, 1), KSVC_OK);
    begin_returns(f, "kernel");
    assert_int_equal(ksvc_boot_begin(f->ctx, path, sizeof path),
                     KSVC_E_KERNEL_MISSING);
    assert_non_null(strstr(ksvc_error_detail(f->ctx), "aka.ms/wsl2kernel"));
    assert_true(status_of(f).kernel_holds_bad);
    assert_int_equal(ksvc_boot_path(f->ctx, path, sizeof path),
                     KSVC_E_KERNEL_MISSING);
}

/* A revert, through the API or by deleting RollbackKernel by hand, puts
 * the reverted kernel on trial again with fresh tries. */
static void revert_gives_fresh_tries(void **state)
{
    fixture *f = *state;
    ksvc_status s;

    assert_int_equal(install_tries(f, f->pay_a, A, 0), KSVC_OK);
    assert_int_equal(install_tries(f, f->pay_b, B, 2), KSVC_OK);
    begin_returns(f, "kernel");
    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    assert_false(status_of(f).on_trial);
    assert_int_equal(ksvc_revert_rollback(f->ctx), KSVC_OK);
    s = status_of(f);
    assert_true(s.on_trial);
    assert_int_equal(s.trial_tries_left, 2);
    begin_returns(f, "kernel");
    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    assert_int_equal(test_machine_delete_value_by_hand(f->m, "RollbackKernel"),
                     0);
    ksvc_close(f->ctx);
    assert_int_equal(ksvc_open(&f->ctx, f->p, NULL), KSVC_OK);
    s = status_of(f);
    assert_false(s.rolled_back);
    assert_true(s.on_trial);
    assert_int_equal(s.trial_tries_left, 2);
}

/* A standard user never starts an untried kernel: begin is refused while
 * the kernel is on trial, and works as boot_path otherwise. */
static void standard_user_begin(void **state)
{
    fixture *f = *state;
    char path[4096];
    char *before, *after;

    assert_int_equal(install_tries(f, f->pay_a, A, 3), KSVC_OK);
    test_machine_set_elevated(f->m, 0);
    before = test_machine_snapshot(f->m);
    assert_int_equal(ksvc_boot_begin(f->ctx, path, sizeof path),
                     KSVC_E_NOT_ELEVATED);
    assert_int_equal(ksvc_boot_confirm(f->ctx), KSVC_E_NOT_ELEVATED);
    after = test_machine_snapshot(f->m);
    assert_string_equal(before, after);
    free(before);
    free(after);
    test_machine_set_elevated(f->m, 1);
    begin_returns(f, "kernel");
    assert_int_equal(ksvc_boot_confirm(f->ctx), KSVC_OK);
    test_machine_set_elevated(f->m, 0);
    begin_returns(f, "kernel");
}

/* ksvc_record_boot() keeps working, and ends a trial like confirm. */
static void record_boot_confirms(void **state)
{
    fixture *f = *state;

    assert_int_equal(install_tries(f, f->pay_a, A, 3), KSVC_OK);
    assert_int_equal(ksvc_record_boot(f->ctx), KSVC_OK);
    assert_int_equal(result_of(f).operation, KSVC_OPERATION_RECORD_BOOT);
    assert_false(status_of(f).on_trial);
    assert_false(status_of(f).restart_required);
}

/* A version-1 options structure gets the default tries. */
static void version_one_options_get_default_tries(void **state)
{
    fixture *f = *state;
    struct {
        unsigned version, flags;
        const char *sha256_hex;
    } v1 = {1, 0, NULL};

    assert_int_equal(ksvc_install(f->ctx, f->pay_a, A,
                                  (const ksvc_install_options *)(void *)&v1),
                     KSVC_OK);
    assert_int_equal(status_of(f).trial_tries, KSVC_INSTALL_TRIES_DEFAULT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            tries_used_up_roll_back_by_themselves, setup, teardown),
        cmocka_unit_test_setup_teardown(tries_are_durable, setup, teardown),
        cmocka_unit_test_setup_teardown(zero_tries_means_no_trial, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(used_up_without_rollback_kernel,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(revert_gives_fresh_tries, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(standard_user_begin, setup, teardown),
        cmocka_unit_test_setup_teardown(record_boot_confirms, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            version_one_options_get_default_tries, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
