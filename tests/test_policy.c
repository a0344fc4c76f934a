/*
 * The rollback policy, row by row, on whatever backend tests/machine.h is
 * built for: the worked example, every refusal (with nothing changed), the
 * manual revert, repair and the boot path.
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

#define LXSS "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Lxss"

typedef struct fixture {
    test_machine *m;
    ksvc_platform *p;
    ksvc_context *ctx;
    const char *pay_a, *pay_b, *pay_c;
} fixture;

static ksvc_context *open_ctx(ksvc_platform *p)
{
    ksvc_context *ctx = NULL;
    assert_int_equal(ksvc_open(&ctx, p, NULL), KSVC_OK);
    return ctx;
}

static fixture *make_fixture(const ksvc_mock_machine *facts)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->m = test_machine_new(facts);
    f->p = test_machine_platform(f->m);
    f->ctx = open_ctx(f->p);
    f->pay_a = test_machine_payload(f->m, "A", 1, 4096 + 17);
    f->pay_b = test_machine_payload(f->m, "B", 2, 8192 + 5);
    f->pay_c = test_machine_payload(f->m, "C", 3, 3 * 4096);
    return f;
}

static int setup(void **state)
{
    *state = make_fixture(NULL);
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

/* Reopen as a fresh process would, after a change made behind the
 * library's back. */
static void reopen(fixture *f)
{
    ksvc_close(f->ctx);
    f->ctx = open_ctx(f->p);
}

static int install(fixture *f, const char *payload, const char *version,
                   unsigned flags)
{
    ksvc_install_options o = KSVC_INSTALL_OPTIONS_INIT;
    o.flags = flags;
    return ksvc_install(f->ctx, payload, version, &o);
}

/* The whole content of a slot file, or NULL when absent. */
static unsigned char *slot_bytes(fixture *f, const char *name, size_t *size)
{
    ksvc_file *file;
    uint64_t total;
    unsigned char *buf;
    size_t got;

    if (f->p->file_open(f->p, name, KSVC_OPEN_READ, &file) != KSVC_OK)
        return NULL;
    assert_int_equal(f->p->file_size(file, &total), KSVC_OK);
    buf = malloc((size_t)total + 1);
    assert_non_null(buf);
    assert_int_equal(f->p->file_read(file, 0, buf, (size_t)total, &got), 0);
    assert_int_equal(got, (size_t)total);
    f->p->file_close(file);
    *size = (size_t)total;
    return buf;
}

/* Payload bytes, read back through the same platform. */
static unsigned char *payload_bytes(fixture *f, const char *path, size_t *size)
{
    ksvc_file *file;
    uint64_t total;
    unsigned char *buf;
    size_t got;

    assert_int_equal(f->p->payload_open(f->p, path, &file), KSVC_OK);
    assert_int_equal(f->p->file_size(file, &total), KSVC_OK);
    buf = malloc((size_t)total + 1);
    assert_non_null(buf);
    assert_int_equal(f->p->file_read(file, 0, buf, (size_t)total, &got), 0);
    f->p->file_close(file);
    *size = (size_t)total;
    return buf;
}

static void assert_slot_is(fixture *f, const char *slot, const char *payload)
{
    size_t slot_size = 0, payload_size = 0; /* mingw gcc cannot see that the asserts below stop on NULL */
    unsigned char *s = slot_bytes(f, slot, &slot_size);
    unsigned char *p = payload_bytes(f, payload, &payload_size);

    assert_non_null(s);
    assert_int_equal(slot_size, payload_size);
    assert_memory_equal(s, p, slot_size);
    free(s);
    free(p);
}

static void assert_slot_absent(fixture *f, const char *slot)
{
    ksvc_file_info info;
    assert_int_equal(f->p->stat(f->p, slot, &info), KSVC_OK);
    assert_int_equal(info.kind, KSVC_FILE_NONE);
}

static void read_sz(fixture *f, const char *name, char *buf, size_t size,
                    int *found)
{
    uint32_t type;
    int err = f->p->reg_read(f->p, LXSS, name, &type, buf, &size);
    *found = err == KSVC_OK;
    if (err != KSVC_E_NOT_FOUND)
        assert_int_equal(err, KSVC_OK);
    if (*found)
        assert_int_equal(type, KSVC_REG_SZ);
}

static void assert_value(fixture *f, const char *name, const char *expected)
{
    char buf[256];
    int found;
    read_sz(f, name, buf, sizeof buf, &found);
    if (!expected) {
        assert_false(found);
        return;
    }
    assert_true(found);
    assert_string_equal(buf, expected);
}

static ksvc_status get_status(fixture *f, unsigned flags)
{
    ksvc_status s = KSVC_STATUS_INIT;
    s.flags = flags;
    assert_int_equal(ksvc_status_get(f->ctx, &s), KSVC_OK);
    return s;
}

static int is_bad(const ksvc_status *s, const char *version)
{
    size_t i;
    for (i = 0; i < s->bad_count; i++)
        if (!strcmp(s->bad_versions[i], version))
            return 1;
    return 0;
}

static void assert_boots(fixture *f, const char *slot)
{
    char path[4096], expected[4096];
    assert_int_equal(ksvc_boot_path(f->ctx, path, sizeof path), KSVC_OK);
    assert_int_equal(f->p->full_path(f->p, slot, expected, sizeof expected),
                     KSVC_OK);
    assert_string_equal(path, expected);
}

/* Run op, expect err, and check that nothing on the machine changed. */
#define ASSERT_REFUSED(f, expected_err, call)                                \
    do {                                                                     \
        char *before_ = test_machine_snapshot((f)->m);                       \
        char *after_;                                                        \
        assert_int_equal((call), (expected_err));                           \
        assert_true(ksvc_error_detail((f)->ctx)[0] != '\0');                \
        after_ = test_machine_snapshot((f)->m);                              \
        assert_string_equal(before_, after_);                               \
        free(before_);                                                       \
        free(after_);                                                        \
    } while (0)

/* ---- rows of the policy table ---- */

