/*
 * The open world (issue 10): the other actors of a machine, alone and in
 * combination, on whatever backend tests/machine.h is built for.
 *
 * - wsl.exe --update --rollback, which writes `RollbackKernel` only;
 * - the public page's remedies: copy `kernel.rollback` to `kernel`, copy a
 *   kernel extracted from the MSI into the tools folder;
 * - the kernel that shipped inside Windows and other installers, which
 *   write files and `KernelVersion` and none of our values;
 * - disk damage; hand edits of every value.
 *
 * Every kernel here is an image that names its version (tests/fault/
 * kimage.h), as real kernels do, so the library can tell a foreign kernel
 * from a damaged one.  Each case checks the state after: slot files byte
 * for byte, registry values, status classes, the boot path and
 * ksvc_last_result(); and every refusal or read changes nothing (the
 * machine snapshot of tests/machine.h before and after).
 *
 * "Another tool" edits the machine through the platform table's raw
 * methods and plain file writes at the tools folder's full path, so the
 * suite runs unchanged on the POSIX mock and on Win32 under Wine.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fault/kimage.h"
#include "machine.h"

#define LXSS "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Lxss"

#define A "5.10.102.1-microsoft-standard-WSL2"
#define B "5.15.90.1-microsoft-standard-WSL2"
#define C "5.15.153.1-microsoft-standard-WSL2"
#define D "6.6.36.3-microsoft-standard-WSL2"
/* The inbox kernel names its version with the WSL suffix; the installer
 * that put it there wrote KernelVersion without it (or nothing). */
#define INBOX "5.15.133.1-microsoft-standard-WSL2"
#define INBOX_SHORT "5.15.133.1"

/* Seeds and sizes of the images: every image has bytes of its own. */
enum { SIZE_A = 6000, SIZE_B = 7000, SIZE_C = 8000, SIZE_D = 9000 };

typedef struct fixture {
    test_machine *m;
    ksvc_platform *p;
    ksvc_context *ctx;
    char img_a[1024], img_b[1024], img_c[1024], img_d[1024];
} fixture;

/* ---- the machine and its images ---- */

static ksvc_context *open_ctx(ksvc_platform *p, unsigned flags)
{
    ksvc_open_options o = KSVC_OPEN_OPTIONS_INIT;
    ksvc_context *ctx = NULL;
    int err;

    o.flags = flags;
    err = ksvc_open(&ctx, p, &o);
    if (err != KSVC_OK)
        fail_msg("ksvc_open: %s", ksvc_error_name(err));
    return ctx;
}

/* An image naming @p version in the scratch folder; path into @p out. */
static void make_image(fixture *f, char *out, size_t room, const char *label,
                       const char *version, unsigned seed, size_t size)
{
    snprintf(out, room, "%s/%s.img", test_machine_scratch(f->m), label);
    assert_int_equal(kimage_write(out, KSVC_ARCH_X64, version, seed, size), 0);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);

    assert_non_null(f);
    f->m = test_machine_new(NULL);
    f->p = test_machine_platform(f->m);
    f->ctx = open_ctx(f->p, 0);
    make_image(f, f->img_a, sizeof f->img_a, "a", A, 1, SIZE_A);
    make_image(f, f->img_b, sizeof f->img_b, "b", B, 2, SIZE_B);
    make_image(f, f->img_c, sizeof f->img_c, "c", C, 3, SIZE_C);
    make_image(f, f->img_d, sizeof f->img_d, "d", D, 4, SIZE_D);
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

/* Reopen as a new process of the current user would: for an
 * administrator this open records what other actors did. */
static void reopen(fixture *f)
{
    ksvc_close(f->ctx);
    f->ctx = open_ctx(f->p, 0);
}

static int install(fixture *f, const char *image, unsigned flags)
{
    ksvc_install_options o = KSVC_INSTALL_OPTIONS_INIT;

    o.flags = flags;
    return ksvc_install(f->ctx, image, NULL, &o);
}

static void install_ok(fixture *f, const char *image)
{
    int err = install(f, image, 0);

    if (err != KSVC_OK)
        fail_msg("install %s: %s (%s)", image, ksvc_error_name(err),
                 ksvc_error_detail(f->ctx));
}

/* The machine most cases start from: A installed, then B over it. */
static void install_a_then_b(fixture *f)
{
    install_ok(f, f->img_a);
    install_ok(f, f->img_b);
}

/* ---- files, as another tool sees them ---- */

static void tools_path(fixture *f, const char *slot, char *out, size_t room)
{
    assert_int_equal(f->p->full_path(f->p, slot, out, room), KSVC_OK);
}

/* The whole of a file outside the library, or NULL when absent. */
static unsigned char *file_bytes(const char *path, size_t *size)
{
    FILE *in = fopen(path, "rb");
    unsigned char *buf;
    long len;

    if (!in)
        return NULL;
    assert_int_equal(fseek(in, 0, SEEK_END), 0);
    len = ftell(in);
    assert_true(len >= 0);
    assert_int_equal(fseek(in, 0, SEEK_SET), 0);
    buf = malloc((size_t)len + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)len, in), (size_t)len);
    fclose(in);
    *size = (size_t)len;
    return buf;
}

static unsigned char *slot_bytes(fixture *f, const char *slot, size_t *size)
{
    char path[4096];

    tools_path(f, slot, path, sizeof path);
    return file_bytes(path, size);
}

/* Copy a file over a slot by hand, as Explorer or `copy` would: the slot
 * keeps its name, its bytes become @p from's. */
static void copy_by_hand(fixture *f, const char *from, const char *slot)
{
    char to[4096];
    size_t size = 0;
    unsigned char *bytes = file_bytes(from, &size);

    assert_non_null(bytes);
    tools_path(f, slot, to, sizeof to);
    assert_int_equal(kimage_write_bytes(to, bytes, size), 0);
    free(bytes);
}

static void copy_slot_by_hand(fixture *f, const char *from, const char *to)
{
    char path[4096];

    tools_path(f, from, path, sizeof path);
    copy_by_hand(f, path, to);
}

static void assert_slot_is(fixture *f, const char *slot, const char *image)
{
    size_t slot_size = 0, image_size = 0;
    unsigned char *s = slot_bytes(f, slot, &slot_size);
    unsigned char *i = file_bytes(image, &image_size);

    if (!s)
        fail_msg("%s is missing, expected the bytes of %s", slot, image);
    assert_non_null(i);
    if (slot_size != image_size || memcmp(s, i, slot_size) != 0)
        fail_msg("%s does not hold the bytes of %s", slot, image);
    free(s);
    free(i);
}

static void assert_slot_absent(fixture *f, const char *slot)
{
    ksvc_file_info info;

    assert_int_equal(f->p->stat(f->p, slot, &info), KSVC_OK);
    assert_int_equal(info.kind, KSVC_FILE_NONE);
}

/* ---- values, as another tool sees them ---- */

static void set_sz(fixture *f, const char *name, const char *text)
{
    ksvc_reg_change ch = { 0 };

    ch.name = name;
    ch.type = KSVC_REG_SZ;
    ch.data = text;
    ch.size = strlen(text) + 1;
    assert_int_equal(f->p->reg_write(f->p, LXSS, &ch, 1), KSVC_OK);
}

static void set_dword(fixture *f, const char *name, uint32_t value)
{
    ksvc_reg_change ch = { 0 };

    ch.name = name;
    ch.type = KSVC_REG_DWORD;
    ch.data = &value;
    ch.size = sizeof value;
    assert_int_equal(f->p->reg_write(f->p, LXSS, &ch, 1), KSVC_OK);
}

/* @p list: NUL-separated entries ending with an empty one. */
static void set_multi(fixture *f, const char *name, const char *list,
                      size_t size)
{
    ksvc_reg_change ch = { 0 };

    ch.name = name;
    ch.type = KSVC_REG_MULTI_SZ;
    ch.data = list;
    ch.size = size;
    assert_int_equal(f->p->reg_write(f->p, LXSS, &ch, 1), KSVC_OK);
}

/* A string value, or NULL when absent; @p buf holds it. */
static const char *value_sz(fixture *f, const char *name, char *buf,
                            size_t room)
{
    uint32_t type = 0;
    size_t size = room - 1;
    int err = f->p->reg_read(f->p, LXSS, name, &type, buf, &size);

    if (err == KSVC_E_NOT_FOUND)
        return NULL;
    assert_int_equal(err, KSVC_OK);
    assert_int_equal(type, KSVC_REG_SZ);
    buf[size] = '\0';
    return buf;
}

static void assert_value(fixture *f, const char *name, const char *expected)
{
    char buf[512];
    const char *got = value_sz(f, name, buf, sizeof buf);

    if (!expected && got)
        fail_msg("%s = \"%s\", expected absent", name, got);
    if (expected && !got)
        fail_msg("%s absent, expected \"%s\"", name, expected);
    if (expected)
        assert_string_equal(got, expected);
}

/* Is @p version among the entries of KServiceBadVersions as stored? */
static int stored_bad(fixture *f, const char *version)
{
    char buf[4096];
    uint32_t type = 0;
    size_t size = sizeof buf - 2, pos = 0;
    int err = f->p->reg_read(f->p, LXSS, "KServiceBadVersions", &type, buf,
                             &size);

    if (err == KSVC_E_NOT_FOUND)
        return 0;
    assert_int_equal(err, KSVC_OK);
    assert_int_equal(type, KSVC_REG_MULTI_SZ);
    buf[size] = buf[size + 1] = '\0';
    while (pos < size && buf[pos]) {
        if (!strcmp(buf + pos, version))
            return 1;
        pos += strlen(buf + pos) + 1;
    }
    return 0;
}

/* The public page's manual revert: delete RollbackKernel with regedit. */
static void revert_by_hand(fixture *f)
{
    assert_int_equal(test_machine_delete_value_by_hand(f->m,
                                                       "RollbackKernel"),
                     0);
}

/* ---- what the library says ---- */

