/* SHA-256 through the platform when it offers one, else the built-in. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int platform_hashes(const ksvc_platform *p)
{
    return p->sha256_begin && p->sha256_update && p->sha256_end;
}

int ksvc__hasher_begin(ksvc__hasher *h, const ksvc_platform *p)
{
    h->p = p;
    h->platform_state = NULL;
    if (platform_hashes(p))
        return p->sha256_begin(p, &h->platform_state);
    ksvc__sha256_init(&h->builtin);
    return KSVC_OK;
}

int ksvc__hasher_update(ksvc__hasher *h, const void *data, size_t size)
{
    if (platform_hashes(h->p))
        return h->p->sha256_update(h->platform_state, data, size);
    ksvc__sha256_update(&h->builtin, data, size);
    return KSVC_OK;
}

static void to_hex(const unsigned char digest[32], char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    unsigned i;

    for (i = 0; i < 32; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[64] = '\0';
}

int ksvc__hasher_end(ksvc__hasher *h, char hex[65])
{
    unsigned char digest[32];
    int err = KSVC_OK;

    if (platform_hashes(h->p)) {
        err = h->p->sha256_end(h->platform_state, digest);
        h->platform_state = NULL;
    } else {
        ksvc__sha256_final(&h->builtin, digest);
    }
    if (!err)
        to_hex(digest, hex);
    return err;
}

void ksvc__hasher_abandon(ksvc__hasher *h)
{
    if (platform_hashes(h->p) && h->platform_state)
        h->p->sha256_end(h->platform_state, NULL);
    h->platform_state = NULL;
}

int ksvc__sha256_hex_valid(const char *hex)
{
    size_t i;

    for (i = 0; i < 64; i++) {
        char c = hex[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
              (c >= 'A' && c <= 'F')))
            return 0;
    }
    return hex[64] == '\0';
}

/* Hash an open file from its start; on success *size holds its length. */
static int hash_open_file(ksvc_context *ctx, ksvc_file *f, const char *label,
                          unsigned char *buf, char hex[65], uint64_t *size)
{
    const ksvc_platform *p = ctx->p;
    ksvc__hasher h;
    uint64_t offset = 0;
    size_t got;
    int err = ksvc__hasher_begin(&h, p);

    if (err)
        return ksvc__platform_fail(ctx, err, "starting SHA-256");
    for (;;) {
        err = p->file_read(f, offset, buf, KSVC__CHUNK, &got);
        if (err) {
            ksvc__hasher_abandon(&h);
            return ksvc__platform_fail(ctx, err, label);
        }
        if (got == 0)
            break;
        err = ksvc__hasher_update(&h, buf, got);
        if (err) {
            ksvc__hasher_abandon(&h);
            return ksvc__platform_fail(ctx, err, "computing SHA-256");
        }
        offset += got;
    }
    *size = offset;
    err = ksvc__hasher_end(&h, hex);
    return err ? ksvc__platform_fail(ctx, err, "computing SHA-256") : KSVC_OK;
}

int ksvc__hash_slot(ksvc_context *ctx, const char *name, char hex[65],
                    uint64_t *size)
{
    const ksvc_platform *p = ctx->p;
    unsigned char *buf;
    ksvc_file *f;
    int err = p->file_open(p, name, KSVC_OPEN_READ, &f);

    if (err)
        return ksvc__platform_fail(ctx, err, name);
    buf = malloc(KSVC__CHUNK);
    if (!buf) {
        p->file_close(f);
        return ksvc__fail(ctx, KSVC_E_NO_MEMORY, "hashing %s", name);
    }
    err = hash_open_file(ctx, f, name, buf, hex, size);
    free(buf);
    p->file_close(f);
    return err;
}
