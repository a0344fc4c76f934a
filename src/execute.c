/*
 * Carrying out a plan that decide.c made: stage the new files under
 * temporary names, journal, rename, write the values.  Nothing here
 * decides: every check left is about the bytes being the bytes that were
 * decided on (the payload changing while it is copied, say).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* ---- copying a file into a new temporary slot file ---- */

static int write_all(ksvc_context *ctx, ksvc_file *dst, const char *dst_name,
                     uint64_t offset, const unsigned char *buf, size_t size)
{
    int err = ctx->p->file_write(dst, offset, buf, size);

    return err ? ksvc__platform_fail(ctx, err, dst_name) : KSVC_OK;
}

static int stream_copy(ksvc_context *ctx, ksvc_file *src, const char *src_label,
                       ksvc_file *dst, const char *dst_name,
                       unsigned char *buf, ksvc__hasher *h, uint64_t *size)
{
    uint64_t offset = 0;
    size_t got;
    int err;

    for (;;) {
        err = ctx->p->file_read(src, offset, buf, KSVC__CHUNK, &got);
        if (err)
            return ksvc__platform_fail(ctx, err, src_label);
        if (got == 0)
            break;
        err = ksvc__hasher_update(h, buf, got);
        if (err)
            return ksvc__platform_fail(ctx, err, "computing SHA-256");
        err = write_all(ctx, dst, dst_name, offset, buf, got);
        if (err)
            return err;
        offset += got;
    }
    *size = offset;
    err = ctx->p->file_sync(dst);
    return err ? ksvc__platform_fail(ctx, err, dst_name) : KSVC_OK;
}

/* Create temp_name afresh.  Recovery has removed this library's own
 * leftovers before any operation starts, so whatever still stands there
 * was planted (a link, a second name of a foreign file): refuse it. */
static int create_temp(ksvc_context *ctx, const char *temp_name,
                       ksvc_file **out)
{
    const ksvc_platform *p = ctx->p;
    int err = p->file_open(p, temp_name, KSVC_OPEN_CREATE_NEW, out);

    if (err)
        *out = NULL; /* the caller closes only what was opened */
    if (err == KSVC_E_EXISTS || err == KSVC_E_UNSAFE_PATH)
        return ksvc__fail(ctx, KSVC_E_UNSAFE_PATH,
                          "%s: a file this library did not leave stands "
                          "under its temporary name; remove it",
                          temp_name);
    return err ? ksvc__platform_fail(ctx, err, temp_name) : KSVC_OK;
}

int ksvc__copy_to_temp(ksvc_context *ctx, ksvc_file *src, const char *src_label,
                       const char *temp_name, char sha_hex[65], uint64_t *size)
{
    const ksvc_platform *p = ctx->p;
    unsigned char *buf = malloc(KSVC__CHUNK);
    ksvc__hasher h;
    ksvc_file *dst = NULL;
    int err;

    if (!buf)
        return ksvc__fail(ctx, KSVC_E_NO_MEMORY, "copying %s", src_label);
    err = create_temp(ctx, temp_name, &dst);
    if (!err) {
        err = ksvc__hasher_begin(&h, p);
        if (err)
            err = ksvc__platform_fail(ctx, err, "starting SHA-256");
    }
    if (!err) {
        err = stream_copy(ctx, src, src_label, dst, temp_name, buf, &h, size);
        if (err)
            ksvc__hasher_abandon(&h);
        else if ((err = ksvc__hasher_end(&h, sha_hex)) != 0)
            err = ksvc__platform_fail(ctx, err, "computing SHA-256");
    }
    free(buf);
    if (dst) {
        int close_err = p->file_close(dst);
        if (close_err && !err)
            err = ksvc__platform_fail(ctx, close_err, temp_name);
    }
    if (err && dst)
        p->remove(p, temp_name);
    return err;
}

static int same_hex(const char *a, const char *b)
{
    size_t i;

    for (i = 0; i < 64; i++) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'F')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'F')
            y = (char)(y - 'A' + 'a');
        if (x != y)
            return 0;
    }
    return 1;
}

/* The detail of the first failure, kept across the calls that settle
 * it, with what the caller should know appended. */
typedef struct saved_error {
    char detail[KSVC__DETAIL_LEN];
    long os_error;
} saved_error;

static void save_error(const ksvc_context *ctx, saved_error *e)
{
    memcpy(e->detail, ctx->detail, sizeof e->detail);
    e->os_error = ctx->os_error;
}

