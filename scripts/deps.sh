#!/bin/sh
# Installs the Debian packages lua-clinch needs to build, test and run (idempotent); `deps.sh bench`
# adds what `make bench` compares against (wrk, Debian's lua-curl) and `make bench-instructions` counts
# with (valgrind), `deps.sh docs` what `make docs`
# builds the API reference with (lua-ldoc, and lua-discount for its Markdown: Debian's ldoc ships
# without its built-in markdown.lua, and Discount leaves the underscores of names alone).
# As root it apt-installs what is missing; otherwise it prints the exact command and fails.
set -eu

PACKAGES="make gcc libc6-dev pkg-config
lua5.4 liblua5.4-dev luajit2 libluajit2-5.1-dev
lua-cjson lua-socket lua-busted lua-check luarocks lua-readline
libcurl4-openssl-dev libssl-dev cppcheck ca-certificates procps zsh
nginx-light libnginx-mod-http-lua lua-resty-core lua-resty-lrucache"
if [ "${1:-}" = bench ]; then
  PACKAGES="$PACKAGES wrk lua-curl valgrind"
fi
if [ "${1:-}" = docs ]; then
  PACKAGES="$PACKAGES lua-ldoc lua-discount"
fi

missing=""
for p in $PACKAGES; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$status" in
    *"install ok installed"*) ;;
    *) missing="$missing $p" ;;
  esac
done

[ -z "$missing" ] && exit 0

cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" != 0 ]; then
  echo "deps: missing Debian packages:$missing" >&2
  echo "deps: run as root:  apt-get update && $cmd" >&2
  exit 1
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# Packages such as nginx would start their system service on install; we only want the binaries.
guard=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && guard=1
fi
rc=0
apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null || rc=$?
[ -n "$guard" ] && rm -f /usr/sbin/policy-rc.d
exit $rc
