/* The fault-injecting platform table: see fault.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kservice/error.h>

#include "fault.h"

/* Error a crashed table answers with. */
#define CRASH_ERROR KSVC_E_IO

/* A name that holds data not synced yet. */
typedef struct volatile_name {
    char name[64];
} volatile_name;

struct fault_platform {
    ksvc_platform table; /* first: the methods find the wrapper from it */
    const ksvc_platform *inner;

    /* the plan */
    fault_kind kind;
    unsigned at;
    int at_op;         /* >= 0: the fault hits the first call of this op */
    int error;
    int persistent;
    int fired;
    int crashed;       /* every call fails from now on */
    int failing_error; /* persistent error: every call fails with it */
    int after_error;   /* FAULT_ERROR_AFTER: the call runs, then fails */
    unsigned crash_at; /* fault_plan_crash(): the call that crashes */

    /* the count and what each call was */
    unsigned calls;
    unsigned char *ops;
    size_t ops_room;

    int last_injected; /* the last failure was ours, not the backend's */
    unsigned last_call;
    fault_op last_op;

    fault_event *events;
    size_t event_count, event_room;
    volatile_name *volatiles;
    size_t volatile_count, volatile_room;

    fault_observer observer;
    void *observer_arg;
    int no_hard_links;
    size_t torn_part;
    size_t short_reads;
};

/* The wrapper's file handle; ksvc_file stays opaque to the core. */
typedef struct fault_file {
    fault_platform *f;
    ksvc_file *inner;
    char name[64];
    int created; /* opened with KSVC_OPEN_CREATE_NEW */
} fault_file;

typedef struct fault_hash {
    fault_platform *f;
    void *inner;
} fault_hash;

static void *xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p) {
        fprintf(stderr, "fault: out of memory\n");
        abort();
    }
    return p;
}

static void *xrealloc(void *old, size_t size)
{
    void *p = realloc(old, size ? size : 1);
    if (!p) {
        fprintf(stderr, "fault: out of memory\n");
        abort();
    }
    return p;
}

static fault_platform *of(const ksvc_platform *p)
{
    return (fault_platform *)p->data;
}

static void copy_name(char dst[64], const char *src)
{
    snprintf(dst, 64, "%s", src ? src : "");
}

/* ---- names with unsynced data ---- */

static long find_volatile(const fault_platform *f, const char *name)
{
    size_t i;

    for (i = 0; i < f->volatile_count; i++)
        if (!strcmp(f->volatiles[i].name, name))
            return (long)i;
    return -1;
}

static void set_volatile(fault_platform *f, const char *name, int is_volatile)
{
    long at = find_volatile(f, name);

    if (is_volatile && at < 0) {
        if (f->volatile_count == f->volatile_room) {
            f->volatile_room = f->volatile_room * 2 + 8;
            f->volatiles = xrealloc(f->volatiles,
                                    f->volatile_room * sizeof *f->volatiles);
        }
        copy_name(f->volatiles[f->volatile_count++].name, name);
    } else if (!is_volatile && at >= 0) {
        f->volatiles[at] = f->volatiles[--f->volatile_count];
    }
}

int fault_name_volatile(const fault_platform *f, const char *name)
{
    return find_volatile(f, name) >= 0;
}

/* ---- the log ---- */

static fault_event *add_event(fault_platform *f, fault_op op, const char *name,
                              const char *name2)
{
    fault_event *e;
    size_t i;

    if (f->event_count == f->event_room) {
        f->event_room = f->event_room * 2 + 16;
        f->events = xrealloc(f->events, f->event_room * sizeof *f->events);
    }
    e = &f->events[f->event_count++];
    memset(e, 0, sizeof *e);
    e->call = f->calls;
    e->op = op;
    copy_name(e->name, name);
    copy_name(e->name2, name2);
    e->volatile_count = f->volatile_count;
    e->volatile_names = xmalloc(f->volatile_count * sizeof(char *));
    for (i = 0; i < f->volatile_count; i++) {
        e->volatile_names[i] = xmalloc(strlen(f->volatiles[i].name) + 1);
        strcpy(e->volatile_names[i], f->volatiles[i].name);
    }
    return e;
}

