--- The public API of lua-clinch as the live modules define it, and the doc comments above each of its
-- functions. scripts/gen-types.lua (the LuaLS annotations), spec/docs_spec.lua (the undocumented-function
-- check) and `make docs` (through config.ld's file list) share it, so "public" is decided here once:
--   the `clinch` module's functions, Client methods (and the pending request client:start returns),
--   the methods every collection has (resource.Collection: list, each, get), each registered resource's
--   own collection methods and object methods, Page methods, and the functions of clinch.errors,
--   clinch.jsonapi and clinch.uri (which `clinch` re-exports or hands out).
-- A name starting with "_" is internal, and so is a metamethod ("__tostring"). Everything is read from
-- the module tables, never from a list kept here: a new public function shows up by itself.
-- The caller puts the checkout's lua/ and C core on the search paths first (scripts/checkout.lua).
local type, pairs, ipairs, require, sort, concat = type, pairs, ipairs, require, table.sort, table.concat
local io, debug = io, debug

local _M = {}

-- The modules whose every function is public, by the name users require (or reach) them.
_M.MODULES = { "clinch", "clinch.errors", "clinch.jsonapi", "clinch.uri" }

-- The names of the public functions of a table, sorted.
local function public_names(t)
  local names = {}
  for k, v in pairs(t) do
    if type(k) == "string" and type(v) == "function" and not k:find("^_") then names[#names + 1] = k end
  end
  sort(names)
  return names
end

-- Where a Lua function is defined: the path relative to the checkout ("lua/clinch/client.lua") and
-- the line, or nil for a C function.
local function where(f)
  local info = debug.getinfo(f, "S")
  if info.what ~= "Lua" then return nil end
  local path = info.source:gsub("^@", ""):gsub("^%./", "")
  path = path:match("(lua/clinch/.*)$") or path
  return path, info.linedefined
end

-- A client that never sends anything (its transport is never used), to reach the pending request's
-- class: a start whose body cannot be encoded returns a pending holding the error, sending nothing.
local function pending_class(clinch)
  local client = clinch.new { key = "surface", secret = "surface", base_url = "http://127.0.0.1:9/v1" }
  local pending = client:start("GET", "/x", { body = { bad = print } })
  client:close()
  return getmetatable(pending).__index
end

--- The public functions: a list of { owner =, name =, call = "client:request" or "errors.new",
-- method = true for `:` calls, func =, path =, line = }, sorted by owner then name.
function _M.functions()
  local clinch = require "clinch"
  local client_mod = require "clinch.client"
  local resource = require "clinch.resource"
  local registry = require "clinch.registry"
  local out, seen = {}, {}
  local function add(owner, var, t, method, only_own_of)
    for _, name in ipairs(public_names(t)) do
      local f = t[name]
      if not (only_own_of and only_own_of[name] == f) and not seen[owner .. name] then
        seen[owner .. name] = true
        local path, line = where(f)
        out[#out + 1] = { owner = owner, name = name, method = method, func = f, path = path, line = line,
                          call = var .. (method and ":" or ".") .. name }
      end
    end
  end
  for _, m in ipairs(_M.MODULES) do
    add(m, m:match("([^.]+)$"), require(m), false)
  end
  add("clinch.Client", "client", client_mod.Client, true)
  add("clinch.Pending", "pending", pending_class(clinch), true)
  add("clinch.Collection", "collection", resource.Collection, true)
  add("clinch.Page", "page", resource.Page, true)
  for _, def in ipairs(registry.list()) do
    local class = _M.class_name(def)
    add("clinch." .. _M.collection_name(def), def.name, def.Collection, true, resource.Collection)
    add(class, def.var, def.Object, true)
  end
  sort(out, function(a, b)
    if a.owner ~= b.owner then return a.owner < b.owner end
    return a.name < b.name
  end)
  return out
end

--- The LuaLS class of a registered resource's objects ("clinch.Candidate").
function _M.class_name(def)
  return "clinch." .. def.label:gsub("^%l", string.upper)
end

--- The class name of a registered resource's collection ("Candidates").
function _M.collection_name(def)
  return (def.name:gsub("^%l", string.upper):gsub("_(%l)", string.upper))
end

local file_lines = {}

-- The lines of a file of the checkout, kept.
local function lines_of(root, path)
  local lines = file_lines[path]
  if not lines then
    lines = {}
    local f = io.open(path:find("^/") and path or (root .. "/" .. path), "rb")
    if f then
      for line in f:lines() do lines[#lines + 1] = line end
      f:close()
    end
    file_lines[path] = lines
  end
  return lines
end

--- The parameter names of the function defined at `line` of `path`, as its source writes them (self
-- and ... left out).
function _M.params(root, path, line)
  local text = lines_of(root, path)[line] or ""
  local list = text:match("function[^(]*%(([^)]*)%)") or ""
  local names = {}
  for name in list:gmatch("[%w_]+") do names[#names + 1] = name end
  return names
end

-- Parses one tag line ("@tparam[opt] string name text") into the doc's lists.
local function add_tag(doc, tag, modifier, rest)
  if tag == "param" or tag == "tparam" then
    local ty, name, text
    if tag == "tparam" then
      ty, name, text = rest:match("^(%S+)%s+([%w_.]+)%s*(.*)$")
    else
      name, text = rest:match("^([%w_.]+)%s*(.*)$")
    end
    if name then
      doc.params[#doc.params + 1] = { name = name, type = ty, text = text, optional = modifier == "opt" }
    end
  elseif tag == "return" or tag == "treturn" then
    local ty, text = nil, rest
    if tag == "treturn" then ty, text = rest:match("^(%S+)%s*(.*)$") end
    doc.returns[#doc.returns + 1] = { type = ty, text = text or "", group = tonumber(modifier) or 1 }
  elseif tag == "raise" then
    doc.raises[#doc.raises + 1] = rest
  end
end

--- The doc comment right above line `line` of `path`: nil when there is none (a block whose first line
-- starts with "---"), else { summary =, params = { {name, type, text, optional} }, returns =
-- { {type, text, group} }, raises = { text } , text = the whole block }.
function _M.doc(root, path, line)
  local lines = lines_of(root, path)
  local first = line
  if not lines[line] then return nil end
  while first > 1 and lines[first - 1]:find("^%s*%-%-") do first = first - 1 end
  if first == line then return nil end
  -- Several blocks may stand above a function; its own is the last one starting with "---".
  local start
  for i = first, line - 1 do
    if lines[i]:find("^%s*%-%-%-") then start = i end
  end
  if not start then return nil end
  local doc = { params = {}, returns = {}, raises = {} }
  local summary, text, last = {}, {}, nil
  for i = start, line - 1 do
    local body = lines[i]:gsub("^%s*%-%-%-?%s?", "")
    text[#text + 1] = body
    local tag, modifier, rest = body:match("^%s*@(%w+)%[?([^%]%s]*)%]?%s*(.*)$")
    if tag then
      add_tag(doc, tag, modifier, rest)
      last = tag
    elseif last and (last == "param" or last == "tparam") and body:find("^%s%s") then
      local p = doc.params[#doc.params]
      if p then p.text = p.text .. " " .. body:gsub("^%s+", "") end
    elseif not last then
      summary[#summary + 1] = body
    end
  end
  doc.summary = concat(summary, " "):gsub("%s+", " "):gsub("^ ", "")
  doc.text = concat(text, "\n")
  return doc
end

--- What the doc comments of `functions` (default: every public function) lack, as one message per
-- fault, in order: no doc comment, a parameter without @param/@tparam, no @return/@treturn, no @raise
-- (the errors it raises; a function that raises nothing says `@raise nothing`). Empty when all is well.
function _M.problems(root, functions)
  local out = {}
  for _, f in ipairs(functions or _M.functions()) do
    local where_text = (f.path or "?") .. ":" .. tostring(f.line)
    local doc = f.path and _M.doc(root, f.path, f.line)
    if not f.path then
      out[#out + 1] = f.call .. ": a C function (document it in a Lua wrapper)"
    elseif not doc then
      out[#out + 1] = f.call .. " (" .. where_text .. "): no doc comment (a --- block right above it)"
    else
      local named = {}
      for _, p in ipairs(doc.params) do named[p.name] = true end
      for _, name in ipairs(_M.params(root, f.path, f.line)) do
        if not named[name] then
          out[#out + 1] = f.call .. " (" .. where_text .. "): parameter '" .. name .. "' has no @param"
        end
      end
      if not doc.returns[1] then out[#out + 1] = f.call .. " (" .. where_text .. "): no @return" end
      if not doc.raises[1] then out[#out + 1] = f.call .. " (" .. where_text .. "): no @raise" end
    end
  end
  return out
end

return _M
