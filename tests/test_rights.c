/*
 * Who may write decides what boots (issue 14 item 7), on every backend: a
 * tools folder (or a folder above it), a slot file or the registry store
 * that someone other than the administrators may change is a problem in
 * status with the command that fixes it; install, rollback, revert and
 * repair are refused with KSVC_E_INSECURE and change nothing; the boot
 * path still answers (a machine is never left without a kernel); once it
 * is fixed, servicing works again.
 *
 * POSIX mock: group and other write bits and another owner on ROOT,
 * System32, lxss, tools, each slot and registry.reg; the fix command is
 * run for real through /bin/sh.  Win32 (under Wine): an access rule that
 * lets Everyone write, set with SetNamedSecurityInfoW / SetSecurityInfo
 * on the tools folder, a slot and the Lxss key, then put back the same
 * way (Wine's icacls is a stub that changes nothing).  A table of
 * version 2 has no write_access method and is served as before.
 */
#ifndef _WIN32
#define _XOPEN_SOURCE 700 /* lstat, lchown, symlink, S_ISVTX */
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>
#else
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#endif

#include <cmocka.h>

#include "fault/kimage.h"
#include "machine.h"
#ifdef _WIN32
#include "machine_win32.h"
#endif

#define A "5.10.102.1"
#define B "5.15.90.1"
#define C "5.15.153.1"

typedef struct fixture {
    test_machine *m;
    ksvc_platform *p;
    ksvc_context *ctx;
    const char *pay_a, *pay_b, *pay_c;
} fixture;

/* A machine with A then B installed: kernel = B, kernel.rollback = A. */
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
    assert_int_equal(ksvc_install(f->ctx, f->pay_a, A, NULL), KSVC_OK);
    assert_int_equal(ksvc_install(f->ctx, f->pay_b, B, NULL), KSVC_OK);
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

/* ---- what every backend shares ---- */
/* The status problem about write access, or NULL. */
static const char *rights_problem(fixture *f)
{
    ksvc_status s = KSVC_STATUS_INIT;
    size_t i;

    assert_int_equal(ksvc_status_get(f->ctx, &s), KSVC_OK);
    for (i = 0; i < s.problem_count; i++)
        if (strstr(s.problems[i], "other than the administrators"))
            return s.problems[i];
    return NULL;
}

/* Every operation that chooses what boots is refused with KSVC_E_INSECURE
 * naming @p path and @p fix_word, and leaves the machine as it was. */
static void changes_refused(fixture *f, const char *path, const char *fix_word)
{
    char *before = test_machine_snapshot(f->m), *after;
    char boot[4096];

    assert_int_equal(ksvc_install(f->ctx, f->pay_c, C, NULL),
                     KSVC_E_INSECURE);
    assert_non_null(strstr(ksvc_error_detail(f->ctx), path));
    assert_non_null(strstr(ksvc_error_detail(f->ctx), fix_word));
    assert_int_equal(ksvc_install_check(f->ctx, f->pay_c, C, NULL),
                     KSVC_E_INSECURE);
    assert_int_equal(ksvc_rollback(f->ctx), KSVC_E_INSECURE);
    assert_int_equal(ksvc_repair(f->ctx), KSVC_E_INSECURE);
    assert_int_equal(ksvc_error_class_of(KSVC_E_INSECURE),
                     KSVC_ERROR_CLASS_REFUSED);
    /* A world-writable kernel still boots: status says what is wrong. */
    assert_int_equal(ksvc_boot_path(f->ctx, boot, sizeof boot), KSVC_OK);
    assert_non_null(strstr(boot, "kernel"));
    after = test_machine_snapshot(f->m);
    assert_string_equal(after, before);
    free(before);
    free(after);
}


/* A machine where WSL 2 was just enabled: no tools folder; the install
 * makes it. */
static void install_into_new_tools_folder(fixture *f)
{
    ksvc_close(f->ctx);
    f->ctx = NULL;
    test_machine_remove_file_by_hand(f->m, "kernel");
    test_machine_remove_file_by_hand(f->m, "kernel.rollback");
    test_machine_remove_tools_by_hand(f->m);
    assert_int_equal(ksvc_open(&f->ctx, f->p, NULL), KSVC_OK);
    assert_int_equal(ksvc_install(f->ctx, f->pay_c, C, NULL), KSVC_OK);
}

