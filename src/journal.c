/*
 * The operation journal: how install and repair survive a crash.
 *
 * An operation first writes every new file under a temporary name and syncs
 * it, then records in the registry value KServiceJournal the renames still
 * to do and the complete state to record once they are done.  The first
 * rename into a slot is the commit point: while its source still exists
 * nothing visible has changed and recovery undoes the operation (removes
 * the temporaries); once it is gone recovery finishes the remaining renames
 * and writes the target state, deleting the journal in the same write.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Room for the whole target state: the bad set with its field names, and
 * the rest. */
#define JOURNAL_ROOM (KSVC__BAD_MAX * (KSVC_KVER_MAX + 6) + 8192)

/* The only renames a journal may ask for: a damaged or planted journal
 * can never move anything else. */
static const char *const allowed_renames[][2] = {
    {KSVC__F_ROLLBACK_NEW, KSVC__F_ROLLBACK},
    {KSVC__F_KERNEL_NEW, KSVC__F_KERNEL},
};

static int rename_allowed(const char *from, const char *to)
{
    size_t i;

    for (i = 0; i < sizeof allowed_renames / sizeof allowed_renames[0]; i++)
        if (!strcmp(from, allowed_renames[i][0]) &&
            !strcmp(to, allowed_renames[i][1]))
            return 1;
    return 0;
}

/* ---- encoding: a REG_MULTI_SZ of "field=value" entries ---- */

typedef struct writer {
    char buf[JOURNAL_ROOM];
    size_t used;
    int overflow;
} writer;

static void put(writer *w, const char *field, const char *value)
{
    int n = snprintf(w->buf + w->used, sizeof w->buf - w->used, "%s=%s",
                     field, value);
    if (n < 0 || (size_t)n + 2 > sizeof w->buf - w->used) {
        w->overflow = 1;
        return;
    }
    w->used += (size_t)n + 1;
}

static void put_slot(writer *w, const char *prefix, const ksvc__slot_meta *m)
{
    char field[32], size[24]; /* "rollback.version" needs 17 bytes */

    if (!m->recorded)
        return;
    snprintf(field, sizeof field, "%s.version", prefix);
    put(w, field, m->version);
    snprintf(field, sizeof field, "%s.sha256", prefix);
    put(w, field, m->sha256);
    if (m->has_size) {
        snprintf(field, sizeof field, "%s.size", prefix);
        snprintf(size, sizeof size, "%llu", (unsigned long long)m->size);
        put(w, field, size);
    }
}

static void put_number(writer *w, const char *field, uint32_t value)
{
    char text[16];

    snprintf(text, sizeof text, "%lu", (unsigned long)value);
    put(w, field, text);
}

static void put_trial(writer *w, const ksvc__state *t)
{
    if (t->trial_version[0]) {
        put(w, "trial.version", t->trial_version);
        put_number(w, "trial.used", t->trial_used);
    }
    if (t->has_trial_tries)
        put_number(w, "trial.tries", t->trial_tries);
    if (t->auto_reason[0])
        put(w, "auto.reason", t->auto_reason);
    if (t->auto_time[0])
        put(w, "auto.time", t->auto_time);
}

static void encode(const ksvc__journal *j, writer *w)
{
    char pair[96];
    size_t i;

    w->used = 0;
    w->overflow = 0;
    put(w, "op", j->op);
    for (i = 0; i < j->rename_count; i++) {
        snprintf(pair, sizeof pair, "%s>%s", j->rename_from[i],
                 j->rename_to[i]);
        put(w, "rename", pair);
    }
    put_slot(w, "kernel", &j->target.kernel);
    put_slot(w, "rollback", &j->target.rollback);
    if (j->target.rolled_back)
        put(w, "rolled_back_from", j->target.rolled_back_from);
    for (i = 0; i < j->target.bad_count; i++)
        put(w, "bad", j->target.bad[i]);
    if (j->target.booted_sha256[0])
        put(w, "booted", j->target.booted_sha256);
    put_trial(w, &j->target);
    w->buf[w->used++] = '\0';
}

