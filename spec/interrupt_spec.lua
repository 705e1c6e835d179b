-- Ctrl-C is not held up by a request or a retry wait: the C core's waits (csrc/interrupt.c) return as
-- soon as the interpreter asks to interrupt. Each case runs a child interpreter that blocks, sends it
-- SIGINT with timeout(1), and checks that it ended with "interrupted!" long before the block would.
local support = require "support"
local core = require "clinch.core"

local q = support.shell_quote

-- The wait every case blocks on, and the bound it must end within (a coarse bound: the margin is
-- seconds, the interrupt comes after half a second).
local BLOCK_S, WITHIN_S = 8, 4

-- timeout(1) sends its signal to the child and then to its whole process group, so the child can get
-- SIGINT twice; lua.c restores the default action after the first, and a second one arriving late
-- kills it mid-message. --foreground signals the child alone, once, as a Ctrl-C would.
local INT_AFTER = "timeout --foreground -s INT --preserve-status 0.5 "

-- Runs `script` (Lua source) in a child interpreter and interrupts it after 0.5 s.
-- Returns its output (stdout and stderr) and the seconds it ran.
local function interrupted(script)
  local t0 = core.monotime()
  local _, out = support.run(INT_AFTER .. support.lua .. " -e " .. q(script))
  return out, core.monotime() - t0
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

  it("ends a request that waits for its response", function()
    mock.control("POST", "faults", { kind = "latency", ms = BLOCK_S * 1000, count = -1 })
    local out, took = interrupted(client_code(", retries = 0") .. [[
      local res, err = c:request("GET", "/candidates")
      print("not interrupted", res and res.status, err and err.kind)
    ]])
    assert_interrupted(out, took)
  end)

  it("ends parallel requests and a started request's wait", function()
    mock.control("POST", "faults", { kind = "latency", ms = BLOCK_S * 1000, count = -1 })
    for _, call in ipairs {
      [[c:request_many({ { "GET", "/candidates" }, { "GET", "/candidates" } })]],
      [[c:start("GET", "/candidates"):wait()]],
    } do
      local out, took = interrupted(client_code(", retries = 0") .. call .. "\nprint('not interrupted')\n")
      assert_interrupted(out, took, call)
    end
  end)

  it("ends a Retry-After wait between attempts", function()
    mock.control("POST", "faults", { kind = "status", status = 503, retry_after = BLOCK_S, count = -1 })
    local out, took = interrupted(client_code(", retries = 1, max_retry_wait = 60") .. [[
      local res, err = c:request("GET", "/candidates")
      print("not interrupted", res and res.status, err and err.kind)
    ]])
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
    local out, took = interrupted("require('clinch.core').sleep(" .. BLOCK_S .. ") print('not interrupted')")
    assert_interrupted(out, took)
  end)

  it("ends `clinch candidates list` with exit 130 and one line", function()
    if support.is_luajit then
      pending("the CLI runs on Lua 5.4 only: covered by the Lua 5.4 suite")
      return
    end
    mock.control("POST", "faults", { kind = "latency", ms = BLOCK_S * 1000, count = -1 })
    local t0 = core.monotime()
    local _, out = support.run("CLINCH_API_KEY=test-key CLINCH_API_SECRET=test-secret CLINCH_BASE_URL="
      .. q(mock.base_url) .. " " .. INT_AFTER .. support.lua .. " "
      .. q(support.root .. "/bin/clinch") .. " candidates list 2>&1; echo exit=$?")
    assert.is_true(core.monotime() - t0 < WITHIN_S)
    assert.matches("clinch: interrupted\n", out, 1, true)
    assert.matches("exit=130", out, 1, true)
  end)
end)
