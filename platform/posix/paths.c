/*
 * The POSIX mock backend: the names of the tools folder (a slot name is one
 * plain name; what a name is, without following links).
 */
#include "internal.h"

/* ------------------------------------------------------------------------ */
/* Names in the tools folder                                                */
/* ------------------------------------------------------------------------ */

/* Full path of @p name for messages (truncated if it must be). */
const char *slot_path(const posix_backend *b, const char *name,
                             char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", b->tools_path, name);
    return buf;
}

/* A slot name is one plain file name: no separator, not "." or "..". */
int check_slot_name(posix_backend *b, const char *name)
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
int lstat_slot(posix_backend *b, const char *name, struct stat *st)
{
    char path[PATH_MAX + 1];
    int rc = tools_check(b, 0);

    if (rc != KSVC_OK)
        return rc; /* no tools folder: no name in it either */
    if (fstatat(b->tools_fd, name, st, AT_SYMLINK_NOFOLLOW) != 0)
        return os_fail(b, errno, slot_path(b, name, path, sizeof(path)),
                       "stat");
    return KSVC_OK;
}

const char *kind_text(const struct stat *st)
{
    if (S_ISLNK(st->st_mode))
        return "a symbolic link";
    if (S_ISDIR(st->st_mode))
        return "a folder";
    return "not a regular file";
}

int refuse_foreign(posix_backend *b, const char *name,
                          const struct stat *st)
{
    char path[PATH_MAX + 1];

    return set_error(b, KSVC_E_UNSAFE_PATH, 0, "%s: %s, refused",
                     slot_path(b, name, path, sizeof(path)), kind_text(st));
}

/* KSVC_OK when @p name is a regular file, KSVC_E_UNSAFE_PATH when it is
 * anything else, KSVC_E_NOT_FOUND when it is absent. */
int require_regular(posix_backend *b, const char *name)
{
    struct stat st;
    int rc = lstat_slot(b, name, &st);

    if (rc == KSVC_OK && !S_ISREG(st.st_mode))
        rc = refuse_foreign(b, name, &st);
    return rc;
}

/* KSVC_OK when @p name is absent or a regular file. */
int require_absent_or_regular(posix_backend *b, const char *name)
{
    int rc = require_regular(b, name);
    return rc == KSVC_E_NOT_FOUND ? KSVC_OK : rc;
}

/* Make a change of a folder's entries (a new, renamed or removed name)
 * durable. */
int sync_folder(posix_backend *b, int dir_fd, const char *path)
{
    /* EINVAL: a file system that cannot sync a folder (some network and
     * FUSE ones); there is nothing more we can do for durability there. */
    if (fsync(dir_fd) != 0 && errno != EINVAL)
        return os_fail(b, errno, path, "fsync");
    return KSVC_OK;
}
