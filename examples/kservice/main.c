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
#include <process.h>
#else
#include <kservice/posix.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

/* An open machine: the backend's table, a copy of it whose lock says when
 * it starts to wait, and the library context over that copy. */
struct machine {
    ksvc_platform *platform;
    ksvc_platform announcing;
    ksvc_context *ctx;
};

/* The exit status for a library error: its class, which the library
 * gives (the values are the exit statuses listed in usage()). */
static int exit_status_for(int err)
{
    return (int)ksvc_error_class_of(err);
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

/* Report a failed call on an open context and return the exit status.
 * The library's detail already says everything (for the pre-check: the
 * public page's sentence and the reason). */
static int fail(ksvc_context *ctx, int err)
{
    const char *detail = ksvc_error_detail(ctx);

    if (err == KSVC_E_PRECHECK && detail[0] != '\0')
        print_error(detail, NULL);
    else
        print_error(ksvc_strerror(err), detail);
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
    /* Any backend frees itself the same way (platform table version 2). */
    if (m->platform != NULL)
        m->platform->destroy(m->platform);
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

static void json_slot(const ksvc_slot_status *slot, const char *image_version,
                      ksvc_slot_class cls, const char *holds, int holds_bad)
{
    printf("{\"present\":%s,\"version\":", json_bool(slot->present));
    json_string_or_null(slot->kernel_version);
    fputs(",\"image_version\":", stdout);
    json_string_or_null(image_version);
    printf(",\"intact\":%s,\"bad\":%s,\"size\":%" PRIu64 ",\"sha256\":",
           json_bool(slot->intact), json_bool(slot->bad), slot->size);
    json_string_or_null(slot->sha256);
    printf(",\"class\":\"%s\",\"holds\":", ksvc_slot_class_name(cls));
    json_string_or_null(holds);
    printf(",\"holds_bad\":%s}", json_bool(holds_bad));
}

static void json_trial(const ksvc_status *st)
{
    printf(",\"trial\":{\"on_trial\":%s,\"tries\":%u,\"tries_left\":%u,"
           "\"confirmed\":%s}",
           json_bool(st->on_trial), st->trial_tries, st->trial_tries_left,
           json_bool(st->confirmed));
    fputs(",\"automatic_rollback\":", stdout);
    if (st->auto_rollback_reason[0] == '\0') {
        fputs("null", stdout);
        return;
    }
    fputs("{\"reason\":", stdout);
    json_string(st->auto_rollback_reason);
    fputs(",\"when\":", stdout);
    json_string_or_null(st->auto_rollback_time);
    putchar('}');
}

/* What someone other than the administrators may change, by name. */
static void json_others_may_write(unsigned set)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{KSVC_OTHERS_MAY_WRITE_TOOLS, "tools_folder"},
                 {KSVC_OTHERS_MAY_WRITE_KERNEL, "kernel"},
                 {KSVC_OTHERS_MAY_WRITE_ROLLBACK, "kernel.rollback"},
                 {KSVC_OTHERS_MAY_WRITE_REGISTRY, "registry"}};
    const char *found[4];
    size_t i, count = 0;

    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        if (set & names[i].bit)
            found[count++] = names[i].name;
    fputs(",\"others_may_write\":", stdout);
    json_string_array(found, count);
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
    json_slot(&st->kernel, st->kernel_image_version, st->kernel_class,
              st->kernel_holds, st->kernel_holds_bad);
    fputs(",\"rollback\":", stdout);
    json_slot(&st->rollback, st->rollback_image_version, st->rollback_class,
              st->rollback_holds, st->rollback_holds_bad);
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
    json_trial(st);
    json_others_may_write(st->others_may_write);
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

static void print_slot_line(const char *name, const ksvc_slot_status *slot,
                            ksvc_slot_class cls, const char *holds)
{
    printf("  %-16s ", name);
    if (!slot->present && slot->kernel_version[0] == '\0') {
        puts("(none)");
        return;
    }
    if (cls == KSVC_SLOT_CLASS_FOREIGN) {
        /* The record does not describe it: say what the file holds. */
        printf("%s, foreign (not the recorded %s)", holds,
               slot->kernel_version[0] ? slot->kernel_version : "kernel");
    } else {
        printf("%s", slot->kernel_version[0] != '\0'
                         ? slot->kernel_version
                         : "(version not recorded)");
        if (!slot->present)
            fputs(", file missing", stdout);
        else if (cls == KSVC_SLOT_CLASS_DAMAGED)
            fputs(", damaged", stdout);
        else
            fputs(", intact", stdout);
    }
    if (slot->bad)
        fputs(", marked bad", stdout);
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
    /* Whether the image names another version than the record is the
     * library's to judge: such a file is foreign or damaged. */
    print_slot_line("kernel", &st->kernel, st->kernel_class,
                    st->kernel_holds);
    print_slot_line("kernel.rollback", &st->rollback, st->rollback_class,
                    st->rollback_holds);
    printf("Boots: %s\n", booted != NULL ? slot_name(st->effective) : "(none)");
    if (st->rolled_back)
        printf("Rolled back from: %s\n", st->rolled_back_from[0] != '\0'
                                             ? st->rolled_back_from
                                             : "(unknown)");
    fputs("Bad versions:", stdout);
    for (k = 0; k < st->bad_count; k++)
        printf(" %s", st->bad_versions[k]);
    puts(st->bad_count == 0 ? " none" : "");
    if (st->on_trial)
        printf("On trial: kernel has not yet proved that it boots; %u of %u "
               "tries left\n",
               st->trial_tries_left, st->trial_tries);
    if (st->auto_rollback_reason[0] != '\0')
        printf("Automatic rollback: %s (%s)\n", st->auto_rollback_reason,
               st->auto_rollback_time[0] ? st->auto_rollback_time
                                         : "time unknown");
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

/* The sentence of a command that changed the machine, from what the
 * library says it did (nothing is worked out again here), then the pair
 * of kernels after it. */
static void print_result(ksvc_context *ctx, const char *given)
{
    ksvc_result r = KSVC_RESULT_INIT;

    if (ksvc_last_result(ctx, &r) != KSVC_OK)
        return;
    switch (r.operation) {
    case KSVC_OPERATION_INSTALL:
        printf("Installed kernel version %s%s.\n", r.kernel_after,
               given ? "" : " (read from the image)");
        break;
    case KSVC_OPERATION_ROLLBACK:
        if (r.marked_bad[0])
            printf("Rolled back; kernel version %s is marked bad.\n",
                   r.marked_bad);
        else
            puts("Rolled back.");
        break;
    case KSVC_OPERATION_REVERT:
        puts("Reverted the rollback.");
        break;
    default:
        /* repair, confirm: the library's own sentence */
        if (r.summary[0] != '\0')
            printf("%c%s.\n", r.summary[0] >= 'a' && r.summary[0] <= 'z'
                                   ? r.summary[0] - 'a' + 'A'
                                   : r.summary[0],
                   r.summary + 1);
        break;
    }
    if (r.changed)
        printf("kernel: %s, kernel.rollback: %s, boots: %s\n",
               r.kernel_after[0] ? r.kernel_after : "(none)",
               r.rollback_after[0] ? r.rollback_after : "(none)",
               r.rolled_back_after ? "kernel.rollback" : "kernel");
}

/* After a failure that may have taken effect, say which way it goes. */
static int fail_with_result(ksvc_context *ctx, int err)
{
    int status = fail(ctx, err);

    if (err == KSVC_E_IN_DOUBT) {
        ksvc_result r = KSVC_RESULT_INIT;
        ksvc_last_result(ctx, &r);
        fprintf(stderr, "kservice: %s\n",
                r.settles == KSVC_SETTLE_COMPLETE
                    ? "the change took effect: treat it as done; the next "
                      "command completes it"
                : r.settles == KSVC_SETTLE_UNDO
                    ? "the change did not take effect; the next command "
                      "undoes what is left of it"
                    : "run 'kservice status' to see what the machine holds "
                      "now");
    }
    return status;
}

/* Run argv (argv[count] is NULL) and wait; its exit status, or -1 with a
 * message when it could not run or did not exit normally. */
static int run_command(char **argv)
{
#ifdef _WIN32
    intptr_t rc = _spawnvp(_P_WAIT, argv[0], (const char *const *)argv);

    if (rc == -1)
        fprintf(stderr, "kservice: cannot run %s: %s\n", argv[0],
                strerror(errno));
    return rc == -1 ? -1 : (int)rc;
#else
    int wstatus;
    pid_t pid;

    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid == 0) {
        execvp(argv[0], argv);
        fprintf(stderr, "kservice: cannot run %s: %s\n", argv[0],
                strerror(errno));
        _exit(127);
    }
    if (pid < 0) {
        fprintf(stderr, "kservice: cannot start %s: %s\n", argv[0],
                strerror(errno));
        return -1;
    }
    while (waitpid(pid, &wstatus, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (WIFEXITED(wstatus))
        return WEXITSTATUS(wstatus);
    fprintf(stderr, "kservice: %s ended by signal %d\n", argv[0],
            WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0);
    return -1;
#endif
}

/* boot --exec CMD...: begin, run CMD with the kernel's path as its last
 * argument, confirm when it exits 0.  The launcher's whole loop. */
static int cmd_boot(struct cli *cli)
{
    char path[4096];
    char **argv;
    struct machine m;
    ksvc_result r = KSVC_RESULT_INIT;
    int status = machine_open(cli, &m);
    int k, rc, err;

    if (status != CLI_EXIT_OK)
        return status;
    if (cli->rest_count == 0) {
        machine_close(&m);
        return cli_usage_error(cli->command, "boot needs --exec CMD [ARGS...]");
    }
    err = ksvc_boot_begin(m.ctx, path, sizeof path);
    if (err != KSVC_OK) {
        status = fail_with_result(m.ctx, err);
        machine_close(&m);
        return status;
    }
    ksvc_last_result(m.ctx, &r);
    printf("kservice: %s\n", r.summary);
    argv = calloc((size_t)cli->rest_count + 2, sizeof *argv);
    if (argv == NULL) {
        machine_close(&m);
        return fail_platform(NULL, KSVC_E_NO_MEMORY, "running the command");
    }
    for (k = 0; k < cli->rest_count; k++)
        argv[k] = cli->rest[k];
    argv[k] = path;
    rc = run_command(argv);
    free(argv);
    if (rc != 0) {
        printf("kservice: %s %s: the boot of %s was not confirmed%s\n",
               cli->rest[0],
               rc < 0 ? "did not run to its end" : "failed",
               path,
               r.moved & KSVC_MOVED_TRY_COUNTED
                   ? "; the try is counted, and when the tries are used up "
                     "the next boot rolls back by itself"
                   : "");
        machine_close(&m);
        return CLI_EXIT_FAILURE;
    }
    err = ksvc_boot_confirm(m.ctx);
    if (err != KSVC_OK)
        status = fail_with_result(m.ctx, err);
    else
        print_result(m.ctx, NULL);
    machine_close(&m);
    return status;
}

/* --tries N: 0 to KSVC_INSTALL_TRIES_MAX. */
static int parse_tries(const struct cli *cli, unsigned *tries)
{
    const char *value = cli->value[OPT_TRIES];
    char *end;
    unsigned long n;

    *tries = KSVC_INSTALL_TRIES_DEFAULT;
    if (value == NULL)
        return CLI_EXIT_OK;
    errno = 0;
    n = strtoul(value, &end, 10);
    if (value[0] < '0' || value[0] > '9' || *end != '\0' || errno == ERANGE ||
        n > KSVC_INSTALL_TRIES_MAX)
        return cli_usage_error(cli->command, "--tries takes a number from 0 "
                               "(no trial) to %u, not '%s'",
                               KSVC_INSTALL_TRIES_MAX, value);
    *tries = (unsigned)n;
    return CLI_EXIT_OK;
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
    if ((status = parse_tries(cli, &options.tries)) != CLI_EXIT_OK)
        return status;
    if ((status = machine_open(cli, &m)) != CLI_EXIT_OK)
        return status;
    err = ksvc_install(m.ctx, cli->args[0], version, &options);
    if (err != KSVC_OK) {
        status = fail_with_result(m.ctx, err);
    } else {
        print_result(m.ctx, version);
        if (options.tries > 0)
            printf("The new kernel is on trial: it has %u boots to prove "
                   "itself (boot-begin, then boot-confirm).\n",
                   options.tries);
        printf("%s\n", ksvc_restart_message());
    }
    machine_close(&m);
    return status;
}

/* rollback, revert-rollback, repair: call, then say what happened. */
static int run_change(struct cli *cli, int (*change)(ksvc_context *),
                      int restart)
{
    struct machine m;
    int status = machine_open(cli, &m);
    int err;

    if (status != CLI_EXIT_OK)
        return status;
    err = change(m.ctx);
    if (err != KSVC_OK) {
        status = fail_with_result(m.ctx, err);
    } else {
        ksvc_result r = KSVC_RESULT_INIT;
        print_result(m.ctx, NULL);
        ksvc_last_result(m.ctx, &r);
        if (restart && r.changed)
            printf("%s\n", ksvc_restart_message());
    }
    machine_close(&m);
    return status;
}

static int cmd_rollback(struct cli *cli)
{
    return run_change(cli, ksvc_rollback, 1);
}

static int cmd_revert_rollback(struct cli *cli)
{
    return run_change(cli, ksvc_revert_rollback, 1);
}

static int cmd_repair(struct cli *cli)
{
    return run_change(cli, ksvc_repair, 0);
}

static int cmd_boot_confirm(struct cli *cli)
{
    return run_change(cli, ksvc_boot_confirm, 0);
}

/* boot-begin: the kernel to start, its try counted; the path on stdout. */
static int cmd_boot_begin(struct cli *cli)
{
    char path[4096];
    struct machine m;
    int status = machine_open(cli, &m);
    int err;

    if (status != CLI_EXIT_OK)
        return status;
    err = ksvc_boot_begin(m.ctx, path, sizeof path);
    if (err != KSVC_OK) {
        status = fail_with_result(m.ctx, err);
    } else {
        ksvc_result r = KSVC_RESULT_INIT;
        ksvc_last_result(m.ctx, &r);
        if (r.summary[0] != '\0')
            fprintf(stderr, "kservice: %s\n", r.summary);
        printf("%s\n", path);
    }
    machine_close(&m);
    return status;
}

/* The verdict of verify: nothing to boot first (WSL's own message), then
 * any kernel file the library classifies as damaged, or a recorded one
 * that is missing. */
static int verify_status(const ksvc_status *st)
{
    const ksvc_slot_status *slots[2];
    ksvc_slot_class classes[2];
    const char *names[2] = { "kernel", "kernel.rollback" };
    int status = CLI_EXIT_OK;
    int k;

    slots[0] = &st->kernel;
    slots[1] = &st->rollback;
    classes[0] = st->kernel_class;
    classes[1] = st->rollback_class;
    if (st->effective == KSVC_SLOT_NONE) {
        print_error(KSVC_MSG_KERNEL_MISSING, NULL);
        return CLI_EXIT_KERNEL_MISSING;
    }
    for (k = 0; k < 2; k++) {
        int missing = slots[k]->recorded && !slots[k]->present;
        if (classes[k] != KSVC_SLOT_CLASS_DAMAGED && !missing)
            continue;
        if (status == CLI_EXIT_OK)
            print_error(ksvc_strerror(KSVC_E_DAMAGED), NULL);
        fprintf(stderr, "kservice: %s: %s\n", names[k],
                missing ? "the file is missing"
                        : "its content differs from the record");
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
          OPT_BIT(OPT_FORCE) | OPT_BIT(OPT_SHA256) | OPT_BIT(OPT_TRIES),
      "FILE", 1, 1,
      "install or update the kernel from the image FILE;\n"
      "V defaults to the version inside the image; the new\n"
      "kernel is on trial for N boots (default 3, 0: none)" },
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
      "the kernel to boot (counts nothing); --record\n"
      "notes the boot, as boot-confirm" },
    { "boot-begin", NULL, cmd_boot_begin, 0, NULL, 0, 0,
      "the launcher, right before it starts the VM: print\n"
      "the kernel to boot, counting a try of a kernel on\n"
      "trial (the tries used up: roll back by itself)" },
    { "boot-confirm", NULL, cmd_boot_confirm, 0, NULL, 0, 0,
      "the guest came up healthy: the kernel booted has\n"
      "proved itself; its trial ends" },
    { "boot", NULL, cmd_boot, OPT_BIT(OPT_EXEC), NULL, 0, 0,
      "boot-begin, run CMD with the kernel's path as its\n"
      "last argument, boot-confirm when CMD exits 0" },
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
