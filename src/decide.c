/*
 * Every decision of the library: pure functions from one snapshot of the
 * machine (snapshot.c) to a plan, which execute.c carries out.  Nothing
 * here reads or writes the machine, so the policy table of DESIGN.md is
 * this file and nothing else: a backend, the command line and an
 * installer's custom action ask, they never decide.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define REMEDIES                                                             \
    "Remedies: install the kernel update from https://aka.ms/wsl2kernel; "  \
    "or reinstall the Windows Subsystem for Linux Update; or extract the "  \
    "kernel with msiexec /a and copy it to the tools folder"

static void refresh_stamp(const ksvc__slot_view *v, ksvc__slot_meta *m,
                          ksvc__plan *plan)
{
    if (v->cls != KSVC_SLOT_CLASS_VERIFIED || v->stamp.file_id == 0 ||
        !memcmp(&v->stamp, &m->stamp, sizeof v->stamp))
        return;
    m->stamp = v->stamp;
    plan->stamps_changed = 1;
}

static void plan_start(const ksvc__snapshot *snap, ksvc_operation op,
                       ksvc__plan *plan)
{
    ksvc_result *r = &plan->result;

    memset(plan, 0, sizeof *plan);
    plan->operation = op;
    plan->target = snap->st;
    /* A verified slot hashed now gets the fingerprint it was found with,
     * so the next look needs no hash; written with any other change. */
    refresh_stamp(&snap->kernel, &plan->target.kernel, plan);
    refresh_stamp(&snap->rollback, &plan->target.rollback, plan);
    r->version = KSVC_RESULT_VERSION;
    r->operation = op;
    r->rolled_back_before = r->rolled_back_after = snap->st.rolled_back;
    strcpy(r->kernel_before, snap->kernel.holds);
    strcpy(r->kernel_after, snap->kernel.holds);
    strcpy(r->rollback_before, snap->rollback.holds);
    strcpy(r->rollback_after, snap->rollback.holds);
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void refuse(ksvc__plan *plan, int err, const char *fmt, ...)
{
    va_list ap;

    plan->error = err;
    va_start(ap, fmt);
    vsnprintf(plan->why, sizeof plan->why, fmt, ap);
    va_end(ap);
    ksvc__copy_cut(plan->result.summary, sizeof plan->result.summary,
                   plan->why);
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void summarize(ksvc__plan *plan, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(plan->result.summary, sizeof plan->result.summary, fmt, ap);
    va_end(ap);
}

/* The record of what a slot holds: its version, checksum, size and the
 * fingerprint taken when it was found to hold them. */
static ksvc__slot_meta record_of(const ksvc__slot_view *v)
{
    ksvc__slot_meta m;

    memset(&m, 0, sizeof m);
    m.recorded = 1;
    strcpy(m.version, v->holds);
    strcpy(m.sha256, v->sha256);
    m.has_size = 1;
    m.size = v->info.size;
    m.stamp = v->stamp;
    return m;
}

/* Someone other than the administrators may change the tools folder, a
 * slot or the record: whatever this operation chose to boot, they could
 * choose otherwise.  The first finding and its fix; 1 when refused. */
static int refuse_insecure(const ksvc__snapshot *snap, ksvc__plan *plan)
{
    const ksvc__rights_finding *r = &snap->rights[0];

    if (snap->rights_count == 0)
        return 0;
    refuse(plan, KSVC_E_INSECURE,
           "someone other than the administrators may change %s (%s), and "
           "so choose the kernel this machine boots; nothing was changed. "
           "Fix it, then retry: %s",
           r->what, r->who, r->fix);
    return 1;
}

/* Refusals every operation that chooses what boots shares: a planted
 * object in a slot, a tools folder, slot or record that others may write,
 * and a list of bad versions that could not be read in full (rewriting it
 * would forget what it could not read).  1 when refused. */
static int refuse_unsafe_machine(const ksvc__snapshot *snap, ksvc__plan *plan)
{
    const ksvc__slot_view *slots[2];
    size_t i;

    slots[0] = &snap->kernel;
    slots[1] = &snap->rollback;
    for (i = 0; i < 2; i++) {
        const ksvc__slot_view *v = slots[i];
        if (!v->unsafe)
            continue;
        if (v->info.kind != KSVC_FILE_REGULAR)
            refuse(plan, KSVC_E_UNSAFE_PATH,
                   "%s is a link, a folder or a device, not a kernel file; "
                   "remove it",
                   v->name);
        else
            refuse(plan, KSVC_E_UNSAFE_PATH,
                   "%s has %lu names: a hard link elsewhere could change "
                   "it; remove the other names",
                   v->name, (unsigned long)v->info.links);
        return 1;
    }
    if (refuse_insecure(snap, plan))
        return 1;
    if (snap->st.bad_list_unreadable) {
        refuse(plan, KSVC_E_BAD_VALUE,
               "HKLM\\%s\\%s cannot be read in full, and it lists the "
               "versions that must never boot again: fix or delete its "
               "unreadable entries with regedit, then retry",
               KSVC__LXSS_KEY, KSVC__V_BAD);
        return 1;
    }
    return 0;
}

/* Put @p version in the target's bad set; 1 when there was no room. */
static int mark_bad(ksvc__plan *plan, const char *version)
{
    ksvc__state *t = &plan->target;

    if (!version[0] || ksvc__bad_contains(t, version))
        return 0;
    if (t->bad_count == KSVC__BAD_MAX) {
        refuse(plan, KSVC_E_LIMIT,
               "the list of bad versions holds %d entries, the most this "
               "library records; nothing was changed",
               KSVC__BAD_MAX);
        return 1;
    }
    strcpy(t->bad[t->bad_count++], version);
    strcpy(plan->result.marked_bad, version);
    return 0;
}

/* Put the kernel of @p version on trial with @p tries, or trust it at
 * once (0).  The tries are kept after the trial: a revert gives the kernel
 * as many again. */
static void start_trial(ksvc__state *t, const char *version, unsigned tries)
{
    t->has_trial_tries = 1;
    t->trial_tries = tries;
    t->trial_used = 0;
    if (tries > 0)
        strcpy(t->trial_version, version);
    else
        t->trial_version[0] = '\0';
}

/* `kernel` now holds @p holds: a trial of another version is over (a
 * repair or another installer replaced the kernel it was about). */
static void drop_stale_trial(ksvc__state *t, const char *holds)
{
    if (t->trial_version[0] && !ksvc__kver_equal(t->trial_version, holds)) {
        t->trial_version[0] = '\0';
        t->trial_used = 0;
    }
}

static unsigned tries_again(const ksvc__state *st)
{
    return st->has_trial_tries ? st->trial_tries : KSVC__TRIES_DEFAULT;
}

static void clear_flag(ksvc__plan *plan)
{
    plan->target.rolled_back = 0;
    plan->target.rolled_back_from[0] = '\0';
    plan->result.rolled_back_after = 0;
}

/* ---- install ---- */

/* Is the version asked for allowed against the version in use? */
static int refuse_install_version(const ksvc__snapshot *snap,
                                  const ksvc__install_request *req,
                                  ksvc__plan *plan)
{
    const ksvc__slot_view *in_use = ksvc__snap_effective(snap);
    int cmp;

    if (ksvc__snap_bad(snap, req->version)) {
        refuse(plan, KSVC_E_BAD_VERSION,
               "version %s was rolled back from; it is never installed again",
               req->version);
        return 1;
    }
    if (!ksvc__slot_bootable(snap, in_use) ||
        ksvc_kver_compare(req->version, in_use->holds, &cmp) != KSVC_OK)
        return 0;
    /* A version without suffix matches the suffixed one it sorts before:
     * that is a reinstall, not a downgrade. */
    if (cmp < 0 && !ksvc__kver_equal(req->version, in_use->holds) &&
        !(req->flags & KSVC_INSTALL_ALLOW_DOWNGRADE)) {
        refuse(plan, KSVC_E_DOWNGRADE,
               "version %s is older than %s in use; allow a downgrade to "
               "install it",
               req->version, in_use->holds);
        return 1;
    }
    if (ksvc__kver_equal(req->version, in_use->holds) &&
        !(req->flags & KSVC_INSTALL_FORCE)) {
        refuse(plan, KSVC_E_ALREADY_INSTALLED,
               "version %s is in use; force to reinstall it", req->version);
        return 1;
    }
    return 0;
}

/* Not rolled back: the current kernel becomes the rollback kernel when it
 * is a good kernel of another version; a damaged one, or one of a bad
 * version, never does, and the rollback kernel stays. */
static void plan_rollback_slot(const ksvc__snapshot *snap,
                               const ksvc__install_request *req,
                               ksvc__plan *plan)
{
    const ksvc__slot_view *k = &snap->kernel;

    if (snap->st.rolled_back || !ksvc__slot_bootable(snap, k) ||
        ksvc__kver_equal(k->holds, req->version)) {
        summarize(plan, "installs %s as kernel; kernel.rollback%s%s%s stays",
                  req->version, snap->rollback.holds[0] ? " (" : "",
                  snap->rollback.holds, snap->rollback.holds[0] ? ")" : "");
        return;
    }
    plan->keep_kernel_as_rollback = 1;
    plan->target.rollback = record_of(k);
    plan->result.moved |= KSVC_MOVED_KERNEL_TO_ROLLBACK;
    strcpy(plan->result.rollback_after, k->holds);
    summarize(plan, "installs %s as kernel; %s becomes kernel.rollback",
              req->version, k->holds);
}

void ksvc__decide_install(const ksvc__snapshot *snap,
                          const ksvc__install_request *req, ksvc__plan *plan)
{
    plan_start(snap, KSVC_OPERATION_INSTALL, plan);
    plan->result.precheck = req->precheck;
    if (req->precheck != KSVC_PRECHECK_OK) {
        refuse(plan, KSVC_E_PRECHECK, "%s %s", KSVC_MSG_PRECHECK,
               ksvc_precheck_reason_text(req->precheck));
        return;
    }
    if (refuse_unsafe_machine(snap, plan) ||
        refuse_install_version(snap, req, plan))
        return;
    /* While rolled back the version rolled back from stays bad for good,
     * even when only another tool's RollbackKernel said so. */
    if (snap->st.rolled_back && mark_bad(plan, snap->flagged_bad))
        return;
    plan->result.marked_bad[0] = '\0';
    plan_rollback_slot(snap, req, plan);
    memset(&plan->target.kernel, 0, sizeof plan->target.kernel);
    plan->target.kernel.recorded = 1;
    strcpy(plan->target.kernel.version, req->version);
    clear_flag(plan);
    start_trial(&plan->target, req->version, req->tries);
    strcpy(plan->result.kernel_after, req->version);
    plan->result.moved |= KSVC_MOVED_KERNEL_REPLACED;
    plan->stage_payload = 1;
    plan->write_state = 1;
}

/* ---- rollback and revert ---- */

/* The version a rollback marks bad: what `kernel` holds, or what is
 * recorded for it when its bytes are gone. */
static const char *rolled_back_from(const ksvc__snapshot *snap)
{
    if (snap->kernel.holds[0])
        return snap->kernel.holds;
    return snap->st.kernel.recorded ? snap->st.kernel.version : "";
}

static int refuse_rollback_target(const ksvc__snapshot *snap,
                                  ksvc__plan *plan, const char *from)
{
    const ksvc__slot_view *r = &snap->rollback;

    if (r->cls == KSVC_SLOT_CLASS_MISSING)
        refuse(plan, KSVC_E_NO_ROLLBACK, "there is no %s to roll back to",
               KSVC__F_ROLLBACK);
    else if (r->cls == KSVC_SLOT_CLASS_DAMAGED)
        refuse(plan, KSVC_E_DAMAGED, "%s is damaged: %s", KSVC__F_ROLLBACK,
               r->why);
    else if (ksvc__snap_bad(snap, r->holds))
        refuse(plan, KSVC_E_BAD_VERSION,
               "%s holds version %s, which is marked bad", KSVC__F_ROLLBACK,
               r->holds);
    else if (from[0] && ksvc__kver_equal(from, r->holds))
        refuse(plan, KSVC_E_NO_ROLLBACK,
               "%s holds version %s too, the version this rollback would "
               "mark bad: rolling back would boot a bad version",
               KSVC__F_ROLLBACK, r->holds);
    else
        return 0;
    return 1;
}

void ksvc__decide_rollback(const ksvc__snapshot *snap, ksvc__plan *plan)
{
    const char *from = rolled_back_from(snap);

    plan_start(snap, KSVC_OPERATION_ROLLBACK, plan);
    if (snap->st.rolled_back) {
        refuse(plan, KSVC_E_ROLLED_BACK, "the machine already boots %s",
               KSVC__F_ROLLBACK);
        return;
    }
    if (refuse_unsafe_machine(snap, plan) ||
        refuse_rollback_target(snap, plan, from) || mark_bad(plan, from))
        return;
    if (snap->rollback.cls == KSVC_SLOT_CLASS_FOREIGN) {
        plan->target.rollback = record_of(&snap->rollback);
        plan->result.moved |= KSVC_MOVED_ADOPTED;
    }
    plan->target.rolled_back = 1;
    strcpy(plan->target.rolled_back_from, from);
    plan->result.rolled_back_after = 1;
    plan->write_state = 1;
    summarize(plan, "boots kernel.rollback (%s); %s is marked bad",
              snap->rollback.holds, from[0] ? from : "the kernel");
}

void ksvc__decide_revert(const ksvc__snapshot *snap, ksvc__plan *plan)
{
    const ksvc__slot_view *k = &snap->kernel;

    plan_start(snap, KSVC_OPERATION_REVERT, plan);
    if (!snap->st.rolled_back) {
        refuse(plan, KSVC_E_NOT_ROLLED_BACK, "RollbackKernel is not set");
        return;
    }
    if (refuse_unsafe_machine(snap, plan))
        return;
    /* A revert boots `kernel` again: never when nothing good is there. */
    if (k->cls == KSVC_SLOT_CLASS_MISSING) {
        refuse(plan, KSVC_E_KERNEL_MISSING,
               "%s is missing: reverting would leave nothing to boot",
               KSVC__F_KERNEL);
        return;
    }
    if (k->cls == KSVC_SLOT_CLASS_DAMAGED) {
        refuse(plan, KSVC_E_DAMAGED,
               "%s is damaged (%s): reverting would boot it", KSVC__F_KERNEL,
               k->why);
        return;
    }
    ksvc__bad_remove(&plan->target, snap->flagged_bad);
    if (ksvc__bad_contains(&plan->target, k->holds)) {
        refuse(plan, KSVC_E_BAD_VERSION,
               "%s holds version %s, which is marked bad", KSVC__F_KERNEL,
               k->holds);
        return;
    }
    if (k->cls == KSVC_SLOT_CLASS_FOREIGN) {
        plan->target.kernel = record_of(k);
        plan->result.moved |= KSVC_MOVED_ADOPTED;
    }
    strcpy(plan->result.unmarked_bad, snap->flagged_bad);
    clear_flag(plan);
    /* The kernel booted again has to prove itself again. */
    start_trial(&plan->target, k->holds, tries_again(&snap->st));
    plan->write_state = 1;
    summarize(plan, "boots kernel (%s) again; %s is no longer marked bad",
              k->holds, snap->flagged_bad);
}

/* ---- repair ---- */

static ksvc__slot_meta *target_meta(ksvc__plan *plan,
                                    const ksvc__slot_view *v)
{
    return !strcmp(v->name, KSVC__F_KERNEL) ? &plan->target.kernel
                                            : &plan->target.rollback;
}

static char *result_after(ksvc__plan *plan, const ksvc__slot_view *v)
{
    return !strcmp(v->name, KSVC__F_KERNEL) ? plan->result.kernel_after
                                            : plan->result.rollback_after;
}

void ksvc__decide_repair(const ksvc__snapshot *snap, ksvc__plan *plan)
{
    const ksvc__slot_view *e = ksvc__snap_effective(snap);
    const ksvc__slot_view *other = e == &snap->kernel ? &snap->rollback
                                                      : &snap->kernel;

    plan_start(snap, KSVC_OPERATION_REPAIR, plan);
    if (refuse_unsafe_machine(snap, plan))
        return;
    if (ksvc__slot_bootable(snap, e) && e->cls == KSVC_SLOT_CLASS_VERIFIED) {
        summarize(plan, "%s holds version %s and matches its record: "
                        "nothing to repair",
                  e->name, e->holds);
        plan->write_state = plan->stamps_changed;
        plan->stamps_only = 1;
        return;
    }
    if (ksvc__slot_bootable(snap, e)) {
        *target_meta(plan, e) = record_of(e);
        if (e == &snap->kernel)
            drop_stale_trial(&plan->target, e->holds);
        plan->result.moved |= KSVC_MOVED_ADOPTED;
        plan->write_state = 1;
        summarize(plan, "adopted %s: a kernel image of version %s that the "
                        "record did not describe is now recorded",
                  e->name, e->holds);
        return;
    }
    if (!ksvc__slot_bootable(snap, other)) {
        refuse(plan, KSVC_E_KERNEL_MISSING,
               "%s is %s and no intact, good kernel is left to copy from. "
               "%s",
               e->name,
               e->cls == KSVC_SLOT_CLASS_MISSING ? "missing"
               : e->cls == KSVC_SLOT_CLASS_DAMAGED
                   ? "damaged"
                   : "a version marked bad",
               REMEDIES);
        return;
    }
    plan->restore_from = other;
    plan->restore_to = e;
    *target_meta(plan, e) = record_of(other);
    if (e == &snap->kernel)
        drop_stale_trial(&plan->target, other->holds);
    if (other->cls == KSVC_SLOT_CLASS_FOREIGN)
        *target_meta(plan, other) = record_of(other);
    strcpy(result_after(plan, e), other->holds);
    plan->result.moved |= KSVC_MOVED_RESTORED;
    if (e == &snap->kernel)
        plan->result.moved |= KSVC_MOVED_KERNEL_REPLACED;
    plan->write_state = 1;
    summarize(plan, "restored %s from %s (version %s)", e->name, other->name,
              other->holds);
}

/* ---- what an administrator's open records ---- */

static void adopt_if_good(const ksvc__snapshot *snap, const ksvc__slot_view *v,
                          ksvc__plan *plan)
{
    if (v->cls != KSVC_SLOT_CLASS_FOREIGN || !ksvc__slot_bootable(snap, v))
        return;
    *target_meta(plan, v) = record_of(v);
    plan->result.moved |= KSVC_MOVED_ADOPTED;
    plan->write_state = 1;
}

void ksvc__decide_reconcile(const ksvc__snapshot *snap, ksvc__plan *plan)
{
    plan_start(snap, KSVC_OPERATION_NONE, plan);
    /* Nothing is rewritten while the bad list cannot be read in full. */
    if (snap->st.bad_list_unreadable)
        return;
    plan->write_state = snap->manual_revert;
    if (snap->manual_revert && snap->kernel.holds[0])
        start_trial(&plan->target, snap->kernel.holds,
                    tries_again(&snap->st));
    /* A trial of a version `kernel` no longer holds (another installer
     * replaced it) has nothing left to prove. */
    if (plan->target.trial_version[0] && snap->kernel.holds[0] &&
        !ksvc__kver_equal(plan->target.trial_version, snap->kernel.holds)) {
        drop_stale_trial(&plan->target, snap->kernel.holds);
        plan->write_state = 1;
    }
    if (snap->st.rolled_back &&
        !ksvc__bad_contains(&snap->st, snap->flagged_bad)) {
        if (mark_bad(plan, snap->flagged_bad)) {
            plan->error = KSVC_OK; /* full: status still names it bad */
            plan->write_state = snap->manual_revert;
        } else {
            plan->write_state = 1;
        }
    }
    /* A file someone else may have put there is not vouched for: it stays
     * foreign (and still boots, as any foreign kernel) until the rights
     * are fixed. */
    if (snap->rights_count > 0)
        return;
    adopt_if_good(snap, &snap->kernel, plan);
    adopt_if_good(snap, &snap->rollback, plan);
}

/* ---- boot ---- */

void ksvc__decide_boot(const ksvc__snapshot *snap, ksvc__plan *plan,
                       const ksvc__slot_view **boot)
{
    const ksvc__slot_view *e = ksvc__snap_effective(snap);

    plan_start(snap, KSVC_OPERATION_NONE, plan);
    *boot = NULL;
    if (e->unsafe)
        refuse(plan, KSVC_E_UNSAFE_PATH,
               "%s is a link, a folder, a device or a file with a second "
               "name: it is never booted",
               e->name);
    else if (e->cls == KSVC_SLOT_CLASS_MISSING)
        refuse(plan, KSVC_E_KERNEL_MISSING, "%s is missing. %s", e->name,
               REMEDIES);
    else if (e->cls == KSVC_SLOT_CLASS_DAMAGED)
        refuse(plan, KSVC_E_DAMAGED,
               "%s is damaged (%s); run repair to restore it from the other "
               "slot",
               e->name, e->why);
    else if (ksvc__snap_bad(snap, e->holds))
        refuse(plan, KSVC_E_BAD_VERSION,
               "%s holds version %s, which is marked bad", e->name, e->holds);
    else
        *boot = e;
}

/* ---- trial boot ---- */

int ksvc__on_trial(const ksvc__snapshot *snap)
{
    const ksvc__slot_view *k = &snap->kernel;

    return !snap->st.rolled_back && snap->st.trial_version[0] &&
           ksvc__slot_bootable(snap, k) &&
           ksvc__kver_equal(snap->st.trial_version, k->holds);
}

/* The tries are used up: roll back exactly as wsl --update --rollback
 * does, with the reason; boot kernel.rollback when it may boot, else
 * nothing (the change is still written: the version failed). */
static void auto_rollback(const ksvc__snapshot *snap, ksvc__plan *plan,
                          const ksvc__slot_view **boot)
{
    const ksvc__slot_view *k = &snap->kernel, *r = &snap->rollback;
    ksvc__state *t = &plan->target;

    if (mark_bad(plan, k->holds))
        return;
    t->rolled_back = 1;
    strcpy(t->rolled_back_from, k->holds);
    t->trial_version[0] = '\0';
    t->trial_used = 0;
    snprintf(t->auto_reason, sizeof t->auto_reason,
             "%s did not confirm a boot in %lu tries", k->holds,
             (unsigned long)snap->st.trial_tries);
    plan->stamp_auto_time = 1;
    plan->write_state = 1;
    plan->result.rolled_back_after = 1;
    plan->result.moved |= KSVC_MOVED_AUTO_ROLLBACK;
    if (ksvc__slot_bootable(snap, r) && !ksvc__kver_equal(r->holds, k->holds)) {
        *boot = r;
        summarize(plan, "rolled back by itself: %s; boots kernel.rollback "
                        "(%s)",
                  t->auto_reason, r->holds);
        return;
    }
    refuse(plan, KSVC_E_KERNEL_MISSING,
           "rolled back by itself (%s), but kernel.rollback cannot boot. %s",
           t->auto_reason, REMEDIES);
    plan->error_after_write = 1;
}

void ksvc__decide_boot_begin(const ksvc__snapshot *snap, int elevated,
                             ksvc__plan *plan, const ksvc__slot_view **boot)
{
    const ksvc__state *st = &snap->st;

    if (!ksvc__on_trial(snap)) {
        ksvc__decide_boot(snap, plan, boot);
        plan->operation = plan->result.operation = KSVC_OPERATION_BOOT_BEGIN;
        if (*boot)
            summarize(plan, "boots %s (%s)", (*boot)->name, (*boot)->holds);
        return;
    }
    plan_start(snap, KSVC_OPERATION_BOOT_BEGIN, plan);
    *boot = NULL;
    if (!elevated) {
        refuse(plan, KSVC_E_NOT_ELEVATED,
               "kernel %s is on trial: only an administrator's launcher may "
               "begin its boot, so that the try is counted",
               snap->kernel.holds);
        return;
    }
    if (st->trial_used >= st->trial_tries) {
        auto_rollback(snap, plan, boot);
        return;
    }
    plan->target.trial_used = st->trial_used + 1;
    plan->write_state = 1;
    plan->result.moved |= KSVC_MOVED_TRY_COUNTED;
    *boot = &snap->kernel;
    summarize(plan, "boots kernel (%s) on trial: try %lu of %lu",
              snap->kernel.holds, (unsigned long)plan->target.trial_used,
              (unsigned long)st->trial_tries);
}

void ksvc__decide_boot_confirm(const ksvc__snapshot *snap, ksvc__plan *plan,
                               ksvc_operation op)
{
    const ksvc__slot_view *boot;
    int on_trial = ksvc__on_trial(snap);

    ksvc__decide_boot(snap, plan, &boot);
    plan->operation = plan->result.operation = op;
    if (!boot)
        return;
    if (on_trial) {
        plan->target.trial_version[0] = '\0';
        plan->target.trial_used = 0;
        plan->result.moved |= KSVC_MOVED_TRIAL_ENDED;
        plan->write_state = 1;
    }
    if (strcmp(snap->st.booted_sha256, boot->sha256) != 0) {
        strcpy(plan->target.booted_sha256, boot->sha256);
        plan->write_state = 1;
    }
    summarize(plan, "%s (%s) %s", boot->name, boot->holds,
              on_trial ? "proved that it boots: its trial is over"
              : plan->write_state ? "is recorded as the kernel running"
                                  : "was already recorded as running");
}
