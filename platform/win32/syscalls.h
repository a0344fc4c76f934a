/*
 * The Win32 calls of the backend, in one X-macro list (SQLite os_win style).
 *
 * X(name, return type, (parameter types)) for calls every supported Windows
 * has, linked the ordinary way; XD(...) for calls looked up at run time
 * because older Windows lacks them.  internal.h and syscalls.c turn the list into the call
 * table, the function pointer types and the os_* call macros, so that every
 * call can be replaced by a test through ksvc__win32_syscall_set(), declared
 * below; the library's tests include this header (syscalls.c is the
 * table).
 */
#ifndef KSVC_WIN32_SYSCALLS_H
#define KSVC_WIN32_SYSCALLS_H

#define KSVC_WIN32_SYSCALLS(X, XD)                                            \
    /* files */                                                               \
    X(CreateFileW, HANDLE,                                                    \
      (LPCWSTR, DWORD, DWORD, LPSECURITY_ATTRIBUTES, DWORD, DWORD, HANDLE))   \
    X(ReadFile, BOOL, (HANDLE, LPVOID, DWORD, LPDWORD, LPOVERLAPPED))         \
    X(WriteFile, BOOL, (HANDLE, LPCVOID, DWORD, LPDWORD, LPOVERLAPPED))       \
    X(FlushFileBuffers, BOOL, (HANDLE))                                       \
    X(GetFileSizeEx, BOOL, (HANDLE, PLARGE_INTEGER))                          \
    X(GetFileInformationByHandle, BOOL,                                       \
      (HANDLE, LPBY_HANDLE_FILE_INFORMATION))                                 \
    X(GetFileInformationByHandleEx, BOOL,                                     \
      (HANDLE, FILE_INFO_BY_HANDLE_CLASS, LPVOID, DWORD))                     \
    X(GetFileType, DWORD, (HANDLE))                                           \
    X(CloseHandle, BOOL, (HANDLE))                                            \
    X(MoveFileExW, BOOL, (LPCWSTR, LPCWSTR, DWORD))                           \
    X(DeleteFileW, BOOL, (LPCWSTR))                                           \
    X(CreateHardLinkW, BOOL, (LPCWSTR, LPCWSTR, LPSECURITY_ATTRIBUTES))       \
    X(CreateDirectoryW, BOOL, (LPCWSTR, LPSECURITY_ATTRIBUTES))               \
    X(FindFirstFileExW, HANDLE,                                               \
      (LPCWSTR, FINDEX_INFO_LEVELS, LPVOID, FINDEX_SEARCH_OPS, LPVOID,        \
       DWORD))                                                                \
    X(FindNextFileW, BOOL, (HANDLE, LPWIN32_FIND_DATAW))                      \
    X(FindClose, BOOL, (HANDLE))                                              \
    X(GetFullPathNameW, DWORD, (LPCWSTR, DWORD, LPWSTR, LPWSTR *))            \
    X(GetSystemDirectoryW, UINT, (LPWSTR, UINT))                              \
    X(GetSystemWindowsDirectoryW, UINT, (LPWSTR, UINT))                       \
    X(LockFileEx, BOOL, (HANDLE, DWORD, DWORD, DWORD, DWORD, LPOVERLAPPED))   \
    X(UnlockFileEx, BOOL, (HANDLE, DWORD, DWORD, DWORD, LPOVERLAPPED))        \
    X(Sleep, void, (DWORD))                                                   \
    X(GetTickCount64, ULONGLONG, (void))                                      \
    /* registry */                                                            \
    X(RegOpenKeyExW, LSTATUS, (HKEY, LPCWSTR, DWORD, REGSAM, PHKEY))          \
    X(RegCreateKeyExW, LSTATUS,                                               \
      (HKEY, LPCWSTR, DWORD, LPWSTR, DWORD, REGSAM, LPSECURITY_ATTRIBUTES,    \
       PHKEY, LPDWORD))                                                       \
    X(RegQueryValueExW, LSTATUS,                                              \
      (HKEY, LPCWSTR, LPDWORD, LPDWORD, LPBYTE, LPDWORD))                     \
    X(RegSetValueExW, LSTATUS,                                                \
      (HKEY, LPCWSTR, DWORD, DWORD, const BYTE *, DWORD))                     \
    X(RegDeleteValueW, LSTATUS, (HKEY, LPCWSTR))                              \
    X(RegDeleteKeyExW, LSTATUS, (HKEY, LPCWSTR, REGSAM, DWORD))               \
    X(RegEnumValueW, LSTATUS,                                                 \
      (HKEY, DWORD, LPWSTR, LPDWORD, LPDWORD, LPDWORD, LPBYTE, LPDWORD))      \
    X(RegCloseKey, LSTATUS, (HKEY))                                           \
    /* machine facts */                                                       \
    X(GetCurrentProcess, HANDLE, (void))                                      \
    X(IsWow64Process, BOOL, (HANDLE, PBOOL))                                  \
    XD(IsWow64Process2, BOOL, (HANDLE, USHORT *, USHORT *), L"kernel32.dll")  \
    X(GetNativeSystemInfo, void, (LPSYSTEM_INFO))                             \
    X(OpenProcessToken, BOOL, (HANDLE, DWORD, PHANDLE))                       \
    X(GetTokenInformation, BOOL,                                              \
      (HANDLE, TOKEN_INFORMATION_CLASS, LPVOID, DWORD, PDWORD))               \
    X(AllocateAndInitializeSid, BOOL,                                         \
      (PSID_IDENTIFIER_AUTHORITY, BYTE, DWORD, DWORD, DWORD, DWORD, DWORD,    \
       DWORD, DWORD, DWORD, PSID *))                                          \
    X(CheckTokenMembership, BOOL, (HANDLE, PSID, PBOOL))                      \
    X(FreeSid, PVOID, (PSID))                                                 \
    /* who may write (rights.c) */                                            \
    X(GetSecurityInfo, DWORD,                                                 \
      (HANDLE, SE_OBJECT_TYPE, SECURITY_INFORMATION, PSID *, PSID *, PACL *,  \
       PACL *, PSECURITY_DESCRIPTOR *))                                       \
    X(GetAce, BOOL, (PACL, DWORD, LPVOID *))                                  \
    X(ConvertSidToStringSidA, BOOL, (PSID, LPSTR *))                          \
    X(ConvertStringSecurityDescriptorToSecurityDescriptorW, BOOL,             \
      (LPCWSTR, DWORD, PSECURITY_DESCRIPTOR *, PULONG))                       \
    /* hashing (CNG) */                                                       \
    X(BCryptOpenAlgorithmProvider, NTSTATUS,                                  \
      (BCRYPT_ALG_HANDLE *, LPCWSTR, LPCWSTR, ULONG))                         \
    X(BCryptCloseAlgorithmProvider, NTSTATUS, (BCRYPT_ALG_HANDLE, ULONG))     \
    X(BCryptCreateHash, NTSTATUS,                                             \
      (BCRYPT_ALG_HANDLE, BCRYPT_HASH_HANDLE *, PUCHAR, ULONG, PUCHAR, ULONG, \
       ULONG))                                                                \
    X(BCryptHashData, NTSTATUS, (BCRYPT_HASH_HANDLE, PUCHAR, ULONG, ULONG))   \
    X(BCryptFinishHash, NTSTATUS, (BCRYPT_HASH_HANDLE, PUCHAR, ULONG, ULONG)) \
    X(BCryptDestroyHash, NTSTATUS, (BCRYPT_HASH_HANDLE))                      \
    /* text */                                                                \
    X(FormatMessageW, DWORD,                                                  \
      (DWORD, LPCVOID, DWORD, DWORD, LPWSTR, DWORD, va_list *))               \
    X(MultiByteToWideChar, int, (UINT, DWORD, LPCCH, int, LPWSTR, int))       \
    X(WideCharToMultiByte, int,                                               \
      (UINT, DWORD, LPCWCH, int, LPSTR, int, LPCCH, LPBOOL))

