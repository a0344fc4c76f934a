/*
 * The Win32 backend: the machine facts, the native architecture and
 * whether the caller is an administrator.
 */
#include "internal.h"

/* ------------------------------------------------------------------------ */
/* Machine facts                                                            */
/* ------------------------------------------------------------------------ */

#ifndef IMAGE_FILE_MACHINE_ARM64
#define IMAGE_FILE_MACHINE_ARM64 0xAA64
#endif
#ifndef PROCESSOR_ARCHITECTURE_ARM64
#define PROCESSOR_ARCHITECTURE_ARM64 12
#endif

int w32_arch(const ksvc_platform *p, ksvc_arch *arch)
{
    backend *b = backend_of(p);

    /* IsWow64Process2 sees through x64 emulation on arm64, where
     * GetNativeSystemInfo would answer x64. */
    if (os_IsWow64Process2 != NULL) {
        USHORT process = 0, native = 0;
        if (!os_IsWow64Process2(os_GetCurrentProcess(), &process, &native))
            return fail_last(b, "IsWow64Process2", "current process");
        *arch = native == IMAGE_FILE_MACHINE_AMD64   ? KSVC_ARCH_X64
                : native == IMAGE_FILE_MACHINE_ARM64 ? KSVC_ARCH_ARM64
                                                     : KSVC_ARCH_UNKNOWN;
        return KSVC_OK;
    } else {
        SYSTEM_INFO si;
        memset(&si, 0, sizeof si);
        os_GetNativeSystemInfo(&si);
        *arch = si.wProcessorArchitecture == PROCESSOR_ARCHITECTURE_AMD64
                    ? KSVC_ARCH_X64
                : si.wProcessorArchitecture == PROCESSOR_ARCHITECTURE_ARM64
                    ? KSVC_ARCH_ARM64
                    : KSVC_ARCH_UNKNOWN;
        return KSVC_OK;
    }
}

/* Windows without elevation: membership of Administrators decides. */
static int admin_member(backend *b, int *elevated)
{
    SID_IDENTIFIER_AUTHORITY nt = { SECURITY_NT_AUTHORITY };
    PSID admins = NULL;
    BOOL member = FALSE;

    if (!os_AllocateAndInitializeSid(&nt, 2, SECURITY_BUILTIN_DOMAIN_RID,
                                     DOMAIN_ALIAS_RID_ADMINS, 0, 0, 0, 0, 0, 0,
                                     &admins))
        return fail_last(b, "AllocateAndInitializeSid", "Administrators");
    if (!os_CheckTokenMembership(NULL, admins, &member)) {
        int rc = fail_last(b, "CheckTokenMembership", "Administrators");
        os_FreeSid(admins);
        return rc;
    }
    os_FreeSid(admins);
    *elevated = member != FALSE;
    return KSVC_OK;
}

int w32_elevated(const ksvc_platform *p, int *elevated)
{
    backend *b = backend_of(p);
    TOKEN_ELEVATION elevation;
    DWORD got = 0, err;
    HANDLE token;

    if (!os_OpenProcessToken(os_GetCurrentProcess(), TOKEN_QUERY, &token))
        return fail_last(b, "OpenProcessToken", "current process");
    if (os_GetTokenInformation(token, TokenElevation, &elevation,
                               sizeof elevation, &got)) {
        os_CloseHandle(token);
        *elevated = elevation.TokenIsElevated != 0;
        return KSVC_OK;
    }
    err = GetLastError();
    os_CloseHandle(token);
    if (err == ERROR_INVALID_PARAMETER) /* no TokenElevation class */
        return admin_member(b, elevated);
    return fail(b, map_error(err), err, "GetTokenInformation",
                "TokenElevation");
}
