/*
 * The crash-point sweep.  For every scenario (a starting state and an
 * operation, tests/fault/scenario.c) the operation first runs once without
 * faults through the fault-injecting table, which counts its N platform
 * calls and records the order of its writes, syncs, renames and registry
 * writes.  Then, for every k from 1 to N, a fresh machine in the same
 * starting state runs the operation with a crash at call k (call k and
 * every later one fail, as if the process died there); data not synced by
 * then is damaged, as a power cut would; the machine is reopened on the
 * plain backend (recovery runs) and must satisfy invariants 1 to 4 of
 * ../shared/DESIGN.md: the state is exactly the one before or the one
 * after, the effective kernel is complete and matches its recorded version
 * and SHA-256, it is never bad, no temporary or journal is left.  The same
 * again with a torn write at every call that writes (half the bytes of a
 * file write, half the values of a registry write, then the crash).
 *
 * And for every file sync: the sync fails and loses its data (its bytes
 * are zeros on the disk, fault.h's FAULT_EFFECT_LOST), the operation goes
 * on, and the process dies at each later call that changes the disk, or
 * runs to its end and the power goes.
 *
 * Every log, the fault-free ones and the crashed ones, is also checked for
 * the durability order: nothing is renamed into a slot, and no registry
 * value records a slot or a journal names a file, before that file's data
 * is synced.
 */
#include "sweep.h"

static unsigned crash_points;
static unsigned torn_points;
static unsigned after_recovery_before;
static unsigned after_recovery_after;

/* Data written but not synced when the power went is not to be trusted:
 * damage it, so recovery must never depend on it. */
static void lose_unsynced_data(scn_world *w, const fault_platform *f,
                               const char **names, size_t room)
{
    size_t count = 0, i;
    const char *candidates[] = {"kernel", "kernel.rollback",
                                "kernel.kservice-new",
                                "kernel.rollback.kservice-new"};

    for (i = 0; i < sizeof candidates / sizeof candidates[0]; i++)
        if (fault_name_volatile(f, candidates[i]) && count < room)
            names[count++] = candidates[i];
    for (i = 0; i < count; i++)
        test_machine_corrupt_file_by_hand(w->m, names[i]);
}

/* The power goes: unsynced data is damaged, the servicer closed, and the
 * next open recovers.  Returns the state then (free it); @p why receives
 * the invariant it violates, if any, and @p is_before / @p is_after
 * whether it is the reference's state before / after. */
static char *power_cut_then_recover(scn_world *w, scn_servicer *sv,
                                    const reference *r, const char **why,
                                    int *is_before, int *is_after)
{
    const char *lost[4] = {NULL, NULL, NULL, NULL};
    char *end;

    lose_unsynced_data(w, sv->fault, lost, 4);
    scn_servicer_close(sv);
    *why = scn_check_invariants(w); /* reopens: recovery runs */
    end = scn_snapshot(w);
    *is_before = strcmp(end, r->before) == 0;
    *is_after = strcmp(end, r->after) == 0;
    return end;
}