#ifndef _WIN32

/* ---- the POSIX mock ---- */

/* tests/machine_posix.c: ROOT of the machine. */
const char *test_machine_root(test_machine *m);

/* The path of @p rel below ROOT ("" for ROOT). */
static void path_of(fixture *f, const char *rel, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s%s", test_machine_root(f->m), rel[0] ? "/" : "",
             rel);
}

static void chmod_add(const char *path, mode_t bits)
{
    struct stat st;

    assert_int_equal(lstat(path, &st), 0);
    assert_int_equal(chmod(path, (st.st_mode & 07777) | bits), 0);
}

/* Run the command the refusal's detail ends with, through /bin/sh. */
static void run_fix_from_detail(fixture *f)
{
    const char *detail = ksvc_error_detail(f->ctx);
    const char *cmd = strstr(detail, "retry: ");

    assert_non_null(cmd);
    cmd += strlen("retry: ");
    assert_int_equal(system(cmd), 0);
}

/* After the fix the problem is gone and an install goes through. */
static void fixed_then_installs(fixture *f)
{
    ksvc_status s = KSVC_STATUS_INIT;

    assert_int_equal(ksvc_install(f->ctx, f->pay_c, C, NULL),
                     KSVC_E_INSECURE);
    run_fix_from_detail(f);
    assert_null(rights_problem(f));
    assert_int_equal(ksvc_install(f->ctx, f->pay_c, C, NULL), KSVC_OK);
    assert_int_equal(ksvc_status_get(f->ctx, &s), KSVC_OK);
    assert_string_equal(s.kernel.kernel_version, C);
    assert_string_equal(s.rollback.kernel_version, B);
}

/* One place others may write, by group or by everyone. */
static void writable_by_others(void **state, const char *rel, mode_t bits,
                               const char *who)
{
    fixture *f = *state;
    char path[4096], quoted[4200];
    const char *problem;

    path_of(f, rel, path, sizeof path);
    assert_null(rights_problem(f));
    chmod_add(path, bits);
    problem = rights_problem(f);
    assert_non_null(problem);
    assert_non_null(strstr(problem, path));
    assert_non_null(strstr(problem, who));
    snprintf(quoted, sizeof quoted, "chmod go-w '%s'", path);
    assert_non_null(strstr(problem, quoted));
    changes_refused(f, path, quoted);
    fixed_then_installs(f);
}

#define TOOLS "System32/lxss/tools"

static void tools_group_writable(void **state)
{
    writable_by_others(state, TOOLS, S_IWGRP, "may write (mode 0775)");
}

static void tools_world_writable_sticky(void **state)
{
    /* A sticky bit still lets everyone add a name (a missing kernel). */
    writable_by_others(state, TOOLS, S_IWOTH | S_ISVTX,
                       "everyone may write (mode 1757)");
}

static void root_world_writable(void **state)
{
    writable_by_others(state, "", S_IWOTH, "everyone may write");
}

static void system32_group_writable(void **state)
{
    writable_by_others(state, "System32", S_IWGRP, "may write");
}

static void lxss_world_writable(void **state)
{
    writable_by_others(state, "System32/lxss", S_IWGRP | S_IWOTH,
                       "and everyone else may write");
}

static void kernel_world_writable(void **state)
{
    writable_by_others(state, TOOLS "/kernel", S_IWOTH,
                       "everyone may write (mode 0646)");
}

static void rollback_group_writable(void **state)
{
    writable_by_others(state, TOOLS "/kernel.rollback", S_IWGRP,
                       "may write (mode 0664)");
}

static void registry_world_writable(void **state)
{
    writable_by_others(state, "registry.reg", S_IWOTH, "everyone may write");
}

