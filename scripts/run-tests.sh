#!/bin/bash
# Builds the C core for Lua 5.4, LuaJIT and Lua 5.4 under ASan/UBSan, runs the busted suite on each,
# and ends with the failing specs of every run (repeated, so that the tail of a CI log names them) and
# one line: "N passed, N failed".  `run-tests.sh nginx` runs only the nginx suite.
set -u
cd "$(dirname "$0")/.."

passed=0
failed=0
log=$(mktemp)
failures=$(mktemp)
trap 'rm -f "$log" "$failures"' EXIT

# run LABEL COMMAND...: runs one busted invocation and adds its counts to the totals.
run() {
  local label=$1; shift
  echo "== $label"
  "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local line
  line=$(grep -E '^[0-9]+ successes? / [0-9]+ failures? / [0-9]+ errors? / [0-9]+ pending' "$log" | tail -1)
  if [ -z "$line" ]; then
    echo "== $label: busted printed no summary (exit $rc): counted as one failure"
    { echo "[$label] busted printed no summary (exit $rc); its last lines:"; tail -5 "$log"; } >>"$failures"
    failed=$((failed + 1))
    return
  fi
  local s f e
  # busted prints "Failure -> file @ line", the spec's name, then the message
  grep -E -A2 '^(Failure|Error) (->|→) ' "$log" | awk -v l="$label" '{ print "[" l "] " $0 }' >>"$failures"
  read -r s _ _ f _ _ e _ <<<"$line"
  passed=$((passed + s))
  failed=$((failed + f + e))
  if [ "$rc" -ne 0 ] && [ $((f + e)) -eq 0 ]; then
    # (under ASan: a leak or a sanitizer report after the last spec, with every spec passed)
    echo "== $label: busted exited $rc"
    { echo "[$label] busted exited $rc with no failing spec; its last lines:"; tail -5 "$log"; } >>"$failures"
    failed=$((failed + 1))
  fi
}

# recap: the failures of every run again, right above the totals
recap() {
  if [ -s "$failures" ]; then
    echo "== failing specs"
    cat "$failures"
  fi
}

build() {
  if ! make -s "$@"; then
    echo "== build failed: make $*"
    echo "[build] make $* failed" >>"$failures"
    failed=$((failed + 1))
    return 1
  fi
}

if [ "${1:-}" = nginx ]; then
  build LUA=luajit && run "nginx (LuaJIT)" luajit /usr/bin/busted --run=luajit --tags=nginx
  recap
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit
fi

build LUA=lua5.4 && run "Lua 5.4" lua5.4 /usr/bin/busted
build LUA=luajit && run "LuaJIT" luajit /usr/bin/busted --run=luajit

# Sanitizer run: the interpreter is not instrumented, so the runtimes are preloaded.
if build asan; then
  asan_rt="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
  LD_PRELOAD="$asan_rt" ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" \
    UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" CLINCH_SANITIZER=1 \
    run "Lua 5.4 + ASan/UBSan" lua5.4 /usr/bin/busted --cpath="build/asan/5.4/?.so" --exclude-tags=slow
fi

recap
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