static void free_events(fault_platform *f)
{
    size_t i, j;

    for (i = 0; i < f->event_count; i++) {
        fault_event *e = &f->events[i];
        for (j = 0; j < e->change_count; j++) {
            free(e->changes[j].name);
            free(e->changes[j].data);
        }
        free(e->changes);
        for (j = 0; j < e->volatile_count; j++)
            free(e->volatile_names[j]);
        free(e->volatile_names);
    }
    free(f->events);
    f->events = NULL;
    f->event_count = f->event_room = 0;
}

static void log_reg_write(fault_platform *f, const char *key,
                          const ksvc_reg_change *changes, size_t count,
                          int torn)
{
    fault_event *e = add_event(f, FOP_REG_WRITE, key, NULL);
    size_t i;

    e->torn = torn;
    e->changes = xmalloc(count * sizeof *e->changes);
    e->change_count = count;
    for (i = 0; i < count; i++) {
        fault_reg_change *c = &e->changes[i];
        c->name = xmalloc(strlen(changes[i].name) + 1);
        strcpy(c->name, changes[i].name);
        c->remove = changes[i].remove;
        c->type = changes[i].type;
        c->size = changes[i].remove ? 0 : changes[i].size;
        c->data = xmalloc(c->size);
        if (c->size)
            memcpy(c->data, changes[i].data, c->size);
    }
}

/* ---- counting and the plan ---- */

typedef enum verdict {
    PASS,   /* call the backend */
    FAIL,   /* fail without calling it */
    TEAR,   /* do part of the work, then fail */
    LOSE    /* a sync: fail, and the data it should have kept is lost */
} verdict;

/* The calls that can fail after their effect: the ones that change the
 * disk. */
int fault_op_changes_disk(fault_op op)
{
    return op == FOP_FILE_WRITE || op == FOP_FILE_SYNC || op == FOP_RENAME ||
           op == FOP_REMOVE || op == FOP_HARD_LINK || op == FOP_REG_WRITE;
}

/* Number the call, then decide its fate. */
static verdict begin_call(fault_platform *f, fault_op op, const char *name,
                          int *error)
{
    f->calls++;
    /* An after-effect failure belongs to its own call only, also when its
     * method returned without reaching the backend. */
    f->after_error = 0;
    if (f->calls > f->ops_room) {
        f->ops_room = f->ops_room * 2 + 256;
        f->ops = xrealloc(f->ops, f->ops_room);
    }
    f->ops[f->calls - 1] = (unsigned char)op;
    if (f->observer)
        f->observer(f->observer_arg, f->calls, op, name, 0, 0);
    if (f->crash_at && f->calls >= f->crash_at)
        f->crashed = 1;
    if (f->crashed) {
        *error = CRASH_ERROR;
        return FAIL;
    }
    if (f->failing_error) {
        *error = f->failing_error;
        return FAIL;
    }
    if (f->kind == FAULT_NONE || f->fired ||
        (f->at_op >= 0 ? (int)op != f->at_op : f->calls != f->at))
        return PASS;
    f->fired = 1;
    switch (f->kind) {
    case FAULT_CRASH:
        f->crashed = 1;
        *error = CRASH_ERROR;
        return FAIL;
    case FAULT_TORN:
        *error = f->error ? f->error : KSVC_E_IO;
        if (f->persistent)
            f->crashed = 1;
        return TEAR;
    case FAULT_ERROR_AFTER:
        if (fault_op_changes_disk(op)) {
            /* The backend does the work; passed() reports the failure. */
            f->after_error = f->error;
            if (f->persistent)
                f->failing_error = f->error;
            return PASS;
        }
        /* A call that changes nothing simply fails. */
        *error = f->error;
        if (f->persistent)
            f->failing_error = f->error;
        return FAIL;
    case FAULT_EFFECT_LOST:
        *error = f->error;
        if (f->persistent)
            f->failing_error = f->error;
        return op == FOP_FILE_SYNC ? LOSE : FAIL;
    case FAULT_ERROR:
    default:
        *error = f->error;
        if (f->persistent)
            f->failing_error = f->error;
        return FAIL;
    }
}

/* How much of @p whole a torn call does. */
static size_t torn_part(const fault_platform *f, size_t whole)
{
    if (whole == 0)
        return 0;
    if (f->torn_part == 0)
        return whole / 2;
    return f->torn_part < whole ? f->torn_part : whole - 1;
}

/* The failure of a call we did not pass on. */
static int injected(fault_platform *f, fault_op op, int error)
{
    f->last_injected = 1;
    f->last_call = f->calls;
    f->last_op = op;
    if (f->observer)
        f->observer(f->observer_arg, f->calls, op, NULL, 1, error);
    return error;
}

