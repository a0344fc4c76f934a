/*
 * Win32-only tests of the Win32 backend, on the machine of tests/machine.h
 * (under Wine: the run's own prefix, its registry and System32).
 *
 * - the backend's answers: paths, machine facts, registry type and length
 *   checks, all-or-nothing registry writes;
 * - faults through the Win32 call table: each registry and file call failing
 *   with access denied, a sharing violation, a full disk or a
 *   write-protected disk gives the mapped error and changes nothing;
 * - SHA-256 through CNG: the right digest, and each BCrypt call failing
 *   gives the mapped error with its NTSTATUS and changes nothing;
 * - a standard user refused, through the token call;
 * - paths beyond MAX_PATH and non-ASCII paths;
 * - a reparse point planted in the tools folder, or standing for it,
 *   refused.
 */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <winioctl.h>
#include <bcrypt.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include <cmocka.h>

#include <kservice/kservice.h>
#include <kservice/win32.h>

#include "machine.h"
#include "machine_win32.h"
#include "../platform/win32/syscalls.h"

#define A "5.10.102.1"
#define B "5.15.90.1"
#define C "5.15.153.1"

#define LXSS "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Lxss"
#define WLXSS L"SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Lxss"

typedef struct fixture {
    test_machine *m;
    ksvc_platform *p;
    ksvc_context *ctx;
    const char *pay_a, *pay_b, *pay_c;
} fixture;

