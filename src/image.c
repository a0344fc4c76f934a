/*
 * What a kernel file really is: an x86 bzImage or an arm64 Image, for which
 * architecture, and which version it names.  Every byte read here is
 * untrusted: a truncated or lying header is refused, never guessed.
 *
 * x86 bzImage (Documentation/arch/x86/boot.rst): the real-mode setup header
 * has the magic `HdrS` at 0x202, the boot protocol version at 0x206, and at
 * 0x20E a 16-bit pointer to the kernel_version string, which lies at that
 * pointer + 0x200 inside the setup code.  The string starts with the
 * version (`5.15.153.1-microsoft-standard-WSL2 (user@host) #1 SMP ...`).
 * Since protocol 2.12, bit 0 of xloadflags (0x236) says the kernel is 64-bit.
 *
 * arm64 Image (Documentation/arch/arm64/booting.rst): a 64-byte header with
 * the magic `ARM\x64` at 0x38; the version is in the `Linux version `
 * banner somewhere inside the (uncompressed) image.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define X86_SETUP_SECTS 0x1F1
#define X86_SYSSIZE 0x1F4 /* 32-bit since protocol 2.04 */
#define X86_BOOT_FLAG 0x1FE
#define X86_MAGIC 0x202
#define X86_PROTOCOL 0x206
#define X86_KERNEL_VERSION 0x20E
#define X86_XLOADFLAGS 0x236
#define X86_HEADER_END 0x238 /* through xloadflags */
#define ARM64_MAGIC 0x38
#define ARM64_HEADER_END 0x40

static const char banner[] = "Linux version ";
#define BANNER_LEN (sizeof banner - 1)

/* Longest kernel_version string looked at: the version and its separator. */
#define X86_STRING_ROOM (KSVC_KVER_MAX + 2)

static unsigned get16(const unsigned char *p)
{
    return (unsigned)p[0] | ((unsigned)p[1] << 8);
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)get16(p) | ((uint32_t)get16(p + 2) << 16);
}

/* The size the setup header says the whole file has: the setup code and
 * syssize 16-byte paragraphs of protected-mode code; 0 when the header
 * does not say (syssize 0, or a protocol before 2.04).  The build rounds
 * syssize up, so a complete file may be up to 15 bytes shorter. */
static uint64_t stated_size(const unsigned char *head, unsigned protocol,
                            uint64_t setup_size)
{
    uint32_t syssize;

    if (protocol < 0x0204)
        return 0;
    syssize = get32(head + X86_SYSSIZE);
    return syssize ? setup_size + (uint64_t)syssize * 16u : 0;
}

static int refuse(ksvc__image_info *info, const char *why)
{
    snprintf(info->why, sizeof info->why, "%s", why);
    return KSVC_E_BAD_PAYLOAD;
}

/* The version token at the start of @p text (@p len bytes): digits, dots
 * and a suffix, ended by a space or NUL.  1 when it is a valid version. */
static int take_version(const unsigned char *text, size_t len,
                        char out[KSVC_KVER_MAX + 1])
{
    size_t n = 0;

    while (n < len && text[n] != ' ' && text[n] != '\0') {
        if (n == KSVC_KVER_MAX)
            return 0;
        out[n] = (char)text[n];
        n++;
    }
    if (n == 0 || n == len) /* empty, or cut off by the end */
        return 0;
    out[n] = '\0';
    return ksvc__kver_valid(out);
}

/* The bzImage setup header; @p head holds the first @p head_len bytes of a
 * file of @p file_size bytes (head_len >= KSVC__IMAGE_HEAD or the whole
 * file). */
static int parse_bzimage(const unsigned char *head, size_t head_len,
                         uint64_t file_size, ksvc__image_info *info)
{
    unsigned protocol, pointer, sects;
    uint64_t setup_size, at;

    info->kind = KSVC__IMAGE_BZIMAGE;
    if (head_len < X86_HEADER_END)
        return refuse(info, "bzImage setup header cut short");
    if (get16(head + X86_BOOT_FLAG) != 0xAA55)
        return refuse(info, "bzImage boot flag is not 0xAA55");
    protocol = get16(head + X86_PROTOCOL);
    if (protocol < 0x0200)
        return refuse(info, "bzImage boot protocol older than 2.00");
    sects = head[X86_SETUP_SECTS] ? head[X86_SETUP_SECTS] : 4;
    setup_size = ((uint64_t)sects + 1) * 512;
    if (setup_size > file_size)
        return refuse(info, "bzImage shorter than its own setup code");
    if (file_size + 15u < stated_size(head, protocol, setup_size))
        return refuse(info, "bzImage shorter than its setup header says "
                            "(syssize): the copy was cut short");
    info->arch = protocol >= 0x020C && !(get16(head + X86_XLOADFLAGS) & 1)
                     ? KSVC_ARCH_UNKNOWN /* a 32-bit x86 kernel */
                     : KSVC_ARCH_X64;
    pointer = get16(head + X86_KERNEL_VERSION);
    if (pointer == 0)
        return KSVC_OK; /* the header does not name a version */
    at = (uint64_t)pointer + 0x200;
    if (at < X86_HEADER_END || at >= setup_size)
        return refuse(info, "bzImage kernel_version points outside its "
                            "setup code");
    if (at >= head_len)
        return refuse(info, "bzImage kernel_version string cut short");
    if (!take_version(head + at, head_len - (size_t)at, info->version))
        return refuse(info, "bzImage kernel_version string is not a kernel "
                            "version");
    info->has_version = 1;
    return KSVC_OK;
}

