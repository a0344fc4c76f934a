/*
 * The POSIX mock backend: the tools folder, its files and its names (open,
 * read, write, sync, stat, rename, remove, hard link, list, full path),
 * always through the folder's descriptor, never through a link.
 */
#include "internal.h"

/* Open folder @p name below @p dir_fd, refusing a link or anything that is
 * not a real folder. */
int open_subfolder(posix_backend *b, int dir_fd, const char *name,
                          const char *path, int *out)
{
    struct stat before, after;
    int fd;

    *out = -1;
    if (fstatat(dir_fd, name, &before, AT_SYMLINK_NOFOLLOW) != 0)
        return os_fail(b, errno, path, "stat");
    if (!S_ISDIR(before.st_mode))
        return set_error(b, KSVC_E_UNSAFE_PATH, 0, "%s: %s, not a folder",
                         path, kind_text(&before));
    fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return os_fail(b, errno, path, "open");
    /* The name may have been swapped between the two calls. */
    if (fstat(fd, &after) != 0 || after.st_dev != before.st_dev ||
        after.st_ino != before.st_ino) {
        close(fd);
        return set_error(b, KSVC_E_UNSAFE_PATH, 0, "%s: replaced while opened",
                         path);
    }
    *out = fd;
    return KSVC_OK;
}

/* The tools folder's descriptor, opened at first need one real folder at
 * a time, and with @p create made first (with its parents, each made
 * durable): a machine where WSL 2 was just enabled has no tools folder
 * until the first install.  Missing: KSVC_E_NOT_FOUND, recorded. */
int tools_check(posix_backend *b, int create)
{
    char path[PATH_MAX + 1], parent[PATH_MAX + 1];
    int dir_fd = b->root_fd, next, rc = KSVC_OK;
    size_t i, len;

    if (b->tools_fd >= 0)
        return KSVC_OK;
    snprintf(path, sizeof(path), "%s", b->root);
    for (i = 0; i < sizeof(tools_components) / sizeof(tools_components[0]);
         i++) {
        const char *name = tools_components[i];
        memcpy(parent, path, sizeof(parent));
        len = strlen(path);
        snprintf(path + len, sizeof(path) - len, "/%s", name);
        if (create && mkdirat(dir_fd, name, 0755) == 0)
            rc = sync_folder(b, dir_fd, parent);
        else if (create && errno != EEXIST)
            rc = os_fail(b, errno, path, "mkdir");
        if (rc == KSVC_OK)
            rc = open_subfolder(b, dir_fd, name, path, &next);
        if (dir_fd != b->root_fd)
            close(dir_fd);
        if (rc != KSVC_OK)
            return rc;
        dir_fd = next;
    }
    b->tools_fd = dir_fd;
    return KSVC_OK;
}


/* ------------------------------------------------------------------------ */
/* Files                                                                    */
/* ------------------------------------------------------------------------ */

static int new_file(posix_backend *b, int fd, int created, const char *path,
                    ksvc_file **out)
{
    size_t len = strlen(path);
    ksvc_file *f = malloc(sizeof(*f) + len);

    if (!f) {
        close(fd);
        return set_error(b, KSVC_E_NO_MEMORY, ENOMEM, "%s: out of memory",
                         path);
    }
    f->backend = b;
    f->fd = fd;
    f->created = created;
    memcpy(f->path, path, len + 1);
    *out = f;
    return KSVC_OK;
}

/* Check an open descriptor is a regular file and make it blocking again
 * (O_NONBLOCK only kept a FIFO from hanging the open). */
int finish_open(posix_backend *b, int fd, const char *path, int code)
{
    struct stat st;
    int flags;

    if (fstat(fd, &st) != 0)
        return os_fail(b, errno, path, "fstat");
    if (!S_ISREG(st.st_mode))
        return set_error(b, code, 0, "%s: %s, refused", path, kind_text(&st));
    flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
        return os_fail(b, errno, path, "fcntl");
    return KSVC_OK;
}