static void first_install(void **state)
{
    fixture *f = *state;
    ksvc_status s;

    assert_int_equal(install(f, f->pay_a, A, 0), KSVC_OK);
    assert_slot_is(f, "kernel", f->pay_a);
    assert_slot_absent(f, "kernel.rollback");
    assert_value(f, "KernelVersion", A);
    assert_value(f, "RollbackKernel", NULL);
    s = get_status(f, KSVC_STATUS_VERIFY);
    assert_true(s.kernel.present && s.kernel.intact);
    assert_string_equal(s.kernel.kernel_version, A);
    assert_false(s.rollback.present);
    assert_int_equal(s.effective, KSVC_SLOT_KERNEL);
    assert_true(s.restart_required);
    assert_int_equal(s.problem_count, 0);
    assert_boots(f, "kernel");
}

static void update_makes_rollback_slot(void **state)
{
    fixture *f = *state;
    ksvc_status s;

    assert_int_equal(install(f, f->pay_a, A, 0), KSVC_OK);
    assert_int_equal(install(f, f->pay_b, B, 0), KSVC_OK);
    assert_slot_is(f, "kernel", f->pay_b);
    assert_slot_is(f, "kernel.rollback", f->pay_a);
    assert_value(f, "KernelVersion", B);
    s = get_status(f, KSVC_STATUS_VERIFY);
    assert_true(s.kernel.intact && s.rollback.intact);
    assert_string_equal(s.rollback.kernel_version, A);
    assert_false(s.rolled_back);
    assert_int_equal(s.bad_count, 0);
}

static void rollback_marks_bad_and_boots_rollback(void **state)
{
    fixture *f = *state;
    ksvc_status s;

    assert_int_equal(install(f, f->pay_a, A, 0), KSVC_OK);
    assert_int_equal(install(f, f->pay_b, B, 0), KSVC_OK);
    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    /* Files are untouched; the flag holds the version rolled back from. */
    assert_slot_is(f, "kernel", f->pay_b);
    assert_slot_is(f, "kernel.rollback", f->pay_a);
    assert_value(f, "RollbackKernel", B);
    assert_value(f, "KernelVersion", B);
    s = get_status(f, 0);
    assert_true(s.rolled_back);
    assert_string_equal(s.rolled_back_from, B);
    assert_int_equal(s.effective, KSVC_SLOT_ROLLBACK);
    assert_int_equal(s.bad_count, 1);
    assert_true(is_bad(&s, B));
    assert_true(s.kernel.bad);
    assert_boots(f, "kernel.rollback");
}

/* A -> B -> rollback -> C gives kernel=C, kernel.rollback=A; B is never
 * installed or rolled back to again. */
static void worked_example(void **state)
{
    fixture *f = *state;
    ksvc_status s;

    assert_int_equal(install(f, f->pay_a, A, 0), KSVC_OK);
    assert_int_equal(install(f, f->pay_b, B, 0), KSVC_OK);
    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    assert_int_equal(install(f, f->pay_c, C, 0), KSVC_OK);
    assert_slot_is(f, "kernel", f->pay_c);
    assert_slot_is(f, "kernel.rollback", f->pay_a);
    assert_value(f, "KernelVersion", C);
    assert_value(f, "RollbackKernel", NULL);
    s = get_status(f, KSVC_STATUS_VERIFY);
    assert_false(s.rolled_back);
    assert_int_equal(s.effective, KSVC_SLOT_KERNEL);
    assert_string_equal(s.rollback.kernel_version, A);
    assert_true(is_bad(&s, B));
    assert_boots(f, "kernel");

    /* B can never come back, not even forced or as a downgrade. */
    ASSERT_REFUSED(f, KSVC_E_BAD_VERSION, install(f, f->pay_b, B, 0));
    ASSERT_REFUSED(f, KSVC_E_BAD_VERSION,
                   install(f, f->pay_b, B,
                           KSVC_INSTALL_FORCE | KSVC_INSTALL_ALLOW_DOWNGRADE));
    ASSERT_REFUSED(f, KSVC_E_BAD_VERSION,
                   install(f, f->pay_b, B "-microsoft-standard-WSL2",
                           KSVC_INSTALL_ALLOW_DOWNGRADE));

    /* Rolling back from C goes to A, never to B. */
    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    assert_boots(f, "kernel.rollback");
    assert_slot_is(f, "kernel.rollback", f->pay_a);
    s = get_status(f, 0);
    assert_true(is_bad(&s, B) && is_bad(&s, C));
}

static void install_while_rolled_back_keeps_good_rollback(void **state)
{
    fixture *f = *state;

    assert_int_equal(install(f, f->pay_a, A, 0), KSVC_OK);
    assert_int_equal(install(f, f->pay_b, B, 0), KSVC_OK);
    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    assert_int_equal(install(f, f->pay_c, C, 0), KSVC_OK);
    /* Not A's successor B: the bad one is dropped, the good one kept. */
    assert_slot_is(f, "kernel.rollback", f->pay_a);
    assert_value(f, "KServiceRollbackVersion", A);
}

static void revert_rollback(void **state)
{
    fixture *f = *state;
    ksvc_status s;

    assert_int_equal(install(f, f->pay_a, A, 0), KSVC_OK);
    assert_int_equal(install(f, f->pay_b, B, 0), KSVC_OK);
    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    assert_int_equal(ksvc_revert_rollback(f->ctx), KSVC_OK);
    assert_value(f, "RollbackKernel", NULL);
    s = get_status(f, 0);
    assert_false(s.rolled_back);
    assert_int_equal(s.bad_count, 0);
    assert_int_equal(s.effective, KSVC_SLOT_KERNEL);
    assert_boots(f, "kernel");
    assert_slot_is(f, "kernel", f->pay_b);
    /* And B may be rolled back from again. */
    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
}

