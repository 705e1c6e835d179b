--- Injected faults for the mock's /v1 requests, set through the control API or flags. A fault applies to
-- the next `count` matching requests (count -1: until cleared), optionally only to a method and to paths
-- with a given prefix. Kinds: latency, status, reset, truncate, trickle, redirect.
local setmetatable, type, tostring, ipairs, floor = setmetatable, type, tostring, ipairs, math.floor
local upper, sub = string.upper, string.sub
local remove = table.remove

local _M = {}
local Faults = {}
Faults.__index = Faults

local KINDS = { latency = true, status = true, reset = true, truncate = true, trickle = true, redirect = true }
local REDIRECTS = { [301] = true, [302] = true, [303] = true, [307] = true, [308] = true }

function _M.new()
  return setmetatable({ list = {}, next_id = 0 }, Faults)
end

local function integer(v)
  if type(v) == "number" and v == v and floor(v) == v then return floor(v) end
  return nil
end

--- Validates a fault description (decoded JSON) and adds it. Returns the fault, or nil and a message.
function Faults:add(spec)
  if type(spec) ~= "table" then return nil, "a fault is a JSON object" end
  local kind = spec.kind
  if not KINDS[kind] then
    return nil, "kind must be one of latency, status, reset, truncate, trickle, redirect"
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
  if kind == "latency" or kind == "trickle" then
    local ms = spec.ms
    if ms == nil and kind == "trickle" then ms = 500 end
    if type(ms) ~= "number" or ms < 0 or ms ~= ms then return nil, "ms must be a number of milliseconds" end
    f.ms = ms
  end
  if kind == "trickle" then
    f.bytes = spec.bytes == nil and 4 or integer(spec.bytes)
    if not f.bytes or f.bytes < 1 then return nil, "bytes must be a positive integer" end
  end
  if kind == "status" then
    f.status = integer(spec.status)
    if not f.status or f.status < 100 or f.status > 599 then return nil, "status must be an HTTP status code" end
    if spec.retry_after ~= nil then
      local ra = spec.retry_after
      if type(ra) == "number" then ra = integer(ra) and tostring(integer(ra)) or tostring(ra) end
      if type(ra) ~= "string" then return nil, "retry_after must be a string or a number" end
      f.retry_after = ra
    end
    f.html = spec.html == true
  end
  if kind == "redirect" then
    if type(spec.location) ~= "string" or spec.location == "" then return nil, "location must be a URL" end
    f.location = spec.location
    f.status = spec.status == nil and 302 or integer(spec.status)
    if not REDIRECTS[f.status] then return nil, "status must be 301, 302, 303, 307 or 308" end
  end
  self.next_id = self.next_id + 1
  f.id = self.next_id
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

local function matches(f, method, path)
  return (not f.method or f.method == method) and (not f.path or sub(path, 1, #f.path) == f.path)
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

--- Takes the faults for a request: the first matching latency fault and the first matching fault of
-- another kind (either may be nil). Each one taken uses up one of its count.
function Faults:take(method, path)
  local latency, other
  for _, f in ipairs(self.list) do
    if matches(f, method, path) then
      if f.kind == "latency" then
        latency = latency or f
      else
        other = other or f
      end
    end
  end
  use(self, latency)
  use(self, other)
  return latency, other
end

return _M
