/* The servicing operations: install, rollback, revert, repair. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- copying a file into a new temporary slot file ---- */

static int write_all(ksvc_context *ctx, ksvc_file *dst, const char *dst_name,
                     uint64_t offset, const unsigned char *buf, size_t size)
{
    int err = ctx->p->file_write(dst, offset, buf, size);

    return err ? ksvc__platform_fail(ctx, err, dst_name) : KSVC_OK;
}

static int stream_copy(ksvc_context *ctx, ksvc_file *src, const char *src_label,
                       ksvc_file *dst, const char *dst_name,
                       unsigned char *buf, ksvc__hasher *h, uint64_t *size)
{
    uint64_t offset = 0;
    size_t got;
    int err;

    for (;;) {
        err = ctx->p->file_read(src, offset, buf, KSVC__CHUNK, &got);
        if (err)
            return ksvc__platform_fail(ctx, err, src_label);
        if (got == 0)
            break;
        err = ksvc__hasher_update(h, buf, got);
        if (err)
            return ksvc__platform_fail(ctx, err, "computing SHA-256");
        err = write_all(ctx, dst, dst_name, offset, buf, got);
        if (err)
            return err;
        offset += got;
    }
    *size = offset;
    err = ctx->p->file_sync(dst);
    return err ? ksvc__platform_fail(ctx, err, dst_name) : KSVC_OK;
}

/* Create temp_name afresh.  Recovery has removed this library's own
 * leftovers before any operation starts, so whatever still stands there
 * was planted (a link, a second name of a foreign file): refuse it. */
static int create_temp(ksvc_context *ctx, const char *temp_name,
                       ksvc_file **out)
{
    const ksvc_platform *p = ctx->p;
    int err = p->file_open(p, temp_name, KSVC_OPEN_CREATE_NEW, out);

    if (err)
        *out = NULL; /* the caller closes only what was opened */
    if (err == KSVC_E_EXISTS || err == KSVC_E_UNSAFE_PATH)
        return ksvc__fail(ctx, KSVC_E_UNSAFE_PATH,
                          "%s: a file this library did not leave stands "
                          "under its temporary name; remove it",
                          temp_name);
    return err ? ksvc__platform_fail(ctx, err, temp_name) : KSVC_OK;
}

/* A slot must be a regular file with no other name: a second name
 * (a hard link planted elsewhere) would let someone else change a kernel
 * that this library vouches for. */
static int check_slot_names(ksvc_context *ctx)
{
    static const char *const slots[] = {KSVC__F_KERNEL, KSVC__F_ROLLBACK};
    ksvc_file_info info;
    size_t i;
    int err;

    for (i = 0; i < sizeof slots / sizeof slots[0]; i++) {
        err = ksvc__stat(ctx, slots[i], &info);
        if (err)
            return err;
        if (info.kind == KSVC_FILE_OTHER)
            return ksvc__fail(ctx, KSVC_E_UNSAFE_PATH,
                              "%s is a link, a folder or a device, not a "
                              "kernel file",
                              slots[i]);
        if (info.kind == KSVC_FILE_REGULAR && info.links > 1)
            return ksvc__fail(ctx, KSVC_E_UNSAFE_PATH,
                              "%s has %lu names: a hard link elsewhere could "
                              "change it",
                              slots[i], (unsigned long)info.links);
    }
    return KSVC_OK;
}

