/*
 * The POSIX mock backend's hive: the parser of `.reg` text.
 *
 * It treats its input as hostile: every line is checked for valid UTF-8 and
 * control characters before it is looked at, every size is bounded before
 * memory is taken for it, and duplicate names are found with a hash set so a
 * hive of a million values cannot make parsing quadratic.
 */
#include "internal.h"

/* ------------------------------------------------------------------------ */
/* Duplicate detection while parsing                                        */
/* ------------------------------------------------------------------------ */

#define NO_INDEX 0xFFFFFFFFu

/* One name seen so far: a key (value == NO_INDEX) or a value of a key. */
typedef struct seen_entry {
    uint32_t key;
    uint32_t value;
} seen_entry;

typedef struct seen_set {
    seen_entry *slots; /* open addressing; key == NO_INDEX is empty */
    size_t room;       /* a power of two */
    size_t count;
} seen_set;

static uint64_t name_hash(const char *name, uint64_t seed)
{
    uint64_t h = 1469598103934665603ull ^ seed;
    for (; *name; name++) {
        h ^= (uint64_t)ascii_lower((unsigned char)*name);
        h *= 1099511628211ull;
    }
    return h;
}

static const char *entry_name(const ksvc__hive *hive, seen_entry e)
{
    const ksvc__hive_key *key = &hive->keys[e.key];
    return e.value == NO_INDEX ? key->path : key->values[e.value].name;
}

static int entries_same(const ksvc__hive *hive, seen_entry a, seen_entry b)
{
    if ((a.value == NO_INDEX) != (b.value == NO_INDEX))
        return 0;
    if (a.value != NO_INDEX && a.key != b.key)
        return 0;
    return ksvc__hive_name_eq(entry_name(hive, a), entry_name(hive, b));
}

static uint64_t entry_hash(const ksvc__hive *hive, seen_entry e)
{
    uint64_t seed = e.value == NO_INDEX ? 0 : (uint64_t)(e.key + 1) * 0x9E3779B97F4A7C15ull;
    return name_hash(entry_name(hive, e), seed);
}

static int seen_grow(seen_set *set, const ksvc__hive *hive)
{
    size_t room = set->room ? set->room * 2 : 256, i, j;
    seen_entry *slots = malloc(room * sizeof(*slots));

    if (!slots)
        return KSVC_E_NO_MEMORY;
    for (i = 0; i < room; i++)
        slots[i].key = NO_INDEX;
    for (i = 0; i < set->room; i++) {
        if (set->slots[i].key == NO_INDEX)
            continue;
        j = (size_t)entry_hash(hive, set->slots[i]) & (room - 1);
        while (slots[j].key != NO_INDEX)
            j = (j + 1) & (room - 1);
        slots[j] = set->slots[i];
    }
    free(set->slots);
    set->slots = slots;
    set->room = room;
    return KSVC_OK;
}

/* Record @p e: KSVC_OK when new, KSVC_E_EXISTS when a same name was seen. */
static int seen_add(seen_set *set, const ksvc__hive *hive, seen_entry e)
{
    size_t j;
    int rc;

    if ((set->count + 1) * 2 > set->room &&
        (rc = seen_grow(set, hive)) != KSVC_OK)
        return rc;
    j = (size_t)entry_hash(hive, e) & (set->room - 1);
    while (set->slots[j].key != NO_INDEX) {
        if (entries_same(hive, set->slots[j], e))
            return KSVC_E_EXISTS;
        j = (j + 1) & (set->room - 1);
    }
    set->slots[j] = e;
    set->count++;
    return KSVC_OK;
}

/* Record every key and value of the hive again: after a deletion moved
 * them, the set's indices are stale.  Deletions are rare; this is linear. */
