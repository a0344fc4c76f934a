/*
 * Stand-in kernel images (see make_kernel.h).
 *
 * x86-64 bzImage (Documentation/arch/x86/boot.rst): setup_sects at 0x1F1,
 * syssize at 0x1F4, boot flag 0xAA55 at 0x1FE, "HdrS" at 0x202, boot
 * protocol 2.15 at 0x206, at 0x20E the kernel_version pointer (the string
 * lies at pointer + 0x200, inside the setup code), xloadflags bit 0
 * (64-bit kernel) at 0x236.
 * arm64 Image (Documentation/arch/arm64/booting.rst): image_size at 16,
 * flags at 24 (little-endian, 4 KiB pages), the magic "ARM\x64" at 0x38;
 * the version is the `Linux version` banner inside the image.
 *
 * Every other byte is text naming the version and the block number, so
 * images of two versions differ in every 4 KiB block.
 */
#include "make_kernel.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define BLOCK 4096u

#define X86_SETUP_SECTS 0x1F1
#define X86_SYSSIZE 0x1F4
#define X86_BOOT_FLAG 0x1FE
#define X86_MAGIC 0x202
#define X86_PROTOCOL 0x206
#define X86_KERNEL_VERSION 0x20E
#define X86_XLOADFLAGS 0x236
#define X86_SETUP_SECTORS 4u        /* + the boot sector: 2560 bytes */
#define X86_VERSION_POINTER 0x0400u /* the string at 0x600 */
#define ARM64_IMAGE_SIZE 16
#define ARM64_FLAGS 24
#define ARM64_MAGIC 0x38
#define ARM64_BANNER 0x800

static void put_le(unsigned char *at, uint64_t value, int bytes)
{
    int k;

    for (k = 0; k < bytes; k++)
        at[k] = (unsigned char)(value >> (8 * k));
}

/* Block @p index: lines "kernel VERSION block NNNNN", cut at the end. */
static void fill_block(unsigned char *block, const char *version,
                       unsigned long index)
{
    char line[KSVC_KVER_MAX + 40];
    size_t len, at;

    len = (size_t)snprintf(line, sizeof line, "kernel %-16s block %05lu\n",
                           version, index);
    for (at = 0; at < BLOCK; at += len)
        memcpy(block + at, line, BLOCK - at < len ? BLOCK - at : len);
}

static void frame_bzimage(unsigned char *head, const char *version,
                          uint64_t size)
{
    uint64_t setup = (X86_SETUP_SECTORS + 1u) * 512u;

    head[X86_SETUP_SECTS] = X86_SETUP_SECTORS;
    put_le(head + X86_SYSSIZE, (size - setup + 15u) / 16u, 4);
    put_le(head + X86_BOOT_FLAG, 0xAA55u, 2);
    memcpy(head + X86_MAGIC, "HdrS", 4);
    put_le(head + X86_PROTOCOL, 0x020Fu, 2);
    put_le(head + X86_KERNEL_VERSION, X86_VERSION_POINTER, 2);
    put_le(head + X86_XLOADFLAGS, 1u, 2);
    /* snprintf's NUL ends the string where the bootloader stops reading. */
    snprintf((char *)head + X86_VERSION_POINTER + 0x200, 128,
             "%s (kservice@make-kernel) #1 SMP", version);
}

static void frame_arm64(unsigned char *head, const char *version,
                        uint64_t size)
{
    put_le(head + ARM64_IMAGE_SIZE, size, 8);
    put_le(head + ARM64_FLAGS, 0x2u, 8); /* little-endian, 4 KiB pages */
    memcpy(head + ARM64_MAGIC, "ARM\x64", 4);
    snprintf((char *)head + ARM64_BANNER, 128,
             "Linux version %s (kservice@make-kernel) #1 SMP", version);
}

static int write_image(FILE *out, const char *version, ksvc_arch arch,
                       uint64_t size)
{
    unsigned char block[BLOCK];
    unsigned long index = 0;
    uint64_t left;

    for (left = size; left > 0; index++) {
        size_t part = left < BLOCK ? (size_t)left : BLOCK;

        fill_block(block, version, index);
        if (index == 0 && arch == KSVC_ARCH_ARM64)
            frame_arm64(block, version, size);
        else if (index == 0)
            frame_bzimage(block, version, size);
        if (fwrite(block, 1, part, out) != part)
            return errno != 0 ? errno : EIO;
        left -= part;
    }
    return 0;
}

int make_kernel_write(const char *path, const char *version, ksvc_arch arch,
                      uint64_t size)
{
    FILE *out;
    int err;

    errno = 0;
    out = fopen(path, "wb");
    if (out == NULL)
        return errno != 0 ? errno : EIO;
    err = write_image(out, version, arch, size);
    if (fclose(out) != 0 && err == 0)
        err = errno != 0 ? errno : EIO;
    if (err != 0)
        remove(path);
    return err;
}
