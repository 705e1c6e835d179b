--- The resource registry: one table maps each registered resource's JSON:API `type` (and its
-- collection name and path) to its definition, a file of lua/clinch/resources/ (see resource.define).
-- From it come the client's collections (client.candidates, client.jobs, ...: client.lua names none of
-- them), the wrapping of every resource of a response in its class (related ones too, so that
-- cand.jobs[1] is a Job object with :reload() and tostring), and the CLI's `NAME list` and `NAME get`
-- commands with their columns and array attributes.
--
-- Adding a resource is one file in lua/clinch/resources/ and one line in RESOURCES below.
local type, ipairs, require, rawget, rawset, getmetatable, setmetatable, next =
  type, ipairs, require, rawget, rawset, getmetatable, setmetatable, next
local sort = table.sort

local _M = {}

--- The registered resources, in the order the CLI lists them: one line each, the module of its file.
local RESOURCES = {
  "clinch.resources.candidates",
  "clinch.resources.jobs",
  "clinch.resources.lists",
}

local defs, by_name, by_type -- loaded on first use

local function load()
  if defs then return end
  local list, names, types = {}, {}, {}
  for i, module in ipairs(RESOURCES) do
    local def = require(module)
    if names[def.name] or types[def.type] then
      require("clinch.check").raise("clinch.registry: " .. module .. " registers " .. def.name .. " ("
        .. def.type .. ") a second time")
    end
    list[i], names[def.name], types[def.type] = def, def, def
  end
  defs, by_name, by_type = list, names, types
end

--- Every registered definition, in registration order.
function _M.list()
  load()
  return defs
end

--- The definition registered under a collection name ("jobs"), or nil.
function _M.get(name)
  load()
  return by_name[name]
end

--- The definition registered for a JSON:API type ("company_lists"), or nil.
function _M.of_type(t)
  load()
  return by_type[t]
end

--- The collection `name` of a client when it is registered (made on first use and kept as a field of
-- the client), or nil.
function _M.collection(client, name)
  local coll = rawget(client, name)
  if coll ~= nil then return coll end
  load()
  local def = by_name[name]
  if not def then return nil end
  coll = require("clinch.resource").instance(def, client)
  rawset(client, name, coll)
  return coll
end

--- client:resource(name, opts): the registered collection for a registered name (without opts), else
-- a plain collection for the path "/" .. name.
function _M.resource(client, name, opts)
  if opts == nil then
    local coll = _M.collection(client, name)
    if coll then return coll end
  end
  return require("clinch.resource").new(client, "/" .. name, opts)
end

-- A linkage stub: { id =, type = } and nothing else (a resource the document does not hold).
local function is_stub(t)
  if type(t.id) ~= "string" or type(t.type) ~= "string" then return false end
  for k in next, t do
    if k ~= "id" and k ~= "type" then return false end
  end
  return true
end

-- The object metatable of registered type `t` for `client` (its collection's), or false; kept on the
-- client, so that wrapping a response looks each type up once per client.
local function object_mt(client, t)
  local cache = rawget(client, "_object_mts")
  if not cache then
    cache = {}
    rawset(client, "_object_mts", cache)
  end
  local mt = cache[t]
  if mt == nil then
    local def = by_type[t]
    mt = def and _M.collection(client, def.name)._object or false
    cache[t] = mt
  end
  return mt
end

local function wrap_one(client, r)
  local t = r.type
  if type(t) ~= "string" or getmetatable(r) ~= nil then return end
  local mt = object_mt(client, t)
  if mt then setmetatable(r, mt) end
end

-- Wraps resource r and the linkage stubs its relationships hold (resources the document does not
-- hold, reached only through relationships).
local function wrap_resource(client, r)
  if type(r) ~= "table" then return end
  wrap_one(client, r)
  for _, v in next, r do
    if type(v) == "table" and getmetatable(v) == nil then
      if is_stub(v) then
        wrap_one(client, v)
      elseif type(v[1]) == "table" then
        for _, x in ipairs(v) do
          if type(x) == "table" and getmetatable(x) == nil and is_stub(x) then wrap_one(client, x) end
        end
      end
    end
  end
end

--- Wraps every resource of a decoded document of `client` in the class of its type when the type is
-- registered: primary data, included resources and the linkage stubs their relationships hold.
-- A table that already has a metatable keeps it. Returns the document. (The Lua walk; see _M.wrap.)
function _M.wrap_lua(doc, client)
  if type(doc) ~= "table" then return doc end
  load()
  local data = doc.data
  if type(data) == "table" then
    if data.id ~= nil or data.type ~= nil then
      wrap_resource(client, data)
    else
      for _, r in ipairs(data) do wrap_resource(client, r) end
    end
  end
  local included = doc.included
  if type(included) == "table" then
    for _, r in ipairs(included) do wrap_resource(client, r) end
  end
  return doc
end

-- type -> object metatable (false when it has none) of every registered type, for `client`: what
-- object_mt answers, looked up once, for core.set_classes.
local function class_map(client)
  local map = rawget(client, "_class_map")
  if not map then
    load()
    map = {}
    for _, def in ipairs(defs) do map[def.type] = object_mt(client, def.type) end
    rawset(client, "_class_map", map)
  end
  return map
end

--- Wraps every resource of a decoded document of `client` in the class of its type, as wrap_lua
-- does. On PUC Lua the C core's twin of that walk (core.set_classes) does it: there each step of the
-- Lua loop is a call of next, type or getmetatable, and the walk costs as much as a tenth of a
-- request. LuaJIT compiles the Lua loop and keeps it. spec/registry_wrap_spec.lua compares the two.
_M.wrap = _M.wrap_lua
if type(rawget(_G, "jit")) ~= "table" then
  local set_classes = require("clinch.core").set_classes
  _M.wrap = function(doc, client)
    return set_classes(doc, class_map(client)) -- (it gives back what is not a table as it is)
  end
end

--- Makes every registered collection a field of `client` (client.candidates, ...).
function _M.attach(client)
  load()
  for _, def in ipairs(defs) do _M.collection(client, def.name) end
end

--- The definition whose class `v` is an object of, or nil.
function _M.class_of(v)
  local mt = getmetatable(v)
  local def = type(mt) == "table" and rawget(mt, "def")
  return def and def.is(v) and def or nil
end

-- The contract schema of resources of type `t`, or nil.
local function schema_of(t)
  local def = _M.of_type(t)
  return def and def.schema and require("clinch.contract").schemas[def.schema] or nil
end

--- The array attributes the contract gives resources of type `t` (a sorted list; nil when it describes
-- none).
function _M.arrays(t)
  local schema = schema_of(t)
  return schema and schema.arrays or nil
end

local attribute_lists, relationship_sets = {}, {}

--- The attribute names the contract gives resources of type `t` (a sorted list), or nil.
function _M.attributes(t)
  local list = attribute_lists[t]
  if list == nil then
    local schema = schema_of(t)
    list = false
    if schema then
      list = {}
      for name in next, schema.attributes do list[#list + 1] = name end
      sort(list)
    end
    attribute_lists[t] = list
  end
  return list or nil
end

--- The relationship names the contract gives resources of type `t`, as a set (name -> true), or nil.
function _M.relationships(t)
  local set = relationship_sets[t]
  if set == nil then
    local schema = schema_of(t)
    set = false
    if schema then
      set = {}
      for name in next, schema.relationships do set[name] = true end
    end
    relationship_sets[t] = set
  end
  return set or nil
end

--- The default CLI columns of resources of type `t`, or nil.
function _M.columns(t)
  local def = _M.of_type(t)
  return def and def.columns or nil
end

return _M