static int restore_error(ksvc_context *ctx, const saved_error *e, int err,
                         const char *then)
{
    size_t len;

    memcpy(ctx->detail, e->detail, sizeof ctx->detail);
    ctx->os_error = e->os_error;
    len = strlen(ctx->detail);
    if (then[0] && len + 2 < sizeof ctx->detail)
        ksvc__copy_cut(ctx->detail + len, sizeof ctx->detail - len, then);
    return err;
}

/* A journal write that failed may have taken effect all the same (the
 * value written, then the sync failed).  Its temporaries go now; a journal
 * left behind then names files that are neither waiting nor in the slots,
 * and the next open undoes it.  Removing it at once is only tidier. */
static void drop_failed_journal(ksvc_context *ctx, const ksvc__journal *j)
{
    ksvc_reg_change change = {KSVC__V_JOURNAL, 1, KSVC_REG_MULTI_SZ, NULL, 0};
    size_t i;

    for (i = 0; i < j->rename_count; i++)
        ctx->p->remove(ctx->p, j->rename_from[i]);
    ctx->p->reg_write(ctx->p, KSVC__LXSS_KEY, &change, 1);
}

/* The journal write failed, and removing what it may have left failed too
 * when the journal is still there: then the next open settles it as the
 * disk says (a journal of values only completes; one whose files are gone
 * is undone). */
static int journal_write_outcome(ksvc_context *ctx, const ksvc__journal *j,
                                 const saved_error *first, int err,
                                 ksvc_settle *settles)
{
    ksvc__journal *left = malloc(sizeof *left);
    int found = 1, committed, looked;

    looked = left && ksvc__journal_load(ctx, left, &found) == KSVC_OK;
    free(left);
    if (looked && !found)
        return restore_error(ctx, first, err, "");
    /* Whether it is there cannot be told: nor can the way it goes. */
    if (looked && ksvc__journal_committed(ctx, j, &committed) == KSVC_OK)
        *settles = committed ? KSVC_SETTLE_COMPLETE : KSVC_SETTLE_UNDO;
    return restore_error(ctx, first, KSVC_E_IN_DOUBT,
                         *settles == KSVC_SETTLE_COMPLETE
                             ? "; the journal was written all the same, and "
                               "the next open completes the change"
                         : *settles == KSVC_SETTLE_UNDO
                             ? "; nothing took effect and the next open "
                               "undoes what is left"
                             : "; the next open settles it");
}

/* Run a journaled operation whose new files already exist and are synced:
 * record the journal, then carry it out.  The outcome is one the caller
 * can trust: success; failure with nothing changed; or KSVC_E_IN_DOUBT
 * when the journal had to be left to the next open, with *settles saying
 * whether that open completes or undoes it (decided from the disk). */
static int run_journal(ksvc_context *ctx, const ksvc__journal *j,
                       ksvc_settle *settles)
{
    saved_error first;
    int err = ksvc__journal_write(ctx, j);
    int completed, committed;

    *settles = KSVC_SETTLE_NONE;
    if (err) {
        save_error(ctx, &first);
        drop_failed_journal(ctx, j);
        return journal_write_outcome(ctx, j, &first, err, settles);
    }
    err = ksvc__journal_carry_out(ctx, j);
    if (!err)
        return KSVC_OK;
    /* Settle the journal at once: past the commit point that finishes the
     * operation, which then succeeded after all; before it, the caller
     * gets the first error and the state before. */
    save_error(ctx, &first);
    if (ksvc__journal_finish(ctx, j, &completed) == KSVC_OK) {
        if (!completed)
            return restore_error(ctx, &first, err, "");
        ksvc__clear_error(ctx);
        return KSVC_OK;
    }
    if (ksvc__journal_committed(ctx, j, &committed) == KSVC_OK)
        *settles = committed ? KSVC_SETTLE_COMPLETE : KSVC_SETTLE_UNDO;
    return restore_error(ctx, &first, KSVC_E_IN_DOUBT,
                         *settles == KSVC_SETTLE_COMPLETE
                             ? "; the change took effect and the next open "
                               "completes it"
                         : *settles == KSVC_SETTLE_UNDO
                             ? "; nothing took effect and the next open "
                               "undoes what is left"
                             : "; the next open settles it");
}

/* Do two loads of the values say the same?  Fingerprints aside. */
static int same_slot(const ksvc__slot_meta *a, const ksvc__slot_meta *b)
{
    return a->recorded == b->recorded && !strcmp(a->version, b->version) &&
           !strcmp(a->sha256, b->sha256) && a->has_size == b->has_size &&
           (!a->has_size || a->size == b->size);
}