/* Does the machine differ from snapshot @p before (kept)? */
static int changed_since(fixture *f, const char *before)
{
    char *now = test_machine_snapshot(f->m);
    int changed = strcmp(before, now) != 0;

    free(now);
    return changed;
}

/* The machine's snapshot now is @p before (which this frees); on a
 * difference the lines that changed are printed. */
static void assert_unchanged_since(fixture *f, char *before)
{
    char *after = test_machine_snapshot(f->m);
    const char *b = before, *a = after;

    if (strcmp(before, after) != 0) {
        while (*b || *a) {
            size_t bl = strcspn(b, "\n"), al = strcspn(a, "\n");
            if (bl != al || memcmp(b, a, bl) != 0)
                print_message("changed: %.*s\n     now: %.*s\n", (int)bl, b,
                              (int)al, a);
            b += bl + (b[bl] != '\0');
            a += al + (a[al] != '\0');
        }
        fail_msg("the machine changed");
    }
    free(before);
    free(after);
}

static ksvc_status get_status(fixture *f, unsigned flags)
{
    ksvc_status s = KSVC_STATUS_INIT;
    int err;

    s.flags = flags;
    err = ksvc_status_get(f->ctx, &s);
    if (err != KSVC_OK)
        fail_msg("status: %s (%s)", ksvc_error_name(err),
                 ksvc_error_detail(f->ctx));
    return s;
}

/* Status through a read-only context: the machine as it is, nothing
 * recorded, nothing changed. */
static ksvc_status peek_status(fixture *f, ksvc_context **ro)
{
    ksvc_status s = KSVC_STATUS_INIT;
    char *before = test_machine_snapshot(f->m);

    *ro = open_ctx(f->p, KSVC_OPEN_READ_ONLY);
    assert_int_equal(ksvc_status_get(*ro, &s), KSVC_OK);
    assert_unchanged_since(f, before);
    return s;
}

static int status_bad(const ksvc_status *s, const char *version)
{
    size_t i;

    for (i = 0; i < s->bad_count; i++)
        if (!strcmp(s->bad_versions[i], version))
            return 1;
    return 0;
}

/* Does some problem sentence contain @p word? */
static int problem_names(const ksvc_status *s, const char *word)
{
    size_t i;

    for (i = 0; i < s->problem_count; i++)
        if (strstr(s->problems[i], word))
            return 1;
    return 0;
}

static void assert_problem(const ksvc_status *s, const char *word)
{
    size_t i;

    if (problem_names(s, word))
        return;
    for (i = 0; i < s->problem_count; i++)
        print_message("problem: %s\n", s->problems[i]);
    fail_msg("no problem names \"%s\"", word);
}

static void assert_no_damage(const ksvc_status *s)
{
    assert_int_not_equal(s->kernel_class, KSVC_SLOT_CLASS_DAMAGED);
    assert_int_not_equal(s->rollback_class, KSVC_SLOT_CLASS_DAMAGED);
    assert_false(problem_names(s, "damaged"));
}

static void assert_slot_class(ksvc_slot_class got, ksvc_slot_class expected)
{
    if (got != expected)
        fail_msg("slot is %s, expected %s", ksvc_slot_class_name(got),
                 ksvc_slot_class_name(expected));
}


static void assert_boots_on(ksvc_context *ctx, fixture *f, const char *slot)
{
    char path[4096], expected[4096];
    int err = ksvc_boot_path(ctx, path, sizeof path);

    if (err != KSVC_OK)
        fail_msg("boot path: %s (%s)", ksvc_error_name(err),
                 ksvc_error_detail(ctx));
    tools_path(f, slot, expected, sizeof expected);
    assert_string_equal(path, expected);
}

static void assert_boots(fixture *f, const char *slot)
{
    char *before = test_machine_snapshot(f->m);

    assert_boots_on(f->ctx, f, slot);
    assert_unchanged_since(f, before);
}

/* What a read-only look sees after other actors placed kernels that are
 * not damaged: each slot's class and the version it holds, and `kernel`
 * boots. */
static void assert_seen_undamaged(fixture *f, ksvc_slot_class kernel_class,
                                  const char *kernel_holds,
                                  ksvc_slot_class rollback_class,
                                  const char *rollback_holds)
{
    ksvc_context *ro;
    ksvc_status s = peek_status(f, &ro);

    assert_slot_class(s.kernel_class, kernel_class);
    assert_slot_class(s.rollback_class, rollback_class);
    assert_string_equal(s.kernel_holds, kernel_holds);
    assert_string_equal(s.rollback_holds, rollback_holds);
    assert_no_damage(&s);
    assert_boots_on(ro, f, "kernel");
    ksvc_close(ro);
}

static ksvc_result last_result(fixture *f)
{
    ksvc_result r = KSVC_RESULT_INIT;

    assert_int_equal(ksvc_last_result(f->ctx, &r), KSVC_OK);
    return r;
}

/* The last result says @p op returned @p err, changed the machine or not,
 * moved exactly @p moved and marked @p marked_bad ("" for none) bad. */
static void assert_result(fixture *f, ksvc_operation op, int err,
                          int changed, unsigned moved, const char *marked_bad)
{
    ksvc_result r = last_result(f);

    assert_int_equal(r.operation, op);
    assert_int_equal(r.error, err);
    if (r.changed != changed)
        fail_msg("changed = %d, expected %d (%s)", r.changed, changed,
                 r.summary);
    if (r.moved != moved)
        fail_msg("moved = 0x%x, expected 0x%x (%s)", r.moved, moved,
                 r.summary);
    assert_string_equal(r.marked_bad, marked_bad);
    assert_true(r.summary[0] != '\0');
}

/* Run @p call, expect @p err with a detail, and nothing changed. */
#define ASSERT_REFUSED(f, err, call)                                         \
    do {                                                                     \
        char *before_ = test_machine_snapshot((f)->m);                      \
        int rc_ = (call);                                                    \
        if (rc_ != (err))                                                    \
            fail_msg("%s gave %s (%s), expected %s", #call,                  \
                     ksvc_error_name(rc_), ksvc_error_detail((f)->ctx),      \
                     ksvc_error_name(err));                                  \
        assert_true(ksvc_error_detail((f)->ctx)[0] != '\0');                \
        assert_unchanged_since((f), before_);                               \
    } while (0)

/* An install refused with @p err: ksvc_install_check() gives the same
 * error first, and neither changes anything; both results say so. */
static void assert_install_refused(fixture *f, const char *image,
                                   unsigned flags, int err)
{
    ksvc_install_options o = KSVC_INSTALL_OPTIONS_INIT;

    o.flags = flags;
    ASSERT_REFUSED(f, err, ksvc_install_check(f->ctx, image, NULL, &o));
    assert_result(f, KSVC_OPERATION_INSTALL_CHECK, err, 0, 0, "");
    ASSERT_REFUSED(f, err, ksvc_install(f->ctx, image, NULL, &o));
    assert_result(f, KSVC_OPERATION_INSTALL, err, 0, 0, "");
}

/* repair on a sound machine: nothing changes and the result says so. */
static void assert_noop_repair(fixture *f)
{
    char *before = test_machine_snapshot(f->m);
    ksvc_result r;

    assert_int_equal(ksvc_repair(f->ctx), KSVC_OK);
    assert_unchanged_since(f, before);
    r = last_result(f);
    assert_int_equal(r.operation, KSVC_OPERATION_REPAIR);
    assert_int_equal(r.error, KSVC_OK);
    assert_int_equal(r.changed, 0);
    assert_int_equal(r.moved, 0);
    if (!strstr(r.summary, "nothing to repair"))
        fail_msg("no-op repair says: %s", r.summary);
}

/* A known defect of the library, reported to the lead: the test stops
 * here as skipped while @p cond holds, and runs to its end once fixed. */
#define BUG_LEAD_IF(cond, what)                                              \
    do {                                                                     \
        if (cond) {                                                          \
            print_message("BUG(lead): %s\n", what);                          \
            skip();                                                          \
        }                                                                    \
    } while (0)

/* ---- 1. wsl.exe --update --rollback, then the MSI of C ---- */

static void wsl_exe_rollback_then_msi(void **state)
{
    fixture *f = *state;
    ksvc_status s;
    char *before;

    install_a_then_b(f);
    /* wsl.exe writes RollbackKernel and nothing of ours. */
    set_sz(f, "RollbackKernel", B);

    /* A standard user sees B bad at once and changes nothing. */
    test_machine_set_elevated(f->m, 0);
    before = test_machine_snapshot(f->m);
    s = get_status(f, 0);
    assert_true(s.rolled_back);
    assert_string_equal(s.rolled_back_from, B);
    assert_true(status_bad(&s, B));
    assert_int_equal(s.effective, KSVC_SLOT_ROLLBACK);
    assert_true(s.kernel_holds_bad);
    assert_false(s.rollback_holds_bad);
    assert_string_equal(s.kernel_holds, B);
    assert_string_equal(s.rollback_holds, A);
    assert_problem(&s, "RollbackKernel");
    assert_boots_on(f->ctx, f, "kernel.rollback");
    ASSERT_REFUSED(f, KSVC_E_NOT_ELEVATED, install(f, f->img_b, 0));
    ASSERT_REFUSED(f, KSVC_E_NOT_ELEVATED, install(f, f->img_c, 0));
    assert_unchanged_since(f, before);
    assert_false(stored_bad(f, B));

    /* The next administrator open records B bad for good. */
    test_machine_set_elevated(f->m, 1);
    reopen(f);
    assert_true(stored_bad(f, B));
    assert_false(stored_bad(f, A));
    assert_value(f, "RollbackKernel", B);
    assert_slot_is(f, "kernel", f->img_b);
    assert_slot_is(f, "kernel.rollback", f->img_a);
    s = get_status(f, KSVC_STATUS_VERIFY);
    assert_true(status_bad(&s, B));
    assert_int_equal(s.bad_count, 1);
    assert_false(problem_names(&s, "RollbackKernel"));
    assert_boots(f, "kernel.rollback");

    assert_install_refused(f, f->img_b, 0, KSVC_E_BAD_VERSION);
    assert_install_refused(f, f->img_b, KSVC_INSTALL_FORCE,
                           KSVC_E_BAD_VERSION);

    /* The page's worked example: C replaces B; A stays the rollback. */
    assert_int_equal(ksvc_install_check(f->ctx, f->img_c, NULL, NULL),
                     KSVC_OK);
    assert_result(f, KSVC_OPERATION_INSTALL_CHECK, KSVC_OK, 0, 0, "");
    install_ok(f, f->img_c);
    assert_result(f, KSVC_OPERATION_INSTALL, KSVC_OK, 1,
                  KSVC_MOVED_KERNEL_REPLACED, "");
    assert_slot_is(f, "kernel", f->img_c);
    assert_slot_is(f, "kernel.rollback", f->img_a);
    assert_value(f, "KernelVersion", C);
    assert_value(f, "KServiceRollbackVersion", A);
    assert_value(f, "RollbackKernel", NULL);
    assert_true(stored_bad(f, B));
    s = get_status(f, KSVC_STATUS_VERIFY);
    assert_slot_class(s.kernel_class, KSVC_SLOT_CLASS_VERIFIED);
    assert_slot_class(s.rollback_class, KSVC_SLOT_CLASS_VERIFIED);
    assert_int_equal(s.problem_count, 0);
    assert_boots(f, "kernel");
    assert_install_refused(f, f->img_b, KSVC_INSTALL_ALLOW_DOWNGRADE,
                           KSVC_E_BAD_VERSION);
}

