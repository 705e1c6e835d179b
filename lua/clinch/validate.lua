--- Checks run on user input before a request is sent. Every check returns true (or the cleaned value) on
-- success and `nil, err` with a validation error (lua/clinch/errors.lua, kind "validation", `field` set
-- where one attribute is at fault) otherwise, so nothing malformed ever reaches the wire.
local type, pairs, ipairs, tostring, next, floor = type, pairs, ipairs, tostring, next, math.floor
local sort, concat, byte, find, format = table.sort, table.concat, string.byte, string.find, string.format
local utf8_len = rawget(_G, "utf8") and utf8.len -- Lua 5.3+; LuaJIT uses the loop in _M.utf8
local errors = require "clinch.errors"

local _M = {}

--- Returns nil and a validation error.
function _M.fail(message, field)
  return nil, errors.new { kind = "validation", message = message, field = field, sent = false }
end
local fail = _M.fail

--- The sorted keys of a set-like or the values of a list, joined for messages.
local function listing(names)
  local copy = {}
  for i, n in ipairs(names) do copy[i] = n end
  sort(copy)
  return concat(copy, ", ")
end
_M.listing = listing

--- True when `s` is valid UTF-8 (cjson passes invalid bytes through, and the server may reject or
-- mangle them). Overlong forms, surrogates and code points above U+10FFFF are rejected.
function _M.utf8(s)
  if not find(s, "[\128-\255]") then return true end
  if utf8_len then return utf8_len(s) ~= nil end -- Lua 5.3+: strict, as below
  local i, n = 1, #s
  while i <= n do
    local c = byte(s, i)
    if c < 0x80 then
      i = i + 1
    else
      local len, min, cp
      if c >= 0xC2 and c <= 0xDF then len, min, cp = 2, 0x80, c - 0xC0
      elseif c >= 0xE0 and c <= 0xEF then len, min, cp = 3, 0x800, c - 0xE0
      elseif c >= 0xF0 and c <= 0xF4 then len, min, cp = 4, 0x10000, c - 0xF0
      else return false end
      if i + len - 1 > n then return false end
      for j = i + 1, i + len - 1 do
        local cc = byte(s, j)
        if cc < 0x80 or cc > 0xBF then return false end
        cp = cp * 64 + (cc - 0x80)
      end
      if cp < min or cp > 0x10FFFF or (cp >= 0xD800 and cp <= 0xDFFF) then return false end
      i = i + len
    end
  end
  return true
end

--- True when `t` is a proper list: only the keys 1..n (an empty table counts as an empty list).
function _M.is_list(t)
  if type(t) ~= "table" then return false end
  local n = #t
  local count = 0
  for k in pairs(t) do
    if type(k) ~= "number" or k < 1 or k > n or k ~= floor(k) then return false end
    count = count + 1
  end
  return count == n
end

-- Characters an unquoted local part may hold (RFC 5322 atext plus dots; bytes >= 0x80 for RFC 6531).
local LOCAL_CHARS = "^[%w!#%$%%&'%*%+/=%?%^_`{|}~%.%-\128-\255]+$"
local LABEL_CHARS = "^[%w%-\128-\255]+$"