/* The backend's own answer: remember whose failure it was. */
static int passed(fault_platform *f, int rc)
{
    if (f->after_error) {
        int error = f->after_error;
        f->after_error = 0;
        if (rc == KSVC_OK) {
            if (f->observer)
                f->observer(f->observer_arg, f->calls,
                            (fault_op)f->ops[f->calls - 1], NULL, 1, error);
            f->last_injected = 1;
            f->last_call = f->calls;
            f->last_op = (fault_op)f->ops[f->calls - 1];
            return error;
        }
    }
    if (rc != KSVC_OK)
        f->last_injected = 0;
    if (f->observer)
        f->observer(f->observer_arg, f->calls,
                    (fault_op)f->ops[f->calls - 1], NULL, 1, rc);
    return rc;
}

/* ---- the methods ---- */

static void m_last_error(const ksvc_platform *p, long *os_error, char *what,
                         size_t what_size)
{
    fault_platform *f = of(p);

    if (f->last_injected) {
        *os_error = 0;
        snprintf(what, what_size, "injected fault at call %u (%s)",
                 f->last_call, fault_op_name(f->last_op));
        return;
    }
    if (f->inner->last_error)
        f->inner->last_error(f->inner, os_error, what, what_size);
    else if (what_size)
        what[0] = '\0';
}

static int m_file_open(const ksvc_platform *p, const char *name,
                       unsigned flags, ksvc_file **out)
{
    fault_platform *f = of(p);
    int error, rc;
    fault_file *ff;
    ksvc_file *inner = NULL;

    if (begin_call(f, FOP_FILE_OPEN, name, &error) != PASS)
        return injected(f, FOP_FILE_OPEN, error);
    rc = passed(f, f->inner->file_open(f->inner, name, flags, &inner));
    if (rc != KSVC_OK) {
        /* [backends] Failed after its effect: the file was made, but the
         * caller gets no handle, so none may stay open (on Windows it would
         * keep the name from being removed). */
        if (inner)
            f->inner->file_close(inner);
        return rc;
    }
    ff = xmalloc(sizeof *ff);
    ff->f = f;
    ff->inner = inner;
    copy_name(ff->name, name);
    ff->created = (flags & KSVC_OPEN_CREATE_NEW) != 0;
    if (ff->created) {
        /* A new name is not durable until the file is synced. */
        set_volatile(f, name, 1);
        add_event(f, FOP_FILE_OPEN, name, NULL);
    }
    *out = (ksvc_file *)ff;
    return KSVC_OK;
}

static int m_payload_open(const ksvc_platform *p, const char *path,
                          ksvc_file **out)
{
    fault_platform *f = of(p);
    int error, rc;
    fault_file *ff;
    ksvc_file *inner = NULL;

    if (begin_call(f, FOP_PAYLOAD_OPEN, path, &error) != PASS)
        return injected(f, FOP_PAYLOAD_OPEN, error);
    rc = passed(f, f->inner->payload_open(f->inner, path, &inner));
    if (rc != KSVC_OK) {
        if (inner) /* [backends] as in m_file_open */
            f->inner->file_close(inner);
        return rc;
    }
    ff = xmalloc(sizeof *ff);
    ff->f = f;
    ff->inner = inner;
    copy_name(ff->name, path);
    ff->created = 0;
    *out = (ksvc_file *)ff;
    return KSVC_OK;
}

static int m_file_read(ksvc_file *file, uint64_t offset, void *buf,
                       size_t size, size_t *got)
{
    fault_file *ff = (fault_file *)file;
    fault_platform *f = ff->f;
    int error;

    if (begin_call(f, FOP_FILE_READ, ff->name, &error) != PASS) {
        *got = 0;
        return injected(f, FOP_FILE_READ, error);
    }
    if (f->short_reads && size > f->short_reads)
        size = f->short_reads;
    return passed(f, f->inner->file_read(ff->inner, offset, buf, size, got));
}

