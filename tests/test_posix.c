/*
 * What only the POSIX mock backend can be asked: links and foreign objects
 * planted in the tools folder, the tools folder itself a link, hand edits
 * of registry.reg, the lock across processes, init_machine's refusals, the
 * atomic hive write, and the text of last_error.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "machine.h"

const char *test_machine_root(test_machine *m);

#define LXSS_KEY "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Lxss"
#define ENV_KEY "SYSTEM\\CurrentControlSet\\Control\\Session Manager\\Environment"
#define TEMP_NAME "kernel.kservice-new"

/* ---- helpers ---- */

static char *path_of(const char *a, const char *b)
{
    char *out = malloc(strlen(a) + strlen(b) + 2);

    assert_non_null(out);
    sprintf(out, "%s/%s", a, b);
    return out;
}

static char *tools_of(test_machine *m, const char *name)
{
    char *tools = path_of(test_machine_root(m), "System32/lxss/tools");
    char *out = name ? path_of(tools, name) : tools;

    if (name)
        free(tools);
    return out;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* The content of a file, or NULL when it does not exist. */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *data;
    long size;

    if (!f)
        return NULL;
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    size = ftell(f);
    rewind(f);
    data = malloc((size_t)size + 1);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, (size_t)size, f), (size_t)size);
    data[size] = '\0';
    fclose(f);
    return data;
}

static void put_file(ksvc_platform *p, const char *name, const char *content)
{
    ksvc_file *file = NULL;

    assert_int_equal(p->file_open(p, name, KSVC_OPEN_CREATE_NEW, &file),
                     KSVC_OK);
    assert_int_equal(p->file_write(file, 0, content, strlen(content)), KSVC_OK);
    assert_int_equal(p->file_close(file), KSVC_OK);
}

static void assert_what_contains(ksvc_platform *p, const char *text)
{
    char what[2048];
    long os_error;

    p->last_error(p, &os_error, what, sizeof(what));
    if (!strstr(what, text))
        fail_msg("last_error \"%s\" lacks \"%s\"", what, text);
}