/* Owned by another user: that user may chmod it at will.  Needs root. */
static void owned_by_another_user(void **state, const char *rel)
{
    fixture *f = *state;
    char path[4096], chown_fix[8300];
    const char *problem;

    if (geteuid() != 0) {
        fprintf(stderr, "[  SKIPPED ] chown of %s needs root\n", rel);
        skip();
    }
    path_of(f, rel, path, sizeof path);
    assert_int_equal(lchown(path, 54321, (gid_t)-1), 0);
    problem = rights_problem(f);
    assert_non_null(problem);
    assert_non_null(strstr(problem, "owned by uid 54321"));
    snprintf(chown_fix, sizeof chown_fix,
             "chown root:root '%s' && chmod go-w '%s'", path, path);
    assert_non_null(strstr(problem, chown_fix));
    changes_refused(f, path, chown_fix);
    fixed_then_installs(f);
}

static void tools_owned_by_another_user(void **state)
{
    owned_by_another_user(state, TOOLS);
}

static void kernel_owned_by_another_user(void **state)
{
    owned_by_another_user(state, TOOLS "/kernel");
}

static void registry_owned_by_another_user(void **state)
{
    owned_by_another_user(state, "registry.reg");
}

/* The tools folder the backend makes has the rights the check wants,
 * whatever the umask. */
static void created_tools_folder_is_safe(void **state)
{
    fixture *f = *state;
    char path[4096];
    struct stat st;
    mode_t old = umask(0);

    install_into_new_tools_folder(f);
    umask(old);
    path_of(f, TOOLS, path, sizeof path);
    assert_int_equal(lstat(path, &st), 0);
    assert_int_equal(st.st_mode & (S_IWGRP | S_IWOTH), 0);
    assert_true(st.st_uid == 0 || st.st_uid == geteuid());
    assert_null(rights_problem(f));
}

/* The backend's answer itself: a missing name is no finding; "" is the
 * chain of folders, NULL the registry file. */
static void backend_answers(void **state)
{
    fixture *f = *state;
    unsigned others = 7;
    char who[512] = "x", fix[512] = "x", path[4096];

    assert_int_equal(f->p->write_access(f->p, "no-such-file", &others, who,
                                        sizeof who, fix, sizeof fix),
                     KSVC_OK);
    assert_int_equal(others, 0);
    assert_string_equal(who, "");
    assert_string_equal(fix, "");
    assert_int_equal(f->p->write_access(f->p, "a/b", &others, who,
                                        sizeof who, fix, sizeof fix),
                     KSVC_E_INVALID_ARGUMENT);
    path_of(f, "System32", path, sizeof path);
    chmod_add(path, S_IWGRP);
    assert_int_equal(f->p->write_access(f->p, "", &others, who, sizeof who,
                                        fix, sizeof fix),
                     KSVC_OK);
    assert_int_equal(others, 1);
    assert_non_null(strstr(who, path));
    assert_int_equal(f->p->write_access(f->p, NULL, &others, who, sizeof who,
                                        fix, sizeof fix),
                     KSVC_OK);
    assert_int_equal(others, 0);
    /* A symbolic link is judged by what stands there, never followed. */
    path_of(f, TOOLS "/link", path, sizeof path);
    assert_int_equal(symlink("/tmp", path), 0);
    assert_int_equal(f->p->write_access(f->p, "link", &others, who,
                                        sizeof who, fix, sizeof fix),
                     KSVC_OK);
    assert_int_equal(others, 0);
    assert_int_equal(unlink(path), 0);
}

/* For the tests every backend runs: everyone may write the tools folder,
 * and its fix. */
static void make_tools_writable(fixture *f)
{
    char path[4096];

    path_of(f, TOOLS, path, sizeof path);
    chmod_add(path, S_IWOTH);
}

/* Run the command status names for the problem, through /bin/sh. */
static void fix_tools(fixture *f)
{
    const char *problem = rights_problem(f);
    const char *cmd;

    assert_non_null(problem);
    cmd = strstr(problem, "an administrator runs: ");
    assert_non_null(cmd);
    assert_int_equal(system(cmd + strlen("an administrator runs: ")), 0);
}

#define BACKEND_TESTS                                                        \
    T(tools_group_writable), T(tools_world_writable_sticky),                 \
        T(root_world_writable), T(system32_group_writable),                  \
        T(lxss_world_writable), T(kernel_world_writable),                    \
        T(rollback_group_writable), T(registry_world_writable),              \
        T(tools_owned_by_another_user), T(kernel_owned_by_another_user),     \
        T(registry_owned_by_another_user), T(created_tools_folder_is_safe),  \
        T(backend_answers)

#else /* _WIN32 */

