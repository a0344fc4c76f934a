/*
 * Several servicers at once (POSIX: fork).  Four processes each run a
 * bounded number of random installs, rollbacks, reverts, repairs and status
 * reads against one ROOT, each operation from a context of its own as
 * separate `kservice` runs would.  Every process's platform table logs,
 * into one shared O_APPEND file, when it takes and releases the servicing
 * lock and every call that changes the disk.  Afterwards:
 *
 * - every failure any process saw is a busy error or a policy refusal;
 * - the log shows no interleaving: each change happens while its process
 *   holds the lock, and no two processes hold it at once (invariant 5);
 * - the machine satisfies invariants 1 to 4: the effective kernel is
 *   present, intact and holds the payload of its recorded version, it is
 *   not bad, the other slot matches its record, no temporary or journal is
 *   left.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <kservice/posix.h>

#include "fault/fault.h"
#include "fault/kimage.h"
#include "internal.h"
#include "machine.h"

const char *test_machine_root(test_machine *m);

#define PROCESSES 4
#define OPS_PER_PROCESS 30
#define VERSIONS 8

static char version_text[VERSIONS][32];
static char payload_path[VERSIONS][4096];
static char payload_sha[VERSIONS][65];

/* ---- the shared log ---- */

typedef struct child_log {
    int fd;
    int holding;
} child_log;

static void log_line(child_log *l, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* One write per line: O_APPEND keeps lines whole and in order. */
    if (n > 0 && write(l->fd, line, (size_t)n) != n)
        _exit(90);
}

static int changes_disk(fault_op op)
{
    return op == FOP_FILE_WRITE || op == FOP_RENAME || op == FOP_REMOVE ||
           op == FOP_HARD_LINK || op == FOP_REG_WRITE ||
           op == FOP_FILE_SYNC;
}

static const struct timespec change_pause = {0, 2000000}; /* 2 ms */

/* Log lock taken (after), lock released (before) and each disk change. */
static void observe(void *arg, unsigned call, fault_op op, const char *name,
                    int done, int rc)
{
    child_log *l = arg;

    (void)call;
    (void)name;
    if (op == FOP_LOCK && done && rc == KSVC_OK)
        log_line(l, "L %ld\n", (long)getpid());
    else if (op == FOP_UNLOCK && !done)
        log_line(l, "U %ld\n", (long)getpid());
    else if (changes_disk(op) && done && rc == KSVC_OK) {
        log_line(l, "W %ld %s\n", (long)getpid(), fault_op_name(op));
        /* Hold the lock a little longer, so the others really wait. */
        nanosleep(&change_pause, NULL);
    }
}

/* ---- one servicer process ---- */

static int allowed_failure(int rc)
{
    switch (rc) {
    case KSVC_OK:
    case KSVC_E_BUSY:
    case KSVC_E_BAD_VERSION:
    case KSVC_E_DOWNGRADE:
    case KSVC_E_ALREADY_INSTALLED:
    case KSVC_E_NOT_ROLLED_BACK:
    case KSVC_E_ROLLED_BACK:
    case KSVC_E_NO_ROLLBACK:
        return 1;
    default:
        return 0;
    }
}

static int random_op(ksvc_context *ctx, unsigned *seed, const char **what)
{
    ksvc_install_options o = KSVC_INSTALL_OPTIONS_INIT;
    ksvc_status s = KSVC_STATUS_INIT;
    unsigned pick = (unsigned)rand_r(seed) % 10;
    unsigned v = (unsigned)rand_r(seed) % VERSIONS;

    if (pick < 5) {
        *what = "install";
        if (rand_r(seed) % 3 == 0)
            o.flags |= KSVC_INSTALL_ALLOW_DOWNGRADE;
        return ksvc_install(ctx, payload_path[v], version_text[v], &o);
    }
    if (pick < 7) {
        *what = "rollback";
        return ksvc_rollback(ctx);
    }
    if (pick < 8) {
        *what = "revert";
        return ksvc_revert_rollback(ctx);
    }
    if (pick < 9) {
        *what = "repair";
        return ksvc_repair(ctx);
    }
    *what = "status";
    return ksvc_status_get(ctx, &s);
}

