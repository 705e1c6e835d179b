#!/usr/bin/env lua5.4
--- Incremental sync with the library: each run exports the candidates changed since the previous run
-- and records where it stopped (the high-water mark) in a small state file.
--
--   lua5.4 examples/sync_incremental.lua [STATE [OUT]]   default: sync-state.json changes.jsonl
--
-- A run exports the window [high-water mark, server time at the start of the run) of updated_at,
-- appends the records to OUT as JSON Lines and moves the mark to the end of the window: consecutive
-- windows neither overlap nor leave gaps, and a change made during a run falls into the next window.
-- (`clinch candidates sync` does the same with proof that nothing was skipped, and also resumes a
-- run that stopped halfway: use it for exports that must be complete.)
-- Configuration: as the other examples. Against a mock API started for the run (nothing configured),
-- it runs twice in one go and changes two candidates in between, to show the second run's delta.
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
do -- From a checkout, use its modules and C core (see scripts/checkout.lua).
  local use = loadfile(here .. "/../scripts/checkout.lua")
  if use then use()(here .. "/..") end
end
-- The examples' harness (examples/support.lua): a client from the environment, or a mock API.
local examples = dofile(here .. "/support.lua")

local core = require "clinch.core"
local jsonapi = require "clinch.jsonapi"
local cjson = require("cjson.safe").new()

local function load_state(path)
  local f = io.open(path, "rb")
  if not f then return {} end
  local st = cjson.decode(f:read("a"))
  f:close()
  return type(st) == "table" and st or {}
end

-- Written to a temporary file and renamed, so a crash never leaves half a state file.
local function save_state(path, st)
  local f = assert(io.open(path .. ".tmp", "wb"))
  f:write(assert(jsonapi.encode(st)), "\n")
  f:close()
  assert(os.rename(path .. ".tmp", path))
end

-- The server's clock, from the Date header of a cheap request (the local clock may be off).
local function server_time(client, ex)
  local res = ex.check(client:request("GET", "/candidates", { query = { per_page = 1 } }))
  return (res.headers.date and core.parse_httpdate(res.headers.date)) or os.time()
end

local function sync_once(client, ex, state_path, out_path)
  local st = load_state(state_path)
  local since = st.high_water or "1970-01-01T00:00:00"
  local upto = os.date("!%Y-%m-%dT%H:%M:%S", math.floor(server_time(client, ex)))
  local out = assert(io.open(out_path, "ab"))
  -- Another user's update during the run moves that record out of the window, and the records after
  -- it one place back, across a page boundary: one pass could skip a record that never changed. So
  -- the window is read again until a pass finds nothing new. (`clinch candidates sync` reads it in
  -- ways that prove it, and resumes a run that stopped; this is the short version.)
  local seen, count, passes = {}, 0, 0
  repeat
    passes = passes + 1
    if passes > 5 then error("the window kept changing while it was read: run again", 0) end
    local new = 0
    for cand in client.candidates:each { per_page = 100, filter = { updated_at = { gte = since, lt = upto } } } do
      if not seen[cand.id] then
        seen[cand.id] = true
        local raw = jsonapi.raw(cand) or { id = cand.id, type = cand.type }
        assert(out:write(assert(jsonapi.encode(raw)), "\n")) -- a full disk stops the run, mark unmoved
        new, count = new + 1, count + 1
        if count <= 3 then ex.say("  changed: ", tostring(cand)) end
      end
    end
  until passes > 1 and new == 0
  assert(out:close())
  assert(core.fsync(out_path)) -- on disk before the mark moves past it
  if count > 3 then ex.say(("  ... and %d more"):format(count - 3)) end
  st.high_water = upto
  save_state(state_path, st)
  ex.say(("exported %d candidates changed in [%s, %s) to %s; the next run starts at %s"):format(
    count, since, upto, out_path, upto))
  return count
end

examples.run(function(client, ex)
  local state_path, out_path = arg[1], arg[2]
  local tmp
  if ex.mock and not state_path then
    tmp = assert(io.popen("mktemp -d")):read("l")
    state_path, out_path = tmp .. "/sync-state.json", tmp .. "/changes.jsonl"
  end
  state_path, out_path = state_path or "sync-state.json", out_path or "changes.jsonl"
  if ex.mock then ex.say("sync run 1:") end
  sync_once(client, ex, state_path, out_path)
  if ex.mock then
    -- Change two candidates, let the server's clock move past the end of the window, sync again.
    local page = ex.check(client.candidates:list { per_page = 2 })
    for _, cand in ipairs(page) do
      ex.check(cand:update { last_name = (cand.last_name or "") .. "-Updated" })
      ex.say("changed ", tostring(cand))
    end
    core.sleep(1.1)
    ex.say("sync run 2:")
    sync_once(client, ex, state_path, out_path)
  end
  if tmp then os.execute("rm -rf " .. ex.shell_quote(tmp)) end
end)
