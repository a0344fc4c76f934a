/**
 * @file posix.h
 * @brief The POSIX mock backend: a folder stands for `%%SystemRoot%`.
 *
 * Under ROOT the backend keeps the kernels in `ROOT/System32/lxss/tools/`
 * and the registry in `ROOT/registry.reg`, a Windows `.reg` export text that
 * can be read and edited by hand.  The machine facts live where real Windows
 * keeps them, inside that hive: the build in
 * `SOFTWARE\Microsoft\Windows NT\CurrentVersion`, WSL as the key
 * `SYSTEM\CurrentControlSet\Services\LxssManager`, a pending restart as the
 * key `SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based
 * Servicing\RebootPending` and the architecture as `PROCESSOR_ARCHITECTURE`
 * in `SYSTEM\CurrentControlSet\Control\Session Manager\Environment`.
 * Elevation is simulated by an option.  The servicing lock is a real
 * inter-process lock on `ROOT/kservice.lock`.
 *
 * The hive is read on every registry call, in UTF-8 (with or without a BOM)
 * or UTF-16LE after its BOM (regedit's export), and written back in the
 * encoding it was read in.  It may be up to 256 MiB; a larger one is refused
 * with #KSVC_E_TOO_LONG and a message naming the file and the bound.  It is
 * read in bounded chunks: a value whose data is larger than 64 KiB is checked
 * but not held in memory, read from the file when asked for and copied from
 * it when the hive is written, so values of any size in other keys cost no
 * memory.  #ksvc_platform::reg_list reports such a value with
 * #KSVC_E_TOO_LONG in #ksvc_reg_value::error and its size, without data;
 * #ksvc_platform::reg_read gives it to a buffer of that size.
 *
 * Only built where POSIX file APIs exist.
 */
#ifndef KSERVICE_POSIX_H
#define KSERVICE_POSIX_H

#include "export.h"
#include "platform.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Options of ksvc_posix_open(). */
typedef struct ksvc_posix_options {
    unsigned version;  /**< #KSVC_POSIX_OPTIONS_VERSION */
    const char *root;  /**< the folder that stands for `%%SystemRoot%` */
    int not_elevated;  /**< non-zero: simulate a standard user */
} ksvc_posix_options;

/** Current version of ::ksvc_posix_options. */
#define KSVC_POSIX_OPTIONS_VERSION 1
/** Initialiser for ::ksvc_posix_options (elevated, no root yet). */
#define KSVC_POSIX_OPTIONS_INIT { KSVC_POSIX_OPTIONS_VERSION, NULL, 0 }

/**
 * Make a platform table over an existing ROOT.
 * @param out     receives the table; free it with ksvc_posix_free()
 * @param options the options; @c root is required
 * @return #KSVC_OK, #KSVC_E_NOT_FOUND when ROOT or its tools folder is
 *         missing, #KSVC_E_UNSAFE_PATH when the tools folder is a link, or
 *         another error
 */
KSVC_API int ksvc_posix_open(ksvc_platform **out,
                             const ksvc_posix_options *options);

/**
 * Free a table made by ksvc_posix_open().
 * @param platform the table, or NULL
 */
KSVC_API void ksvc_posix_free(ksvc_platform *platform);

/** What ksvc_posix_init_machine() writes. */
typedef struct ksvc_mock_machine {
    unsigned version;     /**< #KSVC_MOCK_MACHINE_VERSION */
    uint32_t os_build;    /**< CurrentBuildNumber */
    uint32_t os_ubr;      /**< UBR */
    ksvc_arch arch;       /**< native architecture */
    int wsl_enabled;      /**< write the LxssManager service key */
    int reboot_pending;   /**< write the RebootPending key */
} ksvc_mock_machine;

/** Current version of ::ksvc_mock_machine. */
#define KSVC_MOCK_MACHINE_VERSION 1
/** Initialiser for ::ksvc_mock_machine: a current Windows 10 x64 with WSL. */
#define KSVC_MOCK_MACHINE_INIT                                               \
    { KSVC_MOCK_MACHINE_VERSION, 19045, 3803, KSVC_ARCH_X64, 1, 0 }

/**
 * Create ROOT as a simulated Windows machine: the folder, the empty tools
 * folder and a hive holding the machine facts.  Refuses a ROOT that already
 * holds a hive, so a real machine folder is never overwritten.
 * @param root    the folder to create (its parent must exist)
 * @param machine the facts to write, or NULL for the defaults
 * @return #KSVC_OK, #KSVC_E_EXISTS or another error
 */
KSVC_API int ksvc_posix_init_machine(const char *root,
                                     const ksvc_mock_machine *machine);

#ifdef __cplusplus
}
#endif

#endif /* KSERVICE_POSIX_H */
