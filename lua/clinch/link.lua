--- The JSON:API linker in Lua: `link.decode(text [, raw_map])`, the same function as the C core's
-- `core.decode` (csrc/decode.c says what it does; this file does exactly that, message for message),
-- written for LuaJIT's compiler. On LuaJIT the C linker pays the Lua C API for every value it visits,
-- which costs more than the compiled Lua below, which reaches cjson's tables directly: on the bench
-- page core.decode takes 1.0-1.2x the time of this (bench/decode.lua), so clinch.jsonapi uses it there;
-- with its checks, messages and raw map it costs what the unchecked linker of bench/lua_linker.lua does
-- (both are bound by visiting every value: next() over each object is most of the time). On PUC Lua
-- the C core is the faster. spec/decode_paths_spec.lua proves that both give the same documents, the
-- same sharing, the same raw map entries and the same errors.
--
-- Written for the compiler: no closures per call, no string patterns or string building outside the
-- error paths, pairs-free (next, t) loops that LuaJIT compiles, and the per-document state in upvalues
-- of this file rather than a context table. The walk over a document's values is a recursion, which
-- measured faster than a loop over an explicit stack. decode saves and restores that state, so that
-- a finalizer that decodes while a decode allocates cannot disturb it.
local core = require "clinch.core"

local type, next, tostring, setmetatable, pcall, error = type, next, tostring, setmetatable, pcall, error
local floor = math.floor
local format, find, sub, byte = string.format, string.find, string.sub, string.byte
local tointeger, math_type = math.tointeger, math.type -- nil on LuaJIT: numbers stay numbers

local new_tab = require("clinch.tables").new
local MAX_DEPTH = 128       -- as DECODE_MAX_DEPTH
local TWO53 = 9007199254740992.0
local DateTime = core.DateTime
local UNAVAILABLE = "lua-cjson not available"
local NESTING = "document: nesting too deep"

-- A private cjson.safe instance configured as the C core's (decode_push_cjson).
local parse, null
do
  local ok, cjson = pcall(require, "cjson.safe")
  if ok and type(cjson) == "table" and type(cjson.new) == "function" then
    local made, inst = pcall(cjson.new)
    if made and type(inst) == "table" then
      local good = true
      if type(inst.decode_max_depth) == "function" then good = pcall(inst.decode_max_depth, MAX_DEPTH) end
      if good and type(inst.decode_invalid_numbers) == "function" then
        good = pcall(inst.decode_invalid_numbers, false)
      end
      if good and type(inst.decode) == "function" then parse, null = inst.decode, cjson.null end
    end
  end
end

-- The state of the document being linked (see the header): the identity map type -> id -> table (nil
-- while there was one type), the last type looked up and its id map, the set of stubs and the set of
-- resources given more than once (each nil until it has one), the text (what the raw map points
-- resources at) and the raw map (nil without raw_map).
local types, last_type, last_byid, stubs, repeats, src, rawmap

-- JSON kind of v, for messages (decode_json_kind).
local function kind(v)
  if v == nil then return "nothing" end
  if v == null then return "null" end
  local tv = type(v)
  if tv == "table" then return v[1] ~= nil and "array" or "object" end
  if tv == "userdata" then return "null" end -- any light userdata is null to the C core
  return tv
end

-- A name as the C core's "%s" prints it: up to its first zero byte.
local function cstr(s)
  local z = find(s, "\0", 1, true)
  return z and sub(s, 1, z - 1) or s
end

-- "<where>" of a problem (decode_push_where): base[index].relationships.rel.data[rel_index].member;
-- index 0 is none, rel_data 0 the relationship, 1 its data, 2 data[rel_index].
local function where(base, index, rel, rel_data, rel_index, member)
  local s = base
  if index > 0 then s = s .. "[" .. index .. "]" end
  if rel then
    s = s .. ".relationships." .. cstr(rel)
    if rel_data >= 1 then s = s .. ".data" end
    if rel_data == 2 then s = s .. "[" .. rel_index .. "]" end
  end
  if member then s = s .. "." .. member end
  return s
end

-- Cleans table t and everything in it, in place (decode_walk_table): JSON null removed from objects,
-- dropped from arrays (compacted), integral floats made integers on 5.3+, DateTime objects given their
-- metatable (never a root). depth is t's level. Returns true when the nesting is too deep. A recursion
-- (which the compiler follows) rather than a loop over an explicit stack: measured faster.
local walk

