/*
 * The POSIX mock backend: SHA-256 through OpenSSL's libcrypto when it is
 * built with it (else the core's own).
 */
#include "internal.h"

/* ------------------------------------------------------------------------ */
/* SHA-256 through libcrypto                                                */
/* ------------------------------------------------------------------------ */

#ifdef KSVC_HAVE_LIBCRYPTO
int backend_sha256_begin(const ksvc_platform *p, void **state)
{
    posix_backend *b = backend_of(p);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    *state = NULL;
    if (ctx == NULL)
        return set_error(b, KSVC_E_NO_MEMORY, ENOMEM, "sha256: out of memory");
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return set_error(b, KSVC_E_UNSUPPORTED, 0,
                         "sha256: libcrypto refused EVP_sha256");
    }
    *state = ctx;
    return KSVC_OK;
}

int backend_sha256_update(void *state, const void *data, size_t size)
{
    if (size == 0)
        return KSVC_OK;
    return EVP_DigestUpdate((EVP_MD_CTX *)state, data, size) == 1 ? KSVC_OK
                                                                   : KSVC_E_IO;
}

int backend_sha256_end(void *state, unsigned char digest[32])
{
    EVP_MD_CTX *ctx = state;
    unsigned char full[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    int rc = KSVC_OK;

    if (digest != NULL) {
        if (EVP_DigestFinal_ex(ctx, full, &len) != 1 || len != 32)
            rc = KSVC_E_IO;
        else
            memcpy(digest, full, 32);
    }
    EVP_MD_CTX_free(ctx);
    return rc;
}
#endif
