/*
 * A fault-injecting platform table for the reliability suites, in the style
 * of SQLite's test_vfs: it wraps ANY ksvc_platform (only platform.h is
 * assumed) and counts every method call the core makes through it.  One
 * fault can be planned at call k:
 *
 *   FAULT_CRASH  call k and every later call fail; nothing more reaches the
 *                backend (a file close or hash end still frees the backend's
 *                handle, as the death of a process would);
 *   FAULT_TORN   call k does part of its work and fails: a file write
 *                writes the first half of its buffer, a registry write of
 *                several values applies the first half of them (a backend
 *                such as the Windows registry writes value by value); any
 *                other call simply fails.  Persistent: then a crash;
 *   FAULT_ERROR  call k fails with the planned error without reaching the
 *                backend; persistent: every later call fails the same way.
 *   FAULT_ERROR_AFTER  a call k that changes the disk (write, sync, rename,
 *                remove, hard link, registry write) reaches the backend and
 *                takes effect, then fails with the planned error, as a real
 *                call can (the rename done, then the folder sync failed);
 *                any other call k fails as FAULT_ERROR.
 *   FAULT_EFFECT_LOST  the sync at call k fails and loses its effect, the
 *                way Linux reports a failed write-back (fsync returns EIO,
 *                the dirty pages are dropped, a later fsync succeeds): a
 *                file sync k leaves the file's bytes as zeros on the disk
 *                (the name stays unsynced) and fails.  Every other call
 *                that makes something durable (rename, remove, hard link,
 *                registry write) has its folder or hive sync inside it;
 *                its effect lost means it did not happen, which is
 *                FAULT_ERROR, and is planned as such.  (A lost effect with
 *                no error is a power cut: the crash sweep's damage of
 *                unsynced data.)
 *
 * Independently of the plan, fault_plan_crash() crashes at a later call,
 * so that a lost sync can be followed by the death of the process.
 *
 * It also keeps a log of the calls that change the disk (create, write,
 * sync, rename, remove, hard link, registry write) and follows which names
 * hold data not yet made durable, so a suite can check the order of writes,
 * syncs, renames and registry writes.
 */
#ifndef KSVC_TEST_FAULT_H
#define KSVC_TEST_FAULT_H

#include <stddef.h>
#include <stdint.h>

#include <kservice/platform.h>

typedef enum fault_kind {
    FAULT_NONE = 0,
    FAULT_CRASH,
    FAULT_TORN,
    FAULT_ERROR,
    FAULT_ERROR_AFTER,
    FAULT_EFFECT_LOST
} fault_kind;

/* The error classes of the error sweep. */
typedef enum fault_class {
    FAULT_CLASS_NO_SPACE = 0,
    FAULT_CLASS_ACCESS,
    FAULT_CLASS_IO,
    FAULT_CLASS_BUSY,
    FAULT_CLASS_COUNT
} fault_class;

/* The methods of the table, as the log names them. */
typedef enum fault_op {
    FOP_FILE_OPEN, FOP_PAYLOAD_OPEN, FOP_FILE_READ, FOP_FILE_WRITE,
    FOP_FILE_SYNC, FOP_FILE_SIZE, FOP_FILE_CLOSE, FOP_STAT, FOP_RENAME,
    FOP_REMOVE, FOP_HARD_LINK, FOP_LIST, FOP_FULL_PATH, FOP_REG_READ,
    FOP_REG_WRITE, FOP_REG_KEY_EXISTS, FOP_ARCH, FOP_ELEVATED, FOP_LOCK,
    FOP_UNLOCK, FOP_SHA256_BEGIN, FOP_SHA256_UPDATE, FOP_SHA256_END,
    FOP_REG_LIST, FOP_LOCK_MODE, /* table version 2 */
    FOP_WRITE_ACCESS,            /* table version 3 */
    FOP_COUNT
} fault_op;

