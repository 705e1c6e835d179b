--- Starts bin/clinch-mock as a child process and waits until it accepts connections; used by the
-- examples, the demo and the test suite alike.
--   local mock, err = require("clinch.mock.process").start { root = ".", lua = "lua5.4",
--     args = { "--candidates", "60" }, env = "LUA_PATH=... " }
--   mock.base_url, mock.origin, mock.host, mock.port, mock.pid; mock.stop()
local io, os, table, tostring, tonumber, ipairs = io, os, table, tostring, tonumber, ipairs

local _M = {}

--- Quotes a string for /bin/sh.
function _M.shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
local q = _M.shell_quote

--- n distinct free TCP ports on 127.0.0.1 (nothing listens on them when this returns), for servers
-- that must be told their port (nginx): all are held at once before any is let go, since a port
-- bound and closed at once may well be given again. Needs LuaSocket.
function _M.free_ports(n)
  local socket = require "socket"
  local held, ports = {}, {}
  for i = 1, n do
    held[i] = assert(socket.bind("127.0.0.1", 0))
    local _, port = held[i]:getsockname()
    ports[i] = tonumber(port)
  end
  for i = 1, n do held[i]:close() end
  return (table.unpack or unpack)(ports)
end

--- Returns the running mock, or nil and a message. `opts.root` is the checkout (default "."),
-- `opts.lua` the interpreter (default lua5.4), `opts.args` extra arguments, `opts.env` a prefix of
-- shell variable assignments for the child.
function _M.start(opts)
  opts = opts or {}
  local argv = {}
  for i, a in ipairs(opts.args or {}) do argv[i] = q(a) end
  -- The execs keep the pid that `echo $$` printed: stop() signals the mock itself, and no shell is
  -- left waiting to report its end.
  local cmd = "exec sh -c " .. q("echo $$; exec env " .. (opts.env or "") .. (opts.lua or "lua5.4") .. " "
    .. q((opts.root or ".") .. "/bin/clinch-mock") .. " --port 0 " .. table.concat(argv, " "))
  local p = io.popen(cmd, "r")
  if not p then return nil, "cannot start clinch-mock" end
  local pid = p:read("*l")
  local line = p:read("*l")
  local base_url = line and line:match("^listening on (%S+)")
  if not base_url then
    p:close()
    return nil, "clinch-mock did not start" .. (line and (": " .. line) or "")
  end
  local host, port = base_url:match("^http://([^:/]+):(%d+)")
  local mock = { base_url = base_url, host = host, port = tonumber(port), pid = pid,
                 origin = "http://" .. host .. ":" .. port }
  function mock.stop()
    if mock.pid then
      os.execute("kill " .. mock.pid .. " 2>/dev/null")
      p:close()
      mock.pid = nil
    end
  end
  return mock
end

return _M
