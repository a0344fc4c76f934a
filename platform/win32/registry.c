/*
 * The Win32 backend: the servicing values in the real registry (read,
 * all-or-nothing write, key exists, the values of a key), always in the
 * 64-bit view.
 */
#include "internal.h"

/* ------------------------------------------------------------------------ */
/* Registry                                                                 */
/* ------------------------------------------------------------------------ */

/* Registry access: always the 64-bit view, whatever this process is. */
#define REG_VIEW KEY_WOW64_64KEY

/* The wide path below the hive of the core's @key (`SOFTWARE\...`); the
 * write-access check (rights.c) opens the servicing key through it too. */
int reg_path(backend *b, const char *key, wchar_t **out)
{
    wchar_t *wkey, *joined;
    size_t len;

    *out = NULL;
    if (key == NULL || key[0] == 0 || key[0] == '\\' ||
        strstr(key, "\\\\") != NULL)
        return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "registry key",
                    key != NULL ? key : "(null)");
    len = strlen(key);
    if (key[len - 1] == '\\')
        return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "registry key", key);
    wkey = wide_from_utf8(key, -1);
    if (wkey == NULL)
        return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "registry key (not UTF-8)",
                    key);
    if (b->reg_prefix == NULL) {
        *out = wkey;
        return KSVC_OK;
    }
    joined = malloc((wcslen(b->reg_prefix) + wcslen(wkey) + 2) * sizeof *joined);
    if (joined == NULL) {
        free(wkey);
        return fail(b, KSVC_E_NO_MEMORY, 0, "registry key", key);
    }
    wcscpy(joined, b->reg_prefix);
    wcscat(joined, L"\\");
    wcscat(joined, wkey);
    free(wkey);
    *out = joined;
    return KSVC_OK;
}

/* A value as stored: its type and raw bytes (NULL data: absent). */
typedef struct raw_value {
    int present;
    DWORD type;
    BYTE *data;
    DWORD size;
} raw_value;

/* Read @wname of @h raw, growing the buffer while the value grows. */
static LSTATUS query_raw(HKEY h, const wchar_t *wname, raw_value *v)
{
    LSTATUS st;
    int tries;

    memset(v, 0, sizeof *v);
    st = os_RegQueryValueExW(h, wname, NULL, &v->type, NULL, &v->size);
    for (tries = 0; st == ERROR_SUCCESS || st == ERROR_MORE_DATA; tries++) {
        DWORD room = v->size;
        free(v->data);
        /* Two spare NULs: a string need not be terminated in the hive. */
        v->data = calloc((size_t)room + 4, 1);
        if (v->data == NULL)
            return ERROR_NOT_ENOUGH_MEMORY;
        v->size = room;
        st = os_RegQueryValueExW(h, wname, NULL, &v->type, v->data, &v->size);
        if (st == ERROR_SUCCESS) {
            v->present = 1;
            return st;
        }
        if (st != ERROR_MORE_DATA || tries >= 8)
            break;
    }
    free(v->data);
    v->data = NULL;
    return st;
}

/* A stored wide string (@units, maybe without terminator) as UTF-8. */
static char *utf8_of_stored(const wchar_t *text, size_t units, size_t *bytes)
{
    size_t len = 0;
    while (len < units && text[len] != 0)
        len++;
    if (len > INT_MAX)
        return NULL;
    return utf8_from_wide(text, (int)len, bytes);
}

/* Convert a stored value into what crosses the platform table: strings as
 * NUL-terminated UTF-8, lists as UTF-8 strings ended by an empty one, a
 * DWORD as its 4 bytes, anything else as stored.  Checks type and size. */
