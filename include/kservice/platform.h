/**
 * @file platform.h
 * @brief The platform method table: everything libkservice asks of an OS.
 *
 * The policy core never calls the operating system.  It reaches files, the
 * registry, the lock and the machine facts through one ::ksvc_platform, a
 * table of function pointers in the style of SQLite's VFS:
 *
 * - the first field is #ksvc_platform::version; new methods are only ever
 *   appended, and the core checks the version before calling a method that a
 *   later version added.  ksvc_open() accepts a version 1 table (it then
 *   calls none of the methods of version 2) and any later version (it calls
 *   only the methods it knows);
 * - every method returns 0 or a negative ::ksvc_error code; after a failure
 *   the core calls #ksvc_platform::last_error to learn which file or value
 *   failed and the OS error behind it;
 * - a table may wrap another one (fault injection in the tests does).
 *
 * Slot files are addressed by a plain file name inside the tools folder
 * (`kernel`, `kernel.rollback`, temporary names); a backend refuses names
 * with a path separator and never follows a link planted under such a name.
 * Only #ksvc_platform::payload_open takes a caller's path.
 *
 * Registry keys are paths below `HKEY_LOCAL_MACHINE`, separated by `\`, for
 * example `SOFTWARE\Microsoft\Windows\CurrentVersion\Lxss`.  Strings cross
 * this interface as UTF-8.
 */
#ifndef KSERVICE_PLATFORM_H
#define KSERVICE_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The platform table version this header describes.
 *
 * - 1: libkservice 1.0, up to #ksvc_platform::sha256_end;
 * - 2: #ksvc_platform::destroy, #ksvc_platform::reg_list and
 *   #ksvc_platform::lock_mode appended (libkservice 1.1);
 * - 3: #ksvc_platform::write_access appended (libkservice 1.2). */
#define KSVC_PLATFORM_VERSION 3

/** Registry value type: a string (`REG_SZ`). */
#define KSVC_REG_SZ 1u
/** Registry value type: a 32-bit number (`REG_DWORD`). */
#define KSVC_REG_DWORD 4u
/** Registry value type: a list of strings (`REG_MULTI_SZ`). */
#define KSVC_REG_MULTI_SZ 7u

/** Open flag: read the file. */
#define KSVC_OPEN_READ 0x1u
/** Open flag: create a new file for writing; fail if the name exists. */
#define KSVC_OPEN_CREATE_NEW 0x2u

/** What a name in the tools folder is, as reported by #ksvc_platform::stat. */
typedef enum ksvc_file_kind {
    KSVC_FILE_NONE = 0,    /**< nothing has that name */
    KSVC_FILE_REGULAR = 1, /**< a regular file */
    KSVC_FILE_OTHER = 2    /**< a folder, a link or a device: never a slot */
} ksvc_file_kind;

/** The answer of #ksvc_platform::stat. */
typedef struct ksvc_file_info {
    ksvc_file_kind kind; /**< what the name is */
    uint64_t size;       /**< size in bytes of a regular file */
    uint32_t links;      /**< hard link count of a regular file */
    /** Identity of the file, the same for every name of it: the inode
     * mixed with the device, or the NTFS file index mixed with the volume
     * serial number.  0 when the backend cannot tell; then the core always
     * hashes. */
    uint64_t file_id;
    /** The file's change time in nanoseconds since 1970 (POSIX `st_ctim`,
     * Windows `ChangeTime`), which moves on every write and every change of
     * the link count.  0 when the backend cannot tell; then the core always
     * hashes. */
    int64_t change_ns;
} ksvc_file_info;

/** Native processor architecture of the machine. */
typedef enum ksvc_arch {
    KSVC_ARCH_UNKNOWN = 0, /**< neither of the two below */
    KSVC_ARCH_X64 = 1,     /**< x86-64 (AMD64) */
    KSVC_ARCH_ARM64 = 2    /**< 64-bit ARM */
} ksvc_arch;

