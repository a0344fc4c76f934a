/**
 * @file kservice.h
 * @brief libkservice: service the Linux kernel of a WSL 2-style machine.
 *
 * A machine keeps two kernels, `kernel` and `kernel.rollback`, in
 * `%%SystemRoot%\System32\lxss\tools`.  This API installs updates, rolls back,
 * reverts a rollback, repairs a missing or damaged kernel and says which
 * kernel to boot, under one rule: a version that was rolled back from is bad
 * and is never installed or booted again.
 *
 * Conventions: functions return 0 (#KSVC_OK) or a negative ::ksvc_error;
 * after a failure ksvc_error_detail() says which file or value was at fault.
 * Options and result structures start with a `version` field: initialise
 * them with their `_INIT` macro.  Strings are UTF-8.  A context is used by
 * one thread at a time; separate processes are serialised by a machine-wide
 * lock.
 */
#ifndef KSERVICE_KSERVICE_H
#define KSERVICE_KSERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "export.h"
#include "platform.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Major version of these headers. */
#define KSVC_VERSION_MAJOR 1
/** Minor version of these headers. */
#define KSVC_VERSION_MINOR 2
/** Patch version of these headers. */
#define KSVC_VERSION_PATCH 0
/** The version as one number: 0xMMmmpp. */
#define KSVC_VERSION_HEX                                                     \
    ((KSVC_VERSION_MAJOR << 16) | (KSVC_VERSION_MINOR << 8) |                \
     KSVC_VERSION_PATCH)
/** The version as text. */
#define KSVC_VERSION_STRING "1.2.0"

/**
 * The version of the library actually loaded.
 * @return the library's #KSVC_VERSION_HEX
 */
KSVC_API unsigned ksvc_version(void);

/**
 * The version of the library actually loaded, as text.
 * @return a static string such as "1.0.0"
 */
KSVC_API const char *ksvc_version_string(void);

/* ------------------------------------------------------------------------ */
/* Kernel versions                                                          */
/* ------------------------------------------------------------------------ */

/** Longest kernel version text accepted, in bytes, without the NUL. */
#define KSVC_KVER_MAX 64
/** Most numeric components in a kernel version. */
#define KSVC_KVER_MAX_PARTS 8

/** A parsed kernel version such as `5.15.153.1-microsoft-standard-WSL2`. */
typedef struct ksvc_kver {
    unsigned version;                  /**< #KSVC_KVER_VERSION */
    unsigned count;                    /**< numeric components present */
    uint32_t parts[KSVC_KVER_MAX_PARTS]; /**< the components, in order */
    char suffix[KSVC_KVER_MAX + 1];    /**< text after the numbers as written:
                                            "" or starting with `-` or `+` */
} ksvc_kver;

/** Current version of ::ksvc_kver. */
#define KSVC_KVER_VERSION 1
/** Initialiser for ::ksvc_kver. */
#define KSVC_KVER_INIT { KSVC_KVER_VERSION, 0, { 0 }, { 0 } }

/**
 * Parse a kernel version: one to #KSVC_KVER_MAX_PARTS decimal components of
 * at most 32 bits separated by dots, optionally followed by a suffix that
 * starts with `-` or `+` and holds letters, digits and `.-+_`, such as
 * `5.15.153.1-microsoft-standard-WSL2`, `6.1.0-57-amd64`, `6.1.0+deb12u1`
 * or `5.15.0-91-generic+`.
 * @param text the version text
 * @param out  receives the parts; its version field must be set
 * @return #KSVC_OK, #KSVC_E_VERSION_SYNTAX, #KSVC_E_TOO_LONG or
 *         #KSVC_E_STRUCT_VERSION
 */
KSVC_API int ksvc_kver_parse(const char *text, ksvc_kver *out);

