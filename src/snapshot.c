/*
 * One snapshot of the machine: every value parsed on its own, both slots
 * classified as missing, verified, foreign or damaged.  Every decision of
 * the library is a function of one snapshot (decide.c), so the classes
 * here are the one place where a file on disk gets its meaning.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

const char *ksvc_slot_class_name(ksvc_slot_class cls)
{
    switch (cls) {
    case KSVC_SLOT_CLASS_MISSING:
        return "missing";
    case KSVC_SLOT_CLASS_VERIFIED:
        return "verified";
    case KSVC_SLOT_CLASS_FOREIGN:
        return "foreign";
    case KSVC_SLOT_CLASS_DAMAGED:
        return "damaged";
    default:
        return "unknown";
    }
}

static void damaged(ksvc__slot_view *v, const char *fmt, const char *arg)
{
    v->cls = KSVC_SLOT_CLASS_DAMAGED;
    v->holds[0] = '\0';
    snprintf(v->why, sizeof v->why, fmt, arg);
}

/* Hash the slot's bytes; the stamp of the stat taken before the read is
 * what a later operation may record (a write after it moves the change
 * time away from it). */
static int hash_slot(ksvc_context *ctx, ksvc__slot_view *v, int *same_size)
{
    uint64_t size;
    int err = ksvc__hash_slot(ctx, v->name, v->sha256, &size);

    if (err)
        return err;
    *same_size = size == v->info.size;
    ksvc__stamp_of(&v->info, &v->stamp);
    return KSVC_OK;
}

/* Do the bytes match the record?  A file that still carries the stamp
 * recorded when they last did is not read again (unless @p verify). */
static int matches_record(ksvc_context *ctx, ksvc__slot_view *v,
                          const ksvc__slot_meta *m, int verify, int *match)
{
    int same_size, err;

    *match = 0;
    if (!m->recorded || !m->sha256[0] ||
        (m->has_size && m->size != v->info.size))
        return KSVC_OK;
    if (!verify && ksvc__stamp_matches(&m->stamp, &v->info)) {
        strcpy(v->sha256, m->sha256);
        v->stamp = m->stamp;
        *match = 1;
        return KSVC_OK;
    }
    err = hash_slot(ctx, v, &same_size);
    if (err)
        return err;
    *match = same_size && !strcmp(v->sha256, m->sha256);
    if (!*match)
        v->sha256[0] = '\0';
    return KSVC_OK;
}

/* Read the image header (and arm64 banner) of a present slot. */
static int read_slot_image(ksvc_context *ctx, ksvc__slot_view *v,
                           ksvc__image_info *image, int *is_image)
{
    int err = ksvc__read_image(ctx, 0, v->name, image);

    *is_image = 0;
    if (err == KSVC_E_BAD_PAYLOAD) {
        ksvc__clear_error(ctx);
        return KSVC_OK;
    }
    *is_image = !err;
    if (!err && image->has_version)
        strcpy(v->image_version, image->version);
    return err;
}

/* A file the record does not describe: foreign when it is a complete
 * image for this machine naming a version, else damaged.  An image that
 * names the very version the library recorded with other bytes is that
 * kernel damaged on disk, not another kernel. */
static int classify_unrecorded(ksvc_context *ctx, const ksvc__snapshot *snap,
                               ksvc__slot_view *v, const ksvc__slot_meta *m)
{
    ksvc__image_info image;
    int is_image, same_size, err = read_slot_image(ctx, v, &image, &is_image);

    if (err)
        return err;
    if (!is_image) {
        damaged(v, "%s", image.why[0] ? image.why : "not a kernel image");
        return KSVC_OK;
    }
    if (image.arch != snap->arch) {
        damaged(v, "a kernel image for %s", ksvc__arch_name(image.arch));
        return KSVC_OK;
    }
    if (m->recorded && m->sha256[0] && image.has_version &&
        ksvc__kver_equal(image.version, m->version)) {
        damaged(v, "its bytes differ from the recorded checksum of version "
                   "%s",
                m->version);
        return KSVC_OK;
    }
    if (image.has_version)
        strcpy(v->holds, image.version);
    else if (m->recorded && !m->sha256[0])
        strcpy(v->holds, m->version); /* another installer's record */
    else {
        damaged(v, "%s", "its image names no version and nothing records one");
        return KSVC_OK;
    }
    err = hash_slot(ctx, v, &same_size);
    if (err)
        return err;
    v->cls = KSVC_SLOT_CLASS_FOREIGN;
    return KSVC_OK;
}

static int classify(ksvc_context *ctx, const ksvc__snapshot *snap,
                    ksvc__slot_view *v, const char *name,
                    const ksvc__slot_meta *m, int verify)
{
    int match, err;

    memset(v, 0, sizeof *v);
    v->name = name;
    err = ksvc__stat(ctx, name, &v->info);
    if (err)
        return err;
    if (v->info.kind == KSVC_FILE_NONE) {
        v->cls = KSVC_SLOT_CLASS_MISSING;
        return KSVC_OK;
    }
    if (v->info.kind != KSVC_FILE_REGULAR) {
        v->unsafe = 1;
        damaged(v, "%s", "a link, a folder or a device, not a kernel file");
        return KSVC_OK;
    }
    /* A second name elsewhere would let someone else change a kernel this
     * library vouches for: classified by its bytes, but never used. */
    v->unsafe = v->info.links > 1;
    err = matches_record(ctx, v, m, verify, &match);
    if (err || !match)
        return err ? err : classify_unrecorded(ctx, snap, v, m);
    v->cls = KSVC_SLOT_CLASS_VERIFIED;
    strcpy(v->holds, m->version);
    /* The version inside is shown by status: reading the header costs a
     * few kilobytes, not a hash. */
    {
        ksvc__image_info image;
        int is_image;
        err = read_slot_image(ctx, v, &image, &is_image);
    }
    return err;
}

