/*
 * Internal declarations of the policy core.  Nothing here includes an OS
 * header: the core reaches the machine only through a ksvc_platform.
 */
#ifndef KSVC_INTERNAL_H
#define KSVC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <kservice/kservice.h>

/* Registry key of the servicing values and of the machine facts. */
#define KSVC__LXSS_KEY "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Lxss"
#define KSVC__NT_KEY "SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion"
#define KSVC__LXSSMANAGER_KEY                                                \
    "SYSTEM\\CurrentControlSet\\Services\\LxssManager"
#define KSVC__REBOOT_KEY                                                     \
    "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Component Based "        \
    "Servicing\\RebootPending"

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

/* File names in the tools folder. */
#define KSVC__F_KERNEL "kernel"
#define KSVC__F_ROLLBACK "kernel.rollback"
#define KSVC__F_KERNEL_NEW "kernel.kservice-new"
#define KSVC__F_ROLLBACK_NEW "kernel.rollback.kservice-new"

/* Most versions the bad set holds. */
#define KSVC__BAD_MAX 64
/* Most problems one status reports. */
#define KSVC__PROBLEM_MAX 16
#define KSVC__PROBLEM_LEN 256
#define KSVC__DETAIL_LEN 1024
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
    int recorded;                      /* a version is recorded */
    char version[KSVC_KVER_MAX + 1];
    char sha256[65];                   /* "" when not recorded */
    int has_size;
    uint64_t size;
    ksvc__stamp stamp;                 /* KServiceKernelStamp and the like */
    /* Never stored: this operation wrote or verified the file it puts in
     * this slot, so the journal commit may stamp it. */
    int verified;
} ksvc__slot_meta;

/* The whole servicing state as the registry records it. */
typedef struct ksvc__state {
    ksvc__slot_meta kernel;
    ksvc__slot_meta rollback;
    int rolled_back;                       /* RollbackKernel present */
    char rolled_back_from[KSVC_KVER_MAX + 1];
    size_t bad_count;
    char bad[KSVC__BAD_MAX][KSVC_KVER_MAX + 1];
    char booted_sha256[65];                /* "" when never recorded */
} ksvc__state;

struct ksvc_context {
    const ksvc_platform *p;
    unsigned lock_timeout_ms;
    int locked;
    long os_error;
    char detail[KSVC__DETAIL_LEN];
    /* Storage behind ksvc_status pointers, valid until the next call. */
    const char *bad_ptrs[KSVC__BAD_MAX];
    const char *problem_ptrs[KSVC__PROBLEM_MAX];
    char problems[KSVC__PROBLEM_MAX][KSVC__PROBLEM_LEN];
    ksvc__state status_state;
};

/* ---- errors (error.c) ---- */
void ksvc__clear_error(ksvc_context *ctx);
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
    ksvc_reg_change change[16];
    size_t count;
    char kernel_size[24], rollback_size[24];
    char kernel_stamp[KSVC__STAMP_TEXT], rollback_stamp[KSVC__STAMP_TEXT];
    char bad_multi[KSVC__BAD_MAX * (KSVC_KVER_MAX + 1) + 1];
} ksvc__state_changes;
void ksvc__state_changes_build(const ksvc__state *st, ksvc__state_changes *c);
int ksvc__state_store(ksvc_context *ctx, const ksvc__state *st);
int ksvc__bad_contains(const ksvc__state *st, const char *version);
int ksvc__bad_add(ksvc_context *ctx, ksvc__state *st, const char *version);
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
/* Lock, recover, load: the start of every operation.  Unlocks on failure. */
int ksvc__begin(ksvc_context *ctx, ksvc__state *st, int mutating);
/* Begin a mutating operation, run op on the loaded state, unlock. */
int ksvc__run_mutation(ksvc_context *ctx,
                       int (*op)(ksvc_context *ctx, ksvc__state *st));

/* ---- pre-check (precheck.c) ---- */
int ksvc__precheck_run(ksvc_context *ctx, ksvc_precheck_result *r);

/* ---- files (policy.c) ---- */
/* Copy from an open file into a new slot temp, syncing it, hashing it. */
int ksvc__copy_to_temp(ksvc_context *ctx, ksvc_file *src, const char *src_label,
                       const char *temp_name, char sha_hex[65],
                       uint64_t *size);

#endif /* KSVC_INTERNAL_H */