/* ---- Win32, under Wine ---- */

#define LXSS_KEY L"SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Lxss"
/* Everyone may do anything; and the rights the check wants. */
#define SDDL_FOLDER_OPEN L"D:(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FA;;;WD)"
#define SDDL_FOLDER_SAFE L"D:(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)"
#define SDDL_FILE_OPEN L"D:(A;;FA;;;SY)(A;;FA;;;BA)(A;;FA;;;WD)"
#define SDDL_FILE_SAFE L"D:(A;;FA;;;SY)(A;;FA;;;BA)(A;;0x1200a9;;;BU)"
#define SDDL_KEY_OPEN L"O:BAD:(A;CI;KA;;;SY)(A;CI;KA;;;BA)(A;CI;KA;;;WD)"
#define SDDL_KEY_SAFE L"O:BAD:(A;CI;KA;;;SY)(A;CI;KA;;;BA)(A;CI;KR;;;BU)"

/* The DACL of @p sddl (freed with LocalFree of *sd). */
static PACL dacl_of(const wchar_t *sddl, PSECURITY_DESCRIPTOR *sd)
{
    BOOL present = FALSE, defaulted = FALSE;
    PACL dacl = NULL;

    assert_true(ConvertStringSecurityDescriptorToSecurityDescriptorW(
        sddl, SDDL_REVISION_1, sd, NULL));
    assert_true(GetSecurityDescriptorDacl(*sd, &present, &dacl, &defaulted));
    assert_true(present);
    return dacl;
}

/* Give the file or folder @p name of the tools folder ("" for the folder)
 * the DACL @p sddl. */
static void set_file_dacl(fixture *f, const wchar_t *name, const wchar_t *sddl)
{
    wchar_t tools[1024], path[1200];
    PSECURITY_DESCRIPTOR sd = NULL;
    PACL dacl = dacl_of(sddl, &sd);
    const wchar_t *plain;

    test_machine_tools_path(f->m, tools, sizeof tools / sizeof tools[0]);
    plain = wcsncmp(tools, L"\\\\?\\", 4) == 0 ? tools + 4 : tools;
    swprintf(path, sizeof path / sizeof path[0], L"%ls%ls%ls", plain,
             name[0] ? L"\\" : L"", name);
    assert_int_equal(SetNamedSecurityInfoW(path, SE_FILE_OBJECT,
                                           DACL_SECURITY_INFORMATION |
                                               PROTECTED_DACL_SECURITY_INFORMATION,
                                           NULL, NULL, dacl, NULL),
                     ERROR_SUCCESS);
    LocalFree(sd);
}

/* The owner too: Wine gives a key whose DACL is set without one the
 * token's default owner, which is not an administrator there. */
static void set_key_dacl(const wchar_t *sddl)
{
    PSECURITY_DESCRIPTOR sd = NULL;
    PACL dacl = dacl_of(sddl, &sd);
    PSID owner = NULL;
    BOOL defaulted = FALSE;
    HKEY h;

    assert_true(GetSecurityDescriptorOwner(sd, &owner, &defaulted));
    assert_int_equal(RegOpenKeyExW(HKEY_LOCAL_MACHINE, LXSS_KEY, 0,
                                   WRITE_DAC | WRITE_OWNER | READ_CONTROL |
                                       KEY_WOW64_64KEY,
                                   &h),
                     ERROR_SUCCESS);
    assert_int_equal(SetSecurityInfo(h, SE_REGISTRY_KEY,
                                     OWNER_SECURITY_INFORMATION |
                                         DACL_SECURITY_INFORMATION |
                                         PROTECTED_DACL_SECURITY_INFORMATION,
                                     owner, NULL, dacl, NULL),
                     ERROR_SUCCESS);
    RegCloseKey(h);
    LocalFree(sd);
}

/* One thing Everyone may write: named in status with @p fix_word, every
 * change refused; put back, the install goes through. */