int ksvc__image_parse_head(const unsigned char *head, size_t head_len,
                           uint64_t file_size, ksvc__image_info *info)
{
    int x86, arm64;

    memset(info, 0, sizeof *info);
    if (file_size == 0)
        return refuse(info, "the file is empty");
    x86 = head_len >= X86_MAGIC + 4 && !memcmp(head + X86_MAGIC, "HdrS", 4);
    arm64 = head_len >= ARM64_HEADER_END &&
            !memcmp(head + ARM64_MAGIC, "ARM\x64", 4);
    if (x86 && arm64)
        return refuse(info, "claims to be both an x86 bzImage and an arm64 "
                            "Image");
    if (x86)
        return parse_bzimage(head, head_len, file_size, info);
    if (arm64) {
        info->kind = KSVC__IMAGE_ARM64;
        info->arch = KSVC_ARCH_ARM64;
        return KSVC_OK;
    }
    return refuse(info, "neither an x86 bzImage (HdrS at 0x202) nor an "
                        "arm64 Image (ARM\\x64 at 0x38)");
}

size_t ksvc__image_find_banner(const unsigned char *data, size_t size,
                               ksvc__image_info *info)
{
    size_t pos = 0;

    while (size >= BANNER_LEN && pos <= size - BANNER_LEN) {
        const unsigned char *hit =
            memchr(data + pos, 'L', size - BANNER_LEN - pos + 1);
        if (!hit)
            break;
        pos = (size_t)(hit - data);
        if (!memcmp(hit, banner, BANNER_LEN) &&
            take_version(hit + BANNER_LEN, size - pos - BANNER_LEN,
                         info->version)) {
            info->has_version = 1;
            return pos;
        }
        pos++;
    }
    info->version[0] = '\0';
    return size;
}

int ksvc__image_identify(const unsigned char *data, size_t size,
                         ksvc__image_info *info)
{
    int err = ksvc__image_parse_head(
        data, size < KSVC__IMAGE_HEAD ? size : KSVC__IMAGE_HEAD, size, info);

    if (!err && info->kind == KSVC__IMAGE_ARM64)
        ksvc__image_find_banner(data, size, info);
    return err;
}

/* ---- through the platform ---- */

/* Fill @p buf unless the file ends first: a backend may return fewer
 * bytes than asked before the end, and a header cut by a short read would
 * look truncated. */
static int read_at(ksvc_context *ctx, ksvc_file *f, const char *label,
                   uint64_t offset, unsigned char *buf, size_t size,
                   size_t *got)
{
    size_t part;
    int err;

    *got = 0;
    while (*got < size) {
        err = ctx->p->file_read(f, offset + *got, buf + *got, size - *got,
                                &part);
        if (err)
            return ksvc__platform_fail(ctx, err, label);
        if (part == 0)
            break;
        *got += part;
    }
    return KSVC_OK;
}

/* Look for the banner chunk by chunk; consecutive chunks overlap by the
 * longest banner with its version, so none is cut in two. */
static int scan_file(ksvc_context *ctx, ksvc_file *f, const char *label,
                     unsigned char *buf, size_t room, ksvc__image_info *info)
{
    const size_t overlap = BANNER_LEN + KSVC_KVER_MAX + 2;
    uint64_t offset = 0;
    size_t got;
    int err;

    for (;;) {
        err = read_at(ctx, f, label, offset, buf, room, &got);
        if (err)
            return err;
        if (ksvc__image_find_banner(buf, got, info) < got || got < room)
            return KSVC_OK;
        offset += got - overlap;
    }
}

int ksvc__image_read(ksvc_context *ctx, ksvc_file *f, const char *label,
                     ksvc__image_info *info)
{
    size_t room = KSVC__CHUNK, got;
    unsigned char *buf = malloc(room);
    uint64_t size;
    int err;

    memset(info, 0, sizeof *info);
    if (!buf)
        return ksvc__fail(ctx, KSVC_E_NO_MEMORY, "reading %s", label);
    err = ctx->p->file_size(f, &size);
    if (err)
        err = ksvc__platform_fail(ctx, err, label);
    if (!err)
        err = read_at(ctx, f, label, 0, buf, KSVC__IMAGE_HEAD, &got);
    if (!err) {
        err = ksvc__image_parse_head(buf, got, size, info);
        info->file_size = size;
        if (err)
            ksvc__fail(ctx, err, "%s: %s", label, info->why);
    }
    if (!err && info->kind == KSVC__IMAGE_ARM64)
        err = scan_file(ctx, f, label, buf, room, info);
    free(buf);
    return err;
}

const char *ksvc__arch_name(ksvc_arch arch)
{
    switch (arch) {
    case KSVC_ARCH_X64:
        return "x64";
    case KSVC_ARCH_ARM64:
        return "arm64";
    default:
        return "another architecture";
    }
}
