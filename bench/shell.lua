--- Shell helpers of the benchmark drivers (bench/run.lua, bench/instructions.lua), run from the
-- repository root: quoting, commands, free loopback ports, and the environment that makes a Lua
-- process load this checkout's modules and C core.

local _M = {}

_M.ROOT = assert(io.popen("pwd")):read("*l")

function _M.q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

function _M.sh(cmd)
  local ok = os.execute(cmd)
  return ok == true or ok == 0
end

--- Runs cmd -> its output (stdout and stderr), whether it succeeded.
function _M.capture(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("*a")
  local ok = p:close()
  return out, ok
end

-- Distinct free loopback ports, as the test suite picks them (mock/lua on package.path).
_M.free_ports = require("clinch.mock.process").free_ports
function _M.free_port() return _M.free_ports(1) end

--- The environment prefix for a command run by `lua` (lua5.4 or luajit): this checkout's modules,
-- bench/ and the C core built for that VM.
function _M.env_for(lua)
  local q = _M.q
  local build = lua:find("luajit") and "build/5.1" or "build/5.4"
  local path, cpath = "lua/?.lua;lua/?/init.lua;bench/?.lua;;", build .. "/?.so;;"
  return "LUA_PATH=" .. q(path) .. " LUA_CPATH=" .. q(cpath) .. " LUA_PATH_5_4=" .. q(path)
    .. " LUA_CPATH_5_4=" .. q(cpath) .. " "
end

--- The header lines the client sends with a GET (their sizes: a signature is 28 Base64 characters), as
-- quoted arguments of bench/curl_loop.c: a libcurl loop that costs what libcurl does for the client's
-- request, signing and decoding left out.
function _M.client_header_args()
  local ua = _M.capture(_M.env_for("lua5.4") .. "lua5.4 -e 'io.write(require(\"clinch.defaults\")"
    .. ".user_agent(\"libcurl/\" .. require(\"clinch.core\").curl_version()))'")
  local lines = { "User-Agent: " .. ua, "Accept: application/vnd.api+json",
                  "Authorization: APIAuth bench:adBM/dhcSeZ7hqKbwhKP6FJcRak=",
                  "Date: " .. os.date("!%a, %d %b %Y %H:%M:%S GMT") }
  for i, h in ipairs(lines) do lines[i] = _M.q(h) end
  return table.concat(lines, " ")
end

return _M
