/*
 * test_machine_snapshot() for every backend, through the platform table
 * only: the names of the tools folder (list, stat, and the bytes of each
 * regular file) and every value of the Lxss key (reg_list), on the
 * machine's own table (a second table could not even be opened over a
 * machine a test has broken on purpose).  What only one backend can add (the POSIX hive file's digest,
 * the Win32 Lxss subkeys) comes from test_machine_snapshot_extra().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine.h"

#define LXSS_KEY "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Lxss"
#define FNV_START 1469598103934665603ull

typedef struct text {
    char *data;
    size_t len, room;
} text;

static void text_add(text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(t->data ? t->data + t->len : NULL,
                      t->data ? t->room - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            fail_msg("vsnprintf failed");
        if (t->data && (size_t)n < t->room - t->len) {
            t->len += (size_t)n;
            return;
        }
        t->room = t->room * 2 + (size_t)n + 256;
        t->data = realloc(t->data, t->room);
        if (!t->data)
            fail_msg("out of memory");
    }
}

uint64_t test_fnv1a(uint64_t h, const void *data, size_t size)
{
    const unsigned char *p = data;
    size_t i;

    for (i = 0; i < size; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* Lines (file names or values), sorted before they are written. */
typedef struct lines {
    char **items;
    size_t count;
} lines;

static void lines_add(lines *l, const char *line)
{
    char **grown = realloc(l->items, (l->count + 1) * sizeof(*grown));

    if (!grown)
        fail_msg("out of memory");
    l->items = grown;
    l->items[l->count] = malloc(strlen(line) + 1);
    if (!l->items[l->count])
        fail_msg("out of memory");
    strcpy(l->items[l->count++], line);
}

static int compare_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void lines_sort(lines *l)
{
    if (l->count > 0)
        qsort(l->items, l->count, sizeof(*l->items), compare_lines);
}

static int collect_name(void *arg, const char *name)
{
    lines_add(arg, name);
    return 0;
}

/* "file NAME regular size= links= read= fnv=" from the platform's reads. */
static void snapshot_file(ksvc_platform *p, const char *name, text *out)
{
    ksvc_file_info info;
    ksvc_file *f = NULL;
    unsigned char buf[65536];
    uint64_t hash = FNV_START, offset = 0;
    size_t got;
    int rc;

    rc = p->stat(p, name, &info);
    if (rc != KSVC_OK) {
        text_add(out, "file %s stat-error %s\n", name, ksvc_error_name(rc));
        return;
    }
    if (info.kind != KSVC_FILE_REGULAR) {
        text_add(out, "file %s kind %d\n", name, (int)info.kind);
        return;
    }
    rc = p->file_open(p, name, KSVC_OPEN_READ, &f);
    if (rc != KSVC_OK) {
        text_add(out, "file %s open-error %s\n", name, ksvc_error_name(rc));
        return;
    }
    do {
        rc = p->file_read(f, offset, buf, sizeof(buf), &got);
        hash = test_fnv1a(hash, buf, rc == KSVC_OK ? got : 0);
        offset += rc == KSVC_OK ? got : 0;
    } while (rc == KSVC_OK && got > 0);
    p->file_close(f);
    text_add(out, "file %s regular size=%llu links=%lu read=%llu fnv=%016llx%s\n",
             name, (unsigned long long)info.size, (unsigned long)info.links,
             (unsigned long long)offset, (unsigned long long)hash,
             rc == KSVC_OK ? "" : " read-error");
}

/* Whether value @p name holds a clock reading, which differs from one run
 * to the next: a fingerprint (KServiceKernelStamp...) holds a change time
 * and only ever spares a hash; KServiceAutoRollbackTime says when.  The
 * sweeps compare states of different runs: these are no part of it. */
static int holds_a_time(const char *name)
{
    size_t len = strlen(name);

    return (len > 5 && strcmp(name + len - 5, "Stamp") == 0) ||
           (len > 4 && strcmp(name + len - 4, "Time") == 0);
}

/* One "value NAME type= size= DATA" line per value. */
static int collect_value(void *arg, const ksvc_reg_value *v)
{
    text line = { NULL, 0, 0 };
    const unsigned char *data = v->data;
    size_t i;

    if (holds_a_time(v->name))
        return 0;
    text_add(&line, "value %s type=%lu size=%lu ", v->name,
             (unsigned long)v->type, (unsigned long)v->size);
    if (v->error != 0)
        text_add(&line, "%s", ksvc_error_name(v->error));
    for (i = 0; v->error == 0 && i < v->size; i++)
        text_add(&line, "%02x", data[i]);
    lines_add(arg, line.data);
    free(line.data);
    return 0;
}

static void add_lines(text *out, lines *l, void (*each)(ksvc_platform *,
                                                        const char *, text *),
                      ksvc_platform *p)
{
    size_t i;

    lines_sort(l);
    for (i = 0; i < l->count; i++) {
        if (each)
            each(p, l->items[i], out);
        else
            text_add(out, "%s\n", l->items[i]);
        free(l->items[i]);
    }
    free(l->items);
}

char *test_machine_snapshot(test_machine *m)
{
    ksvc_platform *p = test_machine_platform(m);
    lines names = { NULL, 0 }, values = { NULL, 0 };
    text out = { NULL, 0, 0 };
    char *extra;
    int rc;

    rc = p->list(p, collect_name, &names);
    if (rc != KSVC_OK)
        fail_msg("list: %s", ksvc_error_name(rc));
    text_add(&out, "== tools: %lu names\n", (unsigned long)names.count);
    add_lines(&out, &names, snapshot_file, p);
    rc = p->reg_list(p, LXSS_KEY, collect_value, &values);
    if (rc == KSVC_E_NOT_FOUND)
        text_add(&out, "== Lxss: missing\n");
    else if (rc != KSVC_OK) /* a hive damaged on purpose, for one */
        text_add(&out, "== Lxss: %s\n", ksvc_error_name(rc));
    else
        text_add(&out, "== Lxss: %lu values\n", (unsigned long)values.count);
    add_lines(&out, &values, NULL, p);
    extra = test_machine_snapshot_extra(m);
    text_add(&out, "%s", extra);
    free(extra);
    return out.data;
}