static int m_file_write(ksvc_file *file, uint64_t offset, const void *buf,
                        size_t size)
{
    fault_file *ff = (fault_file *)file;
    fault_platform *f = ff->f;
    int error, rc;
    verdict v = begin_call(f, FOP_FILE_WRITE, ff->name, &error);

    if (v == FAIL)
        return injected(f, FOP_FILE_WRITE, error);
    if (v == TEAR) {
        /* The first part reaches the file, then the failure. */
        size_t part = torn_part(f, size);
        if (part > 0 &&
            f->inner->file_write(ff->inner, offset, buf, part) == KSVC_OK) {
            set_volatile(f, ff->name, 1);
            add_event(f, FOP_FILE_WRITE, ff->name, NULL)->torn = 1;
        }
        return injected(f, FOP_FILE_WRITE, error);
    }
    rc = passed(f, f->inner->file_write(ff->inner, offset, buf, size));
    if (rc == KSVC_OK) {
        set_volatile(f, ff->name, 1);
        add_event(f, FOP_FILE_WRITE, ff->name, NULL);
    }
    return rc;
}

/* A failed write-back drops the file's dirty pages: what the disk keeps
 * of the file is zeros, and a later sync succeeds without bringing the
 * data back.  Every file the core syncs it made itself (CREATE_NEW), so
 * all of its bytes are the unsynced ones; a file opened for reading is
 * left alone. */
static void lose_written_data(fault_file *ff)
{
    static const unsigned char zeros[4096];
    uint64_t size = 0, offset;
    size_t chunk;

    if (!ff->created ||
        ff->f->inner->file_size(ff->inner, &size) != KSVC_OK)
        return;
    for (offset = 0; offset < size; offset += chunk) {
        chunk = size - offset < sizeof zeros ? (size_t)(size - offset)
                                             : sizeof zeros;
        if (ff->f->inner->file_write(ff->inner, offset, zeros, chunk) !=
            KSVC_OK)
            return;
    }
    (void)ff->f->inner->file_sync(ff->inner);
}

static int m_file_sync(ksvc_file *file)
{
    fault_file *ff = (fault_file *)file;
    fault_platform *f = ff->f;
    int error, rc;
    verdict v;

    v = begin_call(f, FOP_FILE_SYNC, ff->name, &error);
    if (v == LOSE)
        lose_written_data(ff);
    if (v != PASS)
        return injected(f, FOP_FILE_SYNC, error);
    rc = passed(f, f->inner->file_sync(ff->inner));
    if (rc == KSVC_OK) {
        set_volatile(f, ff->name, 0);
        add_event(f, FOP_FILE_SYNC, ff->name, NULL);
    }
    return rc;
}

static int m_file_size(ksvc_file *file, uint64_t *size)
{
    fault_file *ff = (fault_file *)file;
    fault_platform *f = ff->f;
    int error;

    if (begin_call(f, FOP_FILE_SIZE, ff->name, &error) != PASS)
        return injected(f, FOP_FILE_SIZE, error);
    return passed(f, f->inner->file_size(ff->inner, size));
}

static int m_file_close(ksvc_file *file)
{
    fault_file *ff = (fault_file *)file;
    fault_platform *f = ff->f;
    int error, rc;
    verdict v = begin_call(f, FOP_FILE_CLOSE, ff->name, &error);

    /* The handle is gone whatever happens (platform.h), and a dead process
     * has its files closed too. */
    rc = f->inner->file_close(ff->inner);
    free(ff);
    if (v != PASS)
        return injected(f, FOP_FILE_CLOSE, error);
    return passed(f, rc);
}

static int m_stat(const ksvc_platform *p, const char *name,
                  ksvc_file_info *info)
{
    fault_platform *f = of(p);
    int error;

    if (begin_call(f, FOP_STAT, name, &error) != PASS)
        return injected(f, FOP_STAT, error);
    return passed(f, f->inner->stat(f->inner, name, info));
}

static int m_rename(const ksvc_platform *p, const char *from, const char *to)
{
    fault_platform *f = of(p);
    int error, rc, source_volatile;

    if (begin_call(f, FOP_RENAME, from, &error) != PASS)
        return injected(f, FOP_RENAME, error);
    source_volatile = fault_name_volatile(f, from);
    rc = passed(f, f->inner->rename(f->inner, from, to));
    if (rc == KSVC_OK) {
        add_event(f, FOP_RENAME, from, to)->source_volatile = source_volatile;
        set_volatile(f, from, 0);
        set_volatile(f, to, source_volatile);
    }
    return rc;
}

static int m_remove(const ksvc_platform *p, const char *name)
{
    fault_platform *f = of(p);
    int error, rc;

    if (begin_call(f, FOP_REMOVE, name, &error) != PASS)
        return injected(f, FOP_REMOVE, error);
    rc = passed(f, f->inner->remove(f->inner, name));
    if (rc == KSVC_OK) {
        set_volatile(f, name, 0);
        add_event(f, FOP_REMOVE, name, NULL);
    }
    return rc;
}

