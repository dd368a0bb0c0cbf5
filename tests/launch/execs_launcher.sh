#!/usr/bin/env bash
# launch_execs_launcher: lumen-run replaces itself with the launcher (same
# pid, so signals reach it), hands it exactly the words --dry-run prints
# (arguments with spaces, quotes and empty ones intact) and exits with its
# status; a real run's failing rank's status comes back too.
. "$(dirname "$0")/lib.sh"

args=(./app 'two words' "it's" '' '$HOME' 'a"b')
for fake in "$FAKE_OPENMPI" "$FAKE_MPICH"; do
    t=$(basename "$(dirname "$fake")")
    LUMEN_MPIEXEC=$fake FAKE_LOG=$TMP/log FAKE_RC=7 LUMEN_FOO=1 "$LUMEN_RUN" -n 2 -- "${args[@]}" &
    pid=$!
    wait "$pid"
    rc=$? err=''
    is_rc "$t: exit status" "$rc" 7
    [ "$(cat "$TMP/log.pid")" = "$pid" ] || fail "$t: the launcher ran as pid $(cat "$TMP/log.pid"), not lumen-run's $pid"

    mapfile -d '' got <"$TMP/log"
    line=$(LUMEN_MPIEXEC=$fake LUMEN_FOO=1 "$LUMEN_RUN" --dry-run -n 2 -- "${args[@]}")
    eval "words=($line)"
    while [ "${words[0]}" != "$fake" ]; do words=("${words[@]:1}"); done # VAR=value first
    want=("${words[@]:1}")
    [ "${#got[@]}" = "${#want[@]}" ] && [ "$(printf '%s\n' "${got[@]}")" = "$(printf '%s\n' "${want[@]}")" ] ||
        fail "$t: the launcher got [$(printf '<%s>' "${got[@]}")], the dry run said [$(printf '<%s>' "${want[@]}")]"
    tail=("${got[@]: -${#args[@]}}")
    [ "$(printf '<%s>' "${tail[@]}")" = "$(printf '<%s>' "${args[@]}")" ] ||
        fail "$t: the program's arguments arrived as $(printf '<%s>' "${tail[@]}")"
done

if [ "$REAL_FLAVOR" != unknown ]; then
    lr LUMEN_MPIEXEC="$REAL_MPIEXEC" -- -n 2 sh -c 'exit 3'
    is_rc "real run, ranks exit 3" "$rc" 3
    lr LUMEN_MPIEXEC="$REAL_MPIEXEC" -- -n 2 sh -c 'echo "[$1]"' sh 'two words'
    is_rc "real run, arguments" "$rc" 0
    [ "$out" = "$(printf '[two words]\n[two words]')" ] || fail "real run, arguments: got $out"
fi
finish
