/**
 * @file export.h
 * @brief Symbol visibility for the libkservice public API.
 *
 * Every public function is declared with #KSVC_API.  A static build defines
 * `KSVC_STATIC` (the pkg-config file does so for `--static`), a shared build
 * of the library itself defines `KSVC_BUILDING`.
 *
 * On Windows the library's own objects carry no dllexport: the DLL exports
 * exactly the functions of its `.def` file, made from the symbol list, and
 * the same objects linked statically into another DLL (an installer's
 * custom action) export nothing of the library.
 */
#ifndef KSERVICE_EXPORT_H
#define KSERVICE_EXPORT_H

#if defined(KSVC_STATIC)
#  define KSVC_API
#elif defined(_WIN32) || defined(__CYGWIN__)
#  if defined(KSVC_BUILDING)
#    define KSVC_API
#  else
#    define KSVC_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#  define KSVC_API __attribute__((visibility("default")))
#else
/** Marks a function exported from the libkservice shared library. */
#  define KSVC_API
#endif

#endif /* KSERVICE_EXPORT_H */
