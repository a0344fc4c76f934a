/*
 * Backend conformance: what every platform table must do, written only
 * against tests/machine.h and include/kservice/platform.h so the same source
 * runs on the POSIX mock backend and on the Win32 backend.
 * The lock test takes a second, independent table over the same machine
 * from test_machine_platform_open().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "machine.h"


#define LXSS_KEY "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Lxss"
#define TEST_KEY "SOFTWARE\\KServiceConformance\\Sub"

typedef struct fixture {
    test_machine *m;
    ksvc_platform *p;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->m = test_machine_new(NULL);
    f->p = test_machine_platform(f->m);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    test_machine_free(f->m);
    free(f);
    return 0;
}

/* ---- helpers ---- */

static void put_file(ksvc_platform *p, const char *name, const char *content)
{
    ksvc_file *file = NULL;

    assert_int_equal(p->file_open(p, name, KSVC_OPEN_CREATE_NEW, &file),
                     KSVC_OK);
    assert_non_null(file);
    assert_int_equal(p->file_write(file, 0, content, strlen(content)), KSVC_OK);
    assert_int_equal(p->file_sync(file), KSVC_OK);
    assert_int_equal(p->file_close(file), KSVC_OK);
}

/* The content of @p name (NUL-terminated, at most 255 bytes). */
static char *get_file(ksvc_platform *p, const char *name)
{
    static char buf[256];
    ksvc_file *file = NULL;
    size_t got = 0;

    assert_int_equal(p->file_open(p, name, KSVC_OPEN_READ, &file), KSVC_OK);
    assert_int_equal(p->file_read(file, 0, buf, sizeof(buf) - 1, &got), KSVC_OK);
    buf[got] = '\0';
    assert_int_equal(p->file_close(file), KSVC_OK);
    return buf;
}

static ksvc_file_kind kind_of(ksvc_platform *p, const char *name)
{
    ksvc_file_info info;

    assert_int_equal(p->stat(p, name, &info), KSVC_OK);
    return info.kind;
}

static void assert_last_error_names(ksvc_platform *p, const char *text)
{
    char what[1024] = "";
    long os_error = 0;

    p->last_error(p, &os_error, what, sizeof(what));
    if (what[0] == '\0' || (text && !strstr(what, text)))
        fail_msg("last_error \"%s\" should name \"%s\"", what, text ? text : "");
}

static void write_value(ksvc_platform *p, const char *key, const char *name,
                        uint32_t type, const void *data, size_t size)
{
    ksvc_reg_change change;

    change.name = name;
    change.remove = 0;
    change.type = type;
    change.data = data;
    change.size = size;
    assert_int_equal(p->reg_write(p, key, &change, 1), KSVC_OK);
}

static void assert_value(ksvc_platform *p, const char *key, const char *name,
                         uint32_t type, const void *data, size_t size)
{
    unsigned char buf[256];
    size_t got = sizeof(buf);
    uint32_t got_type = 0;

    assert_int_equal(p->reg_read(p, key, name, &got_type, buf, &got), KSVC_OK);
    assert_int_equal(got_type, type);
    assert_int_equal(got, size);
    assert_memory_equal(buf, data, size);
}

static void assert_no_value(ksvc_platform *p, const char *key, const char *name)
{
    unsigned char buf[16];
    size_t size = sizeof(buf);
    uint32_t type;

    assert_int_equal(p->reg_read(p, key, name, &type, buf, &size),
                     KSVC_E_NOT_FOUND);
}

/* ---- files ---- */

static void create_new_is_exclusive(void **state)
{
    fixture *f = *state;
    ksvc_platform *p = f->p;
    ksvc_file *file = NULL;
    char *before, *after;

    put_file(p, "kernel.new", "first");
    before = test_machine_snapshot(f->m);
    assert_int_equal(p->file_open(p, "kernel.new", KSVC_OPEN_CREATE_NEW, &file),
                     KSVC_E_EXISTS);
    assert_null(file);
    assert_last_error_names(p, "kernel.new");
    after = test_machine_snapshot(f->m);
    assert_string_equal(before, after);
    assert_string_equal(get_file(p, "kernel.new"), "first");
    free(before);
    free(after);
}

static void open_missing_is_not_found(void **state)
{
    fixture *f = *state;
    ksvc_platform *p = f->p;
    ksvc_file *file = NULL;

    assert_int_equal(p->file_open(p, "kernel", KSVC_OPEN_READ, &file),
                     KSVC_E_NOT_FOUND);
    assert_null(file);
    assert_last_error_names(p, "kernel");
    assert_int_equal(kind_of(p, "kernel"), KSVC_FILE_NONE);
}

