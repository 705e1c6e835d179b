#!/bin/bash
# `make bench`: builds the C core and runs the decode benchmark (bench/decode.lua) on Lua 5.4 and, when
# installed, on LuaJIT. Each run prints the two ratios the issue sets targets for:
#   decode+link / cjson.decode         (target <= 1.15x)
#   cjson+Lua linker / core.decode     (target >= 1.3x)
# Usage: scripts/bench.sh [rounds] [candidates]     BENCH_LUAS="lua5.4 luajit" picks the interpreters.
# It is a benchmark, not a test: it always exits 0 unless something fails to build or run.
set -eu
cd "$(dirname "$0")/.."

rounds=${1:-15}
candidates=${2:-100}
luas=${BENCH_LUAS:-"lua5.4 luajit"}

for lua in $luas; do
  if ! command -v "$lua" >/dev/null 2>&1; then
    echo "== $lua: not installed, skipped"
    continue
  fi
  case "$lua" in
    *luajit*) build=build/5.1; make -s LUA=luajit bench-core >/dev/null ;;
    *) build=build/$("$lua" -e 'io.write((_VERSION:gsub("Lua ","")))'); make -s LUA="$lua" bench-core >/dev/null ;;
  esac
  echo "== $lua"
  path="lua/?.lua;lua/?/init.lua;bench/?.lua;;"
  cpath="$build/?.so;;"
  LUA_PATH="$path" LUA_CPATH="$cpath" LUA_PATH_5_4="$path" LUA_CPATH_5_4="$cpath" \
    "$lua" bench/decode.lua "$rounds" "$candidates"
done