static int convert_read(backend *b, const raw_value *v, const char *label,
                        unsigned char **out, size_t *out_size)
{
    *out = NULL;
    *out_size = 0;
    if (v->type == REG_SZ || v->type == REG_EXPAND_SZ) {
        size_t bytes;
        char *text = utf8_of_stored((const wchar_t *)v->data, v->size / 2,
                                    &bytes);
        if (text == NULL)
            return fail(b, KSVC_E_BAD_VALUE, 0, "string not UTF-16:", label);
        *out = (unsigned char *)text;
        *out_size = bytes + 1;
        return KSVC_OK;
    }
    if (v->type == REG_MULTI_SZ) {
        const wchar_t *w = (const wchar_t *)v->data;
        size_t units = v->size / 2, at = 0, used = 0;
        unsigned char *list = malloc(1);
        if (list == NULL)
            return fail(b, KSVC_E_NO_MEMORY, 0, "read", label);
        while (at < units && w[at] != 0) {
            size_t bytes, len = 0;
            char *one;
            unsigned char *grown;
            while (at + len < units && w[at + len] != 0)
                len++;
            one = utf8_of_stored(w + at, len, &bytes);
            if (one == NULL) {
                free(list);
                return fail(b, KSVC_E_BAD_VALUE, 0, "string not UTF-16:",
                            label);
            }
            grown = realloc(list, used + bytes + 2);
            if (grown == NULL) {
                free(one);
                free(list);
                return fail(b, KSVC_E_NO_MEMORY, 0, "read", label);
            }
            list = grown;
            memcpy(list + used, one, bytes + 1);
            used += bytes + 1;
            free(one);
            at += len + 1;
        }
        list[used++] = 0; /* the empty string that ends the list */
        *out = list;
        *out_size = used;
        return KSVC_OK;
    }
    if (v->type == REG_DWORD && v->size != 4)
        return fail(b, KSVC_E_BAD_VALUE, 0, "REG_DWORD of wrong size:", label);
    *out = malloc(v->size > 0 ? v->size : 1);
    if (*out == NULL)
        return fail(b, KSVC_E_NO_MEMORY, 0, "read", label);
    if (v->size > 0)
        memcpy(*out, v->data, v->size);
    *out_size = v->size;
    return KSVC_OK;
}

int w32_reg_read(const ksvc_platform *p, const char *key,
                        const char *name, uint32_t *type, void *buf,
                        size_t *size)
{
    backend *b = backend_of(p);
    wchar_t *wkey, *wname = NULL;
    unsigned char *data = NULL;
    size_t data_size = 0;
    char label[WHAT_MAX / 2];
    raw_value v;
    LSTATUS st;
    HKEY h;
    int rc;

    if (name == NULL || size == NULL || (buf == NULL && *size > 0))
        return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "reg_read", key);
    snprintf(label, sizeof label, "%s value %s", key != NULL ? key : "", name);
    rc = reg_path(b, key, &wkey);
    if (rc != KSVC_OK)
        return rc;
    wname = wide_from_utf8(name, -1);
    if (wname == NULL) {
        free(wkey);
        return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "value name (not UTF-8)",
                    label);
    }
    st = os_RegOpenKeyExW(b->hive, wkey, 0, KEY_QUERY_VALUE | REG_VIEW, &h);
    free(wkey);
    if (st != ERROR_SUCCESS) {
        free(wname);
        return fail_reg(b, st, "RegOpenKeyExW", key, NULL);
    }
    st = query_raw(h, wname, &v);
    os_RegCloseKey(h);
    free(wname);
    if (st != ERROR_SUCCESS)
        return fail_reg(b, st, "RegQueryValueExW", key, name);
    rc = convert_read(b, &v, label, &data, &data_size);
    free(v.data);
    if (rc != KSVC_OK)
        return rc;
    if (type != NULL)
        *type = v.type;
    if (data_size > *size) {
        *size = data_size;
        free(data);
        return fail(b, KSVC_E_TOO_LONG, 0, "reg_read buffer too small for",
                    label);
    }
    if (data_size > 0)
        memcpy(buf, data, data_size);
    *size = data_size;
    free(data);
    return KSVC_OK;
}

/* ---- listing the values of a key ---- */

/* Value names are at most 16,383 characters. */
#define VALUE_NAME_UNITS 16384

/* Value @index of @h as stored, with its name, growing the data buffer
 * while the value grows (another program may write it meanwhile). */
static LSTATUS enum_raw(HKEY h, DWORD index, wchar_t *wname, raw_value *v)
{
    DWORD room = 1024;
    LSTATUS st = ERROR_MORE_DATA;
    int tries;

    memset(v, 0, sizeof *v);
    for (tries = 0; tries < 8 && st == ERROR_MORE_DATA; tries++) {
        DWORD name_units = VALUE_NAME_UNITS;
        free(v->data);
        /* Two spare NULs: a string need not be terminated in the hive. */
        v->data = calloc((size_t)room + 4, 1);
        if (v->data == NULL)
            return ERROR_NOT_ENOUGH_MEMORY;
        v->size = room;
        st = os_RegEnumValueW(h, index, wname, &name_units, NULL, &v->type,
                              v->data, &v->size);
        if (st == ERROR_SUCCESS) {
            wname[name_units < VALUE_NAME_UNITS ? name_units
                                                : VALUE_NAME_UNITS - 1] = 0;
            v->present = 1;
            return st;
        }
        room = v->size > room ? v->size : room * 2;
    }
    free(v->data);
    v->data = NULL;
    return st;
}

