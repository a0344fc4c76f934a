/*
 * The POSIX mock backend: a folder ROOT stands for %SystemRoot%.
 *
 *   ROOT/System32/lxss/tools/   the slot files, reached only through a
 *                               folder descriptor opened once, never through
 *                               a link (every call uses the *at() functions
 *                               with O_NOFOLLOW or AT_SYMLINK_NOFOLLOW)
 *   ROOT/registry.reg           the registry, a .reg export (see hive.h),
 *                               read again on every call so that a hand edit
 *                               counts at once, and replaced atomically
 *   ROOT/kservice.lock          the servicing lock, held with flock()
 *
 * Every method records what failed and the errno behind it for last_error.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE  /* flock() on glibc */
#define _DARWIN_C_SOURCE /* flock() on macOS */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#ifdef KSVC_HAVE_LIBCRYPTO
#include <openssl/evp.h>
#endif

#include <kservice/error.h>
#include <kservice/posix.h>

#include "fastcopy.h"
#include "hive.h"

#ifndef NAME_MAX
#define NAME_MAX 255
#endif

#define HIVE_NAME "registry.reg"
#define HIVE_TMP_NAME "registry.reg.tmp"
#define LOCK_NAME "kservice.lock"
#define HKLM "HKEY_LOCAL_MACHINE"
#define LOCK_POLL_MS 10u

static const char *const tools_components[] = { "System32", "lxss", "tools" };

static const char key_current_version[] =
    "SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion";
static const char key_environment[] =
    "SYSTEM\\CurrentControlSet\\Control\\Session Manager\\Environment";
static const char key_lxss_manager[] =
    "SYSTEM\\CurrentControlSet\\Services\\LxssManager";
static const char key_reboot_pending[] =
    "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Component Based "
    "Servicing\\RebootPending";
static const char key_lxss[] = "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Lxss";

typedef struct posix_backend {
    ksvc_platform table; /* handed out; table.data points back here */
    char *root;          /* absolute path of ROOT */
    char *tools_path;    /* ROOT/System32/lxss/tools */
    int root_fd;         /* ROOT, for the hive and the lock */
    int tools_fd;        /* the tools folder, for every slot operation */
    int lock_fd;         /* the lock file while the lock is held, else -1 */
    int elevated;
    long os_error;       /* errno of the last failure */
    char what[PATH_MAX + 512]; /* text of the last failure */
} posix_backend;

struct ksvc_file {
    posix_backend *backend;
    int fd;
    int created;  /* made by KSVC_OPEN_CREATE_NEW: writable, and its name
                     in the tools folder is new */
    char path[1]; /* full path for messages; allocated to its length */
};

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

static posix_backend *backend_of(const ksvc_platform *p)
{
    return (posix_backend *)p->data;
}

/* The library's error for an errno. */
static int map_errno(int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
        return KSVC_E_NOT_FOUND;
    case EACCES:
    case EPERM:
    case EROFS:
        return KSVC_E_ACCESS;
    case ENOSPC:
#ifdef EDQUOT
    case EDQUOT:
#endif
        return KSVC_E_NO_SPACE;
    case EEXIST:
        return KSVC_E_EXISTS;
    case ELOOP:
        return KSVC_E_UNSAFE_PATH;
    case ENAMETOOLONG:
        return KSVC_E_TOO_LONG;
    case EXDEV:
    case ENOTSUP:
#if defined(EOPNOTSUPP) && EOPNOTSUPP != ENOTSUP
    case EOPNOTSUPP:
#endif
        return KSVC_E_UNSUPPORTED;
    case ENOMEM:
        return KSVC_E_NO_MEMORY;
    case ETXTBSY:
    case EBUSY:
        return KSVC_E_SHARING;
    default:
        return KSVC_E_IO;
    }
}

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 4, 5)))
#endif
static int set_error(posix_backend *b, int code, long os_error,
                     const char *fmt, ...)
{
    va_list ap;

    b->os_error = os_error;
    va_start(ap, fmt);
    vsnprintf(b->what, sizeof(b->what), fmt, ap);
    va_end(ap);
    return code;
}

/* Record a failed system call on @p path: "<path>: <call>: <strerror>". */
static int os_fail_code(posix_backend *b, int code, int err, const char *path,
                        const char *call)
{
    return set_error(b, code, err, "%s: %s: %s", path, call, strerror(err));
}

static int os_fail(posix_backend *b, int err, const char *path,
                   const char *call)
{
    return os_fail_code(b, map_errno(err), err, path, call);
}

static void backend_last_error(const ksvc_platform *p, long *os_error,
                               char *what, size_t what_size)
{
    const posix_backend *b = backend_of(p);

    if (os_error)
        *os_error = b->os_error;
    if (what && what_size > 0)
        snprintf(what, what_size, "%s", b->what);
}

/* ------------------------------------------------------------------------ */
/* Names in the tools folder                                                */
/* ------------------------------------------------------------------------ */

/* Full path of @p name for messages (truncated if it must be). */
static const char *slot_path(const posix_backend *b, const char *name,
                             char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", b->tools_path, name);
    return buf;
}

