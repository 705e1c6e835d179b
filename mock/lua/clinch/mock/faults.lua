--- Injected faults for the mock's /v1 requests, set through the control API or flags. A fault applies to
-- the next `count` matching requests (count -1: until cleared), optionally only to a method, to paths
-- with a given prefix, and to requests whose query holds a given `name=value` part (query = "page=5",
-- as sent: one of the query's &-separated parts, byte for byte). Kinds: latency, status, reset,
-- truncate, trickle, redirect, and two that leave the answer itself alone:
--   churn       { touch = K, seed = N, among = "all" | "filter" | "first" }: after answering, K random
--               candidates (seeded; among every candidate, or among those the request's filter matched)
--               are updated (updated_at = now), as other users of a busy account would do between two
--               requests of a client that pages through a window of updated_at; "first" updates the
--               first K the filter matched, in the server's order, as a batch job working through the
--               list does (every later page then shifts by K)
--   pagination  { mode = "cycle" | "ignore_page" | "no_totals" | "no_links" | "shuffle" | "endless" }, or several
--               comma-separated: the list answer of a broken or different server: page 2's next link
--               leads back to page 1; every page number gets page 1's records (links and meta as
--               asked); no meta totals; no pagination links; an order that changes on every answer;
--               a next link on every page, past the last one too (empty pages)
--   overload    { max = K, retry_after = S }: a server that rate-limits by concurrency: a request that
--               arrives while K others are still being answered (held by latency) gets a 429 with
--               Retry-After S at once; the journal records each request's arrival time and how many
--               were in flight then (`at`, `in_flight`). Only requests it refuses use up its count.
-- A request takes at most one fault of each class: latency, churn, pagination, and one of the others.
local setmetatable, type, tostring, ipairs, pairs, floor = setmetatable, type, tostring, ipairs, pairs, math.floor
local upper, sub, find = string.upper, string.sub, string.find
local remove = table.remove
local random = require "clinch.mock.random"

local _M = {}
local Faults = {}
Faults.__index = Faults

local KINDS = { latency = true, status = true, reset = true, truncate = true, trickle = true, redirect = true,
  churn = true, pagination = true, overload = true }
-- Kinds taken alongside the others (see Faults:take).
local CLASSES = { latency = "latency", churn = "churn", pagination = "pagination", overload = "overload" }
local PAGINATION_MODES = { cycle = true, ignore_page = true, no_totals = true, no_links = true, shuffle = true,
  endless = true }
local REDIRECTS = { [301] = true, [302] = true, [303] = true, [307] = true, [308] = true }

function _M.new()
  return setmetatable({ list = {}, next_id = 0, rngs = setmetatable({}, { __mode = "k" }) }, Faults)
end

local function integer(v)
  if type(v) == "number" and v == v and floor(v) == v then return floor(v) end
  return nil
end

-- A Retry-After value as the fault sends it (text), or nil, message.
local function retry_after_text(ra)
  if type(ra) == "number" then ra = tostring(integer(ra) or ra) end
  if type(ra) ~= "string" then return nil, "retry_after must be a string or a number" end
  return ra
end

-- The fields each kind of fault reads from its description: fills f, or returns a message.
local READ = {}
function READ.latency(f, spec)
  local ms = spec.ms
  if ms == nil and f.kind == "trickle" then ms = 500 end
  if type(ms) ~= "number" or ms < 0 or ms ~= ms then return "ms must be a number of milliseconds" end
  f.ms = ms
end
function READ.trickle(f, spec)
  local why = READ.latency(f, spec)
  if why then return why end
  f.bytes = spec.bytes == nil and 4 or integer(spec.bytes)
  if not f.bytes or f.bytes < 1 then return "bytes must be a positive integer" end
end
function READ.status(f, spec)
  f.status = integer(spec.status)
  if not f.status or f.status < 100 or f.status > 599 then return "status must be an HTTP status code" end
  if spec.retry_after ~= nil then
    local ra, why = retry_after_text(spec.retry_after)
    if not ra then return why end
    f.retry_after = ra
  end
  f.html = spec.html == true
end
function READ.redirect(f, spec)
  if type(spec.location) ~= "string" or spec.location == "" then return "location must be a URL" end
  f.location = spec.location
  f.status = spec.status == nil and 302 or integer(spec.status)
  if not REDIRECTS[f.status] then return "status must be 301, 302, 303, 307 or 308" end
end
function READ.churn(f, spec)
  f.touch = integer(spec.touch)
  if not f.touch or f.touch < 1 then return "touch must be a positive integer" end
  f.seed = spec.seed == nil and 1 or integer(spec.seed)
  if not f.seed then return "seed must be an integer" end
  f.among = spec.among == nil and "all" or spec.among
  if f.among ~= "all" and f.among ~= "filter" and f.among ~= "first" then
    return 'among must be "all", "filter" or "first"'
  end
  f.touched = 0
end
function READ.overload(f, spec)
  f.max = integer(spec.max)
  if not f.max or f.max < 1 then return "max must be a positive integer" end
  local ra, why = retry_after_text(spec.retry_after == nil and 1 or spec.retry_after)
  if not ra then return why end
  f.retry_after = ra
end
function READ.pagination(f, spec)
  local ok = type(spec.mode) == "string" and spec.mode ~= ""
  for m in (ok and spec.mode or ""):gmatch("[^,]+") do ok = ok and PAGINATION_MODES[m] end
  if not ok then
    return "mode must be one or more (comma-separated) of cycle, ignore_page, no_totals, no_links, shuffle, endless"
  end
  f.mode = spec.mode
end

--- Validates a fault description (decoded JSON) and adds it. Returns the fault, or nil and a message.
function Faults:add(spec)
  if type(spec) ~= "table" then return nil, "a fault is a JSON object" end
  local kind = spec.kind
  if not KINDS[kind] then
    return nil, "kind must be one of latency, status, reset, truncate, trickle, redirect, churn, pagination, overload"
  end
  local f = { kind = kind }
  if spec.count == nil or spec.count == -1 then
    f.count = -1
  else
    f.count = integer(spec.count)
    if not f.count or f.count < 1 then return nil, "count must be a positive integer, or -1 for no limit" end
  end
  if spec.path ~= nil then
    if type(spec.path) ~= "string" then return nil, "path must be a string" end
    f.path = spec.path
  end
  if spec.method ~= nil then
    if type(spec.method) ~= "string" then return nil, "method must be a string" end
    f.method = upper(spec.method)
  end
  if spec.query ~= nil then
    if type(spec.query) ~= "string" or spec.query == "" or spec.query:find("&", 1, true) then
      return nil, "query must be one name=value part of a query string"
    end
    f.query = spec.query
  end
  local why = READ[kind] and READ[kind](f, spec)
  if why then return nil, why end
  self.next_id = self.next_id + 1
  f.id = self.next_id
  -- The generator lives beside the fault, not in it: the control API lists faults as JSON.
  if kind == "churn" then self.rngs[f] = random.new(f.seed) end
  self.list[#self.list + 1] = f
  return f
end

--- Removes every fault.
function Faults:clear()
  self.list = {}
end

--- The faults in force, oldest first.
function Faults:all()
  return self.list
end

-- Whether `query` (the raw query string, or nil) holds `part` as one of its &-separated parts.
local function has_part(query, part)
  if not query then return false end
  local from = 1
  while true do
    local s, e = find(query, part, from, true)
    if not s then return false end
    local before, after = sub(query, s - 1, s - 1), sub(query, e + 1, e + 1)
    if (s == 1 or before == "&") and (after == "" or after == "&") then return true end
    from = s + 1
  end
end

local function matches(f, method, path, query)
  return (not f.method or f.method == method) and (not f.path or sub(path, 1, #f.path) == f.path)
    and (not f.query or has_part(query, f.query))
end

local function use(self, f)
  if not f or f.count < 0 then return end
  f.count = f.count - 1
  if f.count == 0 then
    for i, g in ipairs(self.list) do
      if g == f then remove(self.list, i) break end
    end
  end
end

--- The seeded generator of a churn fault.
function Faults:rng(f)
  return self.rngs[f]
end

--- Takes the faults for a request: the first matching fault of each class (latency, churn,
-- pagination, overload, the other kinds); any may be nil. Each one taken uses up one of its count,
-- but an overload only when it refuses the request (`in_flight`: requests being answered now).
-- `query` is the request's raw query string (or nil). Returns latency, other, churn, pagination, and
-- the overload fault when it refuses this request.
function Faults:take(method, path, in_flight, query)
  local first = {}
  for _, f in ipairs(self.list) do
    if matches(f, method, path, query) then
      local class = CLASSES[f.kind] or "other"
      first[class] = first[class] or f
    end
  end
  local overload = first.overload
  if overload and (in_flight or 0) < overload.max then overload = nil end
  first.overload = overload
  for _, f in pairs(first) do use(self, f) end
  return first.latency, first.other, first.churn, first.pagination, overload
end

return _M