static void everyone_may_write(fixture *f, const char *where,
                               const char *fix_word,
                               void (*open_it)(fixture *),
                               void (*close_it)(fixture *))
{
    ksvc_status s = KSVC_STATUS_INIT;
    const char *problem;

    assert_null(rights_problem(f));
    open_it(f);
    problem = rights_problem(f);
    assert_non_null(problem);
    assert_non_null(strstr(problem, where));
    assert_non_null(strstr(problem, "Everyone may change it"));
    assert_non_null(strstr(problem, fix_word));
    changes_refused(f, where, fix_word);
    close_it(f);
    assert_null(rights_problem(f));
    assert_int_equal(ksvc_install(f->ctx, f->pay_c, C, NULL), KSVC_OK);
    assert_int_equal(ksvc_status_get(f->ctx, &s), KSVC_OK);
    assert_string_equal(s.kernel.kernel_version, C);
}

static void make_tools_writable(fixture *f)
{
    set_file_dacl(f, L"", SDDL_FOLDER_OPEN);
}

static void fix_tools(fixture *f)
{
    set_file_dacl(f, L"", SDDL_FOLDER_SAFE);
}

static void open_kernel(fixture *f)
{
    set_file_dacl(f, L"kernel", SDDL_FILE_OPEN);
}

static void close_kernel(fixture *f)
{
    set_file_dacl(f, L"kernel", SDDL_FILE_SAFE);
}

static void open_key(fixture *f)
{
    (void)f;
    set_key_dacl(SDDL_KEY_OPEN);
}

static void close_key(fixture *f)
{
    (void)f;
    set_key_dacl(SDDL_KEY_SAFE);
}

static void tools_everyone_may_write(void **state)
{
    everyone_may_write(*state, "lxss\\tools", "icacls \"",
                       make_tools_writable, fix_tools);
}

static void kernel_everyone_may_write(void **state)
{
    everyone_may_write(*state, "tools\\kernel", "/inheritance:r",
                       open_kernel, close_kernel);
}

static void key_everyone_may_write(void **state)
{
    everyone_may_write(*state, "CurrentVersion\\Lxss", "Set-Acl",
                       open_key, close_key);
}

/* A tools folder the backend makes grants Everyone nothing. */
static void created_tools_folder_is_safe(void **state)
{
    fixture *f = *state;
    wchar_t tools[1024];
    PSECURITY_DESCRIPTOR sd = NULL;
    PACL dacl = NULL;
    unsigned others = 1;
    char who[512], fix[1024];
    DWORD i;

    install_into_new_tools_folder(f);
    assert_int_equal(f->p->write_access(f->p, "", &others, who, sizeof who,
                                        fix, sizeof fix),
                     KSVC_OK);
    assert_int_equal(others, 0);
    test_machine_tools_path(f->m, tools, sizeof tools / sizeof tools[0]);
    assert_int_equal(GetNamedSecurityInfoW(tools + 4, SE_FILE_OBJECT,
                                           DACL_SECURITY_INFORMATION, NULL,
                                           NULL, &dacl, NULL, &sd),
                     ERROR_SUCCESS);
    assert_non_null(dacl);
    for (i = 0; i < dacl->AceCount; i++) {
        ACCESS_ALLOWED_ACE *ace;
        LPWSTR sid = NULL;
        assert_true(GetAce(dacl, i, (LPVOID *)&ace));
        assert_true(ConvertSidToStringSidW((PSID)&ace->SidStart, &sid));
        /* Everyone (Wine: other bits) gets nothing at all. */
        assert_int_not_equal(wcscmp(sid, L"S-1-1-0"), 0);
        LocalFree(sid);
    }
    LocalFree(sd);
}

#define BACKEND_TESTS                                                        \
    T(tools_everyone_may_write), T(kernel_everyone_may_write),               \
        T(key_everyone_may_write), T(created_tools_folder_is_safe)

#endif /* _WIN32 */

/* ---- every backend again ---- */

/* A rolled-back machine's revert boots `kernel` again: refused too. */
static void revert_refused(void **state)
{
    fixture *f = *state;
    char *before, *after;

    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    make_tools_writable(f);
    before = test_machine_snapshot(f->m);
    assert_int_equal(ksvc_revert_rollback(f->ctx), KSVC_E_INSECURE);
    after = test_machine_snapshot(f->m);
    assert_string_equal(after, before);
    fix_tools(f);
    assert_int_equal(ksvc_revert_rollback(f->ctx), KSVC_OK);
    free(before);
    free(after);
}

