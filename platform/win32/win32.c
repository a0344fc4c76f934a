/*
 * The Win32 backend: the kernels in %SystemRoot%\System32\lxss\tools, the
 * servicing values in the real registry, the machine facts from the process
 * token and the processor.
 *
 * UTF-8 crosses the platform table; inside, every path is a wide `\\?\`
 * path, so names beyond MAX_PATH and outside the ANSI code page work.  Every
 * Win32 call goes through the call table below (SQLite os_win style) so that
 * a test can make any one of them fail.  The backend makes no policy
 * decision: it answers the core's questions and reports the OS error behind
 * every failure.
 */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <bcrypt.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include <kservice/error.h>
#include <kservice/platform.h>
#include <kservice/win32.h>

#include "internal.h"
#include "syscalls.h"

/* ------------------------------------------------------------------------ */
/* The call table                                                           */
/* ------------------------------------------------------------------------ */

/* One function pointer type per call. */
#define KSVC_SYSCALL_TYPE_(name, ret, args) typedef ret(WINAPI *pfn_##name) args;
#define KSVC_SYSCALL_TYPE_D_(name, ret, args, dll) KSVC_SYSCALL_TYPE_(name, ret, args)
KSVC_WIN32_SYSCALLS(KSVC_SYSCALL_TYPE_, KSVC_SYSCALL_TYPE_D_)

/* One index per call. */
enum syscall_index {
#define KSVC_SYSCALL_INDEX_(name, ret, args) SYS_##name,
#define KSVC_SYSCALL_INDEX_D_(name, ret, args, dll) SYS_##name,
    KSVC_WIN32_SYSCALLS(KSVC_SYSCALL_INDEX_, KSVC_SYSCALL_INDEX_D_)
    SYS_COUNT_
};

struct syscall {
    const char *name;
    const wchar_t *dll;             /* run-time lookup: the module, else NULL */
    ksvc__win32_syscall_ptr system;  /* the system's function (NULL: absent) */
    ksvc__win32_syscall_ptr current; /* what the backend calls */
};

static struct syscall syscalls[SYS_COUNT_] = {
#define KSVC_SYSCALL_ENTRY_(name, ret, args)                                  \
    { #name, NULL, (ksvc__win32_syscall_ptr)name, (ksvc__win32_syscall_ptr)name },
#define KSVC_SYSCALL_ENTRY_D_(name, ret, args, dll) { #name, dll, NULL, NULL },
    KSVC_WIN32_SYSCALLS(KSVC_SYSCALL_ENTRY_, KSVC_SYSCALL_ENTRY_D_)
};

/* Calls are made through these: os_CreateFileW(...) and so on. */
#define OS(name) ((pfn_##name)syscalls[SYS_##name].current)
#define os_CreateFileW OS(CreateFileW)
#define os_ReadFile OS(ReadFile)
#define os_WriteFile OS(WriteFile)
#define os_FlushFileBuffers OS(FlushFileBuffers)
#define os_GetFileSizeEx OS(GetFileSizeEx)
#define os_GetFileInformationByHandle OS(GetFileInformationByHandle)
#define os_GetFileInformationByHandleEx OS(GetFileInformationByHandleEx)
#define os_GetFileType OS(GetFileType)
#define os_CloseHandle OS(CloseHandle)
#define os_MoveFileExW OS(MoveFileExW)
#define os_DeleteFileW OS(DeleteFileW)
#define os_CreateHardLinkW OS(CreateHardLinkW)
#define os_CreateDirectoryW OS(CreateDirectoryW)
#define os_FindFirstFileExW OS(FindFirstFileExW)
#define os_FindNextFileW OS(FindNextFileW)
#define os_FindClose OS(FindClose)
#define os_GetFullPathNameW OS(GetFullPathNameW)
#define os_GetSystemDirectoryW OS(GetSystemDirectoryW)
#define os_GetSystemWindowsDirectoryW OS(GetSystemWindowsDirectoryW)
#define os_LockFileEx OS(LockFileEx)
#define os_UnlockFileEx OS(UnlockFileEx)
#define os_Sleep OS(Sleep)
#define os_GetTickCount64 OS(GetTickCount64)
#define os_RegOpenKeyExW OS(RegOpenKeyExW)
#define os_RegCreateKeyExW OS(RegCreateKeyExW)
#define os_RegQueryValueExW OS(RegQueryValueExW)
#define os_RegSetValueExW OS(RegSetValueExW)
#define os_RegDeleteValueW OS(RegDeleteValueW)
#define os_RegDeleteKeyExW OS(RegDeleteKeyExW)
#define os_RegEnumValueW OS(RegEnumValueW)
#define os_RegCloseKey OS(RegCloseKey)
#define os_GetCurrentProcess OS(GetCurrentProcess)
#define os_IsWow64Process OS(IsWow64Process)
#define os_IsWow64Process2 OS(IsWow64Process2)
#define os_GetNativeSystemInfo OS(GetNativeSystemInfo)
#define os_OpenProcessToken OS(OpenProcessToken)
#define os_GetTokenInformation OS(GetTokenInformation)
#define os_AllocateAndInitializeSid OS(AllocateAndInitializeSid)
#define os_CheckTokenMembership OS(CheckTokenMembership)
#define os_FreeSid OS(FreeSid)
#define os_BCryptOpenAlgorithmProvider OS(BCryptOpenAlgorithmProvider)
#define os_BCryptCloseAlgorithmProvider OS(BCryptCloseAlgorithmProvider)
#define os_BCryptCreateHash OS(BCryptCreateHash)
#define os_BCryptHashData OS(BCryptHashData)
#define os_BCryptFinishHash OS(BCryptFinishHash)
#define os_BCryptDestroyHash OS(BCryptDestroyHash)
#define os_FormatMessageW OS(FormatMessageW)
#define os_MultiByteToWideChar OS(MultiByteToWideChar)
#define os_WideCharToMultiByte OS(WideCharToMultiByte)

/* Look up the calls that older Windows lacks.  Idempotent, so it is simply
 * run before every use of the table from outside. */
static void syscalls_resolve(void)
{
    static volatile LONG resolved = 0;
    size_t i;

    if (resolved)
        return;
    for (i = 0; i < SYS_COUNT_; i++) {
        struct syscall *s = &syscalls[i];
        HMODULE module;
        if (s->dll == NULL || s->system != NULL)
            continue;
        module = GetModuleHandleW(s->dll);
        if (module == NULL)
            continue;
        s->system = (ksvc__win32_syscall_ptr)GetProcAddress(module, s->name);
        if (s->current == NULL)
            s->current = s->system;
    }
    resolved = 1;
}

static struct syscall *syscall_find(const char *name)
{
    size_t i;

    if (name == NULL)
        return NULL;
    for (i = 0; i < SYS_COUNT_; i++)
        if (strcmp(syscalls[i].name, name) == 0)
            return &syscalls[i];
    return NULL;
}

int ksvc__win32_syscall_set(const char *name, ksvc__win32_syscall_ptr fn)
{
    struct syscall *s;
    size_t i;

    syscalls_resolve();
    if (name == NULL) {
        for (i = 0; i < SYS_COUNT_; i++)
            syscalls[i].current = syscalls[i].system;
        return KSVC_OK;
    }
    s = syscall_find(name);
    if (s == NULL)
        return KSVC_E_NOT_FOUND;
    s->current = fn != NULL ? fn : s->system;
    return KSVC_OK;
}

ksvc__win32_syscall_ptr ksvc__win32_syscall_get(const char *name)
{
    struct syscall *s;

    syscalls_resolve();
    s = syscall_find(name);
    return s != NULL ? s->current : NULL;
}

const char *ksvc__win32_syscall_next(const char *name)
{
    struct syscall *s;

    if (name == NULL)
        return syscalls[0].name;
    s = syscall_find(name);
    if (s == NULL || s + 1 >= syscalls + SYS_COUNT_)
        return NULL;
    return s[1].name;
}

/* ------------------------------------------------------------------------ */
/* Backend state and errors                                                 */
/* ------------------------------------------------------------------------ */

/* Longest wide path the backend builds (the NT limit). */
#define WPATH_MAX 32767
/* Room for the text of the last failure. */
#define WHAT_MAX 1024

typedef struct backend {
    ksvc_platform table;   /* first, so a table pointer is a backend pointer */
    wchar_t *tools;        /* the tools folder as a \\?\ path, no final '\' */
    char *tools_display;   /* the same path as people write it, UTF-8 */
    wchar_t *lock_path;    /* kservice.lock beside the tools folder */
    HKEY hive;             /* HKEY_LOCAL_MACHINE, or the root's hive */
    wchar_t *reg_prefix;   /* key standing for the hive's root, or NULL */
    HANDLE tools_handle;   /* held open (no delete sharing) once checked */
    HANDLE lock_handle;    /* the lock file while the lock is held */
    BCRYPT_ALG_HANDLE sha256; /* CNG's SHA-256, opened at the first hash */
    DWORD last_os_error;
    char last_what[WHAT_MAX];
} backend;

struct ksvc_file {
    backend *b;
    HANDLE handle;
    char *label;           /* the name or path, for messages */
};

static backend *backend_of(const ksvc_platform *p)
{
    return (backend *)p->data;
}

#ifndef ERROR_DISK_QUOTA_EXCEEDED
#define ERROR_DISK_QUOTA_EXCEEDED 1295L
#endif

/* The library's code for a Win32 error or LSTATUS. */
static int map_error(DWORD code)
{
    switch (code) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_DRIVE:
    case ERROR_BAD_NETPATH:
        return KSVC_E_NOT_FOUND;
    case ERROR_ACCESS_DENIED:
    case ERROR_PRIVILEGE_NOT_HELD:
    case ERROR_WRITE_PROTECT:
    case ERROR_NETWORK_ACCESS_DENIED:
        return KSVC_E_ACCESS;
    case ERROR_SHARING_VIOLATION:
    case ERROR_LOCK_VIOLATION:
    case ERROR_USER_MAPPED_FILE:
        return KSVC_E_SHARING;
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
    case ERROR_DISK_QUOTA_EXCEEDED:
        return KSVC_E_NO_SPACE;
    case ERROR_FILE_EXISTS:
    case ERROR_ALREADY_EXISTS:
        return KSVC_E_EXISTS;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
    case ERROR_NO_SYSTEM_RESOURCES:
        return KSVC_E_NO_MEMORY;
    case ERROR_FILENAME_EXCED_RANGE:
    case ERROR_BUFFER_OVERFLOW:
        return KSVC_E_TOO_LONG;
    case ERROR_NOT_SUPPORTED:
    case ERROR_INVALID_FUNCTION:
    case ERROR_CALL_NOT_IMPLEMENTED:
        return KSVC_E_UNSUPPORTED;
    case ERROR_BUSY:
        return KSVC_E_BUSY;
    case ERROR_BADDB:
    case ERROR_BADKEY:
    case ERROR_CANTOPEN:
    case ERROR_CANTREAD:
    case ERROR_CANTWRITE:
    case ERROR_REGISTRY_CORRUPT:
    case ERROR_KEY_DELETED:
        return KSVC_E_HIVE;
    case ERROR_CANT_RESOLVE_FILENAME:
    case ERROR_NOT_A_REPARSE_POINT:
    case ERROR_DIRECTORY:
        return KSVC_E_UNSAFE_PATH;
    case ERROR_INVALID_NAME:
    case ERROR_BAD_PATHNAME:
    case ERROR_INVALID_PARAMETER:
        return KSVC_E_INVALID_ARGUMENT;
    default:
        return KSVC_E_IO;
    }
}

