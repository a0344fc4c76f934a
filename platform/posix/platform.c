/*
 * The POSIX mock backend: the table and its life (open, destroy), the
 * errors every method records for last_error.
 */
#include "internal.h"

/* The folders from ROOT down to the tools folder. */
const char *const tools_components[3] = { "System32", "lxss", "tools" };

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

posix_backend *backend_of(const ksvc_platform *p)
{
    return (posix_backend *)p->data;
}

/* The library's error for an errno. */
int map_errno(int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
        return KSVC_E_NOT_FOUND;
    case EACCES:
    case EPERM:
        return KSVC_E_ACCESS;
    case EROFS:
        return KSVC_E_READ_ONLY_MEDIA;
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
int set_error(posix_backend *b, int code, long os_error,
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
int os_fail_code(posix_backend *b, int code, int err, const char *path,
                        const char *call)
{
    return set_error(b, code, err, "%s: %s: %s", path, call, strerror(err));
}

int os_fail(posix_backend *b, int err, const char *path,
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
/* Opening                                                                  */
/* ------------------------------------------------------------------------ */

/* ROOT/System32/lxss/tools, whether or not it exists yet. */
static int set_tools_path(posix_backend *b)
{
    size_t len = strlen(b->root) + 1, i;

    for (i = 0; i < sizeof(tools_components) / sizeof(tools_components[0]);
         i++)
        len += 1 + strlen(tools_components[i]);
    b->tools_path = malloc(len);
    if (!b->tools_path)
        return KSVC_E_NO_MEMORY;
    snprintf(b->tools_path, len, "%s/%s/%s/%s", b->root, tools_components[0],
             tools_components[1], tools_components[2]);
    return KSVC_OK;
}

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
    t->write_access = backend_write_access;
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

void backend_free(posix_backend *b)
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
int backend_new(const char *root, posix_backend **out)
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
    /* A missing tools folder is fine (WSL 2 just enabled): made by the
     * first install.  A link or a file in its place is refused now. */
    rc = set_tools_path(b);
    if (rc == KSVC_OK && (rc = tools_check(b, 0)) == KSVC_E_NOT_FOUND)
        rc = KSVC_OK;
    /* A ROOT without a registry is no simulated machine (a wrong --root):
     * say so now, as the open of a missing ROOT does. */
    if (rc == KSVC_OK && faccessat(b->root_fd, HIVE_NAME, F_OK, 0) != 0)
        rc = os_fail(b, errno, b->root, "no " HIVE_NAME);
    if (rc != KSVC_OK) {
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
