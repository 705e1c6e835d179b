--- The client-wide budget of requests in flight, adapted to what the API says (a pure policy object:
-- the clock is passed in, nothing here sleeps).
--
--   * 429 or 503 from the API: the limit halves (never below 1; once for the refusals of one burst)
--     and no request of the client starts until the wait has passed (Retry-After, or the backoff when
--     the server gave none), for every request in flight or waiting, not just the one refused;
--   * when the pause ends, the limit becomes the number of that burst's requests the API did admit
--     (those that succeeded), so that one burst teaches it the API's concurrency;
--   * after as many successes in a row as the limit, it grows by one, up to its maximum (additive
--     increase, multiplicative decrease); just below the last limit that drew a push-back it grows
--     fifty times more slowly (each failed probe pauses every request), and that ceiling is forgotten
--     after a minute without push-back;
--   * max_rate = R: a token bucket of R requests a second (a burst of at most max(1, R)).
-- Inside nginx, `shared` (see clinch.limiter.shared) keeps the same budget in a lua_shared_dict for
-- every worker of the server.
local math, setmetatable, rawget, tostring, tonumber = math, setmetatable, rawget, tostring, tonumber

local _M = {}

local Limiter = {}
Limiter.__index = Limiter

-- After a push-back, the limit is probed again above the last limit the API admitted only after this
-- many successes per request of the limit (each probe that fails costs a pause for every request),
-- and the ceiling is forgotten after CEILING_MEMORY seconds without a push-back.
local SLOW_PROBE = 50
local CEILING_MEMORY = 60

--- A limiter: opts.max (the most in flight), opts.max_rate (requests per second, or nil).
function _M.new(opts)
  return setmetatable({
    max = opts.max, limit = opts.max, in_flight = 0, paused_until = 0, successes = 0, backoffs = 0,
    epoch = 0, admitted = 0, ceiling = nil, pushed_at = nil,
    rate = opts.max_rate, tokens = opts.max_rate and math.max(1, opts.max_rate), stamp = nil,
  }, Limiter)
end

-- At the end of a pause: the limit becomes what the API admitted of the burst it refused (the
-- requests of that burst that succeeded), so that one burst teaches it, not several.
-- A pause that has ended is forgotten (paused_until 0), so that needs_clock can tell.
local function settle(self, now)
  if self.admitted > 0 and now >= self.paused_until then
    self.limit = math.max(1, math.min(self.max, self.admitted))
    self.ceiling = self.limit + 1
    self.admitted = 0
  end
  if self.paused_until ~= 0 and now >= self.paused_until and self.admitted == 0 then self.paused_until = 0 end
  if self.ceiling and self.pushed_at and now - self.pushed_at > CEILING_MEMORY then self.ceiling = nil end
end

--- Whether acquire's answer may depend on the time: false when no pause, rate or remembered ceiling
-- is in play, and acquire may then be given 0 for `now` (reading a clock is a C call, which costs
-- LuaJIT more than the rest of acquire).
function Limiter:needs_clock()
  return self.paused_until ~= 0 or self.ceiling ~= nil or self.rate ~= nil
end

--- Whether n more requests may start at `now`: true and the budget's epoch (hand it back to
-- observe), or false and the seconds to wait (nil: until a request in flight ends).
function Limiter:acquire(n, now)
  if now < self.paused_until then return false, self.paused_until - now end
  settle(self, now)
  if self.in_flight > 0 and self.in_flight + n > self.limit then return false, nil end
  local wait = self:rate_wait(n, now)
  if wait > 0 then return false, wait end
  self:take(n)
  return true, self.epoch
end
--- Seconds until the rate allows n more requests (0 when it does, or there is no max_rate).
function Limiter:rate_wait(n, now)
  if not self.rate then return 0 end
  local burst = math.max(1, self.rate)
  self.tokens = math.min(burst, self.tokens + (now - (self.stamp or now)) * self.rate)
  self.stamp = now
  if self.tokens >= n then return 0 end
  return (n - self.tokens) / self.rate
end

--- Counts n requests in flight without asking (a lone caller that waited for the rate); returns the
-- epoch, as acquire does.
function Limiter:take(n)
  self.in_flight = self.in_flight + n
  if self.rate then self.tokens = math.max(0, self.tokens - n) end
  return self.epoch
end

--- n requests ended.
function Limiter:release(n)
  local left = self.in_flight - n
  self.in_flight = left > 0 and left or 0 -- (math.max is a C call, and this runs per request)
end

