--- Files for `candidates sync`: the JSON state file (written whole to a temporary file and renamed over
-- the old one, so a crash leaves either the old or the new state, never half of one) and the output
-- file, which may have to be cut back to the length the state last recorded.
local type, tostring, assert, io, os, require = type, tostring, assert, io, os, require
local errors = require "clinch.errors"

local _M = {}

local function state_error(message)
  return nil, errors.new { kind = "usage", message = message }
end

--- Reads a state file -> table, false when it does not exist, or nil, err.
function _M.load(path)
  local f = io.open(path, "rb")
  if not f then return false end
  local text = f:read("a")
  f:close()
  if text:match("^%s*$") then return false end
  local decode = require("cjson.safe").new().decode
  local t = decode(text)
  if type(t) ~= "table" then return state_error("the state file " .. path .. " is not valid JSON") end
  if t.version ~= 1 then return state_error("the state file " .. path .. " has an unknown version") end
  return t
end

--- Writes a state table atomically -> true or nil, err.
function _M.save(path, t)
  local text, eerr = require("clinch.jsonapi").encode(t)
  if not text then return nil, eerr end
  local tmp = path .. ".tmp"
  local f, err = io.open(tmp, "wb")
  if not f then return state_error("cannot write the state file: " .. tostring(err)) end
  local ok, werr = f:write(text, "\n")
  if ok then ok, werr = f:flush() end
  f:close()
  if not ok then
    os.remove(tmp)
    return state_error("cannot write the state file: " .. tostring(werr))
  end
  local renamed, rerr = os.rename(tmp, path)
  if not renamed then return state_error("cannot replace the state file: " .. tostring(rerr)) end
  return true
end

--- The size of a file in bytes, or nil when it does not exist.
function _M.size(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local n = f:seek("end")
  f:close()
  return n
end

--- Cuts a file back to `size` bytes (bytes written after the last recorded state, by a run that
-- stopped halfway). Plain Lua cannot truncate, so the kept part is copied and renamed over the file.
function _M.truncate(path, size)
  local current = _M.size(path)
  if current == nil then return state_error("the output file " .. path .. " is missing") end
  if current < size then
    return state_error(("the output file %s is shorter (%d bytes) than the state file records (%d bytes): "
      .. "it was changed outside sync"):format(path, current, size))
  end
  if current == size then return true end
  local src = assert(io.open(path, "rb"))
  local tmp = path .. ".tmp"
  local dst, err = io.open(tmp, "wb")
  if not dst then
    src:close()
    return state_error("cannot write " .. tmp .. ": " .. tostring(err))
  end
  local left = size
  while left > 0 do
    local chunk = src:read(left < 65536 and left or 65536)
    if not chunk then break end
    dst:write(chunk)
    left = left - #chunk
  end
  src:close()
  dst:close()
  local ok, rerr = os.rename(tmp, path)
  if not ok then return state_error("cannot replace " .. path .. ": " .. tostring(rerr)) end
  return true
end

--- The part of a file from byte `from` (0-based) to byte `to` (exclusive).
function _M.read_range(path, from, to)
  local f = io.open(path, "rb")
  if not f then return "" end
  f:seek("set", from)
  local s = f:read(to - from) or ""
  f:close()
  return s
end

return _M
