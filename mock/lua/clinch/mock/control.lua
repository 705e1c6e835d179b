--- The mock's unsigned control API under /__mock/ (plain JSON, never subject to faults):
--   GET    /__mock/stats     -> {"connections": n, "open": n, "requests": n}
--   GET    /__mock/faults    -> {"faults": [...]}
--   POST   /__mock/faults    body {"kind": ..., ...} -> {"fault": {...}}
--   DELETE /__mock/faults    -> {"faults": []}
--   GET    /__mock/requests  -> {"requests": [{"method", "uri", "headers", "body", "status", ...}]}
--   DELETE /__mock/requests  -> {"requests": []}
--   POST   /__mock/reset     -> re-seeds the store and clears faults, the request log and the stats
--   GET    /__mock/candidates -> {"candidates": [{"id", "updated_at": epoch}, ...]}: the store itself,
--                               in creation order (what exists, for a test to check a client against)
--   POST   /__mock/touch     body {"count": N, "seed": S, "at": epoch} -> {"touched": [ids]}: sets the
--                               updated_at of N random candidates (seeded; or of those named by "ids")
--                               to `at` (default now), e.g. to pack many into one second
-- Faults of kind "churn" keep candidates changing while a client reads (see clinch.mock.faults).
local json = require "clinch.mock.json"
local random = require "clinch.mock.random"

local ipairs, pairs, type, floor, tostring = ipairs, pairs, type, math.floor, tostring

local _M = {}

local function reply(status, value)
  return { status = status, headers = { { "Content-Type", "application/json" } }, body = json.encode(value) }
end

local function fault_view(f)
  local v = {}
  for k, x in pairs(f) do v[k] = x end
  return v
end

local function faults_doc(mock)
  local list = {}
  for i, f in ipairs(mock.faults:all()) do list[i] = fault_view(f) end
  return { faults = json.array(list) }
end

local HANDLERS = {
  stats = {
    GET = function(mock) return reply(200, mock:stats()) end,
  },
  faults = {
    GET = function(mock) return reply(200, faults_doc(mock)) end,
    POST = function(mock, req)
      local spec, why = json.decode(req.body)
      if spec == nil then return reply(400, { error = "the body is not JSON: " .. why }) end
      local fault, problem = mock.faults:add(spec)
      if not fault then return reply(400, { error = problem }) end
      return reply(200, { fault = fault_view(fault) })
    end,
    DELETE = function(mock)
      mock.faults:clear()
      return reply(200, faults_doc(mock))
    end,
  },
  requests = {
    GET = function(mock) return reply(200, { requests = json.array(mock.journal) }) end,
    DELETE = function(mock)
      mock.journal = {}
      return reply(200, { requests = json.empty_array })
    end,
  },
  candidates = {
    GET = function(mock)
      local list = {}
      for i, c in ipairs(mock.store.candidates) do list[i] = { id = c.id, updated_at = c.updated } end
      return reply(200, { candidates = json.array(list) })
    end,
  },
  touch = {
    POST = function(mock, req)
      local spec, why = json.decode(req.body)
      if type(spec) ~= "table" then
        return reply(400, { error = "the body is not a JSON object: " .. tostring(why) })
      end
      local count, seed, at = spec.count, spec.seed or 1, spec.at
      local function int(v) return type(v) == "number" and v == floor(v) end
      if at ~= nil and not int(at) then return reply(400, { error = "at must be an epoch in whole seconds" }) end
      local pool
      if spec.ids ~= nil then
        if type(spec.ids) ~= "table" then return reply(400, { error = "ids must be a list of candidate ids" }) end
        pool = {}
        for i, id in ipairs(spec.ids) do
          pool[i] = mock.store:get(id)
          if not pool[i] then return reply(400, { error = "no candidate " .. tostring(id) }) end
        end
        count = count or #pool
      end
      if not int(count) or count < 1 then return reply(400, { error = "count must be a positive integer" }) end
      if not int(seed) then return reply(400, { error = "seed must be an integer" }) end
      local ids = {}
      for i, c in ipairs(mock:touch(count, random.new(seed), pool, at)) do ids[i] = c.id end
      return reply(200, { touched = json.array(ids) })
    end,
  },
  reset = {
    POST = function(mock)
      mock:reset()
      return reply(200, { reset = true })
    end,
  },
}

--- Handles a request whose path starts with /__mock/.
function _M.handle(mock, req)
  local name = req.path:match("^/__mock/([%w_]+)/?$")
  local methods = name and HANDLERS[name]
  if not methods then return reply(404, { error = "no control endpoint " .. req.path }) end
  local fn = methods[req.method]
  if not fn then
    local allow = {}
    for m in pairs(methods) do allow[#allow + 1] = m end
    table.sort(allow)
    local res = reply(405, { error = req.method .. " is not allowed on " .. req.path })
    res.headers[#res.headers + 1] = { "Allow", table.concat(allow, ", ") }
    return res
  end
  return fn(mock, req)
end

return _M