static int same_state(const ksvc__state *a, const ksvc__state *b)
{
    size_t i;

    if (!same_slot(&a->kernel, &b->kernel) ||
        !same_slot(&a->rollback, &b->rollback) ||
        a->rolled_back != b->rolled_back || a->bad_count != b->bad_count ||
        strcmp(a->booted_sha256, b->booted_sha256) != 0 ||
        strcmp(a->trial_version, b->trial_version) != 0 ||
        a->trial_used != b->trial_used)
        return 0;
    for (i = 0; i < a->bad_count; i++)
        if (strcmp(a->bad[i], b->bad[i]) != 0)
            return 0;
    return 1;
}

/* A write of the values failed: what does the registry hold now?  The
 * target (the write took effect, its sync failed): in doubt, and the next
 * open keeps it.  The state before (a write cut between values reads as
 * the state before, by the order state.c writes them in): failure with
 * nothing changed.  Anything else: in doubt, the next open settles it. */
static int value_write_outcome(ksvc_context *ctx, const ksvc__snapshot *snap,
                               ksvc__plan *plan, int err)
{
    ksvc__state *now = malloc(2 * sizeof *now);
    saved_error first;
    int load_err;

    save_error(ctx, &first);
    load_err = now ? ksvc__state_load(ctx, now) : KSVC_E_NO_MEMORY;
    if (!load_err) {
        now[1] = snap->loaded;
        ksvc__apply_manual_revert(&now[0]);
        ksvc__apply_manual_revert(&now[1]);
    }
    if (!load_err && same_state(&now[0], &now[1])) {
        free(now);
        return restore_error(ctx, &first, err, "");
    }
    plan->result.settles = !load_err && same_state(&now[0], &plan->target)
                               ? KSVC_SETTLE_COMPLETE
                               : KSVC_SETTLE_NONE;
    free(now);
    plan->result.changed = plan->result.settles == KSVC_SETTLE_COMPLETE;
    return restore_error(ctx, &first, KSVC_E_IN_DOUBT,
                         plan->result.settles == KSVC_SETTLE_COMPLETE
                             ? "; the values were written all the same, and "
                               "the next open keeps them"
                             : "; the next open settles it");
}

/* Copy the payload into the new-kernel temporary. */
static int stage_payload(ksvc_context *ctx, const char *path,
                         const char *expected_sha, ksvc__slot_meta *m)
{
    const ksvc_platform *p = ctx->p;
    ksvc_file *src;
    int err = p->payload_open(p, path, &src);

    if (err)
        return ksvc__platform_fail(ctx, err, "opening the payload");
    err = ksvc__copy_to_temp(ctx, src, path, KSVC__F_KERNEL_NEW, m->sha256,
                             &m->size);
    p->file_close(src);
    if (err)
        return err;
    m->has_size = 1;
    if (m->size == 0)
        err = ksvc__fail(ctx, KSVC_E_BAD_PAYLOAD, "%s is empty", path);
    else if (expected_sha && !same_hex(expected_sha, m->sha256))
        err = ksvc__fail(ctx, KSVC_E_HASH_MISMATCH,
                         "%s has SHA-256 %s, expected %s", path, m->sha256,
                         expected_sha);
    if (err)
        p->remove(p, KSVC__F_KERNEL_NEW);
    return err;
}

/* A second name for the current kernel, to become kernel.rollback: a hard
 * link (no data copied), or a synced copy where links are unsupported. */
static int stage_rollback(ksvc_context *ctx)
{
    const ksvc_platform *p = ctx->p;
    ksvc__slot_meta copy;
    ksvc_file *src;
    int err;

    err = p->hard_link(p, KSVC__F_KERNEL, KSVC__F_ROLLBACK_NEW);
    if (err == KSVC_E_EXISTS || err == KSVC_E_UNSAFE_PATH)
        return ksvc__fail(ctx, KSVC_E_UNSAFE_PATH,
                          "%s: a file this library did not leave stands "
                          "under its temporary name; remove it",
                          KSVC__F_ROLLBACK_NEW);
    if (err != KSVC_E_UNSUPPORTED)
        return err ? ksvc__platform_fail(ctx, err, KSVC__F_ROLLBACK_NEW) : 0;
    err = p->file_open(p, KSVC__F_KERNEL, KSVC_OPEN_READ, &src);
    if (err)
        return ksvc__platform_fail(ctx, err, KSVC__F_KERNEL);
    err = ksvc__copy_to_temp(ctx, src, KSVC__F_KERNEL, KSVC__F_ROLLBACK_NEW,
                             copy.sha256, &copy.size);
    p->file_close(src);
    return err;
}

