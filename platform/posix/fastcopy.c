/*
 * The POSIX backend's fast path for copying a payload into a slot file.
 *
 * The core copies a payload into a new slot file in 1 MiB chunks: read a
 * chunk, feed it to SHA-256, write it; then it syncs the file
 * (src/policy.c).  Done naively the three costs add up: the CPU hashes
 * while the disk idles, the disk writes at the final fsync while the CPU
 * idles, and with large payloads the dirty pages hit the kernel's dirty
 * limits so that every write stalls.  Two measures let them overlap (the
 * numbers are in README.md, "Performance"):
 *
 * Write-behind.  After each chunk is written the backend asks the kernel to
 * start writing that range to the disk now (sync_file_range with
 * SYNC_FILE_RANGE_WRITE: start, do not wait).  Every file the backend
 * writes through file_write is a new temporary that the core syncs before
 * renaming it into a slot, so this changes nothing but the timing; the hint
 * never waits and its failure is ignored, since the fsync that follows
 * reports any I/O error.
 *
 * SHA-256 on a second core.  The hashing methods are wrapped: an update
 * copies the bytes into a ring of two 512 KiB slots and returns, and a
 * worker thread feeds them, in order, to the backend's own SHA-256
 * (libcrypto).  The hash is still of exactly the bytes the core writes: they
 * are copied before the core's buffer is written or reused.  Memory stays
 * constant (the ring), whatever the payload size.  On a single-core machine,
 * or when the thread cannot start, hashing stays in the caller's thread.
 */
#define _GNU_SOURCE /* sync_file_range() on glibc */

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kservice/error.h>

#include "fastcopy.h"

/* ------------------------------------------------------------------------ */
/* Write-behind                                                             */
/* ------------------------------------------------------------------------ */

void ksvc__posix_write_behind(int fd, uint64_t offset, size_t size)
{
#if defined(__linux__) && defined(SYNC_FILE_RANGE_WRITE)
    (void)sync_file_range(fd, (off_t)offset, (off_t)size,
                          SYNC_FILE_RANGE_WRITE);
#else
    /* No portable way to start writeback without waiting: the final fsync
     * does all of it. */
    (void)fd;
    (void)offset;
    (void)size;
#endif
}

/* ------------------------------------------------------------------------ */
/* SHA-256 on a second core                                                 */
/* ------------------------------------------------------------------------ */

/* Two slots of half the core's 1 MiB chunk: the caller copies one while
 * the worker hashes the other, and any chunk of 512 KiB or more touches the
 * whole 1 MiB ring, so the memory used does not grow with the payload. */
#define SLOT_COUNT 2u
#define SLOT_SIZE (512u * 1024u)

typedef int (*sha_begin_fn)(const ksvc_platform *p, void **state);
typedef int (*sha_update_fn)(void *state, const void *data, size_t size);
typedef int (*sha_end_fn)(void *state, unsigned char digest[32]);

/* The backend's own methods, the same for every POSIX table. */
static pthread_mutex_t inner_lock = PTHREAD_MUTEX_INITIALIZER;
static sha_begin_fn inner_begin;
static sha_update_fn inner_update;
static sha_end_fn inner_end;

typedef struct async_sha {
    void *inner;          /* the backend's state: only the worker touches it
                             between begin and end */
    sha_update_fn update; /* the backend's methods */
    sha_end_fn end;
    int threaded;         /* 0: hash in the caller's thread */
    pthread_t worker;
    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t changed;
    unsigned char *ring;  /* SLOT_COUNT slots of SLOT_SIZE bytes */
    size_t used[SLOT_COUNT];
    int full[SLOT_COUNT]; /* a slot waits for the worker */
    int worker_waits;     /* the worker sleeps for a full slot */
    int caller_waits;     /* the caller sleeps for a free slot */
    unsigned next_fill;   /* the caller's next slot (caller only) */
    int stopping;         /* end was called: drain, then exit */
    int discard;          /* abandoned: drain without hashing */
    int err;              /* first failure of the backend's update */
} async_sha;

