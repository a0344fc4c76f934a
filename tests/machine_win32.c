/*
 * tests/machine.h over the Win32 backend: the machine is the Windows this
 * test runs on (under Wine, the run's own WINEPREFIX), serviced through
 * ksvc_win32_open() with its defaults, so the real registry and the real
 * C:\windows\system32\lxss\tools.  Each test_machine_new() resets both: the
 * tools folder emptied, the Lxss key emptied, the suites' own keys
 * (HKLM\SOFTWARE\KService*) deleted, the machine facts written where
 * Windows keeps them.  Facts that only the operating system can answer
 * (a standard user's token, an arm64 processor) are simulated through the
 * backend's Win32 call table.
 *
 * One machine at a time, and one test program at a time per prefix: the
 * machine is the whole (simulated) computer.
 */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include <cmocka.h>

#include <kservice/win32.h>

#include "machine.h"
#include "machine_win32.h"
#include "../platform/win32/syscalls.h"

#define LXSS_KEY L"SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Lxss"
#define NT_VERSION_KEY L"SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion"
#define LXSS_MANAGER_KEY L"SYSTEM\\CurrentControlSet\\Services\\LxssManager"
#define REBOOT_PENDING_KEY                                                   \
    L"SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Component Based "        \
    L"Servicing\\RebootPending"
#define ENVIRONMENT_KEY                                                      \
    L"SYSTEM\\CurrentControlSet\\Control\\Session Manager\\Environment"

struct test_machine {
    ksvc_platform *platform;
    wchar_t tools[MAX_PATH + 32];     /* \\?\C:\windows\system32\lxss\tools */
    wchar_t scratch[MAX_PATH + 64];   /* \\?\ path of the scratch folder */
    char scratch_utf8[MAX_PATH * 3];  /* the same as the tests write it */
    char **payloads;                  /* paths handed out, freed with us */
    size_t payload_count;
};

/* ---- simulated answers through the call table ---- */

static int simulated_elevated = 1;
static USHORT simulated_native = IMAGE_FILE_MACHINE_AMD64;

static BOOL WINAPI token_information_as_simulated(HANDLE token,
                                                  TOKEN_INFORMATION_CLASS cls,
                                                  LPVOID info, DWORD size,
                                                  PDWORD got)
{
    if (cls == TokenElevation && info != NULL &&
        size >= sizeof(TOKEN_ELEVATION)) {
        ((TOKEN_ELEVATION *)info)->TokenIsElevated = (DWORD)simulated_elevated;
        if (got != NULL)
            *got = sizeof(TOKEN_ELEVATION);
        return TRUE;
    }
    return GetTokenInformation(token, cls, info, size, got);
}

static BOOL WINAPI wow64_as_simulated(HANDLE process, USHORT *process_machine,
                                      USHORT *native_machine)
{
    (void)process;
    if (process_machine != NULL)
        *process_machine = IMAGE_FILE_MACHINE_UNKNOWN;
    if (native_machine != NULL)
        *native_machine = simulated_native;
    return TRUE;
}

void test_machine_set_elevated(test_machine *m, int elevated)
{
    (void)m;
    simulated_elevated = elevated != 0;
    /* An administrator is what the prefix's own token says; only a
     * standard user needs simulating. */
    assert_int_equal(
        ksvc__win32_syscall_set("GetTokenInformation",
                               elevated ? NULL
                                        : (ksvc__win32_syscall_ptr)
                                              token_information_as_simulated),
        KSVC_OK);
}

/* ---- small helpers over the real Win32 API ---- */

static void die_win32(const char *what, DWORD err)
{
    print_error("machine_win32: %s failed: Win32 error %lu\n", what,
                (unsigned long)err);
    fail();
}

void test_wide_from_utf8(const char *text, wchar_t *out, size_t room)
{
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, text, -1, out,
                                (int)room);
    if (n <= 0)
        die_win32("MultiByteToWideChar", GetLastError());
}

