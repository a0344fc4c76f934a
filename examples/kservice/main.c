/*
 * kservice: a wsl.exe-like command-line tool over libkservice.
 *
 * It uses only the public API (kservice.h and a backend header), so it is
 * also the example of how a tool embeds the library: open a platform table,
 * open a context over it, call one operation, report the error and its
 * detail, close.
 *
 * Exit statuses (documented in README.md and in usage()):
 *   0 success            1 other failure        2 usage error
 *   3 refused by policy  4 administrator rights required
 *   5 kernel missing     6 pre-check failed     7 busy
 *   8 a kernel file is damaged                  9 bad input (payload,
 *                                                 architecture, version,
 *                                                 checksum)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kservice/kservice.h>

#include "cli.h"
#include "make_kernel.h"

#ifdef _WIN32
/* WIN32 BACKEND: the Win32 backend header, written with the Win32 backend.
 * The Linux build never includes it. */
#include <kservice/win32.h>
#else
#include <kservice/posix.h>
#endif

/* An open machine: the backend's table, a copy of it whose lock says when
 * it starts to wait, and the library context over that copy. */
struct machine {
    ksvc_platform *platform;
    ksvc_platform announcing;
    ksvc_context *ctx;
};

/* The exit status for a library error: the class, not the exact code. */
static int exit_status_for(int err)
{
    switch (err) {
    case KSVC_OK:
        return CLI_EXIT_OK;
    case KSVC_E_BAD_VERSION:
    case KSVC_E_DOWNGRADE:
    case KSVC_E_ALREADY_INSTALLED:
    case KSVC_E_NOT_ROLLED_BACK:
    case KSVC_E_ROLLED_BACK:
    case KSVC_E_NO_ROLLBACK:
        return CLI_EXIT_REFUSED;
    case KSVC_E_NOT_ELEVATED:
        return CLI_EXIT_NOT_ELEVATED;
    case KSVC_E_KERNEL_MISSING:
        return CLI_EXIT_KERNEL_MISSING;
    case KSVC_E_PRECHECK:
        return CLI_EXIT_PRECHECK;
    case KSVC_E_BUSY:
        return CLI_EXIT_BUSY;
    case KSVC_E_DAMAGED:
        return CLI_EXIT_DAMAGED;
    case KSVC_E_BAD_PAYLOAD:
    case KSVC_E_WRONG_ARCH:
    case KSVC_E_VERSION_MISMATCH:
    case KSVC_E_HASH_MISMATCH:
    case KSVC_E_VERSION_SYNTAX:
    case KSVC_E_TOO_LONG:
    case KSVC_E_INVALID_ARGUMENT:
        return CLI_EXIT_BAD_INPUT;
    default:
        return CLI_EXIT_FAILURE;
    }
}

/* Print "kservice: <message>" and, on a second line, the detail unless the
 * first line already says it.  The two user-facing messages of the
 * public page (missing kernel, pre-check) are printed word for word. */
static void print_error(const char *message, const char *detail)
{
    fprintf(stderr, "kservice: %s\n", message);
    if (detail != NULL && detail[0] != '\0' && strstr(message, detail) == NULL)
        fprintf(stderr, "kservice: %s\n", detail);
}

/* Report a failed call on an open context and return the exit status. */
static int fail(ksvc_context *ctx, int err)
{
    char detail[1024];
    char message[512];

    /* Copy the detail now: the pre-check below replaces it. */
    snprintf(detail, sizeof detail, "%s", ksvc_error_detail(ctx));
    if (err == KSVC_E_PRECHECK) {
        ksvc_precheck_result result = KSVC_PRECHECK_RESULT_INIT;

        (void)ksvc_precheck(ctx, &result);
        if (result.reason != KSVC_PRECHECK_OK)
            snprintf(message, sizeof message, "%s %s", KSVC_MSG_PRECHECK,
                     ksvc_precheck_reason_text(result.reason));
        else
            snprintf(message, sizeof message, "%s", KSVC_MSG_PRECHECK);
    } else {
        snprintf(message, sizeof message, "%s", ksvc_strerror(err));
    }
    print_error(message, detail);
    return exit_status_for(err);
}

