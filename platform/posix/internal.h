/*
 * What the files of the POSIX mock backend share (one internal header, as
 * the Win32 backend has its own).  A folder ROOT stands for %SystemRoot%:
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
 * Every method records what failed and the errno behind it for last_error;
 * the backend makes no policy decision.  Files, by job (the Win32 backend
 * has the same names): platform.c (the table, open, destroy, errors),
 * paths.c, files.c, registry.c, facts.c, lock.c, hash.c, rights.c (who
 * may write); and, of this backend only, machine.c (a new simulated
 * machine), hive.c, hive_parse.c and hive_write.c (the .reg text) and
 * fastcopy.c.
 */
#ifndef KSVC_PX_INTERNAL_H
#define KSVC_PX_INTERNAL_H

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
#include "keys.h"

#ifndef NAME_MAX
#define NAME_MAX 255
#endif

#define HIVE_NAME "registry.reg"
#define HIVE_TMP_NAME "registry.reg.tmp"
#define LOCK_NAME "kservice.lock"
#define HKLM "HKEY_LOCAL_MACHINE"
#define LOCK_POLL_MS 10u


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


/* Link names: what one file offers the others, in the library's
 * namespace (the code uses the short names). */
#define backend_arch ksvc__px_arch
#define backend_elevated ksvc__px_elevated
#define backend_file_close ksvc__px_file_close
#define backend_file_open ksvc__px_file_open
#define backend_file_read ksvc__px_file_read
#define backend_file_size ksvc__px_file_size
#define backend_file_sync ksvc__px_file_sync
#define backend_file_write ksvc__px_file_write
#define backend_free ksvc__px_backend_free
#define backend_full_path ksvc__px_full_path
#define backend_hard_link ksvc__px_hard_link
#define backend_list ksvc__px_list
#define backend_lock ksvc__px_lock
#define backend_lock_mode ksvc__px_lock_mode
#define backend_new ksvc__px_backend_new
#define backend_of ksvc__px_backend_of
#define backend_payload_open ksvc__px_payload_open
#define backend_reg_key_exists ksvc__px_reg_key_exists
#define backend_reg_list ksvc__px_reg_list
#define backend_reg_read ksvc__px_reg_read
#define backend_reg_write ksvc__px_reg_write
#define backend_remove ksvc__px_remove
#define backend_rename ksvc__px_rename
#define backend_sha256_begin ksvc__px_sha256_begin
#define backend_sha256_end ksvc__px_sha256_end
#define backend_sha256_update ksvc__px_sha256_update
#define backend_stat ksvc__px_stat
#define backend_unlock ksvc__px_unlock
#define backend_write_access ksvc__px_write_access
#define check_slot_name ksvc__px_check_slot_name
#define finish_open ksvc__px_finish_open
#define hive_path ksvc__px_hive_path
#define kind_text ksvc__px_kind_text
#define lstat_slot ksvc__px_lstat_slot
#define map_errno ksvc__px_map_errno
#define open_subfolder ksvc__px_open_subfolder
#define os_fail ksvc__px_os_fail
#define os_fail_code ksvc__px_os_fail_code
#define refuse_foreign ksvc__px_refuse_foreign
#define require_absent_or_regular ksvc__px_require_absent_or_regular
#define require_regular ksvc__px_require_regular
#define set_error ksvc__px_set_error
#define slot_path ksvc__px_slot_path
#define store_hive ksvc__px_store_hive
#define sync_folder ksvc__px_sync_folder
#define tools_check ksvc__px_tools_check
#define tools_components ksvc__px_tools_components

/* platform.c */
posix_backend *backend_of(const ksvc_platform *p);
int map_errno(int err);
int set_error(posix_backend *b, int code, long os_error,
                     const char *fmt, ...);
int os_fail_code(posix_backend *b, int code, int err, const char *path,
                        const char *call);
int os_fail(posix_backend *b, int err, const char *path,
                   const char *call);
void backend_free(posix_backend *b);
int backend_new(const char *root, posix_backend **out);

/* paths.c */
const char *slot_path(const posix_backend *b, const char *name,
                             char *buf, size_t size);
int check_slot_name(posix_backend *b, const char *name);
int lstat_slot(posix_backend *b, const char *name, struct stat *st);
const char *kind_text(const struct stat *st);
int refuse_foreign(posix_backend *b, const char *name,
                          const struct stat *st);
int require_regular(posix_backend *b, const char *name);
int require_absent_or_regular(posix_backend *b, const char *name);
int sync_folder(posix_backend *b, int dir_fd, const char *path);

/* files.c */
int open_subfolder(posix_backend *b, int dir_fd, const char *name,
                   const char *path, int *out);
int tools_check(posix_backend *b, int create);
int finish_open(posix_backend *b, int fd, const char *path, int code);
int backend_file_open(const ksvc_platform *p, const char *name,
                             unsigned flags, ksvc_file **out);
int backend_payload_open(const ksvc_platform *p, const char *path,
                                ksvc_file **out);