/* Deleting RollbackKernel by hand is the documented manual revert. */
static void manual_revert_by_deleting_value(void **state)
{
    fixture *f = *state;
    ksvc_status s;

    assert_int_equal(install(f, f->pay_a, A, 0), KSVC_OK);
    assert_int_equal(install(f, f->pay_b, B, 0), KSVC_OK);
    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    assert_int_equal(test_machine_delete_value_by_hand(f->m, "RollbackKernel"),
                     0);
    reopen(f);
    s = get_status(f, 0);
    assert_false(s.rolled_back);
    assert_int_equal(s.bad_count, 0);
    assert_boots(f, "kernel");
    /* Exactly like revert-rollback: B is no longer bad. */
    assert_int_equal(ksvc_revert_rollback(f->ctx), KSVC_E_NOT_ROLLED_BACK);
    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
}

/* The same hand edit seen by an open context, without a reopen. */
static void manual_revert_seen_by_open_context(void **state)
{
    fixture *f = *state;
    ksvc_status s;

    assert_int_equal(install(f, f->pay_a, A, 0), KSVC_OK);
    assert_int_equal(install(f, f->pay_b, B, 0), KSVC_OK);
    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    assert_int_equal(test_machine_delete_value_by_hand(f->m, "RollbackKernel"),
                     0);
    s = get_status(f, 0);
    assert_false(s.rolled_back);
    assert_int_equal(s.bad_count, 0);
    assert_boots(f, "kernel");
}

/* A standard user cannot record the manual revert, yet sees it: the
 * primary boots for everyone once RollbackKernel is gone. */
static void manual_revert_seen_by_standard_user(void **state)
{
    fixture *f = *state;
    ksvc_status s;

    assert_int_equal(install(f, f->pay_a, A, 0), KSVC_OK);
    assert_int_equal(install(f, f->pay_b, B, 0), KSVC_OK);
    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    assert_int_equal(test_machine_delete_value_by_hand(f->m, "RollbackKernel"),
                     0);
    test_machine_set_elevated(f->m, 0);
    reopen(f);
    s = get_status(f, 0);
    assert_false(s.rolled_back);
    assert_int_equal(s.bad_count, 0);
    assert_false(s.kernel.bad);
    assert_boots(f, "kernel");
}

/* ---- refusals: each leaves the machine as it was ---- */

static void refusals_of_a_standard_user(void **state)
{
    fixture *f = *state;

    assert_int_equal(install(f, f->pay_a, A, 0), KSVC_OK);
    assert_int_equal(install(f, f->pay_b, B, 0), KSVC_OK);
    test_machine_set_elevated(f->m, 0);
    ASSERT_REFUSED(f, KSVC_E_NOT_ELEVATED, install(f, f->pay_c, C, 0));
    ASSERT_REFUSED(f, KSVC_E_NOT_ELEVATED, ksvc_rollback(f->ctx));
    ASSERT_REFUSED(f, KSVC_E_NOT_ELEVATED, ksvc_revert_rollback(f->ctx));
    ASSERT_REFUSED(f, KSVC_E_NOT_ELEVATED, ksvc_repair(f->ctx));
    /* Reading stays open to everyone. */
    get_status(f, KSVC_STATUS_VERIFY);
    assert_boots(f, "kernel");
}

static void refusal_downgrade_and_reinstall(void **state)
{
    fixture *f = *state;

    assert_int_equal(install(f, f->pay_b, B, 0), KSVC_OK);
    ASSERT_REFUSED(f, KSVC_E_DOWNGRADE, install(f, f->pay_a, A, 0));
    ASSERT_REFUSED(f, KSVC_E_ALREADY_INSTALLED, install(f, f->pay_b, B, 0));
    ASSERT_REFUSED(f, KSVC_E_ALREADY_INSTALLED,
                   install(f, f->pay_b, B "-microsoft-standard-WSL2", 0));
    assert_int_equal(install(f, f->pay_a, A, KSVC_INSTALL_ALLOW_DOWNGRADE),
                     KSVC_OK);
    assert_slot_is(f, "kernel", f->pay_a);
    assert_slot_is(f, "kernel.rollback", f->pay_b);
}

static void forced_reinstall_keeps_rollback(void **state)
{
    fixture *f = *state;

    assert_int_equal(install(f, f->pay_a, A, 0), KSVC_OK);
    assert_int_equal(install(f, f->pay_b, B, 0), KSVC_OK);
    assert_int_equal(install(f, f->pay_c, B, KSVC_INSTALL_FORCE), KSVC_OK);
    assert_slot_is(f, "kernel", f->pay_c);
    /* Reinstalling B must not push B into the rollback slot over A. */
    assert_slot_is(f, "kernel.rollback", f->pay_a);
}

static void refusal_rollback_preconditions(void **state)
{
    fixture *f = *state;

    ASSERT_REFUSED(f, KSVC_E_NO_ROLLBACK, ksvc_rollback(f->ctx));
    assert_int_equal(install(f, f->pay_a, A, 0), KSVC_OK);
    ASSERT_REFUSED(f, KSVC_E_NO_ROLLBACK, ksvc_rollback(f->ctx));
    ASSERT_REFUSED(f, KSVC_E_NOT_ROLLED_BACK, ksvc_revert_rollback(f->ctx));
    assert_int_equal(install(f, f->pay_b, B, 0), KSVC_OK);
    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    ASSERT_REFUSED(f, KSVC_E_ROLLED_BACK, ksvc_rollback(f->ctx));
}

static void refusal_rollback_to_bad_version(void **state)
{
    fixture *f = *state;
    static const char bad[] = A "\0";
    ksvc_reg_change change = {"KServiceBadVersions", 0, KSVC_REG_MULTI_SZ,
                              bad, sizeof bad};

    assert_int_equal(install(f, f->pay_a, A, 0), KSVC_OK);
    assert_int_equal(install(f, f->pay_b, B, 0), KSVC_OK);
    /* Mark the rollback kernel bad behind the library's back. */
    assert_int_equal(f->p->reg_write(f->p, LXSS, &change, 1), KSVC_OK);
    ASSERT_REFUSED(f, KSVC_E_BAD_VERSION, ksvc_rollback(f->ctx));
}

static void refusal_damaged_rollback_slot(void **state)
{
    fixture *f = *state;

    assert_int_equal(install(f, f->pay_a, A, 0), KSVC_OK);
    assert_int_equal(install(f, f->pay_b, B, 0), KSVC_OK);
    test_machine_corrupt_file_by_hand(f->m, "kernel.rollback");
    ASSERT_REFUSED(f, KSVC_E_DAMAGED, ksvc_rollback(f->ctx));
}

