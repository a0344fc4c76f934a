/*
 * The servicing operations: install, its check, rollback, revert, repair.
 * Each is the same four steps: the frame (rights, lock, recovery) and one
 * snapshot of the machine; a decision by decide.c; the plan carried out by
 * execute.c; the result kept for ksvc_last_result().
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- install ---- */

static int check_install_options(ksvc_context *ctx,
                                 const ksvc_install_options *o)
{
    if (o->version < 1 || o->version > KSVC_INSTALL_OPTIONS_VERSION)
        return ksvc__fail(ctx, KSVC_E_STRUCT_VERSION,
                          "ksvc_install_options version %u, expected 1 to %u",
                          o->version, KSVC_INSTALL_OPTIONS_VERSION);
    if (o->version >= 2 && o->tries > KSVC__TRIES_MAX)
        return ksvc__fail(ctx, KSVC_E_INVALID_ARGUMENT,
                          "%u tries; at most %u", o->tries, KSVC__TRIES_MAX);
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

/* The payload must be a kernel image for this machine; the version it
 * names decides (none given) or must agree (one given). */
static int check_image(ksvc_context *ctx, const char *path, const char *given,
                       ksvc__image_info *info)
{
    ksvc_arch machine;
    int err = ksvc__read_image(ctx, 1, path, info);

    if (err)
        return err;
    if (info->file_size > KSVC__PAYLOAD_MAX)
        return ksvc__fail(ctx, KSVC_E_BAD_PAYLOAD,
                          "%s is %llu bytes; a kernel image is at most %llu "
                          "(512 MiB)",
                          path, (unsigned long long)info->file_size,
                          (unsigned long long)KSVC__PAYLOAD_MAX);
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

/* The pre-check's answer; only a failure to read the facts is an error
 * here, a refusal is the decision's to make. */
static int precheck_reason(ksvc_context *ctx, ksvc_precheck_reason *reason)
{
    ksvc_precheck_result r = KSVC_PRECHECK_RESULT_INIT;
    int err = ksvc__precheck_run(ctx, &r);

    *reason = r.reason;
    if (err == KSVC_E_PRECHECK) {
        ksvc__clear_error(ctx);
        err = KSVC_OK;
    }
    return err;
}

/* Everything an install decides on: the arguments, the payload's image,
 * the pre-check.  @p check_only makes no change. */
static int install_run(ksvc_context *ctx, const char *payload_path,
                       const char *given, const ksvc_install_options *o,
                       int check_only)
{
    ksvc__install_request req;
    ksvc__image_info image;
    ksvc__snapshot *snap = malloc(sizeof *snap);
    ksvc__plan *plan = malloc(sizeof *plan);
    int err = snap && plan ? KSVC_OK
                           : ksvc__fail(ctx, KSVC_E_NO_MEMORY, "installing");

    memset(&image, 0, sizeof image);
    if (!err)
        err = ksvc__frame_begin(ctx, snap, !check_only, 0);
    if (err) {
        free(snap);
        free(plan);
        return err;
    }
    if (payload_path)
        err = check_image(ctx, payload_path, given, &image);
    req.version = given ? given : image.version;
    req.flags = o->flags;
    req.tries = o->version >= 2 ? o->tries : KSVC__TRIES_DEFAULT;
    if (!err)
        err = precheck_reason(ctx, &req.precheck);
    if (!err) {
        ksvc__decide_install(snap, &req, plan);
        if (check_only) {
            plan->result.operation = KSVC_OPERATION_INSTALL_CHECK;
            err = plan->error ? ksvc__fail(ctx, plan->error, "%s", plan->why)
                              : KSVC_OK;
        } else {
            err = ksvc__execute(ctx, snap, plan, payload_path, o->sha256_hex,
                                &image);
        }
        ksvc__set_result(ctx, plan, err);
    }
    ksvc__frame_end(ctx);
    free(snap);
    free(plan);
    return err;
}

static int install_entry(ksvc_context *ctx, const char *payload_path,
                         const char *kernel_version,
                         const ksvc_install_options *options, int check_only)
{
    ksvc_install_options defaults = KSVC_INSTALL_OPTIONS_INIT;
    int err;

    if (!ctx)
        return KSVC_E_INVALID_ARGUMENT;
    ksvc__clear_error(ctx);
    if (!payload_path && !(check_only && kernel_version))
        return ksvc__fail(ctx, KSVC_E_INVALID_ARGUMENT,
                          check_only ? "give a payload, a version or both"
                                     : "no payload path given");
    if (!options)
        options = &defaults;
    err = check_install_options(ctx, options);
    if (!err && kernel_version)
        err = check_version_text(ctx, kernel_version);
    return err ? err
               : install_run(ctx, payload_path, kernel_version, options,
                             check_only);
}

int ksvc_install(ksvc_context *ctx, const char *payload_path,
                 const char *kernel_version,
                 const ksvc_install_options *options)
{
    return install_entry(ctx, payload_path, kernel_version, options, 0);
}

int ksvc_install_check(ksvc_context *ctx, const char *payload_path,
                       const char *kernel_version,
                       const ksvc_install_options *options)
{
    return install_entry(ctx, payload_path, kernel_version, options, 1);
}

/* ---- rollback, revert, repair: a snapshot, a decision, its plan ---- */

static int run_decision(ksvc_context *ctx,
                        void (*decide)(const ksvc__snapshot *, ksvc__plan *))
{
    ksvc__snapshot *snap;
    ksvc__plan *plan;
    int err;

    if (!ctx)
        return KSVC_E_INVALID_ARGUMENT;
    ksvc__clear_error(ctx);
    snap = malloc(sizeof *snap);
    plan = malloc(sizeof *plan);
    err = snap && plan ? ksvc__frame_begin(ctx, snap, 1, 0)
                       : ksvc__fail(ctx, KSVC_E_NO_MEMORY, "servicing");
    if (!err) {
        decide(snap, plan);
        err = ksvc__execute(ctx, snap, plan, NULL, NULL, NULL);
        ksvc__set_result(ctx, plan, err);
        ksvc__frame_end(ctx);
    }
    free(snap);
    free(plan);
    return err;
}

int ksvc_rollback(ksvc_context *ctx)
{
    return run_decision(ctx, ksvc__decide_rollback);
}

int ksvc_revert_rollback(ksvc_context *ctx)
{
    return run_decision(ctx, ksvc__decide_revert);
}

int ksvc_repair(ksvc_context *ctx)
{
    return run_decision(ctx, ksvc__decide_repair);
}
