--- Shared set-up for the runnable examples in examples/: a client configured by the rule clinch.new and
-- the CLI follow (clinch.config: CLINCH_API_KEY, CLINCH_API_SECRET, CLINCH_REGION, CLINCH_BASE_URL, a
-- profile of ~/.config/clinch/config), or, only when nothing at all is configured (no credentials, no
-- region, no base URL, in the environment or the profile), a client for a mock API (bin/clinch-mock)
-- started on a free loopback port for the run and stopped afterwards, also when the example fails.
-- A partial configuration (a base URL without a key, say) is an error, never a reason to use a mock.
--
--   local examples = dofile(here .. "/support.lua")   -- here: the example's directory
--   examples.run(function(client, ex)
--     ... ex.say("what happened") ...
--   end, { candidates = 60 })
local type, tostring, pcall, xpcall, require, error, ipairs = type, tostring, pcall, xpcall, require, error, ipairs
local io, os, debug, arg = io, os, debug, rawget(_G, "arg")
local config = require "clinch.cli.config"
local settings = require "clinch.config"

local _M = {}

_M.shell_quote = require("clinch.mock.process").shell_quote

--- The checkout's root directory, from the path of the running script (examples/x.lua -> .).
function _M.root()
  local script = arg and arg[0] or ""
  local dir = script:match("^(.*)/[^/]*$") or "."
  return dir .. "/.."
end

--- Starts bin/clinch-mock -> { base_url, stop() } or nil, message. `opts.candidates`, `opts.seed`.
function _M.start_mock(opts)
  opts = opts or {}
  return require("clinch.mock.process").start {
    root = opts.root or _M.root(), lua = opts.lua,
    args = { "--candidates", tostring(opts.candidates or 60), "--seed", tostring(opts.seed or 1) } }
end

--- Prints a line of what the example did (stdout, flushed so that it interleaves with stderr).
function _M.say(...)
  io.stdout:write(...)
  io.stdout:write("\n")
  io.stdout:flush()
end

--- A progress line on stderr (only when it is a terminal): p:page(records, total_or_nil), p:finish().
function _M.progress(label)
  return require("clinch.cli.progress").new { enabled = _M.stderr_tty(), label = label }
end

--- Whether stderr is a terminal (progress lines are drawn only then).
function _M.stderr_tty()
  return require("clinch.cli.tty").isatty(2)
end

--- Runs `body(client, ex)` with a client from the environment or for a mock started for the run, then
-- stops the mock and exits: 0 on success, 1 on failure (the error on one line on stderr).
function _M.run(body, opts)
  opts = opts or {}
  local getenv = os.getenv
  local mock
  local env_opts
  local configured, problem = settings.configured { getenv = getenv }
  if configured == nil then
    io.stderr:write("example: ", problem.message, "\n")
    os.exit(2)
  end
  if not configured then
    local err
    mock, err = _M.start_mock(opts)
    if not mock then
      io.stderr:write("example: ", err, "\n")
      os.exit(1)
    end
    _M.say("(no credentials configured: using a mock API at ", mock.base_url, ")")
    env_opts = { key = "test-key", secret = "test-secret", base_url = mock.base_url }
  else
    -- The library's rule (clinch.config), as clinch.new() follows it: its messages name where a value
    -- came from (CLINCH_REGION, the file and line of a profile).
    local s, warnings = settings.resolve { getenv = getenv }
    if not s then
      io.stderr:write("example: ", warnings.message, "\n")
      os.exit(2)
    end
    for _, w in ipairs(warnings) do io.stderr:write("example: warning: ", w, "\n") end
    env_opts = { key = s.key, secret = s.secret, region = s.region, base_url = s.base_url }
  end
  _M.mock = mock
  local client, cerr = config.client(env_opts)
  local ok, failure = false, cerr
  if client then
    ok, failure = xpcall(body, function(e)
      if type(e) == "table" then return e end
      -- A message without a place (error(msg, 0)) is what went wrong, for the user: one line. One
      -- with a place is a bug of the example: its traceback.
      if type(e) == "string" and not e:find("^[^\n]-:%d+: ") then return e end
      return debug.traceback(tostring(e), 2)
    end, client, _M)
    pcall(client.close, client)
  end
  if mock then mock.stop() end
  if not ok then
    io.stderr:write("example failed: ", (tostring(failure):gsub("\n", "\n  ")), "\n")
    os.exit(1)
  end
  os.exit(0)
end

--- Returns the value, or raises its error (for `nil, err` results in examples).
function _M.check(v, err)
  if v == nil then error(err, 2) end
  return v
end

return _M
