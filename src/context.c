/* Contexts, locking, status and the boot path. */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

unsigned ksvc_version(void)
{
    return KSVC_VERSION_HEX;
}

const char *ksvc_version_string(void)
{
    return KSVC_VERSION_STRING;
}

const char *ksvc_restart_message(void)
{
    return "The change takes effect when the Linux of this machine restarts: "
           "the running instance keeps its kernel until you save your work "
           "and run wsl --shutdown.";
}

/* [backends] A table of version 1 has the methods up to sha256_end only:
 * nothing after them is read.  Version 2 (and any later one) must also
 * have the methods version 2 appended, version 3 (and later) the one
 * version 3 appended. */
static int platform_complete(const ksvc_platform *p)
{
    int v1 = p->file_open && p->payload_open && p->file_read &&
             p->file_write && p->file_sync && p->file_size && p->file_close &&
             p->stat && p->rename && p->remove && p->hard_link && p->list &&
             p->full_path && p->reg_read && p->reg_write &&
             p->reg_key_exists && p->arch && p->elevated && p->lock &&
             p->unlock;

    if (!v1)
        return 0;
    if (p->version == 1)
        return 1;
    if (!p->destroy || !p->reg_list || !p->lock_mode)
        return 0;
    return p->version == 2 || p->write_access;
}

int ksvc__lock(ksvc_context *ctx)
{
    int err = ctx->p->lock(ctx->p, ctx->lock_timeout_ms);

    if (err)
        return ksvc__platform_fail(ctx, err, "taking the servicing lock");
    ctx->locked = 1;
    return KSVC_OK;
}

void ksvc__unlock(ksvc_context *ctx)
{
    if (ctx->locked)
        ctx->p->unlock(ctx->p);
    ctx->locked = 0;
}

static int is_elevated(ksvc_context *ctx, int *elevated)
{
    int err = ctx->p->elevated(ctx->p, elevated);

    return err ? ksvc__platform_fail(ctx, err, "reading the caller's rights")
               : KSVC_OK;
}

int ksvc__require_elevated(ksvc_context *ctx)
{
    int elevated, err = is_elevated(ctx, &elevated);

    if (!err && !elevated)
        err = ksvc__fail(ctx, KSVC_E_NOT_ELEVATED,
                         "run this from an elevated (administrator) prompt");
    return err;
}

/* What an administrator records of the world: a rollback made by another
 * tool, a manual revert, foreign kernels of good versions.  Its open
 * writes it (when that fails, the snapshot already means the same, and the
 * next open tries again); a changing call folds it into its own plan, so a
 * refusal records nothing; a call that only reads records nothing. */
static int reconcile(ksvc_context *ctx, ksvc__snapshot *snap, int opening,
                     int verify)
{
    ksvc__plan *plan = malloc(sizeof *plan);
    int err = KSVC_OK;

    if (!plan)
        return ksvc__fail(ctx, KSVC_E_NO_MEMORY, "recording the machine");
    ksvc__decide_reconcile(snap, plan);
    if (plan->write_state && opening) {
        /* Through the executor: several values change together through
         * the journal, so a cut write reads as before or after. */
        err = ksvc__execute(ctx, snap, plan, NULL, NULL, NULL);
        if (err)
            ksvc__clear_error(ctx);
        err = ksvc__snapshot_load(ctx, snap, verify);
    } else if (plan->write_state) {
        snap->st = plan->target;
        snap->folded_moved = plan->result.moved;
    }
    free(plan);
    return err;
}

/* Recovery writes, so it only runs for an administrator on a context that
 * may write; a standard user still sees the state, with the pending work
 * listed among the problems.  An operation that only reads goes on when
 * recovery fails: it reports the machine as it is. */
static int recover_and_load(ksvc_context *ctx, ksvc__snapshot *snap,
                            int mutating, int verify)
{
    int elevated = 0, err = KSVC_OK;

    if (!ctx->reading_only)
        err = is_elevated(ctx, &elevated);
    if (!err && elevated) {
        err = ksvc__recover(ctx);
        if (err && !mutating && err != KSVC_E_BUSY) {
            ksvc__clear_error(ctx);
            err = KSVC_OK;
            elevated = 0; /* nothing more is written */
        }
    }
    if (!err)
        err = ksvc__snapshot_load(ctx, snap, verify);
    if (!err && elevated && (mutating || ctx->opening))
        err = reconcile(ctx, snap, ctx->opening, verify);
    return err;
}

