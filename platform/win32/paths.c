/*
 * The Win32 backend: text (UTF-8 across the table, UTF-16 inside) and the
 * wide \\?\ paths of the tools folder's names.
 */
#include "internal.h"

/* ------------------------------------------------------------------------ */
/* Text                                                                     */
/* ------------------------------------------------------------------------ */

/* UTF-8 (@len bytes, or -1 for NUL-terminated) to a new wide string.
 * Returns NULL for invalid UTF-8 (errno-free: the caller reports it). */
wchar_t *wide_from_utf8(const char *text, int len)
{
    int units;
    wchar_t *out;

    if (len == 0) {
        out = malloc(sizeof *out);
        if (out != NULL)
            out[0] = 0;
        return out;
    }
    units = os_MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, text, len,
                                   NULL, 0);
    if (units <= 0)
        return NULL;
    out = malloc(((size_t)units + 1) * sizeof *out);
    if (out == NULL)
        return NULL;
    if (os_MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, text, len, out,
                               units) != units) {
        free(out);
        return NULL;
    }
    out[units] = 0;
    return out;
}

/* Wide text (@units, or -1 for NUL-terminated) to new NUL-terminated UTF-8;
 * @bytes receives the length without the NUL.  NULL for unpaired
 * surrogates (text that no UTF-8 can carry). */
char *utf8_from_wide(const wchar_t *text, int units, size_t *bytes)
{
    int len;
    char *out;

    if (units == 0) {
        out = malloc(1);
        if (out != NULL)
            out[0] = 0;
        if (bytes != NULL)
            *bytes = 0;
        return out;
    }
    len = os_WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, text, units,
                                 NULL, 0, NULL, NULL);
    if (len <= 0)
        return NULL;
    out = malloc((size_t)len + 1);
    if (out == NULL)
        return NULL;
    if (os_WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, text, units, out,
                               len, NULL, NULL) != len) {
        free(out);
        return NULL;
    }
    out[len] = 0;
    if (units < 0)
        len--; /* the count included the terminator */
    if (bytes != NULL)
        *bytes = (size_t)len;
    return out;
}

/* A new wide string: @a followed by @b (either may be NULL: empty). */
wchar_t *wide_concat(const wchar_t *a, const wchar_t *b)
{
    size_t la = a != NULL ? wcslen(a) : 0, lb = b != NULL ? wcslen(b) : 0;
    wchar_t *out = malloc((la + lb + 1) * sizeof *out);
    if (out == NULL)
        return NULL;
    if (la > 0)
        memcpy(out, a, la * sizeof *out);
    if (lb > 0)
        memcpy(out + la, b, lb * sizeof *out);
    out[la + lb] = 0;
    return out;
}

/* ------------------------------------------------------------------------ */
/* Paths                                                                    */
/* ------------------------------------------------------------------------ */

/* Is @name a plain file name the tools folder may hold?  No separators, no
 * characters Windows forbids in names, no "." or "..", no trailing dot or
 * space (Win32 would strip them and reach another name) and no device name
 * such as NUL or COM1 (which would reach a device, not a file). */
static int name_is_plain(const char *name)
{
    static const char *const devices[] = {
        "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5",
        "COM6", "COM7", "COM8", "COM9", "LPT1", "LPT2", "LPT3", "LPT4",
        "LPT5", "LPT6", "LPT7", "LPT8", "LPT9", "CONIN$", "CONOUT$"
    };
    size_t len, stem, i;

    if (name == NULL)
        return 0;
    len = strlen(name);
    if (len == 0 || len > 255)
        return 0;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return 0;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || strchr("\\/:*?\"<>|", c) != NULL)
            return 0;
    }
    if (name[len - 1] == '.' || name[len - 1] == ' ')
        return 0;
    stem = strcspn(name, ".");
    for (i = 0; i < sizeof devices / sizeof devices[0]; i++) {
        size_t dl = strlen(devices[i]), k;
        if (dl != stem)
            continue;
        for (k = 0; k < dl; k++) {
            char c = name[k];
            if (c >= 'a' && c <= 'z')
                c = (char)(c - 'a' + 'A');
            if (c != devices[i][k])
                break;
        }
        if (k == dl)
            return 0;
    }
    return 1;
}

/* The absolute form of @path (wide), as a new string; NULL on failure with
 * GetLastError set. */
wchar_t *full_path_of(const wchar_t *path)
{
    DWORD need = os_GetFullPathNameW(path, 0, NULL, NULL), got;
    wchar_t *out;

    if (need == 0)
        return NULL;
    out = malloc((size_t)need * sizeof *out);
    if (out == NULL) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return NULL;
    }
    got = os_GetFullPathNameW(path, need, out, NULL);
    if (got == 0 || got >= need) {
        free(out);
        if (got >= need)
            SetLastError(ERROR_FILENAME_EXCED_RANGE);
        return NULL;
    }
    return out;
}

/* @full (absolute) in the `\\?\` form that lifts MAX_PATH and stops Win32
 * from rewriting names, without a final separator (unless a drive root). */
wchar_t *extended_path(const wchar_t *full)
{
    wchar_t *out;
    size_t len;

    if (wcsncmp(full, L"\\\\?\\", 4) == 0 || wcsncmp(full, L"\\\\.\\", 4) == 0)
        out = wide_concat(full, NULL);
    else if (wcsncmp(full, L"\\\\", 2) == 0)
        out = wide_concat(L"\\\\?\\UNC\\", full + 2);
    else
        out = wide_concat(L"\\\\?\\", full);
    if (out == NULL)
        return NULL;
    len = wcslen(out);
    while (len > 7 && out[len - 1] == L'\\' && out[len - 2] != L':')
        out[--len] = 0;
    return out;
}

/* @ext without the `\\?\` prefix, as UTF-8: the path people write. */
char *display_path(const wchar_t *ext)
{
    if (wcsncmp(ext, L"\\\\?\\UNC\\", 8) == 0) {
        wchar_t *unc = wide_concat(L"\\\\", ext + 8);
        char *out = unc != NULL ? utf8_from_wide(unc, -1, NULL) : NULL;
        free(unc);
        return out;
    }
    if (wcsncmp(ext, L"\\\\?\\", 4) == 0)
        return utf8_from_wide(ext + 4, -1, NULL);
    return utf8_from_wide(ext, -1, NULL);
}

/* The wide path of @name in the tools folder, or an error (recorded). */
int tools_child(backend *b, const char *name, wchar_t **out)
{
    wchar_t *wname, *path;
    size_t lt, ln;

    *out = NULL;
    if (!name_is_plain(name))
        return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "name",
                    name != NULL ? name : "(null)");
    wname = wide_from_utf8(name, -1);
    if (wname == NULL)
        return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "name (not UTF-8)", name);
    lt = wcslen(b->tools);
    ln = wcslen(wname);
    if (lt + 1 + ln >= WPATH_MAX) {
        free(wname);
        return fail(b, KSVC_E_TOO_LONG, 0, "name", name);
    }
    path = malloc((lt + ln + 2) * sizeof *path);
    if (path == NULL) {
        free(wname);
        return fail(b, KSVC_E_NO_MEMORY, 0, "name", name);
    }
    memcpy(path, b->tools, lt * sizeof *path);
    path[lt] = L'\\';
    memcpy(path + lt + 1, wname, (ln + 1) * sizeof *path);
    free(wname);
    *out = path;
    return KSVC_OK;
}
