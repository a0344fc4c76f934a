/*
 * The Win32 backend: the tools folder, its files and its names (open,
 * read, write, sync, stat, rename, remove, hard link, list, full path).
 * Nothing below the tools folder is reached through a reparse point.
 */
#include "internal.h"

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

/* Make one folder with the rights the write-access check wants (see
 * secure_folder_attributes): owned by Administrators when the caller may
 * give it that owner, else by the caller's default owner. */
static BOOL create_secure_folder(const wchar_t *path, int with_owner)
{
    SECURITY_ATTRIBUTES sa;
    DWORD err;
    BOOL ok;

    if (!secure_folder_attributes(&sa, with_owner))
        return FALSE;
    ok = os_CreateDirectoryW(path, &sa);
    err = GetLastError();
    LocalFree(sa.lpSecurityDescriptor);
    if (!ok && err == ERROR_INVALID_OWNER && with_owner)
        return create_secure_folder(path, 0);
    SetLastError(err);
    return ok;
}

/* Create @path and its missing parents (as far as the volume root), each
 * with the rights of create_secure_folder. */
BOOL create_folders(wchar_t *path)
{
    wchar_t *sep;
    BOOL ok;

    if (create_secure_folder(path, 1))
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
    if (create_secure_folder(path, 1))
        return TRUE;
    return GetLastError() == ERROR_ALREADY_EXISTS;
}

/* Make sure the tools folder is a real folder, not a reparse point standing
 * for one, and hold it open without delete sharing so that nobody can swap
 * it for a link while this backend lives.  A missing folder gives
 * KSVC_E_NOT_FOUND, or is created first when @create. */
int tools_check(backend *b, int create)
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

int w32_file_open(const ksvc_platform *p, const char *name,
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

int w32_payload_open(const ksvc_platform *p, const char *path,
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

int w32_file_read(ksvc_file *f, uint64_t offset, void *buf,
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

int w32_file_write(ksvc_file *f, uint64_t offset, const void *buf,
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

int w32_file_sync(ksvc_file *f)
{
    /* On NTFS this commits the file's data and its metadata, the new
     * directory entry included, through the log. */
    if (!os_FlushFileBuffers(f->handle))
        return fail_last(f->b, "FlushFileBuffers", f->label);
    return KSVC_OK;
}

int w32_file_size(ksvc_file *f, uint64_t *size)
{
    LARGE_INTEGER li;

    if (!os_GetFileSizeEx(f->handle, &li))
        return fail_last(f->b, "GetFileSizeEx", f->label);
    *size = (uint64_t)li.QuadPart;
    return KSVC_OK;
}

int w32_file_close(ksvc_file *f)
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

int w32_stat(const ksvc_platform *p, const char *name,
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

int w32_rename(const ksvc_platform *p, const char *from, const char *to)
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

int w32_remove(const ksvc_platform *p, const char *name)
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

int w32_hard_link(const ksvc_platform *p, const char *existing,
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

int w32_list(const ksvc_platform *p, ksvc_list_fn fn, void *arg)
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

int w32_full_path(const ksvc_platform *p, const char *name, char *buf,
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