/** One change in a call of #ksvc_platform::reg_write. */
typedef struct ksvc_reg_change {
    const char *name; /**< value name */
    int remove;       /**< non-zero: delete the value (absent is fine) */
    uint32_t type;    /**< #KSVC_REG_SZ, #KSVC_REG_DWORD or #KSVC_REG_MULTI_SZ */
    /** The data: a NUL-terminated string for #KSVC_REG_SZ; 4 bytes in host
     * order for #KSVC_REG_DWORD; for #KSVC_REG_MULTI_SZ a run of
     * NUL-terminated strings ended by an empty one. */
    const void *data;
    size_t size; /**< bytes at @c data, terminators included */
} ksvc_reg_change;

/** An open file of a backend; only the backend knows what is inside. */
typedef struct ksvc_file ksvc_file;

/** Called by #ksvc_platform::list once for each name in the tools folder. */
typedef int (*ksvc_list_fn)(void *arg, const char *name);

/** One value of a key, as #ksvc_platform::reg_list reports it.  Fields are
 * only ever appended, with a new table version. */
typedef struct ksvc_reg_value {
    /** The value name, UTF-8; "" for the key's default value. */
    const char *name;
    /** The stored type, whatever it is (`REG_BINARY` is 3, and so on). */
    uint32_t type;
    /** The data in the form #ksvc_platform::reg_read gives it (strings
     * NUL-terminated UTF-8, a #KSVC_REG_DWORD in host order, other types as
     * stored); NULL when @c error is not 0. */
    const void *data;
    /** Bytes at @c data, terminators included. */
    size_t size;
    /** 0, or #KSVC_E_BAD_VALUE when the stored bytes are not well formed for
     * the type (a `REG_DWORD` that is not 4 bytes, a string no UTF-8 can
     * carry) or the name is not valid UTF-16 (then @c name holds it with
     * U+FFFD in place of the bad units): what reg_read would refuse; or
     * #KSVC_E_TOO_LONG when the backend does not hand the value out in a
     * listing (the POSIX mock: data beyond 64 KiB), @c size then being what
     * reg_read needs. */
    int error;
} ksvc_reg_value;

/** Called by #ksvc_platform::reg_list once for each value of the key; the
 * pointers in @p value are valid during the call only. */
typedef int (*ksvc_reg_list_fn)(void *arg, const ksvc_reg_value *value);

/** #ksvc_platform::lock_mode: only read the machine; other holders of a
 * shared lock may hold it too, an exclusive holder may not. */
#define KSVC_LOCK_SHARED 0u
/** #ksvc_platform::lock_mode: change the machine; no other holder at all. */
#define KSVC_LOCK_EXCLUSIVE 1u