int ksvc__snap_bad(const ksvc__snapshot *snap, const char *version)
{
    if (!version[0])
        return 0;
    if (snap->flagged_bad[0] && ksvc__kver_equal(snap->flagged_bad, version))
        return 1;
    return ksvc__bad_contains(&snap->st, version);
}

const ksvc__slot_view *ksvc__snap_effective(const ksvc__snapshot *snap)
{
    return snap->st.rolled_back ? &snap->rollback : &snap->kernel;
}

int ksvc__slot_bootable(const ksvc__snapshot *snap, const ksvc__slot_view *v)
{
    return !v->unsafe &&
           (v->cls == KSVC_SLOT_CLASS_VERIFIED ||
            v->cls == KSVC_SLOT_CLASS_FOREIGN) &&
           !ksvc__snap_bad(snap, v->holds);
}

/* RollbackKernel gone while `kernel` still holds, verified, the version
 * the library recorded as rolled back from: an administrator reverted by
 * hand.  Only a verified kernel tells: a file another installer or a hand
 * put there, naming a bad version, is no revert and stays bad.  A standard
 * user sees the revert too (only an administrator records it), so the
 * primary boots for everyone once the flag is gone. */
static void see_manual_revert(ksvc__snapshot *snap)
{
    ksvc__state *st = &snap->st;

    if (st->rolled_back || snap->kernel.cls != KSVC_SLOT_CLASS_VERIFIED ||
        !ksvc__bad_contains(st, snap->kernel.holds))
        return;
    ksvc__bad_remove(st, snap->kernel.holds);
    snap->manual_revert = 1;
}

/* RollbackKernel names the version rolled back from; when its text is not
 * a version (another tool wrote a number, say), that is the version the
 * primary holds, or failing that, the one recorded for it. */
static void flag_names_bad(ksvc__snapshot *snap)
{
    const char *named = snap->st.rolled_back_from;

    if (!named[0])
        named = snap->kernel.holds[0] ? snap->kernel.holds
                                      : snap->st.kernel.version;
    strcpy(snap->flagged_bad, named);
}

/* Ask the backend who may write @p name (see platform.h); a finding is
 * kept under @p what. */
static int rights_of(ksvc_context *ctx, ksvc__snapshot *snap,
                     const char *name, const char *what, unsigned bit)
{
    ksvc__rights_finding *r = &snap->rights[snap->rights_count];
    unsigned others = 0;
    int err = ctx->p->write_access(ctx->p, name, &others, r->who,
                                   sizeof r->who, r->fix, sizeof r->fix);

    if (err)
        return ksvc__platform_fail(ctx, err, "reading who may write");
    if (!others)
        return KSVC_OK;
    r->who[sizeof r->who - 1] = r->fix[sizeof r->fix - 1] = '\0';
    r->what = what;
    r->bit = bit;
    snap->rights_count++;
    return KSVC_OK;
}

/* Whoever may write the tools folder, a slot or the record chooses the
 * kernel the machine boots: each such finding is kept for status and for
 * the refusals of decide.c.  A table older than version 3 cannot tell. */
static int load_rights(ksvc_context *ctx, ksvc__snapshot *snap)
{
    int err;

    if (ctx->p->version < 3)
        return KSVC_OK;
    err = rights_of(ctx, snap, "", "the tools folder",
                    KSVC_OTHERS_MAY_WRITE_TOOLS);
    if (!err && snap->kernel.info.kind != KSVC_FILE_NONE)
        err = rights_of(ctx, snap, KSVC__F_KERNEL,
                        "the kernel file " KSVC__F_KERNEL,
                        KSVC_OTHERS_MAY_WRITE_KERNEL);
    if (!err && snap->rollback.info.kind != KSVC_FILE_NONE)
        err = rights_of(ctx, snap, KSVC__F_ROLLBACK,
                        "the kernel file " KSVC__F_ROLLBACK,
                        KSVC_OTHERS_MAY_WRITE_ROLLBACK);
    if (!err)
        err = rights_of(ctx, snap, NULL, "the registry",
                        KSVC_OTHERS_MAY_WRITE_REGISTRY);
    return err;
}

int ksvc__snapshot_load(ksvc_context *ctx, ksvc__snapshot *snap, int verify)
{
    ksvc__journal *j;
    int err;

    memset(snap, 0, sizeof *snap);
    err = ksvc__state_load(ctx, &snap->st);
    if (!err)
        snap->loaded = snap->st;
    if (!err) {
        err = ctx->p->arch(ctx->p, &snap->arch);
        if (err)
            err = ksvc__platform_fail(ctx, err, "reading the architecture");
    }
    if (!err)
        err = classify(ctx, snap, &snap->kernel, KSVC__F_KERNEL,
                       &snap->st.kernel, verify);
    if (!err)
        err = classify(ctx, snap, &snap->rollback, KSVC__F_ROLLBACK,
                       &snap->st.rollback, verify);
    if (!err)
        err = load_rights(ctx, snap);
    if (err)
        return err;
    see_manual_revert(snap);
    if (snap->st.rolled_back)
        flag_names_bad(snap);
    j = malloc(sizeof *j);
    if (!j)
        return ksvc__fail(ctx, KSVC_E_NO_MEMORY, "reading the journal");
    err = ksvc__journal_load(ctx, j, &snap->journal_pending);
    free(j);
    /* A journal that does not parse is a problem for status to name, not
     * a reason to stop reading the machine. */
    if (err == KSVC_E_BAD_VALUE) {
        snap->journal_pending = 1;
        ksvc__clear_error(ctx);
        err = KSVC_OK;
    }
    return err;
}
