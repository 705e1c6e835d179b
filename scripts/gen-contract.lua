#!/usr/bin/env lua5.4
--- Generates lua/clinch/contract.lua, the API contract as plain Lua data, from the OpenAPI seed
-- (api/recruitment-marketing-openapi.json), so that the library never parses JSON at load time and
-- nothing the contract says is copied by hand.
--
--   lua5.4 scripts/gen-contract.lua            -- rewrites lua/clinch/contract.lua
--   lua5.4 scripts/gen-contract.lua --stdout   -- prints it (spec/contract_spec.lua compares)
--
-- Run from the project root; needs lua-cjson. The output is deterministic (keys sorted), so the same
-- seed always gives the same bytes. What the project adds on top (the createCandidateTag fix, the
-- filter operators the seed gives only in prose, nonblank rules) is not here: see lua/clinch/schema.lua.
local cjson = require "cjson"

local SEED = "api/recruitment-marketing-openapi.json"
local OUT = "lua/clinch/contract.lua"
local WIDTH = 116

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

local function copy_list(t)
  local out = {}
  for i, v in ipairs(t or {}) do out[i] = v end
  return out
end

-- "#/components/schemas/DateTime" -> "DateTime"
local function ref_name(ref)
  return ref and ref:match("^#/components/[%w_]+/(.+)$")
end

-- The type facts of a schema property: type, format, items (the item type), enum, schema (the name of
-- a referenced schema) and, for objects, their properties.
local function facts(p)
  local out = {}
  local ref = p["$ref"] or (p.allOf and p.allOf[1] and p.allOf[1]["$ref"])
  if ref then out.schema = ref_name(ref) end
  out.type, out.format = p.type, p.format
  if p.enum then out.enum = copy_list(p.enum) end
  if p.items then
    out.items = p.items.type or ref_name(p.items["$ref"])
    if p.items.enum then out.enum = copy_list(p.items.enum) end
  end
  if type(p.properties) == "table" then
    out.properties = {}
    for name, sub in pairs(p.properties) do out.properties[name] = facts(sub) end
  end
  return out
end