void test_utf8_from_wide(const wchar_t *text, char *out, size_t room)
{
    int n = WideCharToMultiByte(CP_UTF8, 0, text, -1, out, (int)room, NULL,
                                NULL);
    if (n <= 0)
        die_win32("WideCharToMultiByte", GetLastError());
}

static void make_folders(wchar_t *path);
static void delete_key_tree(const wchar_t *key);

/* Remove @path and everything below it; a link is removed, never followed. */
void test_remove_tree(const wchar_t *path)
{
    DWORD attrs = GetFileAttributesW(path);
    WIN32_FIND_DATAW fd;
    wchar_t *pattern, *child;
    size_t len = wcslen(path);
    HANDLE find;

    if (attrs == INVALID_FILE_ATTRIBUTES)
        return;
    if (attrs & FILE_ATTRIBUTE_READONLY)
        SetFileAttributesW(path, attrs & ~(DWORD)FILE_ATTRIBUTE_READONLY);
    if (!(attrs & FILE_ATTRIBUTE_DIRECTORY)) {
        if (!DeleteFileW(path))
            die_win32("DeleteFileW", GetLastError());
        return;
    }
    if (!(attrs & FILE_ATTRIBUTE_REPARSE_POINT)) {
        pattern = malloc((len + 3) * sizeof *pattern);
        assert_non_null(pattern);
        swprintf(pattern, len + 3, L"%ls\\*", path);
        find = FindFirstFileW(pattern, &fd);
        free(pattern);
        if (find != INVALID_HANDLE_VALUE) {
            do {
                if (wcscmp(fd.cFileName, L".") == 0 ||
                    wcscmp(fd.cFileName, L"..") == 0)
                    continue;
                child = malloc((len + wcslen(fd.cFileName) + 2) * sizeof *child);
                assert_non_null(child);
                swprintf(child, len + wcslen(fd.cFileName) + 2, L"%ls\\%ls",
                         path, fd.cFileName);
                test_remove_tree(child);
                free(child);
            } while (FindNextFileW(find, &fd));
            FindClose(find);
        }
    }
    if (!RemoveDirectoryW(path))
        die_win32("RemoveDirectoryW", GetLastError());
}

/* Empty the folder @path, keeping the folder itself (a table of another
 * machine may hold it open); anything but a real folder there is removed
 * and a folder made in its place. */
static void empty_folder(wchar_t *path)
{
    DWORD attrs = GetFileAttributesW(path);
    WIN32_FIND_DATAW fd;
    wchar_t pattern[MAX_PATH * 2], child[MAX_PATH * 2];
    HANDLE find;

    if (attrs != INVALID_FILE_ATTRIBUTES &&
        (!(attrs & FILE_ATTRIBUTE_DIRECTORY) ||
         (attrs & FILE_ATTRIBUTE_REPARSE_POINT)))
        test_remove_tree(path);
    make_folders(path);
    swprintf(pattern, MAX_PATH * 2, L"%ls\\*", path);
    find = FindFirstFileW(pattern, &fd);
    if (find == INVALID_HANDLE_VALUE)
        return;
    do {
        if (wcscmp(fd.cFileName, L".") == 0 || wcscmp(fd.cFileName, L"..") == 0)
            continue;
        swprintf(child, MAX_PATH * 2, L"%ls\\%ls", path, fd.cFileName);
        test_remove_tree(child);
    } while (FindNextFileW(find, &fd));
    FindClose(find);
}