/* The same rollback, the MSI of C run with no administrator open in
 * between: the install itself records B. */
static void wsl_exe_rollback_then_install_at_once(void **state)
{
    fixture *f = *state;

    install_a_then_b(f);
    set_sz(f, "RollbackKernel", B);
    install_ok(f, f->img_c);
    assert_slot_is(f, "kernel", f->img_c);
    assert_slot_is(f, "kernel.rollback", f->img_a);
    assert_true(stored_bad(f, B));
    assert_value(f, "RollbackKernel", NULL);
    assert_install_refused(f, f->img_b, KSVC_INSTALL_ALLOW_DOWNGRADE,
                           KSVC_E_BAD_VERSION);
}

/* wsl.exe writes RollbackKernel with the text of KernelVersion, which
 * another installer may have written without the suffix the image names:
 * still the same version. */
static void wsl_exe_rollback_short_version(void **state)
{
    fixture *f = *state;
    ksvc_status s;

    install_a_then_b(f);
    set_sz(f, "RollbackKernel", "5.15.90.1");
    test_machine_set_elevated(f->m, 0);
    s = get_status(f, 0);
    assert_true(s.kernel_holds_bad);
    assert_false(s.rollback_holds_bad);
    assert_boots(f, "kernel.rollback");
    test_machine_set_elevated(f->m, 1);
    reopen(f);
    assert_install_refused(f, f->img_b, 0, KSVC_E_BAD_VERSION);
    install_ok(f, f->img_c);
    assert_slot_is(f, "kernel.rollback", f->img_a);
    assert_install_refused(f, f->img_b, KSVC_INSTALL_ALLOW_DOWNGRADE,
                           KSVC_E_BAD_VERSION);
}

/* The page's manual revert after wsl.exe's rollback was recorded: the
 * same as after the library's own (DESIGN.md, "The open world"). */
static void wsl_exe_rollback_then_manual_revert(void **state)
{
    fixture *f = *state;

    install_a_then_b(f);
    set_sz(f, "RollbackKernel", B);
    reopen(f);
    assert_true(stored_bad(f, B));
    revert_by_hand(f);
    reopen(f);
    assert_false(stored_bad(f, B));
    assert_boots(f, "kernel");
    assert_slot_is(f, "kernel", f->img_b);
    assert_slot_is(f, "kernel.rollback", f->img_a);
}

/* wsl.exe's rollback where no kernel.rollback exists: nothing to boot,
 * status and the boot path say so, repair cannot help (the only kernel
 * is bad), and the next install ends it. */
static void wsl_exe_rollback_without_rollback_kernel(void **state)
{
    fixture *f = *state;
    char path[4096];
    ksvc_status s;

    install_ok(f, f->img_a);
    set_sz(f, "RollbackKernel", A);
    reopen(f);
    assert_true(stored_bad(f, A));
    s = get_status(f, 0);
    assert_int_equal(s.effective, KSVC_SLOT_NONE);
    assert_problem(&s, "kernel.rollback is missing");
    ASSERT_REFUSED(f, KSVC_E_KERNEL_MISSING,
                   ksvc_boot_path(f->ctx, path, sizeof path));
    ASSERT_REFUSED(f, KSVC_E_KERNEL_MISSING, ksvc_repair(f->ctx));
    assert_install_refused(f, f->img_a, KSVC_INSTALL_FORCE,
                           KSVC_E_BAD_VERSION);
    install_ok(f, f->img_c);
    assert_slot_is(f, "kernel", f->img_c);
    assert_slot_absent(f, "kernel.rollback");
    assert_value(f, "RollbackKernel", NULL);
    assert_true(stored_bad(f, A));
    assert_boots(f, "kernel");
}

/* Another installer updates `kernel` while the library's rollback is in
 * force: the machine keeps booting kernel.rollback until the revert,
 * which then boots the new kernel; B stays bad. */
static void other_installer_updates_while_rolled_back(void **state)
{
    fixture *f = *state;

    install_a_then_b(f);
    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    copy_by_hand(f, f->img_c, "kernel");
    set_sz(f, "KernelVersion", C);
    reopen(f);
    assert_value(f, "KernelVersion", C);
    assert_boots(f, "kernel.rollback");
    revert_by_hand(f);
    reopen(f);
    assert_true(stored_bad(f, B));
    assert_boots(f, "kernel");
    assert_slot_is(f, "kernel", f->img_c);
    assert_install_refused(f, f->img_b, KSVC_INSTALL_ALLOW_DOWNGRADE,
                           KSVC_E_BAD_VERSION);
}

/* A bad version copied over kernel.rollback: never adopted, no rollback to
 * it, and the next install replaces it. */
static void bad_version_copied_into_rollback_slot(void **state)
{
    fixture *f = *state;
    ksvc_context *ro;
    ksvc_status s;

    install_a_then_b(f);
    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    install_ok(f, f->img_c);
    copy_by_hand(f, f->img_b, "kernel.rollback");
    s = peek_status(f, &ro);
    assert_slot_class(s.rollback_class, KSVC_SLOT_CLASS_FOREIGN);
    assert_string_equal(s.rollback_holds, B);
    assert_true(s.rollback_holds_bad);
    assert_problem(&s, B);
    ksvc_close(ro);
    reopen(f);
    assert_value(f, "KServiceRollbackVersion", A);
    ASSERT_REFUSED(f, KSVC_E_BAD_VERSION, ksvc_rollback(f->ctx));
    assert_boots(f, "kernel");
    install_ok(f, f->img_d);
    assert_slot_is(f, "kernel", f->img_d);
    assert_slot_is(f, "kernel.rollback", f->img_c);
    assert_value(f, "KServiceRollbackVersion", C);
}

/* What an administrator only reads (status, the boot path) changes
 * nothing either: the header says ksvc_status_get "never changes
 * anything". */
static void administrator_reads_change_nothing(void **state)
{
    fixture *f = *state;
    char *before;
    ksvc_status s = KSVC_STATUS_INIT;
    int changed;

    install_a_then_b(f);
    set_sz(f, "RollbackKernel", B);
    before = test_machine_snapshot(f->m);
    assert_int_equal(ksvc_status_get(f->ctx, &s), KSVC_OK);
    assert_true(status_bad(&s, B));
    changed = changed_since(f, before);
    free(before);
    /* Every administrator frame reconciles (src/context.c
     * recover_and_load): either the header or the frame is wrong. */
    BUG_LEAD_IF(changed, "ksvc_status_get on an administrator's context "
                         "recorded RollbackKernel's B in KServiceBadVersions; "
                         "kservice.h says status never changes anything");
    assert_boots(f, "kernel.rollback");
}

/* Rolling back to a foreign rollback kernel (another installer put the
 * inbox kernel there) adopts it, and the result says so. */
static void rollback_to_foreign_kernel(void **state)
{
    fixture *f = *state;
    char inbox[1024];
    ksvc_result r;

    install_a_then_b(f);
    make_image(f, inbox, sizeof inbox, "inbox", INBOX, 5, 5000);
    copy_by_hand(f, inbox, "kernel.rollback");
    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    r = last_result(f);
    assert_int_equal(r.operation, KSVC_OPERATION_ROLLBACK);
    assert_string_equal(r.marked_bad, B);
    assert_string_equal(r.rollback_before, INBOX);
    assert_value(f, "KServiceRollbackVersion", INBOX);
    assert_value(f, "RollbackKernel", B);
    assert_true(stored_bad(f, B));
    assert_boots(f, "kernel.rollback");
    assert_slot_is(f, "kernel.rollback", inbox);
    /* decide_rollback adopts a foreign target (KSVC_MOVED_ADOPTED), but
     * the frame's reconcile adopted it first. */
    BUG_LEAD_IF(!(r.moved & KSVC_MOVED_ADOPTED),
                "rollback to a foreign kernel.rollback: the frame adopted "
                "it before the decision, so the result does not say "
                "KSVC_MOVED_ADOPTED");
}

/* wsl.exe's rollback, and the MSI of B asks before any administrator
 * open: refused, and the check records nothing. */
static void wsl_exe_rollback_then_check_records_nothing(void **state)
{
    fixture *f = *state;
    char *before;
    int changed;

    install_a_then_b(f);
    set_sz(f, "RollbackKernel", B);
    before = test_machine_snapshot(f->m);
    assert_int_equal(ksvc_install_check(f->ctx, f->img_b, NULL, NULL),
                     KSVC_E_BAD_VERSION);
    changed = changed_since(f, before);
    if (changed)
        free(before); /* skip() below leaves the test */
    BUG_LEAD_IF(changed, "ksvc_install_check of B after wsl.exe's "
                         "RollbackKernel=B refused with KSVC_E_BAD_VERSION "
                         "and recorded B in KServiceBadVersions");
    assert_unchanged_since(f, before);
}

