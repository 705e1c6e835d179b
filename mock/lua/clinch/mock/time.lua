--- Time helpers for the mock: the API's DateTime objects, its filter timestamps and HTTP dates, all in
-- UTC arithmetic so that the host's time zone never changes what the mock serves.
local os_date, os_time, floor, tonumber = os.date, os.time, math.floor, tonumber

local _M = {}

-- The account's local time zone in DateTime.local: a fixed UTC-05:00 (no daylight saving, on purpose).
_M.local_offset = -5 * 3600
local LOCAL_SUFFIX = "-05:00"

--- Seconds since the epoch, as an integer.
function _M.now()
  return floor(os_time())
end

--- Days from 1970-01-01 to a civil date (proleptic Gregorian; H. Hinnant's algorithm).
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local DAYS_IN_MONTH = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

--- Parses the API's filter time `YYYY-MM-DDTHH:MM:SS` (UTC; a trailing `Z` or `+00:00` is also
-- accepted). Returns epoch seconds or nil.
function _M.parse_api_time(s)
  local y, mo, d, h, mi, sec, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)T(%d%d):(%d%d):(%d%d)(.*)$")
  if not y or not (rest == "" or rest == "Z" or rest == "+00:00") then return nil end
  y, mo, d, h, mi, sec = tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(sec)
  if mo < 1 or mo > 12 or d < 1 or d > DAYS_IN_MONTH[mo] or h > 23 or mi > 59 or sec > 59 then return nil end
  if mo == 2 and d == 29 and not (y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)) then return nil end
  return floor(days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec)
end

--- `YYYY-MM-DDTHH:MM:SSZ` for an epoch.
function _M.utc(t)
  return os_date("!%Y-%m-%dT%H:%M:%SZ", t)
end

--- An HTTP-date (`Sun, 06 Nov 1994 08:49:37 GMT`); os.date uses the C locale unless a host
-- program changed it.
function _M.http_date(t)
  return os_date("!%a, %d %b %Y %H:%M:%S GMT", t or os_time())
end

local function plural(n, unit)
  return n .. " " .. unit .. (n == 1 and "" or "s")
end

--- Words for the distance between two times, in the manner of Rails' time_ago_in_words.
function _M.ago(t, now)
  local s = now - t
  local suffix = " ago"
  if s < 0 then s, suffix = -s, " from now" end
  local m = floor(s / 60 + 0.5)
  local text
  if m < 1 then text = "less than a minute"
  elseif m < 45 then text = plural(m, "minute")
  elseif m < 90 then text = "about 1 hour"
  elseif m < 1440 then text = "about " .. plural(floor(m / 60 + 0.5), "hour")
  elseif m < 2520 then text = "1 day"
  elseif m < 43200 then text = plural(floor(m / 1440 + 0.5), "day")
  elseif m < 86400 then text = "about 1 month"
  elseif m < 525600 then text = plural(floor(m / 43200 + 0.5), "month")
  else
    local years = floor(m / 525600)
    local rem = m - years * 525600
    if rem < 131400 then text = "about " .. plural(years, "year")
    elseif rem < 394200 then text = "over " .. plural(years, "year")
    else text = "almost " .. plural(years + 1, "year") end
  end
  return text .. suffix
end

-- Formatted times by epoch: pages render the same few thousand times again and again.
local utc_cache, local_cache, cached = {}, {}, 0

--- The API's DateTime object for an epoch: { utc, epoch, ago, local, local_epoch }.
function _M.datetime(t, now)
  local local_epoch = t + _M.local_offset
  local utc = utc_cache[t]
  if not utc then
    if cached > 100000 then utc_cache, local_cache, cached = {}, {}, 0 end
    utc = os_date("!%Y-%m-%dT%H:%M:%SZ", t)
    utc_cache[t], local_cache[t], cached = utc, os_date("!%Y-%m-%dT%H:%M:%S", local_epoch) .. LOCAL_SUFFIX, cached + 1
  end
  return { utc = utc, epoch = t, ago = _M.ago(t, now or os_time()), ["local"] = local_cache[t],
    local_epoch = local_epoch }
end

--- `2021-01-01T13:00:17` (the filter format) for an epoch.
function _M.api_time(t)
  return os_date("!%Y-%m-%dT%H:%M:%S", t)
end

return _M
