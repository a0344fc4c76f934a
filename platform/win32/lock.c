/*
 * The Win32 backend: the servicing lock, a LockFileEx byte-range lock on
 * kservice.lock beside the tools folder, shared or exclusive as the core
 * asks.
 */
#include "internal.h"

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

int w32_lock_mode(const ksvc_platform *p, unsigned mode,
                         unsigned timeout_ms)
{
    backend *b = backend_of(p);
    const DWORD exclusive =
        mode == KSVC_LOCK_SHARED ? 0 : LOCKFILE_EXCLUSIVE_LOCK;
    const DWORD flags = LOCKFILE_FAIL_IMMEDIATELY | exclusive;
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

int w32_lock(const ksvc_platform *p, unsigned timeout_ms)
{
    return w32_lock_mode(p, KSVC_LOCK_EXCLUSIVE, timeout_ms);
}

int w32_unlock(const ksvc_platform *p)
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
