--- The client-wide budget of requests in flight, adapted to what the API says (a pure policy object:
-- the clock is passed in, nothing here sleeps).
--
--   * 429 or 503 from the API: the limit halves (never below 1; once for the refusals of one burst)
--     and no request of the client starts until the wait has passed (Retry-After, or the backoff when
--     the server gave none), for every request in flight or waiting, not just the one refused;
--   * after as many successes in a row as the limit, it grows by one, up to its maximum (additive
--     increase, multiplicative decrease);
--   * max_rate = R: a token bucket of R requests a second (a burst of at most max(1, R)).
-- Inside nginx, `shared` (see clinch.limiter.shared) keeps the same budget in a lua_shared_dict for
-- every worker of the server.
local math, setmetatable = math, setmetatable

local _M = {}

local Limiter = {}
Limiter.__index = Limiter

--- A limiter: opts.max (the most in flight), opts.max_rate (requests per second, or nil).
function _M.new(opts)
  return setmetatable({
    max = opts.max, limit = opts.max, in_flight = 0, paused_until = 0, successes = 0, backoffs = 0,
    rate = opts.max_rate, tokens = opts.max_rate and math.max(1, opts.max_rate), stamp = nil,
  }, Limiter)
end

--- Whether n more requests may start at `now`: true (they then count as in flight), or false and the
-- seconds to wait (nil: until a request in flight ends).
function Limiter:acquire(n, now)
  if now < self.paused_until then return false, self.paused_until - now end
  if self.in_flight > 0 and self.in_flight + n > self.limit then return false, nil end
  local wait = self:rate_wait(n, now)
  if wait > 0 then return false, wait end
  self:take(n)
  return true
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

--- Counts n requests in flight without asking (a lone caller that waited for the rate).
function Limiter:take(n)
  self.in_flight = self.in_flight + n
  if self.rate then self.tokens = math.max(0, self.tokens - n) end
end

--- n requests ended.
function Limiter:release(n)
  self.in_flight = math.max(0, self.in_flight - n)
end

--- What one answer says about the budget: `pushback` (a 429 or 503) with the seconds to wait, or a
-- success. Returns the back-off event when the limit was cut, for the log and stats().
function Limiter:observe(pushback, wait, now, status)
  if not pushback then
    self.successes = self.successes + 1
    if self.successes >= self.limit and self.limit < self.max then
      self.limit, self.successes = self.limit + 1, 0
    end
    return nil
  end
  local before = self.limit
  -- The refusals of one burst (every request in flight when the API pushed back) cut it once.
  if now >= self.paused_until then self.limit = math.max(1, math.floor(self.limit / 2)) end
  self.successes = 0
  self.paused_until = math.max(self.paused_until, now + (wait or 0))
  self.backoffs = self.backoffs + 1
  self.last_event = { status = status, wait = wait or 0, limit_before = before, limit = self.limit, at = now }
  return self.last_event
end

--- The budget now: { limit, max, in_flight, paused_for, backoffs, last_event, max_rate }.
function Limiter:stats(now)
  return { limit = self.limit, max = self.max, in_flight = self.in_flight, backoffs = self.backoffs,
           paused_for = math.max(0, self.paused_until - now), last_event = self.last_event, max_rate = self.rate }
end

return _M
