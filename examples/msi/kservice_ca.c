/*
 * The custom actions of the example "Windows Subsystem for Linux Update"
 * MSI (examples/msi/kernel-update.wxs): libkservice, linked statically, run
 * by msiexec.
 *
 *   KsvcPrecheck  immediate, before anything changes: the library's
 *                 pre-check (WSL 2 capable Windows, WSL enabled, no restart
 *                 pending), then an early answer to "would the library take
 *                 this version?" (not bad, not a downgrade), so that a
 *                 refused update stops before the previous product is
 *                 removed.  Reads only, through a read-only view of the
 *                 Win32 backend (no lock file, no recovery).
 *   KsvcInstall   deferred, no impersonation (LocalSystem on Windows): hands
 *                 the kernel the MSI staged to ksvc_install(), which keeps
 *                 the previous kernel as kernel.rollback and applies the
 *                 policy.  CustomActionData is "PATH|VERSION|SHA256".
 *
 * Every refusal fails the install with ERROR_INSTALL_FAILURE and the
 * library's message, sent through MsiProcessMessage(INSTALLMESSAGE_ERROR):
 * it goes to the /l*v log, and with a UI it is shown in a message box.
 * Messages are UTF-8 inside and wide-character at the MSI API.
 */
#include <windows.h>
#include <msi.h>
#include <msiquery.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kservice/kservice.h>
#include <kservice/win32.h>

/* Longest message or CustomActionData handled, in bytes. */
#define CA_TEXT_MAX 4096

/* The MSI property that carries the kernel's version (kernel-update.wxs). */
#define CA_VERSION_PROPERTY L"KSVC_KERNEL_VERSION"

/* CustomActionData separator: no Windows path, kernel version or hex digest
 * can contain it. */
#define CA_DATA_SEPARATOR '|'

/* ---- text conversion ---------------------------------------------------- */

/* A malloc'd wide copy of a UTF-8 text, or NULL. */
static wchar_t *wide_from_utf8(const char *text)
{
    int count = MultiByteToWideChar(CP_UTF8, 0, text, -1, NULL, 0);
    wchar_t *wide;

    if (count <= 0)
        return NULL;
    wide = malloc((size_t)count * sizeof *wide);
    if (wide && MultiByteToWideChar(CP_UTF8, 0, text, -1, wide, count) != count) {
        free(wide);
        wide = NULL;
    }
    return wide;
}

/* A malloc'd UTF-8 copy of a wide text, or NULL. */
static char *utf8_from_wide(const wchar_t *wide)
{
    int size = WideCharToMultiByte(CP_UTF8, 0, wide, -1, NULL, 0, NULL, NULL);
    char *text;

    if (size <= 0)
        return NULL;
    text = malloc((size_t)size);
    if (text &&
        WideCharToMultiByte(CP_UTF8, 0, wide, -1, text, size, NULL, NULL) != size) {
        free(text);
        text = NULL;
    }
    return text;
}

/* ---- messages ----------------------------------------------------------- */

/* Send one line to the installer: INSTALLMESSAGE_INFO goes to the log only,
 * INSTALLMESSAGE_ERROR to the log and, with a UI, to a message box. */
static void send_message(MSIHANDLE install, INSTALLMESSAGE type,
                         const char *text)
{
    wchar_t *wide = wide_from_utf8(text);
    MSIHANDLE record = MsiCreateRecord(1);

    if (record) {
        /* Field 0 is the template; "[1]" prints field 1 as it is, so the
         * brackets of a path are never read as property references. */
        MsiRecordSetStringW(record, 0, L"[1]");
        MsiRecordSetStringW(record, 1, wide ? wide : L"(unprintable message)");
        MsiProcessMessage(install, type, record);
        MsiCloseHandle(record);
    }
    free(wide);
}

static void say(MSIHANDLE install, const char *format, ...)
{
    char text[CA_TEXT_MAX];
    va_list args;

    va_start(args, format);
    vsnprintf(text, sizeof text, format, args);
    va_end(args);
    send_message(install, INSTALLMESSAGE_INFO, text);
}

