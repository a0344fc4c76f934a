#!/bin/sh
# Build cmocka for 64-bit Windows from Debian's cmocka source package with
# the mingw-w64 compiler, and write a Meson cross file that makes the
# Windows build find it.
#
#   tests/wine/build-cmocka.sh OUT_DIR
#
# OUT_DIR receives apt/ (a private apt configuration: the system's sources
# and lists are never touched), src/ (the unpacked source package), build/,
# prefix/ (the installed static library, header and .pc file) and
# cmocka-cross.ini (pass it after platform/win32/x86_64-w64-mingw32.ini).
# A second run reuses what the first one built.
set -eu

out=${1:?usage: build-cmocka.sh OUT_DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
prefix=$out/prefix
cross=$out/cmocka-cross.ini

for tool in x86_64-w64-mingw32-gcc cmake dpkg-source; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "build-cmocka: $tool is missing (install mingw-w64, cmake, dpkg-dev)" >&2
        exit 1
    }
done

if [ ! -f "$prefix/lib/libcmocka.a" ]; then
    # A private apt: deb-src for bookworm in our own sources folder and lists
    # folder, so the machine's apt configuration stays as it was.
    apt_dir=$out/apt
    mkdir -p "$apt_dir/sources.list.d" "$apt_dir/lists/partial" \
             "$apt_dir/cache/archives/partial"
    : > "$apt_dir/sources.list"
    echo 'deb-src http://deb.debian.org/debian bookworm main' \
        > "$apt_dir/sources.list.d/debian-src.list"
    set -- -o "Dir::Etc::SourceList=$apt_dir/sources.list" \
           -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d" \
           -o "Dir::State::Lists=$apt_dir/lists" \
           -o "Dir::Cache=$apt_dir/cache" \
           -o "APT::Sandbox::User=root"
    apt-get -q "$@" update
    rm -rf "$out/src"
    mkdir -p "$out/src"
    (cd "$out/src" && apt-get -q "$@" source cmocka)
    srcdir=$(find "$out/src" -mindepth 1 -maxdepth 1 -type d -name 'cmocka-*' | head -n 1)
    [ -n "$srcdir" ] || { echo "build-cmocka: no cmocka source unpacked" >&2; exit 1; }

    rm -rf "$out/build"
    cmake -S "$srcdir" -B "$out/build" \
        -DCMAKE_SYSTEM_NAME=Windows \
        -DCMAKE_C_COMPILER=x86_64-w64-mingw32-gcc \
        -DCMAKE_RC_COMPILER=x86_64-w64-mingw32-windres \
        -DCMAKE_FIND_ROOT_PATH=/usr/x86_64-w64-mingw32 \
        -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_INSTALL_PREFIX="$prefix" \
        -DWITH_STATIC_LIB=ON -DWITH_EXAMPLES=OFF -DUNIT_TESTING=OFF
    cmake --build "$out/build" -j 2
    cmake --install "$out/build"
    # Link the static archive, so test programs need no cmocka.dll under
    # Wine: it takes the name the .pc file asks for (-lcmocka).
    rm -f "$prefix/lib/libcmocka.dll.a" "$prefix/bin/libcmocka.dll" \
          "$prefix/bin/cmocka.dll"
    cp "$prefix/lib/libcmocka-static.a" "$prefix/lib/libcmocka.a"
fi

cat > "$cross" <<INI
# Written by tests/wine/build-cmocka.sh: cmocka built for Windows.
[properties]
pkg_config_libdir = ['$prefix/lib/pkgconfig']
INI
echo "build-cmocka: cmocka for mingw in $prefix; cross file $cross"