/**
 * Order two kernel versions: the numbers component by component (a missing
 * component counts as 0), then the suffix, whose runs of digits compare as
 * numbers and whose letters compare without case.
 *
 * The result is 0 exactly when both are the same version, that is the same
 * text after this normalisation: leading zeros of every number dropped
 * (`05.15` is `5.15`, `-057-amd64` is `-57-amd64`), missing components 0
 * (`5.15` is `5.15.0`), letters in one case (`-WSL2` is `-wsl2`).  The order
 * is total: antisymmetric, transitive, and consistent with that identity.
 *
 * In the suffix, a digit run sorts after `+`, `-` and `.` and before `_`
 * and letters, and a suffix that is a prefix of the other sorts first, so a
 * version without suffix comes before every suffixed version of its
 * numbers.  Examples, in increasing order:
 *
 *     5.15.90.1 < 5.15.153.1                      (153 > 90 as numbers)
 *     6.1.0 < 6.1.0+deb12u1 < 6.1.0-57-amd64      (+ sorts before -)
 *     6.1.0-57-amd64 < 6.1.0-58-amd64 < 6.1.0-100-amd64
 *     5.15.0-91-generic < 5.15.0-91-generic+
 *     5.15.153.1 < 5.15.153.1-microsoft-standard-WSL2
 *
 * and `6.1.0-57-AMD64` equals `6.1.0-57-amd64`.
 *
 * The library's own "same version" (the bad list, the reinstall check, the
 * version given against the version an image names) also lets a version
 * recorded without suffix match any suffixed version of the same numbers:
 * a `KernelVersion` of `5.15.153.1` written by another installer is the
 * image that names `5.15.153.1-microsoft-standard-WSL2`, and a bad
 * `5.15.153.1` blocks it.  Two different suffixes never match.  That match
 * is not an equivalence (`6.1.0-57-amd64` and `6.1.0-58-amd64` both match
 * `6.1.0`), so this order does not return 0 for it.  A suffix never marks
 * a pre-release: `6.1.0-rc1` sorts after `6.1.0`.
 *
 * @param a      first version text
 * @param b      second version text
 * @param result receives -1, 0 or 1 as @p a is older, the same or newer
 * @return #KSVC_OK or the parse error of the first invalid version
 */
KSVC_API int ksvc_kver_compare(const char *a, const char *b, int *result);

/* ------------------------------------------------------------------------ */
/* Context                                                                  */
/* ------------------------------------------------------------------------ */

/** An open servicing context over one machine (opaque). */
typedef struct ksvc_context ksvc_context;

/** Open flag: a read-only context.  It takes no lock, finishes no
 * interrupted operation and records nothing (not even a manual revert): it
 * reports the machine as it is, the same way on every backend, so a
 * standard user, a monitoring tool or an installer's early check can ask
 * without write access.  Every changing call on it fails with
 * #KSVC_E_READ_ONLY. */
#define KSVC_OPEN_READ_ONLY 0x1u

/** Options of ksvc_open(). */
typedef struct ksvc_open_options {
    unsigned version;         /**< #KSVC_OPEN_OPTIONS_VERSION */
    unsigned lock_timeout_ms; /**< how long to wait for another servicer */
    /* ---- version 2 ---- */
    unsigned flags;           /**< #KSVC_OPEN_READ_ONLY */
    /** Where a failed ksvc_open() writes its error detail (no context
     * exists to ask), or NULL. */
    char *error_detail;
    size_t error_detail_size; /**< room at @c error_detail */
} ksvc_open_options;

/** Current version of ::ksvc_open_options.  A caller built for version 1
 * passes 1 and gets the defaults of the newer fields. */
#define KSVC_OPEN_OPTIONS_VERSION 2
/** Initialiser for ::ksvc_open_options: wait up to 10 seconds for the lock. */
#define KSVC_OPEN_OPTIONS_INIT { KSVC_OPEN_OPTIONS_VERSION, 10000, 0, NULL, 0 }

/**
 * Open a servicing context over a platform.  When the caller is an
 * administrator (and #KSVC_OPEN_READ_ONLY is not given) this also finishes
 * or undoes an operation that a crash interrupted, decided from what is on
 * disk, and records what others did: a manual revert (the `RollbackKernel`
 * value deleted by hand), a rollback made by another tool (the version
 * `RollbackKernel` names becomes bad for good), foreign kernels of good
 * versions (adopted).  Recording is at best effort: when it fails the open
 * still succeeds, and the next one tries again.
 * @param out      receives the context; NULL on failure
 * @param platform the platform table; must outlive the context
 * @param options  options, or NULL for the defaults
 * @return #KSVC_OK or an error; on error no context is made
 */