/* Keys the suites make for their own use: HKLM\SOFTWARE\KService*. */
static void delete_test_keys(void)
{
    wchar_t name[256], key[300];
    DWORD index = 0, len;
    HKEY software;
    LSTATUS st = RegOpenKeyExW(HKEY_LOCAL_MACHINE, L"SOFTWARE", 0,
                               KEY_READ | KEY_WOW64_64KEY, &software);

    if (st != ERROR_SUCCESS)
        die_win32("RegOpenKeyExW SOFTWARE", (DWORD)st);
    for (;;) {
        len = 256;
        st = RegEnumKeyExW(software, index, name, &len, NULL, NULL, NULL, NULL);
        if (st != ERROR_SUCCESS)
            break;
        if (_wcsnicmp(name, L"KService", 8) == 0) {
            swprintf(key, 300, L"SOFTWARE\\%ls", name);
            delete_key_tree(key);
            continue; /* the next key now has this index */
        }
        index++;
    }
    RegCloseKey(software);
}

static void make_folders(wchar_t *path)
{
    wchar_t *sep;

    if (CreateDirectoryW(path, NULL) || GetLastError() == ERROR_ALREADY_EXISTS)
        return;
    sep = wcsrchr(path, L'\\');
    assert_non_null(sep);
    *sep = 0;
    make_folders(path);
    *sep = L'\\';
    if (!CreateDirectoryW(path, NULL) && GetLastError() != ERROR_ALREADY_EXISTS)
        die_win32("CreateDirectoryW", GetLastError());
}

static HKEY create_key(const wchar_t *key)
{
    HKEY h;
    LSTATUS st = RegCreateKeyExW(HKEY_LOCAL_MACHINE, key, 0, NULL, 0,
                                 KEY_ALL_ACCESS | KEY_WOW64_64KEY, NULL, &h,
                                 NULL);
    if (st != ERROR_SUCCESS)
        die_win32("RegCreateKeyExW", (DWORD)st);
    return h;
}

static void delete_key_tree(const wchar_t *key)
{
    HKEY h;
    LSTATUS st = RegOpenKeyExW(HKEY_LOCAL_MACHINE, key, 0,
                               KEY_ALL_ACCESS | KEY_WOW64_64KEY, &h);
    if (st == ERROR_FILE_NOT_FOUND)
        return;
    if (st != ERROR_SUCCESS)
        die_win32("RegOpenKeyExW", (DWORD)st);
    st = RegDeleteTreeW(h, NULL);
    RegCloseKey(h);
    if (st != ERROR_SUCCESS)
        die_win32("RegDeleteTreeW", (DWORD)st);
    st = RegDeleteKeyExW(HKEY_LOCAL_MACHINE, key, KEY_WOW64_64KEY, 0);
    if (st != ERROR_SUCCESS && st != ERROR_FILE_NOT_FOUND)
        die_win32("RegDeleteKeyExW", (DWORD)st);
}

static void set_string(HKEY h, const wchar_t *name, const wchar_t *value)
{
    LSTATUS st = RegSetValueExW(h, name, 0, REG_SZ, (const BYTE *)value,
                                (DWORD)((wcslen(value) + 1) * sizeof *value));
    if (st != ERROR_SUCCESS)
        die_win32("RegSetValueExW", (DWORD)st);
}

static void set_dword(HKEY h, const wchar_t *name, DWORD value)
{
    LSTATUS st = RegSetValueExW(h, name, 0, REG_DWORD, (const BYTE *)&value,
                                sizeof value);
    if (st != ERROR_SUCCESS)
        die_win32("RegSetValueExW", (DWORD)st);
}

