/* Scenarios and invariants of the crash and error sweeps: see scenario.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "kimage.h"
#include "scenario.h"

#define LXSS "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Lxss"

const char *const scn_version[SCN_VERSIONS] = {"5.10.102.1", "5.15.90.1",
                                                "5.15.153.1"};
/* Small payloads keep the sweep fast: each is read in one chunk. */
static const size_t payload_size[SCN_VERSIONS] = {3000, 5000 + 3, 7000 + 1};
/* Their SHA-256 (the payloads are the same on every machine). */
static char payload_sha[SCN_VERSIONS][65];

static const char *scn_sha_of(int i)
{
    return payload_sha[i];
}

/* ---- the operations ---- */

static int install_version(scn_world *w, ksvc_context *ctx, int i,
                           unsigned flags)
{
    ksvc_install_options o = KSVC_INSTALL_OPTIONS_INIT;

    o.flags = flags;
    return ksvc_install(ctx, w->payload[i], scn_version[i], &o);
}

static void must(int rc, const char *what)
{
    if (rc != KSVC_OK)
        fail_msg("scenario setup: %s: %s", what, ksvc_error_name(rc));
}

static void setup_none(scn_world *w, ksvc_context *ctx)
{
    (void)w;
    (void)ctx;
}

static void setup_a(scn_world *w, ksvc_context *ctx)
{
    must(install_version(w, ctx, 0, 0), "install A");
}

static void setup_ab(scn_world *w, ksvc_context *ctx)
{
    setup_a(w, ctx);
    must(install_version(w, ctx, 1, 0), "install B");
}

static void setup_ab_rolled_back(scn_world *w, ksvc_context *ctx)
{
    setup_ab(w, ctx);
    must(ksvc_rollback(ctx), "rollback");
}

static void setup_ab_kernel_missing(scn_world *w, ksvc_context *ctx)
{
    setup_ab(w, ctx);
    test_machine_remove_file_by_hand(w->m, "kernel");
}

static void setup_ab_kernel_damaged(scn_world *w, ksvc_context *ctx)
{
    setup_ab(w, ctx);
    test_machine_corrupt_file_by_hand(w->m, "kernel");
}

/* Put payload i in the kernel slot by hand, as the public page's remedy
 * "copy the kernel to the tools folder" does: a file the record does not
 * describe. */
static void place_kernel_by_hand(scn_world *w, int i)
{
    ksvc_platform *p = test_machine_platform(w->m);
    ksvc_file *src, *dst;
    unsigned char buf[8192];
    uint64_t offset = 0;
    size_t got;

    test_machine_remove_file_by_hand(w->m, "kernel");
    must(p->payload_open(p, w->payload[i], &src), "open the payload");
    must(p->file_open(p, "kernel", KSVC_OPEN_CREATE_NEW, &dst),
         "create kernel");
    for (;;) {
        must(p->file_read(src, offset, buf, sizeof buf, &got), "read");
        if (got == 0)
            break;
        must(p->file_write(dst, offset, buf, got), "write");
        offset += got;
    }
    must(p->file_sync(dst), "sync");
    p->file_close(dst);
    p->file_close(src);
}

static void setup_ab_foreign_kernel(scn_world *w, ksvc_context *ctx)
{
    setup_ab(w, ctx);
    place_kernel_by_hand(w, 2);
}

/* wsl.exe --update --rollback: RollbackKernel and nothing of ours. */
static void setup_ab_rolled_back_by_wsl(scn_world *w, ksvc_context *ctx)
{
    ksvc_platform *p = test_machine_platform(w->m);
    ksvc_reg_change flag = {"RollbackKernel", 0, KSVC_REG_SZ, NULL, 0};

    setup_ab(w, ctx);
    flag.data = scn_version[1];
    flag.size = strlen(scn_version[1]) + 1;
    must(p->reg_write(p, "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Lxss",
                      &flag, 1),
         "write RollbackKernel");
}

/* B on trial with one try, and that try begun. */
static void setup_ab_tries_used_up(scn_world *w, ksvc_context *ctx)
{
    ksvc_install_options o = KSVC_INSTALL_OPTIONS_INIT;
    char path[4096];

    setup_a(w, ctx);
    must(ksvc_boot_confirm(ctx), "confirm A");
    o.tries = 1;
    must(ksvc_install(ctx, w->payload[1], scn_version[1], &o), "install B");
    must(ksvc_boot_begin(ctx, path, sizeof path), "begin B");
}

static int op_install_a(scn_world *w, ksvc_context *ctx)
{
    return install_version(w, ctx, 0, 0);
}

static int op_install_a_forced(scn_world *w, ksvc_context *ctx)
{
    return install_version(w, ctx, 0, KSVC_INSTALL_FORCE);
}

