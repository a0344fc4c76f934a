/*
 * What the files of the Win32 backend share (one internal header, as the
 * POSIX backend has its own): the call table's types and os_* call
 * macros, the backend's state, and the functions one file offers the
 * others.
 *
 * UTF-8 crosses the platform table; inside, every path is a wide `\\?\`
 * path, so names beyond MAX_PATH and outside the ANSI code page work.  The
 * backend makes no policy decision: it answers the core's questions and
 * reports the OS error behind every failure.  Files, by job (the POSIX
 * backend has the same names): platform.c (the table, open, destroy,
 * errors), files.c, registry.c, facts.c, lock.c, hash.c, rights.c (who
 * may write); and, of this backend only, syscalls.c (the call table) and paths.c (text and paths).
 */
#ifndef KSVC_W32_INTERNAL_H
#define KSVC_W32_INTERNAL_H

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <aclapi.h>
#include <bcrypt.h>
#include <sddl.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include <kservice/error.h>
#include <kservice/platform.h>
#include <kservice/win32.h>

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
#define os_GetSecurityInfo OS(GetSecurityInfo)
#define os_GetAce OS(GetAce)
#define os_ConvertSidToStringSidA OS(ConvertSidToStringSidA)
#define os_ConvertStringSecurityDescriptorToSecurityDescriptorW                \
    OS(ConvertStringSecurityDescriptorToSecurityDescriptorW)
#define os_BCryptOpenAlgorithmProvider OS(BCryptOpenAlgorithmProvider)
#define os_BCryptCloseAlgorithmProvider OS(BCryptCloseAlgorithmProvider)
#define os_BCryptCreateHash OS(BCryptCreateHash)
#define os_BCryptHashData OS(BCryptHashData)
#define os_BCryptFinishHash OS(BCryptFinishHash)
#define os_BCryptDestroyHash OS(BCryptDestroyHash)
#define os_FormatMessageW OS(FormatMessageW)
#define os_MultiByteToWideChar OS(MultiByteToWideChar)
#define os_WideCharToMultiByte OS(WideCharToMultiByte)

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


/* Link names: what one file offers the others, in the library's
 * namespace (the code uses the short names). */
#define backend_of ksvc__w32_backend_of
#define create_folders ksvc__w32_create_folders
#define display_path ksvc__w32_display_path
#define extended_path ksvc__w32_extended_path
#define fail ksvc__w32_fail
#define fail_last ksvc__w32_fail_last
#define fail_reg ksvc__w32_fail_reg
#define full_path_of ksvc__w32_full_path_of
#define reg_path ksvc__w32_reg_path
#define secure_folder_attributes ksvc__w32_secure_folder_attributes
#define map_error ksvc__w32_map_error
#define syscalls ksvc__w32_syscalls
#define syscalls_resolve ksvc__w32_syscalls_resolve
#define tools_check ksvc__w32_tools_check
#define tools_child ksvc__w32_tools_child
#define utf8_from_wide ksvc__w32_utf8_from_wide
#define w32_arch ksvc__w32_arch
#define w32_elevated ksvc__w32_elevated
#define w32_file_close ksvc__w32_file_close
#define w32_file_open ksvc__w32_file_open
#define w32_file_read ksvc__w32_file_read
#define w32_file_size ksvc__w32_file_size
#define w32_file_sync ksvc__w32_file_sync
#define w32_file_write ksvc__w32_file_write
#define w32_full_path ksvc__w32_full_path
#define w32_hard_link ksvc__w32_hard_link
#define w32_list ksvc__w32_list
#define w32_lock ksvc__w32_lock
#define w32_lock_mode ksvc__w32_lock_mode
#define w32_payload_open ksvc__w32_payload_open
#define w32_reg_key_exists ksvc__w32_reg_key_exists
#define w32_reg_list ksvc__w32_reg_list
#define w32_reg_read ksvc__w32_reg_read
#define w32_reg_write ksvc__w32_reg_write
#define w32_remove ksvc__w32_remove
#define w32_rename ksvc__w32_rename
#define w32_sha256_begin ksvc__w32_sha256_begin
#define w32_sha256_end ksvc__w32_sha256_end
#define w32_sha256_update ksvc__w32_sha256_update
#define w32_stat ksvc__w32_stat
#define w32_unlock ksvc__w32_unlock
#define w32_write_access ksvc__w32_write_access
#define wide_concat ksvc__w32_wide_concat
#define wide_from_utf8 ksvc__w32_wide_from_utf8

