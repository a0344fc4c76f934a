/*
 * The POSIX mock backend's hive: the parser of `.reg` text.
 *
 * It treats its input as hostile: every line is checked for valid UTF-8 and
 * control characters before it is looked at (a line longer than the 64 KiB
 * the parser holds at once: each part of it as it is loaded), every size is
 * bounded before memory is taken for it, and duplicate names are found with
 * a hash set so a hive of a million values cannot make parsing quadratic.
 *
 * It reads its source in bounded chunks (reader, below) and holds one part
 * of one line at a time (parser.seg); a value larger than
 * KSVC__HIVE_KEEP_MAX is checked as it goes by and kept as a span.
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
/* Reading the source: code points from bounded chunks                      */
/* ------------------------------------------------------------------------ */

#define RAW_ROOM (64u * 1024u) /* bytes of the source held at once */
#define SEG_ROOM (64u * 1024u) /* bytes of one line held at once */
#define NO_CP 0xFFFFFFFFu

/* A UTF-16 decoder fed one code unit at a time. */
typedef struct utf16_state {
    uint32_t high; /* a high surrogate waiting for its pair, or 0 */
} utf16_state;

/* 1 with @p cp set when a code point is complete, 0 when a high surrogate
 * waits for its pair, -1 when the units are not UTF-16. */
static int utf16_unit(utf16_state *s, uint32_t unit, uint32_t *cp)
{
    uint32_t high = s->high;

    s->high = 0;
    if (high) {
        if (unit < 0xDC00 || unit > 0xDFFF)
            return -1;
        *cp = 0x10000 + ((high - 0xD800) << 10) + (unit - 0xDC00);
        return 1;
    }
    if (unit >= 0xDC00 && unit <= 0xDFFF)
        return -1;
    if (unit >= 0xD800 && unit <= 0xDBFF) {
        s->high = unit;
        return 0;
    }
    *cp = unit;
    return 1;
}

typedef struct reader {
    const ksvc__hive_source *src;
    uint64_t next;     /* offset of the next byte to read into raw */
    uint64_t end;      /* offset where the text ends */
    unsigned char *raw; /* RAW_ROOM bytes */
    size_t raw_len, raw_pos;
    int utf16;         /* the text is UTF-16LE */
    utf16_state u16;
    uint32_t pending;  /* a code point given back, or NO_CP */
    uint64_t pending_at; /* offset of its first byte */
    int os_error;      /* of a failed read; 0 when the source was short */
} reader;

/* Offset of the next code point's first byte. */
static uint64_t reader_offset(const reader *r)
{
    if (r->pending != NO_CP)
        return r->pending_at;
    return r->next - (uint64_t)(r->raw_len - r->raw_pos);
}

static int reader_at_end(const reader *r)
{
    return r->pending == NO_CP && r->raw_pos == r->raw_len &&
           r->next >= r->end;
}

/* Make at least 4 bytes available (fewer only at the end of the text). */
static int reader_fill(reader *r)
{
    size_t have = r->raw_len - r->raw_pos, got, want;
    int rc;

    if (have >= 4 || r->next >= r->end)
        return KSVC_OK;
    memmove(r->raw, r->raw + r->raw_pos, have);
    r->raw_pos = 0;
    r->raw_len = have;
    want = RAW_ROOM - have;
    if ((uint64_t)want > r->end - r->next)
        want = (size_t)(r->end - r->next);
    rc = ksvc__hive_source_read(r->src, r->next, r->raw + have, want, &got,
                                &r->os_error);
    if (rc == KSVC_OK && got != want) {
        r->os_error = 0;
        rc = KSVC_E_IO;
    }
    if (rc != KSVC_OK)
        return rc;
    r->raw_len += got;
    r->next += got;
    return KSVC_OK;
}

/* The UTF-16LE code point at the cursor. */
static int reader_utf16(reader *r, uint32_t *cp, const char **why)
{
    int rc;

    for (;;) {
        uint32_t unit;
        if ((rc = reader_fill(r)) != KSVC_OK)
            return rc;
        if (r->raw_len - r->raw_pos < 2) {
            *why = "text is not UTF-16";
            return r->u16.high || r->raw_len > r->raw_pos ? KSVC_E_HIVE : 0;
        }
        unit = (uint32_t)r->raw[r->raw_pos] |
               ((uint32_t)r->raw[r->raw_pos + 1] << 8);
        r->raw_pos += 2;
        rc = utf16_unit(&r->u16, unit, cp);
        if (rc < 0) {
            *why = "text is not UTF-16";
            return KSVC_E_HIVE;
        }
        if (rc > 0) {
            *why = "NUL character in the text";
            return *cp == 0 ? KSVC_E_HIVE : 1;
        }
    }
}

/* The next code point of the text: 1 with @p cp set, 0 at the end, or
 * KSVC_E_HIVE (with @p why) or KSVC_E_IO. */