/* ---- 2. install over a damaged kernel ---- */

static void install_over_damaged_kernel_keeps_rollback(void **state)
{
    fixture *f = *state;
    ksvc_context *ro;
    ksvc_status s;

    install_a_then_b(f);
    test_machine_corrupt_file_by_hand(f->m, "kernel"); /* same size */
    s = peek_status(f, &ro);
    assert_slot_class(s.kernel_class, KSVC_SLOT_CLASS_DAMAGED);
    assert_slot_class(s.rollback_class, KSVC_SLOT_CLASS_VERIFIED);
    assert_string_equal(s.kernel_holds, "");
    assert_problem(&s, "damaged");
    assert_int_equal(ksvc_boot_path(ro, (char[4096]){ 0 }, 4096),
                     KSVC_E_DAMAGED);
    ksvc_close(ro);

    install_ok(f, f->img_c);
    assert_result(f, KSVC_OPERATION_INSTALL, KSVC_OK, 1,
                  KSVC_MOVED_KERNEL_REPLACED, "");
    assert_slot_is(f, "kernel", f->img_c);
    assert_slot_is(f, "kernel.rollback", f->img_a);
    assert_value(f, "KernelVersion", C);
    assert_value(f, "KServiceRollbackVersion", A);
    s = get_status(f, KSVC_STATUS_VERIFY);
    assert_slot_class(s.kernel_class, KSVC_SLOT_CLASS_VERIFIED);
    assert_slot_class(s.rollback_class, KSVC_SLOT_CLASS_VERIFIED);
    assert_int_equal(s.problem_count, 0);

    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    assert_result(f, KSVC_OPERATION_ROLLBACK, KSVC_OK, 1, 0, C);
    assert_boots(f, "kernel.rollback");
    assert_slot_is(f, "kernel.rollback", f->img_a);
    assert_true(stored_bad(f, C));
    assert_false(stored_bad(f, A));
    assert_false(stored_bad(f, B));
}

/* ---- 3. the page's remedy: a kernel extracted from the MSI ---- */

static void msi_extracted_kernel_is_adopted(void **state)
{
    fixture *f = *state;
    ksvc_context *ro;
    ksvc_status s;

    install_ok(f, f->img_a);
    test_machine_remove_file_by_hand(f->m, "kernel");
    copy_by_hand(f, f->img_c, "kernel");
    s = peek_status(f, &ro);
    assert_slot_class(s.kernel_class, KSVC_SLOT_CLASS_FOREIGN);
    assert_string_equal(s.kernel_holds, C);
    assert_string_equal(s.kernel_image_version, C);
    assert_false(s.kernel_holds_bad);
    assert_no_damage(&s);
    assert_problem(&s, C);
    /* A foreign kernel of a good version boots, even before adoption. */
    assert_boots_on(ro, f, "kernel");
    ksvc_close(ro);

    reopen(f); /* the administrator's open adopts it */
    assert_value(f, "KernelVersion", C);
    assert_value(f, "KServiceRollbackVersion", NULL);
    assert_slot_is(f, "kernel", f->img_c);
    assert_slot_absent(f, "kernel.rollback");
    s = get_status(f, KSVC_STATUS_VERIFY);
    assert_slot_class(s.kernel_class, KSVC_SLOT_CLASS_VERIFIED);
    assert_string_equal(s.kernel.kernel_version, C);
    assert_int_equal(s.problem_count, 0);
    assert_boots(f, "kernel");

    /* Installing C over it is a reinstall; with force, C's bytes never
     * become kernel.rollback recorded as A. */
    assert_install_refused(f, f->img_c, 0, KSVC_E_ALREADY_INSTALLED);
    assert_int_equal(install(f, f->img_c, KSVC_INSTALL_FORCE), KSVC_OK);
    assert_result(f, KSVC_OPERATION_INSTALL, KSVC_OK, 1,
                  KSVC_MOVED_KERNEL_REPLACED, "");
    assert_slot_is(f, "kernel", f->img_c);
    assert_slot_absent(f, "kernel.rollback");
    assert_value(f, "KServiceRollbackVersion", NULL);
}

/* The same remedy with a rollback kernel present, and the install of C
 * run without an administrator open first (the reproducer): C is
 * the kernel in use, and its bytes never become kernel.rollback recorded
 * as A. */
static void msi_extracted_kernel_then_install(void **state)
{
    fixture *f = *state;
    ksvc_status s;

    install_a_then_b(f);
    test_machine_remove_file_by_hand(f->m, "kernel");
    copy_by_hand(f, f->img_c, "kernel");
    assert_int_equal(install(f, f->img_c, 0), KSVC_E_ALREADY_INSTALLED);
    assert_slot_is(f, "kernel", f->img_c);
    assert_slot_is(f, "kernel.rollback", f->img_a);
    assert_value(f, "KServiceRollbackVersion", A);
    assert_install_refused(f, f->img_c, 0, KSVC_E_ALREADY_INSTALLED);
    install_ok(f, f->img_d);
    assert_slot_is(f, "kernel", f->img_d);
    assert_slot_is(f, "kernel.rollback", f->img_c);
    assert_value(f, "KServiceRollbackVersion", C);
    s = get_status(f, KSVC_STATUS_VERIFY);
    assert_slot_class(s.rollback_class, KSVC_SLOT_CLASS_VERIFIED);
    assert_string_equal(s.rollback_holds, C);
    assert_int_equal(s.problem_count, 0);
}

/* A refused install and an install check change nothing, also on a
 * context whose administrator has not yet recorded a foreign kernel. */
static void refusal_records_nothing_of_a_foreign_kernel(void **state)
{
    fixture *f = *state;
    char *before;
    int err, changed;

    install_a_then_b(f);
    test_machine_remove_file_by_hand(f->m, "kernel");
    copy_by_hand(f, f->img_c, "kernel");
    before = test_machine_snapshot(f->m);
    err = ksvc_install_check(f->ctx, f->img_c, NULL, NULL);
    changed = changed_since(f, before);
    free(before);
    assert_int_equal(err, KSVC_E_ALREADY_INSTALLED);
    assert_result(f, KSVC_OPERATION_INSTALL_CHECK, err, 0, 0, "");
    /* The administrator's frame of every call adopts the foreign kernel
     * before deciding (src/context.c reconcile), so a call documented as
     * changing nothing writes KernelVersion and the checksum values. */
    BUG_LEAD_IF(changed, "ksvc_install_check refused with "
                         "KSVC_E_ALREADY_INSTALLED but adopted the foreign "
                         "kernel (registry changed)");
    assert_install_refused(f, f->img_c, 0, KSVC_E_ALREADY_INSTALLED);
}

/* ---- 4. the page's remedy: copy kernel.rollback to kernel ---- */

static void copied_rollback_is_foreign_and_adopted_by_repair(void **state)
{
    fixture *f = *state;
    ksvc_context *ro;
    ksvc_status s;
    ksvc_result r;

    install_a_then_b(f);
    copy_slot_by_hand(f, "kernel.rollback", "kernel");
    s = peek_status(f, &ro);
    assert_slot_class(s.kernel_class, KSVC_SLOT_CLASS_FOREIGN);
    assert_string_equal(s.kernel_holds, A);
    assert_string_equal(s.kernel_image_version, A);
    assert_no_damage(&s);
    ksvc_close(ro);

    assert_int_equal(ksvc_repair(f->ctx), KSVC_OK);
    r = last_result(f);
    assert_int_equal(r.operation, KSVC_OPERATION_REPAIR);
    assert_int_equal(r.error, KSVC_OK);
    assert_value(f, "KernelVersion", A);
    assert_slot_is(f, "kernel", f->img_a);
    assert_slot_is(f, "kernel.rollback", f->img_a);
    s = get_status(f, KSVC_STATUS_VERIFY);
    assert_slot_class(s.kernel_class, KSVC_SLOT_CLASS_VERIFIED);
    assert_int_equal(s.problem_count, 0);
    assert_boots(f, "kernel");
    /* A second repair has nothing to do and says so. */
    assert_noop_repair(f);

    /* The first repair adopted the copy and says so.  The frame's
     * reconcile (src/context.c) adopts before repair decides, so repair
     * reports "nothing to repair", changed 0, although the registry
     * changed. */
    BUG_LEAD_IF(!(r.moved & KSVC_MOVED_ADOPTED) || !r.changed,
                "repair adopted the copied kernel (KernelVersion rewritten) "
                "but its result says changed 0, moved 0, \"nothing to "
                "repair\"");
    assert_int_equal(r.moved, KSVC_MOVED_ADOPTED);
    assert_non_null(strstr(r.summary, "adopted"));
}

static void noop_repair_says_so(void **state)
{
    fixture *f = *state;

    install_a_then_b(f);
    assert_noop_repair(f);
}

/* The administrator's open adopts the copy as well; repair then has
 * nothing to do. */
static void copied_rollback_adopted_by_open(void **state)
{
    fixture *f = *state;
    ksvc_status s;

    install_a_then_b(f);
    copy_slot_by_hand(f, "kernel.rollback", "kernel");
    reopen(f);
    assert_value(f, "KernelVersion", A);
    assert_value(f, "KServiceRollbackVersion", A);
    s = get_status(f, KSVC_STATUS_VERIFY);
    assert_slot_class(s.kernel_class, KSVC_SLOT_CLASS_VERIFIED);
    assert_string_equal(s.kernel_holds, A);
    assert_int_equal(s.problem_count, 0);
    assert_boots(f, "kernel");
}

/* ---- 5. the kernel that shipped inside Windows: no record at all ---- */


