/*
 * Internal declarations of the policy core.  Nothing here includes an OS
 * header: the core reaches the machine only through a ksvc_platform.
 */
#ifndef KSVC_INTERNAL_H
#define KSVC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <kservice/kservice.h>

/* [backends] Registry keys of the servicing values and of the machine
 * facts: in keys.h, shared with the backends. */
#include "keys.h"

/* Values of the Lxss key.  The first two are WSL's own; the rest belong to
 * libkservice (documented in doc/mainpage.md). */
#define KSVC__V_KERNEL_VERSION "KernelVersion"
#define KSVC__V_ROLLBACK_FLAG "RollbackKernel"
#define KSVC__V_KERNEL_SHA "KServiceKernelSha256"
#define KSVC__V_KERNEL_SIZE "KServiceKernelSize"
#define KSVC__V_RB_VERSION "KServiceRollbackVersion"
#define KSVC__V_RB_SHA "KServiceRollbackSha256"
#define KSVC__V_RB_SIZE "KServiceRollbackSize"
#define KSVC__V_KERNEL_STAMP "KServiceKernelStamp"
#define KSVC__V_RB_STAMP "KServiceRollbackStamp"
#define KSVC__V_BAD "KServiceBadVersions"
#define KSVC__V_BOOTED "KServiceBootedSha256"
#define KSVC__V_JOURNAL "KServiceJournal"
/* The KernelVersion that the library's checksum, size and stamp of
 * `kernel` describe.  KernelVersion is WSL's own value and other installers
 * write it; when it no longer equals this, those values describe a kernel
 * that is gone, and the file is classified by its bytes alone. */
#define KSVC__V_KERNEL_RECORD "KServiceKernelRecordVersion"

/* Trial boot: the kernel installed last is on trial until a boot of it
 * is confirmed (KServiceTrialVersion present); KServiceTrialTries is the
 * number of boots it may begin unconfirmed, kept after the trial to give a
 * revert fresh tries; KServiceTrialUsed counts the boots begun. */
#define KSVC__V_TRIAL_VERSION "KServiceTrialVersion"
#define KSVC__V_TRIAL_TRIES "KServiceTrialTries"
#define KSVC__V_TRIAL_USED "KServiceTrialUsed"
/* Why and when the library last rolled back by itself. */
#define KSVC__V_AUTO_REASON "KServiceAutoRollbackReason"
#define KSVC__V_AUTO_TIME "KServiceAutoRollbackTime"
/* Tries of a trial when the caller says nothing. */
#define KSVC__TRIES_DEFAULT 3u
/* Most tries a trial may be given. */
#define KSVC__TRIES_MAX 100u

/* File names in the tools folder. */
#define KSVC__F_KERNEL "kernel"
#define KSVC__F_ROLLBACK "kernel.rollback"
#define KSVC__F_KERNEL_NEW "kernel.kservice-new"
#define KSVC__F_ROLLBACK_NEW "kernel.rollback.kservice-new"

/* Most versions the bad set holds: a rollback a month for more than
 * eighty years.  A bound at all, so that the values stay of a size any
 * registry takes. */
#define KSVC__BAD_MAX 1024
/* Most problems one status reports. */
#define KSVC__PROBLEM_MAX 16
#define KSVC__PROBLEM_LEN 256
/* Room for one problem as status gives it: a rights finding names a path
 * twice, in what is wrong and in the command that fixes it. */
#define KSVC__STATUS_PROBLEM_LEN 2048
#define KSVC__DETAIL_LEN 1024
/* The largest kernel image installed: real kernels are tens of MiB; a file
 * beyond this is refused before a byte of it is written. */
#define KSVC__PAYLOAD_MAX (512ull << 20)
/* Bytes moved per read while copying or hashing: large enough to stream at
 * disk speed, small enough that memory stays constant. */
#define KSVC__CHUNK (1u << 20)