/* A value name as UTF-8; a name no UTF-8 can carry comes back with U+FFFD
 * in place of its bad units and @bad set. */
static char *value_name_utf8(const wchar_t *wname, int *bad)
{
    char *name = utf8_from_wide(wname, -1, NULL);
    int len;

    *bad = 0;
    if (name != NULL)
        return name;
    *bad = 1;
    len = os_WideCharToMultiByte(CP_UTF8, 0, wname, -1, NULL, 0, NULL, NULL);
    if (len <= 0 || (name = malloc((size_t)len)) == NULL)
        return NULL;
    if (os_WideCharToMultiByte(CP_UTF8, 0, wname, -1, name, len, NULL, NULL) !=
        len) {
        free(name);
        return NULL;
    }
    return name;
}

/* Report one enumerated value to @fn: its data as reg_read gives it, or
 * its error when it cannot be read that way. */
static int report_value(backend *b, const char *key, const wchar_t *wname,
                        const raw_value *v, ksvc_reg_list_fn fn, void *arg)
{
    ksvc_reg_value value;
    unsigned char *data = NULL;
    char label[WHAT_MAX / 2];
    int bad_name, rc;

    memset(&value, 0, sizeof value);
    value.name = value_name_utf8(wname, &bad_name);
    if (value.name == NULL)
        return fail(b, KSVC_E_NO_MEMORY, 0, "reg_list", key);
    snprintf(label, sizeof label, "%s value %s", key, value.name);
    value.type = v->type;
    rc = convert_read(b, v, label, &data, &value.size);
    if (rc == KSVC_E_NO_MEMORY) {
        free((char *)value.name);
        return rc;
    }
    value.error = rc != KSVC_OK || bad_name ? KSVC_E_BAD_VALUE : KSVC_OK;
    value.data = value.error == KSVC_OK ? data : NULL;
    if (value.error != KSVC_OK)
        value.size = 0;
    rc = fn(arg, &value);
    free(data);
    free((char *)value.name);
    return rc;
}

int w32_reg_list(const ksvc_platform *p, const char *key,
                        ksvc_reg_list_fn fn, void *arg)
{
    backend *b = backend_of(p);
    wchar_t *wkey, *wname;
    DWORD index;
    LSTATUS st;
    HKEY h;
    int rc = KSVC_OK;

    if (fn == NULL)
        return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "reg_list: no callback",
                    key);
    rc = reg_path(b, key, &wkey);
    if (rc != KSVC_OK)
        return rc;
    st = os_RegOpenKeyExW(b->hive, wkey, 0, KEY_QUERY_VALUE | REG_VIEW, &h);
    free(wkey);
    if (st != ERROR_SUCCESS)
        return fail_reg(b, st, "RegOpenKeyExW", key, NULL);
    wname = malloc(VALUE_NAME_UNITS * sizeof *wname);
    if (wname == NULL) {
        os_RegCloseKey(h);
        return fail(b, KSVC_E_NO_MEMORY, 0, "reg_list", key);
    }
    for (index = 0; rc == KSVC_OK; index++) {
        raw_value v;
        st = enum_raw(h, index, wname, &v);
        if (st == ERROR_NO_MORE_ITEMS)
            break;
        if (st != ERROR_SUCCESS) {
            rc = fail_reg(b, st, "RegEnumValueW", key, NULL);
            break;
        }
        rc = report_value(b, key, wname, &v, fn, arg);
        free(v.data);
    }
    free(wname);
    os_RegCloseKey(h);
    return rc;
}

/* One change ready for RegSetValueExW: the wide data of a string or list. */
typedef struct prepared {
    wchar_t *wname;
    BYTE *data;
    DWORD size;
} prepared;