static void inbox_kernel(fixture *f, const char *kernel_version,
                         char *image, size_t room)
{
    ksvc_status s;

    make_image(f, image, room, "inbox", INBOX, 5, 5000);
    copy_by_hand(f, image, "kernel");
    if (kernel_version)
        set_sz(f, "KernelVersion", kernel_version);
    assert_seen_undamaged(f, KSVC_SLOT_CLASS_FOREIGN, INBOX,
                          KSVC_SLOT_CLASS_MISSING, "");

    reopen(f);
    assert_value(f, "KernelVersion", INBOX);
    assert_slot_is(f, "kernel", image);
    s = get_status(f, KSVC_STATUS_VERIFY);
    assert_slot_class(s.kernel_class, KSVC_SLOT_CLASS_VERIFIED);
    assert_string_equal(s.kernel_holds, INBOX);
    assert_int_equal(s.problem_count, 0);
    assert_noop_repair(f);

    /* A newer kernel keeps the inbox one as the rollback kernel, recorded
     * with the version its image names. */
    install_ok(f, f->img_c);
    assert_result(f, KSVC_OPERATION_INSTALL, KSVC_OK, 1,
                  KSVC_MOVED_KERNEL_REPLACED | KSVC_MOVED_KERNEL_TO_ROLLBACK,
                  "");
    assert_slot_is(f, "kernel", f->img_c);
    assert_slot_is(f, "kernel.rollback", image);
    assert_value(f, "KernelVersion", C);
    assert_value(f, "KServiceRollbackVersion", INBOX);
    s = get_status(f, KSVC_STATUS_VERIFY);
    assert_slot_class(s.rollback_class, KSVC_SLOT_CLASS_VERIFIED);
    assert_int_equal(s.problem_count, 0);
    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    assert_result(f, KSVC_OPERATION_ROLLBACK, KSVC_OK, 1, 0, C);
    assert_boots(f, "kernel.rollback");
}

static void inbox_kernel_with_short_kernel_version(void **state)
{
    fixture *f = *state;
    char image[1024];

    inbox_kernel(f, INBOX_SHORT, image, sizeof image);
}

static void inbox_kernel_without_any_value(void **state)
{
    fixture *f = *state;
    char image[1024];

    inbox_kernel(f, NULL, image, sizeof image);
}

/* ---- 6. another installer replaces both files and KernelVersion ---- */

static void other_installer_replaces_both(void **state)
{
    fixture *f = *state;
    ksvc_status s;

    install_a_then_b(f);
    /* It knows nothing of our values: they stay as they were. */
    copy_by_hand(f, f->img_d, "kernel");
    copy_by_hand(f, f->img_c, "kernel.rollback");
    set_sz(f, "KernelVersion", D);
    assert_seen_undamaged(f, KSVC_SLOT_CLASS_FOREIGN, D,
                          KSVC_SLOT_CLASS_FOREIGN, C);

    reopen(f);
    assert_value(f, "KernelVersion", D);
    assert_value(f, "KServiceRollbackVersion", C);
    assert_slot_is(f, "kernel", f->img_d);
    assert_slot_is(f, "kernel.rollback", f->img_c);
    s = get_status(f, KSVC_STATUS_VERIFY);
    assert_slot_class(s.kernel_class, KSVC_SLOT_CLASS_VERIFIED);
    assert_slot_class(s.rollback_class, KSVC_SLOT_CLASS_VERIFIED);
    assert_int_equal(s.problem_count, 0);
    assert_int_equal(s.bad_count, 0);
    assert_boots(f, "kernel");
    /* And the policy goes on from there: roll back to C. */
    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    assert_result(f, KSVC_OPERATION_ROLLBACK, KSVC_OK, 1, 0, D);
    assert_boots(f, "kernel.rollback");
}

/* Another installer rewrites KernelVersion alone: in its short form, or
 * naming a kernel that is not there.  The file is judged by its bytes:
 * nothing damaged, the version its image names is recorded. */
static void other_installer_rewrites_kernel_version(void **state)
{
    fixture *f = *state;
    static const char *const written[] = { "5.15.90.1", C };
    size_t i;

    install_a_then_b(f);
    for (i = 0; i < sizeof written / sizeof written[0]; i++) {
        ksvc_status s;

        set_sz(f, "KernelVersion", written[i]);
        assert_seen_undamaged(f, KSVC_SLOT_CLASS_FOREIGN, B,
                              KSVC_SLOT_CLASS_VERIFIED, A);
        reopen(f);
        assert_value(f, "KernelVersion", B);
        s = get_status(f, KSVC_STATUS_VERIFY);
        assert_slot_class(s.kernel_class, KSVC_SLOT_CLASS_VERIFIED);
        assert_int_equal(s.problem_count, 0);
    }
    assert_slot_is(f, "kernel", f->img_b);
    assert_slot_is(f, "kernel.rollback", f->img_a);
    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    assert_result(f, KSVC_OPERATION_ROLLBACK, KSVC_OK, 1, 0, B);
    assert_boots(f, "kernel.rollback");
}

/* The kernel moved by hand to kernel.rollback (copied there, then deleted
 * from `kernel`): repair brings it back. */
static void kernel_moved_to_rollback_by_hand(void **state)
{
    fixture *f = *state;
    ksvc_context *ro;
    ksvc_status s;

    install_ok(f, f->img_a);
    copy_slot_by_hand(f, "kernel", "kernel.rollback");
    test_machine_remove_file_by_hand(f->m, "kernel");
    s = peek_status(f, &ro);
    assert_slot_class(s.kernel_class, KSVC_SLOT_CLASS_MISSING);
    assert_slot_class(s.rollback_class, KSVC_SLOT_CLASS_FOREIGN);
    assert_string_equal(s.rollback_holds, A);
    assert_int_equal(s.effective, KSVC_SLOT_NONE);
    assert_problem(&s, KSVC_MSG_KERNEL_MISSING);
    ksvc_close(ro);
    assert_int_equal(ksvc_repair(f->ctx), KSVC_OK);
    /* kernel.rollback, foreign, is adopted with the repair. */
    assert_int_equal(last_result(f).moved, KSVC_MOVED_RESTORED |
                                               KSVC_MOVED_KERNEL_REPLACED |
                                               KSVC_MOVED_ADOPTED);
    assert_slot_is(f, "kernel", f->img_a);
    assert_slot_is(f, "kernel.rollback", f->img_a);
    assert_value(f, "KernelVersion", A);
    assert_value(f, "KServiceRollbackVersion", A);
    ASSERT_REFUSED(f, KSVC_E_NO_ROLLBACK, ksvc_rollback(f->ctx));
    assert_boots(f, "kernel");
}

/* ---- 7. hand edits of each value ---- */

/* After a hand edit on an A, B machine: status runs for a standard user,
 * read-only and an administrator and names @p value; the administrator's
 * open then adopts the kernel over the edit (its image names B). */
static void hand_edit_adopted(fixture *f, const char *value)
{
    ksvc_context *ro;
    ksvc_status s;

    s = peek_status(f, &ro);
    assert_problem(&s, value);
    assert_string_equal(s.kernel_holds, B);
    assert_no_damage(&s);
    assert_boots_on(ro, f, "kernel");
    ksvc_close(ro);
    test_machine_set_elevated(f->m, 0);
    s = get_status(f, 0);
    assert_problem(&s, value);
    test_machine_set_elevated(f->m, 1);

    reopen(f);
    assert_value(f, "KernelVersion", B);
    assert_slot_is(f, "kernel", f->img_b);
    assert_slot_is(f, "kernel.rollback", f->img_a);
    s = get_status(f, KSVC_STATUS_VERIFY);
    assert_slot_class(s.kernel_class, KSVC_SLOT_CLASS_VERIFIED);
    assert_slot_class(s.rollback_class, KSVC_SLOT_CLASS_VERIFIED);
    if (s.problem_count != 0)
        fail_msg("after adoption: %s", s.problems[0]);
    assert_boots(f, "kernel");
    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    assert_boots(f, "kernel.rollback");
    assert_true(stored_bad(f, B));
}

static void hand_edit_kernel_version_banana(void **state)
{
    fixture *f = *state;

    install_a_then_b(f);
    set_sz(f, "KernelVersion", "banana");
    hand_edit_adopted(f, "KernelVersion");
}

static void hand_edit_kernel_version_dword(void **state)
{
    fixture *f = *state;

    install_a_then_b(f);
    set_dword(f, "KernelVersion", 5);
    hand_edit_adopted(f, "KernelVersion");
}

static void hand_edit_sha_not_hex(void **state)
{
    fixture *f = *state;
    char sha[128];

    install_a_then_b(f);
    set_sz(f, "KServiceKernelSha256", "not a checksum at all");
    hand_edit_adopted(f, "KServiceKernelSha256");
    assert_non_null(value_sz(f, "KServiceKernelSha256", sha, sizeof sha));
    assert_int_equal(strlen(sha), 64);
    assert_int_equal(strspn(sha, "0123456789abcdefABCDEF"), 64);
}

/* An unreadable bad list refuses every change, naming the value; status
 * still runs and names it. */
static void hand_edit_bad_list_unreadable(void **state)
{
    fixture *f = *state;
    static const char list[] = "5.15.90.1\0banana\0";
    ksvc_context *ro;
    ksvc_status s;
    char *before;

    install_a_then_b(f);
    set_multi(f, "KServiceBadVersions", list, sizeof list);
    before = test_machine_snapshot(f->m);
    s = peek_status(f, &ro);
    assert_problem(&s, "KServiceBadVersions");
    ksvc_close(ro);
    reopen(f); /* records nothing */
    s = get_status(f, 0);
    assert_problem(&s, "KServiceBadVersions");
    assert_unchanged_since(f, before);

    assert_install_refused(f, f->img_c, 0, KSVC_E_BAD_VALUE);
    assert_non_null(strstr(ksvc_error_detail(f->ctx), "KServiceBadVersions"));
    ASSERT_REFUSED(f, KSVC_E_BAD_VALUE, ksvc_rollback(f->ctx));
    assert_non_null(strstr(ksvc_error_detail(f->ctx), "KServiceBadVersions"));
    assert_result(f, KSVC_OPERATION_ROLLBACK, KSVC_E_BAD_VALUE, 0, 0, "");
    test_machine_remove_file_by_hand(f->m, "kernel");
    ASSERT_REFUSED(f, KSVC_E_BAD_VALUE, ksvc_repair(f->ctx));
    assert_non_null(strstr(ksvc_error_detail(f->ctx), "KServiceBadVersions"));
    assert_result(f, KSVC_OPERATION_REPAIR, KSVC_E_BAD_VALUE, 0, 0, "");
    /* A rollback flag written meanwhile is not recorded either. */
    set_sz(f, "RollbackKernel", B);
    ASSERT_REFUSED(f, KSVC_E_BAD_VALUE, ksvc_revert_rollback(f->ctx));
    assert_non_null(strstr(ksvc_error_detail(f->ctx), "KServiceBadVersions"));
}

