--- Text from the network made safe to show: one line, valid UTF-8, nothing a terminal would act on
-- (one_line), or only made valid UTF-8 (valid), for output files that must hold well-formed text.
-- A server's message (or a candidate's self-chosen name) may hold line breaks that fake a second
-- log line, escape sequences, or Unicode bidi controls (U+202E and friends) that make a line read
-- differently from what it holds.
local byte, find, format, sub = string.byte, string.find, string.format, string.sub
local tostring, tonumber, type = tostring, tonumber, type
local concat = table.concat
local raise = require("clinch.check").raise -- programming mistakes, at the user's line
local floor, huge = math.floor, math.huge
local math_type = math.type -- nil on LuaJIT: every number is a float there

local _M = {}

_M.REPLACEMENT = "\239\191\189" -- U+FFFD

-- Invisible formatting characters that reorder or break a line: U+061C, U+200E, U+200F,
-- U+2028-U+202E (line and paragraph separators, bidi embeddings and overrides), U+2066-U+2069
-- (bidi isolates). Keys are their UTF-8 bytes.
local FORMAT = {
  ["\216\156"] = true, ["\226\128\142"] = true, ["\226\128\143"] = true,
  ["\226\128\168"] = true, ["\226\128\169"] = true, ["\226\128\170"] = true, ["\226\128\171"] = true,
  ["\226\128\172"] = true, ["\226\128\173"] = true, ["\226\128\174"] = true,
  ["\226\129\166"] = true, ["\226\129\167"] = true, ["\226\129\168"] = true, ["\226\129\169"] = true,
}

-- The length of the valid UTF-8 sequence starting at byte i of s, or nil (overlong forms, surrogates
-- and code points above U+10FFFF are not valid).
local function sequence(s, i)
  local c = byte(s, i)
  local len, lo, hi
  lo, hi = 0x80, 0xBF
  if c >= 0xC2 and c <= 0xDF then len = 2
  elseif c >= 0xE0 and c <= 0xEF then
    len = 3
    if c == 0xE0 then lo = 0xA0 elseif c == 0xED then hi = 0x9F end
  elseif c >= 0xF0 and c <= 0xF4 then
    len = 4
    if c == 0xF0 then lo = 0x90 elseif c == 0xF4 then hi = 0x8F end
  else
    return nil
  end
  local c2 = byte(s, i + 1)
  if not c2 or c2 < lo or c2 > hi then return nil end
  for j = i + 2, i + len - 1 do
    local cc = byte(s, j)
    if not cc or cc < 0x80 or cc > 0xBF then return nil end
  end
  return len
end

