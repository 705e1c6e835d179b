--- `clinch candidates sync`: incremental export of changed candidates.
--
-- Each run exports one window of `updated_at`, [gte, lt): gte is the state file's high-water mark (or
-- --since on the first run) and lt is the server's clock at the start of the run (its Date header)
-- minus --lag. The records are appended to --out, and when the window is done its lt becomes the new
-- high-water mark, so consecutive windows neither overlap nor leave gaps: a record changed during a
-- run has an updated_at at or after lt and is exported by the next run.
--
-- Within a window records can only leave (a change moves updated_at past lt), never arrive. With page
-- numbers, a record leaving the window shifts later records onto earlier pages, and one could be
-- skipped; so when the API's total count for the window shrank during a pass (or the API gives no
-- total), the window is walked again, and ids already written in this run are never written twice.
--
-- Crash safety: after each page is appended and flushed, the state file (written atomically) records
-- the run in progress: its window, the next page, and the output file's length. A run that stopped
-- halfway is resumed by the next invocation: the output file is cut back to the recorded length (so a
-- page written but not recorded is not duplicated), the ids written so far are read back from it, and
-- the walk continues from the recorded page.
local type, ipairs, tostring, require, error = type, ipairs, tostring, require, error
local floor, concat, io = math.floor, table.concat, io
local core = require "clinch.core"
local csv = require "clinch.cli.csv"
local errors = require "clinch.errors"
local output = require "clinch.cli.output"
local progress = require "clinch.cli.progress"
local state = require "clinch.cli.state"
local time = require "clinch.time"

local _M = {}

_M.MAX_PASSES = 5
_M.BEGINNING = "1970-01-01T00:00:00"

_M.OPTIONS = {
  { "since", arg = "TIME", help = "where the first run starts (UTC, YYYY-MM-DD[THH:MM:SS]; default: the beginning); "
    .. "later runs continue from the state file" },
  { "state", arg = "FILE", help = "state file: the high-water mark and any unfinished run (required)" },
  { "out", arg = "FILE", help = "file the changed candidates are appended to (required): JSON Lines, or CSV "
    .. "with --format csv or a .csv name" },
  { "per-page", arg = "N", type = "integer", help = "candidates per request (default 100)" },
  { "lag", arg = "SECONDS", type = "number", help = "leave changes younger than this to the next run "
    .. "(default 0; raise it if the API's writes become visible late)" },
  { "include", arg = "NAME[,NAME]", multi = true, help = "related resources to include in each record" },
  { "columns", arg = "A,B,...", help = "CSV columns (must include id)" },
}

local function usage(message)
  return nil, errors.new { kind = "usage", message = message }
end

local function io_error(message)
  return nil, errors.new { kind = "io", message = message }
end

-- The server's clock (its Date header) from a cheap request, or the local clock without one.
local function server_now(client)
  local res, err = client:request("GET", "/candidates", { query = { per_page = "1" } })
  if not res then return nil, err end
  local date = res.headers and res.headers.date
  return (date and core.parse_httpdate(date)) or core.now()
end

-- Ids of the records in a part of the output file (written by this run before a restart).
local function ids_in(path, from, to, format)
  local ids = {}
  if to <= from then return ids end
  local text = state.read_range(path, from, to)
  if format == "jsonl" then
    local decode = require("cjson.safe").new().decode
    for line in text:gmatch("[^\n]+") do
      local t = decode(line)
      if type(t) == "table" and type(t.id) == "string" then ids[t.id] = true end
    end
    return ids
  end
  local rows, perr = csv.parse(text)
  if not rows then return io_error("cannot read back " .. path .. ": " .. perr) end
  local header = csv.parse(state.read_range(path, 0, 65536):match("^[^\r\n]*") or "")
  local col
  for i, name in ipairs(header and header[1] or {}) do
    if name == "id" then col = i end
  end
  if not col then return io_error("the CSV output " .. path .. " has no id column") end
  for k, row in ipairs(rows) do
    if not (from == 0 and k == 1) and row[col] and row[col] ~= "" then ids[row[col]] = true end
  end
  return ids
end

