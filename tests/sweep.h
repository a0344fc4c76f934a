/*
 * What the crash sweep (test_crash.c) and the error sweep (test_errors.c)
 * share: the preamble, SWEEP_FAIL and the fault-free reference run of a
 * scenario (tests/fault/scenario.c) that both compare their runs with.
 */
#ifndef KSVC_TEST_SWEEP_H
#define KSVC_TEST_SWEEP_H

#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if !defined(_WIN32)
#include <unistd.h>
#endif

#include <cmocka.h>

#include "fault/fault.h"
#include "fault/scenario.h"

/* cmocka cuts long messages: print the whole of it, then fail. */
#define SWEEP_FAIL(...)                                                      \
    do {                                                                     \
        fprintf(stderr, __VA_ARGS__);                                        \
        fprintf(stderr, "\n");                                               \
        fail();                                                              \
    } while (0)

/* A scenario run once without faults, through the fault-injecting table. */
typedef struct reference {
    char *before;     /* scn_snapshot() before the operation */
    char *after;      /* and after it */
    int before_sound; /* the starting state itself satisfies invariant 1 */
    unsigned calls;   /* platform calls the operation made */
    unsigned commit;  /* the call of its commit point (0: none) */
    fault_op *ops;    /* the method of each call, ops[k - 1] for call k */
} reference;

/* Run @s once without faults; it must succeed, keep the durability order
 * and leave a state that satisfies the invariants.  Free with
 * reference_free(). */
void run_reference(const scenario *s, reference *r);
void reference_free(reference *r);

#endif
