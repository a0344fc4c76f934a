/* Kernel version parsing and comparison, and small text helpers. */
#include <string.h>

#include "internal.h"

int ksvc__copy_str(char *dst, size_t size, const char *src)
{
    size_t len = strlen(src);

    if (len >= size)
        return KSVC_E_TOO_LONG;
    memcpy(dst, src, len + 1);
    return KSVC_OK;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_suffix_char(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           c == '.' || c == '-' || c == '+' || c == '_';
}

/* Parse one decimal component at *pos; refuses values beyond 32 bits. */
static int parse_component(const char **pos, uint32_t *value)
{
    const char *s = *pos;
    uint64_t v = 0;

    if (!is_digit(*s))
        return KSVC_E_VERSION_SYNTAX;
    while (is_digit(*s)) {
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > UINT32_MAX)
            return KSVC_E_VERSION_SYNTAX;
        s++;
    }
    *value = (uint32_t)v;
    *pos = s;
    return KSVC_OK;
}

static int parse_suffix(const char *s, ksvc_kver *out)
{
    const char *c;

    if (*s == '\0') {
        out->suffix[0] = '\0';
        return KSVC_OK;
    }
    if ((*s != '-' && *s != '+') || s[1] == '\0')
        return KSVC_E_VERSION_SYNTAX;
    for (c = s; *c; c++)
        if (!is_suffix_char(*c))
            return KSVC_E_VERSION_SYNTAX;
    return ksvc__copy_str(out->suffix, sizeof out->suffix, s);
}

int ksvc_kver_parse(const char *text, ksvc_kver *out)
{
    const char *s = text;
    ksvc_kver parsed = KSVC_KVER_INIT;
    int err;

    if (!text || !out)
        return KSVC_E_INVALID_ARGUMENT;
    if (out->version != KSVC_KVER_VERSION)
        return KSVC_E_STRUCT_VERSION;
    if (strlen(text) > KSVC_KVER_MAX)
        return KSVC_E_TOO_LONG;
    for (;;) {
        if (parsed.count == KSVC_KVER_MAX_PARTS)
            return KSVC_E_VERSION_SYNTAX;
        err = parse_component(&s, &parsed.parts[parsed.count]);
        if (err)
            return err;
        parsed.count++;
        if (*s != '.' || !is_digit(s[1]))
            break;
        s++;
    }
    err = parse_suffix(s, &parsed);
    if (err)
        return err;
    *out = parsed;
    return KSVC_OK;
}

static int compare_parsed(const ksvc_kver *a, const ksvc_kver *b)
{
    unsigned i;

    for (i = 0; i < KSVC_KVER_MAX_PARTS; i++) {
        uint32_t x = i < a->count ? a->parts[i] : 0;
        uint32_t y = i < b->count ? b->parts[i] : 0;
        if (x != y)
            return x < y ? -1 : 1;
    }
    return 0;
}

int ksvc_kver_compare(const char *a, const char *b, int *result)
{
    ksvc_kver va = KSVC_KVER_INIT, vb = KSVC_KVER_INIT;
    int err;

    if (!result)
        return KSVC_E_INVALID_ARGUMENT;
    err = ksvc_kver_parse(a, &va);
    if (!err)
        err = ksvc_kver_parse(b, &vb);
    if (err)
        return err;
    *result = compare_parsed(&va, &vb);
    return KSVC_OK;
}

int ksvc__kver_valid(const char *text)
{
    ksvc_kver v = KSVC_KVER_INIT;

    return ksvc_kver_parse(text, &v) == KSVC_OK;
}

/* Equal numerically; invalid text is equal only to the same text, so a
 * damaged bad-set entry still blocks exactly what it names. */
int ksvc__kver_equal(const char *a, const char *b)
{
    int cmp;

    if (ksvc_kver_compare(a, b, &cmp) != KSVC_OK)
        return strcmp(a, b) == 0;
    return cmp == 0;
}