int ksvc__journal_write(ksvc_context *ctx, const ksvc__journal *j)
{
    writer *w = malloc(sizeof *w);
    ksvc_reg_change change;
    int err;

    if (!w)
        return ksvc__fail(ctx, KSVC_E_NO_MEMORY, "writing the journal");
    encode(j, w);
    if (w->overflow) {
        free(w);
        return ksvc__fail(ctx, KSVC_E_TOO_LONG, "the journal is too long");
    }
    change.name = KSVC__V_JOURNAL;
    change.remove = 0;
    change.type = KSVC_REG_MULTI_SZ;
    change.data = w->buf;
    change.size = w->used;
    err = ctx->p->reg_write(ctx->p, KSVC__LXSS_KEY, &change, 1);
    free(w);
    return err ? ksvc__platform_fail(ctx, err, "writing the journal") : KSVC_OK;
}

/* ---- decoding: every field is checked, the journal is untrusted ---- */

static int parse_size(const char *text, uint64_t *size)
{
    uint64_t v = 0;

    if (!*text)
        return 0;
    for (; *text; text++) {
        if (*text < '0' || *text > '9' || v > (UINT64_MAX - 9) / 10)
            return 0;
        v = v * 10 + (uint64_t)(*text - '0');
    }
    *size = v;
    return 1;
}

static int decode_slot_field(ksvc__slot_meta *m, const char *field,
                             const char *value)
{
    if (!strcmp(field, "version")) {
        m->recorded = 1;
        return ksvc__kver_valid(value) &&
               ksvc__copy_str(m->version, sizeof m->version, value) == 0;
    }
    if (!strcmp(field, "sha256"))
        return ksvc__sha256_hex_valid(value) &&
               ksvc__copy_str(m->sha256, sizeof m->sha256, value) == 0;
    if (!strcmp(field, "size"))
        return (m->has_size = parse_size(value, &m->size));
    return 0;
}

static int decode_rename(ksvc__journal *j, const char *value)
{
    const char *sep = strchr(value, '>');
    size_t from_len;

    if (!sep || j->rename_count == KSVC__PLAN_MAX)
        return 0;
    from_len = (size_t)(sep - value);
    if (from_len >= sizeof j->rename_from[0] ||
        strlen(sep + 1) >= sizeof j->rename_to[0])
        return 0;
    memcpy(j->rename_from[j->rename_count], value, from_len);
    j->rename_from[j->rename_count][from_len] = '\0';
    strcpy(j->rename_to[j->rename_count], sep + 1);
    if (!rename_allowed(j->rename_from[j->rename_count],
                        j->rename_to[j->rename_count]))
        return 0;
    j->rename_count++;
    return 1;
}

static int decode_count(const char *value, uint32_t *out)
{
    uint64_t v;

    if (!parse_size(value, &v) || v > KSVC__TRIES_MAX)
        return 0;
    *out = (uint32_t)v;
    return 1;
}

static int decode_trial(ksvc__state *t, const char *field, const char *value)
{
    if (!strcmp(field, "trial.version"))
        return ksvc__kver_valid(value) &&
               ksvc__copy_str(t->trial_version, sizeof t->trial_version,
                              value) == 0;
    if (!strcmp(field, "trial.used"))
        return decode_count(value, &t->trial_used);
    if (!strcmp(field, "trial.tries"))
        return (t->has_trial_tries = decode_count(value, &t->trial_tries));
    if (!strcmp(field, "auto.reason"))
        return ksvc__copy_str(t->auto_reason, sizeof t->auto_reason,
                              value) == 0;
    if (!strcmp(field, "auto.time"))
        return ksvc__copy_str(t->auto_time, sizeof t->auto_time, value) == 0;
    return 0;
}