/* One crash (or torn write) at call k, then recovery and the checks. */
static void crash_at(const scenario *s, const reference *r, fault_kind kind,
                     unsigned k, size_t torn_part)
{
    scn_world *w = scn_world_new(s);
    scn_servicer sv;
    const char *why;
    char *start, *end;
    int rc, is_before, is_after;
    fault_op crashed_op;

    start = scn_snapshot(w);
    if (strcmp(start, r->before) != 0)
        SWEEP_FAIL("%s: the starting state is not reproducible", s->name);
    free(start);
    scn_servicer_open(w, &sv, s->no_hard_links);
    fault_plan(sv.fault, kind, k, KSVC_E_IO, 1);
    fault_set_torn_part(sv.fault, torn_part);
    rc = s->op(w, sv.ctx);
    if (!fault_fired(sv.fault))
        SWEEP_FAIL("%s: call %u never came", s->name, k);
    why = scn_check_order(sv.fault);
    if (why)
        SWEEP_FAIL("%s, %s at call %u: durability order: %s", s->name,
                 kind == FAULT_TORN ? "torn write" : "crash", k, why);
    crashed_op = fault_op_of_call(sv.fault, k);
    end = power_cut_then_recover(w, &sv, r, &why, &is_before, &is_after);
    if (!is_before && !is_after)
        SWEEP_FAIL("%s, %s at call %u (%s): the state after recovery is "
                 "neither the one before nor the one after\n"
                 "--- before\n%s--- after\n%s--- found\n%s",
                 s->name, kind == FAULT_TORN ? "torn write" : "crash", k,
                 fault_op_name(crashed_op), r->before,
                 r->after, end);
    if (rc == KSVC_OK && !is_after)
        SWEEP_FAIL("%s, crash at call %u: the operation reported success but "
                 "recovery undid it",
                 s->name, k);
    if (why && (is_after || r->before_sound))
        SWEEP_FAIL("%s, %s at call %u: invariant violated after recovery: %s",
                 s->name, kind == FAULT_TORN ? "torn write" : "crash", k,
                 why);
    /* The commit point decides: before it the operation is undone, after
     * it completed.  Not when the operation is an open: the next open
     * does it again. */
    if (r->commit && k < r->commit && !is_before && !s->open_in_op)
        SWEEP_FAIL("%s: %s at call %u, before the commit point (call %u), "
                 "yet recovery completed the operation",
                 s->name, fault_op_name(crashed_op), k, r->commit);
    if (r->commit && k > r->commit && !is_after && !s->open_in_op)
        SWEEP_FAIL("%s: %s at call %u, after the commit point (call %u), "
                 "yet recovery undid the operation",
                 s->name, fault_op_name(crashed_op), k, r->commit);
    if (is_after && !is_before)
        after_recovery_after++;
    else
        after_recovery_before++;
    free(end);
    scn_world_free(w);
}

/* A file sync at call k fails and loses its data (FAULT_EFFECT_LOST), the
 * operation goes on with what it was told, and the process dies at call j
 * (0: it runs to its end, then the power goes).  Unsynced data is damaged;
 * after recovery the state is the one before or the one after, the
 * invariants hold, and what the operation returned is kept: success is the
 * state after, a plain failure that ran to its end the state before. */
static void crash_after_lost_sync(const scenario *s, const reference *r,
                                  unsigned k, unsigned j)
{
    scn_world *w = scn_world_new(s);
    scn_servicer sv;
    const char *why;
    char *end;
    int rc, is_before, is_after;

    scn_servicer_open(w, &sv, s->no_hard_links);
    fault_plan(sv.fault, FAULT_EFFECT_LOST, k, KSVC_E_IO, 0);
    fault_plan_crash(sv.fault, j);
    rc = s->op(w, sv.ctx);
    if (!fault_fired(sv.fault) || (j && fault_calls(sv.fault) < j))
        SWEEP_FAIL("%s: sync lost at call %u, crash at call %u: the call "
                   "never came", s->name, k, j);
    why = scn_check_order(sv.fault);
    if (why)
        SWEEP_FAIL("%s: sync lost at call %u, crash at call %u: durability "
                   "order: %s", s->name, k, j, why);
    end = power_cut_then_recover(w, &sv, r, &why, &is_before, &is_after);
    if (!is_before && !is_after)
        SWEEP_FAIL("%s: sync lost at call %u, crash at call %u: the state "
                   "after recovery is neither the one before nor the one "
                   "after\n--- found\n%s", s->name, k, j, end);
    if ((rc == KSVC_OK && !is_after) ||
        (!j && rc != KSVC_OK && rc != KSVC_E_IN_DOUBT && !is_before &&
         !s->open_in_op))
        SWEEP_FAIL("%s: sync lost at call %u, crash at call %u: the "
                   "operation returned %s, the state after recovery is the "
                   "one %s", s->name, k, j, ksvc_error_name(rc),
                   is_after ? "after" : "before");
    if (why && (is_after || r->before_sound))
        SWEEP_FAIL("%s: sync lost at call %u, crash at call %u: invariant "
                   "violated after recovery: %s", s->name, k, j, why);
    free(end);
    scn_world_free(w);
}

