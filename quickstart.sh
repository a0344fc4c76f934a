#!/bin/sh
# The two commands of the README's Quick start, for a fresh Debian 12 machine:
#
#   ./quickstart.sh demo   install the Debian packages, build, and walk the
#                          worked example (A, B, rollback, C) on a throwaway
#                          simulated machine
#   ./quickstart.sh test   install the Debian packages, build with gcc and
#                          with clang, and run every test stage
#
# .ci/run runs "./quickstart.sh test".  Each build uses its own folder
# (build-qs-*), set up from scratch every time.
#
# Adding a test stage (Wine, sanitizers, fuzzing, ABI, MSI, ...):
#   1. write a function stage_NAME below that fails (non-zero) when the stage
#      fails; it runs in a subshell under "set -e" from the top folder;
#   2. append NAME to TEST_STAGES;
#   3. append the Debian packages it needs to TEST_PACKAGES.
set -eu

# Debian 12 packages every build needs.
PACKAGES="meson ninja-build gcc clang pkg-config libcmocka-dev libssl-dev python3"
# Extra Debian packages only the test stages need.
TEST_PACKAGES=""
# tests/abi: C++ header checks, abidiff, the Doxygen reference and its state
# diagram, the man page check.
TEST_PACKAGES="$TEST_PACKAGES g++ abigail-tools doxygen graphviz groff-base man-db"
# tests/cli: every `status --json` report is validated against
# doc/kservice-status.schema.json (Draft 7) with Debian's jsonschema.
TEST_PACKAGES="$TEST_PACKAGES python3-jsonschema"
# The stages "test" runs, in order; each is the function stage_<name>.
TEST_STAGES="gcc clang"
# The release tarball (stage_dist): meson dist, then the unpacked tarball
# built and tested as a packager would (xz-utils is below, for the Wine
# stage too).
TEST_STAGES="$TEST_STAGES dist"
# The Windows build under Wine (stage_wine): the mingw-w64 cross compiler,
# 64-bit Wine, and cmake + dpkg-source to build cmocka for Windows from
# Debian's cmocka source package.
TEST_PACKAGES="$TEST_PACKAGES mingw-w64 wine wine64 cmake dpkg-dev xz-utils"
TEST_STAGES="$TEST_STAGES wine"
# The installer example under Wine's msiexec (stage_msi): wixl builds the
# MSIs, msitools inspects and extracts them, Xvfb is the screen of the UI
# test; mingw-w64 and Wine as above.
TEST_PACKAGES="$TEST_PACKAGES wixl msitools xvfb xauth mingw-w64 wine wine64"
TEST_STAGES="$TEST_STAGES msi"
# The benchmark (tests/bench; not a stage, see README "Performance"): the
# openssl command is its SHA-256 baseline, strace counts fsync calls.
TEST_PACKAGES="$TEST_PACKAGES openssl strace"
# Reliability (tests/fault, tests/fuzz): the whole suite under ASan+UBSan
# (stage_asan), the CLI scenario under valgrind memcheck (stage_valgrind),
# libFuzzer with clang (stage_fuzz; clang is in PACKAGES; its sanitizer and
# libFuzzer runtimes are only a Recommends of clang, so they are named).
TEST_PACKAGES="$TEST_PACKAGES valgrind libclang-rt-14-dev"
TEST_STAGES="$TEST_STAGES asan valgrind fuzz"
# A real VM (stage_qemu): QEMU boots a real Debian kernel (fetched at test
# time with apt-get download) with a busybox-static initramfs made with cpio.
TEST_PACKAGES="$TEST_PACKAGES qemu-system-x86 busybox-static cpio"
TEST_STAGES="$TEST_STAGES qemu"

cd "$(dirname "$0")"
TOP=$(pwd)

say() {
    printf '\n==== quickstart: %s\n' "$*"
}

die() {
    printf '\nquickstart: %s\n' "$*" >&2
    exit 1
}

# Run a command as root: directly when we are root, else through sudo.
as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "installing packages needs root: run as root or install sudo"
    fi
}

