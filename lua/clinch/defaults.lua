--- Every default and shared rule of lua-clinch, in one place: the client, both transports and the C
-- core (which reads this module when it loads) take them from here, so a default is changed once.
local find, type, rawget, floor, math = string.find, type, rawget, math.floor, math

local _M = {}

--- The library's version (the C core reports it as clinch.core._VERSION).
_M.VERSION = "0.1.0"

-- Per attempt, in seconds: the total (connect, send, headers, body) and the connect part.
_M.TIMEOUT = 60
_M.CONNECT_TIMEOUT = 10

-- Response limits: a body over MAX_RESPONSE_BYTES, or a header block over MAX_HEADER_BYTES, is an
-- error of kind too_large.
_M.MAX_RESPONSE_BYTES = 64 * 1024 * 1024
_M.MAX_HEADER_BYTES = 64 * 1024

-- Requests in flight at once (request_many, send_many).
_M.CONCURRENCY = 8

-- A POST or PATCH reuses a kept-alive connection only if it was in use less than this many seconds
-- ago (see README "Retries and writes").
_M.WRITE_REUSE_IDLE = 1

-- Retries: further attempts, backoff (full jitter over base * 2^(n-1), capped) and the longest
-- Retry-After honoured, in seconds.
_M.RETRIES = 2
_M.BACKOFF_BASE = 0.5
_M.BACKOFF_CAP = 8

--- The default source of the backoff's jitter: math.random, except inside nginx. There every worker
-- forks from the master with the same generator state (LuaJIT's math.random starts from a fixed
-- seed), and the workers' retries after an outage would wait in step; so each client has a
-- Park-Miller generator of its own, seeded on first use (in the worker) from its pid and the time.
function _M.random_source()
  local ngx = rawget(_G, "ngx")
  if type(ngx) ~= "table" or type(ngx.worker) ~= "table" or type(ngx.now) ~= "function" then
    return math.random
  end
  local state
  return function()
    if not state then state = (ngx.worker.pid() * 7919 + floor(ngx.now() * 1000)) % 2147483646 + 1 end
    state = state * 16807 % 2147483647 -- (exact in a double: both factors are below 2^31)
    return (state - 1) / 2147483646
  end
end
_M.MAX_RETRY_WAIT = 60

-- Records a page when a bulk read (`--all`, sync) names no --per-page: the most the API gives.
_M.BULK_PER_PAGE = 100

-- nginx's lua_socket_pool_size default: kept-alive connections per worker and pool.
_M.POOL_SIZE = 30

--- True when `s` is an RFC 9110 token (a header name or a method).
function _M.is_token(s)
  return type(s) == "string" and find(s, "^[%w!#%$%%&'%*%+%-%.%^_`|~]+$") ~= nil
end

--- True when `s` may be sent as a header value: no control characters other than tab (CR, LF or NUL
-- would end the header and start one of the caller's own).
function _M.is_header_value(s)
  return type(s) == "string" and not find(s, "[%z\1-\8\10-\31\127]")
end

--- The default User-Agent: lua-clinch/<version> and the HTTP stack's own name/version.
function _M.user_agent(stack)
  return "lua-clinch/" .. _M.VERSION .. " " .. stack
end

return _M
