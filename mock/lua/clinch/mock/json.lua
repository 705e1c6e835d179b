--- JSON for the mock server: a private lua-cjson instance (so callers' cjson settings never change ours)
-- plus what Debian's cjson 2.1.0 lacks: a way to write an empty array as `[]`.
local cjson = require "cjson"
local type, pcall, tostring = type, pcall, tostring
local find, sub, concat = string.find, string.sub, table.concat

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

-- Replaces every occurrence of `from` (plain text) with `to`. string.find's plain search runs in C,
-- which makes this several times faster than gsub over a large document.
local function replace(text, from, to)
  local i = find(text, from, 1, true)
  if not i then return text end
  local parts, n, pos, len = {}, 0, 1, #from
  while i do
    parts[n + 1], parts[n + 2] = sub(text, pos, i - 1), to
    n, pos = n + 2, i + len
    i = find(text, from, pos, true)
  end
  parts[n + 1] = sub(text, pos)
  return concat(parts)
end

--- Encodes a value. (Slashes stay escaped as "\/", as cjson writes them: valid JSON, and undoing it
-- would cost more than the encoding itself on a large page.)
function _M.encode(value)
  return replace(codec.encode(value), EMPTY_JSON, "[]")
end

--- Decodes text; returns value or nil, message (never raises).
function _M.decode(text)
  if type(text) ~= "string" then return nil, "not a string" end
  local ok, value = pcall(codec.decode, text)
  if not ok then return nil, tostring(value) end
  return value
end

return _M
