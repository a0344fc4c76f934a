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
# The stages "test" runs, in order; each is the function stage_<name>.
TEST_STAGES="gcc clang"
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