/* One registry value change as the log keeps it. */
typedef struct fault_reg_change {
    char *name;
    int remove;
    uint32_t type;
    unsigned char *data;
    size_t size;
} fault_reg_change;

/* One disk-changing call that reached the backend and succeeded (or, torn,
 * partly did). */
typedef struct fault_event {
    unsigned call;          /* its call number, from 1 */
    fault_op op;            /* FOP_FILE_OPEN means a CREATE_NEW */
    char name[64];          /* the file, or the registry key */
    char name2[64];         /* rename / hard link: the new name */
    int torn;               /* the torn call: only partly done */
    int source_volatile;    /* rename / link: the source had unsynced data */
    fault_reg_change *changes; /* registry write: the changes applied */
    size_t change_count;
    char **volatile_names;  /* names holding unsynced data at this moment */
    size_t volatile_count;
} fault_event;

typedef struct fault_platform fault_platform;

/* Called twice for each counted call: before it runs (@p done 0) and after
 * it returned @p rc (@p done 1); for the concurrency suite's log of who
 * changed what when. */
typedef void (*fault_observer)(void *arg, unsigned call, fault_op op,
                               const char *name, int done, int rc);

/* Wrap @p inner (which must outlive the wrapper).  Aborts when out of
 * memory. */
fault_platform *fault_wrap(const ksvc_platform *inner);
void fault_free(fault_platform *f);
/* The wrapping table to hand to ksvc_open(). */
ksvc_platform *fault_table(fault_platform *f);

/* Plan one fault at call @p k (from 1).  @p error is the code returned by
 * FAULT_ERROR (and by FAULT_TORN); a crash returns KSVC_E_IO. */
void fault_plan(fault_platform *f, fault_kind kind, unsigned k, int error,
                int persistent);
/* Besides the plan: call @p k (from 1) and every later one crash, as
 * FAULT_CRASH; 0: none.  Kept until fault_reset(). */
void fault_plan_crash(fault_platform *f, unsigned k);
/* How much of a torn call is done: @p part bytes of a file write or @p part
 * values of a registry write (clamped below the whole); 0: half. */
void fault_set_torn_part(fault_platform *f, size_t part);
/* Forget the plan, the count and the log (not the durability state). */
void fault_reset(fault_platform *f);
/* The fault at the first call of @p op from now on (not persistent). */
void fault_plan_op(fault_platform *f, fault_kind kind, fault_op op,
                   int error);
void fault_set_observer(fault_platform *f, fault_observer fn, void *arg);
/* Simulate a backend that returns at most @p most bytes per file read (0:
 * all asked for), as platform.h allows. */
void fault_set_short_reads(fault_platform *f, size_t most);
/* Simulate a file system without hard links: hard_link answers
 * KSVC_E_UNSUPPORTED (not a fault; the core must copy instead). */
void fault_set_no_hard_links(fault_platform *f, int none);

/* Calls counted since the last reset. */
unsigned fault_calls(const fault_platform *f);
/* The planned fault happened. */
int fault_fired(const fault_platform *f);
/* The method of call number k (0 when not seen yet); FOP_COUNT if unknown. */
fault_op fault_op_of_call(const fault_platform *f, unsigned k);
/* The method of every call counted since the last reset, ops[k - 1] for
 * call k, in a malloc'd array (free it; never NULL). */
fault_op *fault_ops_of_calls(const fault_platform *f);

size_t fault_event_count(const fault_platform *f);
const fault_event *fault_event_at(const fault_platform *f, size_t i);
/* Whether @p name holds data not synced yet. */
int fault_name_volatile(const fault_platform *f, const char *name);

/* The error code of a class for a method: busy is KSVC_E_BUSY for the lock
 * and KSVC_E_SHARING (file in use) elsewhere. */
int fault_class_error(fault_class c, fault_op op);
const char *fault_class_name(fault_class c);
const char *fault_op_name(fault_op op);
/* Does the call change the disk (and so can fail after its effect)? */
int fault_op_changes_disk(fault_op op);

#endif