static char *utf8_from_wide(const wchar_t *text, int units, size_t *bytes);

/* The system's text for Win32 error @os, without the final period and line
 * end, followed by the number; only the number when the system has none
 * (an NTSTATUS of CNG, for one). */
static void os_message(DWORD os, char *out, size_t room)
{
    wchar_t text[256];
    DWORD units = os_FormatMessageW(
        FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, os,
        0, text, sizeof text / sizeof text[0], NULL);
    char *utf8;
    size_t len;

    while (units > 0 && (text[units - 1] == L'\r' || text[units - 1] == L'\n' ||
                         text[units - 1] == L' ' || text[units - 1] == L'.'))
        units--;
    utf8 = units > 0 ? utf8_from_wide(text, (int)units, &len) : NULL;
    if (utf8 != NULL)
        snprintf(out, room, "%s (Win32 error %lu)", utf8, (unsigned long)os);
    else if (os & 0x80000000UL)
        snprintf(out, room, "NTSTATUS 0x%08lX", (unsigned long)os);
    else
        snprintf(out, room, "Win32 error %lu", (unsigned long)os);
    free(utf8);
}

/* Record a failure of @call on @object with OS code @os and return @code.
 * Every failing method ends here so that last_error() can tell the core
 * which file or value failed and the Win32 code behind it, in the shape
 * both backends share: "<object>: <call>: <OS message>" (without the OS
 * message when there is no OS error: @call then says what is wrong). */
static int fail(backend *b, int code, DWORD os, const char *call,
                const char *object)
{
    char message[WHAT_MAX / 2] = "";
    size_t call_len = strlen(call);
    int named = object != NULL && object[0] != 0;

    if (call_len > 0 && call[call_len - 1] == ':')
        call_len--; /* "not a regular file:" reads on as "<object>: ..." */
    if (os != 0)
        os_message(os, message, sizeof message);
    else if (code == KSVC_E_NO_MEMORY)
        snprintf(message, sizeof message, "out of memory");
    b->last_os_error = os;
    snprintf(b->last_what, sizeof b->last_what, "%s%s%.*s%s%s",
             named ? object : "", named ? ": " : "", (int)call_len, call,
             message[0] != 0 ? ": " : "", message);
    return code;
}

/* Record the failure of a call that reports through GetLastError(). */
static int fail_last(backend *b, const char *call, const char *object)
{
    DWORD os = GetLastError();
    return fail(b, map_error(os), os, call, object);
}

/* Record the failure of a registry call that returned @status. */
static int fail_reg(backend *b, LSTATUS status, const char *call,
                    const char *key, const char *name)
{
    char object[WHAT_MAX / 2];
    snprintf(object, sizeof object, "%s%s%s", key, name != NULL ? " value " : "",
             name != NULL ? name : "");
    return fail(b, map_error((DWORD)status), (DWORD)status, call, object);
}

static void w32_last_error(const ksvc_platform *p, long *os_error, char *what,
                           size_t what_size)
{
    const backend *b = backend_of(p);
    if (os_error != NULL)
        *os_error = (long)b->last_os_error;
    if (what != NULL && what_size > 0)
        snprintf(what, what_size, "%s", b->last_what);
}

/* ------------------------------------------------------------------------ */
/* Text                                                                     */
/* ------------------------------------------------------------------------ */

/* UTF-8 (@len bytes, or -1 for NUL-terminated) to a new wide string.
 * Returns NULL for invalid UTF-8 (errno-free: the caller reports it). */
static wchar_t *wide_from_utf8(const char *text, int len)
{
    int units;
    wchar_t *out;

    if (len == 0) {
        out = malloc(sizeof *out);
        if (out != NULL)
            out[0] = 0;
        return out;
    }
    units = os_MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, text, len,
                                   NULL, 0);
    if (units <= 0)
        return NULL;
    out = malloc(((size_t)units + 1) * sizeof *out);
    if (out == NULL)
        return NULL;
    if (os_MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, text, len, out,
                               units) != units) {
        free(out);
        return NULL;
    }
    out[units] = 0;
    return out;
}

/* Wide text (@units, or -1 for NUL-terminated) to new NUL-terminated UTF-8;
 * @bytes receives the length without the NUL.  NULL for unpaired
 * surrogates (text that no UTF-8 can carry). */
static char *utf8_from_wide(const wchar_t *text, int units, size_t *bytes)
{
    int len;
    char *out;

    if (units == 0) {
        out = malloc(1);
        if (out != NULL)
            out[0] = 0;
        if (bytes != NULL)
            *bytes = 0;
        return out;
    }
    len = os_WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, text, units,
                                 NULL, 0, NULL, NULL);
    if (len <= 0)
        return NULL;
    out = malloc((size_t)len + 1);
    if (out == NULL)
        return NULL;
    if (os_WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, text, units, out,
                               len, NULL, NULL) != len) {
        free(out);
        return NULL;
    }
    out[len] = 0;
    if (units < 0)
        len--; /* the count included the terminator */
    if (bytes != NULL)
        *bytes = (size_t)len;
    return out;
}

/* A new wide string: @a followed by @b (either may be NULL: empty). */
static wchar_t *wide_concat(const wchar_t *a, const wchar_t *b)
{
    size_t la = a != NULL ? wcslen(a) : 0, lb = b != NULL ? wcslen(b) : 0;
    wchar_t *out = malloc((la + lb + 1) * sizeof *out);
    if (out == NULL)
        return NULL;
    if (la > 0)
        memcpy(out, a, la * sizeof *out);
    if (lb > 0)
        memcpy(out + la, b, lb * sizeof *out);
    out[la + lb] = 0;
    return out;
}

/* ------------------------------------------------------------------------ */
/* Paths                                                                    */
/* ------------------------------------------------------------------------ */

/* Is @name a plain file name the tools folder may hold?  No separators, no
 * characters Windows forbids in names, no "." or "..", no trailing dot or
 * space (Win32 would strip them and reach another name) and no device name
 * such as NUL or COM1 (which would reach a device, not a file). */
static int name_is_plain(const char *name)
{
    static const char *const devices[] = {
        "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5",
        "COM6", "COM7", "COM8", "COM9", "LPT1", "LPT2", "LPT3", "LPT4",
        "LPT5", "LPT6", "LPT7", "LPT8", "LPT9", "CONIN$", "CONOUT$"
    };
    size_t len, stem, i;

    if (name == NULL)
        return 0;
    len = strlen(name);
    if (len == 0 || len > 255)
        return 0;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return 0;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || strchr("\\/:*?\"<>|", c) != NULL)
            return 0;
    }
    if (name[len - 1] == '.' || name[len - 1] == ' ')
        return 0;
    stem = strcspn(name, ".");
    for (i = 0; i < sizeof devices / sizeof devices[0]; i++) {
        size_t dl = strlen(devices[i]), k;
        if (dl != stem)
            continue;
        for (k = 0; k < dl; k++) {
            char c = name[k];
            if (c >= 'a' && c <= 'z')
                c = (char)(c - 'a' + 'A');
            if (c != devices[i][k])
                break;
        }
        if (k == dl)
            return 0;
    }
    return 1;
}

/* The absolute form of @path (wide), as a new string; NULL on failure with
 * GetLastError set. */
static wchar_t *full_path_of(const wchar_t *path)
{
    DWORD need = os_GetFullPathNameW(path, 0, NULL, NULL), got;
    wchar_t *out;

    if (need == 0)
        return NULL;
    out = malloc((size_t)need * sizeof *out);
    if (out == NULL) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return NULL;
    }
    got = os_GetFullPathNameW(path, need, out, NULL);
    if (got == 0 || got >= need) {
        free(out);
        if (got >= need)
            SetLastError(ERROR_FILENAME_EXCED_RANGE);
        return NULL;
    }
    return out;
}

/* @full (absolute) in the `\\?\` form that lifts MAX_PATH and stops Win32
 * from rewriting names, without a final separator (unless a drive root). */
static wchar_t *extended_path(const wchar_t *full)
{
    wchar_t *out;
    size_t len;

    if (wcsncmp(full, L"\\\\?\\", 4) == 0 || wcsncmp(full, L"\\\\.\\", 4) == 0)
        out = wide_concat(full, NULL);
    else if (wcsncmp(full, L"\\\\", 2) == 0)
        out = wide_concat(L"\\\\?\\UNC\\", full + 2);
    else
        out = wide_concat(L"\\\\?\\", full);
    if (out == NULL)
        return NULL;
    len = wcslen(out);
    while (len > 7 && out[len - 1] == L'\\' && out[len - 2] != L':')
        out[--len] = 0;
    return out;
}

/* @ext without the `\\?\` prefix, as UTF-8: the path people write. */
static char *display_path(const wchar_t *ext)
{
    if (wcsncmp(ext, L"\\\\?\\UNC\\", 8) == 0) {
        wchar_t *unc = wide_concat(L"\\\\", ext + 8);
        char *out = unc != NULL ? utf8_from_wide(unc, -1, NULL) : NULL;
        free(unc);
        return out;
    }
    if (wcsncmp(ext, L"\\\\?\\", 4) == 0)
        return utf8_from_wide(ext + 4, -1, NULL);
    return utf8_from_wide(ext, -1, NULL);
}