/* Report the refusal that fails the install. */
static UINT refuse(MSIHANDLE install, const char *format, ...)
{
    char text[CA_TEXT_MAX];
    va_list args;

    va_start(args, format);
    vsnprintf(text, sizeof text, format, args);
    va_end(args);
    send_message(install,
                 (INSTALLMESSAGE)(INSTALLMESSAGE_ERROR | MB_OK | MB_ICONERROR),
                 text);
    return ERROR_INSTALL_FAILURE;
}

/* Refuse with a library error: its message, then which file or value. */
static UINT refuse_library(MSIHANDLE install, const ksvc_context *ctx, int err)
{
    const char *detail = ctx ? ksvc_error_detail(ctx) : "";
    long os_error = ctx ? ksvc_os_error(ctx) : 0;

    if (os_error)
        return refuse(install, "kservice: %s: %s (Windows error %ld)",
                      ksvc_strerror(err), detail, os_error);
    if (detail[0])
        return refuse(install, "kservice: %s: %s", ksvc_strerror(err), detail);
    return refuse(install, "kservice: %s", ksvc_strerror(err));
}

/* ---- the machine -------------------------------------------------------- */

/* A malloc'd UTF-8 copy of an MSI property ("" when unset), or NULL. */
static char *get_property(MSIHANDLE install, const wchar_t *name)
{
    wchar_t empty[1] = { 0 };
    DWORD length = 0;
    wchar_t *wide;
    char *text = NULL;
    UINT status = MsiGetPropertyW(install, name, empty, &length);

    if (status != ERROR_MORE_DATA && status != ERROR_SUCCESS)
        return NULL;
    length++; /* room for the NUL */
    wide = malloc((size_t)length * sizeof *wide);
    if (wide && MsiGetPropertyW(install, name, wide, &length) == ERROR_SUCCESS)
        text = utf8_from_wide(wide);
    free(wide);
    return text;
}

/* This machine as the library sees it. */
typedef struct ca_machine {
    ksvc_platform *win32; /* the real System32\lxss\tools and HKLM */
    ksvc_platform reader; /* a read-only view of it (open_machine) */
    ksvc_context *ctx;
} ca_machine;

/*
 * The pre-check runs before anything may change, so it asks the library as
 * a reader does: not as an administrator (the library then neither
 * finishes an interrupted operation nor allows a change) and without the
 * servicing lock, whose file an administrator's lock would create on a
 * machine never serviced.  ksvc_install() in the deferred action takes the
 * lock and reads the state again.
 */
static int reader_elevated(const ksvc_platform *p, int *elevated)
{
    (void)p;
    *elevated = 0;
    return KSVC_OK;
}

static int reader_lock(const ksvc_platform *p, unsigned timeout_ms)
{
    (void)p;
    (void)timeout_ms;
    return KSVC_OK;
}

static int reader_unlock(const ksvc_platform *p)
{
    (void)p;
    return KSVC_OK;
}

/* Open this machine; as a reader (read_only) for the pre-check. */
static UINT open_machine(MSIHANDLE install, ca_machine *m, int read_only)
{
    const ksvc_platform *platform;
    int err = ksvc_win32_open(&m->win32, NULL);

    m->ctx = NULL;
    if (err)
        return refuse(install, "kservice: opening this machine: %s",
                      ksvc_strerror(err));
    platform = m->win32;
    if (read_only) {
        m->reader = *m->win32;
        m->reader.elevated = reader_elevated;
        m->reader.lock = reader_lock;
        m->reader.unlock = reader_unlock;
        platform = &m->reader;
    }
    err = ksvc_open(&m->ctx, platform, NULL);
    if (err) {
        ksvc_win32_free(m->win32);
        m->win32 = NULL;
        return refuse(install, "kservice: opening this machine: %s",
                      ksvc_strerror(err));
    }
    return ERROR_SUCCESS;
}

static void close_machine(ca_machine *m)
{
    ksvc_close(m->ctx);
    ksvc_win32_free(m->win32);
}

/* ---- KsvcPrecheck ------------------------------------------------------- */

