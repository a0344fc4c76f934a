/*
 * The Win32 backend: SHA-256 through CNG (bcrypt.dll).
 */
#include "internal.h"

/* ------------------------------------------------------------------------ */
/* Hashing                                                                  */
/* ------------------------------------------------------------------------ */

/* SHA-256 through CNG (bcrypt.dll), which uses the processor's SHA
 * instructions where it has them: the core's portable SHA-256 is several
 * times slower on a 128 MiB kernel. */

/* NTSTATUS codes, compared as DWORD (headers define some unsigned). */
#define NT_NO_MEMORY 0xC0000017UL
#define NT_NOT_FOUND 0xC0000225UL

/* BCryptHashData takes at most a ULONG at a time. */
#define HASH_FEED_MAX 0x40000000u

typedef struct hash_state {
    backend *b;
    BCRYPT_HASH_HANDLE handle;
} hash_state;

/* The library's code for an NTSTATUS of CNG. */
static int map_ntstatus(NTSTATUS status)
{
    if ((DWORD)status == NT_NO_MEMORY)
        return KSVC_E_NO_MEMORY;
    if ((DWORD)status == NT_NOT_FOUND)
        return KSVC_E_UNSUPPORTED;
    return KSVC_E_IO;
}

static int fail_hash(backend *b, NTSTATUS status, const char *call)
{
    return fail(b, map_ntstatus(status), (DWORD)status, call, "SHA-256");
}

int w32_sha256_begin(const ksvc_platform *p, void **state)
{
    backend *b = backend_of(p);
    hash_state *h;
    NTSTATUS st;

    *state = NULL;
    if (b->sha256 == NULL) {
        st = os_BCryptOpenAlgorithmProvider(&b->sha256, BCRYPT_SHA256_ALGORITHM,
                                            NULL, 0);
        if (!BCRYPT_SUCCESS(st)) {
            b->sha256 = NULL;
            return fail_hash(b, st, "BCryptOpenAlgorithmProvider");
        }
    }
    h = calloc(1, sizeof *h);
    if (h == NULL)
        return fail(b, KSVC_E_NO_MEMORY, 0, "hash state", "SHA-256");
    h->b = b;
    /* No object buffer: CNG allocates it (Windows 7 and later). */
    st = os_BCryptCreateHash(b->sha256, &h->handle, NULL, 0, NULL, 0, 0);
    if (!BCRYPT_SUCCESS(st)) {
        free(h);
        return fail_hash(b, st, "BCryptCreateHash");
    }
    *state = h;
    return KSVC_OK;
}

int w32_sha256_update(void *state, const void *data, size_t size)
{
    hash_state *h = state;
    const unsigned char *at = data;

    while (size > 0) {
        ULONG take = size > HASH_FEED_MAX ? HASH_FEED_MAX : (ULONG)size;
        NTSTATUS st = os_BCryptHashData(h->handle, (PUCHAR)at, take, 0);
        if (!BCRYPT_SUCCESS(st))
            return fail_hash(h->b, st, "BCryptHashData");
        at += take;
        size -= take;
    }
    return KSVC_OK;
}

int w32_sha256_end(void *state, unsigned char digest[32])
{
    hash_state *h = state;
    int rc = KSVC_OK;

    if (digest != NULL) {
        NTSTATUS st = os_BCryptFinishHash(h->handle, digest, 32, 0);
        if (!BCRYPT_SUCCESS(st))
            rc = fail_hash(h->b, st, "BCryptFinishHash");
    }
    /* Destroyed whatever happened: the state is gone on return. */
    os_BCryptDestroyHash(h->handle);
    free(h);
    return rc;
}
