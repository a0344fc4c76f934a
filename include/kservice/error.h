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
 * The error list: XX(NAME, value, message).  Each entry yields the enum
 * constant `KSVC_E_NAME`, the string "KSVC_E_NAME" from ksvc_error_name() and
 * the message from ksvc_strerror().  Values are negative and never reused.
 */
#define KSVC_ERROR_MAP(XX)                                                   \
    XX(INVALID_ARGUMENT, -1, "invalid argument")                            \
    XX(NO_MEMORY, -2, "out of memory")                                      \
    XX(STRUCT_VERSION, -3, "unknown structure version")                     \
    XX(NOT_ELEVATED, -4, "this operation requires administrator rights")    \
    XX(PRECHECK, -5, KSVC_MSG_PRECHECK)                                     \
    XX(KERNEL_MISSING, -6, KSVC_MSG_KERNEL_MISSING)                         \
    XX(BAD_VERSION, -7,                                                     \
       "this kernel version was rolled back from and is marked bad")        \
    XX(DOWNGRADE, -8, "this kernel version is older than the one in use")   \
    XX(ALREADY_INSTALLED, -9, "this kernel version is already installed")   \
    XX(NOT_ROLLED_BACK, -10, "the kernel is not in the rollback state")     \
    XX(ROLLED_BACK, -11, "the kernel is already in the rollback state")     \
    XX(NO_ROLLBACK, -12, "there is no kernel to roll back to")              \
    XX(DAMAGED, -13, "a kernel file does not match its recorded checksum")  \
    XX(BAD_PAYLOAD, -14, "the payload is not a usable kernel file")         \
    XX(HASH_MISMATCH, -15,                                                  \
       "the payload's SHA-256 differs from the expected one")               \
    XX(VERSION_SYNTAX, -16, "not a valid kernel version")                   \
    XX(HIVE, -17, "the registry hive is damaged")                           \
    XX(BAD_VALUE, -18, "a registry value has the wrong type or size")       \
    XX(NOT_FOUND, -19, "no such file, key or value")                        \
    XX(EXISTS, -20, "the file already exists")                              \
    XX(ACCESS, -21, "access denied")                                        \
    XX(SHARING, -22, "the file is in use by another process")               \
    XX(NO_SPACE, -23, "no space left on the device")                        \
    XX(IO, -24, "input/output error")                                       \
    XX(BUSY, -25, "another process is servicing the kernel")                \
    XX(UNSAFE_PATH, -26,                                                    \
       "a link or foreign object stands where a kernel file belongs")       \
    XX(TOO_LONG, -27, "a name, path or value is too long")                  \
    XX(UNSUPPORTED, -28, "the platform does not support this operation")    \
    XX(PLATFORM_VERSION, -29, "the platform table has an unknown version")  \
    XX(RECOVERY, -30, "an interrupted operation could not be completed")  \
    XX(WRONG_ARCH, -31,                                                     \
       "the kernel image is built for another processor architecture")     \
    XX(VERSION_MISMATCH, -32,                                               \
       "the version given differs from the one inside the kernel image")

/** The library's error codes: 0 is success, every error is negative. */
typedef enum ksvc_error {
    KSVC_OK = 0, /**< success */
#define KSVC_ERROR_ENUM_(name, value, message) KSVC_E_##name = value,
    KSVC_ERROR_MAP(KSVC_ERROR_ENUM_)
#undef KSVC_ERROR_ENUM_
    KSVC_E_LAST_ = -33 /**< one below the lowest code; not an error */
} ksvc_error;

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