static int decode_entry(ksvc__journal *j, const char *field, const char *value)
{
    ksvc__state *t = &j->target;

    if (!strncmp(field, "trial.", 6) || !strncmp(field, "auto.", 5))
        return decode_trial(t, field, value);
    if (!strcmp(field, "op"))
        return ksvc__copy_str(j->op, sizeof j->op, value) == 0;
    if (!strcmp(field, "rename"))
        return decode_rename(j, value);
    if (!strncmp(field, "kernel.", 7))
        return decode_slot_field(&t->kernel, field + 7, value);
    if (!strncmp(field, "rollback.", 9))
        return decode_slot_field(&t->rollback, field + 9, value);
    if (!strcmp(field, "rolled_back_from")) {
        t->rolled_back = 1;
        return ksvc__copy_str(t->rolled_back_from,
                              sizeof t->rolled_back_from, value) == 0;
    }
    if (!strcmp(field, "bad"))
        return t->bad_count < KSVC__BAD_MAX && ksvc__kver_valid(value) &&
               ksvc__copy_str(t->bad[t->bad_count++], KSVC_KVER_MAX + 1,
                              value) == 0;
    if (!strcmp(field, "booted"))
        return ksvc__sha256_hex_valid(value) &&
               ksvc__copy_str(t->booted_sha256, 65, value) == 0;
    return 0;
}

static int decode(ksvc_context *ctx, const char *raw, size_t size,
                  ksvc__journal *j)
{
    size_t pos = 0;

    memset(j, 0, sizeof *j);
    if (size == 0 || raw[size - 1] != '\0')
        return ksvc__fail(ctx, KSVC_E_BAD_VALUE, "%s\\%s: not terminated",
                          KSVC__LXSS_KEY, KSVC__V_JOURNAL);
    while (pos < size && raw[pos]) {
        char entry[KSVC__PROBLEM_LEN + 32];
        char *eq;
        if (ksvc__copy_str(entry, sizeof entry, raw + pos) != KSVC_OK ||
            !(eq = strchr(entry, '=')))
            return ksvc__fail(ctx, KSVC_E_BAD_VALUE,
                              "%s\\%s: malformed entry at byte %lu",
                              KSVC__LXSS_KEY, KSVC__V_JOURNAL,
                              (unsigned long)pos);
        *eq = '\0';
        if (!decode_entry(j, entry, eq + 1))
            return ksvc__fail(ctx, KSVC_E_BAD_VALUE,
                              "%s\\%s: invalid entry \"%s\"", KSVC__LXSS_KEY,
                              KSVC__V_JOURNAL, entry);
        pos += strlen(raw + pos) + 1;
    }
    if (!j->op[0])
        return ksvc__fail(ctx, KSVC_E_BAD_VALUE, "%s\\%s: no operation",
                          KSVC__LXSS_KEY, KSVC__V_JOURNAL);
    return KSVC_OK;
}

int ksvc__journal_load(ksvc_context *ctx, ksvc__journal *j, int *found)
{
    char *raw = malloc(JOURNAL_ROOM);
    size_t size = JOURNAL_ROOM;
    uint32_t type;
    int err;

    *found = 0;
    if (!raw)
        return ksvc__fail(ctx, KSVC_E_NO_MEMORY, "reading the journal");
    err = ctx->p->reg_read(ctx->p, KSVC__LXSS_KEY, KSVC__V_JOURNAL, &type, raw,
                           &size);
    if (err == KSVC_E_NOT_FOUND) {
        err = KSVC_OK;
    } else if (err == KSVC_E_TOO_LONG) {
        err = ksvc__fail(ctx, KSVC_E_BAD_VALUE, "%s\\%s: too long",
                         KSVC__LXSS_KEY, KSVC__V_JOURNAL);
    } else if (err) {
        err = ksvc__platform_fail(ctx, err, KSVC__V_JOURNAL);
    } else if (type != KSVC_REG_MULTI_SZ) {
        err = ksvc__fail(ctx, KSVC_E_BAD_VALUE, "%s\\%s: not a REG_MULTI_SZ",
                         KSVC__LXSS_KEY, KSVC__V_JOURNAL);
    } else {
        *found = 1;
        err = decode(ctx, raw, size, j);
    }
    free(raw);
    return err;
}

