/* The fault-free reference run both sweeps share (sweep.h). */
#include "sweep.h"

void run_reference(const scenario *s, reference *r)
{
    scn_world *w, *probe = scn_world_new(s);
    scn_servicer sv;
    const char *why;
    int rc;

    /* Checking opens the machine, and an open may record what others did:
     * check a twin first, then make the world the operation starts from
     * untouched (on Windows both are the one machine there is, so the
     * twin goes before the world is made again). */
    r->before_sound = scn_check_invariants(probe) == NULL;
    scn_world_free(probe);
    w = scn_world_new(s);
    r->before = scn_snapshot(w);
    scn_servicer_open(w, &sv, s->no_hard_links);
    rc = s->op(w, sv.ctx);
    if (rc != KSVC_OK)
        fail_msg("%s: fault-free run failed: %s: %s", s->name,
                 ksvc_error_name(rc), ksvc_error_detail(sv.ctx));
    r->calls = fault_calls(sv.fault);
    r->commit = scn_commit_call(sv.fault);
    r->ops = fault_ops_of_calls(sv.fault);
    why = scn_check_order(sv.fault);
    if (why)
        fail_msg("%s: durability order: %s", s->name, why);
    scn_servicer_close(&sv);
    r->after = scn_snapshot(w);
    why = scn_check_invariants(w);
    if (why)
        fail_msg("%s: after the fault-free run: %s", s->name, why);
    scn_world_free(w);
}

void reference_free(reference *r)
{
    free(r->before);
    free(r->after);
    free(r->ops);
    memset(r, 0, sizeof *r);
}
