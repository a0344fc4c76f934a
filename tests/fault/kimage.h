/*
 * Synthetic kernel images for the suites: an x86 bzImage (setup header with
 * `HdrS`, boot protocol 2.15, a kernel_version string) or an arm64 Image
 * (`ARM\x64` magic and a `Linux version ` banner), padded with bytes derived
 * from a seed.  Only the fields libkservice reads are real.
 */
#ifndef KSVC_TEST_KIMAGE_H
#define KSVC_TEST_KIMAGE_H

#include <stddef.h>

#include <kservice/platform.h>

/* Offsets of the x86 setup header (Documentation/arch/x86/boot.rst). */
#define KIMAGE_X86_BOOT_FLAG 0x1FE
#define KIMAGE_X86_MAGIC 0x202
#define KIMAGE_X86_PROTOCOL 0x206
#define KIMAGE_X86_KERNEL_VERSION 0x20E
#define KIMAGE_X86_XLOADFLAGS 0x236
/* Where kimage_build puts the version string of a bzImage. */
#define KIMAGE_X86_STRING_AT 0x400
/* Offset of the arm64 Image magic. */
#define KIMAGE_ARM64_MAGIC 0x38

/* @p size bytes (at least 2048) of an image for @p arch naming @p version
 * (NULL: an image that does not name its version), the rest derived from
 * @p seed.  Returns malloc'd bytes; aborts when out of memory. */
unsigned char *kimage_build(ksvc_arch arch, const char *version,
                            unsigned seed, size_t size);

/* Write kimage_build's bytes to @p path; returns 0 or -1. */
int kimage_write(const char *path, ksvc_arch arch, const char *version,
                 unsigned seed, size_t size);

/* Write @p size bytes of @p data to @p path; returns 0 or -1. */
int kimage_write_bytes(const char *path, const unsigned char *data,
                       size_t size);

#endif
