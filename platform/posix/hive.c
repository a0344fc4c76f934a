/*
 * The POSIX mock backend's registry hive: a `.reg` export parsed into keys
 * and values (hive_parse.c), edited in memory (here: the model, the checks
 * of names and data, the text helpers the parser and the writer share) and
 * written back (hive_write.c).  See hive.h for the format.
 */
#include "internal.h"

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */
/* ------------------------------------------------------------------------ */

int ascii_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

int ksvc__hive_name_eq(const char *a, const char *b)
{
    while (*a && ascii_lower((unsigned char)*a) == ascii_lower((unsigned char)*b)) {
        a++;
        b++;
    }
    return *a == '\0' && *b == '\0';
}

int hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = ascii_lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

char *copy_text(const char *text, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy) {
        memcpy(copy, text, len);
        copy[len] = '\0';
    }
    return copy;
}

/* Decode one UTF-8 sequence at @p s (at most @p n bytes): its length, or 0
 * when it is not valid (overlong forms, surrogates and code points beyond
 * U+10FFFF are invalid, as in RFC 3629). */
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    size_t len, i;
    uint32_t c, min;

    if (n == 0)
        return 0;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if ((s[0] & 0xE0) == 0xC0) {
        len = 2, c = s[0] & 0x1F, min = 0x80;
    } else if ((s[0] & 0xF0) == 0xE0) {
        len = 3, c = s[0] & 0x0F, min = 0x800;
    } else if ((s[0] & 0xF8) == 0xF0) {
        len = 4, c = s[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

int utf8_valid(const unsigned char *s, size_t n)
{
    size_t used;
    uint32_t cp;

    while (n > 0) {
        used = utf8_decode(s, n, &cp);
        if (used == 0)
            return 0;
        s += used;
        n -= used;
    }
    return 1;
}

int bytes_reserve(bytes *b, size_t more)
{
    size_t room;
    unsigned char *grown;

    if (b->room - b->len >= more)
        return KSVC_OK;
    room = b->room ? b->room : 64;
    while (room - b->len < more) {
        if (room > ((size_t)-1) / 2)
            return KSVC_E_NO_MEMORY;
        room *= 2;
    }
    grown = realloc(b->data, room);
    if (!grown)
        return KSVC_E_NO_MEMORY;
    b->data = grown;
    b->room = room;
    return KSVC_OK;
}

int bytes_add(bytes *b, const void *data, size_t size)
{
    int rc = bytes_reserve(b, size);
    if (rc == KSVC_OK && size > 0) {
        memcpy(b->data + b->len, data, size);
        b->len += size;
    }
    return rc;
}

int bytes_add_byte(bytes *b, unsigned char c)
{
    return bytes_add(b, &c, 1);
}

int bytes_add_str(bytes *b, const char *s)
{
    return bytes_add(b, s, strlen(s));
}

/* The UTF-8 form of code point @p cp in @p out: its length. */
size_t utf8_encode(uint32_t cp, unsigned char out[4])
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

static int bytes_add_utf16le(bytes *b, uint32_t cp)
{
    unsigned char out[4];

    if (cp >= 0x10000) {
        uint32_t hi = 0xD800 + ((cp - 0x10000) >> 10);
        uint32_t lo = 0xDC00 + ((cp - 0x10000) & 0x3FF);
        out[0] = (unsigned char)(hi & 0xFF);
        out[1] = (unsigned char)(hi >> 8);
        out[2] = (unsigned char)(lo & 0xFF);
        out[3] = (unsigned char)(lo >> 8);
        return bytes_add(b, out, 4);
    }
    out[0] = (unsigned char)(cp & 0xFF);
    out[1] = (unsigned char)(cp >> 8);
    return bytes_add(b, out, 2);
}

/* Append the UTF-16LE form of valid UTF-8 text (no terminator). */
int bytes_add_utf8_as_utf16(bytes *b, const unsigned char *s, size_t n)
{
    size_t used;
    uint32_t cp;
    int rc = KSVC_OK;

    while (n > 0 && rc == KSVC_OK) {
        used = utf8_decode(s, n, &cp);
        if (used == 0)
            return KSVC_E_INVALID_ARGUMENT;
        rc = bytes_add_utf16le(b, cp);
        s += used;
        n -= used;
    }
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Checks of names and data                                                 */
/* ------------------------------------------------------------------------ */

/* Whether @p s holds a character a line of .reg text cannot carry (a tab
 * is fine). */
int has_control(const char *s)
{
    for (; *s; s++) {
        if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7F)
            return 1;
    }
    return 0;
}

static int check_name(const char *name, const char **why)
{
    size_t len = strlen(name);

    if (len > KSVC__HIVE_NAME_MAX) {
        *why = "name longer than 16383 bytes";
        return KSVC_E_TOO_LONG;
    }
    if (!utf8_valid((const unsigned char *)name, len)) {
        *why = "name is not valid UTF-8";
        return KSVC_E_INVALID_ARGUMENT;
    }
    if (has_control(name)) {
        *why = "name holds a control character";
        return KSVC_E_INVALID_ARGUMENT;
    }
    return KSVC_OK;
}

int ksvc__hive_check_value_name(const char *name, const char **why)
{
    return check_name(name, why);
}

int ksvc__hive_check_key_path(const char *path, const char **why)
{
    size_t len = strlen(path);
    int rc = check_name(path, why);

    if (rc != KSVC_OK)
        return rc;
    if (len == 0) {
        *why = "empty key path";
        return KSVC_E_INVALID_ARGUMENT;
    }
    if (path[0] == '\\' || path[len - 1] == '\\' || strstr(path, "\\\\")) {
        *why = "empty component in key path";
        return KSVC_E_INVALID_ARGUMENT;
    }
    if (path[0] == '-') {
        *why = "key path starts with '-'";
        return KSVC_E_INVALID_ARGUMENT;
    }
    return KSVC_OK;
}

/* Whether @p data (size >= 1) is a REG_MULTI_SZ in memory form: "\0" alone,
 * or non-empty NUL-terminated strings followed by an empty one. */
static int multi_sz_ok(const unsigned char *data, size_t size, const char **why)
{
    size_t start = 0, i;

    if (size == 0 || data[size - 1] != '\0') {
        *why = "REG_MULTI_SZ without terminators";
        return 0;
    }
    if (size == 1)
        return 1;
    if (size < 3 || data[size - 2] != '\0') {
        *why = "REG_MULTI_SZ without its final empty string";
        return 0;
    }
    for (i = 0; i < size - 1; i++) {
        if (data[i] != '\0')
            continue;
        if (i == start) {
            *why = "empty string inside REG_MULTI_SZ";
            return 0;
        }
        if (!utf8_valid(data + start, i - start)) {
            *why = "REG_MULTI_SZ holds invalid UTF-8";
            return 0;
        }
        start = i + 1;
    }
    return 1;
}

int ksvc__hive_check_data(uint32_t type, const void *data, size_t size,
                          const char **why)
{
    const unsigned char *bytes_in = data;

    if (size > 0 && data == NULL) {
        *why = "no data";
        return KSVC_E_INVALID_ARGUMENT;
    }
    switch (type) {
    case KSVC_REG_SZ:
        if (size == 0 || bytes_in[size - 1] != '\0' ||
            memchr(bytes_in, '\0', size - 1) != NULL) {
            *why = "REG_SZ must end in its only NUL";
            return KSVC_E_INVALID_ARGUMENT;
        }
        if (!utf8_valid(bytes_in, size - 1)) {
            *why = "REG_SZ is not valid UTF-8";
            return KSVC_E_INVALID_ARGUMENT;
        }
        return KSVC_OK;
    case KSVC_REG_DWORD:
        if (size != 4) {
            *why = "REG_DWORD must be 4 bytes";
            return KSVC_E_INVALID_ARGUMENT;
        }
        return KSVC_OK;
    case KSVC_REG_MULTI_SZ:
        return multi_sz_ok(bytes_in, size, why) ? KSVC_OK
                                                : KSVC_E_INVALID_ARGUMENT;
    default:
        return KSVC_OK;
    }
}

/* Read @p size bytes at @p offset of @p src (fewer only at its end). */
int ksvc__hive_source_read(const ksvc__hive_source *src, uint64_t offset,
                           void *buf, size_t size, size_t *got, int *os_error)
{
    unsigned char *to = buf;

    *got = 0;
    if (src->fd < 0) {
        if (offset < src->size) {
            *got = src->size - offset < size ? (size_t)(src->size - offset)
                                             : size;
            memcpy(buf, src->mem + offset, *got);
        }
        return KSVC_OK;
    }
    while (*got < size) {
        ssize_t n = pread(src->fd, to + *got, size - *got,
                          (off_t)(offset + *got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            *os_error = errno;
            return KSVC_E_IO;
        }
        if (n == 0)
            break;
        *got += (size_t)n;
    }
    return KSVC_OK;
}

/* Whether value @p a of hive @p ha and @p b of @p hb hold the same data,
 * one of them at least not held in memory: both decoded (for comparisons
 * in tests, not on the backend's paths). */
static int spanned_equal(const ksvc__hive *ha, const ksvc__hive_value *a,
                         const ksvc__hive *hb, const ksvc__hive_value *b)
{
    unsigned char *one = malloc(a->size ? a->size : 1);
    unsigned char *two = malloc(b->size ? b->size : 1);
    int os_error, same;

    same = one && two &&
           ksvc__hive_value_read(ha, a, one, &os_error) == KSVC_OK &&
           ksvc__hive_value_read(hb, b, two, &os_error) == KSVC_OK &&
           memcmp(one, two, a->size) == 0;
    free(one);
    free(two);
    return same;
}

/* ------------------------------------------------------------------------ */
/* The model                                                                */
/* ------------------------------------------------------------------------ */

ksvc__hive *ksvc__hive_new(void)
{
    ksvc__hive *hive = calloc(1, sizeof(ksvc__hive));

    if (hive)
        hive->source.fd = -1;
    return hive;
}

static void value_clear(ksvc__hive_value *v)
{
    free(v->name);
    free(v->data);
}

void ksvc__hive_free(ksvc__hive *hive)
{
    size_t k, v;

    if (!hive)
        return;
    for (k = 0; k < hive->key_count; k++) {
        for (v = 0; v < hive->keys[k].value_count; v++)
            value_clear(&hive->keys[k].values[v]);
        free(hive->keys[k].values);
        free(hive->keys[k].path);
    }
    free(hive->keys);
    if (hive->source.fd >= 0)
        close(hive->source.fd);
    free(hive);
}

ksvc__hive_key *ksvc__hive_find_key(const ksvc__hive *hive, const char *path)
{
    size_t k;

    for (k = 0; k < hive->key_count; k++) {
        if (ksvc__hive_name_eq(hive->keys[k].path, path))
            return &hive->keys[k];
    }
    return NULL;
}

int ksvc__hive_key_exists(const ksvc__hive *hive, const char *path)
{
    size_t k, len = strlen(path), i;

    for (k = 0; k < hive->key_count; k++) {
        const char *have = hive->keys[k].path;
        for (i = 0; i < len && have[i]; i++) {
            if (ascii_lower((unsigned char)have[i]) !=
                ascii_lower((unsigned char)path[i]))
                break;
        }
        if (i == len && (have[i] == '\0' || have[i] == '\\'))
            return 1;
    }
    return 0;
}

/* Append a key that is known to be absent; takes ownership of @p path. */
ksvc__hive_key *append_key(ksvc__hive *hive, char *path)
{
    ksvc__hive_key *key;

    if (hive->key_count == hive->key_room) {
        size_t room = hive->key_room ? hive->key_room * 2 : 8;
        ksvc__hive_key *grown = realloc(hive->keys, room * sizeof(*grown));
        if (!grown)
            return NULL;
        hive->keys = grown;
        hive->key_room = room;
    }
    key = &hive->keys[hive->key_count++];
    memset(key, 0, sizeof(*key));
    key->path = path;
    return key;
}

ksvc__hive_key *ksvc__hive_add_key(ksvc__hive *hive, const char *path)
{
    ksvc__hive_key *key = ksvc__hive_find_key(hive, path);
    char *copy;

    if (key)
        return key;
    copy = copy_text(path, strlen(path));
    if (!copy)
        return NULL;
    key = append_key(hive, copy);
    if (!key)
        free(copy);
    return key;
}

/* Append a value; takes ownership of @p name and @p data. */
ksvc__hive_value *append_value(ksvc__hive_key *key, char *name,
                                      uint32_t type, unsigned char *data,
                                      size_t size)
{
    ksvc__hive_value *value;

    if (key->value_count == key->value_room) {
        size_t room = key->value_room ? key->value_room * 2 : 4;
        ksvc__hive_value *grown = realloc(key->values, room * sizeof(*grown));
        if (!grown)
            return NULL;
        key->values = grown;
        key->value_room = room;
    }
    value = &key->values[key->value_count++];
    value->name = name;
    value->type = type;
    value->data = data;
    value->size = size;
    memset(&value->span, 0, sizeof(value->span));
    return value;
}

static ksvc__hive_value *find_value(const ksvc__hive_key *key, const char *name)
{
    size_t v;

    for (v = 0; v < key->value_count; v++) {
        if (ksvc__hive_name_eq(key->values[v].name, name))
            return &key->values[v];
    }
    return NULL;
}

const ksvc__hive_value *ksvc__hive_get(const ksvc__hive *hive,
                                       const char *path, const char *name)
{
    const ksvc__hive_key *key = ksvc__hive_find_key(hive, path);
    return key ? find_value(key, name) : NULL;
}

int ksvc__hive_set(ksvc__hive *hive, const char *path, const char *name,
                   uint32_t type, const void *data, size_t size)
{
    const char *why;
    ksvc__hive_key *key;
    ksvc__hive_value *value;
    unsigned char *copy;
    char *name_copy;
    int rc;

    if ((rc = ksvc__hive_check_key_path(path, &why)) != KSVC_OK ||
        (rc = ksvc__hive_check_value_name(name, &why)) != KSVC_OK ||
        (rc = ksvc__hive_check_data(type, data, size, &why)) != KSVC_OK)
        return rc;
    if (size > KSVC__HIVE_FILE_MAX)
        return KSVC_E_TOO_LONG;
    copy = malloc(size ? size : 1);
    if (!copy)
        return KSVC_E_NO_MEMORY;
    if (size)
        memcpy(copy, data, size);
    key = ksvc__hive_add_key(hive, path);
    if (!key) {
        free(copy);
        return KSVC_E_NO_MEMORY;
    }
    value = find_value(key, name);
    if (value) { /* overwrite in place; Windows keeps the name's spelling */
        free(value->data);
        value->data = copy;
        value->size = size;
        value->type = type;
        memset(&value->span, 0, sizeof(value->span));
        return KSVC_OK;
    }
    name_copy = copy_text(name, strlen(name));
    if (!name_copy || !append_value(key, name_copy, type, copy, size)) {
        free(name_copy);
        free(copy);
        return KSVC_E_NO_MEMORY;
    }
    return KSVC_OK;
}

int ksvc__hive_delete(ksvc__hive *hive, const char *path, const char *name)
{
    ksvc__hive_key *key = ksvc__hive_find_key(hive, path);
    ksvc__hive_value *value = key ? find_value(key, name) : NULL;
    size_t index;

    if (!value)
        return KSVC_E_NOT_FOUND;
    index = (size_t)(value - key->values);
    value_clear(value);
    memmove(value, value + 1,
            (key->value_count - index - 1) * sizeof(*value));
    key->value_count--;
    return KSVC_OK;
}

/* Whether @p path is @p top or below it, without case. */
static int within(const char *path, const char *top)
{
    size_t n = strlen(top), i;

    for (i = 0; i < n; i++)
        if (!path[i] ||
            ascii_lower((unsigned char)path[i]) !=
                ascii_lower((unsigned char)top[i]))
            return 0;
    return path[n] == '\0' || path[n] == '\\';
}

int ksvc__hive_delete_key(ksvc__hive *hive, const char *path)
{
    size_t from, to = 0, v;

    for (from = 0; from < hive->key_count; from++) {
        ksvc__hive_key *key = &hive->keys[from];
        if (!within(key->path, path)) {
            hive->keys[to++] = *key;
            continue;
        }
        for (v = 0; v < key->value_count; v++)
            value_clear(&key->values[v]);
        free(key->values);
        free(key->path);
    }
    if (to == hive->key_count)
        return KSVC_E_NOT_FOUND;
    hive->key_count = to;
    return KSVC_OK;
}

int ksvc__hive_equal(const ksvc__hive *a, const ksvc__hive *b)
{
    size_t k, v;

    if (a->key_count != b->key_count)
        return 0;
    for (k = 0; k < a->key_count; k++) {
        const ksvc__hive_key *ka = &a->keys[k], *kb = &b->keys[k];
        if (strcmp(ka->path, kb->path) != 0 ||
            ka->value_count != kb->value_count)
            return 0;
        for (v = 0; v < ka->value_count; v++) {
            const ksvc__hive_value *va = &ka->values[v], *vb = &kb->values[v];
            if (strcmp(va->name, vb->name) != 0 || va->type != vb->type ||
                va->size != vb->size)
                return 0;
            if (va->span.length > 0 || vb->span.length > 0
                    ? !spanned_equal(a, va, b, vb)
                    : va->size && memcmp(va->data, vb->data, va->size) != 0)
                return 0;
        }
    }
    return 1;
}
