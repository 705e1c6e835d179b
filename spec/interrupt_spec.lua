-- Ctrl-C is not held up by a request or a retry wait: the C core's waits (csrc/interrupt.c) return as
-- soon as the interpreter asks to interrupt. Each case starts a child interpreter, waits until it is
-- blocked (the mock has its request, or the child said so), sends it one SIGINT, and checks that it
-- ended with "interrupted!" long before the block would.
local support = require "support"
local core = require "clinch.core"

local q = support.shell_quote

-- The wait every case blocks on, and the bound the child must end within once interrupted (a coarse
-- bound: the margin is seconds).
local BLOCK_S, WITHIN_S = 8, 4
-- How long a child may take to reach its block (a loaded machine, the sanitizer build) or to end.
local PATIENCE_S = 30

-- Polls f every 20 ms until it gives a true value or PATIENCE_S pass -> that value, or nil.
local function poll(f)
  local deadline = core.monotime() + PATIENCE_S
  repeat
    local v = f()
    if v then return v end
    core.sleep(0.02)
  until core.monotime() > deadline
  return nil
end

-- Runs shell command `cmd` in the background, interrupts it with one SIGINT (to the child alone, as a
-- Ctrl-C would be) once ready() is true, and waits for it to end. The signal goes when the child is
-- blocked, not after a fixed delay: a child still starting (a loaded machine) would be interrupted
-- before its request, or killed before its interpreter handles SIGINT. ready gets the output so far.
-- Returns the child's output (stdout and stderr), its exit status and the seconds from the signal to
-- its end.
local function interrupted_when(cmd, ready)
  local dir = support.tmpdir()
  local out_f, pid_f, status_f = dir .. "/out", dir .. "/pid", dir .. "/status"
  -- A non-interactive shell starts a background job with SIGINT ignored; lua.c and luajit.c set their
  -- own handler around the chunk they run, as they do in a foreground job.
  os.execute("sh -c " .. q(support.child_env .. cmd .. " >" .. q(out_f) .. " 2>&1 & echo $! >" .. q(pid_f)
    .. "; wait $!; echo $? >" .. q(status_f)) .. " >/dev/null 2>&1 &")
  -- the number a file holds once the shell has written it whole, else nil
  local function number_in(path)
    local digits = (support.read_file(path) or ""):match("^(%d+)\n")
    return digits and tonumber(digits)
  end
  local function status() return number_in(status_f) end
  local pid = assert(poll(function() return number_in(pid_f) end), "the child did not start")
  local went = poll(function() return status() and "ended" or (ready(support.read_file(out_f) or "") and "ready") end)
  if went ~= "ready" then
    os.execute("kill -KILL " .. pid .. " 2>/dev/null")
    os.execute("rm -rf " .. q(dir))
    error("the child " .. (went or "never got to its block") .. " before it was interrupted:\n"
      .. tostring(support.read_file(out_f)), 2)
  end
  local t0 = core.monotime()
  os.execute("kill -INT " .. pid)
  local code = poll(status)
  local took = core.monotime() - t0
  if not code then os.execute("kill -KILL " .. pid .. " 2>/dev/null") end
  local out = support.read_file(out_f) or ""
  os.execute("rm -rf " .. q(dir))
  assert(code, "the child did not end after SIGINT:\n" .. out)
  return out, code, took
end

-- The child ended with lua.c's interrupt error, before its next line and long before its block.
local function assert_interrupted(out, took, what)
  assert.matches("interrupted!", out, 1, true)
  assert.is_falsy(out:find("not interrupted", 1, true), out)
  assert.is_true(took < WITHIN_S, (what or "it") .. " took " .. took .. " s")
end

