--- `make bench-instructions`: what the request path and decoding cost in instructions (valgrind
-- --tool=callgrind), the measure that stays put on a shared machine where wall time does not. Each
-- contender runs twice, short and long, and the difference of the two counts over the difference of
-- the work done is its cost per request (or per decode), so that start-up, module loading and JIT
-- warm-up cancel out. Written to BENCHMARKS-callgrind.md; `make bench` (BENCHMARKS.md) stays the
-- measure of the targets, which are wall-time ratios.
--
-- Outside nginx a plain nginx serves the benchmark's document (bench/fixture.lua DOC) on loopback and
-- the client process is counted. Inside nginx a worker running under callgrind (master_process off)
-- makes N GETs of that document from another nginx in one handler: with client:request, and with the
-- hand-written cosocket GET + cjson of bench/floors.lua; only the worker that makes them is counted.
-- Endpoints: one worker under callgrind serving bench/nginx.conf's three endpoints and their backend,
-- as in `make bench`, counted over whole requests. Decoding: the 100-candidate page of
-- bench/fixture.lua decoded N times.
--
-- Run from the repository root after `make bench-core bench-tools` (the Makefile target does both):
--   lua5.4 bench/instructions.lua
package.path = "bench/?.lua;mock/lua/?.lua;" .. package.path
local socket = require "socket"
local shell = require "shell"
local fixture = require "fixture"

local ROOT, q, sh, capture, free_port, env_for = shell.ROOT, shell.q, shell.sh, shell.capture, shell.free_port,
  shell.env_for
local NGINX = os.getenv("CLINCH_NGINX") or "/usr/sbin/nginx"
local VALGRIND = "valgrind --tool=callgrind --callgrind-out-file=/dev/null"
local started = socket.gettime()

local function refs(out)
  local n = out:match("refs:%s*([%d,]+)")
  return n and tonumber((n:gsub(",", "")))
end

-- ---- a private nginx prefix (the backend, and the counted worker) ----

local prefixes = {}
local function prefix_with(conf)
  local prefix = capture("mktemp -d /tmp/clinch-count.XXXXXX"):match("%S+")
  prefixes[#prefixes + 1] = prefix
  assert(sh("mkdir -p " .. q(prefix .. "/logs") .. " " .. q(prefix .. "/tmp") .. " && chmod 755 " .. q(prefix)))
  local f = assert(io.open(prefix .. "/nginx.conf", "wb"))
  f:write(conf)
  f:close()
  return prefix
end

local HEAD = [[
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
%s
worker_processes 1;
pid logs/nginx.pid;
error_log logs/error.log warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path tmp/body; proxy_temp_path tmp/proxy; fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi; scgi_temp_path tmp/scgi;
    keepalive_requests 100000000;
    lua_package_path "%s/lua/?.lua;%s/lua/?/init.lua;%s/bench/?.lua;;";
    lua_package_cpath "%s/build/5.1/?.so;;";
]]

local function head(extra)
  return HEAD:format(extra, ROOT, ROOT, ROOT, ROOT)
end

local function wait_for(url)
  local deadline = socket.gettime() + 60 -- a worker under callgrind starts slowly
  while socket.gettime() < deadline do
    local _, status = require("socket.http").request(url)
    if status == 200 then return end
    socket.sleep(0.2)
  end
  error("no answer from " .. url)
end

local backend = {}
local function start_backend()
  backend.port = free_port()
  local uid = capture("id -u"):match("%d+")
  backend.prefix = prefix_with(head(uid == "0" and "user root root;" or "") .. ([[
    server {
        listen 127.0.0.1:%d;
        location = /v1/doc { default_type application/vnd.api+json; return 200 '%s'; }
    }
}
]]):format(backend.port, fixture.DOC))
  local out, ok = capture(q(NGINX) .. " -p " .. q(backend.prefix .. "/") .. " -c nginx.conf -e logs/error.log")
  if not ok then error("nginx did not start: " .. out) end
  wait_for("http://127.0.0.1:" .. backend.port .. "/v1/doc")
end

local function stop(prefix)
  local f = io.open(prefix .. "/logs/nginx.pid", "rb")
  local pid = f and f:read("*l")
  if f then f:close() end
  if pid then sh("kill -QUIT " .. pid .. " 2>/dev/null") end
end

-- ---- the contenders ----