static int is_link(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

/* ---- links and foreign objects in the tools folder ---- */

static void symlink_as_kernel_is_refused(void **state)
{
    test_machine *m = test_machine_new(NULL);
    ksvc_platform *p = test_machine_platform(m);
    char *target = path_of(test_machine_scratch(m), "outside");
    char *link = tools_of(m, "kernel");
    ksvc_file *file = NULL;
    ksvc_file_info info;
    char *before, *after, *content;

    (void)state;
    write_text(target, "outside the tools folder");
    assert_int_equal(symlink(target, link), 0);
    put_file(p, TEMP_NAME, "new kernel");
    before = test_machine_snapshot(m);

    assert_int_equal(p->file_open(p, "kernel", KSVC_OPEN_READ, &file),
                     KSVC_E_UNSAFE_PATH);
    assert_null(file);
    assert_what_contains(p, "symbolic link");
    assert_int_equal(p->file_open(p, "kernel", KSVC_OPEN_CREATE_NEW, &file),
                     KSVC_E_UNSAFE_PATH);
    assert_int_equal(p->stat(p, "kernel", &info), KSVC_OK);
    assert_int_equal(info.kind, KSVC_FILE_OTHER);
    assert_int_equal(p->hard_link(p, "kernel", "kernel.rollback"),
                     KSVC_E_UNSAFE_PATH);
    assert_int_equal(p->rename(p, "kernel", "kernel.rollback"),
                     KSVC_E_UNSAFE_PATH);
    assert_int_equal(p->rename(p, TEMP_NAME, "kernel"), KSVC_E_UNSAFE_PATH);

    after = test_machine_snapshot(m);
    assert_string_equal(before, after);
    assert_true(is_link(link));
    content = read_text(target);
    assert_string_equal(content, "outside the tools folder");
    free(content);
    free(before);
    free(after);
    free(target);
    free(link);
    test_machine_free(m);
}

static void symlink_as_kernel_stops_the_library(void **state)
{
    test_machine *m = test_machine_new(NULL);
    ksvc_platform *p = test_machine_platform(m);
    const char *payload = test_machine_payload(m, "A", 1, 4096);
    char *target = path_of(test_machine_scratch(m), "outside");
    char *link = tools_of(m, "kernel");
    char *before, *after, *content, boot[4096];
    ksvc_context *ctx = NULL;

    (void)state;
    write_text(target, "outside");
    assert_int_equal(symlink(target, link), 0);
    before = test_machine_snapshot(m);
    if (ksvc_open(&ctx, p, NULL) == KSVC_OK) {
        assert_int_not_equal(ksvc_install(ctx, payload, "5.15.1", NULL),
                             KSVC_OK);
        assert_int_not_equal(ksvc_boot_path(ctx, boot, sizeof(boot)), KSVC_OK);
        ksvc_close(ctx);
    }
    after = test_machine_snapshot(m);
    assert_string_equal(before, after);
    assert_true(is_link(link));
    content = read_text(target);
    assert_string_equal(content, "outside");
    free(content);
    free(before);
    free(after);
    free(target);
    free(link);
    test_machine_free(m);
}

static void symlink_as_temp_name_is_refused(void **state)
{
    test_machine *m = test_machine_new(NULL);
    ksvc_platform *p = test_machine_platform(m);
    char *victim = path_of(test_machine_scratch(m), "would-be-created");
    char *existing = path_of(test_machine_scratch(m), "existing");
    char *link = tools_of(m, TEMP_NAME);
    char *link2 = tools_of(m, "kernel.rollback." "kservice-new");
    ksvc_file *file = NULL;
    char *before, *after, *content;

    (void)state;
    write_text(existing, "keep me");
    assert_int_equal(symlink(victim, link), 0);    /* dangling */
    assert_int_equal(symlink(existing, link2), 0); /* to a file */
    before = test_machine_snapshot(m);
    assert_int_equal(p->file_open(p, TEMP_NAME, KSVC_OPEN_CREATE_NEW, &file),
                     KSVC_E_UNSAFE_PATH);
    assert_null(file);
    assert_int_equal(p->file_open(p, "kernel.rollback.kservice-new",
                                  KSVC_OPEN_CREATE_NEW, &file),
                     KSVC_E_UNSAFE_PATH);
    assert_int_equal(p->file_open(p, "kernel.rollback.kservice-new",
                                  KSVC_OPEN_READ, &file), KSVC_E_UNSAFE_PATH);
    after = test_machine_snapshot(m);
    assert_string_equal(before, after);
    assert_null(read_text(victim));
    content = read_text(existing);
    assert_string_equal(content, "keep me");
    free(content);

    /* Through the library: an install never writes through the links. */
    {
        const char *payload = test_machine_payload(m, "A", 1, 4096);
        ksvc_context *ctx = NULL;
        if (ksvc_open(&ctx, p, NULL) == KSVC_OK) {
            (void)ksvc_install(ctx, payload, "5.15.1", NULL);
            ksvc_close(ctx);
        }
        assert_null(read_text(victim));
        content = read_text(existing);
        assert_string_equal(content, "keep me");
        free(content);
    }

    /* remove() takes away the link itself, never its target */
    assert_int_equal(p->remove(p, "kernel.rollback.kservice-new"), KSVC_OK);
    assert_false(is_link(link2));
    content = read_text(existing);
    assert_string_equal(content, "keep me");
    free(content);
    free(before);
    free(after);
    free(victim);
    free(existing);
    free(link);
    free(link2);
    test_machine_free(m);
}

static void folder_and_fifo_are_refused(void **state)
{
    test_machine *m = test_machine_new(NULL);
    ksvc_platform *p = test_machine_platform(m);
    char *folder = tools_of(m, "kernel");
    char *fifo = tools_of(m, "kernel.rollback");
    ksvc_file *file = NULL;
    ksvc_file_info info;
    struct stat st;
    char *before, *after;

    (void)state;
    assert_int_equal(mkdir(folder, 0755), 0);
    assert_int_equal(mkfifo(fifo, 0644), 0);
    put_file(p, TEMP_NAME, "x");
    before = test_machine_snapshot(m);
    assert_int_equal(p->file_open(p, "kernel", KSVC_OPEN_READ, &file),
                     KSVC_E_UNSAFE_PATH);
    assert_what_contains(p, "a folder");
    /* a FIFO must be refused without hanging the open */
    assert_int_equal(p->file_open(p, "kernel.rollback", KSVC_OPEN_READ, &file),
                     KSVC_E_UNSAFE_PATH);
    assert_int_equal(p->stat(p, "kernel", &info), KSVC_OK);
    assert_int_equal(info.kind, KSVC_FILE_OTHER);
    assert_int_equal(p->stat(p, "kernel.rollback", &info), KSVC_OK);
    assert_int_equal(info.kind, KSVC_FILE_OTHER);
    assert_int_equal(p->remove(p, "kernel"), KSVC_E_UNSAFE_PATH);
    assert_int_equal(p->rename(p, TEMP_NAME, "kernel"), KSVC_E_UNSAFE_PATH);
    assert_int_equal(p->rename(p, TEMP_NAME, "kernel.rollback"),
                     KSVC_E_UNSAFE_PATH);
    assert_int_equal(p->hard_link(p, "kernel.rollback", "kernel.x"),
                     KSVC_E_UNSAFE_PATH);
    after = test_machine_snapshot(m);
    assert_string_equal(before, after);
    assert_int_equal(stat(folder, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    free(before);
    free(after);
    free(folder);
    free(fifo);
    test_machine_free(m);
}

/* ---- the tools folder itself ---- */

static int open_root(const char *root, ksvc_platform **p)
{
    ksvc_posix_options options = KSVC_POSIX_OPTIONS_INIT;

    options.root = root;
    *p = NULL;
    return ksvc_posix_open(p, &options);
}

/* Replace the folder @p rel below ROOT with a link to a copy of it. */
static void swap_for_link(test_machine *m, const char *rel)
{
    char *real = path_of(test_machine_root(m), rel);
    char *moved = malloc(strlen(real) + 8);

    assert_non_null(moved);
    sprintf(moved, "%s.real", real);
    assert_int_equal(rename(real, moved), 0);
    assert_int_equal(symlink(moved, real), 0);
    free(real);
    free(moved);
}

static void tools_folder_link_is_refused(void **state)
{
    static const char *const parts[] = { "System32/lxss/tools", "System32/lxss",
                                         "System32" };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        test_machine *m = test_machine_new(NULL);
        ksvc_platform *p = (ksvc_platform *)1;
        char *before = test_machine_snapshot(m), *after;

        swap_for_link(m, parts[i]);
        assert_int_equal(open_root(test_machine_root(m), &p),
                         KSVC_E_UNSAFE_PATH);
        assert_null(p);
        after = test_machine_snapshot(m);
        assert_string_equal(before, after);
        free(before);
        free(after);
        test_machine_free(m);
    }
}

static void tools_folder_as_file_or_missing(void **state)
{
    test_machine *m = test_machine_new(NULL);
    char *tools = tools_of(m, NULL);
    ksvc_platform *p;

    (void)state;
    assert_int_equal(rmdir(tools), 0);
    /* Missing is a machine where WSL 2 was just enabled: it opens, as on
     * Win32 (the conformance suite pins what the commands then do). */
    assert_int_equal(open_root(test_machine_root(m), &p), KSVC_OK);
    p->destroy(p);
    write_text(tools, "not a folder");
    assert_int_equal(open_root(test_machine_root(m), &p), KSVC_E_UNSAFE_PATH);
    assert_int_equal(open_root("/nonexistent/ksvc/root", &p), KSVC_E_NOT_FOUND);
    free(tools);
    test_machine_free(m);
}

static void open_checks_its_options(void **state)
{
    ksvc_posix_options options = KSVC_POSIX_OPTIONS_INIT;
    test_machine *m = test_machine_new(NULL);
    ksvc_platform *p = NULL;
    int elevated = -1;

    (void)state;
    assert_int_equal(ksvc_posix_open(&p, NULL), KSVC_E_INVALID_ARGUMENT);
    assert_int_equal(ksvc_posix_open(&p, &options), KSVC_E_INVALID_ARGUMENT);
    options.root = test_machine_root(m);
    options.version = 99;
    assert_int_equal(ksvc_posix_open(&p, &options), KSVC_E_STRUCT_VERSION);
    options.version = KSVC_POSIX_OPTIONS_VERSION;
    options.not_elevated = 1;
    assert_int_equal(ksvc_posix_open(&p, &options), KSVC_OK);
    assert_string_equal(p->name, "posix-mock");
    assert_int_equal(p->elevated(p, &elevated), KSVC_OK);
    assert_int_equal(elevated, 0);
    ksvc_posix_free(p);
    ksvc_posix_free(NULL);
    test_machine_free(m);
}

static void overlong_names_and_paths(void **state)
{
    test_machine *m = test_machine_new(NULL);
    ksvc_platform *p = test_machine_platform(m);
    char name[300], *path = malloc(8192), *before, *after;
    ksvc_platform *other;
    ksvc_file_info info;
    ksvc_file *file = NULL;
    size_t used;

    (void)state;
    assert_non_null(path);
    memset(name, 'k', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    before = test_machine_snapshot(m);
    assert_int_equal(p->file_open(p, name, KSVC_OPEN_CREATE_NEW, &file),
                     KSVC_E_TOO_LONG);
    assert_null(file);
    assert_int_equal(p->stat(p, name, &info), KSVC_E_TOO_LONG);
    assert_int_equal(p->rename(p, name, "kernel"), KSVC_E_TOO_LONG);
    /* a payload path beyond PATH_MAX */
    used = (size_t)sprintf(path, "%s/", test_machine_scratch(m));
    while (used < 8000)
        used += (size_t)sprintf(path + used, "dir/");
    strcpy(path + used, "payload");
    assert_int_equal(p->payload_open(p, path, &file), KSVC_E_TOO_LONG);
    /* a ROOT beyond PATH_MAX */
    assert_int_equal(open_root(path, &other), KSVC_E_TOO_LONG);
    assert_int_equal(ksvc_posix_init_machine(path, NULL), KSVC_E_TOO_LONG);
    after = test_machine_snapshot(m);
    assert_string_equal(before, after);
    free(before);
    free(after);
    free(path);
    test_machine_free(m);
}

static void folder_swapped_after_open_is_not_followed(void **state)
{
    test_machine *m = test_machine_new(NULL);
    ksvc_platform *p = test_machine_platform(m);
    char *tools = tools_of(m, NULL);
    char *old = malloc(strlen(tools) + 8);
    char *evil = path_of(test_machine_scratch(m), "evil");
    char *in_old, *in_evil, *text;

    (void)state;
    assert_non_null(old);
    sprintf(old, "%s.old", tools);
    assert_int_equal(rename(tools, old), 0);
    assert_int_equal(mkdir(evil, 0755), 0);
    assert_int_equal(symlink(evil, tools), 0);
    /* the table keeps working on the folder it opened */
    put_file(p, "kernel", "k");
    in_old = path_of(old, "kernel");
    in_evil = path_of(evil, "kernel");
    text = read_text(in_old);
    assert_non_null(text);
    assert_string_equal(text, "k");
    free(text);
    assert_null(read_text(in_evil));
    free(in_old);
    free(in_evil);
    free(tools);
    free(old);
    free(evil);
    test_machine_free(m);
}

/* ---- the hive ---- */

static void hand_edit_is_seen_at_once(void **state)
{
    test_machine *m = test_machine_new(NULL);
    ksvc_platform *p = test_machine_platform(m);
    ksvc_reg_change change = { "RollbackKernel", 0, KSVC_REG_SZ, "5.15.2", 7 };
    char buf[64];
    size_t size = sizeof(buf);
    uint32_t type;

    (void)state;
    assert_int_equal(p->reg_write(p, LXSS_KEY, &change, 1), KSVC_OK);
    assert_int_equal(p->reg_read(p, LXSS_KEY, "RollbackKernel", &type, buf,
                                 &size), KSVC_OK);
    assert_string_equal(buf, "5.15.2");
    assert_int_equal(test_machine_delete_value_by_hand(m, "RollbackKernel"), 0);
    size = sizeof(buf);
    assert_int_equal(p->reg_read(p, LXSS_KEY, "RollbackKernel", &type, buf,
                                 &size), KSVC_E_NOT_FOUND);
    assert_int_equal(test_machine_delete_value_by_hand(m, "RollbackKernel"), -1);
    test_machine_free(m);
}

static void hand_edit_of_architecture(void **state)
{
    test_machine *m = test_machine_new(NULL);
    ksvc_platform *p = test_machine_platform(m);
    char *hive = path_of(test_machine_root(m), "registry.reg");
    ksvc_arch arch;

    (void)state;
    assert_int_equal(p->arch(p, &arch), KSVC_OK);
    assert_int_equal(arch, KSVC_ARCH_X64);
    write_text(hive, "Windows Registry Editor Version 5.00\n\n"
                     "[HKEY_LOCAL_MACHINE\\" ENV_KEY "]\n"
                     "\"PROCESSOR_ARCHITECTURE\"=\"ARM64\"\n");
    assert_int_equal(p->arch(p, &arch), KSVC_OK);
    assert_int_equal(arch, KSVC_ARCH_ARM64);
    write_text(hive, "Windows Registry Editor Version 5.00\n\n"
                     "[HKEY_LOCAL_MACHINE\\" ENV_KEY "]\n"
                     "\"PROCESSOR_ARCHITECTURE\"=\"x86\"\n");
    assert_int_equal(p->arch(p, &arch), KSVC_OK);
    assert_int_equal(arch, KSVC_ARCH_UNKNOWN);
    write_text(hive, "Windows Registry Editor Version 5.00\n\n"
                     "[HKEY_LOCAL_MACHINE\\" ENV_KEY "]\n"
                     "\"PROCESSOR_ARCHITECTURE\"=dword:00000009\n");
    assert_int_equal(p->arch(p, &arch), KSVC_E_BAD_VALUE);
    assert_what_contains(p, "PROCESSOR_ARCHITECTURE");
    free(hive);
    test_machine_free(m);
}

static void hive_write_is_atomic(void **state)
{
    test_machine *m = test_machine_new(NULL);
    ksvc_platform *p = test_machine_platform(m);
    char *tmp = path_of(test_machine_root(m), "registry.reg.tmp");
    char *hive = path_of(test_machine_root(m), "registry.reg");
    char *victim = path_of(test_machine_scratch(m), "victim");
    ksvc_reg_change change = { "KernelVersion", 0, KSVC_REG_SZ, "5.15.1", 7 };
    char *text, buf[32];
    size_t size = sizeof(buf);
    struct stat st;

    (void)state;
    assert_int_equal(p->reg_write(p, LXSS_KEY, &change, 1), KSVC_OK);
    assert_int_not_equal(lstat(tmp, &st), 0);
    text = read_text(hive);
    assert_non_null(strstr(text, "\"KernelVersion\"=\"5.15.1\"\r\n"));
    assert_int_equal(strncmp(text, "Windows Registry Editor Version 5.00\r\n",
                             38), 0);
    free(text);

    /* a stale temporary file, even a link, is replaced, never followed */
    write_text(victim, "victim");
    assert_int_equal(symlink(victim, tmp), 0);
    change.data = "5.15.2";
    assert_int_equal(p->reg_write(p, LXSS_KEY, &change, 1), KSVC_OK);
    assert_int_not_equal(lstat(tmp, &st), 0);
    text = read_text(victim);
    assert_string_equal(text, "victim");
    free(text);
    write_text(tmp, "stale");
    change.data = "5.15.3";
    assert_int_equal(p->reg_write(p, LXSS_KEY, &change, 1), KSVC_OK);
    assert_int_not_equal(lstat(tmp, &st), 0);
    assert_int_equal(p->reg_read(p, LXSS_KEY, "KernelVersion", NULL, buf,
                                 &size), KSVC_OK);
    assert_string_equal(buf, "5.15.3");
    free(tmp);
    free(hive);
    free(victim);
    test_machine_free(m);
}

static void hive_missing_or_a_link(void **state)
{
    test_machine *m = test_machine_new(NULL);
    ksvc_platform *p = test_machine_platform(m);
    char *hive = path_of(test_machine_root(m), "registry.reg");
    char *elsewhere = path_of(test_machine_scratch(m), "other.reg");
    ksvc_reg_change change = { "KernelVersion", 0, KSVC_REG_SZ, "5.15.1", 7 };
    char buf[32], *text;
    size_t size = sizeof(buf);
    int exists;

    (void)state;
    assert_int_equal(rename(hive, elsewhere), 0);
    assert_int_equal(p->reg_read(p, LXSS_KEY, "KernelVersion", NULL, buf,
                                 &size), KSVC_E_HIVE);
    assert_what_contains(p, "registry.reg: open: ");
    assert_int_equal(p->reg_write(p, LXSS_KEY, &change, 1), KSVC_E_HIVE);
    assert_int_equal(access(hive, F_OK), -1);
    assert_int_equal(symlink(elsewhere, hive), 0);
    assert_int_equal(p->reg_key_exists(p, LXSS_KEY, &exists),
                     KSVC_E_UNSAFE_PATH);
    assert_int_equal(p->reg_write(p, LXSS_KEY, &change, 1), KSVC_E_UNSAFE_PATH);
    assert_true(is_link(hive));
    text = read_text(elsewhere);
    assert_null(strstr(text, "5.15.1"));
    free(text);
    free(hive);
    free(elsewhere);
    test_machine_free(m);
}

static void last_error_text(void **state)
{
    test_machine *m = test_machine_new(NULL);
    ksvc_platform *p = test_machine_platform(m);
    char *expected = tools_of(m, "kernel");
    char what[2048], full[4096];
    ksvc_file *file;
    long os_error = 0;

    (void)state;
    assert_int_equal(p->file_open(p, "kernel", KSVC_OPEN_READ, &file),
                     KSVC_E_NOT_FOUND);
    p->last_error(p, &os_error, what, sizeof(what));
    assert_int_equal(os_error, ENOENT);
    /* "<full path>: <what>: <strerror>" */
    assert_int_equal(p->full_path(p, "kernel", full, sizeof(full)), KSVC_OK);
    assert_int_equal(strncmp(what, full, strlen(full)), 0);
    assert_non_null(strstr(what, strerror(ENOENT)));
    /* the full path is absolute and is where the file really is */
    assert_true(full[0] == '/');
    put_file(p, "kernel", "x");
    assert_int_equal(access(expected, F_OK), 0);
    /* a small buffer gets a truncated, terminated text */
    assert_int_equal(p->file_open(p, "nothing", KSVC_OPEN_READ, &file),
                     KSVC_E_NOT_FOUND);
    p->last_error(p, NULL, what, 5);
    assert_int_equal(strlen(what), 4);
    free(expected);
    test_machine_free(m);
}

/* ---- the lock across processes ---- */

/* End a forked child: free its table, skip the parent's atexit handlers and
 * cmocka's state (_exit). */
static void child_exit(ksvc_platform *q, int code)
{
    test_machine_platform_close(q);
    _exit(code);
}

static void lock_excludes_other_processes(void **state)
{
    test_machine *m = test_machine_new(NULL);
    ksvc_platform *p = test_machine_platform(m);
    int to_parent[2], to_child[2], status;
    char byte;
    pid_t pid;

    (void)state;
    /* A child holds the lock: the parent is busy until it lets go. */
    assert_int_equal(pipe(to_parent), 0);
    assert_int_equal(pipe(to_child), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        ksvc_platform *q;
        alarm(20); /* never outlive a parent whose assertion failed */
        q = test_machine_platform_open(m);
        int ok = q->lock(q, 1000) == KSVC_OK;
        if (write(to_parent[1], ok ? "L" : "F", 1) != 1 ||
            read(to_child[0], &byte, 1) != 1)
            child_exit(q, 3);
        child_exit(q, q->unlock(q) == KSVC_OK ? 0 : 4);
    }
    assert_int_equal(read(to_parent[0], &byte, 1), 1);
    assert_int_equal(byte, 'L');
    assert_int_equal(p->lock(p, 100), KSVC_E_BUSY);
    assert_int_equal(write(to_child[1], "U", 1), 1);
    assert_int_equal(p->lock(p, 5000), KSVC_OK);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    /* The parent holds it: a child is busy. */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        ksvc_platform *q;
        alarm(20); /* never outlive a parent whose assertion failed */
        q = test_machine_platform_open(m);
        child_exit(q, q->lock(q, 100) == KSVC_E_BUSY ? 0 : 5);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(p->unlock(p), KSVC_OK);

    /* A holder that dies without unlocking releases the lock. */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        ksvc_platform *q;
        alarm(20); /* never outlive a parent whose assertion failed */
        q = test_machine_platform_open(m);
        if (q->lock(q, 1000) != KSVC_OK)
            child_exit(q, 6);
        if (write(to_parent[1], "L", 1) != 1)
            child_exit(q, 7);
        pause(); /* killed while holding the lock */
        child_exit(q, 8);
    }
    assert_int_equal(read(to_parent[0], &byte, 1), 1);
    assert_int_equal(p->lock(p, 50), KSVC_E_BUSY);
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(p->lock(p, 1000), KSVC_OK);
    assert_int_equal(p->lock(p, 10), KSVC_E_INVALID_ARGUMENT); /* not nested */
    assert_int_equal(p->unlock(p), KSVC_OK);
    assert_int_equal(p->unlock(p), KSVC_OK);
    close(to_parent[0]);
    close(to_parent[1]);
    close(to_child[0]);
    close(to_child[1]);
    test_machine_free(m);
}

/* In a child that gave up root: what lock_mode(@mode) answers on @m's
 * ROOT (exit status: 0 OK, 1 NOT_FOUND, 2 ACCESS, 9 anything else). */
static int lock_as_nobody(test_machine *m, unsigned mode)
{
    int status;
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        ksvc_platform *q;
        int rc;
        alarm(20); /* never outlive a parent whose assertion failed */
        q = test_machine_platform_open(m);
        if (setgid(65534) != 0 || setuid(65534) != 0)
            child_exit(q, 8);
        rc = q->lock_mode(q, mode, 100);
        child_exit(q, rc == KSVC_OK              ? 0
                      : rc == KSVC_E_NOT_FOUND ? 1
                      : rc == KSVC_E_ACCESS    ? 2
                                               : 9);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* A reader who may not write ROOT takes the lock for reading on a
 * read-only descriptor; only the exclusive lock needs write access. */
static void shared_lock_needs_no_write_access(void **state)
{
    test_machine *m;
    ksvc_platform *p;
    char *lock;

    (void)state;
    if (getuid() != 0)
        skip(); /* giving up rights needs them first */
    m = test_machine_new(NULL);
    p = test_machine_platform(m);
    lock = path_of(test_machine_root(m), "kservice.lock");
    assert_int_equal(chmod(test_machine_root(m), 0755), 0);
    unlink(lock);
    /* No lock file, and no right to make one: nobody can hold the lock,
     * and the backend says so instead of deciding to go on. */
    assert_int_equal(lock_as_nobody(m, KSVC_LOCK_SHARED), 1);
    assert_int_equal(lock_as_nobody(m, KSVC_LOCK_EXCLUSIVE), 2);
    assert_int_equal(access(lock, F_OK), -1);
    /* With the file there (mode 0644, root's), reading is allowed. */
    assert_int_equal(p->lock(p, 0), KSVC_OK);
    assert_int_equal(p->unlock(p), KSVC_OK);
    assert_int_equal(lock_as_nobody(m, KSVC_LOCK_SHARED), 0);
    assert_int_equal(lock_as_nobody(m, KSVC_LOCK_EXCLUSIVE), 2);
    /* ...but not while a writer holds it. */
    assert_int_equal(p->lock(p, 0), KSVC_OK);
    assert_int_equal(lock_as_nobody(m, KSVC_LOCK_SHARED), 9); /* busy */
    assert_int_equal(p->unlock(p), KSVC_OK);
    free(lock);
    test_machine_free(m);
}

static void concurrent_hive_writers_lose_nothing(void **state)
{
    enum { WRITERS = 4, WRITES = 25 };
    test_machine *m = test_machine_new(NULL);
    ksvc_platform *p = test_machine_platform(m);
    pid_t pids[WRITERS];
    int w, i, status;

    (void)state;
    /* Several processes, and two tables in this one, write values of one
     * key at once; each read-modify-write must keep the others' values. */
    for (w = 0; w < WRITERS; w++) {
        pids[w] = fork();
        assert_true(pids[w] >= 0);
        if (pids[w] == 0) {
            ksvc_platform *q;
            alarm(60);
            q = test_machine_platform_open(m);
            for (i = 0; i < WRITES; i++) {
                char name[32];
                uint32_t value = (uint32_t)(w * 1000 + i);
                ksvc_reg_change change = { name, 0, KSVC_REG_DWORD, &value, 4 };
                sprintf(name, "W%d_%d", w, i);
                if (q->reg_write(q, "SOFTWARE\\KServiceConcurrent", &change,
                                 1) != KSVC_OK)
                    child_exit(q, 1);
            }
            child_exit(q, 0);
        }
    }
    for (w = 0; w < WRITERS; w++) {
        assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    for (w = 0; w < WRITERS; w++) {
        for (i = 0; i < WRITES; i++) {
            char name[32];
            uint32_t value = 0, type = 0;
            size_t size = sizeof(value);
            sprintf(name, "W%d_%d", w, i);
            assert_int_equal(p->reg_read(p, "SOFTWARE\\KServiceConcurrent",
                                         name, &type, &value, &size), KSVC_OK);
            assert_int_equal(value, (uint32_t)(w * 1000 + i));
        }
    }
    test_machine_free(m);
}

/* ---- init_machine ---- */

static void init_machine_refuses_existing_hive(void **state)
{
    test_machine *m = test_machine_new(NULL);
    ksvc_mock_machine facts = KSVC_MOCK_MACHINE_INIT;
    char *hive = path_of(test_machine_root(m), "registry.reg");
    char *before = read_text(hive), *after;

    (void)state;
    facts.os_build = 17763;
    assert_int_equal(ksvc_posix_init_machine(test_machine_root(m), &facts),
                     KSVC_E_EXISTS);
    after = read_text(hive);
    assert_string_equal(before, after);
    free(before);
    free(after);
    free(hive);
    test_machine_free(m);
}

static void init_machine_folders(void **state)
{
    test_machine *m = test_machine_new(NULL);
    const char *scratch = test_machine_scratch(m);
    char *empty = path_of(scratch, "empty");
    char *full = path_of(scratch, "full");
    char *file = path_of(scratch, "file");
    char *orphan = path_of(scratch, "no/parent");
    char *inside = path_of(full, "something");
    char *full_tools = path_of(full, "System32");
    ksvc_mock_machine facts = KSVC_MOCK_MACHINE_INIT;
    struct stat st;

    (void)state;
    assert_int_equal(mkdir(empty, 0755), 0);
    assert_int_equal(ksvc_posix_init_machine(empty, NULL), KSVC_OK);
    assert_int_equal(mkdir(full, 0755), 0);
    write_text(inside, "x");
    assert_int_equal(ksvc_posix_init_machine(full, NULL), KSVC_E_EXISTS);
    assert_int_not_equal(stat(full_tools, &st), 0);
    write_text(file, "x");
    assert_int_equal(ksvc_posix_init_machine(file, NULL), KSVC_E_EXISTS);
    assert_int_equal(ksvc_posix_init_machine(orphan, NULL), KSVC_E_NOT_FOUND);
    assert_int_equal(ksvc_posix_init_machine(NULL, NULL),
                     KSVC_E_INVALID_ARGUMENT);
    facts.version = 2;
    assert_int_equal(ksvc_posix_init_machine(orphan, &facts),
                     KSVC_E_STRUCT_VERSION);
    facts.version = KSVC_MOCK_MACHINE_VERSION;
    facts.arch = (ksvc_arch)7;
    assert_int_equal(ksvc_posix_init_machine(orphan, &facts),
                     KSVC_E_INVALID_ARGUMENT);
    free(empty);
    free(full);
    free(file);
    free(orphan);
    free(inside);
    free(full_tools);
    test_machine_free(m);
}

static void init_machine_writes_the_facts(void **state)
{
    ksvc_mock_machine facts = KSVC_MOCK_MACHINE_INIT;
    test_machine *m;
    ksvc_platform *p;
    char buf[32];
    size_t size = sizeof(buf);
    uint32_t type, ubr;
    int exists;
    ksvc_arch arch;

    (void)state;
    facts.os_build = 18362;
    facts.os_ubr = 1049;
    facts.arch = KSVC_ARCH_ARM64;
    facts.wsl_enabled = 0;
    facts.reboot_pending = 1;
    m = test_machine_new(&facts);
    p = test_machine_platform(m);
    assert_int_equal(p->reg_read(p, "SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion",
                                 "CurrentBuildNumber", &type, buf, &size),
                     KSVC_OK);
    assert_int_equal(type, KSVC_REG_SZ);
    assert_string_equal(buf, "18362");
    size = sizeof(ubr);
    assert_int_equal(p->reg_read(p, "SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion",
                                 "UBR", &type, &ubr, &size), KSVC_OK);
    assert_int_equal(type, KSVC_REG_DWORD);
    assert_int_equal(ubr, 1049);
    assert_int_equal(p->arch(p, &arch), KSVC_OK);
    assert_int_equal(arch, KSVC_ARCH_ARM64);
    assert_int_equal(p->reg_key_exists(p,
                         "SYSTEM\\CurrentControlSet\\Services\\LxssManager",
                         &exists), KSVC_OK);
    assert_false(exists);
    assert_int_equal(p->reg_key_exists(p,
                         "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\"
                         "Component Based Servicing\\RebootPending",
                         &exists), KSVC_OK);
    assert_true(exists);
    assert_int_equal(p->reg_key_exists(p, LXSS_KEY, &exists), KSVC_OK);
    assert_true(exists);
    test_machine_free(m);

    m = test_machine_new(NULL);
    p = test_machine_platform(m);
    assert_int_equal(p->reg_key_exists(p,
                         "SYSTEM\\CurrentControlSet\\Services\\LxssManager",
                         &exists), KSVC_OK);
    assert_true(exists);
    assert_int_equal(p->reg_key_exists(p,
                         "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\"
                         "Component Based Servicing\\RebootPending",
                         &exists), KSVC_OK);
    assert_false(exists);
    test_machine_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(symlink_as_kernel_is_refused),
        cmocka_unit_test(symlink_as_kernel_stops_the_library),
        cmocka_unit_test(symlink_as_temp_name_is_refused),
        cmocka_unit_test(folder_and_fifo_are_refused),
        cmocka_unit_test(tools_folder_link_is_refused),
        cmocka_unit_test(tools_folder_as_file_or_missing),
        cmocka_unit_test(open_checks_its_options),
        cmocka_unit_test(overlong_names_and_paths),
        cmocka_unit_test(folder_swapped_after_open_is_not_followed),
        cmocka_unit_test(hand_edit_is_seen_at_once),
        cmocka_unit_test(hand_edit_of_architecture),
        cmocka_unit_test(hive_write_is_atomic),
        cmocka_unit_test(hive_missing_or_a_link),
        cmocka_unit_test(last_error_text),
        cmocka_unit_test(lock_excludes_other_processes),
        cmocka_unit_test(shared_lock_needs_no_write_access),
        cmocka_unit_test(concurrent_hive_writers_lose_nothing),
        cmocka_unit_test(init_machine_refuses_existing_hive),
        cmocka_unit_test(init_machine_folders),
        cmocka_unit_test(init_machine_writes_the_facts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