int ksvc__copy_to_temp(ksvc_context *ctx, ksvc_file *src, const char *src_label,
                       const char *temp_name, char sha_hex[65], uint64_t *size)
{
    const ksvc_platform *p = ctx->p;
    unsigned char *buf = malloc(KSVC__CHUNK);
    ksvc__hasher h;
    ksvc_file *dst = NULL;
    int err;

    if (!buf)
        return ksvc__fail(ctx, KSVC_E_NO_MEMORY, "copying %s", src_label);
    err = create_temp(ctx, temp_name, &dst);
    if (!err) {
        err = ksvc__hasher_begin(&h, p);
        if (err)
            err = ksvc__platform_fail(ctx, err, "starting SHA-256");
    }
    if (!err) {
        err = stream_copy(ctx, src, src_label, dst, temp_name, buf, &h, size);
        if (err)
            ksvc__hasher_abandon(&h);
        else if ((err = ksvc__hasher_end(&h, sha_hex)) != 0)
            err = ksvc__platform_fail(ctx, err, "computing SHA-256");
    }
    free(buf);
    if (dst) {
        int close_err = p->file_close(dst);
        if (close_err && !err)
            err = ksvc__platform_fail(ctx, close_err, temp_name);
    }
    if (err && dst)
        p->remove(p, temp_name);
    return err;
}

/* ---- shared pieces ---- */

static int same_hex(const char *a, const char *b)
{
    size_t i;

    for (i = 0; i < 64; i++) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'F')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'F')
            y = (char)(y - 'A' + 'a');
        if (x != y)
            return 0;
    }
    return 1;
}

static int finish(ksvc_context *ctx, int err)
{
    ksvc__unlock(ctx);
    return err;
}

/* Run a journaled operation whose new files already exist and are synced:
 * record the journal, then carry it out.  Before the journal exists a
 * failure removes the temporaries; after it, the journal decides. */
static int run_journal(ksvc_context *ctx, const ksvc__journal *j)
{
    int err = ksvc__journal_write(ctx, j);
    size_t i;

    if (err) {
        for (i = 0; i < j->rename_count; i++)
            ctx->p->remove(ctx->p, j->rename_from[i]);
        return err;
    }
    err = ksvc__journal_carry_out(ctx, j);
    if (err) {
        /* Settle the journal either way at once.  Past the commit point
         * that finishes the operation, which then succeeded after all;
         * before it, the caller gets the first error and the state before.
         * If this fails too, the next open settles it. */
        char detail[KSVC__DETAIL_LEN];
        long os_error = ctx->os_error;
        int completed;
        memcpy(detail, ctx->detail, sizeof detail);
        if (ksvc__journal_finish(ctx, j, &completed) == KSVC_OK && completed) {
            ksvc__clear_error(ctx);
            return KSVC_OK;
        }
        memcpy(ctx->detail, detail, sizeof detail);
        ctx->os_error = os_error;
    }
    return err;
}

/* ---- install ---- */

static int check_install_options(ksvc_context *ctx,
                                 const ksvc_install_options *o)
{
    if (o->version != KSVC_INSTALL_OPTIONS_VERSION)
        return ksvc__fail(ctx, KSVC_E_STRUCT_VERSION,
                          "ksvc_install_options version %u, expected %u",
                          o->version, KSVC_INSTALL_OPTIONS_VERSION);
    if (o->flags & ~(KSVC_INSTALL_ALLOW_DOWNGRADE | KSVC_INSTALL_FORCE))
        return ksvc__fail(ctx, KSVC_E_INVALID_ARGUMENT,
                          "unknown install flags 0x%x", o->flags);
    if (o->sha256_hex && !ksvc__sha256_hex_valid(o->sha256_hex))
        return ksvc__fail(ctx, KSVC_E_INVALID_ARGUMENT,
                          "expected SHA-256 \"%.80s\" is not 64 hexadecimal "
                          "digits",
                          o->sha256_hex);
    return KSVC_OK;
}

static int check_version_text(ksvc_context *ctx, const char *version)
{
    ksvc_kver v = KSVC_KVER_INIT;
    int err = ksvc_kver_parse(version, &v);

    if (err == KSVC_E_TOO_LONG)
        return ksvc__fail(ctx, err, "kernel version longer than %d bytes",
                          KSVC_KVER_MAX);
    if (err)
        return ksvc__fail(ctx, err,
                          "\"%.80s\" is not a kernel version like 5.15.153.1",
                          version);
    return KSVC_OK;
}