/* ---- the hooks, for the library's own tests (not exported) ---- */

/* The type every entry of the Win32 call table is stored as; cast it to
 * and from the call's real function pointer type. */
typedef void (*ksvc__win32_syscall_ptr)(void);

/*
 * Replace one entry of the backend's Win32 call table (for tests).  The
 * table is shared by every backend table in the process and is not
 * synchronised: change it only while no other thread uses the backend.
 * @param name the Win32 function's name, such as "CreateFileW" or
 *             "RegSetValueExW"; NULL puts back every system function
 * @param fn   the replacement, with the real function's signature cast to
 *             ksvc__win32_syscall_ptr; NULL puts back the system function
 * @return KSVC_OK, or KSVC_E_NOT_FOUND for a name not in the table
 */
int ksvc__win32_syscall_set(const char *name, ksvc__win32_syscall_ptr fn);

/*
 * The function an entry of the Win32 call table calls now, for a test's
 * replacement that forwards to the real function.
 * @param name the Win32 function's name
 * @return the current function; NULL for a name not in the table, or for a
 *         call this Windows does not have (such as `IsWow64Process2` before
 *         Windows 10 version 1511)
 */
ksvc__win32_syscall_ptr ksvc__win32_syscall_get(const char *name);

/*
 * Walk the names in the Win32 call table.
 * @param name NULL for the first name, or a name from the table
 * @return the name after @p name, or NULL after the last one or for a name
 *         not in the table
 */
const char *ksvc__win32_syscall_next(const char *name);

#endif