local function walk_array(t, depth)
  local n, j = #t, 0
  for i = 1, n do
    local v = t[i]
    if v ~= null then
      j = j + 1
      local tv = type(v)
      if tv == "table" then
        if walk(v, depth + 1, false) then return true end
        if j ~= i then t[j] = v end
      elseif tointeger and tv == "number" and math_type(v) == "float" and v == floor(v)
        and v > -TWO53 and v < TWO53 then
        t[j] = tointeger(v)
      elseif j ~= i then
        t[j] = v
      end
    end
  end
  for i = j + 1, n do t[i] = nil end
end
function walk(t, depth, root)
  if depth > MAX_DEPTH then return true end
  if t[1] ~= nil then return walk_array(t, depth) end
  local has_epoch = false
  for k, v in next, t do
    if v == null then
      t[k] = nil
    else
      local tv = type(v)
      if tv == "table" then
        if walk(v, depth + 1, false) then return true end
      elseif tv == "number" then
        if tointeger and math_type(v) == "float" and v == floor(v) and v > -TWO53 and v < TWO53 then
          t[k] = tointeger(v)
        end
        if k == "epoch" then has_epoch = true end
      end
    end
  end
  if has_epoch and not root and type(t.utc) == "string" then setmetatable(t, DateTime) end
end
-- Cleans table t, a root (an attributes object or a top-level member) at level depth, and everything in
-- it. Returns nil, or the message of a nesting too deep.
local function clean(t, depth)
  if walk(t, depth, true) then return NESTING end
  return nil
end

-- The message for a type that is not a string (decode_push_type); what is "resource" or "resource
-- identifier".
local function type_problem(ty, what)
  if ty == nil or ty == null then return what .. " has no type" end
  return what .. " type must be a string, got " .. kind(ty)
end

-- An id that is not a string (decode_push_id): its decimal string when it is an integral number below
-- 2^53, else nil and the message.
local function other_id(id, what)
  if type(id) == "number" then
    if id ~= floor(id) then -- NaN too
      return nil, format("numeric %s id %s is not an integer, so its text cannot be known exactly; "
        .. "the API sends ids as strings", what, tostring(id + 0.0))
    end
    if id >= TWO53 or id <= -TWO53 then
      return nil, format("numeric %s id %s is beyond 2^53 and cannot be kept exactly; the API sends "
        .. "ids as strings", what, tostring(id + 0.0))
    end
    return format("%.0f", id)
  end
  if id == nil or id == null then return nil, what .. " has no id" end
  return nil, what .. " id must be a string, got " .. kind(id)
end

-- The id map of type ty (decode_push_byid), created when new; called for a type other than the last.
-- The map of types is made when a second type comes: until then the first one's map is last_byid.
local function byid_of(ty)
  local byid
  if types then
    byid = types[ty]
  elseif last_type ~= nil then
    types = { [last_type] = last_byid }
  end
  if not byid then
    byid = {}
    if types then types[ty] = byid end
  end
  last_type, last_byid = ty, byid
  return byid
end

-- The table registered earlier for this type+id in byid, or nil (decode_find_registered): a stub
-- becomes the resource; a resource given before is marked repeated. Returns found, repeated.
local function registered(byid, id)
  local found = byid[id]
  if found == nil then return nil, false end
  if stubs and stubs[found] then
    stubs[found] = nil
    return found, false
  end
  if not repeats then repeats = {} end
  repeats[found] = true
  return found, true
end

-- The cleaned attributes table of resource object r (decode_push_attributes), or nil and a message.
local function attributes_of(r, base, index, found, repeated)
  local a = r.attributes
  if type(a) == "table" then
    if a[1] ~= nil then return nil, where(base, index, nil, 0, 0, "attributes") .. ": expected object, got array" end
    if repeated then -- this copy's nulls remove what earlier copies said
      for k, v in next, a do
        if v == null then found[k] = nil end
      end
    end
    local problem = clean(a, 4)
    if problem then return nil, problem end
  elseif a == nil or a == null then
    a = {}
    r.attributes = a
  else
    return nil, where(base, index, nil, 0, 0, "attributes") .. ": expected object, got " .. kind(a)
  end
  return a
end

-- Registers resource object r (decode_register_resource): returns its resource table and whether it is
-- new (false when it repeats an earlier type+id), or nil and a message.
local function register(r, base, index)
  if type(r) ~= "table" then
    return nil, where(base, index, nil, 0, 0, nil) .. ": expected resource object, got " .. kind(r)
  end
  local ty, id = r.type, r.id
  if type(ty) ~= "string" then
    return nil, where(base, index, nil, 0, 0, nil) .. ": " .. type_problem(ty, "resource")
  end
  if type(id) ~= "string" then
    local problem
    id, problem = other_id(id, "resource")
    if not id then return nil, where(base, index, nil, 0, 0, nil) .. ": " .. problem end
  end
  local byid = last_byid
  if ty ~= last_type then byid = byid_of(ty) end
  local found, repeated = registered(byid, id)
  local a, problem = attributes_of(r, base, index, found, repeated)
  if not a then return nil, problem end
  if found then -- the attributes move into the earlier table, which others already point at
    for k, v in next, a do found[k] = v end
    r.attributes = found
    a = found
  end
  a.id, a.type = id, ty
  byid[id] = a
  if src then rawmap[a] = src end
  return a, not repeated
