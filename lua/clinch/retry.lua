--- Retry policy: which failures are worth another attempt, and how long to wait before it.
-- Exponential backoff with full jitter (base 0.5 s, cap 8 s); Retry-After (seconds or HTTP-date)
-- wins when the server sends it, capped by max_retry_wait.
local core = require "clinch.core"
local defaults = require "clinch.defaults"
local math, tonumber, type = math, tonumber, type

local _M = {}


local IDEMPOTENT = { GET = true, HEAD = true, PUT = true, DELETE = true, OPTIONS = true }
local RETRY_STATUS = { [429] = true, [502] = true, [503] = true, [504] = true }

--- Decides whether a failed attempt is retried. `failure` is either a transport error
-- ({ kind, sent }) or an HTTP status number. POST and PATCH are repeated only when the request
-- certainly never reached the server, unless `unsafe` is set.
function _M.retryable(method, failure, unsafe)
  local safe = unsafe or IDEMPOTENT[method]
  if type(failure) == "number" then
    return RETRY_STATUS[failure] == true and safe or false
  end
  -- TLS failures, oversized bodies and calls from the wrong nginx phase would fail the same way again.
  if failure.kind ~= "network" and failure.kind ~= "timeout" then return false end
  if failure.sent == false then return true end
  return safe or false
end

--- Seconds to wait as the server asked in a Retry-After value, or nil when it is absent or unreadable.
function _M.retry_after(value, now)
  if type(value) ~= "string" then return nil end
  local secs = tonumber(value:match("^%s*(%d+)%s*$"))
  if secs then return secs end
  local when = core.parse_httpdate(value)
  if when then return math.max(0, when - (now or core.now())) end
  return nil
end

--- The delay before attempt number `attempt + 1`: full jitter over an exponential window.
function _M.backoff(attempt, base, cap, random)
  base, cap = base or defaults.BACKOFF_BASE, cap or defaults.BACKOFF_CAP
  local window = math.min(cap, base * 2 ^ (attempt - 1))
  return (random or math.random)() * window
end

return _M
