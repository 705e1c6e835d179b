--- A pretty printer for Lua values, for the REPL and for debugging:
--
--   local pretty = require "clinch.pretty"
--   print(pretty.format(cand))                 -- depth 3, nested tables indented
--   print(pretty.format(page, { depth = 1 }))
--
-- Resources (decoded JSON:API tables: string `id` and `type`) print as readable nested tables under
-- their one-line description (tostring), `id` and `type` first, then fields in name order. Depth is
-- limited; a table met a second time (a cycle, or a resource linked from several places) is shown as a
-- short reference instead of again. Objects that describe themselves (a client, a collection, an
-- error) print as their tostring, so a client's internals never show, and the values of fields named
-- like secrets (secret, password, token, authorization, api_key...) are replaced by <redacted>, as are
-- API signatures and the credentials in URLs (http://user:password@host) in any text. Long strings
-- and long lists are cut. Nothing here calls __pairs, __index or __len.
local type, tostring, next, ipairs, rawget, getmetatable, pcall, select, require =
  type, tostring, next, ipairs, rawget, getmetatable, pcall, select, require
local format, rep, concat, sort = string.format, string.rep, table.concat, table.sort
local floor = math.floor
-- LuaJIT has neither math.type nor (by default) rawlen; its # never calls __len.
local math_type = math.type or function(n)
  if type(n) ~= "number" then return nil end
  return (n == floor(n) and n > -2 ^ 53 and n < 2 ^ 53) and "integer" or "float"
end
local rawlen = rawget(_G, "rawlen") or function(t) return #t end
local text_number = require("clinch.text").number
local escape_unsafe = require("clinch.text").escape_unsafe

local _M = {}

_M.DEFAULTS = { depth = 3, indent = "  ", max_items = 30, max_fields = 100, max_string = 200, width = 100 }

-- Field names whose values are never shown.
local SECRET = { "secret", "password", "passwd", "token", "authorization", "api_key", "apikey", "private" }

local function is_secret_name(k)
  if type(k) ~= "string" then return false end
  local l = k:lower()
  for _, s in ipairs(SECRET) do
    if l:find(s, 1, true) then return true end
  end
  return false
end

--- Whether a field name is one whose value is never shown (secret, password, token, ...).
_M.is_secret_name = is_secret_name

-- Hides credentials inside text: the signature of an "APIAuth key:signature" value and the user-info
-- part of URLs (http://user:password@host).
local function redact(s)
  s = s:gsub("^(APIAuth[%w%-]*%s+[^:%s]+:)%S+", "%1<redacted>")
  return (s:gsub("(%a[%w+.-]*://)[^/?#%s]*@", "%1<redacted>@"))
end

local ESC = { ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }

--- A string as a Lua literal, cut at `max` bytes.
function _M.quote(s, max)
  local cut = ""
  s = redact(s) -- before the cut, which could leave a credential without what marks it
  if max and #s > max then
    cut = format("…(%d bytes)", #s)
    s = s:sub(1, max)
  end
  s = s:gsub('[%c"\\]', function(c) return ESC[c] or format("\\%03d", c:byte()) end)
  return '"' .. escape_unsafe(s) .. '"' .. cut
end

-- Numbers as clinch.text.number writes them everywhere else; those without a text form as the Lua
-- expression that makes them.
local function number_text(n)
  local s = text_number(n)
  if s then return s end
  if n ~= n then return "0/0" end
  return n > 0 and "math.huge" or "-math.huge"
end

-- A description from tostring, which may hold data from the API (a candidate's name): its control
-- characters are escaped, so none reaches the terminal as a command.
local function safe_tostring(v)
  local ok, s = pcall(tostring, v)
  if ok and type(s) == "string" then
    return escape_unsafe((redact(s):gsub("%c", function(c) return ESC[c] or format("\\%03d", c:byte()) end)))
  end
  return type(v)
end

local function is_resource(t)
  return type(rawget(t, "id")) == "string" and type(rawget(t, "type")) == "string"
end

local function is_datetime(t)
  return type(rawget(t, "epoch")) == "number" and type(rawget(t, "utc")) == "string"
end

-- How a table is introduced: a resource by its tostring (or type and id), other self-describing
-- objects by their tostring (and then not walked unless they hold a list, like a page).
local function describe(t)
  local mt = getmetatable(t)
  local has_tostring = type(mt) == "table" and rawget(mt, "__tostring") ~= nil
  if is_resource(t) then
    return has_tostring and safe_tostring(t) or (rawget(t, "type") .. " " .. rawget(t, "id")), true
  end
  if has_tostring then return safe_tostring(t), rawlen(t) > 0 end
  return nil, true
end

local function key_order(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return ta < tb end
  if ta == "string" then
    local ra = (a == "id" and 1) or (a == "type" and 2) or 3
    local rb = (b == "id" and 1) or (b == "type" and 2) or 3
    if ra ~= rb then return ra < rb end
    return a < b
  end
  if ta == "number" then return a < b end
  return safe_tostring(a) < safe_tostring(b)
end

local function key_text(k)
  if type(k) == "string" and k:match("^[%a_][%w_]*$") then return k end
  if type(k) == "string" then return "[" .. _M.quote(k) .. "]" end
  if type(k) == "number" then return "[" .. number_text(k) .. "]" end
  return "[" .. safe_tostring(k) .. "]"
end

local render

local function scalar(v, o)
  local tv = type(v)
  if tv == "string" then return _M.quote(v, o.max_string) end
  if tv == "number" then return number_text(v) end
  if tv == "boolean" or tv == "nil" then return tostring(v) end
  if tv == "userdata" and v == o.null then return "null" end
  if tv == "function" then return "<function>" end
  return "<" .. safe_tostring(v) .. ">"
end

-- Renders table t at nesting level `level` -> text (possibly multi-line, no trailing newline).
local function render_table(t, o, level, seen)
  local header, walk = describe(t)
  if is_datetime(t) then return "<DateTime " .. rawget(t, "utc") .. ">" end
  if seen[t] then
    return "<" .. (header or "table") .. ", shown above>"
  end
  if not walk then return "<" .. header .. ">" end
  local n = rawlen(t)
  local keys = {}
  for k in next, t do
    if not (math_type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  if level >= o.depth then
    if n + #keys == 0 then return header and (header .. " {}") or "{}" end
    local count = n + #keys
    local what = format((n > 0 and #keys == 0) and "%d item%s" or "%d field%s", count, count == 1 and "" or "s")
    return (header and header .. " " or "") .. "{ … " .. what .. " }"
  end
  seen[t] = true
  sort(keys, key_order)
  local parts = {}
  local shown = 0
  for i = 1, n do
    if shown >= o.max_items then break end
    parts[#parts + 1] = render(rawget(t, i), o, level + 1, seen)
    shown = shown + 1
  end
  if n > shown then parts[#parts + 1] = format("… (%d more)", n - shown) end
  shown = 0
  for _, k in ipairs(keys) do
    if shown >= o.max_fields then
      parts[#parts + 1] = format("… (%d more fields)", #keys - shown)
      break
    end
    local v = rawget(t, k)
    local text
    if is_secret_name(k) and v ~= nil then
      text = "<redacted>"
    else
      text = render(v, o, level + 1, seen)
    end
    parts[#parts + 1] = key_text(k) .. " = " .. text
    shown = shown + 1
  end
  local prefix = header and (header .. " ") or ""
  if #parts == 0 then return prefix .. "{}" end
  -- Short and flat: one line.
  local one = prefix .. "{ " .. concat(parts, ", ") .. " }"
  if not one:find("\n", 1, true) and #one + level * #o.indent <= o.width then return one end
  local pad = rep(o.indent, level + 1)
  return prefix .. "{\n" .. pad .. concat(parts, ",\n" .. pad) .. "\n" .. rep(o.indent, level) .. "}"
end

function render(v, o, level, seen)
  if type(v) == "table" then return render_table(v, o, level, seen) end
  return scalar(v, o)
end

local function options(opts)
  local o = {}
  for k, v in next, _M.DEFAULTS do o[k] = v end
  if type(opts) == "table" then
    for k, v in next, opts do o[k] = v end
  elseif type(opts) == "number" then
    o.depth = opts
  end
  if o.null == nil then
    local ok, cjson = pcall(require, "cjson")
    if ok and type(cjson) == "table" then o.null = cjson.null end
  end
  return o
end

--- The text of a value: format(v, { depth =, indent =, max_items =, max_fields =, max_string =,
-- width = }) or
-- format(v, depth).
function _M.format(v, opts)
  return render(v, options(opts), 0, {})
end

--- The texts of several values (a function's results), one per line.
function _M.format_all(opts, ...)
  local out = {}
  for i = 1, select("#", ...) do out[i] = _M.format((select(i, ...)), opts) end
  return concat(out, "\n")
end

return _M