/* A standard user's status names the problem too, in the typed member as
 * well; reads never refuse. */
static void standard_user_sees_it(void **state)
{
    fixture *f = *state;
    ksvc_status s = KSVC_STATUS_INIT;
    char boot[4096];

    make_tools_writable(f);
    test_machine_set_elevated(f->m, 0);
    assert_non_null(rights_problem(f));
    assert_int_equal(ksvc_status_get(f->ctx, &s), KSVC_OK);
    assert_int_equal(s.others_may_write, KSVC_OTHERS_MAY_WRITE_TOOLS);
    assert_int_equal(ksvc_boot_path(f->ctx, boot, sizeof boot), KSVC_OK);
    test_machine_set_elevated(f->m, 1);
    fix_tools(f);
    assert_int_equal(ksvc_status_get(f->ctx, &s), KSVC_OK);
    assert_int_equal(s.others_may_write, 0);
}

/* A kernel someone else may have put there is never vouched for: it
 * stays foreign (and boots, as any foreign kernel does) until the rights
 * are fixed; then the administrator's open adopts it. */
static void no_adoption_while_others_may_write(void **state)
{
    fixture *f = *state;
    ksvc_status s = KSVC_STATUS_INIT;
    char kernel[4096], boot[4096];

    assert_int_equal(f->p->full_path(f->p, "kernel", kernel, sizeof kernel),
                     KSVC_OK);
    make_tools_writable(f);
    test_machine_remove_file_by_hand(f->m, "kernel");
    assert_int_equal(kimage_write(kernel, KSVC_ARCH_X64, C, 7, 3 * 4096), 0);
    ksvc_close(f->ctx);
    assert_int_equal(ksvc_open(&f->ctx, f->p, NULL), KSVC_OK);
    assert_int_equal(ksvc_status_get(f->ctx, &s), KSVC_OK);
    assert_int_equal(s.kernel_class, KSVC_SLOT_CLASS_FOREIGN);
    assert_string_equal(s.kernel_holds, C);
    assert_int_equal(ksvc_boot_path(f->ctx, boot, sizeof boot), KSVC_OK);
    fix_tools(f);
    ksvc_close(f->ctx);
    assert_int_equal(ksvc_open(&f->ctx, f->p, NULL), KSVC_OK);
    assert_int_equal(ksvc_status_get(f->ctx, &s), KSVC_OK);
    assert_int_equal(s.kernel_class, KSVC_SLOT_CLASS_VERIFIED);
    assert_string_equal(s.kernel.kernel_version, C);
}

/* A version 2 table (no write_access) is served as before: nothing is
 * checked, nothing refused; one of version 3 must have the method. */
static void version_2_table_is_not_checked(void **state)
{
    fixture *f = *state;
    size_t v2_size = offsetof(ksvc_platform, write_access);
    unsigned char *v2 = malloc(v2_size);
    /* The backend's own table: its methods find their state through
     * p->data, so a copy of it is a backend too (the test machine's table
     * is the first member of a larger struct, which a copy would cut). */
    ksvc_platform *q = test_machine_platform_open(f->m);
    ksvc_platform full;
    ksvc_context *ctx = NULL;
    ksvc_status s = KSVC_STATUS_INIT;

    assert_non_null(v2);
    make_tools_writable(f);
    memcpy(&full, q, sizeof full);
    full.version = 2;
    memcpy(v2, &full, v2_size);
    assert_int_equal(ksvc_open(&ctx, (ksvc_platform *)(void *)v2, NULL),
                     KSVC_OK);
    assert_int_equal(ksvc_status_get(ctx, &s), KSVC_OK);
    assert_int_equal(s.others_may_write, 0);
    assert_int_equal(ksvc_install(ctx, f->pay_c, C, NULL), KSVC_OK);
    ksvc_close(ctx);
    free(v2);

    memcpy(&full, q, sizeof full);
    full.write_access = NULL;
    assert_int_equal(ksvc_open(&ctx, &full, NULL), KSVC_E_INVALID_ARGUMENT);
    assert_null(ctx);
    q->destroy(q);
    fix_tools(f);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BACKEND_TESTS,
        T(revert_refused),
        T(standard_user_sees_it),
        T(no_adoption_while_others_may_write),
        T(version_2_table_is_not_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