/* The wide path of @name in the tools folder, or an error (recorded). */
static int tools_child(backend *b, const char *name, wchar_t **out)
{
    wchar_t *wname, *path;
    size_t lt, ln;

    *out = NULL;
    if (!name_is_plain(name))
        return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "name",
                    name != NULL ? name : "(null)");
    wname = wide_from_utf8(name, -1);
    if (wname == NULL)
        return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "name (not UTF-8)", name);
    lt = wcslen(b->tools);
    ln = wcslen(wname);
    if (lt + 1 + ln >= WPATH_MAX) {
        free(wname);
        return fail(b, KSVC_E_TOO_LONG, 0, "name", name);
    }
    path = malloc((lt + ln + 2) * sizeof *path);
    if (path == NULL) {
        free(wname);
        return fail(b, KSVC_E_NO_MEMORY, 0, "name", name);
    }
    memcpy(path, b->tools, lt * sizeof *path);
    path[lt] = L'\\';
    memcpy(path + lt + 1, wname, (ln + 1) * sizeof *path);
    free(wname);
    *out = path;
    return KSVC_OK;
}

/* ------------------------------------------------------------------------ */
/* The tools folder                                                         */
/* ------------------------------------------------------------------------ */

/* Open whatever is at @path without following a reparse point. */
static HANDLE open_no_follow(const wchar_t *path, DWORD access)
{
    return os_CreateFileW(path, access,
                          FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                          NULL, OPEN_EXISTING,
                          FILE_FLAG_OPEN_REPARSE_POINT |
                              FILE_FLAG_BACKUP_SEMANTICS,
                          NULL);
}

/* Create @path and its missing parents (as far as the volume root). */
static BOOL create_folders(wchar_t *path)
{
    wchar_t *sep;
    BOOL ok;

    if (os_CreateDirectoryW(path, NULL))
        return TRUE;
    if (GetLastError() == ERROR_ALREADY_EXISTS)
        return TRUE;
    if (GetLastError() != ERROR_PATH_NOT_FOUND)
        return FALSE;
    sep = wcsrchr(path, L'\\');
    if (sep == NULL || sep - path <= 7) /* at "\\?\C:" or above */
        return FALSE;
    *sep = 0;
    ok = create_folders(path);
    *sep = L'\\';
    if (!ok)
        return FALSE;
    if (os_CreateDirectoryW(path, NULL))
        return TRUE;
    return GetLastError() == ERROR_ALREADY_EXISTS;
}

/* Make sure the tools folder is a real folder, not a reparse point standing
 * for one, and hold it open without delete sharing so that nobody can swap
 * it for a link while this backend lives.  A missing folder gives
 * KSVC_E_NOT_FOUND, or is created first when @create. */
static int tools_check(backend *b, int create)
{
    BY_HANDLE_FILE_INFORMATION info;
    HANDLE h;

    if (b->tools_handle != INVALID_HANDLE_VALUE)
        return KSVC_OK;
    if (create) {
        wchar_t *copy = wide_concat(b->tools, NULL);
        BOOL ok;
        if (copy == NULL)
            return fail(b, KSVC_E_NO_MEMORY, 0, "create folder",
                        b->tools_display);
        ok = create_folders(copy);
        free(copy);
        if (!ok)
            return fail_last(b, "CreateDirectoryW", b->tools_display);
    }
    h = os_CreateFileW(b->tools, FILE_READ_ATTRIBUTES | FILE_LIST_DIRECTORY,
                       FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING,
                       FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS,
                       NULL);
    if (h == INVALID_HANDLE_VALUE)
        return fail_last(b, "CreateFileW", b->tools_display);
    if (!os_GetFileInformationByHandle(h, &info)) {
        int rc = fail_last(b, "GetFileInformationByHandle", b->tools_display);
        os_CloseHandle(h);
        return rc;
    }
    if ((info.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) ||
        !(info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)) {
        os_CloseHandle(h);
        return fail(b, KSVC_E_UNSAFE_PATH, 0, "tools folder",
                    b->tools_display);
    }
    b->tools_handle = h;
    return KSVC_OK;
}

/* Nanoseconds from 1601 (FILETIME) to 1970. */
#define UNIX_EPOCH_100NS 116444736000000000LL

/* The file index mixed with the volume serial: one number naming the file
 * itself, whatever name it is reached by. */
static uint64_t file_id_of(const BY_HANDLE_FILE_INFORMATION *fi)
{
    uint64_t index = ((uint64_t)fi->nFileIndexHigh << 32) | fi->nFileIndexLow;

    return index ^ ((uint64_t)fi->dwVolumeSerialNumber *
                    UINT64_C(0x9E3779B97F4A7C15));
}

/* ChangeTime moves on every write and every change of the link count; a
 * file system without it reports 0, and then the last write time is the
 * best there is. */
static int change_ns_of(backend *b, HANDLE h, const char *label,
                        int64_t *change_ns)
{
    FILE_BASIC_INFO basic;
    int64_t t;

    if (!os_GetFileInformationByHandleEx(h, FileBasicInfo, &basic,
                                         sizeof basic))
        return fail_last(b, "GetFileInformationByHandleEx", label);
    t = basic.ChangeTime.QuadPart ? basic.ChangeTime.QuadPart
                                  : basic.LastWriteTime.QuadPart;
    *change_ns = t > UNIX_EPOCH_100NS ? (t - UNIX_EPOCH_100NS) * 100 : 0;
    return KSVC_OK;
}

/* What @path is, without following links.  A missing name is KIND_NONE. */
static int stat_path(backend *b, const wchar_t *path, const char *label,
                     ksvc_file_info *info)
{
    BY_HANDLE_FILE_INFORMATION fi;
    HANDLE h;
    DWORD err;
    int rc = KSVC_OK;

    memset(info, 0, sizeof *info);
    h = open_no_follow(path, FILE_READ_ATTRIBUTES);
    if (h == INVALID_HANDLE_VALUE) {
        err = GetLastError();
        if (err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND) {
            info->kind = KSVC_FILE_NONE;
            return KSVC_OK;
        }
        return fail(b, map_error(err), err, "CreateFileW", label);
    }
    if (!os_GetFileInformationByHandle(h, &fi)) {
        rc = fail_last(b, "GetFileInformationByHandle", label);
        os_CloseHandle(h);
        return rc;
    }
    if (fi.dwFileAttributes &
        (FILE_ATTRIBUTE_REPARSE_POINT | FILE_ATTRIBUTE_DIRECTORY |
         FILE_ATTRIBUTE_DEVICE)) {
        info->kind = KSVC_FILE_OTHER;
    } else {
        info->kind = KSVC_FILE_REGULAR;
        info->size = ((uint64_t)fi.nFileSizeHigh << 32) | fi.nFileSizeLow;
        info->links = fi.nNumberOfLinks;
        info->file_id = file_id_of(&fi);
        rc = change_ns_of(b, h, label, &info->change_ns);
    }
    os_CloseHandle(h);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Files                                                                    */
/* ------------------------------------------------------------------------ */

static int file_new(backend *b, HANDLE h, const char *label, ksvc_file **out)
{
    ksvc_file *f = malloc(sizeof *f);
    size_t len = strlen(label);

    if (f != NULL)
        f->label = malloc(len + 1);
    if (f == NULL || f->label == NULL) {
        free(f);
        os_CloseHandle(h);
        return fail(b, KSVC_E_NO_MEMORY, 0, "open", label);
    }
    memcpy(f->label, label, len + 1);
    f->b = b;
    f->handle = h;
    *out = f;
    return KSVC_OK;
}

/* Refuse a handle that is not a plain file on a disk: a directory, a
 * reparse point or a device.  Closes it when refused. */
static int check_regular(backend *b, HANDLE h, const char *label, int code)
{
    BY_HANDLE_FILE_INFORMATION fi;

    if (os_GetFileType(h) != FILE_TYPE_DISK) {
        os_CloseHandle(h);
        return fail(b, code, 0, "not a disk file:", label);
    }
    if (!os_GetFileInformationByHandle(h, &fi)) {
        int rc = fail_last(b, "GetFileInformationByHandle", label);
        os_CloseHandle(h);
        return rc;
    }
    if (fi.dwFileAttributes &
        (FILE_ATTRIBUTE_REPARSE_POINT | FILE_ATTRIBUTE_DIRECTORY |
         FILE_ATTRIBUTE_DEVICE)) {
        os_CloseHandle(h);
        return fail(b, code, 0, "not a regular file:", label);
    }
    return KSVC_OK;
}

static int w32_file_open(const ksvc_platform *p, const char *name,
                         unsigned flags, ksvc_file **out)
{
    backend *b = backend_of(p);
    wchar_t *path;
    HANDLE h;
    int rc, creating = (flags & KSVC_OPEN_CREATE_NEW) != 0;

    /* A new file is always open for reading too. */
    if (out == NULL || flags == 0 ||
        (flags & ~(KSVC_OPEN_READ | KSVC_OPEN_CREATE_NEW)) != 0)
        return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "file_open flags", name);
    *out = NULL;
    rc = tools_child(b, name, &path);
    if (rc != KSVC_OK)
        return rc;
    rc = tools_check(b, creating);
    if (rc != KSVC_OK) {
        free(path);
        return rc;
    }
    if (creating) {
        /* Read access too: the core reads back what it wrote to hash it.
         * No sharing: nobody else touches a slot file being written. */
        h = os_CreateFileW(path, GENERIC_READ | GENERIC_WRITE, 0, NULL,
                           CREATE_NEW,
                           FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT,
                           NULL);
    } else {
        /* Readers share with readers only, so nobody rewrites a kernel
         * while it is hashed or copied. */
        h = os_CreateFileW(path, GENERIC_READ, FILE_SHARE_READ, NULL,
                           OPEN_EXISTING,
                           FILE_FLAG_OPEN_REPARSE_POINT |
                               FILE_FLAG_BACKUP_SEMANTICS,
                           NULL);
    }
    if (h == INVALID_HANDLE_VALUE) {
        DWORD err = GetLastError();
        rc = fail(b, map_error(err), err, "CreateFileW", name);
        if (creating && rc == KSVC_E_EXISTS) {
            /* Something has the name: say whether it is a planted link. */
            ksvc_file_info info;
            if (stat_path(b, path, name, &info) == KSVC_OK &&
                info.kind == KSVC_FILE_OTHER)
                rc = fail(b, KSVC_E_UNSAFE_PATH, err, "CreateFileW", name);
            else
                rc = fail(b, KSVC_E_EXISTS, err, "CreateFileW", name);
        }
        free(path);
        return rc;
    }
    free(path);
    rc = check_regular(b, h, name, KSVC_E_UNSAFE_PATH);
    if (rc != KSVC_OK)
        return rc;
    return file_new(b, h, name, out);
}

