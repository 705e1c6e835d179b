--- `clinch candidates sync`: incremental export of changed candidates.
--
-- Each run exports one window of `updated_at`, [gte, lt): gte is the state file's high-water mark (or
-- --since on the first run) and lt is the server's clock at the start of the run (its Date header)
-- minus --lag. The records are appended to --out, and when the window is done its lt becomes the new
-- high-water mark, so consecutive windows neither overlap nor leave gaps.
--
-- The window read is lossless by construction. What the API offers: filters on updated_at (gte, lt;
-- whole seconds), page numbers, no stated order. During a run a record can only leave the window (a
-- change moves its updated_at to the server's now, at or after lt) and none can enter it. So:
--   * the window is read as consecutive sub-windows [a, b) from a cursor, each asked for with page 1
--     only. A sub-window whose one answer holds fewer records than per_page (and no next link, and no
--     total saying there are more) was read in one request, atomically: every record in it at that
--     moment is in the answer, whatever happens before or after. A sub-window that does not fit in a
--     page is not read; a narrower one is asked for instead (from its total, or halved). The width
--     adapts so that sub-windows hold about FILL of a page.
--   * a single second can hold more records than a page, and cannot be narrowed. It is paged through
--     (page:next(), which refuses pagination loops) in passes until one pass is known to have seen it
--     all: with totals, a pass whose last page reports the same total as the answer before the pass
--     (counts only fall, so nothing left while it ran: it read a set that did not change) and that
--     saw that many distinct records, in whatever order; without totals, a pass that saw every record
--     the pass before it saw (then nothing that pass saw left during it, so nothing on its pages
--     shifted: this needs the server's order to be stable). Each further pass needs a record to have
--     left, which happens at most once per record, so this ends; a pass that fails while nothing left
--     means the order is not stable, which is an error (kind http), never a window declared complete.
-- So every record that stays in the window for the whole run is exported, exactly once (ids written
-- in a second's passes are not written again); a record that changed during the run may be exported by
-- it (as it was before the change) and is exported again, changed, by the next run.
--
-- Concurrency (--concurrency N, default 4): the read asks for up to N consecutive sub-windows of the
-- current width at once (client:parallel, from the cursor) and takes their answers in order, as if it
-- had read them one after the other. That loses nothing: a record that stays in the window for the
-- whole run keeps its updated_at, so an answer read whole holds it whenever it was taken, and the
-- sub-windows do not overlap. From the first sub-window of a batch that was not read whole (too full,
-- or a second read in passes) on, the answers are dropped: the cursor is a single time, so what lies
-- after it is asked for again. A second's passes stay one page after another: their proof needs the
-- pages of a pass in order.
--
-- Durability: records are written, flushed and fsync'd before the state file that counts them is
-- replaced (atomically, see clinch.cli.state). The state records the run: its window, the cursor (a
-- time, so a resumed run may use another --per-page), the output's options and length. A run that
-- stopped halfway (an error, a full disk, kill -9) is resumed by the next invocation: the output is
-- truncated back to the recorded length and the window is read on from the cursor. A lock held for the
-- run (STATE.lock) keeps a second sync off the same state file.
local type, ipairs, tostring, require, next, setmetatable = type, ipairs, tostring, require, next, setmetatable
local floor, min, max, concat, insert, io = math.floor, math.min, math.max, table.concat, table.insert, io
local core = require "clinch.core"
local csv = require "clinch.cli.csv"
local defaults = require "clinch.defaults"
local errors = require "clinch.errors"
local output = require "clinch.cli.output"
local progress = require "clinch.cli.progress"
local state = require "clinch.cli.state"
local time = require "clinch.time"

local _M = {}

_M.BEGINNING = "1970-01-01T00:00:00"
--- The share of a page a sub-window is aimed at: below 1, so that the next one usually fits.
_M.FILL = 0.8
--- The longest a state save is put off while sub-windows come back empty (seconds).
_M.SAVE_EVERY = 1

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
  { "columns", arg = "A,B,...",
    help = "CSV columns, or each JSON Lines record's members (must include id; REL.FIELD as in list)" },
  { "concurrency", arg = "N", type = "integer", help = "requests in flight at once: consecutive sub-windows of "
    .. "the window, asked for together (default 4)" },
  { "wait", help = "wait for another sync on the same state file to finish (default: exit 1 at once)" },
}

local function usage(message)
  return nil, errors.new { kind = "usage", message = message }
end

local function io_error(message)
  return nil, errors.new { kind = "io", message = message }
end

local names = state.names

-- The server's clock (its Date header) from a cheap request (one candidate), or the local clock
-- without one. The path and the page size's name are the contract's.
local function server_now(client)
  local contract = require "clinch.contract"
  local res, err = client:request("GET", require("clinch.registry").get("candidates").path,
    { query = { [contract.parameters.perPage.name] = "1" } })
  if not res then return nil, err end
  local date = res.headers and res.headers.date
  return (date and core.parse_httpdate(date)) or core.now()
end

local function link_next(page)
  local links = page.links
  local v = type(links) == "table" and links.next
  if type(v) == "table" then v = v.href end
  return type(v) == "string" and v ~= ""
end

-- True when a page-1 answer holds all of its sub-window (see the module comment): fewer records than
-- asked for, no next link, and no total saying there are more. Only the records count, never a total
-- alone: an API may count in another snapshot than it pages.
local function complete(page, per_page)
  if link_next(page) or #page >= per_page then return false end
  local total = progress.total_of(page)
  return total == nil or total <= #page
end

-- The output file, appended to durably.
local Out = {}
Out.__index = Out

local function open_out(path, size)
  local tail = size and state.read_range(path, size > state.CHECK_BYTES and size - state.CHECK_BYTES or 0, size)
  local existed = state.size(path) ~= nil
  local f, err = io.open(path, "ab")
  if not f then return io_error("cannot open " .. path .. ": " .. tostring(err)) end
  if not existed then
    -- The new file's name must be on disk before a state that counts on it.
    local ok, serr = core.fsync(state.dir_of(path))
    if not ok then
      f:close()
      return io_error("cannot write " .. path .. ": " .. serr)
    end
  end
  f:setvbuf("full")
  return setmetatable({ f = f, path = path, size = f:seek("end"), tail = tail or "" }, Out)
end

--- Appends text and makes it durable -> true or nil, err.
function Out:append(text)
  if text == "" then return true end
  local f = self.f
  local ok, err = f:write(text)
  if ok then ok, err = f:flush() end
  if ok then ok, err = core.fsync(f) end
  if not ok then return io_error("cannot write " .. self.path .. ": " .. tostring(err)) end
  self.size = self.size + #text
  local tail = #text >= state.CHECK_BYTES and text or self.tail .. text
  self.tail = #tail > state.CHECK_BYTES and tail:sub(-state.CHECK_BYTES) or tail
  return true
end

function Out:close()
  local ok, err = self.f:close()
  if not ok then return io_error("cannot write " .. self.path .. ": " .. tostring(err)) end
  return true
end

-- Refuses to append to an output that holds another format or other columns (exit 2).
local function check_output(path, format, columns, st, state_path)
  local rec = st.output
  if rec and rec.path == path then
    if rec.format ~= format then
      return usage(("%s holds %s records (the state file %s says so): --format %s cannot be appended to it; "
        .. "use --format %s, or another --out"):format(path, rec.format, state_path, format, rec.format))
    end
    if names(rec.columns) ~= names(columns) then
      local function shown(list) return list and names(list) or "(whole records)" end
      return usage(("--columns %s differ from the columns of %s, %s (the state file %s says so): use "
        .. "%s, or another --out"):format(shown(columns), path, shown(rec.columns), state_path,
          rec.columns and ("--columns " .. names(rec.columns)) or "no --columns"))
    end
  end
  local line, complete_end = state.head(path)
  if not line and not complete_end then
    if state.size(path) and state.size(path) > 0 then
      return usage(path .. " does not hold records sync can append to: its first line is over 1 MiB")
    end
    return true -- a new or empty file
  end
  if not complete_end then
    return usage(path .. " does not end with a complete record (its last line has no line end): it was "
      .. "changed outside sync; sync appends only after complete records")
  end
  if format == "csv" then
    local header = csv.header(columns):gsub("\r\n$", "")
    if line ~= header then
      if line and line:match("^%s*{") then
        return usage(path .. " holds JSON Lines, not CSV: use --format jsonl, or another --out")
      end
      return usage(("the CSV header of %s is %s, not %s: use --columns %s, or another --out"):format(path,
        require("clinch.text").one_line(line), names(columns), require("clinch.text").one_line(line)))
    end
  else
    local t = line and require("cjson.safe").new().decode(line)
    if type(t) ~= "table" or t[1] ~= nil then
      return usage(path .. " does not hold JSON Lines (its first line is not a JSON object): "
        .. (path:lower():match("%.csv$") and "" or "for CSV use --format csv; ") .. "or use another --out")
    end
  end
  return true
end

-- Before an unfinished run's output is cut back to the length its state recorded: the bytes before
-- that length must be those it recorded, and what follows must be the start of what the run wrote (a
-- record of its window, or the CSV header of a new file) or a record cut short. Anything else means
-- the output or the state file was changed outside sync, and cutting would destroy data.
local function check_resume(run, state_path)
  local size = state.size(run.out)
  if not size or size < run.out_size then return true end -- state.truncate says what is wrong
  local function refuse(why)
    return nil, errors.new { kind = "state", message = ("the state file %s has run.out_size = %d, but %s %s; "
      .. "the output or the state file was changed outside sync, and nothing was changed"):format(
        state_path, run.out_size, run.out, why) }
  end
  if run.out_check and state.file_fingerprint(run.out, run.out_size) ~= run.out_check then
    return refuse("holds other bytes before that length than sync wrote (run.out_check)")
  end
  if size == run.out_size then return true end
  local tail = state.read_range(run.out, run.out_size, min(size, run.out_size + 1048576))
  local line = tail:match("^([^\n]*)\n")
  if not line then return true end -- one record cut short: what a stopped write leaves
  line = line:gsub("\r$", "")
  if run.format == "csv" then
    if run.out_size == 0 and line ~= csv.header(run.columns):gsub("\r\n$", "") then
      return refuse("does not start with this run's CSV header")
    end
    return true
  end
  local t = require("cjson.safe").new().decode(line)
  local attrs = type(t) == "table" and t.attributes
  local updated = type(attrs) == "table" and type(attrs.updated_at) == "table" and attrs.updated_at.epoch
  if type(t) ~= "table" or t.id == nil or (type(updated) == "number" and
      (updated < state.epoch_of(run.gte) or updated >= state.epoch_of(run.lt))) then
    return refuse(("holds %d bytes after that which are not records of the run's window"):format(size - run.out_size))
  end
  return true
end

-- The options of this invocation, checked.
local function options(opts)
  if not opts.state then return usage("candidates sync needs --state FILE") end
  if not opts.out then return usage("candidates sync needs --out FILE") end
  -- elsewhere "-" is a standard stream; sync appends to a file it can cut back and sync to disk
  if opts.out == "-" or opts.state == "-" then
    return usage("candidates sync writes to files: --" .. (opts.out == "-" and "out" or "state")
      .. " - (standard output) cannot be resumed; give a file")
  end
  for _, own in ipairs { opts.state, opts.state .. ".tmp", opts.state .. ".lock" } do
    if opts.out == own then
      return usage("--out " .. opts.out .. " is a file of the state (--state " .. opts.state .. ")")
    end
  end
  local o = { format = opts.format, include = require("clinch.cli.commands").includes(opts.include) }
  if o.format and o.format ~= "jsonl" and o.format ~= "csv" then
    return usage("candidates sync writes jsonl or csv (--format " .. o.format .. " cannot be appended to)")
  end
  if opts.columns then
    local columns = {}
    for name in opts.columns:gmatch("[^,%s]+") do columns[#columns + 1] = name end
    local has_id = false
    for _, c in ipairs(columns) do has_id = has_id or c == "id" end
    if not has_id then return usage("--columns for sync must include id") end
    -- The names are checked as list's are, and a dotted one includes its relationship (clinch.cli.columns).
    local columns_of = require "clinch.cli.columns"
    local ok, why = columns_of.check(columns, require("clinch.registry").get("candidates"))
    if not ok then return usage(why) end
    o.include = columns_of.with_includes(o.include, columns)
    o.columns = columns
  end
  if opts.since then
    local s, terr = time.format(opts.since)
    if not s then return nil, terr end
    o.since = s
  end
  return o
end

-- The unfinished run's options stand, unless this invocation names others: then it is refused.
local function resume_options(run, o, state_path)
  local function refuse(option, value)
    return usage(("the state file %s holds an unfinished run with %s %s; resume it with those (or leave "
      .. "the option out)"):format(state_path, option, value))
  end
  if o.format and o.format ~= run.format then return refuse("--format", run.format) end
  o.format = run.format
  if o.columns and names(o.columns) ~= names(run.columns) then
    return refuse("--columns", run.columns and names(run.columns) or "(none)")
  end
  o.columns = run.columns
  if o.include and names(o.include) ~= names(run.include) then
    return refuse("--include", run.include and names(run.include) or "(none)")
  end
  o.include = run.include
  return true
end

-- The next sub-window's width after one of `width` seconds held `n` records: aimed at FILL of a page,
-- growing at most twofold (fourfold after an empty one), so that a sparse stretch is crossed quickly
-- without overshooting into a dense one.
local function grow(width, n, per_page)
  local target = per_page * _M.FILL
  local factor = n > 0 and min(2, target / n) or 4
  return max(1, floor(width * factor))
end

local function shrink(span, total, per_page)
  local w
  if total and total > 0 then w = floor(span * per_page * _M.FILL / total) else w = floor(span / 2) end
  if w >= span then w = floor(span / 2) end
  return max(1, w)
end

-- One window read (see the module comment), with everything it needs.
local Reader = {}
Reader.__index = Reader

-- The width after [b - width, b) was read whole with `n` records. self.bound is the end of the last
-- sub-window found too full, and how many records it held then (records only leave): up to there,
-- the width at most halves what is left (a search for where the records are, instead of asking for
-- the full stretch again), and once what is left certainly fits in a page, it is asked for whole.
function Reader:next_width(width, b, n)
  local w = grow(width, n, self.per_page)
  local bound = self.bound
  if bound then
    if b >= bound.b then
      self.bound = nil
    else
      bound.total = bound.total - n
      local rest = bound.b - b
      if bound.total <= self.per_page then w = rest else w = min(w, max(1, floor(rest / 2))) end
    end
  end
  return max(1, w)
end

function Reader:fetch(a, b)
  local opts = { per_page = self.per_page, page = 1, include = self.include,
                 filter = { updated_at = { gte = time.format_epoch(a), lt = time.format_epoch(b) } } }
  self.run.requests = (self.run.requests or 0) + 1
  return self.client.candidates:list(opts)
end

-- Appends records (those not in `seen`, when given) to the output -> true or nil, err.
function Reader:write(records, seen)
  local parts, n, bad = {}, 0, 0
  local out, run = self.out, self.run
  for _, cand in ipairs(records) do
    local id = cand.id
    if not (seen and id ~= nil and seen[id]) then
      if seen and id ~= nil then seen[id] = true end
      local text, replaced
      if run.format == "jsonl" then
        if run.columns then
          text, replaced = output.json_text(nil, output.project(cand, run.columns), 0)
        else
          text, replaced = output.json_text(cand)
        end
        text = text .. "\n"
      else
        local row
        row, replaced = output.cells(cand, run.columns)
        text = csv.record(row, #run.columns)
      end
      n = n + 1
      parts[n] = text
      bad = bad + replaced
      local e = type(cand.updated_at) == "table" and cand.updated_at.epoch
      if type(e) == "number" and (not self.max_epoch or e > self.max_epoch) then self.max_epoch = e end
    end
  end
  if n == 0 then return true end
  -- The CSV header goes first into an empty file, once.
  if out.size == 0 and run.format == "csv" then insert(parts, 1, csv.header(run.columns)) end
  local ok, err = out:append(concat(parts))
  if not ok then return nil, err end
  run.out_size, run.out_check = out.size, state.fingerprint(out.tail)
  run.exported = run.exported + n
  run.invalid_utf8 = (run.invalid_utf8 or 0) + bad
  self.wrote = true
  return true
end

function Reader:save(force)
  local now = core.monotime()
  if not force and not self.wrote and now - self.saved_at < _M.SAVE_EVERY then return true end
  local ok, err = state.save(self.state_path, self.st)
  if not ok then return nil, err end
  self.saved_at, self.wrote = now, false
  return true
end

-- Whether the ids `b` shares with `a` come in the same order in both (lists of distinct ids).
local function same_order(a, b)
  local at = {}
  for i, id in ipairs(a) do at[id] = i end
  local last = 0
  for _, id in ipairs(b) do
    local i = at[id]
    if i then
      if i < last then return false end
      last = i
    end
  end
  return true
end

-- Reads one second that holds more records than a page, in passes (see the module comment).
-- `probe` is the answer that found it too full: its total is the count before the first pass.
function Reader:read_second(a, probe)
  local seen, union, union_n = {}, {}, 0
  local before = progress.total_of(probe) -- a count taken before the pass about to start
  local prev_ids, prev_order, failures = nil, nil, 0
  while true do
    local page, err = self:fetch(a, a + 1)
    if not page then return nil, err end
    if complete(page, self.per_page) then return self:write(page, seen) end
    local ids, n, last_total, totals, order = {}, 0, nil, before ~= nil, {}
    local first_pass = prev_ids == nil and failures == 0
    while page do
      local fresh = {}
      for _, cand in ipairs(page) do
        local id = cand.id
        if id == nil then
          if first_pass then fresh[#fresh + 1] = cand end -- nothing to know it again by
        else
          if not ids[id] then ids[id], n, order[n + 1] = true, n + 1, id end
          if not union[id] then union[id], union_n = true, union_n + 1 end
          fresh[#fresh + 1] = cand
        end
      end
      local ok, werr = self:write(fresh, seen)
      if not ok then return nil, werr end
      self.prog:page(#page, self.run.total)
      last_total = progress.total_of(page)
      totals = totals and last_total ~= nil
      local nxt, nerr = page:next()
      if nerr then return nil, nerr end
      page = nxt
    end
    if totals then
      -- The count did not fall from before the pass to its last page: nothing left meanwhile, so the
      -- pass read a set that did not change, and seeing that many distinct records is seeing all.
      if last_total == before and n >= last_total then return true end
      if last_total == before then
        return nil, errors.new { kind = "http", message = ("the API's order of the %d records updated at %s is "
          .. "not stable: a pass over them saw %d while none left; the second cannot be read completely"):format(
            last_total, time.format_epoch(a), n) }
      end
      before = last_total
    else
      -- With a stable order, records only leaving (the second is past), the ids two passes share come
      -- in the same order: two that swapped prove the order unstable, and then two passes may both
      -- have missed the same record, so their agreement proves nothing.
      if prev_order and not same_order(prev_order, order) then
        return nil, errors.new { kind = "http", message = ("the API's order of the records updated at %s is not "
          .. "stable: two passes over them gave the same records in another order; the second cannot be read "
          .. "completely"):format(time.format_epoch(a)) }
      end
      if prev_ids then
        local all = true
        for id in next, prev_ids do
          if not ids[id] then all = false break end
        end
        if all then return true end
      end
      failures = failures + 1
      -- Each failed pass needs a record to have left (at most twice per record seen, see above).
      if failures > 2 * union_n + 1 then
        return nil, errors.new { kind = "http", message = ("the API's order of the records updated at %s is not "
          .. "stable: %d passes over them never agreed; the second cannot be read completely"):format(
            time.format_epoch(a), failures) }
      end
      prev_ids, prev_order = ids, order
      before = nil
    end
  end
end

-- The sub-windows the read asks for next: from the cursor, up to `concurrency` consecutive ones of the
-- current width, none past the window's end. All but the first are asked for on speculation.
function Reader:plan(lt)
  local a, width, batch = self.run.cursor, self.run.width, {}
  repeat
    local b = min(a + width, lt)
    batch[#batch + 1] = { a, b }
    a = b
  until a >= lt or #batch >= self.concurrency
  return batch
end

-- The page-1 answers of the sub-windows of a batch, asked for at once: a page or an error object each.
function Reader:fetch_batch(batch)
  if not batch[2] then
    local page, err = self:fetch(batch[1][1], batch[1][2])
    return { page or err }
  end
  return self.client:parallel(batch, function(w) return self:fetch(w[1], w[2]) end, { concurrency = #batch })
end

-- Takes the answer for the sub-window [a, b) the cursor is at -> true and whether the cursor passed it
-- having read it whole, or nil, err.
function Reader:take(a, b, page, lt)
  if errors.is(page) then return nil, page end
  local run = self.run
  if run.total == nil and a == state.epoch_of(run.gte) and b == lt then run.total = progress.total_of(page) end
  local n = #page
  if complete(page, self.per_page) then
    local ok, werr = self:write(page)
    if not ok then return nil, werr end
    self.prog:page(n, run.total)
    run.cursor, run.width = b, self:next_width(b - a, b, n)
    ok, werr = self:save(false)
    if not ok then return nil, werr end
    return true, true
  elseif b - a > 1 then
    local total = progress.total_of(page)
    run.width = shrink(b - a, total, self.per_page)
    self.bound = { b = b, total = total or 1 / 0 }
  else
    local ok, serr = self:read_second(a, page)
    if not ok then return nil, serr end
    run.cursor, run.width = b, 1
    ok, serr = self:save(true)
    if not ok then return nil, serr end
  end
  return true, false
end

-- Reads the window from the cursor (see the module comment). The sub-windows of a batch are taken in
-- order, as if read one after the other: each answer read whole is a snapshot of its sub-window,
-- which loses nothing whenever it was taken (a record that stays in the window keeps its updated_at);
-- from the first one that was not read whole on, the answers are dropped and asked for again.
function Reader:read()
  local run = self.run
  local lt = state.epoch_of(run.lt)
  while run.cursor < lt do
    local batch = self:plan(lt)
    local pages = self:fetch_batch(batch)
    for i, w in ipairs(batch) do
      local ok, passed = self:take(w[1], w[2], pages[i], lt)
      if not ok then return nil, passed end
      if not passed then break end
    end
  end
  return true
end

-- The run the state file left unfinished, checked against these options and the output (cut back
-- to what the state counts), or nil, err.
local function resumed_run(run, opts, o)
  if run.out ~= opts.out then
    return usage("the state file " .. opts.state .. " holds an unfinished run writing to " .. tostring(run.out)
      .. "; resume it with --out " .. tostring(run.out))
  end
  local ok, rerr = resume_options(run, o, opts.state)
  if not ok then return nil, rerr end
  ok, rerr = check_resume(run, opts.state)
  if not ok then return nil, rerr end
  ok, rerr = state.truncate(opts.out, run.out_size, opts.state)
  if not ok then return nil, rerr end
  return run
end

-- A new run: the window from the high-water mark (or --since) to the server's clock, or nil, err.
local function new_run(client, st, opts, o)
  o.format = o.format or (opts.out:lower():match("%.csv$") and "csv") or "jsonl"
  -- JSON Lines: whole records, or with --columns an object of just those members, as list writes them
  if o.format == "csv" then o.columns = o.columns or require("clinch.cli.commands").CANDIDATE_COLUMNS end
  local ok, cerr = check_output(opts.out, o.format, o.columns, st, opts.state)
  if not ok then return nil, cerr end
  local now, nerr = server_now(client)
  if not now then return nil, nerr end
  local gte = st.high_water or o.since or _M.BEGINNING
  local gte_e = state.epoch_of(gte)
  -- An empty window when the clock is behind the mark (or --lag is large): nothing to read.
  local lt_e = max(gte_e, floor(now - (opts.lag or 0)))
  local size = state.size(opts.out) or 0
  return { gte = gte, lt = time.format_epoch(lt_e), cursor = gte_e, width = max(1, lt_e - gte_e), out = opts.out,
           format = o.format, columns = o.columns, include = o.include, out_start = size, out_size = size,
           out_check = state.file_fingerprint(opts.out, size), exported = 0, invalid_utf8 = 0, requests = 1 }
end

-- The window is complete: its end becomes the new high-water mark, the state is saved and the
-- summary printed. Returns true or nil, err.
local function finish_run(cx, opts, st, run, reader)
  if reader.max_epoch and (not st.max_updated_at or time.format_epoch(reader.max_epoch) > st.max_updated_at) then
    st.max_updated_at = time.format_epoch(reader.max_epoch)
  end
  st.high_water = run.lt
  st.run = nil
  st.runs = (st.runs or 0) + 1
  st.last_run = { gte = run.gte, lt = run.lt, exported = run.exported, invalid_utf8 = run.invalid_utf8 or 0,
                  requests = run.requests or 0, out = opts.out, finished_at = time.format_epoch(core.now()) }
  local saved, ferr = state.save(opts.state, st)
  if not saved then return nil, ferr end
  local bad = run.invalid_utf8 or 0
  if bad > 0 then cx:warn(require("clinch.cli").replaced_warning(bad, opts.out)) end
  -- --format names the output file's format; the summary is a table on a terminal, JSON otherwise.
  -- (--columns are the output file's, not the summary's.)
  local w = cx:writer { single = true, columns = { "exported", "since", "until", "out", "state", "invalid_utf8" },
                        format = cx.stdout_tty and "table" or "json", project = false }
  w:write { exported = run.exported, since = run.gte, ["until"] = st.high_water, out = opts.out,
            state = opts.state, invalid_utf8 = bad }
  w:finish()
  return true
end

-- The run, with the lock held.
local function locked_run(cx, opts, o)
  local st, lerr = state.load(opts.state)
  if st == nil then return nil, lerr end
  st = st or { version = state.VERSION }
  local client = cx:client()
  local run, rerr
  if st.run then run, rerr = resumed_run(st.run, opts, o) else run, rerr = new_run(client, st, opts, o) end
  if not run then return nil, rerr end

  -- The output opens before the run is recorded: a run recorded for a path that cannot be written
  -- would hold the state file to that path.
  local out, oerr = open_out(opts.out, run.out_size)
  if not out then return nil, oerr end
  if out.size ~= run.out_size then
    out:close()
    return nil, errors.new { kind = "state", message = opts.out .. " changed while sync was starting" }
  end
  st.run = run
  st.output = { path = opts.out, format = run.format, columns = run.columns }
  local started, serr = state.save(opts.state, st)
  if not started then
    out:close()
    return nil, serr
  end

  local prog = cx:progress("candidates")
  local reader = setmetatable({ run = run, st = st, out = out, client = client,
    per_page = opts.per_page or defaults.BULK_PER_PAGE, include = run.include, prog = prog,
    concurrency = opts.concurrency or require("clinch.cli.commands").PAGES_IN_FLIGHT,
    state_path = opts.state, saved_at = core.monotime() }, Reader)
  local ok, err = reader:read()
  if not ok then
    out:close()
    prog:clear()
    -- What was written and recorded stands; the next run resumes from it.
    return nil, err
  end
  ok, err = out:close()
  if not ok then return nil, err end
  prog:finish()
  return finish_run(cx, opts, st, run, reader)
end

--- Runs one sync (see the module comment). Prints a summary record on stdout.
function _M.run(cx, opts)
  local o, err = options(opts)
  if not o then return nil, err end
  if cx.opts.dry_run then
    -- Show the first request of the window without touching the state or the output.
    local st, lerr = state.load(opts.state)
    if st == nil then return nil, lerr end
    local gte = st and (st.run and st.run.gte or st.high_water) or o.since or _M.BEGINNING
    local _, derr = cx:client().candidates:list { per_page = opts.per_page or defaults.BULK_PER_PAGE, page = 1,
      include = o.include,
      filter = { updated_at = { gte = gte, lt = floor(core.now()) } } }
    return nil, derr
  end
  local lock, kerr = state.lock(opts.state, opts.wait)
  if not lock then return nil, kerr end
  -- An error raised inside (a bug, Ctrl-C) ends the process, and the kernel drops the lock with it.
  local ok, rerr = locked_run(cx, opts, o)
  lock:unlock()
  return ok, rerr
end

return _M