/* The shared lock of a reader (a table of version 1 has only the
 * exclusive one).  No lock file that the caller may create: nobody holds
 * the lock, and a reader reads on. */
static int lock_shared(ksvc_context *ctx)
{
    int err;

    if (ctx->p->version < 2 || !ctx->p->lock_mode)
        return ksvc__lock(ctx);
    err = ctx->p->lock_mode(ctx->p, KSVC_LOCK_SHARED, ctx->lock_timeout_ms);
    if (err == KSVC_E_NOT_FOUND)
        return KSVC_OK;
    if (err)
        return ksvc__platform_fail(ctx, err, "taking the servicing lock");
    ctx->locked = 1;
    return KSVC_OK;
}

/* A call that only reads: an administrator takes the exclusive lock, since
 * the open may finish an interrupted operation; where that lock cannot be
 * taken for want of write access (a read-only disk), the call reads under
 * the shared lock and writes nothing, as a standard user's does. */
static int lock_for_reading(ksvc_context *ctx)
{
    int elevated, err = is_elevated(ctx, &elevated);

    if (err)
        return err;
    if (elevated) {
        err = ksvc__lock(ctx);
        if (err != KSVC_E_ACCESS && err != KSVC_E_READ_ONLY_MEDIA &&
            err != KSVC_E_NOT_FOUND)
            return err;
        ksvc__clear_error(ctx);
    }
    ctx->reading_only = 1;
    return lock_shared(ctx);
}

int ksvc__frame_begin(ksvc_context *ctx, ksvc__snapshot *snap, int mutating,
                      int verify)
{
    int err;

    ksvc__clear_error(ctx);
    if (mutating && (ctx->open_flags & KSVC_OPEN_READ_ONLY))
        return ksvc__fail(ctx, KSVC_E_READ_ONLY,
                          "this context was opened read-only; open it "
                          "without KSVC_OPEN_READ_ONLY to change the machine");
    if (mutating) {
        err = ksvc__require_elevated(ctx);
        if (err)
            return err;
    }
    ctx->reading_only = (ctx->open_flags & KSVC_OPEN_READ_ONLY) != 0;
    if (!ctx->reading_only) {
        err = mutating ? ksvc__lock(ctx) : lock_for_reading(ctx);
        if (err)
            return err;
    }
    err = recover_and_load(ctx, snap, mutating, verify);
    if (err)
        ksvc__unlock(ctx);
    return err;
}

void ksvc__frame_end(ksvc_context *ctx)
{
    ksvc__unlock(ctx);
}

void ksvc__set_result(ksvc_context *ctx, const ksvc__plan *plan, int err)
{
    ctx->last_result = plan->result;
    ctx->last_result.error = err;
    if (err && !plan->error && err != KSVC_E_IN_DOUBT)
        ctx->last_result.changed = 0;
    if (!ctx->last_result.changed && !err) {
        /* Nothing moved: the state after is the state before. */
        ctx->last_result.moved = 0;
    }
}

int ksvc_last_result(const ksvc_context *ctx, ksvc_result *result)
{
    if (!ctx || !result)
        return KSVC_E_INVALID_ARGUMENT;
    if (result->version != KSVC_RESULT_VERSION)
        return KSVC_E_STRUCT_VERSION;
    *result = ctx->last_result;
    result->version = KSVC_RESULT_VERSION;
    return KSVC_OK;
}

static void give_open_detail(const ksvc_open_options *o, const char *detail)
{
    if (o->version >= 2 && o->error_detail && o->error_detail_size > 0)
        snprintf(o->error_detail, o->error_detail_size, "%s", detail);
}