static void run_child(const char *root, int log_fd, unsigned seed)
{
    ksvc_posix_options po = KSVC_POSIX_OPTIONS_INIT;
    ksvc_open_options oo = KSVC_OPEN_OPTIONS_INIT;
    child_log log = {log_fd, 0};
    int i, busy = 0, refused = 0, done = 0;

    po.root = root;
    /* Short waits make busy errors happen, long enough that most
     * operations still get through. */
    oo.lock_timeout_ms = 25;
    for (i = 0; i < OPS_PER_PROCESS; i++) {
        ksvc_platform *plain = NULL;
        fault_platform *f;
        ksvc_context *ctx = NULL;
        const char *what = "open";
        int rc = ksvc_posix_open(&plain, &po);

        if (rc != KSVC_OK)
            _exit(91);
        f = fault_wrap(plain);
        fault_set_observer(f, observe, &log);
        rc = ksvc_open(&ctx, fault_table(f), &oo);
        if (rc == KSVC_OK)
            rc = random_op(ctx, &seed, &what);
        if (!allowed_failure(rc)) {
            log_line(&log, "F %ld %s %s %s\n", (long)getpid(), what,
                     ksvc_error_name(rc),
                     ctx ? ksvc_error_detail(ctx) : "");
            _exit(92);
        }
        busy += rc == KSVC_E_BUSY;
        refused += rc != KSVC_OK && rc != KSVC_E_BUSY;
        done += rc == KSVC_OK;
        ksvc_close(ctx);
        fault_free(f);
        ksvc_posix_free(plain);
    }
    log_line(&log, "D %ld %d %d %d\n", (long)getpid(), done, refused, busy);
    _exit(0);
}

/* ---- checks ---- */

/* Replay the log: who held the lock when. */
static void check_log(const char *path, int *done, int *refused, int *busy,
                      int *changes)
{
    FILE *f = fopen(path, "r");
    char line[512];
    long holder = 0;
    int lineno = 0;

    assert_non_null(f);
    while (fgets(line, sizeof line, f)) {
        char kind;
        long pid;
        int d, r, b;
        lineno++;
        if (sscanf(line, "%c %ld", &kind, &pid) != 2)
            fail_msg("log line %d unreadable: %s", lineno, line);
        switch (kind) {
        case 'L':
            if (holder != 0)
                fail_msg("log line %d: process %ld took the lock while %ld "
                         "held it",
                         lineno, pid, holder);
            holder = pid;
            break;
        case 'U':
            if (holder != pid)
                fail_msg("log line %d: process %ld released a lock it did "
                         "not hold",
                         lineno, pid);
            holder = 0;
            break;
        case 'W':
            if (holder != pid)
                fail_msg("log line %d: process %ld changed the disk without "
                         "the lock: %s",
                         lineno, pid, line);
            (*changes)++;
            break;
        case 'F':
            fail_msg("a servicer failed: %s", line);
            break;
        case 'D':
            if (sscanf(line, "D %ld %d %d %d", &pid, &d, &r, &b) != 4)
                fail_msg("log line %d unreadable", lineno);
            *done += d;
            *refused += r;
            *busy += b;
            break;
        default:
            fail_msg("log line %d: unknown entry %s", lineno, line);
        }
    }
    fclose(f);
}

static int version_index(const char *v)
{
    int i;

    for (i = 0; i < VERSIONS; i++)
        if (!strcmp(v, version_text[i]))
            return i;
    return -1;
}

static void check_slot(const ksvc_slot_status *slot, const char *label)
{
    int i;

    if (!slot->recorded)
        return;
    if (!slot->present || !slot->intact)
        fail_msg("%s (version %s) is %s", label, slot->kernel_version,
                 slot->present ? "not intact" : "missing");
    i = version_index(slot->kernel_version);
    assert_true(i >= 0);
    if (strcmp(slot->sha256, payload_sha[i]) != 0)
        fail_msg("%s records %s but does not hold its payload", label,
                 slot->kernel_version);
}