-- A time-bound contender ("requests N seconds T"), run for 1 and 3 seconds: instructions per request.
-- `env` (env_for's prefix, or "") goes before valgrind, so that the counted program gets it.
local function per_request(env, cmd)
  local counts = {}
  for i, seconds in ipairs { 1, 3 } do
    local out = capture(env .. VALGRIND .. " " .. cmd:gsub("SECONDS", seconds))
    local n = tonumber(out:match("requests (%d+) seconds"))
    local c = refs(out)
    if not n or not c then error("contender failed: " .. cmd .. "\n" .. out) end
    counts[i] = { n, c }
  end
  return (counts[2][2] - counts[1][2]) / (counts[2][1] - counts[1][1])
end

-- Runs the nginx of prefix (master_process off) under callgrind while drive() makes its requests, then
-- stops it: the instructions its worker ran.
local function counted_worker(prefix, drive)
  local log = prefix .. "/valgrind.log"
  assert(sh(VALGRIND .. " " .. q(NGINX) .. " -p " .. q(prefix .. "/") .. " -c nginx.conf -e logs/error.log > "
    .. q(log) .. " 2>&1 & echo $! > " .. q(prefix .. "/valgrind.pid")))
  drive()
  local pid = io.open(prefix .. "/valgrind.pid"):read("*l")
  sh("kill -QUIT " .. pid)
  for _ = 1, 300 do
    local f = io.open(log, "rb")
    local c = f and refs(f:read("*a"))
    if f then f:close() end
    if c then return c end
    socket.sleep(0.1)
  end
  error("no count from the nginx worker (" .. log .. ")")
end

-- N GETs in one handler of a worker under callgrind, for 300 and 2300: instructions per request (the
-- JIT compiles and the GC cycles differently from run to run: a long difference keeps that small).
local function in_nginx(mode)
  local counts = {}
  for i, n in ipairs { 300, 2300 } do
    local port = free_port()
    local prefix = prefix_with(head("daemon off;\nmaster_process off;") .. ([[
    init_worker_by_lua_block {
        package.loaded.bench_client = require("clinch").new {
            key = "bench", secret = "bench-secret", base_url = "http://127.0.0.1:%d/v1", retries = 0,
        }
    }
    server {
        listen 127.0.0.1:%d;
        location = /loop { content_by_lua_block { require("count_loop").nginx(%d) } }
    }
}
]]):format(backend.port, port, backend.port))
    counts[i] = { n, counted_worker(prefix, function()
      local loop = "http://127.0.0.1:" .. port .. "/loop?mode=" .. mode .. "&n="
      wait_for(loop .. "0")
      local http = require("socket.http")
      assert(http.request(loop .. "200") == "ok\n", "the warm-up loop failed") -- JIT warm-up
      assert(http.request(loop .. n) == "ok\n", "the loop failed")
    end) }
  end
  return (counts[2][2] - counts[1][2]) / (counts[2][1] - counts[1][1])
end

-- n GET requests of path on one kept-alive connection to 127.0.0.1:port, each answer read whole
-- (Content-Length or chunked framing, as nginx answers a content_by_lua handler).
local function get_many(port, path, n)
  local c = assert(socket.connect("127.0.0.1", port))
  c:settimeout(120)
  local req = "GET " .. path .. " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
  for _ = 1, n do
    assert(c:send(req))
    local status = assert(c:receive("*l"))
    if not status:find("^HTTP/1%.1 200") then error(path .. " answered " .. status) end
    local len, chunked
    while true do
      local line = assert(c:receive("*l"))
      if line == "" then break end
      local name, value = line:match("^([^:]+):%s*(.-)%s*$")
      name = name and name:lower()
      if name == "content-length" then len = tonumber(value) end
      if name == "transfer-encoding" and value:lower():find("chunked", 1, true) then chunked = true end
    end
    if chunked then
      while true do
        local size = tonumber(assert(c:receive("*l")):match("^(%x+)"), 16)
        if size == 0 then
          assert(c:receive("*l"))
          break
        end
        assert(c:receive(size))
        assert(c:receive("*l"))
      end
    elseif len and len > 0 then
      assert(c:receive(len))
    end
  end
  c:close()
end