/* The calls of the launcher write the state too (the booted checksum, the
 * trial): with the bad list unreadable they go on, since refusing them
 * would stop the machine from booting, but they write only what they
 * change: the list stays byte for byte as the hand left it. */
static void hand_edit_bad_list_survives_boot_calls(void **state)
{
    fixture *f = *state;
    static const char list[] = "4.19.128\0banana\0";
    char raw[64], path[4096];
    size_t size;
    uint32_t type;

    install_a_then_b(f);
    set_multi(f, "KServiceBadVersions", list, sizeof list);
    reopen(f);
    assert_int_equal(ksvc_record_boot(f->ctx), KSVC_OK);
    assert_int_equal(ksvc_boot_begin(f->ctx, path, sizeof path), KSVC_OK);
    assert_int_equal(ksvc_boot_confirm(f->ctx), KSVC_OK);
    size = sizeof raw;
    assert_int_equal(f->p->reg_read(f->p, LXSS, "KServiceBadVersions",
                                    &type, raw, &size),
                     KSVC_OK);
    assert_int_equal(type, KSVC_REG_MULTI_SZ);
    assert_int_equal(size, sizeof list);
    assert_memory_equal(raw, list, sizeof list);
}

/* RollbackKernel of another type: still a rollback, of what `kernel`
 * holds; the administrator's open records that version bad. */
static void hand_edit_rollback_flag_dword(void **state)
{
    fixture *f = *state;
    ksvc_context *ro;
    ksvc_status s;

    install_a_then_b(f);
    set_dword(f, "RollbackKernel", 1);
    s = peek_status(f, &ro);
    assert_true(s.rolled_back);
    assert_int_equal(s.effective, KSVC_SLOT_ROLLBACK);
    assert_true(s.kernel_holds_bad);
    assert_true(status_bad(&s, B));
    assert_boots_on(ro, f, "kernel.rollback");
    ksvc_close(ro);

    reopen(f);
    assert_true(stored_bad(f, B));
    assert_boots(f, "kernel.rollback");
    assert_install_refused(f, f->img_b, 0, KSVC_E_BAD_VERSION);
    ASSERT_REFUSED(f, KSVC_E_ROLLED_BACK, ksvc_rollback(f->ctx));
    install_ok(f, f->img_c);
    assert_slot_is(f, "kernel", f->img_c);
    assert_slot_is(f, "kernel.rollback", f->img_a);
}

static void hand_edit_kernel_version_deleted(void **state)
{
    fixture *f = *state;
    ksvc_context *ro;
    ksvc_status s;

    install_a_then_b(f);
    assert_int_equal(test_machine_delete_value_by_hand(f->m,
                                                       "KernelVersion"),
                     0);
    s = peek_status(f, &ro);
    assert_string_equal(s.kernel_holds, B);
    assert_no_damage(&s);
    assert_boots_on(ro, f, "kernel");
    ksvc_close(ro);
    reopen(f);
    assert_value(f, "KernelVersion", B);
    s = get_status(f, KSVC_STATUS_VERIFY);
    assert_slot_class(s.kernel_class, KSVC_SLOT_CLASS_VERIFIED);
    assert_int_equal(s.problem_count, 0);
}

static void hand_edit_rollback_version_banana(void **state)
{
    fixture *f = *state;
    ksvc_context *ro;
    ksvc_status s;

    install_a_then_b(f);
    set_sz(f, "KServiceRollbackVersion", "banana");
    s = peek_status(f, &ro);
    assert_problem(&s, "KServiceRollbackVersion");
    assert_string_equal(s.rollback_holds, A);
    assert_no_damage(&s);
    ksvc_close(ro);
    reopen(f);
    assert_value(f, "KServiceRollbackVersion", A);
    s = get_status(f, KSVC_STATUS_VERIFY);
    assert_slot_class(s.rollback_class, KSVC_SLOT_CLASS_VERIFIED);
    assert_int_equal(s.problem_count, 0);
    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    assert_boots(f, "kernel.rollback");
}

/* A size that does not parse: status names it; the checksum still
 * verifies the kernel, which boots, and the next change rewrites it. */
static void hand_edit_kernel_size_not_a_number(void **state)
{
    fixture *f = *state;
    ksvc_context *ro;
    ksvc_status s;
    char size[64];

    install_a_then_b(f);
    set_sz(f, "KServiceKernelSize", "many bytes");
    s = peek_status(f, &ro);
    assert_problem(&s, "KServiceKernelSize");
    assert_string_equal(s.kernel_holds, B);
    assert_no_damage(&s);
    assert_boots_on(ro, f, "kernel");
    ksvc_close(ro);
    install_ok(f, f->img_c);
    assert_non_null(value_sz(f, "KServiceKernelSize", size, sizeof size));
    assert_string_equal(size, "8000");
    s = get_status(f, KSVC_STATUS_VERIFY);
    assert_int_equal(s.problem_count, 0);
}

/* The bad list stored as a plain string: unreadable, every change
 * refused; status still runs. */
static void hand_edit_bad_list_wrong_type(void **state)
{
    fixture *f = *state;
    ksvc_context *ro;
    ksvc_status s;

    install_a_then_b(f);
    set_sz(f, "KServiceBadVersions", B);
    s = peek_status(f, &ro);
    assert_problem(&s, "KServiceBadVersions");
    ksvc_close(ro);
    assert_install_refused(f, f->img_c, 0, KSVC_E_BAD_VALUE);
    ASSERT_REFUSED(f, KSVC_E_BAD_VALUE, ksvc_rollback(f->ctx));
    assert_non_null(strstr(ksvc_error_detail(f->ctx), "KServiceBadVersions"));
}

/* ---- 8. both slots hold one version ---- */

static void both_slots_one_version_by_copy(void **state)
{
    fixture *f = *state;
    ksvc_status s;

    install_a_then_b(f);
    copy_slot_by_hand(f, "kernel", "kernel.rollback");
    reopen(f);
    assert_value(f, "KServiceRollbackVersion", B);
    s = get_status(f, KSVC_STATUS_VERIFY);
    assert_slot_class(s.rollback_class, KSVC_SLOT_CLASS_VERIFIED);
    assert_string_equal(s.rollback_holds, B);
    ASSERT_REFUSED(f, KSVC_E_NO_ROLLBACK, ksvc_rollback(f->ctx));
    assert_non_null(strstr(ksvc_error_detail(f->ctx), B));
    assert_result(f, KSVC_OPERATION_ROLLBACK, KSVC_E_NO_ROLLBACK, 0, 0, "");
    assert_boots(f, "kernel");
    assert_false(stored_bad(f, B));
}

static void both_slots_one_version_by_repair(void **state)
{
    fixture *f = *state;

    install_a_then_b(f);
    test_machine_remove_file_by_hand(f->m, "kernel");
    assert_int_equal(ksvc_repair(f->ctx), KSVC_OK);
    assert_result(f, KSVC_OPERATION_REPAIR, KSVC_OK, 1,
                  KSVC_MOVED_RESTORED | KSVC_MOVED_KERNEL_REPLACED, "");
    assert_non_null(strstr(last_result(f).summary, "restored"));
    assert_slot_is(f, "kernel", f->img_a);
    assert_slot_is(f, "kernel.rollback", f->img_a);
    assert_value(f, "KernelVersion", A);
    reopen(f); /* records what repair left over: repair_leaves_no_stale_trial */
    ASSERT_REFUSED(f, KSVC_E_NO_ROLLBACK, ksvc_rollback(f->ctx));
    assert_boots(f, "kernel");
}

/* install --force of the version in use keeps kernel.rollback: the
 * slots never come to hold one version that way. */
static void force_reinstall_keeps_rollback(void **state)
{
    fixture *f = *state;

    install_a_then_b(f);
    assert_int_equal(install(f, f->img_b, KSVC_INSTALL_FORCE), KSVC_OK);
    assert_result(f, KSVC_OPERATION_INSTALL, KSVC_OK, 1,
                  KSVC_MOVED_KERNEL_REPLACED, "");
    assert_slot_is(f, "kernel", f->img_b);
    assert_slot_is(f, "kernel.rollback", f->img_a);
    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    assert_boots(f, "kernel.rollback");
}

/* ---- 9. manual revert, and a bad version copied back by hand ---- */

static void manual_revert_after_library_rollback(void **state)
{
    fixture *f = *state;
    ksvc_status s;

    install_a_then_b(f);
    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    assert_result(f, KSVC_OPERATION_ROLLBACK, KSVC_OK, 1, 0, B);
    assert_true(stored_bad(f, B));
    revert_by_hand(f);
    /* Everyone boots B at once; the administrator's open records it. */
    test_machine_set_elevated(f->m, 0);
    s = get_status(f, 0);
    assert_false(s.rolled_back);
    assert_false(s.kernel_holds_bad);
    assert_boots(f, "kernel");
    test_machine_set_elevated(f->m, 1);
    reopen(f);
    assert_false(stored_bad(f, B));
    s = get_status(f, KSVC_STATUS_VERIFY);
    assert_int_equal(s.bad_count, 0);
    assert_int_equal(s.problem_count, 0);
    assert_boots(f, "kernel");
}

