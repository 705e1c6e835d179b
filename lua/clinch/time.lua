--- API times. Filters take times in the form YYYY-MM-DDTHH:MM:SS, meaning UTC (the seed's examples, e.g.
-- `filter[updated_at][gte]=2021-01-01T13:00:17`). `time.format` turns the ways a Lua program holds a time
-- into that form:
--   * a string: YYYY-MM-DDTHH:MM:SS or YYYY-MM-DD (UTC), optionally with fractional seconds (dropped) and
--     a zone: Z or +HH:MM / -HH:MM (converted to UTC);
--   * a number: seconds since the Unix epoch (fractions dropped, i.e. rounded down);
--   * a DateTime attribute of a decoded resource (a table with a numeric `epoch`), e.g. cand.updated_at;
--   * a date table ({year=, month=, day=, hour=, min=, sec=}) read as LOCAL time, exactly as os.time
--     reads it: os.date("*t") round-trips, and a zone's daylight-saving rules apply. Missing hour, min and
--     sec mean 0 (not os.time's noon). For a UTC wall-clock time, pass a string or an epoch number instead:
--     os.date("!*t") is a UTC table that Lua cannot tell apart from a local one.
-- The calendar arithmetic is done here (proleptic Gregorian), not by the C library, so the UTC results
-- do not depend on the platform's time_t or time zone.
local type, tonumber, tostring, floor, format = type, tonumber, tostring, math.floor, string.format
local os_time, pairs, ipairs, pcall = os.time, pairs, ipairs, pcall
local errors = require "clinch.errors"

local _M = {}

local function is_leap(y)
  return y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)
end

local month_days = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

local function days_in_month(y, m)
  if m == 2 and is_leap(y) then return 29 end
  return month_days[m]
end

-- Days since 1970-01-01 of a civil date (H. Hinnant's days_from_civil).
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = m > 2 and m - 3 or m + 9
  local doy = floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

-- The civil date of a day count since 1970-01-01 (civil_from_days).
local function civil_from_days(z)
  z = z + 719468
  local era = floor(z / 146097)
  local doe = z - era * 146097
  local yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524) - floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100))
  local mp = floor((5 * doy + 2) / 153)
  local d = doy - floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  return y, m, d
end

local function invalid(message)
  return nil, errors.new { kind = "validation", message = message, sent = false }
end

--- Seconds since the epoch of a UTC civil time; fields are checked (returns nil, message when invalid).
function _M.epoch_utc(y, mo, d, h, mi, s)
  h, mi, s = h or 0, mi or 0, s or 0
  if y < 1 or y > 9999 or mo < 1 or mo > 12 or d < 1 or d > days_in_month(y, mo)
    or h < 0 or h > 23 or mi < 0 or mi > 59 or s < 0 or s > 59 then
    return nil, "date or time field out of range"
  end
  return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s
end

--- The API form (YYYY-MM-DDTHH:MM:SS, UTC) of an epoch number.
function _M.format_epoch(epoch)
  local secs = floor(epoch)
  local days = floor(secs / 86400)
  local rem = secs - days * 86400
  local y, m, d = civil_from_days(days)
  return format("%04d-%02d-%02dT%02d:%02d:%02d", y, m, d,
    floor(rem / 3600), floor(rem % 3600 / 60), rem % 60)
end

-- Smallest and largest epochs whose year has four digits (0001-01-01 .. 9999-12-31T23:59:59).
local MIN_EPOCH = -62135596800
local MAX_EPOCH = 253402300799

local function from_string(s)
  local y, mo, d, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$")
  if not y then return nil end
  local h, mi, sec = 0, 0, 0
  local offset = 0
  if rest ~= "" then
    local hh, mm, ss, tail = rest:match("^[Tt ](%d%d):(%d%d):(%d%d)(.*)$")
    if not hh then return nil end
    h, mi, sec = tonumber(hh), tonumber(mm), tonumber(ss)
    tail = tail:gsub("^%.%d+", "", 1)
    if tail == "Z" or tail == "z" then
      offset = 0
    elseif tail ~= "" then
      local sign, oh, om = tail:match("^([+-])(%d%d):?(%d%d)$")
      if not sign then return nil end
      oh, om = tonumber(oh), tonumber(om)
      if oh > 23 or om > 59 then return nil end
      offset = (oh * 3600 + om * 60) * (sign == "-" and -1 or 1)
    end
  end
  local epoch = _M.epoch_utc(tonumber(y), tonumber(mo), tonumber(d), h, mi, sec)
  if not epoch then return nil end
  return epoch - offset
end

local function from_date_table(t)
  local copy = {}
  for k, v in pairs(t) do copy[k] = v end
  for _, k in ipairs { "year", "month", "day", "hour", "min", "sec" } do
    local v = copy[k]
    if v == nil and (k == "hour" or k == "min" or k == "sec") then
      v = 0
      copy[k] = 0
    end
    if type(v) ~= "number" or v ~= floor(v) then
      return nil, "date table field '" .. k .. "' must be an integer"
    end
  end
  local ok, epoch = pcall(os_time, copy)
  if not ok or type(epoch) ~= "number" then
    return nil, "date table is not a representable local time"
  end
  return epoch
end

--- Converts a time value (see the module comment) to the API form. Returns the string, or nil and a
-- validation error.
function _M.format(v)
  local epoch, why
  local tv = type(v)
  if tv == "string" then
    epoch = from_string(v)
    if not epoch then
      return invalid("invalid time " .. format("%q", v)
        .. ": expected YYYY-MM-DDTHH:MM:SS (UTC), an epoch number or a date table")
    end
  elseif tv == "number" then
    if v ~= v or v == 1 / 0 or v == -1 / 0 then return invalid("invalid time: " .. tostring(v)) end
    epoch = v
  elseif tv == "table" then
    if type(v.epoch) == "number" then
      epoch = v.epoch
    else
      epoch, why = from_date_table(v)
      if not epoch then return invalid("invalid time: " .. why) end
    end
  else
    return invalid("invalid time: expected a string, an epoch number or a date table, got " .. tv)
  end
  epoch = floor(epoch)
  if epoch < MIN_EPOCH or epoch > MAX_EPOCH then
    return invalid("time out of range (years 1 to 9999): " .. tostring(v))
  end
  return _M.format_epoch(epoch)
end

return _M
