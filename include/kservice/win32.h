/**
 * @file win32.h
 * @brief The Win32 backend: the real registry and `System32\lxss\tools`.
 *
 * By default the backend services the machine it runs on: the kernels in
 * `%%SystemRoot%\System32\lxss\tools` (reached through `Sysnative` when a
 * 32-bit process runs on 64-bit Windows, so that WOW64 file redirection
 * never sends it to `SysWOW64`) and the registry below
 * `HKEY_LOCAL_MACHINE`, always in its 64-bit view (`KEY_WOW64_64KEY`).
 * Both places can be moved through ::ksvc_win32_options, which is how a test
 * or an installer's dry run keeps away from the real ones.
 *
 * The machine facts come from the operating system: the native architecture
 * from `IsWow64Process2` (or `GetNativeSystemInfo` where that call is
 * missing) and elevation from the process token (`TokenElevation`, or
 * membership of Administrators where Windows has no elevation).  The
 * servicing lock is a `LockFileEx` lock on `kservice.lock` in the folder
 * that holds the tools folder, so two processes never service at once.
 *
 * Every Win32 call the backend makes goes through one process-wide table of
 * function pointers, as in SQLite's os_win VFS.  A test replaces an entry
 * with ksvc_win32_syscall_set() to make that call fail or answer something
 * else (a standard user's token, an arm64 processor), and puts the system's
 * function back afterwards.  Production code never touches the table.
 *
 * Only built for Windows.
 */
#ifndef KSERVICE_WIN32_H
#define KSERVICE_WIN32_H

#include "export.h"
#include "platform.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Options of ksvc_win32_open(). */
typedef struct ksvc_win32_options {
    unsigned version; /**< #KSVC_WIN32_OPTIONS_VERSION */
    /** The tools folder, UTF-8, absolute or relative to the current folder;
     * NULL for `%%SystemRoot%\System32\lxss\tools`.  Paths longer than
     * `MAX_PATH` are fine. */
    const char *tools_path;
    /** Where the registry paths the core names (`SOFTWARE\...`,
     * `SYSTEM\...`) are looked up, UTF-8: NULL for `HKEY_LOCAL_MACHINE`
     * itself, or a key that stands for it, written as a hive (`HKLM`,
     * `HKEY_LOCAL_MACHINE`, `HKCU` or `HKEY_CURRENT_USER`) optionally
     * followed by `\` and a key path, such as
     * `HKCU\Software\kservice-test`. */
    const char *registry_root;
} ksvc_win32_options;

/** Current version of ::ksvc_win32_options. */
#define KSVC_WIN32_OPTIONS_VERSION 1
/** Initialiser for ::ksvc_win32_options: the real machine. */
#define KSVC_WIN32_OPTIONS_INIT { KSVC_WIN32_OPTIONS_VERSION, NULL, NULL }

/**
 * Make a platform table over this Windows machine.  The tools folder need
 * not exist yet (a fresh machine has none): the backend creates it when the
 * first kernel file is written.  When it exists it must be a real folder.
 * @param out     receives the table; free it with ksvc_win32_free()
 * @param options the options, or NULL for the real machine
 * @return #KSVC_OK; #KSVC_E_UNSAFE_PATH when the tools folder is a symbolic
 *         link, a junction or another reparse point; #KSVC_E_INVALID_ARGUMENT
 *         for a path or root that is not valid UTF-8 or names no hive;
 *         #KSVC_E_STRUCT_VERSION; #KSVC_E_NO_MEMORY; or the mapped error of
 *         the Win32 call that failed
 */
KSVC_API int ksvc_win32_open(ksvc_platform **out,
                             const ksvc_win32_options *options);

/**
 * Free a table made by ksvc_win32_open(), releasing its lock if held.
 * @param platform the table, or NULL
 */
KSVC_API void ksvc_win32_free(ksvc_platform *platform);

/** The type every entry of the Win32 call table is stored as; cast it to
 * and from the call's real function pointer type. */
typedef void (*ksvc_win32_syscall_ptr)(void);

/**
 * Replace one entry of the backend's Win32 call table (for tests).  The
 * table is shared by every backend table in the process and is not
 * synchronised: change it only while no other thread uses the backend.
 * @param name the Win32 function's name, such as "CreateFileW" or
 *             "RegSetValueExW"; NULL puts back every system function
 * @param fn   the replacement, with the real function's signature cast to
 *             ::ksvc_win32_syscall_ptr; NULL puts back the system function
 * @return #KSVC_OK, or #KSVC_E_NOT_FOUND for a name not in the table
 */
KSVC_API int ksvc_win32_syscall_set(const char *name,
                                    ksvc_win32_syscall_ptr fn);

/**
 * The function an entry of the Win32 call table calls now, for a test's
 * replacement that forwards to the real function.
 * @param name the Win32 function's name
 * @return the current function; NULL for a name not in the table, or for a
 *         call this Windows does not have (such as `IsWow64Process2` before
 *         Windows 10 version 1511)
 */
KSVC_API ksvc_win32_syscall_ptr ksvc_win32_syscall_get(const char *name);

/**
 * Walk the names in the Win32 call table.
 * @param name NULL for the first name, or a name from the table
 * @return the name after @p name, or NULL after the last one or for a name
 *         not in the table
 */
KSVC_API const char *ksvc_win32_syscall_next(const char *name);

#ifdef __cplusplus
}
#endif

#endif /* KSERVICE_WIN32_H */