static int open_checked(ksvc_context *ctx)
{
    ksvc__snapshot *snap = malloc(sizeof *snap);
    int err;

    if (!snap)
        return ksvc__fail(ctx, KSVC_E_NO_MEMORY, "opening the machine");
    ctx->opening = 1;
    err = ksvc__frame_begin(ctx, snap, 0, 0);
    ctx->opening = 0;
    if (!err)
        ksvc__frame_end(ctx);
    free(snap);
    return err;
}

/* [backends] version was an int in table version 1: what was negative
 * there is above INT_MAX now, and still unknown. */
static int version_unknown(const ksvc_platform *p)
{
    return p->version < 1 || p->version > INT_MAX;
}

int ksvc_open(ksvc_context **out, const ksvc_platform *platform,
              const ksvc_open_options *options)
{
    ksvc_open_options o = KSVC_OPEN_OPTIONS_INIT;
    ksvc_context *ctx;
    int err;

    if (!out)
        return KSVC_E_INVALID_ARGUMENT;
    *out = NULL;
    if (options && (options->version < 1 ||
                    options->version > KSVC_OPEN_OPTIONS_VERSION))
        return KSVC_E_STRUCT_VERSION;
    if (options) {
        /* A version-1 caller's structure ends after lock_timeout_ms. */
        memcpy(&o, options, options->version == 1
                                ? offsetof(ksvc_open_options, flags)
                                : sizeof o);
        o.version = options->version;
    }
    if (!platform || version_unknown(platform) ||
        !platform_complete(platform) || (o.flags & ~KSVC_OPEN_READ_ONLY)) {
        give_open_detail(&o, !platform || version_unknown(platform)
                                 ? "no platform table, or one of an unknown "
                                   "version"
                                 : "incomplete platform table or unknown "
                                   "open flags");
        return platform && version_unknown(platform) ? KSVC_E_PLATFORM_VERSION
                                                  : KSVC_E_INVALID_ARGUMENT;
    }
    ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return KSVC_E_NO_MEMORY;
    ctx->p = platform;
    ctx->lock_timeout_ms = o.lock_timeout_ms;
    ctx->open_flags = o.flags;
    ctx->last_result.version = KSVC_RESULT_VERSION;
    err = open_checked(ctx);
    if (err) {
        give_open_detail(&o, ctx->detail);
        free(ctx);
        return err;
    }
    *out = ctx;
    return KSVC_OK;
}

void ksvc_close(ksvc_context *ctx)
{
    if (!ctx)
        return;
    ksvc__unlock(ctx);
    free(ctx->status_snap);
    free(ctx);
}

/* ---- status ---- */

static void add_problem(ksvc_context *ctx, ksvc_status *s, const char *fmt,
                        const char *a, const char *b, const char *c)
{
    if (s->problem_count == KSVC__PROBLEM_MAX)
        return;
    snprintf(ctx->problems[s->problem_count], KSVC__STATUS_PROBLEM_LEN, fmt,
             a, b, c);
    ctx->problem_ptrs[s->problem_count] = ctx->problems[s->problem_count];
    s->problem_count++;
}

/* One slot's problem, if it has one.  The effective slot's are worded as
 * what stops the machine from booting. */
static void slot_problem(ksvc_context *ctx, const ksvc__snapshot *snap,
                         const ksvc__slot_view *v, int effective,
                         ksvc_status *s)
{
    if (v->unsafe)
        add_problem(ctx, s,
                    "%s is a link, a folder, a device or a file with a "
                    "second name%s%s; remove it.",
                    v->name, "", "");
    else if (v->cls == KSVC_SLOT_CLASS_MISSING && effective)
        add_problem(ctx, s, "%s%s%s", KSVC_MSG_KERNEL_MISSING, "", "");
    else if (v->cls == KSVC_SLOT_CLASS_DAMAGED)
        add_problem(ctx, s, "The kernel file %s is damaged (%s)%s.", v->name,
                    v->why, effective ? "; run repair" : "");
    else if (ksvc__snap_bad(snap, v->holds) && effective)
        add_problem(ctx, s,
                    "The kernel file %s holds version %s, which is marked "
                    "bad%s: it is never booted; run repair or install a good "
                    "version.",
                    v->name, v->holds, "");
    else if (v->cls == KSVC_SLOT_CLASS_FOREIGN)
        add_problem(ctx, s,
                    "The kernel file %s holds version %s, which the record "
                    "does not describe%s; an administrator's next servicing "
                    "records it.",
                    v->name, v->holds,
                    ksvc__snap_bad(snap, v->holds) ? " and which is bad" : "");
}