static int w32_payload_open(const ksvc_platform *p, const char *path,
                            ksvc_file **out)
{
    backend *b = backend_of(p);
    wchar_t *wide, *full, *ext;
    HANDLE h;
    int rc;

    if (out == NULL || path == NULL || path[0] == 0)
        return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "payload", path);
    *out = NULL;
    wide = wide_from_utf8(path, -1);
    if (wide == NULL)
        return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "payload (not UTF-8)", path);
    full = full_path_of(wide);
    free(wide);
    if (full == NULL)
        return fail_last(b, "GetFullPathNameW", path);
    ext = extended_path(full);
    free(full);
    if (ext == NULL)
        return fail(b, KSVC_E_NO_MEMORY, 0, "payload", path);
    /* Links are followed: the caller chose this path.  Backup semantics
     * lets a folder open, so that it is refused as such, not as denied. */
    h = os_CreateFileW(ext, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING,
                       FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_SEQUENTIAL_SCAN,
                       NULL);
    free(ext);
    if (h == INVALID_HANDLE_VALUE)
        return fail_last(b, "CreateFileW", path);
    rc = check_regular(b, h, path, KSVC_E_BAD_PAYLOAD);
    if (rc != KSVC_OK)
        return rc;
    return file_new(b, h, path, out);
}

/* The largest piece handed to one ReadFile or WriteFile. */
#define IO_CHUNK ((DWORD)1 << 30)

static void set_offset(OVERLAPPED *ov, uint64_t offset)
{
    memset(ov, 0, sizeof *ov);
    ov->Offset = (DWORD)(offset & 0xffffffffu);
    ov->OffsetHigh = (DWORD)(offset >> 32);
}

static int w32_file_read(ksvc_file *f, uint64_t offset, void *buf,
                         size_t size, size_t *got)
{
    size_t done = 0;

    *got = 0;
    while (done < size) {
        OVERLAPPED ov;
        DWORD want = size - done > IO_CHUNK ? IO_CHUNK : (DWORD)(size - done);
        DWORD n = 0;
        set_offset(&ov, offset + done);
        if (!os_ReadFile(f->handle, (char *)buf + done, want, &n, &ov)) {
            if (GetLastError() == ERROR_HANDLE_EOF)
                break;
            return fail_last(f->b, "ReadFile", f->label);
        }
        if (n == 0)
            break;
        done += n;
    }
    *got = done;
    return KSVC_OK;
}

static int w32_file_write(ksvc_file *f, uint64_t offset, const void *buf,
                          size_t size)
{
    size_t done = 0;

    while (done < size) {
        OVERLAPPED ov;
        DWORD want = size - done > IO_CHUNK ? IO_CHUNK : (DWORD)(size - done);
        DWORD n = 0;
        set_offset(&ov, offset + done);
        if (!os_WriteFile(f->handle, (const char *)buf + done, want, &n, &ov))
            return fail_last(f->b, "WriteFile", f->label);
        if (n == 0)
            return fail(f->b, KSVC_E_IO, 0, "WriteFile wrote nothing:",
                        f->label);
        done += n;
    }
    return KSVC_OK;
}

static int w32_file_sync(ksvc_file *f)
{
    /* On NTFS this commits the file's data and its metadata, the new
     * directory entry included, through the log. */
    if (!os_FlushFileBuffers(f->handle))
        return fail_last(f->b, "FlushFileBuffers", f->label);
    return KSVC_OK;
}

static int w32_file_size(ksvc_file *f, uint64_t *size)
{
    LARGE_INTEGER li;

    if (!os_GetFileSizeEx(f->handle, &li))
        return fail_last(f->b, "GetFileSizeEx", f->label);
    *size = (uint64_t)li.QuadPart;
    return KSVC_OK;
}

static int w32_file_close(ksvc_file *f)
{
    int rc = KSVC_OK;

    if (f == NULL)
        return KSVC_OK;
    if (!os_CloseHandle(f->handle))
        rc = fail_last(f->b, "CloseHandle", f->label);
    free(f->label);
    free(f);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Names in the tools folder                                                */
/* ------------------------------------------------------------------------ */

static int w32_stat(const ksvc_platform *p, const char *name,
                    ksvc_file_info *info)
{
    backend *b = backend_of(p);
    wchar_t *path;
    int rc = tools_child(b, name, &path);

    if (rc != KSVC_OK)
        return rc;
    rc = tools_check(b, 0);
    if (rc == KSVC_E_NOT_FOUND) {
        memset(info, 0, sizeof *info); /* no folder: no such name */
        free(path);
        return KSVC_OK;
    }
    if (rc == KSVC_OK)
        rc = stat_path(b, path, name, info);
    free(path);
    return rc;
}

/* Stat @name and insist on what the caller needs: a regular file when
 * @must_be_file, else anything but a link or folder (absent is fine). */
static int expect_kind(backend *b, const wchar_t *path, const char *name,
                       int must_be_file)
{
    ksvc_file_info info;
    int rc = stat_path(b, path, name, &info);

    if (rc != KSVC_OK)
        return rc;
    if (info.kind == KSVC_FILE_OTHER)
        return fail(b, KSVC_E_UNSAFE_PATH, 0, "not a regular file:", name);
    if (must_be_file && info.kind == KSVC_FILE_NONE)
        return fail(b, KSVC_E_NOT_FOUND, ERROR_FILE_NOT_FOUND, "stat", name);
    return KSVC_OK;
}

static int w32_rename(const ksvc_platform *p, const char *from, const char *to)
{
    backend *b = backend_of(p);
    wchar_t *wfrom = NULL, *wto = NULL;
    int rc = tools_child(b, from, &wfrom);

    if (rc == KSVC_OK)
        rc = tools_child(b, to, &wto);
    if (rc == KSVC_OK)
        rc = tools_check(b, 0);
    if (rc == KSVC_OK)
        rc = expect_kind(b, wfrom, from, 1);
    if (rc == KSVC_OK)
        rc = expect_kind(b, wto, to, 0);
    /* Write-through: the rename is on disk when the call returns. */
    if (rc == KSVC_OK &&
        !os_MoveFileExW(wfrom, wto,
                        MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
        char object[WHAT_MAX / 2];
        snprintf(object, sizeof object, "%s -> %s", from, to);
        rc = fail_last(b, "MoveFileExW", object);
    }
    free(wfrom);
    free(wto);
    return rc;
}

static int w32_remove(const ksvc_platform *p, const char *name)
{
    backend *b = backend_of(p);
    ksvc_file_info info;
    wchar_t *path;
    int rc = tools_child(b, name, &path);

    if (rc != KSVC_OK)
        return rc;
    rc = tools_check(b, 0);
    if (rc == KSVC_E_NOT_FOUND) {
        free(path);
        return KSVC_OK;
    }
    if (rc == KSVC_OK)
        rc = stat_path(b, path, name, &info);
    if (rc == KSVC_OK && info.kind == KSVC_FILE_OTHER)
        rc = fail(b, KSVC_E_UNSAFE_PATH, 0, "not a regular file:", name);
    if (rc == KSVC_OK && info.kind == KSVC_FILE_REGULAR &&
        !os_DeleteFileW(path)) {
        DWORD err = GetLastError();
        if (err != ERROR_FILE_NOT_FOUND)
            rc = fail(b, map_error(err), err, "DeleteFileW", name);
    }
    free(path);
    return rc;
}

static int w32_hard_link(const ksvc_platform *p, const char *existing,
                         const char *new_name)
{
    backend *b = backend_of(p);
    wchar_t *wold = NULL, *wnew = NULL;
    HANDLE h;
    int rc = tools_child(b, existing, &wold);

    if (rc == KSVC_OK)
        rc = tools_child(b, new_name, &wnew);
    if (rc == KSVC_OK)
        rc = tools_check(b, 0);
    if (rc == KSVC_OK)
        rc = expect_kind(b, wold, existing, 1);
    if (rc == KSVC_OK && !os_CreateHardLinkW(wnew, wold, NULL)) {
        DWORD err = GetLastError();
        rc = fail(b, map_error(err), err, "CreateHardLinkW", new_name);
    }
    if (rc == KSVC_OK) {
        /* Flushing the file through its new name commits the new link. */
        h = os_CreateFileW(wnew, GENERIC_WRITE,
                           FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                           NULL, OPEN_EXISTING, FILE_FLAG_OPEN_REPARSE_POINT,
                           NULL);
        if (h == INVALID_HANDLE_VALUE) {
            rc = fail_last(b, "CreateFileW", new_name);
        } else {
            if (!os_FlushFileBuffers(h))
                rc = fail_last(b, "FlushFileBuffers", new_name);
            os_CloseHandle(h);
        }
        if (rc != KSVC_OK)
            os_DeleteFileW(wnew); /* not durable: take the name back */
    }
    free(wold);
    free(wnew);
    return rc;
}

static int w32_list(const ksvc_platform *p, ksvc_list_fn fn, void *arg)
{
    backend *b = backend_of(p);
    WIN32_FIND_DATAW fd;
    wchar_t *pattern;
    HANDLE find;
    int rc = tools_check(b, 0);

    if (rc == KSVC_E_NOT_FOUND)
        return KSVC_OK; /* no folder yet: no names */
    if (rc != KSVC_OK)
        return rc;
    pattern = wide_concat(b->tools, L"\\*");
    if (pattern == NULL)
        return fail(b, KSVC_E_NO_MEMORY, 0, "list", b->tools_display);
    find = os_FindFirstFileExW(pattern, FindExInfoBasic, &fd,
                               FindExSearchNameMatch, NULL, 0);
    free(pattern);
    if (find == INVALID_HANDLE_VALUE) {
        if (GetLastError() == ERROR_FILE_NOT_FOUND)
            return KSVC_OK;
        return fail_last(b, "FindFirstFileExW", b->tools_display);
    }
    do {
        char *name;
        if (wcscmp(fd.cFileName, L".") == 0 || wcscmp(fd.cFileName, L"..") == 0)
            continue;
        /* A name no UTF-8 can carry (an unpaired surrogate) was not made
         * by the library: leave it out. */
        name = utf8_from_wide(fd.cFileName, -1, NULL);
        if (name == NULL)
            continue;
        rc = fn(arg, name);
        free(name);
        if (rc != 0) {
            os_FindClose(find);
            return rc;
        }
    } while (os_FindNextFileW(find, &fd));
    if (GetLastError() != ERROR_NO_MORE_FILES) {
        rc = fail_last(b, "FindNextFileW", b->tools_display);
        os_FindClose(find);
        return rc;
    }
    os_FindClose(find);
    return KSVC_OK;
}

static int w32_full_path(const ksvc_platform *p, const char *name, char *buf,
                         size_t size)
{
    backend *b = backend_of(p);
    wchar_t *path;
    char *text;
    size_t len;
    int rc = tools_child(b, name, &path);

    if (rc != KSVC_OK)
        return rc;
    /* Beyond MAX_PATH only the \\?\ form opens; below it, the usual one. */
    if (wcslen(path) - 4 < MAX_PATH)
        text = display_path(path);
    else
        text = utf8_from_wide(path, -1, NULL);
    free(path);
    if (text == NULL)
        return fail(b, KSVC_E_NO_MEMORY, 0, "full_path", name);
    len = strlen(text);
    if (buf == NULL || len + 1 > size) {
        free(text);
        return fail(b, KSVC_E_TOO_LONG, 0, "full_path", name);
    }
    memcpy(buf, text, len + 1);
    free(text);
    return KSVC_OK;
}

/* ------------------------------------------------------------------------ */
/* Registry                                                                 */
/* ------------------------------------------------------------------------ */

/* Registry access: always the 64-bit view, whatever this process is. */
#define REG_VIEW KEY_WOW64_64KEY

/* The wide path below the hive of the core's @key (`SOFTWARE\...`). */
static int reg_path(backend *b, const char *key, wchar_t **out)
{
    wchar_t *wkey, *joined;
    size_t len;

    *out = NULL;
    if (key == NULL || key[0] == 0 || key[0] == '\\' ||
        strstr(key, "\\\\") != NULL)
        return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "registry key",
                    key != NULL ? key : "(null)");
    len = strlen(key);
    if (key[len - 1] == '\\')
        return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "registry key", key);
    wkey = wide_from_utf8(key, -1);
    if (wkey == NULL)
        return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "registry key (not UTF-8)",
                    key);
    if (b->reg_prefix == NULL) {
        *out = wkey;
        return KSVC_OK;
    }
    joined = malloc((wcslen(b->reg_prefix) + wcslen(wkey) + 2) * sizeof *joined);
    if (joined == NULL) {
        free(wkey);
        return fail(b, KSVC_E_NO_MEMORY, 0, "registry key", key);
    }
    wcscpy(joined, b->reg_prefix);
    wcscat(joined, L"\\");
    wcscat(joined, wkey);
    free(wkey);
    *out = joined;
    return KSVC_OK;
}