--- The string `s` with what a terminal could act on among its non-ASCII bytes written as Lua escapes:
-- C1 controls and the invisible formatting characters above as \u{XXXX}, ill-formed bytes as \xNN;
-- every other character stays (ASCII controls are the caller's to escape). For text shown quoted (the
-- REPL's), where one_line's U+FFFD would hide what the bytes were.
function _M.escape_unsafe(s)
  if not find(s, "[\128-\255]") then return s end
  local out, n, i, from = {}, 0, 1, 1
  while true do
    local j = find(s, "[\128-\255]", i)
    if not j then break end
    local k, rep = sequence(s, j), nil
    if not k then
      k, rep = 1, format("\\x%02X", byte(s, j))
    else
      local b1, b2 = byte(s, j, j + 1)
      if k == 2 and b1 == 0xC2 and b2 <= 0x9F then
        rep = format("\\u{%X}", b2)
      elseif FORMAT[sub(s, j, j + k - 1)] then
        local b3 = byte(s, j + 2) or 0x80
        local cp = k == 2 and (b1 % 32) * 64 + b2 % 64 or (b1 % 16) * 4096 + (b2 % 64) * 64 + b3 % 64
        rep = format("\\u{%X}", cp)
      end
    end
    if rep then
      out[n + 1], out[n + 2], n = sub(s, from, j - 1), rep, n + 2
      from = j + k
    end
    i = j + k
  end
  out[n + 1] = sub(s, from)
  return concat(out)
end

--- `s` (any value, through tostring) as one line of valid UTF-8: ASCII control characters (CR, LF,
-- tab, ESC...) become spaces; C1 controls, bidi and line-separator characters and invalid bytes
-- become U+FFFD, so that tampering shows instead of acting.
function _M.one_line(s)
  s = tostring(s)
  if not find(s, "[%c\128-\255]") then return s end
  local out, n, i, len = {}, 0, 1, #s
  while i <= len do
    local j = find(s, "[%c\128-\255]", i)
    if not j then
      n = n + 1
      out[n] = sub(s, i)
      break
    end
    if j > i then
      n = n + 1
      out[n] = sub(s, i, j - 1)
    end
    local c = byte(s, j)
    n = n + 1
    if c < 0x80 then
      out[n], i = " ", j + 1
    else
      local k = sequence(s, j)
      if not k then
        out[n], i = _M.REPLACEMENT, j + 1
      else
        local seq = sub(s, j, j + k - 1)
        -- C1 controls are U+0080-U+009F: C2 80 to C2 9F
        if FORMAT[seq] or (k == 2 and c == 0xC2 and byte(s, j + 1) <= 0x9F) then seq = _M.REPLACEMENT end
        out[n], i = seq, j + k
      end
    end
  end
  return concat(out, "", 1, n)
end

--- The one text form of a number, for query values, JSON bodies, CSV cells and the pretty printer:
-- integers digit for digit (Lua 5.3+ integers, and integral floats below 1e21, which "%.0f" writes
-- exactly: lua-cjson would round them to 14 digits), other floats in 15 significant digits, or 16 or
-- 17 where 15 would not read back as the same number (1e300 is "1e+300", 0.1 + 0.2 is
-- "0.30000000000000004"); -0.0 is "0". NaN and the infinities have no text form: nil and a message.
function _M.number(n)
  if type(n) ~= "number" then return nil, "expected a number, got " .. type(n) end
  if math_type and math_type(n) == "integer" then return format("%d", n) end
  if n ~= n then return nil, "NaN has no text form" end
  if n == huge or n == -huge then return nil, "an infinite number has no text form" end
  if n == floor(n) and n > -1e21 and n < 1e21 then
    if n == 0 then return "0" end
    return format("%.0f", n)
  end
  for digits = 15, 16 do
    local s = format("%." .. digits .. "g", n)
    if tonumber(s) == n then return s end
  end
  return format("%.17g", n)
end

-- The length of the ill-formed sequence at byte i of s (where sequence() found none): its maximal
-- subpart, the lead byte and the continuation bytes that could still have belonged to it (Unicode 3.9
-- "U+FFFD substitution of maximal subparts", as browsers and Python's "replace" do). At least 1.
local function ill_formed(s, i)
  local c = byte(s, i)
  local len, lo, hi = 0, 0x80, 0xBF
  if c >= 0xC2 and c <= 0xDF then len = 2
  elseif c >= 0xE0 and c <= 0xEF then
    len = 3
    if c == 0xE0 then lo = 0xA0 elseif c == 0xED then hi = 0x9F end
  elseif c >= 0xF0 and c <= 0xF4 then
    len = 4
    if c == 0xF0 then lo = 0x90 elseif c == 0xF4 then hi = 0x8F end
  end
  local n = 1
  while n < len do
    local cc = byte(s, i + n)
    if not cc or cc < lo or cc > hi then break end
    n, lo, hi = n + 1, 0x80, 0xBF
  end
  return n
end

--- A valid UTF-8 copy of the string `s` and the number of ill-formed sequences in it, each replaced
-- by U+FFFD (its maximal subpart: a truncated sequence is one replacement, each stray byte one).
-- Nothing else changes: control characters and every valid character stay. Returns `s` itself and 0
-- when it is valid, which costs one scan when it holds no byte >= 0x80.
function _M.valid(s)
  if type(s) ~= "string" then raise("text.valid expects a string, got " .. type(s)) end
  if not find(s, "[\128-\255]") then return s, 0 end
  local out, n, bad, i, len = {}, 0, 0, 1, #s
  local from = 1 -- start of the run of good bytes not yet copied
  while i <= len do
    local j = find(s, "[\128-\255]", i)
    if not j then break end
    local k = sequence(s, j)
    if k then
      i = j + k
    else
      if j > from then
        n = n + 1
        out[n] = sub(s, from, j - 1)
      end
      n = n + 1
      out[n] = _M.REPLACEMENT
      bad = bad + 1
      i = j + ill_formed(s, j)
      from = i
    end
  end
  if bad == 0 then return s, 0 end
  if from <= len then
    n = n + 1
    out[n] = sub(s, from)
  end
  return concat(out, "", 1, n), bad
end

return _M