static void list_problems(ksvc_context *ctx, const ksvc__snapshot *snap,
                          ksvc_status *s)
{
    const ksvc__slot_view *e = ksvc__snap_effective(snap);
    const ksvc__slot_view *other = e == &snap->kernel ? &snap->rollback
                                                      : &snap->kernel;
    size_t i;

    slot_problem(ctx, snap, e, 1, s);
    slot_problem(ctx, snap, other, 0, s);
    if (snap->st.rolled_back && snap->rollback.cls == KSVC_SLOT_CLASS_MISSING)
        add_problem(ctx, s, "%s%s%s",
                    "The machine is rolled back but kernel.rollback is "
                    "missing.",
                    "", "");
    if (snap->st.rolled_back && snap->flagged_bad[0] &&
        !ksvc__bad_contains(&snap->st, snap->flagged_bad))
        add_problem(ctx, s,
                    "RollbackKernel says %s was rolled back from; it is bad, "
                    "and an administrator's next servicing records it%s%s.",
                    snap->flagged_bad, "", "");
    if (snap->journal_pending)
        add_problem(ctx, s, "%s%s%s",
                    "An interrupted servicing operation waits for an "
                    "administrator to finish it.",
                    "", "");
    for (i = 0; i < snap->st.value_problem_count; i++)
        add_problem(ctx, s, "A registry value cannot be read: %s%s%s",
                    snap->st.value_problem[i], "", "");
    for (i = 0; i < snap->rights_count; i++)
        add_problem(ctx, s,
                    "Someone other than the administrators may change %s, "
                    "and so choose the kernel this machine boots: %s; "
                    "install, rollback, revert and repair are refused until "
                    "an administrator runs: %s",
                    snap->rights[i].what, snap->rights[i].who,
                    snap->rights[i].fix);
}

static void describe_slot(const ksvc__snapshot *snap,
                          const ksvc__slot_view *v, const ksvc__slot_meta *m,
                          ksvc_slot_status *out)
{
    memset(out, 0, sizeof *out);
    out->present = v->info.kind == KSVC_FILE_REGULAR;
    out->size = out->present ? v->info.size : 0;
    out->recorded = m->recorded;
    strcpy(out->kernel_version, m->version);
    strcpy(out->sha256, m->sha256);
    out->bad = m->recorded && ksvc__snap_bad(snap, m->version);
    out->intact = v->cls == KSVC_SLOT_CLASS_VERIFIED;
}

/* The bad versions as status shows them: the recorded set, and the one
 * RollbackKernel names when it is not recorded yet. */
static void fill_bad(ksvc_context *ctx, const ksvc__snapshot *snap,
                     ksvc_status *s)
{
    size_t i;

    for (i = 0; i < snap->st.bad_count; i++)
        ctx->bad_ptrs[i] = snap->st.bad[i];
    s->bad_count = snap->st.bad_count;
    if (snap->st.rolled_back && snap->flagged_bad[0] &&
        !ksvc__bad_contains(&snap->st, snap->flagged_bad))
        ctx->bad_ptrs[s->bad_count++] = snap->flagged_bad;
    s->bad_versions = ctx->bad_ptrs;
}

static void fill_trial(const ksvc__snapshot *snap, ksvc_status *s)
{
    const ksvc__state *st = &snap->st;

    s->on_trial = ksvc__on_trial(snap);
    s->trial_tries = s->on_trial ? st->trial_tries : 0;
    s->trial_tries_left =
        s->on_trial && st->trial_used < st->trial_tries
            ? st->trial_tries - st->trial_used
            : 0;
    if (s->on_trial)
        s->confirmed = 0;
    strcpy(s->auto_rollback_reason, st->auto_reason);
    strcpy(s->auto_rollback_time, st->auto_time);
}