/* syscalls.c */
void syscalls_resolve(void);

/* platform.c */
backend *backend_of(const ksvc_platform *p);
int map_error(DWORD code);
int fail(backend *b, int code, DWORD os, const char *call,
                const char *object);
int fail_last(backend *b, const char *call, const char *object);
int fail_reg(backend *b, LSTATUS status, const char *call,
                    const char *key, const char *name);

/* paths.c */
wchar_t *wide_from_utf8(const char *text, int len);
char *utf8_from_wide(const wchar_t *text, int units, size_t *bytes);
wchar_t *wide_concat(const wchar_t *a, const wchar_t *b);
wchar_t *full_path_of(const wchar_t *path);
wchar_t *extended_path(const wchar_t *full);
char *display_path(const wchar_t *ext);
int tools_child(backend *b, const char *name, wchar_t **out);

/* files.c */
BOOL create_folders(wchar_t *path);
int tools_check(backend *b, int create);
int w32_file_open(const ksvc_platform *p, const char *name,
                         unsigned flags, ksvc_file **out);
int w32_payload_open(const ksvc_platform *p, const char *path,
                            ksvc_file **out);
int w32_file_read(ksvc_file *f, uint64_t offset, void *buf,
                         size_t size, size_t *got);
int w32_file_write(ksvc_file *f, uint64_t offset, const void *buf,
                          size_t size);
int w32_file_sync(ksvc_file *f);
int w32_file_size(ksvc_file *f, uint64_t *size);
int w32_file_close(ksvc_file *f);
int w32_stat(const ksvc_platform *p, const char *name,
                    ksvc_file_info *info);
int w32_rename(const ksvc_platform *p, const char *from, const char *to);
int w32_remove(const ksvc_platform *p, const char *name);
int w32_hard_link(const ksvc_platform *p, const char *existing,
                         const char *new_name);
int w32_list(const ksvc_platform *p, ksvc_list_fn fn, void *arg);
int w32_full_path(const ksvc_platform *p, const char *name, char *buf,
                         size_t size);

/* registry.c */
/* The wide path below the hive of the core's @p key (`SOFTWARE\...`). */
int reg_path(backend *b, const char *key, wchar_t **out);
int w32_reg_read(const ksvc_platform *p, const char *key,
                        const char *name, uint32_t *type, void *buf,
                        size_t *size);
int w32_reg_list(const ksvc_platform *p, const char *key,
                        ksvc_reg_list_fn fn, void *arg);
int w32_reg_write(const ksvc_platform *p, const char *key,
                         const ksvc_reg_change *changes, size_t count);
int w32_reg_key_exists(const ksvc_platform *p, const char *key,
                              int *exists);

/* facts.c */
int w32_arch(const ksvc_platform *p, ksvc_arch *arch);
int w32_elevated(const ksvc_platform *p, int *elevated);

/* rights.c */
int w32_write_access(const ksvc_platform *p, const char *name,
                     unsigned *others_may_write, char *who, size_t who_size,
                     char *fix, size_t fix_size);
/* Fill @p sa with the security of a folder the backend makes (SYSTEM and
 * Administrators full, Users read, nothing inherited; owner Administrators
 * when @p with_owner); free sa->lpSecurityDescriptor with LocalFree.
 * FALSE with GetLastError() set when it cannot be built. */
BOOL secure_folder_attributes(SECURITY_ATTRIBUTES *sa, int with_owner);

/* hash.c */
int w32_sha256_begin(const ksvc_platform *p, void **state);
int w32_sha256_update(void *state, const void *data, size_t size);
int w32_sha256_end(void *state, unsigned char digest[32]);

/* lock.c */
int w32_lock_mode(const ksvc_platform *p, unsigned mode,
                         unsigned timeout_ms);
int w32_lock(const ksvc_platform *p, unsigned timeout_ms);
int w32_unlock(const ksvc_platform *p);

extern struct syscall syscalls[SYS_COUNT_];

#endif /* KSVC_W32_INTERNAL_H */