end

-- The resource table (or shared stub) of resource identifier d (decode_resolve), or nil and a message
-- without its "<where>: ".
local function resolve(d)
  if type(d) ~= "table" then return nil, "expected resource identifier object, got " .. kind(d) end
  local ty, id = d.type, d.id
  if type(ty) ~= "string" then return nil, type_problem(ty, "resource identifier") end
  if type(id) ~= "string" then
    local problem
    id, problem = other_id(id, "resource identifier")
    if not id then return nil, problem end
  end
  local byid = last_byid
  if ty ~= last_type then byid = byid_of(ty) end
  local res = byid[id]
  if res == nil then -- not in the document: a stub, registered so that it is shared
    res = { id = id, type = ty }
    byid[id] = res
    if not stubs then stubs = {} end -- (made on the first stub: most documents have none)
    stubs[res] = true
  end
  return res
end

-- Sets the relationship `name` of resource table res from relationship object rel. Returns nil or a
-- message.
local function link_one(res, name, rel, base, index)
  if type(rel) ~= "table" or rel[1] ~= nil then
    return where(base, index, name, 0, 0, nil) .. ": expected object, got " .. kind(rel)
  end
  local d = rel.data
  if d == nil then return nil end -- links/meta only: the field stays absent
  if d == null then
    res[name] = nil
  elseif type(d) == "table" then
    if d[1] ~= nil or next(d) == nil then -- to-many: identifiers replaced by their tables in place
      for i = 1, #d do
        local x, problem = resolve(d[i])
        if not x then return where(base, index, name, 2, i, nil) .. ": " .. problem end
        d[i] = x
      end
      res[name] = d
    else
      local x, problem = resolve(d)
      if not x then return where(base, index, name, 1, 0, nil) .. ": " .. problem end
      res[name] = x
    end
  else
    return where(base, index, name, 1, 0, nil) .. ": expected object, array or null, got " .. kind(d)
  end
  return nil
end

-- Sets the relationships of registered resource object r as fields of its resource table
-- (decode_link_resource). Returns nil or a message.
local function link(r, base, index)
  local rels = r.relationships
  if rels == nil or rels == null then return nil end
  if type(rels) ~= "table" or rels[1] ~= nil then
    return where(base, index, nil, 0, 0, "relationships") .. ": expected object, got " .. kind(rels)
  end
  local res = r.attributes
  for name, rel in next, rels do
    if name ~= "id" and name ~= "type" then -- id and type win over everything
      local problem = link_one(res, name, rel, base, index)
      if problem then return problem end
    end
  end
  return nil
end

-- True when t (a table) is a JSON array as cjson makes them; an empty table counts as one.
local function is_array(t)
  return t[1] ~= nil or next(t) == nil
end

-- Registers `included` (decode_register_included): the array of its fresh resources, or nil and a message.
local function register_included(inc)
  local out, m = {}, 0
  for i = 1, #inc do
    local res, fresh = register(inc[i], "included", i)
    if not res then return nil, fresh end
    if fresh then
      m = m + 1
      out[m] = res
    end
  end
  return out
end

-- Registers and links the primary data (decode_link_data): what doc.data becomes (nil for null or
-- absent), or nil and a message as second value.
local function link_data(data)
  if data == nil or data == null then return nil end
  if type(data) ~= "table" then
    return nil, "data: expected object, array or null, got " .. kind(data)
  end
  if is_array(data) then
    local out = {}
    for i = 1, #data do
      local r = data[i]
      local res, problem = register(r, "data", i)
      if not res then return nil, problem end
      problem = link(r, "data", i)
      if problem then return nil, problem end
      out[i] = res
    end
    return out
  end
  local res, problem = register(data, "data", 0)
  if not res then return nil, problem end
  problem = link(data, "data", 0)
  if problem then return nil, problem end
  return res
end

-- Links again, in registration order, every copy of a resource given more than once
-- (decode_link_repeats). list is included or data (an array, or one resource). Returns nil or a message.
local function link_repeats(list, base)
  if not is_array(list) then
    if repeats[list.attributes] then return link(list, base, 0) end
    return nil
  end
  for i = 1, #list do
    local r = list[i]
    if repeats[r.attributes] then
      local problem = link(r, base, i)
      if problem then return problem end
    end
  end
  return nil