/* The calls of a run whose file sync at call k loses its data: how many,
 * and the method of each (ops[i - 1] for call i; free it). */
static unsigned calls_after_lost_sync(const scenario *s, unsigned k,
                                      fault_op **ops)
{
    scn_world *w = scn_world_new(s);
    scn_servicer sv;
    unsigned calls;

    scn_servicer_open(w, &sv, s->no_hard_links);
    fault_plan(sv.fault, FAULT_EFFECT_LOST, k, KSVC_E_IO, 0);
    (void)s->op(w, sv.ctx);
    calls = fault_calls(sv.fault);
    *ops = fault_ops_of_calls(sv.fault);
    scn_servicer_close(&sv);
    scn_world_free(w);
    return calls;
}

static unsigned lost_sync_points;

/* For each file sync of the operation: its data lost, then a crash at
 * every later call that changes the disk, and no crash at all.  A crash at
 * a call that only reads leaves what a crash at the next writing call
 * leaves. */
static void sweep_lost_syncs(const scenario *s, const reference *r,
                             const fault_op *ops)
{
    unsigned k, j, calls, points = 0;
    fault_op *after;

    for (k = 1; k <= r->calls; k++) {
        if (ops[k - 1] != FOP_FILE_SYNC)
            continue;
        calls = calls_after_lost_sync(s, k, &after);
        for (j = k + 1; j <= calls; j++)
            if (fault_op_changes_disk(after[j - 1]) ||
                after[j - 1] == FOP_FILE_OPEN) {
                crash_after_lost_sync(s, r, k, j);
                points++;
            }
        crash_after_lost_sync(s, r, k, 0);
        points++;
        free(after);
    }
    print_message("crash sweep: %-62s %3u crashes after a lost sync\n", "",
                  points);
    lost_sync_points += points;
}

/* The ops of the fault-free run, to find the calls that write, and how
 * many parts each write can be torn after: every byte boundary would be
 * slow and says nothing new, so a file write tears in its middle; a
 * registry write tears after each of its values but the last. */
static void reference_ops(const scenario *s, const reference *r,
                          fault_op *ops, size_t *tears)
{
    scn_world *w = scn_world_new(s);
    scn_servicer sv;
    unsigned k;
    size_t i;

    scn_servicer_open(w, &sv, s->no_hard_links);
    if (s->op(w, sv.ctx) != KSVC_OK || fault_calls(sv.fault) != r->calls)
        fail_msg("%s: the operation is not reproducible (%u calls, then %u)", s->name, r->calls, fault_calls(sv.fault));
    for (k = 1; k <= r->calls; k++) {
        ops[k - 1] = fault_op_of_call(sv.fault, k);
        tears[k - 1] = 0;
    }
    for (i = 0; i < fault_event_count(sv.fault); i++) {
        const fault_event *e = fault_event_at(sv.fault, i);
        if (e->op == FOP_FILE_WRITE)
            tears[e->call - 1] = 1;
        else if (e->op == FOP_REG_WRITE && e->change_count > 1)
            tears[e->call - 1] = e->change_count - 1;
    }
    scn_servicer_close(&sv);
    scn_world_free(w);
}