/* Write the facts where Windows keeps them, as `reg add` would. */
static void write_facts(const ksvc_mock_machine *facts)
{
    wchar_t text[32];
    HKEY h;

    h = create_key(NT_VERSION_KEY);
    swprintf(text, 32, L"%lu", (unsigned long)facts->os_build);
    set_string(h, L"CurrentBuildNumber", text);
    set_string(h, L"CurrentBuild", text);
    set_dword(h, L"UBR", facts->os_ubr);
    RegCloseKey(h);

    if (facts->wsl_enabled) {
        h = create_key(LXSS_MANAGER_KEY);
        set_dword(h, L"Start", 3);
        RegCloseKey(h);
    } else {
        delete_key_tree(LXSS_MANAGER_KEY);
    }
    if (facts->reboot_pending)
        RegCloseKey(create_key(REBOOT_PENDING_KEY));
    else
        delete_key_tree(REBOOT_PENDING_KEY);

    h = create_key(ENVIRONMENT_KEY);
    set_string(h, L"PROCESSOR_ARCHITECTURE",
               facts->arch == KSVC_ARCH_ARM64 ? L"ARM64"
               : facts->arch == KSVC_ARCH_X64 ? L"AMD64"
                                              : L"x86");
    RegCloseKey(h);

    /* The processor is the OS's answer: x64 is what Wine says; anything
     * else is simulated through the call table. */
    simulated_native = facts->arch == KSVC_ARCH_ARM64 ? IMAGE_FILE_MACHINE_ARM64
                       : facts->arch == KSVC_ARCH_X64 ? IMAGE_FILE_MACHINE_AMD64
                                                      : IMAGE_FILE_MACHINE_I386;
    assert_int_equal(
        ksvc__win32_syscall_set("IsWow64Process2",
                               facts->arch == KSVC_ARCH_X64
                                   ? NULL
                                   : (ksvc__win32_syscall_ptr)wow64_as_simulated),
        KSVC_OK);
}

void test_machine_tools_path(test_machine *m, wchar_t *out, size_t room)
{
    swprintf(out, room, L"%ls", m->tools);
}

/* ---- the machine ---- */

static unsigned machine_serial;

test_machine *test_machine_new(const ksvc_mock_machine *facts)
{
    ksvc_mock_machine defaults = KSVC_MOCK_MACHINE_INIT;
    test_machine *m = calloc(1, sizeof *m);
    wchar_t system_dir[MAX_PATH + 1], temp[MAX_PATH + 1];
    UINT n;
    HKEY h;

    assert_non_null(m);
    if (facts == NULL)
        facts = &defaults;
    ksvc__win32_syscall_set(NULL, NULL);
    simulated_elevated = 1;

    n = GetSystemDirectoryW(system_dir, MAX_PATH + 1);
    assert_true(n > 0 && n <= MAX_PATH);
    swprintf(m->tools, sizeof m->tools / sizeof m->tools[0],
             L"\\\\?\\%ls\\lxss\\tools", system_dir);
    empty_folder(m->tools);

    delete_test_keys();
    delete_key_tree(LXSS_KEY);
    h = create_key(LXSS_KEY); /* WSL's own key, with no servicing values */
    RegCloseKey(h);
    write_facts(facts);

    n = GetTempPathW(MAX_PATH + 1, temp);
    assert_true(n > 0 && n <= MAX_PATH);
    swprintf(m->scratch, sizeof m->scratch / sizeof m->scratch[0],
             L"\\\\?\\%lsksvc-machine-%lu-%u", temp,
             (unsigned long)GetCurrentProcessId(), machine_serial++);
    test_remove_tree(m->scratch);
    make_folders(m->scratch);
    test_utf8_from_wide(m->scratch + 4, m->scratch_utf8, sizeof m->scratch_utf8);

    assert_int_equal(ksvc_win32_open(&m->platform, NULL), KSVC_OK);
    return m;
}

void test_machine_free(test_machine *m)
{
    size_t i;

    if (m == NULL)
        return;
    m->platform->destroy(m->platform);
    ksvc__win32_syscall_set(NULL, NULL);
    simulated_elevated = 1;
    test_remove_tree(m->scratch);
    for (i = 0; i < m->payload_count; i++)
        free(m->payloads[i]);
    free(m->payloads);
    free(m);
}

ksvc_platform *test_machine_platform(test_machine *m)
{
    return m->platform;
}

ksvc_platform *test_machine_platform_open(test_machine *m)
{
    ksvc_platform *p = NULL;
    int rc;

    (void)m;
    rc = ksvc_win32_open(&p, NULL);
    if (rc != KSVC_OK)
        fail_msg("ksvc_win32_open: %s", ksvc_error_name(rc));
    return p;
}

