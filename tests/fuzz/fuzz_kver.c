/*
 * libFuzzer target: kernel version parsing and comparison.  Any text must be
 * parsed or refused cleanly; an accepted version equals itself, has one to
 * KSVC_KVER_MAX_PARTS components, and compares antisymmetrically with the
 * text's two halves (when they parse).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <kservice/kservice.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int cmp(const char *a, const char *b, int *out)
{
    return ksvc_kver_compare(a, b, out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), *second;
    ksvc_kver v = KSVC_KVER_INIT;
    int ab, ba, self;

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (ksvc_kver_parse(text, &v) == KSVC_OK) {
        if (v.count < 1 || v.count > KSVC_KVER_MAX_PARTS ||
            strlen(text) > KSVC_KVER_MAX)
            abort();
        if (cmp(text, text, &self) != KSVC_OK || self != 0)
            abort();
    }
    /* Split at the first space into two versions and compare both ways. */
    second = text + strcspn(text, " ");
    if (*second) {
        *second++ = '\0';
        if (cmp(text, second, &ab) == KSVC_OK) {
            if (cmp(second, text, &ba) != KSVC_OK || ab != -ba)
                abort();
        }
    }
    free(text);
    return 0;
}