/* A slot name is one plain file name: no separator, not "." or "..". */
static int check_slot_name(posix_backend *b, const char *name)
{
    if (name == NULL)
        return set_error(b, KSVC_E_INVALID_ARGUMENT, 0, "file name is NULL");
    if (name[0] == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
        strchr(name, '/') != NULL || strchr(name, '\\') != NULL)
        return set_error(b, KSVC_E_INVALID_ARGUMENT, 0,
                         "\"%s\": not a plain file name in %s", name,
                         b->tools_path);
    if (strlen(name) > NAME_MAX)
        return set_error(b, KSVC_E_TOO_LONG, ENAMETOOLONG,
                         "%.64s...: file name longer than %d bytes", name,
                         NAME_MAX);
    return KSVC_OK;
}

/* What @p name in the tools folder is, without following a link: KSVC_OK
 * with @p st filled, KSVC_E_NOT_FOUND (error recorded) or another error. */
static int lstat_slot(posix_backend *b, const char *name, struct stat *st)
{
    char path[PATH_MAX + 1];

    if (fstatat(b->tools_fd, name, st, AT_SYMLINK_NOFOLLOW) != 0)
        return os_fail(b, errno, slot_path(b, name, path, sizeof(path)),
                       "stat");
    return KSVC_OK;
}

static const char *kind_text(const struct stat *st)
{
    if (S_ISLNK(st->st_mode))
        return "a symbolic link";
    if (S_ISDIR(st->st_mode))
        return "a folder";
    return "not a regular file";
}

static int refuse_foreign(posix_backend *b, const char *name,
                          const struct stat *st)
{
    char path[PATH_MAX + 1];

    return set_error(b, KSVC_E_UNSAFE_PATH, 0, "%s: %s, refused",
                     slot_path(b, name, path, sizeof(path)), kind_text(st));
}

/* KSVC_OK when @p name is a regular file, KSVC_E_UNSAFE_PATH when it is
 * anything else, KSVC_E_NOT_FOUND when it is absent. */
static int require_regular(posix_backend *b, const char *name)
{
    struct stat st;
    int rc = lstat_slot(b, name, &st);

    if (rc == KSVC_OK && !S_ISREG(st.st_mode))
        rc = refuse_foreign(b, name, &st);
    return rc;
}

/* KSVC_OK when @p name is absent or a regular file. */
static int require_absent_or_regular(posix_backend *b, const char *name)
{
    int rc = require_regular(b, name);
    return rc == KSVC_E_NOT_FOUND ? KSVC_OK : rc;
}

/* Make a change of a folder's entries (a new, renamed or removed name)
 * durable. */