void test_machine_platform_close(ksvc_platform *p)
{
    p->destroy(p);
}

const char *test_machine_scratch(test_machine *m)
{
    return m->scratch_utf8;
}

/* libkservice installs kernel images only: give a payload the header of
 * one for the simulated architecture (an x86-64 bzImage setup header, or
 * the arm64 Image magic), naming no version, so the version given to
 * install is the one that counts.  A payload too small to hold a setup
 * header is left as it is (and refused as not a kernel). */
static void stamp_kernel_header(unsigned char *head, size_t size)
{
    if (size < 2048)
        return;
    if (simulated_native == IMAGE_FILE_MACHINE_ARM64) {
        memcpy(head + 0x38, "ARM\x64", 4);
        return;
    }
    head[0x1F1] = 3;                 /* setup_sects: 2048 bytes */
    memset(head + 0x1F4, 0, 4);      /* syssize: not stated */
    head[0x1FE] = 0x55;              /* boot flag 0xAA55 */
    head[0x1FF] = 0xAA;
    memcpy(head + 0x202, "HdrS", 4); /* magic */
    head[0x206] = 0x0F;              /* boot protocol 2.15 */
    head[0x207] = 0x02;
    head[0x20E] = head[0x20F] = 0;   /* no kernel_version string */
    head[0x236] = 1;                 /* xloadflags: 64-bit kernel */
    head[0x237] = 0;
}

const char *test_machine_payload(test_machine *m, const char *label,
                                 unsigned seed, size_t size)
{
    char path[sizeof m->scratch_utf8 + 64];
    wchar_t wpath[MAX_PATH * 2];
    unsigned char *bytes = malloc(size > 0 ? size : 1);
    uint32_t x = seed * 2654435761u + 1u;
    char **grown, *copy;
    DWORD wrote = 0;
    HANDLE h;
    size_t i;

    assert_non_null(bytes);
    for (i = 0; i < size; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        bytes[i] = (unsigned char)(x >> 24);
    }
    stamp_kernel_header(bytes, size);
    snprintf(path, sizeof path, "%s\\payload-%s", m->scratch_utf8, label);
    test_wide_from_utf8(path, wpath + 4, sizeof wpath / sizeof wpath[0] - 4);
    memcpy(wpath, L"\\\\?\\", 4 * sizeof(wchar_t));
    h = CreateFileW(wpath, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS,
                    FILE_ATTRIBUTE_NORMAL, NULL);
    if (h == INVALID_HANDLE_VALUE)
        die_win32("CreateFileW payload", GetLastError());
    if (size > 0 && (!WriteFile(h, bytes, (DWORD)size, &wrote, NULL) ||
                     wrote != size))
        die_win32("WriteFile payload", GetLastError());
    CloseHandle(h);
    free(bytes);

    copy = malloc(strlen(path) + 1);
    grown = realloc(m->payloads, (m->payload_count + 1) * sizeof *grown);
    assert_non_null(copy);
    assert_non_null(grown);
    strcpy(copy, path);
    m->payloads = grown;
    m->payloads[m->payload_count++] = copy;
    return copy;
}

int test_machine_delete_value_by_hand(test_machine *m, const char *name)
{
    wchar_t wname[256];
    LSTATUS st;

    (void)m;
    test_wide_from_utf8(name, wname, 256);
    st = RegDeleteKeyValueW(HKEY_LOCAL_MACHINE, LXSS_KEY, wname);
    if (st == ERROR_FILE_NOT_FOUND)
        return -1;
    if (st != ERROR_SUCCESS)
        die_win32("RegDeleteKeyValueW", (DWORD)st);
    return 0;
}

static void slot_path(test_machine *m, const char *name, wchar_t *out,
                      size_t room)
{
    wchar_t wname[256];
    test_wide_from_utf8(name, wname, 256);
    swprintf(out, room, L"%ls\\%ls", m->tools, wname);
}

