/* The servicing state as the registry records it: load, validate, store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Room for the largest value the core reads: the bad set. */
#define VALUE_ROOM (KSVC__BAD_MAX * (KSVC_KVER_MAX + 1) + 2)

static int read_value(ksvc_context *ctx, const char *key, const char *name,
                      uint32_t *type, char *buf, size_t *size, int *found)
{
    size_t room = *size;
    int err = ctx->p->reg_read(ctx->p, key, name, type, buf, size);

    *found = 0;
    if (err == KSVC_E_NOT_FOUND)
        return KSVC_OK;
    if (err == KSVC_E_TOO_LONG)
        return ksvc__fail(ctx, KSVC_E_BAD_VALUE,
                          "%s\\%s: value of %lu bytes is longer than the %lu "
                          "this library accepts",
                          key, name, (unsigned long)*size,
                          (unsigned long)room);
    if (err)
        return ksvc__platform_fail(ctx, err, name);
    *found = 1;
    return KSVC_OK;
}

int ksvc__value_exists(ksvc_context *ctx, const char *key, const char *name,
                       int *found)
{
    char buf[VALUE_ROOM];
    size_t size = sizeof buf;
    uint32_t type;
    int err = ctx->p->reg_read(ctx->p, key, name, &type, buf, &size);

    *found = err == KSVC_OK || err == KSVC_E_TOO_LONG;
    if (err == KSVC_E_NOT_FOUND || *found)
        return KSVC_OK;
    return ksvc__platform_fail(ctx, err, name);
}

int ksvc__read_string(ksvc_context *ctx, const char *key, const char *name,
                      char *buf, size_t size, int *found)
{
    char raw[VALUE_ROOM];
    size_t raw_size = sizeof raw;
    uint32_t type;
    int err = read_value(ctx, key, name, &type, raw, &raw_size, found);

    if (err || !*found)
        return err;
    if (type != KSVC_REG_SZ)
        return ksvc__fail(ctx, KSVC_E_BAD_VALUE,
                          "%s\\%s: expected a REG_SZ string, found type %lu",
                          key, name, (unsigned long)type);
    if (raw_size == 0 || memchr(raw, '\0', raw_size) == NULL)
        return ksvc__fail(ctx, KSVC_E_BAD_VALUE,
                          "%s\\%s: string is not terminated", key, name);
    if (ksvc__copy_str(buf, size, raw) != KSVC_OK)
        return ksvc__fail(ctx, KSVC_E_BAD_VALUE,
                          "%s\\%s: string longer than %lu bytes", key, name,
                          (unsigned long)size - 1);
    return KSVC_OK;
}

int ksvc__read_dword(ksvc_context *ctx, const char *key, const char *name,
                     uint32_t *value, int *found)
{
    char raw[VALUE_ROOM];
    size_t raw_size = sizeof raw;
    uint32_t type;
    int err = read_value(ctx, key, name, &type, raw, &raw_size, found);

    if (err || !*found)
        return err;
    if (type != KSVC_REG_DWORD || raw_size != 4)
        return ksvc__fail(ctx, KSVC_E_BAD_VALUE,
                          "%s\\%s: expected a REG_DWORD, found type %lu of %lu "
                          "bytes",
                          key, name, (unsigned long)type,
                          (unsigned long)raw_size);
    memcpy(value, raw, 4);
    return KSVC_OK;
}

/* A recorded version must parse: a damaged one is refused, never guessed. */
static int read_version(ksvc_context *ctx, const char *name, char *buf,
                        size_t size, int *found)
{
    int err = ksvc__read_string(ctx, KSVC__LXSS_KEY, name, buf, size, found);

    if (!err && *found && !ksvc__kver_valid(buf))
        return ksvc__fail(ctx, KSVC_E_BAD_VALUE,
                          "%s\\%s: \"%s\" is not a kernel version",
                          KSVC__LXSS_KEY, name, buf);
    return err;
}

static int read_sha(ksvc_context *ctx, const char *name, char hex[65])
{
    int found;
    int err = ksvc__read_string(ctx, KSVC__LXSS_KEY, name, hex, 65, &found);

    if (err)
        return err;
    if (!found) {
        hex[0] = '\0';
        return KSVC_OK;
    }
    if (!ksvc__sha256_hex_valid(hex))
        return ksvc__fail(ctx, KSVC_E_BAD_VALUE,
                          "%s\\%s: not 64 hexadecimal digits", KSVC__LXSS_KEY,
                          name);
    return KSVC_OK;
}

