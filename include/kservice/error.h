/**
 * @file error.h
 * @brief The error codes of libkservice, one list for the enum, the names
 *        and the messages.
 */
#ifndef KSERVICE_ERROR_H
#define KSERVICE_ERROR_H

#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The message of #KSVC_E_KERNEL_MISSING, word for word what WSL prints. */
#define KSVC_MSG_KERNEL_MISSING                                              \
    "WSL 2 requires an update to its kernel component. For information "   \
    "please visit https://aka.ms/wsl2kernel"

/** The first sentence of every pre-check refusal (#KSVC_E_PRECHECK). */
#define KSVC_MSG_PRECHECK                                                    \
    "This update only applies to machines with the Windows Subsystem for "  \
    "Linux."

/**
 * The one error list: F(X, NAME, value, CLASS, message) for each error.
 * Each entry yields the enum constant `KSVC_E_NAME`, the string
 * "KSVC_E_NAME" from ksvc_error_name(), the ::ksvc_error_class from
 * ksvc_error_class_of() and the message from ksvc_strerror().  Values are
 * negative and never reused.  Read it through #KSVC_ERROR_LIST or
 * #KSVC_ERROR_MAP.
 */
#define KSVC_ERROR_LIST_(F, X)                                                  \
    F(X, INVALID_ARGUMENT, -1, BAD_INPUT, "invalid argument")                 \
    F(X, NO_MEMORY, -2, SYSTEM, "out of memory")                              \
    F(X, STRUCT_VERSION, -3, USAGE, "unknown structure version")              \
    F(X, NOT_ELEVATED, -4, NOT_ELEVATED,                                      \
       "this operation requires administrator rights")                      \
    F(X, PRECHECK, -5, PRECHECK, KSVC_MSG_PRECHECK)                           \
    F(X, KERNEL_MISSING, -6, KERNEL_MISSING, KSVC_MSG_KERNEL_MISSING)         \
    F(X, BAD_VERSION, -7, REFUSED,                                            \
       "this kernel version was rolled back from and is marked bad")        \
    F(X, DOWNGRADE, -8, REFUSED,                                              \
       "this kernel version is older than the one in use")                  \
    F(X, ALREADY_INSTALLED, -9, REFUSED,                                      \
       "this kernel version is already installed")                          \
    F(X, NOT_ROLLED_BACK, -10, REFUSED,                                       \
       "the kernel is not in the rollback state")                           \
    F(X, ROLLED_BACK, -11, REFUSED,                                           \
       "the kernel is already in the rollback state")                       \
    F(X, NO_ROLLBACK, -12, REFUSED, "there is no kernel to roll back to")     \
    F(X, DAMAGED, -13, DAMAGED,                                               \
       "a kernel file does not match its recorded checksum")                \
    F(X, BAD_PAYLOAD, -14, BAD_INPUT, "the payload is not a usable kernel file") \
    F(X, HASH_MISMATCH, -15, BAD_INPUT,                                       \
       "the payload's SHA-256 differs from the expected one")               \
    F(X, VERSION_SYNTAX, -16, BAD_INPUT, "not a valid kernel version")        \
    F(X, HIVE, -17, SYSTEM, "the registry hive is damaged")                   \
    F(X, BAD_VALUE, -18, BAD_INPUT,                                           \
       "a registry value has the wrong type or size")                       \
    F(X, NOT_FOUND, -19, SYSTEM, "no such file, key or value")                \
    F(X, EXISTS, -20, SYSTEM, "the file already exists")                      \
    F(X, ACCESS, -21, SYSTEM, "access denied")                                \
    F(X, SHARING, -22, SYSTEM, "the file is in use by another process")       \
    F(X, NO_SPACE, -23, SYSTEM, "no space left on the device")                \
    F(X, IO, -24, SYSTEM, "input/output error")                               \
    F(X, BUSY, -25, BUSY, "another process is servicing the kernel")          \
    F(X, UNSAFE_PATH, -26, SYSTEM,                                            \
       "a link or foreign object stands where a kernel file belongs")       \
    F(X, TOO_LONG, -27, BAD_INPUT, "a name, path or value is too long")       \
    F(X, UNSUPPORTED, -28, SYSTEM,                                            \
       "the platform does not support this operation")                      \
    F(X, PLATFORM_VERSION, -29, USAGE,                                        \
       "the platform table has an unknown version")                         \
    F(X, RECOVERY, -30, SYSTEM,                                               \
       "an interrupted operation could not be completed")                   \
    F(X, WRONG_ARCH, -31, BAD_INPUT,                                          \
       "the kernel image is built for another processor architecture")     \
    F(X, VERSION_MISMATCH, -32, BAD_INPUT,                                    \
       "the version given differs from the one inside the kernel image")    \
    F(X, READ_ONLY, -33, USAGE,                                               \
       "the context was opened read-only")                                   \
    F(X, IN_DOUBT, -34, IN_DOUBT,                                             \
       "the operation was interrupted; the next open completes or undoes it") \
    F(X, LIMIT, -35, SYSTEM, "a limit of this library was reached")           \
    F(X, READ_ONLY_MEDIA, -36, SYSTEM,                                        \
       "the file system or disk is read-only")                              \
    F(X, INSECURE, -37, REFUSED,                                              \
       "someone other than the administrators may change the kernel files "  \
       "or their record")