-- Whole endpoint requests, as `make bench` serves them: one worker under callgrind answers the
-- bench/nginx.conf endpoints (/client, /cosocket, /proxy) and is their backend too; n requests of one
-- endpoint over one connection, for 500 and 2500 (after 500 unmeasured): instructions per request of
-- everything the worker does for it (the front request, the backend's, the GET between them).
local function endpoint(path)
  local counts = {}
  for i, n in ipairs { 500, 2500 } do
    local port, back = shell.free_ports(2)
    local prefix = prefix_with(head("daemon off;\nmaster_process off;") .. ([[
    upstream backend { server 127.0.0.1:%d; keepalive 32; }
    init_worker_by_lua_block {
        package.loaded.bench_client = require("clinch").new {
            key = "bench", secret = "bench-secret", base_url = "http://127.0.0.1:%d/v1", retries = 0,
        }
    }
    server {
        listen 127.0.0.1:%d;
        location = /v1/doc { default_type application/vnd.api+json; return 200 '%s'; }
    }
    server {
        listen 127.0.0.1:%d;
        default_type text/plain;
        location = /ready { return 200 "ok"; }
        location = /client {
            content_by_lua_block { ngx.print(package.loaded.bench_client:request("GET", "/doc").document.data.id) }
        }
        location = /cosocket { content_by_lua_block { ngx.print(require("floors").cosocket_get(%d).data.id) } }
        location = /cosocket_signed {
            content_by_lua_block {
                ngx.print(require("floors").cosocket_get_signed(%d, package.loaded.bench_client).data.id)
            }
        }
        location = /cosocket_work {
            content_by_lua_block {
                ngx.print(require("floors").cosocket_get_work(%d, "bench", "bench-secret",
                    package.loaded.bench_client.transport.impl.user_agent).data.id)
            }
        }
        location = /proxy {
            proxy_pass http://backend/v1/doc; proxy_http_version 1.1; proxy_set_header Connection "";
        }
    }
}
]]):format(back, back, back, fixture.DOC, port, back, back, back))
    counts[i] = { n, counted_worker(prefix, function()
      wait_for("http://127.0.0.1:" .. port .. "/ready")
      get_many(port, path, 500) -- the warm-up: the worker compiles the endpoint's code
      get_many(port, path, n)
    end) }
  end
  return (counts[2][2] - counts[1][2]) / (counts[2][1] - counts[1][1])
end

-- The page decoded 5 and 25 times: instructions per decode.
local function per_decode(lua, which)
  local counts = {}
  for i, n in ipairs { 5, 25 } do
    local out = capture(env_for(lua) .. VALGRIND .. " " .. lua .. " bench/count_loop.lua decode " .. which .. " " .. n)
    local c = refs(out)
    if not c then error("decode contender failed: " .. which .. "\n" .. out) end
    counts[i] = { n, c }
  end
  return (counts[2][2] - counts[1][2]) / (counts[2][1] - counts[1][1])
end

-- ---- the run ----