static void fill_status(ksvc_context *ctx, const ksvc__snapshot *snap,
                        ksvc_status *s)
{
    const ksvc__slot_view *boot;
    ksvc__plan *plan = malloc(sizeof *plan);
    size_t i;

    describe_slot(snap, &snap->kernel, &snap->st.kernel, &s->kernel);
    describe_slot(snap, &snap->rollback, &snap->st.rollback, &s->rollback);
    strcpy(s->kernel_image_version, snap->kernel.image_version);
    strcpy(s->rollback_image_version, snap->rollback.image_version);
    s->kernel_class = snap->kernel.cls;
    s->rollback_class = snap->rollback.cls;
    strcpy(s->kernel_holds, snap->kernel.holds);
    strcpy(s->rollback_holds, snap->rollback.holds);
    s->kernel_holds_bad = ksvc__snap_bad(snap, snap->kernel.holds);
    s->rollback_holds_bad = ksvc__snap_bad(snap, snap->rollback.holds);
    s->rolled_back = snap->st.rolled_back;
    strcpy(s->rolled_back_from, snap->flagged_bad);
    fill_bad(ctx, snap, s);
    s->problems = ctx->problem_ptrs;
    s->problem_count = 0;
    /* The slot the machine boots from, NONE when its file is missing;
     * whether that file may boot is in its class and the problems. */
    s->effective = ksvc__snap_effective(snap)->cls == KSVC_SLOT_CLASS_MISSING
                       ? KSVC_SLOT_NONE
                   : snap->st.rolled_back ? KSVC_SLOT_ROLLBACK
                                          : KSVC_SLOT_KERNEL;
    if (plan) {
        ksvc__decide_boot(snap, plan, &boot);
        s->restart_required =
            boot != NULL && strcmp(snap->st.booted_sha256, boot->sha256) != 0;
        s->confirmed = boot != NULL && !s->restart_required;
        free(plan);
    }
    fill_trial(snap, s);
    for (i = 0; i < snap->rights_count; i++)
        s->others_may_write |= snap->rights[i].bit;
    list_problems(ctx, snap, s);
}

int ksvc_status_get(ksvc_context *ctx, ksvc_status *status)
{
    ksvc_status s = KSVC_STATUS_INIT;
    size_t keep;
    int err;

    if (!ctx)
        return KSVC_E_INVALID_ARGUMENT;
    ksvc__clear_error(ctx);
    if (!status)
        return ksvc__fail(ctx, KSVC_E_INVALID_ARGUMENT, "no ksvc_status given");
    if (status->version < 1 || status->version > KSVC_STATUS_VERSION)
        return ksvc__fail(ctx, KSVC_E_STRUCT_VERSION,
                          "ksvc_status version %u, expected 1 to %u",
                          status->version, KSVC_STATUS_VERSION);
    s.flags = status->flags;
    if (!ctx->status_snap && !(ctx->status_snap = malloc(sizeof *ctx->status_snap)))
        return ksvc__fail(ctx, KSVC_E_NO_MEMORY, "reading the status");
    err = ksvc__frame_begin(ctx, ctx->status_snap, 0,
                            (s.flags & KSVC_STATUS_VERIFY) != 0);
    if (err)
        return err;
    fill_status(ctx, ctx->status_snap, &s);
    ksvc__frame_end(ctx);
    /* An older caller's structure ends where its version ended. */
    keep = status->version == 1   ? offsetof(ksvc_status, kernel_image_version)
           : status->version == 2 ? offsetof(ksvc_status, kernel_class)
           : status->version == 3 ? offsetof(ksvc_status, on_trial)
           : status->version == 4 ? offsetof(ksvc_status, others_may_write)
                                  : sizeof s;
    s.version = status->version;
    memcpy(status, &s, keep);
    return KSVC_OK;
}

/* ---- boot ---- */

/* The frame, a boot decision, its plan carried out, the result kept.
 * @p decide fills plan and *boot; *boot stays NULL when refused. */
