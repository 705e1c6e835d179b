--- Request-URI building. The request-target is built once, here, and those exact bytes are both
-- signed and sent (the server signs what it received, without re-encoding).
--
-- Encoding: every byte outside RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~) is
-- percent-encoded with upper-case hex: space is %20 (never +), brackets are %5B/%5D, and UTF-8
-- text is encoded byte by byte. Query keys are sorted (byte order) at every level, so the same
-- query always gives the same string.
--
-- Query values: strings, numbers (integral floats print without ".0"), booleans ("true"/"false"),
-- arrays of those (comma-joined, as OpenAPI `explode: false` does: include=notes,jobs; an empty
-- array leaves the key out) and nested tables (deepObject: filter[updated_at][gte]=...).
-- @module clinch.uri
local type, tostring, pairs, select = type, tostring, pairs, select
local next = next
local format, byte, gsub, find = string.format, string.byte, string.gsub, string.find
local floor, min = math.floor, math.min
local sort, concat = table.sort, table.concat
local number_text = require("clinch.text").number
local raise = require("clinch.check").raise -- programming mistakes, at the user's line

local _M = {}

local MAX_DEPTH = 16

local function pct(c)
  return format("%%%02X", byte(c))
end

local function encode_string(s)
  return (gsub(s, "[^A-Za-z0-9%-._~]", pct))
end

-- A number's text (clinch.text.number); NaN and infinities have no query form: a programming error.
local function number_string(n)
  local s, err = number_text(n)
  if not s then raise("uri: cannot encode this number: " .. err) end
  return s
end