static void refusal_bad_payloads(void **state)
{
    fixture *f = *state;
    const char *empty = test_machine_payload(f->m, "empty", 9, 0);
    char missing[4096];
    ksvc_install_options o = KSVC_INSTALL_OPTIONS_INIT;
    char overlong[200];

    snprintf(missing, sizeof missing, "%s/no-such-kernel",
             test_machine_scratch(f->m));
    assert_int_equal(install(f, f->pay_a, A, 0), KSVC_OK);
    ASSERT_REFUSED(f, KSVC_E_NOT_FOUND, install(f, missing, B, 0));
    ASSERT_REFUSED(f, KSVC_E_BAD_PAYLOAD, install(f, empty, B, 0));
    assert_int_not_equal(install(f, test_machine_scratch(f->m), B, 0),
                         KSVC_OK);
    ASSERT_REFUSED(f, KSVC_E_VERSION_SYNTAX, install(f, f->pay_b, "B", 0));
    ASSERT_REFUSED(f, KSVC_E_VERSION_SYNTAX,
                   install(f, f->pay_b, "5.15.4294967296", 0));
    memset(overlong, '1', sizeof overlong - 1);
    overlong[sizeof overlong - 1] = '\0';
    ASSERT_REFUSED(f, KSVC_E_TOO_LONG, install(f, f->pay_b, overlong, 0));
    o.sha256_hex =
        "0000000000000000000000000000000000000000000000000000000000000000";
    ASSERT_REFUSED(f, KSVC_E_HASH_MISMATCH,
                   ksvc_install(f->ctx, f->pay_b, B, &o));
    o.sha256_hex = "not-hex";
    ASSERT_REFUSED(f, KSVC_E_INVALID_ARGUMENT,
                   ksvc_install(f->ctx, f->pay_b, B, &o));
    o.sha256_hex = NULL;
    o.version = 99;
    ASSERT_REFUSED(f, KSVC_E_STRUCT_VERSION,
                   ksvc_install(f->ctx, f->pay_b, B, &o));
}

static void refusal_precheck(void **state)
{
    static const struct {
        uint32_t build, ubr;
        ksvc_arch arch;
        int wsl, reboot;
        ksvc_precheck_reason reason;
    } cases[] = {
        {17763, 0, KSVC_ARCH_X64, 1, 0, KSVC_PRECHECK_OS_TOO_OLD},
        {18362, 1048, KSVC_ARCH_X64, 1, 0, KSVC_PRECHECK_OS_TOO_OLD},
        {18362, 1049, KSVC_ARCH_ARM64, 1, 0, KSVC_PRECHECK_OS_TOO_OLD},
        {19045, 3803, KSVC_ARCH_X64, 0, 0, KSVC_PRECHECK_WSL_DISABLED},
        {19045, 3803, KSVC_ARCH_X64, 0, 1, KSVC_PRECHECK_RESTART_PENDING},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ksvc_mock_machine facts = KSVC_MOCK_MACHINE_INIT;
        ksvc_precheck_result r = KSVC_PRECHECK_RESULT_INIT;
        fixture *f;
        char expected[512];

        facts.os_build = cases[i].build;
        facts.os_ubr = cases[i].ubr;
        facts.arch = cases[i].arch;
        facts.wsl_enabled = cases[i].wsl;
        facts.reboot_pending = cases[i].reboot;
        f = make_fixture(&facts);
        assert_int_equal(ksvc_precheck(f->ctx, &r), KSVC_E_PRECHECK);
        assert_int_equal(r.reason, cases[i].reason);
        snprintf(expected, sizeof expected, "%s %s", KSVC_MSG_PRECHECK,
                 ksvc_precheck_reason_text(cases[i].reason));
        assert_string_equal(ksvc_error_detail(f->ctx), expected);
        ASSERT_REFUSED(f, KSVC_E_PRECHECK, install(f, f->pay_a, A, 0));
        void *p = f;
        teardown(&p);
    }
}

static void precheck_passes(void **state)
{
    static const struct {
        uint32_t build, ubr;
        ksvc_arch arch;
    } cases[] = {
        {18362, 1049, KSVC_ARCH_X64},
        {18363, 1049, KSVC_ARCH_X64},
        {19041, 0, KSVC_ARCH_X64},
        {19041, 0, KSVC_ARCH_ARM64},
        {22631, 0, KSVC_ARCH_ARM64},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ksvc_mock_machine facts = KSVC_MOCK_MACHINE_INIT;
        ksvc_precheck_result r = KSVC_PRECHECK_RESULT_INIT;
        fixture *f;
        void *p;

        facts.os_build = cases[i].build;
        facts.os_ubr = cases[i].ubr;
        facts.arch = cases[i].arch;
        f = make_fixture(&facts);
        assert_int_equal(ksvc_precheck(f->ctx, &r), KSVC_OK);
        assert_int_equal(r.reason, KSVC_PRECHECK_OK);
        assert_int_equal(r.os_build, cases[i].build);
        assert_int_equal(r.arch, cases[i].arch);
        p = f;
        teardown(&p);
    }
}

/* ---- missing kernel and repair ---- */

static void missing_kernel_message_and_repair(void **state)
{
    fixture *f = *state;
    char path[4096];
    ksvc_status s;

    assert_int_equal(install(f, f->pay_a, A, 0), KSVC_OK);
    assert_int_equal(install(f, f->pay_b, B, 0), KSVC_OK);
    test_machine_remove_file_by_hand(f->m, "kernel");
    assert_int_equal(ksvc_boot_path(f->ctx, path, sizeof path),
                     KSVC_E_KERNEL_MISSING);
    assert_string_equal(ksvc_strerror(KSVC_E_KERNEL_MISSING),
                        "WSL 2 requires an update to its kernel component. "
                        "For information please visit "
                        "https://aka.ms/wsl2kernel");
    s = get_status(f, 0);
    assert_int_equal(s.effective, KSVC_SLOT_NONE);
    assert_true(s.problem_count >= 1);
    assert_string_equal(s.problems[0], KSVC_MSG_KERNEL_MISSING);

    assert_int_equal(ksvc_repair(f->ctx), KSVC_OK);
    assert_slot_is(f, "kernel", f->pay_a);
    assert_slot_is(f, "kernel.rollback", f->pay_a);
    assert_value(f, "KernelVersion", A);
    assert_boots(f, "kernel");
    s = get_status(f, KSVC_STATUS_VERIFY);
    assert_int_equal(s.problem_count, 0);
}

