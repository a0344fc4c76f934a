/*
 * The starting states and operations the crash and error sweeps run, and
 * the invariants of ../shared/DESIGN.md they check afterwards.  Written
 * against tests/machine.h and the public API, so they run on every backend.
 */
#ifndef KSVC_TEST_SCENARIO_H
#define KSVC_TEST_SCENARIO_H

#include <stddef.h>

#include <kservice/kservice.h>

#include "../machine.h"
#include "fault.h"

/* The versions of the scenarios and their payloads' SHA-256. */
#define SCN_VERSIONS 3
extern const char *const scn_version[SCN_VERSIONS]; /* A, B, C */

typedef struct scn_world {
    test_machine *m;
    const char *payload[SCN_VERSIONS]; /* synthetic bzImages of A, B, C */
    char sha[SCN_VERSIONS][65];        /* their SHA-256 */
    /* The scenario's operation is the administrator's open itself: the
     * servicer's own context is read-only, and the operation opens another
     * on servicer_table. */
    int open_in_op;
    ksvc_platform *servicer_table;
    char open_detail[1024]; /* the detail of that open when it failed */
} scn_world;

typedef struct scenario {
    const char *name;
    /* Bring a fresh machine to the starting state (plain platform). */
    void (*setup)(scn_world *w, ksvc_context *ctx);
    /* The operation under test. */
    int (*op)(scn_world *w, ksvc_context *ctx);
    int no_hard_links; /* the file system has none: the core copies */
    int open_in_op;    /* the operation is an open (see scn_world) */
} scenario;

extern const scenario scn_all[];
extern const size_t scn_count;

/* A fresh machine in the scenario's starting state. */
scn_world *scn_world_new(const scenario *s);
void scn_world_free(scn_world *w);

/* Open a context on @p p (asserts success). */
ksvc_context *scn_open(ksvc_platform *p);

/* A machine snapshot without the hive's byte digest (the order of values
 * inside the hive file is not part of the state). */
char *scn_snapshot(scn_world *w);

/* A fault-wrapped second servicer on the machine, as another process. */
typedef struct scn_servicer {
    ksvc_platform *inner;
    fault_platform *fault;
    ksvc_context *ctx;
} scn_servicer;
void scn_servicer_open(scn_world *w, scn_servicer *s, int no_hard_links);
/* The process ends: its context, its table and its lock go away. */
void scn_servicer_close(scn_servicer *s);

/* Invariants 1, 2 and 4 on the machine as a fresh open sees it (recovery
 * runs); returns NULL when they hold, else a static description. */
const char *scn_check_invariants(scn_world *w);

/* The ordering rules on a fault log: no rename into a slot of a file with
 * unsynced data; no registry write that records a slot (or a journal that
 * names a file) while that file holds unsynced data.  NULL when they hold,
 * else a description in a static buffer. */
const char *scn_check_order(const fault_platform *f);

/* Call number of the commit point in a fault-free log: the first rename
 * into a slot, else the first registry write of the servicing key; 0 when
 * the operation changed nothing. */
unsigned scn_commit_call(const fault_platform *f);

#endif
