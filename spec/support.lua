--- Shared test support: the project root, the interpreter running the suite, and a real mock server
-- (bin/clinch-mock) started on a free loopback port for a spec file.
local io, os, table = io, os, table
local assert, error, tostring, type, pairs, select, require = assert, error, tostring, type, pairs, select, require

local _M = {}

_M.root = assert(io.popen("pwd")):read("*l")
_M.is_luajit = type(rawget(_G, "jit")) == "table"
_M.lua_version = _M.is_luajit and "5.1" or _VERSION:match("%d+%.%d+")
--- The interpreter command running this suite; child Lua processes use the same one.
_M.lua = os.getenv("CLINCH_TEST_LUA") or (_M.is_luajit and "luajit" or "lua" .. _M.lua_version)

--- Quotes a string for /bin/sh.
_M.shell_quote = require("clinch.mock.process").shell_quote

--- The bytes of a file, or nil when it cannot be read.
function _M.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

--- Writes (replaces) a file.
function _M.write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

--- The API contract the project follows (api/recruitment-marketing-openapi.json), decoded.
function _M.seed()
  return require("cjson").new().decode(assert(_M.read_file(_M.root .. "/api/recruitment-marketing-openapi.json")))
end

--- Exports LUA_PATH/LUA_CPATH so that child processes load this checkout (and the core this suite
-- runs with, e.g. the sanitizer build).
function _M.export_paths()
  -- busted has already put the configured paths first in package.path/cpath.
  local env = {
    LUA_PATH = package.path, LUA_CPATH = package.cpath,
  }
  _M.child_env = ""
  for k, v in pairs(env) do
    _M.child_env = _M.child_env .. k .. "=" .. _M.shell_quote(v) .. " "
    if not _M.is_luajit then
      local suffix = "_" .. _M.lua_version:gsub("%.", "_")
      _M.child_env = _M.child_env .. k .. suffix .. "=" .. _M.shell_quote(v) .. " "
    end
  end
  -- In the sanitizer run the ASan runtime is preloaded into every child (sh, rm, find, script, the
  -- mock...); leak reports are for this process, which drives the core, not for those programs. So
  -- every shell command a spec runs (each child starts from one) exports detect_leaks=0 first: a
  -- variable written before a command would reach that command only.
  if os.getenv("CLINCH_SANITIZER") then
    if not _M.quiet_children then
      _M.quiet_children = true
      local execute, popen = os.execute, io.popen
      local QUIET = "export ASAN_OPTIONS=detect_leaks=0; "
      os.execute = function(cmd, ...) return execute(cmd and QUIET .. cmd, ...) end -- luacheck: ignore 122
      io.popen = function(cmd, ...) return popen(QUIET .. cmd, ...) end -- luacheck: ignore 122
    end
  end
end

-- Sockets holding the ports refusing_port gave, open for the rest of the run.
local refusing = {}

--- A port on 127.0.0.1 that refuses connections for the rest of the run: a socket bound to it that
-- never listens stays open. (A port merely found free could be taken meanwhile, or chosen by the
-- kernel as a connection's own source port: on loopback such a connection connects to itself.)
function _M.refusing_port()
  local s = assert(require("socket").tcp())
  assert(s:bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  refusing[#refusing + 1] = s
  return tonumber(port)
end

--- A port on 127.0.0.1 that takes connections and never says a word, for the rest of the run: a
-- socket that listens and never accepts (the kernel completes the connections into its backlog).
function _M.silent_port()
  local s = assert(require("socket").tcp())
  assert(s:bind("127.0.0.1", 0))
  assert(s:listen(16))
  local _, port = s:getsockname()
  refusing[#refusing + 1] = s
  return tonumber(port)
end

--- Runs a shell command with the child environment; returns ok, stdout.
function _M.run(cmd)
  local p = assert(io.popen(_M.child_env .. cmd .. " 2>&1"))
  local out = p:read("*a")
  local ok = p:close()
  return ok, out
end

--- Starts bin/clinch-mock with extra arguments (a list of strings) and waits for its
-- "listening on" line. Returns a table { base_url, host, port, pid, stop = function }.
function _M.start_mock(args)
  local mock, err = require("clinch.mock.process").start {
    root = _M.root, lua = _M.lua, args = args, env = _M.child_env }
  if not mock then error(err, 2) end
  --- Calls the mock's unsigned control API: mock.control("POST", "faults", { kind = "latency", ... }).
  -- Returns the decoded JSON reply (or nil for an empty one) and the status.
  function mock.control(method, path, body)
    local http, ltn12, cjson = require "socket.http", require "ltn12", require "cjson"
    local chunks, payload = {}, body and cjson.encode(body) or nil
    local _, status = http.request {
      url = mock.origin .. "/__mock/" .. path, method = method,
      source = payload and ltn12.source.string(payload) or nil,
      headers = payload and { ["content-type"] = "application/json",
                              ["content-length"] = tostring(#payload) } or nil,
      sink = ltn12.sink.table(chunks),
    }
    local text = table.concat(chunks)
    return text ~= "" and cjson.decode(text) or nil, status
  end
  return mock
end

--- A mock started with `args` and a client of it that never sleeps between retries -> mock, client.
function _M.start_mock_client(args)
  local mock = _M.start_mock(args)
  local client = require("clinch").new { key = "test-key", secret = "test-secret", base_url = mock.base_url,
                                         sleep = function() end, timeout = 10 }
  return mock, client
end

--- A new private temporary directory -> its path (the caller removes it in its teardown).
function _M.tmpdir()
  local p = assert(io.popen(_M.child_env .. "mktemp -d"))
  local dir = p:read("l")
  p:close()
  assert(dir and dir ~= "", "mktemp -d failed")
  return dir
end

--- A stream that keeps what is written to it (write, flush), for the CLI's captured stdout and stderr.
function _M.sink()
  local parts = {}
  return {
    write = function(self, ...)
      for i = 1, select("#", ...) do parts[#parts + 1] = tostring((select(i, ...))) end
      return self
    end,
    flush = function(self) return self end,
    text = function() return table.concat(parts) end,
  }
end

--- Runs the CLI in this process (clinch.cli.main, the code bin/clinch runs) with captured streams ->
-- exit code, stdout, stderr. opts.vars: the environment it sees (a table); opts.tty: the set of fds
-- that are terminals (none by default); opts.stdin: a file handle for its standard input.
function _M.cli_main(args, opts)
  local out, err = _M.sink(), _M.sink()
  local vars, tty = opts.vars or {}, opts.tty or {}
  local code = require("clinch.cli").main(args, {
    stdout = out, stderr = err, stdin = opts.stdin, isatty = function(fd) return tty[fd] == true end,
    getenv = function(k) return vars[k] end,
  })
  return code, out.text(), err.text()
end

--- The keys of table t, sorted.
function _M.sorted_keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out)
  return out
end

--- The JSON values of a JSON Lines text, each line asserted to be JSON.
function _M.decode_lines(text)
  local cjson = require("cjson.safe").new()
  local out = {}
  for line in text:gmatch("[^\n]+") do out[#out + 1] = assert(cjson.decode(line), "not JSON: " .. line) end
  return out
end

return _M
