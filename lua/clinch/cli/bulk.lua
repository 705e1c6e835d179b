--- The bulk forms of three commands, one API operation per input row:
--   clinch candidates create --from FILE      CSV with a header row naming attributes, or JSON Lines
--   clinch tags add --ids-from FILE NAME      one candidate id a line (or a JSON object with an "id")
--   clinch resume upload --dir DIR            each file <email>.<ext> or <id>.<ext> to its candidate
-- FILE may be - for standard input. Every row is read and checked first, with the checks the library
-- makes before sending; when any row is bad, each bad row is one line on stderr and the command ends
-- with exit 2, nothing sent. Then the rows run through client:parallel (--concurrency at once, default
-- 8). Standard output gets one JSON Lines result per row, in row order, each as soon as it and the
-- rows before it are done:
--   {"row": N, "id": "...", "status": "created" | "matched" | "error", "error": "..."}   (create)
--   {"row": N, "id": "...", "status": "tagged" | "error", "tag_id": "...", "error": "..."} (tags add)
--   {"row": N, "id": "...", "status": "uploaded" | "error", "file": "...", "error": "..."} (upload)
-- `row` counts the rows of the input from 1: a CSV record after the header, a non-blank JSON Lines or
-- id line, a file of the directory (names in byte order; hidden files and directories are no rows).
-- `id` is the candidate's (when known), `error` the line clinch would print for the row's error.
-- "matched" is create's answer 200: the API matched a candidate by the email (and updated it). Exit 1
-- when any row failed at the API. On a terminal, stderr shows a progress line.
local type, ipairs, pairs, tostring, require, pcall = type, ipairs, pairs, tostring, require, pcall
local io, os, concat, sort = io, os, table.concat, table.sort
local csv = require "clinch.cli.csv"
local defaults = require "clinch.defaults"
local errors = require "clinch.errors"
local schema = require "clinch.schema"
local validate = require "clinch.validate"

local _M = {}

--- Rows at once unless --concurrency says otherwise: the client's default budget.
_M.CONCURRENCY = defaults.CONCURRENCY
--- The separator of the values of an array attribute in a CSV cell (tag_values: "Java; Remote").
_M.LIST_SEPARATOR = ";"

local function usage(message)
  return nil, errors.new { kind = "usage", message = message }
end

-- The text of FILE, or of standard input for "-" -> text or nil, err (a usage error). A byte order
-- mark, as spreadsheets and some editors write one, is dropped: whatever the format, it is no data.
local function read_input(cx, path, option)
  local text
  if path == "-" then
    text = cx.stdin:read("a")
    if not text then return usage(option .. " -: cannot read standard input") end
  else
    local f, err = io.open(path, "rb")
    if not f then return usage("cannot read " .. tostring(err)) end
    text = f:read("a")
    f:close()
    if not text then return usage("cannot read " .. path) end
  end
  return (text:gsub("^\239\187\191", ""))
end

-- A candidate id as a row gives it -> id, or nil and why not.
local function check_id(id)
  if type(id) ~= "string" then return nil, "the candidate id is not a string" end
  if id == "" then return nil, "no candidate id" end
  if id:find("[%s%c]") then return nil, "the candidate id holds white space or control characters" end
  if not validate.utf8(id) then return nil, "the candidate id is not valid UTF-8" end
  return id
end

-- Rows ------------------------------------------------------------------------------------------------