/* ---- carrying it out ---- */

static int exists(ksvc_context *ctx, const char *name, int *present)
{
    ksvc_file_info info;
    int err = ksvc__stat(ctx, name, &info);

    *present = !err && info.kind != KSVC_FILE_NONE;
    return err;
}

static int remove_name(ksvc_context *ctx, const char *name)
{
    int err = ctx->p->remove(ctx->p, name);

    return err ? ksvc__platform_fail(ctx, err, name) : KSVC_OK;
}

static int delete_journal(ksvc_context *ctx)
{
    ksvc_reg_change change = {KSVC__V_JOURNAL, 1, KSVC_REG_MULTI_SZ, NULL, 0};
    int err = ctx->p->reg_write(ctx->p, KSVC__LXSS_KEY, &change, 1);

    return err ? ksvc__platform_fail(ctx, err, "clearing the journal")
               : KSVC_OK;
}

/* The journal goes first: the first rename's source is what tells an
 * uncommitted operation from a committed one, so removing it while the
 * journal still exists would make an undo cut short read as a commit.
 * Without the journal, temporaries left by a cut-short undo are ordinary
 * leftovers, which the next recovery removes. */
static int undo(ksvc_context *ctx, const ksvc__journal *j)
{
    size_t i;
    int err = delete_journal(ctx);

    for (i = 0; !err && i < j->rename_count; i++) {
        int present;
        err = exists(ctx, j->rename_from[i], &present);
        if (!err && present)
            err = remove_name(ctx, j->rename_from[i]);
    }
    return err;
}

/* The renamed-in primary must be the file the journal describes. */
static int check_kernel(ksvc_context *ctx, const ksvc__journal *j)
{
    ksvc_file_info info;
    size_t i;
    int renamed_in = 0, err;

    /* Only a journal that renames a file into `kernel` vouches for it: one
     * of values alone leaves the file as it is (foreign, damaged...). */
    for (i = 0; i < j->rename_count; i++)
        renamed_in |= !strcmp(j->rename_to[i], KSVC__F_KERNEL);
    if (!renamed_in || !j->target.kernel.recorded ||
        !j->target.kernel.has_size)
        return KSVC_OK;
    err = ksvc__stat(ctx, KSVC__F_KERNEL, &info);
    if (err)
        return err;
    if (info.kind != KSVC_FILE_REGULAR || info.size != j->target.kernel.size)
        return ksvc__fail(ctx, KSVC_E_RECOVERY,
                          "interrupted %s: %s is not the %llu-byte file the "
                          "journal expects",
                          j->op, KSVC__F_KERNEL,
                          (unsigned long long)j->target.kernel.size);
    return KSVC_OK;
}

/* Stamp every slot the journal renamed into: the file this operation
 * wrote or verified (the journal in memory says so; one read back from the
 * registry never does, so recovery stamps nothing) gets the fingerprint it
 * has now, any other loses its stamp and is hashed when next checked.  Only
 * after all renames: replacing `kernel` drops the link count, and so moves
 * the change time, of the old kernel that has become `kernel.rollback`. */
static int stamp_renamed(ksvc_context *ctx, const ksvc__journal *j,
                         ksvc__state *target)
{
    ksvc_file_info info;
    size_t i;
    int err;

    for (i = 0; i < j->rename_count; i++) {
        ksvc__slot_meta *m = !strcmp(j->rename_to[i], KSVC__F_KERNEL)
                                 ? &target->kernel
                                 : &target->rollback;
        memset(&m->stamp, 0, sizeof m->stamp);
        if (!m->verified)
            continue;
        err = ksvc__stat(ctx, j->rename_to[i], &info);
        if (err)
            return err;
        ksvc__stamp_of(&info, &m->stamp);
    }
    return KSVC_OK;
}