/**
 * The error list with classes: XX(NAME, value, CLASS, message), CLASS being
 * the end of a ::ksvc_error_class constant (REFUSED for
 * #KSVC_ERROR_CLASS_REFUSED).
 */
#define KSVC_ERROR_LIST(XX) KSVC_ERROR_LIST_(KSVC_ERROR_CALL4_, XX)

/**
 * The error list as version 1.0 gave it: XX(NAME, value, message), the
 * same entries as #KSVC_ERROR_LIST without the class.
 */
#define KSVC_ERROR_MAP(XX) KSVC_ERROR_LIST_(KSVC_ERROR_CALL3_, XX)

/** @cond internal */
#define KSVC_ERROR_CALL4_(XX, name, value, cls, message)                     \
    XX(name, value, cls, message)
#define KSVC_ERROR_CALL3_(XX, name, value, cls, message) XX(name, value, message)
/** @endcond */

/** The library's error codes: 0 is success, every error is negative. */
typedef enum ksvc_error {
    KSVC_OK = 0, /**< success */
/* Straight from the one list, one macro deep, so that Doxygen's
 * preprocessor sees the enumerators too. */
#define KSVC_ERROR_ENUM_(unused, name, value, cls, message)                 \
    KSVC_E_##name = value,
    KSVC_ERROR_LIST_(KSVC_ERROR_ENUM_, ~)
#undef KSVC_ERROR_ENUM_
    KSVC_E_LAST_ = -38 /**< one below the lowest code; not an error */
} ksvc_error;

/**
 * What kind of failure an error is: what a caller does about it.  The
 * values are the exit statuses of the `kservice` command.
 */
typedef enum ksvc_error_class {
    KSVC_ERROR_CLASS_OK = 0,             /**< success */
    KSVC_ERROR_CLASS_SYSTEM = 1,         /**< the OS or the disk failed */
    KSVC_ERROR_CLASS_USAGE = 2,          /**< the caller used the API wrongly */
    KSVC_ERROR_CLASS_REFUSED = 3,        /**< the policy refused the request */
    KSVC_ERROR_CLASS_NOT_ELEVATED = 4,   /**< needs administrator rights */
    KSVC_ERROR_CLASS_KERNEL_MISSING = 5, /**< no kernel can boot */
    KSVC_ERROR_CLASS_PRECHECK = 6,       /**< the machine cannot take WSL 2 */
    KSVC_ERROR_CLASS_BUSY = 7,           /**< another servicer holds the lock */
    KSVC_ERROR_CLASS_DAMAGED = 8,        /**< a kernel file is damaged */
    KSVC_ERROR_CLASS_BAD_INPUT = 9,      /**< a payload, argument or registry
                                              value is not usable */
    KSVC_ERROR_CLASS_IN_DOUBT = 10       /**< a change was cut short after it
                                              may have taken effect: the
                                              next open settles it, as
                                              ksvc_result::settles says */
} ksvc_error_class;

/**
 * The class of an error code.
 * @param err a ::ksvc_error value
 * @return its class; #KSVC_ERROR_CLASS_OK for 0, #KSVC_ERROR_CLASS_SYSTEM
 *         for a code the library does not know
 */
KSVC_API ksvc_error_class ksvc_error_class_of(int err);

/**
 * The message for an error code.
 * @param err a ::ksvc_error value
 * @return a static NUL-terminated message; "unknown error" for a code the
 *         library does not know; "success" for 0
 */
KSVC_API const char *ksvc_strerror(int err);

/**
 * The symbolic name of an error code, such as "KSVC_E_BUSY".
 * @param err a ::ksvc_error value
 * @return a static NUL-terminated name; "KSVC_E_UNKNOWN" for a code the
 *         library does not know; "KSVC_OK" for 0
 */
KSVC_API const char *ksvc_error_name(int err);

#ifdef __cplusplus
}
#endif

#endif /* KSERVICE_ERROR_H */