static void repair_of_damaged_kernel(void **state)
{
    fixture *f = *state;
    ksvc_status s;

    assert_int_equal(install(f, f->pay_a, A, 0), KSVC_OK);
    assert_int_equal(install(f, f->pay_b, B, 0), KSVC_OK);
    test_machine_corrupt_file_by_hand(f->m, "kernel");
    s = get_status(f, KSVC_STATUS_VERIFY);
    assert_false(s.kernel.intact);
    assert_true(s.problem_count >= 1);
    assert_int_equal(ksvc_repair(f->ctx), KSVC_OK);
    assert_slot_is(f, "kernel", f->pay_a);
    s = get_status(f, KSVC_STATUS_VERIFY);
    assert_true(s.kernel.intact);
    assert_int_equal(s.problem_count, 0);
}

/* ---- fingerprints: a recorded stamp spares the hash, never the truth ---- */

/* The machine's own table with file_read counting the bytes it returns,
 * for the length of one call: proof of which calls read a kernel file and
 * which only stat it.  The table itself is patched (a copy would not do:
 * the test machine finds itself from its table's address). */
static int (*real_file_read)(ksvc_file *, uint64_t, void *, size_t, size_t *);
static uint64_t bytes_read;

static int counting_read(ksvc_file *file, uint64_t offset, void *buf,
                         size_t size, size_t *got)
{
    int rc = real_file_read(file, offset, buf, size, got);
    if (rc == KSVC_OK)
        bytes_read += *got;
    return rc;
}

typedef struct counted_status {
    uint64_t bytes;     /* read by the library during the call */
    int kernel_intact, rollback_intact;
    size_t problem_count;
} counted_status;

static void count_reads(fixture *f)
{
    real_file_read = f->p->file_read;
    f->p->file_read = counting_read;
    bytes_read = 0;
}

static void stop_counting(fixture *f)
{
    f->p->file_read = real_file_read;
}

static counted_status status_counting_reads(fixture *f, unsigned flags)
{
    ksvc_status s = KSVC_STATUS_INIT;
    counted_status out;
    int rc;

    s.flags = flags;
    count_reads(f);
    rc = ksvc_status_get(f->ctx, &s);
    stop_counting(f);
    assert_int_equal(rc, KSVC_OK);
    out.bytes = bytes_read;
    out.kernel_intact = s.kernel.intact;
    out.rollback_intact = s.rollback.intact;
    out.problem_count = s.problem_count;
    return out;
}

static uint64_t rollback_counting_reads(fixture *f, int expected_err)
{
    int rc;

    count_reads(f);
    rc = ksvc_rollback(f->ctx);
    stop_counting(f);
    assert_int_equal(rc, expected_err);
    return bytes_read;
}

/* Kernels larger than the image header status reads (0x10200 bytes and the
 * version) and than one copy chunk, so that a hash stands out. */
#define BIG_A_SIZE ((size_t)(3u << 20) + 7)
#define BIG_B_SIZE ((size_t)(2u << 20) + 11)

static int value_present(fixture *f, const char *name)
{
    char buf[256];
    size_t size = sizeof buf;
    uint32_t type;
    return f->p->reg_read(f->p, LXSS, name, &type, buf, &size) == KSVC_OK;
}

static void install_two_big_kernels(fixture *f)
{
    const char *big_a = test_machine_payload(f->m, "BIG_A", 4, BIG_A_SIZE);
    const char *big_b = test_machine_payload(f->m, "BIG_B", 5, BIG_B_SIZE);

    assert_int_equal(install(f, big_a, A, 0), KSVC_OK);
    assert_int_equal(install(f, big_b, B, 0), KSVC_OK);
    assert_true(value_present(f, "KServiceKernelStamp"));
    assert_true(value_present(f, "KServiceRollbackStamp"));
}

/* After an install both slots carry stamps: plain status and rollback read
 * no kernel bytes beyond the image headers; verify still hashes both. */
static void stamp_spares_the_hash(void **state)
{
    fixture *f = *state;
    counted_status plain, verify;

    install_two_big_kernels(f);
    plain = status_counting_reads(f, 0);
    assert_true(plain.kernel_intact && plain.rollback_intact);
    assert_int_equal(plain.problem_count, 0);
    /* the image header of each slot: 0x10200 bytes and the version */
    assert_true(plain.bytes <= 2u * (0x10200u + KSVC_KVER_MAX + 2u));
    verify = status_counting_reads(f, KSVC_STATUS_VERIFY);
    assert_true(verify.kernel_intact && verify.rollback_intact);
    assert_true(verify.bytes >= BIG_A_SIZE + BIG_B_SIZE);
    assert_true(rollback_counting_reads(f, KSVC_OK) <=
                2u * (0x10200u + KSVC_KVER_MAX + 2u));
    assert_boots(f, "kernel.rollback");
}

/* Bytes changed by hand, the size kept, after the stamps were recorded:
 * plain status (no verify flag) hashes and reports the slot damaged, and
 * rollback refuses a damaged rollback slot. */
