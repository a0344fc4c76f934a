/* Synthetic kernel images: see kimage.h. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kimage.h"

static void put16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v & 0xFF);
    p[1] = (unsigned char)((v >> 8) & 0xFF);
}

static void fill_seeded(unsigned char *buf, size_t size, unsigned seed)
{
    uint32_t x = seed * 2654435761u + 0x9E3779B9u;
    size_t i;

    for (i = 0; i < size; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        /* no NUL-free runs that could spell a banner by chance: keep the
         * high bit set */
        buf[i] = (unsigned char)((x & 0x7F) | 0x80);
    }
}

unsigned char *kimage_build(ksvc_arch arch, const char *version,
                            unsigned seed, size_t size)
{
    unsigned char *img;
    char text[160];

    if (size < 2048)
        size = 2048;
    img = malloc(size);
    if (!img) {
        fprintf(stderr, "kimage: out of memory\n");
        abort();
    }
    fill_seeded(img, size, seed);
    if (arch == KSVC_ARCH_ARM64) {
        memset(img, 0, 64);
        img[3] = 0x14; /* a branch, like the real code0 */
        put16(img + 16, (unsigned)(size & 0xFFFF)); /* image_size, low */
        memcpy(img + KIMAGE_ARM64_MAGIC, "ARM\x64", 4);
        if (version) {
            int n = snprintf(text, sizeof text,
                             "Linux version %s (builder@kservice) (gcc 12) "
                             "#1 SMP",
                             version);
            memcpy(img + size / 2, text, (size_t)n + 1);
        }
        return img;
    }
    /* x86 bzImage */
    memset(img, 0, KIMAGE_X86_STRING_AT + 128);
    img[0x1F1] = 3; /* setup_sects */
    img[KIMAGE_X86_BOOT_FLAG] = 0x55;
    img[KIMAGE_X86_BOOT_FLAG + 1] = 0xAA;
    memcpy(img + KIMAGE_X86_MAGIC, "HdrS", 4);
    put16(img + KIMAGE_X86_PROTOCOL, 0x020F);
    put16(img + KIMAGE_X86_XLOADFLAGS, arch == KSVC_ARCH_X64 ? 0x1 : 0x0);
    if (version) {
        int n = snprintf(text, sizeof text,
                         "%s (builder@kservice) #1 SMP Thu Jan 1 00:00:00 "
                         "UTC 1970",
                         version);
        put16(img + KIMAGE_X86_KERNEL_VERSION, KIMAGE_X86_STRING_AT - 0x200);
        memcpy(img + KIMAGE_X86_STRING_AT, text, (size_t)n + 1);
    }
    return img;
}

int kimage_write_bytes(const char *path, const unsigned char *data,
                       size_t size)
{
    FILE *f = fopen(path, "wb");
    int ok;

    if (!f)
        return -1;
    ok = fwrite(data, 1, size, f) == size;
    return fclose(f) == 0 && ok ? 0 : -1;
}

int kimage_write(const char *path, ksvc_arch arch, const char *version,
                 unsigned seed, size_t size)
{
    unsigned char *img = kimage_build(arch, version, seed, size);
    int rc = kimage_write_bytes(path, img, size < 2048 ? 2048 : size);

    free(img);
    return rc;
}