static int require_precheck(ksvc_context *ctx)
{
    ksvc_precheck_result r = KSVC_PRECHECK_RESULT_INIT;

    return ksvc__precheck_run(ctx, &r);
}

/* The version in use: the rollback kernel while rolled back. */
static const ksvc__slot_meta *effective_meta(const ksvc__state *st)
{
    return st->rolled_back ? &st->rollback : &st->kernel;
}

static int check_install_policy(ksvc_context *ctx, const ksvc__state *st,
                                const char *version, unsigned flags)
{
    const ksvc__slot_meta *in_use = effective_meta(st);
    int cmp;

    if (ksvc__bad_contains(st, version))
        return ksvc__fail(ctx, KSVC_E_BAD_VERSION,
                          "version %s was rolled back from; it is never "
                          "installed again",
                          version);
    if (!in_use->recorded ||
        ksvc_kver_compare(version, in_use->version, &cmp) != KSVC_OK)
        return KSVC_OK;
    if (cmp < 0 && !(flags & KSVC_INSTALL_ALLOW_DOWNGRADE))
        return ksvc__fail(ctx, KSVC_E_DOWNGRADE,
                          "version %s is older than %s in use; allow a "
                          "downgrade to install it",
                          version, in_use->version);
    if (cmp == 0 && !(flags & KSVC_INSTALL_FORCE))
        return ksvc__fail(ctx, KSVC_E_ALREADY_INSTALLED,
                          "version %s is in use; force to reinstall it",
                          version);
    return KSVC_OK;
}

/* Copy the payload into the new-kernel temporary. */
static int stage_payload(ksvc_context *ctx, const char *path,
                         const ksvc_install_options *o, ksvc__slot_meta *m)
{
    const ksvc_platform *p = ctx->p;
    ksvc_file *src;
    int err = p->payload_open(p, path, &src);

    if (err)
        return ksvc__platform_fail(ctx, err, "opening the payload");
    err = ksvc__copy_to_temp(ctx, src, path, KSVC__F_KERNEL_NEW, m->sha256,
                             &m->size);
    p->file_close(src);
    if (err)
        return err;
    m->has_size = 1;
    if (m->size == 0)
        err = ksvc__fail(ctx, KSVC_E_BAD_PAYLOAD, "%s is empty", path);
    else if (o->sha256_hex && !same_hex(o->sha256_hex, m->sha256))
        err = ksvc__fail(ctx, KSVC_E_HASH_MISMATCH,
                         "%s has SHA-256 %s, expected %s", path, m->sha256,
                         o->sha256_hex);
    if (err)
        p->remove(p, KSVC__F_KERNEL_NEW);
    return err;
}

/* A second name for the current kernel, to become kernel.rollback: a hard
 * link (no data copied), or a synced copy where links are unsupported. */
static int stage_rollback(ksvc_context *ctx)
{
    const ksvc_platform *p = ctx->p;
    ksvc__slot_meta copy;
    ksvc_file *src;
    int err;

    err = p->hard_link(p, KSVC__F_KERNEL, KSVC__F_ROLLBACK_NEW);
    if (err == KSVC_E_EXISTS || err == KSVC_E_UNSAFE_PATH)
        return ksvc__fail(ctx, KSVC_E_UNSAFE_PATH,
                          "%s: a file this library did not leave stands "
                          "under its temporary name; remove it",
                          KSVC__F_ROLLBACK_NEW);
    if (err != KSVC_E_UNSUPPORTED)
        return err ? ksvc__platform_fail(ctx, err, KSVC__F_ROLLBACK_NEW) : 0;
    err = p->file_open(p, KSVC__F_KERNEL, KSVC_OPEN_READ, &src);
    if (err)
        return ksvc__platform_fail(ctx, err, KSVC__F_KERNEL);
    err = ksvc__copy_to_temp(ctx, src, KSVC__F_KERNEL, KSVC__F_ROLLBACK_NEW,
                             copy.sha256, &copy.size);
    p->file_close(src);
    return err;
}

