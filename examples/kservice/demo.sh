#!/bin/sh
# The public page's worked example, on a throwaway simulated machine:
# install A, update to B, roll back (B becomes bad), update to C.  The end
# state is kernel = C, kernel.rollback = A, and B refused for good.
#
#   sh examples/kservice/demo.sh PATH/TO/kservice
set -eu

KSERVICE=${1:?usage: demo.sh PATH/TO/kservice}
case $KSERVICE in
/*) ;;
*) KSERVICE=$(pwd)/$KSERVICE ;;
esac

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kservice-demo.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM
ROOT=$WORK/machine
TOOLS=$ROOT/System32/lxss/tools

# Version numbers of the page's example: A(.104) -> B(.121) -> C(.128).
A=4.19.104
B=4.19.121
C=4.19.128

# Stand-in x64 kernel images naming their version (kservice make-kernel),
# in the work folder (the demo runs there, so the commands show short names).
make_kernel() {
    "$KSERVICE" make-kernel "$1" "$WORK/kernel-$1.img" >/dev/null
}

step() {
    printf '\n=== %s\n' "$*"
}

# Show and run one kservice command on the simulated machine.
ks() {
    printf '$ kservice --root ROOT %s\n' "$*"
    "$KSERVICE" --root "$ROOT" "$@"
}

# A command the policy must refuse: show its message and exit status, and
# stop the demo if it was accepted.
ks_refused() {
    if ks "$@"; then
        echo "demo: 'kservice $*' should have been refused" >&2
        exit 1
    else
        printf '(refused, exit status %s)\n' "$?"
    fi
}

# Which payload a slot file is byte for byte identical to.
holder() {
    for v in $A $B $C; do
        if cmp -s "$TOOLS/$1" "$WORK/kernel-$v.img"; then
            echo "$v"
            return
        fi
    done
    echo "(none of A, B, C)"
}

for v in $A $B $C; do
    make_kernel "$v"
done
cd "$WORK"

step "A simulated Windows machine at ROOT=$ROOT"
ks init-mock
ks precheck
ks status

step "Install A ($A)"
ks install kernel-$A.img --version "$A"
ks status

step "Update to B ($B): A becomes kernel.rollback"
ks update kernel-$B.img --version "$B"
ks status

step "B misbehaves: wsl --update --rollback (B is now bad)"
ks --update --rollback
ks status
ks boot-path

step "Update to C ($C): B is dropped, A stays the rollback kernel"
ks update kernel-$C.img --version "$C"
ks status

step "B can never come back"
ks_refused install kernel-$B.img --version "$B"

step "The end state: kernel = C, kernel.rollback = A"
kernel_holds=$(holder kernel)
rollback_holds=$(holder kernel.rollback)
printf 'tools/kernel          holds the bytes of %s\n' "$kernel_holds"
printf 'tools/kernel.rollback holds the bytes of %s\n' "$rollback_holds"
ks status --json
if [ "$kernel_holds" != "$C" ] || [ "$rollback_holds" != "$A" ]; then
    echo "demo: expected kernel = $C and kernel.rollback = $A" >&2
    exit 1
fi
printf '\nDemo done: kernel = C (%s), kernel.rollback = A (%s), B (%s) refused.\n' \
    "$C" "$A" "$B"