static void bad_version_copied_back_by_hand(void **state)
{
    fixture *f = *state;
    ksvc_context *ro;
    ksvc_status s;
    char path[4096];

    install_a_then_b(f);
    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    install_ok(f, f->img_c);
    copy_by_hand(f, f->img_b, "kernel");

    s = peek_status(f, &ro);
    assert_slot_class(s.kernel_class, KSVC_SLOT_CLASS_FOREIGN);
    assert_string_equal(s.kernel_holds, B);
    assert_true(s.kernel_holds_bad);
    assert_problem(&s, B);
    assert_int_equal(ksvc_boot_path(ro, path, sizeof path),
                     KSVC_E_BAD_VERSION);
    assert_non_null(strstr(ksvc_error_detail(ro), B));
    ksvc_close(ro);

    reopen(f); /* never adopted */
    assert_value(f, "KernelVersion", C);
    assert_true(stored_bad(f, B));
    ASSERT_REFUSED(f, KSVC_E_BAD_VERSION,
                   ksvc_boot_path(f->ctx, path, sizeof path));
    s = get_status(f, 0);
    assert_slot_class(s.kernel_class, KSVC_SLOT_CLASS_FOREIGN);
    assert_true(s.kernel_holds_bad);
    assert_problem(&s, B);

    assert_int_equal(ksvc_repair(f->ctx), KSVC_OK);
    assert_result(f, KSVC_OPERATION_REPAIR, KSVC_OK, 1,
                  KSVC_MOVED_RESTORED | KSVC_MOVED_KERNEL_REPLACED, "");
    assert_slot_is(f, "kernel", f->img_a);
    assert_slot_is(f, "kernel.rollback", f->img_a);
    assert_value(f, "KernelVersion", A);
    assert_true(stored_bad(f, B));
    assert_boots(f, "kernel");
}

/* Another installer puts a bad version back, file and KernelVersion, as
 * the old MSI of B would.  That is not the page's manual revert (which
 * deletes RollbackKernel while `kernel` still holds the version rolled
 * back from): B stays bad and is never booted. */
static void other_installer_puts_bad_version_back(void **state)
{
    fixture *f = *state;
    char path[4096];
    ksvc_status s;
    int unmarked;

    install_a_then_b(f);
    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    install_ok(f, f->img_c);
    copy_by_hand(f, f->img_b, "kernel");
    set_sz(f, "KernelVersion", B);
    reopen(f);
    unmarked = !stored_bad(f, B);
    /* ksvc__apply_manual_revert (src/state.c) takes "not rolled back and
     * KernelVersion is bad" for a manual revert; KernelVersion is now
     * another installer's (KServiceKernelRecordVersion says C). */
    BUG_LEAD_IF(unmarked, "another installer wrote B's file and "
                          "KernelVersion=B after A->B->rollback->C: the "
                          "administrator's open took it for a manual revert, "
                          "unmarked B and boots it");
    ASSERT_REFUSED(f, KSVC_E_BAD_VERSION,
                   ksvc_boot_path(f->ctx, path, sizeof path));
    s = get_status(f, 0);
    assert_true(s.kernel_holds_bad);
    assert_int_equal(ksvc_repair(f->ctx), KSVC_OK);
    assert_slot_is(f, "kernel", f->img_a);
    assert_true(stored_bad(f, B));
    assert_boots(f, "kernel");
}

/* While rolled back, the page's copy of kernel.rollback to kernel and then
 * its manual revert: `kernel` holds A, so deleting RollbackKernel boots A
 * from `kernel`; B, which nothing boots, stays bad. */
static void copy_remedy_then_manual_revert(void **state)
{
    fixture *f = *state;
    int unmarked;

    install_a_then_b(f);
    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    copy_slot_by_hand(f, "kernel.rollback", "kernel");
    revert_by_hand(f);
    reopen(f);
    assert_value(f, "KernelVersion", A);
    assert_slot_is(f, "kernel", f->img_a);
    assert_boots(f, "kernel");
    unmarked = !stored_bad(f, B);
    /* The manual revert is judged on the record (KernelVersion = B), not
     * on what `kernel` holds (A). */
    BUG_LEAD_IF(unmarked, "kernel.rollback (A) copied to kernel, then "
                          "RollbackKernel deleted: B was unmarked although "
                          "nothing boots it");
    assert_install_refused(f, f->img_b, 0, KSVC_E_BAD_VERSION);
}

/* The same copy adopted first (an administrator's open in between), then
 * the revert: B stays bad. */
static void copy_remedy_adopted_then_manual_revert(void **state)
{
    fixture *f = *state;

    install_a_then_b(f);
    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    copy_slot_by_hand(f, "kernel.rollback", "kernel");
    reopen(f);
    assert_value(f, "KernelVersion", A);
    assert_boots(f, "kernel.rollback");
    revert_by_hand(f);
    reopen(f);
    assert_true(stored_bad(f, B));
    assert_boots(f, "kernel");
    assert_install_refused(f, f->img_b, 0, KSVC_E_BAD_VERSION);
}

/* A kernel for another architecture copied in by hand is damaged, never
 * booted, and repaired from kernel.rollback. */
static void wrong_arch_copy_is_damaged(void **state)
{
    fixture *f = *state;
    char arm[1024], path[4096];
    ksvc_context *ro;
    ksvc_status s;

    install_a_then_b(f);
    snprintf(arm, sizeof arm, "%s/arm.img", test_machine_scratch(f->m));
    assert_int_equal(kimage_write(arm, KSVC_ARCH_ARM64, C, 9, 7000), 0);
    copy_by_hand(f, arm, "kernel");
    s = peek_status(f, &ro);
    assert_slot_class(s.kernel_class, KSVC_SLOT_CLASS_DAMAGED);
    assert_problem(&s, "damaged");
    assert_int_equal(ksvc_boot_path(ro, path, sizeof path), KSVC_E_DAMAGED);
    ksvc_close(ro);
    reopen(f); /* nothing to record */
    assert_value(f, "KernelVersion", B);
    assert_int_equal(ksvc_repair(f->ctx), KSVC_OK);
    assert_result(f, KSVC_OPERATION_REPAIR, KSVC_OK, 1,
                  KSVC_MOVED_RESTORED | KSVC_MOVED_KERNEL_REPLACED, "");
    assert_slot_is(f, "kernel", f->img_a);
    assert_value(f, "KernelVersion", A);
    /* (not assert_boots: see repair_leaves_no_stale_trial) */
    assert_boots_on(f->ctx, f, "kernel");
}

/* A bzImage that states its own size: setup_sects (0x1F1) sectors of
 * setup after the boot sector, then syssize (0x1F4, 16-byte units) of
 * protected-mode code (Documentation/arch/x86/boot.rst).  kimage_build
 * leaves syssize 0; real kernels never do. */
static unsigned char *sized_bzimage(const char *version, unsigned seed,
                                    size_t size)
{
    unsigned char *img = kimage_build(KSVC_ARCH_X64, version, seed, size);
    size_t setup = ((size_t)img[0x1F1] + 1) * 512;
    uint32_t syssize = (uint32_t)((size - setup) / 16);

    img[0x1F4] = (unsigned char)(syssize & 0xFF);
    img[0x1F5] = (unsigned char)((syssize >> 8) & 0xFF);
    img[0x1F6] = (unsigned char)((syssize >> 16) & 0xFF);
    img[0x1F7] = (unsigned char)((syssize >> 24) & 0xFF);
    return img;
}

/* A copy cut short (a full disk, an interrupted copy) names its version
 * but is not the whole kernel: damaged, never adopted or booted, never
 * kept as the rollback kernel. */
static void truncated_copy_is_damaged(void **state)
{
    fixture *f = *state;
    unsigned char *img = sized_bzimage(C, 3, SIZE_C);
    char whole[1024], path[4096];
    ksvc_context *ro;
    ksvc_status s;
    int err;

    install_a_then_b(f);
    /* The whole image is a foreign kernel of C... */
    snprintf(whole, sizeof whole, "%s/c-sized.img",
             test_machine_scratch(f->m));
    assert_int_equal(kimage_write_bytes(whole, img, SIZE_C), 0);
    copy_by_hand(f, whole, "kernel");
    s = peek_status(f, &ro);
    assert_slot_class(s.kernel_class, KSVC_SLOT_CLASS_FOREIGN);
    ksvc_close(ro);
    /* ...its first 5000 bytes are not. */
    tools_path(f, "kernel", path, sizeof path);
    assert_int_equal(kimage_write_bytes(path, img, 5000), 0);
    free(img);
    s = peek_status(f, &ro);
    err = ksvc_boot_path(ro, path, sizeof path);
    ksvc_close(ro);
    /* src/image.c checks the file against setup_sects only, not
     * syssize. */
    BUG_LEAD_IF(s.kernel_class == KSVC_SLOT_CLASS_FOREIGN,
                "a bzImage cut short (5000 of the 8000 bytes its setup "
                "header's syssize gives) is classified foreign, so it is "
                "adopted and booted");
    assert_slot_class(s.kernel_class, KSVC_SLOT_CLASS_DAMAGED);
    assert_int_equal(err, KSVC_E_DAMAGED);
    install_ok(f, f->img_d);
    assert_slot_is(f, "kernel.rollback", f->img_a);
}

/* A damaged rollback kernel is replaced by the next install. */
static void install_over_damaged_rollback(void **state)
{
    fixture *f = *state;
    ksvc_status s;

    install_a_then_b(f);
    test_machine_corrupt_file_by_hand(f->m, "kernel.rollback");
    ASSERT_REFUSED(f, KSVC_E_DAMAGED, ksvc_rollback(f->ctx));
    install_ok(f, f->img_c);
    assert_result(f, KSVC_OPERATION_INSTALL, KSVC_OK, 1,
                  KSVC_MOVED_KERNEL_REPLACED | KSVC_MOVED_KERNEL_TO_ROLLBACK,
                  "");
    assert_slot_is(f, "kernel", f->img_c);
    assert_slot_is(f, "kernel.rollback", f->img_b);
    s = get_status(f, KSVC_STATUS_VERIFY);
    assert_int_equal(s.problem_count, 0);
}

/* ---- 10. versions that differ only after the dash ---- */