-- The text of one record in the output format.
local function record_text(cand, format, columns)
  if format == "jsonl" then
    local text, err = require("clinch.jsonapi").encode(output.json_value(cand))
    if not text then error(err, 0) end
    return text .. "\n"
  end
  local row = {}
  for i, c in ipairs(columns) do row[i] = output.cell(cand[c]) end
  return csv.record(row, #columns)
end

local function epoch_of(v)
  if type(v) == "table" and type(v.epoch) == "number" then return v.epoch end
  return nil
end

--- Runs one sync (see the module comment). Prints a summary record on stdout.
function _M.run(cx, opts)
  if not opts.state then return usage("candidates sync needs --state FILE") end
  if not opts.out then return usage("candidates sync needs --out FILE") end
  local format = opts.format or (opts.out:lower():match("%.csv$") and "csv") or "jsonl"
  if format ~= "jsonl" and format ~= "csv" then
    return usage("candidates sync writes jsonl or csv (--format " .. format .. " cannot be appended to)")
  end
  local columns = require("clinch.cli.commands").CANDIDATE_COLUMNS
  if opts.columns then
    columns = {}
    for name in opts.columns:gmatch("[^,%s]+") do columns[#columns + 1] = name end
    local has_id = false
    for _, c in ipairs(columns) do has_id = has_id or c == "id" end
    if not has_id then return usage("--columns for sync must include id") end
  end
  local since
  if opts.since then
    local s, terr = time.format(opts.since)
    if not s then return nil, terr end
    since = s
  end

  local st, lerr = state.load(opts.state)
  if st == nil then return nil, lerr end
  st = st or { version = 1 }
  local client = cx:client()
  local per_page = opts.per_page or 100
  local list_opts = { per_page = per_page, include = require("clinch.cli.commands").includes(opts.include) }

  if cx.opts.dry_run then
    -- Show the first request of the window without touching the state or the output.
    list_opts.filter = { updated_at = { gte = st.high_water or since or _M.BEGINNING, lt = core.now() } }
    local _, err = client.candidates:list(list_opts)
    return nil, err
  end

  local run = st.run
  if run then
    if run.out ~= opts.out then
      return usage("the state file " .. opts.state .. " holds an unfinished run writing to " .. tostring(run.out)
        .. "; resume it with --out " .. tostring(run.out))
    end
    if run.format ~= format then
      return usage("the unfinished run writes " .. tostring(run.format) .. ", not " .. format)
    end
    local ok, terr = state.truncate(opts.out, run.out_size)
    if not ok then return nil, terr end
  else
    local now, nerr = server_now(client)
    if not now then return nil, nerr end
    local gte = st.high_water or since or _M.BEGINNING
    local lt = time.format_epoch(floor(now - (opts.lag or 0)))
    local size = state.size(opts.out) or 0
    run = { gte = gte, lt = lt, page = 1, pass = 1, out = opts.out, format = format,
            out_start = size, out_size = size, exported = 0 }
    if lt <= gte then
      -- Nothing can have changed in an empty window (a clock behind the mark, or a large --lag).
      run.page = nil
    end
  end

  local exported = 0
  if run.page then
    -- The output must open before the run is recorded: a run recorded for a path that cannot be
    -- written would hold the state file to that path.
    local f, oerr = io.open(opts.out, "ab")
    if not f then return io_error("cannot open " .. opts.out .. ": " .. tostring(oerr)) end
    st.run = run
    local started, serr = state.save(opts.state, st)
    if not started then
      f:close()
      return nil, serr
    end
    local seen, ierr = ids_in(opts.out, run.out_start, run.out_size, format)
    if not seen then
      f:close()
      return nil, ierr
    end
    local prog = cx:progress("candidates")
    list_opts.filter = { updated_at = { gte = run.gte, lt = run.lt } }
    local function fail(err)
      f:close()
      prog:clear()
      return nil, err
    end
    while run.page do
      list_opts.page = run.page
      local page, err = client.candidates:list(list_opts)
      local new_in_pass = 0
      while page do
        local total = progress.total_of(page)
        if run.page == 1 then run.total_start = total end
        run.total_last = total
        local chunk = {}
        if run.out_size == 0 and format == "csv" then chunk[1] = csv.header(columns) end
        for _, cand in ipairs(page) do
          local id = cand.id
          if type(id) == "string" and not seen[id] then
            seen[id] = true
            chunk[#chunk + 1] = record_text(cand, format, columns)
            run.exported = run.exported + 1
            new_in_pass = new_in_pass + 1
            local e = epoch_of(cand.updated_at)
            if e and (not run.max_epoch or e > run.max_epoch) then run.max_epoch = e end
          end
        end
        if #chunk > 0 then
          local ok, werr = f:write(concat(chunk))
          if ok then ok, werr = f:flush() end
          if not ok then
            return fail(errors.new { kind = "io", message = "cannot write " .. opts.out .. ": " .. tostring(werr) })
          end
          run.out_size = f:seek("end")
        end
        run.page = run.page + 1
        local saved, serr2 = state.save(opts.state, st)
        if not saved then return fail(serr2) end
        prog:page(#page, total)
        page, err = page:next()
      end
      if err then return fail(err) end
      -- The pass is complete. Walk again when the window shrank meanwhile (a record may have been
      -- skipped) or when the API gives no totals and the last pass still found new records.
      local shrank = run.total_start and run.total_last and run.total_last < run.total_start
      local unknown = not (run.total_start and run.total_last)
      if (shrank or (unknown and new_in_pass > 0 and run.pass == 1)) and run.pass < _M.MAX_PASSES then
        run.pass, run.page, run.total_start, run.total_last = run.pass + 1, 1, nil, nil
      else
        run.page = nil
      end
    end
    f:close()
    prog:finish()
    exported = run.exported
  end

  -- The window is complete: its end is the new high-water mark.
  local max_epoch = run.max_epoch
  if max_epoch and (not st.max_updated_at or time.format_epoch(max_epoch) > st.max_updated_at) then
    st.max_updated_at = time.format_epoch(max_epoch)
  end
  st.high_water = run.lt > run.gte and run.lt or run.gte
  st.run = nil
  st.runs = (st.runs or 0) + 1
  st.last_run = { gte = run.gte, lt = run.lt, exported = exported, passes = run.pass, out = opts.out,
                  finished_at = time.format_epoch(core.now()) }
  local saved, serr = state.save(opts.state, st)
  if not saved then return nil, serr end
  -- --format names the output file's format; the summary is a table on a terminal, JSON otherwise.
  local w = cx:writer { single = true, columns = { "exported", "since", "until", "out", "state" },
                        format = cx.stdout_tty and "table" or "json" }
  w:write { exported = exported, since = run.gte, ["until"] = st.high_water, out = opts.out, state = opts.state }
  w:finish()
  return true
end

return _M