static int only_slots(void *arg, const char *name)
{
    (void)arg;
    if (strcmp(name, "kernel") != 0 && strcmp(name, "kernel.rollback") != 0)
        fail_msg("a temporary is left: %s", name);
    return 0;
}

static void check_machine(test_machine *m)
{
    ksvc_platform *p = test_machine_platform(m);
    ksvc_status s = KSVC_STATUS_INIT;
    ksvc_context *ctx = NULL;
    const ksvc_slot_status *eff;
    char buf[8];
    size_t size = sizeof buf, i;
    uint32_t type;

    assert_int_equal(ksvc_open(&ctx, p, NULL), KSVC_OK);
    s.flags = KSVC_STATUS_VERIFY;
    assert_int_equal(ksvc_status_get(ctx, &s), KSVC_OK);
    eff = s.rolled_back ? &s.rollback : &s.kernel;
    check_slot(&s.kernel, "kernel");
    check_slot(&s.rollback, "kernel.rollback");
    if (eff->recorded) {
        assert_true(eff->present && eff->intact);
        for (i = 0; i < s.bad_count; i++)
            if (!strcmp(s.bad_versions[i], eff->kernel_version))
                fail_msg("the effective kernel %s is bad",
                         eff->kernel_version);
    }
    assert_int_equal(s.problem_count, 0);
    assert_int_equal(p->list(p, only_slots, NULL), KSVC_OK);
    assert_int_equal(p->reg_read(p, "SOFTWARE\\Microsoft\\Windows\\"
                                    "CurrentVersion\\Lxss",
                                 "KServiceJournal", &type, buf, &size),
                     KSVC_E_NOT_FOUND);
    ksvc_close(ctx);
}

static void sha_of(const char *path, char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char buf[8192], d[32];
    ksvc__sha256 s;
    FILE *f = fopen(path, "rb");
    size_t n, i;

    assert_non_null(f);
    ksvc__sha256_init(&s);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        ksvc__sha256_update(&s, buf, n);
    fclose(f);
    ksvc__sha256_final(&s, d);
    for (i = 0; i < 32; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[64] = '\0';
}

static void servicers_never_interleave(void **state)
{
    test_machine *m = test_machine_new(NULL);
    char log_path[4200];
    pid_t pids[PROCESSES];
    int i, log_fd, done = 0, refused = 0, busy = 0, changes = 0;

    (void)state;
    for (i = 0; i < VERSIONS; i++) {
        snprintf(version_text[i], sizeof version_text[i], "5.15.%d.1",
                 100 + 10 * i);
        snprintf(payload_path[i], sizeof payload_path[i], "%s/v%d.img",
                 test_machine_scratch(m), i);
        assert_int_equal(kimage_write(payload_path[i], KSVC_ARCH_X64,
                                      version_text[i], (unsigned)i + 7,
                                      4096 + 97 * (size_t)i),
                         0);
        sha_of(payload_path[i], payload_sha[i]);
    }
    snprintf(log_path, sizeof log_path, "%s/servicers.log",
             test_machine_scratch(m));
    log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC, 0644);
    assert_true(log_fd >= 0);
    fflush(NULL);
    for (i = 0; i < PROCESSES; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0)
            run_child(test_machine_root(m), log_fd,
                      (unsigned)(12345 + 7919 * i));
    }
    close(log_fd);
    for (i = 0; i < PROCESSES; i++) {
        int status = 0;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            check_log(log_path, &done, &refused, &busy, &changes);
            fail_msg("servicer %d ended with status 0x%x", i, status);
        }
    }
    check_log(log_path, &done, &refused, &busy, &changes);
    print_message("concurrency: %d processes x %d operations: %d done, %d "
                  "refused by the policy, %d busy; %d disk changes, all "
                  "under the lock\n",
                  PROCESSES, OPS_PER_PROCESS, done, refused, busy, changes);
    assert_int_equal(done + refused + busy, PROCESSES * OPS_PER_PROCESS);
    assert_true(done > 0);
    assert_true(changes > 0);
    check_machine(m);
    test_machine_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(servicers_never_interleave),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