static void drop_change(ksvc__state_changes *c, const char *name)
{
    size_t i, kept = 0;

    for (i = 0; i < c->count; i++)
        if (strcmp(c->change[i].name, name) != 0)
            c->change[kept++] = c->change[i];
    c->count = kept;
}

static int write_target(ksvc_context *ctx, const ksvc__state *target)
{
    ksvc__state_changes *c = malloc(2 * sizeof *c);
    ksvc__state *now = malloc(sizeof *now);
    int err = c && now ? KSVC_OK
                       : ksvc__fail(ctx, KSVC_E_NO_MEMORY, "committing");

    if (!err) {
        int loaded = ksvc__state_load(ctx, now) == KSVC_OK;
        ksvc__clear_error(ctx);
        ksvc__state_changes_diff(NULL, target, &c[0], &c[1]);
        /* Every value the target names is written (a value left absent by
         * a cut write must be written now), but for a list of bad versions
         * the library cannot read in full: no operation that changes it
         * runs then, and rewriting it would lose what it cannot read. */
        if (loaded && now->bad_list_unreadable)
            drop_change(&c[0], KSVC__V_BAD);
        c[0].change[c[0].count].name = KSVC__V_JOURNAL;
        c[0].change[c[0].count].remove = 1;
        c[0].change[c[0].count].type = KSVC_REG_MULTI_SZ;
        c[0].change[c[0].count].data = NULL;
        c[0].change[c[0].count].size = 0;
        c[0].count++;
        err = ctx->p->reg_write(ctx->p, KSVC__LXSS_KEY, c[0].change,
                                c[0].count);
        if (err)
            err = ksvc__platform_fail(ctx, err, "writing the servicing state");
    }
    free(c);
    free(now);
    return err;
}

static int commit(ksvc_context *ctx, const ksvc__journal *j)
{
    ksvc__state *target;
    size_t i;
    int present, err;

    for (i = 0; i < j->rename_count; i++) {
        err = exists(ctx, j->rename_from[i], &present);
        if (!err && present) {
            err = ctx->p->rename(ctx->p, j->rename_from[i], j->rename_to[i]);
            if (err)
                err = ksvc__platform_fail(ctx, err, j->rename_to[i]);
        }
        if (err)
            return err;
    }
    err = check_kernel(ctx, j);
    if (err)
        return err;
    target = malloc(sizeof *target);
    if (!target)
        return ksvc__fail(ctx, KSVC_E_NO_MEMORY, "committing %s", j->op);
    *target = j->target;
    err = stamp_renamed(ctx, j, target);
    if (err) {
        free(target);
        return err;
    }
    /* The target state and the end of the journal in one write, the
     * journal last: a backend that writes value by value and is cut short
     * leaves the journal, and the next open writes the rest. */
    err = write_target(ctx, target);
    free(target);
    return err;
}

int ksvc__journal_carry_out(ksvc_context *ctx, const ksvc__journal *j)
{
    return commit(ctx, j);
}

/* Does the slot file hold what the journal puts there?  Its size, and its
 * SHA-256 when the journal records one. */
static int holds_target(ksvc_context *ctx, const ksvc__journal *j,
                        const char *slot, int *holds)
{
    const ksvc__slot_meta *m = !strcmp(slot, KSVC__F_KERNEL)
                                   ? &j->target.kernel
                                   : &j->target.rollback;
    ksvc_file_info info;
    char actual[65];
    uint64_t size;
    int err = ksvc__stat(ctx, slot, &info);

    *holds = 0;
    if (err || info.kind != KSVC_FILE_REGULAR || !m->recorded ||
        (m->has_size && info.size != m->size))
        return err;
    if (!m->sha256[0]) {
        *holds = 1;
        return KSVC_OK;
    }
    err = ksvc__hash_slot(ctx, slot, actual, &size);
    *holds = !err && size == info.size && !strcmp(actual, m->sha256);
    return err;
}