--- What one answer says about the budget: `pushback` (a 429 or 503) with the seconds to wait, or a
-- success; `epoch` is what acquire gave the request. Returns the back-off event when the limit was
-- cut, for the log and stats().
function Limiter:observe(pushback, wait, now, status, epoch)
  if not pushback then
    if epoch ~= nil and epoch < self.epoch then
      -- it started before the last push-back: the API admitted it in that burst
      if epoch == self.epoch - 1 then self.admitted = self.admitted + 1 end
      return nil
    end
    self.successes = self.successes + 1
    local fast = not self.ceiling or self.limit + 1 < self.ceiling
    local need = fast and self.limit or self.limit * SLOW_PROBE
    if self.successes >= need and self.limit < self.max then
      self.limit, self.successes = self.limit + 1, 0
    end
    return nil
  end
  local before = self.limit
  -- The refusals of one burst (every request in flight when the API pushed back) cut it once.
  if now >= self.paused_until then
    self.limit = math.max(1, math.floor(self.limit / 2))
    self.epoch, self.admitted = self.epoch + 1, 0
  end
  self.successes = 0
  self.paused_until = math.max(self.paused_until, now + (wait or 0))
  self.pushed_at = now
  self.backoffs = self.backoffs + 1
  self.last_event = { status = status, wait = wait or 0, limit_before = before, limit = self.limit, at = now }
  return self.last_event
end

--- The budget now: { limit, max, in_flight, paused_for, backoffs, last_event, max_rate }.
function Limiter:stats(now)
  return { limit = self.limit, max = self.max, in_flight = self.in_flight, backoffs = self.backoffs,
           paused_for = math.max(0, self.paused_until - now), last_event = self.last_event, max_rate = self.rate }
end

-- ---- the same budget in a lua_shared_dict, for every worker of an nginx server ----

local Shared = {}
Shared.__index = Shared

--- A limiter whose state lives in ngx.shared[dict_name], under keys named after `name` (the client's
-- API origin and access id), so that every worker of the server draws on one budget. Its clock is
-- ngx.now() (workers share it); the `now` arguments are ignored. A worker that dies while it has
-- requests in flight leaves them counted until the dictionary is flushed.
function _M.shared(dict_name, opts)
  local ngx = rawget(_G, "ngx")
  local dict = ngx and ngx.shared and ngx.shared[dict_name]
  if not dict then return nil, "no lua_shared_dict named '" .. tostring(dict_name) .. "'" end
  local p = "clinch|" .. opts.name .. "|"
  local self = setmetatable({ dict = dict, max = opts.max, rate = opts.max_rate, now = ngx.now,
    k_in = p .. "in_flight", k_limit = p .. "limit", k_pause = p .. "paused_until", k_succ = p .. "successes",
    k_back = p .. "backoffs", k_rate = p .. "rate:", k_event = p .. "last_event" }, Shared)
  dict:add(self.k_limit, opts.max)
  return self
end

--- Always false: the shared budget reads its own clock (ngx.now).
function Shared.needs_clock()
  return false
end

function Shared:limit_now()
  return self.dict:get(self.k_limit) or self.max
end

function Shared:rate_wait(n)
  if not self.rate then return 0 end
  local now = self.now()
  local sec = math.floor(now)
  local count = self.dict:incr(self.k_rate .. sec, n, 0, 2)
  if count and count <= self.rate then return 0 end
  self.dict:incr(self.k_rate .. sec, -n)
  return sec + 1 - now
end

function Shared:acquire(n)
  local dict, now = self.dict, self.now()
  local paused = dict:get(self.k_pause) or 0
  if now < paused then return false, paused - now end
  local in_flight = dict:incr(self.k_in, n, 0) or n
  if in_flight > n and in_flight > self:limit_now() then
    dict:incr(self.k_in, -n)
    return false, nil
  end
  local wait = self:rate_wait(n)
  if wait > 0 then
    dict:incr(self.k_in, -n)
    return false, wait
  end
  return true
end

function Shared:take(n)
  self.dict:incr(self.k_in, n, 0)
end

function Shared:release(n)
  local left = self.dict:incr(self.k_in, -n, 0)
  if left and left < 0 then self.dict:set(self.k_in, 0) end
end

function Shared:observe(pushback, wait)
  local dict, now = self.dict, self.now()
  local limit = self:limit_now()
  if not pushback then
    local s = dict:incr(self.k_succ, 1, 0)
    if s and s >= limit and limit < self.max then
      dict:set(self.k_limit, limit + 1)
      dict:set(self.k_succ, 0)
    end
    return nil
  end
  local paused = dict:get(self.k_pause) or 0
  local after = limit
  if now >= paused then
    after = math.max(1, math.floor(limit / 2))
    dict:set(self.k_limit, after)
  end
  dict:set(self.k_succ, 0)
  dict:set(self.k_pause, math.max(paused, now + (wait or 0)))
  dict:incr(self.k_back, 1, 0)
  local event = { wait = wait or 0, limit_before = limit, limit = after, at = now }
  dict:set(self.k_event, ("%s %s %s"):format(event.wait, event.limit_before, event.limit))
  return event
end

function Shared:stats()
  local dict, now = self.dict, self.now()
  local last = dict:get(self.k_event)
  local event
  if last then
    local w, b, l = last:match("^(%S+) (%S+) (%S+)$")
    event = { wait = tonumber(w), limit_before = tonumber(b), limit = tonumber(l) }
  end
  return { limit = self:limit_now(), max = self.max, in_flight = dict:get(self.k_in) or 0,
           backoffs = dict:get(self.k_back) or 0, paused_for = math.max(0, (dict:get(self.k_pause) or 0) - now),
           last_event = event, max_rate = self.rate, shared = true }
end

return _M