static int sync_folder(posix_backend *b, int dir_fd, const char *path)
{
    /* EINVAL: a file system that cannot sync a folder (some network and
     * FUSE ones); there is nothing more we can do for durability there. */
    if (fsync(dir_fd) != 0 && errno != EINVAL)
        return os_fail(b, errno, path, "fsync");
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
static int finish_open(posix_backend *b, int fd, const char *path, int code)
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

static int backend_file_open(const ksvc_platform *p, const char *name,
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
    rc = create ? KSVC_OK : require_regular(b, name);
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

static int backend_payload_open(const ksvc_platform *p, const char *path,
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

static int backend_file_read(ksvc_file *f, uint64_t offset, void *buf,
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

static int backend_file_write(ksvc_file *f, uint64_t offset, const void *buf,
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

static int backend_file_sync(ksvc_file *f)
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

static int backend_file_size(ksvc_file *f, uint64_t *size)
{
    struct stat st;

    if (fstat(f->fd, &st) != 0)
        return os_fail(f->backend, errno, f->path, "fstat");
    *size = (uint64_t)st.st_size;
    return KSVC_OK;
}

static int backend_file_close(ksvc_file *f)
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

static int backend_stat(const ksvc_platform *p, const char *name,
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

static int backend_rename(const ksvc_platform *p, const char *from,
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

static int backend_remove(const ksvc_platform *p, const char *name)
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

static int backend_hard_link(const ksvc_platform *p, const char *existing,
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

static int backend_list(const ksvc_platform *p, ksvc_list_fn fn, void *arg)
{
    posix_backend *b = backend_of(p);
    struct dirent *entry;
    DIR *dir;
    int fd, rc = KSVC_OK;

    if (fn == NULL)
        return set_error(b, KSVC_E_INVALID_ARGUMENT, 0, "list: no callback");
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

static int backend_full_path(const ksvc_platform *p, const char *name,
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

/* ------------------------------------------------------------------------ */
/* The hive file                                                            */
/* ------------------------------------------------------------------------ */

/* Full path of @p name in ROOT, for messages. */
static void hive_path(const posix_backend *b, const char *name, char *buf,
                      size_t size)
{
    snprintf(buf, size, "%s/%s", b->root, name);
}

/* Read and parse ROOT/registry.reg. */
static int load_hive(posix_backend *b, ksvc__hive **out)
{
    char path[PATH_MAX + 1], err[256];
    struct stat st;
    char *text;
    size_t len = 0;
    int fd, rc;

    *out = NULL;
    hive_path(b, HIVE_NAME, path, sizeof(path));
    fd = openat(b->root_fd, HIVE_NAME,
                O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        /* No hive at all is a damaged machine, not a missing value. */
        return os_fail_code(b, e == ENOENT ? KSVC_E_HIVE : map_errno(e), e,
                            path, "open");
    }
    if (fstat(fd, &st) != 0) {
        rc = os_fail(b, errno, path, "fstat");
        close(fd);
        return rc;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return set_error(b, KSVC_E_HIVE, 0, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > KSVC__HIVE_FILE_MAX) {
        close(fd);
        return set_error(b, KSVC_E_TOO_LONG, EFBIG,
                         "%s: %llu bytes, more than the %u byte limit", path,
                         (unsigned long long)st.st_size, KSVC__HIVE_FILE_MAX);
    }
    /* Room for one byte more than fstat said: a file growing while we read
     * it is caught instead of being cut short. */
    text = malloc((size_t)st.st_size + 1);
    if (!text) {
        close(fd);
        return set_error(b, KSVC_E_NO_MEMORY, ENOMEM, "%s: out of memory",
                         path);
    }
    for (;;) {
        size_t room = (size_t)st.st_size + 1 - len;
        ssize_t n;
        if (room == 0)
            break;
        n = read(fd, text + len, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = os_fail(b, errno, path, "read");
            free(text);
            close(fd);
            return rc;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    if (len > (size_t)st.st_size) {
        free(text);
        return set_error(b, KSVC_E_IO, 0, "%s: changed while being read",
                         path);
    }
    rc = ksvc__hive_parse(text, len, out, err, sizeof(err));
    free(text);
    if (rc != KSVC_OK)
        return set_error(b, rc, 0, "%s %s", path, err);
    return KSVC_OK;
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Replace ROOT/registry.reg with @p hive: write registry.reg.tmp, sync it,
 * rename it over the hive and sync ROOT, so a crash leaves the old hive or
 * the new one. */
static int store_hive(posix_backend *b, const ksvc__hive *hive)
{
    char path[PATH_MAX + 1], tmp[PATH_MAX + 1];
    char *text;
    size_t len;
    int fd, rc;

    hive_path(b, HIVE_NAME, path, sizeof(path));
    hive_path(b, HIVE_TMP_NAME, tmp, sizeof(tmp));
    if (ksvc__hive_serialize(hive, &text, &len) != KSVC_OK)
        return set_error(b, KSVC_E_NO_MEMORY, ENOMEM, "%s: out of memory",
                         path);
    if (len > KSVC__HIVE_FILE_MAX) {
        free(text);
        return set_error(b, KSVC_E_TOO_LONG, EFBIG,
                         "%s: would grow to %lu bytes, beyond the %u byte "
                         "limit", path, (unsigned long)len,
                         KSVC__HIVE_FILE_MAX);
    }
    /* A temporary file left by a crash is ours to replace; never follow a
     * link planted under its name. */
    if (unlinkat(b->root_fd, HIVE_TMP_NAME, 0) != 0 && errno != ENOENT) {
        rc = os_fail(b, errno, tmp, "unlink");
        free(text);
        return rc;
    }
    fd = openat(b->root_fd, HIVE_TMP_NAME,
                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = os_fail(b, errno, tmp, "create");
        free(text);
        return rc;
    }
    rc = KSVC_OK;
    if (write_all(fd, text, len) != 0)
        rc = os_fail(b, errno, tmp, "write");
    else if (fsync(fd) != 0)
        rc = os_fail(b, errno, tmp, "fsync");
    free(text);
    if (close(fd) != 0 && rc == KSVC_OK && errno != EINTR)
        rc = os_fail(b, errno, tmp, "close");
    if (rc == KSVC_OK && renameat(b->root_fd, HIVE_TMP_NAME, b->root_fd,
                                  HIVE_NAME) != 0)
        rc = os_fail(b, errno, path, "rename");
    if (rc != KSVC_OK) {
        unlinkat(b->root_fd, HIVE_TMP_NAME, 0);
        return rc;
    }
    return sync_folder(b, b->root_fd, b->root);
}

/* ------------------------------------------------------------------------ */
/* Registry methods                                                         */
/* ------------------------------------------------------------------------ */

/* "HKEY_LOCAL_MACHINE\<key>" in a malloc'd string after checking @p key. */
static int full_key(posix_backend *b, const char *key, char **out)
{
    const char *why = "";
    size_t len;
    int rc;

    *out = NULL;
    if (key == NULL)
        return set_error(b, KSVC_E_INVALID_ARGUMENT, 0, "registry key is NULL");
    rc = ksvc__hive_check_key_path(key, &why);
    if (rc != KSVC_OK)
        return set_error(b, rc, 0, "HKLM\\%.200s: %s", key, why);
    len = strlen(HKLM) + 1 + strlen(key) + 1;
    if (len - 1 > KSVC__HIVE_NAME_MAX)
        return set_error(b, KSVC_E_TOO_LONG, 0, "HKLM\\%.200s...: key path too "
                         "long", key);
    *out = malloc(len);
    if (*out == NULL)
        return set_error(b, KSVC_E_NO_MEMORY, ENOMEM, "out of memory");
    snprintf(*out, len, "%s\\%s", HKLM, key);
    return KSVC_OK;
}

static int check_value_name(posix_backend *b, const char *key,
                            const char *name)
{
    const char *why = "";
    int rc;

    if (name == NULL)
        return set_error(b, KSVC_E_INVALID_ARGUMENT, 0,
                         "HKLM\\%s: value name is NULL", key);
    rc = ksvc__hive_check_value_name(name, &why);
    if (rc != KSVC_OK)
        return set_error(b, rc, 0, "HKLM\\%s: value \"%.200s\": %s", key, name,
                         why);
    return KSVC_OK;
}

static int backend_reg_read(const ksvc_platform *p, const char *key,
                            const char *name, uint32_t *type, void *buf,
                            size_t *size)
{
    posix_backend *b = backend_of(p);
    const ksvc__hive_value *value;
    ksvc__hive *hive = NULL;
    char *path = NULL;
    int rc;

    if (size == NULL || (buf == NULL && *size > 0))
        return set_error(b, KSVC_E_INVALID_ARGUMENT, 0, "reg_read: no buffer");
    if ((rc = full_key(b, key, &path)) != KSVC_OK ||
        (rc = check_value_name(b, key, name)) != KSVC_OK ||
        (rc = load_hive(b, &hive)) != KSVC_OK)
        goto done;
    value = ksvc__hive_get(hive, path, name);
    if (value == NULL) {
        rc = ksvc__hive_key_exists(hive, path)
                 ? set_error(b, KSVC_E_NOT_FOUND, 0,
                             "HKLM\\%s: no value \"%s\"", key, name)
                 : set_error(b, KSVC_E_NOT_FOUND, 0, "HKLM\\%s: no such key",
                             key);
        goto done;
    }
    if (type)
        *type = value->type;
    if (*size < value->size) {
        rc = set_error(b, KSVC_E_TOO_LONG, 0,
                       "HKLM\\%s: value \"%s\" needs %lu bytes, room for %lu",
                       key, name, (unsigned long)value->size,
                       (unsigned long)*size);
        *size = value->size;
        goto done;
    }
    if (value->size > 0)
        memcpy(buf, value->data, value->size);
    *size = value->size;
done:
    ksvc__hive_free(hive);
    free(path);
    return rc;
}

/* Report every value of key @p path in @p hive to @p fn, in file order. */
static int list_values(posix_backend *b, const ksvc__hive *hive,
                       const char *path, const char *key, ksvc_reg_list_fn fn,
                       void *arg)
{
    const ksvc__hive_key *k = ksvc__hive_find_key(hive, path);
    size_t i;
    int rc = KSVC_OK;

    if (k == NULL)
        return ksvc__hive_key_exists(hive, path)
                   ? KSVC_OK /* a key with subkeys only */
                   : set_error(b, KSVC_E_NOT_FOUND, 0, "HKLM\\%s: no such key",
                               key);
    for (i = 0; i < k->value_count && rc == KSVC_OK; i++) {
        ksvc_reg_value value;
        memset(&value, 0, sizeof value);
        value.name = k->values[i].name;
        value.type = k->values[i].type;
        value.data = k->values[i].data;
        value.size = k->values[i].size;
        /* The parser refuses what reg_read could not return: no errors. */
        rc = fn(arg, &value);
    }
    return rc;
}

static int backend_reg_list(const ksvc_platform *p, const char *key,
                            ksvc_reg_list_fn fn, void *arg)
{
    posix_backend *b = backend_of(p);
    ksvc__hive *hive = NULL;
    char *path = NULL;
    int rc;

    if (fn == NULL)
        return set_error(b, KSVC_E_INVALID_ARGUMENT, 0, "reg_list: no callback");
    if ((rc = full_key(b, key, &path)) == KSVC_OK &&
        (rc = load_hive(b, &hive)) == KSVC_OK)
        rc = list_values(b, hive, path, key, fn, arg);
    ksvc__hive_free(hive);
    free(path);
    return rc;
}

/* Apply one change to @p hive; @p changed is set when the hive differs. */
static int apply_change(posix_backend *b, ksvc__hive *hive, const char *path,
                        const char *key, const ksvc_reg_change *change,
                        int *changed)
{
    const ksvc__hive_value *old;
    const char *why = "";
    int rc;

    if ((rc = check_value_name(b, key, change->name)) != KSVC_OK)
        return rc;
    if (change->remove) {
        if (ksvc__hive_delete(hive, path, change->name) == KSVC_OK)
            *changed = 1;
        return KSVC_OK;
    }
    if (change->type != KSVC_REG_SZ && change->type != KSVC_REG_DWORD &&
        change->type != KSVC_REG_MULTI_SZ)
        return set_error(b, KSVC_E_INVALID_ARGUMENT, 0,
                         "HKLM\\%s: value \"%s\": type %lu cannot be written",
                         key, change->name, (unsigned long)change->type);
    rc = ksvc__hive_check_data(change->type, change->data, change->size, &why);
    if (rc != KSVC_OK)
        return set_error(b, rc, 0, "HKLM\\%s: value \"%s\": %s", key,
                         change->name, why);
    old = ksvc__hive_get(hive, path, change->name);
    if (old && old->type == change->type && old->size == change->size &&
        memcmp(old->data, change->data, change->size) == 0)
        return KSVC_OK;
    rc = ksvc__hive_set(hive, path, change->name, change->type, change->data,
                        change->size);
    if (rc == KSVC_E_TOO_LONG)
        return set_error(b, rc, 0,
                         "HKLM\\%s: value \"%s\": larger than %u bytes", key,
                         change->name, KSVC__HIVE_VALUE_MAX);
    if (rc != KSVC_OK)
        return set_error(b, rc, 0, "HKLM\\%s: value \"%s\": cannot be set",
                         key, change->name);
    *changed = 1;
    return KSVC_OK;
}

/* Writers of the hive take turns: the read-modify-write of one reg_write
 * must not lose another's update, nor share registry.reg.tmp with it.  The
 * lock is flock() on our own descriptor of ROOT, so tables in one process
 * exclude each other too, and a writer that dies lets go.  Readers need no
 * lock: the hive is only ever replaced by rename. */
static int lock_hive(posix_backend *b)
{
    while (flock(b->root_fd, LOCK_EX) != 0) {
        if (errno != EINTR)
            return os_fail(b, errno, b->root, "flock");
    }
    return KSVC_OK;
}

static void unlock_hive(posix_backend *b)
{
    flock(b->root_fd, LOCK_UN);
}

/* Apply @p changes to key @p path of @p hive in memory, creating the key;
 * @p changed is set when the hive now differs from the file. */
static int apply_changes(posix_backend *b, ksvc__hive *hive, const char *path,
                         const char *key, const ksvc_reg_change *changes,
                         size_t count, int *changed)
{
    int rc = KSVC_OK;
    size_t i;

    if (ksvc__hive_find_key(hive, path) == NULL) {
        if (ksvc__hive_add_key(hive, path) == NULL)
            return set_error(b, KSVC_E_NO_MEMORY, ENOMEM, "out of memory");
        *changed = 1;
    }
    for (i = 0; i < count && rc == KSVC_OK; i++)
        rc = apply_change(b, hive, path, key, &changes[i], changed);
    return rc;
}

static int backend_reg_write(const ksvc_platform *p, const char *key,
                             const ksvc_reg_change *changes, size_t count)
{
    posix_backend *b = backend_of(p);
    ksvc__hive *hive = NULL;
    char *path = NULL;
    int rc, changed = 0;

    if (changes == NULL && count > 0)
        return set_error(b, KSVC_E_INVALID_ARGUMENT, 0, "reg_write: no changes");
    if ((rc = full_key(b, key, &path)) != KSVC_OK)
        return rc;
    if ((rc = lock_hive(b)) != KSVC_OK) {
        free(path);
        return rc;
    }
    /* All changes are applied in memory first: one bad change leaves the
     * hive on disk untouched. */
    rc = load_hive(b, &hive);
    if (rc == KSVC_OK)
        rc = apply_changes(b, hive, path, key, changes, count, &changed);
    if (rc == KSVC_OK && changed)
        rc = store_hive(b, hive);
    unlock_hive(b);
    ksvc__hive_free(hive);
    free(path);
    return rc;
}

static int backend_reg_key_exists(const ksvc_platform *p, const char *key,
                                  int *exists)
{
    posix_backend *b = backend_of(p);
    ksvc__hive *hive = NULL;
    char *path = NULL;
    int rc;

    if (exists == NULL)
        return set_error(b, KSVC_E_INVALID_ARGUMENT, 0,
                         "reg_key_exists: no result");
    *exists = 0;
    if ((rc = full_key(b, key, &path)) == KSVC_OK &&
        (rc = load_hive(b, &hive)) == KSVC_OK)
        *exists = ksvc__hive_key_exists(hive, path);
    ksvc__hive_free(hive);
    free(path);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Machine facts                                                            */
/* ------------------------------------------------------------------------ */

static int backend_arch(const ksvc_platform *p, ksvc_arch *arch)
{
    posix_backend *b = backend_of(p);
    char text[32];
    size_t size = sizeof(text);
    uint32_t type = 0;
    int rc;

    if (arch == NULL)
        return set_error(b, KSVC_E_INVALID_ARGUMENT, 0, "arch: no result");
    *arch = KSVC_ARCH_UNKNOWN;
    rc = backend_reg_read(p, key_environment, "PROCESSOR_ARCHITECTURE", &type,
                          text, &size);
    if (rc == KSVC_E_NOT_FOUND)
        return KSVC_OK; /* no such fact: an architecture we do not know */
    if (rc == KSVC_E_TOO_LONG)
        return KSVC_OK; /* longer than any name we know */
    if (rc != KSVC_OK)
        return rc;
    if (type != KSVC_REG_SZ)
        return set_error(b, KSVC_E_BAD_VALUE, 0,
                         "HKLM\\%s: PROCESSOR_ARCHITECTURE is not a REG_SZ",
                         key_environment);
    if (ksvc__hive_name_eq(text, "AMD64"))
        *arch = KSVC_ARCH_X64;
    else if (ksvc__hive_name_eq(text, "ARM64"))
        *arch = KSVC_ARCH_ARM64;
    return KSVC_OK;
}

static int backend_elevated(const ksvc_platform *p, int *elevated)
{
    posix_backend *b = backend_of(p);

    if (elevated == NULL)
        return set_error(b, KSVC_E_INVALID_ARGUMENT, 0, "elevated: no result");
    *elevated = b->elevated;
    return KSVC_OK;
}

/* ------------------------------------------------------------------------ */
/* Lock                                                                     */
/* ------------------------------------------------------------------------ */

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts;

    ts.tv_sec = (time_t)(ms / 1000u);
    ts.tv_nsec = (long)(ms % 1000u) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* The lock file for a shared lock: a read-only descriptor of an existing
 * file (flock(LOCK_SH) works on it, also on a read-only file system), else
 * the file created when the caller may.  A file that is missing and may not
 * be created is KSVC_E_NOT_FOUND. */
static int open_lock_shared(posix_backend *b, const char *path, int *fd)
{
    int err;

    *fd = openat(b->root_fd, LOCK_NAME,
                 O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (*fd >= 0)
        return KSVC_OK;
    if (errno != ENOENT)
        return os_fail(b, errno, path, "open");
    *fd = openat(b->root_fd, LOCK_NAME,
                 O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
    if (*fd >= 0)
        return KSVC_OK;
    err = errno;
    if (err == EACCES || err == EPERM || err == EROFS)
        return os_fail_code(b, KSVC_E_NOT_FOUND, err, path,
                            "missing, and cannot be created: open");
    return os_fail(b, err, path, "open");
}

static int open_lock(posix_backend *b, unsigned mode, const char *path,
                     int *fd)
{
    int rc;

    if (mode == KSVC_LOCK_SHARED) {
        rc = open_lock_shared(b, path, fd);
    } else {
        /* A descriptor of our own for each lock: flock() belongs to the
         * open file description, so two tables in one process exclude each
         * other. */
        *fd = openat(b->root_fd, LOCK_NAME,
                     O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
                     0644);
        rc = *fd < 0 ? os_fail(b, errno, path, "open") : KSVC_OK;
    }
    if (rc != KSVC_OK)
        return rc;
    if ((rc = finish_open(b, *fd, path, KSVC_E_UNSAFE_PATH)) != KSVC_OK)
        close(*fd);
    return rc;
}

static int backend_lock_mode(const ksvc_platform *p, unsigned mode,
                             unsigned timeout_ms)
{
    posix_backend *b = backend_of(p);
    char path[PATH_MAX + 1];
    uint64_t start = now_ms();
    int fd, rc;

    hive_path(b, LOCK_NAME, path, sizeof(path));
    if (mode != KSVC_LOCK_SHARED && mode != KSVC_LOCK_EXCLUSIVE)
        return set_error(b, KSVC_E_INVALID_ARGUMENT, 0,
                         "%s: unknown lock mode %u", path, mode);
    if (b->lock_fd >= 0)
        return set_error(b, KSVC_E_INVALID_ARGUMENT, 0,
                         "%s: already held by this platform table", path);
    if ((rc = open_lock(b, mode, path, &fd)) != KSVC_OK)
        return rc;
    for (;;) {
        uint64_t waited;
        if (flock(fd, (mode == KSVC_LOCK_SHARED ? LOCK_SH : LOCK_EX) |
                          LOCK_NB) == 0)
            break;
        if (errno == EINTR)
            continue;
        if (errno != EWOULDBLOCK) {
            rc = os_fail(b, errno, path, "flock");
            close(fd);
            return rc;
        }
        waited = now_ms() - start;
        if (waited >= timeout_ms) {
            close(fd);
            return set_error(b, KSVC_E_BUSY, EWOULDBLOCK,
                             "%s: held by another process for %u ms", path,
                             timeout_ms);
        }
        sleep_ms(timeout_ms - waited < LOCK_POLL_MS
                     ? (unsigned)(timeout_ms - waited)
                     : LOCK_POLL_MS);
    }
    b->lock_fd = fd;
    return KSVC_OK;
}

static int backend_lock(const ksvc_platform *p, unsigned timeout_ms)
{
    return backend_lock_mode(p, KSVC_LOCK_EXCLUSIVE, timeout_ms);
}

static int backend_unlock(const ksvc_platform *p)
{
    posix_backend *b = backend_of(p);
    char path[PATH_MAX + 1];
    int rc = KSVC_OK;

    if (b->lock_fd < 0)
        return KSVC_OK;
    hive_path(b, LOCK_NAME, path, sizeof(path));
    if (flock(b->lock_fd, LOCK_UN) != 0)
        rc = os_fail(b, errno, path, "flock");
    close(b->lock_fd); /* releases the lock even when LOCK_UN failed */
    b->lock_fd = -1;
    return rc;
}

/* ------------------------------------------------------------------------ */
/* SHA-256 through libcrypto                                                */
/* ------------------------------------------------------------------------ */

#ifdef KSVC_HAVE_LIBCRYPTO
static int backend_sha256_begin(const ksvc_platform *p, void **state)
{
    posix_backend *b = backend_of(p);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    *state = NULL;
    if (ctx == NULL)
        return set_error(b, KSVC_E_NO_MEMORY, ENOMEM, "sha256: out of memory");
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return set_error(b, KSVC_E_UNSUPPORTED, 0,
                         "sha256: libcrypto refused EVP_sha256");
    }
    *state = ctx;
    return KSVC_OK;
}

static int backend_sha256_update(void *state, const void *data, size_t size)
{
    if (size == 0)
        return KSVC_OK;
    return EVP_DigestUpdate((EVP_MD_CTX *)state, data, size) == 1 ? KSVC_OK
                                                                   : KSVC_E_IO;
}

static int backend_sha256_end(void *state, unsigned char digest[32])
{
    EVP_MD_CTX *ctx = state;
    unsigned char full[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    int rc = KSVC_OK;

    if (digest != NULL) {
        if (EVP_DigestFinal_ex(ctx, full, &len) != 1 || len != 32)
            rc = KSVC_E_IO;
        else
            memcpy(digest, full, 32);
    }
    EVP_MD_CTX_free(ctx);
    return rc;
}
#endif

/* ------------------------------------------------------------------------ */
/* Opening                                                                  */
/* ------------------------------------------------------------------------ */

/* Open folder @p name below @p dir_fd, refusing a link or anything that is
 * not a real folder. */
static int open_subfolder(posix_backend *b, int dir_fd, const char *name,
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

/* Open ROOT/System32/lxss/tools one real folder at a time. */
static int open_tools(posix_backend *b)
{
    char path[PATH_MAX + 1];
    int dir_fd = b->root_fd, next, rc = KSVC_OK;
    size_t i, len;

    snprintf(path, sizeof(path), "%s", b->root);
    for (i = 0; i < sizeof(tools_components) / sizeof(tools_components[0]);
         i++) {
        len = strlen(path);
        snprintf(path + len, sizeof(path) - len, "/%s", tools_components[i]);
        rc = open_subfolder(b, dir_fd, tools_components[i], path, &next);
        if (dir_fd != b->root_fd)
            close(dir_fd);
        if (rc != KSVC_OK)
            return rc;
        dir_fd = next;
    }
    b->tools_fd = dir_fd;
    b->tools_path = malloc(strlen(path) + 1);
    if (!b->tools_path)
        return KSVC_E_NO_MEMORY;
    memcpy(b->tools_path, path, strlen(path) + 1);
    return KSVC_OK;
}

static void backend_free(posix_backend *b);

static void backend_destroy(ksvc_platform *p)
{
    if (p)
        backend_free(backend_of(p));
}

static void fill_table(posix_backend *b)
{
    ksvc_platform *t = &b->table;

    t->version = KSVC_PLATFORM_VERSION;
    t->name = "posix-mock";
    t->data = b;
    t->last_error = backend_last_error;
    t->file_open = backend_file_open;
    t->payload_open = backend_payload_open;
    t->file_read = backend_file_read;
    t->file_write = backend_file_write;
    t->file_sync = backend_file_sync;
    t->file_size = backend_file_size;
    t->file_close = backend_file_close;
    t->stat = backend_stat;
    t->rename = backend_rename;
    t->remove = backend_remove;
    t->hard_link = backend_hard_link;
    t->list = backend_list;
    t->full_path = backend_full_path;
    t->reg_read = backend_reg_read;
    t->reg_write = backend_reg_write;
    t->reg_key_exists = backend_reg_key_exists;
    t->arch = backend_arch;
    t->elevated = backend_elevated;
    t->lock = backend_lock;
    t->unlock = backend_unlock;
    t->destroy = backend_destroy;
    t->reg_list = backend_reg_list;
    t->lock_mode = backend_lock_mode;
#ifdef KSVC_HAVE_LIBCRYPTO
    t->sha256_begin = backend_sha256_begin;
    t->sha256_update = backend_sha256_update;
    t->sha256_end = backend_sha256_end;
#else
    t->sha256_begin = NULL; /* the core's built-in SHA-256 */
    t->sha256_update = NULL;
    t->sha256_end = NULL;
#endif
    ksvc__posix_hash_on_second_core(t); /* see fastcopy.c */
}

static void backend_free(posix_backend *b)
{
    if (!b)
        return;
    if (b->lock_fd >= 0)
        close(b->lock_fd);
    if (b->tools_fd >= 0)
        close(b->tools_fd);
    if (b->root_fd >= 0)
        close(b->root_fd);
    free(b->tools_path);
    free(b->root);
    free(b);
}

/* A backend over ROOT with only ROOT opened (the tools folder may not exist
 * yet: ksvc_posix_init_machine uses this too). */
static int backend_new(const char *root, posix_backend **out)
{
    posix_backend *b = calloc(1, sizeof(*b));
    char *real;

    *out = NULL;
    if (!b)
        return KSVC_E_NO_MEMORY;
    b->root_fd = b->tools_fd = b->lock_fd = -1;
    fill_table(b);
    if (strlen(root) >= PATH_MAX) {
        backend_free(b);
        return KSVC_E_TOO_LONG;
    }
    /* ROOT itself is the caller's choice: it may be reached through links,
     * and its absolute form makes every path we hand out usable anywhere. */
    b->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (b->root_fd < 0) {
        int rc = map_errno(errno);
        backend_free(b);
        return rc;
    }
    real = realpath(root, NULL);
    if (real == NULL || strlen(real) + 64 >= PATH_MAX) {
        free(real);
        backend_free(b);
        return real == NULL ? KSVC_E_NO_MEMORY : KSVC_E_TOO_LONG;
    }
    b->root = real;
    *out = b;
    return KSVC_OK;
}

int ksvc_posix_open(ksvc_platform **out, const ksvc_posix_options *options)
{
    posix_backend *b;
    int rc;

    if (out == NULL)
        return KSVC_E_INVALID_ARGUMENT;
    *out = NULL;
    if (options == NULL || options->root == NULL || options->root[0] == '\0')
        return KSVC_E_INVALID_ARGUMENT;
    if (options->version != KSVC_POSIX_OPTIONS_VERSION)
        return KSVC_E_STRUCT_VERSION;
    if ((rc = backend_new(options->root, &b)) != KSVC_OK)
        return rc;
    b->elevated = !options->not_elevated;
    if ((rc = open_tools(b)) != KSVC_OK) {
        backend_free(b);
        return rc;
    }
    b->what[0] = '\0';
    *out = &b->table;
    return KSVC_OK;
}

void ksvc_posix_free(ksvc_platform *platform)
{
    backend_destroy(platform);
}

/* ------------------------------------------------------------------------ */
/* A new simulated machine                                                  */
/* ------------------------------------------------------------------------ */

/* Create ROOT, or accept it when it is an empty folder. */
static int make_root(const char *root)
{
    struct dirent *entry;
    DIR *dir;
    int empty = 1;

    if (mkdir(root, 0755) == 0)
        return KSVC_OK;
    if (errno != EEXIST)
        return map_errno(errno);
    dir = opendir(root);
    if (dir == NULL)
        return errno == ENOTDIR ? KSVC_E_EXISTS : map_errno(errno);
    while ((entry = readdir(dir)) != NULL) {
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0)
            empty = 0;
    }
    closedir(dir);
    /* Anything inside might be a machine: never build over it. */
    return empty ? KSVC_OK : KSVC_E_EXISTS;
}

/* Create System32/lxss/tools below ROOT, one real folder at a time. */
static int make_tools(posix_backend *b)
{
    int dir_fd = b->root_fd, next;
    size_t i;

    for (i = 0; i < sizeof(tools_components) / sizeof(tools_components[0]);
         i++) {
        int rc = KSVC_OK;
        if (mkdirat(dir_fd, tools_components[i], 0755) != 0 && errno != EEXIST)
            rc = map_errno(errno);
        if (rc == KSVC_OK)
            rc = open_subfolder(b, dir_fd, tools_components[i],
                                tools_components[i], &next);
        if (dir_fd != b->root_fd)
            close(dir_fd);
        if (rc != KSVC_OK)
            return rc;
        dir_fd = next;
    }
    close(dir_fd);
    return KSVC_OK;
}

static int set_sz(ksvc__hive *hive, const char *key, const char *name,
                  const char *text)
{
    char path[512];

    snprintf(path, sizeof(path), "%s\\%s", HKLM, key);
    return ksvc__hive_set(hive, path, name, KSVC_REG_SZ, text,
                          strlen(text) + 1);
}

static int set_dword(ksvc__hive *hive, const char *key, const char *name,
                     uint32_t value)
{
    char path[512];

    snprintf(path, sizeof(path), "%s\\%s", HKLM, key);
    return ksvc__hive_set(hive, path, name, KSVC_REG_DWORD, &value,
                          sizeof(value));
}

static int add_key(ksvc__hive *hive, const char *key)
{
    char path[512];

    snprintf(path, sizeof(path), "%s\\%s", HKLM, key);
    return ksvc__hive_add_key(hive, path) ? KSVC_OK : KSVC_E_NO_MEMORY;
}

/* The hive of a machine with the facts of @p m. */
static int machine_hive(const ksvc_mock_machine *m, ksvc__hive **out)
{
    static const char *const arch_names[] = { "x86", "AMD64", "ARM64" };
    ksvc__hive *hive = ksvc__hive_new();
    char build[16];
    int rc;

    *out = NULL;
    if (!hive)
        return KSVC_E_NO_MEMORY;
    snprintf(build, sizeof(build), "%lu", (unsigned long)m->os_build);
    rc = set_sz(hive, key_current_version, "CurrentBuild", build);
    if (rc == KSVC_OK)
        rc = set_sz(hive, key_current_version, "CurrentBuildNumber", build);
    if (rc == KSVC_OK)
        rc = set_dword(hive, key_current_version, "UBR", m->os_ubr);
    if (rc == KSVC_OK && m->reboot_pending)
        rc = add_key(hive, key_reboot_pending);
    if (rc == KSVC_OK)
        rc = add_key(hive, key_lxss);
    if (rc == KSVC_OK)
        rc = set_sz(hive, key_environment, "PROCESSOR_ARCHITECTURE",
                    arch_names[m->arch]);
    if (rc == KSVC_OK && m->wsl_enabled)
        rc = set_dword(hive, key_lxss_manager, "Start", 3);
    if (rc != KSVC_OK) {
        ksvc__hive_free(hive);
        return rc;
    }
    *out = hive;
    return KSVC_OK;
}

int ksvc_posix_init_machine(const char *root, const ksvc_mock_machine *machine)
{
    static const ksvc_mock_machine defaults = KSVC_MOCK_MACHINE_INIT;
    posix_backend *b = NULL;
    ksvc__hive *hive = NULL;
    struct stat st;
    int rc;

    if (machine == NULL)
        machine = &defaults;
    if (root == NULL || root[0] == '\0')
        return KSVC_E_INVALID_ARGUMENT;
    if (machine->version != KSVC_MOCK_MACHINE_VERSION)
        return KSVC_E_STRUCT_VERSION;
    if (machine->arch != KSVC_ARCH_UNKNOWN && machine->arch != KSVC_ARCH_X64 &&
        machine->arch != KSVC_ARCH_ARM64)
        return KSVC_E_INVALID_ARGUMENT;
    if (strlen(root) >= PATH_MAX)
        return KSVC_E_TOO_LONG;
    if ((rc = make_root(root)) != KSVC_OK ||
        (rc = backend_new(root, &b)) != KSVC_OK)
        return rc;
    /* make_root accepted an empty folder; check again now that ROOT is
     * open, so a hive that appeared meanwhile is never overwritten. */
    if (fstatat(b->root_fd, HIVE_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0)
        rc = KSVC_E_EXISTS;
    if (rc == KSVC_OK)
        rc = make_tools(b);
    if (rc == KSVC_OK)
        rc = machine_hive(machine, &hive);
    if (rc == KSVC_OK)
        rc = store_hive(b, hive);
    ksvc__hive_free(hive);
    backend_free(b);
    return rc;
}