static int read_size(ksvc_context *ctx, const char *name, int *has_size,
                     uint64_t *size)
{
    char text[24];
    const char *c;
    uint64_t v = 0;
    int err = ksvc__read_string(ctx, KSVC__LXSS_KEY, name, text, sizeof text,
                                has_size);

    if (err || !*has_size)
        return err;
    for (c = text; *c; c++) {
        if (*c < '0' || *c > '9' || v > (UINT64_MAX - 9) / 10)
            break;
        v = v * 10 + (uint64_t)(*c - '0');
    }
    if (*c || c == text)
        return ksvc__fail(ctx, KSVC_E_BAD_VALUE,
                          "%s\\%s: \"%s\" is not a size in bytes",
                          KSVC__LXSS_KEY, name, text);
    *size = v;
    return KSVC_OK;
}

/* One decimal number of at most max, ended by end; advances *text. */
static int parse_number(const char **text, char end, uint64_t max,
                        uint64_t *value)
{
    const char *c = *text;
    uint64_t v = 0;

    for (; *c >= '0' && *c <= '9'; c++) {
        if (v > (max - (uint64_t)(*c - '0')) / 10)
            return 0;
        v = v * 10 + (uint64_t)(*c - '0');
    }
    if (c == *text || *c != end)
        return 0;
    *text = c + 1;
    *value = v;
    return 1;
}

/* "size:file_id:change_ns", each decimal, nothing else. */
static int parse_stamp(const char *raw, size_t size, ksvc__stamp *stamp)
{
    const char *c = raw;
    uint64_t change_ns;

    if (size == 0 || memchr(raw, '\0', size) == NULL)
        return 0;
    if (!parse_number(&c, ':', UINT64_MAX, &stamp->size) ||
        !parse_number(&c, ':', UINT64_MAX, &stamp->file_id) ||
        !parse_number(&c, '\0', INT64_MAX, &change_ns))
        return 0;
    stamp->change_ns = (int64_t)change_ns;
    return 1;
}

/* A stamp only ever spares a hash, so one that is missing, of another type
 * or malformed (a hand edit) is no error: it is ignored and the file is
 * hashed, as it would be without a stamp.  A failing read still fails. */
static int read_stamp(ksvc_context *ctx, const char *name, ksvc__stamp *stamp)
{
    char raw[KSVC__STAMP_TEXT];
    size_t size = sizeof raw;
    uint32_t type;
    int err = ctx->p->reg_read(ctx->p, KSVC__LXSS_KEY, name, &type, raw,
                               &size);

    memset(stamp, 0, sizeof *stamp);
    if (err == KSVC_E_NOT_FOUND || err == KSVC_E_TOO_LONG)
        return KSVC_OK;
    if (err)
        return ksvc__platform_fail(ctx, err, name);
    if (type != KSVC_REG_SZ || !parse_stamp(raw, size, stamp))
        memset(stamp, 0, sizeof *stamp);
    return KSVC_OK;
}

/* A value that does not parse is a problem to report, not a reason to
 * stop: its field stays empty and the detail becomes one of the state's
 * value problems.  Any other error (the platform failed) still fails. */
static int tolerate(ksvc_context *ctx, ksvc__state *st, int err)
{
    if (err != KSVC_E_BAD_VALUE)
        return err;
    if (st->value_problem_count < KSVC__VALUE_PROBLEM_MAX)
        ksvc__copy_cut(st->value_problem[st->value_problem_count++],
                       KSVC__PROBLEM_LEN, ctx->detail);
    ksvc__clear_error(ctx);
    return KSVC_OK;
}