/** The platform method table.  See the file description for the rules. */
typedef struct ksvc_platform {
    /** #KSVC_PLATFORM_VERSION of the header the backend was built with: the
     * methods after #ksvc_platform::sha256_end exist only when it is 2 or
     * more.  (An `int` in version 1; the same size and, for every valid
     * version, the same value.) */
    unsigned version;
    /** Short backend name for messages, such as "posix-mock" or "win32". */
    const char *name;
    /** Backend state; the core never looks inside. */
    void *data;

    /* ---- the last failure ---- */

    /** Describe the last failed call of this table: @p os_error receives the
     * OS code (errno, GetLastError or LSTATUS; 0 if none) and @p what a
     * NUL-terminated text naming the file or value and what went wrong. */
    void (*last_error)(const struct ksvc_platform *p, long *os_error,
                       char *what, size_t what_size);

    /* ---- files in the tools folder ---- */

    /** Open @p name in the tools folder with #KSVC_OPEN_READ or
     * #KSVC_OPEN_CREATE_NEW.  A link, a folder or a device under that name is
     * refused with #KSVC_E_UNSAFE_PATH; a missing name with
     * #KSVC_E_NOT_FOUND; an existing name with #KSVC_OPEN_CREATE_NEW with
     * #KSVC_E_EXISTS. */
    int (*file_open)(const struct ksvc_platform *p, const char *name,
                     unsigned flags, ksvc_file **out);
    /** Open the caller's file at @p path for reading.  It must be a regular
     * file (links to one are followed: the caller chose this path). */
    int (*payload_open)(const struct ksvc_platform *p, const char *path,
                        ksvc_file **out);
    /** Read up to @p size bytes at @p offset; @p got receives the count, 0 at
     * the end of the file. */
    int (*file_read)(ksvc_file *f, uint64_t offset, void *buf, size_t size,
                     size_t *got);
    /** Write all @p size bytes at @p offset. */
    int (*file_write)(ksvc_file *f, uint64_t offset, const void *buf,
                      size_t size);
    /** Make the file's data durable.  For a file made with
     * #KSVC_OPEN_CREATE_NEW this also makes its name in the tools folder
     * durable: the core's crash recovery relies on a synced file still
     * existing after a crash. */
    int (*file_sync)(ksvc_file *f);
    /** The file's size in bytes. */
    int (*file_size)(ksvc_file *f, uint64_t *size);
    /** Close the file; it is gone even when this fails. */
    int (*file_close)(ksvc_file *f);

    /** What @p name in the tools folder is, without following links. */
    int (*stat)(const struct ksvc_platform *p, const char *name,
                ksvc_file_info *info);
    /** Atomically put @p from in the place of @p to (replacing it), then
     * make the change durable. */
    int (*rename)(const struct ksvc_platform *p, const char *from,
                  const char *to);
    /** Remove @p name; a missing name is not an error.  Durable on return. */
    int (*remove)(const struct ksvc_platform *p, const char *name);
    /** Make @p new_name a second name for the file @p existing, durable on
     * return.  Returns
     * #KSVC_E_UNSUPPORTED where the file system has no hard links; then the
     * core copies instead. */
    int (*hard_link)(const struct ksvc_platform *p, const char *existing,
                     const char *new_name);
    /** Call @p fn for each name in the tools folder, stopping when it returns
     * non-zero (which is then returned). */
    int (*list)(const struct ksvc_platform *p, ksvc_list_fn fn, void *arg);
    /** The full path of @p name in the tools folder, for messages and for the
     * VM that boots it. */
    int (*full_path)(const struct ksvc_platform *p, const char *name,
                     char *buf, size_t size);

    /* ---- registry below HKEY_LOCAL_MACHINE ---- */

    /** Read value @p name of @p key.  @p size holds the room at @p buf and
     * receives the value's size; too little room gives #KSVC_E_TOO_LONG with
     * @p size set to the room needed.  Missing key or value:
     * #KSVC_E_NOT_FOUND.  @p type receives the stored type, whatever it is;
     * strings come back NUL-terminated UTF-8. */
    int (*reg_read)(const struct ksvc_platform *p, const char *key,
                    const char *name, uint32_t *type, void *buf,
                    size_t *size);
    /** Apply @p count changes to values of @p key, creating the key when
     * needed, in order.  A backend that can applies them atomically; the core
     * does not rely on it (its journal makes a partial write recoverable). */
    int (*reg_write)(const struct ksvc_platform *p, const char *key,
                     const ksvc_reg_change *changes, size_t count);
    /** Set @p exists to whether @p key exists. */
    int (*reg_key_exists)(const struct ksvc_platform *p, const char *key,
                          int *exists);

    /* ---- machine facts ---- */

    /** The native processor architecture. */
    int (*arch)(const struct ksvc_platform *p, ksvc_arch *arch);
    /** Set @p elevated to whether the caller is an administrator. */
    int (*elevated)(const struct ksvc_platform *p, int *elevated);

    /* ---- servicing lock ---- */

    /** Take the machine-wide servicing lock exclusively, waiting up to
     * @p timeout_ms; #KSVC_E_BUSY when another process holds it that long.
     * The same as #ksvc_platform::lock_mode with #KSVC_LOCK_EXCLUSIVE. */
    int (*lock)(const struct ksvc_platform *p, unsigned timeout_ms);
    /** Release the servicing lock. */
    int (*unlock)(const struct ksvc_platform *p);

    /* ---- hashing (optional: NULL means the core's built-in SHA-256) ---- */

    /** Start a SHA-256 computation; @p state receives the backend's state. */
    int (*sha256_begin)(const struct ksvc_platform *p, void **state);
    /** Feed @p size bytes into a SHA-256 computation. */
    int (*sha256_update)(void *state, const void *data, size_t size);
    /** Finish and free a computation; @p digest receives 32 bytes unless
     * @p digest is NULL (abandon). */
    int (*sha256_end)(void *state, unsigned char digest[32]);

    /* ---- version 2 (check #ksvc_platform::version first) ---- */

    /** Free the table and everything the backend holds (releasing the lock
     * if held).  Whoever made the table calls it once, whatever the backend:
     * `p->destroy(p)`. */
    void (*destroy)(struct ksvc_platform *p);
    /** Call @p fn for each value of @p key, in the order the backend keeps
     * them, stopping when it returns non-zero (which is then returned).  A
     * missing key: #KSVC_E_NOT_FOUND; a value the backend cannot read is
     * still reported, with ksvc_reg_value::error set. */
    int (*reg_list)(const struct ksvc_platform *p, const char *key,
                    ksvc_reg_list_fn fn, void *arg);
    /** Take the servicing lock in @p mode (#KSVC_LOCK_SHARED or
     * #KSVC_LOCK_EXCLUSIVE), waiting up to @p timeout_ms; #KSVC_E_BUSY when
     * a conflicting holder keeps it that long.  The backend decides nothing:
     * it takes what it is asked for or fails.  A shared lock needs no write
     * access: it is taken on a read-only handle of the lock file, which is
     * created only when the caller may; when the lock file does not exist
     * and cannot be created the result is #KSVC_E_NOT_FOUND (no one holds
     * the lock then, but a writer may create it at any moment; the core
     * decides whether to go on).  Released by #ksvc_platform::unlock. */
    int (*lock_mode)(const struct ksvc_platform *p, unsigned mode,
                     unsigned timeout_ms);

    /* ---- version 3 (check #ksvc_platform::version first) ---- */

    /** Who besides the administrators may change what decides the kernel
     * the machine boots.  @p name is a slot file name in the tools folder;
     * "" is the tools folder itself together with every folder above it
     * that the backend owns (whoever may write a parent may rename the
     * child: the mock checks ROOT, `System32` and `lxss` too); NULL is the
     * registry store of the servicing key (the mock's `registry.reg`, the
     * Windows key `SOFTWARE\Microsoft\Windows\CurrentVersion\Lxss`).
     * Links are never followed.
     *
     * @p others_may_write receives non-zero when an owner or a grant lets
     * someone other than the administrators change it; then @p who
     * receives who and how ("group 'staff' may write (mode 0775)",
     * "Everyone: write data") and @p fix the command an administrator runs
     * to fix it, each NUL-terminated and cut to fit.  Otherwise both
     * receive "".  A name that does not exist is no finding: #KSVC_OK with
     * @p others_may_write 0.  A backend that cannot tell answers
     * #KSVC_OK, 0, and may say so in @p who.  An error (the rights could
     * not be read) is reported as by any method. */
    int (*write_access)(const struct ksvc_platform *p, const char *name,
                        unsigned *others_may_write, char *who,
                        size_t who_size, char *fix, size_t fix_size);
} ksvc_platform;

#ifdef __cplusplus
}
#endif

#endif /* KSERVICE_PLATFORM_H */
