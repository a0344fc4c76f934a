/*
 * What tests/machine_win32.c offers beyond tests/machine.h, for the
 * Win32-only suite (tests/test_win32.c).
 */
#ifndef KSVC_TEST_MACHINE_WIN32_H
#define KSVC_TEST_MACHINE_WIN32_H

#include <stddef.h>
#include <wchar.h>

#include "machine.h"

/* The machine's tools folder as a \\?\ path. */
void test_machine_tools_path(test_machine *m, wchar_t *out, size_t room);

/* Remove a file or folder tree; links are removed, never followed. */
void test_remove_tree(const wchar_t *path);

/* UTF-8 <-> wide, failing the test on bad input. */
void test_wide_from_utf8(const char *text, wchar_t *out, size_t room);
void test_utf8_from_wide(const wchar_t *text, char *out, size_t room);

#endif