/* A value as stored: its type and raw bytes (NULL data: absent). */
typedef struct raw_value {
    int present;
    DWORD type;
    BYTE *data;
    DWORD size;
} raw_value;

/* Read @wname of @h raw, growing the buffer while the value grows. */
static LSTATUS query_raw(HKEY h, const wchar_t *wname, raw_value *v)
{
    LSTATUS st;
    int tries;

    memset(v, 0, sizeof *v);
    st = os_RegQueryValueExW(h, wname, NULL, &v->type, NULL, &v->size);
    for (tries = 0; st == ERROR_SUCCESS || st == ERROR_MORE_DATA; tries++) {
        DWORD room = v->size;
        free(v->data);
        /* Two spare NULs: a string need not be terminated in the hive. */
        v->data = calloc((size_t)room + 4, 1);
        if (v->data == NULL)
            return ERROR_NOT_ENOUGH_MEMORY;
        v->size = room;
        st = os_RegQueryValueExW(h, wname, NULL, &v->type, v->data, &v->size);
        if (st == ERROR_SUCCESS) {
            v->present = 1;
            return st;
        }
        if (st != ERROR_MORE_DATA || tries >= 8)
            break;
    }
    free(v->data);
    v->data = NULL;
    return st;
}

/* A stored wide string (@units, maybe without terminator) as UTF-8. */
static char *utf8_of_stored(const wchar_t *text, size_t units, size_t *bytes)
{
    size_t len = 0;
    while (len < units && text[len] != 0)
        len++;
    if (len > INT_MAX)
        return NULL;
    return utf8_from_wide(text, (int)len, bytes);
}

/* Convert a stored value into what crosses the platform table: strings as
 * NUL-terminated UTF-8, lists as UTF-8 strings ended by an empty one, a
 * DWORD as its 4 bytes, anything else as stored.  Checks type and size. */
static int convert_read(backend *b, const raw_value *v, const char *label,
                        unsigned char **out, size_t *out_size)
{
    *out = NULL;
    *out_size = 0;
    if (v->type == REG_SZ || v->type == REG_EXPAND_SZ) {
        size_t bytes;
        char *text = utf8_of_stored((const wchar_t *)v->data, v->size / 2,
                                    &bytes);
        if (text == NULL)
            return fail(b, KSVC_E_BAD_VALUE, 0, "string not UTF-16:", label);
        *out = (unsigned char *)text;
        *out_size = bytes + 1;
        return KSVC_OK;
    }
    if (v->type == REG_MULTI_SZ) {
        const wchar_t *w = (const wchar_t *)v->data;
        size_t units = v->size / 2, at = 0, used = 0;
        unsigned char *list = malloc(1);
        if (list == NULL)
            return fail(b, KSVC_E_NO_MEMORY, 0, "read", label);
        while (at < units && w[at] != 0) {
            size_t bytes, len = 0;
            char *one;
            unsigned char *grown;
            while (at + len < units && w[at + len] != 0)
                len++;
            one = utf8_of_stored(w + at, len, &bytes);
            if (one == NULL) {
                free(list);
                return fail(b, KSVC_E_BAD_VALUE, 0, "string not UTF-16:",
                            label);
            }
            grown = realloc(list, used + bytes + 2);
            if (grown == NULL) {
                free(one);
                free(list);
                return fail(b, KSVC_E_NO_MEMORY, 0, "read", label);
            }
            list = grown;
            memcpy(list + used, one, bytes + 1);
            used += bytes + 1;
            free(one);
            at += len + 1;
        }
        list[used++] = 0; /* the empty string that ends the list */
        *out = list;
        *out_size = used;
        return KSVC_OK;
    }
    if (v->type == REG_DWORD && v->size != 4)
        return fail(b, KSVC_E_BAD_VALUE, 0, "REG_DWORD of wrong size:", label);
    *out = malloc(v->size > 0 ? v->size : 1);
    if (*out == NULL)
        return fail(b, KSVC_E_NO_MEMORY, 0, "read", label);
    if (v->size > 0)
        memcpy(*out, v->data, v->size);
    *out_size = v->size;
    return KSVC_OK;
}

static int w32_reg_read(const ksvc_platform *p, const char *key,
                        const char *name, uint32_t *type, void *buf,
                        size_t *size)
{
    backend *b = backend_of(p);
    wchar_t *wkey, *wname = NULL;
    unsigned char *data = NULL;
    size_t data_size = 0;
    char label[WHAT_MAX / 2];
    raw_value v;
    LSTATUS st;
    HKEY h;
    int rc;

    if (name == NULL || size == NULL || (buf == NULL && *size > 0))
        return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "reg_read", key);
    snprintf(label, sizeof label, "%s value %s", key != NULL ? key : "", name);
    rc = reg_path(b, key, &wkey);
    if (rc != KSVC_OK)
        return rc;
    wname = wide_from_utf8(name, -1);
    if (wname == NULL) {
        free(wkey);
        return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "value name (not UTF-8)",
                    label);
    }
    st = os_RegOpenKeyExW(b->hive, wkey, 0, KEY_QUERY_VALUE | REG_VIEW, &h);
    free(wkey);
    if (st != ERROR_SUCCESS) {
        free(wname);
        return fail_reg(b, st, "RegOpenKeyExW", key, NULL);
    }
    st = query_raw(h, wname, &v);
    os_RegCloseKey(h);
    free(wname);
    if (st != ERROR_SUCCESS)
        return fail_reg(b, st, "RegQueryValueExW", key, name);
    rc = convert_read(b, &v, label, &data, &data_size);
    free(v.data);
    if (rc != KSVC_OK)
        return rc;
    if (type != NULL)
        *type = v.type;
    if (data_size > *size) {
        *size = data_size;
        free(data);
        return fail(b, KSVC_E_TOO_LONG, 0, "reg_read buffer too small for",
                    label);
    }
    if (data_size > 0)
        memcpy(buf, data, data_size);
    *size = data_size;
    free(data);
    return KSVC_OK;
}

/* ---- listing the values of a key ---- */

/* Value names are at most 16,383 characters. */
#define VALUE_NAME_UNITS 16384

/* Value @index of @h as stored, with its name, growing the data buffer
 * while the value grows (another program may write it meanwhile). */
static LSTATUS enum_raw(HKEY h, DWORD index, wchar_t *wname, raw_value *v)
{
    DWORD room = 1024;
    LSTATUS st = ERROR_MORE_DATA;
    int tries;

    memset(v, 0, sizeof *v);
    for (tries = 0; tries < 8 && st == ERROR_MORE_DATA; tries++) {
        DWORD name_units = VALUE_NAME_UNITS;
        free(v->data);
        /* Two spare NULs: a string need not be terminated in the hive. */
        v->data = calloc((size_t)room + 4, 1);
        if (v->data == NULL)
            return ERROR_NOT_ENOUGH_MEMORY;
        v->size = room;
        st = os_RegEnumValueW(h, index, wname, &name_units, NULL, &v->type,
                              v->data, &v->size);
        if (st == ERROR_SUCCESS) {
            wname[name_units < VALUE_NAME_UNITS ? name_units
                                                : VALUE_NAME_UNITS - 1] = 0;
            v->present = 1;
            return st;
        }
        room = v->size > room ? v->size : room * 2;
    }
    free(v->data);
    v->data = NULL;
    return st;
}

/* A value name as UTF-8; a name no UTF-8 can carry comes back with U+FFFD
 * in place of its bad units and @bad set. */
static char *value_name_utf8(const wchar_t *wname, int *bad)
{
    char *name = utf8_from_wide(wname, -1, NULL);
    int len;

    *bad = 0;
    if (name != NULL)
        return name;
    *bad = 1;
    len = os_WideCharToMultiByte(CP_UTF8, 0, wname, -1, NULL, 0, NULL, NULL);
    if (len <= 0 || (name = malloc((size_t)len)) == NULL)
        return NULL;
    if (os_WideCharToMultiByte(CP_UTF8, 0, wname, -1, name, len, NULL, NULL) !=
        len) {
        free(name);
        return NULL;
    }
    return name;
}

/* Report one enumerated value to @fn: its data as reg_read gives it, or
 * its error when it cannot be read that way. */