KSVC_API int ksvc_open(ksvc_context **out, const ksvc_platform *platform,
                       const ksvc_open_options *options);

/**
 * Close a context and free everything it owns.
 * @param ctx a context from ksvc_open(), or NULL
 */
KSVC_API void ksvc_close(ksvc_context *ctx);

/**
 * Detail of the last error on this context: which file or value, what was
 * wrong with it.
 * @param ctx the context
 * @return a NUL-terminated text, "" when the last call succeeded; valid until
 *         the next call on @p ctx
 */
KSVC_API const char *ksvc_error_detail(const ksvc_context *ctx);

/**
 * The OS error behind the last error on this context (errno, GetLastError
 * or an LSTATUS), or 0.
 * @param ctx the context
 * @return the OS error code of the last failure, 0 if none
 */
KSVC_API long ksvc_os_error(const ksvc_context *ctx);

/**
 * The message a tool prints after a change of kernel: the running Linux
 * keeps its kernel until it is shut down and restarted.
 * @return a static NUL-terminated text
 */
KSVC_API const char *ksvc_restart_message(void);

/* ------------------------------------------------------------------------ */
/* Pre-check                                                                */
/* ------------------------------------------------------------------------ */

/** Why the pre-check refused a machine. */
typedef enum ksvc_precheck_reason {
    KSVC_PRECHECK_OK = 0,             /**< the machine can run WSL 2 */
    KSVC_PRECHECK_OS_TOO_OLD = 1,     /**< Windows too old for WSL 2 */
    KSVC_PRECHECK_WSL_DISABLED = 2,   /**< WSL is not enabled */
    KSVC_PRECHECK_RESTART_PENDING = 3, /**< restart required after enabling */
    KSVC_PRECHECK_UNSUPPORTED_ARCH = 4 /**< neither x64 nor arm64 */
} ksvc_precheck_reason;

/** The answer of ksvc_precheck(). */
typedef struct ksvc_precheck_result {
    unsigned version;            /**< #KSVC_PRECHECK_RESULT_VERSION */
    ksvc_precheck_reason reason; /**< #KSVC_PRECHECK_OK or why not */
    uint32_t os_build;           /**< CurrentBuildNumber */
    uint32_t os_ubr;             /**< UBR (0 when absent) */
    ksvc_arch arch;              /**< native architecture */
    int wsl_enabled;             /**< the LxssManager service key exists */
    int restart_pending;         /**< a restart is pending */
} ksvc_precheck_result;

/** Current version of ::ksvc_precheck_result. */
#define KSVC_PRECHECK_RESULT_VERSION 1
/** Initialiser for ::ksvc_precheck_result. */
#define KSVC_PRECHECK_RESULT_INIT                                            \
    { KSVC_PRECHECK_RESULT_VERSION, KSVC_PRECHECK_OK, 0, 0,                  \
      KSVC_ARCH_UNKNOWN, 0, 0 }

/**
 * Check that this machine can take a WSL 2 kernel (the installer's
 * pre-check): x64 build 18362 or 18363 with UBR >= 1049 or any build >=
 * 19041, arm64 build >= 19041, WSL enabled, no restart pending.
 * @param ctx    the context
 * @param result receives the facts and the reason
 * @return #KSVC_OK when the machine passes; #KSVC_E_PRECHECK when it does
 *         not (the reason is in @p result and in ksvc_error_detail()); or an
 *         error reading the facts
 */
KSVC_API int ksvc_precheck(ksvc_context *ctx, ksvc_precheck_result *result);

/**
 * The sentence that explains a pre-check reason.
 * @param reason a ::ksvc_precheck_reason
 * @return a static text such as "Windows is too old for WSL 2."
 */
KSVC_API const char *ksvc_precheck_reason_text(ksvc_precheck_reason reason);

/* ------------------------------------------------------------------------ */
/* Operations                                                               */
/* ------------------------------------------------------------------------ */

/** Install flag: accept a version older than the kernel in use. */
#define KSVC_INSTALL_ALLOW_DOWNGRADE 0x1u
/** Install flag: install again the version already in use. */
#define KSVC_INSTALL_FORCE 0x2u

/** Tries a new kernel is given to prove that it boots, unless the options
 * say otherwise (see ksvc_boot_begin()). */