/* The call that first wrote a journal in the fault-free run, 0 if none. */
static unsigned journal_call(const scenario *s)
{
    scn_world *w = scn_world_new(s);
    scn_servicer sv;
    unsigned found = 0;
    size_t i, j;

    scn_servicer_open(w, &sv, s->no_hard_links);
    if (s->op(w, sv.ctx) != KSVC_OK)
        fail_msg("%s: the operation is not reproducible", s->name);
    for (i = 0; !found && i < fault_event_count(sv.fault); i++) {
        const fault_event *e = fault_event_at(sv.fault, i);
        for (j = 0; e->op == FOP_REG_WRITE && j < e->change_count; j++)
            if (!strcmp(e->changes[j].name, "KServiceJournal") &&
                !e->changes[j].remove)
                found = e->call;
    }
    scn_servicer_close(&sv);
    scn_world_free(w);
    return found;
}

/* Crash at call k of the operation, then at call j of the recovery that
 * the next open runs (0: count its calls, no crash); then a plain open
 * must still recover to the state before or after. */
static unsigned crash_in_recovery(const scenario *s, const reference *r,
                                  unsigned k, unsigned j, fault_op **ops)
{
    scn_world *w = scn_world_new(s);
    scn_servicer sv;
    ksvc_platform *inner;
    fault_platform *f;
    ksvc_context *ctx = NULL;
    const char *why;
    char *end;
    unsigned calls;

    scn_servicer_open(w, &sv, s->no_hard_links);
    fault_plan(sv.fault, FAULT_CRASH, k, KSVC_E_IO, 1);
    (void)s->op(w, sv.ctx);
    scn_servicer_close(&sv);
    inner = test_machine_platform_open(w->m);
    f = fault_wrap(inner);
    if (j)
        fault_plan(f, FAULT_CRASH, j, KSVC_E_IO, 1);
    if (ksvc_open(&ctx, fault_table(f), NULL) == KSVC_OK)
        ksvc_close(ctx);
    calls = fault_calls(f);
    if (!j) {
        *ops = fault_ops_of_calls(f);
        fault_free(f);
        test_machine_platform_close(inner);
        scn_world_free(w);
        return calls;
    }
    why = scn_check_order(f);
    if (why)
        SWEEP_FAIL("%s: crash at %u, then in recovery at %u: durability "
                   "order: %s",
                   s->name, k, j, why);
    fault_free(f);
    test_machine_platform_close(inner);
    why = scn_check_invariants(w);
    end = scn_snapshot(w);
    if (strcmp(end, r->before) != 0 && strcmp(end, r->after) != 0)
        SWEEP_FAIL("%s: crash at call %u, then in recovery at call %u: the "
                   "state is neither the one before nor the one after\n%s",
                   s->name, k, j, end);
    if (r->commit && k > r->commit && strcmp(end, r->after) != 0)
        SWEEP_FAIL("%s: crash at call %u (after the commit point), then in "
                   "recovery at call %u: recovery undid the operation",
                   s->name, k, j);
    if (why && (strcmp(end, r->after) == 0 || r->before_sound))
        SWEEP_FAIL("%s: crash at call %u, then in recovery at call %u: %s",
                   s->name, k, j, why);
    free(end);
    scn_world_free(w);
    return calls;
}

static unsigned recovery_crash_points;

static int changes_disk(fault_op op)
{
    return op == FOP_FILE_OPEN || op == FOP_FILE_WRITE ||
           op == FOP_FILE_SYNC || op == FOP_RENAME || op == FOP_REMOVE ||
           op == FOP_HARD_LINK || op == FOP_REG_WRITE;
}

/* Crash during recovery, for every crash of the operation that leaves a
 * journal behind.  A crash at a call that only reads leaves the disk as a
 * crash at the next call that writes does, so crashing at each call of the
 * recovery that may change the disk (and at its first call) reaches every
 * state a crash inside recovery can leave. */
static void sweep_recovery(const scenario *s, const reference *r)
{
    unsigned first = journal_call(s), k, j, calls, points = 0;
    fault_op *ops = NULL;

    if (!first)
        return;
    for (k = first + 1; k <= r->calls; k++) {
        calls = crash_in_recovery(s, r, k, 0, &ops);
        for (j = 1; j <= calls; j++) {
            if (j > 1 && !changes_disk(ops[j - 1]))
                continue;
            crash_in_recovery(s, r, k, j, NULL);
            points++;
        }
        free(ops);
    }
    print_message("crash sweep: %-62s %3u crash points inside recovery\n",
                  "", points);
    recovery_crash_points += points;
}