int backend_file_read(ksvc_file *f, uint64_t offset, void *buf,
                             size_t size, size_t *got);
int backend_file_write(ksvc_file *f, uint64_t offset, const void *buf,
                              size_t size);
int backend_file_sync(ksvc_file *f);
int backend_file_size(ksvc_file *f, uint64_t *size);
int backend_file_close(ksvc_file *f);
int backend_stat(const ksvc_platform *p, const char *name,
                        ksvc_file_info *info);
int backend_rename(const ksvc_platform *p, const char *from,
                          const char *to);
int backend_remove(const ksvc_platform *p, const char *name);
int backend_hard_link(const ksvc_platform *p, const char *existing,
                             const char *new_name);
int backend_list(const ksvc_platform *p, ksvc_list_fn fn, void *arg);
int backend_full_path(const ksvc_platform *p, const char *name,
                             char *buf, size_t size);

/* registry.c */
void hive_path(const posix_backend *b, const char *name, char *buf,
                      size_t size);
int store_hive(posix_backend *b, const ksvc__hive *hive);
int backend_reg_read(const ksvc_platform *p, const char *key,
                            const char *name, uint32_t *type, void *buf,
                            size_t *size);
int backend_reg_list(const ksvc_platform *p, const char *key,
                            ksvc_reg_list_fn fn, void *arg);
int backend_reg_write(const ksvc_platform *p, const char *key,
                             const ksvc_reg_change *changes, size_t count);
int backend_reg_key_exists(const ksvc_platform *p, const char *key,
                                  int *exists);

/* facts.c */
int backend_arch(const ksvc_platform *p, ksvc_arch *arch);
int backend_elevated(const ksvc_platform *p, int *elevated);

/* lock.c */
int backend_lock_mode(const ksvc_platform *p, unsigned mode,
                             unsigned timeout_ms);
int backend_lock(const ksvc_platform *p, unsigned timeout_ms);
int backend_unlock(const ksvc_platform *p);

/* rights.c */
int backend_write_access(const ksvc_platform *p, const char *name,
                         unsigned *others_may_write, char *who,
                         size_t who_size, char *fix, size_t fix_size);

/* hash.c */
int backend_sha256_begin(const ksvc_platform *p, void **state);
int backend_sha256_update(void *state, const void *data, size_t size);
int backend_sha256_end(void *state, unsigned char digest[32]);

extern const char *const tools_components[3];

/* ---- shared by hive.c, hive_parse.c and hive_write.c (the .reg text) ---- */

/* A growable byte buffer. */
typedef struct bytes {
    unsigned char *data;
    size_t len;
    size_t room;
} bytes;

/* Link names: what one file offers the others, in the library's
 * namespace (the code uses the short names). */
#define append_key ksvc__hive_append_key
#define append_value ksvc__hive_append_value
#define ascii_lower ksvc__hive_ascii_lower
#define bytes_add ksvc__hive_bytes_add
#define bytes_add_byte ksvc__hive_bytes_add_byte
#define bytes_add_str ksvc__hive_bytes_add_str
#define bytes_add_utf8_as_utf16 ksvc__hive_bytes_add_utf8_as_utf16
#define bytes_reserve ksvc__hive_bytes_reserve
#define copy_text ksvc__hive_copy_text
#define has_control ksvc__hive_has_control
#define hex_digit ksvc__hive_hex_digit
#define utf8_decode ksvc__hive_utf8_decode
#define utf8_encode ksvc__hive_utf8_encode
#define utf8_valid ksvc__hive_utf8_valid

/* hive.c */
int ascii_lower(int c);
int hex_digit(int c);
char *copy_text(const char *text, size_t len);
int utf8_valid(const unsigned char *s, size_t n);
int bytes_reserve(bytes *b, size_t more);
int bytes_add(bytes *b, const void *data, size_t size);
int bytes_add_byte(bytes *b, unsigned char c);
int bytes_add_str(bytes *b, const char *s);
int bytes_add_utf8_as_utf16(bytes *b, const unsigned char *s, size_t n);
int has_control(const char *s);
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);
size_t utf8_encode(uint32_t cp, unsigned char out[4]);
/* Read @p size bytes at @p offset of a hive's source (fewer only at its
 * end): KSVC_OK, or KSVC_E_IO with @p os_error set. */
int ksvc__hive_source_read(const ksvc__hive_source *src, uint64_t offset,
                           void *buf, size_t size, size_t *got, int *os_error);
ksvc__hive_key *append_key(ksvc__hive *hive, char *path);
ksvc__hive_value *append_value(ksvc__hive_key *key, char *name,
                               uint32_t type, unsigned char *data,
                               size_t size);

/* The first line of the files regedit writes, and their line end. */
#define HIVE_HEADER "Windows Registry Editor Version 5.00"
#define HIVE_HEADER_4 "REGEDIT4"
#define HIVE_EOL "\r\n"

#endif /* KSVC_PX_INTERNAL_H */