/* Was the operation committed?  Decided from what is on disk, never from
 * what a failed call was meant to do: the first rename's source gone is
 * not enough (a failed operation may have removed its temporaries after a
 * journal write that failed yet took effect); every rename must have
 * either its source still waiting or its slot holding the journaled
 * file. */
static int is_committed(ksvc_context *ctx, const ksvc__journal *j,
                        int *committed)
{
    size_t i;
    int pending, holds, err;

    *committed = 1;
    for (i = 0; i < j->rename_count; i++) {
        err = exists(ctx, j->rename_from[i], &pending);
        if (err)
            return err;
        if (i == 0 && pending) {
            *committed = 0;
            return KSVC_OK;
        }
        if (pending)
            continue;
        err = holds_target(ctx, j, j->rename_to[i], &holds);
        if (err)
            return err;
        if (!holds) {
            *committed = 0;
            return KSVC_OK;
        }
    }
    return KSVC_OK;
}

int ksvc__journal_finish(ksvc_context *ctx, const ksvc__journal *j,
                         int *completed)
{
    int committed, err;

    *completed = 0;
    err = is_committed(ctx, j, &committed);
    if (err)
        return err;
    err = committed ? commit(ctx, j) : undo(ctx, j);
    *completed = committed && !err;
    return err;
}

int ksvc__journal_committed(ksvc_context *ctx, const ksvc__journal *j,
                            int *committed)
{
    return is_committed(ctx, j, committed);
}

/* Is the file under a temporary name one this library left behind?  Its
 * own leftovers are regular files with one name, except the rollback
 * temporary, which is a second name of `kernel` (both then have two).  A
 * link, a folder or a file with a name elsewhere was planted: it is left
 * for a human, and the next operation refuses to work around it. */
static int own_leftover(ksvc_context *ctx, const char *name,
                        const ksvc_file_info *info, int *own)
{
    ksvc_file_info kernel;
    int err;

    *own = 0;
    if (info->kind != KSVC_FILE_REGULAR)
        return KSVC_OK;
    if (info->links <= 1) {
        *own = 1;
        return KSVC_OK;
    }
    if (strcmp(name, KSVC__F_ROLLBACK_NEW) != 0 || info->links != 2)
        return KSVC_OK;
    err = ksvc__stat(ctx, KSVC__F_KERNEL, &kernel);
    *own = !err && kernel.kind == KSVC_FILE_REGULAR && kernel.links == 2 &&
           kernel.size == info->size;
    return err;
}

int ksvc__remove_temporaries(ksvc_context *ctx)
{
    static const char *const temporaries[] = {KSVC__F_KERNEL_NEW,
                                              KSVC__F_ROLLBACK_NEW};
    ksvc_file_info info;
    size_t i;
    int own, err;

    for (i = 0; i < sizeof temporaries / sizeof temporaries[0]; i++) {
        err = ksvc__stat(ctx, temporaries[i], &info);
        if (!err && info.kind != KSVC_FILE_NONE)
            err = own_leftover(ctx, temporaries[i], &info, &own);
        if (!err && info.kind != KSVC_FILE_NONE && own)
            err = remove_name(ctx, temporaries[i]);
        if (err)
            return err;
    }
    return KSVC_OK;
}

int ksvc__recover(ksvc_context *ctx)
{
    ksvc__journal *j = malloc(sizeof *j);
    int found, completed, err;

    if (!j)
        return ksvc__fail(ctx, KSVC_E_NO_MEMORY, "recovery");
    err = ksvc__journal_load(ctx, j, &found);
    if (!err)
        err = found ? ksvc__journal_finish(ctx, j, &completed)
                    : ksvc__remove_temporaries(ctx);
    free(j);
    return err;
}
