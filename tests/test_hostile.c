/*
 * Hostile input, one test each (POSIX mock backend: the tests plant links
 * and edit the hive file).  Every case checks the error the library gives,
 * that it comes with a detail, and that nothing changed: the machine
 * snapshot (tools folder, Lxss values, hive bytes) is the same before and
 * after, and no file outside the tools folder was touched through a link.
 *
 * Also the kernel image reader: synthetic bzImages and arm64 Images whose
 * version install reads, refused for another architecture, a contradicting
 * version, and every truncated or lying header.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <kservice/posix.h>

#include "fault/fault.h"
#include "fault/kimage.h"
#include "internal.h"
#include "machine.h"

const char *test_machine_root(test_machine *m);

#define A "5.10.102.1"
#define B "5.15.90.1"
#define LXSS_SECTION                                                         \
    "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\"    \
    "Lxss]"

typedef struct fixture {
    test_machine *m;
    ksvc_platform *p;
    ksvc_context *ctx;
    char img_a[4096], img_b[4096];
} fixture;

static char *path_in(const char *dir, const char *name)
{
    char *out = malloc(strlen(dir) + strlen(name) + 2);

    assert_non_null(out);
    sprintf(out, "%s/%s", dir, name);
    return out;
}

static char *tools_path(fixture *f, const char *name)
{
    char *tools = path_in(test_machine_root(f->m), "System32/lxss/tools");
    char *out = path_in(tools, name);

    free(tools);
    return out;
}

static fixture *new_fixture(const ksvc_mock_machine *facts)
{
    fixture *f = calloc(1, sizeof *f);

    assert_non_null(f);
    f->m = test_machine_new(facts);
    f->p = test_machine_platform(f->m);
    assert_int_equal(ksvc_open(&f->ctx, f->p, NULL), KSVC_OK);
    snprintf(f->img_a, sizeof f->img_a, "%s/a.img",
             test_machine_scratch(f->m));
    snprintf(f->img_b, sizeof f->img_b, "%s/b.img",
             test_machine_scratch(f->m));
    assert_int_equal(kimage_write(f->img_a, KSVC_ARCH_X64, A, 1, 6000), 0);
    assert_int_equal(kimage_write(f->img_b, KSVC_ARCH_X64, B, 2, 7000), 0);
    return f;
}

static int setup(void **state)
{
    *state = new_fixture(NULL);
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    ksvc_close(f->ctx);
    test_machine_free(f->m);
    free(f);
    return 0;
}

static int install(fixture *f, const char *path, const char *version)
{
    return ksvc_install(f->ctx, path, version, NULL);
}

/* The whole of a file, for "nothing outside changed". */
static char *slurp(const char *path, size_t *len)
{
    FILE *in = fopen(path, "rb");
    char *data;
    long size;

    if (!in)
        return NULL;
    fseek(in, 0, SEEK_END);
    size = ftell(in);
    fseek(in, 0, SEEK_SET);
    data = malloc((size_t)size + 1);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, (size_t)size, in), (size_t)size);
    fclose(in);
    data[size] = '\0';
    *len = (size_t)size;
    return data;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *out = fopen(path, "wb");

    assert_non_null(out);
    assert_int_equal(fwrite(data, 1, len, out), len);
    assert_int_equal(fclose(out), 0);
}

/* Run a call that must fail with err and a detail, changing nothing. */
#define ASSERT_REFUSED(f, err, call)                                         \
    do {                                                                     \
        char *before_ = test_machine_snapshot((f)->m), *after_;             \
        int rc_ = (call);                                                    \
        if (rc_ != (err))                                                    \
            fail_msg("%s gave %s (%s), expected %s", #call,                  \
                     ksvc_error_name(rc_), ksvc_error_detail((f)->ctx),      \
                     ksvc_error_name(err));                                  \
        assert_true(ksvc_error_detail((f)->ctx)[0] != '\0');                \
        after_ = test_machine_snapshot((f)->m);                              \
        assert_string_equal(before_, after_);                               \
        free(before_);                                                       \
        free(after_);                                                        \
    } while (0)

/* ---- the hive ---- */

/* Append @p text to ROOT/registry.reg by hand, then check that opening a
 * context fails with @p err (one of two) and that the hive is untouched. */
static void hive_refused(fixture *f, const char *text, size_t text_len,
                         int err, int or_err)
{
    char *hive = path_in(test_machine_root(f->m), "registry.reg");
    size_t len, after_len, at;
    char *old = slurp(hive, &len), *edited, *after, *snap, *snap2;
    const char *section;
    ksvc_context *ctx = NULL;
    int rc;

    assert_non_null(old);
    edited = malloc(len + text_len);
    assert_non_null(edited);
    /* Value lines go at the top of the Lxss section, a section at the
     * end. */
    section = strstr(old, LXSS_SECTION "\r\n");
    at = text[0] != '[' && section
             ? (size_t)(section - old) + strlen(LXSS_SECTION "\r\n")
             : len;
    memcpy(edited, old, at);
    memcpy(edited + at, text, text_len);
    memcpy(edited + at + text_len, old + at, len - at);
    write_file(hive, edited, len + text_len);
    snap = test_machine_snapshot(f->m);
    rc = ksvc_open(&ctx, f->p, NULL);
    if (rc != err && rc != or_err)
        fail_msg("open gave %s, expected %s", ksvc_error_name(rc),
                 ksvc_error_name(err));
    assert_null(ctx);
    /* A context opened before the damage refuses every operation too. */
    assert_int_not_equal(install(f, f->img_a, A), KSVC_OK);
    assert_true(ksvc_error_detail(f->ctx)[0] != '\0');
    assert_int_not_equal(ksvc_rollback(f->ctx), KSVC_OK);
    after = slurp(hive, &after_len);
    assert_int_equal(after_len, len + text_len);
    assert_memory_equal(after, edited, after_len);
    snap2 = test_machine_snapshot(f->m);
    assert_string_equal(snap, snap2);
    free(snap);
    free(snap2);
    free(after);
    free(edited);
    free(old);
    free(hive);
}

