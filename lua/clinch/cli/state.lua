--- Files for `candidates sync`: the state file, its lock, and the output file.
--
-- The state file is JSON, validated whole on load: a field of the wrong type or out of range is an
-- error of kind "state" (exit 2) that names the field, never a guess. It is written atomically and
-- durably: a temporary file beside it is written, flushed and fsync'd, renamed over the state file,
-- and the directory is fsync'd; a crash leaves the old state or the new one, never half of one.
-- Fields (version 2; see README "Incremental export"):
--   high_water      the end of the last complete window: where the next run starts (time)
--   max_updated_at  the newest updated_at exported (time)
--   runs            complete runs so far
--   output          { path, format, columns } of the last output written, to refuse appending to it in
--                   another format or with other columns
--   last_run        { gte, lt, exported, invalid_utf8, requests, out, finished_at } of the last complete run
--   run             an unfinished run: { gte, lt, cursor, width, out, format, columns, include, out_start,
--                   out_size, out_check, exported, invalid_utf8, requests, total }: [gte, cursor) of the
--                   window is in the output, which was out_size bytes long when the state was saved, and
--                   whose last 4 KiB before that had the fingerprint out_check (base64 SHA-256)
-- Times are the API's form, YYYY-MM-DDTHH:MM:SS (UTC); cursor is in epoch seconds.
--
-- Errors of the OS (a full disk, a missing directory) are of kind "io" (exit 1) and name the file and
-- the system's message.
local type, tostring, tonumber, ipairs, pairs, io, os, require, next, floor, concat, sort =
  type, tostring, tonumber, ipairs, pairs, io, os, require, next, math.floor, table.concat, table.sort
local core = require "clinch.core"
local errors = require "clinch.errors"

local _M = {}

_M.VERSION = 2

local function state_error(path, message)
  return nil, errors.new { kind = "state", message = "the state file " .. path .. " " .. message
    .. "; it was left as it is" }
end

local function io_error(message)
  return nil, errors.new { kind = "io", message = message }
end

--- The directory part of a path ("." for a bare name).
function _M.dir_of(path)
  local dir = path:match("^(.*)/[^/]*$")
  if dir == nil then return "." end
  if dir == "" then return "/" end
  return dir
end

-- Validation ---------------------------------------------------------------------------------------

local TIME = "^(%d%d%d%d)%-(%d%d)%-(%d%d)T(%d%d):(%d%d):(%d%d)$"

--- The epoch of an API time string, or nil when it is not one (a real calendar time, UTC).
function _M.epoch_of(s)
  if type(s) ~= "string" then return nil end
  local y, mo, d, h, mi, sec = s:match(TIME)
  if not y then return nil end
  local time = require "clinch.time"
  return time.epoch_utc(tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(sec))
end

local function is_int(v, min)
  return type(v) == "number" and v == floor(v) and v >= (min or 0) and v < 2 ^ 53
end

local function is_list_of_strings(v)
  if type(v) ~= "table" then return false end
  local n = 0
  for k in pairs(v) do
    n = n + 1
    if type(k) ~= "number" or type(v[k]) ~= "string" then return false end
  end
  return n == #v
end