/* Convert the UTF-8 data of @c into what the registry stores. */
static int prepare_change(backend *b, const char *key, const ksvc_reg_change *c,
                          prepared *out)
{
    const char *text = c->data;

    memset(out, 0, sizeof *out);
    if (c->name == NULL)
        return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "reg_write value", key);
    out->wname = wide_from_utf8(c->name, -1);
    if (out->wname == NULL)
        return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "value name (not UTF-8)",
                    c->name);
    if (c->remove)
        return KSVC_OK;
    if (c->type == KSVC_REG_DWORD) {
        if (c->data == NULL || c->size != 4)
            return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "REG_DWORD size",
                        c->name);
        out->data = malloc(4);
        if (out->data == NULL)
            return fail(b, KSVC_E_NO_MEMORY, 0, "reg_write", c->name);
        memcpy(out->data, c->data, 4);
        out->size = 4;
        return KSVC_OK;
    }
    if (c->type == KSVC_REG_SZ) {
        wchar_t *w;
        if (text == NULL || c->size == 0 || memchr(text, 0, c->size) == NULL)
            return fail(b, KSVC_E_INVALID_ARGUMENT, 0,
                        "REG_SZ without terminator", c->name);
        w = wide_from_utf8(text, -1);
        if (w == NULL)
            return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "REG_SZ not UTF-8",
                        c->name);
        out->data = (BYTE *)w;
        out->size = (DWORD)((wcslen(w) + 1) * sizeof *w);
        return KSVC_OK;
    }
    if (c->type == KSVC_REG_MULTI_SZ) {
        size_t at = 0, units = 0;
        wchar_t *list = NULL;
        if (text == NULL || c->size == 0)
            return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "REG_MULTI_SZ empty",
                        c->name);
        for (;;) {
            const char *end = memchr(text + at, 0, c->size - at);
            wchar_t *one, *grown;
            size_t len;
            if (end == NULL) {
                free(list);
                return fail(b, KSVC_E_INVALID_ARGUMENT, 0,
                            "REG_MULTI_SZ not terminated", c->name);
            }
            if (end == text + at)
                break; /* the empty string ends the list */
            one = wide_from_utf8(text + at, -1);
            if (one == NULL) {
                free(list);
                return fail(b, KSVC_E_INVALID_ARGUMENT, 0,
                            "REG_MULTI_SZ not UTF-8", c->name);
            }
            len = wcslen(one);
            grown = realloc(list, (units + len + 2) * sizeof *list);
            if (grown == NULL) {
                free(one);
                free(list);
                return fail(b, KSVC_E_NO_MEMORY, 0, "reg_write", c->name);
            }
            list = grown;
            memcpy(list + units, one, (len + 1) * sizeof *list);
            units += len + 1;
            free(one);
            at = (size_t)(end - text) + 1;
            if (at >= c->size) {
                free(list);
                return fail(b, KSVC_E_INVALID_ARGUMENT, 0,
                            "REG_MULTI_SZ not terminated", c->name);
            }
        }
        if (list == NULL) {
            list = malloc(sizeof *list);
            if (list == NULL)
                return fail(b, KSVC_E_NO_MEMORY, 0, "reg_write", c->name);
        }
        list[units++] = 0;
        out->data = (BYTE *)list;
        out->size = (DWORD)(units * sizeof *list);
        return KSVC_OK;
    }
    return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "unsupported value type",
                c->name);
}

static void prepared_free(prepared *list, size_t count)
{
    size_t i;
    if (list == NULL)
        return;
    for (i = 0; i < count; i++) {
        free(list[i].wname);
        free(list[i].data);
    }
    free(list);
}

static void saved_free(raw_value *saved, size_t count)
{
    size_t i;
    if (saved == NULL)
        return;
    for (i = 0; i < count; i++)
        free(saved[i].data);
    free(saved);
}

/* Put back, last first, the values of the first @done changes applied
 * (@order[0..done-1]) as @saved says. */
static void restore_values(HKEY h, const prepared *prep, const raw_value *saved,
                           const size_t *order, size_t done)
{
    while (done-- > 0) {
        size_t i = order[done];
        if (saved[i].present)
            os_RegSetValueExW(h, prep[i].wname, 0, saved[i].type,
                              saved[i].data, saved[i].size);
        else
            os_RegDeleteValueW(h, prep[i].wname);
    }
}

/* The order to apply changes in: every set, then every removal, each group
 * in the given order; exactly the given order when a name repeats. */
static void order_changes(const ksvc_reg_change *changes, size_t count,
                          size_t *order)
{
    size_t i, k, n = 0;
    int repeats = 0;

    for (i = 0; i < count && !repeats; i++)
        for (k = i + 1; k < count && !repeats; k++)
            repeats = _stricmp(changes[i].name, changes[k].name) == 0;
    for (i = 0; i < count; i++)
        if (repeats || !changes[i].remove)
            order[n++] = i;
    for (i = 0; i < count && !repeats; i++)
        if (changes[i].remove)
            order[n++] = i;
}

/* Apply the changes, all or none: every change is converted and checked
 * before the first write, the values they touch are saved, and a failed
 * write puts the saved values back (and removes a key it created). */