static void hive_truncated(void **state)
{
    fixture *f = *state;
    char *hive = path_in(test_machine_root(f->m), "registry.reg");
    size_t len;
    char *text;

    assert_int_equal(install(f, f->img_a, A), KSVC_OK);
    text = slurp(hive, &len);
    /* Cut inside the KernelVersion string: the line loses its quote. */
    {
        char *at = strstr(text, "\"KernelVersion\"=\"");
        char *cut;
        assert_non_null(at);
        cut = at + strlen("\"KernelVersion\"=\"5.1");
        write_file(hive, text, (size_t)(cut - text));
    }
    free(text);
    free(hive);
    hive_refused(f, "", 0, KSVC_E_HIVE, KSVC_E_HIVE);
}

static void hive_binary_garbage(void **state)
{
    fixture *f = *state;
    char *hive = path_in(test_machine_root(f->m), "registry.reg");
    unsigned char junk[4096];
    size_t i;

    for (i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(i * 131u + 7u);
    write_file(hive, junk, sizeof junk);
    free(hive);
    hive_refused(f, "", 0, KSVC_E_HIVE, KSVC_E_HIVE);
}

static void hive_duplicate_keys(void **state)
{
    static const char text[] = LXSS_SECTION "\r\n"
                               "\"KernelVersion\"=\"" A "\"\r\n\r\n"
                               LXSS_SECTION "\r\n"
                               "\"KernelVersion\"=\"" B "\"\r\n";
    fixture *f = *state;

    hive_refused(f, text, sizeof text - 1, KSVC_E_HIVE, KSVC_E_HIVE);
}

static void hive_duplicate_values(void **state)
{
    static const char text[] = 
                               "\"KernelVersion\"=\"" A "\"\r\n"
                               "\"kernelversion\"=\"" B "\"\r\n";
    fixture *f = *state;

    hive_refused(f, text, sizeof text - 1, KSVC_E_HIVE, KSVC_E_HIVE);
}

/* Add @p text at the top of the Lxss section of the hive by hand; the new
 * text of the hive is returned. */
static char *insert_in_lxss(fixture *f, const char *text, size_t text_len)
{
    char *hive = path_in(test_machine_root(f->m), "registry.reg");
    size_t len, at;
    char *old = slurp(hive, &len), *edited;
    const char *section = strstr(old, LXSS_SECTION "\r\n");

    assert_non_null(section);
    at = (size_t)(section - old) + strlen(LXSS_SECTION "\r\n");
    edited = malloc(len + text_len + 1);
    assert_non_null(edited);
    memcpy(edited, old, at);
    memcpy(edited + at, text, text_len);
    memcpy(edited + at + text_len, old + at, len - at);
    edited[len + text_len] = '\0';
    write_file(hive, edited, len + text_len);
    free(old);
    free(hive);
    return edited;
}

/* Add @p text to the Lxss key by hand: a value that does not parse.
 * Opening and status still work and name @p value; opening changes
 * nothing on an empty machine.  When @p blocks_changes (the list of bad
 * versions), every change is refused with KSVC_E_BAD_VALUE and nothing on
 * disk changes; otherwise an install replaces the value. */
static void hive_value_tolerated(fixture *f, const char *text,
                                 size_t text_len, const char *value,
                                 int blocks_changes)
{
    char *hive = path_in(test_machine_root(f->m), "registry.reg");
    size_t len, after_len;
    char *old = slurp(hive, &len), *edited = insert_in_lxss(f, text, text_len);
    char *after;
    ksvc_status s = KSVC_STATUS_INIT;
    ksvc_context *ctx = NULL;
    size_t i;
    int named = 0;

    assert_int_equal(ksvc_open(&ctx, f->p, NULL), KSVC_OK);
    assert_int_equal(ksvc_status_get(ctx, &s), KSVC_OK);
    for (i = 0; i < s.problem_count; i++)
        named |= strstr(s.problems[i], value) != NULL;
    assert_true(named);
    ksvc_close(ctx);
    after = slurp(hive, &after_len);
    assert_int_equal(after_len, len + text_len);
    assert_memory_equal(after, edited, after_len);
    free(after);
    if (blocks_changes) {
        ASSERT_REFUSED(f, KSVC_E_BAD_VALUE, install(f, f->img_a, A));
        assert_non_null(strstr(ksvc_error_detail(f->ctx), value));
        ASSERT_REFUSED(f, KSVC_E_BAD_VALUE, ksvc_repair(f->ctx));
    } else {
        int rc = install(f, f->img_a, A);
        if (rc != KSVC_OK)
            fail_msg("install: %s", ksvc_error_detail(f->ctx));
        assert_int_equal(ksvc_status_get(f->ctx, &s), KSVC_OK);
        assert_string_equal(s.kernel.kernel_version, A);
    }
    free(edited);
    free(old);
    free(hive);
}

static void hive_wrong_value_types(void **state)
{
    static const char version_dword[] = 
                                        "\"KernelVersion\"=dword:00000005\r\n";
    static const char bad_set_sz[] = 
                                     "\"KServiceBadVersions\"=\"" A "\"\r\n";
    fixture *f = *state;
    fixture *g;

    hive_value_tolerated(f, version_dword, sizeof version_dword - 1,
                         "KernelVersion", 0);
    g = new_fixture(NULL);
    hive_value_tolerated(g, bad_set_sz, sizeof bad_set_sz - 1,
                         "KServiceBadVersions", 1);
    teardown((void **)&g);
}

/* A string value of @p size bytes under KernelVersion. */
static char *long_value(size_t size, size_t *len)
{
    const char *head = "\"KernelVersion\"=\"";
    size_t head_len = strlen(head);
    char *text = malloc(head_len + size + 4);

    assert_non_null(text);
    memcpy(text, head, head_len);
    memset(text + head_len, '5', size);
    memcpy(text + head_len + size, "\"\r\n", 3);
    *len = head_len + size + 3;
    return text;
}

static void hive_strings_of_megabytes(void **state)
{
    fixture *f = *state;
    fixture *g = new_fixture(NULL);
    size_t len;
    char *text = long_value(3u << 20, &len); /* not held in memory */

    hive_value_tolerated(f, text, len, "KernelVersion", 0);
    free(text);
    text = long_value(512u << 10, &len); /* an absurd version */
    hive_value_tolerated(g, text, len, "KernelVersion", 0);
    free(text);
    teardown((void **)&g);
}

/* A REG_BINARY of @p size bytes named @p name, on one line. */
static char *long_binary(const char *name, size_t size, size_t *len)
{
    char *text = malloc(strlen(name) + 3 * size + 16);
    size_t used, i;

    assert_non_null(text);
    used = (size_t)sprintf(text, "\"%s\"=hex:", name);
    for (i = 0; i < size; i++)
        used += (size_t)sprintf(text + used, i + 1 < size ? "%02x," : "%02x",
                                (unsigned)(i * 7u % 251u));
    used += (size_t)sprintf(text + used, "\r\n");
    *len = used;
    return text;
}

/* A value of megabytes in the servicing key that the library does not
 * read stops nothing: status names no problem, boot-path, install and
 * rollback work, and the value comes through every write byte for byte. */
static void huge_value_beside_the_servicing_values(void **state)
{
    fixture *f = *state;
    char *hive = path_in(test_machine_root(f->m), "registry.reg");
    size_t len, i, now_len;
    char *text = long_binary("KServiceNotes", 3u << 20, &len);
    char *now, boot[4096];
    ksvc_status s = KSVC_STATUS_INIT;

    assert_int_equal(install(f, f->img_a, A), KSVC_OK);
    free(insert_in_lxss(f, text, len));
    assert_int_equal(ksvc_status_get(f->ctx, &s), KSVC_OK);
    for (i = 0; i < s.problem_count; i++)
        assert_null(strstr(s.problems[i], "KServiceNotes"));
    assert_int_equal(ksvc_boot_path(f->ctx, boot, sizeof boot), KSVC_OK);
    assert_int_equal(install(f, f->img_b, B), KSVC_OK);
    assert_int_equal(ksvc_rollback(f->ctx), KSVC_OK);
    assert_int_equal(ksvc_status_get(f->ctx, &s), KSVC_OK);
    assert_int_equal(ksvc_boot_path(f->ctx, boot, sizeof boot), KSVC_OK);
    assert_non_null(strstr(boot, "kernel.rollback")); /* A's slot */
    now = slurp(hive, &now_len);
    text[len] = '\0';
    assert_non_null(strstr(now, text));
    free(now);
    free(text);
    free(hive);
}

static void hive_invalid_utf8(void **state)
{
    static const char text[] = 
                               "\"KernelVersion\"=\"5.15\xff\xfe.1\"\r\n";
    fixture *f = *state;

    hive_refused(f, text, sizeof text - 1, KSVC_E_HIVE, KSVC_E_BAD_VALUE);
}

static void hive_multi_sz_without_terminators(void **state)
{
    /* "5.1" in UTF-16LE with no NUL after it and no closing empty string */
    static const char text[] = 
                               "\"KServiceBadVersions\"=hex(7):35,00,2e,00,"
                               "31,00\r\n";
    fixture *f = *state;

    hive_refused(f, text, sizeof text - 1, KSVC_E_HIVE, KSVC_E_BAD_VALUE);
}

/* ---- planted links and foreign files ---- */

/* A file outside the tools folder that a planted link points to. */
static char *victim(fixture *f, size_t *len)
{
    char *path = path_in(test_machine_scratch(f->m), "victim");
    static const char text[] = "a file outside the tools folder\n";

    write_file(path, text, sizeof text - 1);
    *len = sizeof text - 1;
    return path;
}

static void assert_victim_untouched(const char *path, size_t len)
{
    size_t now_len;
    char *now = slurp(path, &now_len);

    assert_non_null(now);
    assert_int_equal(now_len, len);
    assert_memory_equal(now, "a file outside the tools folder\n", len);
    free(now);
}

static void plant_symlink(fixture *f, const char *target, const char *name)
{
    char *path = tools_path(f, name);

    assert_int_equal(symlink(target, path), 0);
    free(path);
}

static void plant_hard_link(fixture *f, const char *target, const char *name)
{
    char *path = tools_path(f, name);

    assert_int_equal(link(target, path), 0);
    free(path);
}

static void symlink_as_kernel(void **state)
{
    fixture *f = *state;
    char path[4096];
    size_t len;
    char *v = victim(f, &len);

    plant_symlink(f, v, "kernel");
    ASSERT_REFUSED(f, KSVC_E_UNSAFE_PATH, install(f, f->img_a, A));
    ASSERT_REFUSED(f, KSVC_E_UNSAFE_PATH,
                   ksvc_boot_path(f->ctx, path, sizeof path));
    ASSERT_REFUSED(f, KSVC_E_UNSAFE_PATH, ksvc_repair(f->ctx));
    assert_victim_untouched(v, len);
    free(v);
}

static void symlink_as_rollback(void **state)
{
    fixture *f = *state;
    size_t len;
    char *v = victim(f, &len);

    assert_int_equal(install(f, f->img_a, A), KSVC_OK);
    plant_symlink(f, v, "kernel.rollback");
    ASSERT_REFUSED(f, KSVC_E_UNSAFE_PATH, install(f, f->img_b, B));
    ASSERT_REFUSED(f, KSVC_E_UNSAFE_PATH, ksvc_rollback(f->ctx));
    assert_victim_untouched(v, len);
    free(v);
}

static void symlink_as_temporary(void **state)
{
    static const char *const temps[] = {"kernel.kservice-new",
                                        "kernel.rollback.kservice-new"};
    size_t i, len;

    (void)state;
    for (i = 0; i < 2; i++) {
        fixture *f = new_fixture(NULL);
        char *v = victim(f, &len);
        char *snap, *snap2;
        ksvc_context *ctx = NULL;
        assert_int_equal(install(f, f->img_a, A), KSVC_OK);
        plant_symlink(f, v, temps[i]);
        /* Opening (recovery) leaves a planted link alone... */
        snap = test_machine_snapshot(f->m);
        assert_int_equal(ksvc_open(&ctx, f->p, NULL), KSVC_OK);
        ksvc_close(ctx);
        snap2 = test_machine_snapshot(f->m);
        assert_string_equal(snap, snap2);
        free(snap);
        free(snap2);
        /* ...and an install refuses to work around it. */
        ASSERT_REFUSED(f, KSVC_E_UNSAFE_PATH, install(f, f->img_b, B));
        assert_victim_untouched(v, len);
        free(v);
        teardown((void **)&f);
    }
}

static void hard_link_as_kernel(void **state)
{
    fixture *f = *state;
    size_t len;
    char *v;

    assert_int_equal(install(f, f->img_a, A), KSVC_OK);
    assert_int_equal(install(f, f->img_b, B), KSVC_OK);
    v = path_in(test_machine_scratch(f->m), "second-name");
    {
        char *k = tools_path(f, "kernel");
        assert_int_equal(link(k, v), 0); /* a second name, outside */
        free(k);
    }
    ASSERT_REFUSED(f, KSVC_E_UNSAFE_PATH, install(f, f->img_a, NULL));
    ASSERT_REFUSED(f, KSVC_E_UNSAFE_PATH, ksvc_rollback(f->ctx));
    ASSERT_REFUSED(f, KSVC_E_UNSAFE_PATH, ksvc_repair(f->ctx));
    (void)len;
    free(v);
}

static void hard_link_as_rollback(void **state)
{
    fixture *f = *state;
    char *v;

    assert_int_equal(install(f, f->img_a, A), KSVC_OK);
    assert_int_equal(install(f, f->img_b, B), KSVC_OK);
    v = path_in(test_machine_scratch(f->m), "second-name");
    {
        char *r = tools_path(f, "kernel.rollback");
        assert_int_equal(link(r, v), 0);
        free(r);
    }
    ASSERT_REFUSED(f, KSVC_E_UNSAFE_PATH, ksvc_rollback(f->ctx));
    ASSERT_REFUSED(f, KSVC_E_UNSAFE_PATH, install(f, f->img_a, NULL));
    free(v);
}

static void hard_link_as_temporary(void **state)
{
    static const char *const temps[] = {"kernel.kservice-new",
                                        "kernel.rollback.kservice-new"};
    size_t i, len;

    (void)state;
    for (i = 0; i < 2; i++) {
        fixture *f = new_fixture(NULL);
        char *v = victim(f, &len);
        char *snap, *snap2;
        ksvc_context *ctx = NULL;
        assert_int_equal(install(f, f->img_a, A), KSVC_OK);
        plant_hard_link(f, v, temps[i]);
        snap = test_machine_snapshot(f->m);
        assert_int_equal(ksvc_open(&ctx, f->p, NULL), KSVC_OK);
        ksvc_close(ctx);
        snap2 = test_machine_snapshot(f->m);
        assert_string_equal(snap, snap2);
        free(snap);
        free(snap2);
        ASSERT_REFUSED(f, KSVC_E_UNSAFE_PATH, install(f, f->img_b, B));
        assert_victim_untouched(v, len);
        free(v);
        teardown((void **)&f);
    }
}

/* The tools folder replaced by a link: a new table refuses it; a table
 * opened before keeps working on the folder it opened, never the link's
 * target. */
static void tools_folder_is_a_link(void **state)
{
    fixture *f = *state;
    ksvc_posix_options o = KSVC_POSIX_OPTIONS_INIT;
    char *lxss = path_in(test_machine_root(f->m), "System32/lxss");
    char *tools = path_in(lxss, "tools");
    char *moved = path_in(lxss, "tools.real");
    char *elsewhere = path_in(test_machine_scratch(f->m), "elsewhere");
    char *inside = path_in(elsewhere, "kernel");
    ksvc_platform *p = NULL;
    struct stat st;

    assert_int_equal(install(f, f->img_a, A), KSVC_OK);
    assert_int_equal(mkdir(elsewhere, 0755), 0);
    assert_int_equal(rename(tools, moved), 0);
    assert_int_equal(symlink(elsewhere, tools), 0);
    o.root = test_machine_root(f->m);
    assert_int_equal(ksvc_posix_open(&p, &o), KSVC_E_UNSAFE_PATH);
    assert_null(p);
    /* The open context: its operations never land in the link's target. */
    (void)install(f, f->img_b, B);
    assert_int_equal(lstat(inside, &st), -1);
    assert_int_equal(errno, ENOENT);
    free(inside);
    free(elsewhere);
    free(moved);
    free(tools);
    free(lxss);
}

/* ---- payloads ---- */

static void payload_empty_folder_fifo_not_a_kernel(void **state)
{
    fixture *f = *state;
    const char *dir = test_machine_scratch(f->m);
    char *empty = path_in(dir, "empty");
    char *folder = path_in(dir, "folder");
    char *fifo = path_in(dir, "fifo");
    char *text = path_in(dir, "text");
    static const char words[] = "this is not a kernel, just some text\n";
    unsigned char *noise = malloc(65536);
    char *random = path_in(dir, "random");
    size_t i;

    assert_non_null(noise);
    for (i = 0; i < 65536; i++)
        noise[i] = (unsigned char)((i * 2654435761u) >> 13);
    write_file(empty, "", 0);
    write_file(text, words, sizeof words - 1);
    write_file(random, noise, 65536);
    assert_int_equal(mkdir(folder, 0755), 0);
    assert_int_equal(mkfifo(fifo, 0644), 0);
    assert_int_equal(install(f, f->img_a, A), KSVC_OK);
    ASSERT_REFUSED(f, KSVC_E_BAD_PAYLOAD, install(f, empty, B));
    ASSERT_REFUSED(f, KSVC_E_BAD_PAYLOAD, install(f, folder, B));
    ASSERT_REFUSED(f, KSVC_E_BAD_PAYLOAD, install(f, fifo, B));
    ASSERT_REFUSED(f, KSVC_E_BAD_PAYLOAD, install(f, text, B));
    ASSERT_REFUSED(f, KSVC_E_BAD_PAYLOAD, install(f, random, B));
    ASSERT_REFUSED(f, KSVC_E_BAD_PAYLOAD, install(f, random, NULL));
    free(noise);
    free(random);
    free(text);
    free(fifo);
    free(folder);
    free(empty);
}

/* A journal whose files are gone: a command wrote it (the write reported a
 * failure yet took effect), then removed its temporaries.  The first
 * rename's source is missing, but the slot does not hold the journaled
 * file: the next open undoes the journal from what is on disk instead of
 * recording a kernel that never arrived (issue 14, the fsync EIO of the
 * journal). */
static void journal_without_its_files_is_undone(void **state)
{
    fixture *f = *state;
    fault_platform *fp = fault_wrap(f->p);
    ksvc_context *ctx = NULL;
    char *before, *after, img_c[4200];
    unsigned k, calls;

    snprintf(img_c, sizeof img_c, "%s/c.img", test_machine_scratch(f->m));
    assert_int_equal(kimage_write(img_c, KSVC_ARCH_X64, "5.15.200.1", 3,
                                  8000),
                     0);

    assert_int_equal(install(f, f->img_a, A), KSVC_OK);
    assert_int_equal(install(f, f->img_b, B), KSVC_OK);
    before = test_machine_snapshot(f->m);
    assert_int_equal(ksvc_open(&ctx, fault_table(fp), NULL), KSVC_OK);
    fault_reset(fp);
    assert_int_equal(ksvc_install_check(ctx, img_c, "5.15.200.1", NULL), KSVC_OK);
    fault_reset(fp);
    assert_int_equal(ksvc_install(ctx, img_c, "5.15.200.1", NULL), KSVC_OK);
    calls = fault_calls(fp);
    for (k = 1; k <= calls; k++)
        if (fault_op_of_call(fp, k) == FOP_RENAME)
            break;
    assert_true(k <= calls);
    ksvc_close(ctx);
    fault_free(fp);
    /* Back to A, B; then the install of C dies at its first rename. */
    teardown(state);
    assert_int_equal(setup(state), 0);
    f = *state;
    fp = fault_wrap(f->p);
    snprintf(img_c, sizeof img_c, "%s/c.img", test_machine_scratch(f->m));
    assert_int_equal(kimage_write(img_c, KSVC_ARCH_X64, "5.15.200.1", 3,
                                  8000),
                     0);
    assert_int_equal(install(f, f->img_a, A), KSVC_OK);
    assert_int_equal(install(f, f->img_b, B), KSVC_OK);
    free(before);
    before = test_machine_snapshot(f->m);
    assert_int_equal(ksvc_open(&ctx, fault_table(fp), NULL), KSVC_OK);
    fault_reset(fp);
    fault_plan(fp, FAULT_CRASH, k, 0, 1);
    assert_int_not_equal(ksvc_install(ctx, img_c, "5.15.200.1", NULL), KSVC_OK);
    ksvc_close(ctx);
    fault_free(fp);
    f->p->unlock(f->p); /* the process died: its lock went with it */
    /* What the failed command did next: its temporaries removed. */
    test_machine_remove_file_by_hand(f->m, "kernel.kservice-new");
    test_machine_remove_file_by_hand(f->m, "kernel.rollback.kservice-new");
    {
        /* The next process: its own platform table (the crashed one
         * still holds its lock). */
        ksvc_platform *next = test_machine_platform_open(f->m);
        ksvc_open_options o = KSVC_OPEN_OPTIONS_INIT;
        char detail[512] = "";
        int rc;
        o.error_detail = detail;
        o.error_detail_size = sizeof detail;
        rc = ksvc_open(&ctx, next, &o);
        if (rc != KSVC_OK)
            fail_msg("open: %s: %s", ksvc_error_name(rc), detail);
        ksvc_close(ctx);
        test_machine_platform_close(next);
    }
    after = test_machine_snapshot(f->m);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

/* An absurd "kernel" (a sparse file of 513 MiB with a kernel's header) is
 * refused before a byte of it is written: real kernels are tens of MiB,
 * and the library stops at 512 MiB. */
static void payload_beyond_the_size_limit(void **state)
{
    fixture *f = *state;
    char big[4200];

    snprintf(big, sizeof big, "%s/big.img", test_machine_scratch(f->m));
    assert_int_equal(kimage_write(big, KSVC_ARCH_X64, "5.15.200.1", 7, 8000),
                     0);
    assert_int_equal(truncate(big, (off_t)513 << 20), 0);
    ASSERT_REFUSED(f, KSVC_E_BAD_PAYLOAD, install(f, big, NULL));
    assert_non_null(strstr(ksvc_error_detail(f->ctx), "512 MiB"));
    unlink(big);
}

static void payload_unreadable(void **state)
{
    fixture *f = *state;
    fault_platform *fp = fault_wrap(f->p);
    ksvc_context *ctx = NULL;
    char *snap, *snap2;
    int rc;

    /* A file the caller may not read: chmod works for a standard user;
     * root reads anything, so the backend's refusal is injected there. */
    if (geteuid() != 0) {
        assert_int_equal(chmod(f->img_b, 0), 0);
        ASSERT_REFUSED(f, KSVC_E_ACCESS, install(f, f->img_b, B));
        assert_int_equal(chmod(f->img_b, 0644), 0);
    }
    assert_int_equal(ksvc_open(&ctx, fault_table(fp), NULL), KSVC_OK);
    assert_int_equal(ksvc_install(ctx, f->img_a, A, NULL), KSVC_OK);
    /* The payload's open fails with access denied. */
    fault_reset(fp);
    fault_plan_op(fp, FAULT_ERROR, FOP_PAYLOAD_OPEN, KSVC_E_ACCESS);
    snap = test_machine_snapshot(f->m);
    rc = ksvc_install(ctx, f->img_b, B, NULL);
    assert_true(fault_fired(fp));
    assert_int_equal(rc, KSVC_E_ACCESS);
    assert_non_null(strstr(ksvc_error_detail(ctx), "payload"));
    snap2 = test_machine_snapshot(f->m);
    assert_string_equal(snap, snap2);
    free(snap);
    free(snap2);
    ksvc_close(ctx);
    fault_free(fp);
}

/* ---- versions and paths ---- */

static void malformed_versions(void **state)
{
    static const char *const bad[] = {
        "", "abc", "5..1", ".5.1", "5.1.", "5.15-", "5.15 .1", "-5.1",
        "5.15.153.1-micro soft", "5.15\n", "4294967296.1", "5.99999999999",
        "1.2.3.4.5.6.7.8.9", "5.15.153.1/../../x"};
    fixture *f = *state;
    char overlong[KSVC_KVER_MAX + 2];
    size_t i;

    assert_int_equal(install(f, f->img_a, A), KSVC_OK);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ASSERT_REFUSED(f, KSVC_E_VERSION_SYNTAX, install(f, f->img_b, bad[i]));
    memset(overlong, '1', sizeof overlong - 1);
    overlong[1] = '.';
    overlong[sizeof overlong - 1] = '\0';
    ASSERT_REFUSED(f, KSVC_E_TOO_LONG, install(f, f->img_b, overlong));
}

static void registry_version_malformed(void **state)
{
    static const char text[] = 
                               "\"KernelVersion\"=\"4294967296.0\"\r\n";
    fixture *f = *state;

    hive_value_tolerated(f, text, sizeof text - 1, "KernelVersion", 0);
}

static void paths_beyond_the_limit(void **state)
{
    fixture *f = *state;
    ksvc_posix_options o = KSVC_POSIX_OPTIONS_INIT;
    ksvc_platform *p = NULL;
    size_t size = PATH_MAX + 100, used;
    char *path = malloc(size + 1);

    assert_non_null(path);
    used = (size_t)snprintf(path, size, "%s/", test_machine_scratch(f->m));
    while (used + 2 < size) {
        path[used++] = 'x';
        if (used % 200 == 0)
            path[used++] = '/';
    }
    path[used] = '\0';
    ASSERT_REFUSED(f, KSVC_E_TOO_LONG, install(f, path, A));
    o.root = path;
    assert_int_equal(ksvc_posix_open(&p, &o), KSVC_E_TOO_LONG);
    assert_null(p);
    free(path);
}

/* ---- kernel images ---- */

static void install_reads_the_image_version(void **state)
{
    fixture *f = *state;
    ksvc_status s = KSVC_STATUS_INIT;
    char *img = path_in(test_machine_scratch(f->m), "wsl.img");

    assert_int_equal(kimage_write(img, KSVC_ARCH_X64,
                                  "5.15.153.1-microsoft-standard-WSL2", 9,
                                  9000),
                     0);
    assert_int_equal(install(f, img, NULL), KSVC_OK);
    assert_int_equal(ksvc_status_get(f->ctx, &s), KSVC_OK);
    assert_string_equal(s.kernel.kernel_version,
                        "5.15.153.1-microsoft-standard-WSL2");
    assert_string_equal(s.kernel_image_version,
                        "5.15.153.1-microsoft-standard-WSL2");
    /* The same version without its suffix does not contradict it. */
    assert_int_equal(ksvc_install(f->ctx, img, "5.15.153.1",
                                  &(ksvc_install_options){
                                      KSVC_INSTALL_OPTIONS_VERSION,
                                      KSVC_INSTALL_FORCE, NULL,
                                      KSVC_INSTALL_TRIES_DEFAULT}),
                     KSVC_OK);
    /* A version-1 caller gets the fields it knows, nothing past them. */
    {
        unsigned char raw[sizeof(ksvc_status) + 8];
        ksvc_status *old = (ksvc_status *)raw;
        size_t v1 = offsetof(ksvc_status, kernel_image_version);
        memset(raw, 0xA5, sizeof raw);
        old->version = 1;
        old->flags = 0;
        assert_int_equal(ksvc_status_get(f->ctx, old), KSVC_OK);
        assert_int_equal(old->version, 1);
        assert_int_equal(raw[v1], 0xA5);
    }
    free(img);
}

static void install_reads_the_arm64_banner(void **state)
{
    ksvc_mock_machine facts = KSVC_MOCK_MACHINE_INIT;
    fixture *f;
    ksvc_status s = KSVC_STATUS_INIT;
    char *img;

    (void)state;
    facts.arch = KSVC_ARCH_ARM64;
    f = new_fixture(&facts);
    img = path_in(test_machine_scratch(f->m), "arm.img");
    assert_int_equal(kimage_write(img, KSVC_ARCH_ARM64, "6.6.36.3", 4,
                                  3 * 1024 * 1024 + 5),
                     0);
    /* An x86 image is another architecture here. */
    ASSERT_REFUSED(f, KSVC_E_WRONG_ARCH, install(f, f->img_a, A));
    assert_int_equal(install(f, img, NULL), KSVC_OK);
    assert_int_equal(ksvc_status_get(f->ctx, &s), KSVC_OK);
    assert_string_equal(s.kernel.kernel_version, "6.6.36.3");
    assert_string_equal(s.kernel_image_version, "6.6.36.3");
    free(img);
    teardown((void **)&f);
}

static void image_of_another_architecture(void **state)
{
    fixture *f = *state;
    char *arm = path_in(test_machine_scratch(f->m), "arm.img");
    char *x86 = path_in(test_machine_scratch(f->m), "i386.img");

    assert_int_equal(kimage_write(arm, KSVC_ARCH_ARM64, B, 5, 8000), 0);
    assert_int_equal(kimage_write(x86, KSVC_ARCH_UNKNOWN, B, 6, 8000), 0);
    ASSERT_REFUSED(f, KSVC_E_WRONG_ARCH, install(f, arm, B));
    ASSERT_REFUSED(f, KSVC_E_WRONG_ARCH, install(f, x86, NULL));
    free(arm);
    free(x86);
}

static void version_contradicting_the_image(void **state)
{
    fixture *f = *state;
    char *unnamed = path_in(test_machine_scratch(f->m), "unnamed.img");

    ASSERT_REFUSED(f, KSVC_E_VERSION_MISMATCH, install(f, f->img_a, B));
    assert_int_equal(kimage_write(unnamed, KSVC_ARCH_X64, NULL, 3, 5000), 0);
    /* An image that names no version needs one given. */
    ASSERT_REFUSED(f, KSVC_E_VERSION_SYNTAX, install(f, unnamed, NULL));
    assert_int_equal(install(f, unnamed, B), KSVC_OK);
    free(unnamed);
}

/* Every cut of a bzImage before the end of its setup code, and every cut
 * of an arm64 header, is refused; a lying header is refused. */
static void truncated_and_lying_headers(void **state)
{
    fixture *f = *state;
    unsigned char *img = kimage_build(KSVC_ARCH_X64, B, 7, 4096);
    unsigned char *arm = kimage_build(KSVC_ARCH_ARM64, B, 8, 4096);
    ksvc__image_info info;
    char *path = path_in(test_machine_scratch(f->m), "lying.img");
    size_t len, refused = 0;

    for (len = 0; len < 2048; len++) {
        assert_int_equal(ksvc__image_identify(img, len, &info),
                         KSVC_E_BAD_PAYLOAD);
        assert_true(info.why[0] != '\0');
        refused++;
    }
    for (len = 0; len < 0x3C; len++)
        assert_int_equal(ksvc__image_identify(arm, len, &info),
                         KSVC_E_BAD_PAYLOAD);
    assert_int_equal(ksvc__image_identify(img, 4096, &info), KSVC_OK);
    assert_string_equal(info.version, B);
    assert_int_equal(ksvc__image_identify(arm, 4096, &info), KSVC_OK);
    assert_string_equal(info.version, B);
    /* a few cuts through install, each changing nothing */
    for (len = 0x1F0; len < 2048; len += 301) {
        write_file(path, img, len);
        ASSERT_REFUSED(f, KSVC_E_BAD_PAYLOAD, install(f, path, B));
    }

#define LIE(offset, byte)                                                    \
    do {                                                                     \
        unsigned char *copy = malloc(4096);                                  \
        assert_non_null(copy);                                               \
        memcpy(copy, img, 4096);                                             \
        copy[(offset)] = (unsigned char)(byte);                              \
        assert_int_equal(ksvc__image_identify(copy, 4096, &info),            \
                         KSVC_E_BAD_PAYLOAD);                                \
        write_file(path, copy, 4096);                                        \
        ASSERT_REFUSED(f, KSVC_E_BAD_PAYLOAD, install(f, path, B));         \
        free(copy);                                                          \
        refused++;                                                           \
    } while (0)
    LIE(0x1FE, 0x00);                /* boot flag */
    LIE(0x207, 0x01);                /* protocol 1.15 */
    LIE(0x20F, 0x10);                /* kernel_version beyond the setup */
    LIE(0x20E, 0x10);                /* ... into the header itself */
    LIE(0x1F1, 0x01);                /* setup shorter than the pointer */
    LIE(KIMAGE_X86_STRING_AT, 'x');  /* the string is no version */
    {
        /* both magics: an x86 header that also claims to be arm64 */
        unsigned char *copy = malloc(4096);
        assert_non_null(copy);
        memcpy(copy, img, 4096);
        memcpy(copy + KIMAGE_ARM64_MAGIC, "ARM\x64", 4);
        assert_int_equal(ksvc__image_identify(copy, 4096, &info),
                         KSVC_E_BAD_PAYLOAD);
        free(copy);
        refused++;
    }
    {
        /* a version string with no end before the file does */
        unsigned char *copy = malloc(4096);
        assert_non_null(copy);
        memcpy(copy, img, 4096);
        memset(copy + KIMAGE_X86_STRING_AT, '1', 4096 - KIMAGE_X86_STRING_AT);
        assert_int_equal(ksvc__image_identify(copy, 4096, &info),
                         KSVC_E_BAD_PAYLOAD);
        free(copy);
    }
    print_message("image reader: %lu truncated or lying headers refused\n",
                  (unsigned long)refused);
    free(path);
    free(arm);
    free(img);
}

/* The banner is found across the chunks the reader reads. */
static void arm64_banner_across_chunks(void **state)
{
    size_t size = 2 * KSVC__CHUNK + 100, at;
    unsigned char *img = kimage_build(KSVC_ARCH_ARM64, NULL, 5, size);
    static const char text[] = "Linux version 6.1.21.2 (x@y) #1";
    ksvc__image_info info;
    fixture *f;
    ksvc_mock_machine facts = KSVC_MOCK_MACHINE_INIT;
    char *path;

    (void)state;
    facts.arch = KSVC_ARCH_ARM64;
    f = new_fixture(&facts);
    path = path_in(test_machine_scratch(f->m), "arm.img");
    /* straddling the first chunk boundary */
    at = KSVC__CHUNK - 8;
    memcpy(img + at, text, sizeof text);
    assert_int_equal(ksvc__image_identify(img, size, &info), KSVC_OK);
    assert_string_equal(info.version, "6.1.21.2");
    write_file(path, img, size);
    assert_int_equal(install(f, path, NULL), KSVC_OK);
    free(path);
    free(img);
    teardown((void **)&f);
}

/* A slot changed behind the library's back is never reported intact. */
static void changed_slot_never_intact(void **state)
{
    fixture *f = *state;
    ksvc_status s = KSVC_STATUS_INIT;

    assert_int_equal(install(f, f->img_a, A), KSVC_OK);
    assert_int_equal(install(f, f->img_b, B), KSVC_OK);
    test_machine_corrupt_file_by_hand(f->m, "kernel.rollback");
    s.flags = 0; /* not even without KSVC_STATUS_VERIFY */
    assert_int_equal(ksvc_status_get(f->ctx, &s), KSVC_OK);
    assert_false(s.rollback.intact);
    assert_true(s.kernel.intact);
    assert_true(s.problem_count >= 1);
    ASSERT_REFUSED(f, KSVC_E_DAMAGED, ksvc_rollback(f->ctx));
}

/* A backend may read fewer bytes than asked: the image header, the arm64
 * banner and the copy must not depend on full reads. */
static void short_reads_change_nothing(void **state)
{
    ksvc_mock_machine facts = KSVC_MOCK_MACHINE_INIT;
    fixture *f = *state, *g;
    fault_platform *fp = fault_wrap(f->p), *gp;
    ksvc_context *ctx = NULL;
    ksvc_status s = KSVC_STATUS_INIT;
    char *arm;

    fault_set_short_reads(fp, 97);
    assert_int_equal(ksvc_open(&ctx, fault_table(fp), NULL), KSVC_OK);
    assert_int_equal(ksvc_install(ctx, f->img_a, NULL, NULL), KSVC_OK);
    s.flags = KSVC_STATUS_VERIFY;
    assert_int_equal(ksvc_status_get(ctx, &s), KSVC_OK);
    assert_string_equal(s.kernel.kernel_version, A);
    assert_string_equal(s.kernel_image_version, A);
    assert_true(s.kernel.intact);
    ksvc_close(ctx);
    fault_free(fp);

    facts.arch = KSVC_ARCH_ARM64;
    g = new_fixture(&facts);
    arm = path_in(test_machine_scratch(g->m), "arm.img");
    assert_int_equal(kimage_write(arm, KSVC_ARCH_ARM64, B, 3, 100000), 0);
    gp = fault_wrap(g->p);
    fault_set_short_reads(gp, 1000);
    assert_int_equal(ksvc_open(&ctx, fault_table(gp), NULL), KSVC_OK);
    assert_int_equal(ksvc_install(ctx, arm, NULL, NULL), KSVC_OK);
    assert_int_equal(ksvc_status_get(ctx, &s), KSVC_OK);
    assert_string_equal(s.kernel_image_version, B);
    ksvc_close(ctx);
    fault_free(gp);
    free(arm);
    teardown((void **)&g);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(hive_truncated),
        T(hive_binary_garbage),
        T(hive_duplicate_keys),
        T(hive_duplicate_values),
        T(hive_wrong_value_types),
        T(hive_strings_of_megabytes),
        T(huge_value_beside_the_servicing_values),
        T(hive_invalid_utf8),
        T(hive_multi_sz_without_terminators),
        T(symlink_as_kernel),
        T(symlink_as_rollback),
        cmocka_unit_test(symlink_as_temporary),
        T(hard_link_as_kernel),
        T(hard_link_as_rollback),
        cmocka_unit_test(hard_link_as_temporary),
        T(tools_folder_is_a_link),
        T(payload_empty_folder_fifo_not_a_kernel),
        T(journal_without_its_files_is_undone),
        T(payload_beyond_the_size_limit),
        T(payload_unreadable),
        T(malformed_versions),
        T(registry_version_malformed),
        T(paths_beyond_the_limit),
        T(install_reads_the_image_version),
        cmocka_unit_test(install_reads_the_arm64_banner),
        T(image_of_another_architecture),
        T(version_contradicting_the_image),
        T(truncated_and_lying_headers),
        cmocka_unit_test(arm64_banner_across_chunks),
        T(changed_slot_never_intact),
        T(short_reads_change_nothing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