static int load_slot(ksvc_context *ctx, ksvc__state *st, ksvc__slot_meta *m,
                     const char *version_name, const char *sha_name,
                     const char *size_name, const char *stamp_name)
{
    int err;

    memset(m, 0, sizeof *m);
    err = read_version(ctx, version_name, m->version, sizeof m->version,
                       &m->recorded);
    if (err == KSVC_E_BAD_VALUE) {
        m->recorded = 0;
        m->version[0] = '\0';
    }
    err = tolerate(ctx, st, err);
    if (!err) {
        err = read_sha(ctx, sha_name, m->sha256);
        if (err == KSVC_E_BAD_VALUE)
            m->sha256[0] = '\0';
        err = tolerate(ctx, st, err);
    }
    if (!err) {
        err = read_size(ctx, size_name, &m->has_size, &m->size);
        if (err == KSVC_E_BAD_VALUE)
            m->has_size = 0;
        err = tolerate(ctx, st, err);
    }
    if (!err)
        err = read_stamp(ctx, stamp_name, &m->stamp);
    return err;
}

/* The library's checksum, size and stamp of `kernel` describe the
 * KernelVersion it last wrote.  Another installer that replaced the file
 * and wrote its own KernelVersion left them describing a kernel that is
 * gone: forget them, so the file is judged by its bytes. */
static int drop_stale_kernel_record(ksvc_context *ctx, ksvc__state *st)
{
    char written[KSVC_KVER_MAX + 1];
    int found;
    int err = ksvc__read_string(ctx, KSVC__LXSS_KEY, KSVC__V_KERNEL_RECORD,
                                written, sizeof written, &found);

    if (err == KSVC_E_BAD_VALUE) {
        ksvc__clear_error(ctx);
        found = 1;
        written[0] = '\0';
        err = KSVC_OK;
    }
    if (err || !found)
        return err;
    if (st->kernel.recorded && !strcmp(written, st->kernel.version))
        return KSVC_OK;
    st->kernel.sha256[0] = '\0';
    st->kernel.has_size = 0;
    memset(&st->kernel.stamp, 0, sizeof st->kernel.stamp);
    return KSVC_OK;
}

/* Split a REG_MULTI_SZ into the bad set.  Every valid entry is kept; an
 * entry that is not a version, or one past the room, makes the list
 * unreadable: it is reported and no operation rewrites it. */
static int parse_bad(ksvc_context *ctx, const char *raw, size_t size,
                     ksvc__state *st)
{
    size_t pos = 0, entry_number = 0;

    if (size == 0)
        return KSVC_OK;
    if (raw[size - 1] != '\0') {
        st->bad_list_unreadable = 1;
        return ksvc__fail(ctx, KSVC_E_BAD_VALUE, "%s\\%s: list not terminated",
                          KSVC__LXSS_KEY, KSVC__V_BAD);
    }
    while (pos < size && raw[pos] != '\0') {
        const char *entry = raw + pos;
        size_t len = strlen(entry);
        entry_number++;
        pos += len + 1;
        if (len <= KSVC_KVER_MAX && ksvc__kver_valid(entry) &&
            st->bad_count < KSVC__BAD_MAX) {
            memcpy(st->bad[st->bad_count++], entry, len + 1);
            continue;
        }
        st->bad_list_unreadable = 1;
        ksvc__fail(ctx, KSVC_E_BAD_VALUE,
                   "%s\\%s: entry %lu \"%.64s\" is not a kernel version, or "
                   "the list is longer than %d",
                   KSVC__LXSS_KEY, KSVC__V_BAD, (unsigned long)entry_number,
                   entry, KSVC__BAD_MAX);
    }
    return st->bad_list_unreadable ? KSVC_E_BAD_VALUE : KSVC_OK;
}

static int load_bad(ksvc_context *ctx, ksvc__state *st)
{
    char raw[VALUE_ROOM];
    size_t size = sizeof raw;
    uint32_t type;
    int found;
    int err = read_value(ctx, KSVC__LXSS_KEY, KSVC__V_BAD, &type, raw, &size,
                         &found);

    if (err == KSVC_E_BAD_VALUE)
        st->bad_list_unreadable = 1;
    if (err || !found)
        return err;
    if (type != KSVC_REG_MULTI_SZ) {
        st->bad_list_unreadable = 1;
        return ksvc__fail(ctx, KSVC_E_BAD_VALUE,
                          "%s\\%s: expected REG_MULTI_SZ, found type %lu",
                          KSVC__LXSS_KEY, KSVC__V_BAD, (unsigned long)type);
    }
    return parse_bad(ctx, raw, size, st);
}

/* RollbackKernel counts by its presence, whatever its type: WSL's own
 * tools and administrators may have written it differently. */
