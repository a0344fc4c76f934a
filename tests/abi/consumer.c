/*
 * A program written as a user of the installed package would write it: it
 * sees only the installed headers and library, found through
 * `pkg-config --cflags --libs libkservice`.  tests/abi/install_test.py copies
 * it out of the source tree, builds it as C and as C++ against a fresh
 * `meson install`, and runs it on a throwaway simulated machine.
 *
 * usage: consumer ROOT [A.img B.img C.img]
 *   (ROOT must not exist; its parent must)
 *
 * With three kernel images of rising versions it then runs the worked
 * example of the public page: install A, update to B, roll back (B becomes
 * bad), update to C; kernel = C, kernel.rollback = A, and B is refused.
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

/* The version recorded for a slot, "" when none. */
static const char *slot_version(const ksvc_slot_status *slot)
{
    return slot->kernel_version;
}

/* A, B, rollback, C on an open context; 0 when every step did as the
 * public page says. */
static int worked_example(ksvc_context *ctx, char **images)
{
    ksvc_status before = KSVC_STATUS_INIT;
    ksvc_status after = KSVC_STATUS_INIT;
    char version_a[KSVC_KVER_MAX + 1];
    char version_b[KSVC_KVER_MAX + 1];
    int failures = 0;

    failures += check(ksvc_install(ctx, images[0], NULL, NULL), KSVC_OK,
                      "install A");
    failures += check(ksvc_status_get(ctx, &before), KSVC_OK, "status after A");
    snprintf(version_a, sizeof version_a, "%s", slot_version(&before.kernel));
    failures += check(ksvc_install(ctx, images[1], NULL, NULL), KSVC_OK,
                      "update to B");
    failures += check(ksvc_status_get(ctx, &before), KSVC_OK, "status after B");
    snprintf(version_b, sizeof version_b, "%s", slot_version(&before.kernel));
    failures += check(ksvc_rollback(ctx), KSVC_OK, "rollback");
    failures += check(ksvc_install(ctx, images[2], NULL, NULL), KSVC_OK,
                      "update to C");
    failures += check(ksvc_install(ctx, images[1], NULL, NULL),
                      KSVC_E_BAD_VERSION, "install B again");
    failures += check(ksvc_status_get(ctx, &after), KSVC_OK, "status after C");
    if (failures != 0)
        return failures;
    if (strcmp(slot_version(&after.rollback), version_a) != 0 ||
        after.effective != KSVC_SLOT_KERNEL || after.bad_count != 1 ||
        strcmp(after.bad_versions[0], version_b) != 0) {
        fprintf(stderr, "consumer: after C: kernel.rollback %s, bad %s\n",
                slot_version(&after.rollback),
                after.bad_count ? after.bad_versions[0] : "(none)");
        return 1;
    }
    printf("worked example: kernel %s, kernel.rollback %s, %s refused\n",
           slot_version(&after.kernel), version_a, version_b);
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

    if (argc != 2 && argc != 5) {
        fprintf(stderr, "usage: consumer ROOT [A.img B.img C.img]\n");
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
        if (failures == 0 && argc == 5)
            failures += worked_example(ctx, argv + 2);
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