int w32_reg_write(const ksvc_platform *p, const char *key,
                         const ksvc_reg_change *changes, size_t count)
{
    backend *b = backend_of(p);
    prepared *prep = NULL;
    raw_value *saved = NULL;
    wchar_t *wkey = NULL;
    size_t *order = NULL;
    DWORD disposition = 0;
    LSTATUS st;
    HKEY h;
    size_t i, n;
    int rc;

    if (changes == NULL && count > 0)
        return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "reg_write", key);
    rc = reg_path(b, key, &wkey);
    if (rc != KSVC_OK)
        return rc;
    prep = calloc(count > 0 ? count : 1, sizeof *prep);
    saved = calloc(count > 0 ? count : 1, sizeof *saved);
    if (prep == NULL || saved == NULL) {
        rc = fail(b, KSVC_E_NO_MEMORY, 0, "reg_write", key);
        goto out;
    }
    for (i = 0; i < count && rc == KSVC_OK; i++)
        rc = prepare_change(b, key, &changes[i], &prep[i]);
    if (rc != KSVC_OK)
        goto out;
    st = os_RegCreateKeyExW(b->hive, wkey, 0, NULL, REG_OPTION_NON_VOLATILE,
                            KEY_QUERY_VALUE | KEY_SET_VALUE | REG_VIEW, NULL,
                            &h, &disposition);
    if (st != ERROR_SUCCESS) {
        rc = fail_reg(b, st, "RegCreateKeyExW", key, NULL);
        goto out;
    }
    for (i = 0; i < count; i++) {
        st = query_raw(h, prep[i].wname, &saved[i]);
        if (st != ERROR_SUCCESS && st != ERROR_FILE_NOT_FOUND) {
            rc = fail_reg(b, st, "RegQueryValueExW", key, changes[i].name);
            break;
        }
    }
    /* Values are set first and removed last: an undo then only has to
     * write values back, so one failing call cannot leave, for example, a
     * value removed while its companion was never written.  Kept in the
     * given order when a name appears twice (the order then matters). */
    order = calloc(count > 0 ? count : 1, sizeof *order);
    if (order == NULL && rc == KSVC_OK)
        rc = fail(b, KSVC_E_NO_MEMORY, 0, "reg_write", key);
    if (rc == KSVC_OK)
        order_changes(changes, count, order);
    for (n = 0; rc == KSVC_OK && n < count; n++) {
        i = order[n];
        if (changes[i].remove) {
            st = os_RegDeleteValueW(h, prep[i].wname);
            if (st == ERROR_FILE_NOT_FOUND)
                st = ERROR_SUCCESS;
            if (st != ERROR_SUCCESS)
                rc = fail_reg(b, st, "RegDeleteValueW", key, changes[i].name);
        } else {
            st = os_RegSetValueExW(h, prep[i].wname, 0, changes[i].type,
                                   prep[i].data, prep[i].size);
            if (st != ERROR_SUCCESS)
                rc = fail_reg(b, st, "RegSetValueExW", key, changes[i].name);
        }
        if (rc != KSVC_OK)
            restore_values(h, prep, saved, order, n);
    }
    free(order);
    os_RegCloseKey(h);
    if (rc != KSVC_OK && disposition == REG_CREATED_NEW_KEY)
        os_RegDeleteKeyExW(b->hive, wkey, REG_VIEW, 0);
out:
    prepared_free(prep, count);
    saved_free(saved, count);
    free(wkey);
    return rc;
}

int w32_reg_key_exists(const ksvc_platform *p, const char *key,
                              int *exists)
{
    backend *b = backend_of(p);
    wchar_t *wkey;
    LSTATUS st;
    HKEY h;
    int rc = reg_path(b, key, &wkey);

    if (rc != KSVC_OK)
        return rc;
    st = os_RegOpenKeyExW(b->hive, wkey, 0, KEY_QUERY_VALUE | REG_VIEW, &h);
    free(wkey);
    if (st == ERROR_SUCCESS) {
        os_RegCloseKey(h);
        *exists = 1;
        return KSVC_OK;
    }
    if (st == ERROR_FILE_NOT_FOUND) {
        *exists = 0;
        return KSVC_OK;
    }
    if (st == ERROR_ACCESS_DENIED) {
        *exists = 1; /* only an existing key can deny access */
        return KSVC_OK;
    }
    return fail_reg(b, st, "RegOpenKeyExW", key, NULL);
}
