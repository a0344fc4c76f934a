/*
 * The POSIX mock backend: the registry, ROOT/registry.reg (read, write,
 * key exists, the values of a key), read again on every call and replaced
 * atomically.  The .reg text itself is hive_parse.c's and hive_write.c's.
 */
#include "internal.h"

/* ------------------------------------------------------------------------ */
/* The hive file                                                            */
/* ------------------------------------------------------------------------ */

/* Full path of @p name in ROOT, for messages. */
void hive_path(const posix_backend *b, const char *name, char *buf,
                      size_t size)
{
    snprintf(buf, size, "%s/%s", b->root, name);
}

/* Parse ROOT/registry.reg.  The hive keeps the file open: values larger
 * than KSVC__HIVE_KEEP_MAX are read from it on demand and copied from it
 * when the hive is written back.  Nothing is read whole: memory is bounded
 * per value kept (hive.h). */
static int load_hive(posix_backend *b, ksvc__hive **out)
{
    char path[PATH_MAX + 1], err[256];
    struct stat st;
    int fd, rc, os_error = 0;

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
                         "%s: %llu bytes, more than the %u bytes (%u MiB) "
                         "this backend reads",
                         path, (unsigned long long)st.st_size,
                         KSVC__HIVE_FILE_MAX, KSVC__HIVE_FILE_MAX >> 20);
    }
    rc = ksvc__hive_parse_fd(fd, (uint64_t)st.st_size, out, err, sizeof(err),
                             &os_error);
    if (rc == KSVC_OK)
        return KSVC_OK;
    close(fd);
    if (rc == KSVC_E_IO && os_error)
        return set_error(b, map_errno(os_error), os_error, "%s %s: read",
                         path, err);
    return set_error(b, rc, 0, "%s %s", path, err);
}

/* Replace ROOT/registry.reg with @p hive: write registry.reg.tmp, sync it,
 * rename it over the hive and sync ROOT, so a crash leaves the old hive or
 * the new one.  The text streams to the file: memory stays bounded. */
int store_hive(posix_backend *b, const ksvc__hive *hive)
{
    char path[PATH_MAX + 1], tmp[PATH_MAX + 1];
    const char *call = "write";
    int fd, rc, os_error = 0;

    hive_path(b, HIVE_NAME, path, sizeof(path));
    hive_path(b, HIVE_TMP_NAME, tmp, sizeof(tmp));
    /* A temporary file left by a crash is ours to replace; never follow a
     * link planted under its name. */
    if (unlinkat(b->root_fd, HIVE_TMP_NAME, 0) != 0 && errno != ENOENT)
        return os_fail(b, errno, tmp, "unlink");
    fd = openat(b->root_fd, HIVE_TMP_NAME,
                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return os_fail(b, errno, tmp, "create");
    rc = ksvc__hive_write(hive, fd, &os_error, &call);
    if (rc == KSVC_E_TOO_LONG)
        rc = set_error(b, rc, EFBIG,
                       "%s: would grow beyond the %u bytes (%u MiB) this "
                       "backend writes",
                       path, KSVC__HIVE_FILE_MAX, KSVC__HIVE_FILE_MAX >> 20);
    else if (rc == KSVC_E_NO_MEMORY)
        rc = set_error(b, rc, ENOMEM, "%s: out of memory", path);
    else if (rc == KSVC_E_IO && strcmp(call, "read") == 0)
        rc = os_error ? os_fail(b, os_error, path, "read")
                      : set_error(b, KSVC_E_IO, 0,
                                  "%s: changed while being read", path);
    else if (rc != KSVC_OK)
        rc = os_fail(b, os_error, tmp, "write");
    else if (fsync(fd) != 0)
        rc = os_fail(b, errno, tmp, "fsync");
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

/* The data of @p value into @p buf (room for value->size bytes): a value
 * not held in memory is decoded from the hive file now. */
static int read_data(posix_backend *b, const ksvc__hive *hive,
                     const ksvc__hive_value *value, const char *key,
                     void *buf)
{
    char path[PATH_MAX + 1];
    int os_error = 0;
    int rc = ksvc__hive_value_read(hive, value, buf, &os_error);

    if (rc == KSVC_OK)
        return KSVC_OK;
    hive_path(b, HIVE_NAME, path, sizeof(path));
    if (rc == KSVC_E_IO && os_error)
        return os_fail(b, os_error, path, "read");
    if (rc == KSVC_E_NO_MEMORY)
        return set_error(b, rc, ENOMEM, "%s: out of memory", path);
    return set_error(b, rc == KSVC_E_IO ? rc : KSVC_E_HIVE, 0,
                     "%s: HKLM\\%s: value \"%s\" changed while being read",
                     path, key, value->name);
}

int backend_reg_read(const ksvc_platform *p, const char *key,
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
    if ((rc = read_data(b, hive, value, key, buf)) == KSVC_OK)
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
        /* The parser refuses what reg_read could not return.  A value too
         * large to be held (KSVC__HIVE_KEEP_MAX) is reported with its size
         * and KSVC_E_TOO_LONG: reg_read gives it to a buffer that large. */
        if (k->values[i].span.length > 0)
            value.error = KSVC_E_TOO_LONG;
        rc = fn(arg, &value);
    }
    return rc;
}

int backend_reg_list(const ksvc_platform *p, const char *key,
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
    if (old && old->span.length == 0 && old->type == change->type &&
        old->size == change->size &&
        memcmp(old->data, change->data, change->size) == 0)
        return KSVC_OK;
    rc = ksvc__hive_set(hive, path, change->name, change->type, change->data,
                        change->size);
    if (rc == KSVC_E_TOO_LONG)
        return set_error(b, rc, 0,
                         "HKLM\\%s: value \"%s\": larger than %u bytes", key,
                         change->name, KSVC__HIVE_FILE_MAX);
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

int backend_reg_write(const ksvc_platform *p, const char *key,
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

int backend_reg_key_exists(const ksvc_platform *p, const char *key,
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