#define KSVC_INSTALL_TRIES_DEFAULT 3u
/** Most tries a trial may be given. */
#define KSVC_INSTALL_TRIES_MAX 100u

/** Options of ksvc_install(). */
typedef struct ksvc_install_options {
    unsigned version;       /**< #KSVC_INSTALL_OPTIONS_VERSION */
    unsigned flags;         /**< #KSVC_INSTALL_ALLOW_DOWNGRADE, #KSVC_INSTALL_FORCE */
    const char *sha256_hex; /**< expected SHA-256 of the payload, or NULL */
    /* ---- version 2 ---- */
    /** Boots the new kernel may begin without a confirmation before the
     * library rolls back by itself (trial boot); 0: no trial, the kernel is
     * trusted at once.  A version-1 caller gets
     * #KSVC_INSTALL_TRIES_DEFAULT. */
    unsigned tries;
} ksvc_install_options;

/** Current version of ::ksvc_install_options. */
#define KSVC_INSTALL_OPTIONS_VERSION 2
/** Initialiser for ::ksvc_install_options. */
#define KSVC_INSTALL_OPTIONS_INIT                                            \
    { KSVC_INSTALL_OPTIONS_VERSION, 0, NULL, KSVC_INSTALL_TRIES_DEFAULT }

/**
 * Install or update the kernel from the file at @p payload_path.  When not
 * rolled back the current kernel becomes `kernel.rollback`; when rolled back
 * the good rollback kernel is kept and the rollback state ends.  The file
 * named `kernel` exists at every instant.  Requires administrator rights and
 * a passing pre-check; refuses a version marked bad, a downgrade and a
 * reinstall unless the options allow them.
 *
 * The payload must be a Linux kernel image for the machine's architecture:
 * an x86-64 bzImage on x64, an arm64 Image on arm64.  The version it names
 * (the bzImage `kernel_version` string, the arm64 `Linux version` banner)
 * is the version installed when @p kernel_version is NULL, and a
 * @p kernel_version that contradicts it is refused.
 * @param ctx          the context
 * @param payload_path the new kernel file
 * @param kernel_version its version, such as "5.15.153.1", or NULL to use
 *                     the version named inside the image
 * @param options      options, or NULL for the defaults
 * @return #KSVC_OK or an error; on error nothing changed.  Among the
 *         refusals: #KSVC_E_BAD_PAYLOAD (not a kernel image, or a truncated
 *         or inconsistent header), #KSVC_E_WRONG_ARCH,
 *         #KSVC_E_VERSION_MISMATCH, #KSVC_E_VERSION_SYNTAX (no version given
 *         and none inside the image)
 */
KSVC_API int ksvc_install(ksvc_context *ctx, const char *payload_path,
                          const char *kernel_version,
                          const ksvc_install_options *options);

/**
 * Roll back: boot `kernel.rollback` from now on and mark the version in
 * `kernel` bad.  Files are not touched.
 * @param ctx the context
 * @return #KSVC_OK, #KSVC_E_ROLLED_BACK, #KSVC_E_NO_ROLLBACK,
 *         #KSVC_E_BAD_VERSION, #KSVC_E_DAMAGED or another error
 */
KSVC_API int ksvc_rollback(ksvc_context *ctx);

/**
 * Revert a rollback: boot `kernel` again and forget that it was bad.
 * @param ctx the context
 * @return #KSVC_OK, #KSVC_E_NOT_ROLLED_BACK or another error
 */
KSVC_API int ksvc_revert_rollback(ksvc_context *ctx);

/**
 * Repair the effective kernel: adopt it when it is a foreign kernel of a
 * good version; restore it by a copy of the other slot when it is missing,
 * damaged or of a bad version and the other slot is verified or foreign and
 * not bad.  Succeeds without change when the effective kernel is verified
 * and good.  ksvc_last_result() says which it did.
 * @param ctx the context
 * @return #KSVC_OK, #KSVC_E_KERNEL_MISSING when no good copy exists, or
 *         another error
 */
KSVC_API int ksvc_repair(ksvc_context *ctx);

/* ------------------------------------------------------------------------ */
/* Status and boot                                                          */
/* ------------------------------------------------------------------------ */

