/*
 * The error sweep.  For every scenario of tests/fault/scenario.c, every
 * platform call k the operation makes fails with every error class (no
 * space, access denied, I/O error, busy), once transiently (only call k
 * fails) and once persistently (call k and every later call fail).  Then:
 *
 * Every call that changes the disk also fails after its effect (the
 * rename done, then the error), as a real call can, and every file sync
 * also fails losing its effect (the file's bytes are zeros on the disk, as
 * after a failed write-back).  Then the outcome must be one the caller can
 * trust:
 *
 * - the injected error (with a detail): nothing changed, at once and after
 *   the next open;
 * - KSVC_E_IN_DOUBT: after the next open the state is the one
 *   ksvc_result::settles promised (after when it completes, before when it
 *   undoes, either when it cannot tell);
 * - success: the state after.
 *
 * The test prints how many failure points fell on each side.
 */
#include "sweep.h"

static unsigned failure_points;
static unsigned side_before, side_after, succeeded_anyway, in_doubt_either;

static void expect_state(const scenario *s, const char *when,
                         const char *found, const char *expected,
                         const char *label, unsigned k, fault_class c,
                         int persistent, const reference *r)
{
    if (strcmp(found, expected) != 0)
        SWEEP_FAIL("%s: %s %s error at call %u (%s), %s: the state is not "
                   "the one %s\n--- expected\n%s--- found\n%s",
                   s->name, persistent ? "persistent" : "transient",
                   fault_class_name(c), k, fault_op_name(r->ops[k - 1]),
                   when, label, expected, found);
}

/* What the caller was told, and the state it promises after the next
 * open: success, the state after; a plain failure, nothing changed (the
 * state before); KSVC_E_IN_DOUBT, what ksvc_result::settles says (either,
 * when it cannot say). */
static const char *promised_state(const reference *r, int rc,
                                  ksvc_settle settles, const char **label)
{
    if (rc == KSVC_OK) {
        *label = "after (the operation succeeded)";
        succeeded_anyway++;
        return r->after;
    }
    if (rc == KSVC_E_IN_DOUBT && settles == KSVC_SETTLE_COMPLETE) {
        *label = "after (in doubt, completed by the next open)";
        side_after++;
        return r->after;
    }
    if (rc == KSVC_E_IN_DOUBT && settles == KSVC_SETTLE_NONE) {
        *label = "before or after (in doubt, settled by the next open)";
        in_doubt_either++;
        return NULL;
    }
    *label = rc == KSVC_E_IN_DOUBT
                 ? "before (in doubt, undone by the next open)"
                 : "before (the operation failed)";
    side_before++;
    return r->before;
}

static void fail_at(const scenario *s, const reference *r, unsigned k,
                    fault_class c, int persistent, fault_kind kind)
{
    scn_world *w = scn_world_new(s);
    scn_servicer sv;
    ksvc_result result = KSVC_RESULT_INIT;
    int error = fault_class_error(c, r->ops[k - 1]);
    int rc;
    const char *why, *expected, *label;
    char detail[1100];
    char *now;

    scn_servicer_open(w, &sv, s->no_hard_links);
    fault_plan(sv.fault, kind, k, error, persistent);
    rc = s->op(w, sv.ctx);
    ksvc_last_result(sv.ctx, &result);
    snprintf(detail, sizeof detail, "%s",
             s->open_in_op ? w->open_detail : ksvc_error_detail(sv.ctx));
    if (!fault_fired(sv.fault))
        SWEEP_FAIL("%s: call %u never came", s->name, k);
    if (rc != KSVC_OK && rc != error && rc != KSVC_E_IN_DOUBT)
        SWEEP_FAIL("%s: %s %s error (%s) at call %u (%s): the operation "
                   "returned %s (%s)",
                   s->name, persistent ? "persistent" : "transient",
                   fault_class_name(c), ksvc_error_name(error), k,
                   fault_op_name(r->ops[k - 1]), ksvc_error_name(rc), detail);
    if (rc != KSVC_OK && detail[0] == '\0')
        SWEEP_FAIL("%s: error at call %u without a detail", s->name, k);
    expected = promised_state(r, rc, result.settles, &label);
    /* An open records what others did at best effort: done or not, the
     * machine means the same. */
    if (s->open_in_op) {
        expected = NULL;
        label = "before or after (an open records at best effort)";
    }
    /* A plain failure has changed nothing, at once, unless every later
     * call fails too (its temporaries then wait for the next open). */
    if (expected && !persistent && rc != KSVC_OK && rc != KSVC_E_IN_DOUBT) {
        now = scn_snapshot(w);
        expect_state(s, "at once", now, expected, label, k, c, persistent,
                     r);
        free(now);
    }
    scn_servicer_close(&sv);
    why = scn_check_invariants(w); /* the next open: recovery */
    now = scn_snapshot(w);
    if (expected)
        expect_state(s, "after the next open", now, expected, label, k, c,
                     persistent, r);
    else if (strcmp(now, r->before) != 0 && strcmp(now, r->after) != 0)
        expect_state(s, "after the next open", now, r->after, label, k, c,
                     persistent, r);
    if (why && strcmp(now, r->after) == 0)
        SWEEP_FAIL("%s: error at call %u: invariant violated: %s", s->name,
                   k, why);
    free(now);
    scn_world_free(w);
    failure_points++;
}

static void sweep(const scenario *s)
{
    reference r;
    unsigned k, before0 = side_before, after0 = side_after,
                ok0 = succeeded_anyway;
    int c, persistent;

    run_reference(s, &r);
    for (k = 1; k <= r.calls; k++)
        for (c = 0; c < FAULT_CLASS_COUNT; c++)
            for (persistent = 0; persistent <= 1; persistent++) {
                fail_at(s, &r, k, (fault_class)c, persistent, FAULT_ERROR);
                /* The same call failing after its effect: an I/O error
                 * is enough, the class does not change what was done. */
                if (c == FAULT_CLASS_IO &&
                    fault_op_changes_disk(r.ops[k - 1]))
                    fail_at(s, &r, k, (fault_class)c, persistent,
                            FAULT_ERROR_AFTER);
                /* A file sync that fails and loses the data (fault.h:
                 * the other syncs' lost effect is FAULT_ERROR, above). */
                if (c == FAULT_CLASS_IO && r.ops[k - 1] == FOP_FILE_SYNC)
                    fail_at(s, &r, k, (fault_class)c, persistent,
                            FAULT_EFFECT_LOST);
            }
    print_message("error sweep: %-62s %3u calls x (4 + after + lost) x 2: "
                  "%4u state before, %3u in doubt and completed, %3u "
                  "succeeded\n",
                  s->name, r.calls, side_before - before0,
                  side_after - after0, succeeded_anyway - ok0);
    reference_free(&r);
}

static void sweep_all(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < scn_count; i++)
        sweep(&scn_all[i]);
    print_message("error sweep: %u failure points over %lu scenarios: %u "
                  "changed nothing (state before), %u in doubt and "
                  "completed by the next open, %u in doubt either way, %u "
                  "succeeded despite the failure (state after)\n",
                  failure_points, (unsigned long)scn_count, side_before,
                  side_after, in_doubt_either, succeeded_anyway);
    assert_true(side_before > 0 && succeeded_anyway > 0);
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
        cmocka_unit_test(sweep_all),
    };

    prefer_memory_tmpdir();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
