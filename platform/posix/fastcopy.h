/*
 * The POSIX backend's fast path for copying a payload into a slot file:
 * write-behind and SHA-256 on a second core (see fastcopy.c).
 */
#ifndef KSVC_POSIX_FASTCOPY_H
#define KSVC_POSIX_FASTCOPY_H

#include <stddef.h>
#include <stdint.h>

#include <kservice/platform.h>

/* Start writing @p size bytes at @p offset of the open file @p fd to the
 * disk and return without waiting.  Only a hint: it never fails and
 * promises nothing; durability still comes from the fsync that follows. */
void ksvc__posix_write_behind(int fd, uint64_t offset, size_t size);

/* Make the hashing methods of @p table hash on a second core: each update
 * is copied into a small ring and a worker thread feeds the table's own
 * methods, so the caller can read and write the next chunk meanwhile.
 * Does nothing when the table has no hashing methods, when they are
 * already wrapped, or on a single-core machine. */
void ksvc__posix_hash_on_second_core(ksvc_platform *table);

#endif /* KSVC_POSIX_FASTCOPY_H */
