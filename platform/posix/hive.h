/*
 * The POSIX mock backend's registry: an in-memory model of a Windows `.reg`
 * export ("Windows Registry Editor Version 5.00"), with a strict parser and
 * a serializer that writes what regedit writes.
 *
 * Internal to the library (ksvc__ prefix); the tests call it directly.
 *
 * Text format accepted by ksvc__hive_parse() and ksvc__hive_parse_fd():
 *   - UTF-8, with or without a BOM, or UTF-16LE after its BOM (regedit's
 *     default export); lines end in LF or CRLF;
 *   - first line `Windows Registry Editor Version 5.00` or `REGEDIT4`;
 *   - blank lines and `;` comment lines anywhere after it;
 *   - key sections `[HKEY_LOCAL_MACHINE\...]`, each at most once;
 *   - values inside a section, each name at most once per key:
 *       `"Name"="text"`            REG_SZ (escapes `\\` and `\"`)
 *       `@=...`                    the key's default value (name "")
 *       `"Name"=dword:0000002a`    REG_DWORD (1 to 8 hex digits)
 *       `"Name"=hex(7):61,00,...`  REG_MULTI_SZ, UTF-16LE like regedit
 *       `"Name"=hex(1):...`        REG_SZ written as UTF-16LE
 *       `"Name"=hex(4):...`        REG_DWORD as 4 little-endian bytes
 *       `"Name"=hex:...`, `hex(N):...`  any other type, kept raw
 *     a hex list may continue on the next line after a trailing `\`;
 *   - deletions as regedit imports them: `"Name"=-` removes that value of
 *     the current key, `[-HKEY_...\Key]` that key and every key below it
 *     (values after it need a new section); deleting what is not there is
 *     fine.  A deleted name may be given again.
 *   Key and value names compare case-insensitively (ASCII), as on Windows.
 *
 * In memory the three types the platform table knows are held in the form
 * platform.h uses: REG_SZ as NUL-terminated UTF-8, REG_DWORD as 4 bytes in
 * host order, REG_MULTI_SZ as NUL-terminated UTF-8 strings ended by an
 * empty one.  Every other type holds its bytes exactly as the file gave.
 *
 * Memory: the parser reads its source (a file descriptor, or a buffer)
 * through a bounded window (64 KiB of raw bytes and 64 KiB of the current
 * line), never the whole text, and UTF-16LE is decoded on the fly.  A value
 * whose in-memory form is larger than KSVC__HIVE_KEEP_MAX is checked like
 * any other (its syntax and its content: damage inside it is KSVC_E_HIVE
 * with its line) but not held: the model keeps a span (the offset and length
 * of its text in the source, its first line, its type and in-memory size)
 * and the source stays open while the hive lives.  ksvc__hive_value_read()
 * decodes such a value on demand; the serializer copies its text verbatim
 * (the output has the source's encoding).  So the heap a hive takes is
 * bounded per value it keeps, whatever the sizes of the others.
 *
 * The serializer writes in the encoding and with the header the
 * hive was parsed from (UTF-8 without a BOM and the version 5 header for a
 * new hive), CRLF line ends (what regedit's exports use), a blank line after the header and after
 * every key, REG_SZ as a quoted string (or hex(1) when it holds a line
 * break), REG_DWORD as dword:, everything else as hex lists wrapped at 80
 * columns; a spanned value as its source text.  It streams to a file
 * descriptor through a 64 KiB buffer.  parse(serialize(h)) equals h.
 */
#ifndef KSVC_POSIX_HIVE_H
#define KSVC_POSIX_HIVE_H

#include <stddef.h>
#include <stdint.h>

/* Limits.  The file bound is what the mock reads and writes at all: 4 times
 * the 64 MiB its tests prove in bounded memory, and well above what a whole
 * exported SOFTWARE hive of a busy Windows machine weighs; parsing it takes
 * a few seconds, and heap only for the values kept.  A value of any size up
 * to the file bound is read; one larger than KSVC__HIVE_KEEP_MAX in memory
 * form is spanned, not held (see above). */
