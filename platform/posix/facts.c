/*
 * The POSIX mock backend: the machine facts, the architecture from the
 * simulated registry and elevation from the options.
 */
#include "internal.h"

/* ------------------------------------------------------------------------ */
/* Machine facts                                                            */
/* ------------------------------------------------------------------------ */

int backend_arch(const ksvc_platform *p, ksvc_arch *arch)
{
    posix_backend *b = backend_of(p);
    char text[32];
    size_t size = sizeof(text);
    uint32_t type = 0;
    int rc;

    if (arch == NULL)
        return set_error(b, KSVC_E_INVALID_ARGUMENT, 0, "arch: no result");
    *arch = KSVC_ARCH_UNKNOWN;
    rc = backend_reg_read(p, KSVC__ENVIRONMENT_KEY, "PROCESSOR_ARCHITECTURE", &type,
                          text, &size);
    if (rc == KSVC_E_NOT_FOUND)
        return KSVC_OK; /* no such fact: an architecture we do not know */
    if (rc == KSVC_E_TOO_LONG)
        return KSVC_OK; /* longer than any name we know */
    if (rc != KSVC_OK)
        return rc;
    if (type != KSVC_REG_SZ)
        return set_error(b, KSVC_E_BAD_VALUE, 0,
                         "HKLM\\%s: PROCESSOR_ARCHITECTURE is not a REG_SZ",
                         KSVC__ENVIRONMENT_KEY);
    if (ksvc__hive_name_eq(text, "AMD64"))
        *arch = KSVC_ARCH_X64;
    else if (ksvc__hive_name_eq(text, "ARM64"))
        *arch = KSVC_ARCH_ARM64;
    return KSVC_OK;
}

int backend_elevated(const ksvc_platform *p, int *elevated)
{
    posix_backend *b = backend_of(p);

    if (elevated == NULL)
        return set_error(b, KSVC_E_INVALID_ARGUMENT, 0, "elevated: no result");
    *elevated = b->elevated;
    return KSVC_OK;
}