static void read_write_size_sync(void **state)
{
    fixture *f = *state;
    ksvc_platform *p = f->p;
    ksvc_file *file = NULL;
    char buf[64];
    uint64_t size = 99;
    size_t got = 99;

    assert_int_equal(p->file_open(p, "kernel.tmp", KSVC_OPEN_CREATE_NEW |
                                  KSVC_OPEN_READ, &file), KSVC_OK);
    assert_int_equal(p->file_size(file, &size), KSVC_OK);
    assert_int_equal(size, 0);
    assert_int_equal(p->file_write(file, 0, "hello ", 6), KSVC_OK);
    assert_int_equal(p->file_write(file, 6, "world", 5), KSVC_OK);
    assert_int_equal(p->file_write(file, 0, "J", 1), KSVC_OK); /* overwrite */
    assert_int_equal(p->file_sync(file), KSVC_OK);
    assert_int_equal(p->file_size(file, &size), KSVC_OK);
    assert_int_equal(size, 11);
    assert_int_equal(p->file_read(file, 0, buf, sizeof(buf), &got), KSVC_OK);
    assert_int_equal(got, 11);
    assert_memory_equal(buf, "Jello world", 11);
    assert_int_equal(p->file_read(file, 6, buf, 3, &got), KSVC_OK);
    assert_int_equal(got, 3);
    assert_memory_equal(buf, "wor", 3);
    assert_int_equal(p->file_read(file, 11, buf, sizeof(buf), &got), KSVC_OK);
    assert_int_equal(got, 0); /* the end of the file */
    assert_int_equal(p->file_read(file, 1000, buf, sizeof(buf), &got), KSVC_OK);
    assert_int_equal(got, 0);
    assert_int_equal(p->file_close(file), KSVC_OK);

    /* a file opened for reading cannot be written, and stays as it was */
    assert_int_equal(p->file_open(p, "kernel.tmp", KSVC_OPEN_READ, &file),
                     KSVC_OK);
    assert_int_equal(p->file_size(file, &size), KSVC_OK);
    assert_int_equal(size, 11);
    assert_int_not_equal(p->file_write(file, 0, "XXXX", 4), KSVC_OK);
    assert_last_error_names(p, NULL);
    assert_int_equal(p->file_close(file), KSVC_OK);
    assert_string_equal(get_file(p, "kernel.tmp"), "Jello world");
}

static void large_file_round_trip(void **state)
{
    fixture *f = *state;
    ksvc_platform *p = f->p;
    size_t size = 3 * 1024 * 1024 + 7, i, got;
    unsigned char *data = malloc(size), *back = malloc(size);
    ksvc_file *file = NULL;
    uint64_t file_size;

    assert_non_null(data);
    assert_non_null(back);
    for (i = 0; i < size; i++)
        data[i] = (unsigned char)(i * 31 + (i >> 11));
    assert_int_equal(p->file_open(p, "big", KSVC_OPEN_CREATE_NEW, &file),
                     KSVC_OK);
    assert_int_equal(p->file_write(file, 0, data, size), KSVC_OK);
    assert_int_equal(p->file_sync(file), KSVC_OK);
    assert_int_equal(p->file_close(file), KSVC_OK);
    assert_int_equal(p->file_open(p, "big", KSVC_OPEN_READ, &file), KSVC_OK);
    assert_int_equal(p->file_size(file, &file_size), KSVC_OK);
    assert_int_equal(file_size, size);
    assert_int_equal(p->file_read(file, 0, back, size, &got), KSVC_OK);
    assert_int_equal(got, size);
    assert_memory_equal(back, data, size);
    assert_int_equal(p->file_close(file), KSVC_OK);
    free(data);
    free(back);
}

static void rename_replaces(void **state)
{
    fixture *f = *state;
    ksvc_platform *p = f->p;
    ksvc_file_info info;

    put_file(p, "kernel", "old");
    put_file(p, "kernel.tmp", "new one");
    assert_int_equal(p->rename(p, "kernel.tmp", "kernel"), KSVC_OK);
    assert_string_equal(get_file(p, "kernel"), "new one");
    assert_int_equal(kind_of(p, "kernel.tmp"), KSVC_FILE_NONE);
    assert_int_equal(p->stat(p, "kernel", &info), KSVC_OK);
    assert_int_equal(info.size, 7);
    /* to a new name */
    assert_int_equal(p->rename(p, "kernel", "kernel.rollback"), KSVC_OK);
    assert_int_equal(kind_of(p, "kernel"), KSVC_FILE_NONE);
    assert_string_equal(get_file(p, "kernel.rollback"), "new one");
}