static int load_rollback_flag(ksvc_context *ctx, ksvc__state *st)
{
    char raw[VALUE_ROOM];
    size_t size = sizeof raw;
    uint32_t type;
    int err = ctx->p->reg_read(ctx->p, KSVC__LXSS_KEY, KSVC__V_ROLLBACK_FLAG,
                               &type, raw, &size);

    st->rolled_back_from[0] = '\0';
    st->rolled_back = err == KSVC_OK || err == KSVC_E_TOO_LONG;
    if (err == KSVC_E_NOT_FOUND || err == KSVC_E_TOO_LONG)
        return KSVC_OK;
    if (err)
        return ksvc__platform_fail(ctx, err, KSVC__V_ROLLBACK_FLAG);
    /* Its text names the version rolled back from when it is one. */
    if (type == KSVC_REG_SZ && size > 0 && memchr(raw, '\0', size) &&
        strlen(raw) <= KSVC_KVER_MAX && ksvc__kver_valid(raw))
        strcpy(st->rolled_back_from, raw);
    return KSVC_OK;
}

/* A DWORD of at most max, or a problem; *found = 0 for either absence. */
static int read_count(ksvc_context *ctx, ksvc__state *st, const char *name,
                      uint32_t max, uint32_t *value, int *found)
{
    int err = ksvc__read_dword(ctx, KSVC__LXSS_KEY, name, value, found);

    if (!err && *found && *value > max)
        err = ksvc__fail(ctx, KSVC_E_BAD_VALUE,
                         "%s\\%s: %lu is more than %lu", KSVC__LXSS_KEY,
                         name, (unsigned long)*value, (unsigned long)max);
    if (err == KSVC_E_BAD_VALUE)
        *found = 0;
    return tolerate(ctx, st, err);
}

static int read_text(ksvc_context *ctx, ksvc__state *st, const char *name,
                     char *buf, size_t size)
{
    int found;
    int err = ksvc__read_string(ctx, KSVC__LXSS_KEY, name, buf, size, &found);

    if (err || !found)
        buf[0] = '\0';
    return tolerate(ctx, st, err);
}

/* The trial values.  One that does not parse ends the trial as far as
 * this load is concerned (the kernel is then treated as confirmed); it is
 * named among the problems. */
static int load_trial(ksvc_context *ctx, ksvc__state *st)
{
    int found, used_found;
    int err = read_version(ctx, KSVC__V_TRIAL_VERSION, st->trial_version,
                           sizeof st->trial_version, &found);

    if (err == KSVC_E_BAD_VALUE || !found)
        st->trial_version[0] = '\0';
    err = tolerate(ctx, st, err);
    if (!err)
        err = read_count(ctx, st, KSVC__V_TRIAL_TRIES, KSVC__TRIES_MAX,
                         &st->trial_tries, &st->has_trial_tries);
    if (!err)
        err = read_count(ctx, st, KSVC__V_TRIAL_USED, KSVC__TRIES_MAX,
                         &st->trial_used, &used_found);
    if (!err && !used_found)
        st->trial_used = 0;
    if (!err && (!st->has_trial_tries || st->trial_tries == 0))
        st->trial_version[0] = '\0';
    if (!err)
        err = read_text(ctx, st, KSVC__V_AUTO_REASON, st->auto_reason,
                        sizeof st->auto_reason);
    if (!err)
        err = read_text(ctx, st, KSVC__V_AUTO_TIME, st->auto_time,
                        sizeof st->auto_time);
    return err;
}

int ksvc__state_load(ksvc_context *ctx, ksvc__state *st)
{
    int err;

    memset(st, 0, sizeof *st);
    err = load_slot(ctx, st, &st->kernel, KSVC__V_KERNEL_VERSION,
                    KSVC__V_KERNEL_SHA, KSVC__V_KERNEL_SIZE,
                    KSVC__V_KERNEL_STAMP);
    if (!err)
        err = drop_stale_kernel_record(ctx, st);
    if (!err)
        err = load_slot(ctx, st, &st->rollback, KSVC__V_RB_VERSION,
                        KSVC__V_RB_SHA, KSVC__V_RB_SIZE, KSVC__V_RB_STAMP);
    if (!err)
        err = load_rollback_flag(ctx, st);
    if (!err)
        err = tolerate(ctx, st, load_bad(ctx, st));
    if (!err) {
        err = read_sha(ctx, KSVC__V_BOOTED, st->booted_sha256);
        if (err == KSVC_E_BAD_VALUE)
            st->booted_sha256[0] = '\0';
        err = tolerate(ctx, st, err);
    }
    if (!err)
        err = load_trial(ctx, st);
    return err;
}

