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

/*
 * Identity and order of two versions (doc/mainpage.md "Kernel versions",
 * the man page's VERSIONS section).  A version is its numbers, then its
 * suffix read as a sequence of tokens: each maximal digit run is one number,
 * each other character one letter.  Normalisation, so that two spellings of
 * one kernel are one version:
 *   - numbers are numbers: leading zeros do not count, in the numeric part
 *     and in the suffix (05.15 = 5.15, -057-amd64 = -57-amd64);
 *   - a missing numeric component is 0: 5.15 = 5.15.0, one release that
 *     kernel.org calls 5.15 and `uname -r` calls 5.15.0;
 *   - letters compare without ASCII case (-WSL2 = -wsl2): on Windows,
 *     where these versions are registry text, case never tells two things
 *     apart, and a bad version must not come back respelt.
 * Everything else counts: `-` and `+` differ, so do `-` and `_`.
 * The order compares the numbers, then the suffix token by token; a digit run
 * ranks as the character '0' against a letter (so `+` < `-` < `.` < number <
 * `_` < letters), and a suffix that is a prefix of the other comes first, so
 * a bare version sorts before every suffixed one of the same numbers.  Being
 * a lexicographic order over totally ordered tokens, it is total, and it
 * returns 0 exactly for the same normalised text.
 */

static int sign(int v)
{
    return (v > 0) - (v < 0);
}

static int compare_numbers(const ksvc_kver *a, const ksvc_kver *b)
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

/* The rank of the token starting at c: letters without case, a digit run as
 * '0' (no other character ranks there, so ranks never tie across kinds). */
static int token_rank(char c)
{
    if (is_digit(c))
        return '0';
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 'a';
    return (unsigned char)c;
}

/* Compare the digit runs at *a and *b as numbers of any length, and step
 * past them. */
static int compare_digit_runs(const char **a, const char **b)
{
    const char *x = *a, *y = *b;
    size_t nx = 0, ny = 0;

    while (*x == '0' && is_digit(x[1]))
        x++;
    while (*y == '0' && is_digit(y[1]))
        y++;
    while (is_digit(x[nx]))
        nx++;
    while (is_digit(y[ny]))
        ny++;
    *a = x + nx;
    *b = y + ny;
    if (nx != ny)
        return nx < ny ? -1 : 1;
    return sign(memcmp(x, y, nx));
}

static int compare_suffixes(const char *a, const char *b)
{
    while (*a && *b) {
        int ra = token_rank(*a), rb = token_rank(*b), cmp;

        if (ra != rb)
            return ra < rb ? -1 : 1;
        if (is_digit(*a)) {
            cmp = compare_digit_runs(&a, &b);
            if (cmp)
                return cmp;
        } else {
            a++;
            b++;
        }
    }
    return (*a != '\0') - (*b != '\0');
}

static int parse_pair(const char *a, const char *b, ksvc_kver *va,
                      ksvc_kver *vb)
{
    int err = ksvc_kver_parse(a, va);

    return err ? err : ksvc_kver_parse(b, vb);
}

int ksvc_kver_compare(const char *a, const char *b, int *result)
{
    ksvc_kver va = KSVC_KVER_INIT, vb = KSVC_KVER_INIT;
    int err, cmp;

    if (!result)
        return KSVC_E_INVALID_ARGUMENT;
    err = parse_pair(a, b, &va, &vb);
    if (err)
        return err;
    cmp = compare_numbers(&va, &vb);
    *result = cmp ? cmp : compare_suffixes(va.suffix, vb.suffix);
    return KSVC_OK;
}

int ksvc__kver_valid(const char *text)
{
    ksvc_kver v = KSVC_KVER_INIT;

    return ksvc_kver_parse(text, &v) == KSVC_OK;
}

/* The same version (ksvc_kver_compare() gives 0), or the same numbers with
 * one side bare: another installer may record `KernelVersion` = 5.15.153.1
 * for the image that names 5.15.153.1-microsoft-standard-WSL2.  Two
 * different suffixes never match.  This is a match, not an equivalence
 * (both -a and -b match the bare version), which is why the order cannot
 * say 0 for it.  Invalid text matches only the same text, so a damaged
 * bad-list entry still blocks exactly what it names. */
int ksvc__kver_equal(const char *a, const char *b)
{
    ksvc_kver va = KSVC_KVER_INIT, vb = KSVC_KVER_INIT;

    if (parse_pair(a, b, &va, &vb) != KSVC_OK)
        return strcmp(a, b) == 0;
    if (compare_numbers(&va, &vb) != 0)
        return 0;
    return va.suffix[0] == '\0' || vb.suffix[0] == '\0' ||
           compare_suffixes(va.suffix, vb.suffix) == 0;
}