/** A kernel slot. */
typedef enum ksvc_slot {
    KSVC_SLOT_NONE = 0,    /**< no slot (no bootable kernel) */
    KSVC_SLOT_KERNEL = 1,  /**< `kernel` */
    KSVC_SLOT_ROLLBACK = 2 /**< `kernel.rollback` */
} ksvc_slot;

/**
 * What a slot holds, judged from its bytes and the record.
 *
 * - missing: no file has the slot's name;
 * - verified: the file's size and SHA-256 are the ones the library recorded
 *   for it;
 * - foreign: a complete kernel image for this machine's architecture that
 *   the record does not describe: placed by another installer, by the
 *   public page's remedies (a copy of `kernel.rollback`, a kernel taken out
 *   of the MSI), or the kernel that shipped with Windows.  Its version is
 *   the one its image names.  An administrator's next open, and repair,
 *   adopt it (record its version and checksum) unless that version is bad;
 * - damaged: anything else: not a kernel image, an image for another
 *   architecture, a bzImage shorter than its setup header says, an image
 *   naming no version that nothing records, or bytes that differ from the
 *   record of the very version the image names (disk damage).  A damaged
 *   kernel is never booted and never moved into `kernel.rollback`.
 */
typedef enum ksvc_slot_class {
    KSVC_SLOT_CLASS_MISSING = 0,  /**< no file */
    KSVC_SLOT_CLASS_VERIFIED = 1, /**< matches the record */
    KSVC_SLOT_CLASS_FOREIGN = 2,  /**< a complete image the record does not
                                       describe */
    KSVC_SLOT_CLASS_DAMAGED = 3   /**< anything else */
} ksvc_slot_class;

/**
 * The name of a slot class: "missing", "verified", "foreign" or "damaged".
 * @param cls a ::ksvc_slot_class
 * @return a static text; "unknown" for another value
 */
KSVC_API const char *ksvc_slot_class_name(ksvc_slot_class cls);

/** What ksvc_status_get() says of one slot. */
typedef struct ksvc_slot_status {
    int present;  /**< a regular file has the slot's name */
    int recorded; /**< the registry records a version for it */
    int intact;   /**< present and matches what is recorded: its size and
                       its SHA-256 (hashed unless the file still carries the
                       fingerprint recorded when it last matched: any write
                       or new link changes that) */
    int bad;      /**< its recorded version is marked bad */
    uint64_t size;                  /**< size of the file on disk */
    char kernel_version[KSVC_KVER_MAX + 1]; /**< recorded version, or "" */
    char sha256[65];                /**< recorded SHA-256 in hex, or "" */
} ksvc_slot_status;

/** Status flag: hash both slots and compare with the recorded SHA-256,
 * even a slot that still carries its recorded fingerprint (without the flag
 * such a slot is intact without being read; any other slot is hashed). */
#define KSVC_STATUS_VERIFY 0x1u

