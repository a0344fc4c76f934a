/* Contexts, locking, status and the boot path. */
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

/* Methods every version-1 table must have. */
static int platform_complete(const ksvc_platform *p)
{
    return p->file_open && p->payload_open && p->file_read && p->file_write &&
           p->file_sync && p->file_size && p->file_close && p->stat &&
           p->rename && p->remove && p->hard_link && p->list &&
           p->full_path && p->reg_read && p->reg_write && p->reg_key_exists &&
           p->arch && p->elevated && p->lock && p->unlock;
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

/* Recovery writes, so it only runs for an administrator; a standard user
 * still sees the state, with the pending work listed among the problems. */
static int recover_if_allowed(ksvc_context *ctx)
{
    int elevated, err = is_elevated(ctx, &elevated);

    if (err || !elevated)
        return err;
    return ksvc__recover(ctx);
}

int ksvc__begin(ksvc_context *ctx, ksvc__state *st, int mutating)
{
    int err;

    ksvc__clear_error(ctx);
    if (mutating) {
        err = ksvc__require_elevated(ctx);
        if (err)
            return err;
    }
    err = ksvc__lock(ctx);
    if (err)
        return err;
    err = recover_if_allowed(ctx);
    if (!err)
        err = ksvc__state_load(ctx, st);
    /* A standard user cannot record a manual revert, but sees it all the
     * same, so the primary boots for everyone once the flag is gone. */
    if (!err)
        ksvc__apply_manual_revert(st);
    if (err)
        ksvc__unlock(ctx);
    return err;
}

int ksvc__run_mutation(ksvc_context *ctx,
                       int (*op)(ksvc_context *ctx, ksvc__state *st))
{
    ksvc__state st;
    int err;

    if (!ctx)
        return KSVC_E_INVALID_ARGUMENT;
    err = ksvc__begin(ctx, &st, 1);
    if (err)
        return err;
    err = op(ctx, &st);
    ksvc__unlock(ctx);
    return err;
}

int ksvc_open(ksvc_context **out, const ksvc_platform *platform,
              const ksvc_open_options *options)
{
    ksvc_open_options defaults = KSVC_OPEN_OPTIONS_INIT;
    ksvc_context *ctx;
    ksvc__state st;
    int err;

    if (!out)
        return KSVC_E_INVALID_ARGUMENT;
    *out = NULL;
    if (!platform)
        return KSVC_E_INVALID_ARGUMENT;
    if (!options)
        options = &defaults;
    if (options->version != KSVC_OPEN_OPTIONS_VERSION)
        return KSVC_E_STRUCT_VERSION;
    if (platform->version < 1)
        return KSVC_E_PLATFORM_VERSION;
    if (!platform_complete(platform))
        return KSVC_E_INVALID_ARGUMENT;
    ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return KSVC_E_NO_MEMORY;
    ctx->p = platform;
    ctx->lock_timeout_ms = options->lock_timeout_ms;
    err = ksvc__begin(ctx, &st, 0);
    if (err) {
        free(ctx);
        return err;
    }
    ksvc__unlock(ctx);
    *out = ctx;
    return KSVC_OK;
}

void ksvc_close(ksvc_context *ctx)
{
    if (!ctx)
        return;
    ksvc__unlock(ctx);
    free(ctx);
}

/* ---- status ---- */

static void add_problem(ksvc_context *ctx, ksvc_status *s, const char *fmt,
                        const char *arg)
{
    if (s->problem_count == KSVC__PROBLEM_MAX)
        return;
    snprintf(ctx->problems[s->problem_count], KSVC__PROBLEM_LEN, fmt, arg);
    ctx->problem_ptrs[s->problem_count] = ctx->problems[s->problem_count];
    s->problem_count++;
}

/* Fill one slot's status from the file and the record.  The bytes are
 * hashed unless the file still carries the stamp recorded when they last
 * matched (KSVC_STATUS_VERIFY hashes all the same). */
static int describe_slot(ksvc_context *ctx, const char *name,
                         const ksvc__slot_meta *m, const ksvc__state *st,
                         unsigned flags, ksvc_slot_status *out)
{
    ksvc_file_info info;
    int err = ksvc__stat(ctx, name, &info);

    memset(out, 0, sizeof *out);
    if (err)
        return err;
    out->present = info.kind == KSVC_FILE_REGULAR;
    out->size = out->present ? info.size : 0;
    out->recorded = m->recorded;
    strcpy(out->kernel_version, m->version);
    strcpy(out->sha256, m->sha256);
    out->bad = m->recorded && ksvc__bad_contains(st, m->version);
    out->intact = out->present && m->recorded &&
                  (!m->has_size || m->size == info.size);
    /* Bytes changed behind the library's back, even with the size kept,
     * moved the change time, so they are hashed and never reported intact.
     * Status only reads: a stamp is recorded by operations that write. */
    if (out->intact && m->sha256[0] &&
        ((flags & KSVC_STATUS_VERIFY) ||
         !ksvc__stamp_matches(&m->stamp, &info))) {
        char actual[65];
        uint64_t size;
        err = ksvc__hash_slot(ctx, name, actual, &size);
        if (err)
            return err;
        out->intact = !strcmp(actual, m->sha256) && size == info.size;
    }
    return KSVC_OK;
}

/* The version named inside a present slot's image, "" when none. */
static int image_version(ksvc_context *ctx, const char *name, int present,
                         char out[KSVC_KVER_MAX + 1])
{
    ksvc__image_info info;
    ksvc_file *f;
    int err;

    out[0] = '\0';
    if (!present)
        return KSVC_OK;
    err = ctx->p->file_open(ctx->p, name, KSVC_OPEN_READ, &f);
    if (err)
        return ksvc__platform_fail(ctx, err, name);
    err = ksvc__image_read(ctx, f, name, &info);
    ctx->p->file_close(f);
    if (err == KSVC_E_BAD_PAYLOAD)
        return KSVC_OK; /* not an image: no version to show */
    if (!err && info.has_version)
        strcpy(out, info.version);
    return err;
}

/* A slot whose image names another version than the one recorded. */
static void check_image_version(ksvc_context *ctx, ksvc_status *s,
                                const ksvc_slot_status *slot,
                                const char *image, const char *name)
{
    if (slot->recorded && image[0] &&
        !ksvc__kver_equal(image, slot->kernel_version))
        add_problem(ctx, s,
                    "The kernel file %s names another version in its image "
                    "than the one recorded.",
                    name);
}

static void list_problems(ksvc_context *ctx, ksvc_status *s,
                          int journal_pending)
{
    const ksvc_slot_status *eff = s->effective == KSVC_SLOT_ROLLBACK
                                      ? &s->rollback
                                      : &s->kernel;
    const char *eff_name = s->effective == KSVC_SLOT_ROLLBACK
                               ? KSVC__F_ROLLBACK
                               : KSVC__F_KERNEL;

    if (!eff->present)
        add_problem(ctx, s, "%s", KSVC_MSG_KERNEL_MISSING);
    else if (!eff->intact)
        add_problem(ctx, s,
                    "The kernel file %s does not match its recorded version "
                    "and checksum; run repair.",
                    eff_name);
    if (s->effective != KSVC_SLOT_ROLLBACK && s->rollback.present &&
        !s->rollback.intact)
        add_problem(ctx, s, "The rollback kernel %s is damaged.",
                    KSVC__F_ROLLBACK);
    if (s->rolled_back && !s->rollback.present)
        add_problem(ctx, s, "%s",
                    "The machine is rolled back but kernel.rollback is "
                    "missing.");
    if (journal_pending)
        add_problem(ctx, s, "%s",
                    "An interrupted servicing operation waits for an "
                    "administrator to finish it.");
    check_image_version(ctx, s, &s->kernel, s->kernel_image_version,
                        KSVC__F_KERNEL);
    check_image_version(ctx, s, &s->rollback, s->rollback_image_version,
                        KSVC__F_ROLLBACK);
}

static void fill_status(ksvc_context *ctx, const ksvc__state *st,
                        ksvc_status *s)
{
    size_t i;

    s->rolled_back = st->rolled_back;
    strcpy(s->rolled_back_from, st->rolled_back_from);
    s->bad_count = st->bad_count;
    for (i = 0; i < st->bad_count; i++)
        ctx->bad_ptrs[i] = ctx->status_state.bad[i];
    s->bad_versions = ctx->bad_ptrs;
    s->problems = ctx->problem_ptrs;
    s->problem_count = 0;
}

static int status_locked(ksvc_context *ctx, ksvc_status *s)
{
    const ksvc__state *st = &ctx->status_state;
    const ksvc_slot_status *eff;
    ksvc__journal j;
    int journal_pending, err;

    fill_status(ctx, st, s);
    err = describe_slot(ctx, KSVC__F_KERNEL, &st->kernel, st, s->flags,
                        &s->kernel);
    if (!err)
        err = describe_slot(ctx, KSVC__F_ROLLBACK, &st->rollback, st,
                            s->flags, &s->rollback);
    if (!err)
        err = image_version(ctx, KSVC__F_KERNEL, s->kernel.present,
                            s->kernel_image_version);
    if (!err)
        err = image_version(ctx, KSVC__F_ROLLBACK, s->rollback.present,
                            s->rollback_image_version);
    if (!err)
        err = ksvc__journal_load(ctx, &j, &journal_pending);
    if (err)
        return err;
    s->effective = st->rolled_back ? KSVC_SLOT_ROLLBACK : KSVC_SLOT_KERNEL;
    eff = st->rolled_back ? &s->rollback : &s->kernel;
    s->restart_required =
        eff->present && strcmp(st->booted_sha256, eff->sha256) != 0;
    list_problems(ctx, s, journal_pending);
    if (!eff->present)
        s->effective = KSVC_SLOT_NONE;
    return KSVC_OK;
}

int ksvc_status_get(ksvc_context *ctx, ksvc_status *status)
{
    ksvc_status s = KSVC_STATUS_INIT;
    int err;

    if (!ctx || !status)
        return KSVC_E_INVALID_ARGUMENT;
    ksvc__clear_error(ctx);
    if (status->version < 1 || status->version > KSVC_STATUS_VERSION)
        return ksvc__fail(ctx, KSVC_E_STRUCT_VERSION,
                          "ksvc_status version %u, expected 1 to %u",
                          status->version, KSVC_STATUS_VERSION);
    s.flags = status->flags;
    err = ksvc__begin(ctx, &ctx->status_state, 0);
    if (err)
        return err;
    err = status_locked(ctx, &s);
    ksvc__unlock(ctx);
    if (!err) {
        /* A version-1 caller's structure ends before the image versions. */
        s.version = status->version;
        memcpy(status, &s,
               status->version == 1
                   ? offsetof(ksvc_status, kernel_image_version)
                   : sizeof s);
    }
    return err;
}

/* ---- boot ---- */

/* The slot to boot, refusing a missing file, a foreign object or a bad
 * version. */
static int effective_slot(ksvc_context *ctx, const ksvc__state *st,
                          const char **name, const ksvc__slot_meta **meta)
{
    ksvc_file_info info;
    int err;

    *name = st->rolled_back ? KSVC__F_ROLLBACK : KSVC__F_KERNEL;
    *meta = st->rolled_back ? &st->rollback : &st->kernel;
    err = ksvc__stat(ctx, *name, &info);
    if (err)
        return err;
    if (info.kind == KSVC_FILE_NONE)
        return ksvc__fail(ctx, KSVC_E_KERNEL_MISSING, "%s is missing",
                          *name);
    if (info.kind != KSVC_FILE_REGULAR)
        return ksvc__fail(ctx, KSVC_E_UNSAFE_PATH,
                          "%s is not a regular file", *name);
    if ((*meta)->recorded && ksvc__bad_contains(st, (*meta)->version))
        return ksvc__fail(ctx, KSVC_E_BAD_VERSION,
                          "%s holds version %s, which is marked bad", *name,
                          (*meta)->version);
    return KSVC_OK;
}

int ksvc_boot_path(ksvc_context *ctx, char *buf, size_t size)
{
    const ksvc__slot_meta *meta;
    const char *name;
    ksvc__state st;
    int err;

    if (!ctx || !buf || size == 0)
        return KSVC_E_INVALID_ARGUMENT;
    err = ksvc__begin(ctx, &st, 0);
    if (err)
        return err;
    err = effective_slot(ctx, &st, &name, &meta);
    if (!err) {
        err = ctx->p->full_path(ctx->p, name, buf, size);
        if (err)
            err = ksvc__platform_fail(ctx, err, name);
    }
    ksvc__unlock(ctx);
    return err;
}

static int record_boot_locked(ksvc_context *ctx, ksvc__state *st)
{
    const ksvc__slot_meta *meta;
    const char *name;
    int err = effective_slot(ctx, st, &name, &meta);

    if (err || !strcmp(st->booted_sha256, meta->sha256))
        return err;
    strcpy(st->booted_sha256, meta->sha256);
    return ksvc__state_store(ctx, st);
}

int ksvc_record_boot(ksvc_context *ctx)
{
    return ksvc__run_mutation(ctx, record_boot_locked);
}