#define KSVC__HIVE_FILE_MAX (256u * 1024u * 1024u) /* bytes of hive file */
#define KSVC__HIVE_KEEP_MAX (64u * 1024u) /* in-memory bytes of a held value */
#define KSVC__HIVE_NAME_MAX 16383u /* bytes of a key path or value name */

/* Registry type numbers beyond those of platform.h. */
#define KSVC__REG_NONE 0u
#define KSVC__REG_BINARY 3u

/* Where the text of a value not held in memory is in the hive's source. */
typedef struct ksvc__hive_span {
    uint64_t offset; /* of its first line (0 with length 0: held) */
    uint64_t length; /* bytes through its last line and its line break */
    unsigned line;   /* number of its first line, for messages */
    int ends_line;   /* its last line ends in a line break */
} ksvc__hive_span;

typedef struct ksvc__hive_value {
    char *name;          /* UTF-8, "" for the default value (`@`) */
    uint32_t type;       /* registry type number */
    unsigned char *data; /* see the file comment for the form; NULL when
                            spanned */
    size_t size;         /* bytes of the in-memory form (also when spanned) */
    ksvc__hive_span span; /* length > 0: not held, read with
                             ksvc__hive_value_read */
} ksvc__hive_value;

typedef struct ksvc__hive_key {
    char *path; /* full path as in the section, e.g. HKEY_LOCAL_MACHINE\X */
    ksvc__hive_value *values; /* in file order */
    size_t value_count;
    size_t value_room;
} ksvc__hive_key;

/* How the file was written, so that it is written back the same way. */
typedef enum ksvc__hive_encoding {
    KSVC__HIVE_UTF8 = 0,     /* UTF-8 without a BOM (what this mock writes) */
    KSVC__HIVE_UTF8_BOM = 1, /* UTF-8 after EF BB BF */
    KSVC__HIVE_UTF16LE = 2   /* UTF-16LE after FF FE: regedit's own export */
} ksvc__hive_encoding;

/* What a hive was parsed from: an open file the hive owns, or a caller's
 * buffer that must outlive it. */
typedef struct ksvc__hive_source {
    int fd;                   /* -1 for a buffer */
    const unsigned char *mem; /* the buffer, or NULL */
    uint64_t size;            /* bytes of the source */
} ksvc__hive_source;

typedef struct ksvc__hive {
    ksvc__hive_key *keys; /* in file order */
    size_t key_count;
    size_t key_room;
    ksvc__hive_encoding encoding; /* of the file parsed; UTF-8 when new */
    int regedit4;                 /* its header was REGEDIT4 */
    ksvc__hive_source source;     /* of spanned values; fd -1 when new */
} ksvc__hive;

/* An empty hive, or NULL when out of memory. */
ksvc__hive *ksvc__hive_new(void);
/* Frees the model and closes the source file it owns. */
void ksvc__hive_free(ksvc__hive *hive);

/* Parse @p len bytes of .reg text; a spanned value points into @p text,
 * which must outlive the hive.  On failure returns KSVC_E_HIVE (damage),
 * KSVC_E_TOO_LONG (a size beyond the limits above) or KSVC_E_NO_MEMORY, and
 * @p err receives "line N: what was wrong". */
int ksvc__hive_parse(const char *text, size_t len, ksvc__hive **out,
                     char *err, size_t err_size);

/* Parse the @p size bytes of the open file @p fd from its offset 0 (read
 * with pread, in bounded chunks).  On success the hive owns @p fd and closes
 * it when freed; on failure the caller still does.  Errors as
 * ksvc__hive_parse, and KSVC_E_IO when a read failed (@p os_error receives
 * its errno, 0 when the file was shorter than @p size). */
int ksvc__hive_parse_fd(int fd, uint64_t size, ksvc__hive **out,
                        char *err, size_t err_size, int *os_error);

/* Copy the in-memory form of @p value (value->size bytes) to @p buf, which
 * has room for them; a spanned value is decoded from the source.  KSVC_OK,
 * KSVC_E_NO_MEMORY, KSVC_E_IO (@p os_error as above) or KSVC_E_HIVE (the
 * source changed since it was parsed). */