/* The pre-check, with the public page's message and its reason. */
static UINT run_precheck(MSIHANDLE install, ksvc_context *ctx)
{
    ksvc_precheck_result result = KSVC_PRECHECK_RESULT_INIT;
    int err = ksvc_precheck(ctx, &result);

    if (err == KSVC_E_PRECHECK)
        return refuse(install, "%s %s", KSVC_MSG_PRECHECK,
                      ksvc_precheck_reason_text(result.reason));
    if (err)
        return refuse_library(install, ctx, err);
    say(install, "kservice: pre-check passed: Windows build %lu.%lu, WSL "
        "enabled, no restart pending",
        (unsigned long)result.os_build, (unsigned long)result.os_ubr);
    return ERROR_SUCCESS;
}

/* The version in use: the rollback kernel while rolled back. */
static const ksvc_slot_status *slot_in_use(const ksvc_status *status)
{
    return status->rolled_back ? &status->rollback : &status->kernel;
}

/*
 * Whether @p version is marked bad for the library as an administrator
 * sees it.  Read as a reader, a kernel still listed bad while RollbackKernel
 * is gone is a manual revert that the library records (and forgets the mark)
 * when it next opens as an administrator, as the deferred action does.
 */
static int marked_bad(const ksvc_status *status, const char *version)
{
    size_t i;
    int cmp;

    if (!status->rolled_back && status->kernel.recorded &&
        ksvc_kver_compare(version, status->kernel.kernel_version, &cmp) ==
            KSVC_OK &&
        cmp == 0)
        return 0;
    for (i = 0; i < status->bad_count; i++)
        if (ksvc_kver_compare(version, status->bad_versions[i], &cmp) ==
                KSVC_OK &&
            cmp == 0)
            return 1;
    return 0;
}

/*
 * The early answer: would ksvc_install() refuse this version outright?
 * Only the version rules are asked here, with the library's own messages;
 * ksvc_install() in the deferred action stays the judge of everything.
 * Answering now matters because the previous product is removed before
 * the deferred actions run.
 */
static UINT check_version_early(MSIHANDLE install, ksvc_context *ctx,
                                const char *version)
{
    ksvc_kver parsed = KSVC_KVER_INIT;
    ksvc_status status = KSVC_STATUS_INIT;
    const ksvc_slot_status *in_use;
    int cmp, err;

    if (ksvc_kver_parse(version, &parsed) != KSVC_OK)
        return refuse(install, "kservice: %s: \"%s\"",
                      ksvc_strerror(KSVC_E_VERSION_SYNTAX), version);
    err = ksvc_status_get(ctx, &status);
    if (err)
        return refuse_library(install, ctx, err);
    if (marked_bad(&status, version))
        return refuse(install, "kservice: %s: version %s was rolled back "
                      "from; it is never installed again",
                      ksvc_strerror(KSVC_E_BAD_VERSION), version);
    in_use = slot_in_use(&status);
    if (in_use->recorded &&
        ksvc_kver_compare(version, in_use->kernel_version, &cmp) == KSVC_OK &&
        cmp < 0)
        return refuse(install, "kservice: %s: version %s is older than %s "
                      "in use",
                      ksvc_strerror(KSVC_E_DOWNGRADE), version,
                      in_use->kernel_version);
    say(install, "kservice: version %s can be installed (in use: %s)", version,
        in_use->recorded ? in_use->kernel_version : "none");
    return ERROR_SUCCESS;
}

/** Immediate custom action: the pre-check, before anything changes. */
UINT __stdcall KsvcPrecheck(MSIHANDLE install)
{
    ca_machine machine;
    char *version = get_property(install, CA_VERSION_PROPERTY);
    UINT status;

    say(install, "kservice: libkservice %s, pre-check", ksvc_version_string());
    if (!version || !version[0]) {
        free(version);
        return refuse(install, "kservice: the package sets no %s property",
                      "KSVC_KERNEL_VERSION");
    }
    status = open_machine(install, &machine, 1);
    if (status == ERROR_SUCCESS) {
        status = run_precheck(install, machine.ctx);
        if (status == ERROR_SUCCESS)
            status = check_version_early(install, machine.ctx, version);
        close_machine(&machine);
    }
    free(version);
    return status;
}

/* ---- KsvcInstall -------------------------------------------------------- */

