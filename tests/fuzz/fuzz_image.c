/*
 * libFuzzer target: the kernel image reader (x86 bzImage setup header,
 * arm64 Image magic and banner).  Any bytes must be identified or refused
 * with a reason; an identified image's version is a valid kernel version.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ksvc__image_info info;
    int err = ksvc__image_identify(data, size, &info);

    if (err != KSVC_OK && err != KSVC_E_BAD_PAYLOAD)
        abort();
    if (err == KSVC_E_BAD_PAYLOAD && info.why[0] == '\0')
        abort();
    if (err == KSVC_OK) {
        if (info.kind != KSVC__IMAGE_BZIMAGE &&
            info.kind != KSVC__IMAGE_ARM64)
            abort();
        if (info.has_version && !ksvc__kver_valid(info.version))
            abort();
    }
    return 0;
}
