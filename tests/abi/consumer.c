/*
 * A program written as a user of the installed package would write it: it
 * sees only the installed headers and library, found through
 * `pkg-config --cflags --libs libkservice`.  tests/abi/install_test.py copies
 * it out of the source tree, builds it as C and as C++ against a fresh
 * `meson install`, and runs it on a throwaway simulated machine.
 *
 * usage: consumer ROOT   (ROOT must not exist; its parent must)
 */
#include <stdio.h>
#include <string.h>

#include <kservice/kservice.h>
#include <kservice/posix.h>

static int check(int err, int expected, const char *what)
{
    if (err != expected) {
        fprintf(stderr, "consumer: %s: got %s (%s), expected %s\n", what,
                ksvc_error_name(err), ksvc_strerror(err),
                ksvc_error_name(expected));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    ksvc_posix_options options = KSVC_POSIX_OPTIONS_INIT;
    ksvc_precheck_result precheck = KSVC_PRECHECK_RESULT_INIT;
    ksvc_status status = KSVC_STATUS_INIT;
    ksvc_platform *platform = NULL;
    ksvc_context *ctx = NULL;
    char path[4096];
    int failures = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: consumer ROOT\n");
        return 2;
    }
    if (ksvc_version() != KSVC_VERSION_HEX ||
        strcmp(ksvc_version_string(), KSVC_VERSION_STRING) != 0) {
        fprintf(stderr, "consumer: headers %s but library %s\n",
                KSVC_VERSION_STRING, ksvc_version_string());
        return 1;
    }
    failures += check(ksvc_posix_init_machine(argv[1], NULL), KSVC_OK,
                      "ksvc_posix_init_machine");
    options.root = argv[1];
    failures += check(ksvc_posix_open(&platform, &options), KSVC_OK,
                      "ksvc_posix_open");
    if (failures != 0)
        return 1;
    failures += check(ksvc_open(&ctx, platform, NULL), KSVC_OK, "ksvc_open");
    if (failures == 0) {
        failures += check(ksvc_precheck(ctx, &precheck), KSVC_OK,
                          "ksvc_precheck");
        failures += check(ksvc_status_get(ctx, &status), KSVC_OK,
                          "ksvc_status_get");
        if (status.effective != KSVC_SLOT_NONE) {
            fprintf(stderr, "consumer: a fresh machine has a kernel\n");
            failures++;
        }
        failures += check(ksvc_boot_path(ctx, path, sizeof path),
                          KSVC_E_KERNEL_MISSING, "ksvc_boot_path");
        if (strcmp(ksvc_strerror(KSVC_E_KERNEL_MISSING),
                   KSVC_MSG_KERNEL_MISSING) != 0) {
            fprintf(stderr, "consumer: wrong missing-kernel message\n");
            failures++;
        }
    }
    ksvc_close(ctx);
    ksvc_posix_free(platform);
    if (failures != 0)
        return 1;
    printf("libkservice %s: fresh machine, build %u, no kernel yet: %s\n",
           ksvc_version_string(), (unsigned)precheck.os_build,
           ksvc_strerror(KSVC_E_KERNEL_MISSING));
    return 0;
}
