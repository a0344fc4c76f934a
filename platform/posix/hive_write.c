/*
 * The POSIX mock backend's hive: the `.reg` text of a hive.
 */
#include "internal.h"

/* ------------------------------------------------------------------------ */
/* Serializer                                                               */
/* ------------------------------------------------------------------------ */

static int write_quoted(bytes *b, const char *text)
{
    int rc = bytes_add_byte(b, '"');

    for (; *text && rc == KSVC_OK; text++) {
        if (*text == '\\' || *text == '"')
            rc = bytes_add_byte(b, '\\');
        if (rc == KSVC_OK)
            rc = bytes_add_byte(b, (unsigned char)*text);
    }
    return rc == KSVC_OK ? bytes_add_byte(b, '"') : rc;
}

/* Write `hex:` or `hex(N):` and the bytes, wrapped like regedit at 80
 * columns with `\` and a two-space indent. */
static int write_hex(bytes *b, size_t line_start, uint32_t type,
                     const unsigned char *data, size_t size)
{
    static const char digits[] = "0123456789abcdef";
    char prefix[24];
    size_t col, i;
    int rc;

    if (type == KSVC__REG_BINARY)
        snprintf(prefix, sizeof(prefix), "hex:");
    else
        snprintf(prefix, sizeof(prefix), "hex(%lx):", (unsigned long)type);
    rc = bytes_add_str(b, prefix);
    col = b->len - line_start;
    for (i = 0; i < size && rc == KSVC_OK; i++) {
        char pair[3];
        pair[0] = digits[data[i] >> 4];
        pair[1] = digits[data[i] & 0xF];
        pair[2] = ',';
        rc = bytes_add(b, pair, i + 1 < size ? 3 : 2);
        col += 3;
        if (rc == KSVC_OK && i + 1 < size && col > 76) {
            rc = bytes_add_str(b, "\\");
            if (rc == KSVC_OK)
                rc = bytes_add_str(b, HIVE_EOL);
            if (rc == KSVC_OK)
                rc = bytes_add_str(b, "  ");
            col = 2;
        }
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

static int write_value(bytes *b, const ksvc__hive_value *v)
{
    size_t line_start = b->len;
    bytes wide = { NULL, 0, 0 };
    uint32_t dword;
    char text[16];
    int rc;

    rc = v->name[0] ? write_quoted(b, v->name) : bytes_add_byte(b, '@');
    if (rc == KSVC_OK)
        rc = bytes_add_byte(b, '=');
    if (rc != KSVC_OK)
        return rc;
    if (v->type == KSVC_REG_SZ && !has_control((const char *)v->data)) {
        rc = write_quoted(b, (const char *)v->data);
    } else if (v->type == KSVC_REG_DWORD && v->size == 4) {
        memcpy(&dword, v->data, 4);
        snprintf(text, sizeof(text), "dword:%08lx", (unsigned long)dword);
        rc = bytes_add_str(b, text);
    } else if (v->type == KSVC_REG_SZ || v->type == KSVC_REG_MULTI_SZ) {
        rc = to_utf16(v, &wide);
        if (rc == KSVC_OK)
            rc = write_hex(b, line_start, v->type, wide.data, wide.len);
        free(wide.data);
    } else {
        rc = write_hex(b, line_start, v->type, v->data, v->size);
    }
    return rc == KSVC_OK ? bytes_add_str(b, HIVE_EOL) : rc;
}

/* Put the UTF-8 text in @p b into the encoding the hive was read in. */
static int encode_text(ksvc__hive_encoding encoding, bytes *b)
{
    bytes out = { NULL, 0, 0 };
    int rc;

    if (encoding == KSVC__HIVE_UTF8)
        return KSVC_OK;
    rc = encoding == KSVC__HIVE_UTF8_BOM ? bytes_add_str(&out, "\xEF\xBB\xBF")
                                         : bytes_add(&out, "\xFF\xFE", 2);
    if (rc == KSVC_OK)
        rc = encoding == KSVC__HIVE_UTF8_BOM
                 ? bytes_add(&out, b->data, b->len)
                 : bytes_add_utf8_as_utf16(&out, b->data, b->len);
    if (rc != KSVC_OK) {
        free(out.data);
        return rc == KSVC_E_INVALID_ARGUMENT ? KSVC_E_NO_MEMORY : rc;
    }
    free(b->data);
    *b = out;
    return KSVC_OK;
}

int ksvc__hive_serialize(const ksvc__hive *hive, char **out, size_t *len)
{
    bytes b = { NULL, 0, 0 };
    size_t k, v;
    int rc;

    *out = NULL;
    *len = 0;
    rc = bytes_add_str(&b, hive->regedit4 ? HIVE_HEADER_4 : HIVE_HEADER);
    if (rc == KSVC_OK)
        rc = bytes_add_str(&b, HIVE_EOL);
    for (k = 0; k < hive->key_count && rc == KSVC_OK; k++) {
        const ksvc__hive_key *key = &hive->keys[k];
        rc = bytes_add_str(&b, HIVE_EOL);
        if (rc == KSVC_OK)
            rc = bytes_add_byte(&b, '[');
        if (rc == KSVC_OK)
            rc = bytes_add_str(&b, key->path);
        if (rc == KSVC_OK)
            rc = bytes_add_byte(&b, ']');
        if (rc == KSVC_OK)
            rc = bytes_add_str(&b, HIVE_EOL);
        for (v = 0; v < key->value_count && rc == KSVC_OK; v++)
            rc = write_value(&b, &key->values[v]);
    }
    if (rc == KSVC_OK)
        rc = bytes_add_str(&b, HIVE_EOL);
    if (rc == KSVC_OK)
        rc = encode_text(hive->encoding, &b);
    if (rc == KSVC_OK)
        rc = bytes_add_byte(&b, 0);
    if (rc != KSVC_OK) {
        free(b.data);
        return rc;
    }
    *out = (char *)b.data;
    *len = b.len - 1;
    return KSVC_OK;
}