static void add_rename(ksvc__journal *j, const char *from, const char *to)
{
    strcpy(j->rename_from[j->rename_count], from);
    strcpy(j->rename_to[j->rename_count], to);
    j->rename_count++;
}

/* Plan the install of m over state st; the payload is already staged. */
static int plan_install(ksvc_context *ctx, const ksvc__state *st,
                        const ksvc__slot_meta *m, ksvc__journal *j)
{
    ksvc_file_info info;
    int keep_old, err;

    memset(j, 0, sizeof *j);
    strcpy(j->op, "install");
    j->target = *st;
    j->target.kernel = *m;
    err = ksvc__stat(ctx, KSVC__F_KERNEL, &info);
    if (err)
        return err;
    /* The current kernel becomes the rollback kernel, unless the machine is
     * rolled back (the rollback kernel is the good one) or it is the same
     * version being reinstalled. */
    keep_old = !st->rolled_back && st->kernel.recorded &&
               info.kind == KSVC_FILE_REGULAR &&
               !ksvc__kver_equal(st->kernel.version, m->version);
    if (keep_old) {
        err = stage_rollback(ctx);
        if (err)
            return err;
        j->target.rollback = st->kernel;
        /* The old kernel's bytes are vouched for only if it still carried
         * its stamp when it was given its second name. */
        j->target.rollback.verified =
            ksvc__stamp_matches(&st->kernel.stamp, &info);
        add_rename(j, KSVC__F_ROLLBACK_NEW, KSVC__F_ROLLBACK);
    }
    add_rename(j, KSVC__F_KERNEL_NEW, KSVC__F_KERNEL);
    j->target.rolled_back = 0;
    j->target.rolled_back_from[0] = '\0';
    return KSVC_OK;
}

/* Identify the kernel image in an open file. */
static int read_image(ksvc_context *ctx, int payload, const char *name,
                      ksvc__image_info *info)
{
    const ksvc_platform *p = ctx->p;
    ksvc_file *f;
    int err = payload ? p->payload_open(p, name, &f)
                      : p->file_open(p, name, KSVC_OPEN_READ, &f);

    if (err)
        return ksvc__platform_fail(ctx, err,
                                   payload ? "opening the payload" : name);
    err = ksvc__image_read(ctx, f, name, info);
    p->file_close(f);
    return err;
}

/* The payload must be a kernel image for this machine; the version it
 * names decides (none given) or must agree (one given). */
static int check_image(ksvc_context *ctx, const char *path, const char *given,
                       ksvc__image_info *info)
{
    ksvc_arch machine;
    int err = read_image(ctx, 1, path, info);

    if (err)
        return err;
    err = ctx->p->arch(ctx->p, &machine);
    if (err)
        return ksvc__platform_fail(ctx, err, "reading the architecture");
    if (info->arch != machine)
        return ksvc__fail(ctx, KSVC_E_WRONG_ARCH,
                          "%s is a kernel for %s; this machine is %s", path,
                          ksvc__arch_name(info->arch),
                          ksvc__arch_name(machine));
    if (given && info->has_version &&
        !ksvc__kver_equal(given, info->version))
        return ksvc__fail(ctx, KSVC_E_VERSION_MISMATCH,
                          "version %s was given, but %s names %s", given,
                          path, info->version);
    if (!given && !info->has_version)
        return ksvc__fail(ctx, KSVC_E_VERSION_SYNTAX,
                          "%s does not name its kernel version; give it "
                          "explicitly",
                          path);
    return KSVC_OK;
}

/* The staged copy must be the image that was checked: the payload may have
 * changed between the check and the copy. */