# Install the Debian packages not installed yet: one apt-get update, one
# apt-get install, non-interactive; the apt output is shown only on failure.
install_packages() {
    missing=""
    for package in "$@"; do
        if ! dpkg-query -W -f='${Status}\n' "$package" 2>/dev/null |
            grep -q 'install ok installed'; then
            missing="$missing $package"
        fi
    done
    if [ -z "$missing" ]; then
        say "Debian packages already installed: $*"
        return 0
    fi
    say "installing Debian packages:$missing"
    apt_log=$(mktemp "${TMPDIR:-/tmp}/quickstart-apt.XXXXXX")
    # shellcheck disable=SC2086 # $missing is a list of package names
    if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get -q -y update \
        >"$apt_log" 2>&1 ||
        ! as_root env DEBIAN_FRONTEND=noninteractive apt-get -q -y \
            -o Dpkg::Use-Pty=0 install $missing >>"$apt_log" 2>&1; then
        cat "$apt_log" >&2
        rm -f "$apt_log"
        die "apt-get failed (output above)"
    fi
    rm -f "$apt_log"
}

# Set up a build folder from scratch and build it: build DIR [SETUP ARGS].
# CC may be set by the caller to choose the compiler.
build() {
    dir=$1
    shift
    say "meson setup $dir $*"
    rm -rf "$dir"
    meson setup "$dir" "$@"
    say "building $dir"
    meson compile -C "$dir"
}

# Build with a compiler and run the whole Meson test suite.
build_and_test() {
    compiler=$1
    dir=$2
    CC=$compiler build "$dir"
    say "meson test ($compiler)"
    meson test -C "$dir" --print-errorlogs
}

# ---- test stages ----------------------------------------------------------

stage_gcc() {
    build_and_test gcc build-qs-gcc
}

stage_clang() {
    build_and_test clang build-qs-clang
}

# The release: `meson dist` makes the tarball from the committed tree (git
# HEAD: commit first), which must hold what a packager needs; then the
# tarball is unpacked, set up from scratch, built with gcc and its whole
# suite run (the abi-install test inside installs it and builds consumers
# out of tree), so a release cannot depend on a file that is not in it.
stage_dist() {
    build build-qs-dist -Dtests=false
    say "meson dist: the tarball"
    meson dist -C build-qs-dist --no-tests --formats xztar
    tarball=$(ls build-qs-dist/meson-dist/libkservice-*.tar.xz)
    say "the tarball holds the man page, docs, symbol list, ABI baseline"
    top=$(basename "$tarball" .tar.xz)
    listing=$(tar tJf "$tarball")
    for file in README.md doc/kservice.1 doc/mainpage.md doc/Doxyfile.in \
        doc/kservice-status.schema.json src/libkservice.map \
        tests/abi/libkservice.so.1.abi examples/kservice/main.c; do
        printf '%s\n' "$listing" | grep -qx "$top/$file" ||
            die "the tarball lacks $file"
    done
    rm -rf build-qs-dist/unpacked
    mkdir build-qs-dist/unpacked
    tar xJf "$tarball" -C build-qs-dist/unpacked
    (cd "build-qs-dist/unpacked/$top" && build_and_test gcc build)
}

# The Windows build under Wine: cross-build with mingw-w64, then every suite
# and the worked example with kservice.exe in a fresh Wine prefix made to
# look like Windows 10 with WSL (tests/wine/run.sh).  A missing tool fails
# the stage; install_packages has put them there.
stage_wine() {
    sh tests/wine/run.sh build-qs-wine
}

# The installer example: MSIs built with wixl from the mingw-w64 build,
# installed, refused, extracted and uninstalled by Wine's msiexec in a fresh
# prefix (tests/msi/run.sh).
stage_msi() {
    sh tests/msi/run.sh build-qs-msi
}

# The whole Meson suite built with AddressSanitizer and
# UndefinedBehaviorSanitizer; any report aborts the test that made it.
stage_asan() {
    CC=gcc build build-qs-asan -Db_sanitize=address,undefined \
        -Db_lundef=false -Dc_args=-fno-sanitize-recover=all
    # Every test but abi-install, which links an outside consumer against
    # the installed static library: that consumer would need the
    # sanitizers' runtime too, and tests packaging, not memory safety.  And
    # but hive_large: its 66 MiB hives take seven minutes under the
    # sanitizers and reach no code that test_hive's large values do not.
    tests=$(meson test -C build-qs-asan --list 2>/dev/null |
        sed -n 's|^[^ ]* / ||p' | grep -vx -e abi-install -e hive_large)
    say "meson test under ASan+UBSan (all but abi-install and hive_large)"
    # shellcheck disable=SC2086 # a list of test names
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        meson test -C build-qs-asan --print-errorlogs $tests
}

