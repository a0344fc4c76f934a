/* Error codes, names, messages and the per-context error detail. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

const char *ksvc_strerror(int err)
{
    switch (err) {
    case KSVC_OK:
        return "success";
#define KSVC_STRERROR_CASE_(name, value, message)                            \
    case KSVC_E_##name:                                                      \
        return message;
        KSVC_ERROR_MAP(KSVC_STRERROR_CASE_)
#undef KSVC_STRERROR_CASE_
    default:
        return "unknown error";
    }
}

const char *ksvc_error_name(int err)
{
    switch (err) {
    case KSVC_OK:
        return "KSVC_OK";
#define KSVC_NAME_CASE_(name, value, message)                                \
    case KSVC_E_##name:                                                      \
        return "KSVC_E_" #name;
        KSVC_ERROR_MAP(KSVC_NAME_CASE_)
#undef KSVC_NAME_CASE_
    default:
        return "KSVC_E_UNKNOWN";
    }
}

ksvc_error_class ksvc_error_class_of(int err)
{
    switch (err) {
    case KSVC_OK:
        return KSVC_ERROR_CLASS_OK;
#define KSVC_CLASS_CASE_(name, value, cls, message)                          \
    case KSVC_E_##name:                                                      \
        return KSVC_ERROR_CLASS_##cls;
        KSVC_ERROR_LIST(KSVC_CLASS_CASE_)
#undef KSVC_CLASS_CASE_
    default:
        return KSVC_ERROR_CLASS_SYSTEM;
    }
}

const char *ksvc_error_detail(const ksvc_context *ctx)
{
    return ctx ? ctx->detail : "";
}

long ksvc_os_error(const ksvc_context *ctx)
{
    return ctx ? ctx->os_error : 0;
}

void ksvc__copy_cut(char *dst, size_t size, const char *src)
{
    size_t len = strlen(src);

    if (len >= size)
        len = size - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

void ksvc__clear_error(ksvc_context *ctx)
{
    ctx->detail[0] = '\0';
    ctx->os_error = 0;
}

int ksvc__fail(ksvc_context *ctx, int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(ctx->detail, sizeof ctx->detail, fmt, ap);
    va_end(ap);
    return err;
}

int ksvc__platform_fail(ksvc_context *ctx, int err, const char *doing)
{
    char what[KSVC__DETAIL_LEN / 2] = "";
    long os_error = 0;

    if (ctx->p->last_error)
        ctx->p->last_error(ctx->p, &os_error, what, sizeof what);
    what[sizeof what - 1] = '\0';
    ctx->os_error = os_error;
    if (what[0])
        snprintf(ctx->detail, sizeof ctx->detail, "%s: %s", doing, what);
    else
        snprintf(ctx->detail, sizeof ctx->detail, "%s: %s", doing,
                 ksvc_strerror(err));
    return err;
}
