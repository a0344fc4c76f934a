/*
 * The POSIX backend's fast copy path (platform/posix/fastcopy.c): SHA-256 on
 * a second core must give exactly the digest of the bytes fed in, in order,
 * whatever the chunk sizes, survive abandonment and wrapping twice; and
 * write-behind must leave an installed slot byte for byte the payload.
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

#include <kservice/kservice.h>
#include <kservice/posix.h>

#include "fastcopy.h"
#include "internal.h"
#include "machine.h"

/* Bigger than the worker's whole ring (2 x 512 KiB), not a multiple of
 * anything. */
#define DATA_SIZE ((size_t)(5u << 20) + 12345u)

typedef struct fixture {
    test_machine *machine;
    ksvc_platform *p;
    unsigned char *data;
    unsigned char expected[32];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    uint32_t x = 2463534242u;
    ksvc__sha256 s;
    size_t i;

    assert_non_null(f);
    f->machine = test_machine_new(NULL);
    f->p = test_machine_platform(f->machine);
    f->data = malloc(DATA_SIZE);
    assert_non_null(f->data);
    for (i = 0; i < DATA_SIZE; i++) { /* xorshift32 */
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        f->data[i] = (unsigned char)x;
    }
    ksvc__sha256_init(&s);
    ksvc__sha256_update(&s, f->data, DATA_SIZE);
    ksvc__sha256_final(&s, f->expected);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    test_machine_free(f->machine);
    free(f->data);
    free(f);
    return 0;
}

/* Feed the data through the table in pieces that cycle through @p sizes. */
static void platform_digest(const ksvc_platform *p, const unsigned char *data,
                            size_t size, const size_t *sizes, size_t count,
                            unsigned char digest[32])
{
    void *h = NULL;
    size_t done = 0, k = 0;

    assert_int_equal(p->sha256_begin(p, &h), KSVC_OK);
    while (done < size) {
        size_t n = sizes[k++ % count];
        if (n > size - done)
            n = size - done;
        assert_int_equal(p->sha256_update(h, data + done, n), KSVC_OK);
        done += n;
    }
    assert_int_equal(p->sha256_end(h, digest), KSVC_OK);
}

static void skip_without_platform_hashing(const ksvc_platform *p)
{
    if (!p->sha256_begin)
        skip(); /* no libcrypto: the core's built-in hashes, no worker */
}

static void digest_matches_builtin_for_any_chunking(void **state)
{
    static const size_t odd[] = {1, 63, 4096, 300001, (1u << 20) + 7, 0, 5};
    static const size_t chunk[] = {1u << 20};
    static const size_t whole[] = {DATA_SIZE};
    fixture *f = *state;
    unsigned char digest[32];

    skip_without_platform_hashing(f->p);
    platform_digest(f->p, f->data, DATA_SIZE, chunk, 1, digest);
    assert_memory_equal(digest, f->expected, 32);
    platform_digest(f->p, f->data, DATA_SIZE, odd, 7, digest);
    assert_memory_equal(digest, f->expected, 32);
    platform_digest(f->p, f->data, DATA_SIZE, whole, 1, digest);
    assert_memory_equal(digest, f->expected, 32);
}

static void a_different_byte_gives_a_different_digest(void **state)
{
    static const size_t chunk[] = {1u << 20};
    fixture *f = *state;
    unsigned char digest[32];

    skip_without_platform_hashing(f->p);
    /* The last slot of the ring is hashed too, not dropped at the end. */
    f->data[DATA_SIZE - 1] ^= 1;
    platform_digest(f->p, f->data, DATA_SIZE, chunk, 1, digest);
    f->data[DATA_SIZE - 1] ^= 1;
    assert_memory_not_equal(digest, f->expected, 32);
}

static void abandoned_midway_then_a_fresh_digest_is_right(void **state)
{
    static const size_t chunk[] = {1u << 20};
    fixture *f = *state;
    unsigned char digest[32];
    void *h = NULL;

    skip_without_platform_hashing(f->p);
    assert_int_equal(f->p->sha256_begin(f->p, &h), KSVC_OK);
    assert_int_equal(f->p->sha256_update(h, f->data, 3u << 20), KSVC_OK);
    assert_int_equal(f->p->sha256_end(h, NULL), KSVC_OK);
    platform_digest(f->p, f->data, DATA_SIZE, chunk, 1, digest);
    assert_memory_equal(digest, f->expected, 32);
}