static int report_value(backend *b, const char *key, const wchar_t *wname,
                        const raw_value *v, ksvc_reg_list_fn fn, void *arg)
{
    ksvc_reg_value value;
    unsigned char *data = NULL;
    char label[WHAT_MAX / 2];
    int bad_name, rc;

    memset(&value, 0, sizeof value);
    value.name = value_name_utf8(wname, &bad_name);
    if (value.name == NULL)
        return fail(b, KSVC_E_NO_MEMORY, 0, "reg_list", key);
    snprintf(label, sizeof label, "%s value %s", key, value.name);
    value.type = v->type;
    rc = convert_read(b, v, label, &data, &value.size);
    if (rc == KSVC_E_NO_MEMORY) {
        free((char *)value.name);
        return rc;
    }
    value.error = rc != KSVC_OK || bad_name ? KSVC_E_BAD_VALUE : KSVC_OK;
    value.data = value.error == KSVC_OK ? data : NULL;
    if (value.error != KSVC_OK)
        value.size = 0;
    rc = fn(arg, &value);
    free(data);
    free((char *)value.name);
    return rc;
}

static int w32_reg_list(const ksvc_platform *p, const char *key,
                        ksvc_reg_list_fn fn, void *arg)
{
    backend *b = backend_of(p);
    wchar_t *wkey, *wname;
    DWORD index;
    LSTATUS st;
    HKEY h;
    int rc = KSVC_OK;

    if (fn == NULL)
        return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "reg_list: no callback",
                    key);
    rc = reg_path(b, key, &wkey);
    if (rc != KSVC_OK)
        return rc;
    st = os_RegOpenKeyExW(b->hive, wkey, 0, KEY_QUERY_VALUE | REG_VIEW, &h);
    free(wkey);
    if (st != ERROR_SUCCESS)
        return fail_reg(b, st, "RegOpenKeyExW", key, NULL);
    wname = malloc(VALUE_NAME_UNITS * sizeof *wname);
    if (wname == NULL) {
        os_RegCloseKey(h);
        return fail(b, KSVC_E_NO_MEMORY, 0, "reg_list", key);
    }
    for (index = 0; rc == KSVC_OK; index++) {
        raw_value v;
        st = enum_raw(h, index, wname, &v);
        if (st == ERROR_NO_MORE_ITEMS)
            break;
        if (st != ERROR_SUCCESS) {
            rc = fail_reg(b, st, "RegEnumValueW", key, NULL);
            break;
        }
        rc = report_value(b, key, wname, &v, fn, arg);
        free(v.data);
    }
    free(wname);
    os_RegCloseKey(h);
    return rc;
}

/* One change ready for RegSetValueExW: the wide data of a string or list. */
typedef struct prepared {
    wchar_t *wname;
    BYTE *data;
    DWORD size;
} prepared;

/* Convert the UTF-8 data of @c into what the registry stores. */
static int prepare_change(backend *b, const char *key, const ksvc_reg_change *c,
                          prepared *out)
{
    const char *text = c->data;

    memset(out, 0, sizeof *out);
    if (c->name == NULL)
        return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "reg_write value", key);
    out->wname = wide_from_utf8(c->name, -1);
    if (out->wname == NULL)
        return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "value name (not UTF-8)",
                    c->name);
    if (c->remove)
        return KSVC_OK;
    if (c->type == KSVC_REG_DWORD) {
        if (c->data == NULL || c->size != 4)
            return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "REG_DWORD size",
                        c->name);
        out->data = malloc(4);
        if (out->data == NULL)
            return fail(b, KSVC_E_NO_MEMORY, 0, "reg_write", c->name);
        memcpy(out->data, c->data, 4);
        out->size = 4;
        return KSVC_OK;
    }
    if (c->type == KSVC_REG_SZ) {
        wchar_t *w;
        if (text == NULL || c->size == 0 || memchr(text, 0, c->size) == NULL)
            return fail(b, KSVC_E_INVALID_ARGUMENT, 0,
                        "REG_SZ without terminator", c->name);
        w = wide_from_utf8(text, -1);
        if (w == NULL)
            return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "REG_SZ not UTF-8",
                        c->name);
        out->data = (BYTE *)w;
        out->size = (DWORD)((wcslen(w) + 1) * sizeof *w);
        return KSVC_OK;
    }
    if (c->type == KSVC_REG_MULTI_SZ) {
        size_t at = 0, units = 0;
        wchar_t *list = NULL;
        if (text == NULL || c->size == 0)
            return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "REG_MULTI_SZ empty",
                        c->name);
        for (;;) {
            const char *end = memchr(text + at, 0, c->size - at);
            wchar_t *one, *grown;
            size_t len;
            if (end == NULL) {
                free(list);
                return fail(b, KSVC_E_INVALID_ARGUMENT, 0,
                            "REG_MULTI_SZ not terminated", c->name);
            }
            if (end == text + at)
                break; /* the empty string ends the list */
            one = wide_from_utf8(text + at, -1);
            if (one == NULL) {
                free(list);
                return fail(b, KSVC_E_INVALID_ARGUMENT, 0,
                            "REG_MULTI_SZ not UTF-8", c->name);
            }
            len = wcslen(one);
            grown = realloc(list, (units + len + 2) * sizeof *list);
            if (grown == NULL) {
                free(one);
                free(list);
                return fail(b, KSVC_E_NO_MEMORY, 0, "reg_write", c->name);
            }
            list = grown;
            memcpy(list + units, one, (len + 1) * sizeof *list);
            units += len + 1;
            free(one);
            at = (size_t)(end - text) + 1;
            if (at >= c->size) {
                free(list);
                return fail(b, KSVC_E_INVALID_ARGUMENT, 0,
                            "REG_MULTI_SZ not terminated", c->name);
            }
        }
        if (list == NULL) {
            list = malloc(sizeof *list);
            if (list == NULL)
                return fail(b, KSVC_E_NO_MEMORY, 0, "reg_write", c->name);
        }
        list[units++] = 0;
        out->data = (BYTE *)list;
        out->size = (DWORD)(units * sizeof *list);
        return KSVC_OK;
    }
    return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "unsupported value type",
                c->name);
}

static void prepared_free(prepared *list, size_t count)
{
    size_t i;
    if (list == NULL)
        return;
    for (i = 0; i < count; i++) {
        free(list[i].wname);
        free(list[i].data);
    }
    free(list);
}

static void saved_free(raw_value *saved, size_t count)
{
    size_t i;
    if (saved == NULL)
        return;
    for (i = 0; i < count; i++)
        free(saved[i].data);
    free(saved);
}

/* Put back, last first, the values of the first @done changes applied
 * (@order[0..done-1]) as @saved says. */
static void restore_values(HKEY h, const prepared *prep, const raw_value *saved,
                           const size_t *order, size_t done)
{
    while (done-- > 0) {
        size_t i = order[done];
        if (saved[i].present)
            os_RegSetValueExW(h, prep[i].wname, 0, saved[i].type,
                              saved[i].data, saved[i].size);
        else
            os_RegDeleteValueW(h, prep[i].wname);
    }
}

/* The order to apply changes in: every set, then every removal, each group
 * in the given order; exactly the given order when a name repeats. */
static void order_changes(const ksvc_reg_change *changes, size_t count,
                          size_t *order)
{
    size_t i, k, n = 0;
    int repeats = 0;

    for (i = 0; i < count && !repeats; i++)
        for (k = i + 1; k < count && !repeats; k++)
            repeats = _stricmp(changes[i].name, changes[k].name) == 0;
    for (i = 0; i < count; i++)
        if (repeats || !changes[i].remove)
            order[n++] = i;
    for (i = 0; i < count && !repeats; i++)
        if (changes[i].remove)
            order[n++] = i;
}

/* Apply the changes, all or none: every change is converted and checked
 * before the first write, the values they touch are saved, and a failed
 * write puts the saved values back (and removes a key it created). */
static int w32_reg_write(const ksvc_platform *p, const char *key,
                         const ksvc_reg_change *changes, size_t count)
{
    backend *b = backend_of(p);
    prepared *prep = NULL;
    raw_value *saved = NULL;
    wchar_t *wkey = NULL;
    size_t *order = NULL;
    DWORD disposition = 0;
    LSTATUS st;
    HKEY h;
    size_t i, n;
    int rc;

    if (changes == NULL && count > 0)
        return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "reg_write", key);
    rc = reg_path(b, key, &wkey);
    if (rc != KSVC_OK)
        return rc;
    prep = calloc(count > 0 ? count : 1, sizeof *prep);
    saved = calloc(count > 0 ? count : 1, sizeof *saved);
    if (prep == NULL || saved == NULL) {
        rc = fail(b, KSVC_E_NO_MEMORY, 0, "reg_write", key);
        goto out;
    }
    for (i = 0; i < count && rc == KSVC_OK; i++)
        rc = prepare_change(b, key, &changes[i], &prep[i]);
    if (rc != KSVC_OK)
        goto out;
    st = os_RegCreateKeyExW(b->hive, wkey, 0, NULL, REG_OPTION_NON_VOLATILE,
                            KEY_QUERY_VALUE | KEY_SET_VALUE | REG_VIEW, NULL,
                            &h, &disposition);
    if (st != ERROR_SUCCESS) {
        rc = fail_reg(b, st, "RegCreateKeyExW", key, NULL);
        goto out;
    }
    for (i = 0; i < count; i++) {
        st = query_raw(h, prep[i].wname, &saved[i]);
        if (st != ERROR_SUCCESS && st != ERROR_FILE_NOT_FOUND) {
            rc = fail_reg(b, st, "RegQueryValueExW", key, changes[i].name);
            break;
        }
    }
    /* Values are set first and removed last: an undo then only has to
     * write values back, so one failing call cannot leave, for example, a
     * value removed while its companion was never written.  Kept in the
     * given order when a name appears twice (the order then matters). */
    order = calloc(count > 0 ? count : 1, sizeof *order);
    if (order == NULL && rc == KSVC_OK)
        rc = fail(b, KSVC_E_NO_MEMORY, 0, "reg_write", key);
    if (rc == KSVC_OK)
        order_changes(changes, count, order);
    for (n = 0; rc == KSVC_OK && n < count; n++) {
        i = order[n];
        if (changes[i].remove) {
            st = os_RegDeleteValueW(h, prep[i].wname);
            if (st == ERROR_FILE_NOT_FOUND)
                st = ERROR_SUCCESS;
            if (st != ERROR_SUCCESS)
                rc = fail_reg(b, st, "RegDeleteValueW", key, changes[i].name);
        } else {
            st = os_RegSetValueExW(h, prep[i].wname, 0, changes[i].type,
                                   prep[i].data, prep[i].size);
            if (st != ERROR_SUCCESS)
                rc = fail_reg(b, st, "RegSetValueExW", key, changes[i].name);
        }
        if (rc != KSVC_OK)
            restore_values(h, prep, saved, order, n);
    }
    free(order);
    os_RegCloseKey(h);
    if (rc != KSVC_OK && disposition == REG_CREATED_NEW_KEY)
        os_RegDeleteKeyExW(b->hive, wkey, REG_VIEW, 0);
