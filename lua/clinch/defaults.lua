--- Every default and shared rule of lua-clinch, in one place: the client, both transports and the C
-- core (which reads this module when it loads) take them from here, so a default is changed once.
local find, type = string.find, type

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