static int check_staged_image(ksvc_context *ctx, const char *path,
                              const ksvc__image_info *expected)
{
    ksvc__image_info staged;
    int err = read_image(ctx, 0, KSVC__F_KERNEL_NEW, &staged);

    if (err == KSVC_E_BAD_PAYLOAD ||
        (!err && (staged.kind != expected->kind ||
                  staged.arch != expected->arch ||
                  staged.has_version != expected->has_version ||
                  strcmp(staged.version, expected->version) != 0)))
        err = ksvc__fail(ctx, KSVC_E_BAD_PAYLOAD,
                         "%s changed while it was copied", path);
    if (err)
        ctx->p->remove(ctx->p, KSVC__F_KERNEL_NEW);
    return err;
}

static int install_locked(ksvc_context *ctx, const ksvc__state *st,
                          const char *payload_path, const char *given,
                          const ksvc_install_options *o)
{
    ksvc__image_info image;
    const char *version;
    ksvc__slot_meta m;
    ksvc__journal *j;
    int err = require_precheck(ctx);

    if (!err)
        err = check_slot_names(ctx);
    if (!err)
        err = check_image(ctx, payload_path, given, &image);
    if (err)
        return err;
    version = given ? given : image.version;
    err = check_install_policy(ctx, st, version, o->flags);
    if (err)
        return err;
    memset(&m, 0, sizeof m);
    m.recorded = 1;
    m.verified = 1; /* hashed while it is copied */
    strcpy(m.version, version);
    err = stage_payload(ctx, payload_path, o, &m);
    if (!err)
        err = check_staged_image(ctx, payload_path, &image);
    if (err)
        return err;
    j = malloc(sizeof *j);
    if (!j) {
        ctx->p->remove(ctx->p, KSVC__F_KERNEL_NEW);
        return ksvc__fail(ctx, KSVC_E_NO_MEMORY, "planning the install");
    }
    err = plan_install(ctx, st, &m, j);
    if (err) {
        /* The rollback temporary is not ours to remove: staging it failed
         * without leaving one, or found a foreign file under its name. */
        ctx->p->remove(ctx->p, KSVC__F_KERNEL_NEW);
    } else {
        err = run_journal(ctx, j);
    }
    free(j);
    return err;
}

int ksvc_install(ksvc_context *ctx, const char *payload_path,
                 const char *kernel_version,
                 const ksvc_install_options *options)
{
    ksvc_install_options defaults = KSVC_INSTALL_OPTIONS_INIT;
    ksvc__state st;
    int err;

    if (!ctx || !payload_path)
        return KSVC_E_INVALID_ARGUMENT;
    ksvc__clear_error(ctx);
    if (!options)
        options = &defaults;
    err = check_install_options(ctx, options);
    if (!err && kernel_version)
        err = check_version_text(ctx, kernel_version);
    if (!err)
        err = ksvc__begin(ctx, &st, 1);
    if (err)
        return err;
    return finish(ctx, install_locked(ctx, &st, payload_path, kernel_version,
                                      options));
}

/* ---- rollback and revert ---- */

/* Do the bytes of slot name (info: its stat, taken before reading) still
 * hash to m's SHA-256?  A file that still carries the stamp recorded when
 * they last did is not read again; a hash that matches records the stamp of
 * info in m, for the caller's state write.  The stat comes first: a write
 * after it moves the change time away from the stamp. */
static int slot_bytes_match(ksvc_context *ctx, const char *name,
                            ksvc__slot_meta *m, const ksvc_file_info *info,
                            char actual[65], int *match)
{
    uint64_t size;
    int err;

    *match = 1;
    actual[0] = '\0';
    if (!m->sha256[0] || ksvc__stamp_matches(&m->stamp, info))
        return KSVC_OK;
    err = ksvc__hash_slot(ctx, name, actual, &size);
    if (err)
        return err;
    *match = same_hex(actual, m->sha256) && size == info->size;
    if (*match)
        ksvc__stamp_of(info, &m->stamp);
    return KSVC_OK;
}