out:
    prepared_free(prep, count);
    saved_free(saved, count);
    free(wkey);
    return rc;
}

static int w32_reg_key_exists(const ksvc_platform *p, const char *key,
                              int *exists)
{
    backend *b = backend_of(p);
    wchar_t *wkey;
    LSTATUS st;
    HKEY h;
    int rc = reg_path(b, key, &wkey);

    if (rc != KSVC_OK)
        return rc;
    st = os_RegOpenKeyExW(b->hive, wkey, 0, KEY_QUERY_VALUE | REG_VIEW, &h);
    free(wkey);
    if (st == ERROR_SUCCESS) {
        os_RegCloseKey(h);
        *exists = 1;
        return KSVC_OK;
    }
    if (st == ERROR_FILE_NOT_FOUND) {
        *exists = 0;
        return KSVC_OK;
    }
    if (st == ERROR_ACCESS_DENIED) {
        *exists = 1; /* only an existing key can deny access */
        return KSVC_OK;
    }
    return fail_reg(b, st, "RegOpenKeyExW", key, NULL);
}

/* ------------------------------------------------------------------------ */
/* Machine facts                                                            */
/* ------------------------------------------------------------------------ */

#ifndef IMAGE_FILE_MACHINE_ARM64
#define IMAGE_FILE_MACHINE_ARM64 0xAA64
#endif
#ifndef PROCESSOR_ARCHITECTURE_ARM64
#define PROCESSOR_ARCHITECTURE_ARM64 12
#endif

static int w32_arch(const ksvc_platform *p, ksvc_arch *arch)
{
    backend *b = backend_of(p);

    /* IsWow64Process2 sees through x64 emulation on arm64, where
     * GetNativeSystemInfo would answer x64. */
    if (os_IsWow64Process2 != NULL) {
        USHORT process = 0, native = 0;
        if (!os_IsWow64Process2(os_GetCurrentProcess(), &process, &native))
            return fail_last(b, "IsWow64Process2", "current process");
        *arch = native == IMAGE_FILE_MACHINE_AMD64   ? KSVC_ARCH_X64
                : native == IMAGE_FILE_MACHINE_ARM64 ? KSVC_ARCH_ARM64
                                                     : KSVC_ARCH_UNKNOWN;
        return KSVC_OK;
    } else {
        SYSTEM_INFO si;
        memset(&si, 0, sizeof si);
        os_GetNativeSystemInfo(&si);
        *arch = si.wProcessorArchitecture == PROCESSOR_ARCHITECTURE_AMD64
                    ? KSVC_ARCH_X64
                : si.wProcessorArchitecture == PROCESSOR_ARCHITECTURE_ARM64
                    ? KSVC_ARCH_ARM64
                    : KSVC_ARCH_UNKNOWN;
        return KSVC_OK;
    }
}

/* Windows without elevation: membership of Administrators decides. */
static int admin_member(backend *b, int *elevated)
{
    SID_IDENTIFIER_AUTHORITY nt = { SECURITY_NT_AUTHORITY };
    PSID admins = NULL;
    BOOL member = FALSE;

    if (!os_AllocateAndInitializeSid(&nt, 2, SECURITY_BUILTIN_DOMAIN_RID,
                                     DOMAIN_ALIAS_RID_ADMINS, 0, 0, 0, 0, 0, 0,
                                     &admins))
        return fail_last(b, "AllocateAndInitializeSid", "Administrators");
    if (!os_CheckTokenMembership(NULL, admins, &member)) {
        int rc = fail_last(b, "CheckTokenMembership", "Administrators");
        os_FreeSid(admins);
        return rc;
    }
    os_FreeSid(admins);
    *elevated = member != FALSE;
    return KSVC_OK;
}

static int w32_elevated(const ksvc_platform *p, int *elevated)
{
    backend *b = backend_of(p);
    TOKEN_ELEVATION elevation;
    DWORD got = 0, err;
    HANDLE token;

    if (!os_OpenProcessToken(os_GetCurrentProcess(), TOKEN_QUERY, &token))
        return fail_last(b, "OpenProcessToken", "current process");
    if (os_GetTokenInformation(token, TokenElevation, &elevation,
                               sizeof elevation, &got)) {
        os_CloseHandle(token);
        *elevated = elevation.TokenIsElevated != 0;
        return KSVC_OK;
    }
    err = GetLastError();
    os_CloseHandle(token);
    if (err == ERROR_INVALID_PARAMETER) /* no TokenElevation class */
        return admin_member(b, elevated);
    return fail(b, map_error(err), err, "GetTokenInformation",
                "TokenElevation");
}

/* ------------------------------------------------------------------------ */
/* Hashing                                                                  */
/* ------------------------------------------------------------------------ */

/* SHA-256 through CNG (bcrypt.dll), which uses the processor's SHA
 * instructions where it has them: the core's portable SHA-256 is several
 * times slower on a 128 MiB kernel. */

/* NTSTATUS codes, compared as DWORD (headers define some unsigned). */
#define NT_NO_MEMORY 0xC0000017UL
#define NT_NOT_FOUND 0xC0000225UL

/* BCryptHashData takes at most a ULONG at a time. */
#define HASH_FEED_MAX 0x40000000u

typedef struct hash_state {
    backend *b;
    BCRYPT_HASH_HANDLE handle;
} hash_state;

/* The library's code for an NTSTATUS of CNG. */
static int map_ntstatus(NTSTATUS status)
{
    if ((DWORD)status == NT_NO_MEMORY)
        return KSVC_E_NO_MEMORY;
    if ((DWORD)status == NT_NOT_FOUND)
        return KSVC_E_UNSUPPORTED;
    return KSVC_E_IO;
}

static int fail_hash(backend *b, NTSTATUS status, const char *call)
{
    return fail(b, map_ntstatus(status), (DWORD)status, call, "SHA-256");
}

static int w32_sha256_begin(const ksvc_platform *p, void **state)
{
    backend *b = backend_of(p);
    hash_state *h;
    NTSTATUS st;

    *state = NULL;
    if (b->sha256 == NULL) {
        st = os_BCryptOpenAlgorithmProvider(&b->sha256, BCRYPT_SHA256_ALGORITHM,
                                            NULL, 0);
        if (!BCRYPT_SUCCESS(st)) {
            b->sha256 = NULL;
            return fail_hash(b, st, "BCryptOpenAlgorithmProvider");
        }
    }
    h = calloc(1, sizeof *h);
    if (h == NULL)
        return fail(b, KSVC_E_NO_MEMORY, 0, "hash state", "SHA-256");
    h->b = b;
    /* No object buffer: CNG allocates it (Windows 7 and later). */
    st = os_BCryptCreateHash(b->sha256, &h->handle, NULL, 0, NULL, 0, 0);
    if (!BCRYPT_SUCCESS(st)) {
        free(h);
        return fail_hash(b, st, "BCryptCreateHash");
    }
    *state = h;
    return KSVC_OK;
}

static int w32_sha256_update(void *state, const void *data, size_t size)
{
    hash_state *h = state;
    const unsigned char *at = data;

    while (size > 0) {
        ULONG take = size > HASH_FEED_MAX ? HASH_FEED_MAX : (ULONG)size;
        NTSTATUS st = os_BCryptHashData(h->handle, (PUCHAR)at, take, 0);
        if (!BCRYPT_SUCCESS(st))
            return fail_hash(h->b, st, "BCryptHashData");
        at += take;
        size -= take;
    }
    return KSVC_OK;
}