describe("Ctrl-C", function()
  local mock

  setup(function() mock = support.start_mock { "--candidates", "5" } end)
  teardown(function() mock.stop() end)
  before_each(function() mock.control("POST", "reset") end)

  local function client_code(extra)
    return "local clinch = require 'clinch'\n"
      .. "local c = clinch.new { key = 'test-key', secret = 'test-secret', base_url = " .. q(mock.base_url)
      .. ", timeout = 30" .. (extra or "") .. " }\n"
  end

  -- Ready once the mock has had n API requests (it counts a request as it arrives, before its latency).
  local function requests_arrived(n)
    return function() return mock.control("GET", "stats").requests >= n end
  end

  -- Runs `script` (Lua source) in a child interpreter and interrupts it once ready() is true (by
  -- default: once its request has reached the mock). Returns its output and the seconds it took to end.
  local function interrupted(script, ready)
    local out, _, took = interrupted_when(support.lua .. " -e " .. q(script), ready or requests_arrived(1))
    return out, took
  end

  it("ends a request that waits for its response", function()
    mock.control("POST", "faults", { kind = "latency", ms = BLOCK_S * 1000, count = -1 })
    local out, took = interrupted(client_code(", retries = 0") .. [[
      local res, err = c:request("GET", "/candidates")
      print("not interrupted", res and res.status, err and err.kind)
    ]])
    assert_interrupted(out, took)
  end)

  it("ends parallel requests and a started request's wait", function()
    for _, call in ipairs {
      [[c:request_many({ { "GET", "/candidates" }, { "GET", "/candidates" } })]],
      [[c:start("GET", "/candidates"):wait()]],
    } do
      mock.control("POST", "reset") -- the request count starts from 0 again
      mock.control("POST", "faults", { kind = "latency", ms = BLOCK_S * 1000, count = -1 })
      local out, took = interrupted(client_code(", retries = 0") .. call .. "\nprint('not interrupted')\n")
      assert_interrupted(out, took, call)
    end
  end)

  it("ends a Retry-After wait between attempts", function()
    mock.control("POST", "faults", { kind = "status", status = 503, retry_after = BLOCK_S, count = -1 })
    -- The 503 is answered at once: the signal goes 0.3 s after it, when the child waits. (Should the
    -- child be slower, the signal finds it in Lua code, which proves less but passes as well.)
    local answered, arrived = requests_arrived(1), nil
    local out, took = interrupted(client_code(", retries = 1, max_retry_wait = 60") .. [[
      local res, err = c:request("GET", "/candidates")
      print("not interrupted", res and res.status, err and err.kind)
    ]], function()
      arrived = arrived or (answered() and core.monotime())
      return arrived and core.monotime() - arrived >= 0.3
    end)
    assert_interrupted(out, took)
  end)

  it("inside a coroutine, ends the request with an error of kind interrupted, never retried", function()
    mock.control("POST", "faults", { kind = "latency", ms = BLOCK_S * 1000, count = -1 })
    local out, took = interrupted(client_code(", retries = 3") .. [[
      local log = {}
      c.logger = function(e) log[#log + 1] = e end
      coroutine.wrap(function()
        local _, err = c:request("GET", "/candidates")
        -- On Lua 5.4 the hook is the main thread's, so the coroutine sees the error first; on LuaJIT
        -- the hook is the VM's and the interrupt already fired in the coroutine.
        print("kind=" .. tostring(err and err.kind) .. " attempts=" .. tostring(err and err.attempts)
          .. " message=" .. tostring(err and err.message))
      end)()
      print("not interrupted")
    ]])
    assert_interrupted(out, took)
    if not support.is_luajit then
      assert.matches("kind=interrupted attempts=1 message=interrupted (Ctrl-C)", out, 1, true)
    end
  end)

  it("ends the transfers of a batch: those not started were never sent", function()
    if support.is_luajit then
      pending("on LuaJIT the interrupt fires inside the coroutine before its results can be seen")
      return
    end
    mock.control("POST", "faults", { kind = "latency", ms = BLOCK_S * 1000, count = -1 })
    local out, took = interrupted("local t = require('clinch.core').transport { timeout = 30 }\n"
      .. "local url = " .. q(mock.base_url .. "/candidates") .. "\n" .. [[
      coroutine.wrap(function()
        local r = t:perform({ { method = "GET", url = url, headers = {} },
                              { method = "GET", url = url, headers = {} } }, 1)
        for i = 1, 2 do io.write(i, ":", tostring(r[i].kind), ":", tostring(r[i].sent), " ") end
        print()
      end)()
      print("not interrupted")
    ]])
    assert_interrupted(out, took)
    assert.matches("1:interrupted:true 2:interrupted:false", out, 1, true)
  end)

  it("ends a long core.sleep", function()
    local out, took = interrupted("local core = require('clinch.core') io.stderr:write('sleeping\\n') core.sleep("
      .. BLOCK_S .. ") print('not interrupted')", function(so_far) return so_far:find("sleeping\n", 1, true) end)
    assert_interrupted(out, took)
  end)

  it("ends `clinch candidates list` with exit 130 and one line", function()
    if support.is_luajit then
      pending("the CLI runs on Lua 5.4 only: covered by the Lua 5.4 suite")
      return
    end
    mock.control("POST", "faults", { kind = "latency", ms = BLOCK_S * 1000, count = -1 })
    local out, code, took = interrupted_when("CLINCH_API_KEY=test-key CLINCH_API_SECRET=test-secret CLINCH_BASE_URL="
      .. q(mock.base_url) .. " " .. support.lua .. " " .. q(support.root .. "/bin/clinch") .. " candidates list",
      requests_arrived(1))
    assert.is_true(took < WITHIN_S, "took " .. took .. " s")
    assert.equal(130, code, out)
    assert.equal("clinch: interrupted\n", out)
  end)

  it("ends a bulk create with a result line for every row: done, in flight or not sent", function()
    if support.is_luajit then
      pending("the CLI runs on Lua 5.4 only: covered by the Lua 5.4 suite")
      return
    end
    local dir = support.tmpdir()
    local rows = { "email,first_name" }
    for i = 1, 6 do rows[#rows + 1] = "bulk-int-" .. i .. "@example.com,R" .. i end
    local f = assert(io.open(dir .. "/rows.csv", "w"))
    f:write(table.concat(rows, "\n"), "\n")
    f:close()
    -- the first create to arrive blocks; the other five are answered at once
    mock.control("POST", "faults", { kind = "latency", ms = BLOCK_S * 1000, count = 1, method = "POST" })
    local out, code, took = interrupted_when("CLINCH_API_KEY=test-key CLINCH_API_SECRET=test-secret CLINCH_BASE_URL="
      .. q(mock.base_url) .. " " .. support.lua .. " " .. q(support.root .. "/bin/clinch")
      .. " candidates create --from " .. q(dir .. "/rows.csv") .. " --concurrency 2", requests_arrived(6))
    os.execute("rm -rf " .. q(dir))
    assert.is_true(took < WITHIN_S, "took " .. took .. " s")
    assert.equal(130, code, out)
    local lines, by_status = {}, {}
    for line in out:gmatch("[^\n]+") do
      if line:sub(1, 1) == "{" then
        local r = require("cjson").decode(line)
        lines[#lines + 1] = r
        by_status[r.status] = (by_status[r.status] or 0) + 1
      end
    end
    assert.equal(6, #lines, out)
    for i, r in ipairs(lines) do assert.equal(i, r.row) end
    -- the blocked one at least is in flight (on a loaded machine an answered one may be too); all six
    -- reached the mock, so none is "not sent"
    local in_flight = select(2, out:gsub('"error":"interrupted %(Ctrl%-C%) before its answer came: it may have '
      .. 'been done"', ""))
    assert.is_true(in_flight >= 1, out)
    assert.equal(6 - in_flight, by_status.created or 0, out)
    assert.equal(in_flight, by_status.error, out)
    assert.matches("clinch: " .. (6 - in_flight) .. " of 6 rows done before the interrupt, " .. in_flight
      .. " in flight %(they may have been done%), 0 not sent\n", out)
    assert.matches("clinch: interrupted\n", out)
  end)
end)