static void sweep(const scenario *s)
{
    reference r;
    fault_op *ops;
    size_t *tears, part;
    unsigned k, crashes = 0, torn = 0;

    run_reference(s, &r);
    ops = calloc(r.calls + 1, sizeof *ops);
    tears = calloc(r.calls + 1, sizeof *tears);
    assert_non_null(ops);
    assert_non_null(tears);
    reference_ops(s, &r, ops, tears);
    for (k = 1; k <= r.calls; k++) {
        crash_at(s, &r, FAULT_CRASH, k, 0);
        crashes++;
        for (part = 1; part <= tears[k - 1]; part++) {
            /* part 1 of a file write: its first half */
            crash_at(s, &r, FAULT_TORN, k,
                     ops[k - 1] == FOP_FILE_WRITE ? 0 : part);
            torn++;
        }
    }
    free(tears);
    print_message("crash sweep: %-62s %3u calls, %3u crash points, %2u torn "
                  "writes, commit at call %u\n",
                  s->name, r.calls, crashes, torn, r.commit);
    crash_points += crashes;
    torn_points += torn;
    sweep_recovery(s, &r);
    sweep_lost_syncs(s, &r, ops);
    free(ops);
    reference_free(&r);
}

static void sweep_all(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < scn_count; i++)
        sweep(&scn_all[i]);
    print_message("crash sweep: %u crash points and %u torn writes over %lu "
                  "scenarios, %u more crash points inside recovery, %u "
                  "after a lost sync; after recovery %u ended in the state "
                  "before, %u in the state after\n",
                  crash_points, torn_points, (unsigned long)scn_count,
                  recovery_crash_points, lost_sync_points,
                  after_recovery_before, after_recovery_after);
    assert_true(crash_points > 0);
}

/* The order checker itself: a rename of unsynced data into a slot, and a
 * registry value recording a slot whose data is not synced, are caught. */
static void order_checker_catches_unsynced_rename(void **state)
{
    test_machine *m = test_machine_new(NULL);
    ksvc_platform *inner = test_machine_platform_open(m);
    fault_platform *f = fault_wrap(inner);
    ksvc_platform *p = fault_table(f);
    ksvc_reg_change change = {"KServiceKernelSha256", 0, KSVC_REG_SZ,
                              "00", 3};
    ksvc_file *file;
    const char *why;

    (void)state;
    assert_int_equal(p->file_open(p, "kernel.kservice-new",
                                  KSVC_OPEN_CREATE_NEW, &file),
                     KSVC_OK);
    assert_int_equal(p->file_write(file, 0, "data", 4), KSVC_OK);
    assert_int_equal(p->file_close(file), KSVC_OK);
    assert_null(scn_check_order(f));
    assert_int_equal(p->rename(p, "kernel.kservice-new", "kernel"), KSVC_OK);
    why = scn_check_order(f);
    assert_non_null(why);
    assert_non_null(strstr(why, "before its data was synced"));

    fault_reset(f);
    assert_true(fault_name_volatile(f, "kernel"));
    assert_int_equal(p->reg_write(p, "SOFTWARE\\Microsoft\\Windows\\"
                                     "CurrentVersion\\Lxss",
                                  &change, 1),
                     KSVC_OK);
    why = scn_check_order(f);
    assert_non_null(why);
    assert_non_null(strstr(why, "records kernel"));

    fault_free(f);
    test_machine_platform_close(inner);
    test_machine_free(m);
}