end

-- Sets a cleaned top-level member (meta, links, jsonapi) in doc (decode_top_member); null and absent
-- stay nil. Returns nil or a message.
local function top_member(root, doc, name)
  local v = root[name]
  if type(v) == "table" then
    local problem = clean(v, 2)
    if problem then return problem end
  elseif v == null then
    return nil
  end
  doc[name] = v
  return nil
end

-- Sets doc.errors, doc.meta, doc.links and doc.jsonapi (decode_other_members). Returns nil or a message.
local function other_members(root, doc)
  local e = root.errors
  if type(e) == "table" and is_array(e) then
    local problem = clean(e, 2)
    if problem then return problem end
    doc.errors = e
  elseif e ~= nil and e ~= null then
    return "errors: expected array, got " .. kind(e)
  end
  return top_member(root, doc, "meta") or top_member(root, doc, "links") or top_member(root, doc, "jsonapi")
end

-- Links the cjson tree root into a new document (decode_link_document): the document, or nil and a
-- message.
local function link_document(root)
  if type(root) ~= "table" or root[1] ~= nil then return nil, "top level: expected object, got " .. kind(root) end
  local doc = new_tab(0, 4) -- data, included and a top-level member or two
  local data, inc = root.data, root.included
  if type(inc) == "table" and is_array(inc) then -- luacheck: ignore 542
  elseif inc ~= nil and inc ~= null then
    return nil, "included: expected array, got " .. kind(inc)
  else
    inc = nil
  end
  -- included first, so that primary data is linked as it is registered (see csrc/decode.c)
  local out_inc, out_data, problem
  if inc then
    out_inc, problem = register_included(inc)
    if not out_inc then return nil, problem end
  end
  out_data, problem = link_data(data)
  if problem then return nil, problem end
  if inc then
    for i = 1, #inc do
      problem = link(inc[i], "included", i)
      if problem then return nil, problem end
    end
  end
  if repeats then
    problem = (inc and link_repeats(inc, "included")) or (type(data) == "table" and link_repeats(data, "data"))
    if problem then return nil, problem end
  end
  doc.data, doc.included = out_data, out_inc
  problem = other_members(root, doc)
  if problem then return nil, problem end
  return doc
end

-- True when text's first byte after cjson's whitespace is '{' (decode_text_is_object).
local function text_is_object(text)
  if byte(text, 1) == 123 then return true end
  return find(text, "^[ \t\n\r]*{") ~= nil
end

local _M = {}

--- Decodes and links a JSON:API document, as core.decode: the document, or nil, a message and the kind
-- ("decode" for a text that is not the document, "unsupported" without lua-cjson). With raw_map,
-- raw_map[resource] = text for every resource (not stubs).
function _M.decode(text, raw_map)
  if type(text) == "number" then text = tostring(text) end -- as luaL_checkstring
  if type(text) ~= "string" then error("bad argument #1 to 'decode' (string expected, got " .. type(text) .. ")", 2) end
  if raw_map ~= nil and type(raw_map) ~= "table" then
    error("bad argument #2 to 'decode' (table expected, got " .. type(raw_map) .. ")", 2)
  end
  if not parse then return nil, UNAVAILABLE, "unsupported" end
  -- cjson.safe answers nil and a message for any text: only running out of memory raises, as any
  -- allocation may. So no pcall (on LuaJIT it cost 2k instructions a decode of a small document).
  local root, msg = parse(text)
  if root == nil then
    msg = type(msg) == "string" and msg or "parser failed"
    if sub(msg, 1, 21) == "Found too many nested" then
      return nil, format("document: nesting deeper than %d levels (%s)", MAX_DEPTH, msg), "decode"
    end
    return nil, "not JSON: " .. msg, "decode"
  end
  if type(root) == "table" and not text_is_object(text) then
    return nil, "top level: expected object, got array", "decode" -- cjson makes [] and {} alike
  end
  local s1, s2, s3, s4, s5, s6, s7 = types, last_type, last_byid, stubs, repeats, src, rawmap
  types, last_type, last_byid, stubs, repeats, src, rawmap = nil, nil, nil, nil, nil, nil, nil
  if raw_map then src, rawmap = text, raw_map end
  local doc, problem = link_document(root)
  types, last_type, last_byid, stubs, repeats, src, rawmap = s1, s2, s3, s4, s5, s6, s7 -- luacheck: ignore 331
  if doc then return doc end
  return nil, problem, "decode"
end

return _M
