--- client:parallel(items, fn, opts): fn(item, i) for every item, at most opts.concurrency at once.
--
-- Inside fn the whole API works as it does outside (validation, objects, retries, errors); a call that
-- sends a request hands it to a scheduler that drives every request in flight together:
--   * outside nginx, each fn runs in a coroutine; sending starts the transfer (libcurl's multi
--     interface) and yields; the scheduler waits for any transfer with transport:poll and resumes
--     the coroutines whose requests are answered (or whose retry wait is over);
--   * inside nginx, each worker is a light thread (ngx.thread.spawn), and cosockets already yield.
-- The result list holds, in input order, what each fn returned, or its error object when it returned
-- nil, err; an error raised in fn becomes an error object of kind "lua" (message and traceback) and
-- the other items carry on.
local errors = require "clinch.errors"
local core = require "clinch.core"

local coroutine, setmetatable, type, tostring, xpcall, rawget, ipairs, pairs = coroutine, setmetatable, type,
  tostring, xpcall, rawget, ipairs, pairs
local co_create, co_resume, co_running, co_status, co_yield = coroutine.create, coroutine.resume,
  coroutine.running, coroutine.status, coroutine.yield
local traceback = debug and debug.traceback or function(m) return m end
local math = math

local _M = {}

-- The scheduler of each coroutine it runs (weak: a finished coroutine goes).
local current = setmetatable({}, { __mode = "k" })
-- How many coroutine schedulers are running: with none (always, inside nginx), no coroutine has one,
-- and current() need not ask which coroutine runs (a C call LuaJIT does not compile, per request). A
-- scheduler left by an error is never taken off: that costs the question, never the answer.
local running = 0

--- The scheduler running the calling coroutine, or nil (then requests block as usual).
function _M.current()
  if running == 0 then return nil end
  local co = co_running()
  return co and current[co]
end

local Scheduler = {}
Scheduler.__index = Scheduler

--- In a task: waits until every pending in the list, started on `transport`, has its answer.
function Scheduler.await(_, pendings, transport) co_yield("await", pendings, transport) end
--- In a task: waits `seconds` while the other tasks go on.
function Scheduler.sleep(_, seconds) co_yield("sleep", core.monotime() + seconds) end
--- In a task: waits until a request of the client ends (a slot in the client's budget frees).
function Scheduler.wait_slot() co_yield("slot") end

-- What fn's call gave, as the result list holds it.
local function result_of(ok, value, err)
  if not ok then return value end -- the error object the handler made
  if value == nil then
    if errors.is(err) then return err end
    return errors.new { kind = "lua", message = "returned nil" .. (err ~= nil and (", " .. tostring(err)) or "") }
  end
  return value
end

local function handler(e)
  if errors.is(e) then return e end
  return errors.new { kind = "lua", message = tostring(e), traceback = traceback(tostring(e), 2) }
end

-- Whether a task's wait is over.
local function ready(task, now)
  local why, what = task.why, task.what
  if why == nil then return true end
  if why == "sleep" then return now >= what end
  if why == "slot" then return task.slot_freed end
  for _, p in ipairs(what) do
    if p.done and not p:done() then return false end
  end
  return true
end

-- How long one wait on a transport lasts while tasks wait on several: one transport's wait cannot
-- see another's transfers, so they take turns in short waits.
local SHARED_WAIT = 0.002

-- Waits (at most `timeout`) for the transfers the tasks wait on. Usually they are all the client's,
-- and its transport's poll waits for any of them; a task may also wait on another client's requests
-- (fn using a second client), and each transport waited on is then stepped in turn.
local function wait_for_transfers(client, tasks, timeout)
  local mine = client.transport
  local others
  for _, t in ipairs(tasks) do
    local tr = t.why == "await" and t.transport
    if tr and tr ~= mine then
      others = others or {}
      others[tr] = true
    end
  end
  if not others then return mine:poll(timeout) end
  local slice = math.min(timeout, SHARED_WAIT)
  mine:poll(slice)
  for tr in pairs(others) do tr:poll(0) end
end

-- The coroutine scheduler (outside nginx).
local function run_coroutines(client, items, fn, concurrency)
  running = running + 1
  local sched = setmetatable({}, Scheduler)
  local n, results, tasks, started = #items, {}, {}, 0
  local function spawn()
    started = started + 1
    local i = started
    local co = co_create(function() return xpcall(fn, handler, items[i], i) end)
    current[co] = sched
    tasks[#tasks + 1] = { co = co, i = i }
  end
  while started < n and #tasks < concurrency do spawn() end
  while tasks[1] do
    local now, progressed, soonest = core.monotime(), false, nil
    local k = 1
    while tasks[k] do
      local task = tasks[k]
      if ready(task, now) then
        progressed = true
        local ok, a, b, c = co_resume(task.co)
        if co_status(task.co) == "dead" then
          results[task.i] = ok and result_of(a, b, c) or handler(a)
          table.remove(tasks, k)
          if started < n then spawn() end
        else
          task.why, task.what, task.transport, task.slot_freed = a, b, c, nil
          k = k + 1
        end
      else
        if task.why == "sleep" then soonest = math.min(soonest or task.what, task.what) end
        k = k + 1
      end
    end
    if not progressed and tasks[1] then
      -- nothing can go on: wait for the transfers (or the soonest retry wait)
      wait_for_transfers(client, tasks, soonest and math.max(0, soonest - core.monotime()) or 1)
    end
    -- whatever ran may have ended a request: the tasks waiting for a slot look again
    for _, t in ipairs(tasks) do if t.why == "slot" then t.slot_freed = true end end
  end
  running = running - 1
  return results
end

-- Light threads (inside nginx): `concurrency` workers take the items in turn.
local function run_threads(client, items, fn, concurrency)
  local ngx = rawget(_G, "ngx")
  local n, results, taken = #items, {}, 0
  local function worker()
    while taken < n do
      taken = taken + 1
      local i = taken
      results[i] = result_of(xpcall(fn, handler, items[i], i))
    end
  end
  client._threads = (client._threads or 0) + 1
  local threads = {}
  for t = 1, math.min(n, concurrency) do threads[t] = ngx.thread.spawn(worker) end
  for _, th in ipairs(threads) do ngx.thread.wait(th) end
  client._threads = client._threads - 1
  return results
end

local function in_nginx_cosocket_phase()
  local ngx = rawget(_G, "ngx")
  if type(ngx) ~= "table" or type(ngx.get_phase) ~= "function" or not ngx.thread then return false end
  local phase = ngx.get_phase()
  return phase == "rewrite" or phase == "access" or phase == "content" or phase == "timer"
    or phase == "server_rewrite"
end

--- Runs fn over items (see the module comment).
function _M.run(client, items, fn, concurrency)
  if in_nginx_cosocket_phase() then return run_threads(client, items, fn, concurrency) end
  return run_coroutines(client, items, fn, concurrency)
end

return _M