/* The rollback kernel must be present, recorded and match its record. */
static int check_rollback_slot(ksvc_context *ctx, ksvc__state *st)
{
    ksvc__slot_meta *r = &st->rollback;
    ksvc_file_info info;
    char actual[65];
    int match;
    int err = ksvc__stat(ctx, KSVC__F_ROLLBACK, &info);

    if (err)
        return err;
    if (info.kind == KSVC_FILE_NONE || !r->recorded)
        return ksvc__fail(ctx, KSVC_E_NO_ROLLBACK,
                          "there is no %s to roll back to", KSVC__F_ROLLBACK);
    if (info.kind != KSVC_FILE_REGULAR)
        return ksvc__fail(ctx, KSVC_E_UNSAFE_PATH, "%s is not a regular file",
                          KSVC__F_ROLLBACK);
    if (ksvc__bad_contains(st, r->version))
        return ksvc__fail(ctx, KSVC_E_BAD_VERSION,
                          "%s holds version %s, which is marked bad",
                          KSVC__F_ROLLBACK, r->version);
    if (r->has_size && r->size != info.size)
        return ksvc__fail(ctx, KSVC_E_DAMAGED,
                          "%s is %llu bytes, recorded %llu", KSVC__F_ROLLBACK,
                          (unsigned long long)info.size,
                          (unsigned long long)r->size);
    err = slot_bytes_match(ctx, KSVC__F_ROLLBACK, r, &info, actual, &match);
    if (!err && !match)
        err = ksvc__fail(ctx, KSVC_E_DAMAGED,
                         "%s has SHA-256 %s, recorded %s", KSVC__F_ROLLBACK,
                         actual, r->sha256);
    return err;
}

static int rollback_locked(ksvc_context *ctx, ksvc__state *st)
{
    int err;

    if (st->rolled_back)
        return ksvc__fail(ctx, KSVC_E_ROLLED_BACK,
                          "the machine already boots %s", KSVC__F_ROLLBACK);
    err = check_slot_names(ctx);
    if (!err)
        err = check_rollback_slot(ctx, st);
    if (!err && st->kernel.recorded)
        err = ksvc__bad_add(ctx, st, st->kernel.version);
    if (err)
        return err;
    st->rolled_back = 1;
    strcpy(st->rolled_back_from, st->kernel.version);
    return ksvc__state_store(ctx, st);
}

int ksvc_rollback(ksvc_context *ctx)
{
    return ksvc__run_mutation(ctx, rollback_locked);
}

static int revert_locked(ksvc_context *ctx, ksvc__state *st)
{
    if (!st->rolled_back)
        return ksvc__fail(ctx, KSVC_E_NOT_ROLLED_BACK,
                          "RollbackKernel is not set");
    st->rolled_back = 0;
    st->rolled_back_from[0] = '\0';
    if (st->kernel.recorded)
        ksvc__bad_remove(st, st->kernel.version);
    return ksvc__state_store(ctx, st);
}

int ksvc_revert_rollback(ksvc_context *ctx)
{
    return ksvc__run_mutation(ctx, revert_locked);
}

/* ---- repair ---- */

/* Does the named slot hold what its record says?  A hash that matches
 * stamps m. */
static int slot_intact(ksvc_context *ctx, const char *name,
                       ksvc__slot_meta *m, int *intact)
{
    ksvc_file_info info;
    char actual[65];
    int err = ksvc__stat(ctx, name, &info);

    *intact = 0;
    if (err || info.kind != KSVC_FILE_REGULAR || !m->recorded)
        return err;
    if (m->has_size && m->size != info.size)
        return KSVC_OK;
    if (!m->sha256[0]) {
        *intact = 1;
        return KSVC_OK;
    }
    return slot_bytes_match(ctx, name, m, &info, actual, intact);
}

