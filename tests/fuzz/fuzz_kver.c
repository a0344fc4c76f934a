/*
 * libFuzzer target: kernel version parsing, identity and order.
 *
 * The input is split at spaces into up to three versions; two respellings
 * of the first (letters in the other case, a leading zero) are added.  Any
 * text must be parsed or refused cleanly.  Over every pair and triple of
 * those that parse, ksvc_kver_compare() must be a total order:
 *   - it answers -1, 0 or 1, and b against a is the negation of a against b;
 *   - it is transitive (a <= b <= c gives a <= c, strictly if either step
 *     is strict, and a = b = c gives a = c);
 *   - it answers 0 exactly when a reference normaliser written here, apart
 *     from src/kver.c, turns both texts into the same string;
 * and ksvc__kver_equal() must be that identity plus the match of a bare
 * version with any suffix of the same numbers.  Any breach aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_TEXTS 5
#define ROOM (KSVC_KVER_MAX + 2)
#define NORM_ROOM (2 * ROOM)

typedef struct version {
    const char *text;
    ksvc_kver parsed;
    char norm[NORM_ROOM]; /* the reference normal form */
} version;

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Append the digit run at *s to out without its leading zeros. */
static void put_number(const char **s, char **out)
{
    while (**s == '0' && is_digit((*s)[1]))
        (*s)++;
    while (is_digit(**s))
        *(*out)++ = *(*s)++;
}

/* The documented normalisation, done the plain way: numbers without leading
 * zeros, trailing zero components dropped, the suffix in lower case with its
 * digit runs as numbers.  Only called on text that parses. */
static void normalise(const char *s, char *out)
{
    char *nonzero_end = out; /* just after the last component that is not 0 */

    for (;;) {
        const char *start = out;
        put_number(&s, &out);
        if (out - start != 1 || *start != '0')
            nonzero_end = out;
        if (*s != '.' || !is_digit(s[1]))
            break;
        *out++ = *s++;
    }
    out = nonzero_end;
    *out++ = '|';
    while (*s) {
        if (is_digit(*s))
            put_number(&s, &out);
        else if (*s >= 'A' && *s <= 'Z')
            *out++ = (char)(*s++ - 'A' + 'a');
        else
            *out++ = *s++;
    }
    *out = '\0';
}

static int compare(const version *a, const version *b)
{
    int result = 99;

    if (ksvc_kver_compare(a->text, b->text, &result) != KSVC_OK)
        abort();
    if (result < -1 || result > 1)
        abort();
    return result;
}

static int same_numbers(const ksvc_kver *a, const ksvc_kver *b)
{
    unsigned i;

    for (i = 0; i < KSVC_KVER_MAX_PARTS; i++)
        if ((i < a->count ? a->parts[i] : 0) !=
            (i < b->count ? b->parts[i] : 0))
            return 0;
    return 1;
}

static void check_pair(const version *a, const version *b)
{
    int ab = compare(a, b), same = strcmp(a->norm, b->norm) == 0;
    int bare = a->parsed.suffix[0] == '\0' || b->parsed.suffix[0] == '\0';
    int match = same || (bare && same_numbers(&a->parsed, &b->parsed));

    if (compare(b, a) != -ab || (ab == 0) != same)
        abort();
    if (ksvc__kver_equal(a->text, b->text) != match ||
        ksvc__kver_equal(b->text, a->text) != match)
        abort();
}

static void check_triple(const version *a, const version *b, const version *c)
{
    int ab = compare(a, b), bc = compare(b, c), ac = compare(a, c);

    if (ab <= 0 && bc <= 0 && ac > 0)
        abort();
    if ((ab < 0 || bc < 0) && ab <= 0 && bc <= 0 && ac != -1)
        abort();
    if (ab == 0 && bc == 0 && ac != 0)
        abort();
}

/* Parse text into v; check what parsing alone promises.  Returns 1 when it
 * parsed. */
static int load(const char *text, version *v)
{
    int err;

    v->text = text;
    v->parsed = (ksvc_kver)KSVC_KVER_INIT;
    err = ksvc_kver_parse(text, &v->parsed);
    if (err) {
        int result;
        if (ksvc_kver_compare(text, text, &result) != err ||
            !ksvc__kver_equal(text, text))
            abort();
        return 0;
    }
    if (v->parsed.count < 1 || v->parsed.count > KSVC_KVER_MAX_PARTS ||
        strlen(text) > KSVC_KVER_MAX)
        abort();
    normalise(text, v->norm);
    return 1;
}

/* The respellings of one version that must stay the same version. */
static void respell(const char *text, char *other_case, char *zero)
{
    size_t i;

    for (i = 0; text[i]; i++) {
        char c = text[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        else if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        other_case[i] = c;
    }
    other_case[i] = '\0';
    zero[0] = '0';
    memcpy(zero + 1, text, i + 1);
}

/* Add a respelling of v[0]: it parses whenever it fits, and is the same
 * version. */
static size_t add_respelling(version *v, size_t n, const char *text)
{
    if (!load(text, &v[n])) {
        if (strlen(text) <= KSVC_KVER_MAX)
            abort();
        return n;
    }
    if (compare(&v[0], &v[n]) != 0)
        abort();
    return n + 1;
}

static void check_all(version *v, size_t n)
{
    size_t i, j, k;

    for (i = 0; i < n; i++)
        for (j = 0; j < n; j++) {
            check_pair(&v[i], &v[j]);
            for (k = 0; k < n; k++)
                check_triple(&v[i], &v[j], &v[k]);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), *next;
    char other_case[ROOM], zero[ROOM + 1];
    version v[MAX_TEXTS];
    size_t n = 0, pieces;

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    next = text;
    for (pieces = 0; pieces < 3 && next; pieces++) {
        char *piece = next, *space = strchr(next, ' ');
        next = space ? space + 1 : NULL;
        if (space)
            *space = '\0';
        n += (size_t)load(piece, &v[n]);
    }
    if (n > 0 && strlen(v[0].text) <= KSVC_KVER_MAX) {
        respell(v[0].text, other_case, zero);
        n = add_respelling(v, n, other_case);
        n = add_respelling(v, n, zero);
    }
    check_all(v, n);
    free(text);
    return 0;
}
