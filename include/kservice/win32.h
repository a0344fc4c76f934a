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
 * function pointers, as in SQLite's os_win VFS, so that the library's own
 * tests (which link the backend's objects) can make any call fail.  The
 * table is not part of the API: libkservice 1.0 exported it, 1.1 no longer
 * does.
 *
 * Free the table with its #ksvc_platform::destroy method (or
 * ksvc_win32_free(), the same).
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

#ifdef __cplusplus
}
#endif

#endif /* KSERVICE_WIN32_H */