/* Report a failure before a context exists, with the backend's detail. */
static int fail_platform(const ksvc_platform *platform, int err,
                         const char *fallback_detail)
{
    char detail[1024] = "";
    long os_error = 0;

    if (platform != NULL && platform->last_error != NULL)
        platform->last_error(platform, &os_error, detail, sizeof detail);
    print_error(ksvc_strerror(err),
                detail[0] != '\0' ? detail : fallback_detail);
    return exit_status_for(err);
}

/* ------------------------------------------------------------------------ */
/* Opening the machine                                                      */
/* ------------------------------------------------------------------------ */

static void machine_close(struct machine *m)
{
    ksvc_close(m->ctx);
    m->ctx = NULL;
#ifdef _WIN32
    /* WIN32 BACKEND: free the table made in open_platform(). */
    ksvc_win32_free(m->platform);
#else
    ksvc_posix_free(m->platform);
#endif
    m->platform = NULL;
}

#ifdef _WIN32
/* WIN32 BACKEND: this branch belongs to the Win32 backend's developer (it
 * may grow options, e.g. a tools folder or registry root for dry runs).  It
 * services the real machine with ksvc_win32_open()'s defaults; the POSIX
 * mock backend (--root, --mock-elevated, init-mock) is not built on
 * Windows. */
static int open_platform(const struct cli *cli, ksvc_platform **out)
{
    int err;

    if (cli->root != NULL || cli->not_elevated)
        return cli_usage_error(cli->command, "--root and --mock-elevated "
                               "need the POSIX mock backend, which is not "
                               "built on Windows");
    err = ksvc_win32_open(out, NULL);
    if (err != KSVC_OK)
        return fail_platform(NULL, err, "opening the Win32 backend");
    return CLI_EXIT_OK;
}
#else
static int open_platform(const struct cli *cli, ksvc_platform **out)
{
    ksvc_posix_options options = KSVC_POSIX_OPTIONS_INIT;
    int err;

    if (cli->root == NULL)
        return cli_usage_error(cli->command, "--root ROOT is required: off "
                               "Windows kservice services a simulated "
                               "machine folder (make one with 'kservice "
                               "--root ROOT init-mock')");
    options.root = cli->root;
    options.not_elevated = cli->not_elevated;
    err = ksvc_posix_open(out, &options);
    if (err == KSVC_E_NOT_FOUND) {
        fprintf(stderr, "kservice: no simulated machine at %s: %s\n"
                        "kservice: make one with 'kservice --root %s "
                        "init-mock'\n",
                cli->root, ksvc_strerror(err), cli->root);
        return exit_status_for(err);
    }
    if (err != KSVC_OK) {
        char detail[1200];

        snprintf(detail, sizeof detail,
                 "cannot open the simulated machine at %s", cli->root);
        return fail_platform(NULL, err, detail);
    }
    return CLI_EXIT_OK;
}
#endif

/* The backend's own lock, called by lock_announcing_the_wait(). */
static int (*backend_lock)(const ksvc_platform *p, unsigned timeout_ms);

/* The lock of the table the context uses: try once; when another process
 * holds the lock, say so before waiting, so a pause has an explanation. */
static int lock_announcing_the_wait(const ksvc_platform *p,
                                    unsigned timeout_ms)
{
    int err = backend_lock(p, 0);

    if (err != KSVC_E_BUSY || timeout_ms == 0)
        return err;
    fprintf(stderr, "kservice: another process is servicing this machine; "
                    "waiting up to %u seconds for it (--lock-timeout "
                    "SECONDS changes this)\n",
            timeout_ms / 1000u);
    return backend_lock(p, timeout_ms);
}

/* Open the backend and a context over it; on failure report and return the
 * exit status (nothing stays open). */