int ksvc__hive_value_read(const ksvc__hive *hive,
                          const ksvc__hive_value *value, void *buf,
                          int *os_error);

/* The .reg text of @p hive in a malloc'd buffer (NUL-terminated; @p len
 * excludes the NUL).  KSVC_OK, KSVC_E_NO_MEMORY, KSVC_E_TOO_LONG (beyond
 * KSVC__HIVE_FILE_MAX) or KSVC_E_IO (reading a span). */
int ksvc__hive_serialize(const ksvc__hive *hive, char **out, size_t *len);

/* Write the .reg text of @p hive to @p fd through a bounded buffer, stopping
 * before KSVC__HIVE_FILE_MAX bytes.  KSVC_OK, KSVC_E_NO_MEMORY,
 * KSVC_E_TOO_LONG, or KSVC_E_IO with @p os_error set and @p call naming
 * what failed ("write", or "read" of the source). */
int ksvc__hive_write(const ksvc__hive *hive, int fd, int *os_error,
                     const char **call);

/* The section whose path equals @p path, or NULL. */
ksvc__hive_key *ksvc__hive_find_key(const ksvc__hive *hive, const char *path);

/* Whether @p path is a section or an ancestor of one (Windows keeps the
 * parents of every key). */
int ksvc__hive_key_exists(const ksvc__hive *hive, const char *path);

/* The section @p path, appended when missing.  NULL when out of memory. */
ksvc__hive_key *ksvc__hive_add_key(ksvc__hive *hive, const char *path);

/* Value @p name of key @p path, or NULL. */
const ksvc__hive_value *ksvc__hive_get(const ksvc__hive *hive,
                                       const char *path, const char *name);

/* Set value @p name of key @p path (created when missing) to @p size bytes
 * of @p data in the in-memory form of @p type (held in memory, whatever its
 * size).  A value that exists keeps its place.  KSVC_E_INVALID_ARGUMENT when
 * the data is not well formed for its type (see ksvc__hive_check_data),
 * KSVC_E_TOO_LONG beyond KSVC__HIVE_FILE_MAX. */
int ksvc__hive_set(ksvc__hive *hive, const char *path, const char *name,
                   uint32_t type, const void *data, size_t size);

/* Delete value @p name of key @p path: KSVC_OK or KSVC_E_NOT_FOUND. */
int ksvc__hive_delete(ksvc__hive *hive, const char *path, const char *name);

/* Delete key @p path and every key below it: KSVC_OK or KSVC_E_NOT_FOUND. */
int ksvc__hive_delete_key(ksvc__hive *hive, const char *path);

/* Whether @p data is well formed for @p type in the in-memory form: REG_SZ
 * valid UTF-8 ending in its only NUL; REG_DWORD 4 bytes; REG_MULTI_SZ valid
 * UTF-8 strings, none empty, each NUL-terminated, then an empty one.  Returns
 * KSVC_OK or KSVC_E_INVALID_ARGUMENT with @p why set to a static reason. */
int ksvc__hive_check_data(uint32_t type, const void *data, size_t size,
                          const char **why);

/* Whether a key path or value name is acceptable (UTF-8, within the limits,
 * and for a key path: non-empty components, no control characters).
 * KSVC_OK, KSVC_E_INVALID_ARGUMENT or KSVC_E_TOO_LONG; @p why as above. */
int ksvc__hive_check_key_path(const char *path, const char **why);
int ksvc__hive_check_value_name(const char *name, const char **why);

/* Whether two hives hold the same keys and values in the same order (names
 * compared exactly; a value not held is decoded to be compared, so this
 * takes memory for it: for tests). */
int ksvc__hive_equal(const ksvc__hive *a, const ksvc__hive *b);

/* ASCII case-insensitive equality, as the registry compares names. */
int ksvc__hive_name_eq(const char *a, const char *b);

#endif /* KSVC_POSIX_HIVE_H */