/* The stamps the checks of repair recorded, written only when they
 * changed: repairing an intact machine whose stamps hold writes nothing. */
static int store_new_stamps(ksvc_context *ctx, const ksvc__state *st,
                            const ksvc__stamp *kernel_before,
                            const ksvc__stamp *rollback_before)
{
    if (!memcmp(kernel_before, &st->kernel.stamp, sizeof *kernel_before) &&
        !memcmp(rollback_before, &st->rollback.stamp,
                sizeof *rollback_before))
        return KSVC_OK;
    return ksvc__state_store(ctx, st);
}

static int missing_kernel(ksvc_context *ctx, const char *why)
{
    return ksvc__fail(ctx, KSVC_E_KERNEL_MISSING,
                      "%s. Remedies: install the kernel update from "
                      "https://aka.ms/wsl2kernel; or reinstall the Windows "
                      "Subsystem for Linux Update; or extract the kernel with "
                      "msiexec /a and copy it to the tools folder",
                      why);
}

static int repair_locked(ksvc_context *ctx, ksvc__state *st)
{
    const char *target = st->rolled_back ? KSVC__F_ROLLBACK : KSVC__F_KERNEL;
    const char *source = st->rolled_back ? KSVC__F_KERNEL : KSVC__F_ROLLBACK;
    ksvc__slot_meta *src_meta = st->rolled_back ? &st->kernel : &st->rollback;
    ksvc__slot_meta *target_meta = st->rolled_back ? &st->rollback
                                                   : &st->kernel;
    const ksvc__stamp kernel_before = st->kernel.stamp;
    const ksvc__stamp rollback_before = st->rollback.stamp;
    ksvc__journal *j;
    ksvc__slot_meta copy;
    ksvc_file *src;
    int intact, err;

    err = check_slot_names(ctx);
    if (!err)
        err = slot_intact(ctx, target, target_meta, &intact);
    if (!err && intact)
        return store_new_stamps(ctx, st, &kernel_before, &rollback_before);
    if (err)
        return err;
    err = slot_intact(ctx, source, src_meta, &intact);
    if (err)
        return err;
    /* Only the primary is ever restored: while rolled back the other slot
     * holds the bad version, which is never copied into use. */
    if (st->rolled_back || !intact || ksvc__bad_contains(st, src_meta->version))
        return missing_kernel(ctx, "no intact, good kernel is left to copy "
                                   "from");
    err = ctx->p->file_open(ctx->p, source, KSVC_OPEN_READ, &src);
    if (err)
        return ksvc__platform_fail(ctx, err, source);
    copy = *src_meta;
    err = ksvc__copy_to_temp(ctx, src, source, KSVC__F_KERNEL_NEW, copy.sha256,
                             &copy.size);
    ctx->p->file_close(src);
    if (err)
        return err;
    if (src_meta->sha256[0] && !same_hex(copy.sha256, src_meta->sha256)) {
        ctx->p->remove(ctx->p, KSVC__F_KERNEL_NEW);
        return ksvc__fail(ctx, KSVC_E_DAMAGED,
                          "%s changed while it was copied", source);
    }
    copy.has_size = 1;
    /* Copied from bytes that hashed to the record while they were read. */
    copy.verified = src_meta->sha256[0] != '\0';
    j = calloc(1, sizeof *j);
    if (!j) {
        ctx->p->remove(ctx->p, KSVC__F_KERNEL_NEW);
        return ksvc__fail(ctx, KSVC_E_NO_MEMORY, "planning the repair");
    }
    strcpy(j->op, "repair");
    j->target = *st;
    j->target.kernel = copy;
    add_rename(j, KSVC__F_KERNEL_NEW, KSVC__F_KERNEL);
    err = run_journal(ctx, j);
    free(j);
    return err;
}

int ksvc_repair(ksvc_context *ctx)
{
    return ksvc__run_mutation(ctx, repair_locked);
}