static int machine_open(const struct cli *cli, struct machine *m)
{
    ksvc_open_options options = KSVC_OPEN_OPTIONS_INIT;
    int status;
    int err;

    m->platform = NULL;
    m->ctx = NULL;
    status = open_platform(cli, &m->platform);
    if (status != CLI_EXIT_OK)
        return status;
    /* The copy shares the backend's state (its data pointer); only the
     * lock differs. */
    m->announcing = *m->platform;
    backend_lock = m->platform->lock;
    m->announcing.lock = lock_announcing_the_wait;
    options.lock_timeout_ms = cli->lock_timeout_ms;
    err = ksvc_open(&m->ctx, &m->announcing, &options);
    if (err != KSVC_OK) {
        status = fail_platform(m->platform, err, "opening the machine");
        machine_close(m);
        return status;
    }
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------------ */
/* JSON output                                                              */
/* ------------------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s, or 0 when it is not valid
 * (overlong forms, surrogates and code points above U+10FFFF included). */
static size_t utf8_sequence_length(const unsigned char *s)
{
    size_t len, k;
    uint32_t cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        len = 2, cp = s[0] & 0x1Fu;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        len = 3, cp = s[0] & 0x0Fu;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        len = 4, cp = s[0] & 0x07u;
    else
        return 0;
    for (k = 1; k < len; k++) {
        if ((s[k] & 0xC0u) != 0x80u)
            return 0;
        cp = (cp << 6) | (s[k] & 0x3Fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        return 0;
    return len;
}

/* Print a JSON string: quotes, backslashes and control characters escaped;
 * bytes that are not valid UTF-8 become U+FFFD so the output always
 * parses. */
static void json_string(const char *text)
{
    const unsigned char *s = (const unsigned char *)text;

    putchar('"');
    while (*s != '\0') {
        size_t len = utf8_sequence_length(s);

        if (len == 0) {
            fputs("\\ufffd", stdout);
            s++;
        } else if (*s == '"' || *s == '\\') {
            printf("\\%c", *s);
            s++;
        } else if (*s == '\n') {
            fputs("\\n", stdout);
            s++;
        } else if (*s == '\t') {
            fputs("\\t", stdout);
            s++;
        } else if (*s < 0x20 || *s == 0x7F) {
            printf("\\u%04x", (unsigned)*s);
            s++;
        } else {
            fwrite(s, 1, len, stdout);
            s += len;
        }
    }
    putchar('"');
}

/* A string, or null when it is empty. */
static void json_string_or_null(const char *text)
{
    if (text[0] == '\0')
        fputs("null", stdout);
    else
        json_string(text);
}

static const char *json_bool(int value)
{
    return value ? "true" : "false";
}

static void json_string_array(const char *const *items, size_t count)
{
    size_t k;

    putchar('[');
    for (k = 0; k < count; k++) {
        if (k > 0)
            putchar(',');
        json_string(items[k]);
    }
    putchar(']');
}

static void json_slot(const ksvc_slot_status *slot, const char *image_version)
{
    printf("{\"present\":%s,\"version\":", json_bool(slot->present));
    json_string_or_null(slot->kernel_version);
    fputs(",\"image_version\":", stdout);
    json_string_or_null(image_version);
    printf(",\"intact\":%s,\"bad\":%s,\"size\":%" PRIu64 ",\"sha256\":",
           json_bool(slot->intact), json_bool(slot->bad), slot->size);
    json_string_or_null(slot->sha256);
    putchar('}');
}

static const char *slot_name(ksvc_slot slot)
{
    switch (slot) {
    case KSVC_SLOT_KERNEL:
        return "kernel";
    case KSVC_SLOT_ROLLBACK:
        return "kernel.rollback";
    default:
        return NULL;
    }
}

static void print_status_json(const ksvc_status *st)
{
    const char *effective = slot_name(st->effective);

    fputs("{\"kernel\":", stdout);
    json_slot(&st->kernel, st->kernel_image_version);
    fputs(",\"rollback\":", stdout);
    json_slot(&st->rollback, st->rollback_image_version);
    printf(",\"rolled_back\":%s,\"rolled_back_from\":",
           json_bool(st->rolled_back));
    json_string_or_null(st->rolled_back_from);
    fputs(",\"effective\":", stdout);
    if (effective != NULL)
        json_string(effective);
    else
        fputs("null", stdout);
    fputs(",\"bad_versions\":", stdout);
    json_string_array(st->bad_versions, st->bad_count);
    printf(",\"restart_required\":%s,\"problems\":",
           json_bool(st->restart_required));
    json_string_array(st->problems, st->problem_count);
    fputs("}\n", stdout);
}

/* ------------------------------------------------------------------------ */
/* Plain status                                                             */
/* ------------------------------------------------------------------------ */

static const ksvc_slot_status *effective_slot(const ksvc_status *st)
{
    if (st->effective == KSVC_SLOT_KERNEL)
        return &st->kernel;
    if (st->effective == KSVC_SLOT_ROLLBACK)
        return &st->rollback;
    return NULL;
}

/* Does the image name a version other than the recorded one? */
static int image_disagrees(const ksvc_slot_status *slot,
                           const char *image_version)
{
    int order;

    if (image_version[0] == '\0' || slot->kernel_version[0] == '\0')
        return 0;
    return ksvc_kver_compare(slot->kernel_version, image_version, &order) !=
               KSVC_OK ||
           order != 0;
}

static void print_slot_line(const char *name, const ksvc_slot_status *slot,
                            const char *image_version)
{
    printf("  %-16s ", name);
    if (!slot->present && slot->kernel_version[0] == '\0') {
        puts("(none)");
        return;
    }
    printf("%s", slot->kernel_version[0] != '\0' ? slot->kernel_version
                                                 : "(version not recorded)");
    if (!slot->present)
        fputs(", file missing", stdout);
    else if (!slot->intact)
        fputs(", damaged", stdout);
    else
        fputs(", intact", stdout);
    if (slot->bad)
        fputs(", marked bad", stdout);
    if (slot->present && image_disagrees(slot, image_version))
        printf(", but the image names %s", image_version);
    putchar('\n');
}

/* The text of `wsl --update --status`, then the details of both slots. */
static void print_status_text(const ksvc_status *st)
{
    const ksvc_slot_status *booted = effective_slot(st);
    size_t k;

    if (st->rolled_back)
        puts("The WSL 2 kernel is in the rollback state and is using a "
             "previous kernel version.");
    if (booted != NULL && booted->kernel_version[0] != '\0')
        printf("Kernel version: %s\n", booted->kernel_version);
    else if (booted != NULL)
        puts("Kernel version: (not recorded)");
    else
        printf("Kernel version: (none)\n%s\n", KSVC_MSG_KERNEL_MISSING);
    puts("Kernels:");
    print_slot_line("kernel", &st->kernel, st->kernel_image_version);
    print_slot_line("kernel.rollback", &st->rollback,
                    st->rollback_image_version);
    printf("Boots: %s\n", booted != NULL ? slot_name(st->effective) : "(none)");
    if (st->rolled_back)
        printf("Rolled back from: %s\n", st->rolled_back_from[0] != '\0'
                                             ? st->rolled_back_from
                                             : "(unknown)");
    fputs("Bad versions:", stdout);
    for (k = 0; k < st->bad_count; k++)
        printf(" %s", st->bad_versions[k]);
    puts(st->bad_count == 0 ? " none" : "");
    if (st->restart_required)
        printf("Restart required: yes. %s\n", ksvc_restart_message());
    for (k = 0; k < st->problem_count; k++) {
        /* WSL's missing-kernel message already stands on its own line. */
        if (booted == NULL &&
            strcmp(st->problems[k], KSVC_MSG_KERNEL_MISSING) == 0)
            continue;
        printf("Problem: %s\n", st->problems[k]);
    }
}

/* ------------------------------------------------------------------------ */
/* Commands                                                                 */
/* ------------------------------------------------------------------------ */

/* x64 or arm64, from --arch; KSVC_ARCH_UNKNOWN after a usage error. */
static ksvc_arch parse_arch(const struct cli *cli, ksvc_arch fallback)
{
    const char *value = cli->value[OPT_ARCH];

    if (value == NULL)
        return fallback;
    if (strcmp(value, "x64") == 0)
        return KSVC_ARCH_X64;
    if (strcmp(value, "arm64") == 0)
        return KSVC_ARCH_ARM64;
    cli_usage_error(cli->command, "--arch takes x64 or arm64, not '%s'",
                    value);
    return KSVC_ARCH_UNKNOWN;
}

#ifndef _WIN32 /* init-mock only: the POSIX mock backend (WIN32 BACKEND) */
/* Parse "BUILD" or "BUILD.UBR" as two decimal 32-bit numbers. */
static int parse_os_build(const char *text, uint32_t *build, uint32_t *ubr)
{
    char *end;
    unsigned long value;

    if (text[0] < '0' || text[0] > '9')
        return -1;
    errno = 0;
    value = strtoul(text, &end, 10);
    if (errno == ERANGE || value > UINT32_MAX)
        return -1;
    *build = (uint32_t)value;
    *ubr = 0;
    if (*end == '\0')
        return 0;
    if (*end != '.' || end[1] < '0' || end[1] > '9')
        return -1;
    value = strtoul(end + 1, &end, 10);
    if (errno == ERANGE || value > UINT32_MAX || *end != '\0')
        return -1;
    *ubr = (uint32_t)value;
    return 0;
}

/* Fill @p machine from the init-mock options. */
static int parse_init_mock(const struct cli *cli, ksvc_mock_machine *machine)
{
    const char *build = cli->value[OPT_OS_BUILD];
    const char *wsl = cli->value[OPT_WSL];

    machine->arch = parse_arch(cli, machine->arch);
    if (machine->arch == KSVC_ARCH_UNKNOWN)
        return CLI_EXIT_USAGE;
    if (build != NULL &&
        parse_os_build(build, &machine->os_build, &machine->os_ubr))
        return cli_usage_error(cli->command, "--os-build takes BUILD or "
                               "BUILD.UBR (decimal), not '%s'", build);
    if (wsl != NULL && strcmp(wsl, "enabled") != 0 &&
        strcmp(wsl, "disabled") != 0)
        return cli_usage_error(cli->command, "--wsl takes enabled or "
                               "disabled, not '%s'", wsl);
    if (wsl != NULL)
        machine->wsl_enabled = strcmp(wsl, "enabled") == 0;
    if (cli->value[OPT_REBOOT_PENDING] != NULL)
        machine->reboot_pending = 1;
    return CLI_EXIT_OK;
}

/* init-mock over an existing machine: say so, and how to start over. */
static int init_mock_failed(const char *root, int err)
{
    if (err == KSVC_E_EXISTS) {
        fprintf(stderr, "kservice: %s already holds a simulated machine "
                        "(%s)\n"
                        "kservice: to start over, delete the folder and "
                        "run init-mock again: rm -r '%s' && kservice --root "
                        "'%s' init-mock\n",
                root, ksvc_strerror(err), root, root);
    } else {
        char detail[1200];

        snprintf(detail, sizeof detail,
                 "cannot create the simulated machine at %s", root);
        print_error(ksvc_strerror(err), detail);
    }
    return exit_status_for(err);
}
#endif

static int cmd_init_mock(struct cli *cli)
{
#ifdef _WIN32
    return cli_usage_error(cli->command, "init-mock needs the POSIX mock "
                           "backend, which is not built on Windows");
#else
    ksvc_mock_machine machine = KSVC_MOCK_MACHINE_INIT;
    int status = parse_init_mock(cli, &machine);
    int err;

    if (status != CLI_EXIT_OK)
        return status;
    if (cli->root == NULL)
        return cli_usage_error(cli->command, "init-mock needs --root ROOT");
    err = ksvc_posix_init_machine(cli->root, &machine);
    if (err != KSVC_OK)
        return init_mock_failed(cli->root, err);
    printf("Created a simulated machine at %s: Windows build %" PRIu32
           ".%" PRIu32 ", %s, WSL %s%s.\n",
           cli->root, machine.os_build, machine.os_ubr,
           machine.arch == KSVC_ARCH_ARM64 ? "arm64" : "x64",
           machine.wsl_enabled ? "enabled" : "disabled",
           machine.reboot_pending ? ", restart pending" : "");
    return CLI_EXIT_OK;
#endif
}

static const char *arch_name(ksvc_arch arch)
{
    switch (arch) {
    case KSVC_ARCH_X64:
        return "x64";
    case KSVC_ARCH_ARM64:
        return "arm64";
    default:
        return "unknown";
    }
}

static int cmd_precheck(struct cli *cli)
{
    ksvc_precheck_result result = KSVC_PRECHECK_RESULT_INIT;
    struct machine m;
    int status = machine_open(cli, &m);
    int err;

    if (status != CLI_EXIT_OK)
        return status;
    err = ksvc_precheck(m.ctx, &result);
    if (err != KSVC_OK) {
        status = fail(m.ctx, err);
    } else {
        printf("The machine can take a WSL 2 kernel: Windows build %" PRIu32
               ".%" PRIu32 ", %s, WSL enabled.\n",
               result.os_build, result.os_ubr, arch_name(result.arch));
    }
    machine_close(&m);
    return status;
}

/* The status, or "" when it cannot be read (the change already happened;
 * only the report is poorer). */
static void print_versions_after_change(ksvc_context *ctx)
{
    ksvc_status st = KSVC_STATUS_INIT;

    if (ksvc_status_get(ctx, &st) != KSVC_OK)
        return;
    printf("kernel: %s, kernel.rollback: %s, boots: %s\n",
           st.kernel.kernel_version[0] ? st.kernel.kernel_version : "(none)",
           st.rollback.kernel_version[0] ? st.rollback.kernel_version
                                         : "(none)",
           st.effective != KSVC_SLOT_NONE ? slot_name(st.effective)
                                          : "(none)");
}

/* Name the version just installed: the one given, else the one the library
 * read from the image and recorded. */
static void print_installed(ksvc_context *ctx, const char *given)
{
    ksvc_status st = KSVC_STATUS_INIT;

    if (given != NULL)
        printf("Installed kernel version %s.\n", given);
    else if (ksvc_status_get(ctx, &st) == KSVC_OK)
        printf("Installed kernel version %s (read from the image).\n",
               st.kernel.kernel_version);
    else
        puts("Installed the kernel.");
}

static int cmd_install(struct cli *cli)
{
    ksvc_install_options options = KSVC_INSTALL_OPTIONS_INIT;
    const char *version = cli->value[OPT_VERSION];
    struct machine m;
    int status;
    int err;

    if (cli->value[OPT_ALLOW_DOWNGRADE] != NULL)
        options.flags |= KSVC_INSTALL_ALLOW_DOWNGRADE;
    if (cli->value[OPT_FORCE] != NULL)
        options.flags |= KSVC_INSTALL_FORCE;
    options.sha256_hex = cli->value[OPT_SHA256];
    if ((status = machine_open(cli, &m)) != CLI_EXIT_OK)
        return status;
    err = ksvc_install(m.ctx, cli->args[0], version, &options);
    if (err != KSVC_OK) {
        status = fail(m.ctx, err);
    } else {
        print_installed(m.ctx, version);
        print_versions_after_change(m.ctx);
        printf("%s\n", ksvc_restart_message());
    }
    machine_close(&m);
    return status;
}

static int cmd_rollback(struct cli *cli)
{
    ksvc_status before = KSVC_STATUS_INIT;
    struct machine m;
    int status = machine_open(cli, &m);
    int err;

    if (status != CLI_EXIT_OK)
        return status;
    /* Read before: the message names the version that becomes bad. */
    if (ksvc_status_get(m.ctx, &before) != KSVC_OK)
        before.kernel.kernel_version[0] = '\0';
    err = ksvc_rollback(m.ctx);
    if (err != KSVC_OK) {
        status = fail(m.ctx, err);
    } else {
        if (before.kernel.kernel_version[0] != '\0')
            printf("Rolled back; kernel version %s is marked bad.\n",
                   before.kernel.kernel_version);
        else
            puts("Rolled back.");
        print_versions_after_change(m.ctx);
        printf("%s\n", ksvc_restart_message());
    }
    machine_close(&m);
    return status;
}

static int cmd_revert_rollback(struct cli *cli)
{
    struct machine m;
    int status = machine_open(cli, &m);
    int err;

    if (status != CLI_EXIT_OK)
        return status;
    err = ksvc_revert_rollback(m.ctx);
    if (err != KSVC_OK) {
        status = fail(m.ctx, err);
    } else {
        puts("Reverted the rollback.");
        print_versions_after_change(m.ctx);
        printf("%s\n", ksvc_restart_message());
    }
    machine_close(&m);
    return status;
}

static int cmd_repair(struct cli *cli)
{
    struct machine m;
    int status = machine_open(cli, &m);
    int err;

    if (status != CLI_EXIT_OK)
        return status;
    err = ksvc_repair(m.ctx);
    if (err != KSVC_OK) {
        status = fail(m.ctx, err);
    } else {
        puts("The kernel to boot is present and intact.");
        print_versions_after_change(m.ctx);
    }
    machine_close(&m);
    return status;
}

/* A slot whose recorded kernel is missing or does not match its record. */
static int slot_damaged(const ksvc_slot_status *slot)
{
    return slot->recorded && (!slot->present || !slot->intact);
}

/* The verdict of verify: nothing to boot first (WSL's own message), then
 * any recorded kernel file that is missing or differs from its record. */
static int verify_status(const ksvc_status *st)
{
    const ksvc_slot_status *slots[2];
    const char *names[2] = { "kernel", "kernel.rollback" };
    int status = CLI_EXIT_OK;
    int k;

    slots[0] = &st->kernel;
    slots[1] = &st->rollback;
    if (st->effective == KSVC_SLOT_NONE) {
        print_error(KSVC_MSG_KERNEL_MISSING, NULL);
        return CLI_EXIT_KERNEL_MISSING;
    }
    for (k = 0; k < 2; k++) {
        if (!slot_damaged(slots[k]))
            continue;
        if (status == CLI_EXIT_OK)
            print_error(ksvc_strerror(KSVC_E_DAMAGED), NULL);
        fprintf(stderr, "kservice: %s: %s\n", names[k],
                slots[k]->present ? "its content differs from the record"
                                  : "the file is missing");
        status = CLI_EXIT_DAMAGED;
    }
    return status;
}

/* status and verify: the same report (the library hashes both kernels
 * every time); the exit status of verify says whether the machine can boot
 * and both recorded kernels are intact. */
static int run_status(struct cli *cli, int verify)
{
    ksvc_status st = KSVC_STATUS_INIT;
    struct machine m;
    int status = machine_open(cli, &m);
    int err;

    if (status != CLI_EXIT_OK)
        return status;
    st.flags = verify ? KSVC_STATUS_VERIFY : 0;
    err = ksvc_status_get(m.ctx, &st);
    if (err != KSVC_OK) {
        status = fail(m.ctx, err);
        machine_close(&m);
        return status;
    }
    if (cli->value[OPT_JSON] != NULL)
        print_status_json(&st);
    else
        print_status_text(&st);
    if (verify)
        status = verify_status(&st);
    machine_close(&m);
    return status;
}

static int cmd_status(struct cli *cli)
{
    return run_status(cli, 0);
}

static int cmd_verify(struct cli *cli)
{
    return run_status(cli, 1);
}

static int cmd_boot_path(struct cli *cli)
{
    char path[4096];
    struct machine m;
    int status = machine_open(cli, &m);
    int err;

    if (status != CLI_EXIT_OK)
        return status;
    err = ksvc_boot_path(m.ctx, path, sizeof path);
    if (err == KSVC_OK) {
        printf("%s\n", path);
        if (cli->value[OPT_RECORD] != NULL)
            err = ksvc_record_boot(m.ctx);
    }
    if (err != KSVC_OK)
        status = fail(m.ctx, err);
    machine_close(&m);
    return status;
}

/* --size BYTES: decimal, MAKE_KERNEL_MIN_SIZE to MAKE_KERNEL_MAX_SIZE. */
static int parse_image_size(const struct cli *cli, uint64_t *size)
{
    const char *value = cli->value[OPT_SIZE];
    char *end;
    unsigned long long bytes;

    *size = MAKE_KERNEL_DEFAULT_SIZE;
    if (value == NULL)
        return CLI_EXIT_OK;
    errno = 0;
    bytes = strtoull(value, &end, 10);
    if (value[0] < '0' || value[0] > '9' || *end != '\0' || errno == ERANGE ||
        bytes < MAKE_KERNEL_MIN_SIZE || bytes > MAKE_KERNEL_MAX_SIZE)
        return cli_usage_error(cli->command, "--size takes a number of bytes "
                               "from %u to %" PRIu64 ", not '%s'",
                               MAKE_KERNEL_MIN_SIZE,
                               (uint64_t)MAKE_KERNEL_MAX_SIZE, value);
    *size = bytes;
    return CLI_EXIT_OK;
}

/* make-kernel VERSION OUT: a test image, no machine involved. */
static int cmd_make_kernel(struct cli *cli)
{
    const char *version = cli->args[0];
    const char *out = cli->args[1];
    ksvc_kver parsed = KSVC_KVER_INIT;
    ksvc_arch arch = parse_arch(cli, KSVC_ARCH_X64);
    uint64_t size;
    int err;

    if (arch == KSVC_ARCH_UNKNOWN)
        return CLI_EXIT_USAGE;
    if (parse_image_size(cli, &size) != CLI_EXIT_OK)
        return CLI_EXIT_USAGE;
    err = ksvc_kver_parse(version, &parsed);
    if (err != KSVC_OK) {
        fprintf(stderr, "kservice: %s: '%s'\n", ksvc_strerror(err), version);
        return exit_status_for(err);
    }
    err = make_kernel_write(out, version, arch, size);
    if (err != 0) {
        fprintf(stderr, "kservice: cannot write %s: %s\n", out,
                strerror(err));
        return CLI_EXIT_FAILURE;
    }
    printf("Wrote %s: %s of kernel version %s, %" PRIu64
           " bytes (a test image, not bootable).\n",
           out, arch == KSVC_ARCH_ARM64 ? "arm64 Image" : "x86-64 bzImage",
           version, size);
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------------ */
/* Dispatch                                                                 */
/* ------------------------------------------------------------------------ */

/* Every command, in the order of `kservice --help`. */
static const struct cli_command commands[] = {
    { "init-mock", NULL, cmd_init_mock,
      OPT_BIT(OPT_OS_BUILD) | OPT_BIT(OPT_ARCH) | OPT_BIT(OPT_WSL) |
          OPT_BIT(OPT_REBOOT_PENDING),
      NULL, 0, 0, "create ROOT as a simulated Windows machine" },
    { "precheck", NULL, cmd_precheck, 0, NULL, 0, 0,
      "can this machine take a WSL 2 kernel?" },
    { "install", "update", cmd_install,
      OPT_BIT(OPT_VERSION) | OPT_BIT(OPT_ALLOW_DOWNGRADE) |
          OPT_BIT(OPT_FORCE) | OPT_BIT(OPT_SHA256),
      "FILE", 1, 1,
      "install or update the kernel from the image FILE;\n"
      "V defaults to the version inside the image" },
    { "rollback", NULL, cmd_rollback, 0, NULL, 0, 0,
      "boot the previous kernel, mark this one bad\n"
      "(also: --update --rollback)" },
    { "revert-rollback", NULL, cmd_revert_rollback, 0, NULL, 0, 0,
      "boot the primary kernel again" },
    { "repair", NULL, cmd_repair, 0, NULL, 0, 0,
      "restore a missing or damaged kernel" },
    { "status", NULL, cmd_status, OPT_BIT(OPT_JSON), NULL, 0, 0,
      "both kernels, rollback state, bad versions\n(also: --status)" },
    { "verify", NULL, cmd_verify, OPT_BIT(OPT_JSON), NULL, 0, 0,
      "status; fails when there is no kernel to boot\n"
      "or a kernel file is missing or damaged" },
    { "boot-path", NULL, cmd_boot_path, OPT_BIT(OPT_RECORD), NULL, 0, 0,
      "the kernel to boot; --record notes the boot" },
    { "make-kernel", NULL, cmd_make_kernel,
      OPT_BIT(OPT_ARCH) | OPT_BIT(OPT_SIZE), "VERSION OUT", 2, 2,
      "test aid: write a stand-in kernel image (not bootable)\n"
      "that names VERSION, for CI and the simulated machine" },
};

int main(int argc, char **argv)
{
    struct cli cli;
    int status = cli_parse(argc, argv, commands,
                           sizeof commands / sizeof commands[0], &cli);

    if (status >= 0)
        return status;
    return cli.command->run(&cli);
}