static int reader_cp(reader *r, uint32_t *cp, const char **why)
{
    size_t used;
    int rc;

    if (r->pending != NO_CP) {
        *cp = r->pending;
        r->pending = NO_CP;
        return 1;
    }
    if (r->utf16)
        return reader_utf16(r, cp, why);
    if ((rc = reader_fill(r)) != KSVC_OK)
        return rc;
    if (r->raw_pos == r->raw_len)
        return 0;
    if (r->raw[r->raw_pos] < 0x80) {
        *cp = r->raw[r->raw_pos++];
        return 1;
    }
    used = utf8_decode(r->raw + r->raw_pos, r->raw_len - r->raw_pos, cp);
    *why = "invalid UTF-8";
    if (used == 0)
        return KSVC_E_HIVE;
    r->raw_pos += used;
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Parser                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct parser {
    reader rd;
    char *seg;          /* SEG_ROOM bytes: what is loaded of the line */
    const char *pos;    /* cursor inside the current line */
    const char *eol;    /* end of what is loaded of it (CR/LF excluded) */
    int line_done;      /* the line ends at eol */
    int poison;         /* error found right after eol, or 0 */
    const char *poison_why; /* its reason; NULL: control character */
    unsigned poison_char;
    uint64_t line_start; /* offset of the line in the source */
    uint64_t line_end;   /* offset past it and its line break, when done */
    int line_break;      /* it ends in a line break */
    unsigned line;       /* number of the current line, from 1 */
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

/* The error that stopped loading the line. */
static int fail_poison(parser *ps)
{
    if (ps->poison == KSVC_E_IO)
        return fail(ps, KSVC_E_IO, "%s",
                    ps->rd.os_error ? strerror(ps->rd.os_error)
                                    : "the file changed while being read");
    if (ps->poison_why == NULL)
        return fail(ps, KSVC_E_HIVE, "control character 0x%02x",
                    ps->poison_char);
    return fail(ps, ps->poison, "%s", ps->poison_why);
}

/* The line ends here; @p at is the offset past its line break. */
static void end_line(parser *ps, uint64_t at, int line_break)
{
    ps->line_done = 1;
    ps->line_end = at;
    ps->line_break = line_break;
}

/* A CR was read: with a LF after it, the line ends; otherwise it is a
 * control character (a CR that ends the text is dropped). */
static void after_cr(parser *ps, uint64_t cr_at)
{
    const char *why = NULL;
    uint64_t next_at = reader_offset(&ps->rd);
    uint32_t next;
    int rc = reader_cp(&ps->rd, &next, &why);

    if (rc > 0 && next == '\n') {
        end_line(ps, reader_offset(&ps->rd), 1);
        return;
    }
    if (rc == 0) {
        end_line(ps, cr_at, 0);
        return;
    }
    if (rc > 0) {
        ps->rd.pending = next;
        ps->rd.pending_at = next_at;
    }
    ps->poison = KSVC_E_HIVE;
    ps->poison_why = NULL;
    ps->poison_char = '\r';
}

/* Copy the printable ASCII characters at the reader's cursor (at most
 * @p room) to @p at, without decoding them one by one: their number. */
static size_t ascii_run(reader *r, char *at, size_t room)
{
    const unsigned char *raw = r->raw + r->raw_pos;
    size_t n = 0, i;

    if (r->pending != NO_CP || r->u16.high)
        return 0;
    if (!r->utf16) {
        size_t have = r->raw_len - r->raw_pos;
        size_t most = have < room ? have : room;
        while (n < most && raw[n] >= 0x20 && raw[n] < 0x7F)
            n++;
        memcpy(at, raw, n);
        r->raw_pos += n;
        return n;
    }
    for (i = 0; i + 1 < r->raw_len - r->raw_pos && n < room; i += 2) {
        if (raw[i + 1] != 0 || raw[i] < 0x20 || raw[i] >= 0x7F)
            break;
        at[n++] = (char)raw[i];
    }
    r->raw_pos += 2 * n;
    return n;
}

/* Load more of the current line after eol, up to the room of seg, its end,
 * or a character that cannot be in it (then poison is set). */
static void fill(parser *ps)
{
    char *at = ps->seg + (ps->eol - ps->seg);
    const char *stop = ps->seg + SEG_ROOM - 4;
    const char *why = NULL;
    uint32_t cp;
    int rc;

    while (!ps->line_done && !ps->poison && at < stop) {
        reader *r = &ps->rd;
        uint64_t cp_at;
        /* Printable ASCII, the bulk of any hive, in one go. */
        at += ascii_run(r, at, (size_t)(stop - at));
        if (at >= stop)
            break;
        cp_at = reader_offset(r);
        rc = reader_cp(r, &cp, &why);
        if (rc == 0) {
            end_line(ps, cp_at, 0);
        } else if (rc < 0) {
            ps->poison = rc;
            ps->poison_why = why;
        } else if (cp == '\n') {
            end_line(ps, reader_offset(r), 1);
        } else if (cp == '\r') {
            after_cr(ps, cp_at);
        } else if ((cp < 0x20 && cp != '\t') || cp == 0x7F) {
            ps->poison = KSVC_E_HIVE;
            ps->poison_why = NULL;
            ps->poison_char = cp;
        } else {
            at += utf8_encode(cp, (unsigned char *)at);
        }
    }
    ps->eol = at;
}

/* Move to the next physical line and check it is clean text (all of it,
 * when it fits in seg): 1 when there is one, 0 at the end of the text, or a
 * negative error.  The rest of the current line is checked first. */
static int next_line(parser *ps)
{
    while (!ps->line_done) {
        ps->pos = ps->eol = ps->seg;
        if (ps->poison)
            return fail_poison(ps);
        fill(ps);
    }
    if (reader_at_end(&ps->rd))
        return 0;
    ps->line++;
    ps->line_start = reader_offset(&ps->rd);
    ps->pos = ps->eol = ps->seg;
    ps->line_done = 0;
    fill(ps);
    if (ps->poison)
        return fail_poison(ps);
    return 1;
}

/* At least one character at the cursor: 1, 0 at the end of the line, or a
 * negative error. */
static int avail(parser *ps)
{
    if (ps->pos < ps->eol)
        return 1;
    if (ps->line_done)
        return 0;
    if (ps->poison)
        return fail_poison(ps);
    ps->pos = ps->eol = ps->seg;
    fill(ps);
    if (ps->pos < ps->eol)
        return 1;
    return ps->poison ? fail_poison(ps) : 0;
}

/* Load the line until @p n characters follow the cursor, or it ends (or
 * stops at damage, which avail() reports).  Pointers into seg move. */
static void ensure(parser *ps, size_t n)
{
    size_t have = (size_t)(ps->eol - ps->pos);

    if (have >= n || ps->line_done || ps->poison)
        return;
    memmove(ps->seg, ps->pos, have);
    ps->pos = ps->seg;
    ps->eol = ps->seg + have;
    fill(ps);
}

/* Skip blanks: 1 at a character, 0 at the end of the line, or an error. */
static int skip_blanks(parser *ps)
{
    int rc;

    while ((rc = avail(ps)) > 0 && (*ps->pos == ' ' || *ps->pos == '\t'))
        ps->pos++;
    return rc;
}

/* Bytes of a value or a name as they are parsed: all of them while they
 * fit in @c cap, then only their count. */
typedef struct sink {
    bytes kept;
    size_t total;
    size_t cap;
    int borrowed; /* kept is the caller's buffer of cap bytes */
} sink;

static int sink_add(sink *s, const void *data, size_t n)
{
    s->total += n;
    if (s->total <= s->cap)
        return bytes_add(&s->kept, data, n);
    if (!s->borrowed)
        free(s->kept.data);
    memset(&s->kept, 0, sizeof(s->kept));
    return KSVC_OK;
}

/* Parse a quoted string whose opening quote is at the cursor into @p out
 * (without terminator); longer than @p max bytes it is refused (0: any
 * length, counted beyond @p out's cap). */
static int parse_quoted(parser *ps, sink *out, size_t max, const char *what)
{
    int rc;

    ps->pos++; /* the opening quote */
    for (;;) {
        const char *run;
        char c;
        if ((rc = avail(ps)) < 0)
            return rc;
        if (rc == 0)
            return fail(ps, KSVC_E_HIVE, "unterminated string in %s", what);
        /* Plain characters up to the next quote or backslash, at once. */
        run = ps->pos;
        while (ps->pos < ps->eol && *ps->pos != '"' && *ps->pos != '\\')
            ps->pos++;
        if (ps->pos > run) {
            size_t n = (size_t)(ps->pos - run);
            if (max && out->total + n > max)
                return fail(ps, KSVC_E_TOO_LONG, "%s longer than %lu bytes",
                            what, (unsigned long)max);
            if ((rc = sink_add(out, run, n)) != KSVC_OK)
                return rc;
            continue;
        }
        c = *ps->pos++;
        if (c == '"')
            return KSVC_OK;
        if ((rc = avail(ps)) < 0)
            return rc;
        if (rc == 0)
            return fail(ps, KSVC_E_HIVE, "unterminated string in %s", what);
        c = *ps->pos++;
        if (c != '\\' && c != '"')
            return fail(ps, KSVC_E_HIVE,
                        "bad escape '\\%c' in %s (only \\\\ and \\\")", c,
                        what);
        if (max && out->total >= max)
            return fail(ps, KSVC_E_TOO_LONG, "%s longer than %lu bytes", what,
                        (unsigned long)max);
        if ((rc = sink_add(out, &c, 1)) != KSVC_OK)
            return rc;
    }
}

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

/* Parse `[path]` at the cursor and make it the current key. */
static int parse_key(parser *ps, uint32_t *current)
{
    const char *start, *close;
    const char *why;
    char *path = NULL;
    ksvc__hive_key *key;
    seen_entry e;
    int rc;

    ensure(ps, SEG_ROOM); /* the whole line: a key path is far shorter */
    if (!ps->line_done)
        return ps->poison ? fail_poison(ps)
                          : fail(ps, KSVC_E_TOO_LONG,
                                 "key path longer than %u bytes",
                                 KSVC__HIVE_NAME_MAX);
    start = ps->pos + 1;
    close = ps->eol;
    ps->pos = ps->eol;
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

    ensure(ps, 11);
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

/* ---- the bytes of a hex list, turned into the in-memory form ---- */

typedef struct conv {
    uint32_t type;
    sink *out;
    size_t raw;              /* bytes given */
    unsigned char first;     /* first byte of a UTF-16 unit */
    unsigned char dword[4];  /* a REG_DWORD's bytes */
    utf16_state u16;
    size_t units;
    uint32_t first_unit, last_unit;
    int at_string_start;     /* REG_MULTI_SZ: the next unit starts one */
    int ended;               /* REG_MULTI_SZ: its empty string was seen */
    int seen_nul;            /* REG_SZ: its NUL was seen */
    const char *problem;     /* the first thing wrong with the strings */
} conv;

static int emit_cp(conv *cv, uint32_t cp)
{
    unsigned char utf8[4];

    return sink_add(cv->out, utf8, utf8_encode(cp, utf8));
}

/* REG_SZ given as hex(1): UTF-16LE ending in its only NUL. */
static int sz_unit(conv *cv, uint32_t unit)
{
    uint32_t cp;
    int rc;

    if (cv->problem)
        return KSVC_OK;
    if (cv->seen_nul) {
        cv->problem = "REG_SZ must end in its only NUL";
        return KSVC_OK;
    }
    rc = utf16_unit(&cv->u16, unit, &cp);
    if (rc < 0)
        cv->problem = "REG_SZ holds invalid UTF-16";
    else if (rc > 0 && cp == 0)
        cv->seen_nul = 1;
    else if (rc > 0)
        return emit_cp(cv, cp);
    return KSVC_OK;
}

/* REG_MULTI_SZ given as hex(7): UTF-16LE strings, each NUL-terminated,
 * then an empty one; "00,00" (and "00,00,00,00") is the empty list. */
static int multi_sz_unit(conv *cv, uint32_t unit)
{
    uint32_t cp;
    int rc;

    if (cv->problem)
        return KSVC_OK;
    if (cv->ended) {
        cv->problem = "empty string inside REG_MULTI_SZ";
        return KSVC_OK;
    }
    rc = utf16_unit(&cv->u16, unit, &cp);
    if (rc < 0) {
        cv->problem = "REG_MULTI_SZ holds invalid UTF-16";
        return KSVC_OK;
    }
    if (rc == 0)
        return KSVC_OK;
    if (cp == 0 && cv->at_string_start)
        cv->ended = 1;
    cv->at_string_start = cp == 0;
    return cp == 0 ? sink_add(cv->out, "", 1) : emit_cp(cv, cp);
}

static int conv_byte(conv *cv, unsigned char byte)
{
    uint32_t unit;

    cv->raw++;
    switch (cv->type) {
    case KSVC_REG_SZ:
    case KSVC_REG_MULTI_SZ:
        if (cv->raw % 2 != 0) {
            cv->first = byte;
            return KSVC_OK;
        }
        unit = (uint32_t)cv->first | ((uint32_t)byte << 8);
        if (++cv->units == 1)
            cv->first_unit = unit;
        cv->last_unit = unit;
        return cv->type == KSVC_REG_SZ ? sz_unit(cv, unit)
                                       : multi_sz_unit(cv, unit);
    case KSVC_REG_DWORD:
        if (cv->raw <= 4)
            cv->dword[cv->raw - 1] = byte;
        return KSVC_OK;
    default: /* kept exactly as given */
        return sink_add(cv->out, &byte, 1);
    }
}

static int sz_finish(parser *ps, conv *cv)
{
    if (cv->raw % 2 != 0)
        return fail(ps, KSVC_E_HIVE, "REG_SZ of odd size %lu",
                    (unsigned long)cv->raw);
    if (!cv->problem && cv->u16.high)
        cv->problem = "REG_SZ holds invalid UTF-16";
    if (!cv->problem && !cv->seen_nul)
        cv->problem = "REG_SZ must end in its only NUL";
    if (cv->problem)
        return fail(ps, KSVC_E_HIVE, "%s", cv->problem);
    return sink_add(cv->out, "", 1);
}

static int multi_sz_finish(parser *ps, conv *cv)
{
    if (cv->raw % 2 != 0)
        return fail(ps, KSVC_E_HIVE, "REG_MULTI_SZ of odd size %lu",
                    (unsigned long)cv->raw);
    if (cv->units == 0 || cv->last_unit != 0)
        return fail(ps, KSVC_E_HIVE, "REG_MULTI_SZ without terminators");
    if (cv->units == 1 || (cv->units == 2 && cv->first_unit == 0))
        return KSVC_OK; /* the empty list: "\0" was given to the sink */
    if (cv->problem)
        return fail(ps, KSVC_E_HIVE, "%s", cv->problem);
    if (!cv->ended)
        return fail(ps, KSVC_E_HIVE,
                    "REG_MULTI_SZ without terminators (no final empty string)");
    return KSVC_OK;
}

static int conv_bytes(conv *cv, const unsigned char *data, size_t n)
{
    size_t i;
    int rc = KSVC_OK;

    if (cv->type != KSVC_REG_SZ && cv->type != KSVC_REG_MULTI_SZ &&
        cv->type != KSVC_REG_DWORD) {
        cv->raw += n; /* kept exactly as given */
        return sink_add(cv->out, data, n);
    }
    for (i = 0; i < n && rc == KSVC_OK; i++)
        rc = conv_byte(cv, data[i]);
    return rc;
}

/* The list is complete: check it for its type, finish the in-memory form. */
static int conv_finish(parser *ps, conv *cv)
{
    uint32_t dword;

    switch (cv->type) {
    case KSVC_REG_SZ:
        return sz_finish(ps, cv);
    case KSVC_REG_MULTI_SZ:
        return multi_sz_finish(ps, cv);
    case KSVC_REG_DWORD:
        if (cv->raw != 4)
            return fail(ps, KSVC_E_HIVE, "REG_DWORD of %lu bytes (4 expected)",
                        (unsigned long)cv->raw);
        dword = (uint32_t)cv->dword[0] | ((uint32_t)cv->dword[1] << 8) |
                ((uint32_t)cv->dword[2] << 16) | ((uint32_t)cv->dword[3] << 24);
        return sink_add(cv->out, &dword, sizeof(dword));
    default:
        return KSVC_OK;
    }
}

/* The value of hex digit @p c, or -1 (hex_digit's answer, here where the
 * compiler can inline it into the loops over a large value). */
static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* `,hh` groups inside the loaded part of the line, at once: the body of a
 * large value.  Stops before anything else (the general loop below deals
 * with it). */
static int hex_run(parser *ps, conv *cv)
{
    unsigned char run[256];
    size_t n;
    int rc = KSVC_OK;

    do {
        for (n = 0; n < sizeof(run) && ps->eol - ps->pos >= 4 &&
                    ps->pos[0] == ',';
             n++) {
            int hi = hex_value((unsigned char)ps->pos[1]);
            int lo = hex_value((unsigned char)ps->pos[2]);
            if (hi < 0 || lo < 0 || hex_value((unsigned char)ps->pos[3]) >= 0)
                break;
            run[n] = (unsigned char)(hi * 16 + lo);
            ps->pos += 3;
        }
        rc = conv_bytes(cv, run, n);
    } while (rc == KSVC_OK && n == sizeof(run));
    return rc;
}

/* A `\` is at the cursor: 1 when it ends the line (a continuation), or an
 * error; @p comma_due says a ',' was expected instead. */
static int continuation(parser *ps, int comma_due)
{
    int rc;

    ps->pos++;
    if ((rc = skip_blanks(ps)) < 0)
        return rc;
    if (rc > 0)
        return comma_due
                   ? fail(ps, KSVC_E_HIVE, "expected ',' between hex bytes")
                   : fail(ps, KSVC_E_HIVE, "bad hex byte '\\'");
    rc = next_line(ps);
    if (rc == 0)
        return fail(ps, KSVC_E_HIVE,
                    "truncated line: '\\' continues past the end of the file");
    return rc;
}

/* One hex byte at the cursor (two digits). */
static int hex_byte(parser *ps, conv *cv)
{
    int digits = 0, value = 0, d, rc;
    char first = *ps->pos;

    while ((rc = avail(ps)) > 0 &&
           (d = hex_value((unsigned char)*ps->pos)) >= 0) {
        if (digits < 2)
            value = value * 16 + d;
        if (digits < 1000)
            digits++;
        ps->pos++;
    }
    if (rc < 0)
        return rc;
    if (digits == 0)
        return fail(ps, KSVC_E_HIVE, "bad hex byte '%c'", first);
    if (digits != 2)
        return fail(ps, KSVC_E_HIVE,
                    "odd hex: byte of %d digits (two expected)", digits);
    return conv_byte(cv, (unsigned char)value);
}

/* Parse a comma-separated list of two-digit hex bytes, which may continue on
 * following lines after a trailing `\`, into @p cv. */
static int parse_hex_list(parser *ps, conv *cv)
{
    int want_byte = 0; /* a comma was read: a byte must follow */
    int rc;

    for (;;) {
        if (cv->raw > 0 && !want_byte && (rc = hex_run(ps, cv)) != KSVC_OK)
            return rc;
        if ((rc = skip_blanks(ps)) < 0)
            return rc;
        if (rc == 0) {
            if (want_byte)
                return fail(ps, KSVC_E_HIVE,
                            "truncated line: hex list ends with ','");
            return KSVC_OK;
        }
        if (*ps->pos == '\\') {
            if ((rc = continuation(ps, cv->raw > 0 && !want_byte)) < 0)
                return rc;
            continue;
        }
        if (cv->raw > 0 && !want_byte) {
            if (*ps->pos != ',')
                return fail(ps, KSVC_E_HIVE, "expected ',' between hex bytes");
            ps->pos++;
            want_byte = 1;
            continue;
        }
        if ((rc = hex_byte(ps, cv)) != KSVC_OK)
            return rc;
        want_byte = 0;
    }
}

static int parse_dword(parser *ps, sink *out)
{
    uint32_t dword = 0;
    int digits = 0, d, rc;

    ensure(ps, 9);
    while (ps->pos < ps->eol && (d = hex_digit((unsigned char)*ps->pos)) >= 0) {
        if (++digits > 8)
            return fail(ps, KSVC_E_HIVE, "bad dword: more than 8 hex digits");
        dword = dword * 16 + (uint32_t)d;
        ps->pos++;
    }
    if (digits == 0)
        return fail(ps, KSVC_E_HIVE, "bad dword: no hex digits");
    if ((rc = skip_blanks(ps)) < 0)
        return rc;
    if (rc > 0)
        return fail(ps, KSVC_E_HIVE, "bad dword: '%c' after the digits",
                    *ps->pos);
    return sink_add(out, &dword, sizeof(dword));
}

static int starts_with(parser *ps, const char *prefix)
{
    size_t n = strlen(prefix);
    return (size_t)(ps->eol - ps->pos) >= n && memcmp(ps->pos, prefix, n) == 0;
}

/* Parse the data after `=`; @p type and @p out receive the value. */
static int parse_data(parser *ps, uint32_t *type, sink *out)
{
    conv cv;
    int rc;

    if ((rc = skip_blanks(ps)) < 0)
        return rc;
    if (rc == 0)
        return fail(ps, KSVC_E_HIVE, "truncated line: value without data");
    if (*ps->pos == '"') {
        *type = KSVC_REG_SZ;
        rc = parse_quoted(ps, out, 0, "string value");
        if (rc != KSVC_OK)
            return rc;
        if ((rc = skip_blanks(ps)) != 0)
            return rc < 0 ? rc
                          : fail(ps, KSVC_E_HIVE,
                                 "text after the closing quote");
        return sink_add(out, "", 1);
    }
    ensure(ps, 8);
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
    memset(&cv, 0, sizeof(cv));
    cv.type = *type;
    cv.out = out;
    cv.at_string_start = 1;
    rc = parse_hex_list(ps, &cv);
    return rc == KSVC_OK ? conv_finish(ps, &cv) : rc;
}

/* Parse `"Name"=data` or `@=data` at the cursor: the name (NUL-terminated)
 * into @p name, the type and data into @p type and @p data; @p deleted is
 * set instead for `"Name"=-`. */
static int parse_entry(parser *ps, sink *name, uint32_t *type, sink *data,
                       int *deleted)
{
    int rc;

    *deleted = 0;
    if (*ps->pos == '@') {
        ps->pos++;
        rc = KSVC_OK;
    } else {
        rc = parse_quoted(ps, name, KSVC__HIVE_NAME_MAX, "value name");
    }
    if (rc == KSVC_OK)
        rc = sink_add(name, "", 1);
    if (rc != KSVC_OK)
        return rc;
    if ((rc = skip_blanks(ps)) <= 0)
        return rc < 0 ? rc
                      : fail(ps, KSVC_E_HIVE,
                             "truncated line: value without '='");
    if (*ps->pos != '=')
        return fail(ps, KSVC_E_HIVE, "expected '=' after the value name");
    ps->pos++;
    if ((rc = skip_blanks(ps)) < 0)
        return rc;
    if (rc > 0 && *ps->pos == '-') {
        /* `"Name"=-` alone deletes; anything after is damage. */
        ps->pos++;
        if ((rc = skip_blanks(ps)) < 0)
            return rc;
        if (rc > 0)
            return fail(ps, KSVC_E_HIVE,
                        "value deletion '=-' followed by more text");
        *deleted = 1;
        return KSVC_OK;
    }
    return parse_data(ps, type, data);
}

/* Add the value just parsed to key @p current: held, or (beyond
 * KSVC__HIVE_KEEP_MAX) as the span of its lines. */
static int add_value(parser *ps, uint32_t current, sink *name, uint32_t type,
                     sink *data, unsigned first_line, uint64_t start)
{
    ksvc__hive_key *key = &ps->hive->keys[current];
    ksvc__hive_value *value;
    seen_entry e;
    int rc;

    if (data->total <= data->cap && data->kept.data == NULL &&
        (rc = bytes_reserve(&data->kept, 1)) != KSVC_OK) /* `hex:` */
        return rc;
    value = append_value(key, (char *)name->kept.data, type, data->kept.data,
                         data->total);
    if (!value)
        return KSVC_E_NO_MEMORY;
    memset(&name->kept, 0, sizeof(name->kept));
    memset(&data->kept, 0, sizeof(data->kept));
    if (data->total > data->cap) {
        value->span.offset = start;
        value->span.length = ps->line_end - start;
        value->span.line = first_line;
        value->span.ends_line = ps->line_break;
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

static int parse_value(parser *ps, uint32_t current)
{
    sink name = { { NULL, 0, 0 }, 0, KSVC__HIVE_NAME_MAX + 1, 0 };
    sink data = { { NULL, 0, 0 }, 0, KSVC__HIVE_KEEP_MAX, 0 };
    unsigned first_line = ps->line;
    uint64_t start = ps->line_start;
    uint32_t type = 0;
    int rc, deleted;

    if (current == NO_INDEX)
        return fail(ps, KSVC_E_HIVE, "value outside any key");
    rc = parse_entry(ps, &name, &type, &data, &deleted);
    if (rc == KSVC_OK && deleted) {
        /* `"Name"=-`: the value is gone (absent already is fine). */
        rc = ksvc__hive_delete(ps->hive, ps->hive->keys[current].path,
                               (char *)name.kept.data);
        rc = rc == KSVC_E_NOT_FOUND ? KSVC_OK
                                    : seen_rebuild(&ps->seen, ps->hive);
    } else if (rc == KSVC_OK) {
        rc = add_value(ps, current, &name, type, &data, first_line, start);
    }
    free(name.kept.data);
    free(data.kept.data);
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
    ensure(ps, sizeof(HIVE_HEADER));
    if (rc > 0 && starts_with(ps, HIVE_HEADER_4)) {
        ps->hive->regedit4 = 1;
        ps->pos += sizeof(HIVE_HEADER_4) - 1;
    } else if (rc > 0 && starts_with(ps, HIVE_HEADER)) {
        ps->pos += sizeof(HIVE_HEADER) - 1;
    } else {
        return fail(ps, KSVC_E_HIVE, "missing header '%s'", HIVE_HEADER);
    }
    if ((rc = skip_blanks(ps)) != 0)
        return rc < 0 ? rc
                      : fail(ps, KSVC_E_HIVE, "missing header '%s'",
                             HIVE_HEADER);
    while ((rc = next_line(ps)) > 0) {
        if ((rc = skip_blanks(ps)) < 0)
            return rc;
        if (rc == 0 || *ps->pos == ';')
            continue;
        if (*ps->pos == '[') {
            rc = parse_key(ps, &current);
        } else if (*ps->pos == '"' || *ps->pos == '@') {
            rc = parse_value(ps, current);
        } else {
            ensure(ps, 20);
            rc = fail(ps, KSVC_E_HIVE, "unexpected text '%.*s'",
                      ps->eol - ps->pos < 20 ? (int)(ps->eol - ps->pos) : 20,
                      ps->pos);
        }
        if (rc != KSVC_OK)
            return rc;
    }
    return rc;
}

/* Set up @p ps to read bytes [@p from, @p to) of @p src. */
static int parser_open(parser *ps, const ksvc__hive_source *src,
                       uint64_t from, uint64_t to, int utf16, char *err,
                       size_t err_size)
{
    memset(ps, 0, sizeof(*ps));
    ps->err = err;
    ps->err_size = err_size;
    if (err_size > 0)
        err[0] = '\0';
    ps->rd.src = src;
    ps->rd.next = from;
    ps->rd.end = to;
    ps->rd.utf16 = utf16;
    ps->rd.pending = NO_CP;
    ps->rd.raw = malloc(RAW_ROOM);
    ps->seg = malloc(SEG_ROOM);
    ps->pos = ps->eol = ps->seg;
    ps->line_done = 1; /* no line yet */
    return ps->rd.raw && ps->seg ? KSVC_OK : KSVC_E_NO_MEMORY;
}

static void parser_close(parser *ps)
{
    free(ps->rd.raw);
    free(ps->seg);
    free(ps->seen.slots);
}

/* Which encoding the text is in: UTF-16LE after its BOM (regedit's default
 * export) or UTF-8 (a UTF-8 BOM is skipped); @p start receives where the
 * text after the BOM starts.  The hive remembers which, to write the file
 * back the same way. */
static int detect_encoding(const ksvc__hive_source *src, ksvc__hive *hive,
                           uint64_t *start, int *os_error)
{
    unsigned char bom[3] = { 0, 0, 0 };
    size_t got = 0;
    int rc = ksvc__hive_source_read(src, 0, bom,
                                    src->size < 3 ? (size_t)src->size : 3,
                                    &got, os_error);

    *start = 0;
    if (rc != KSVC_OK)
        return rc;
    if (got == 3 && memcmp(bom, "\xEF\xBB\xBF", 3) == 0) {
        hive->encoding = KSVC__HIVE_UTF8_BOM;
        *start = 3;
    } else if (got >= 2 && bom[0] == 0xFF && bom[1] == 0xFE) {
        hive->encoding = KSVC__HIVE_UTF16LE;
        *start = 2;
    }
    return KSVC_OK;
}

static int parse_source(const ksvc__hive_source *src, ksvc__hive **out,
                        char *err, size_t err_size, int *os_error)
{
    uint64_t start = 0;
    parser ps;
    int rc;

    *out = NULL;
    *os_error = 0;
    if (err_size > 0)
        err[0] = '\0';
    if (src->size > KSVC__HIVE_FILE_MAX) {
        if (err_size > 0)
            snprintf(err, err_size,
                     "hive of %llu bytes is larger than the %u byte limit",
                     (unsigned long long)src->size, KSVC__HIVE_FILE_MAX);
        return KSVC_E_TOO_LONG;
    }
    rc = parser_open(&ps, src, 0, src->size, 0, err, err_size);
    if (rc == KSVC_OK && !(ps.hive = ksvc__hive_new()))
        rc = KSVC_E_NO_MEMORY;
    if (rc == KSVC_OK)
        rc = detect_encoding(src, ps.hive, &start, os_error);
    if (rc == KSVC_OK) {
        ps.rd.next = start;
        ps.rd.utf16 = ps.hive->encoding == KSVC__HIVE_UTF16LE;
        if (ps.rd.utf16 && src->size % 2 != 0) {
            ps.line = 1;
            rc = fail(&ps, KSVC_E_HIVE,
                      "UTF-16 text of an odd number of bytes");
        }
    }
    if (rc == KSVC_OK)
        rc = parse_lines(&ps);
    if (rc == KSVC_E_IO && !*os_error)
        *os_error = ps.rd.os_error;
    parser_close(&ps);
    if (rc == KSVC_E_NO_MEMORY && err_size > 0)
        snprintf(err, err_size, "line %u: out of memory", ps.line);
    if (rc != KSVC_OK) {
        ksvc__hive_free(ps.hive);
        return rc;
    }
    ps.hive->source = *src;
    *out = ps.hive;
    return KSVC_OK;
}

int ksvc__hive_parse(const char *text, size_t len, ksvc__hive **out,
                     char *err, size_t err_size)
{
    ksvc__hive_source src;
    int os_error;

    src.fd = -1;
    src.mem = (const unsigned char *)text;
    src.size = len;
    return parse_source(&src, out, err, err_size, &os_error);
}

int ksvc__hive_parse_fd(int fd, uint64_t size, ksvc__hive **out,
                        char *err, size_t err_size, int *os_error)
{
    ksvc__hive_source src;

    src.fd = fd;
    src.mem = NULL;
    src.size = size;
    return parse_source(&src, out, err, err_size, os_error);
}

/* ------------------------------------------------------------------------ */
/* A spanned value, decoded on demand                                       */
/* ------------------------------------------------------------------------ */

int ksvc__hive_value_read(const ksvc__hive *hive,
                          const ksvc__hive_value *value, void *buf,
                          int *os_error)
{
    sink name = { { NULL, 0, 0 }, 0, KSVC__HIVE_NAME_MAX + 1, 0 };
    sink data = { { NULL, 0, 0 }, 0, 0, 1 };
    const ksvc__hive_span *span = &value->span;
    uint32_t type = 0;
    int deleted = 0, rc;
    parser ps;

    *os_error = 0;
    if (span->length == 0) {
        if (value->size > 0)
            memcpy(buf, value->data, value->size);
        return KSVC_OK;
    }
    /* Decoded straight into the caller's buffer: it has room for
     * value->size bytes, and more is never kept. */
    data.cap = value->size;
    data.kept.data = buf;
    data.kept.room = value->size;
    rc = parser_open(&ps, &hive->source, span->offset,
                     span->offset + span->length,
                     hive->encoding == KSVC__HIVE_UTF16LE, NULL, 0);
    ps.line = span->line - 1;
    if (rc == KSVC_OK && (rc = next_line(&ps)) == 0)
        rc = KSVC_E_HIVE;
    if (rc > 0)
        rc = skip_blanks(&ps) > 0 ? KSVC_OK : KSVC_E_HIVE;
    if (rc == KSVC_OK)
        rc = parse_entry(&ps, &name, &type, &data, &deleted);
    /* The source is the file this hive was parsed from: anything else
     * means it changed under us. */
    if (rc == KSVC_OK && (deleted || type != value->type ||
                          data.total != value->size))
        rc = KSVC_E_HIVE;
    if (rc == KSVC_E_IO)
        *os_error = ps.rd.os_error;
    parser_close(&ps);
    free(name.kept.data);
    return rc;
}