/* ---- storing ---- */

static void add_change(ksvc__state_changes *c, const char *name, int present,
                       uint32_t type, const void *data, size_t size)
{
    ksvc_reg_change *ch = &c->change[c->count++];

    ch->name = name;
    ch->remove = !present;
    ch->type = type;
    ch->data = present ? data : NULL;
    ch->size = present ? size : 0;
}

static void add_string(ksvc__state_changes *c, const char *name, int present,
                       const char *text)
{
    add_change(c, name, present && text[0], KSVC_REG_SZ, text,
               strlen(text) + 1);
}

static void add_slot(ksvc__state_changes *c, const ksvc__slot_meta *m,
                     const char *version_name, const char *sha_name,
                     const char *size_name, char *size_text,
                     const char *stamp_name, char *stamp_text)
{
    const ksvc__stamp *s = &m->stamp;
    int stamped = m->recorded && m->sha256[0] && s->file_id != 0 &&
                  s->change_ns != 0;

    snprintf(size_text, 24, "%llu", (unsigned long long)m->size);
    snprintf(stamp_text, KSVC__STAMP_TEXT, "%llu:%llu:%lld",
             (unsigned long long)s->size, (unsigned long long)s->file_id,
             (long long)s->change_ns);
    add_string(c, version_name, m->recorded, m->version);
    add_string(c, sha_name, m->recorded, m->sha256);
    add_string(c, size_name, m->recorded && m->has_size, size_text);
    add_string(c, stamp_name, stamped, stamp_text);
}

static size_t pack_bad(const ksvc__state *st, char *out)
{
    size_t i, pos = 0;

    for (i = 0; i < st->bad_count; i++) {
        size_t len = strlen(st->bad[i]) + 1;
        memcpy(out + pos, st->bad[i], len);
        pos += len;
    }
    out[pos++] = '\0';
    return pos;
}

void ksvc__state_changes_build(const ksvc__state *st, ksvc__state_changes *c)
{
    size_t bad_size;

    c->count = 0;
    /* A backend may write value by value, so the order decides what a
     * write cut short leaves.  Setting the flag goes after the bad set and
     * clearing it goes first: either way a cut between the two leaves the
     * flag absent while the primary is still bad, which reads as a manual
     * revert and recovery completes it (rollback undone, revert done). */
    if (!st->rolled_back)
        add_change(c, KSVC__V_ROLLBACK_FLAG, 0, KSVC_REG_SZ, NULL, 0);
    add_slot(c, &st->kernel, KSVC__V_KERNEL_VERSION, KSVC__V_KERNEL_SHA,
             KSVC__V_KERNEL_SIZE, c->kernel_size, KSVC__V_KERNEL_STAMP,
             c->kernel_stamp);
    add_string(c, KSVC__V_KERNEL_RECORD,
               st->kernel.recorded && st->kernel.sha256[0],
               st->kernel.version);
    add_slot(c, &st->rollback, KSVC__V_RB_VERSION, KSVC__V_RB_SHA,
             KSVC__V_RB_SIZE, c->rollback_size, KSVC__V_RB_STAMP,
             c->rollback_stamp);
    bad_size = pack_bad(st, c->bad_multi);
    add_change(c, KSVC__V_BAD, st->bad_count > 0, KSVC_REG_MULTI_SZ,
               c->bad_multi, bad_size);
    if (st->rolled_back)
        add_change(c, KSVC__V_ROLLBACK_FLAG, 1, KSVC_REG_SZ,
                   st->rolled_back_from, strlen(st->rolled_back_from) + 1);
    add_string(c, KSVC__V_BOOTED, 1, st->booted_sha256);
    c->trial_tries = st->trial_tries;
    c->trial_used = st->trial_used;
    add_string(c, KSVC__V_TRIAL_VERSION, 1, st->trial_version);
    add_change(c, KSVC__V_TRIAL_TRIES, st->has_trial_tries, KSVC_REG_DWORD,
               &c->trial_tries, 4);
    add_change(c, KSVC__V_TRIAL_USED, st->trial_version[0] != '\0',
               KSVC_REG_DWORD, &c->trial_used, 4);
    add_string(c, KSVC__V_AUTO_REASON, 1, st->auto_reason);
    add_string(c, KSVC__V_AUTO_TIME, 1, st->auto_time);
}