-- A scalar query value or path segment as text, or nil when v is not a scalar.
local function scalar_string(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" then
    return number_string(v)
  end
  if t == "boolean" then return tostring(v) end
  return nil
end

--- Percent-encodes a string (or number) so that only unreserved characters remain.
-- @tparam string|number s the value
-- @treturn string the encoded text
-- @raise for a value that is neither a string nor a number
function _M.encode(s)
  local text = scalar_string(s, 2)
  if text == nil or type(s) == "boolean" then
    raise("uri.encode: expected a string or a number, got " .. type(s))
  end
  return encode_string(text)
end

--- Encodes one path segment (an id, a name). "/", "?", "#" and "%" are encoded like everything
-- else outside the unreserved set, and the dot-segments "." and ".." are written as %2E / %2E%2E,
-- so no value can change which path is requested. An empty segment raises (it would make "//").
-- @tparam string|number s the value (an id)
-- @treturn string the encoded segment
-- @raise for a value that is neither a string nor a number, or an empty one
function _M.segment(s)
  local text = scalar_string(s, 2)
  if text == nil or type(s) == "boolean" then
    raise("uri.segment: expected a string or a number, got " .. type(s))
  end
  if text == "" then raise("uri.segment: a path segment must not be empty") end
  if text == "." then return "%2E" end
  if text == ".." then return "%2E%2E" end
  return encode_string(text)
end

--- Joins segments into an absolute path, encoding each one: `path("candidates", id, "tags")`
-- -> `"/candidates/<id>/tags"`.
-- @param ... the segments (strings or numbers)
-- @treturn string the path
-- @raise for no segment, or a segment uri.segment refuses
function _M.path(...)
  local n = select("#", ...)
  if n == 0 then raise("uri.path: expected at least one segment") end
  local parts = { ... }
  for i = 1, n do
    local v = parts[i]
    local text = scalar_string(v, 2)
    if text == nil or type(v) == "boolean" then
      raise("uri.path: segment #" .. i .. " must be a string or a number, got " .. type(v))
    end
    if text == "" then raise("uri.path: segment #" .. i .. " must not be empty") end
    parts[i] = _M.segment(text)
  end
  return "/" .. concat(parts, "/")
end

-- Byte-order comparison: Lua 5.4 compares strings with strcoll, which depends on the locale.
local function byte_less(a, b)
  for i = 1, min(#a, #b) do
    local x, y = byte(a, i), byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

-- True when t is a non-empty sequence (keys exactly 1..n).
local function is_array(t)
  local n = #t
  if n == 0 then return false end
  local count = 0
  for k in pairs(t) do
    if type(k) ~= "number" or k < 1 or k > n or floor(k) ~= k then return false end
    count = count + 1
  end
  return count == n
end

local function key_string(k, prefix)
  if type(k) == "string" then return k end
  if type(k) == "number" then
    local s = number_string(k)
    return s
  end
  raise("uri: query keys must be strings (got a " .. type(k) .. " key under '" .. prefix .. "')")
end

-- Appends "name=value" pairs for one key and value to out. name is already encoded.
local function add_pairs(out, name, v, depth)
  local text = scalar_string(v)
  if text ~= nil then
    out[#out + 1] = name .. "=" .. encode_string(text)
    return
  end
  if type(v) ~= "table" then
    raise("uri: query value for '" .. name .. "' must be a string, number, boolean or table, got " .. type(v))
  end
  if next(v) == nil then return end -- {} is an empty list or object: nothing to send
  if is_array(v) then
    local items = {}
    for i = 1, #v do
      local item = scalar_string(v[i])
      if item == nil then
        raise("uri: array items for '" .. name .. "' must be strings, numbers or booleans")
      end
      items[i] = encode_string(item)
    end
    out[#out + 1] = name .. "=" .. concat(items, ",")
    return
  end
  if depth >= MAX_DEPTH then raise("uri: query nested too deeply (a cycle?)") end
  local keys, names = {}, {}
  for k in pairs(v) do
    local ks = key_string(k, name)
    if names[ks] ~= nil then raise("uri: query key '" .. ks .. "' given twice under '" .. name .. "'") end
    keys[#keys + 1] = ks
    names[ks] = k
  end
  sort(keys, byte_less)
  for i = 1, #keys do
    local ks = keys[i]
    add_pairs(out, name .. "%5B" .. encode_string(ks) .. "%5D", v[names[ks]], depth + 1)
  end
end

-- Encodes a query table.
local function encode_query(query)
  if query == nil then return "" end
  if type(query) ~= "table" then raise("uri: query must be a table or nil, got " .. type(query)) end
  local keys = {}
  for k in pairs(query) do
    if type(k) ~= "string" then
      raise("uri: query keys must be strings, got a " .. type(k) .. " key")
    end
    keys[#keys + 1] = k
  end
  sort(keys, byte_less)
  local out = {}
  for i = 1, #keys do
    add_pairs(out, encode_string(keys[i]), query[keys[i]], 1)
  end
  return concat(out, "&")
end

--- Encodes a query table as "a=1&b=x%20y" (no leading "?"); "" when nothing is to be sent.
-- @tparam table query names to a string, number, boolean, a list (sent as a,b) or a table (deepObject:
--   filter[field][op]=value)
-- @treturn string the encoded query
-- @raise for a value with no query form
function _M.query(query)
  local q = encode_query(query)
  return q
end

--- Builds a request-target from an already encoded path (see segment/path) and a query table.
-- The path must start with "/" and hold only visible ASCII without "#": anything else means a raw
-- value was not encoded. A path that already has a query gets the new pairs after "&".
-- @tparam string path an encoded path
-- @tparam[opt] table query as uri.query takes it
-- @treturn string the request target
-- @raise for a path that is not encoded, or a query value with no query form
function _M.build(path, query)
  if type(path) ~= "string" then raise("uri.build: path must be a string, got " .. type(path)) end
  if find(path, "^/") == nil or find(path, "[%z\1-\32\127-\255#]") then
    raise("uri.build: path must start with '/' and be percent-encoded (no spaces, controls, '#' or "
      .. "non-ASCII bytes); encode values with uri.segment")
  end
  local q = encode_query(query)
  if q == "" then return path end
  return path .. (find(path, "?", 1, true) and "&" or "?") .. q
end

return _M