void test_machine_remove_file_by_hand(test_machine *m, const char *name)
{
    wchar_t path[MAX_PATH * 2];
    slot_path(m, name, path, sizeof path / sizeof path[0]);
    if (!DeleteFileW(path))
        die_win32("DeleteFileW", GetLastError());
}

void test_machine_remove_tools_by_hand(test_machine *m)
{
    m->platform->destroy(m->platform); /* it holds the folder open */
    if (!RemoveDirectoryW(m->tools))
        die_win32("RemoveDirectoryW", GetLastError());
    assert_int_equal(ksvc_win32_open(&m->platform, NULL), KSVC_OK);
}

void test_machine_folder_as_file_by_hand(test_machine *m, const char *name)
{
    wchar_t path[MAX_PATH * 2];

    slot_path(m, name, path, sizeof path / sizeof path[0]);
    if (!CreateDirectoryW(path, NULL))
        die_win32("CreateDirectoryW", GetLastError());
}

void test_machine_corrupt_file_by_hand(test_machine *m, const char *name)
{
    wchar_t path[MAX_PATH * 2];
    unsigned char byte = 0x5A;
    LARGE_INTEGER size;
    OVERLAPPED at;
    DWORD n = 0;
    HANDLE h;

    slot_path(m, name, path, sizeof path / sizeof path[0]);
    h = CreateFileW(path, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
                    FILE_ATTRIBUTE_NORMAL, NULL);
    if (h == INVALID_HANDLE_VALUE)
        die_win32("CreateFileW corrupt", GetLastError());
    if (!GetFileSizeEx(h, &size))
        die_win32("GetFileSizeEx corrupt", GetLastError());
    /* Flip every bit of the middle byte; an empty file gains a byte. */
    memset(&at, 0, sizeof at);
    at.Offset = (DWORD)((uint64_t)size.QuadPart / 2);
    at.OffsetHigh = (DWORD)(((uint64_t)size.QuadPart / 2) >> 32);
    if (size.QuadPart > 0 && (!ReadFile(h, &byte, 1, &n, &at) || n != 1))
        die_win32("ReadFile corrupt", GetLastError());
    byte ^= 0xFFu;
    if (!WriteFile(h, &byte, 1, &n, &at) || n != 1)
        die_win32("WriteFile corrupt", GetLastError());
    CloseHandle(h);
}

/* ---- snapshot (tests/machine_snapshot.c) ---- */

/* The subkeys of the Lxss key (WSL's distributions live there): the
 * platform table lists values only. */
char *test_machine_snapshot_extra(test_machine *m)
{
    size_t room = 64, len = 0;
    char *out = malloc(room);
    DWORD index;
    HKEY h;
    LSTATUS st = RegOpenKeyExW(HKEY_LOCAL_MACHINE, LXSS_KEY, 0,
                               KEY_READ | KEY_WOW64_64KEY, &h);

    (void)m;
    assert_non_null(out);
    out[0] = 0;
    if (st == ERROR_FILE_NOT_FOUND)
        return out;
    if (st != ERROR_SUCCESS)
        die_win32("RegOpenKeyExW snapshot", (DWORD)st);
    /* RegEnumKeyExW lists in the registry's own (sorted) order. */
    for (index = 0;; index++) {
        wchar_t name[256];
        DWORD name_len = 256;
        char uname[256 * 3];
        st = RegEnumKeyExW(h, index, name, &name_len, NULL, NULL, NULL, NULL);
        if (st == ERROR_NO_MORE_ITEMS)
            break;
        if (st != ERROR_SUCCESS)
            die_win32("RegEnumKeyExW", (DWORD)st);
        test_utf8_from_wide(name, uname, sizeof uname);
        room = len + strlen(uname) + 16;
        out = realloc(out, room);
        assert_non_null(out);
        len += (size_t)snprintf(out + len, room - len, "subkey %s\n", uname);
    }
    RegCloseKey(h);
    return out;
}
