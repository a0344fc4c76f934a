#!/bin/sh
# Print the path of a real Debian x86-64 kernel image (a bzImage), fetching
# it first when the cache does not hold it yet:
#
#   sh tests/qemu/fetch-kernel.sh            prints CACHE/vmlinuz-<abi>-amd64
#
# The package is the one Debian's linux-image-amd64 depends on now
# (linux-image-<abi>-amd64, the signed image: its signature is appended, so
# it is still a bzImage that QEMU boots directly), fetched with
# `apt-get download` and unpacked with dpkg-deb; only /boot/vmlinuz-* is
# kept.  CACHE is $KSERVICE_QEMU_CACHE, by default
# ${XDG_CACHE_HOME:-$HOME/.cache}/libkservice-qemu: outside the repository,
# so nothing downloaded is ever committed and a rerun is fast.  When the
# package lists cannot be read or the download fails, the newest image
# already in the cache is used, with a warning.
set -eu

cache=${KSERVICE_QEMU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/libkservice-qemu}
mkdir -p "$cache"

warn() {
    printf 'fetch-kernel: %s\n' "$*" >&2
}

# The newest kernel already in the cache, or nothing.
cached_kernel() {
    # shellcheck disable=SC2012 # names we wrote ourselves: vmlinuz-<abi>
    ls -1 "$cache"/vmlinuz-* 2>/dev/null | sort -V | tail -n 1
}

fall_back() {
    warn "$*"
    kernel=$(cached_kernel)
    [ -n "$kernel" ] || {
        warn "no kernel in $cache either; run apt-get update and retry"
        exit 1
    }
    warn "using the cached $kernel"
    printf '%s\n' "$kernel"
    exit 0
}

# linux-image-amd64 depends on exactly one linux-image-<abi>-amd64.
package=$(apt-cache depends linux-image-amd64 2>/dev/null |
    sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n 1)
[ -n "$package" ] ||
    fall_back "apt-cache does not know linux-image-amd64 (no apt-get update?)"
abi=${package#linux-image-}
kernel=$cache/vmlinuz-$abi
if [ -s "$kernel" ]; then
    printf '%s\n' "$kernel"
    exit 0
fi

work=$(mktemp -d "$cache/fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
# apt's download sandbox user (_apt) cannot write into a root-owned folder;
# as root, download as root instead of warning about it.
sandbox=""
[ "$(id -u)" != 0 ] || sandbox="-o APT::Sandbox::User=root"
# shellcheck disable=SC2086 # $sandbox is empty or one option and its value
if ! (cd "$work" && apt-get -q $sandbox download "$package" >download.log 2>&1); then
    cat "$work/download.log" >&2
    fall_back "apt-get download $package failed"
fi
dpkg-deb --fsys-tarfile "$work"/"$package"_*.deb |
    tar -x -C "$work" --wildcards './boot/vmlinuz-*'
image=$(ls -1 "$work"/boot/vmlinuz-*)
[ -s "$image" ] || {
    warn "$package holds no /boot/vmlinuz-*"
    exit 1
}
mv "$image" "$kernel.tmp"
mv "$kernel.tmp" "$kernel"
warn "fetched $package: $(wc -c <"$kernel") bytes"
printf '%s\n' "$kernel"