static int m_hard_link(const ksvc_platform *p, const char *existing,
                       const char *new_name)
{
    fault_platform *f = of(p);
    int error, rc, source_volatile;

    if (begin_call(f, FOP_HARD_LINK, existing, &error) != PASS)
        return injected(f, FOP_HARD_LINK, error);
    if (f->no_hard_links)
        return injected(f, FOP_HARD_LINK, KSVC_E_UNSUPPORTED);
    source_volatile = fault_name_volatile(f, existing);
    rc = passed(f, f->inner->hard_link(f->inner, existing, new_name));
    if (rc == KSVC_OK) {
        add_event(f, FOP_HARD_LINK, existing, new_name)->source_volatile =
            source_volatile;
        set_volatile(f, new_name, source_volatile);
    }
    return rc;
}

static int m_list(const ksvc_platform *p, ksvc_list_fn fn, void *arg)
{
    fault_platform *f = of(p);
    int error;

    if (begin_call(f, FOP_LIST, NULL, &error) != PASS)
        return injected(f, FOP_LIST, error);
    return passed(f, f->inner->list(f->inner, fn, arg));
}

static int m_full_path(const ksvc_platform *p, const char *name, char *buf,
                       size_t size)
{
    fault_platform *f = of(p);
    int error;

    if (begin_call(f, FOP_FULL_PATH, name, &error) != PASS)
        return injected(f, FOP_FULL_PATH, error);
    return passed(f, f->inner->full_path(f->inner, name, buf, size));
}

static int m_reg_read(const ksvc_platform *p, const char *key,
                      const char *name, uint32_t *type, void *buf,
                      size_t *size)
{
    fault_platform *f = of(p);
    int error;

    if (begin_call(f, FOP_REG_READ, name, &error) != PASS)
        return injected(f, FOP_REG_READ, error);
    return passed(f, f->inner->reg_read(f->inner, key, name, type, buf, size));
}

static int m_reg_write(const ksvc_platform *p, const char *key,
                       const ksvc_reg_change *changes, size_t count)
{
    fault_platform *f = of(p);
    int error, rc;
    verdict v = begin_call(f, FOP_REG_WRITE, key, &error);

    if (v == FAIL)
        return injected(f, FOP_REG_WRITE, error);
    if (v == TEAR) {
        /* A backend that writes value by value stopped part way. */
        size_t part = torn_part(f, count);
        if (part > 0 &&
            f->inner->reg_write(f->inner, key, changes, part) == KSVC_OK)
            log_reg_write(f, key, changes, part, 1);
        return injected(f, FOP_REG_WRITE, error);
    }
    rc = passed(f, f->inner->reg_write(f->inner, key, changes, count));
    if (rc == KSVC_OK)
        log_reg_write(f, key, changes, count, 0);
    return rc;
}

static int m_reg_key_exists(const ksvc_platform *p, const char *key,
                            int *exists)
{
    fault_platform *f = of(p);
    int error;

    if (begin_call(f, FOP_REG_KEY_EXISTS, key, &error) != PASS)
        return injected(f, FOP_REG_KEY_EXISTS, error);
    return passed(f, f->inner->reg_key_exists(f->inner, key, exists));
}

static int m_arch(const ksvc_platform *p, ksvc_arch *arch)
{
    fault_platform *f = of(p);
    int error;

    if (begin_call(f, FOP_ARCH, NULL, &error) != PASS)
        return injected(f, FOP_ARCH, error);
    return passed(f, f->inner->arch(f->inner, arch));
}

static int m_elevated(const ksvc_platform *p, int *elevated)
{
    fault_platform *f = of(p);
    int error;

    if (begin_call(f, FOP_ELEVATED, NULL, &error) != PASS)
        return injected(f, FOP_ELEVATED, error);
    return passed(f, f->inner->elevated(f->inner, elevated));
}

static int m_lock(const ksvc_platform *p, unsigned timeout_ms)
{
    fault_platform *f = of(p);
    int error;

    if (begin_call(f, FOP_LOCK, NULL, &error) != PASS)
        return injected(f, FOP_LOCK, error);
    return passed(f, f->inner->lock(f->inner, timeout_ms));
}

