#!/bin/bash
# `make bench`: builds the C core for Lua 5.4 and LuaJIT and the benchmark's C floors, then runs every
# comparison side by side in one run (bench/run.lua: the request path outside and inside nginx,
# bulk work against a test server that adds 100 ms a request, signing, decoding), prints each ratio
# with its target and the total time, and writes BENCHMARKS.md.
# BENCH_ROUNDS (default 5), BENCH_SECONDS (default 1 per contender and round, whole seconds) and
# BENCH_BULK_ROUNDS (default 3) trade time for steadier medians. A benchmark, not a test: it exits 0
# unless something fails to build or run.
set -eu
cd "$(dirname "$0")/.."
BENCH_STARTED=$(date +%s.%N)
export BENCH_STARTED
make -s LUA=lua5.4 bench-core >/dev/null
make -s LUA=luajit bench-core >/dev/null
make -s bench-tools >/dev/null
exec lua5.4 bench/run.lua
