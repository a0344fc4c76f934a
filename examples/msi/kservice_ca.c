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
    ksvc_context *ctx;
} ca_machine;

/*
 * Open this machine; read-only for the pre-check, which runs before
 * anything may change: the library then takes no lock (whose file an
 * administrator's lock would create on a machine never serviced),
 * finishes nothing and records nothing.  ksvc_install() in the deferred
 * action opens it again to change it.
 */
static UINT open_machine(MSIHANDLE install, ca_machine *m, int read_only)
{
    ksvc_open_options options = KSVC_OPEN_OPTIONS_INIT;
    char detail[512] = "";
    int err = ksvc_win32_open(&m->win32, NULL);

    m->ctx = NULL;
    if (err)
        return refuse(install, "kservice: opening this machine: %s",
                      ksvc_strerror(err));
    options.flags = read_only ? KSVC_OPEN_READ_ONLY : 0;
    options.error_detail = detail;
    options.error_detail_size = sizeof detail;
    err = ksvc_open(&m->ctx, m->win32, &options);
    if (err) {
        m->win32->destroy(m->win32);
        m->win32 = NULL;
        return refuse(install, "kservice: opening this machine: %s%s%s",
                      ksvc_strerror(err), detail[0] ? ": " : "", detail);
    }
    return ERROR_SUCCESS;
}

static void close_machine(ca_machine *m)
{
    ksvc_close(m->ctx);
    if (m->win32)
        m->win32->destroy(m->win32);
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

/*
 * The early answer: would ksvc_install() refuse this version?  The library
 * decides, on the version alone (the payload is still inside the
 * package); ksvc_install() in the deferred action decides again on the
 * file.  Answering now matters because the previous product is removed
 * before the deferred actions run.
 */
static UINT check_version_early(MSIHANDLE install, ksvc_context *ctx,
                                const char *version)
{
    ksvc_result result = KSVC_RESULT_INIT;
    int err = ksvc_install_check(ctx, NULL, version, NULL);

    /* The carried version is in use and intact (a repair, another package
     * of it): the deferred action will have nothing to do. */
    if (err == KSVC_E_ALREADY_INSTALLED) {
        say(install, "kservice: version %s is in use and intact", version);
        return ERROR_SUCCESS;
    }
    if (err)
        return refuse_library(install, ctx, err);
    ksvc_last_result(ctx, &result);
    say(install, "kservice: version %s can be installed: %s", version,
        result.summary);
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
    /* The version this package carries is in use and intact (a reinstall,
     * a repair): nothing to do.  A missing or damaged kernel of that
     * version is not "in use", so the library installs it again. */
    if (err == KSVC_E_ALREADY_INSTALLED) {
        say(install, "kservice: kernel %s is already installed and intact; "
            "nothing to do", data->version);
        installed = 0;
        err = KSVC_OK;
    }
    if (err) {
        status = refuse_library(install, ctx, err);
    } else if (installed) {
        ksvc_result result = KSVC_RESULT_INIT;
        ksvc_last_result(ctx, &result);
        say(install, "kservice: kernel %s installed from %s: %s",
            data->version, data->payload_path, result.summary);
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
