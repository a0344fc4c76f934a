#!/usr/bin/env python3
"""Install the package into a throwaway DESTDIR and use it from outside.

usage: install_test.py --meson MESON --builddir BUILD --prefix PREFIX
                       --libdir LIBDIR --mandir MANDIR --includedir INCDIR
                       --bindir BINDIR --datadir DATADIR --pkg-config PKGCONFIG
                       --consumer CONSUMER_C --cc CC... --cxx CXX...

1. `meson install --destdir` puts everything under a temporary folder;
   the headers, the shared and static libraries, libkservice.pc, the man
   page, the kservice command and the status JSON Schema must be there.
2. libkservice.pc (made by Meson's pkgconfig module) gives -DKSVC_STATIC
   and the static archive's own needs (-pthread, libcrypto) with --static
   only.
3. consumer.c is copied out of the source tree and built four ways with
   nothing but `pkg-config [--static] --cflags --libs libkservice`
   (PKG_CONFIG_PATH and PKG_CONFIG_SYSROOT_DIR point into the DESTDIR): as
   C and as C++ (the headers' extern "C") against the shared library; as C
   with `pkg-config --static` and the archive chosen by -Wl,-Bstatic; and
   as a fully static C program (`cc -static`, which needs every flag of
   Libs.private and Requires.private).
4. Each program runs the worked example (A, B, rollback, C) on a fresh
   simulated machine, with kernel images that the installed
   `kservice make-kernel` writes, and must succeed; `ldd` must show the
   installed libkservice.so.1 for the shared ones and no libkservice for
   the static ones.
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


def loaded_libraries(program, env):
    """What `ldd` says the program loads: the resolved path of each shared
    library, or [] for a static executable."""
    done = subprocess.run(["ldd", program], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True,
                          env=env)
    if "not a dynamic executable" in done.stdout:
        return []
    if done.returncode != 0:
        raise SystemExit("FAIL: ldd %s: %s" % (program, done.stdout))
    return [line.strip() for line in done.stdout.splitlines() if line.strip()]


def check_pc_file(static_flags, shared_flags, destdir, has_libcrypto):
    """--static alone adds -DKSVC_STATIC, -pthread and libcrypto's flags."""
    if not any(flag.startswith("-I" + destdir) for flag in shared_flags):
        raise SystemExit("FAIL: pkg-config --cflags does not point into the install")
    if "-DKSVC_STATIC" in shared_flags or "-DKSVC_STATIC" not in static_flags:
        raise SystemExit("FAIL: -DKSVC_STATIC must come with --static only")
    if "-pthread" in shared_flags or "-pthread" not in static_flags:
        raise SystemExit("FAIL: -pthread must be in Libs.private (static only)")
    if has_libcrypto and ("-lcrypto" in shared_flags or "-lcrypto" not in static_flags):
        raise SystemExit("FAIL: libcrypto must be in Requires.private (static only)")


def main(argv):
    parser = argparse.ArgumentParser()
    for option in ("--meson", "--builddir", "--prefix", "--libdir", "--mandir",
                   "--includedir", "--bindir", "--datadir", "--pkg-config"):
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
            os.path.join(under(destdir, prefixed(args.datadir)), "libkservice",
                         "kservice-status.schema.json"),
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
        check_pc_file(static_flags, shared_flags, destdir,
                      subprocess.run([args.pkg_config, "--exists", "libcrypto"],
                                     env=env).returncode == 0)

        strict = ["-Wall", "-Wextra", "-Werror", "-pedantic"]
        c_command = args.cc + ["-std=c99"] + strict + [source, "-o"]
        # Static, as a user mixing link modes writes it: the archive chosen
        # over the shared library by -Bstatic, the system's libraries shared.
        static_link = []
        for flag in static_flags:
            static_link += (["-Wl,-Bstatic", flag, "-Wl,-Bdynamic"]
                            if flag == "-lkservice" else [flag])
        programs = {
            "consumer-c": c_command + ["consumer-c"] + shared_flags,
            "consumer-c++": args.cxx + ["-std=c++11"] + strict + [
                "-x", "c++", source, "-x", "none", "-o", "consumer-c++"] + shared_flags,
            "consumer-static": c_command + ["consumer-static"] + static_link,
            # Fully static: fails to link unless Libs.private and
            # Requires.private name everything the archive needs.
            "consumer-all-static": c_command + ["consumer-all-static", "-static"]
            + static_flags,
        }
        for name, command in programs.items():
            run(command, cwd=outside)

        run_env = dict(env)
        run_env["LD_LIBRARY_PATH"] = libdir
        # The images of the worked example, from the installed tool.
        kservice = os.path.join(under(destdir, prefixed(args.bindir)), "kservice")
        images = []
        for version in ("5.15.104.1", "5.15.121.1", "5.15.133.1"):
            images.append(os.path.join(outside, version + ".img"))
            run([kservice, "make-kernel", version, images[-1]], env=run_env)
        for name in programs:
            program = os.path.join(outside, name)
            loaded = loaded_libraries(program, run_env)
            ours = [lib for lib in loaded if "libkservice" in lib]
            if "static" in name:
                if ours:
                    raise SystemExit("FAIL: %s loads %s" % (name, ours))
            elif not any(lib.startswith("libkservice.so.1 => " + libdir)
                         for lib in ours):
                raise SystemExit("FAIL: %s does not load the installed "
                                 "libkservice.so.1: %s" % (name, loaded))
            out = run([program, os.path.join(work, "machine-" + name)] + images,
                      env=run_env)
            if "no kernel yet" not in out or \
                    "worked example: kernel 5.15.133.1, kernel.rollback 5.15.104.1, " \
                    "5.15.121.1 refused" not in out:
                raise SystemExit("FAIL: %s printed the wrong text" % name)
        print("out-of-tree programs built with pkg-config and ran: %s" % ", ".join(programs))
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