static int run_boot(ksvc_context *ctx, int mutating,
                    int (*decide)(ksvc_context *, const ksvc__snapshot *,
                                  ksvc__plan *, const ksvc__slot_view **),
                    char *buf, size_t size)
{
    const ksvc__slot_view *boot = NULL;
    ksvc__snapshot *snap = malloc(sizeof *snap);
    ksvc__plan *plan = calloc(1, sizeof *plan);
    int err = snap && plan ? ksvc__frame_begin(ctx, snap, mutating, 0)
                           : ksvc__fail(ctx, KSVC_E_NO_MEMORY,
                                        "choosing the kernel");

    if (!err) {
        err = decide(ctx, snap, plan, &boot);
        /* The path first: a failure to make it must change nothing. */
        if (!err && buf && boot) {
            err = ctx->p->full_path(ctx->p, boot->name, buf, size);
            if (err)
                err = ksvc__platform_fail(ctx, err, boot->name);
        }
        if (!err)
            err = ksvc__execute(ctx, snap, plan, NULL, NULL, NULL);
        if (plan->operation != KSVC_OPERATION_NONE && err != KSVC_E_NO_MEMORY)
            ksvc__set_result(ctx, plan, err);
        ksvc__frame_end(ctx);
    }
    free(snap);
    free(plan);
    return err;
}

static int decide_path(ksvc_context *ctx, const ksvc__snapshot *snap,
                       ksvc__plan *plan, const ksvc__slot_view **boot)
{
    (void)ctx;
    ksvc__decide_boot(snap, plan, boot);
    return KSVC_OK;
}

/* Counting a try writes: only an administrator on a context that may
 * write can. */
static int decide_begin(ksvc_context *ctx, const ksvc__snapshot *snap,
                        ksvc__plan *plan, const ksvc__slot_view **boot)
{
    int elevated = 0, err = KSVC_OK;

    if (!(ctx->open_flags & KSVC_OPEN_READ_ONLY))
        err = is_elevated(ctx, &elevated);
    if (!err)
        ksvc__decide_boot_begin(snap, elevated, plan, boot);
    return err;
}

static int decide_confirm(ksvc_context *ctx, const ksvc__snapshot *snap,
                          ksvc__plan *plan, const ksvc__slot_view **boot)
{
    (void)ctx;
    (void)boot;
    ksvc__decide_boot_confirm(snap, plan, KSVC_OPERATION_BOOT_CONFIRM);
    return KSVC_OK;
}

static int decide_record(ksvc_context *ctx, const ksvc__snapshot *snap,
                         ksvc__plan *plan, const ksvc__slot_view **boot)
{
    (void)ctx;
    (void)boot;
    ksvc__decide_boot_confirm(snap, plan, KSVC_OPERATION_RECORD_BOOT);
    return KSVC_OK;
}

/* Every call starts with a clean detail, also one refused for its
 * arguments, whose detail then says which. */
static int path_args_error(ksvc_context *ctx, char *buf, size_t size)
{
    if (!ctx)
        return KSVC_E_INVALID_ARGUMENT;
    ksvc__clear_error(ctx);
    if (!buf || size == 0)
        return ksvc__fail(ctx, KSVC_E_INVALID_ARGUMENT,
                          "no room given for the kernel's path");
    return KSVC_OK;
}

int ksvc_boot_path(ksvc_context *ctx, char *buf, size_t size)
{
    int err = path_args_error(ctx, buf, size);

    return err ? err : run_boot(ctx, 0, decide_path, buf, size);
}

int ksvc_boot_begin(ksvc_context *ctx, char *buf, size_t size)
{
    int err = path_args_error(ctx, buf, size);

    return err ? err : run_boot(ctx, 0, decide_begin, buf, size);
}

int ksvc_boot_confirm(ksvc_context *ctx)
{
    if (!ctx)
        return KSVC_E_INVALID_ARGUMENT;
    ksvc__clear_error(ctx);
    return run_boot(ctx, 1, decide_confirm, NULL, 0);
}

int ksvc_record_boot(ksvc_context *ctx)
{
    if (!ctx)
        return KSVC_E_INVALID_ARGUMENT;
    ksvc__clear_error(ctx);
    return run_boot(ctx, 1, decide_record, NULL, 0);
}
