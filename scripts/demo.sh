#!/bin/bash
# The `make demo` driver (make runs scripts/deps.sh first): builds the C core for Lua 5.4, starts the
# mock API (bin/clinch-mock) with seeded data on a free loopback port, tours the `clinch` CLI and the
# REPL, runs every example in examples/ end to end, and stops the mock — also on failure or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

if [ -t 1 ]; then bold=$'\033[1m'; dim=$'\033[2m'; off=$'\033[0m'; else bold=; dim=; off=; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$off"; }
note() { printf '%s%s%s\n' "$dim" "$*" "$off"; }
# quoted ARGS...: the arguments as one would type them in a shell.
quoted() {
  local out="" a
  for a in "$@"; do
    if [[ $a =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then out+=" $a"; else out+=" '${a//\'/\'\\\'\'}'"; fi
  done
  printf '%s' "${out# }"
}
# show CMD...: prints the command as typed, then runs it.
show() { printf '%s$ %s%s\n' "$dim" "$(quoted "$@")" "$off"; "$@"; }
clinch() { lua5.4 "$root/bin/clinch" "$@"; }
example() { lua5.4 "$root/examples/$1.lua" "${@:2}"; }

work=$(mktemp -d)
mock_pid=
cleanup() {
  local rc=$?
  if [ -n "$mock_pid" ] && kill -0 "$mock_pid" 2>/dev/null; then
    kill "$mock_pid" 2>/dev/null || true
    wait "$mock_pid" 2>/dev/null || true
    note "mock API stopped"
  fi
  rm -rf "$work"
  if [ "$rc" -ne 0 ]; then echo "demo: FAILED (exit $rc)" >&2; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "Build the C core for Lua 5.4"
make -s LUA=lua5.4

# The checkout's modules and core, whatever LUA_PATH the caller has.
export LUA_PATH="$root/lua/?.lua;$root/lua/?/init.lua;$root/mock/lua/?.lua;$root/mock/lua/?/init.lua;;"
export LUA_CPATH="$root/build/5.4/?.so;;"
unset LUA_PATH_5_4 LUA_CPATH_5_4 CLINCH_REGION

step "Start the mock API with 120 seeded candidates"
lua5.4 bin/clinch-mock --port 0 --candidates 120 --seed 42 >"$work/mock.out" 2>"$work/mock.err" &
mock_pid=$!
for _ in $(seq 100); do
  grep -q '^listening on ' "$work/mock.out" 2>/dev/null && break
  if ! kill -0 "$mock_pid" 2>/dev/null; then cat "$work/mock.err" >&2; echo "demo: the mock did not start" >&2; exit 1; fi
  sleep 0.1
done
base=$(sed -n 's/^listening on //p' "$work/mock.out")
[ -n "$base" ] || { echo "demo: the mock did not report its address" >&2; exit 1; }
export CLINCH_BASE_URL=$base CLINCH_API_KEY=test-key CLINCH_API_SECRET=test-secret
note "CLINCH_BASE_URL=$CLINCH_BASE_URL  CLINCH_API_KEY=test-key  CLINCH_API_SECRET=(set)"
cd "$work"

step "The CLI: the first page of candidates, as a table"
show clinch candidates list --per-page 5 --format table

id=$(clinch candidates list --per-page 1 --format csv --columns id | sed -n 2p | tr -d '\r')
step "One candidate (--format json, jsonl, csv or table; json is the default when piped)"
show clinch candidates get "$id" --format table --columns id,name,email,phone_number,tags,skills,updated_at

step "Create a candidate, tag it, list its tags"
show clinch candidates create --email demo.user@example.com --first-name Demo --last-name 'User, "Jr."' \
  --tag Demo --format table --columns id,name,email,tags
new_id=$(clinch candidates list --email demo.user@example.com --format csv --columns id | sed -n 2p | tr -d '\r')
show clinch tags add "$new_id" "Made by make demo" --format table
show clinch tags list "$new_id" --format table

step "Every candidate updated in the last year, as CSV (a progress line shows on a terminal)"
since=$(date -u -d '365 days ago' +%Y-%m-%d)
printf '%s$ %s > recent.csv%s\n' "$dim" "$(quoted clinch candidates list --all --per-page 25 --updated-since "$since" \
  --format csv --columns id,email,first_name,last_name)" "$off"
clinch candidates list --all --per-page 25 --updated-since "$since" --format csv \
  --columns id,email,first_name,last_name > recent.csv
note "recent.csv: $(($(wc -l < recent.csv) - 1)) candidates; first rows:"
head -3 recent.csv

step "Errors: one line on stderr, exit code 1 for the API, 2 for usage"
set +e
clinch candidates get no-such-id; note "exit code $?"
clinch candidates list --per-page zero; note "exit code $?"
set -e

step "--dry-run prints the signed request as curl instead of sending it (signature, never the secret)"
show clinch --dry-run tags add "$new_id" Example

step "--verbose logs each request on stderr, Authorization redacted"
show clinch --verbose candidates list --per-page 2 --format csv --columns id,email

step "candidates sync: incremental, resumable export (run, change a candidate, run again)"
show clinch candidates sync --state sync-state.json --out changes.jsonl --format jsonl
clinch candidates update "$new_id" --last-name Updated --format csv >/dev/null
note "(changed candidate $new_id; waiting a second so the change is past the first run's window)"
sleep 1.1
show clinch candidates sync --state sync-state.json --out changes.jsonl --format jsonl
note "changes.jsonl: $(wc -l < changes.jsonl) lines (every candidate once, then the one that changed)"

step "The REPL, fed a script on stdin"
printf '%s\n' \
  'page = client.candidates:list{ per_page = 3 }' \
  'for _, c in ipairs(page) do print(c) end' \
  'page[1]:add_tag("Seen in the REPL")' \
  'pp(page[1]:list_tags())' | show clinch repl

step "Example: examples/export_csv.lua (candidates updated since a date, to CSV)"
show example export_csv "$(date -u -d '90 days ago' +%Y-%m-%d)" export.csv
head -3 export.csv

step "Example: examples/tag_by_skill.lua (tag everyone who lists a skill; a second run changes nothing)"
show example tag_by_skill sql
show example tag_by_skill sql

step "Example: examples/upload_resumes.lua (a folder of PDFs, matched to candidates by email)"
show example upload_resumes

step "Example: examples/sync_incremental.lua (the library's view of incremental sync)"
show example sync_incremental lib-state.json lib-changes.jsonl
clinch candidates update "$id" --first-name Changed --format csv >/dev/null
note "(changed candidate $id)"
sleep 1.1
show example sync_incremental lib-state.json lib-changes.jsonl

step "Done"
note "Everything above ran against the mock; set CLINCH_API_KEY, CLINCH_API_SECRET and CLINCH_REGION to use the real API."
