/*
 * The POSIX mock backend: the servicing lock, flock() on ROOT/kservice.lock,
 * shared or exclusive as the core asks.
 */
#include "internal.h"

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

int backend_lock_mode(const ksvc_platform *p, unsigned mode,
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
    /* The only writer now: a registry.reg.tmp is what a writer killed
     * between its write and its rename left behind (the hive it meant is
     * not in place, or is in place already), so it goes.  Housekeeping of
     * this backend's own file; it decides nothing about the machine. */
    if (mode == KSVC_LOCK_EXCLUSIVE &&
        unlinkat(b->root_fd, HIVE_TMP_NAME, 0) != 0 && errno != ENOENT) {
        rc = os_fail(b, errno, HIVE_TMP_NAME, "unlink");
        flock(fd, LOCK_UN);
        close(fd);
        b->lock_fd = -1;
        return rc;
    }
    return KSVC_OK;
}

int backend_lock(const ksvc_platform *p, unsigned timeout_ms)
{
    return backend_lock_mode(p, KSVC_LOCK_EXCLUSIVE, timeout_ms);
}

int backend_unlock(const ksvc_platform *p)
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