/* The fingerprint of a slot file that was found to hold its recorded
 * SHA-256: while the file's size, identity and change time are still these,
 * its bytes are unchanged (any write or link moves the change time), so it
 * is intact without hashing.  All zero: none recorded. */
typedef struct ksvc__stamp {
    uint64_t size;
    uint64_t file_id;
    int64_t change_ns;
} ksvc__stamp;
/* Room for "size:file_id:change_ns" and its NUL. */
#define KSVC__STAMP_TEXT 64

/* What the registry records of one slot. */
typedef struct ksvc__slot_meta {
    int recorded;                      /* a valid version is recorded */
    char version[KSVC_KVER_MAX + 1];
    char sha256[65];                   /* "" when not recorded */
    int has_size;
    uint64_t size;
    ksvc__stamp stamp;                 /* KServiceKernelStamp and the like */
    /* Never stored: this operation wrote or verified the file it puts in
     * this slot, so the journal commit may stamp it. */
    int verified;
} ksvc__slot_meta;

/* Most values whose text did not parse that one load reports. */
#define KSVC__VALUE_PROBLEM_MAX 8

/* The whole servicing state as the registry records it.  Every value is
 * parsed on its own: one that does not parse (a hand edit) leaves its field
 * empty and is named in value_problem, so the rest still loads. */
typedef struct ksvc__state {
    ksvc__slot_meta kernel;
    ksvc__slot_meta rollback;
    int rolled_back;                       /* RollbackKernel present */
    char rolled_back_from[KSVC_KVER_MAX + 1]; /* its text when a version */
    size_t bad_count;
    char bad[KSVC__BAD_MAX][KSVC_KVER_MAX + 1];
    char booted_sha256[65];                /* "" when never recorded */
    /* The trial of `kernel`: on trial while trial_version is not "". */
    char trial_version[KSVC_KVER_MAX + 1];
    int has_trial_tries;
    uint32_t trial_tries;                  /* boots it may begin */
    uint32_t trial_used;                   /* boots begun */
    char auto_reason[KSVC__PROBLEM_LEN];   /* last automatic rollback */
    char auto_time[32];                    /* its time, ISO 8601 UTC */
    /* KServiceBadVersions did not parse in full: its valid entries are in
     * bad[], but no operation may rewrite it (that would lose the rest). */
    int bad_list_unreadable;
    size_t value_problem_count;
    char value_problem[KSVC__VALUE_PROBLEM_MAX][KSVC__PROBLEM_LEN];
} ksvc__state;

typedef struct ksvc__snapshot ksvc__snapshot; /* snapshot.c */
typedef struct ksvc__plan ksvc__plan;         /* decide.c */

struct ksvc_context {
    const ksvc_platform *p;
    unsigned lock_timeout_ms;
    unsigned open_flags;   /* KSVC_OPEN_READ_ONLY */
    int opening;           /* inside ksvc_open(): it records the world */
    /* This call holds the shared lock (or none): it writes nothing. */
    int reading_only;
    int locked;
    ksvc_result last_result; /* what the last changing call did */
    long os_error;
    char detail[KSVC__DETAIL_LEN];
    /* Storage behind ksvc_status pointers, valid until the next call. */
    const char *bad_ptrs[KSVC__BAD_MAX + 1]; /* + RollbackKernel's */
    const char *problem_ptrs[KSVC__PROBLEM_MAX];
    char problems[KSVC__PROBLEM_MAX][KSVC__STATUS_PROBLEM_LEN];
    ksvc__snapshot *status_snap;
};