/* Replace the fixture's machine by a new empty one with its payloads. */
static void fresh_machine(fixture *f)
{
    ksvc_close(f->ctx);
    test_machine_free(f->m);
    f->m = test_machine_new(NULL);
    f->p = test_machine_platform(f->m);
    assert_int_equal(ksvc_open(&f->ctx, f->p, NULL), KSVC_OK);
    f->pay_a = test_machine_payload(f->m, "A", 1, 4096 + 17);
    f->pay_b = test_machine_payload(f->m, "B", 2, 8192 + 5);
    f->pay_c = test_machine_payload(f->m, "C", 3, 3 * 4096);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    fresh_machine(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ksvc__win32_syscall_set(NULL, NULL);
    ksvc_close(f->ctx);
    test_machine_free(f->m);
    free(f);
    return 0;
}

static int install(ksvc_context *ctx, const char *payload, const char *version)
{
    return ksvc_install(ctx, payload, version, NULL);
}

/* Read a servicing value straight from the registry, bypassing the library:
 * returns 0 and the text, or -1 when absent. */
static int lxss_value(const char *name, char *out, size_t room)
{
    wchar_t wname[128], data[512];
    DWORD size = sizeof data - sizeof data[0], type = 0;
    LSTATUS st;

    test_wide_from_utf8(name, wname, 128);
    memset(data, 0, sizeof data);
    st = RegGetValueW(HKEY_LOCAL_MACHINE, WLXSS, wname,
                      RRF_RT_ANY | RRF_NOEXPAND | RRF_SUBKEY_WOW6464KEY, &type,
                      data, &size);
    if (st == ERROR_FILE_NOT_FOUND)
        return -1;
    assert_int_equal(st, ERROR_SUCCESS);
    if (out != NULL)
        test_utf8_from_wide(data, out, room);
    return 0;
}

static void assert_lxss_value(const char *name, const char *expected)
{
    char got[512];
    if (expected == NULL) {
        assert_int_equal(lxss_value(name, NULL, 0), -1);
        return;
    }
    assert_int_equal(lxss_value(name, got, sizeof got), 0);
    assert_string_equal(got, expected);
}

/* Put a raw value under the Lxss key, as another program might. */
static void set_raw(const wchar_t *name, DWORD type, const void *data,
                    DWORD size)
{
    HKEY h;
    assert_int_equal(RegCreateKeyExW(HKEY_LOCAL_MACHINE, WLXSS, 0, NULL, 0,
                                     KEY_SET_VALUE | KEY_WOW64_64KEY, NULL, &h,
                                     NULL),
                     ERROR_SUCCESS);
    assert_int_equal(RegSetValueExW(h, name, 0, type, data, size),
                     ERROR_SUCCESS);
    RegCloseKey(h);
}

/* ---- the backend's own answers ---- */

static void default_locations(void **state)
{
    fixture *f = *state;
    wchar_t system_dir[MAX_PATH + 1];
    char expected[MAX_PATH * 3 + 64], system_utf8[MAX_PATH * 3];
    char got[1024];

    assert_true(GetSystemDirectoryW(system_dir, MAX_PATH + 1) > 0);
    test_utf8_from_wide(system_dir, system_utf8, sizeof system_utf8);
    snprintf(expected, sizeof expected, "%s\\lxss\\tools\\kernel.rollback",
             system_utf8);
    assert_int_equal(f->p->full_path(f->p, "kernel.rollback", got, sizeof got),
                     KSVC_OK);
    assert_string_equal(got, expected);
    /* Too little room is an error, not a cut path. */
    assert_int_equal(f->p->full_path(f->p, "kernel", got, 10),
                     KSVC_E_TOO_LONG);
    /* Names are plain names in the tools folder, nothing else. */
    assert_int_equal(f->p->full_path(f->p, "..\\kernel", got, sizeof got),
                     KSVC_E_INVALID_ARGUMENT);
    assert_int_equal(f->p->full_path(f->p, "NUL", got, sizeof got),
                     KSVC_E_INVALID_ARGUMENT);
    assert_int_equal(f->p->full_path(f->p, "kernel.", got, sizeof got),
                     KSVC_E_INVALID_ARGUMENT);
    assert_int_equal(f->p->full_path(f->p, "a:b", got, sizeof got),
                     KSVC_E_INVALID_ARGUMENT);
}

static void machine_facts_from_the_os(void **state)
{
    fixture *f = *state;
    ksvc_arch arch = KSVC_ARCH_UNKNOWN;
    int elevated = -1;

    assert_int_equal(f->p->arch(f->p, &arch), KSVC_OK);
    assert_int_equal(arch, KSVC_ARCH_X64);
    assert_int_equal(f->p->elevated(f->p, &elevated), KSVC_OK);
    /* Wine's user is an elevated administrator, as a servicing process on
     * Windows is. */
    assert_int_equal(elevated, 1);
}

static BOOL WINAPI no_token_elevation(HANDLE token, TOKEN_INFORMATION_CLASS cls,
                                      LPVOID info, DWORD size, PDWORD got)
{
    (void)token;
    (void)info;
    (void)size;
    (void)got;
    if (cls == TokenElevation) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    return GetTokenInformation(token, cls, info, size, got);
}

static BOOL WINAPI not_an_administrator(HANDLE token, PSID sid, PBOOL member)
{
    (void)token;
    (void)sid;
    *member = FALSE;
    return TRUE;
}

static void elevation_falls_back_to_administrators(void **state)
{
    fixture *f = *state;
    int elevated = -1;

    /* Windows without elevation: membership of Administrators decides. */
    assert_int_equal(
        ksvc__win32_syscall_set("GetTokenInformation",
                               (ksvc__win32_syscall_ptr)no_token_elevation),
        KSVC_OK);
    assert_int_equal(f->p->elevated(f->p, &elevated), KSVC_OK);
    assert_int_equal(elevated, 1);
    assert_int_equal(
        ksvc__win32_syscall_set("CheckTokenMembership",
                               (ksvc__win32_syscall_ptr)not_an_administrator),
        KSVC_OK);
    assert_int_equal(f->p->elevated(f->p, &elevated), KSVC_OK);
    assert_int_equal(elevated, 0);
}

static BOOL WINAPI a_32_bit_process(HANDLE process, PBOOL wow64)
{
    (void)process;
    *wow64 = TRUE;
    return TRUE;
}

static void wow64_process_goes_through_sysnative(void **state)
{
    ksvc_platform *p = NULL;
    wchar_t windows[MAX_PATH + 1];
    char windows_utf8[MAX_PATH * 3], expected[MAX_PATH * 3 + 64], got[1024];

    (void)state;
    /* A 32-bit process on 64-bit Windows would be sent to SysWOW64 by
     * System32: the backend asks for Sysnative instead. */
    assert_true(GetSystemWindowsDirectoryW(windows, MAX_PATH + 1) > 0);
    test_utf8_from_wide(windows, windows_utf8, sizeof windows_utf8);
    snprintf(expected, sizeof expected, "%s\\Sysnative\\lxss\\tools\\kernel",
             windows_utf8);
    assert_int_equal(
        ksvc__win32_syscall_set("IsWow64Process",
                               (ksvc__win32_syscall_ptr)a_32_bit_process),
        KSVC_OK);
    assert_int_equal(ksvc_win32_open(&p, NULL), KSVC_OK);
    assert_int_equal(p->full_path(p, "kernel", got, sizeof got), KSVC_OK);
    assert_string_equal(got, expected);
    ksvc_win32_free(p);
}

static void registry_root_moves_every_key(void **state)
{
    ksvc_win32_options o = KSVC_WIN32_OPTIONS_INIT;
    ksvc_platform *p = NULL;
    ksvc_reg_change change = { "KernelVersion", 0, KSVC_REG_SZ, "1.2.3", 6 };
    wchar_t data[32];
    DWORD size = sizeof data;
    int exists = -1;

    (void)state;
    o.registry_root = "HKCU\\Software\\KServiceWin32Test";
    assert_int_equal(ksvc_win32_open(&p, &o), KSVC_OK);
    assert_int_equal(p->reg_key_exists(p, LXSS, &exists), KSVC_OK);
    assert_int_equal(exists, 0);
    assert_int_equal(p->reg_write(p, LXSS, &change, 1), KSVC_OK);
    assert_int_equal(
        RegGetValueW(HKEY_CURRENT_USER,
                     L"Software\\KServiceWin32Test\\" WLXSS, L"KernelVersion",
                     RRF_RT_REG_SZ, NULL, data, &size),
        ERROR_SUCCESS);
    assert_true(wcscmp(data, L"1.2.3") == 0);
    /* The machine's own key was not touched. */
    assert_lxss_value("KernelVersion", NULL);
    ksvc_win32_free(p);
    assert_int_equal(RegDeleteTreeW(HKEY_CURRENT_USER,
                                    L"Software\\KServiceWin32Test"),
                     ERROR_SUCCESS);
    RegDeleteKeyW(HKEY_CURRENT_USER, L"Software\\KServiceWin32Test");

    o.registry_root = "HKEY_CLASSES_ROOT\\x";
    assert_int_equal(ksvc_win32_open(&p, &o), KSVC_E_INVALID_ARGUMENT);
    o.registry_root = "HKLM\\\\double";
    assert_int_equal(ksvc_win32_open(&p, &o), KSVC_E_INVALID_ARGUMENT);
    o.registry_root = NULL;
    o.version = 99;
    assert_int_equal(ksvc_win32_open(&p, &o), KSVC_E_STRUCT_VERSION);
    assert_null(p);
}

static void call_table_walk_and_restore(void **state)
{
    const char *name;
    size_t count = 0;
    ksvc__win32_syscall_ptr real;

    (void)state;
    for (name = ksvc__win32_syscall_next(NULL); name != NULL;
         name = ksvc__win32_syscall_next(name)) {
        count++;
        if (strcmp(name, "IsWow64Process2") != 0)
            assert_non_null(ksvc__win32_syscall_get(name));
    }
    assert_true(count >= 30);
    assert_null(ksvc__win32_syscall_get("NoSuchCall"));
    assert_int_equal(ksvc__win32_syscall_set("NoSuchCall", NULL),
                     KSVC_E_NOT_FOUND);
    real = ksvc__win32_syscall_get("CreateFileW");
    assert_int_equal(
        ksvc__win32_syscall_set("CreateFileW",
                               (ksvc__win32_syscall_ptr)not_an_administrator),
        KSVC_OK);
    assert_true(ksvc__win32_syscall_get("CreateFileW") ==
                (ksvc__win32_syscall_ptr)not_an_administrator);
    assert_int_equal(ksvc__win32_syscall_set("CreateFileW", NULL), KSVC_OK);
    assert_true(ksvc__win32_syscall_get("CreateFileW") == real);
}

static void registry_reads_check_type_and_length(void **state)
{
    fixture *f = *state;
    const wchar_t unterminated[] = { L'5', L'.', L'1', L'5' };
    const wchar_t list[] = { L'a', 0, L'b', L'\x00e9', 0 }; /* no final NUL */
    const wchar_t lone_surrogate[] = { L'x', 0xD800, 0 };
    const BYTE three[] = { 1, 2, 3 };
    const BYTE binary[] = { 0xde, 0xad, 0xbe, 0xef };
    char buf[64];
    size_t size;
    uint32_t type;

    set_raw(L"Unterminated", REG_SZ, unterminated, sizeof unterminated);
    size = sizeof buf;
    assert_int_equal(f->p->reg_read(f->p, LXSS, "Unterminated", &type, buf,
                                    &size),
                     KSVC_OK);
    assert_int_equal(type, KSVC_REG_SZ);
    assert_int_equal(size, 5);
    assert_string_equal(buf, "5.15");

    set_raw(L"List", REG_MULTI_SZ, list, sizeof list);
    size = sizeof buf;
    assert_int_equal(f->p->reg_read(f->p, LXSS, "List", &type, buf, &size),
                     KSVC_OK);
    assert_int_equal(type, KSVC_REG_MULTI_SZ);
    assert_int_equal(size, 2 + 4 + 1); /* "a\0" "b\xc3\xa9\0" "\0" */
    assert_memory_equal(buf, "a\0b\xc3\xa9\0", 7);

    set_raw(L"Short", REG_DWORD, three, sizeof three);
    size = sizeof buf;
    assert_int_equal(f->p->reg_read(f->p, LXSS, "Short", &type, buf, &size),
                     KSVC_E_BAD_VALUE);

    set_raw(L"Surrogate", REG_SZ, lone_surrogate, sizeof lone_surrogate);
    size = sizeof buf;
    assert_int_equal(f->p->reg_read(f->p, LXSS, "Surrogate", &type, buf,
                                    &size),
                     KSVC_E_BAD_VALUE);

    /* Other types come back as stored: presence is what counts for some. */
    set_raw(L"Binary", REG_BINARY, binary, sizeof binary);
    size = sizeof buf;
    assert_int_equal(f->p->reg_read(f->p, LXSS, "Binary", &type, buf, &size),
                     KSVC_OK);
    assert_int_equal(type, REG_BINARY);
    assert_int_equal(size, 4);
    assert_memory_equal(buf, binary, 4);

    /* Too little room: the size needed, nothing cut. */
    size = 3;
    assert_int_equal(f->p->reg_read(f->p, LXSS, "Unterminated", &type, buf,
                                    &size),
                     KSVC_E_TOO_LONG);
    assert_int_equal(size, 5);

    size = sizeof buf;
    assert_int_equal(f->p->reg_read(f->p, LXSS, "Missing", &type, buf, &size),
                     KSVC_E_NOT_FOUND);
    assert_int_equal(f->p->reg_read(f->p, "SOFTWARE\\NoSuchKey\\Here", "x",
                                    &type, buf, &size),
                     KSVC_E_NOT_FOUND);
}

/* What reg_list saw of one value. */
typedef struct seen_value {
    const char *name;
    int found, error;
    uint32_t type;
    size_t size;
    unsigned char data[16];
} seen_value;

static int see_value(void *arg, const ksvc_reg_value *v)
{
    seen_value *s;

    for (s = arg; s->name != NULL; s++) {
        if (strcmp(s->name, v->name) != 0)
            continue;
        s->found++;
        s->error = v->error;
        s->type = v->type;
        s->size = v->size;
        if (v->data != NULL && v->size <= sizeof s->data)
            memcpy(s->data, v->data, v->size);
    }
    return 0;
}

/* reg_list reports every value, also those reg_read refuses: with their
 * error instead of data, so recovery sees that they are there. */
static void registry_list_reports_unreadable_values(void **state)
{
    fixture *f = *state;
    const wchar_t lone_surrogate[] = { L'x', 0xD800, 0 };
    const wchar_t bad_name[] = { L'n', 0xDC00, 0 };
    const BYTE three[] = { 1, 2, 3 };
    const BYTE binary[] = { 0xde, 0xad, 0xbe, 0xef };
    seen_value seen[] = {
        { "Surrogate", 0, 0, 0, 0, { 0 } }, { "Short", 0, 0, 0, 0, { 0 } },
        { "Binary", 0, 0, 0, 0, { 0 } },    { "n\xEF\xBF\xBD", 0, 0, 0, 0, { 0 } },
        { NULL, 0, 0, 0, 0, { 0 } },
    };

    set_raw(L"Surrogate", REG_SZ, lone_surrogate, sizeof lone_surrogate);
    set_raw(L"Short", REG_DWORD, three, sizeof three);
    set_raw(L"Binary", REG_BINARY, binary, sizeof binary);
    set_raw(bad_name, REG_BINARY, binary, sizeof binary);
    assert_int_equal(f->p->reg_list(f->p, LXSS, see_value, seen), KSVC_OK);
    assert_int_equal(seen[0].found, 1);
    assert_int_equal(seen[0].error, KSVC_E_BAD_VALUE);
    assert_int_equal(seen[0].type, KSVC_REG_SZ);
    assert_int_equal(seen[1].found, 1);
    assert_int_equal(seen[1].error, KSVC_E_BAD_VALUE);
    assert_int_equal(seen[2].found, 1);
    assert_int_equal(seen[2].error, KSVC_OK);
    assert_int_equal(seen[2].type, REG_BINARY);
    assert_int_equal(seen[2].size, 4);
    assert_memory_equal(seen[2].data, binary, 4);
    /* A name that is not UTF-16 comes with U+FFFD for its bad unit. */
    assert_int_equal(seen[3].found, 1);
    assert_int_equal(seen[3].error, KSVC_E_BAD_VALUE);
}

/* RegSetValueExW that fails from its second call on. */
static int set_calls;
static LSTATUS WINAPI set_fails_second(HKEY h, LPCWSTR name, DWORD reserved,
                                       DWORD type, const BYTE *data, DWORD size)
{
    if (++set_calls == 2)
        return ERROR_DISK_FULL;
    return RegSetValueExW(h, name, reserved, type, data, size);
}

static void registry_writes_are_all_or_nothing(void **state)
{
    fixture *f = *state;
    char *before, *after;
    const DWORD old = 7;
    long os = 0;
    char what[512];
    ksvc_reg_change changes[3] = {
        { "First", 0, KSVC_REG_SZ, "one", 4 },
        { "Second", 0, KSVC_REG_DWORD, NULL, 4 },
        { "Third", 0, KSVC_REG_MULTI_SZ, "x\0y\0", 5 },
    };
    const DWORD second = 42;
    HKEY h;

    changes[1].data = &second;
    set_raw(L"First", REG_DWORD, &old, sizeof old);
    before = test_machine_snapshot(f->m);
    set_calls = 0;
    assert_int_equal(
        ksvc__win32_syscall_set("RegSetValueExW",
                               (ksvc__win32_syscall_ptr)set_fails_second),
        KSVC_OK);
    assert_int_equal(f->p->reg_write(f->p, LXSS, changes, 3),
                     KSVC_E_NO_SPACE);
    f->p->last_error(f->p, &os, what, sizeof what);
    assert_int_equal(os, ERROR_DISK_FULL);
    assert_non_null(strstr(what, "Second"));
    after = test_machine_snapshot(f->m);
    assert_string_equal(before, after); /* First is 7 again */
    free(before);
    free(after);

    /* A key the failed write created is gone again. */
    set_calls = 0;
    assert_int_equal(f->p->reg_write(f->p, LXSS "\\Fresh", changes, 3),
                     KSVC_E_NO_SPACE);
    assert_int_equal(RegOpenKeyExW(HKEY_LOCAL_MACHINE, WLXSS L"\\Fresh", 0,
                                   KEY_READ | KEY_WOW64_64KEY, &h),
                     ERROR_FILE_NOT_FOUND);

    /* Bad data is refused before anything is written. */
    assert_int_equal(ksvc__win32_syscall_set("RegSetValueExW", NULL), KSVC_OK);
    changes[2].data = "x\0y"; /* no empty string at the end */
    changes[2].size = 3;
    before = test_machine_snapshot(f->m);
    assert_int_equal(f->p->reg_write(f->p, LXSS, changes, 3),
                     KSVC_E_INVALID_ARGUMENT);
    after = test_machine_snapshot(f->m);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

/* ---- faults through the call table ---- */

static DWORD fault_code;
static int fault_calls;

#define FAULT_BOOL(name, params, ...)                                        \
    static BOOL WINAPI fault_##name params                                   \
    {                                                                        \
        __VA_ARGS__;                                                         \
        fault_calls++;                                                       \
        SetLastError(fault_code);                                            \
        return FALSE;                                                        \
    }
#define FAULT_LSTATUS(name, params, ...)                                     \
    static LSTATUS WINAPI fault_##name params                                \
    {                                                                        \
        __VA_ARGS__;                                                         \
        fault_calls++;                                                       \
        return (LSTATUS)fault_code;                                          \
    }

static HANDLE WINAPI fault_CreateFileW(LPCWSTR a, DWORD b, DWORD c,
                                       LPSECURITY_ATTRIBUTES d, DWORD e,
                                       DWORD f, HANDLE g)
{
    (void)a, (void)b, (void)c, (void)d, (void)e, (void)f, (void)g;
    fault_calls++;
    SetLastError(fault_code);
    return INVALID_HANDLE_VALUE;
}
FAULT_BOOL(ReadFile, (HANDLE a, LPVOID b, DWORD c, LPDWORD d, LPOVERLAPPED e),
           (void)a, (void)b, (void)c, (void)d, (void)e)
FAULT_BOOL(WriteFile,
           (HANDLE a, LPCVOID b, DWORD c, LPDWORD d, LPOVERLAPPED e),
           (void)a, (void)b, (void)c, (void)d, (void)e)
FAULT_BOOL(FlushFileBuffers, (HANDLE a), (void)a)
FAULT_BOOL(GetFileInformationByHandle,
           (HANDLE a, LPBY_HANDLE_FILE_INFORMATION b), (void)a, (void)b)
FAULT_BOOL(MoveFileExW, (LPCWSTR a, LPCWSTR b, DWORD c), (void)a, (void)b,
           (void)c)
FAULT_BOOL(CreateHardLinkW, (LPCWSTR a, LPCWSTR b, LPSECURITY_ATTRIBUTES c),
           (void)a, (void)b, (void)c)
FAULT_BOOL(LockFileEx,
           (HANDLE a, DWORD b, DWORD c, DWORD d, DWORD e, LPOVERLAPPED g),
           (void)a, (void)b, (void)c, (void)d, (void)e, (void)g)
FAULT_LSTATUS(RegOpenKeyExW, (HKEY a, LPCWSTR b, DWORD c, REGSAM d, PHKEY e),
              (void)a, (void)b, (void)c, (void)d, (void)e)
FAULT_LSTATUS(RegCreateKeyExW,
              (HKEY a, LPCWSTR b, DWORD c, LPWSTR d, DWORD e, REGSAM g,
               LPSECURITY_ATTRIBUTES h, PHKEY i, LPDWORD j),
              (void)a, (void)b, (void)c, (void)d, (void)e, (void)g, (void)h,
              (void)i, (void)j)
FAULT_LSTATUS(RegQueryValueExW,
              (HKEY a, LPCWSTR b, LPDWORD c, LPDWORD d, LPBYTE e, LPDWORD g),
              (void)a, (void)b, (void)c, (void)d, (void)e, (void)g)
FAULT_LSTATUS(RegSetValueExW,
              (HKEY a, LPCWSTR b, DWORD c, DWORD d, const BYTE *e, DWORD g),
              (void)a, (void)b, (void)c, (void)d, (void)e, (void)g)
FAULT_LSTATUS(RegDeleteValueW, (HKEY a, LPCWSTR b), (void)a, (void)b)

/* The operations a fault is tried on, each from the same starting state:
 * A then B installed (and rolled back, for the revert). */
enum fault_op { OP_INSTALL, OP_ROLLBACK, OP_REVERT, OP_REPAIR };

static const char *const op_names[] = { "install C", "rollback",
                                        "revert-rollback", "repair" };

typedef struct fault_case {
    const char *call;
    ksvc__win32_syscall_ptr fn;
    enum fault_op op;
} fault_case;

#define FAULT(name, op) { #name, (ksvc__win32_syscall_ptr)fault_##name, op }

static const fault_case fault_cases[] = {
    FAULT(CreateFileW, OP_INSTALL),
    FAULT(ReadFile, OP_INSTALL),
    FAULT(WriteFile, OP_INSTALL),
    FAULT(FlushFileBuffers, OP_INSTALL),
    FAULT(GetFileInformationByHandle, OP_INSTALL),
    FAULT(MoveFileExW, OP_INSTALL),
    FAULT(CreateHardLinkW, OP_INSTALL),
    FAULT(CreateFileW, OP_REPAIR),
    FAULT(ReadFile, OP_REPAIR),
    FAULT(WriteFile, OP_REPAIR),
    FAULT(FlushFileBuffers, OP_REPAIR),
    FAULT(MoveFileExW, OP_REPAIR),
    FAULT(LockFileEx, OP_INSTALL),
    FAULT(LockFileEx, OP_ROLLBACK),
    FAULT(RegOpenKeyExW, OP_INSTALL),
    FAULT(RegOpenKeyExW, OP_ROLLBACK),
    FAULT(RegCreateKeyExW, OP_INSTALL),
    FAULT(RegCreateKeyExW, OP_ROLLBACK),
    FAULT(RegQueryValueExW, OP_INSTALL),
    FAULT(RegQueryValueExW, OP_REVERT),
    FAULT(RegSetValueExW, OP_INSTALL),
    FAULT(RegSetValueExW, OP_ROLLBACK),
    /* A revert only deletes values (1.1 writes only what changes). */
    FAULT(RegDeleteValueW, OP_REVERT),
};

static const struct {
    DWORD code;
    int mapped;
} fault_errors[] = {
    { ERROR_ACCESS_DENIED, KSVC_E_ACCESS },
    { ERROR_SHARING_VIOLATION, KSVC_E_SHARING },
    { ERROR_DISK_FULL, KSVC_E_NO_SPACE },
    { ERROR_WRITE_PROTECT, KSVC_E_READ_ONLY_MEDIA },
};

static int run_op(fixture *f, enum fault_op op)
{
    switch (op) {
    case OP_INSTALL:
        return install(f->ctx, f->pay_c, C);
    case OP_ROLLBACK:
        return ksvc_rollback(f->ctx);
    case OP_REVERT:
        return ksvc_revert_rollback(f->ctx);
    case OP_REPAIR:
        return ksvc_repair(f->ctx);
    }
    return KSVC_E_INVALID_ARGUMENT;
}

/* The state each operation starts from. */
static void prepare_op(fixture *f, enum fault_op op)
{
    assert_int_equal(install(f->ctx, f->pay_a, A), KSVC_OK);
    assert_int_equal(install(f->ctx, f->pay_b, B), KSVC_OK);
    if (op == OP_REVERT)
        assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    if (op == OP_REPAIR) /* the repair copies kernel.rollback back */
        test_machine_remove_file_by_hand(f->m, "kernel");
}

/* An operation came back in doubt: it says the next open completes it,
 * keeps the OS code, and the next open (the call working again) does. */
static void expect_completed_by_next_open(fixture *f)
{
    ksvc_result r = KSVC_RESULT_INIT;
    ksvc_status st = KSVC_STATUS_INIT;

    assert_true(fault_calls > 0);
    assert_int_equal(ksvc_last_result(f->ctx, &r), KSVC_OK);
    assert_int_equal(r.settles, KSVC_SETTLE_COMPLETE);
    assert_int_equal((DWORD)ksvc_os_error(f->ctx), fault_code);
    ksvc_close(f->ctx);
    assert_int_equal(ksvc_open(&f->ctx, f->p, NULL), KSVC_OK);
    assert_int_equal(ksvc_status_get(f->ctx, &st), KSVC_OK);
    assert_int_equal(st.rolled_back, r.rolled_back_after);
}

/* Run @op from its starting state on a fresh machine with @call replaced
 * by @fn (which fails with fault_code); it must fail with @mapped, keep the
 * OS code in the detail and change nothing. */
static void fault_changes_nothing(fixture *f, const char *call,
                                  ksvc__win32_syscall_ptr fn, enum fault_op op,
                                  int mapped)
{
    char *before, *after;
    long os = 0;
    int rc;

    fresh_machine(f); /* for every case */
    prepare_op(f, op);

    before = test_machine_snapshot(f->m);
    fault_calls = 0;
    assert_int_equal(ksvc__win32_syscall_set(call, fn), KSVC_OK);
    rc = run_op(f, op);
    assert_int_equal(ksvc__win32_syscall_set(call, NULL), KSVC_OK);
    /* A change of several values goes through the journal: when the call
     * fails after the journal is written, the outcome is in doubt, and the
     * next open completes it. */
    if (rc == KSVC_E_IN_DOUBT) {
        expect_completed_by_next_open(f);
        free(before);
        return;
    }
    if (rc != mapped || fault_calls == 0)
        print_error("%s failing with code %#lx during %s: %d (%s), %d calls\n",
                    call, (unsigned long)fault_code, op_names[op], rc,
                    ksvc_error_name(rc), fault_calls);
    assert_true(fault_calls > 0);
    assert_int_equal(rc, mapped);
    /* The OS code is kept in the error detail. */
    os = ksvc_os_error(f->ctx);
    assert_int_equal((DWORD)os, fault_code);
    assert_true(ksvc_error_detail(f->ctx)[0] != '\0');
    after = test_machine_snapshot(f->m);
    if (strcmp(before, after) != 0)
        fprintf(stderr, "%s failing during %s changed the machine:\n"
                        "before:\n%s\nafter:\n%s\n",
                call, op_names[op], before, after);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

static void each_call_failing_changes_nothing(void **state)
{
    fixture *f = *state;
    size_t i, e;

    for (i = 0; i < sizeof fault_cases / sizeof fault_cases[0]; i++) {
        for (e = 0; e < sizeof fault_errors / sizeof fault_errors[0]; e++) {
            fault_code = fault_errors[e].code;
            fault_changes_nothing(f, fault_cases[i].call, fault_cases[i].fn,
                                  fault_cases[i].op, fault_errors[e].mapped);
        }
    }
}

/* ---- hashing through CNG ---- */

#define FAULT_NTSTATUS(name, params, ...)                                    \
    static NTSTATUS WINAPI fault_##name params                               \
    {                                                                        \
        __VA_ARGS__;                                                         \
        fault_calls++;                                                       \
        return (NTSTATUS)fault_code;                                         \
    }
FAULT_NTSTATUS(BCryptOpenAlgorithmProvider,
               (BCRYPT_ALG_HANDLE *a, LPCWSTR b, LPCWSTR c, ULONG d),
               (void)a, (void)b, (void)c, (void)d)
FAULT_NTSTATUS(BCryptCreateHash,
               (BCRYPT_ALG_HANDLE a, BCRYPT_HASH_HANDLE *b, PUCHAR c, ULONG d,
                PUCHAR e, ULONG g, ULONG h),
               (void)a, (void)b, (void)c, (void)d, (void)e, (void)g, (void)h)
FAULT_NTSTATUS(BCryptHashData, (BCRYPT_HASH_HANDLE a, PUCHAR b, ULONG c,
                                ULONG d),
               (void)a, (void)b, (void)c, (void)d)
FAULT_NTSTATUS(BCryptFinishHash, (BCRYPT_HASH_HANDLE a, PUCHAR b, ULONG c,
                                  ULONG d),
               (void)a, (void)b, (void)c, (void)d)

/* The SHA-256 of "abc" (FIPS 180-2, appendix B.1). */
static const unsigned char abc_digest[32] = {
    0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
    0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
    0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad
};

static void hashes_through_cng(void **state)
{
    fixture *f = *state;
    unsigned char digest[32];
    void *h = NULL;

    /* The backend fills the hash methods: the core never falls back. */
    assert_non_null(f->p->sha256_begin);
    assert_non_null(f->p->sha256_update);
    assert_non_null(f->p->sha256_end);
    assert_int_equal(f->p->sha256_begin(f->p, &h), KSVC_OK);
    assert_int_equal(f->p->sha256_update(h, "a", 1), KSVC_OK);
    assert_int_equal(f->p->sha256_update(h, "bc", 2), KSVC_OK);
    assert_int_equal(f->p->sha256_end(h, digest), KSVC_OK);
    assert_memory_equal(digest, abc_digest, 32);
    /* An abandoned computation is freed without a digest. */
    assert_int_equal(f->p->sha256_begin(f->p, &h), KSVC_OK);
    assert_int_equal(f->p->sha256_update(h, "a", 1), KSVC_OK);
    assert_int_equal(f->p->sha256_end(h, NULL), KSVC_OK);
}

static void cng_failing_changes_nothing(void **state)
{
    static const struct {
        NTSTATUS status;
        int mapped;
    } statuses[] = {
        { (NTSTATUS)0xC0000017L, KSVC_E_NO_MEMORY }, /* STATUS_NO_MEMORY */
        { (NTSTATUS)0xC0000001L, KSVC_E_IO },        /* STATUS_UNSUCCESSFUL */
    };
    static const fault_case cng_cases[] = {
        FAULT(BCryptCreateHash, OP_INSTALL), FAULT(BCryptHashData, OP_INSTALL),
        FAULT(BCryptFinishHash, OP_INSTALL), FAULT(BCryptCreateHash, OP_REPAIR),
        FAULT(BCryptHashData, OP_REPAIR),    FAULT(BCryptFinishHash, OP_REPAIR),
    };
    fixture *f = *state;
    size_t i, e;

    for (i = 0; i < sizeof cng_cases / sizeof cng_cases[0]; i++) {
        for (e = 0; e < sizeof statuses / sizeof statuses[0]; e++) {
            fault_code = (DWORD)statuses[e].status;
            fault_changes_nothing(f, cng_cases[i].call, cng_cases[i].fn,
                                  cng_cases[i].op, statuses[e].mapped);
        }
    }
}

/* The provider is opened at a table's first hash: its failure is reported
 * there, with the NTSTATUS, and the next hash tries again. */
static void cng_provider_failing_is_reported(void **state)
{
    fixture *f = *state;
    ksvc_platform *p = NULL;
    ksvc_win32_options o = KSVC_WIN32_OPTIONS_INIT;
    char what[512];
    long os = 0;
    void *h = NULL;

    (void)f;
    o.tools_path = "cng-tools";
    assert_int_equal(ksvc_win32_open(&p, &o), KSVC_OK);
    fault_code = 0xC0000017L;
    fault_calls = 0;
    assert_int_equal(
        ksvc__win32_syscall_set(
            "BCryptOpenAlgorithmProvider",
            (ksvc__win32_syscall_ptr)fault_BCryptOpenAlgorithmProvider),
        KSVC_OK);
    assert_int_equal(p->sha256_begin(p, &h), KSVC_E_NO_MEMORY);
    assert_int_equal(
        ksvc__win32_syscall_set("BCryptOpenAlgorithmProvider", NULL), KSVC_OK);
    assert_int_equal(fault_calls, 1);
    assert_null(h);
    p->last_error(p, &os, what, sizeof what);
    assert_int_equal((DWORD)os, 0xC0000017UL);
    assert_non_null(strstr(what, "BCryptOpenAlgorithmProvider"));
    assert_int_equal(p->sha256_begin(p, &h), KSVC_OK);
    assert_int_equal(p->sha256_end(h, NULL), KSVC_OK);
    ksvc_win32_free(p);
}

/* ---- one call failing once, anywhere in an update ---- */

/* Each wrapper forwards to the real call, except the @fail_at-th call of
 * the armed function, which fails with ERROR_ACCESS_DENIED. */
static int once_calls, once_fail_at;

static int once_fires(void)
{
    return ++once_calls == once_fail_at;
}

static HANDLE WINAPI once_CreateFileW(LPCWSTR a, DWORD b, DWORD c,
                                      LPSECURITY_ATTRIBUTES d, DWORD e,
                                      DWORD f, HANDLE g)
{
    if (once_fires()) {
        SetLastError(ERROR_ACCESS_DENIED);
        return INVALID_HANDLE_VALUE;
    }
    return CreateFileW(a, b, c, d, e, f, g);
}

static BOOL WINAPI once_WriteFile(HANDLE a, LPCVOID b, DWORD c, LPDWORD d,
                                  LPOVERLAPPED e)
{
    if (once_fires()) {
        SetLastError(ERROR_ACCESS_DENIED);
        return FALSE;
    }
    return WriteFile(a, b, c, d, e);
}

static BOOL WINAPI once_FlushFileBuffers(HANDLE a)
{
    if (once_fires()) {
        SetLastError(ERROR_ACCESS_DENIED);
        return FALSE;
    }
    return FlushFileBuffers(a);
}

static BOOL WINAPI once_MoveFileExW(LPCWSTR a, LPCWSTR b, DWORD c)
{
    if (once_fires()) {
        SetLastError(ERROR_ACCESS_DENIED);
        return FALSE;
    }
    return MoveFileExW(a, b, c);
}

static BOOL WINAPI once_CreateHardLinkW(LPCWSTR a, LPCWSTR b,
                                        LPSECURITY_ATTRIBUTES c)
{
    if (once_fires()) {
        SetLastError(ERROR_ACCESS_DENIED);
        return FALSE;
    }
    return CreateHardLinkW(a, b, c);
}

static LSTATUS WINAPI once_RegSetValueExW(HKEY a, LPCWSTR b, DWORD c, DWORD d,
                                          const BYTE *e, DWORD f)
{
    if (once_fires())
        return ERROR_ACCESS_DENIED;
    return RegSetValueExW(a, b, c, d, e, f);
}

static LSTATUS WINAPI once_RegDeleteValueW(HKEY a, LPCWSTR b)
{
    if (once_fires())
        return ERROR_ACCESS_DENIED;
    return RegDeleteValueW(a, b);
}

static const struct {
    const char *call;
    ksvc__win32_syscall_ptr fn;
} once_calls_armed[] = {
#define ONCE(name) { #name, (ksvc__win32_syscall_ptr)once_##name }
    ONCE(CreateFileW),      ONCE(WriteFile),      ONCE(FlushFileBuffers),
    ONCE(MoveFileExW),      ONCE(CreateHardLinkW), ONCE(RegSetValueExW),
    ONCE(RegDeleteValueW),
#undef ONCE
};

/* A fresh machine in the state the update starts from: A then B, and when
 * @rolled_back rolled back (the update to C then keeps A and clears
 * RollbackKernel; otherwise B becomes the rollback kernel). */
static void fresh_start(fixture *f, int rolled_back)
{
    fresh_machine(f);
    assert_int_equal(install(f->ctx, f->pay_a, A), KSVC_OK);
    assert_int_equal(install(f->ctx, f->pay_b, B), KSVC_OK);
    if (rolled_back)
        assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
}

static int count_name(void *arg, const char *name)
{
    (void)name;
    (*(int *)arg)++;
    return 0;
}

/* After a successful update to C: C in kernel, @rollback kept, both
 * intact, no temporary file left. */
static void assert_updated(fixture *f, const char *rollback)
{
    ksvc_status s = KSVC_STATUS_INIT;
    int names = 0;

    s.flags = KSVC_STATUS_VERIFY;
    assert_int_equal(ksvc_status_get(f->ctx, &s), KSVC_OK);
    assert_string_equal(s.kernel.kernel_version, C);
    assert_string_equal(s.rollback.kernel_version, rollback);
    assert_true(s.kernel.intact && s.rollback.intact);
    assert_false(s.rolled_back);
    assert_int_equal(f->p->list(f->p, count_name, &names), KSVC_OK);
    assert_int_equal(names, 2);
}

static void each_call_failing_once_during_an_update(void **state)
{
    fixture *f = *state;
    size_t i;

    for (i = 0; i < sizeof once_calls_armed / sizeof once_calls_armed[0];
         i++) {
        int rolled_back, used = 0;

        for (rolled_back = 0; rolled_back <= 1; rolled_back++) {
            const char *kept = rolled_back ? A : B;
            int total, k;

            /* Count the calls a clean update makes. */
            fresh_start(f, rolled_back);
            once_calls = 0;
            once_fail_at = -1;
            assert_int_equal(ksvc__win32_syscall_set(once_calls_armed[i].call,
                                                    once_calls_armed[i].fn),
                             KSVC_OK);
            assert_int_equal(install(f->ctx, f->pay_c, C), KSVC_OK);
            total = once_calls;
            assert_int_equal(
                ksvc__win32_syscall_set(once_calls_armed[i].call, NULL),
                KSVC_OK);
            used += total;
            assert_updated(f, kept);

            /* Then fail each of them in turn. */
            for (k = 1; k <= total; k++) {
                char *before, *after;
                int rc;

                fresh_start(f, rolled_back);
                before = test_machine_snapshot(f->m);
                once_calls = 0;
                once_fail_at = k;
                assert_int_equal(
                    ksvc__win32_syscall_set(once_calls_armed[i].call,
                                           once_calls_armed[i].fn),
                    KSVC_OK);
                rc = install(f->ctx, f->pay_c, C);
                assert_int_equal(
                    ksvc__win32_syscall_set(once_calls_armed[i].call, NULL),
                    KSVC_OK);
                if (rc != KSVC_OK && rc != KSVC_E_ACCESS)
                    fprintf(stderr, "%s call %d of %d failing: %s (%s)\n",
                            once_calls_armed[i].call, k, total,
                            ksvc_error_name(rc), ksvc_error_detail(f->ctx));
                after = test_machine_snapshot(f->m);
                if (rc == KSVC_OK) {
                    assert_updated(f, kept); /* the call had a fallback */
                } else {
                    assert_int_equal(rc, KSVC_E_ACCESS);
                    if (strcmp(before, after) != 0) {
                        /* Not the state before: then the whole update,
                         * never a mix (the core rolls an update forward
                         * once its renames are done, even when it then
                         * reports the failure). */
                        fprintf(stderr,
                                "note: %s call %d of %d failing: %s, yet "
                                "the update was carried out\n",
                                once_calls_armed[i].call, k, total,
                                ksvc_error_name(rc));
                        assert_updated(f, kept);
                    }
                }
                free(after);
                free(before);
            }
        }
        assert_true(used > 0); /* every armed call takes part in updates */
    }
}

/* ---- a standard user ---- */

static BOOL WINAPI standard_user_token(HANDLE token, TOKEN_INFORMATION_CLASS cls,
                                       LPVOID info, DWORD size, PDWORD got)
{
    if (cls == TokenElevation && size >= sizeof(TOKEN_ELEVATION)) {
        ((TOKEN_ELEVATION *)info)->TokenIsElevated = 0;
        if (got != NULL)
            *got = sizeof(TOKEN_ELEVATION);
        return TRUE;
    }
    return GetTokenInformation(token, cls, info, size, got);
}

static void standard_user_refused(void **state)
{
    fixture *f = *state;
    ksvc_status s = KSVC_STATUS_INIT;
    char *before, *after;
    int elevated = -1;

    assert_int_equal(install(f->ctx, f->pay_a, A), KSVC_OK);
    assert_int_equal(install(f->ctx, f->pay_b, B), KSVC_OK);
    assert_int_equal(
        ksvc__win32_syscall_set("GetTokenInformation",
                               (ksvc__win32_syscall_ptr)standard_user_token),
        KSVC_OK);
    assert_int_equal(f->p->elevated(f->p, &elevated), KSVC_OK);
    assert_int_equal(elevated, 0);
    before = test_machine_snapshot(f->m);
    assert_int_equal(install(f->ctx, f->pay_c, C), KSVC_E_NOT_ELEVATED);
    assert_int_equal(ksvc_rollback(f->ctx), KSVC_E_NOT_ELEVATED);
    assert_int_equal(ksvc_repair(f->ctx), KSVC_E_NOT_ELEVATED);
    /* Reading is open to everyone. */
    assert_int_equal(ksvc_status_get(f->ctx, &s), KSVC_OK);
    assert_string_equal(s.kernel.kernel_version, B);
    after = test_machine_snapshot(f->m);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

/* ---- long and non-ASCII paths ---- */

/* Make @utf8 (under the scratch folder) and return the backend over it. */
static ksvc_platform *platform_at(fixture *f, const char *sub, char *tools,
                                  size_t room)
{
    ksvc_win32_options o = KSVC_WIN32_OPTIONS_INIT;
    ksvc_platform *p = NULL;

    snprintf(tools, room, "%s\\%s", test_machine_scratch(f->m), sub);
    o.tools_path = tools;
    assert_int_equal(ksvc_win32_open(&p, &o), KSVC_OK);
    return p;
}

/* Run the worked example on @p: A, B, rollback, C. */
static void worked_example_on(ksvc_platform *p, fixture *f, const char *pay_c)
{
    ksvc_context *ctx = NULL;
    ksvc_status s = KSVC_STATUS_INIT;
    char boot[40000];
    char expected[40000];

    assert_int_equal(ksvc_open(&ctx, p, NULL), KSVC_OK);
    assert_int_equal(install(ctx, f->pay_a, A), KSVC_OK);
    assert_int_equal(install(ctx, f->pay_b, B), KSVC_OK);
    assert_int_equal(ksvc_rollback(ctx), KSVC_OK);
    assert_int_equal(ksvc_boot_path(ctx, boot, sizeof boot), KSVC_OK);
    assert_int_equal(p->full_path(p, "kernel.rollback", expected,
                                  sizeof expected),
                     KSVC_OK);
    assert_string_equal(boot, expected);
    assert_int_equal(install(ctx, pay_c, C), KSVC_OK);
    s.flags = KSVC_STATUS_VERIFY;
    assert_int_equal(ksvc_status_get(ctx, &s), KSVC_OK);
    assert_string_equal(s.kernel.kernel_version, C);
    assert_string_equal(s.rollback.kernel_version, A);
    assert_true(s.kernel.intact && s.rollback.intact);
    assert_int_equal(ksvc_boot_path(ctx, boot, sizeof boot), KSVC_OK);
    assert_int_equal(p->full_path(p, "kernel", expected, sizeof expected),
                     KSVC_OK);
    assert_string_equal(boot, expected);
    ksvc_close(ctx);
    assert_lxss_value("KernelVersion", C);
}

static void file_exists_wide(const char *utf8)
{
    wchar_t wide[40000];
    wcscpy(wide, L"\\\\?\\");
    test_wide_from_utf8(utf8, wide + 4, sizeof wide / sizeof wide[0] - 4);
    assert_true(GetFileAttributesW(wide) != INVALID_FILE_ATTRIBUTES);
}

/* Create the folder @utf8 and its missing parents. */
static void make_folder_chain(const char *utf8)
{
    wchar_t path[40000];
    size_t i;

    wcscpy(path, L"\\\\?\\");
    test_wide_from_utf8(utf8, path + 4, sizeof path / sizeof path[0] - 4);
    for (i = 7; path[i] != 0; i++) {
        if (path[i] == L'\\') {
            path[i] = 0;
            CreateDirectoryW(path, NULL);
            path[i] = L'\\';
        }
    }
    assert_true(CreateDirectoryW(path, NULL) ||
                GetLastError() == ERROR_ALREADY_EXISTS);
}

static void copy_file(const char *from, const char *to)
{
    wchar_t wfrom[40000], wto[40000];

    wcscpy(wfrom, L"\\\\?\\");
    wcscpy(wto, L"\\\\?\\");
    test_wide_from_utf8(from, wfrom + 4, 40000 - 4);
    test_wide_from_utf8(to, wto + 4, 40000 - 4);
    assert_true(CopyFileW(wfrom, wto, FALSE));
}

static void paths_beyond_max_path(void **state)
{
    fixture *f = *state;
    static char base[40000], sub[2000], tools[40000], path[40000],
        payload_c[40000];
    const char *segment = "a-rather-long-folder-name-to-pass-max-path-0123456789";
    ksvc_platform *p;
    size_t i;

    sub[0] = 0;
    for (i = 0; i < 6; i++) {
        strcat(sub, segment);
        strcat(sub, i < 5 ? "\\" : "");
    }
    /* The payload beyond MAX_PATH too. */
    snprintf(base, sizeof base, "%s\\%s", test_machine_scratch(f->m), sub);
    make_folder_chain(base);
    snprintf(payload_c, sizeof payload_c, "%s\\payload-C", base);
    copy_file(f->pay_c, payload_c);
    assert_true(strlen(payload_c) > MAX_PATH);

    /* The tools folder does not exist yet: the first install makes it. */
    strcat(sub, "\\tools");
    p = platform_at(f, sub, tools, sizeof tools);
    assert_true(strlen(tools) > MAX_PATH);
    worked_example_on(p, f, payload_c);
    snprintf(path, sizeof path, "%s\\kernel", tools);
    file_exists_wide(path);
    snprintf(path, sizeof path, "%s\\kernel.rollback", tools);
    file_exists_wide(path);
    /* A path beyond MAX_PATH is handed out in the form that opens it. */
    assert_int_equal(p->full_path(p, "kernel", path, sizeof path), KSVC_OK);
    assert_memory_equal(path, "\\\\?\\", 4);
    assert_memory_equal(path + 4, tools, strlen(tools));
    assert_string_equal(path + 4 + strlen(tools), "\\kernel");
    ksvc_win32_free(p);
}

static void non_ascii_paths(void **state)
{
    fixture *f = *state;
    /* Spanish, German, Japanese, Greek and a character beyond the BMP. */
    const char *sub = "se\xc3\xb1or\\M\xc3\xbcnchen\\\xe6\x97\xa5\xe6\x9c\xac"
                      "\\\xce\xb1\xce\xb2\xce\xb3-\xf0\x9f\x90\xa7\\tools";
    char tools[4096], path[4096], payload_c[4096];
    ksvc_platform *p = platform_at(f, sub, tools, sizeof tools);

    /* A payload with a non-ASCII name too. */
    snprintf(payload_c, sizeof payload_c, "%s\\n\xc3\xba\xc3\xb1\xc3\xa9z-C",
             test_machine_scratch(f->m));
    copy_file(f->pay_c, payload_c);
    worked_example_on(p, f, payload_c);
    assert_int_equal(p->full_path(p, "kernel", path, sizeof path), KSVC_OK);
    snprintf(tools + strlen(tools), sizeof tools - strlen(tools), "\\kernel");
    assert_string_equal(path, tools);
    file_exists_wide(path);
    ksvc_win32_free(p);
}

/* ---- reparse points ---- */

/* Make @path a junction to @target.  Returns 0, or -1 where the file system
 * (or Wine) cannot make one. */
static int make_junction(const wchar_t *path, const wchar_t *target)
{
    struct {
        DWORD tag;
        WORD length, reserved;
        WORD sub_offset, sub_length, print_offset, print_length;
        WCHAR buffer[1024];
    } rp;
    wchar_t sub[1024];
    DWORD got = 0;
    WORD sub_bytes;
    HANDLE h;
    BOOL ok;

    if (!CreateDirectoryW(path, NULL))
        return -1;
    swprintf(sub, 1024, L"\\??\\%ls", target);
    sub_bytes = (WORD)(wcslen(sub) * sizeof(wchar_t));
    memset(&rp, 0, sizeof rp);
    rp.tag = IO_REPARSE_TAG_MOUNT_POINT;
    rp.sub_offset = 0;
    rp.sub_length = sub_bytes;
    rp.print_offset = (WORD)(sub_bytes + sizeof(wchar_t));
    rp.print_length = 0;
    memcpy(rp.buffer, sub, sub_bytes);
    rp.length = (WORD)(8 + sub_bytes + 2 * sizeof(wchar_t));
    h = CreateFileW(path, GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
                    FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS,
                    NULL);
    if (h == INVALID_HANDLE_VALUE) {
        RemoveDirectoryW(path);
        return -1;
    }
    ok = DeviceIoControl(h, FSCTL_SET_REPARSE_POINT, &rp, 8 + rp.length, NULL,
                         0, &got, NULL);
    CloseHandle(h);
    if (!ok) {
        RemoveDirectoryW(path);
        return -1;
    }
    return 0;
}

/* Where Wine cannot make a reparse point (CreateSymbolicLinkW is a stub and
 * FSCTL_SET_REPARSE_POINT unsupported in Wine 8), the OS's answer for the
 * planted name is simulated: GetFileInformationByHandle reports the
 * reparse-point attribute for it, as Windows does for a link opened with
 * FILE_FLAG_OPEN_REPARSE_POINT. */
static wchar_t planted_suffix[MAX_PATH];

static BOOL WINAPI info_with_planted_link(HANDLE h,
                                          LPBY_HANDLE_FILE_INFORMATION info)
{
    wchar_t name[40000];
    DWORD len;

    if (!GetFileInformationByHandle(h, info))
        return FALSE;
    len = GetFinalPathNameByHandleW(h, name, 40000, 0);
    if (len > 0 && len < 40000) {
        size_t sl = wcslen(planted_suffix);
        if (len >= sl && _wcsicmp(name + len - sl, planted_suffix) == 0)
            info->dwFileAttributes |= FILE_ATTRIBUTE_REPARSE_POINT;
    }
    return TRUE;
}

/* Plant a link to a kernel outside the tools folder under @name: a real
 * junction where the OS can make one, else a simulated one. */
static int plant_link(fixture *f, const char *name, const wchar_t *target)
{
    wchar_t tools[MAX_PATH + 64], path[MAX_PATH * 2], wname[64];
    HANDLE h;

    test_machine_tools_path(f->m, tools, MAX_PATH + 64);
    test_wide_from_utf8(name, wname, 64);
    swprintf(path, MAX_PATH * 2, L"%ls\\%ls", tools, wname);
    if (make_junction(path, target) == 0)
        return 1;
    h = CreateFileW(path, GENERIC_WRITE, 0, NULL, CREATE_NEW, 0, NULL);
    assert_true(h != INVALID_HANDLE_VALUE);
    CloseHandle(h);
    swprintf(planted_suffix, MAX_PATH, L"\\%ls", wname);
    assert_int_equal(
        ksvc__win32_syscall_set("GetFileInformationByHandle",
                               (ksvc__win32_syscall_ptr)info_with_planted_link),
        KSVC_OK);
    return 0;
}

static void reparse_point_in_tools_refused(void **state)
{
    fixture *f = *state;
    wchar_t target[MAX_PATH * 2];
    ksvc_file_info info;
    ksvc_file *file = NULL;
    char *before, *after;

    assert_int_equal(install(f->ctx, f->pay_a, A), KSVC_OK);
    test_wide_from_utf8(test_machine_scratch(f->m), target, MAX_PATH * 2);
    plant_link(f, "kernel.rollback", target);

    assert_int_equal(f->p->stat(f->p, "kernel.rollback", &info), KSVC_OK);
    assert_int_equal(info.kind, KSVC_FILE_OTHER);
    assert_int_equal(f->p->file_open(f->p, "kernel.rollback", KSVC_OPEN_READ,
                                     &file),
                     KSVC_E_UNSAFE_PATH);
    assert_null(file);
    assert_int_equal(f->p->rename(f->p, "kernel", "kernel.rollback"),
                     KSVC_E_UNSAFE_PATH);
    assert_int_equal(f->p->remove(f->p, "kernel.rollback"),
                     KSVC_E_UNSAFE_PATH);

    /* Through the library: an update that would replace it is refused and
     * changes nothing. */
    before = test_machine_snapshot(f->m);
    assert_int_equal(install(f->ctx, f->pay_b, B), KSVC_E_UNSAFE_PATH);
    after = test_machine_snapshot(f->m);
    assert_string_equal(before, after);
    free(before);
    free(after);
    assert_lxss_value("KernelVersion", A);
}

static void folder_planted_as_kernel_refused(void **state)
{
    fixture *f = *state;
    wchar_t tools[MAX_PATH + 64], path[MAX_PATH * 2];
    ksvc_file_info info;
    ksvc_file *file = NULL;
    char *before, *after;

    assert_int_equal(install(f->ctx, f->pay_a, A), KSVC_OK);
    test_machine_tools_path(f->m, tools, MAX_PATH + 64);
    swprintf(path, MAX_PATH * 2, L"%ls\\kernel.rollback", tools);
    assert_true(CreateDirectoryW(path, NULL));
    assert_int_equal(f->p->stat(f->p, "kernel.rollback", &info), KSVC_OK);
    assert_int_equal(info.kind, KSVC_FILE_OTHER);
    assert_int_equal(f->p->file_open(f->p, "kernel.rollback",
                                     KSVC_OPEN_CREATE_NEW, &file),
                     KSVC_E_UNSAFE_PATH);
    before = test_machine_snapshot(f->m);
    assert_int_not_equal(install(f->ctx, f->pay_b, B), KSVC_OK);
    after = test_machine_snapshot(f->m);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

static void tools_folder_that_is_a_link_refused(void **state)
{
    fixture *f = *state;
    ksvc_win32_options o = KSVC_WIN32_OPTIONS_INIT;
    ksvc_platform *p = NULL;
    char link[4096];
    wchar_t wlink[4096], target[4096];

    snprintf(link, sizeof link, "%s\\tools-link", test_machine_scratch(f->m));
    test_wide_from_utf8(link, wlink, 4096);
    test_wide_from_utf8(test_machine_scratch(f->m), target, 4096);
    if (make_junction(wlink, target) != 0) {
        /* Wine: a folder that the OS reports as a reparse point. */
        assert_true(CreateDirectoryW(wlink, NULL));
        swprintf(planted_suffix, MAX_PATH, L"\\tools-link");
        assert_int_equal(
            ksvc__win32_syscall_set("GetFileInformationByHandle",
                                   (ksvc__win32_syscall_ptr)
                                       info_with_planted_link),
            KSVC_OK);
    }
    o.tools_path = link;
    assert_int_equal(ksvc_win32_open(&p, &o), KSVC_E_UNSAFE_PATH);
    assert_null(p);
}

static void two_tables_exclude_each_other(void **state)
{
    fixture *f = *state;
    ksvc_platform *other = NULL;

    assert_int_equal(ksvc_win32_open(&other, NULL), KSVC_OK);
    assert_int_equal(f->p->lock(f->p, 0), KSVC_OK);
    assert_int_equal(other->lock(other, 50), KSVC_E_BUSY);
    assert_int_equal(f->p->unlock(f->p), KSVC_OK);
    assert_int_equal(other->lock(other, 50), KSVC_OK);
    assert_int_equal(other->unlock(other), KSVC_OK);
    ksvc_win32_free(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(default_locations, setup, teardown),
        cmocka_unit_test_setup_teardown(machine_facts_from_the_os, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(elevation_falls_back_to_administrators,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(call_table_walk_and_restore, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(wow64_process_goes_through_sysnative,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(registry_root_moves_every_key, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(registry_reads_check_type_and_length,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(registry_list_reports_unreadable_values,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(registry_writes_are_all_or_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(each_call_failing_changes_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(hashes_through_cng, setup, teardown),
        cmocka_unit_test_setup_teardown(cng_failing_changes_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(cng_provider_failing_is_reported,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(each_call_failing_once_during_an_update,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(standard_user_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(paths_beyond_max_path, setup, teardown),
        cmocka_unit_test_setup_teardown(non_ascii_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(reparse_point_in_tools_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(folder_planted_as_kernel_refused,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(tools_folder_that_is_a_link_refused,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(two_tables_exclude_each_other, setup,
                                        teardown),
    };
    if (getenv("KSVC_TEST_FILTER") != NULL)
        cmocka_set_test_filter(getenv("KSVC_TEST_FILTER"));
    return cmocka_run_group_tests_name("win32", tests, NULL, NULL);
}
