--- `make bench`: every comparison of the request path, signing and decoding, side by side in one run,
-- printed as ratios with their targets and written to BENCHMARKS.md. Benchmarks, not tests: a missed
-- target is printed as MISSED, and the run still succeeds.
--
-- Each comparison runs its contenders in rounds, the order rotated every round, each contender for
-- BENCH_SECONDS (default 1); a round's ratio compares contenders measured moments apart, and the
-- printed ratio is the median over BENCH_ROUNDS (default 5) rounds, with the range. Throughputs are
-- requests (or signatures) per second, so "0.9x" means 90% of the other's rate. Inside nginx, where one
-- worker serves every round (its JIT-compiled code made in the first), each endpoint is first run once
-- unmeasured, and the rounds are BENCH_NGINX_ROUNDS (default 4 x BENCH_ROUNDS + 1): that group's
-- rounds vary the most on a shared machine (on this 2-core VM single rounds of unchanged code read
-- 0.35x-1.27x, and medians over 9 rounds of three runs in a row 0.77x, 0.86x and 0.99x).
--
-- The bulk comparisons (export, creates, a 429 storm) run whole jobs against a test server that adds
-- 100 ms to every request (bench/bulk_server.lua, in the same nginx), each job in a process of its own
-- (bench/bulk.lua, Lua 5.4), in BENCH_BULK_ROUNDS (default 3) rotated rounds; their rates are items
-- per second, their memory the process's peak RSS (VmHWM).
--
-- Run by scripts/bench.sh from the repository root (it builds what is needed):
--   lua5.4 bench/run.lua
local socket = require "socket"

local ROUNDS = tonumber(os.getenv("BENCH_ROUNDS")) or 5
local SECONDS = tonumber(os.getenv("BENCH_SECONDS")) or 1
local BULK_ROUNDS = tonumber(os.getenv("BENCH_BULK_ROUNDS")) or 3
local NGINX_ROUNDS = tonumber(os.getenv("BENCH_NGINX_ROUNDS")) or 4 * ROUNDS + 1
-- scripts/bench.sh passes when `make bench` started (the builds count too)
local STARTED = tonumber(os.getenv("BENCH_STARTED")) or socket.gettime()
package.path = "bench/?.lua;mock/lua/?.lua;" .. package.path
local shell = require "shell"
local ROOT, q, sh, capture, free_ports, env_for = shell.ROOT, shell.q, shell.sh, shell.capture, shell.free_ports,
  shell.env_for
local NGINX = os.getenv("CLINCH_NGINX") or "/usr/sbin/nginx"
local DOC = require("fixture").DOC

local function median(list)
  local s = {}
  for i, v in ipairs(list) do s[i] = v end
  table.sort(s)
  local n = #s
  return n % 2 == 1 and s[(n + 1) / 2] or (s[n / 2] + s[n / 2 + 1]) / 2
end

local function range(list)
  local lo, hi = math.huge, -math.huge
  for _, v in ipairs(list) do lo, hi = math.min(lo, v), math.max(hi, v) end
  return lo, hi
end

-- Runs a contender command that prints "<what> N seconds T"; returns the rate per second.
local function rate(cmd)
  local out, ok = capture(cmd)
  local n, t = out:match("%a+ (%d+) seconds ([%d%.]+)")
  if not ok or not n then error("benchmark contender failed: " .. cmd .. "\n" .. out) end
  return tonumber(n) / tonumber(t)
end

-- A wrk run: requests per second of an nginx endpoint at 8 connections.
local function wrk(url)
  local out, ok = capture("wrk -t1 -c8 -d" .. SECONDS .. "s " .. q(url))
  local rps = out:match("Requests/sec:%s*([%d%.]+)")
  if not ok or not rps or out:find("Non%-2xx") then error("wrk failed on " .. url .. "\n" .. out) end
  return tonumber(rps)
end