/* ---- errors (error.c) ---- */
void ksvc__clear_error(ksvc_context *ctx);
/* Copy src into dst of room size, cut to fit (size > 0). */
void ksvc__copy_cut(char *dst, size_t size, const char *src);
/* Record a detail for err and return err. */
int ksvc__fail(ksvc_context *ctx, int err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* A platform call failed with err: record its last_error and return err. */
int ksvc__platform_fail(ksvc_context *ctx, int err, const char *doing);

/* ---- text helpers (kver.c) ---- */
/* Copy src into dst of room size; KSVC_E_TOO_LONG when it does not fit. */
int ksvc__copy_str(char *dst, size_t size, const char *src);
int ksvc__kver_equal(const char *a, const char *b);
int ksvc__kver_valid(const char *text);

/* ---- SHA-256 (sha256.c built-in, hash.c dispatch) ---- */
typedef struct ksvc__sha256 {
    uint32_t h[8];
    uint64_t length;
    unsigned char block[64];
    size_t used;
} ksvc__sha256;
void ksvc__sha256_init(ksvc__sha256 *s);
void ksvc__sha256_update(ksvc__sha256 *s, const void *data, size_t size);
void ksvc__sha256_final(ksvc__sha256 *s, unsigned char digest[32]);

typedef struct ksvc__hasher {
    const ksvc_platform *p;
    void *platform_state;   /* when the platform hashes */
    ksvc__sha256 builtin;   /* otherwise */
} ksvc__hasher;
int ksvc__hasher_begin(ksvc__hasher *h, const ksvc_platform *p);
int ksvc__hasher_update(ksvc__hasher *h, const void *data, size_t size);
/* Finish into 64 hex digits + NUL. */
int ksvc__hasher_end(ksvc__hasher *h, char hex[65]);
void ksvc__hasher_abandon(ksvc__hasher *h);
/* Hash the slot file name; KSVC_E_NOT_FOUND when missing. */
int ksvc__hash_slot(ksvc_context *ctx, const char *name, char hex[65],
                    uint64_t *size);
int ksvc__sha256_hex_valid(const char *hex);

/* ---- fingerprints (state.c) ---- */
/* The stamp of what stat found: all zero unless a regular file whose
 * backend tells its identity and change time. */
void ksvc__stamp_of(const ksvc_file_info *info, ksvc__stamp *stamp);
/* Does the file stat found still carry the recorded, non-zero stamp? */
int ksvc__stamp_matches(const ksvc__stamp *recorded,
                        const ksvc_file_info *info);

/* ---- state (state.c) ---- */
int ksvc__state_load(ksvc_context *ctx, ksvc__state *st);
/* Build the registry changes that make the stored state equal st; names
 * and data point into st and scratch. */
typedef struct ksvc__state_changes {
    ksvc_reg_change change[28];
    size_t count;
    char kernel_size[24], rollback_size[24];
    char kernel_stamp[KSVC__STAMP_TEXT], rollback_stamp[KSVC__STAMP_TEXT];
    char bad_multi[KSVC__BAD_MAX * (KSVC_KVER_MAX + 1) + 1];
    uint32_t trial_tries, trial_used;
} ksvc__state_changes;
void ksvc__state_changes_build(const ksvc__state *st, ksvc__state_changes *c);
/* The changes that make the stored state st, leaving out those that the
 * state @p before (NULL: none) already has; their count.  @p c's entries
 * point into st and c; @p scratch is room for the comparison. */
size_t ksvc__state_changes_diff(const ksvc__state *before,
                                const ksvc__state *st, ksvc__state_changes *c,
                                ksvc__state_changes *scratch);
/* Write st; with @p before (the state as loaded), only the values that
 * differ from it. */
int ksvc__state_store(ksvc_context *ctx, const ksvc__state *before,
                      const ksvc__state *st);
int ksvc__bad_contains(const ksvc__state *st, const char *version);
void ksvc__bad_remove(ksvc__state *st, const char *version);
/* RollbackKernel absent while the primary is marked bad means an
 * administrator deleted the flag by hand: forget that the primary was bad.
 * Returns 1 when st changed. */
int ksvc__apply_manual_revert(ksvc__state *st);
int ksvc__read_string(ksvc_context *ctx, const char *key, const char *name,
                      char *buf, size_t size, int *found);
int ksvc__read_dword(ksvc_context *ctx, const char *key, const char *name,
                     uint32_t *value, int *found);
int ksvc__value_exists(ksvc_context *ctx, const char *key, const char *name,
                       int *found);
int ksvc__stat(ksvc_context *ctx, const char *name, ksvc_file_info *info);

/* ---- journal (journal.c) ---- */
#define KSVC__PLAN_MAX 2
typedef struct ksvc__journal {
    char op[16];
    size_t rename_count;
    char rename_from[KSVC__PLAN_MAX][40];
    char rename_to[KSVC__PLAN_MAX][40];
    ksvc__state target;
} ksvc__journal;
int ksvc__journal_write(ksvc_context *ctx, const ksvc__journal *j);
/* Carry out a journal just written: every rename, then the target state. */
int ksvc__journal_carry_out(ksvc_context *ctx, const ksvc__journal *j);
/* Settle a journal found pending: commit when its first rename happened,
 * else undo; then clear it.  *completed says the operation took effect. */
int ksvc__journal_finish(ksvc_context *ctx, const ksvc__journal *j,
                         int *completed);
/* Would settling this journal complete it (1) or undo it (0)? */
int ksvc__journal_committed(ksvc_context *ctx, const ksvc__journal *j,
                            int *committed);
/* Load a pending journal; *found = 0 when there is none. */
int ksvc__journal_load(ksvc_context *ctx, ksvc__journal *j, int *found);
/* Remove leftover temporary files of an operation that never journaled. */
int ksvc__remove_temporaries(ksvc_context *ctx);
/* Bring the machine to a consistent state: finish a journal, record a
 * manual revert.  Needs the lock and elevation. */
int ksvc__recover(ksvc_context *ctx);

/* ---- kernel images (image.c) ---- */
#define KSVC__IMAGE_NONE 0
#define KSVC__IMAGE_BZIMAGE 1
#define KSVC__IMAGE_ARM64 2
/* Bytes at a file's start that hold every header field read: the x86
 * kernel_version pointer reaches 0xFFFF + 0x200, then the version. */
#define KSVC__IMAGE_HEAD (0x10200u + KSVC_KVER_MAX + 2u)

/* What a kernel file is. */
typedef struct ksvc__image_info {
    int kind;                        /* KSVC__IMAGE_* */
    ksvc_arch arch;                  /* KSVC_ARCH_UNKNOWN: 32-bit x86 */
    int has_version;                 /* the image names its version */
    char version[KSVC_KVER_MAX + 1]; /* that version */
    char why[96];                    /* why the file was refused */
    uint64_t file_size;              /* ksvc__image_read: the file's size */
} ksvc__image_info;
/* Identify from the first @p head_len bytes (at most KSVC__IMAGE_HEAD are
 * looked at) of a file of @p file_size bytes; an arm64 version needs
 * ksvc__image_find_banner.  KSVC_OK or KSVC_E_BAD_PAYLOAD with info->why. */
int ksvc__image_parse_head(const unsigned char *head, size_t head_len,
                           uint64_t file_size, ksvc__image_info *info);
/* Find the first `Linux version V` banner with a valid V; returns its
 * offset (size when none) and sets info->version / has_version. */
size_t ksvc__image_find_banner(const unsigned char *data, size_t size,
                               ksvc__image_info *info);
/* Both of the above over a whole image in memory (the fuzz target). */
int ksvc__image_identify(const unsigned char *data, size_t size,
                         ksvc__image_info *info);
/* Identify an open file through the platform (detail set on failure). */
int ksvc__image_read(ksvc_context *ctx, ksvc_file *f, const char *label,
                     ksvc__image_info *info);
const char *ksvc__arch_name(ksvc_arch arch);

/* ---- locking and common preconditions (context.c) ---- */
int ksvc__lock(ksvc_context *ctx);
void ksvc__unlock(ksvc_context *ctx);
int ksvc__require_elevated(ksvc_context *ctx);
/* The frame of every operation: rights (when it changes the machine),
 * lock, recovery, then one snapshot.  Unlocks on failure. */
int ksvc__frame_begin(ksvc_context *ctx, ksvc__snapshot *snap, int mutating,
                      int verify);
void ksvc__frame_end(ksvc_context *ctx);
/* Record the plan's result as the context's last result. */
void ksvc__set_result(ksvc_context *ctx, const ksvc__plan *plan, int err);

/* ---- one snapshot of the machine (snapshot.c) ---- */

/* One slot as found: the file, its class and the version it holds. */
typedef struct ksvc__slot_view {
    const char *name;                /* KSVC__F_KERNEL or KSVC__F_ROLLBACK */
    ksvc_file_info info;             /* stat taken before any read */
    /* Not a plain file with one name: a link, a folder, a device, or a
     * file with a second name elsewhere.  Never moved, never adopted. */
    int unsafe;
    ksvc_slot_class cls;
    char holds[KSVC_KVER_MAX + 1];   /* verified: recorded; foreign: image's */
    char sha256[65];                 /* verified or foreign: its checksum */
    ksvc__stamp stamp;               /* its fingerprint when sha256 is known */
    char image_version[KSVC_KVER_MAX + 1]; /* named inside, or "" */
    char why[160];                   /* damaged: why */
} ksvc__slot_view;

/* Someone other than the administrators may change a thing that decides
 * what boots (platform table version 3, write_access). */
typedef struct ksvc__rights_finding {
    const char *what;  /* "the tools folder", "the kernel file kernel", ... */
    unsigned bit;      /* KSVC_OTHERS_MAY_WRITE_* */
    char who[1024];    /* the backend's who and how, naming the path */
    char fix[1536];    /* the command that fixes it */
} ksvc__rights_finding;
/* The tools folder, both slots and the registry store. */
#define KSVC__RIGHTS_MAX 4

/* Everything a decision needs, loaded once per operation. */
struct ksvc__snapshot {
    ksvc__state st;          /* the values, each parsed on its own */
    ksvc__slot_view kernel;
    ksvc__slot_view rollback;
    ksvc_arch arch;
    int journal_pending;     /* an interrupted operation waits */
    /* RollbackKernel was deleted by hand: st already forgets that the
     * primary was bad, the registry does not yet. */
    int manual_revert;
    ksvc__state loaded;      /* the values as read, before any of that */
    /* What an administrator's changing call folded into st of what others
     * did (KSVC_MOVED_ADOPTED); written with the call's own changes. */
    unsigned folded_moved;
    /* The version RollbackKernel says was rolled back from: its text when a
     * version, else what `kernel` holds; "" when not rolled back. */
    char flagged_bad[KSVC_KVER_MAX + 1];
    /* Who else may write: empty with a table older than version 3. */
    size_t rights_count;
    ksvc__rights_finding rights[KSVC__RIGHTS_MAX];
};

/* Load the values and classify both slots; @p verify hashes even a slot
 * whose fingerprint still holds. */
int ksvc__snapshot_load(ksvc_context *ctx, ksvc__snapshot *snap, int verify);
/* Is @p version bad: in the recorded set, or named by RollbackKernel? */
int ksvc__snap_bad(const ksvc__snapshot *snap, const char *version);
/* The slot the machine boots: the rollback slot while rolled back. */
const ksvc__slot_view *ksvc__snap_effective(const ksvc__snapshot *snap);
/* Does the slot hold a kernel that may boot: verified or foreign, safe,
 * and not bad? */
int ksvc__slot_bootable(const ksvc__snapshot *snap, const ksvc__slot_view *v);

/* ---- decisions (decide.c): pure functions of a snapshot ---- */

/* What an install is asked to do. */
typedef struct ksvc__install_request {
    const char *version;          /* the version to install (given or named) */
    unsigned flags;               /* KSVC_INSTALL_* */
    unsigned tries;               /* of the trial; 0: none */
    ksvc_precheck_reason precheck;
} ksvc__install_request;

/* A decision: refused with error and why, or allowed with the plan. */
struct ksvc__plan {
    int error;                    /* KSVC_OK: allowed */
    char why[KSVC__DETAIL_LEN];   /* the refusal's detail */
    ksvc_operation operation;
    int stage_payload;            /* copy the payload into KSVC__F_KERNEL_NEW */
    int keep_kernel_as_rollback;  /* `kernel` gets the name kernel.rollback */
    const ksvc__slot_view *restore_from; /* copy this slot into ... */
    const ksvc__slot_view *restore_to;   /* ... this one */
    int write_state;              /* the values change */
    int stamps_changed;           /* a fingerprint in target is new */
    int stamps_only;              /* only fingerprints: nothing changed */
    int stamp_auto_time;          /* target.auto_time is now */
    /* The error is returned after the values are written (an automatic
     * rollback that leaves nothing to boot). */
    int error_after_write;
    ksvc__state target;           /* the values after */
    ksvc_result result;           /* what it does, for ksvc_last_result */
};

void ksvc__decide_install(const ksvc__snapshot *snap,
                          const ksvc__install_request *req, ksvc__plan *plan);
void ksvc__decide_rollback(const ksvc__snapshot *snap, ksvc__plan *plan);
void ksvc__decide_revert(const ksvc__snapshot *snap, ksvc__plan *plan);
void ksvc__decide_repair(const ksvc__snapshot *snap, ksvc__plan *plan);
/* What an administrator's open records: a rollback made by another tool,
 * a manual revert, foreign kernels of good versions. */
void ksvc__decide_reconcile(const ksvc__snapshot *snap, ksvc__plan *plan);
/* The slot to boot, or the refusal (error and why). */
void ksvc__decide_boot(const ksvc__snapshot *snap, ksvc__plan *plan,
                       const ksvc__slot_view **boot);
/* Is `kernel` on trial (and the slot the machine boots)? */
int ksvc__on_trial(const ksvc__snapshot *snap);
/* A launcher starts the VM: the slot to boot, a try counted, or the
 * automatic rollback when the tries are used up. */
void ksvc__decide_boot_begin(const ksvc__snapshot *snap, int elevated,
                             ksvc__plan *plan, const ksvc__slot_view **boot);
/* The guest came up: the boot recorded, the trial ended. */
void ksvc__decide_boot_confirm(const ksvc__snapshot *snap, ksvc__plan *plan,
                               ksvc_operation op);

/* ---- carrying a plan out (execute.c) ---- */
/* Stage the files, journal, rename, write the values.  @p payload is the
 * payload's path when the plan stages one, @p expected_sha its expected
 * SHA-256 or NULL, @p image what the decision read of it. */
int ksvc__execute(ksvc_context *ctx, const ksvc__snapshot *snap,
                  ksvc__plan *plan, const char *payload,
                  const char *expected_sha, const ksvc__image_info *image);

/* Identify the kernel image of the payload (@p payload) or of a file in
 * the tools folder. */
int ksvc__read_image(ksvc_context *ctx, int payload, const char *name,
                     ksvc__image_info *info);

/* ---- pre-check (precheck.c) ---- */
int ksvc__precheck_run(ksvc_context *ctx, ksvc_precheck_result *r);

/* ---- files (policy.c) ---- */
/* Copy from an open file into a new slot temp, syncing it, hashing it. */
int ksvc__copy_to_temp(ksvc_context *ctx, ksvc_file *src, const char *src_label,
                       const char *temp_name, char sha_hex[65],
                       uint64_t *size);

#endif /* KSVC_INTERNAL_H */