int backend_file_open(const ksvc_platform *p, const char *name,
                             unsigned flags, ksvc_file **out)
{
    posix_backend *b = backend_of(p);
    int create = (flags & KSVC_OPEN_CREATE_NEW) != 0;
    char path[PATH_MAX + 1];
    int rc, fd, oflags;

    if (out == NULL)
        return set_error(b, KSVC_E_INVALID_ARGUMENT, 0, "file_open: out is NULL");
    *out = NULL;
    if ((rc = check_slot_name(b, name)) != KSVC_OK)
        return rc;
    if (flags == 0 || (flags & ~(KSVC_OPEN_READ | KSVC_OPEN_CREATE_NEW)) != 0)
        return set_error(b, KSVC_E_INVALID_ARGUMENT, 0,
                         "file_open %s: bad flags 0x%x", name, flags);
    slot_path(b, name, path, sizeof(path));
    /* Refuse a link, folder or device before opening it: opening a device
     * can have effects of its own. */
    rc = create ? tools_check(b, 1) : require_regular(b, name);
    if (rc != KSVC_OK)
        return rc;
    oflags = O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
             (create ? O_RDWR | O_CREAT | O_EXCL : O_RDONLY);
    fd = openat(b->tools_fd, name, oflags, 0644);
    if (fd < 0) {
        int err = errno;
        /* A link or folder under the name: say so rather than "exists". */
        if (err != ENOENT && require_absent_or_regular(b, name) ==
                                 KSVC_E_UNSAFE_PATH)
            return KSVC_E_UNSAFE_PATH;
        return os_fail(b, err, path, create ? "create" : "open");
    }
    rc = finish_open(b, fd, path, KSVC_E_UNSAFE_PATH);
    if (rc != KSVC_OK) {
        close(fd);
        return rc;
    }
    return new_file(b, fd, create, path, out);
}

int backend_payload_open(const ksvc_platform *p, const char *path,
                                ksvc_file **out)
{
    posix_backend *b = backend_of(p);
    int fd, rc;

    if (out == NULL || path == NULL || path[0] == '\0')
        return set_error(b, KSVC_E_INVALID_ARGUMENT, 0,
                         "payload_open: no path");
    *out = NULL;
    if (strlen(path) >= PATH_MAX)
        return set_error(b, KSVC_E_TOO_LONG, ENAMETOOLONG,
                         "%.64s...: path longer than %d bytes", path, PATH_MAX);
    /* The caller chose this path: links are followed. */
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return os_fail(b, errno, path, "open");
    rc = finish_open(b, fd, path, KSVC_E_BAD_PAYLOAD);
    if (rc != KSVC_OK) {
        close(fd);
        return rc;
    }
    return new_file(b, fd, 0, path, out);
}

static int check_offset(ksvc_file *f, uint64_t offset, size_t size)
{
    /* off_t is signed; keep offset + size within it. */
    uint64_t limit = ((uint64_t)1 << (sizeof(off_t) * 8 - 1)) - 1;

    if (offset > limit || size > limit - offset)
        return set_error(f->backend, KSVC_E_INVALID_ARGUMENT, EOVERFLOW,
                         "%s: offset beyond the largest file", f->path);
    return KSVC_OK;
}