-- Runs `contenders` (name -> function returning a rate) in `n` (default ROUNDS) rotated rounds;
-- returns name -> list of what they returned, in round order.
local function rounds(names, contenders, n)
  local rates = {}
  for _, name in ipairs(names) do rates[name] = {} end
  for r = 1, n or ROUNDS do
    for k = 0, #names - 1 do
      local name = names[(r + k - 1) % #names + 1]
      rates[name][r] = contenders[name]()
    end
  end
  return rates
end

-- { group, what, list (of ratios), target, lower (the ratio must stay at or below it), strict (above
-- it), note (printed after the target) } or { group, what, skipped = reason } or { group, what,
-- failed = message } (a bulk job that did not run to its end)
local results = {}

local function ratio(group, what, a, b, target, extra)
  local list = {}
  for i = 1, #a do list[i] = a[i] / b[i] end
  local r = { group = group, what = what, list = list, target = target }
  for k, v in pairs(extra or {}) do r[k] = v end
  results[#results + 1] = r
end

-- ---- nginx: a private prefix on free loopback ports ----

local nginx = {}
local function start_nginx()
  local prefix = capture("mktemp -d /tmp/clinch-bench.XXXXXX"):match("%S+")
  nginx.prefix = prefix
  nginx.backend, nginx.front, nginx.bulk = free_ports(3)
  assert(sh("mkdir -p " .. q(prefix .. "/conf") .. " " .. q(prefix .. "/logs") .. " " .. q(prefix .. "/tmp")
    .. " && chmod 755 " .. q(prefix)))
  local f = assert(io.open(ROOT .. "/bench/nginx.conf", "rb"))
  local conf = f:read("*a")
  f:close()
  local uid = capture("id -u"):match("%d+")
  local values = { ROOT = ROOT, BACKEND_PORT = nginx.backend, FRONT_PORT = nginx.front, BULK_PORT = nginx.bulk,
                   DOC = DOC, USER = uid == "0" and "user root root;" or "" }
  conf = conf:gsub("@([A-Z_]+)@", function(k) return assert(values[k], k) end)
  f = assert(io.open(prefix .. "/conf/nginx.conf", "wb"))
  f:write(conf)
  f:close()
  local out, ok = capture(q(NGINX) .. " -p " .. q(prefix .. "/") .. " -c conf/nginx.conf -e logs/error.log")
  if not ok then error("nginx did not start: " .. out) end
  local deadline = socket.gettime() + 10
  while true do
    local body, status = require("socket.http").request("http://127.0.0.1:" .. nginx.front .. "/client")
    if status == 200 then break end
    if socket.gettime() > deadline then
      local log = io.open(prefix .. "/logs/error.log", "rb")
      error("nginx does not answer /client: " .. tostring(status) .. " " .. tostring(body) .. "\n"
        .. (log and log:read("*a") or ""))
    end
    socket.sleep(0.1)
  end
end

local function stop_nginx()
  if not nginx.prefix then return end
  local f = io.open(nginx.prefix .. "/logs/nginx.pid", "rb")
  local pid = f and f:read("*l")
  if f then f:close() end
  if pid then
    sh("kill -QUIT " .. pid .. " 2>/dev/null")
    for _ = 1, 50 do
      if not sh("kill -0 " .. pid .. " 2>/dev/null") then break end
      socket.sleep(0.1)
    end
  end
  sh("rm -rf " .. q(nginx.prefix))
  nginx.prefix = nil
end

-- ---- the comparisons ----

local function request_path()
  local base = "http://127.0.0.1:" .. nginx.backend .. "/v1"
  local url = base .. "/doc"
  local names = { "curl_loop", "curl_loop + headers", "curl_loop + headers + cjson", "lua5.4 client:request",
                  "luajit client:request" }
  local header_args = shell.client_header_args()
  local c = {
    curl_loop = function() return rate("build/bench/curl_loop " .. q(url) .. " " .. SECONDS) end,
    ["curl_loop + headers"] = function()
      return rate("build/bench/curl_loop " .. q(url) .. " " .. SECONDS .. " " .. header_args)
    end,
    ["curl_loop + headers + cjson"] = function()
      return rate("build/bench/curl_loop " .. q(url) .. " " .. SECONDS .. " --decode " .. header_args)
    end,
    ["lua5.4 client:request"] = function()
      return rate(env_for("lua5.4") .. "lua5.4 bench/request.lua client " .. q(base) .. " " .. SECONDS)
    end,
    ["luajit client:request"] = function()
      return rate(env_for("luajit") .. "luajit bench/request.lua client " .. q(base) .. " " .. SECONDS)
    end,
  }
  local luacurl = sh("luajit -e 'require \"curl\"' >/dev/null 2>&1")
  if luacurl then
    names[#names + 1] = "luajit lua-curl + cjson"
    c["luajit lua-curl + cjson"] = function()
      return rate(env_for("luajit") .. "luajit bench/request.lua luacurl " .. q(url) .. " " .. SECONDS)
    end
    names[#names + 1] = "luajit lua-curl + headers + cjson"
    c["luajit lua-curl + headers + cjson"] = function()
      return rate(env_for("luajit") .. "luajit bench/request.lua luacurl " .. q(url) .. " " .. SECONDS .. " "
        .. header_args)
    end
  end
  local r = rounds(names, c)
  ratio("request path outside nginx", "Lua 5.4 `client:request` GET / bare C libcurl loop",
    r["lua5.4 client:request"], r.curl_loop, 0.9)
  ratio("request path outside nginx", "LuaJIT `client:request` GET / bare C libcurl loop", r["luajit client:request"],
    r.curl_loop, nil)
  ratio("request path outside nginx", "Lua 5.4 `client:request` GET / C libcurl loop sending the client's headers",
    r["lua5.4 client:request"], r["curl_loop + headers"], nil)
  ratio("request path outside nginx", "C libcurl loop sending the client's headers / bare C libcurl loop",
    r["curl_loop + headers"], r.curl_loop, nil)
  -- the same-work floor: what every Lua client of this API does per request at the least (the API's
  -- header lines, cjson.decode of the body), from C with no Lua layer; what the 0.9x target leaves
  ratio("request path outside nginx",
    "same-work floor: C libcurl loop sending the client's headers + `cjson.decode` (Lua 5.4) / bare C libcurl loop",
    r["curl_loop + headers + cjson"], r.curl_loop, nil)
  ratio("request path outside nginx", "Lua 5.4 `client:request` GET / that same-work floor",
    r["lua5.4 client:request"], r["curl_loop + headers + cjson"], nil)
  if luacurl then
    ratio("request path outside nginx", "LuaJIT `client:request` GET / Debian's lua-curl + cjson",
      r["luajit client:request"], r["luajit lua-curl + cjson"], 1.0)
    -- what the 0.9x target leaves: a binding that only performs and decodes (no signing, no header
    -- checks, no linking, no error objects) against the bare loop
    ratio("request path outside nginx",
      "ceiling: Debian's lua-curl + cjson (no signing, no linking) / bare C libcurl loop",
      r["luajit lua-curl + cjson"], r.curl_loop, nil)
    -- the same peer sending the API's header lines (fixed: no signing, no linking), and what those cost it
    ratio("request path outside nginx", "LuaJIT `client:request` GET / lua-curl + cjson sending the client's headers",
      r["luajit client:request"], r["luajit lua-curl + headers + cjson"], nil)
    ratio("request path outside nginx", "lua-curl + cjson sending the client's headers / Debian's lua-curl + cjson",
      r["luajit lua-curl + headers + cjson"], r["luajit lua-curl + cjson"], nil)
  else
    results[#results + 1] = { group = "request path outside nginx", what = "LuaJIT vs lua-curl + cjson",
                              skipped = "lua-curl is not installed (scripts/deps.sh bench installs it)" }
  end
  return r
end

local function inside_nginx()
  local front = "http://127.0.0.1:" .. nginx.front
  local names = { "/client", "/cosocket", "/cosocket_work", "/proxy" }
  local c = {}
  for _, n in ipairs(names) do c[n] = function() return wrk(front .. n) end end
  for _, n in ipairs(names) do c[n]() end -- the warm-up: the worker compiles each endpoint's code
  local r = rounds(names, c, NGINX_ROUNDS)
  ratio("request path inside nginx", "endpoint with `client:request` / hand-written cosocket GET + cjson",
    r["/client"], r["/cosocket"], 0.9)
  ratio("request path inside nginx", "endpoint with `client:request` / `proxy_pass`", r["/client"], r["/proxy"], 0.7)
  -- the same-work floor: that GET signed, its document linked (bench/floors.lua); what the 0.9x target
  -- leaves
  ratio("request path inside nginx",
    "same-work floor: hand-written GET, signed, `jsonapi.decode` / hand-written GET",
    r["/cosocket_work"], r["/cosocket"], nil)
  ratio("request path inside nginx", "endpoint with `client:request` / that same-work floor",
    r["/client"], r["/cosocket_work"], nil)
  -- what the 0.7x target leaves: proxy_pass decodes nothing, the hand-written floor decodes with cjson
  ratio("request path inside nginx", "ceiling: hand-written cosocket GET + cjson / `proxy_pass`", r["/cosocket"],
    r["/proxy"], nil)
  return r
end

local function signing()
  local names = { "hmac_loop", "lua5.4 core.sign", "luajit core.sign" }
  local c = {
    hmac_loop = function() return rate("build/bench/hmac_loop " .. SECONDS) end,
    ["lua5.4 core.sign"] = function() return rate(env_for("lua5.4") .. "lua5.4 bench/sign.lua " .. SECONDS) end,
    ["luajit core.sign"] = function() return rate(env_for("luajit") .. "luajit bench/sign.lua " .. SECONDS) end,
  }
  local r = rounds(names, c)
  local what = "`core.sign` / C loop of OpenSSL HMAC-SHA1 + Base64"
  ratio("signing", "Lua 5.4 " .. what, r["lua5.4 core.sign"], r.hmac_loop, 0.5)
  ratio("signing", "LuaJIT " .. what, r["luajit core.sign"], r.hmac_loop, 0.5)
  return r
end

-- bench/decode.lua measures its own rounds and prints "RESULT name ratio..." lines.
local function decoding()
  for _, lua in ipairs { "lua5.4", "luajit" } do
    local out, ok = capture(env_for(lua) .. lua .. " bench/decode.lua " .. (ROUNDS * 3) .. " 100")
    if not ok then error("bench/decode.lua failed on " .. lua .. ":\n" .. out) end
    io.write(out)
    -- which linker jsonapi.decode uses on this VM: "c" (the C core) or "lua" (clinch.link)
    local path = out:match("\nPATH (%a+)") == "lua" and "Lua linker" or "C linker"
    local label = (lua == "luajit" and "LuaJIT" or "Lua 5.4") .. " (" .. path .. ")"
    for name, list in out:gmatch("RESULT (%S+) ([%d%.,]+)") do
      local values = {}
      for v in list:gmatch("[%d%.]+") do values[#values + 1] = tonumber(v) end
      if name == "decode_vs_cjson" then
        results[#results + 1] = { group = "decoding", list = values, lower = true,
                                  what = label .. " `jsonapi.decode` time / bare `cjson.decode`",
                                  target = lua == "lua5.4" and 1.2 or nil }
      elseif name == "lualinker_vs_decode" then
        -- 5.4: faster than cjson + the Lua linker; LuaJIT: at least as fast
        results[#results + 1] = { group = "decoding", list = values, target = 1.0, strict = lua == "lua5.4",
                                  what = label .. " (cjson + pure-Lua linker) time / `jsonapi.decode`" }
      elseif name == "other_vs_decode" then
        -- the linker jsonapi does not use on this VM, to show why
        results[#results + 1] = { group = "decoding", list = values,
                                  what = label .. (path == "Lua linker" and " C linker `core.decode`"
                                    or " Lua linker `clinch.link`") .. " time / `jsonapi.decode`" }
      end
    end
  end
end

-- ---- bulk work against the test server that adds 100 ms a request (bench/bulk_server.lua) ----

local bulk_lines = {} -- what each bulk job did, for the report: lines of text
local bulk_page_bytes = 0 -- the size of a page of the export

local function bulk_url(path) return "http://127.0.0.1:" .. nginx.bulk .. path end

-- Runs one job of bench/bulk.lua in a process of its own -> the fields of the line it printed ({ what,
-- n, seconds, rate (n per second), hwm_kb, and its own name value pairs }) and its other lines. A job
-- that hangs is killed after JOB_LIMIT seconds, so that `make bench` ends.
local JOB_LIMIT = 120
local function bulk_job(args)
  local cmd = env_for("lua5.4") .. "timeout " .. JOB_LIMIT .. " lua5.4 bench/bulk.lua " .. args
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("*a")
  local ok, _, code = p:close()
  if code == 124 then out = "the job did not end within " .. JOB_LIMIT .. " s and was killed\n" .. out end
  local what, n, t, rest = out:match("(%a+) (%d+) seconds ([%d%.]+) (hwm_kb %d+[^\n]*)")
  if not ok or not what then error("bulk job failed: " .. cmd .. "\n" .. out) end
  local r = { what = what, n = tonumber(n), seconds = tonumber(t), text = out }
  r.rate = r.seconds > 0 and r.n / r.seconds or 0
  for k, v in rest:gmatch("(%S+) (%S+)") do r[k] = tonumber(v) or v end
  r.notes = out:gsub("[^\n]*hwm_kb[^\n]*\n?", ""):gsub("%s+$", "")
  return r
end

local function field(list, name)
  local out = {}
  for i, r in ipairs(list) do out[i] = r[name] end
  return out
end

local function mb(kb) return string.format("%.1f MB", kb / 1024) end

-- One line about a job, printed as it ends.
local function job_line(name, r, extra)
  print(string.format("  %-48s %5d %s in %6.2f s  %7.1f/s  peak RSS %s%s", name, r.n, r.what, r.seconds, r.rate,
    mb(r.hwm_kb), extra or ""))
end

-- The medians of a contender's jobs, for the report; `waves` requests one after the other at 100 ms
-- each are the least time the job can take (the latency floor).
local function bulk_summary(name, list, waves, extra)
  bulk_lines[#bulk_lines + 1] = string.format("%s: %d %s in %.2f s (latency floor %.1f s), %.1f/s, peak RSS %s%s",
    name, list[1].n, list[1].what, median(field(list, "seconds")), waves / 10, median(field(list, "rate")),
    mb(median(field(list, "hwm_kb"))), extra or "")
end

-- The text of a probe's refusal: its message without the file:line of the call.
local function probe_reason(r)
  return (r.notes:gsub("^[^\n]-:%d+: ", ""):gsub("\n.*", ""))
end

local EXPORT_SPEED = "candidates/s: `each{ concurrency = 8 }` / `each{}`"
local EXPORT_MEMORY = "peak RSS: `each{ concurrency = 8 }` / `each{}` (one page in flight)"

local function export()
  local group = "export, 100 pages of 100"
  local base = bulk_url("/v1")
  local page = require("socket.http").request(base .. "/candidates?page=1&per_page=100")
  bulk_page_bytes = page and #page or 0
  local probe = bulk_job("probe " .. q(base))
  if probe.available ~= "yes" then
    print("  each{ concurrency = 8 } is not available yet: " .. probe_reason(probe))
    print("  skipped: the export's speed and memory ratios")
    local why = "`each{ concurrency = 8 }` is not available yet (each() refuses the option)"
    results[#results + 1] = { group = group, what = EXPORT_SPEED, skipped = why }
    results[#results + 1] = { group = group, what = EXPORT_MEMORY, skipped = why }
    return
  end
  local names = { "each{ per_page = 100 }", "each{ per_page = 100, concurrency = 8 }" }
  local c = {}
  for i, name in ipairs(names) do
    c[name] = function()
      local r = bulk_job("export " .. q(base) .. " " .. (i == 1 and 0 or 8))
      job_line(name, r)
      return r
    end
  end
  local r = rounds(names, c, BULK_ROUNDS)
  local seq, par = r[names[1]], r[names[2]]
  ratio(group, EXPORT_SPEED, field(par, "rate"), field(seq, "rate"), 6)
  ratio(group, EXPORT_MEMORY, field(par, "hwm_kb"), field(seq, "hwm_kb"), 1.5, { lower = true })
  bulk_summary("export `" .. names[1] .. "`", seq, 100)
  bulk_summary("export `" .. names[2] .. "`", par, math.ceil(100 / 8))
end

local LOOP_CREATES, PARALLEL_CREATES = 40, 500

local function creates()
  local base = bulk_url("/v1")
  local names = { "plain loop", "client:parallel, concurrency 8" }
  local c = {
    [names[1]] = function()
      local r = bulk_job("create-loop " .. q(base) .. " " .. LOOP_CREATES)
      job_line("plain loop of candidates:create", r)
      return r
    end,
    [names[2]] = function()
      local r = bulk_job("create-parallel " .. q(base) .. " " .. PARALLEL_CREATES .. " 8")
      job_line("client:parallel(rows, create, { concurrency = 8 })", r,
        r.failed > 0 and ("  " .. r.failed .. " FAILED: " .. r.notes) or "")
      return r
    end,
  }
  local r = rounds(names, c, BULK_ROUNDS)
  local failed = 0
  for _, job in ipairs(r[names[2]]) do failed = failed + job.failed end
  ratio("500 creates", "creates/s: `client:parallel` at 8 on all " .. PARALLEL_CREATES .. " / plain loop on "
    .. LOOP_CREATES, field(r[names[2]], "rate"), field(r[names[1]], "rate"), 6,
    { note = failed > 0 and (failed .. " creates FAILED") or nil })
  bulk_summary("plain loop of `candidates:create`", r[names[1]], LOOP_CREATES)
  bulk_summary("`client:parallel(rows, create, { concurrency = 8 })`", r[names[2]], math.ceil(PARALLEL_CREATES / 8),
    failed > 0 and (", " .. failed .. " creates FAILED over the rounds") or ", none failed")
end

-- The limited server's counters ("served S refused R peak P in_flight F"); reset = true zeroes them first.
local function limited_stats(reset)
  local http = require "socket.http"
  local body, status
  if reset then body, status = http.request(bulk_url("/limited/stats"), "")
  else body, status = http.request(bulk_url("/limited/stats")) end
  if status ~= 200 then error("bulk server /limited/stats: " .. tostring(status) .. " " .. tostring(body)) end
  local t = {}
  for k, v in body:gmatch("(%a+) (%d+)") do t[k] = tonumber(v) end
  return t
end

local THROTTLED_GETS, THROTTLED_RETRIES = 200, 50

local function throttled()
  local base = bulk_url("/limited/v1")
  local names = { "concurrency 4", "concurrency 16" }
  local c = {}
  for _, name in ipairs(names) do
    local conc = tonumber(name:match("%d+"))
    c[name] = function()
      limited_stats(true)
      local r = bulk_job("get-parallel " .. q(base) .. " " .. THROTTLED_GETS .. " " .. conc .. " " .. THROTTLED_RETRIES)
      local server = limited_stats(false)
      r.refused, r.peak, r.served = server.refused, server.peak, server.served
      job_line("client:parallel(ids, get, { concurrency = " .. conc .. " })", r,
        string.format("  429s %d, peak in flight %d%s", r.refused, r.peak,
          r.failed > 0 and ("  " .. r.failed .. " FAILED: " .. r.notes) or ""))
      return r
    end
  end
  local r = rounds(names, c, BULK_ROUNDS)
  local low, high = r[names[1]], r[names[2]]
  local failed, low429 = 0, 0
  for i = 1, #high do failed = failed + high[i].failed + low[i].failed; low429 = low429 + low[i].refused end
  local notes = {}
  if failed > 0 then notes[#notes + 1] = failed .. " GETs FAILED" end
  if low429 > 0 then notes[#notes + 1] = "the concurrency 4 job drew " .. low429 .. " 429s" end
  ratio("429 over 4 in flight", "GETs/s: `client:parallel` at 16 (429s) / at 4 (none), " .. THROTTLED_GETS
    .. " GETs each", field(high, "rate"), field(low, "rate"), 0.8,
    { note = notes[1] and table.concat(notes, "; ") or nil })
  local function server_side(list)
    local lost, short = 0, 0
    for _, job in ipairs(list) do
      lost = lost + job.failed
      if job.served ~= THROTTLED_GETS then short = short + 1 end
    end
    return string.format(", 429s seen by the server %s (per job), at most %d in flight there, %s",
      table.concat(field(list, "refused"), "/"), math.max(table.unpack(field(list, "peak"))),
      (lost > 0 or short > 0) and (lost .. " GETs FAILED, " .. short .. " jobs not served " .. THROTTLED_GETS)
        or ("the server served all " .. THROTTLED_GETS .. " in every job, none failed"))
  end
  local waves = math.ceil(THROTTLED_GETS / 4) -- the server serves 4 at a time
  bulk_summary("`client:parallel(ids, get, { concurrency = 4 })` (max_concurrency 4)", low, waves, server_side(low))
  bulk_summary("`client:parallel(ids, get, { concurrency = 16 })` (max_concurrency 16, retries "
    .. THROTTLED_RETRIES .. ")", high, waves, server_side(high))
end

-- Runs a bulk comparison; one whose job fails (an error, records missing or out of order) is reported
-- as FAILED with the job's first line of output, and the other comparisons go on.
local function guarded(group, fn)
  local ok, err = pcall(fn)
  if ok then return end
  local msg = tostring(err):gsub("^[^\n]-bulk job failed: [^\n]*\n", ""):match("[^\n]*")
  print("  FAILED: " .. tostring(err))
  results[#results + 1] = { group = group, what = "(the comparison did not run to its end)", failed = msg }
end

-- ---- report ----

local function verdict(r, m)
  if not r.target then return "" end
  if r.lower then return m <= r.target and "" or "MISSED" end
  if r.strict then return m > r.target and "" or "MISSED" end
  return m >= r.target and "" or "MISSED"
end

local function target_text(r)
  if not r.target then return "(no target)" end
  if r.lower then return string.format("<= %.2fx", r.target) end
  if r.strict then return string.format("> %.2fx", r.target) end
  return string.format(">= %.2fx", r.target)
end

local function report(raw)
  local lines = {}
  for _, r in ipairs(results) do
    if r.skipped or r.failed then
      local text = r.skipped and ("skipped: " .. r.skipped) or ("FAILED: " .. r.failed)
      lines[#lines + 1] = { r.group, r.what, text, "", "" }
    else
      local m = median(r.list)
      local lo, hi = range(r.list)
      lines[#lines + 1] = { r.group, r.what, string.format("%.2fx", m), string.format("%.2f-%.2f", lo, hi),
                            target_text(r) .. (verdict(r, m) ~= "" and " MISSED" or "")
                              .. (r.note and ("; " .. r.note) or "") }
    end
  end
  print("\n== lua-clinch benchmarks (median over " .. ROUNDS .. " rounds, inside nginx over " .. NGINX_ROUNDS
    .. ", bulk work over " .. BULK_ROUNDS .. "; range in brackets)")
  for _, l in ipairs(lines) do
    if l[4] == "" then
      print(string.format("%-27s %-72s %s", l[1], l[2], l[3]))
    else
      print(string.format("%-27s %-72s %8s [%s] target %s", l[1], l[2], l[3], l[4], l[5]))
    end
  end
  if bulk_lines[1] then
    print("bulk jobs (medians over " .. BULK_ROUNDS .. " rounds):")
    for _, l in ipairs(bulk_lines) do print("  " .. l) end
  end

  local uname = capture("uname -srm"):gsub("%s+$", "")
  local cpus = capture("nproc"):gsub("%s+$", "")
  local model = (capture("grep -m1 'model name' /proc/cpuinfo"):match(":%s*(.-)%s*$")) or "unknown CPU"
  local versions = {
    (capture("lua5.4 -v"):gsub("%s+$", "")), (capture("luajit -v"):gsub("%s+$", "")),
    (capture(q(NGINX) .. " -v"):gsub("%s+$", "")),
    "libcurl " .. capture(env_for("lua5.4") .. "lua5.4 -e 'io.write((require(\"clinch.core\").curl_version()))'"),
    (capture("openssl version"):gsub("%s+$", "")), (capture("wrk -v"):match("^[^\n]*") or "wrk"),
  }
  local md = {
    "# Benchmarks", "",
    "Written by `make bench` (`scripts/bench.sh`, `bench/run.lua`); do not edit by hand. Ratios of two",
    "contenders measured side by side in one run: each round runs every contender for " .. SECONDS .. " s, in",
    "rotated order; the ratio is the median over " .. ROUNDS .. " rounds (range in brackets). Rates are requests or",
    "signatures per second (higher is better) except decoding, which compares times (lower is better for",
    "`jsonapi.decode` / `cjson.decode`). Inside nginx one worker serves every round: each endpoint runs once",
    "unmeasured first (the worker compiles its code), and the ratio is the median over " .. NGINX_ROUNDS
      .. " rounds.", "",
    "The bulk comparisons (export, creates, 429 storm) run whole jobs against a test server that adds",
    "100 ms to every request (nginx, `bench/bulk_server.lua`; pages of 100 candidates, "
      .. string.format("%.0f", bulk_page_bytes / 1024) .. " KB each,",
    "generated once), each job in a Lua 5.4 process of its own (`bench/bulk.lua`), in " .. BULK_ROUNDS .. " rotated",
    "rounds; their rates are items per second, their memory the job's peak RSS (VmHWM), and the ratio is",
    "the median over the rounds. The plain loop of creates is measured on " .. LOOP_CREATES .. " creates (all "
      .. PARALLEL_CREATES .. " would",
    "take " .. PARALLEL_CREATES // 10 .. " s), the parallel job on all " .. PARALLEL_CREATES
      .. ": the ratio compares their rates.", "",
    "| | comparison | ratio | range | target |", "|---|---|---|---|---|",
  }
  for _, l in ipairs(lines) do
    md[#md + 1] = "| " .. l[1] .. " | " .. l[2] .. " | " .. l[3] .. " | " .. l[4] .. " | " .. l[5] .. " |"
  end
  md[#md + 1] = ""
  md[#md + 1] = "Absolute rates of this run (per second, medians), for orientation only:"
  md[#md + 1] = ""
  for _, group in ipairs(raw) do
    local names = {}
    for name in pairs(group) do names[#names + 1] = name end
    table.sort(names)
    for _, name in ipairs(names) do
      md[#md + 1] = string.format("- %s: %.0f", name, median(group[name]))
    end
  end
  if bulk_lines[1] then
    md[#md + 1] = ""
    md[#md + 1] = "Bulk jobs of this run (medians over " .. BULK_ROUNDS .. " rounds, 100 ms a request):"
    md[#md + 1] = ""
    for _, l in ipairs(bulk_lines) do md[#md + 1] = "- " .. l end
  end
  local total = socket.gettime() - STARTED
  md[#md + 1] = ""
  md[#md + 1] = string.format("The whole `make bench` took %.0f s (builds included).", total)
  md[#md + 1] = ""
  md[#md + 1] = "Machine: " .. uname .. ", " .. cpus .. " CPUs (" .. model .. "), run on "
    .. os.date("!%Y-%m-%d") .. "."
  md[#md + 1] = "Versions: " .. table.concat(versions, "; ") .. "."
  md[#md + 1] = "Command: `make bench` (BENCH_ROUNDS=" .. ROUNDS .. ", BENCH_SECONDS=" .. SECONDS
    .. ", BENCH_NGINX_ROUNDS=" .. NGINX_ROUNDS .. ", BENCH_BULK_ROUNDS=" .. BULK_ROUNDS .. ")."
  md[#md + 1] = ""
  local f = assert(io.open(ROOT .. "/BENCHMARKS.md", "wb"))
  f:write(table.concat(md, "\n"))
  f:close()
  print("written to BENCHMARKS.md")
  print(string.format("total time of make bench: %.0f s (the budget is 300 s)", total))
end

-- BENCH_ONLY=request,nginx,bulk,signing,decoding runs some groups only (for working on one; the
-- report and BENCHMARKS.md then hold only those).
local ONLY = os.getenv("BENCH_ONLY")
local function wanted(group) return not ONLY or ("," .. ONLY .. ","):find("," .. group .. ",", 1, true) end

local ok, err = pcall(function()
  start_nginx()
  local raw = {}
  if wanted("request") then
    print("== request path outside nginx")
    raw[#raw + 1] = request_path()
  end
  if wanted("nginx") then
    print("== request path inside nginx (wrk -c8, one worker)")
    raw[#raw + 1] = inside_nginx()
  end
  if wanted("bulk") then
    print("== bulk work, 100 ms a request (Lua 5.4, a process per job, " .. BULK_ROUNDS .. " rounds)")
    print("-- export of 10,000 candidates")
    guarded("export, 100 pages of 100", export)
    print("-- creates")
    guarded("500 creates", creates)
    print("-- 429 storm: the server refuses what is over 4 in flight (Retry-After: 1)")
    guarded("429 over 4 in flight", throttled)
  end
  stop_nginx()
  if wanted("signing") then
    print("== signing")
    raw[#raw + 1] = signing()
  end
  if wanted("decoding") then
    print("== decoding")
    decoding()
  end
  report(raw)
end)
stop_nginx()
if not ok then
  io.stderr:write("bench: ", tostring(err), "\n")
  os.exit(1)
end