static void two_computations_at_once_stay_apart(void **state)
{
    fixture *f = *state;
    const size_t half = DATA_SIZE / 2;
    unsigned char d1[32], d2[32], e2[32];
    void *h1 = NULL, *h2 = NULL;
    ksvc__sha256 s;
    size_t done;

    skip_without_platform_hashing(f->p);
    ksvc__sha256_init(&s);
    ksvc__sha256_update(&s, f->data, half);
    ksvc__sha256_final(&s, e2);
    assert_int_equal(f->p->sha256_begin(f->p, &h1), KSVC_OK);
    assert_int_equal(f->p->sha256_begin(f->p, &h2), KSVC_OK);
    for (done = 0; done < DATA_SIZE; done += 65536) {
        size_t n = DATA_SIZE - done < 65536 ? DATA_SIZE - done : 65536;
        assert_int_equal(f->p->sha256_update(h1, f->data + done, n), KSVC_OK);
        if (done < half) {
            size_t m = half - done < n ? half - done : n;
            assert_int_equal(f->p->sha256_update(h2, f->data + done, m),
                             KSVC_OK);
        }
    }
    assert_int_equal(f->p->sha256_end(h2, d2), KSVC_OK);
    assert_int_equal(f->p->sha256_end(h1, d1), KSVC_OK);
    assert_memory_equal(d1, f->expected, 32);
    assert_memory_equal(d2, e2, 32);
}

static void wrapping_twice_changes_nothing(void **state)
{
    static const size_t chunk[] = {1u << 20};
    fixture *f = *state;
    int (*begin)(const ksvc_platform *, void **);
    unsigned char digest[32];

    skip_without_platform_hashing(f->p);
    begin = f->p->sha256_begin;
    ksvc__posix_hash_on_second_core(f->p);
    assert_ptr_equal(f->p->sha256_begin, begin);
    platform_digest(f->p, f->data, DATA_SIZE, chunk, 1, digest);
    assert_memory_equal(digest, f->expected, 32);
}

static void write_behind_on_a_closed_descriptor_is_harmless(void **state)
{
    (void)state;
    ksvc__posix_write_behind(-1, 0, 4096);
}

/* An install through the whole path (read, hash, write with write-behind,
 * sync, rename) leaves kernel byte for byte the payload, and the recorded
 * SHA-256 is the payload's. */
static void installed_kernel_is_the_payload(void **state)
{
    fixture *f = *state;
    ksvc_status st = KSVC_STATUS_INIT;
    const char *payload;
    ksvc_context *ctx;
    char path[4096], hex[65];
    unsigned char *back;
    FILE *in;
    size_t i;

    payload = test_machine_payload(f->machine, "big", 7u, DATA_SIZE);
    assert_int_equal(ksvc_open(&ctx, f->p, NULL), KSVC_OK);
    assert_int_equal(ksvc_install(ctx, payload, "5.15.153.1", NULL), KSVC_OK);
    assert_int_equal(f->p->full_path(f->p, "kernel", path, sizeof path),
                     KSVC_OK);
    back = malloc(DATA_SIZE + 1);
    assert_non_null(back);
    in = fopen(path, "rb");
    assert_non_null(in);
    assert_int_equal(fread(back, 1, DATA_SIZE + 1, in), DATA_SIZE);
    fclose(in);
    in = fopen(payload, "rb");
    assert_non_null(in);
    assert_int_equal(fread(f->data, 1, DATA_SIZE, in), DATA_SIZE);
    fclose(in);
    assert_memory_equal(back, f->data, DATA_SIZE);
    free(back);
    {
        ksvc__sha256 s;
        unsigned char d[32];
        ksvc__sha256_init(&s);
        ksvc__sha256_update(&s, f->data, DATA_SIZE);
        ksvc__sha256_final(&s, d);
        for (i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", d[i]);
    }
    st.flags = KSVC_STATUS_VERIFY;
    assert_int_equal(ksvc_status_get(ctx, &st), KSVC_OK);
    assert_true(st.kernel.intact);
    assert_string_equal(st.kernel.sha256, hex);
    ksvc_close(ctx);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(digest_matches_builtin_for_any_chunking),
        T(a_different_byte_gives_a_different_digest),
        T(abandoned_midway_then_a_fresh_digest_is_right),
        T(two_computations_at_once_stay_apart),
        T(wrapping_twice_changes_nothing),
        T(write_behind_on_a_closed_descriptor_is_harmless),
        T(installed_kernel_is_the_payload),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