static int m_lock_mode(const ksvc_platform *p, unsigned mode,
                       unsigned timeout_ms)
{
    fault_platform *f = of(p);
    int error;

    if (begin_call(f, FOP_LOCK_MODE, NULL, &error) != PASS)
        return injected(f, FOP_LOCK_MODE, error);
    return passed(f, f->inner->lock_mode(f->inner, mode, timeout_ms));
}

static int m_reg_list(const ksvc_platform *p, const char *key,
                      ksvc_reg_list_fn fn, void *arg)
{
    fault_platform *f = of(p);
    int error;

    if (begin_call(f, FOP_REG_LIST, key, &error) != PASS)
        return injected(f, FOP_REG_LIST, error);
    return passed(f, f->inner->reg_list(f->inner, key, fn, arg));
}

static int m_write_access(const ksvc_platform *p, const char *name,
                          unsigned *others, char *who, size_t who_size,
                          char *fix, size_t fix_size)
{
    fault_platform *f = of(p);
    int error;

    if (begin_call(f, FOP_WRITE_ACCESS, name, &error) != PASS)
        return injected(f, FOP_WRITE_ACCESS, error);
    return passed(f, f->inner->write_access(f->inner, name, others, who,
                                            who_size, fix, fix_size));
}

/* The wrapper's destroy frees the wrapper only: the inner table belongs to
 * whoever made it. */
static void m_destroy(ksvc_platform *p)
{
    fault_free(of(p));
}

static int m_unlock(const ksvc_platform *p)
{
    fault_platform *f = of(p);
    int error;

    if (begin_call(f, FOP_UNLOCK, NULL, &error) != PASS)
        return injected(f, FOP_UNLOCK, error);
    return passed(f, f->inner->unlock(f->inner));
}

static int m_sha256_begin(const ksvc_platform *p, void **state)
{
    fault_platform *f = of(p);
    fault_hash *h;
    int error, rc;

    if (begin_call(f, FOP_SHA256_BEGIN, NULL, &error) != PASS)
        return injected(f, FOP_SHA256_BEGIN, error);
    h = xmalloc(sizeof *h);
    h->f = f;
    h->inner = NULL;
    rc = passed(f, f->inner->sha256_begin(f->inner, &h->inner));
    if (rc != KSVC_OK) {
        free(h);
        return rc;
    }
    *state = h;
    return KSVC_OK;
}

static int m_sha256_update(void *state, const void *data, size_t size)
{
    fault_hash *h = state;
    fault_platform *f = h->f;
    int error;

    if (begin_call(f, FOP_SHA256_UPDATE, NULL, &error) != PASS)
        return injected(f, FOP_SHA256_UPDATE, error);
    return passed(f, f->inner->sha256_update(h->inner, data, size));
}

static int m_sha256_end(void *state, unsigned char digest[32])
{
    fault_hash *h = state;
    fault_platform *f = h->f;
    int error, rc;
    verdict v = begin_call(f, FOP_SHA256_END, NULL, &error);

    /* The state is freed whatever happens (platform.h). */
    rc = f->inner->sha256_end(h->inner, v == PASS ? digest : NULL);
    free(h);
    if (v != PASS)
        return injected(f, FOP_SHA256_END, error);
    return passed(f, rc);
}

/* ---- setting up ---- */

fault_platform *fault_wrap(const ksvc_platform *inner)
{
    fault_platform *f = xmalloc(sizeof *f);
    ksvc_platform *t = &f->table;

    memset(f, 0, sizeof *f);
    f->at_op = -1;
    f->inner = inner;
    /* Only the methods of this header's version are known here. */
    t->version = inner->version < KSVC_PLATFORM_VERSION ? inner->version
                                                         : KSVC_PLATFORM_VERSION;
    if (t->version >= 2) {
        t->destroy = m_destroy;
        t->reg_list = m_reg_list;
        t->lock_mode = m_lock_mode;
    }
    if (t->version >= 3)
        t->write_access = m_write_access;
    t->name = "fault";
    t->data = f;
    t->last_error = m_last_error;
    t->file_open = m_file_open;
    t->payload_open = m_payload_open;
    t->file_read = m_file_read;
    t->file_write = m_file_write;
    t->file_sync = m_file_sync;
    t->file_size = m_file_size;
    t->file_close = m_file_close;
    t->stat = m_stat;
    t->rename = m_rename;
    t->remove = m_remove;
    t->hard_link = m_hard_link;
    t->list = m_list;
    t->full_path = m_full_path;
    t->reg_read = m_reg_read;
    t->reg_write = m_reg_write;
    t->reg_key_exists = m_reg_key_exists;
    t->arch = m_arch;
    t->elevated = m_elevated;
    t->lock = m_lock;
    t->unlock = m_unlock;
    /* Hash through the backend only when it does: otherwise the core uses
     * its own, exactly as it would without the wrapper. */
    if (inner->sha256_begin && inner->sha256_update && inner->sha256_end) {
        t->sha256_begin = m_sha256_begin;
        t->sha256_update = m_sha256_update;
        t->sha256_end = m_sha256_end;
    }
    return f;
}

