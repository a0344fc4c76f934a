/*
 * What the Win32 backend shares with the library's own tests: the call
 * table through which every Win32 call goes (SQLite os_win style).  Not
 * installed, not exported: the tests link the backend's objects.
 */
#ifndef KSVC_WIN32_INTERNAL_H
#define KSVC_WIN32_INTERNAL_H

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

#endif /* KSVC_WIN32_INTERNAL_H */