static void stamp_never_hides_a_hand_edit(void **state)
{
    fixture *f = *state;
    counted_status plain;
    char *before, *after;

    install_two_big_kernels(f);
    test_machine_corrupt_file_by_hand(f->m, "kernel");
    plain = status_counting_reads(f, 0);
    assert_false(plain.kernel_intact);
    assert_true(plain.rollback_intact);
    assert_true(plain.problem_count >= 1);
    assert_true(plain.bytes >= BIG_B_SIZE);
    test_machine_corrupt_file_by_hand(f->m, "kernel.rollback");
    plain = status_counting_reads(f, 0);
    assert_false(plain.kernel_intact);
    assert_false(plain.rollback_intact);
    before = test_machine_snapshot(f->m);
    assert_true(rollback_counting_reads(f, KSVC_E_DAMAGED) >= BIG_A_SIZE);
    after = test_machine_snapshot(f->m);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

static void set_stamp_by_hand(fixture *f, const char *name, const char *text)
{
    ksvc_reg_change change = {name, 0, KSVC_REG_SZ, text, strlen(text) + 1};
    assert_int_equal(f->p->reg_write(f->p, LXSS, &change, 1), KSVC_OK);
}

/* A stamp edited by hand is no error (documented in doc/mainpage.md): one
 * that does not parse, and one that parses but names another file, only
 * make the slot be hashed.  Repair, finding the slot intact by its hash,
 * records a true stamp again. */
static void stamp_edited_by_hand_forces_a_hash(void **state)
{
    fixture *f = *state;
    counted_status plain;

    install_two_big_kernels(f);
    set_stamp_by_hand(f, "KServiceKernelStamp", "not a stamp");
    set_stamp_by_hand(f, "KServiceRollbackStamp", "3145735:1:1");
    plain = status_counting_reads(f, 0);
    assert_true(plain.kernel_intact && plain.rollback_intact);
    assert_int_equal(plain.problem_count, 0);
    assert_true(plain.bytes >= BIG_A_SIZE + BIG_B_SIZE);
    set_stamp_by_hand(f, "KServiceKernelStamp", "99999999999999999999999:1:1");
    plain = status_counting_reads(f, 0);
    assert_true(plain.kernel_intact);
    /* Repair hashes both slots (neither carries a true stamp) and records
     * the stamps they were found with: after it nothing is hashed. */
    assert_int_equal(ksvc_repair(f->ctx), KSVC_OK);
    plain = status_counting_reads(f, 0);
    assert_true(plain.kernel_intact && plain.rollback_intact);
    assert_true(plain.bytes <= 2u * (0x10200u + KSVC_KVER_MAX + 2u));
    assert_true(rollback_counting_reads(f, KSVC_OK) <=
                2u * (0x10200u + KSVC_KVER_MAX + 2u));
    plain = status_counting_reads(f, 0);
    assert_true(plain.kernel_intact && plain.rollback_intact);
    assert_true(plain.bytes < BIG_B_SIZE);
}

static void repair_refusals(void **state)
{
    fixture *f = *state;
    char *before, *after;

    /* Nothing to repair: success, nothing touched. */
    assert_int_equal(install(f, f->pay_a, A, 0), KSVC_OK);
    before = test_machine_snapshot(f->m);
    assert_int_equal(ksvc_repair(f->ctx), KSVC_OK);
    after = test_machine_snapshot(f->m);
    assert_string_equal(before, after);
    free(before);
    free(after);
    /* No other slot to copy from. */
    test_machine_remove_file_by_hand(f->m, "kernel");
    ASSERT_REFUSED(f, KSVC_E_KERNEL_MISSING, ksvc_repair(f->ctx));
}

static void repair_never_restores_a_bad_version(void **state)
{
    fixture *f = *state;
    char path[4096];

    assert_int_equal(install(f, f->pay_a, A, 0), KSVC_OK);
    assert_int_equal(install(f, f->pay_b, B, 0), KSVC_OK);
    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    test_machine_remove_file_by_hand(f->m, "kernel.rollback");
    /* The only kernel left is B, rolled back from: never booted again. */
    ASSERT_REFUSED(f, KSVC_E_KERNEL_MISSING, ksvc_repair(f->ctx));
    assert_int_equal(ksvc_boot_path(f->ctx, path, sizeof path),
                     KSVC_E_KERNEL_MISSING);
}

/* ---- boot bookkeeping, locking, struct versions ---- */

static void record_boot_clears_restart(void **state)
{
    fixture *f = *state;
    ksvc_status s;

    assert_int_equal(install(f, f->pay_a, A, 0), KSVC_OK);
    assert_true(get_status(f, 0).restart_required);
    assert_int_equal(ksvc_record_boot(f->ctx), KSVC_OK);
    assert_false(get_status(f, 0).restart_required);
    assert_int_equal(install(f, f->pay_b, B, 0), KSVC_OK);
    assert_true(get_status(f, 0).restart_required);
    assert_int_equal(ksvc_record_boot(f->ctx), KSVC_OK);
    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    s = get_status(f, 0);
    assert_true(s.restart_required);
    /* Reverting before any restart: the running kernel is B again. */
    assert_int_equal(ksvc_revert_rollback(f->ctx), KSVC_OK);
    assert_false(get_status(f, 0).restart_required);
}

static void busy_when_another_servicer_holds_the_lock(void **state)
{
    fixture *f = *state;
    ksvc_open_options o = KSVC_OPEN_OPTIONS_INIT;
    ksvc_platform *other = test_machine_platform_open(f->m);
    ksvc_context *second = NULL;

    /* Another servicer of the same machine holds the lock. */
    assert_int_equal(other->lock(other, 0), KSVC_OK);
    o.lock_timeout_ms = 50;
    assert_int_equal(ksvc_open(&second, f->p, &o), KSVC_E_BUSY);
    assert_null(second);
    ASSERT_REFUSED(f, KSVC_E_BUSY, install(f, f->pay_a, A, 0));
    other->unlock(other);
    assert_int_equal(ksvc_open(&second, f->p, &o), KSVC_OK);
    ksvc_close(second);
    test_machine_platform_close(other);
}

static void unknown_struct_versions_refused(void **state)
{
    fixture *f = *state;
    ksvc_status s = KSVC_STATUS_INIT;
    ksvc_precheck_result r = KSVC_PRECHECK_RESULT_INIT;
    ksvc_open_options o = KSVC_OPEN_OPTIONS_INIT;
    ksvc_context *ctx = NULL;

    s.version = 0;
    assert_int_equal(ksvc_status_get(f->ctx, &s), KSVC_E_STRUCT_VERSION);
    r.version = 1000;
    assert_int_equal(ksvc_precheck(f->ctx, &r), KSVC_E_STRUCT_VERSION);
    o.version = KSVC_OPEN_OPTIONS_VERSION + 1;
    assert_int_equal(ksvc_open(&ctx, f->p, &o), KSVC_E_STRUCT_VERSION);
    assert_null(ctx);
}

static void leftover_temporary_removed_on_open(void **state)
{
    fixture *f = *state;
    ksvc_file *file;

    assert_int_equal(install(f, f->pay_a, A, 0), KSVC_OK);
    /* A crash before the journal existed leaves only a temporary. */
    assert_int_equal(f->p->file_open(f->p, "kernel.kservice-new",
                                     KSVC_OPEN_CREATE_NEW, &file),
                     KSVC_OK);
    assert_int_equal(f->p->file_write(file, 0, "partial", 7), KSVC_OK);
    f->p->file_close(file);
    reopen(f);
    assert_slot_absent(f, "kernel.kservice-new");
    assert_slot_is(f, "kernel", f->pay_a);
}

/* A hand edit of KernelVersion (a number where text belongs) leaves a
 * kernel the record no longer describes.  These payloads name no version
 * in their image, so nothing tells what the file holds: it is damaged, is
 * never booted, and an install over it keeps no copy of it. */
static void damaged_registry_value_leaves_an_unknown_kernel(void **state)
{
    fixture *f = *state;
    uint32_t number = 42;
    ksvc_reg_change change = {"KernelVersion", 0, KSVC_REG_DWORD, &number, 4};
    ksvc_context *ctx = NULL;
    ksvc_status s = KSVC_STATUS_INIT;
    char path[4096];

    assert_int_equal(install(f, f->pay_a, A, 0), KSVC_OK);
    assert_int_equal(f->p->reg_write(f->p, LXSS, &change, 1), KSVC_OK);
    assert_int_equal(ksvc_open(&ctx, f->p, NULL), KSVC_OK);
    assert_int_equal(ksvc_status_get(ctx, &s), KSVC_OK);
    assert_int_equal(s.kernel_class, KSVC_SLOT_CLASS_DAMAGED);
    assert_non_null(strstr(s.problems[s.problem_count - 1], "KernelVersion"));
    assert_int_equal(ksvc_boot_path(ctx, path, sizeof path), KSVC_E_DAMAGED);
    ksvc_close(ctx);
    assert_int_equal(install(f, f->pay_b, B, 0), KSVC_OK);
    assert_slot_is(f, "kernel", f->pay_b);
    assert_slot_absent(f, "kernel.rollback");
}

/* The list of bad versions edited into something unreadable: status runs
 * and names it; every change is refused with the value's name, and
 * nothing on disk changes. */
static void unreadable_bad_list_refuses_changes(void **state)
{
    fixture *f = *state;
    static const char list[] = "5.15.1.1\0banana\0";
    ksvc_reg_change change = {"KServiceBadVersions", 0, KSVC_REG_MULTI_SZ,
                              list, sizeof list};
    ksvc_status s = KSVC_STATUS_INIT;
    char *before, *after;

    assert_int_equal(install(f, f->pay_a, A, 0), KSVC_OK);
    assert_int_equal(f->p->reg_write(f->p, LXSS, &change, 1), KSVC_OK);
    before = test_machine_snapshot(f->m);
    assert_int_equal(ksvc_status_get(f->ctx, &s), KSVC_OK);
    assert_true(s.problem_count >= 1);
    assert_non_null(strstr(s.problems[s.problem_count - 1],
                           "KServiceBadVersions"));
    ASSERT_REFUSED(f, KSVC_E_BAD_VALUE, install(f, f->pay_b, B, 0));
    assert_non_null(strstr(ksvc_error_detail(f->ctx), "KServiceBadVersions"));
    ASSERT_REFUSED(f, KSVC_E_BAD_VALUE, ksvc_rollback(f->ctx));
    after = test_machine_snapshot(f->m);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

/* Every call starts with a clean detail: one refused for its arguments
 * does not leave the previous call's detail behind (1.0 did), and says
 * what was wrong. */
static void every_call_clears_the_detail(void **state)
{
    fixture *f = *state;
    char path[16];

    assert_int_equal(install(f, f->pay_a, A, 0), KSVC_OK);
    assert_int_equal(install(f, f->pay_a, A, 0), KSVC_E_ALREADY_INSTALLED);
    assert_true(ksvc_error_detail(f->ctx)[0] != '\0');
    assert_int_equal(ksvc_install(f->ctx, NULL, NULL, NULL),
                     KSVC_E_INVALID_ARGUMENT);
    assert_null(strstr(ksvc_error_detail(f->ctx), "in use"));
    assert_non_null(strstr(ksvc_error_detail(f->ctx), "payload"));
    assert_int_equal(install(f, f->pay_a, A, 0), KSVC_E_ALREADY_INSTALLED);
    assert_int_equal(ksvc_boot_path(f->ctx, NULL, 0), KSVC_E_INVALID_ARGUMENT);
    assert_null(strstr(ksvc_error_detail(f->ctx), "in use"));
    assert_int_equal(install(f, f->pay_a, A, 0), KSVC_E_ALREADY_INSTALLED);
    assert_int_equal(ksvc_status_get(f->ctx, NULL), KSVC_E_INVALID_ARGUMENT);
    assert_null(strstr(ksvc_error_detail(f->ctx), "in use"));
    assert_int_equal(install(f, f->pay_a, A, 0), KSVC_E_ALREADY_INSTALLED);
    assert_int_equal(ksvc_boot_path(f->ctx, path, sizeof path),
                     KSVC_E_TOO_LONG);
    assert_null(strstr(ksvc_error_detail(f->ctx), "in use"));
}

/* A list of bad versions written by hand with @p count entries
 * 1.0.0.1, 1.0.0.2, ... (older than every payload here). */
static void write_bad_list(fixture *f, unsigned count)
{
    size_t room = (size_t)count * 16 + 1, used = 0;
    char *list = malloc(room);
    ksvc_reg_change change = {"KServiceBadVersions", 0, KSVC_REG_MULTI_SZ,
                              NULL, 0};
    unsigned i;

    assert_non_null(list);
    for (i = 1; i <= count; i++)
        used += (size_t)snprintf(list + used, room - used, "1.0.%u.%u",
                                 i / 1000, i % 1000) + 1;
    list[used++] = '\0';
    change.data = list;
    change.size = used;
    assert_int_equal(f->p->reg_write(f->p, LXSS, &change, 1), KSVC_OK);
    free(list);
}

/* The record of bad versions never blocks a rollback in a lifetime of
 * monthly updates (1.0 refused the 65th), and its bound, when reached, is
 * a limit of the library, not bad input, and changes nothing. */
static void bad_list_has_room_for_decades(void **state)
{
    fixture *f = *state;
    ksvc_status s;

    assert_int_equal(install(f, f->pay_a, A, 0), KSVC_OK);
    assert_int_equal(install(f, f->pay_b, B, 0), KSVC_OK);
    write_bad_list(f, 64);
    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    s = get_status(f, 0);
    assert_int_equal(s.bad_count, 65);
    assert_string_equal(s.bad_versions[64], B);
    assert_int_equal(ksvc_revert_rollback(f->ctx), KSVC_OK);
    write_bad_list(f, 1024);
    ASSERT_REFUSED(f, KSVC_E_LIMIT, ksvc_rollback(f->ctx));
    assert_int_not_equal(ksvc_error_class_of(KSVC_E_LIMIT),
                         KSVC_ERROR_CLASS_BAD_INPUT);
}

/* ---- versions that differ only after the dash (issue 10, part C) ---- */

#define DEB57 "6.1.0-57-amd64"
#define DEB58 "6.1.0-58-amd64"
#define DEB100 "6.1.0-100-amd64"

/* Debian's kernels name themselves 6.1.0-57-amd64, 6.1.0-58-amd64: after
 * 57, 58 is an update that keeps 57 as the way back, and a rollback marks 58
 * bad, never 57. */
static void suffix_versions_update_and_roll_back(void **state)
{
    fixture *f = *state;
    ksvc_status s;

    assert_int_equal(install(f, f->pay_a, DEB57, 0), KSVC_OK);
    assert_int_equal(install(f, f->pay_b, DEB58, 0), KSVC_OK);
    s = get_status(f, KSVC_STATUS_VERIFY);
    assert_string_equal(s.kernel.kernel_version, DEB58);
    assert_string_equal(s.rollback.kernel_version, DEB57);
    assert_slot_is(f, "kernel.rollback", f->pay_a);

    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    s = get_status(f, KSVC_STATUS_VERIFY);
    assert_true(is_bad(&s, DEB58));
    assert_false(is_bad(&s, DEB57));
    assert_int_equal(s.bad_count, 1);
    assert_boots(f, "kernel.rollback");

    /* 58 never comes back; 100 is newer than both and keeps 57. */
    ASSERT_REFUSED(f, KSVC_E_BAD_VERSION,
                   install(f, f->pay_b, DEB58, KSVC_INSTALL_FORCE));
    assert_int_equal(install(f, f->pay_c, DEB100, 0), KSVC_OK);
    assert_slot_is(f, "kernel", f->pay_c);
    assert_slot_is(f, "kernel.rollback", f->pay_a);
    assert_boots(f, "kernel");
}

/* The suffix orders by its numbers (9 < 57 < 58 < 100), and a respelling
 * of the version in use (leading zeros, case) is that version. */
static void suffix_versions_order_and_identity(void **state)
{
    fixture *f = *state;

    assert_int_equal(install(f, f->pay_a, DEB58, 0), KSVC_OK);
    ASSERT_REFUSED(f, KSVC_E_DOWNGRADE, install(f, f->pay_b, DEB57, 0));
    ASSERT_REFUSED(f, KSVC_E_DOWNGRADE,
                   install(f, f->pay_b, "6.1.0-9-amd64", 0));
    ASSERT_REFUSED(f, KSVC_E_ALREADY_INSTALLED,
                   install(f, f->pay_b, "6.1.0-058-AMD64", 0));
    assert_int_equal(install(f, f->pay_b, DEB57, KSVC_INSTALL_ALLOW_DOWNGRADE),
                     KSVC_OK);
    assert_slot_is(f, "kernel", f->pay_b);
    assert_slot_is(f, "kernel.rollback", f->pay_a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(first_install, setup, teardown),
        cmocka_unit_test_setup_teardown(update_makes_rollback_slot, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(rollback_marks_bad_and_boots_rollback,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(worked_example, setup, teardown),
        cmocka_unit_test_setup_teardown(
            install_while_rolled_back_keeps_good_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(revert_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(manual_revert_by_deleting_value,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(manual_revert_seen_by_open_context,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(manual_revert_seen_by_standard_user,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(refusals_of_a_standard_user, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(refusal_downgrade_and_reinstall,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(forced_reinstall_keeps_rollback,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(refusal_rollback_preconditions, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(refusal_rollback_to_bad_version,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(refusal_damaged_rollback_slot, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(refusal_bad_payloads, setup,
                                        teardown),
        cmocka_unit_test(refusal_precheck),
        cmocka_unit_test(precheck_passes),
        cmocka_unit_test_setup_teardown(missing_kernel_message_and_repair,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(repair_of_damaged_kernel, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(repair_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(stamp_spares_the_hash, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(stamp_never_hides_a_hand_edit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(stamp_edited_by_hand_forces_a_hash,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(repair_never_restores_a_bad_version,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(record_boot_clears_restart, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            busy_when_another_servicer_holds_the_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_struct_versions_refused,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(leftover_temporary_removed_on_open,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            damaged_registry_value_leaves_an_unknown_kernel, setup, teardown),
        cmocka_unit_test_setup_teardown(
            unreadable_bad_list_refuses_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_list_has_room_for_decades,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(every_call_clears_the_detail, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(suffix_versions_update_and_roll_back,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(suffix_versions_order_and_identity,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