static void rename_of_missing_changes_nothing(void **state)
{
    fixture *f = *state;
    ksvc_platform *p = f->p;
    char *before, *after;

    put_file(p, "kernel", "keep");
    before = test_machine_snapshot(f->m);
    assert_int_equal(p->rename(p, "kernel.tmp", "kernel"), KSVC_E_NOT_FOUND);
    assert_last_error_names(p, "kernel.tmp");
    after = test_machine_snapshot(f->m);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

static void remove_is_idempotent(void **state)
{
    fixture *f = *state;
    ksvc_platform *p = f->p;

    assert_int_equal(p->remove(p, "kernel.tmp"), KSVC_OK);
    put_file(p, "kernel.tmp", "x");
    assert_int_equal(kind_of(p, "kernel.tmp"), KSVC_FILE_REGULAR);
    assert_int_equal(p->remove(p, "kernel.tmp"), KSVC_OK);
    assert_int_equal(kind_of(p, "kernel.tmp"), KSVC_FILE_NONE);
    assert_int_equal(p->remove(p, "kernel.tmp"), KSVC_OK);
}

static void stat_reports_kind_size_links(void **state)
{
    fixture *f = *state;
    ksvc_platform *p = f->p;
    ksvc_file_info info;

    assert_int_equal(p->stat(p, "kernel", &info), KSVC_OK);
    assert_int_equal(info.kind, KSVC_FILE_NONE);
    put_file(p, "kernel", "12345");
    assert_int_equal(p->stat(p, "kernel", &info), KSVC_OK);
    assert_int_equal(info.kind, KSVC_FILE_REGULAR);
    assert_int_equal(info.size, 5);
    assert_int_equal(info.links, 1);
}

static void hard_link_or_unsupported(void **state)
{
    fixture *f = *state;
    ksvc_platform *p = f->p;
    ksvc_file_info a, b;
    char *before, *after;
    int rc;

    put_file(p, "kernel", "shared bytes");
    rc = p->hard_link(p, "kernel", "kernel.rollback");
    if (rc == KSVC_E_UNSUPPORTED) {
        assert_int_equal(kind_of(p, "kernel.rollback"), KSVC_FILE_NONE);
        return;
    }
    assert_int_equal(rc, KSVC_OK);
    assert_int_equal(p->stat(p, "kernel", &a), KSVC_OK);
    assert_int_equal(p->stat(p, "kernel.rollback", &b), KSVC_OK);
    assert_int_equal(a.links, 2);
    assert_int_equal(b.links, 2);
    assert_string_equal(get_file(p, "kernel.rollback"), "shared bytes");
    /* replacing one name leaves the other with the old bytes */
    put_file(p, "kernel.tmp", "fresh");
    assert_int_equal(p->rename(p, "kernel.tmp", "kernel"), KSVC_OK);
    assert_string_equal(get_file(p, "kernel.rollback"), "shared bytes");
    assert_int_equal(p->stat(p, "kernel.rollback", &b), KSVC_OK);
    assert_int_equal(b.links, 1);
    /* refusals change nothing */
    before = test_machine_snapshot(f->m);
    assert_int_equal(p->hard_link(p, "kernel", "kernel.rollback"),
                     KSVC_E_EXISTS);
    assert_int_equal(p->hard_link(p, "nothing", "kernel.x"), KSVC_E_NOT_FOUND);
    after = test_machine_snapshot(f->m);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

typedef struct seen {
    int kernel, rollback, tmp, other;
    int calls;
} seen;

static int note_name(void *arg, const char *name)
{
    seen *s = arg;

    s->calls++;
    if (strcmp(name, "kernel") == 0)
        s->kernel++;
    else if (strcmp(name, "kernel.rollback") == 0)
        s->rollback++;
    else if (strcmp(name, "kernel.tmp") == 0)
        s->tmp++;
    else
        s->other++;
    return 0;
}

static int stop_at_first(void *arg, const char *name)
{
    (void)name;
    ++*(int *)arg;
    return 42;
}

static void list_names_every_file(void **state)
{
    fixture *f = *state;
    ksvc_platform *p = f->p;
    seen s = { 0, 0, 0, 0, 0 };
    int calls = 0;

    assert_int_equal(p->list(p, note_name, &s), KSVC_OK);
    assert_int_equal(s.calls, 0);
    put_file(p, "kernel", "a");
    put_file(p, "kernel.rollback", "b");
    put_file(p, "kernel.tmp", "c");
    assert_int_equal(p->list(p, note_name, &s), KSVC_OK);
    assert_int_equal(s.calls, 3);
    assert_int_equal(s.kernel, 1);
    assert_int_equal(s.rollback, 1);
    assert_int_equal(s.tmp, 1);
    assert_int_equal(s.other, 0);
    assert_int_equal(p->list(p, stop_at_first, &calls), 42);
    assert_int_equal(calls, 1);
}

static void full_path_names_the_file(void **state)
{
    fixture *f = *state;
    ksvc_platform *p = f->p;
    char buf[4096], small[4];
    size_t len;

    assert_int_equal(p->full_path(p, "kernel", buf, sizeof(buf)), KSVC_OK);
    len = strlen(buf);
    assert_true(len > strlen("lxss/tools/kernel"));
    assert_string_equal(buf + len - strlen("kernel"), "kernel");
    assert_true(buf[len - 7] == '/' || buf[len - 7] == '\\');
    assert_non_null(strstr(buf, "lxss"));
    assert_non_null(strstr(buf, "tools"));
    assert_int_equal(p->full_path(p, "kernel", small, sizeof(small)),
                     KSVC_E_TOO_LONG);
    assert_int_equal(p->full_path(p, "kernel", buf, len), KSVC_E_TOO_LONG);
    assert_int_equal(p->full_path(p, "kernel", buf, len + 1), KSVC_OK);
}

static void bad_names_are_refused(void **state)
{
    static const char *const bad[] = { "", ".", "..", "a/b", "a\\b", "/kernel",
                                       "..\\kernel", "tools/../kernel" };
    fixture *f = *state;
    ksvc_platform *p = f->p;
    char *before, *after, buf[256];
    ksvc_file_info info;
    ksvc_file *file;
    size_t i;

    put_file(p, "kernel", "k");
    before = test_machine_snapshot(f->m);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *name = bad[i];
        file = NULL;
        assert_int_equal(p->file_open(p, name, KSVC_OPEN_READ, &file),
                         KSVC_E_INVALID_ARGUMENT);
        assert_null(file);
        assert_int_equal(p->file_open(p, name, KSVC_OPEN_CREATE_NEW, &file),
                         KSVC_E_INVALID_ARGUMENT);
        assert_int_equal(p->stat(p, name, &info), KSVC_E_INVALID_ARGUMENT);
        assert_int_equal(p->rename(p, "kernel", name), KSVC_E_INVALID_ARGUMENT);
        assert_int_equal(p->rename(p, name, "kernel"), KSVC_E_INVALID_ARGUMENT);
        assert_int_equal(p->remove(p, name), KSVC_E_INVALID_ARGUMENT);
        assert_int_equal(p->hard_link(p, "kernel", name),
                         KSVC_E_INVALID_ARGUMENT);
        assert_int_equal(p->hard_link(p, name, "kernel.x"),
                         KSVC_E_INVALID_ARGUMENT);
        assert_int_equal(p->full_path(p, name, buf, sizeof(buf)),
                         KSVC_E_INVALID_ARGUMENT);
        assert_last_error_names(p, NULL);
    }
    assert_int_equal(p->file_open(p, NULL, KSVC_OPEN_READ, &file),
                     KSVC_E_INVALID_ARGUMENT);
    assert_int_equal(p->file_open(p, "kernel", 0, &file),
                     KSVC_E_INVALID_ARGUMENT);
    assert_int_equal(p->file_open(p, "kernel", 0x80, &file),
                     KSVC_E_INVALID_ARGUMENT);
    after = test_machine_snapshot(f->m);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

static void payload_open_reads_callers_file(void **state)
{
    fixture *f = *state;
    ksvc_platform *p = f->p;
    const char *path = test_machine_payload(f->m, "payload", 7, 5000);
    char missing[4096];
    ksvc_file *file = NULL;
    uint64_t size = 0;

    assert_int_equal(p->payload_open(p, path, &file), KSVC_OK);
    assert_int_equal(p->file_size(file, &size), KSVC_OK);
    assert_int_equal(size, 5000);
    assert_int_equal(p->file_close(file), KSVC_OK);
    snprintf(missing, sizeof(missing), "%s/none", test_machine_scratch(f->m));
    file = NULL;
    assert_int_equal(p->payload_open(p, missing, &file), KSVC_E_NOT_FOUND);
    assert_null(file);
    assert_last_error_names(p, "none");
    /* a folder is not a payload */
    assert_int_not_equal(p->payload_open(p, test_machine_scratch(f->m), &file),
                         KSVC_OK);
    assert_null(file);
}

/* ---- registry ---- */

static void registry_round_trips_three_types(void **state)
{
    static const char multi[] = "5.10.1\0" "5.15.2-\xC3\xBC\0";
    fixture *f = *state;
    ksvc_platform *p = f->p;
    uint32_t dword = 0xDEADBEEFu;

    write_value(p, TEST_KEY, "Text", KSVC_REG_SZ, "5.15.153.1", 11);
    write_value(p, TEST_KEY, "Number", KSVC_REG_DWORD, &dword, 4);
    write_value(p, TEST_KEY, "List", KSVC_REG_MULTI_SZ, multi, sizeof(multi));
    write_value(p, TEST_KEY, "Empty", KSVC_REG_MULTI_SZ, "", 1);
    write_value(p, TEST_KEY, "EmptyText", KSVC_REG_SZ, "", 1);
    assert_value(p, TEST_KEY, "Text", KSVC_REG_SZ, "5.15.153.1", 11);
    assert_value(p, TEST_KEY, "Number", KSVC_REG_DWORD, &dword, 4);
    assert_value(p, TEST_KEY, "List", KSVC_REG_MULTI_SZ, multi, sizeof(multi));
    assert_value(p, TEST_KEY, "Empty", KSVC_REG_MULTI_SZ, "", 1);
    assert_value(p, TEST_KEY, "EmptyText", KSVC_REG_SZ, "", 1);
    /* names compare without case, as on Windows */
    assert_value(p, TEST_KEY, "TEXT", KSVC_REG_SZ, "5.15.153.1", 11);
    assert_value(p, "software\\kserviceconformance\\SUB", "number",
                 KSVC_REG_DWORD, &dword, 4);
    /* overwrite with another type */
    write_value(p, TEST_KEY, "Text", KSVC_REG_DWORD, &dword, 4);
    assert_value(p, TEST_KEY, "Text", KSVC_REG_DWORD, &dword, 4);
}

static void registry_changes_apply_in_order(void **state)
{
    fixture *f = *state;
    ksvc_platform *p = f->p;
    uint32_t one = 1;
    ksvc_reg_change changes[4];

    memset(changes, 0, sizeof(changes));
    changes[0].name = "A";
    changes[0].type = KSVC_REG_SZ;
    changes[0].data = "a";
    changes[0].size = 2;
    changes[1].name = "A";
    changes[1].remove = 1;
    changes[2].name = "B";
    changes[2].remove = 1; /* absent: fine */
    changes[3].name = "B";
    changes[3].type = KSVC_REG_DWORD;
    changes[3].data = &one;
    changes[3].size = 4;
    assert_int_equal(p->reg_write(p, TEST_KEY, changes, 4), KSVC_OK);
    assert_no_value(p, TEST_KEY, "A");
    assert_value(p, TEST_KEY, "B", KSVC_REG_DWORD, &one, 4);
    /* delete */
    assert_int_equal(p->reg_write(p, TEST_KEY, &changes[2], 1), KSVC_OK);
    assert_no_value(p, TEST_KEY, "B");
    assert_int_equal(p->reg_write(p, TEST_KEY, &changes[2], 1), KSVC_OK);
}

static void registry_small_buffer_says_size(void **state)
{
    fixture *f = *state;
    ksvc_platform *p = f->p;
    char buf[8];
    size_t size = 4;
    uint32_t type = 0;

    write_value(p, TEST_KEY, "Text", KSVC_REG_SZ, "5.15.153.1", 11);
    assert_int_equal(p->reg_read(p, TEST_KEY, "Text", &type, buf, &size),
                     KSVC_E_TOO_LONG);
    assert_int_equal(size, 11);
    assert_last_error_names(p, "Text");
    size = 0;
    assert_int_equal(p->reg_read(p, TEST_KEY, "Text", &type, NULL, &size),
                     KSVC_E_TOO_LONG);
    assert_int_equal(size, 11);
}

static void registry_not_found(void **state)
{
    fixture *f = *state;
    ksvc_platform *p = f->p;

    assert_no_value(p, LXSS_KEY, "RollbackKernel");
    assert_last_error_names(p, "RollbackKernel");
    assert_no_value(p, "SOFTWARE\\KServiceNoSuchKey", "X");
    assert_last_error_names(p, "KServiceNoSuchKey");
}

static void registry_key_exists(void **state)
{
    fixture *f = *state;
    ksvc_platform *p = f->p;
    int exists = -1;

    assert_int_equal(p->reg_key_exists(p, LXSS_KEY, &exists), KSVC_OK);
    assert_int_equal(exists, 1);
    assert_int_equal(p->reg_key_exists(p, "SOFTWARE\\Microsoft", &exists),
                     KSVC_OK);
    assert_int_equal(exists, 1);
    assert_int_equal(p->reg_key_exists(p, TEST_KEY, &exists), KSVC_OK);
    assert_int_equal(exists, 0);
    /* a write with no changes still creates the key */
    assert_int_equal(p->reg_write(p, TEST_KEY, NULL, 0), KSVC_OK);
    assert_int_equal(p->reg_key_exists(p, TEST_KEY, &exists), KSVC_OK);
    assert_int_equal(exists, 1);
}

static void registry_refuses_malformed_values(void **state)
{
    fixture *f = *state;
    ksvc_platform *p = f->p;
    ksvc_reg_change changes[2];
    char *before, *after;

    memset(changes, 0, sizeof(changes));
    changes[0].name = "KernelVersion";
    changes[0].type = KSVC_REG_SZ;
    changes[0].data = "5.15.1";
    changes[0].size = 7;
    changes[1].name = "KServiceBadVersions";
    changes[1].type = KSVC_REG_MULTI_SZ;
    changes[1].data = "5.15"; /* no terminators */
    changes[1].size = 4;
    before = test_machine_snapshot(f->m);
    assert_int_equal(p->reg_write(p, LXSS_KEY, changes, 2),
                     KSVC_E_INVALID_ARGUMENT);
    assert_last_error_names(p, "KServiceBadVersions");
    changes[1].type = KSVC_REG_SZ;
    changes[1].data = "no terminator";
    changes[1].size = 13;
    assert_int_equal(p->reg_write(p, LXSS_KEY, changes, 2),
                     KSVC_E_INVALID_ARGUMENT);
    changes[1].type = KSVC_REG_DWORD;
    changes[1].data = "12";
    changes[1].size = 2;
    assert_int_equal(p->reg_write(p, LXSS_KEY, changes, 2),
                     KSVC_E_INVALID_ARGUMENT);
    after = test_machine_snapshot(f->m);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

/* ---- machine facts ---- */

static void machine_facts(void **state)
{
    fixture *f = *state;
    ksvc_platform *p = f->p;
    ksvc_mock_machine facts = KSVC_MOCK_MACHINE_INIT;
    ksvc_arch arch = KSVC_ARCH_UNKNOWN;
    test_machine *arm;
    int elevated = -1;

    assert_int_equal(p->arch(p, &arch), KSVC_OK);
    assert_int_equal(arch, KSVC_ARCH_X64);
    assert_int_equal(p->elevated(p, &elevated), KSVC_OK);
    assert_int_equal(elevated, 1);
    test_machine_set_elevated(f->m, 0);
    assert_int_equal(p->elevated(p, &elevated), KSVC_OK);
    assert_int_equal(elevated, 0);
    test_machine_set_elevated(f->m, 1);
    assert_int_equal(p->elevated(p, &elevated), KSVC_OK);
    assert_int_equal(elevated, 1);

    facts.arch = KSVC_ARCH_ARM64;
    facts.os_build = 22631;
    arm = test_machine_new(&facts);
    p = test_machine_platform(arm);
    assert_int_equal(p->arch(p, &arch), KSVC_OK);
    assert_int_equal(arch, KSVC_ARCH_ARM64);
    assert_value(p, "SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion",
                 "CurrentBuildNumber", KSVC_REG_SZ, "22631", 6);
    test_machine_free(arm);
}

/* ---- lock ---- */

static void lock_excludes_a_second_table(void **state)
{
    fixture *f = *state;
    ksvc_platform *p = f->p;
    ksvc_platform *q = test_machine_platform_open(f->m);
    time_t start;

    assert_int_equal(p->lock(p, 1000), KSVC_OK);
    start = time(NULL);
    assert_int_equal(q->lock(q, 100), KSVC_E_BUSY);
    assert_true(time(NULL) - start < 5);
    assert_last_error_names(q, NULL);
    assert_int_equal(q->lock(q, 0), KSVC_E_BUSY);
    assert_int_equal(p->unlock(p), KSVC_OK);
    assert_int_equal(q->lock(q, 1000), KSVC_OK);
    assert_int_equal(p->lock(p, 50), KSVC_E_BUSY);
    assert_int_equal(q->unlock(q), KSVC_OK);
    assert_int_equal(p->lock(p, 0), KSVC_OK);
    assert_int_equal(p->unlock(p), KSVC_OK);
    test_machine_platform_close(q);
}

/* ---- hashing (optional methods) ---- */

static void sha256_when_provided(void **state)
{
    static const unsigned char abc[32] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
        0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
        0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad
    };
    fixture *f = *state;
    ksvc_platform *p = f->p;
    unsigned char digest[32];
    void *ctx = NULL;

    if (p->sha256_begin == NULL) {
        assert_null(p->sha256_update);
        assert_null(p->sha256_end);
        skip();
    }
    assert_int_equal(p->sha256_begin(p, &ctx), KSVC_OK);
    assert_int_equal(p->sha256_update(ctx, "a", 1), KSVC_OK);
    assert_int_equal(p->sha256_update(ctx, "", 0), KSVC_OK);
    assert_int_equal(p->sha256_update(ctx, "bc", 2), KSVC_OK);
    assert_int_equal(p->sha256_end(ctx, digest), KSVC_OK);
    assert_memory_equal(digest, abc, 32);
    /* abandoned computations are freed */
    assert_int_equal(p->sha256_begin(p, &ctx), KSVC_OK);
    assert_int_equal(p->sha256_end(ctx, NULL), KSVC_OK);
}

static void table_shape(void **state)
{
    fixture *f = *state;
    ksvc_platform *p = f->p;

    assert_int_equal(p->version, KSVC_PLATFORM_VERSION);
    assert_non_null(p->name);
    assert_non_null(p->last_error);
    assert_non_null(p->file_open);
    assert_non_null(p->reg_read);
    assert_non_null(p->lock);
    assert_true((p->sha256_begin == NULL) == (p->sha256_end == NULL));
    /* version 2 */
    assert_non_null(p->destroy);
    assert_non_null(p->reg_list);
    assert_non_null(p->lock_mode);
}

/* ---- table version 2: values of a key, lock modes, destroy ---- */

typedef struct listed {
    char names[8][32];
    uint32_t types[8];
    unsigned char data[8][64];
    size_t sizes[8];
    int errors[8];
    size_t count;
    size_t stop_after; /* return 7 after this many values; 0: never */
} listed;

static int collect_value(void *arg, const ksvc_reg_value *v)
{
    listed *l = arg;

    assert_true(l->count < 8);
    assert_true(strlen(v->name) < sizeof l->names[0]);
    strcpy(l->names[l->count], v->name);
    l->types[l->count] = v->type;
    l->errors[l->count] = v->error;
    l->sizes[l->count] = v->size;
    assert_true(v->size <= sizeof l->data[0]);
    if (v->size > 0)
        memcpy(l->data[l->count], v->data, v->size);
    l->count++;
    return l->stop_after != 0 && l->count == l->stop_after ? 7 : 0;
}

/* The index of @name among the listed values (any order), or fail. */
static size_t listed_index(const listed *l, const char *name)
{
    size_t i;

    for (i = 0; i < l->count; i++)
        if (strcmp(l->names[i], name) == 0)
            return i;
    fail_msg("value %s not listed", name);
    return 0;
}

static void assert_listed(const listed *l, const char *name, uint32_t type,
                          const void *data, size_t size)
{
    size_t i = listed_index(l, name);

    assert_int_equal(l->errors[i], 0);
    assert_int_equal(l->types[i], type);
    assert_int_equal(l->sizes[i], size);
    assert_memory_equal(l->data[i], data, size);
}

static void reg_list_reports_every_value(void **state)
{
    static const char multi[] = "5.10.1\0" "5.15.2-\xC3\xBC\0";
    fixture *f = *state;
    ksvc_platform *p = f->p;
    uint32_t dword = 0xDEADBEEFu;
    listed l;

    write_value(p, TEST_KEY, "Text", KSVC_REG_SZ, "5.15.153.1", 11);
    write_value(p, TEST_KEY, "Number", KSVC_REG_DWORD, &dword, 4);
    write_value(p, TEST_KEY, "List", KSVC_REG_MULTI_SZ, multi, sizeof(multi));
    write_value(p, TEST_KEY, "Empty\xC3\xA9", KSVC_REG_SZ, "", 1);
    memset(&l, 0, sizeof l);
    assert_int_equal(p->reg_list(p, TEST_KEY, collect_value, &l), KSVC_OK);
    assert_int_equal(l.count, 4);
    assert_listed(&l, "Text", KSVC_REG_SZ, "5.15.153.1", 11);
    assert_listed(&l, "Number", KSVC_REG_DWORD, &dword, 4);
    assert_listed(&l, "List", KSVC_REG_MULTI_SZ, multi, sizeof(multi));
    assert_listed(&l, "Empty\xC3\xA9", KSVC_REG_SZ, "", 1);

    /* The callback's non-zero answer stops the walk and is returned. */
    memset(&l, 0, sizeof l);
    l.stop_after = 2;
    assert_int_equal(p->reg_list(p, TEST_KEY, collect_value, &l), 7);
    assert_int_equal(l.count, 2);

    /* A key without values lists nothing; a missing key is not found. */
    memset(&l, 0, sizeof l);
    assert_int_equal(p->reg_list(p, "SOFTWARE\\KServiceConformance",
                                 collect_value, &l),
                     KSVC_OK);
    assert_int_equal(l.count, 0);
    assert_int_equal(p->reg_list(p, "SOFTWARE\\KServiceConformance\\None",
                                 collect_value, &l),
                     KSVC_E_NOT_FOUND);
    assert_last_error_names(p, "None");
}

static void lock_modes_share_and_exclude(void **state)
{
    fixture *f = *state;
    ksvc_platform *p = f->p;
    ksvc_platform *q = test_machine_platform_open(f->m);

    /* Readers share the lock... */
    assert_int_equal(p->lock_mode(p, KSVC_LOCK_SHARED, 1000), KSVC_OK);
    assert_int_equal(q->lock_mode(q, KSVC_LOCK_SHARED, 1000), KSVC_OK);
    assert_int_equal(q->unlock(q), KSVC_OK);
    /* ...a writer waits for them... */
    assert_int_equal(q->lock_mode(q, KSVC_LOCK_EXCLUSIVE, 50), KSVC_E_BUSY);
    assert_int_equal(q->lock(q, 0), KSVC_E_BUSY);
    assert_int_equal(p->unlock(p), KSVC_OK);
    /* ...and readers wait for a writer. */
    assert_int_equal(q->lock_mode(q, KSVC_LOCK_EXCLUSIVE, 1000), KSVC_OK);
    assert_int_equal(p->lock_mode(p, KSVC_LOCK_SHARED, 50), KSVC_E_BUSY);
    assert_int_equal(q->unlock(q), KSVC_OK);
    assert_int_equal(p->lock_mode(p, KSVC_LOCK_SHARED, 0), KSVC_OK);
    assert_int_equal(p->unlock(p), KSVC_OK);
    /* An unknown mode is refused. */
    assert_int_equal(p->lock_mode(p, 99, 0), KSVC_E_INVALID_ARGUMENT);
    q->destroy(q); /* any backend is freed the same way */
}

/* The methods up to sha256_end are version 1: a table that ends there is
 * still a complete backend for ksvc_open(). */
#define PLATFORM_V1_SIZE offsetof(ksvc_platform, destroy)

static void a_version_1_table_is_accepted(void **state)
{
    fixture *f = *state;
    ksvc_platform *q = test_machine_platform_open(f->m);
    unsigned char *v1 = malloc(PLATFORM_V1_SIZE);
    ksvc_platform full;
    ksvc_context *ctx = NULL;
    ksvc_status s = KSVC_STATUS_INIT;
    const char *payload = test_machine_payload(f->m, "A", 1, 4096 + 3);

    /* Exactly the bytes of a version 1 table: nothing after them exists,
     * and a sanitizer build reports any read past them. */
    assert_non_null(v1);
    memcpy(&full, q, sizeof full);
    full.version = 1;
    memcpy(v1, &full, PLATFORM_V1_SIZE);
    assert_int_equal(ksvc_open(&ctx, (ksvc_platform *)(void *)v1, NULL),
                     KSVC_OK);
    assert_int_equal(ksvc_install(ctx, payload, "5.15.1.1", NULL), KSVC_OK);
    assert_int_equal(ksvc_status_get(ctx, &s), KSVC_OK);
    assert_string_equal(s.kernel.kernel_version, "5.15.1.1");
    ksvc_close(ctx);
    free(v1);

    /* A version 2 table must have the methods version 2 added. */
    memcpy(&full, q, sizeof full);
    full.reg_list = NULL;
    assert_int_equal(ksvc_open(&ctx, &full, NULL), KSVC_E_INVALID_ARGUMENT);
    full.version = 1; /* the same table as version 1 is fine */
    assert_int_equal(ksvc_open(&ctx, &full, NULL), KSVC_OK);
    ksvc_close(ctx);
    q->destroy(q);
}

/* ---- behaviour both backends share (issue 11) ---- */

static int count_names(void *arg, const char *name)
{
    (void)name;
    (*(int *)arg)++;
    return 0;
}

/* WSL 2 just enabled: no tools folder.  Every backend opens; status says
 * the kernel is missing, boot-path fails as for a missing kernel, and the
 * first install makes the folder. */
static void open_without_a_tools_folder(void **state)
{
    fixture *f = *state;
    ksvc_status s = KSVC_STATUS_INIT;
    ksvc_file_info info;
    ksvc_context *ctx = NULL;
    const char *payload;
    char path[1024];
    int names = 0;

    test_machine_remove_tools_by_hand(f->m);
    f->p = test_machine_platform(f->m);
    assert_int_equal(f->p->stat(f->p, "kernel", &info), KSVC_OK);
    assert_int_equal(info.kind, KSVC_FILE_NONE);
    assert_int_equal(f->p->list(f->p, count_names, &names), KSVC_OK);
    assert_int_equal(names, 0);
    assert_int_equal(f->p->remove(f->p, "kernel"), KSVC_OK);
    assert_int_equal(ksvc_open(&ctx, f->p, NULL), KSVC_OK);
    assert_int_equal(ksvc_status_get(ctx, &s), KSVC_OK);
    assert_false(s.kernel.present);
    assert_false(s.rollback.present);
    assert_int_equal(ksvc_boot_path(ctx, path, sizeof path),
                     KSVC_E_KERNEL_MISSING);
    payload = test_machine_payload(f->m, "A", 1, 4096 + 5);
    assert_int_equal(ksvc_install(ctx, payload, "5.15.1.1", NULL), KSVC_OK);
    assert_int_equal(f->p->stat(f->p, "kernel", &info), KSVC_OK);
    assert_int_equal(info.kind, KSVC_FILE_REGULAR);
    assert_int_equal(ksvc_boot_path(ctx, path, sizeof path), KSVC_OK);
    ksvc_close(ctx);
}

/* The detail of a failed call has one shape on every backend:
 * "<object>: <call>: <OS message>", with the OS code beside it. */
static void error_detail_names_object_call_and_os_message(void **state)
{
    fixture *f = *state;
    ksvc_platform *p = f->p;
    ksvc_file *file = NULL;
    char what[1024] = "";
    const char *call, *message;
    long os_error = 0;

    put_file(p, "kernel.new", "x");
    assert_int_equal(p->file_open(p, "kernel.new", KSVC_OPEN_CREATE_NEW,
                                  &file),
                     KSVC_E_EXISTS);
    p->last_error(p, &os_error, what, sizeof what);
    assert_true(os_error != 0);
    /* the object first, then the call, then the OS's own words */
    assert_non_null(strstr(what, "kernel.new"));
    call = strstr(what, ": ");
    assert_non_null(call);
    message = strstr(call + 2, ": ");
    if (message == NULL)
        fail_msg("no OS message in \"%s\"", what);
    /* At least a few words after ": " (measured from the start of the
     * buffer: gcc's overread warning misjudges message + 2). */
    assert_true(strlen(what) > (size_t)(message - what) + 5);
    assert_true(strstr(what, "kernel.new") < call);
    /* the OS's words, not the library's */
    assert_null(strstr(message, ksvc_strerror(KSVC_E_EXISTS)));
}

/* A standard user reads: status and boot-path work, a change is refused
 * and changes nothing. */
static void a_standard_user_reads(void **state)
{
    fixture *f = *state;
    ksvc_status s = KSVC_STATUS_INIT;
    ksvc_context *ctx = NULL;
    const char *a = test_machine_payload(f->m, "A", 1, 4096 + 5);
    const char *b = test_machine_payload(f->m, "B", 2, 4096 + 9);
    char path[1024], *before, *after;

    assert_int_equal(ksvc_open(&ctx, f->p, NULL), KSVC_OK);
    assert_int_equal(ksvc_install(ctx, a, "5.15.1.1", NULL), KSVC_OK);
    ksvc_close(ctx);
    test_machine_set_elevated(f->m, 0);
    before = test_machine_snapshot(f->m);
    assert_int_equal(ksvc_open(&ctx, f->p, NULL), KSVC_OK);
    assert_int_equal(ksvc_status_get(ctx, &s), KSVC_OK);
    assert_string_equal(s.kernel.kernel_version, "5.15.1.1");
    assert_int_equal(ksvc_boot_path(ctx, path, sizeof path), KSVC_OK);
    assert_int_equal(ksvc_install(ctx, b, "5.15.2.1", NULL),
                     KSVC_E_NOT_ELEVATED);
    ksvc_close(ctx);
    after = test_machine_snapshot(f->m);
    assert_string_equal(before, after);
    free(before);
    free(after);
    test_machine_set_elevated(f->m, 1);
}

/* A folder where a slot belongs is never opened, removed or replaced. */
static void a_folder_in_a_slots_place(void **state)
{
    fixture *f = *state;
    ksvc_platform *p = f->p;
    ksvc_file_info info;
    ksvc_file *file = NULL;
    ksvc_context *ctx = NULL;
    const char *a = test_machine_payload(f->m, "A", 1, 4096 + 5);

    test_machine_folder_as_file_by_hand(f->m, "kernel");
    assert_int_equal(p->stat(p, "kernel", &info), KSVC_OK);
    assert_int_equal(info.kind, KSVC_FILE_OTHER);
    assert_int_equal(p->file_open(p, "kernel", KSVC_OPEN_READ, &file),
                     KSVC_E_UNSAFE_PATH);
    assert_int_equal(p->file_open(p, "kernel", KSVC_OPEN_CREATE_NEW, &file),
                     KSVC_E_UNSAFE_PATH);
    assert_int_equal(p->remove(p, "kernel"), KSVC_E_UNSAFE_PATH);
    put_file(p, "kernel.new", "x");
    assert_int_equal(p->rename(p, "kernel.new", "kernel"),
                     KSVC_E_UNSAFE_PATH);
    assert_last_error_names(p, "kernel");
    /* nor by the library */
    assert_int_equal(ksvc_open(&ctx, p, NULL), KSVC_OK);
    assert_int_not_equal(ksvc_install(ctx, a, "5.15.1.1", NULL), KSVC_OK);
    ksvc_close(ctx);
    assert_int_equal(p->stat(p, "kernel", &info), KSVC_OK);
    assert_int_equal(info.kind, KSVC_FILE_OTHER);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(table_shape),
        T(create_new_is_exclusive),
        T(open_missing_is_not_found),
        T(read_write_size_sync),
        T(large_file_round_trip),
        T(rename_replaces),
        T(rename_of_missing_changes_nothing),
        T(remove_is_idempotent),
        T(stat_reports_kind_size_links),
        T(hard_link_or_unsupported),
        T(list_names_every_file),
        T(full_path_names_the_file),
        T(bad_names_are_refused),
        T(payload_open_reads_callers_file),
        T(registry_round_trips_three_types),
        T(registry_changes_apply_in_order),
        T(registry_small_buffer_says_size),
        T(registry_not_found),
        T(registry_key_exists),
        T(registry_refuses_malformed_values),
        T(machine_facts),
        T(lock_excludes_a_second_table),
        T(sha256_when_provided),
        T(reg_list_reports_every_value),
        T(lock_modes_share_and_exclude),
        T(a_version_1_table_is_accepted),
        T(open_without_a_tools_folder),
        T(error_detail_names_object_call_and_os_message),
        T(a_standard_user_reads),
        T(a_folder_in_a_slots_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