/** The answer of ksvc_status_get(). */
typedef struct ksvc_status {
    unsigned version;          /**< #KSVC_STATUS_VERSION */
    unsigned flags;            /**< in: #KSVC_STATUS_VERIFY */
    ksvc_slot_status kernel;   /**< the `kernel` slot */
    ksvc_slot_status rollback; /**< the `kernel.rollback` slot */
    int rolled_back;           /**< `RollbackKernel` is present */
    char rolled_back_from[KSVC_KVER_MAX + 1]; /**< its value, or "" */
    ksvc_slot effective;       /**< the slot to boot, #KSVC_SLOT_NONE if none */
    int restart_required;      /**< the running Linux has not picked up the
                                    last change yet */
    size_t bad_count;          /**< number of versions marked bad */
    const char *const *bad_versions; /**< those versions; owned by the
                                          context, valid until its next call */
    size_t problem_count;      /**< number of problems found */
    const char *const *problems; /**< one sentence each; owned like
                                      @c bad_versions */
    /* ---- version 2 ---- */
    /** The version named inside the `kernel` file's image (its bzImage
     * `kernel_version` or arm64 banner), or "" when absent or unnamed. */
    char kernel_image_version[KSVC_KVER_MAX + 1];
    /** The same for `kernel.rollback`. */
    char rollback_image_version[KSVC_KVER_MAX + 1];
    /* ---- version 3 ---- */
    ksvc_slot_class kernel_class;   /**< what `kernel` holds */
    ksvc_slot_class rollback_class; /**< what `kernel.rollback` holds */
    /** The version the `kernel` file holds: the recorded one when
     * verified, the one its image names when foreign, "" otherwise. */
    char kernel_holds[KSVC_KVER_MAX + 1];
    /** The same for `kernel.rollback`. */
    char rollback_holds[KSVC_KVER_MAX + 1];
    /** The version held by `kernel` is bad (also when only `RollbackKernel`
     * says so, before the library has recorded it). */
    int kernel_holds_bad;
    int rollback_holds_bad; /**< the same for `kernel.rollback` */
    /* ---- version 4 ---- */
    /** `kernel` is on trial: it has not yet proved that it boots. */
    int on_trial;
    unsigned trial_tries;      /**< boots it may begin unconfirmed */
    unsigned trial_tries_left; /**< of those, not begun yet */
    /** The kernel the machine boots has been confirmed (or recorded) as
     * booted since it was put in place. */
    int confirmed;
    /** Why the library last rolled back by itself, or "". */
    char auto_rollback_reason[256];
    /** When, as ISO 8601 UTC (`2026-12-01T22:15:30Z`), or "". */
    char auto_rollback_time[32];
    /* ---- version 5 ---- */
    /** What someone other than the administrators may change, a set of
     * #KSVC_OTHERS_MAY_WRITE_TOOLS and the like (0: nothing; always 0 with
     * a platform table older than version 3, which cannot tell).  While
     * it is not 0, install, rollback, revert and repair are refused with
     * #KSVC_E_INSECURE; @c problems says who and the command that fixes
     * it. */
    unsigned others_may_write;
} ksvc_status;

/** ksvc_status::others_may_write: the tools folder, or a folder above it
 * whose writer could rename it. */
#define KSVC_OTHERS_MAY_WRITE_TOOLS 0x1u
/** ksvc_status::others_may_write: the file `kernel`. */
#define KSVC_OTHERS_MAY_WRITE_KERNEL 0x2u
/** ksvc_status::others_may_write: the file `kernel.rollback`. */
#define KSVC_OTHERS_MAY_WRITE_ROLLBACK 0x4u
/** ksvc_status::others_may_write: the registry store of the servicing key
 * (the Lxss key; the mock's `registry.reg`). */
#define KSVC_OTHERS_MAY_WRITE_REGISTRY 0x8u

/** Current version of ::ksvc_status.  A caller built for version 1 passes
 * 1 and gets the fields up to @c problems only; version 2 up to
 * @c rollback_image_version; version 3 up to @c rollback_holds_bad;
 * version 4 up to @c auto_rollback_time. */
#define KSVC_STATUS_VERSION 5
/** Initialiser for ::ksvc_status. */
#define KSVC_STATUS_INIT                                                     \
    { KSVC_STATUS_VERSION, 0, { 0, 0, 0, 0, 0, { 0 }, { 0 } },               \
      { 0, 0, 0, 0, 0, { 0 }, { 0 } }, 0, { 0 }, KSVC_SLOT_NONE, 0, 0, NULL, \
      0, NULL, { 0 }, { 0 }, KSVC_SLOT_CLASS_MISSING,                        \
      KSVC_SLOT_CLASS_MISSING, { 0 }, { 0 }, 0, 0, 0, 0u, 0u, 0, { 0 },      \
      { 0 }, 0u }

/**
 * Describe both slots (with their ::ksvc_slot_class), the rollback state,
 * the bad versions, the trial and any problem found (a registry value that
 * cannot be read is named).  Records nothing of what others did; on an
 * administrator's context that is not read-only it finishes or undoes an
 * operation a crash interrupted, as ksvc_open() does.
 * @param ctx    the context
 * @param status in: version and flags; out: the status
 * @return #KSVC_OK or an error reading the state
 */
KSVC_API int ksvc_status_get(ksvc_context *ctx, ksvc_status *status);

