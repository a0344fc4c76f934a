/* The installer's pre-check: can this machine take a WSL 2 kernel? */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* First build of each line that runs WSL 2 (x64 needs a servicing update on
 * 18362/18363, arm64 a 19041 base). */
#define WSL2_BUILD 19041u
#define WSL2_BACKPORT_BUILD_A 18362u
#define WSL2_BACKPORT_BUILD_B 18363u
#define WSL2_BACKPORT_UBR 1049u

const char *ksvc_precheck_reason_text(ksvc_precheck_reason reason)
{
    switch (reason) {
    case KSVC_PRECHECK_OK:
        return "The machine can run WSL 2.";
    case KSVC_PRECHECK_OS_TOO_OLD:
        return "This version of Windows is too old for WSL 2: it needs x64 "
               "build 18362 or 18363 with update revision 1049 or later, or "
               "build 19041 or later (arm64: build 19041 or later).";
    case KSVC_PRECHECK_WSL_DISABLED:
        return "The Windows Subsystem for Linux is not enabled.";
    case KSVC_PRECHECK_RESTART_PENDING:
        return "A restart is required to finish enabling the Windows "
               "Subsystem for Linux.";
    case KSVC_PRECHECK_UNSUPPORTED_ARCH:
        return "WSL 2 needs an x64 or arm64 processor.";
    }
    return "unknown pre-check reason";
}

static int read_build(ksvc_context *ctx, ksvc_precheck_result *r)
{
    char text[16], *end;
    unsigned long build;
    uint32_t ubr = 0;
    int found, err;

    err = ksvc__read_string(ctx, KSVC__NT_KEY, "CurrentBuildNumber", text,
                            sizeof text, &found);
    if (err)
        return err;
    if (!found)
        return ksvc__fail(ctx, KSVC_E_NOT_FOUND,
                          "%s\\CurrentBuildNumber: missing, cannot tell the "
                          "Windows version",
                          KSVC__NT_KEY);
    build = strtoul(text, &end, 10);
    if (end == text || *end || build > UINT32_MAX || text[0] == '-')
        return ksvc__fail(ctx, KSVC_E_BAD_VALUE,
                          "%s\\CurrentBuildNumber: \"%s\" is not a build number",
                          KSVC__NT_KEY, text);
    err = ksvc__read_dword(ctx, KSVC__NT_KEY, "UBR", &ubr, &found);
    if (err)
        return err;
    r->os_build = (uint32_t)build;
    r->os_ubr = found ? ubr : 0;
    return KSVC_OK;
}

static int build_supports_wsl2(const ksvc_precheck_result *r)
{
    if (r->os_build >= WSL2_BUILD)
        return 1;
    if (r->arch != KSVC_ARCH_X64)
        return 0;
    return (r->os_build == WSL2_BACKPORT_BUILD_A ||
            r->os_build == WSL2_BACKPORT_BUILD_B) &&
           r->os_ubr >= WSL2_BACKPORT_UBR;
}

static ksvc_precheck_reason decide(const ksvc_precheck_result *r)
{
    if (r->arch != KSVC_ARCH_X64 && r->arch != KSVC_ARCH_ARM64)
        return KSVC_PRECHECK_UNSUPPORTED_ARCH;
    if (!build_supports_wsl2(r))
        return KSVC_PRECHECK_OS_TOO_OLD;
    if (r->restart_pending)
        return KSVC_PRECHECK_RESTART_PENDING;
    if (!r->wsl_enabled)
        return KSVC_PRECHECK_WSL_DISABLED;
    return KSVC_PRECHECK_OK;
}

static int key_exists(ksvc_context *ctx, const char *key, int *exists)
{
    int err = ctx->p->reg_key_exists(ctx->p, key, exists);

    return err ? ksvc__platform_fail(ctx, err, key) : KSVC_OK;
}

int ksvc__precheck_run(ksvc_context *ctx, ksvc_precheck_result *r)
{
    int err = ctx->p->arch(ctx->p, &r->arch);

    if (err)
        return ksvc__platform_fail(ctx, err, "reading the architecture");
    err = read_build(ctx, r);
    if (!err)
        err = key_exists(ctx, KSVC__LXSSMANAGER_KEY, &r->wsl_enabled);
    if (!err)
        err = key_exists(ctx, KSVC__REBOOT_KEY, &r->restart_pending);
    if (err)
        return err;
    r->reason = decide(r);
    if (r->reason != KSVC_PRECHECK_OK)
        return ksvc__fail(ctx, KSVC_E_PRECHECK, "%s %s", KSVC_MSG_PRECHECK,
                          ksvc_precheck_reason_text(r->reason));
    return KSVC_OK;
}

int ksvc_precheck(ksvc_context *ctx, ksvc_precheck_result *result)
{
    ksvc_precheck_result r = KSVC_PRECHECK_RESULT_INIT;
    int err;

    if (!ctx)
        return KSVC_E_INVALID_ARGUMENT;
    ksvc__clear_error(ctx);
    if (!result)
        return ksvc__fail(ctx, KSVC_E_INVALID_ARGUMENT,
                          "no ksvc_precheck_result given");
    if (result->version != KSVC_PRECHECK_RESULT_VERSION)
        return ksvc__fail(ctx, KSVC_E_STRUCT_VERSION,
                          "ksvc_precheck_result version %u, expected %u",
                          result->version, KSVC_PRECHECK_RESULT_VERSION);
    err = ksvc__precheck_run(ctx, &r);
    *result = r;
    return err;
}