static void debian_versions_are_distinct(void **state)
{
    fixture *f = *state;
    char v57[1024], v58[1024];
    int cmp = 0;
    ksvc_status s;

    assert_int_equal(ksvc_kver_compare("6.1.0-57-amd64", "6.1.0-58-amd64",
                                       &cmp),
                     KSVC_OK);
    if (cmp == 0) {
        /* The comparison still ignores suffixes (issue 10, part C, on
         * branch kver): checked once that lands. */
        skip();
    }
    make_image(f, v57, sizeof v57, "v57", "6.1.0-57-amd64", 57, 6100);
    make_image(f, v58, sizeof v58, "v58", "6.1.0-58-amd64", 58, 6200);
    install_ok(f, v57);
    assert_int_equal(ksvc_install_check(f->ctx, v58, NULL, NULL), KSVC_OK);
    install_ok(f, v58);
    assert_result(f, KSVC_OPERATION_INSTALL, KSVC_OK, 1,
                  KSVC_MOVED_KERNEL_REPLACED | KSVC_MOVED_KERNEL_TO_ROLLBACK,
                  "");
    assert_slot_is(f, "kernel", v58);
    assert_slot_is(f, "kernel.rollback", v57);
    assert_value(f, "KServiceRollbackVersion", "6.1.0-57-amd64");
    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    assert_result(f, KSVC_OPERATION_ROLLBACK, KSVC_OK, 1, 0,
                  "6.1.0-58-amd64");
    s = get_status(f, 0);
    assert_int_equal(s.bad_count, 1);
    assert_string_equal(s.bad_versions[0], "6.1.0-58-amd64");
    assert_false(s.rollback_holds_bad);
    assert_boots(f, "kernel.rollback");
    assert_install_refused(f, v58, 0, KSVC_E_BAD_VERSION);
}

/* ---- 11. what each call says it did ---- */

/* A read-only context sees everything and changes nothing. */
static void read_only_context_changes_nothing(void **state)
{
    fixture *f = *state;
    ksvc_context *ro, *admin;
    char *before;

    install_a_then_b(f);
    set_sz(f, "RollbackKernel", B);
    copy_slot_by_hand(f, "kernel", "kernel.rollback"); /* foreign B */
    before = test_machine_snapshot(f->m);
    ro = open_ctx(f->p, KSVC_OPEN_READ_ONLY);
    admin = f->ctx;
    f->ctx = ro;
    ASSERT_REFUSED(f, KSVC_E_READ_ONLY, install(f, f->img_c, 0));
    ASSERT_REFUSED(f, KSVC_E_READ_ONLY, ksvc_rollback(ro));
    ASSERT_REFUSED(f, KSVC_E_READ_ONLY, ksvc_revert_rollback(ro));
    ASSERT_REFUSED(f, KSVC_E_READ_ONLY, ksvc_repair(ro));
    ASSERT_REFUSED(f, KSVC_E_READ_ONLY, ksvc_record_boot(ro));
    f->ctx = admin;
    ksvc_close(ro);
    assert_unchanged_since(f, before);
}

/* Each changing call's result: operation, error, changed, moved, the
 * versions marked and unmarked, before and after. */
static void results_of_each_operation(void **state)
{
    fixture *f = *state;
    ksvc_result r;

    install_ok(f, f->img_a);
    r = last_result(f);
    assert_result(f, KSVC_OPERATION_INSTALL, KSVC_OK, 1,
                  KSVC_MOVED_KERNEL_REPLACED, "");
    assert_string_equal(r.kernel_before, "");
    assert_string_equal(r.kernel_after, A);
    install_ok(f, f->img_b);
    r = last_result(f);
    assert_int_equal(r.moved,
                     KSVC_MOVED_KERNEL_REPLACED | KSVC_MOVED_KERNEL_TO_ROLLBACK);
    assert_string_equal(r.kernel_before, A);
    assert_string_equal(r.kernel_after, B);
    assert_string_equal(r.rollback_before, "");
    assert_string_equal(r.rollback_after, A);

    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    r = last_result(f);
    assert_result(f, KSVC_OPERATION_ROLLBACK, KSVC_OK, 1, 0, B);
    assert_false(r.rolled_back_before);
    assert_true(r.rolled_back_after);
    ASSERT_REFUSED(f, KSVC_E_ROLLED_BACK, ksvc_rollback(f->ctx));
    assert_result(f, KSVC_OPERATION_ROLLBACK, KSVC_E_ROLLED_BACK, 0, 0, "");

    assert_int_equal(ksvc_revert_rollback(f->ctx), KSVC_OK);
    r = last_result(f);
    assert_result(f, KSVC_OPERATION_REVERT, KSVC_OK, 1, 0, "");
    assert_string_equal(r.unmarked_bad, B);
    assert_true(r.rolled_back_before);
    assert_false(r.rolled_back_after);
    ASSERT_REFUSED(f, KSVC_E_NOT_ROLLED_BACK, ksvc_revert_rollback(f->ctx));
    assert_result(f, KSVC_OPERATION_REVERT, KSVC_E_NOT_ROLLED_BACK, 0, 0, "");

    /* The check on a version alone, and on a payload. */
    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    ASSERT_REFUSED(f, KSVC_E_BAD_VERSION,
                   ksvc_install_check(f->ctx, NULL, B, NULL));
    assert_result(f, KSVC_OPERATION_INSTALL_CHECK, KSVC_E_BAD_VERSION, 0, 0,
                  "");
    assert_int_equal(ksvc_install_check(f->ctx, NULL, C, NULL), KSVC_OK);
    assert_result(f, KSVC_OPERATION_INSTALL_CHECK, KSVC_OK, 0, 0, "");
}

/* record_boot is a changing call too: its result describes it (since
 * 1.1 it confirms the boot, which ends the trial of a new kernel). */
static void record_boot_result(void **state)
{
    fixture *f = *state;
    ksvc_result r;
    ksvc_status s;

    install_a_then_b(f);
    s = get_status(f, 0);
    assert_true(s.restart_required);
    assert_true(s.on_trial);
    assert_int_equal(ksvc_record_boot(f->ctx), KSVC_OK);
    s = get_status(f, 0);
    assert_false(s.restart_required);
    assert_false(s.on_trial);
    r = last_result(f);
    BUG_LEAD_IF(r.operation != KSVC_OPERATION_RECORD_BOOT &&
                    r.operation != KSVC_OPERATION_BOOT_CONFIRM,
                "ksvc_record_boot leaves ksvc_last_result describing the "
                "call before it");
    assert_int_equal(r.error, KSVC_OK);
    assert_int_equal(r.changed, 1);
    assert_int_equal(r.moved, KSVC_MOVED_TRIAL_ENDED);
}

/* repair puts the rollback kernel in `kernel`: the trial of the version
 * that was there is over, and the next read has nothing to clean up. */
static void repair_leaves_no_stale_trial(void **state)
{
    fixture *f = *state;
    char *before;
    ksvc_context *ro;
    ksvc_status s;
    int changed;

    install_a_then_b(f); /* B on trial */
    test_machine_remove_file_by_hand(f->m, "kernel");
    assert_int_equal(ksvc_repair(f->ctx), KSVC_OK);
    assert_slot_is(f, "kernel", f->img_a);
    before = test_machine_snapshot(f->m);
    s = peek_status(f, &ro);
    assert_false(s.on_trial);
    ksvc_close(ro);
    assert_boots_on(f->ctx, f, "kernel");
    changed = changed_since(f, before);
    if (changed)
        free(before); /* skip() below leaves the test */
    /* ksvc__decide_repair keeps KServiceTrialVersion = B; the next
     * administrator frame's reconcile (src/decide.c) drops it. */
    BUG_LEAD_IF(changed, "after repair restored A into kernel, "
                         "KServiceTrialVersion still named B; the next "
                         "ksvc_boot_path (a read) rewrote the registry");
    assert_unchanged_since(f, before);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(wsl_exe_rollback_then_msi),
        T(wsl_exe_rollback_then_install_at_once),
        T(wsl_exe_rollback_short_version),
        T(wsl_exe_rollback_then_manual_revert),
        T(wsl_exe_rollback_without_rollback_kernel),
        T(other_installer_updates_while_rolled_back),
        T(bad_version_copied_into_rollback_slot),
        T(administrator_reads_change_nothing),
        T(wsl_exe_rollback_then_check_records_nothing),
        T(install_over_damaged_kernel_keeps_rollback),
        T(install_over_damaged_rollback),
        T(wrong_arch_copy_is_damaged),
        T(truncated_copy_is_damaged),
        T(rollback_to_foreign_kernel),
        T(msi_extracted_kernel_is_adopted),
        T(msi_extracted_kernel_then_install),
        T(refusal_records_nothing_of_a_foreign_kernel),
        T(copied_rollback_is_foreign_and_adopted_by_repair),
        T(noop_repair_says_so),
        T(copied_rollback_adopted_by_open),
        T(inbox_kernel_with_short_kernel_version),
        T(inbox_kernel_without_any_value),
        T(other_installer_replaces_both),
        T(other_installer_rewrites_kernel_version),
        T(kernel_moved_to_rollback_by_hand),
        T(hand_edit_kernel_version_banana),
        T(hand_edit_kernel_version_dword),
        T(hand_edit_sha_not_hex),
        T(hand_edit_bad_list_unreadable),
        T(hand_edit_bad_list_survives_boot_calls),
        T(hand_edit_rollback_flag_dword),
        T(hand_edit_kernel_version_deleted),
        T(hand_edit_rollback_version_banana),
        T(hand_edit_kernel_size_not_a_number),
        T(hand_edit_bad_list_wrong_type),
        T(both_slots_one_version_by_copy),
        T(both_slots_one_version_by_repair),
        T(force_reinstall_keeps_rollback),
        T(manual_revert_after_library_rollback),
        T(bad_version_copied_back_by_hand),
        T(other_installer_puts_bad_version_back),
        T(copy_remedy_then_manual_revert),
        T(copy_remedy_adopted_then_manual_revert),
        T(debian_versions_are_distinct),
        T(read_only_context_changes_nothing),
        T(results_of_each_operation),
        T(record_boot_result),
        T(repair_leaves_no_stale_trial),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