int backend_file_read(ksvc_file *f, uint64_t offset, void *buf,
                             size_t size, size_t *got)
{
    size_t done = 0;
    int rc;

    if (got)
        *got = 0;
    if (got == NULL || (buf == NULL && size > 0))
        return set_error(f->backend, KSVC_E_INVALID_ARGUMENT, 0,
                         "%s: read: no buffer", f->path);
    if ((rc = check_offset(f, offset, size)) != KSVC_OK)
        return rc;
    /* Fill the buffer unless the file ends first, so callers never see a
     * short read in the middle of a file. */
    while (done < size) {
        ssize_t n = pread(f->fd, (char *)buf + done, size - done,
                          (off_t)(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return os_fail(f->backend, errno, f->path, "read");
        if (n == 0)
            break;
        done += (size_t)n;
    }
    *got = done;
    return KSVC_OK;
}

int backend_file_write(ksvc_file *f, uint64_t offset, const void *buf,
                              size_t size)
{
    size_t done = 0;
    int rc;

    if (!f->created)
        return set_error(f->backend, KSVC_E_ACCESS, EBADF,
                         "%s: write: opened for reading only", f->path);
    if (buf == NULL && size > 0)
        return set_error(f->backend, KSVC_E_INVALID_ARGUMENT, 0,
                         "%s: write: no buffer", f->path);
    if ((rc = check_offset(f, offset, size)) != KSVC_OK)
        return rc;
    while (done < size) {
        ssize_t n = pwrite(f->fd, (const char *)buf + done, size - done,
                           (off_t)(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return os_fail(f->backend, errno, f->path, "write");
        done += (size_t)n;
    }
    ksvc__posix_write_behind(f->fd, offset, size); /* see fastcopy.c */
    return KSVC_OK;
}

int backend_file_sync(ksvc_file *f)
{
    posix_backend *b = f->backend;

    if (fsync(f->fd) != 0)
        return os_fail(b, errno, f->path, "fsync");
    /* A file we created also needs its name to survive a crash: the
     * core's recovery trusts a synced new file to exist afterwards. */
    if (f->created)
        return sync_folder(b, b->tools_fd, b->tools_path);
    return KSVC_OK;
}

int backend_file_size(ksvc_file *f, uint64_t *size)
{
    struct stat st;

    if (fstat(f->fd, &st) != 0)
        return os_fail(f->backend, errno, f->path, "fstat");
    *size = (uint64_t)st.st_size;
    return KSVC_OK;
}

int backend_file_close(ksvc_file *f)
{
    int rc = KSVC_OK;

    if (f == NULL)
        return KSVC_OK;
    if (close(f->fd) != 0 && errno != EINTR)
        rc = os_fail(f->backend, errno, f->path, "close");
    free(f);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The tools folder                                                         */
/* ------------------------------------------------------------------------ */

/* The inode mixed with the device: one number naming the file itself. */
static uint64_t file_id_of(const struct stat *st)
{
    return (uint64_t)st->st_ino ^
           ((uint64_t)st->st_dev * UINT64_C(0x9E3779B97F4A7C15));
}

/* The change time in nanoseconds: it moves on every write and every change
 * of the link count, which no user can set back. */
static int64_t change_ns_of(const struct stat *st)
{
#if defined(__APPLE__)
    const struct timespec *ct = &st->st_ctimespec;
#else
    const struct timespec *ct = &st->st_ctim;
#endif
    return (int64_t)ct->tv_sec * 1000000000 + (int64_t)ct->tv_nsec;
}

int backend_stat(const ksvc_platform *p, const char *name,
                        ksvc_file_info *info)
{
    posix_backend *b = backend_of(p);
    struct stat st;
    int rc;

    if (info == NULL)
        return set_error(b, KSVC_E_INVALID_ARGUMENT, 0, "stat: info is NULL");
    memset(info, 0, sizeof(*info));
    if ((rc = check_slot_name(b, name)) != KSVC_OK)
        return rc;
    rc = lstat_slot(b, name, &st);
    if (rc == KSVC_E_NOT_FOUND) {
        info->kind = KSVC_FILE_NONE;
        return KSVC_OK;
    }
    if (rc != KSVC_OK)
        return rc;
    if (!S_ISREG(st.st_mode)) {
        info->kind = KSVC_FILE_OTHER;
        return KSVC_OK;
    }
    info->kind = KSVC_FILE_REGULAR;
    info->size = (uint64_t)st.st_size;
    info->links = st.st_nlink > UINT32_MAX ? UINT32_MAX : (uint32_t)st.st_nlink;
    info->file_id = file_id_of(&st);
    info->change_ns = change_ns_of(&st);
    return KSVC_OK;
}

int backend_rename(const ksvc_platform *p, const char *from,
                          const char *to)
{
    posix_backend *b = backend_of(p);
    char path[PATH_MAX + 1];
    int rc;

    if ((rc = check_slot_name(b, from)) != KSVC_OK ||
        (rc = check_slot_name(b, to)) != KSVC_OK)
        return rc;
    /* Only regular files move, and only onto a regular file or nothing:
     * a link or folder in a slot is left for a human to look at. */
    if ((rc = require_regular(b, from)) != KSVC_OK ||
        (rc = require_absent_or_regular(b, to)) != KSVC_OK)
        return rc;
    if (renameat(b->tools_fd, from, b->tools_fd, to) != 0)
        return os_fail(b, errno, slot_path(b, from, path, sizeof(path)),
                       "rename");
    return sync_folder(b, b->tools_fd, b->tools_path);
}

int backend_remove(const ksvc_platform *p, const char *name)
{
    posix_backend *b = backend_of(p);
    char path[PATH_MAX + 1];
    struct stat st;
    int rc;

    if ((rc = check_slot_name(b, name)) != KSVC_OK)
        return rc;
    rc = lstat_slot(b, name, &st);
    if (rc == KSVC_E_NOT_FOUND)
        return KSVC_OK;
    if (rc != KSVC_OK)
        return rc;
    /* Removing a link removes the link, never its target; a folder is not
     * ours to remove. */
    if (S_ISDIR(st.st_mode))
        return refuse_foreign(b, name, &st);
    if (unlinkat(b->tools_fd, name, 0) != 0 && errno != ENOENT)
        return os_fail(b, errno, slot_path(b, name, path, sizeof(path)),
                       "unlink");
    return sync_folder(b, b->tools_fd, b->tools_path);
}

int backend_hard_link(const ksvc_platform *p, const char *existing,
                             const char *new_name)
{
    posix_backend *b = backend_of(p);
    char path[PATH_MAX + 1];
    int rc, err;

    if ((rc = check_slot_name(b, existing)) != KSVC_OK ||
        (rc = check_slot_name(b, new_name)) != KSVC_OK)
        return rc;
    if ((rc = require_regular(b, existing)) != KSVC_OK)
        return rc;
    if (linkat(b->tools_fd, existing, b->tools_fd, new_name, 0) != 0) {
        err = errno;
        slot_path(b, new_name, path, sizeof(path));
        /* File systems without hard links say so in several ways. */
        if (err == EPERM || err == EXDEV || err == EMLINK || err == ENOSYS ||
            map_errno(err) == KSVC_E_UNSUPPORTED)
            return os_fail_code(b, KSVC_E_UNSUPPORTED, err, path, "link");
        if (err == EEXIST &&
            require_absent_or_regular(b, new_name) == KSVC_E_UNSAFE_PATH)
            return KSVC_E_UNSAFE_PATH;
        return os_fail(b, err, path, "link");
    }
    return sync_folder(b, b->tools_fd, b->tools_path);
}

int backend_list(const ksvc_platform *p, ksvc_list_fn fn, void *arg)
{
    posix_backend *b = backend_of(p);
    struct dirent *entry;
    DIR *dir;
    int fd, rc = KSVC_OK;

    if (fn == NULL)
        return set_error(b, KSVC_E_INVALID_ARGUMENT, 0, "list: no callback");
    rc = tools_check(b, 0);
    if (rc == KSVC_E_NOT_FOUND)
        return KSVC_OK; /* no folder yet: no names */
    if (rc != KSVC_OK)
        return rc;
    /* A descriptor of its own: reading a directory moves its offset. */
    fd = openat(b->tools_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return os_fail(b, errno, b->tools_path, "open");
    dir = fdopendir(fd);
    if (dir == NULL) {
        int err = errno;
        close(fd);
        return os_fail(b, err, b->tools_path, "opendir");
    }
    for (;;) {
        errno = 0;
        entry = readdir(dir);
        if (entry == NULL) {
            if (errno != 0)
                rc = os_fail(b, errno, b->tools_path, "readdir");
            break;
        }
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
            continue;
        rc = fn(arg, entry->d_name);
        if (rc != 0)
            break;
    }
    closedir(dir);
    return rc;
}

int backend_full_path(const ksvc_platform *p, const char *name,
                             char *buf, size_t size)
{
    posix_backend *b = backend_of(p);
    size_t need;
    int rc;

    if ((rc = check_slot_name(b, name)) != KSVC_OK)
        return rc;
    need = strlen(b->tools_path) + 1 + strlen(name) + 1;
    if (buf == NULL || size < need)
        return set_error(b, KSVC_E_TOO_LONG, 0,
                         "full path of %s needs %lu bytes, room for %lu", name,
                         (unsigned long)need, (unsigned long)size);
    snprintf(buf, size, "%s/%s", b->tools_path, name);
    return KSVC_OK;
}
