#!/usr/bin/env lua5.4
--- Generates types/, the LuaLS annotations (`---@meta` files) of lua-clinch, from the contract
-- (lua/clinch/contract.lua, itself generated from api/recruitment-marketing-openapi.json) and the code:
--
--   lua5.4 scripts/gen-types.lua          -- rewrites types/
--   lua5.4 scripts/gen-types.lua DIR      -- writes them into DIR (spec/types_spec.lua compares)
--
-- What comes from where, so that nothing is copied by hand:
--   the classes' methods      the live classes (scripts/api-surface.lua: Client, collections, Page,
--                             each registered resource's collection and objects, clinch.errors, ...)
--   parameters and returns    the doc comments above each method (@tparam, @treturn: `make docs`'s)
--   attributes and relations  the contract's schema of each registered resource (clinch.registry)
--   request attributes        the contract operation a method's body names (schema.request("...")),
--                             its required attributes without `?`
--   client options            the checks clinch.new makes (lua/clinch/validate.lua's OPTION_TYPES and
--                             SIGNING tables, the options lua/clinch/client.lua's new reads), defaults
--                             from clinch.defaults, regions from clinch.client.REGIONS
--   client fields             a client made here (sending nothing)
--   error fields and kinds    errors.KIND, and the fields the library's errors.new calls set
-- The output is deterministic (everything sorted), so the same code always gives the same bytes.
local root = (arg and arg[0] or ""):match("^(.*)/scripts/[^/]*$") or "."
local use = loadfile(root .. "/scripts/checkout.lua")
if use then use()(root) end

local surface = dofile(root .. "/scripts/api-surface.lua")
local contract = require "clinch.contract"
local registry = require "clinch.registry"
local defaults = require "clinch.defaults"
local client_mod = require "clinch.client"
local errors = require "clinch.errors"

local concat, sort, format = table.concat, table.sort, string.format
local WIDTH = 116

local function read(path)
  local f = assert(io.open(root .. "/" .. path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

-- Wraps text into "--- " comment lines (the first) and "-- " ones (the rest).
local function comment(text, first_prefix, prefix)
  local out, line = {}, nil
  for word in text:gmatch("%S+") do
    if line and #line + 1 + #word > WIDTH then
      out[#out + 1] = line
      line = nil
    end
    line = line and (line .. " " .. word) or ((#out == 0 and first_prefix or prefix) .. word)
  end
  if line then out[#out + 1] = line end
  return out
end

-- The text of a Lua table constructor assigned to `local NAME = {` in `src`, loaded as data.
local function table_literal(src, name)
  local start = src:find("\nlocal " .. name .. " = {", 1, true)
  assert(start, "scripts/gen-types.lua: no table " .. name)
  local i, depth = src:find("{", start, true), 0
  local j = i
  repeat
    local c = src:sub(j, j)
    if c == "{" then depth = depth + 1 elseif c == "}" then depth = depth - 1 end
    j = j + 1
  until depth == 0
  return assert(load("return " .. src:sub(i, j - 1), "=" .. name, "t", {}))()
end

-- The body of the function whose definition line starts with `header` in `src` (up to its "end" at the
-- start of a line).
local function function_body(src, header)
  local s = src:find("\n" .. header, 1, true)
  assert(s, "scripts/gen-types.lua: no " .. header)
  local e = src:find("\nend\n", s, true)
  return src:sub(s, e)
end

-- Types ------------------------------------------------------------------------------------------------

local LUA_TYPES = { string = "string", number = "number", integer = "integer", int = "integer",
                    boolean = "boolean", bool = "boolean", table = "table", ["function"] = "function",
                    func = "function", ["nil"] = "nil", any = "any" }

-- A doc comment's type ("string|table", "Candidate", "Resource") as a LuaLS type. `ctx` names what
-- Resource and Page are in a registered collection (its class and its page class).
local function luals_type(ty, ctx)
  local parts = {}
  for part in ty:gmatch("[^|]+") do
    local t
    if part == "Resource" then
      t = ctx and ctx.resource or "table"
    elseif part == "Page" then
      t = ctx and ctx.page or "clinch.Page"
    elseif part == "iterator" then
      t = "fun(): " .. (ctx and ctx.resource or "table")
    elseif LUA_TYPES[part] then
      t = LUA_TYPES[part]
    elseif part:match("^%u") then
      t = "clinch." .. part
    else
      t = part
    end
    parts[#parts + 1] = t
  end
  return concat(parts, "|")
end

-- An attribute of the contract (clinch.contract: { type, items, enum, schema }) as a LuaLS type.
local function attribute_type(spec)
  if spec.schema then return "clinch." .. spec.schema end
  if spec.enum then
    local values = {}
    for i, v in ipairs(spec.enum) do values[i] = format("%q", v) end
    return concat(values, "|")
  end
  if spec.type == "array" then
    local items = spec.items == "object" and "table" or LUA_TYPES[spec.items] or "any"
    return items .. "[]"
  end
  if spec.type == "object" then return "table" end
  return LUA_TYPES[spec.type] or "any"
end

-- Methods ----------------------------------------------------------------------------------------------

local request_classes = {} -- operationId -> true, the request classes the methods use

-- The contract operation whose request a function's body builds (schema.request("createCandidate")).
local function request_of(f)
  if not f.path then return nil end
  local info = debug.getinfo(f.func, "S")
  local lines = {}
  local src = f.path:find("^/") and assert(io.open(f.path, "rb")):read("*a") or read(f.path)
  for line in (src .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = line end
  local body = concat(lines, "\n", info.linedefined, info.lastlinedefined)
  return body:match('schema%.request%("([%w_]+)"%)')
end

-- The annotation lines of one public function (`f` from scripts/api-surface.lua) as a method or field of
-- `class_var`. `attrs_type`, when given, types its `attrs` parameter.
local function function_lines(f, class_var, ctx, attrs_type)
  -- A function without a doc comment (spec/docs_spec.lua fails for it) still shows, untyped.
  local doc = f.path and surface.doc(root, f.path, f.line) or { summary = "", params = {}, returns = {} }
  local out = comment(doc.summary, "--- ", "-- ")
  local by_name = {}
  for _, p in ipairs(doc.params) do by_name[p.name] = p end
  local names = f.path and surface.params(root, f.path, f.line) or {}
  if by_name["..."] then names[#names + 1] = "..." end
  for _, name in ipairs(names) do
    local p = by_name[name] or {}
    local ty = p.type and luals_type(p.type, ctx) or "any"
    if name == "attrs" and attrs_type then ty = attrs_type end
    local text = p.text and p.text ~= "" and (" " .. p.text:gsub("%s+", " ")) or ""
    out[#out + 1] = "---@param " .. name .. (p.optional and "?" or "") .. " " .. ty .. text
  end
  -- Returns: position by position, the union over the doc's groups (a group without that position, or
  -- one saying nil there, makes it optional). "nothing" means no values.
  local groups, order = {}, {}
  for _, r in ipairs(doc.returns) do
    if not groups[r.group] then
      groups[r.group] = {}
      order[#order + 1] = r.group
    end
    local g = groups[r.group]
    if r.type then
      -- The error of a `nil, err` group is named, as the doc comment names it.
      local name = r.group > 1 and r.type == "Error" and r.text:match("^(%a+)") or nil
      g[#g + 1] = { type = luals_type(r.type, ctx), name = name }
    elseif r.text:match("^nil") then
      g[#g + 1] = { type = "nil" }
    elseif not r.text:match("^nothing") then
      g[#g + 1] = { type = "any" }
    end
  end
  sort(order)
  local width = 0
  for _, k in ipairs(order) do width = math.max(width, #groups[k]) end
  for i = 1, width do
    local seen, types, optional, name = {}, {}, false, nil
    for _, k in ipairs(order) do
      local r = groups[k][i]
      if not r or r.type == "nil" then
        optional = true
      else
        for part in r.type:gmatch("[^|]+") do
          if part == "nil" then optional = true elseif not seen[part] then
            seen[part] = true
            types[#types + 1] = part
          end
        end
        name = name or r.name
      end
    end
    local ty = #types > 0 and concat(types, "|") or "nil"
    if optional and ty ~= "nil" then ty = (#types > 1 and ty .. "|nil") or ty .. "?" end
    out[#out + 1] = "---@return " .. ty .. (name and (" " .. name) or "")
  end
  local sep = f.method and ":" or "."
  out[#out + 1] = "function " .. class_var .. sep .. f.name .. "(" .. concat(names, ", ") .. ") end"
  out[#out + 1] = ""
  return out
end

local functions = surface.functions()
local by_owner = {}
for _, f in ipairs(functions) do
  by_owner[f.owner] = by_owner[f.owner] or {}
  by_owner[f.owner][#by_owner[f.owner] + 1] = f
end

local function append(out, lines)
  for _, l in ipairs(lines) do out[#out + 1] = l end
end

-- Classes ----------------------------------------------------------------------------------------------

local HEADER = {
  "-- GENERATED by scripts/gen-types.lua from the contract (lua/clinch/contract.lua) and the code: do not",
  "-- edit. Regenerate with `lua5.4 scripts/gen-types.lua`; spec/types_spec.lua fails when they differ.",
  "-- Point lua-language-server at this directory (README \"Editor hints\").",
}

local function header(name)
  local out = { "---@meta " .. name }
  append(out, HEADER)
  out[#out + 1] = ""
  return out
end

-- The client's options, from the checks clinch.new makes.
local function client_options(out)
  local validate_src, client_src = read("lua/clinch/validate.lua"), read("lua/clinch/client.lua")
  local option_types = table_literal(validate_src, "OPTION_TYPES")
  local signing = table_literal(validate_src, "SIGNING")
  local types = {}
  for ty, names in pairs(option_types) do
    for _, name in ipairs(names) do types[name] = LUA_TYPES[ty] end
  end
  local checks = function_body(validate_src, "function _M.client_options(")
  for name, ty in checks:gmatch('type%(opts%.([%w_]+)%) ~= "(%a+)"') do types[name] = LUA_TYPES[ty] end
  local names, required = {}, {}
  for name in function_body(client_src, "function _M.new("):gmatch("opts%.([%a_][%w_]*)") do names[name] = true end
  for name in checks:gmatch("opts%.([%a_][%w_]*)") do names[name] = true end
  -- clinch.new (lua/clinch/init.lua) reads `profile`, and takes a key or secret not given from the
  -- environment or a profile (clinch.config): then none is required of the caller.
  local init_new = function_body(read("lua/clinch/init.lua"), "function _M.new(")
  for name in init_new:gmatch("opts%.([%a_][%w_]*)") do names[name] = true end
  for name, ty in init_new:gmatch('type%(opts%.([%w_]+)%) == "(%a+)"') do types[name] = types[name] or LUA_TYPES[ty] end
  if not init_new:find("config.resolve", 1, true) then
    for name in checks:gmatch("'([%w_]+)'[^\n]* is required") do required[name] = true end
  end
  local regions = {}
  for _, r in ipairs(sorted_keys(client_mod.REGIONS)) do regions[#regions + 1] = format("%q", r) end
  out[#out + 1] = "---@alias clinch.Region " .. concat(regions, "|")
  out[#out + 1] = ""
  out[#out + 1] = "--- The options of clinch.new (README \"Configuration\")."
  out[#out + 1] = "---@class clinch.ClientOptions"
  for _, name in ipairs(sorted_keys(names)) do
    local ty = types[name] or "any"
    if name == "region" then ty = "clinch.Region" end
    if name == "signing" then ty = "clinch.SigningOptions" end
    local default = defaults[name:upper()]
    local note = type(default) == "number" and (" default " .. tostring(default)) or ""
    out[#out + 1] = "---@field " .. name .. (required[name] and "" or "?") .. " " .. ty .. note
  end
  out[#out + 1] = ""
  out[#out + 1] = "--- The signing variants (README \"Signing\")."
  out[#out + 1] = "---@class clinch.SigningOptions"
  local signing_names = { with_method = "boolean" }
  for name, allowed in pairs(signing) do
    local values = {}
    for i, v in ipairs(allowed) do values[i] = format("%q", v) end
    signing_names[name] = concat(values, "|")
  end
  for _, name in ipairs(sorted_keys(signing_names)) do
    out[#out + 1] = "---@field " .. name .. "? " .. signing_names[name]
  end
  out[#out + 1] = ""
end

-- A client made here, to read its fields (the transport is never used).
local function sample_client()
  return client_mod.new { key = "types", secret = "types", base_url = "http://127.0.0.1:9/v1" }
end

local function client_class(out)
  local client = sample_client()
  out[#out + 1] = "--- A client (clinch.new): its methods, and a field per registered collection."
  out[#out + 1] = "---@class clinch.Client"
  local collections = {}
  for _, def in ipairs(registry.list()) do collections[def.name] = "clinch." .. surface.collection_name(def) end
  for _, k in ipairs(sorted_keys(client)) do
    local v = client[k]
    if type(k) == "string" and not k:find("^_") and type(v) ~= "function" then
      local ty = collections[k] or (k == "transport" and "table") or LUA_TYPES[type(v)] or "any"
      out[#out + 1] = "---@field " .. k .. " " .. ty
    end
  end
  client:close()
  out[#out + 1] = "local Client = {}"
  out[#out + 1] = ""
  for _, f in ipairs(by_owner["clinch.Client"]) do append(out, function_lines(f, "Client")) end
  out[#out + 1] = "--- A request in flight (client:start)."
  out[#out + 1] = "---@class clinch.Pending"
  out[#out + 1] = "local Pending = {}"
  out[#out + 1] = ""
  for _, f in ipairs(by_owner["clinch.Pending"]) do append(out, function_lines(f, "Pending")) end
end

local function error_class(out)
  local kinds = {}
  for _, k in ipairs(sorted_keys(errors.DESCRIPTION)) do kinds[#kinds + 1] = format("%q", k) end
  out[#out + 1] = "---@alias clinch.ErrorKind " .. concat(kinds, "|")
  out[#out + 1] = ""
  -- The fields the library's errors.new calls set (the CLI's own errors add none of the library's).
  local fields = {}
  local p = assert(io.popen("cd '" .. root .. "' && ls lua/clinch/*.lua lua/clinch/transport/*.lua"))
  for path in p:lines() do
    local src = read(path)
    for start in src:gmatch("errors%.new%s*(){") do
      local depth, j, level1 = 0, start, {}
      repeat
        local c = src:sub(j, j)
        if c == "{" then
          depth = depth + 1
        elseif c == "}" then
          depth = depth - 1
        elseif depth == 1 then
          level1[#level1 + 1] = c
        end
        j = j + 1
      until depth == 0 or j > #src
      local text = concat(level1):gsub('"[^"]*"', '""')
      for name in (" " .. text):gmatch("[%s,{]([%a_][%w_]*)%s*=[^=]") do fields[name] = true end
    end
  end
  p:close()
  local TYPES = { kind = "clinch.ErrorKind", message = "string", status = "integer", sent = "boolean",
                  attempts = "integer", curl_code = "integer", errors = "table[]",
                  request = "{ method: string, uri: string }", method = "string", url = "string",
                  request_id = "string", location = "string", field = "string", traceback = "string" }
  out[#out + 1] = "--- A structured error (clinch.errors): what every runtime failure returns as `nil, err`;"
  out[#out + 1] = "-- tostring gives one readable line."
  out[#out + 1] = "---@class clinch.Error"
  for _, name in ipairs(sorted_keys(fields)) do
    out[#out + 1] = "---@field " .. name .. (name == "kind" and " " or "? ") .. (TYPES[name] or "any")
  end
  out[#out + 1] = ""
end

local function datetime_class(out)
  local dt = contract.schemas.DateTime
  out[#out + 1] = "--- A decoded DateTime attribute: tostring gives utc; ==, < and <= compare epochs."
  out[#out + 1] = "---@class clinch.DateTime"
  for _, name in ipairs(sorted_keys(dt.properties)) do
    out[#out + 1] = "---@field " .. name .. " " .. attribute_type(dt.properties[name])
  end
  out[#out + 1] = ""
end

local function page_class(out, name, parent, ctx, item)
  out[#out + 1] = "---@class " .. name .. (parent and (": " .. parent) or "")
  if not parent then
    out[#out + 1] = "---@field meta? table"
    out[#out + 1] = "---@field links? table"
    out[#out + 1] = "---@field included? table[]"
  end
  out[#out + 1] = "---@field [integer] " .. item
  local var = name:gsub("^clinch%.", "")
  out[#out + 1] = "local " .. var .. " = {}"
  out[#out + 1] = ""
  for _, f in ipairs(by_owner["clinch.Page"]) do append(out, function_lines(f, var, ctx)) end
end

-- A registered resource: its collection class, page class and object class.
local function resource_classes(out, def)
  local class = surface.class_name(def)
  local coll = "clinch." .. surface.collection_name(def)
  local page = class .. "Page"
  local ctx = { resource = class, page = page }
  local schema = def.schema and contract.schemas[def.schema]
  -- The collection: the inherited methods, typed for this resource, and its own.
  out[#out + 1] = "--- client." .. def.name .. " (" .. def.path .. ")."
  out[#out + 1] = "---@class " .. coll .. ": clinch.Collection"
  local coll_var = coll:gsub("^clinch%.", "")
  out[#out + 1] = "local " .. coll_var .. " = {}"
  out[#out + 1] = ""
  for _, f in ipairs(by_owner["clinch.Collection"]) do append(out, function_lines(f, coll_var, ctx)) end
  local attrs_of = {}
  for _, f in ipairs(by_owner[coll] or {}) do
    local op = request_of(f)
    local attrs_type = op and "clinch.request." .. op or nil
    if op then request_classes[op] = true end
    attrs_of[f.name] = attrs_type
    append(out, function_lines(f, coll_var, ctx, attrs_type))
  end
  -- Its pages.
  out[#out + 1] = "--- A page of client." .. def.name .. ":list()."
  page_class(out, page, "clinch.Page", ctx, class)
  -- Its objects: the contract's attributes and relationships, and the methods.
  out[#out + 1] = "--- A " .. def.label .. " resource: `id`, `type`, "
    .. (schema and ("the attributes and relationships of the contract's " .. def.schema .. " schema")
                or "and the attributes the API sends (the contract describes none)") .. "."
  out[#out + 1] = "---@class " .. class .. ": clinch.Resource"
  if schema then
    for _, name in ipairs(sorted_keys(schema.attributes)) do
      out[#out + 1] = "---@field " .. name .. "? " .. attribute_type(schema.attributes[name])
    end
    for _, name in ipairs(sorted_keys(schema.relationships)) do
      local rel = registry.of_type(schema.relationships[name].type or "")
      local ty = rel and surface.class_name(rel) or "clinch.Resource"
      out[#out + 1] = "---@field " .. name .. "? " .. ty .. "|" .. ty .. "[] relationship"
    end
  else
    for _, name in ipairs(def.columns) do
      if name ~= "id" and name ~= "type" then out[#out + 1] = "---@field " .. name .. "? any" end
    end
  end
  local obj_var = class:gsub("^clinch%.", "")
  out[#out + 1] = "local " .. obj_var .. " = {}"
  out[#out + 1] = ""
  for _, f in ipairs(by_owner[class] or {}) do append(out, function_lines(f, obj_var, ctx, attrs_of[f.name])) end
end

local function request_class_lines(out)
  for _, op in ipairs(sorted_keys(request_classes)) do
    local req = contract.operations[op].request
    local required = {}
    for _, name in ipairs(req.required) do required[name] = true end
    out[#out + 1] = "--- The attributes of the contract's " .. op .. " request."
    out[#out + 1] = "---@class clinch.request." .. op
    for _, name in ipairs(sorted_keys(req.attributes)) do
      out[#out + 1] = "---@field " .. name .. (required[name] and " " or "? ") .. attribute_type(req.attributes[name])
    end
    out[#out + 1] = ""
  end
end

-- Modules ----------------------------------------------------------------------------------------------

local function module_file(name, var, extra_fields)
  local out = header(name)
  local t = require(name)
  out[#out + 1] = "---@class " .. name
  for _, k in ipairs(sorted_keys(t)) do
    local v = t[k]
    if type(k) == "string" and type(v) ~= "function" and (not k:find("^_") or k == "_VERSION") then
      local ty = extra_fields[k] or LUA_TYPES[type(v)] or "any"
      out[#out + 1] = "---@field " .. k .. " " .. ty
    end
  end
  out[#out + 1] = "local " .. var .. " = {}"
  out[#out + 1] = ""
  for _, f in ipairs(by_owner[name] or {}) do append(out, function_lines(f, var)) end
  out[#out + 1] = "return " .. var
  return out
end

local function main_file()
  local out = module_file("clinch", "clinch",
    { errors = "clinch.errors", uri = "clinch.uri", REGIONS = "table<clinch.Region, string>", core = "table" })
  local ret = table.remove(out)
  client_options(out)
  client_class(out)
  out[#out + 1] = "--- A collection (client:resource(name)): the methods every collection has."
  out[#out + 1] = "---@class clinch.Collection"
  out[#out + 1] = "---@field client clinch.Client"
  out[#out + 1] = "---@field path string"
  out[#out + 1] = "local Collection = {}"
  out[#out + 1] = ""
  for _, f in ipairs(by_owner["clinch.Collection"]) do append(out, function_lines(f, "Collection")) end
  out[#out + 1] = "--- A page of a collection: its resources are its array part."
  page_class(out, "clinch.Page", nil, nil, "table")
  out[#out + 1] = "--- A decoded JSON:API resource: `id`, `type`, its attributes and relationships as fields."
  out[#out + 1] = "---@class clinch.Resource"
  out[#out + 1] = "---@field id string"
  out[#out + 1] = "---@field type string"
  out[#out + 1] = "---@field [string] any"
  out[#out + 1] = ""
  datetime_class(out)
  error_class(out)
  for _, def in ipairs(registry.list()) do resource_classes(out, def) end
  request_class_lines(out)
  out[#out + 1] = ret
  return out
end

local FILES = {
  { "clinch.lua", main_file },
  { "clinch/errors.lua", function()
    return module_file("clinch.errors", "errors", { KIND = "table<clinch.ErrorKind, clinch.ErrorKind>",
      DESCRIPTION = "table<clinch.ErrorKind, string>", Error = "table" })
  end },
  { "clinch/jsonapi.lua", function()
    return module_file("clinch.jsonapi", "jsonapi", { null = "lightuserdata", DateTime = "table", array_mt = "table" })
  end },
  { "clinch/uri.lua", function() return module_file("clinch.uri", "uri", {}) end },
}

local dir = arg and arg[1] or (root .. "/types")
os.execute("mkdir -p '" .. dir .. "/clinch'")
for _, file in ipairs(FILES) do
  local lines = file[2]()
  while lines[#lines] == "" do lines[#lines] = nil end
  local f = assert(io.open(dir .. "/" .. file[1], "wb"))
  f:write(concat(lines, "\n"), "\n")
  f:close()
end