# The CLI scenario (tests/cli/scenario.sh) with every kservice run under
# valgrind memcheck: any memory error or leak exits 99, which the scenario
# reports as a wrong exit status; the logs name the error.
stage_valgrind() {
    build build-qs-valgrind -Dtests=false
    dir=$TOP/build-qs-valgrind
    rm -f "$dir"/valgrind.*.log
    cat >"$dir/kservice-valgrind" <<WRAPPER
#!/bin/sh
exec valgrind --quiet --leak-check=full --show-leak-kinds=all \\
    --errors-for-leak-kinds=all --error-exitcode=99 \\
    --log-file="$dir/valgrind.%p.log" \\
    "$dir/examples/kservice/kservice" "\$@"
WRAPPER
    chmod +x "$dir/kservice-valgrind"
    say "CLI scenario under valgrind memcheck"
    status=0
    sh tests/cli/scenario.sh "$dir/kservice-valgrind" "$(command -v python3)" ||
        status=$?
    if grep -l . "$dir"/valgrind.*.log >/dev/null 2>&1; then
        cat "$dir"/valgrind.*.log
        die "valgrind found errors (logs above)"
    fi
    [ "$status" -eq 0 ] || die "the CLI scenario failed under valgrind"
    runs=$(find "$dir" -maxdepth 1 -name 'valgrind.*.log' | wc -l)
    say "valgrind: $runs kservice runs, no errors, no leaks"
}

# libFuzzer (clang -fsanitize=fuzzer,address,undefined) on the hive parser,
# the version parser and the image reader, FUZZ_SECONDS (30) each.
stage_fuzz() {
    sh tests/fuzz/run.sh build-qs-fuzz "${FUZZ_SECONDS:-30}"
}

# The trial boot on a real VM (tests/qemu/scenario.sh): the kservice of the
# gcc stage (or a build of its own) installs real Debian kernels on a
# simulated machine and QEMU boots what it picks; each boot's time and the
# total are printed.  The kernel package is fetched into
# ~/.cache/libkservice-qemu, so apt needs its lists.
stage_qemu() {
    dir=build-qs-gcc
    if [ -f "$dir/build.ninja" ]; then
        say "building $dir (for the QEMU scenario)"
        meson compile -C "$dir"
    else
        dir=build-qs-qemu
        build "$dir" -Dtests=false
    fi
    apt-cache show linux-image-amd64 >/dev/null 2>&1 ||
        as_root apt-get -q -y update >/dev/null
    say "QEMU scenario"
    sh tests/qemu/scenario.sh "$TOP/$dir/examples/kservice/kservice"
}

# Run one stage loudly; stop everything when it fails.
run_stage() {
    name=$1
    printf '\n######## STAGE %s: start\n' "$name"
    set +e
    (set -e; "stage_$name")
    status=$?
    set -e
    if [ "$status" -ne 0 ]; then
        printf '\n######## STAGE %s: FAILED (exit status %s)\n' "$name" \
            "$status" >&2
        exit 1
    fi
    printf '\n######## STAGE %s: passed\n' "$name"
}

# ---- the two commands ------------------------------------------------------

run_demo() {
    # shellcheck disable=SC2086 # a list of package names
    install_packages $PACKAGES
    build build-qs-demo -Dtests=false
    say "demo: the worked example on a throwaway simulated machine"
    sh examples/kservice/demo.sh build-qs-demo/examples/kservice/kservice
}

run_test() {
    # shellcheck disable=SC2086 # lists of package names
    install_packages $PACKAGES $TEST_PACKAGES
    for stage in $TEST_STAGES; do
        run_stage "$stage"
    done
    printf '\n######## all stages passed: %s\n' "$TEST_STAGES"
}

case "${1:-}" in
demo) run_demo ;;
test) run_test ;;
*)
    echo "usage: ./quickstart.sh demo|test  (run from $TOP)" >&2
    exit 2
    ;;
esac
