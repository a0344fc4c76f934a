/*
 * make-kernel: stand-in kernel images for tests and CI (kservice
 * make-kernel).  Not bootable: a file framed as a bootloader sees a real
 * kernel, so that libkservice's payload checks (src/image.c) accept it as
 * a kernel of the given architecture and version.
 */
#ifndef KSERVICE_MAKE_KERNEL_H
#define KSERVICE_MAKE_KERNEL_H

#include <stdint.h>

#include <kservice/kservice.h>

/* The size without --size: 72 KiB, a few blocks of hashing work. */
#define MAKE_KERNEL_DEFAULT_SIZE 73728u
/* The smallest image: the bzImage setup code (5 sectors) and the arm64
 * banner fit in it. */
#define MAKE_KERNEL_MIN_SIZE 4096u
/* The largest, so that a typo cannot fill the disk: 4 GiB. */
#define MAKE_KERNEL_MAX_SIZE 4294967296u

/* Write @p size bytes to @p path (replacing it): an x86-64 bzImage whose
 * setup header names @p version (KSVC_ARCH_X64) or an arm64 Image with a
 * `Linux version` banner (KSVC_ARCH_ARM64).  @p version must be a valid
 * kernel version and @p size within the limits above.  Returns 0, or the
 * errno of the failed write (the partial file is removed). */
int make_kernel_write(const char *path, const char *version, ksvc_arch arch,
                      uint64_t size);

#endif /* KSERVICE_MAKE_KERNEL_H */
