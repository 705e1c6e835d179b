--- One contender of the bulk benchmarks (`make bench`, bench/run.lua) against the bulk test server
-- (bench/bulk_server.lua, 100 ms a request), each in a process of its own so that its peak memory is
-- its own. Prints one line: "<what> N seconds T hwm_kb H [name value]..." (H: VmHWM at the end).
--   lua5.4 bulk.lua probe  BASE_URL              is each{ concurrency = 8 } accepted? "probe 0 seconds 0
--                                                hwm_kb H available yes|no", then the reason on a line
--   lua5.4 bulk.lua export BASE_URL CONCURRENCY  every candidate through each{ per_page = 100 }, with
--                                                concurrency = CONCURRENCY unless it is 0
--   lua5.4 bulk.lua create-loop BASE_URL COUNT   COUNT candidates:create one after the other
--   lua5.4 bulk.lua create-parallel BASE_URL COUNT CONCURRENCY
--                                                the same through client:parallel
--   lua5.4 bulk.lua get-parallel BASE_URL COUNT CONCURRENCY RETRIES
--                                                COUNT candidates:get through client:parallel, the
--                                                client's budget (max_concurrency) CONCURRENCY
local clinch = require "clinch"
local core = require "clinch.core"
local errors = require "clinch.errors"
local pages = require "pages"

local mode, base = arg[1], arg[2]
local now = core.monotime

local function hwm_kb()
  local f = assert(io.open("/proc/self/status", "rb"))
  local status = f:read("*a")
  f:close()
  return tonumber(status:match("VmHWM:%s*(%d+)")) or 0
end

local function report(what, n, seconds, extra)
  local parts = { string.format("%s %d seconds %.6f hwm_kb %d", what, n, seconds, hwm_kb()) }
  for _, kv in ipairs(extra or {}) do parts[#parts + 1] = kv[1] .. " " .. tostring(kv[2]) end
  print(table.concat(parts, " "))
end

local function new_client(opts)
  opts = opts or {}
  return clinch.new { key = "bench", secret = "bench-secret", base_url = base,
                      max_concurrency = opts.max_concurrency, retries = opts.retries }
end

-- The failures of a result list of client:parallel: their count and the first one's text.
local function failures(results, n)
  local failed, first = 0, nil
  for i = 1, n do
    local r = results[i]
    if r == nil or errors.is(r) then
      failed = failed + 1
      first = first or (tostring(r):gsub("%s+", " "))
    end
  end
  return failed, first
end

local function probe()
  local client = new_client()
  local ok, err = pcall(client.candidates.each, client.candidates, { per_page = 100, concurrency = 8 })
  report("probe", 0, 0, { { "available", ok and "yes" or "no" } })
  print(ok and "each{ concurrency = 8 } is accepted" or (tostring(err):gsub("%s+", " ")))
end

local function export(concurrency)
  local client = new_client { max_concurrency = math.max(concurrency, 8) }
  local opts = { per_page = 100 }
  if concurrency > 0 then opts.concurrency = concurrency end
  local t0, n = now(), 0
  for cand in client.candidates:each(opts) do
    n = n + 1
    -- every record once, in page order (bench/pages.lua numbers them)
    if pages.index(cand.id) ~= n then error("record " .. n .. " out of order: " .. tostring(cand.id)) end
  end
  report("candidates", n, now() - t0)
end

local function rows(count)
  local list = {}
  for i = 1, count do
    list[i] = { email = "bulk.row" .. i .. "@example.com", first_name = "Bulk", last_name = "Row " .. i }
  end
  return list
end

local function create_loop(count)
  local client, list = new_client(), rows(count)
  local t0 = now()
  for i = 1, count do
    assert(client.candidates:create(list[i]))
  end
  report("creates", count, now() - t0)
end

local function create_parallel(count, concurrency)
  local client, list = new_client { max_concurrency = concurrency }, rows(count)
  local t0 = now()
  local results = client:parallel(list, function(row) return client.candidates:create(row) end,
    { concurrency = concurrency })
  local elapsed = now() - t0
  local failed, first = failures(results, count)
  report("creates", count, elapsed, { { "failed", failed } })
  if first then print("first failure: " .. first) end
end

local function get_parallel(count, concurrency, retries)
  local client = new_client { max_concurrency = concurrency, retries = retries }
  local ids = {}
  for i = 1, count do ids[i] = string.format("%032x", i) end
  local t0 = now()
  local results = client:parallel(ids, function(id) return client.candidates:get(id) end,
    { concurrency = concurrency })
  local elapsed = now() - t0
  local failed, first = failures(results, count)
  local stats = client:stats()
  report("gets", count, elapsed, { { "failed", failed }, { "backoffs", stats.backoffs }, { "limit", stats.limit } })
  if first then print("first failure: " .. first) end
end

if mode == "probe" then
  probe()
elseif mode == "export" then
  if os.getenv("BENCH_GC") == "gen" then collectgarbage("generational") end
  if os.getenv("BENCH_GC") == "pause" then collectgarbage("setpause", 100) end
  export(tonumber(arg[3]))
elseif mode == "create-loop" then
  create_loop(tonumber(arg[3]))
elseif mode == "create-parallel" then
  create_parallel(tonumber(arg[3]), tonumber(arg[4]))
elseif mode == "get-parallel" then
  get_parallel(tonumber(arg[3]), tonumber(arg[4]), tonumber(arg[5]))
else
  error("usage: bulk.lua probe|export|create-loop|create-parallel|get-parallel BASE_URL ...")
end
