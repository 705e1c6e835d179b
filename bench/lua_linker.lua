--- The baseline for the decode benchmark: lua-cjson plus a straightforward pure-Lua JSON:API linker,
-- written the way a competent Lua developer would, producing the same shape as `core.decode`:
-- resources as tables with id, type, attributes and relationships as fields, an identity map keyed by
-- type and id, stubs for linkage outside the document, nulls removed, integral numbers as integers on
-- 5.3+ and DateTime objects with a metatable. Like the C linker it works in place on cjson's tables
-- rather than copying them, so the comparison measures the linking, not a different design.
-- Validation is minimal (errors raise); the benchmark only feeds it a valid page.
local cjson = require "cjson"

local pairs, next, type, setmetatable = pairs, next, type, setmetatable
local tointeger = math.tointeger -- nil before 5.3: numbers stay numbers
local math_type = math.type

local null = cjson.null
local decode = cjson.new().decode

local _M = {}

local DateTime = {
  __tostring = function(d) return d.utc end,
  __eq = function(a, b) return a.epoch == b.epoch end,
  __lt = function(a, b) return a.epoch < b.epoch end,
  __le = function(a, b) return a.epoch <= b.epoch end,
}

local clean

-- Arrays: nulls dropped, the rest compacted; objects: nulls removed.
local function clean_array(t, n)
  local j = 0
  for i = 1, n do
    local v = t[i]
    if v ~= null then
      j = j + 1
      if type(v) == "table" then
        clean(v, false)
      elseif tointeger and math_type(v) == "float" then
        v = tointeger(v) or v
      end
      t[j] = v
    end
  end
  for i = j + 1, n do t[i] = nil end
end

function clean(t, root)
  local n = #t
  if n > 0 then return clean_array(t, n) end
  for k, v in pairs(t) do
    local tv = type(v)
    if v == null then
      t[k] = nil
    elseif tv == "table" then
      clean(v, false)
    elseif tointeger and tv == "number" and math_type(v) == "float" then
      local i = tointeger(v)
      if i then t[k] = i end
    end
  end
  if not root and type(t.utc) == "string" and type(t.epoch) == "number" then
    setmetatable(t, DateTime)
  end
end

--- Decodes and links a JSON:API document; returns { data =, included =, meta =, links = }.
function _M.decode(text)
  local doc = decode(text)
  local map = {}

  local function register(r)
    local id, ty = r.id, r.type
    local byid = map[ty]
    if not byid then byid = {}; map[ty] = byid end
    local res = byid[id]
    if res then return res, false end
    res = r.attributes
    if res == nil or res == null then res = {} else clean(res, true) end
    res.id, res.type = id, ty
    byid[id] = res
    return res, true
  end

  local function lookup(ident)
    local id, ty = ident.id, ident.type
    local byid = map[ty]
    if not byid then byid = {}; map[ty] = byid end
    local res = byid[id]
    if not res then
      res = { id = id, type = ty }
      byid[id] = res
    end
    return res
  end

  local function link(r, res)
    local rels = r.relationships
    if type(rels) ~= "table" then return end
    for name, rel in pairs(rels) do
      local data = rel.data
      if data == null then
        res[name] = nil
      elseif data ~= nil then
        if data[1] ~= nil or next(data) == nil then
          for i = 1, #data do data[i] = lookup(data[i]) end
          res[name] = data
        else
          res[name] = lookup(data)
        end
      end
    end
  end

  local out = { meta = doc.meta, links = doc.links }
  if type(out.meta) == "table" then clean(out.meta, true) end
  if type(out.links) == "table" then clean(out.links, true) end

  local data, pending = doc.data, {}
  local included = doc.included
  if type(data) == "table" and data[1] == nil and next(data) ~= nil then
    local res = register(data)
    pending[#pending + 1] = data
    pending[#pending + 1] = res
    out.data = res
  elseif type(data) == "table" then
    local list = {}
    for i = 1, #data do
      local res = register(data[i])
      list[i] = res
      pending[#pending + 1] = data[i]
      pending[#pending + 1] = res
    end
    out.data = list
  end
  if type(included) == "table" then
    local list = {}
    for i = 1, #included do
      local res, fresh = register(included[i])
      if fresh then
        list[#list + 1] = res
        pending[#pending + 1] = included[i]
        pending[#pending + 1] = res
      end
    end
    out.included = list
  end
  for i = 1, #pending, 2 do link(pending[i], pending[i + 1]) end
  return out
end

return _M
