/*
 * kservice-make-kernel VERSION OUT [x64|arm64]: the image writer of
 * `kservice make-kernel`, built for the build machine, so that a cross
 * build (mingw-w64) can make its sample kernel and its tests' kernels
 * without running kservice.exe.  Not installed; `kservice make-kernel` is
 * the tool for users.  VERSION is trusted (it comes from the build files).
 */
#include <stdio.h>
#include <string.h>

#include "make_kernel.h"

int main(int argc, char **argv)
{
    ksvc_arch arch = KSVC_ARCH_X64;
    int err;

    if (argc == 4 && strcmp(argv[3], "arm64") == 0)
        arch = KSVC_ARCH_ARM64;
    else if (argc != 3 && !(argc == 4 && strcmp(argv[3], "x64") == 0)) {
        fprintf(stderr, "usage: kservice-make-kernel VERSION OUT [x64|arm64]\n");
        return 2;
    }
    err = make_kernel_write(argv[2], argv[1], arch, MAKE_KERNEL_DEFAULT_SIZE);
    if (err != 0) {
        fprintf(stderr, "kservice-make-kernel: cannot write %s: %s\n", argv[2],
                strerror(err));
        return 1;
    }
    return 0;
}