/* A crash really stops everything: the call and all later ones fail. */
static void crash_fails_every_later_call(void **state)
{
    test_machine *m = test_machine_new(NULL);
    ksvc_platform *inner = test_machine_platform_open(m);
    fault_platform *f = fault_wrap(inner);
    ksvc_platform *p = fault_table(f);
    ksvc_file_info info;
    int exists;

    (void)state;
    fault_plan(f, FAULT_CRASH, 2, 0, 1);
    assert_int_equal(p->stat(p, "kernel", &info), KSVC_OK);
    assert_int_equal(p->stat(p, "kernel", &info), KSVC_E_IO);
    assert_int_equal(p->reg_key_exists(p, "SOFTWARE", &exists), KSVC_E_IO);
    assert_true(fault_fired(f));
    assert_int_equal(fault_calls(f), 3);
    fault_plan(f, FAULT_ERROR, 5, KSVC_E_NO_SPACE, 0);
    fault_reset(f);
    fault_plan(f, FAULT_ERROR, 2, KSVC_E_NO_SPACE, 0);
    assert_int_equal(p->stat(p, "kernel", &info), KSVC_OK);
    assert_int_equal(p->stat(p, "kernel", &info), KSVC_E_NO_SPACE);
    assert_int_equal(p->stat(p, "kernel", &info), KSVC_OK);
    fault_free(f);
    test_machine_platform_close(inner);
    test_machine_free(m);
}

/* A lost sync fails and leaves zeros where the data was; a later sync of
 * the same file succeeds without bringing it back (a failed write-back);
 * fault_plan_crash() then stops every call from its own on. */
static void lost_sync_leaves_zeros(void **state)
{
    test_machine *m = test_machine_new(NULL);
    ksvc_platform *inner = test_machine_platform_open(m);
    fault_platform *f = fault_wrap(inner);
    ksvc_platform *p = fault_table(f);
    ksvc_file *file;
    ksvc_file_info info;
    char data[5] = {0};
    size_t got = 0;

    (void)state;
    fault_plan(f, FAULT_EFFECT_LOST, 3, KSVC_E_IO, 0);
    fault_plan_crash(f, 8);
    assert_int_equal(p->file_open(p, "kernel.kservice-new",
                                  KSVC_OPEN_CREATE_NEW, &file),
                     KSVC_OK);
    assert_int_equal(p->file_write(file, 0, "data", 4), KSVC_OK);
    assert_int_equal(p->file_sync(file), KSVC_E_IO);
    assert_true(fault_name_volatile(f, "kernel.kservice-new"));
    assert_int_equal(p->file_sync(file), KSVC_OK);
    assert_int_equal(p->file_close(file), KSVC_OK);
    assert_int_equal(p->file_open(p, "kernel.kservice-new", KSVC_OPEN_READ,
                                  &file),
                     KSVC_OK);
    assert_int_equal(p->file_read(file, 0, data, 4, &got), KSVC_OK);
    assert_int_equal(got, 4);
    assert_memory_equal(data, "\0\0\0\0", 4);
    assert_int_equal(p->stat(p, "kernel", &info), KSVC_E_IO); /* call 8 */
    assert_int_equal(p->stat(p, "kernel", &info), KSVC_E_IO);
    assert_int_equal(p->file_close(file), KSVC_E_IO); /* closed all the same */
    fault_free(f);
    test_machine_platform_close(inner);
    test_machine_free(m);
}

/* The sweeps make thousands of machines and simulate crashes themselves,
 * so real fsyncs only cost time: use memory-backed /dev/shm when it is
 * there and TMPDIR is not set. */
static void prefer_memory_tmpdir(void)
{
#if !defined(_WIN32)
    const char *tmp = getenv("TMPDIR");
    if ((!tmp || !tmp[0]) && access("/dev/shm", W_OK | X_OK) == 0)
        setenv("TMPDIR", "/dev/shm", 1);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crash_fails_every_later_call),
        cmocka_unit_test(lost_sync_leaves_zeros),
        cmocka_unit_test(order_checker_catches_unsynced_rename),
        cmocka_unit_test(sweep_all),
    };

    prefer_memory_tmpdir();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
