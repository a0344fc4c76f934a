/*
 * The Win32 backend: the table and its life (open, destroy), the errors
 * every method records for last_error, and the registry root and tools
 * folder an open resolves.
 */
#include "internal.h"

backend *backend_of(const ksvc_platform *p)
{
    return (backend *)p->data;
}

#ifndef ERROR_DISK_QUOTA_EXCEEDED
#define ERROR_DISK_QUOTA_EXCEEDED 1295L
#endif

/* The library's code for a Win32 error or LSTATUS. */
int map_error(DWORD code)
{
    switch (code) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_DRIVE:
    case ERROR_BAD_NETPATH:
        return KSVC_E_NOT_FOUND;
    case ERROR_ACCESS_DENIED:
    case ERROR_PRIVILEGE_NOT_HELD:
    case ERROR_NETWORK_ACCESS_DENIED:
        return KSVC_E_ACCESS;
    case ERROR_WRITE_PROTECT:
        return KSVC_E_READ_ONLY_MEDIA;
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
int fail(backend *b, int code, DWORD os, const char *call,
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
int fail_last(backend *b, const char *call, const char *object)
{
    DWORD os = GetLastError();
    return fail(b, map_error(os), os, call, object);
}

/* Record the failure of a registry call that returned @status. */
int fail_reg(backend *b, LSTATUS status, const char *call,
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
    b->table.write_access = w32_write_access;
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