static void add_rename(ksvc__journal *j, const char *from, const char *to)
{
    strcpy(j->rename_from[j->rename_count], from);
    strcpy(j->rename_to[j->rename_count], to);
    j->rename_count++;
}

/* Identify the kernel image in an open file. */
int ksvc__read_image(ksvc_context *ctx, int payload, const char *name,
                     ksvc__image_info *info)
{
    const ksvc_platform *p = ctx->p;
    ksvc_file *f;
    int err = payload ? p->payload_open(p, name, &f)
                      : p->file_open(p, name, KSVC_OPEN_READ, &f);

    if (err)
        return ksvc__platform_fail(ctx, err,
                                   payload ? "opening the payload" : name);
    err = ksvc__image_read(ctx, f, name, info);
    p->file_close(f);
    return err;
}

/* The staged copy must be the image that was checked: the payload may have
 * changed between the check and the copy. */
static int check_staged_image(ksvc_context *ctx, const char *path,
                              const ksvc__image_info *expected)
{
    ksvc__image_info staged;
    int err = ksvc__read_image(ctx, 0, KSVC__F_KERNEL_NEW, &staged);

    if (err == KSVC_E_BAD_PAYLOAD ||
        (!err && (staged.kind != expected->kind ||
                  staged.arch != expected->arch ||
                  staged.has_version != expected->has_version ||
                  strcmp(staged.version, expected->version) != 0)))
        err = ksvc__fail(ctx, KSVC_E_BAD_PAYLOAD,
                         "%s changed while it was copied", path);
    if (err)
        ctx->p->remove(ctx->p, KSVC__F_KERNEL_NEW);
    return err;
}

/* The temporary name a slot's new file is staged under. */
static const char *temp_of(const char *slot)
{
    return !strcmp(slot, KSVC__F_KERNEL) ? KSVC__F_KERNEL_NEW
                                         : KSVC__F_ROLLBACK_NEW;
}

static ksvc__slot_meta *meta_of(ksvc__state *st, const char *slot)
{
    return !strcmp(slot, KSVC__F_KERNEL) ? &st->kernel : &st->rollback;
}

/* Copy one slot into the other's temporary; the copy must hash to what
 * the source was found to hold. */
static int stage_restore(ksvc_context *ctx, const ksvc__plan *plan,
                         ksvc__journal *j)
{
    const ksvc__slot_view *from = plan->restore_from;
    const char *temp = temp_of(plan->restore_to->name);
    ksvc__slot_meta *m = meta_of(&j->target, plan->restore_to->name);
    ksvc_file *src;
    int err = ctx->p->file_open(ctx->p, from->name, KSVC_OPEN_READ, &src);

    if (err)
        return ksvc__platform_fail(ctx, err, from->name);
    err = ksvc__copy_to_temp(ctx, src, from->name, temp, m->sha256, &m->size);
    ctx->p->file_close(src);
    if (err)
        return err;
    if (!same_hex(m->sha256, from->sha256)) {
        ctx->p->remove(ctx->p, temp);
        return ksvc__fail(ctx, KSVC_E_DAMAGED, "%s changed while it was copied",
                          from->name);
    }
    m->has_size = 1;
    m->verified = 1; /* hashed to the record while it was copied */
    add_rename(j, temp, plan->restore_to->name);
    return KSVC_OK;
}

/* The current kernel gets the name kernel.rollback.  Its bytes are vouched
 * for only if it still carried the fingerprint it was found with when it
 * was given its second name. */
static int stage_old_kernel(ksvc_context *ctx, ksvc__journal *j)
{
    ksvc_file_info info;
    int err = ksvc__stat(ctx, KSVC__F_KERNEL, &info);

    if (!err) {
        err = stage_rollback(ctx);
        /* A link that failed may have been made all the same; the name is
         * ours unless something else already stood there. */
        if (err && err != KSVC_E_UNSAFE_PATH)
            ctx->p->remove(ctx->p, KSVC__F_ROLLBACK_NEW);
    }
    if (err)
        return err;
    j->target.rollback.verified =
        ksvc__stamp_matches(&j->target.rollback.stamp, &info);
    add_rename(j, KSVC__F_ROLLBACK_NEW, KSVC__F_ROLLBACK);
    return KSVC_OK;
}

static void remove_staged(ksvc_context *ctx, const ksvc__journal *j,
                          int payload_staged)
{
    size_t i;

    for (i = 0; i < j->rename_count; i++)
        ctx->p->remove(ctx->p, j->rename_from[i]);
    if (payload_staged)
        ctx->p->remove(ctx->p, KSVC__F_KERNEL_NEW);
}