static int w32_sha256_end(void *state, unsigned char digest[32])
{
    hash_state *h = state;
    int rc = KSVC_OK;

    if (digest != NULL) {
        NTSTATUS st = os_BCryptFinishHash(h->handle, digest, 32, 0);
        if (!BCRYPT_SUCCESS(st))
            rc = fail_hash(h->b, st, "BCryptFinishHash");
    }
    /* Destroyed whatever happened: the state is gone on return. */
    os_BCryptDestroyHash(h->handle);
    free(h);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Servicing lock                                                           */
/* ------------------------------------------------------------------------ */

/* Open (creating it, and its folder, when needed) the lock file for
 * reading and writing. */
static HANDLE open_lock_file(backend *b)
{
    const DWORD share = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;
    HANDLE h = os_CreateFileW(b->lock_path, GENERIC_READ | GENERIC_WRITE, share,
                              NULL, OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);

    if (h == INVALID_HANDLE_VALUE && GetLastError() == ERROR_PATH_NOT_FOUND) {
        wchar_t *folder = wide_concat(b->lock_path, NULL);
        wchar_t *sep = folder != NULL ? wcsrchr(folder, L'\\') : NULL;
        if (sep != NULL) {
            *sep = 0;
            if (create_folders(folder))
                h = os_CreateFileW(b->lock_path, GENERIC_READ | GENERIC_WRITE,
                                   share, NULL, OPEN_ALWAYS,
                                   FILE_ATTRIBUTE_NORMAL, NULL);
        }
        free(folder);
    }
    return h;
}

/* The lock file for a shared lock: a read-only handle on an existing file
 * (LockFileEx works on it), else the file created when the caller may.
 * A file that is missing and may not be created is KSVC_E_NOT_FOUND. */
static int open_lock_shared(backend *b, HANDLE *out)
{
    const DWORD share = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;
    DWORD err;

    *out = os_CreateFileW(b->lock_path, GENERIC_READ, share, NULL,
                          OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    if (*out != INVALID_HANDLE_VALUE)
        return KSVC_OK;
    err = GetLastError();
    if (err != ERROR_FILE_NOT_FOUND && err != ERROR_PATH_NOT_FOUND)
        return fail(b, map_error(err), err, "CreateFileW", "kservice.lock");
    *out = open_lock_file(b);
    if (*out != INVALID_HANDLE_VALUE)
        return KSVC_OK;
    err = GetLastError();
    if (err == ERROR_ACCESS_DENIED || err == ERROR_WRITE_PROTECT)
        return fail(b, KSVC_E_NOT_FOUND, err,
                    "missing, and cannot be created: CreateFileW",
                    "kservice.lock");
    return fail(b, map_error(err), err, "CreateFileW", "kservice.lock");
}

static int w32_lock_mode(const ksvc_platform *p, unsigned mode,
                         unsigned timeout_ms)
{
    backend *b = backend_of(p);
    const DWORD flags = LOCKFILE_FAIL_IMMEDIATELY |
                        (mode == KSVC_LOCK_SHARED ? 0 : LOCKFILE_EXCLUSIVE_LOCK);
    ULONGLONG start;
    HANDLE h;
    int rc;

    if (mode != KSVC_LOCK_SHARED && mode != KSVC_LOCK_EXCLUSIVE)
        return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "unknown lock mode",
                    "kservice.lock");
    if (b->lock_handle != INVALID_HANDLE_VALUE)
        return fail(b, KSVC_E_BUSY, 0, "already held by this table",
                    "kservice.lock");
    if (mode == KSVC_LOCK_SHARED) {
        rc = open_lock_shared(b, &h);
        if (rc != KSVC_OK)
            return rc;
    } else {
        h = open_lock_file(b);
        if (h == INVALID_HANDLE_VALUE)
            return fail_last(b, "CreateFileW", "kservice.lock");
    }
    start = os_GetTickCount64();
    for (;;) {
        OVERLAPPED ov;
        ULONGLONG waited;
        DWORD err;
        memset(&ov, 0, sizeof ov);
        /* A byte-range lock is per handle and dies with the process, so a
         * crashed servicer never leaves the machine locked. */
        if (os_LockFileEx(h, flags, 0, 1, 0, &ov)) {
            b->lock_handle = h;
            return KSVC_OK;
        }
        err = GetLastError();
        if (err != ERROR_LOCK_VIOLATION && err != ERROR_IO_PENDING) {
            os_CloseHandle(h);
            return fail(b, map_error(err), err, "LockFileEx", "kservice.lock");
        }
        waited = os_GetTickCount64() - start;
        if (waited >= timeout_ms) {
            os_CloseHandle(h);
            return fail(b, KSVC_E_BUSY, err, "LockFileEx", "kservice.lock");
        }
        os_Sleep(timeout_ms - waited < 20 ? (DWORD)(timeout_ms - waited) : 20);
    }
}

static int w32_lock(const ksvc_platform *p, unsigned timeout_ms)
{
    return w32_lock_mode(p, KSVC_LOCK_EXCLUSIVE, timeout_ms);
}

static int w32_unlock(const ksvc_platform *p)
{
    backend *b = backend_of(p);
    OVERLAPPED ov;
    int rc = KSVC_OK;

    if (b->lock_handle == INVALID_HANDLE_VALUE)
        return KSVC_OK;
    memset(&ov, 0, sizeof ov);
    if (!os_UnlockFileEx(b->lock_handle, 0, 1, 0, &ov))
        rc = fail_last(b, "UnlockFileEx", "kservice.lock");
    /* Closing the handle releases the lock even when unlocking failed. */
    os_CloseHandle(b->lock_handle);
    b->lock_handle = INVALID_HANDLE_VALUE;
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Opening                                                                  */
/* ------------------------------------------------------------------------ */

/* %SystemRoot%\System32\lxss\tools as an absolute wide path.  A 32-bit
 * process on 64-bit Windows goes through Sysnative: System32 would be
 * redirected to SysWOW64 for it. */
static int default_tools(backend *b, wchar_t **out)
{
    wchar_t dir[MAX_PATH + 1];
    BOOL wow64 = FALSE;
    UINT len;

    *out = NULL;
    if (!os_IsWow64Process(os_GetCurrentProcess(), &wow64))
        return fail_last(b, "IsWow64Process", "current process");
    if (wow64) {
        len = os_GetSystemWindowsDirectoryW(dir, MAX_PATH + 1);
        if (len == 0 || len > MAX_PATH)
            return fail_last(b, "GetSystemWindowsDirectoryW", "");
        *out = wide_concat(dir, L"\\Sysnative\\lxss\\tools");
    } else {
        len = os_GetSystemDirectoryW(dir, MAX_PATH + 1);
        if (len == 0 || len > MAX_PATH)
            return fail_last(b, "GetSystemDirectoryW", "");
        *out = wide_concat(dir, L"\\lxss\\tools");
    }
    if (*out == NULL)
        return fail(b, KSVC_E_NO_MEMORY, 0, "tools folder", "");
    return KSVC_OK;
}

/* Resolve the tools folder and the lock file beside it. */
static int set_tools(backend *b, const char *tools_path)
{
    wchar_t *given = NULL, *full, *sep;
    int rc;

    if (tools_path != NULL) {
        if (tools_path[0] == 0)
            return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "tools_path", "(empty)");
        given = wide_from_utf8(tools_path, -1);
        if (given == NULL)
            return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "tools_path (not UTF-8)",
                        tools_path);
    } else {
        rc = default_tools(b, &given);
        if (rc != KSVC_OK)
            return rc;
    }
    full = full_path_of(given);
    free(given);
    if (full == NULL)
        return fail_last(b, "GetFullPathNameW",
                         tools_path != NULL ? tools_path : "tools folder");
    b->tools = extended_path(full);
    free(full);
    if (b->tools == NULL)
        return fail(b, KSVC_E_NO_MEMORY, 0, "tools folder", "");
    b->tools_display = display_path(b->tools);
    if (b->tools_display == NULL)
        return fail(b, KSVC_E_NO_MEMORY, 0, "tools folder", "");
    /* The lock lives in the folder that holds the tools folder: tied to the
     * machine being serviced, and never listed among the slot files. */
    sep = wcsrchr(b->tools, L'\\');
    if (sep == NULL || sep - b->tools <= 7)
        return fail(b, KSVC_E_INVALID_ARGUMENT, 0,
                    "tools folder is a volume root:", b->tools_display);
    b->lock_path = malloc(((size_t)(sep - b->tools) + 16) * sizeof(wchar_t));
    if (b->lock_path == NULL)
        return fail(b, KSVC_E_NO_MEMORY, 0, "lock", "");
    memcpy(b->lock_path, b->tools, (size_t)(sep - b->tools) * sizeof(wchar_t));
    wcscpy(b->lock_path + (sep - b->tools), L"\\kservice.lock");
    return KSVC_OK;
}

/* The hive and key that stand for HKEY_LOCAL_MACHINE. */
static int set_registry_root(backend *b, const char *root)
{
    static const struct {
        const char *name;
        HKEY hive;
    } hives[] = {
        { "HKEY_LOCAL_MACHINE", HKEY_LOCAL_MACHINE },
        { "HKLM", HKEY_LOCAL_MACHINE },
        { "HKEY_CURRENT_USER", HKEY_CURRENT_USER },
        { "HKCU", HKEY_CURRENT_USER },
    };
    size_t i;

    b->hive = HKEY_LOCAL_MACHINE;
    b->reg_prefix = NULL;
    if (root == NULL)
        return KSVC_OK;
    for (i = 0; i < sizeof hives / sizeof hives[0]; i++) {
        size_t len = strlen(hives[i].name);
        const char *rest;
        if (_strnicmp(root, hives[i].name, len) != 0)
            continue;
        rest = root + len;
        if (rest[0] != 0 && rest[0] != '\\')
            continue;
        b->hive = hives[i].hive;
        if (rest[0] == 0 || rest[1] == 0)
            return KSVC_OK;
        if (rest[1] == '\\' || rest[strlen(rest) - 1] == '\\')
            break;
        b->reg_prefix = wide_from_utf8(rest + 1, -1);
        if (b->reg_prefix == NULL)
            break;
        return KSVC_OK;
    }
    return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "registry_root", root);
}

static void backend_free(backend *b)
{
    if (b == NULL)
        return;
    if (b->lock_handle != INVALID_HANDLE_VALUE)
        w32_unlock(&b->table);
    if (b->tools_handle != INVALID_HANDLE_VALUE)
        os_CloseHandle(b->tools_handle);
    if (b->sha256 != NULL)
        os_BCryptCloseAlgorithmProvider(b->sha256, 0);
    free(b->tools);
    free(b->tools_display);
    free(b->lock_path);
    free(b->reg_prefix);
    free(b);
}

static void w32_destroy(ksvc_platform *p)
{
    if (p != NULL)
        backend_free(backend_of(p));
}

KSVC_API int ksvc_win32_open(ksvc_platform **out,
                             const ksvc_win32_options *options)
{
    ksvc_win32_options defaults = KSVC_WIN32_OPTIONS_INIT;
    backend *b;
    int rc;

    if (out == NULL)
        return KSVC_E_INVALID_ARGUMENT;
    *out = NULL;
    if (options == NULL)
        options = &defaults;
    if (options->version != KSVC_WIN32_OPTIONS_VERSION)
        return KSVC_E_STRUCT_VERSION;
    syscalls_resolve();
    b = calloc(1, sizeof *b);
    if (b == NULL)
        return KSVC_E_NO_MEMORY;
    b->tools_handle = INVALID_HANDLE_VALUE;
    b->lock_handle = INVALID_HANDLE_VALUE;
    b->table.version = KSVC_PLATFORM_VERSION;
    b->table.name = "win32";
    b->table.data = b;
    b->table.last_error = w32_last_error;
    b->table.file_open = w32_file_open;
    b->table.payload_open = w32_payload_open;
    b->table.file_read = w32_file_read;
    b->table.file_write = w32_file_write;
    b->table.file_sync = w32_file_sync;
    b->table.file_size = w32_file_size;
    b->table.file_close = w32_file_close;
    b->table.stat = w32_stat;
    b->table.rename = w32_rename;
    b->table.remove = w32_remove;
    b->table.hard_link = w32_hard_link;
    b->table.list = w32_list;
    b->table.full_path = w32_full_path;
    b->table.reg_read = w32_reg_read;
    b->table.reg_write = w32_reg_write;
    b->table.reg_key_exists = w32_reg_key_exists;
    b->table.arch = w32_arch;
    b->table.elevated = w32_elevated;
    b->table.lock = w32_lock;
    b->table.unlock = w32_unlock;
    b->table.destroy = w32_destroy;
    b->table.reg_list = w32_reg_list;
    b->table.lock_mode = w32_lock_mode;
    b->table.sha256_begin = w32_sha256_begin;
    b->table.sha256_update = w32_sha256_update;
    b->table.sha256_end = w32_sha256_end;

    rc = set_registry_root(b, options->registry_root);
    if (rc == KSVC_OK)
        rc = set_tools(b, options->tools_path);
    if (rc == KSVC_OK) {
        /* Refuse at once a tools folder that is a link; a missing one is
         * fine (a fresh machine) and is made by the first install. */
        rc = tools_check(b, 0);
        if (rc == KSVC_E_NOT_FOUND)
            rc = KSVC_OK;
    }
    if (rc != KSVC_OK) {
        backend_free(b);
        return rc;
    }
    *out = &b->table;
    return KSVC_OK;
}

KSVC_API void ksvc_win32_free(ksvc_platform *platform)
{
    w32_destroy(platform);
}
