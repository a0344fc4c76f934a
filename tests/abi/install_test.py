#!/usr/bin/env python3
"""Install the package into a throwaway DESTDIR and use it from outside.

usage: install_test.py --meson MESON --builddir BUILD --prefix PREFIX
                       --libdir LIBDIR --mandir MANDIR --includedir INCDIR
                       --bindir BINDIR --pkg-config PKGCONFIG
                       --consumer CONSUMER_C --cc CC... --cxx CXX...

1. `meson install --destdir` puts everything under a temporary folder;
   the headers, the shared and static libraries, libkservice.pc, the man
   page and the kservice command must be there.
2. consumer.c is copied out of the source tree and built three ways with
   nothing but `pkg-config --cflags --libs libkservice` (PKG_CONFIG_PATH and
   PKG_CONFIG_SYSROOT_DIR point into the DESTDIR): as C against the shared
   library, as C++ against the shared library (the headers' extern "C"),
   and as C against the static library with `pkg-config --static`.
3. Each program runs on a fresh simulated machine and must succeed; the
   shared ones must load the installed libkservice.so.1, the static one
   must not need it at all.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile


def run(command, env=None, cwd=None):
    print("$ " + " ".join(command))
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, env=env, cwd=cwd)
    if done.stdout.strip():
        print(done.stdout.rstrip())
    if done.returncode != 0:
        raise SystemExit("FAIL: exit status %d" % done.returncode)
    return done.stdout


def under(destdir, path):
    return os.path.join(destdir, path.lstrip("/"))


def needed_libraries(program):
    out = subprocess.run(["readelf", "-d", program], stdout=subprocess.PIPE,
                         universal_newlines=True, check=True).stdout
    return [line.split("[", 1)[1].rstrip("]").strip()
            for line in out.splitlines() if "(NEEDED)" in line]


def main(argv):
    parser = argparse.ArgumentParser()
    for option in ("--meson", "--builddir", "--prefix", "--libdir", "--mandir",
                   "--includedir", "--bindir", "--pkg-config"):
        parser.add_argument(option, required=True)
    parser.add_argument("--cc", nargs="+", required=True)
    parser.add_argument("--cxx", nargs="+", required=True)
    parser.add_argument("--consumer", required=True)
    args = parser.parse_args(argv)

    def prefixed(path):
        return path if os.path.isabs(path) else os.path.join(args.prefix, path)

    work = tempfile.mkdtemp(prefix="ksvc-install-")
    try:
        destdir = os.path.join(work, "destdir")
        run([args.meson, "install", "-C", args.builddir, "--no-rebuild",
             "--quiet", "--destdir", destdir])

        libdir = under(destdir, prefixed(args.libdir))
        expected = [
            os.path.join(under(destdir, prefixed(args.includedir)), "kservice", h)
            for h in ("kservice.h", "platform.h", "error.h", "export.h", "posix.h")
        ] + [
            os.path.join(libdir, "libkservice.so.1"),
            os.path.join(libdir, "libkservice.a"),
            os.path.join(libdir, "pkgconfig", "libkservice.pc"),
            os.path.join(under(destdir, prefixed(args.mandir)), "man1", "kservice.1"),
            os.path.join(under(destdir, prefixed(args.bindir)), "kservice"),
        ]
        missing = [path for path in expected if not os.path.exists(path)]
        if missing:
            raise SystemExit("FAIL: not installed: " + ", ".join(missing))
        print("installed: %d expected files present" % len(expected))

        # Out of tree: the program and its build live in the temporary
        # folder, and pkg-config sees only the installed package.
        outside = os.path.join(work, "outside")
        os.mkdir(outside)
        source = os.path.join(outside, "consumer.c")
        shutil.copyfile(args.consumer, source)
        env = dict(os.environ)
        env.pop("LD_LIBRARY_PATH", None)
        # Ours first; the system's stay visible for Requires.private
        # (libcrypto).  The sysroot maps the .pc's prefix into the DESTDIR.
        env["PKG_CONFIG_PATH"] = os.path.join(libdir, "pkgconfig")
        env["PKG_CONFIG_SYSROOT_DIR"] = destdir

        shared_flags = run([args.pkg_config, "--cflags", "--libs", "libkservice"],
                           env=env).split()
        static_flags = run([args.pkg_config, "--static", "--cflags", "--libs",
                            "libkservice"], env=env).split()
        if not any(flag.startswith("-I" + destdir) for flag in shared_flags):
            raise SystemExit("FAIL: pkg-config --cflags does not point into the install")
        if "-DKSVC_STATIC" in shared_flags or "-DKSVC_STATIC" not in static_flags:
            raise SystemExit("FAIL: -DKSVC_STATIC must come with --static only")

        strict = ["-Wall", "-Wextra", "-Werror", "-pedantic"]
        programs = {
            "consumer-c": args.cc + ["-std=c99"] + strict + [source, "-o"],
            "consumer-c++": args.cxx + ["-std=c++11"] + strict + ["-x", "c++", source,
                                                                  "-x", "none", "-o"],
        }
        for name, command in programs.items():
            run(command + [os.path.join(outside, name)] + shared_flags, cwd=outside)
        # Static: the same flags from --static, with the archive chosen over
        # the shared library by the linker's -Bstatic.
        static_link = []
        for flag in static_flags:
            static_link += (["-Wl,-Bstatic", flag, "-Wl,-Bdynamic"]
                            if flag == "-lkservice" else [flag])
        run(args.cc + ["-std=c99"] + strict + [source, "-o",
                                               os.path.join(outside, "consumer-static")]
            + static_link, cwd=outside)

        run_env = dict(env)
        run_env["LD_LIBRARY_PATH"] = libdir
        for name in ("consumer-c", "consumer-c++", "consumer-static"):
            program = os.path.join(outside, name)
            needed = needed_libraries(program)
            if name == "consumer-static":
                if any(lib.startswith("libkservice") for lib in needed):
                    raise SystemExit("FAIL: %s needs %s" % (name, needed))
                environment = env
            else:
                if "libkservice.so.1" not in needed:
                    raise SystemExit("FAIL: %s does not need libkservice.so.1: %s"
                                     % (name, needed))
                environment = run_env
            out = run([program, os.path.join(work, "machine-" + name)], env=environment)
            if "no kernel yet" not in out:
                raise SystemExit("FAIL: %s printed the wrong text" % name)
        print("out-of-tree programs built with pkg-config and ran: C, C++, static")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