static int stage_files(ksvc_context *ctx, const ksvc__plan *plan,
                       const char *payload, const char *expected_sha,
                       const ksvc__image_info *image, ksvc__journal *j)
{
    int err = KSVC_OK;

    if (plan->stage_payload) {
        ksvc__slot_meta *m = &j->target.kernel;
        m->verified = 1; /* hashed while it is copied */
        err = stage_payload(ctx, payload, expected_sha, m);
        if (!err)
            err = check_staged_image(ctx, payload, image);
        if (err)
            return err;
    }
    if (plan->keep_kernel_as_rollback)
        err = stage_old_kernel(ctx, j);
    if (!err && plan->restore_from)
        err = stage_restore(ctx, plan, j);
    if (!err && plan->stage_payload)
        add_rename(j, KSVC__F_KERNEL_NEW, KSVC__F_KERNEL);
    if (err)
        remove_staged(ctx, j, plan->stage_payload);
    return err;
}

static const char *operation_name(ksvc_operation op)
{
    switch (op) {
    case KSVC_OPERATION_INSTALL:
        return "install";
    case KSVC_OPERATION_REPAIR:
        return "repair";
    case KSVC_OPERATION_ROLLBACK:
        return "rollback";
    case KSVC_OPERATION_REVERT:
        return "revert";
    case KSVC_OPERATION_BOOT_BEGIN:
        return "boot-begin";
    case KSVC_OPERATION_BOOT_CONFIRM:
    case KSVC_OPERATION_RECORD_BOOT:
        return "boot-confirm";
    default:
        return "update";
    }
}

/* A change of more than one value goes through the journal: a backend
 * may write value by value (the Windows registry does), and a cut between
 * two values must read as the state before or the state after.  One value
 * is written at once. */
static int needs_journal(const ksvc__snapshot *snap, const ksvc__plan *plan)
{
    ksvc__state_changes *c = malloc(2 * sizeof *c);
    size_t count;

    if (!c)
        return 1;
    count = ksvc__state_changes_diff(&snap->loaded, &plan->target, &c[0],
                                     &c[1]);
    free(c);
    return count > 1 && !plan->stamps_only;
}

/* The time an automatic rollback happened, ISO 8601 UTC; "" when the
 * clock cannot tell. */
static void now_utc(char *out, size_t size)
{
    time_t now = time(NULL);
    struct tm *utc = now == (time_t)-1 ? NULL : gmtime(&now);

    if (!utc || strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", utc) == 0)
        out[0] = '\0';
}

int ksvc__execute(ksvc_context *ctx, const ksvc__snapshot *snap,
                  ksvc__plan *plan, const char *payload,
                  const char *expected_sha, const ksvc__image_info *image)
{
    ksvc__journal *j;
    int err;

    if (plan->error && !plan->error_after_write)
        return ksvc__fail(ctx, plan->error, "%s", plan->why);
    if (!plan->write_state)
        return KSVC_OK;
    if (plan->stamp_auto_time)
        now_utc(plan->target.auto_time, sizeof plan->target.auto_time);
    if (!plan->stage_payload && !plan->restore_from &&
        !needs_journal(snap, plan)) {
        err = ksvc__state_store(ctx, &snap->loaded, &plan->target);
        /* Fingerprints only spare a hash: one not written is no failure. */
        if (err && plan->stamps_only) {
            ksvc__clear_error(ctx);
            return KSVC_OK;
        }
        if (err)
            return value_write_outcome(ctx, snap, plan, err);
        plan->result.changed = !plan->stamps_only;
        if (plan->result.changed)
            plan->result.moved |= snap->folded_moved;
        if (plan->error)
            err = ksvc__fail(ctx, plan->error, "%s", plan->why);
        return err;
    }
    j = calloc(1, sizeof *j);
    if (!j)
        return ksvc__fail(ctx, KSVC_E_NO_MEMORY, "planning the %s",
                          operation_name(plan->operation));
    strcpy(j->op, operation_name(plan->operation));
    j->target = plan->target;
    err = stage_files(ctx, plan, payload, expected_sha, image, j);
    if (!err)
        err = run_journal(ctx, j, &plan->result.settles);
    plan->result.changed =
        !err || plan->result.settles == KSVC_SETTLE_COMPLETE;
    if (plan->result.changed)
        plan->result.moved |= snap->folded_moved;
    /* Written, and still an error to report (an automatic rollback that
     * leaves nothing to boot). */
    if (!err && plan->error)
        err = ksvc__fail(ctx, plan->error, "%s", plan->why);
    free(j);
    return err;
}