void fault_free(fault_platform *f)
{
    if (!f)
        return;
    free_events(f);
    free(f->volatiles);
    free(f->ops);
    free(f);
}

ksvc_platform *fault_table(fault_platform *f)
{
    return &f->table;
}

void fault_plan_op(fault_platform *f, fault_kind kind, fault_op op,
                   int error)
{
    fault_plan(f, kind, 0, error, 0);
    f->at_op = (int)op;
}

void fault_plan(fault_platform *f, fault_kind kind, unsigned k, int error,
                int persistent)
{
    f->at_op = -1;
    f->kind = kind;
    f->at = k;
    f->error = error;
    f->persistent = persistent;
    f->fired = 0;
}

void fault_plan_crash(fault_platform *f, unsigned k)
{
    f->crash_at = k;
}

void fault_reset(fault_platform *f)
{
    f->at_op = -1;
    f->crash_at = 0;
    f->kind = FAULT_NONE;
    f->at = 0;
    f->error = 0;
    f->persistent = 0;
    f->fired = 0;
    f->crashed = 0;
    f->failing_error = 0;
    f->after_error = 0;
    f->calls = 0;
    f->last_injected = 0;
    free_events(f);
}

void fault_set_observer(fault_platform *f, fault_observer fn, void *arg)
{
    f->observer = fn;
    f->observer_arg = arg;
}

void fault_set_short_reads(fault_platform *f, size_t most)
{
    f->short_reads = most;
}

void fault_set_torn_part(fault_platform *f, size_t part)
{
    f->torn_part = part;
}

void fault_set_no_hard_links(fault_platform *f, int none)
{
    f->no_hard_links = none;
}

unsigned fault_calls(const fault_platform *f)
{
    return f->calls;
}

int fault_fired(const fault_platform *f)
{
    return f->fired;
}

fault_op fault_op_of_call(const fault_platform *f, unsigned k)
{
    if (k == 0 || k > f->calls)
        return FOP_COUNT;
    return (fault_op)f->ops[k - 1];
}

fault_op *fault_ops_of_calls(const fault_platform *f)
{
    fault_op *ops = xmalloc((f->calls + 1) * sizeof *ops);
    unsigned k;

    for (k = 1; k <= f->calls; k++)
        ops[k - 1] = (fault_op)f->ops[k - 1];
    return ops;
}

size_t fault_event_count(const fault_platform *f)
{
    return f->event_count;
}

const fault_event *fault_event_at(const fault_platform *f, size_t i)
{
    return i < f->event_count ? &f->events[i] : NULL;
}

int fault_class_error(fault_class c, fault_op op)
{
    switch (c) {
    case FAULT_CLASS_NO_SPACE:
        return KSVC_E_NO_SPACE;
    case FAULT_CLASS_ACCESS:
        return KSVC_E_ACCESS;
    case FAULT_CLASS_BUSY:
        return op == FOP_LOCK ? KSVC_E_BUSY : KSVC_E_SHARING;
    case FAULT_CLASS_IO:
    default:
        return KSVC_E_IO;
    }
}

const char *fault_class_name(fault_class c)
{
    static const char *const names[] = {"no-space", "access", "io", "busy"};

    return c < FAULT_CLASS_COUNT ? names[c] : "?";
}

const char *fault_op_name(fault_op op)
{
    static const char *const names[] = {
        "file_open", "payload_open", "file_read", "file_write", "file_sync",
        "file_size", "file_close", "stat", "rename", "remove", "hard_link",
        "list", "full_path", "reg_read", "reg_write", "reg_key_exists",
        "arch", "elevated", "lock", "unlock", "sha256_begin",
        "sha256_update", "sha256_end", "reg_list", "lock_mode",
        "write_access"};

    return op < FOP_COUNT ? names[op] : "?";
}