/* Is change @p c the same as the one @p before makes of its value? */
static int unchanged(const ksvc_reg_change *c, const ksvc__state_changes *before)
{
    size_t i;

    for (i = 0; i < before->count; i++) {
        const ksvc_reg_change *b = &before->change[i];
        if (strcmp(b->name, c->name) != 0)
            continue;
        if (b->remove || c->remove)
            return b->remove && c->remove;
        return b->type == c->type && b->size == c->size &&
               !memcmp(b->data, c->data, c->size);
    }
    return 0;
}

size_t ksvc__state_changes_diff(const ksvc__state *before,
                                const ksvc__state *st, ksvc__state_changes *c,
                                ksvc__state_changes *scratch)
{
    size_t i, kept = 0;

    ksvc__state_changes_build(st, c);
    if (!before)
        return c->count;
    ksvc__state_changes_build(before, scratch);
    for (i = 0; i < c->count; i++)
        if (!unchanged(&c->change[i], scratch))
            c->change[kept++] = c->change[i];
    c->count = kept;
    return kept;
}

int ksvc__state_store(ksvc_context *ctx, const ksvc__state *before,
                      const ksvc__state *st)
{
    ksvc__state_changes *c = malloc(2 * sizeof *c);
    int err;

    if (!c)
        return ksvc__fail(ctx, KSVC_E_NO_MEMORY, "writing the state");
    /* Only the values that change are written: one the library could not
     * read (a hand edit it reports) is never rewritten by an operation
     * that does not touch it. */
    ksvc__state_changes_diff(before, st, &c[0], &c[1]);
    err = c[0].count == 0 ? KSVC_OK
                          : ctx->p->reg_write(ctx->p, KSVC__LXSS_KEY,
                                              c[0].change, c[0].count);
    free(c);
    return err ? ksvc__platform_fail(ctx, err, "writing the servicing state")
               : KSVC_OK;
}

/* ---- the bad set ---- */

int ksvc__bad_contains(const ksvc__state *st, const char *version)
{
    size_t i;

    for (i = 0; i < st->bad_count; i++)
        if (ksvc__kver_equal(st->bad[i], version))
            return 1;
    return 0;
}

void ksvc__bad_remove(ksvc__state *st, const char *version)
{
    size_t i = 0;

    while (i < st->bad_count) {
        if (ksvc__kver_equal(st->bad[i], version)) {
            memmove(st->bad[i], st->bad[i + 1],
                    (st->bad_count - i - 1) * sizeof st->bad[0]);
            st->bad_count--;
        } else {
            i++;
        }
    }
}

int ksvc__apply_manual_revert(ksvc__state *st)
{
    if (st->rolled_back || !st->kernel.recorded ||
        !ksvc__bad_contains(st, st->kernel.version))
        return 0;
    ksvc__bad_remove(st, st->kernel.version);
    return 1;
}

/* ---- fingerprints ---- */

void ksvc__stamp_of(const ksvc_file_info *info, ksvc__stamp *stamp)
{
    memset(stamp, 0, sizeof *stamp);
    if (info->kind != KSVC_FILE_REGULAR || info->file_id == 0 ||
        info->change_ns <= 0)
        return;
    stamp->size = info->size;
    stamp->file_id = info->file_id;
    stamp->change_ns = info->change_ns;
}

int ksvc__stamp_matches(const ksvc__stamp *recorded,
                        const ksvc_file_info *info)
{
    ksvc__stamp now;

    ksvc__stamp_of(info, &now);
    return now.file_id != 0 && recorded->file_id == now.file_id &&
           recorded->change_ns == now.change_ns && recorded->size == now.size;
}

int ksvc__stat(ksvc_context *ctx, const char *name, ksvc_file_info *info)
{
    int err;

    /* A backend built before file_id and change_ns leaves them 0: "cannot
     * tell", so every slot is hashed. */
    memset(info, 0, sizeof *info);
    err = ctx->p->stat(ctx->p, name, info);

    return err ? ksvc__platform_fail(ctx, err, name) : KSVC_OK;
}
