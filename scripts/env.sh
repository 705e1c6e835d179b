#!/bin/sh
# Prints the shell lines that let Lua find this checkout's modules (the library's lua/ and the mock's
# mock/lua/) and the C core built for that interpreter, so that your own scripts run from a checkout:
#   make && eval "$(scripts/env.sh)"          # then: lua5.4 myscript.lua
#   make LUA=luajit && eval "$(scripts/env.sh luajit)"
# Lua 5.4 reads LUA_PATH_5_4 / LUA_CPATH_5_4 (leaving LUA_PATH for other versions), LuaJIT LUA_PATH /
# LUA_CPATH; the trailing ";;" keeps the standard paths (lua-cjson, LuaSocket) after the checkout's.
set -eu
lua=${1:-lua5.4}
root=$(cd "$(dirname "$0")/.." && pwd)
case $lua in
  *luajit*) version=5.1 suffix= ;;
  lua5.4|*5.4) version=5.4 suffix=_5_4 ;;
  *) echo "scripts/env.sh: give lua5.4 or luajit, not '$lua'" >&2; exit 2 ;;
esac
if [ ! -f "$root/build/$version/clinch/core.so" ]; then
  make_arg=; [ "$version" = 5.1 ] && make_arg=" LUA=luajit"
  echo "scripts/env.sh: no C core in $root/build/$version: run 'make$make_arg' first" >&2
  exit 1
fi
# Single-quoted for the shell that evals this, whatever the checkout's path holds.
quoted=$(printf '%s' "$root" | sed "s/'/'\\\\''/g")
echo "export LUA_PATH$suffix='$quoted/lua/?.lua;$quoted/lua/?/init.lua;$quoted/mock/lua/?.lua;$quoted/mock/lua/?/init.lua;;'"
echo "export LUA_CPATH$suffix='$quoted/build/$version/?.so;;'"