/**
 * The full path of the kernel to boot: `kernel.rollback` when rolled back,
 * else `kernel`; never a version marked bad.
 * @param ctx  the context
 * @param buf  receives the NUL-terminated path
 * @param size room at @p buf
 * @return #KSVC_OK, #KSVC_E_KERNEL_MISSING, #KSVC_E_TOO_LONG or another error
 */
KSVC_API int ksvc_boot_path(ksvc_context *ctx, char *buf, size_t size);

/**
 * Record that the Linux VM was started with the effective kernel, which
 * clears the restart-required flag.  Since 1.1 the same as
 * ksvc_boot_confirm().
 * @param ctx the context
 * @return #KSVC_OK or an error
 */
KSVC_API int ksvc_record_boot(ksvc_context *ctx);

/**
 * What a launcher calls right before it starts the VM: the kernel to boot,
 * with the try counted when that kernel is on trial.
 *
 * A kernel installed with tries (#KSVC_INSTALL_TRIES_DEFAULT unless the
 * options say otherwise) is on trial until ksvc_boot_confirm().  Each call
 * counts one try durably before it returns.  When the tries are used up
 * without a confirmation the library rolls back by itself, exactly as
 * `wsl --update --rollback` does (`RollbackKernel` set, the version marked
 * bad, with the reason "did not confirm a boot in N tries"), and returns
 * `kernel.rollback` when that one is intact and not bad; otherwise
 * #KSVC_E_KERNEL_MISSING with its remedies.  It never returns a bad or
 * damaged kernel.  ksvc_last_result() says what it did.
 *
 * Rights: counting a try writes, so it needs an administrator (the service
 * that starts the VM).  A standard user's call gets the path when the
 * kernel is not on trial, and #KSVC_E_NOT_ELEVATED when it is: an untried
 * kernel is never started without its try counted.
 * @param ctx  the context
 * @param buf  receives the NUL-terminated path
 * @param size room at @p buf
 * @return #KSVC_OK or the error of ksvc_boot_path()
 */
KSVC_API int ksvc_boot_begin(ksvc_context *ctx, char *buf, size_t size);

/**
 * The guest came up healthy: the kernel the machine boots has proved
 * itself.  Its trial ends, and it is recorded as the kernel running (which
 * clears the restart-required flag).  Needs an administrator.
 * @param ctx the context
 * @return #KSVC_OK or an error (#KSVC_E_KERNEL_MISSING, ...)
 */
KSVC_API int ksvc_boot_confirm(ksvc_context *ctx);

/* ------------------------------------------------------------------------ */
/* What an operation did (1.1)                                              */
/* ------------------------------------------------------------------------ */

/** The operation a ::ksvc_result describes. */
typedef enum ksvc_operation {
    KSVC_OPERATION_NONE = 0,        /**< no changing call yet */
    KSVC_OPERATION_INSTALL = 1,     /**< ksvc_install() */
    KSVC_OPERATION_INSTALL_CHECK = 2, /**< ksvc_install_check(): a decision
                                           only, nothing changed */
    KSVC_OPERATION_ROLLBACK = 3,    /**< ksvc_rollback() */
    KSVC_OPERATION_REVERT = 4,      /**< ksvc_revert_rollback() */
    KSVC_OPERATION_REPAIR = 5,      /**< ksvc_repair() */
    KSVC_OPERATION_RECORD_BOOT = 6, /**< ksvc_record_boot() */
    KSVC_OPERATION_BOOT_BEGIN = 7,  /**< ksvc_boot_begin() */
    KSVC_OPERATION_BOOT_CONFIRM = 8 /**< ksvc_boot_confirm() */
} ksvc_operation;

/** Result flag: a new file became `kernel` (an install, or a repair that
 * restored it). */
#define KSVC_MOVED_KERNEL_REPLACED 0x1u
/** Result flag: the previous `kernel` became `kernel.rollback`. */
#define KSVC_MOVED_KERNEL_TO_ROLLBACK 0x2u
/** Result flag: a missing or damaged slot was restored by a copy of the
 * other one. */
#define KSVC_MOVED_RESTORED 0x4u
/** Result flag: ksvc_boot_begin() counted a try of a kernel on trial. */
#define KSVC_MOVED_TRY_COUNTED 0x10u
/** Result flag: ksvc_boot_begin() found the tries used up and rolled back
 * by itself. */