static int op_install_b(scn_world *w, ksvc_context *ctx)
{
    return install_version(w, ctx, 1, 0);
}

static int op_install_c(scn_world *w, ksvc_context *ctx)
{
    return install_version(w, ctx, 2, 0);
}

static int op_rollback(scn_world *w, ksvc_context *ctx)
{
    (void)w;
    return ksvc_rollback(ctx);
}

static int op_revert(scn_world *w, ksvc_context *ctx)
{
    (void)w;
    return ksvc_revert_rollback(ctx);
}

static int op_repair(scn_world *w, ksvc_context *ctx)
{
    (void)w;
    return ksvc_repair(ctx);
}

static int op_record_boot(scn_world *w, ksvc_context *ctx)
{
    (void)w;
    return ksvc_record_boot(ctx);
}

/* An administrator's open: it records what other actors did (adoption,
 * a rollback made by another tool). */
static int op_admin_open(scn_world *w, ksvc_context *ctx)
{
    ksvc_open_options o = KSVC_OPEN_OPTIONS_INIT;
    ksvc_context *admin = NULL;
    int rc;

    (void)ctx;
    w->open_detail[0] = '\0';
    o.error_detail = w->open_detail;
    o.error_detail_size = sizeof w->open_detail;
    rc = ksvc_open(&admin, w->servicer_table, &o);
    ksvc_close(admin);
    return rc;
}

static int op_boot_begin(scn_world *w, ksvc_context *ctx)
{
    char path[4096];

    (void)w;
    return ksvc_boot_begin(ctx, path, sizeof path);
}

static int op_boot_confirm(scn_world *w, ksvc_context *ctx)
{
    (void)w;
    return ksvc_boot_confirm(ctx);
}

const scenario scn_all[] = {
    {"first install", setup_none, op_install_a, 0, 0},
    {"update that makes the rollback slot", setup_a, op_install_b, 0, 0},
    {"update that makes the rollback slot by copying (no hard links)",
     setup_a, op_install_b, 1, 0},
    {"update that replaces the rollback slot", setup_ab, op_install_c, 0, 0},
    {"update while rolled back", setup_ab_rolled_back, op_install_c, 0, 0},
    {"forced reinstall of the kernel in use", setup_a, op_install_a_forced,
     0, 0},
    {"rollback", setup_ab, op_rollback, 0, 0},
    {"revert of a rollback", setup_ab_rolled_back, op_revert, 0, 0},
    {"repair of a missing kernel", setup_ab_kernel_missing, op_repair, 0, 0},
    {"repair of a damaged kernel", setup_ab_kernel_damaged, op_repair, 0, 0},
    {"recording the boot of the effective kernel", setup_ab, op_record_boot,
     0, 0},
    {"adoption of a kernel copied in by hand", setup_ab_foreign_kernel,
     op_admin_open, 0, 1},
    {"recording a rollback made by wsl.exe", setup_ab_rolled_back_by_wsl,
     op_admin_open, 0, 1},
    {"boot begin counting a try", setup_ab, op_boot_begin, 0, 0},
    {"boot begin rolling back by itself", setup_ab_tries_used_up,
     op_boot_begin, 0, 0},
    {"boot confirm ending a trial", setup_ab, op_boot_confirm, 0, 0},
};
const size_t scn_count = sizeof scn_all / sizeof scn_all[0];

/* ---- machines ---- */