local rows = {}
local function row(group, what, count, floor_name, floor)
  rows[#rows + 1] = { group = group, what = what, count = count, floor_name = floor_name, floor = floor }
  print(("%-28s %-62s %9.0f%s"):format(group, what, count,
    floor and (" = %.2fx %s"):format(count / floor, floor_name) or ""))
end

local ok, err = pcall(function()
  start_backend()
  local url = "http://127.0.0.1:" .. backend.port .. "/v1/doc"
  local base = "http://127.0.0.1:" .. backend.port .. "/v1"
  local headers = shell.client_header_args()

  local g = "request outside nginx"
  local bare = per_request("", "build/bench/curl_loop " .. q(url) .. " SECONDS")
  row(g, "bare C libcurl loop", bare)
  row(g, "C libcurl loop sending the client's 4 headers",
    per_request("", "build/bench/curl_loop " .. q(url) .. " SECONDS " .. headers), "the bare loop", bare)
  local same_work = per_request("", "build/bench/curl_loop " .. q(url) .. " SECONDS --decode " .. headers)
  row(g, "same-work floor: that loop + `cjson.decode` (Lua 5.4)", same_work, "the bare loop", bare)
  for _, lua in ipairs { "lua5.4", "luajit" } do
    local count = per_request(env_for(lua), lua .. " bench/request.lua client " .. q(base) .. " SECONDS")
    row(g, (lua == "luajit" and "LuaJIT" or "Lua 5.4") .. " `client:request` (signed, decoded)", count,
      "the bare loop", bare)
    if lua == "lua5.4" then
      row(g, "Lua 5.4 `client:request` (signed, decoded)", count, "the same-work floor", same_work)
    end
  end
  if sh("luajit -e 'require \"curl\"' >/dev/null 2>&1") then
    row(g, "LuaJIT Debian's lua-curl + cjson (no signing, no linking)",
      per_request(env_for("luajit"), "luajit bench/request.lua luacurl " .. q(url) .. " SECONDS"), "the bare loop",
      bare)
    row(g, "LuaJIT lua-curl + cjson sending the client's 4 headers",
      per_request(env_for("luajit"), "luajit bench/request.lua luacurl " .. q(url) .. " SECONDS " .. headers),
      "the bare loop", bare)
  end

  g = "request inside nginx"
  local hand = in_nginx("cosocket")
  row(g, "hand-written cosocket GET + cjson", hand)
  row(g, "`client:request` (signed, decoded)", in_nginx("client"), "the hand-written GET", hand)

  g = "endpoint inside nginx"
  local floor_endpoint = endpoint("/cosocket")
  row(g, "hand-written cosocket GET + cjson endpoint", floor_endpoint)
  local signed_endpoint = endpoint("/cosocket_signed")
  row(g, "hand-written endpoint sending the client's header lines", signed_endpoint, "the hand-written endpoint",
    floor_endpoint)
  local work_endpoint = endpoint("/cosocket_work")
  row(g, "same-work floor: that endpoint signed, `jsonapi.decode`", work_endpoint, "the hand-written endpoint",
    floor_endpoint)
  local client_endpoint = endpoint("/client")
  row(g, "endpoint with `client:request`", client_endpoint, "the hand-written endpoint", floor_endpoint)
  row(g, "endpoint with `client:request`", client_endpoint, "the one sending the client's header lines",
    signed_endpoint)
  row(g, "endpoint with `client:request`", client_endpoint, "the same-work floor", work_endpoint)
  row(g, "`proxy_pass` endpoint", endpoint("/proxy"), "the hand-written endpoint", floor_endpoint)

  for _, lua in ipairs { "lua5.4", "luajit" } do
    g = "decoding (" .. lua .. ")"
    local cjson = per_decode(lua, "cjson")
    row(g, "`cjson.decode` of the 100-candidate page", cjson)
    row(g, "`jsonapi.decode`", per_decode(lua, "jsonapi"), "cjson.decode", cjson)
    row(g, "cjson + the pure-Lua linker (bench/lua_linker.lua)", per_decode(lua, "lualinker"), "cjson.decode", cjson)
  end
end)
for _, prefix in ipairs(prefixes) do stop(prefix) end
socket.sleep(0.5)
for _, prefix in ipairs(prefixes) do sh("rm -rf " .. q(prefix)) end
if not ok then error(err, 0) end

local out = {
  "# Instruction counts",
  "",
  "Written by `make bench-instructions` (`bench/instructions.lua`); do not edit by hand. Instructions",
  "counted by `valgrind --tool=callgrind` (steady on a shared machine, where wall time is not): each",
  "contender ran short and long, and the difference of the counts over the difference of the work is",
  "its cost per request or per decode. Outside nginx the client process is counted; inside nginx the",
  "worker making the requests (the backend is another nginx). The endpoint rows count all a worker does",
  "for a request of the endpoints `make bench` compares, and of one sending the client's header lines",
  "unsigned (the front request, the backend's, which the same worker serves there, and the GET between",
  "them), user space only: the system calls of the Lua endpoints are the same (3 recvfrom, 2 writev,",
  "1 sendto a request; strace), and time spent in the kernel is not counted here.",
  "LuaJIT's compiled code differs from run to run (which traces form first): five",
  "runs of the client endpoint with the same code differed by 1.1k instructions a request.",
  "`make bench` (BENCHMARKS.md) has the wall-time ratios the targets are about.",
  "",
  "| | contender | instructions | against |",
  "|---|---|---|---|",
}
for _, r in ipairs(rows) do
  local count = r.count >= 1e7 and ("%.1fM"):format(r.count / 1e6) or ("%.0fk"):format(r.count / 1000)
  out[#out + 1] = ("| %s | %s | %s | %s |"):format(r.group, r.what, count,
    r.floor and ("%.2fx %s"):format(r.count / r.floor, r.floor_name) or "(floor)")
end
out[#out + 1] = ""
out[#out + 1] = ("Machine: %s, %s CPUs. %s; %s; libcurl %s. Took %.0f s."):format(
  (capture("uname -srm"):gsub("%s+$", "")), (capture("nproc"):gsub("%s+$", "")),
  capture("lua5.4 -v"):match("^Lua [%d%.]+") or "Lua 5.4", capture("luajit -v"):match("^LuaJIT %S+") or "LuaJIT",
  capture(env_for("lua5.4") .. "lua5.4 -e 'io.write((require(\"clinch.core\").curl_version()))'"),
  socket.gettime() - started)
local f = assert(io.open(ROOT .. "/BENCHMARKS-callgrind.md", "wb"))
f:write(table.concat(out, "\n"), "\n")
f:close()
print(("wrote BENCHMARKS-callgrind.md in %.0f s"):format(socket.gettime() - started))