--- Whether `s` is a plausible email address: one @, a dot-atom local part of at most 64 bytes and a
-- domain of at least two DNS labels, at most 254 bytes in all, valid UTF-8, no spaces. Quoted local
-- parts and address literals are refused: they are legal but never what a candidate record means.
-- Returns true, or nil and the reason.
function _M.email(s)
  if type(s) ~= "string" then return nil, "must be a string" end
  if s == "" then return nil, "must not be empty" end
  if #s > 254 then return nil, "is longer than 254 bytes" end
  if not _M.utf8(s) then return nil, "is not valid UTF-8" end
  if s:find("[%s%c]") then return nil, "must not contain spaces or control characters" end
  local at = s:find("@", 1, true)
  if not at then return nil, "has no @" end
  if s:find("@", at + 1, true) then return nil, "has more than one @" end
  local loc, domain = s:sub(1, at - 1), s:sub(at + 1)
  if loc == "" then return nil, "has nothing before the @" end
  if #loc > 64 then return nil, "has a local part longer than 64 bytes" end
  if not loc:find(LOCAL_CHARS) then return nil, "has a character not allowed before the @" end
  if loc:find("^%.") or loc:find("%.$") or loc:find("..", 1, true) then
    return nil, "has a misplaced dot before the @"
  end
  if domain == "" then return nil, "has no domain" end
  local labels = {}
  for label in (domain .. "."):gmatch("([^.]*)%.") do labels[#labels + 1] = label end
  if #labels < 2 then return nil, "has a domain without a dot" end
  for _, label in ipairs(labels) do
    if label == "" then return nil, "has an empty domain label" end
    if #label > 63 then return nil, "has a domain label longer than 63 bytes" end
    if not label:find(LABEL_CHARS) or label:find("^%-") or label:find("%-$") then
      return nil, "has an invalid domain label " .. format("%q", label)
    end
  end
  if labels[#labels]:find("^%d+$") then return nil, "has a numeric top-level domain" end
  return true
end

--- Checks one value against an attribute schema ({type=, items=, format=}); returns true or nil, reason.
local function check_value(value, spec)
  if spec.type == "string" then
    if type(value) ~= "string" then return nil, "must be a string, got " .. type(value) end
    if spec.format == "email" then
      local ok, why = _M.email(value)
      if not ok then return nil, "is not a plausible email address (" .. why .. ")" end
    end
    if not _M.utf8(value) then return nil, "is not valid UTF-8" end
    if spec.nonblank and value:match("^%s*$") then return nil, "must not be blank" end
  elseif spec.type == "array" then
    if not _M.is_list(value) then return nil, "must be a list, got " .. type(value) end
    if spec.items then
      for i, item in ipairs(value) do
        local ok, why = check_value(item, { type = spec.items, nonblank = spec.nonblank_items })
        if not ok then return nil, "item " .. i .. " " .. why end
      end
    end
  end
  return true
end

--- Checks a table of request attributes against one of schema.requests: names known (unless
-- opts.allow_unknown), value types, required attributes present. `what` names the operation in messages.
-- Returns true or nil, err.
function _M.attributes(attrs, request, what, opts)
  local allow_unknown = opts and opts.allow_unknown
  local known = {}
  for name in pairs(request.attributes) do known[#known + 1] = name end
  -- Sorted so that the first offending name is the same on every run.
  local names = {}
  for name in pairs(attrs) do
    if type(name) ~= "string" then
      return fail(what .. ": attribute names must be strings, got " .. type(name) .. " " .. tostring(name))
    end
    names[#names + 1] = name
  end
  sort(names)
  for _, name in ipairs(names) do
    local spec = request.attributes[name]
    if spec then
      local ok, why = check_value(attrs[name], spec)
      if not ok then return fail(what .. ": attribute '" .. name .. "' " .. why, name) end
    elseif not allow_unknown then
      return fail(what .. ": unknown attribute '" .. name .. "'; valid attributes: " .. listing(known)
        .. " (allow_unknown = true sends it anyway)", name)
    end
  end
  for _, name in ipairs(request.required) do
    if attrs[name] == nil then return fail(what .. ": attribute '" .. name .. "' is required", name) end
  end
  return true
end

--- Normalises an `include` option (a list of names, or one string of comma-separated names) to a list,
-- checking each name against `valid` (a list) when given. Returns the list or nil, err.
function _M.include(include, valid)
  local list = {}
  if type(include) == "string" then
    for name in include:gmatch("[^,]+") do list[#list + 1] = name end
  elseif _M.is_list(include) then
    for i, name in ipairs(include) do
      if type(name) ~= "string" then
        return fail("include: item " .. i .. " must be a string, got " .. type(name), "include")
      end
      list[i] = name
    end
  else
    return fail("include must be a list of names, got " .. type(include), "include")
  end
  local set = {}
  if valid then
    for _, name in ipairs(valid) do set[name] = true end
  end
  for _, name in ipairs(list) do
    if name == "" or name:find("[,%s%c]") then
      return fail("include: invalid name " .. format("%q", name), "include")
    end
    if valid and not set[name] then
      return fail("include: unknown name '" .. name .. "'; valid names: " .. listing(valid), "include")
    end
  end
  return list
end

--- True when `t` has no entries.
function _M.empty(t)
  return next(t) == nil
end

return _M
