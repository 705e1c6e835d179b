--- JSON for the mock server: a private lua-cjson instance (so callers' cjson settings never change ours)
-- plus what Debian's cjson 2.1.0 lacks: a way to write an empty array as `[]` and unescaped slashes.
local cjson = require "cjson"
local type, pcall, tostring = type, pcall, tostring

local _M = {}

local codec = cjson.new()
codec.encode_sparse_array(false, 2, 10)
_M.null = codec.null

-- cjson writes every empty table as {}. Lists that may be empty are given this marker instead (see
-- `array`); encode turns its quoted form into []. The odd characters keep it apart from real data.
local EMPTY = "\1clinch-mock:empty-array\1"
local EMPTY_JSON = codec.encode(EMPTY)
_M.empty_array = EMPTY

--- Returns `list`, or the empty-array marker when it has no elements.
function _M.array(list)
  if list == nil or list[1] == nil then return EMPTY end
  return list
end

--- Encodes a value. Slashes come out unescaped: cjson escapes every "/" as "\/", and since it never
-- writes a bare "/", each "\/" in its output is such an escape.
function _M.encode(value)
  local text = codec.encode(value)
  if text:find(EMPTY_JSON, 1, true) then
    text = text:gsub("\"\\u0001clinch%-mock:empty%-array\\u0001\"", "[]")
  end
  if text:find("\\/", 1, true) then text = text:gsub("\\/", "/") end
  return text
end

--- Decodes text; returns value or nil, message (never raises).
function _M.decode(text)
  if type(text) ~= "string" then return nil, "not a string" end
  local ok, value = pcall(codec.decode, text)
  if not ok then return nil, tostring(value) end
  return value
end

return _M