static int seen_rebuild(seen_set *set, const ksvc__hive *hive)
{
    seen_entry e;
    int rc = KSVC_OK;

    free(set->slots);
    memset(set, 0, sizeof(*set));
    for (e.key = 0; e.key < hive->key_count && rc == KSVC_OK; e.key++) {
        e.value = NO_INDEX;
        rc = seen_add(set, hive, e);
        for (e.value = 0;
             e.value < hive->keys[e.key].value_count && rc == KSVC_OK;
             e.value++)
            rc = seen_add(set, hive, e);
    }
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Parser                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct parser {
    const char *next; /* start of the next physical line */
    const char *end;  /* end of the text */
    const char *pos;  /* cursor inside the current line */
    const char *eol;  /* end of the current line (CR/LF excluded) */
    unsigned line;    /* number of the current line, from 1 */
    ksvc__hive *hive;
    seen_set seen;
    char *err;
    size_t err_size;
} parser;

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 3, 4)))
#endif
static int fail(parser *ps, int code, const char *fmt, ...)
{
    va_list ap;
    int used;

    if (ps->err_size == 0)
        return code;
    used = snprintf(ps->err, ps->err_size, "line %u: ", ps->line);
    if (used >= 0 && (size_t)used < ps->err_size) {
        va_start(ap, fmt);
        vsnprintf(ps->err + used, ps->err_size - (size_t)used, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* Move to the next physical line and check it is clean text: 1 when there is
 * one, 0 at the end of the text, or a negative error. */
static int next_line(parser *ps)
{
    const char *start = ps->next, *nl, *p;

    if (start >= ps->end)
        return 0;
    ps->line++;
    nl = memchr(start, '\n', (size_t)(ps->end - start));
    ps->eol = nl ? nl : ps->end;
    ps->next = nl ? nl + 1 : ps->end;
    if (ps->eol > start && ps->eol[-1] == '\r')
        ps->eol--;
    ps->pos = start;
    if (!utf8_valid((const unsigned char *)start, (size_t)(ps->eol - start)))
        return fail(ps, KSVC_E_HIVE, "invalid UTF-8");
    for (p = start; p < ps->eol; p++) {
        unsigned char c = (unsigned char)*p;
        if ((c < 0x20 && c != '\t') || c == 0x7F)
            return fail(ps, KSVC_E_HIVE, "control character 0x%02x", c);
    }
    return 1;
}

static void skip_blanks(parser *ps)
{
    while (ps->pos < ps->eol && (*ps->pos == ' ' || *ps->pos == '\t'))
        ps->pos++;
}

/* Whether only blanks remain on the current line. */
static int at_line_end(parser *ps)
{
    skip_blanks(ps);
    return ps->pos == ps->eol;
}

/* Parse a quoted string whose opening quote is at the cursor into @p out
 * (without terminator), allowing at most @p max bytes. */
static int parse_quoted(parser *ps, bytes *out, size_t max, const char *what)
{
    int rc;

    ps->pos++; /* the opening quote */
    for (;;) {
        char c;
        if (ps->pos >= ps->eol)
            return fail(ps, KSVC_E_HIVE, "unterminated string in %s", what);
        c = *ps->pos++;
        if (c == '"')
            return KSVC_OK;
        if (c == '\\') {
            if (ps->pos >= ps->eol)
                return fail(ps, KSVC_E_HIVE, "unterminated string in %s", what);
            c = *ps->pos++;
            if (c != '\\' && c != '"')
                return fail(ps, KSVC_E_HIVE,
                            "bad escape '\\%c' in %s (only \\\\ and \\\")", c,
                            what);
        }
        if (out->len >= max)
            return fail(ps, KSVC_E_TOO_LONG, "%s longer than %lu bytes", what,
                        (unsigned long)max);
        if ((rc = bytes_add_byte(out, (unsigned char)c)) != KSVC_OK)
            return rc;
    }
}

/* Parse `[path]` at the cursor and make it the current key. */
/* The key path between @p start and @p close, in a new string. */
static int copy_key_path(parser *ps, const char *start, const char *close,
                         char **out)
{
    *out = NULL;
    if ((size_t)(close - start) > KSVC__HIVE_NAME_MAX)
        return fail(ps, KSVC_E_TOO_LONG, "key path longer than %u bytes",
                    KSVC__HIVE_NAME_MAX);
    *out = copy_text(start, (size_t)(close - start));
    return *out ? KSVC_OK : KSVC_E_NO_MEMORY;
}

/* `[-PATH]`: PATH and every key below it are gone; values that follow
 * need a new section. */
static int delete_key(parser *ps, const char *start, const char *close,
                      uint32_t *current)
{
    char *path = NULL;
    int rc = copy_key_path(ps, start, close, &path);

    if (rc != KSVC_OK)
        return rc;
    rc = ksvc__hive_delete_key(ps->hive, path);
    free(path);
    *current = NO_INDEX;
    if (rc == KSVC_E_NOT_FOUND)
        return KSVC_OK;
    return seen_rebuild(&ps->seen, ps->hive);
}

static int parse_key(parser *ps, uint32_t *current)
{
    const char *start, *close;
    const char *why;
    char *path = NULL;
    ksvc__hive_key *key;
    seen_entry e;
    int rc;

    skip_blanks(ps);
    start = ps->pos + 1;
    close = ps->eol;
    while (close > start && (close[-1] == ' ' || close[-1] == '\t'))
        close--;
    if (close == start || close[-1] != ']')
        return fail(ps, KSVC_E_HIVE, "truncated line: key section without ']'");
    close--;
    if (start < close && *start == '-')
        return delete_key(ps, start + 1, close, current);
    if ((rc = copy_key_path(ps, start, close, &path)) != KSVC_OK)
        return rc;
    if ((rc = ksvc__hive_check_key_path(path, &why)) != KSVC_OK) {
        free(path);
        return fail(ps, KSVC_E_HIVE, "bad key path: %s", why);
    }
    if (!(ascii_lower((unsigned char)path[0]) == 'h' &&
          ascii_lower((unsigned char)path[1]) == 'k' &&
          ascii_lower((unsigned char)path[2]) == 'e' &&
          ascii_lower((unsigned char)path[3]) == 'y' && path[4] == '_')) {
        free(path);
        return fail(ps, KSVC_E_HIVE, "key path does not start with HKEY_");
    }
    key = append_key(ps->hive, path);
    if (!key) {
        free(path);
        return KSVC_E_NO_MEMORY;
    }
    e.key = (uint32_t)(ps->hive->key_count - 1);
    e.value = NO_INDEX;
    rc = seen_add(&ps->seen, ps->hive, e);
    if (rc == KSVC_E_EXISTS)
        return fail(ps, KSVC_E_HIVE, "duplicate key section [%s]", key->path);
    *current = e.key;
    return rc;
}

/* Parse the hex digits of a type inside `hex(...)`; cursor after "hex(". */
static int parse_hex_type(parser *ps, uint32_t *type)
{
    uint32_t t = 0;
    int digits = 0, d;

    while (ps->pos < ps->eol && (d = hex_digit((unsigned char)*ps->pos)) >= 0) {
        if (++digits > 8)
            return fail(ps, KSVC_E_HIVE, "bad value type in hex(...)");
        t = t * 16 + (uint32_t)d;
        ps->pos++;
    }
    if (digits == 0 || ps->eol - ps->pos < 2 || ps->pos[0] != ')' ||
        ps->pos[1] != ':')
        return fail(ps, KSVC_E_HIVE, "bad value type in hex(...)");
    ps->pos += 2;
    *type = t;
    return KSVC_OK;
}

/* Whether the cursor is at a `\` that ends the line (a continuation). */
static int at_continuation(parser *ps)
{
    const char *p = ps->pos;

    if (p >= ps->eol || *p != '\\')
        return 0;
    for (p++; p < ps->eol; p++) {
        if (*p != ' ' && *p != '\t')
            return 0;
    }
    return 1;
}

/* Parse a comma-separated list of two-digit hex bytes, which may continue on
 * following lines after a trailing `\`. */
static int parse_hex_list(parser *ps, bytes *out)
{
    int want_byte = 0; /* a comma was read: a byte must follow */
    int rc;

    for (;;) {
        const char *start;
        int hi, lo;

        skip_blanks(ps);
        if (at_continuation(ps)) {
            rc = next_line(ps);
            if (rc == 0)
                return fail(ps, KSVC_E_HIVE,
                            "truncated line: '\\' continues past the end of "
                            "the file");
            if (rc < 0)
                return rc;
            continue;
        }
        if (ps->pos == ps->eol) {
            if (want_byte)
                return fail(ps, KSVC_E_HIVE,
                            "truncated line: hex list ends with ','");
            return KSVC_OK;
        }
        if (out->len > 0 && !want_byte) {
            if (*ps->pos != ',')
                return fail(ps, KSVC_E_HIVE, "expected ',' between hex bytes");
            ps->pos++;
            want_byte = 1;
            continue;
        }
        start = ps->pos;
        while (ps->pos < ps->eol && hex_digit((unsigned char)*ps->pos) >= 0)
            ps->pos++;
        if (ps->pos == start)
            return fail(ps, KSVC_E_HIVE, "bad hex byte '%c'", *start);
        if (ps->pos - start != 2)
            return fail(ps, KSVC_E_HIVE,
                        "odd hex: byte of %d digits (two expected)",
                        (int)(ps->pos - start));
        if (out->len >= KSVC__HIVE_VALUE_MAX)
            return fail(ps, KSVC_E_TOO_LONG, "value longer than %u bytes",
                        KSVC__HIVE_VALUE_MAX);
        hi = hex_digit((unsigned char)start[0]);
        lo = hex_digit((unsigned char)start[1]);
        if ((rc = bytes_add_byte(out, (unsigned char)(hi * 16 + lo))) != KSVC_OK)
            return rc;
        want_byte = 0;
    }
}

/* Decode UTF-16LE code units at @p data into code points, appending UTF-8 to
 * @p out; a NUL unit ends a string.  Returns the number of units consumed
 * (including the NUL) or 0 when the string is not NUL-terminated; -1 on
 * invalid UTF-16, -2 when out of memory. */
static long utf16_string_to_utf8(const unsigned char *data, size_t units,
                                 size_t first, bytes *out)
{
    size_t i = first;

    while (i < units) {
        uint32_t u = (uint32_t)data[2 * i] | ((uint32_t)data[2 * i + 1] << 8);
        uint32_t cp = u;
        i++;
        if (u == 0)
            return (long)(i - first);
        if (u >= 0xDC00 && u <= 0xDFFF)
            return -1;
        if (u >= 0xD800 && u <= 0xDBFF) {
            uint32_t lo;
            if (i >= units)
                return -1;
            lo = (uint32_t)data[2 * i] | ((uint32_t)data[2 * i + 1] << 8);
            if (lo < 0xDC00 || lo > 0xDFFF)
                return -1;
            cp = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            i++;
        }
        if (bytes_add_utf8(out, cp) != KSVC_OK)
            return -2;
    }
    return 0;
}

/* REG_SZ given as hex(1): UTF-16LE ending in its only NUL. */
static int convert_sz(parser *ps, const bytes *raw, bytes *out)
{
    size_t units = raw->len / 2;
    long used;

    if (raw->len % 2 != 0)
        return fail(ps, KSVC_E_HIVE, "REG_SZ of odd size %lu",
                    (unsigned long)raw->len);
    used = utf16_string_to_utf8(raw->data, units, 0, out);
    if (used == -2)
        return KSVC_E_NO_MEMORY;
    if (used == -1)
        return fail(ps, KSVC_E_HIVE, "REG_SZ holds invalid UTF-16");
    if (used == 0 || (size_t)used != units)
        return fail(ps, KSVC_E_HIVE, "REG_SZ must end in its only NUL");
    return bytes_add_byte(out, 0);
}

/* REG_MULTI_SZ given as hex(7): UTF-16LE strings, each NUL-terminated, then
 * an empty one; "00,00" (and "00,00,00,00") is the empty list. */
static int convert_multi_sz(parser *ps, const bytes *raw, bytes *out)
{
    size_t units = raw->len / 2, i = 0;
    long used;

    if (raw->len % 2 != 0)
        return fail(ps, KSVC_E_HIVE, "REG_MULTI_SZ of odd size %lu",
                    (unsigned long)raw->len);
    if (units == 0 || raw->data[raw->len - 1] != 0 ||
        raw->data[raw->len - 2] != 0)
        return fail(ps, KSVC_E_HIVE, "REG_MULTI_SZ without terminators");
    if (units <= 2 && (units == 1 || (raw->data[0] == 0 && raw->data[1] == 0)))
        return bytes_add_byte(out, 0); /* the empty list */
    while (i < units - 1) {
        used = utf16_string_to_utf8(raw->data, units, i, out);
        if (used == -2)
            return KSVC_E_NO_MEMORY;
        if (used == -1)
            return fail(ps, KSVC_E_HIVE, "REG_MULTI_SZ holds invalid UTF-16");
        if (used == 1)
            return fail(ps, KSVC_E_HIVE, "empty string inside REG_MULTI_SZ");
        if (bytes_add_byte(out, 0) != KSVC_OK)
            return KSVC_E_NO_MEMORY;
        i += (size_t)used;
    }
    if (i != units - 1)
        return fail(ps, KSVC_E_HIVE,
                    "REG_MULTI_SZ without terminators (no final empty string)");
    return bytes_add_byte(out, 0);
}

/* Turn raw hex bytes of @p type into the in-memory form in @p out. */
static int convert_hex(parser *ps, uint32_t type, bytes *raw, bytes *out)
{
    uint32_t dword;

    switch (type) {
    case KSVC_REG_SZ:
        return convert_sz(ps, raw, out);
    case KSVC_REG_MULTI_SZ:
        return convert_multi_sz(ps, raw, out);
    case KSVC_REG_DWORD:
        if (raw->len != 4)
            return fail(ps, KSVC_E_HIVE, "REG_DWORD of %lu bytes (4 expected)",
                        (unsigned long)raw->len);
        dword = (uint32_t)raw->data[0] | ((uint32_t)raw->data[1] << 8) |
                ((uint32_t)raw->data[2] << 16) | ((uint32_t)raw->data[3] << 24);
        return bytes_add(out, &dword, sizeof(dword));
    default: /* kept exactly as given */
        *out = *raw;
        memset(raw, 0, sizeof(*raw));
        return KSVC_OK;
    }
}

static int parse_dword(parser *ps, bytes *out)
{
    uint32_t dword = 0;
    int digits = 0, d;

    while (ps->pos < ps->eol && (d = hex_digit((unsigned char)*ps->pos)) >= 0) {
        if (++digits > 8)
            return fail(ps, KSVC_E_HIVE, "bad dword: more than 8 hex digits");
        dword = dword * 16 + (uint32_t)d;
        ps->pos++;
    }
    if (digits == 0)
        return fail(ps, KSVC_E_HIVE, "bad dword: no hex digits");
    if (!at_line_end(ps))
        return fail(ps, KSVC_E_HIVE, "bad dword: '%c' after the digits",
                    *ps->pos);
    return bytes_add(out, &dword, sizeof(dword));
}

static int starts_with(parser *ps, const char *prefix)
{
    size_t n = strlen(prefix);
    return (size_t)(ps->eol - ps->pos) >= n && memcmp(ps->pos, prefix, n) == 0;
}

/* Parse the data after `=`; @p type and @p out receive the value. */
static int parse_data(parser *ps, uint32_t *type, bytes *out)
{
    bytes raw = { NULL, 0, 0 };
    int rc;

    skip_blanks(ps);
    if (ps->pos == ps->eol)
        return fail(ps, KSVC_E_HIVE, "truncated line: value without data");
    if (*ps->pos == '"') {
        *type = KSVC_REG_SZ;
        rc = parse_quoted(ps, out, KSVC__HIVE_VALUE_MAX - 1, "string value");
        if (rc != KSVC_OK)
            return rc;
        if (!at_line_end(ps))
            return fail(ps, KSVC_E_HIVE, "text after the closing quote");
        return bytes_add_byte(out, 0);
    }
    if (starts_with(ps, "dword:")) {
        ps->pos += 6;
        *type = KSVC_REG_DWORD;
        return parse_dword(ps, out);
    }
    if (starts_with(ps, "hex:")) {
        ps->pos += 4;
        *type = KSVC__REG_BINARY;
    } else if (starts_with(ps, "hex(")) {
        ps->pos += 4;
        if ((rc = parse_hex_type(ps, type)) != KSVC_OK)
            return rc;
    } else if (*ps->pos == '-') {
        return fail(ps, KSVC_E_HIVE,
                    "value deletion '=-' followed by more text");
    } else {
        return fail(ps, KSVC_E_HIVE,
                    "unknown value data (expected \"...\", dword: or hex:)");
    }
    rc = parse_hex_list(ps, &raw);
    if (rc == KSVC_OK)
        rc = convert_hex(ps, *type, &raw, out);
    free(raw.data);
    return rc;
}

/* Parse `"Name"=data` or `@=data` at the cursor into key @p current. */
/* The data of a value is `-` alone: a deletion. */
static int is_deletion(parser *ps)
{
    const char *at = ps->pos;

    while (at < ps->eol && (*at == ' ' || *at == '\t'))
        at++;
    if (at == ps->eol || *at != '-')
        return 0;
    for (at++; at < ps->eol; at++)
        if (*at != ' ' && *at != '\t')
            return 0;
    return 1;
}

static int parse_value(parser *ps, uint32_t current)
{
    bytes name = { NULL, 0, 0 }, data = { NULL, 0, 0 };
    unsigned first_line = ps->line;
    uint32_t type = 0;
    ksvc__hive_key *key;
    seen_entry e;
    int rc;

    if (current == NO_INDEX)
        return fail(ps, KSVC_E_HIVE, "value outside any key");
    if (*ps->pos == '@') {
        ps->pos++;
        rc = bytes_add_byte(&name, 0);
    } else {
        rc = parse_quoted(ps, &name, KSVC__HIVE_NAME_MAX, "value name");
        if (rc == KSVC_OK)
            rc = bytes_add_byte(&name, 0);
    }
    if (rc == KSVC_OK) {
        skip_blanks(ps);
        if (ps->pos == ps->eol)
            rc = fail(ps, KSVC_E_HIVE, "truncated line: value without '='");
        else if (*ps->pos != '=')
            rc = fail(ps, KSVC_E_HIVE, "expected '=' after the value name");
        else
            ps->pos++;
    }
    if (rc == KSVC_OK && is_deletion(ps)) {
        /* `"Name"=-`: the value is gone (absent already is fine). */
        key = &ps->hive->keys[current];
        rc = ksvc__hive_delete(ps->hive, key->path, (char *)name.data);
        free(name.data);
        return rc == KSVC_E_NOT_FOUND ? KSVC_OK
                                      : seen_rebuild(&ps->seen, ps->hive);
    }
    if (rc == KSVC_OK)
        rc = parse_data(ps, &type, &data);
    if (rc == KSVC_OK &&
        stored_size(type, data.data, data.len) > KSVC__HIVE_VALUE_MAX)
        rc = fail(ps, KSVC_E_TOO_LONG, "value longer than %u bytes",
                  KSVC__HIVE_VALUE_MAX);
    key = &ps->hive->keys[current];
    if (rc == KSVC_OK && data.data == NULL) /* `hex:` holds no bytes */
        rc = bytes_reserve(&data, 1);
    if (rc == KSVC_OK &&
        !append_value(key, (char *)name.data, type, data.data, data.len))
        rc = KSVC_E_NO_MEMORY;
    if (rc != KSVC_OK) {
        free(name.data);
        free(data.data);
        return rc;
    }
    e.key = current;
    e.value = (uint32_t)(key->value_count - 1);
    rc = seen_add(&ps->seen, ps->hive, e);
    if (rc == KSVC_E_EXISTS) {
        ps->line = first_line;
        return fail(ps, KSVC_E_HIVE, "duplicate value \"%s\" in [%s]",
                    key->values[e.value].name, key->path);
    }
    return rc;
}

static int parse_lines(parser *ps)
{
    uint32_t current = NO_INDEX;
    int rc;

    rc = next_line(ps);
    if (rc < 0)
        return rc;
    if (rc == 0)
        ps->line = 1; /* an empty file */
    if (rc > 0 && starts_with(ps, HIVE_HEADER_4)) {
        ps->hive->regedit4 = 1;
        ps->pos += sizeof(HIVE_HEADER_4) - 1;
    } else if (rc > 0 && starts_with(ps, HIVE_HEADER)) {
        ps->pos += sizeof(HIVE_HEADER) - 1;
    } else {
        return fail(ps, KSVC_E_HIVE, "missing header '%s'", HIVE_HEADER);
    }
    if (!at_line_end(ps))
        return fail(ps, KSVC_E_HIVE, "missing header '%s'", HIVE_HEADER);
    while ((rc = next_line(ps)) > 0) {
        skip_blanks(ps);
        if (ps->pos == ps->eol || *ps->pos == ';')
            continue;
        if (*ps->pos == '[')
            rc = parse_key(ps, &current);
        else if (*ps->pos == '"' || *ps->pos == '@')
            rc = parse_value(ps, current);
        else
            rc = fail(ps, KSVC_E_HIVE, "unexpected text '%.*s'",
                      ps->eol - ps->pos < 20 ? (int)(ps->eol - ps->pos) : 20,
                      ps->pos);
        if (rc != KSVC_OK)
            return rc;
    }
    return rc;
}

/* Point the parser at the text as UTF-8: UTF-16LE after its BOM (regedit's
 * default export) is converted into @p utf8 first; a UTF-8 BOM is skipped.
 * The hive remembers which, to write the file back the same way. */
static int decode_text(parser *ps, const char *text, size_t len, bytes *utf8)
{
    const unsigned char *u = (const unsigned char *)text;
    long used;

    ps->next = text;
    ps->end = text + len;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        ps->hive->encoding = KSVC__HIVE_UTF8_BOM;
        ps->next += 3;
        return KSVC_OK;
    }
    if (len < 2 || u[0] != 0xFF || u[1] != 0xFE)
        return KSVC_OK;
    ps->hive->encoding = KSVC__HIVE_UTF16LE;
    ps->line = 1;
    if (len % 2 != 0)
        return fail(ps, KSVC_E_HIVE, "UTF-16 text of an odd number of bytes");
    /* Stops at a NUL: anything after it is refused below. */
    used = utf16_string_to_utf8(u + 2, (len - 2) / 2, 0, utf8);
    if (used == -2)
        return KSVC_E_NO_MEMORY;
    if (used != 0)
        return fail(ps, KSVC_E_HIVE, used == -1 ? "text is not UTF-16"
                                                : "NUL character in the text");
    ps->line = 0;
    ps->next = utf8->data ? (const char *)utf8->data : "";
    ps->end = ps->next + utf8->len;
    return KSVC_OK;
}

int ksvc__hive_parse(const char *text, size_t len, ksvc__hive **out,
                     char *err, size_t err_size)
{
    bytes utf8 = { NULL, 0, 0 };
    parser ps;
    int rc;

    *out = NULL;
    if (err_size > 0)
        err[0] = '\0';
    if (len > KSVC__HIVE_FILE_MAX) {
        if (err_size > 0)
            snprintf(err, err_size,
                     "hive of %lu bytes is larger than the %u byte limit",
                     (unsigned long)len, KSVC__HIVE_FILE_MAX);
        return KSVC_E_TOO_LONG;
    }
    memset(&ps, 0, sizeof(ps));
    ps.err = err;
    ps.err_size = err_size;
    ps.hive = ksvc__hive_new();
    if (!ps.hive)
        return KSVC_E_NO_MEMORY;
    rc = decode_text(&ps, text, len, &utf8);
    if (rc == KSVC_OK)
        rc = parse_lines(&ps);
    free(ps.seen.slots);
    free(utf8.data);
    if (rc == KSVC_E_NO_MEMORY && err_size > 0)
        snprintf(err, err_size, "line %u: out of memory", ps.line);
    if (rc != KSVC_OK) {
        ksvc__hive_free(ps.hive);
        return rc;
    }
    *out = ps.hive;
    return KSVC_OK;
}