-- A resource schema (one with attributes): its JSON:API type, attributes, relationships (with the type
-- their example names), and the names of its array and DateTime attributes.
local function resource_schema(props)
  local out = { attributes = {}, relationships = {}, arrays = {}, datetimes = {} }
  out.type = props.type and props.type.example
  for name, p in pairs(props.attributes.properties or {}) do
    local f = facts(p)
    f.properties = nil -- nested object members are data, not attributes
    out.attributes[name] = f
    if f.type == "array" then out.arrays[#out.arrays + 1] = name end
    if f.schema == "DateTime" then out.datetimes[#out.datetimes + 1] = name end
  end
  local rels = props.relationships and props.relationships.properties or {}
  for name, p in pairs(rels) do
    local ex = p.example
    out.relationships[name] = { type = type(ex) == "table" and ex.type or nil, schema = facts(p).schema }
  end
  table.sort(out.arrays)
  table.sort(out.datetimes)
  return out
end

local function schemas(seed)
  local out = {}
  for name, s in pairs(seed.components.schemas) do
    local props = s.properties or {}
    if type(props.attributes) == "table" then
      out[name] = resource_schema(props)
    else
      out[name] = facts(s)
    end
  end
  return out
end

local function parameter(p)
  local schema = p.schema or {}
  local out = facts(schema)
  out["in"], out.name, out.required = p["in"], p.name, p.required == true
  out.style, out.explode = p.style, p.explode
  return out
end

-- The request body of an operation: the JSON:API type its example names, the attributes with their
-- facts, and the attributes it requires.
local function request(body)
  local content = body.content and body.content["application/vnd.api+json"]
  local data = content and content.schema.properties.data
  if not data then return nil end
  local attrs = data.properties.attributes
  local out = { type = data.properties.type.example, attributes = {}, required = copy_list(attrs.required) }
  for name, p in pairs(attrs.properties or {}) do out.attributes[name] = facts(p) end
  return out
end

local function operations(seed, path_params)
  local out = {}
  for path, item in pairs(seed.paths) do
    if path:sub(1, 1) == "/" then
      for method, op in pairs(item) do
        local params = {}
        for _, p in ipairs(op.parameters or {}) do
          local name = ref_name(p["$ref"])
          if not name then
            name = p.name
            path_params[name] = parameter(p) -- an inline parameter (tagId)
          end
          params[#params + 1] = name
        end
        local responses = {}
        for status in pairs(op.responses or {}) do responses[#responses + 1] = tonumber(status) end
        table.sort(responses)
        out[op.operationId] = {
          method = method:upper(), path = path, tags = copy_list(op.tags), parameters = params,
          responses = responses, request = op.requestBody and request(op.requestBody) or nil,
        }
      end
    end
  end
  return out
end

local function contract(seed)
  local params, path_params = {}, {}
  for name, p in pairs(seed.components.parameters) do
    params[name] = parameter(p)
    if p["in"] == "path" then path_params[name] = params[name] end
  end
  local ops = operations(seed, path_params)
  local tags = {}
  for _, t in ipairs(seed.tags or seed.paths.tags or {}) do tags[#tags + 1] = t.name end
  local servers = {}
  for i, s in ipairs(seed.servers or {}) do servers[i] = s.url end
  return {
    info = { title = seed.info.title, version = seed.info.version, openapi = seed.openapi },
    servers = servers, tags = tags, schemas = schemas(seed), parameters = params,
    path_parameters = path_params, operations = ops,
  }
end

-- Serialization ---------------------------------------------------------------------------------------

local KEYWORDS = {}
for w in ("and break do else elseif end false for function goto if in local nil not or repeat return "
  .. "then true until while"):gmatch("%a+") do KEYWORDS[w] = true end

local function key_text(k)
  if type(k) == "string" and k:match("^[%a_][%w_]*$") and not KEYWORDS[k] then return k end
  return "[" .. string.format("%q", k) .. "]"
end

local function is_list(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t
end

local serialize

local function scalar(v)
  local tv = type(v)
  if tv == "string" then return (string.format("%q", v):gsub("\\\n", "\\n")) end
  if tv == "number" then
    if v == math.floor(v) then return string.format("%d", v) end
    return string.format("%.17g", v)
  end
  return tostring(v)
end

-- The items of a table as "key = value" (or "value") strings, one level deep.
local function items(t, indent)
  local out = {}
  if is_list(t) then
    for i = 1, #t do out[#out + 1] = serialize(t[i], indent, 0) end
  else
    for _, k in ipairs(sorted_keys(t)) do
      local head = key_text(k) .. " = "
      out[#out + 1] = head .. serialize(t[k], indent, #head)
    end
  end
  return out
end

-- `lead` is the width of what precedes the value on its first line ("key = ").
function serialize(v, indent, lead)
  if type(v) ~= "table" then return scalar(v) end
  if next(v) == nil then return "{}" end
  local inner = indent .. "  "
  local parts = items(v, inner)
  local one = "{ " .. table.concat(parts, ", ") .. " }"
  if not one:find("\n") and #indent + lead + #one + 1 <= WIDTH then return one end
  if is_list(v) then
    -- Lists of scalars fill their lines; anything else takes a line per item.
    local lines, line = {}, inner
    for i, p in ipairs(parts) do
      local piece = p .. (i < #parts and "," or "")
      if p:find("\n") or (#line > #inner and #line + 1 + #piece > WIDTH) then
        lines[#lines + 1] = line
        line = inner
      end
      line = line .. (#line > #inner and " " or "") .. piece
    end
    lines[#lines + 1] = line
    return "{\n" .. table.concat(lines, "\n") .. "\n" .. indent .. "}"
  end
  return "{\n" .. inner .. table.concat(parts, ",\n" .. inner) .. ",\n" .. indent .. "}"
end

local HEADER = [[
--- GENERATED by scripts/gen-contract.lua from api/recruitment-marketing-openapi.json: do not edit.
-- Regenerate with `lua5.4 scripts/gen-contract.lua`; spec/contract_spec.lua fails when this file and the
-- contract differ. The contract as plain data (keys sorted):
--   schemas          resource schemas (Candidate): `type` (the JSON:API type its example names), `attributes`
--                    (name -> { type, format, items, enum, schema }), `relationships` (name -> { type of
--                    its example, schema }), the sorted names of its `arrays` and `datetimes` (DateTime
--                    attributes); other schemas (DateTime, DataType) as { type, properties }
--   parameters       components.parameters by name: { in, name, required, type, items, enum, format,
--                    style, explode, properties }
--   path_parameters  every path parameter (components' and operations' own) by name
--   operations       by operationId: { method, path, tags, parameters (names), responses, request =
--                    { type, attributes, required } }
--   tags, servers, info
-- The project's own decisions on top of it live in lua/clinch/schema.lua.
]]

local function generate(seed_path)
  local seed = cjson.decode(read(seed_path))
  return HEADER .. "return " .. serialize(contract(seed), "", 7) .. "\n"
end

local text = generate(SEED)
if arg[1] == "--stdout" then
  io.write(text)
else
  local f = assert(io.open(OUT, "wb"))
  f:write(text)
  f:close()
end
