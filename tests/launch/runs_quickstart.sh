#!/usr/bin/env bash
# launch_quickstart_npN: examples/quickstart through lumen-run on N local
# ranks, with none of the OMPI_* settings the rest of the suite uses (so root
# and oversubscription are lumen-run's doing): exit status 0 and the
# example's three result lines; when lumen-run oversubscribes, its warning.
#   bash runs_quickstart.sh path/to/lumen-run path/to/quickstart N
. "$(dirname "$0")/lib.sh"
exe=${2:?quickstart binary} np=${3:?rank count}

lr -- --dry-run -n "$np" "$exe"
echo "lumen-run runs: $out"
[ -n "$err" ] && echo "$err"
dry_err=$err

SECONDS=0
lr -- -n "$np" "$exe"
echo "$out"
[ -n "$err" ] && echo "$err" >&2
echo "exit status $rc after $SECONDS s"
is_rc "quickstart on $np ranks" "$rc" 0
contains "quickstart on $np ranks" "$out" "[0, 1, 4, 9]"
contains "quickstart on $np ranks" "$out" "sum of put array: 8589869056 (expected 8589869056)"
contains "quickstart on $np ranks" "$out" "square(3) + square(4) = 25 on $np ranks"
case $dry_err in
    *" ranks on "*) contains "quickstart on $np ranks: warning" "$err" "warning: $np ranks on " ;;
    *) omits "quickstart on $np ranks: no oversubscription warning" "$err" " ranks on " ;;
esac
finish