#define KSVC_MOVED_AUTO_ROLLBACK 0x20u
/** Result flag: ksvc_boot_confirm() ended a trial. */
#define KSVC_MOVED_TRIAL_ENDED 0x40u
/** Result flag: a foreign kernel was adopted: its version and checksum are
 * now recorded; its bytes did not move. */
#define KSVC_MOVED_ADOPTED 0x8u

/** How the next open settles an operation that returned
 * #KSVC_E_IN_DOUBT. */
typedef enum ksvc_settle {
    KSVC_SETTLE_NONE = 0,     /**< nothing to settle, or the next open's
                                   status tells */
    KSVC_SETTLE_COMPLETE = 1, /**< the change took effect; the next open
                                   completes it (treat it as done) */
    KSVC_SETTLE_UNDO = 2      /**< the change did not take effect; the next
                                   open undoes what is left of it */
} ksvc_settle;

/** What the last changing call on a context decided and did. */
typedef struct ksvc_result {
    unsigned version;          /**< #KSVC_RESULT_VERSION */
    ksvc_operation operation;  /**< which call this describes */
    int error;                 /**< what it returned */
    int changed;               /**< 1 when the machine changed */
    unsigned moved;            /**< KSVC_MOVED_* flags */
    int rolled_back_before;    /**< `RollbackKernel` was present before */
    int rolled_back_after;     /**< and after (the same when refused) */
    char kernel_before[KSVC_KVER_MAX + 1];   /**< version `kernel` held, or "" */
    char kernel_after[KSVC_KVER_MAX + 1];    /**< the same after */
    char rollback_before[KSVC_KVER_MAX + 1]; /**< version `kernel.rollback` held */
    char rollback_after[KSVC_KVER_MAX + 1];  /**< the same after */
    char marked_bad[KSVC_KVER_MAX + 1];   /**< version newly marked bad, or "" */
    char unmarked_bad[KSVC_KVER_MAX + 1]; /**< version no longer bad, or "" */
    ksvc_precheck_reason precheck;        /**< the pre-check's answer when the
                                               operation ran it */
    char summary[256];         /**< one sentence saying what was done (or
                                    would be, or why not) */
    /** After #KSVC_E_IN_DOUBT: what the next open does with it. */
    ksvc_settle settles;
} ksvc_result;

/** Current version of ::ksvc_result. */
#define KSVC_RESULT_VERSION 1
/** Initialiser for ::ksvc_result. */
#define KSVC_RESULT_INIT                                                     \
    { KSVC_RESULT_VERSION, KSVC_OPERATION_NONE, 0, 0, 0u, 0, 0, { 0 },        \
      { 0 }, { 0 }, { 0 }, { 0 }, { 0 }, KSVC_PRECHECK_OK, { 0 },             \
      KSVC_SETTLE_NONE }

/**
 * What the last changing call on @p ctx (install, install check, rollback,
 * revert, repair, record boot) decided and did, so a tool reports it
 * without working it out again.
 * @param ctx    the context
 * @param result receives the result; its version field must be set
 * @return #KSVC_OK, #KSVC_E_INVALID_ARGUMENT or #KSVC_E_STRUCT_VERSION
 */
KSVC_API int ksvc_last_result(const ksvc_context *ctx, ksvc_result *result);

/**
 * The whole decision of ksvc_install() without changing anything: what an
 * installer asks before it removes anything of its own.  With a payload the
 * image is read and checked as ksvc_install() does (the expected SHA-256 of
 * the options too); with @p payload_path NULL the decision is made on
 * @p kernel_version alone.  ksvc_last_result() then says what the install
 * would do.
 * @param ctx            the context
 * @param payload_path   the new kernel file, or NULL
 * @param kernel_version its version, or NULL to take it from the image
 * @param options        options, or NULL for the defaults
 * @return #KSVC_OK when ksvc_install() would go ahead, else the error it
 *         would return (#KSVC_E_BAD_VERSION, #KSVC_E_DOWNGRADE, ...)
 */
KSVC_API int ksvc_install_check(ksvc_context *ctx, const char *payload_path,
                                const char *kernel_version,
                                const ksvc_install_options *options);

#ifdef __cplusplus
}
#endif

#endif /* KSERVICE_KSERVICE_H */