static void sha256_of_file(const char *path, char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char buf[8192], digest[32];
    ksvc__sha256 s;
    FILE *f = fopen(path, "rb");
    size_t n, i;

    if (!f)
        fail_msg("open %s", path);
    ksvc__sha256_init(&s);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        ksvc__sha256_update(&s, buf, n);
    fclose(f);
    ksvc__sha256_final(&s, digest);
    for (i = 0; i < 32; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[64] = '\0';
}

ksvc_context *scn_open(ksvc_platform *p)
{
    ksvc_context *ctx = NULL;
    int rc = ksvc_open(&ctx, p, NULL);

    if (rc != KSVC_OK)
        fail_msg("ksvc_open: %s", ksvc_error_name(rc));
    return ctx;
}

scn_world *scn_world_new(const scenario *s)
{
    scn_world *w = calloc(1, sizeof *w);
    ksvc_context *ctx;
    size_t i;

    if (!w)
        fail_msg("out of memory");
    w->m = test_machine_new(NULL);
    for (i = 0; i < SCN_VERSIONS; i++) {
        const char *dir = test_machine_scratch(w->m);
        char *path = malloc(strlen(dir) + 32);
        if (!path)
            fail_msg("out of memory");
        sprintf(path, "%s/%c.img", dir, (char)('A' + i));
        if (kimage_write(path, KSVC_ARCH_X64, scn_version[i], (unsigned)i + 1,
                         payload_size[i]) != 0)
            fail_msg("writing %s", path);
        sha256_of_file(path, w->sha[i]);
        memcpy(payload_sha[i], w->sha[i], 65);
        w->payload[i] = path;
    }
    ctx = scn_open(test_machine_platform(w->m));
    s->setup(w, ctx);
    ksvc_close(ctx);
    w->open_in_op = s->open_in_op;
    return w;
}

void scn_world_free(scn_world *w)
{
    size_t i;

    if (!w)
        return;
    test_machine_free(w->m);
    for (i = 0; i < SCN_VERSIONS; i++)
        free((char *)w->payload[i]);
    free(w);
}

char *scn_snapshot(scn_world *w)
{
    char *snap = test_machine_snapshot(w->m);
    char *hive = strstr(snap, "\nhive ");

    if (hive)
        hive[1] = '\0';
    return snap;
}

void scn_servicer_open(scn_world *w, scn_servicer *s, int no_hard_links)
{
    s->inner = test_machine_platform_open(w->m);
    s->fault = fault_wrap(s->inner);
    fault_set_no_hard_links(s->fault, no_hard_links);
    w->servicer_table = fault_table(s->fault);
    if (w->open_in_op) {
        ksvc_open_options o = KSVC_OPEN_OPTIONS_INIT;
        o.flags = KSVC_OPEN_READ_ONLY;
        if (ksvc_open(&s->ctx, w->servicer_table, &o) != KSVC_OK)
            fail_msg("read-only open failed");
    } else {
        s->ctx = scn_open(w->servicer_table);
    }
    fault_reset(s->fault);
}

void scn_servicer_close(scn_servicer *s)
{
    ksvc_close(s->ctx);
    fault_free(s->fault);
    test_machine_platform_close(s->inner);
    memset(s, 0, sizeof *s);
}

/* ---- invariants ---- */

static int collect(void *arg, const char *name)
{
    const char **stray = arg;

    if (strcmp(name, "kernel") != 0 && strcmp(name, "kernel.rollback") != 0 &&
        !*stray) {
        static char kept[128];
        snprintf(kept, sizeof kept, "%s", name);
        *stray = kept;
    }
    return 0;
}

static int version_index(const char *version)
{
    int i;

    for (i = 0; i < SCN_VERSIONS; i++)
        if (!strcmp(version, scn_version[i]))
            return i;
    return -1;
}

static int is_bad(const ksvc_status *s, const char *version)
{
    size_t i;

    for (i = 0; i < s->bad_count; i++)
        if (!strcmp(s->bad_versions[i], version))
            return 1;
    return 0;
}

/* A recorded, present slot must hold the payload of its version. */
static const char *check_slot(const ksvc_slot_status *slot, const char *label,
                              int effective, const ksvc_status *s)
{
    static char why[256];
    int i;

    if (!slot->recorded) {
        if (effective && slot->present) {
            snprintf(why, sizeof why, "%s is present but not recorded", label);
            return why;
        }
        return NULL;
    }
    if (!slot->present || !slot->intact) {
        snprintf(why, sizeof why, "%s (version %s) is %s", label,
                 slot->kernel_version,
                 slot->present ? "not intact" : "missing");
        return why;
    }
    i = version_index(slot->kernel_version);
    if (i < 0 || strcmp(slot->sha256, scn_sha_of(i)) != 0) {
        snprintf(why, sizeof why,
                 "%s records version %s with SHA-256 %.16s..., not that "
                 "version's payload",
                 label, slot->kernel_version, slot->sha256);
        return why;
    }
    if (effective && is_bad(s, slot->kernel_version)) {
        snprintf(why, sizeof why, "the effective %s holds bad version %s",
                 label, slot->kernel_version);
        return why;
    }
    return NULL;
}

const char *scn_check_invariants(scn_world *w)
{
    static char why[512];
    ksvc_platform *p = test_machine_platform(w->m);
    ksvc_status s = KSVC_STATUS_INIT;
    ksvc_context *ctx = NULL;
    const char *stray = NULL, *bad;
    char journal[16];
    size_t size = sizeof journal;
    uint32_t type;
    int rc = ksvc_open(&ctx, p, NULL);

    if (rc != KSVC_OK) {
        snprintf(why, sizeof why, "reopen failed: %s (%s)",
                 ksvc_error_name(rc), "recovery");
        return why;
    }
    s.flags = KSVC_STATUS_VERIFY;
    rc = ksvc_status_get(ctx, &s);
    if (rc != KSVC_OK) {
        snprintf(why, sizeof why, "status after reopen: %s: %s",
                 ksvc_error_name(rc), ksvc_error_detail(ctx));
        ksvc_close(ctx);
        return why;
    }
    /* 1 and 2: the effective kernel; 3 (metadata describes the files):
     * the other slot too. */
    bad = s.rolled_back
              ? check_slot(&s.rollback, "kernel.rollback", 1, &s)
              : check_slot(&s.kernel, "kernel", 1, &s);
    if (!bad)
        bad = s.rolled_back ? check_slot(&s.kernel, "kernel", 0, &s)
                            : check_slot(&s.rollback, "kernel.rollback", 0, &s);
    ksvc_close(ctx);
    if (bad)
        return bad;
    /* 4: no temporary left, no journal pending. */
    rc = p->list(p, collect, &stray);
    if (rc != KSVC_OK)
        return "listing the tools folder failed";
    if (stray) {
        snprintf(why, sizeof why, "a temporary is left: %s", stray);
        return why;
    }
    if (p->reg_read(p, LXSS, "KServiceJournal", &type, journal, &size) !=
        KSVC_E_NOT_FOUND)
        return "the journal is still pending after recovery";
    return NULL;
}

/* ---- ordering ---- */

static int is_slot(const char *name)
{
    return !strcmp(name, "kernel") || !strcmp(name, "kernel.rollback");
}

static int in_list(char *const *names, size_t count, const char *name)
{
    size_t i;

    for (i = 0; i < count; i++)
        if (!strcmp(names[i], name))
            return 1;
    return 0;
}

/* The slot file a servicing value describes, or NULL. */
static const char *described_file(const char *value)
{
    if (!strcmp(value, "KernelVersion") ||
        !strcmp(value, "KServiceKernelSha256") ||
        !strcmp(value, "KServiceKernelSize") ||
        !strcmp(value, "KServiceKernelStamp"))
        return "kernel";
    if (!strcmp(value, "KServiceRollbackVersion") ||
        !strcmp(value, "KServiceRollbackSha256") ||
        !strcmp(value, "KServiceRollbackSize") ||
        !strcmp(value, "KServiceRollbackStamp"))
        return "kernel.rollback";
    return NULL;
}

/* A journal names the files its renames move: each must be durable. */
static const char *check_journal(const fault_event *e,
                                 const fault_reg_change *c)
{
    static char why[256];
    size_t pos = 0;

    while (pos < c->size && c->data[pos]) {
        const char *entry = (const char *)c->data + pos;
        const char *end = memchr(entry, '\0', c->size - pos);
        size_t len = end ? (size_t)(end - entry) : c->size - pos;
        if (!strncmp(entry, "rename=", 7)) {
            char from[64];
            const char *sep = strchr(entry + 7, '>');
            size_t n = sep ? (size_t)(sep - entry - 7) : 0;
            if (n < sizeof from) {
                memcpy(from, entry + 7, n);
                from[n] = '\0';
                if (in_list(e->volatile_names, e->volatile_count, from)) {
                    snprintf(why, sizeof why,
                             "call %u: the journal names %s before its data "
                             "was synced",
                             e->call, from);
                    return why;
                }
            }
        }
        pos += len + 1;
    }
    return NULL;
}

const char *scn_check_order(const fault_platform *f)
{
    static char why[256];
    size_t i, j;

    for (i = 0; i < fault_event_count(f); i++) {
        const fault_event *e = fault_event_at(f, i);
        if ((e->op == FOP_RENAME || e->op == FOP_HARD_LINK) &&
            is_slot(e->name2) && e->source_volatile) {
            snprintf(why, sizeof why,
                     "call %u: %s %s -> %s before its data was synced",
                     e->call, fault_op_name(e->op), e->name, e->name2);
            return why;
        }
        if (e->op != FOP_REG_WRITE)
            continue;
        for (j = 0; j < e->change_count; j++) {
            const fault_reg_change *c = &e->changes[j];
            const char *file = described_file(c->name);
            const char *bad;
            if (c->remove)
                continue;
            if (file && in_list(e->volatile_names, e->volatile_count, file)) {
                snprintf(why, sizeof why,
                         "call %u: %s records %s before its data was synced",
                         e->call, c->name, file);
                return why;
            }
            if (!strcmp(c->name, "KServiceJournal") &&
                (bad = check_journal(e, c)) != NULL)
                return bad;
        }
    }
    return NULL;
}

unsigned scn_commit_call(const fault_platform *f)
{
    size_t i;

    for (i = 0; i < fault_event_count(f); i++) {
        const fault_event *e = fault_event_at(f, i);
        if (e->op == FOP_RENAME && is_slot(e->name2))
            return e->call;
    }
    for (i = 0; i < fault_event_count(f); i++) {
        const fault_event *e = fault_event_at(f, i);
        if (e->op == FOP_REG_WRITE)
            return e->call;
    }
    return 0;
}