static void *hash_worker(void *arg)
{
    async_sha *a = arg;
    unsigned slot = 0;

    pthread_mutex_lock(&a->lock);
    for (;;) {
        int err = KSVC_OK;
        while (!a->full[slot] && !a->stopping) {
            a->worker_waits = 1;
            pthread_cond_wait(&a->changed, &a->lock);
            a->worker_waits = 0;
        }
        if (!a->full[slot])
            break; /* stopping, and every slot hashed */
        if (!a->err && !a->discard) {
            pthread_mutex_unlock(&a->lock);
            err = a->update(a->inner, a->ring + slot * SLOT_SIZE,
                            a->used[slot]);
            pthread_mutex_lock(&a->lock);
        }
        if (err && !a->err)
            a->err = err;
        a->full[slot] = 0;
        if (a->caller_waits) /* wake only a sleeper: no futex otherwise */
            pthread_cond_signal(&a->changed);
        slot = (slot + 1) % SLOT_COUNT;
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

/* Start the worker with every signal blocked: signals stay with the
 * caller's threads.  0 when it runs. */
static int start_worker(async_sha *a)
{
    sigset_t all, old;
    int rc;

    a->ring = malloc((size_t)SLOT_COUNT * SLOT_SIZE);
    if (!a->ring)
        return -1;
    if (pthread_mutex_init(&a->lock, NULL) != 0)
        goto no_lock;
    if (pthread_cond_init(&a->changed, NULL) != 0)
        goto no_cond;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&a->worker, NULL, hash_worker, a);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0)
        return 0;
    pthread_cond_destroy(&a->changed);
no_cond:
    pthread_mutex_destroy(&a->lock);
no_lock:
    free(a->ring);
    a->ring = NULL;
    return -1;
}

static int async_begin(const ksvc_platform *p, void **state)
{
    async_sha *a = calloc(1, sizeof *a);
    sha_begin_fn begin;
    int rc;

    *state = NULL;
    if (!a)
        return KSVC_E_NO_MEMORY;
    pthread_mutex_lock(&inner_lock);
    begin = inner_begin;
    a->update = inner_update;
    a->end = inner_end;
    pthread_mutex_unlock(&inner_lock);
    rc = begin(p, &a->inner);
    if (rc != KSVC_OK) {
        free(a);
        return rc;
    }
    a->threaded = start_worker(a) == 0;
    *state = a;
    return KSVC_OK;
}

static int async_update(void *state, const void *data, size_t size)
{
    async_sha *a = state;
    const unsigned char *bytes = data;

    if (!a->threaded)
        return a->update(a->inner, data, size);
    while (size > 0) {
        unsigned slot = a->next_fill;
        size_t n = size < SLOT_SIZE ? size : SLOT_SIZE;
        int err;
        pthread_mutex_lock(&a->lock);
        while (a->full[slot]) {
            a->caller_waits = 1;
            pthread_cond_wait(&a->changed, &a->lock);
            a->caller_waits = 0;
        }
        err = a->err;
        pthread_mutex_unlock(&a->lock);
        if (err)
            return err;
        memcpy(a->ring + slot * SLOT_SIZE, bytes, n);
        pthread_mutex_lock(&a->lock);
        a->used[slot] = n;
        a->full[slot] = 1;
        if (a->worker_waits)
            pthread_cond_signal(&a->changed);
        pthread_mutex_unlock(&a->lock);
        a->next_fill = (slot + 1) % SLOT_COUNT;
        bytes += n;
        size -= n;
    }
    return KSVC_OK;
}

static int async_end(void *state, unsigned char digest[32])
{
    async_sha *a = state;
    int err = KSVC_OK, rc;

    if (a->threaded) {
        pthread_mutex_lock(&a->lock);
        a->stopping = 1;
        a->discard = digest == NULL;
        pthread_cond_broadcast(&a->changed);
        pthread_mutex_unlock(&a->lock);
        pthread_join(a->worker, NULL);
        err = a->err; /* the worker is gone: no lock needed */
        pthread_cond_destroy(&a->changed);
        pthread_mutex_destroy(&a->lock);
        free(a->ring);
    }
    /* After a failed update the computation is abandoned, never finished
     * over a gap. */
    rc = a->end(a->inner, err ? NULL : digest);
    free(a);
    return err ? err : rc;
}

static int more_than_one_cpu(void)
{
#ifdef _SC_NPROCESSORS_ONLN
    return sysconf(_SC_NPROCESSORS_ONLN) > 1;
#else
    return 0;
#endif
}

void ksvc__posix_hash_on_second_core(ksvc_platform *table)
{
    if (!table->sha256_begin || !table->sha256_update || !table->sha256_end ||
        table->sha256_begin == async_begin || !more_than_one_cpu())
        return;
    pthread_mutex_lock(&inner_lock);
    inner_begin = table->sha256_begin;
    inner_update = table->sha256_update;
    inner_end = table->sha256_end;
    pthread_mutex_unlock(&inner_lock);
    table->sha256_begin = async_begin;
    table->sha256_update = async_update;
    table->sha256_end = async_end;
}
