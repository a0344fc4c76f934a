/*
 * The POSIX mock backend's hive: the `.reg` text of a hive, streamed to a
 * file descriptor through a bounded buffer (or kept whole in memory for
 * ksvc__hive_serialize).
 */
#include "internal.h"

/* Bytes gathered before they are written out. */
#define FLUSH_AT (64u * 1024u)

typedef struct writer {
    const ksvc__hive *hive;
    int fd;           /* -1: keep the whole text in buf */
    bytes buf;        /* text not written yet, in the hive's encoding */
    uint64_t flushed; /* bytes written to fd */
    size_t col;       /* UTF-8 bytes since the last line break */
    int os_error;     /* of a failed write or read */
    const char *call; /* which: "write" or "read" */
} writer;

static int write_all(int fd, const unsigned char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Write out what is gathered when it is enough (or @p all); refuse a file
 * beyond KSVC__HIVE_FILE_MAX. */
static int flush(writer *w, int all)
{
    if (w->flushed + w->buf.len > KSVC__HIVE_FILE_MAX)
        return KSVC_E_TOO_LONG;
    if (w->fd < 0 || (!all && w->buf.len < FLUSH_AT))
        return KSVC_OK;
    if (write_all(w->fd, w->buf.data, w->buf.len) != 0) {
        w->os_error = errno;
        w->call = "write";
        return KSVC_E_IO;
    }
    w->flushed += w->buf.len;
    w->buf.len = 0;
    return KSVC_OK;
}

/* Add @p n bytes of UTF-8 text (whole characters) in the hive's encoding. */
static int put(writer *w, const char *text, size_t n)
{
    const char *nl = NULL, *p;
    int rc;

    rc = w->hive->encoding == KSVC__HIVE_UTF16LE
             ? bytes_add_utf8_as_utf16(&w->buf, (const unsigned char *)text,
                                       n)
             : bytes_add(&w->buf, text, n);
    if (rc != KSVC_OK)
        return rc == KSVC_E_INVALID_ARGUMENT ? KSVC_E_NO_MEMORY : rc;
    for (p = text; p < text + n; p++)
        if (*p == '\n')
            nl = p;
    w->col = nl ? (size_t)(text + n - nl - 1) : w->col + n;
    return flush(w, 0);
}

static int put_str(writer *w, const char *text)
{
    return put(w, text, strlen(text));
}

static int write_quoted(writer *w, const char *text)
{
    int rc = put(w, "\"", 1);

    while (*text && rc == KSVC_OK) {
        size_t run = strcspn(text, "\\\"");
        if (run > 0)
            rc = put(w, text, run);
        text += run;
        if (*text && rc == KSVC_OK) {
            char escaped[2];
            escaped[0] = '\\';
            escaped[1] = *text++;
            rc = put(w, escaped, 2);
        }
    }
    return rc == KSVC_OK ? put(w, "\"", 1) : rc;
}

/* Write `hex:` or `hex(N):` and the bytes, wrapped like regedit at 80
 * columns with `\` and a two-space indent. */
static int write_hex(writer *w, uint32_t type, const unsigned char *data,
                     size_t size)
{
    static const char digits[] = "0123456789abcdef";
    char prefix[24];
    size_t i;
    int rc;

    if (type == KSVC__REG_BINARY)
        snprintf(prefix, sizeof(prefix), "hex:");
    else
        snprintf(prefix, sizeof(prefix), "hex(%lx):", (unsigned long)type);
    rc = put_str(w, prefix);
    for (i = 0; i < size && rc == KSVC_OK; i++) {
        char pair[3];
        pair[0] = digits[data[i] >> 4];
        pair[1] = digits[data[i] & 0xF];
        pair[2] = ',';
        rc = put(w, pair, i + 1 < size ? 3 : 2);
        if (rc == KSVC_OK && i + 1 < size && w->col > 76)
            rc = put_str(w, "\\" HIVE_EOL "  ");
    }
    return rc;
}

/* The UTF-16LE form of a REG_SZ or REG_MULTI_SZ held as UTF-8. */
static int to_utf16(const ksvc__hive_value *v, bytes *out)
{
    size_t start = 0, i;
    int rc = KSVC_OK;

    if (v->type == KSVC_REG_MULTI_SZ && v->size == 1)
        return bytes_add(out, "\0\0", 2); /* the empty list */
    for (i = 0; i < v->size && rc == KSVC_OK; i++) {
        if (v->data[i] != '\0')
            continue;
        rc = bytes_add_utf8_as_utf16(out, v->data + start, i - start);
        if (rc == KSVC_OK)
            rc = bytes_add(out, "\0\0", 2);
        start = i + 1;
    }
    return rc;
}

/* A value that is not held: its text, copied from the source as it is (the
 * output has the source's encoding), in bounded chunks. */
static int write_span(writer *w, const ksvc__hive_value *v)
{
    uint64_t done = 0;
    int rc = KSVC_OK;

    while (done < v->span.length && rc == KSVC_OK) {
        size_t n = v->span.length - done < FLUSH_AT
                       ? (size_t)(v->span.length - done)
                       : FLUSH_AT;
        size_t got = 0;
        if ((rc = bytes_reserve(&w->buf, n)) != KSVC_OK)
            return rc;
        rc = ksvc__hive_source_read(&w->hive->source, v->span.offset + done,
                                    w->buf.data + w->buf.len, n, &got,
                                    &w->os_error);
        if (rc == KSVC_OK && got != n) {
            w->os_error = 0;
            rc = KSVC_E_IO;
        }
        if (rc != KSVC_OK) {
            w->call = "read";
            return rc;
        }
        w->buf.len += n;
        done += n;
        rc = flush(w, 0);
    }
    w->col = 0;
    if (rc == KSVC_OK && !v->span.ends_line)
        rc = put_str(w, HIVE_EOL);
    return rc;
}

static int write_value(writer *w, const ksvc__hive_value *v)
{
    bytes wide = { NULL, 0, 0 };
    uint32_t dword;
    char text[16];
    int rc;

    if (v->span.length > 0)
        return write_span(w, v);
    rc = v->name[0] ? write_quoted(w, v->name) : put(w, "@", 1);
    if (rc == KSVC_OK)
        rc = put(w, "=", 1);
    if (rc != KSVC_OK)
        return rc;
    if (v->type == KSVC_REG_SZ && !has_control((const char *)v->data)) {
        rc = write_quoted(w, (const char *)v->data);
    } else if (v->type == KSVC_REG_DWORD && v->size == 4) {
        memcpy(&dword, v->data, 4);
        snprintf(text, sizeof(text), "dword:%08lx", (unsigned long)dword);
        rc = put_str(w, text);
    } else if (v->type == KSVC_REG_SZ || v->type == KSVC_REG_MULTI_SZ) {
        rc = to_utf16(v, &wide);
        if (rc == KSVC_OK)
            rc = write_hex(w, v->type, wide.data, wide.len);
        free(wide.data);
    } else {
        rc = write_hex(w, v->type, v->data, v->size);
    }
    return rc == KSVC_OK ? put_str(w, HIVE_EOL) : rc;
}

static int write_key(writer *w, const ksvc__hive_key *key)
{
    size_t v;
    int rc = put_str(w, HIVE_EOL "[");

    if (rc == KSVC_OK)
        rc = put_str(w, key->path);
    if (rc == KSVC_OK)
        rc = put_str(w, "]" HIVE_EOL);
    for (v = 0; v < key->value_count && rc == KSVC_OK; v++)
        rc = write_value(w, &key->values[v]);
    return rc;
}

/* The whole text: the BOM of the encoding read, the header, the keys. */
static int write_hive(writer *w)
{
    const ksvc__hive *hive = w->hive;
    size_t k;
    int rc = KSVC_OK;

    if (hive->encoding == KSVC__HIVE_UTF8_BOM)
        rc = bytes_add(&w->buf, "\xEF\xBB\xBF", 3);
    else if (hive->encoding == KSVC__HIVE_UTF16LE)
        rc = bytes_add(&w->buf, "\xFF\xFE", 2);
    if (rc == KSVC_OK)
        rc = put_str(w, hive->regedit4 ? HIVE_HEADER_4 : HIVE_HEADER);
    if (rc == KSVC_OK)
        rc = put_str(w, HIVE_EOL);
    for (k = 0; k < hive->key_count && rc == KSVC_OK; k++)
        rc = write_key(w, &hive->keys[k]);
    if (rc == KSVC_OK)
        rc = put_str(w, HIVE_EOL);
    return rc == KSVC_OK ? flush(w, 1) : rc;
}

int ksvc__hive_serialize(const ksvc__hive *hive, char **out, size_t *len)
{
    writer w;
    int rc;

    memset(&w, 0, sizeof(w));
    w.hive = hive;
    w.fd = -1;
    *out = NULL;
    *len = 0;
    rc = write_hive(&w);
    if (rc == KSVC_OK)
        rc = bytes_add(&w.buf, "", 1);
    if (rc != KSVC_OK) {
        free(w.buf.data);
        return rc;
    }
    *out = (char *)w.buf.data;
    *len = w.buf.len - 1;
    return KSVC_OK;
}

int ksvc__hive_write(const ksvc__hive *hive, int fd, int *os_error,
                     const char **call)
{
    writer w;
    int rc;

    memset(&w, 0, sizeof(w));
    w.hive = hive;
    w.fd = fd;
    rc = write_hive(&w);
    free(w.buf.data);
    *os_error = w.os_error;
    *call = w.call ? w.call : "write";
    return rc;
}
