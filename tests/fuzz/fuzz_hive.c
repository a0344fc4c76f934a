/*
 * libFuzzer target: the POSIX backend's .reg hive parser.  Any input must be
 * parsed or refused cleanly; an accepted hive must serialize, parse again
 * and come back equal (parse(serialize(h)) == h, hive.h's promise).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "hive.h"

#include <kservice/error.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ksvc__hive *hive = NULL, *again = NULL;
    char err[256], *text = NULL;
    size_t len = 0;

    if (ksvc__hive_parse((const char *)data, size, &hive, err, sizeof err) !=
        KSVC_OK)
        return 0;
    if (ksvc__hive_serialize(hive, &text, &len) != KSVC_OK)
        abort();
    if (ksvc__hive_parse(text, len, &again, err, sizeof err) != KSVC_OK ||
        !ksvc__hive_equal(hive, again))
        abort();
    ksvc__hive_free(again);
    ksvc__hive_free(hive);
    free(text);
    return 0;
}