-- What each field of a table must be: a checker returning true, or false and what was expected.
local function check_fields(t, where, spec, path)
  if type(t) ~= "table" or (next(t) ~= nil and t[1] ~= nil) then
    return state_error(path, "has " .. where .. " that is not a JSON object")
  end
  local names = {}
  for k in pairs(t) do names[#names + 1] = tostring(k) end
  sort(names)
  for _, k in ipairs(names) do
    if not spec[k] then return state_error(path, "has an unknown field " .. where .. "." .. k) end
  end
  for k, check in pairs(spec) do
    local v = t[k]
    if v == nil then
      if check.required then return state_error(path, "lacks the field " .. where .. "." .. k) end
    else
      local ok = check[1](v)
      if not ok then
        return state_error(path, "has " .. where .. "." .. k .. " = " .. require("clinch.text").one_line(
          require("cjson.safe").encode(v) or tostring(v)):sub(1, 80) .. ", which is not " .. check[2])
      end
    end
  end
  return t
end

local function time_field(v) return _M.epoch_of(v) ~= nil end
local function string_field(v) return type(v) == "string" and v ~= "" end
local function count_field(v) return is_int(v, 0) end
local function format_field(v) return v == "jsonl" or v == "csv" end

local A_TIME = "a time YYYY-MM-DDTHH:MM:SS (UTC)"
local A_COUNT = "a whole number of at least 0"

local OUTPUT = {
  path = { string_field, "a file name", required = true },
  format = { format_field, '"jsonl" or "csv"', required = true },
  columns = { is_list_of_strings, "a list of column names" },
}

local LAST_RUN = {
  gte = { time_field, A_TIME }, lt = { time_field, A_TIME }, exported = { count_field, A_COUNT },
  invalid_utf8 = { count_field, A_COUNT }, requests = { count_field, A_COUNT }, out = { string_field, "a file name" },
  finished_at = { time_field, A_TIME }, passes = { count_field, A_COUNT },
}

local RUN = {
  gte = { time_field, A_TIME, required = true }, lt = { time_field, A_TIME, required = true },
  cursor = { function(v) return type(v) == "number" and v == floor(v) and v > -2 ^ 53 and v < 2 ^ 53 end,
             "a time in epoch seconds", required = true },
  width = { function(v) return is_int(v, 1) end, "a whole number of seconds of at least 1", required = true },
  out = { string_field, "a file name", required = true },
  format = { format_field, '"jsonl" or "csv"', required = true },
  columns = { is_list_of_strings, "a list of column names" },
  include = { is_list_of_strings, "a list of include names" },
  out_start = { count_field, A_COUNT, required = true },
  out_size = { count_field, A_COUNT, required = true },
  exported = { count_field, A_COUNT, required = true },
  invalid_utf8 = { count_field, A_COUNT },
  requests = { count_field, A_COUNT },
  total = { count_field, A_COUNT },
  out_check = { string_field, "a fingerprint of the output" },
}

local TOP = {
  version = { function(v) return v == 1 or v == 2 end, "1 or 2 (a state file of this clinch)", required = true },
  high_water = { time_field, A_TIME }, max_updated_at = { time_field, A_TIME },
  runs = { count_field, A_COUNT }, output = { function() return true end, "" },
  last_run = { function() return true end, "" }, run = { function() return true end, "" },
}

-- Version 1 (the page-numbered layout of earlier releases): its unfinished run restarts its window from
-- the output's length at the run's start, which loses and duplicates nothing.
local RUN_V1 = {
  gte = { time_field, A_TIME, required = true }, lt = { time_field, A_TIME, required = true },
  page = { function(v) return is_int(v, 1) end, "a page number" }, pass = { count_field, A_COUNT },
  out = { string_field, "a file name", required = true },
  format = { format_field, '"jsonl" or "csv"', required = true },
  out_start = { count_field, A_COUNT, required = true }, out_size = { count_field, A_COUNT, required = true },
  exported = { count_field, A_COUNT }, total_start = { count_field, A_COUNT }, total_last = { count_field, A_COUNT },
  max_epoch = { function(v) return type(v) == "number" end, "a number" },
}

local LAST_RUN_V1 = {}
for k, v in pairs(LAST_RUN) do LAST_RUN_V1[k] = v end

--- Checks a decoded state table (see the module comment) -> the table (a version 1 one brought to
-- version 2), or nil, err of kind "state" naming the field.
function _M.validate(t, path)
  local ok, err = check_fields(t, "at the top level", TOP, path)
  if not ok then return nil, err end
  if t.output ~= nil then
    ok, err = check_fields(t.output, "in output", OUTPUT, path)
    if not ok then return nil, err end
    if t.output.format == "csv" and not t.output.columns then
      return state_error(path, "lacks the field output.columns (the CSV columns)")
    end
  end
  if t.last_run ~= nil then
    ok, err = check_fields(t.last_run, "in last_run", LAST_RUN_V1, path)
    if not ok then return nil, err end
  end
  local run = t.run
  if run ~= nil then
    if t.version == 1 then
      ok, err = check_fields(run, "in run", RUN_V1, path)
      if not ok then return nil, err end
      if run.out_size < run.out_start then
        return state_error(path, "has run.out_size below run.out_start")
      end
      t.run = { gte = run.gte, lt = run.lt, cursor = _M.epoch_of(run.gte), out = run.out, format = run.format,
                out_start = run.out_start, out_size = run.out_start, exported = 0 }
      t.run.width = _M.epoch_of(run.lt) - t.run.cursor
      if t.run.width < 1 then t.run.width = 1 end
      run = t.run
    else
      ok, err = check_fields(run, "in run", RUN, path)
      if not ok then return nil, err end
    end
    local gte, lt = _M.epoch_of(run.gte), _M.epoch_of(run.lt)
    if lt < gte then return state_error(path, "has run.lt before run.gte") end
    if run.cursor < gte or run.cursor > lt then
      return state_error(path, "has run.cursor outside the window [run.gte, run.lt]")
    end
    if run.out_size < run.out_start then return state_error(path, "has run.out_size below run.out_start") end
    if run.format == "csv" and not run.columns and t.version == 2 then
      return state_error(path, "lacks the field run.columns (the CSV columns)")
    end
  end
  t.version = _M.VERSION
  return t
end

-- The state file -----------------------------------------------------------------------------------

--- Reads and validates a state file -> table, false when it does not exist, or nil, err.
function _M.load(path)
  local f, oerr, code = io.open(path, "rb")
  if not f then
    if code == 2 then return false end -- ENOENT: the first run
    return io_error("cannot read the state file " .. path .. ": " .. tostring(oerr))
  end
  local text, rerr = f:read("a")
  f:close()
  if not text then return io_error("cannot read the state file " .. path .. ": " .. tostring(rerr)) end
  if text == "" then return state_error(path, "is empty (not written by clinch sync?)") end
  local t = require("cjson.safe").new().decode(text)
  if type(t) ~= "table" then return state_error(path, "is not valid JSON") end
  return _M.validate(t, path)
end

--- Writes a state table atomically and durably (see the module comment) -> true or nil, err.
function _M.save(path, t)
  local text, eerr = require("clinch.jsonapi").encode(t)
  if not text then return nil, eerr end
  local tmp = path .. ".tmp"
  local f, err = io.open(tmp, "wb")
  if not f then return io_error("cannot write the state file " .. tmp .. ": " .. tostring(err)) end
  local ok, werr = f:write(text, "\n")
  if ok then ok, werr = f:flush() end
  if ok then ok, werr = core.fsync(f) end
  local closed, cerr = f:close()
  if ok and not closed then ok, werr = nil, cerr end
  if not ok then
    os.remove(tmp)
    return io_error("cannot write the state file " .. tmp .. ": " .. tostring(werr))
  end
  local renamed, rerr = os.rename(tmp, path)
  if not renamed then
    os.remove(tmp)
    return io_error("cannot replace the state file " .. path .. ": " .. tostring(rerr))
  end
  local synced, serr = core.fsync(_M.dir_of(path))
  if not synced then return io_error("cannot write the state file " .. path .. ": " .. serr) end
  return true
end

--- Takes the lock of a state file (a file STATE.lock beside it, held for the run) -> lock, or nil,
-- err: of kind "busy" when another process holds it (unless `wait`: then it waits for it).
function _M.lock(path, wait)
  local lock_path = path .. ".lock"
  while true do
    local lock, err, pid = core.lock(lock_path)
    if lock then return lock end
    if err ~= "locked" then return io_error("cannot lock the state file: " .. err) end
    if not wait then
      return nil, errors.new { kind = "busy", pid = pid,
        message = "another sync holds " .. path .. (pid and " (pid " .. pid .. ")" or "")
          .. "; --wait waits for it to finish" }
    end
    core.sleep(0.1)
  end
end

-- The output file ----------------------------------------------------------------------------------

--- The size of a file in bytes, or nil when it does not exist.
function _M.size(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local n = f:seek("end")
  f:close()
  return n
end

--- Cuts the output back to `size` bytes, what the state last recorded (a run that stopped halfway may
-- have written more, which the resumed run writes again), and syncs it -> true or nil, err.
function _M.truncate(path, size, state_path)
  local current = _M.size(path)
  if current == nil then
    return nil, errors.new { kind = "state", message = ("the output file %s of the unfinished run in %s is "
      .. "missing; restore it, or remove the run from the state file to export its window again"):format(
        path, state_path) }
  end
  if current < size then
    return nil, errors.new { kind = "state", message = ("the output file %s is shorter (%d bytes) than the "
      .. "state file %s records (%d bytes): it was changed outside sync; nothing was changed"):format(
        path, current, state_path, size) }
  end
  if current == size then return true end
  local ok, err = core.truncate(path, size)
  if ok then ok, err = core.fsync(path) end
  if not ok then return io_error("cannot cut " .. path .. " back to " .. size .. " bytes: " .. err) end
  return true
end

--- The first line of a file (without its line end), whether it ends with a line end, and its size;
-- nil when it does not exist or is empty. Reads at most 1 MiB of the first line.
function _M.head(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local size = f:seek("end")
  if size == 0 then
    f:close()
    return nil
  end
  f:seek("set", 0)
  local chunk = f:read(1048576) or ""
  local line = chunk:match("^([^\n]*)\n")
  f:seek("set", size - 1)
  local last = f:read(1)
  f:close()
  if line then line = line:gsub("\r$", "") end
  return line, last == "\n", size
end

--- The part of a file from byte `from` (0-based) to byte `to` (exclusive); "" when unreadable.
function _M.read_range(path, from, to)
  local f = io.open(path, "rb")
  if not f then return "" end
  f:seek("set", from)
  local s = to > from and f:read(to - from) or ""
  f:close()
  return s or ""
end

_M.CHECK_BYTES = 4096

--- A fingerprint of the last CHECK_BYTES bytes of `text` (what precedes a recorded output length).
function _M.fingerprint(text)
  if #text > _M.CHECK_BYTES then text = text:sub(-_M.CHECK_BYTES) end
  return core.base64_encode(core.sha256(text))
end

--- The fingerprint of a file's bytes before byte `size`.
function _M.file_fingerprint(path, size)
  return _M.fingerprint(_M.read_range(path, size > _M.CHECK_BYTES and size - _M.CHECK_BYTES or 0, size))
end

--- Joins a list of names for a message.
function _M.names(list)
  return concat(list or {}, ",")
end

return _M