-- The attributes of one CSV record under the header's names: empty cells are left out, an array
-- attribute's cell is split at LIST_SEPARATOR.
local function csv_attributes(header, record, request)
  local attrs = {}
  for c, name in ipairs(header) do
    local cell = record[c]
    if cell ~= nil and cell ~= "" then
      local spec = request.attributes[name]
      if spec and spec.type == "array" then
        local list = {}
        for item in (cell .. _M.LIST_SEPARATOR):gmatch("(.-)" .. _M.LIST_SEPARATOR) do
          item = item:match("^%s*(.-)%s*$")
          if item ~= "" then list[#list + 1] = item end
        end
        attrs[name] = list
      else
        attrs[name] = cell
      end
    end
  end
  return attrs
end

-- The header of a CSV input, checked against the attributes `request` takes -> true or nil, message.
local function check_header(header, request)
  local seen, known = {}, {}
  for name in pairs(request.attributes) do known[#known + 1] = name end
  sort(known)
  for c, name in ipairs(header) do
    if name == "" then return nil, "column " .. c .. " of the header has no name" end
    if seen[name] then return nil, "the header names " .. name .. " twice" end
    if not request.attributes[name] then
      return nil, "the header names " .. name .. ", which is no attribute of a new candidate (valid: "
        .. concat(known, ", ") .. ")"
    end
    seen[name] = true
  end
  return true
end

-- CSV text -> rows ({ n =, attrs = } or { n =, problem = }), or nil, message for the file as a whole.
local function csv_rows(text, request)
  local records, why = csv.parse(text)
  if not records then return nil, "not CSV: " .. why end
  local header = records[1]
  if not header then return {} end
  for c, name in ipairs(header) do header[c] = name:match("^%s*(.-)%s*$") end
  local ok, herr = check_header(header, request)
  if not ok then return nil, herr end
  local rows = {}
  for r = 2, #records do
    local record = records[r]
    if not (#record == 1 and record[1] == "") then -- a blank line is no row
      local row = { n = #rows + 1 }
      if #record ~= #header then
        row.problem = ("has %d field%s, the header %d"):format(#record, #record == 1 and "" or "s", #header)
      else
        row.attrs = csv_attributes(header, record, request)
      end
      rows[#rows + 1] = row
    end
  end
  return rows
end

-- JSON Lines text -> rows: each non-blank line a JSON object of attributes (null: left out).
local function jsonl_rows(text)
  local decode = require("cjson.safe").new().decode
  local null = require("clinch.jsonapi").null
  local rows = {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    if line:find("%S") then
      local row = { n = #rows + 1 }
      local t = decode(line)
      if type(t) ~= "table" or t[1] ~= nil then
        row.problem = "is not a JSON object"
      else
        local attrs = {}
        for k, v in pairs(t) do if v ~= null then attrs[k] = v end end
        row.attrs = attrs
      end
      rows[#rows + 1] = row
    end
  end
  return rows
end

-- Whether an input is JSON Lines: by its name, else by its first character.
local function is_jsonl(path, text)
  local lower = path:lower()
  if lower:match("%.jsonl$") or lower:match("%.ndjson$") then return true end
  if lower:match("%.csv$") then return false end
  return text:match("^%s*{") ~= nil
end

-- Reports the rows that are bad, every one, on stderr -> true, or nil, err (exit 2) when there are any.
local function refuse_bad(cx, rows)
  local bad = 0
  local one_line = require("clinch.text").one_line
  for _, row in ipairs(rows) do
    if row.problem then
      bad = bad + 1
      cx.stderr:write("clinch: row ", row.n, ": ", one_line(require("clinch.cli.messages").for_cli(row.problem)), "\n")
    end
  end
  if bad == 0 then return true end
  return usage(("%d of %d row%s invalid; nothing was sent"):format(bad, #rows, #rows == 1 and " is" or "s are"))
end

-- Running ---------------------------------------------------------------------------------------------

-- The fields of a result, in the order they are written.
local FIELDS = { "row", "id", "status", "tag_id", "file", "file_id", "error" }

-- One result as a line of JSON (valid UTF-8 whatever the server said).
local function result_line(r)
  local encode, valid = require("clinch.jsonapi").encode, require("clinch.text").valid
  local parts = {}
  for _, k in ipairs(FIELDS) do
    local v = r[k]
    if type(v) == "string" then v = valid(v) end
    if v ~= nil then parts[#parts + 1] = '"' .. k .. '":' .. encode(v) end
  end
  return "{" .. concat(parts, ",") .. "}\n"
end

-- The result of a row whose operation failed.
local function error_result(row, err)
  return { row = row.n, id = row.id, file = row.file, status = "error",
           error = require("clinch.cli").message_line(err) }
end

-- After Ctrl-C: the results of the rows from `from` on that have none, in flight (`started`) or never
-- sent, put in `done` -> how many of each.
local function interrupted_rows(rows, done, started, from)
  local in_flight, unsent = 0, 0
  for i = from, #rows do
    if not done[i] then
      local row = rows[i]
      local why = started[i] and "interrupted (Ctrl-C) before its answer came: it may have been done"
        or "not sent: interrupted (Ctrl-C)"
      if started[i] then in_flight = in_flight + 1 else unsent = unsent + 1 end
      done[i] = { row = row.n, id = row.id, file = row.file, status = "error", error = why }
    end
  end
  return in_flight, unsent
end

-- Runs op(client, row) -> the result's fields, or nil, err, for every row through client:parallel,
-- writing the results in row order as they come (see the module comment). -> true or nil, err.
local function run_rows(cx, opts, rows, op, label)
  local client = cx:client()
  if cx.opts.dry_run then
    local first
    for _, row in ipairs(rows) do
      if not row.skip then
        first = row
        break
      end
    end
    if not first then return true end
    local _, err = op(client, first) -- the dry run shows the first row's request and ends there
    return nil, err
  end
  local prog = cx:progress(label, #rows)
  local done, next_out, failed, broken = {}, 1, 0, nil
  local out = cx.stdout
  local function write_next()
    -- stdout on the terminal too: the progress line is cleared first, or the result would go on after
    -- it on the same line (the next row draws it again)
    if cx.stdout_tty then prog:clear() end
    out:write(result_line(done[next_out]))
    out:flush()
  end
  local function flush()
    while done[next_out] do
      if not broken then
        local ok, e = pcall(write_next)
        if not ok then broken = e end
      end
      done[next_out] = nil
      next_out = next_out + 1
    end
  end
  local function finish(i, r)
    if r.status == "error" then failed = failed + 1 end
    done[i] = r
    prog:row(r.status == "error")
    flush()
  end
  local started = {}
  local ran, results = pcall(client.parallel, client, rows, function(row, i)
    if broken then return true end -- the output is gone: nothing more is sent
    started[i] = true
    local fields, err = op(client, row)
    if fields then
      fields.row = row.n
      finish(i, fields)
    else
      finish(i, error_result(row, err))
    end
    return true
  end, { concurrency = opts.concurrency or _M.CONCURRENCY })
  if not ran then
    -- Ctrl-C (lua.c's "interrupted!"): every row still gets its line, so that a second run can be
    -- limited to what was not done; then the interrupt goes on (exit 130)
    if not tostring(results):find("interrupted!", 1, true) then error(results, 0) end
    local in_flight, unsent = interrupted_rows(rows, done, started, next_out)
    flush()
    prog:clear()
    cx.stderr:write(("clinch: %d of %d rows done before the interrupt, %d in flight (they may have been done), "
      .. "%d not sent\n"):format(#rows - in_flight - unsent, #rows, in_flight, unsent))
    error(results, 0)
  end
  -- An operation that raised (a bug: rows are checked first) has the error object client:parallel made.
  for i, r in ipairs(results) do
    if errors.is(r) then finish(i, error_result(rows[i], r)) end
  end
  if broken then
    prog:clear()
    -- A reader that leaves early (| head) ends a listing quietly; a bulk write it cuts short says
    -- what was left undone, and exits 1.
    local unsent = 0
    for i = 1, #rows do if not started[i] then unsent = unsent + 1 end end
    if unsent == 0 or not (errors.is(broken) and broken.closed_pipe) then return nil, broken end
    return nil, errors.new { kind = "partial", message = ("the output was closed: %d of %d row%s not sent")
      :format(unsent, #rows, #rows == 1 and " was" or "s were") }
  end
  prog:finish()
  if failed > 0 then
    return nil, errors.new { kind = "partial", message = ("%d of %d row%s failed at the API (see the results on "
      .. "stdout)"):format(failed, #rows, #rows == 1 and "" or "s") }
  end
  return true
end

-- candidates create --from FILE --------------------------------------------------------------------

local function create_op(client, row)
  local cand, err = client.candidates:create(row.attrs)
  if not cand then return nil, err end
  return { id = cand.id, status = cand.created == false and "matched" or "created" }
end

--- `candidates create --from FILE`: one candidate per row.
function _M.create(cx, opts)
  for opt in pairs(require("clinch.cli.commands").ATTRIBUTE_OPTIONS) do
    if opts[opt] then
      return usage("--from takes every attribute from its rows: leave out --" .. opt:gsub("_", "-"))
    end
  end
  local text, err = read_input(cx, opts.from, "--from")
  if not text then return nil, err end
  if text:match("^%s*%[") then
    return usage(opts.from .. " holds a JSON array: --from reads CSV, or JSON Lines (one object a line)")
  end
  local request = schema.request("createCandidate")
  local rows, why
  if is_jsonl(opts.from, text) then rows = jsonl_rows(text) else rows, why = csv_rows(text, request) end
  if not rows then return usage(opts.from .. ": " .. why) end
  for _, row in ipairs(rows) do
    if row.attrs then
      local ok, verr = validate.attributes(row.attrs, request, "create candidate")
      if not ok then row.problem = verr.message end
    end
  end
  local ok, berr = refuse_bad(cx, rows)
  if not ok then return nil, berr end
  return run_rows(cx, opts, rows, create_op, "candidates")
end

-- tags add --ids-from FILE NAME -----------------------------------------------------------------------

-- The rows of an id list: a line holds an id, or a JSON object with an "id" (a result line of
-- another bulk command); blank lines are no rows.
local function id_rows(text)
  local decode = require("cjson.safe").new().decode
  local rows = {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    line = (line:gsub("\r$", "")):match("^%s*(.-)%s*$")
    if line ~= "" then
      local row = { n = #rows + 1 }
      local id = line
      if line:sub(1, 1) == "{" then
        local t = decode(line)
        id = type(t) == "table" and t.id or nil
        if type(t) ~= "table" then
          row.problem = "is not a JSON object"
        elseif id == nil and t.status == "error" then
          -- the result line of a row that failed (create --from ... | tags add --ids-from -): it gets a
          -- result line of its own, and the others go on
          row.skip = "not tagged: the row this line reports failed"
            .. (type(t.error) == "string" and (" (" .. t.error .. ")") or "")
        elseif id == nil then
          row.problem = "has no \"id\""
        end
      end
      if not row.problem and not row.skip then
        local ok, iwhy = check_id(id)
        if ok then row.id = id else row.problem = iwhy end
      end
      rows[#rows + 1] = row
    end
  end
  return rows
end

--- `tags add --ids-from FILE NAME`: the tag NAME on every candidate the rows name.
function _M.tag(cx, opts, name)
  local trimmed = name:match("^%s*(.-)%s*$")
  if trimmed == "" then return usage("tags add: NAME must not be blank") end
  local ok, verr = validate.attributes({ name = name }, schema.request("createCandidateTag"), "add tag")
  if not ok then return usage(verr.message) end
  local text, err = read_input(cx, opts.ids_from, "--ids-from")
  if not text then return nil, err end
  local rows = id_rows(text)
  local good, berr = refuse_bad(cx, rows)
  if not good then return nil, berr end
  return run_rows(cx, opts, rows, function(client, row)
    if row.skip then return { status = "error", error = row.skip } end
    local tag, terr = client.candidates:add_tag(row.id, name)
    if not tag then return nil, terr end
    return { id = row.id, status = "tagged", tag_id = type(tag) == "table" and tag.id or nil }
  end, "candidates")
end

-- resume upload --dir DIR ---------------------------------------------------------------------------

-- The names of the files in `dir` (not its directories, nor hidden files), in byte order, or nil, err.
local function list_dir(dir)
  local quote = require("clinch.cli.trace").shell_quote
  if os.execute("test -d " .. quote(dir)) ~= true then return usage("--dir " .. dir .. " is not a directory") end
  local p = io.popen("find " .. quote(dir) .. "/. ! -name . -prune ! -type d -print0 2>/dev/null", "r")
  local listing = p and p:read("a")
  if p then p:close() end
  if not listing then return usage("cannot list the directory " .. dir) end
  local names = {}
  for path in listing:gmatch("([^\0]*)\0") do
    local name = path:match("([^/]*)$")
    if name ~= "" and name:sub(1, 1) ~= "." then names[#names + 1] = name end
  end
  sort(names)
  return names
end

-- The row of file `name` in `dir`: its candidate (row.id, or row.email to look up) and path.
local function file_row(dir, name, n)
  local row = { n = n, file = name, path = dir .. "/" .. name }
  local stem = name:match("^(.+)%.[^.]+$")
  if name:find("%c") then
    row.problem = "the file name holds control characters"
  elseif not stem then
    row.problem = name .. " has no extension: a resume is named <email>.<ext> or <candidate id>.<ext>"
  elseif stem:find("@", 1, true) then
    local ok, why = validate.email(stem)
    if ok then row.email = stem else row.problem = name .. ": the email " .. stem .. " " .. why end
  else
    local ok, why = check_id(stem)
    if ok then row.id = stem else row.problem = name .. ": " .. why end
  end
  if not row.problem then
    local f, oerr = io.open(row.path, "rb")
    local size = f and f:seek("end")
    if f then f:close() end
    if not size then
      row.problem = "cannot read " .. tostring(oerr or name)
    elseif size == 0 then
      row.problem = name .. " is empty"
    end
  end
  return row
end

local function upload_op(client, row)
  if not row.id then
    local page, err = client.candidates:list { per_page = 1, filter = { email = { eq = row.email } } }
    if not page then return nil, err end
    if not page[1] then
      return nil, errors.new { kind = "not_found", message = "no candidate has the email " .. row.email }
    end
    row.id = page[1].id
  end
  local file, err = client.candidates:upload_resume(row.id, { path = row.path, filename = row.file })
  if not file then return nil, err end
  return { id = row.id, status = "uploaded", file = row.file, file_id = type(file) == "table" and file.id or nil }
end

--- `resume upload --dir DIR`: each file of DIR to the candidate its name gives.
function _M.upload(cx, opts)
  local dir = opts.dir:gsub("(.)/+$", "%1")
  local names, err = list_dir(dir)
  if not names then return nil, err end
  local rows = {}
  for i, name in ipairs(names) do rows[i] = file_row(dir, name, i) end
  local ok, berr = refuse_bad(cx, rows)
  if not ok then return nil, berr end
  return run_rows(cx, opts, rows, upload_op, "files")
end

return _M