/* The deferred action's data: "PATH|VERSION|SHA256", split in place. */
typedef struct ca_install_data {
    char *payload_path;
    char *version;
    char *sha256_hex; /* NULL when the package gives none */
} ca_install_data;

static int split_install_data(char *data, ca_install_data *out)
{
    char *sha = strrchr(data, CA_DATA_SEPARATOR);
    char *version;

    if (!sha)
        return 0;
    *sha++ = '\0';
    version = strrchr(data, CA_DATA_SEPARATOR);
    if (!version)
        return 0;
    *version++ = '\0';
    out->payload_path = data;
    out->version = version;
    out->sha256_hex = sha[0] ? sha : NULL;
    return data[0] && version[0];
}

/*
 * The version in use is the one this package carries (a reinstall, a
 * repair, or "uninstall and install again"): nothing to do when the kernel
 * booted is intact; otherwise put the carried file back in place.
 * *installed says which.
 */
static int reinstall_same(MSIHANDLE install, ksvc_context *ctx,
                          const ca_install_data *data, int *installed)
{
    ksvc_install_options options = KSVC_INSTALL_OPTIONS_INIT;
    ksvc_status status = KSVC_STATUS_INIT;
    const ksvc_slot_status *in_use;
    int err;

    status.flags = KSVC_STATUS_VERIFY;
    err = ksvc_status_get(ctx, &status);
    if (err)
        return err;
    in_use = slot_in_use(&status);
    *installed = 0;
    if (status.effective != KSVC_SLOT_NONE && in_use->intact) {
        say(install, "kservice: kernel %s is already installed and intact; "
            "nothing to do", data->version);
        return KSVC_OK;
    }
    say(install, "kservice: kernel %s is recorded but missing or damaged; "
        "installing it again", data->version);
    options.flags = KSVC_INSTALL_FORCE;
    options.sha256_hex = data->sha256_hex;
    *installed = 1;
    return ksvc_install(ctx, data->payload_path, data->version, &options);
}

/* Log the slots and the kernel to boot after the change. */
static void log_state(MSIHANDLE install, ksvc_context *ctx)
{
    static const char *const slot_names[] = { "none", "kernel",
                                              "kernel.rollback" };
    ksvc_status status = KSVC_STATUS_INIT;

    if (ksvc_status_get(ctx, &status) != KSVC_OK)
        return;
    say(install, "kservice: kernel: %s, kernel.rollback: %s, boots: %s",
        status.kernel.recorded ? status.kernel.kernel_version : "none",
        status.rollback.recorded ? status.rollback.kernel_version : "none",
        slot_names[status.effective <= KSVC_SLOT_ROLLBACK ? status.effective
                                                          : 0]);
}

static UINT install_kernel(MSIHANDLE install, const ca_install_data *data)
{
    ksvc_install_options options = KSVC_INSTALL_OPTIONS_INIT;
    ca_machine machine;
    UINT status = open_machine(install, &machine, 0);
    ksvc_context *ctx = machine.ctx;
    int installed = 1;
    int err;

    if (status != ERROR_SUCCESS)
        return status;
    options.sha256_hex = data->sha256_hex;
    err = ksvc_install(ctx, data->payload_path, data->version, &options);
    if (err == KSVC_E_ALREADY_INSTALLED)
        err = reinstall_same(install, ctx, data, &installed);
    if (err) {
        status = refuse_library(install, ctx, err);
    } else if (installed) {
        say(install, "kservice: kernel %s installed from %s", data->version,
            data->payload_path);
        log_state(install, ctx);
        say(install, "kservice: %s", ksvc_restart_message());
    }
    close_machine(&machine);
    return status;
}

/** Deferred custom action (no impersonation): install the carried kernel. */
UINT __stdcall KsvcInstall(MSIHANDLE install)
{
    char *data = get_property(install, L"CustomActionData");
    ca_install_data parsed;
    UINT status;

    say(install, "kservice: libkservice %s, install", ksvc_version_string());
    if (!data || !split_install_data(data, &parsed))
        status = refuse(install, "kservice: CustomActionData is not "
                        "PATH|VERSION|SHA256");
    else
        status = install_kernel(install, &parsed);
    free(data);
    return status;
}
