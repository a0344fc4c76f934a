/*
 * A simulated or real machine for the test suites, on the backend under
 * test.  tests/machine_posix.c implements it over the POSIX mock backend (a
 * fresh temporary ROOT per machine); tests/machine_win32.c over the Win32
 * backend (the Wine prefix's registry and System32 tools folder, reset for
 * each machine).  Suites written against this header and the public API run
 * unchanged on every backend.
 */
#ifndef KSVC_TEST_MACHINE_H
#define KSVC_TEST_MACHINE_H

#include <stddef.h>
#include <stdint.h>

#include <kservice/kservice.h>
#include <kservice/posix.h>

typedef struct test_machine test_machine;

/* A fresh machine with the given facts (NULL: the defaults of
 * KSVC_MOCK_MACHINE_INIT), an empty tools folder and no Lxss values.
 * Aborts the test on failure. */
test_machine *test_machine_new(const ksvc_mock_machine *facts);
void test_machine_free(test_machine *m);

/* The platform table of the machine (owned by the machine). */
ksvc_platform *test_machine_platform(test_machine *m);

/* A second, independent platform table on the same machine: another
 * servicer, as another process would have (used for the lock). */
ksvc_platform *test_machine_platform_open(test_machine *m);
void test_machine_platform_close(ksvc_platform *p);

/* Simulate a standard user (elevated = 0) or an administrator. */
void test_machine_set_elevated(test_machine *m, int elevated);

/* Write a payload file of @size bytes outside the tools folder whose bytes
 * are derived from @seed; from 2048 bytes on it starts with the header of a
 * kernel image for the machine's architecture that names no version (the
 * library installs kernel images only).  Returns its path (owned by the
 * machine). */
const char *test_machine_payload(test_machine *m, const char *label,
                                 unsigned seed, size_t size);

/* Folder for the test's own scratch files outside the tools folder. */
const char *test_machine_scratch(test_machine *m);

/* Delete a value under the Lxss servicing key the way an administrator does
 * by hand (regedit / reg delete / editing the .reg file), bypassing the
 * library.  Returns 0 when the value was there. */
int test_machine_delete_value_by_hand(test_machine *m, const char *name);

/* Remove the (empty) tools folder by hand, as on a machine where WSL 2 was
 * just enabled; the machine's own table is opened again over it (a table
 * may hold the folder open). */
void test_machine_remove_tools_by_hand(test_machine *m);

/* Put a folder under slot name @name by hand. */
void test_machine_folder_as_file_by_hand(test_machine *m, const char *name);

/* Remove or overwrite a slot file by hand, bypassing the library. */
void test_machine_remove_file_by_hand(test_machine *m, const char *name);
void test_machine_corrupt_file_by_hand(test_machine *m, const char *name);

/* A digest of everything the library may touch: every name in the tools
 * folder with its kind and content, and every value of the Lxss key.  Two
 * equal snapshots mean nothing changed.  Caller frees with free(). */
char *test_machine_snapshot(test_machine *m);

/* tests/machine_snapshot.c takes the snapshot through the platform table;
 * each machine adds what only its backend can show (malloc'd text). */
char *test_machine_snapshot_extra(test_machine *m);
/* 64-bit FNV-1a of @size bytes, continuing from @h. */
uint64_t test_fnv1a(uint64_t h, const void *data, size_t size);

#endif
