--- The CLI's commands: each has its words, usage, a summary, its options, its positional arguments and
-- a `run(cx, opts, args)` returning true or nil, err (cx is the run context of clinch.cli). Every
-- registered resource (clinch.registry) has `NAME list` and `NAME get`, made here from its definition
-- (columns, include names; the array attributes come from the contract through the registry); the
-- candidates' other operations are written out below. Sync and the REPL live in their own modules.
local type, pairs, ipairs, require, next, tostring = type, pairs, ipairs, require, next, tostring
local io, concat, insert = io, table.concat, table.insert
local errors = require "clinch.errors"
local registry = require "clinch.registry"

local _M = {}

--- Default columns of the csv and table formats: a registered resource's own (see its file), and
-- those of a candidate's tags.
_M.CANDIDATE_COLUMNS = registry.get("candidates").columns
_M.TAG_COLUMNS = { "id", "name" }
local TAG_TYPE = "tags" -- the type the API gives a candidate's tags

local function usage(message)
  return nil, errors.new { kind = "usage", message = message }
end
_M.usage = usage

-- --include values: repeatable, each comma-separated.
local function includes(list)
  if not list then return nil end
  local out = {}
  for _, v in ipairs(list) do
    for name in v:gmatch("[^,%s]+") do out[#out + 1] = name end
  end
  return out
end
_M.includes = includes

local COLUMNS_OPT = { "columns", arg = "A,B,...",
  help = "fields shown (csv/table columns, json members); REL.FIELD reads an included relationship" }
local FIELDS_OPT = { "fields", arg = "A,B,...", help = "the same as --columns" }
local columns_of = require "clinch.cli.columns"

-- The columns the user chose (--columns or --fields), else `default`.
local function columns(opts, default)
  return columns_of.chosen(opts) or default
end

-- Default columns of a record type in the csv and table formats (nil: every field).
local function columns_for(record)
  local t = type(record) == "table" and record.type
  if t == TAG_TYPE then return _M.TAG_COLUMNS end
  return registry.columns(t)
end

-- Writes one record (a resource, or a plain table of fields) in the chosen format. The table format
-- lists every field of one record unless --columns says otherwise; CSV uses the list's columns.
local function write_one(cx, record, cols)
  if not cols and cx.format == "csv" then cols = columns_for(record) end
  local w = cx:writer { columns = cols, single = true }
  w:write(record)
  w:finish()
  return true
end

-- The candidates' filters as list options (--updated-since, --updated-before, --email).
local function candidate_filter(opts)
  local filter = {}
  if opts.updated_since or opts.updated_before then
    filter.updated_at = { gte = opts.updated_since, lt = opts.updated_before }
  end
  if opts.email then filter.email = { eq = opts.email } end
  return next(filter) and filter or nil
end

-- The list options of `NAME list`: paging, includes, and the resource's filters.
local function list_options(opts, extra)
  return {
    page = opts.page, per_page = opts.per_page,
    include = columns_of.with_includes(includes(opts.include), columns_of.chosen(opts)),
    filter = extra and extra.filter and extra.filter(opts) or nil,
  }
end

--- Pages in flight behind the one being written, for `--all` and sync, unless --concurrency says.
_M.PAGES_IN_FLIGHT = 4

-- A whole number of a page's meta (JSON numbers may be floats), or nil.
local function whole(v)
  if type(v) ~= "number" or v ~= v or v < 0 then return nil end
  return math.floor(v)
end

-- The number of the last page when the server says it: meta total_pages, or links.last's page number.
local function last_page(page)
  local meta = type(page.meta) == "table" and page.meta or {}
  if whole(meta.total_pages) then return whole(meta.total_pages) end
  local last = type(page.links) == "table" and page.links.last
  if type(last) == "table" then last = last.href end
  return type(last) == "string" and tonumber(last:match("[?&]page=(%d+)")) or nil
end

--- The line `list` writes on stderr (a terminal) after one page when more exist: how many more
-- records and pages (from meta and links, as far as they say) and the options that get them; nil
-- when this is the last page.
function _M.more_hint(page, opts, label)
  local text_number = require("clinch.text").number
  local meta = type(page.meta) == "table" and page.meta or {}
  local current = whole(meta.current_page) or opts.page or 1
  local last = last_page(page)
  local links = type(page.links) == "table" and page.links or {}
  local has_next = links.next ~= nil and links.next ~= require("cjson.safe").null
  if (last and current >= last) or (not last and not has_next) then return nil end
  local next_opt = "--page " .. text_number(current + 1)
  local total = require("clinch.cli.progress").total_of(page)
  local per_page = opts.per_page or #page
  local parts = {}
  if total then
    local more = total - ((current - 1) * per_page + #page)
    if more > 0 then parts[#parts + 1] = text_number(more) .. " more " .. label end
  end
  if last then
    local pages = last - current
    parts[#parts + 1] = text_number(pages) .. (parts[1] and " " or " more ") .. (pages == 1 and "page" or "pages")
  end
  local what = parts[1] and concat(parts, " in ") or "more pages"
  return ("page %s%s shown: %s; %s for the next, --all for every page"):format(text_number(current),
    last and " of " .. text_number(last) or "", what, next_opt)
end

-- `NAME list` without --all: one page; --envelope writes it as one JSON document with meta and links.
local function list_page(cx, opts, def, lopts)
  local page, err = cx:client()[def.name]:list(lopts)
  if not page then return nil, err end
  local ok, why = columns_of.check_data(columns_of.chosen(opts), page)
  if not ok then return usage(why) end
  local w = cx:writer { columns = columns(opts, def.columns) }
  if opts.envelope then
    w:write_envelope(page)
  else
    for _, record in ipairs(page) do w:write(record) end
    w:finish()
  end
  if cx.stderr_tty then
    local hint = _M.more_hint(page, opts, def.name)
    if hint then cx.stderr:write("clinch: ", hint, "\n") end
  end
  return true
end

--- `NAME list` of a registered resource: one page, or every page with --all (up to --concurrency
-- pages in flight: see clinch.resource's walks; BULK_PER_PAGE a page unless --per-page says).
local function list_run(cx, opts, def, extra)
  if opts.envelope and (opts.all or cx.format ~= "json") then
    return usage("--envelope writes one page as a JSON document: use it with --format json, without --all")
  elseif opts.envelope and columns_of.chosen(opts) then
    return usage("--envelope writes the API's document as it came: without --columns/--fields")
  end
  local lopts = list_options(opts, extra)
  if not opts.all then return list_page(cx, opts, def, lopts) end
  local coll = cx:client()[def.name]
  lopts.per_page = lopts.per_page or require("clinch.defaults").BULK_PER_PAGE
  lopts.concurrency = opts.concurrency or _M.PAGES_IN_FLIGHT
  local walk, werr = coll:_walk(lopts, "list")
  if not walk then return nil, werr end
  -- (started before the first page, so that its rate counts that page's round trip)
  local progress = cx:progress(def.name)
  local page, err = walk:step()
  if not page then return nil, err end -- nothing written: the first page failed
  local ok, why = columns_of.check_data(columns_of.chosen(opts), page)
  if not ok then
    walk:drain()
    return usage(why)
  end
  local w = cx:writer { columns = columns(opts, def.columns) }
  local total_of = require("clinch.cli.progress").total_of
  while page do
    for _, record in ipairs(page) do w:write(record) end
    progress:page(#page, total_of(page))
    page, err = walk:step()
  end
  if page == nil then
    progress:clear()
    w:abort()
    return nil, err
  end
  progress:finish()
  w:finish()
  return true
end

-- The table view of `get --include`: after the record's fields, a section per included relationship
-- (in the order the names were given; a dotted name shows its first part), its resources as a table
-- of their fields, or "(none)".
local function related_sections(cx, record, include)
  local seen = {}
  for _, name in ipairs(include or {}) do
    local head = name:match("^[^.]+")
    if not seen[head] then
      seen[head] = true
      local linked = record[head]
      if type(linked) == "table" and linked.id ~= nil then linked = { linked } end
      local n = type(linked) == "table" and #linked or 0
      cx.stdout:write("\n", head, " (", tostring(n), "):\n")
      -- The registered type's default columns, else the fields of the first (the type is the heading's).
      local cols = n > 0 and columns_for(linked[1])
      if n > 0 and not cols then
        cols = {}
        for _, f in ipairs(require("clinch.cli.output").fields_of(linked[1])) do
          if f ~= "type" then cols[#cols + 1] = f end
        end
      end
      local w = cx:writer { columns = cols or nil, project = false }
      for i = 1, n do w:write(linked[i]) end
      w:finish()
    end
  end
end

--- `NAME get ID` of a registered resource.
local function get_run(cx, opts, args, def)
  local include = columns_of.with_includes(includes(opts.include), columns_of.chosen(opts))
  local record, err = cx:client()[def.name]:get(args[1], { include = include })
  if not record then return nil, err end
  local ok, why = columns_of.check_data(columns_of.chosen(opts), { record })
  if not ok then return usage(why) end
  write_one(cx, record, columns(opts))
  if cx.format == "table" and not columns_of.chosen(opts) then related_sections(cx, record, includes(opts.include)) end
  return true
end

--- The attribute each option of `candidates create` and `update` sets: the options are the CLI's names,
-- the attributes those of the contract's createCandidate (spec/cli_spec.lua checks).
_M.ATTRIBUTE_OPTIONS = { email = "email", first_name = "first_name", last_name = "last_name",
                         phone = "phone_number", tag = "tag_values" }

local function attributes(opts)
  local attrs = {}
  for opt, attr in pairs(_M.ATTRIBUTE_OPTIONS) do attrs[attr] = opts[opt] end
  return attrs
end

local function candidates_create(cx, opts)
  if opts.from then
    if columns_of.chosen(opts) then
      return usage("--columns/--fields shape one created candidate: --from writes one JSON Lines result per row")
    end
    return require("clinch.cli.bulk").create(cx, opts)
  end
  if not opts.email then return usage("candidates create needs --email (or --from FILE)") end
  local cand, err = cx:client().candidates:create(attributes(opts))
  if not cand then return nil, err end
  return write_one(cx, cand, columns(opts))
end

local function candidates_update(cx, opts, args)
  local attrs = attributes(opts)
  if next(attrs) == nil then
    return usage("candidates update needs at least one of --first-name, --last-name, --phone, --email")
  end
  -- What update accepts is the library's rule (clinch.resources.candidates): create's attributes.
  local cand, err = cx:client().candidates:update(args[1], attrs)
  if not cand then return nil, err end
  return write_one(cx, cand, columns(opts))
end

local function tags_list(cx, opts, args)
  local tags, err = cx:client().candidates:list_tags(args[1])
  if not tags then return nil, err end
  local w = cx:writer { columns = columns(opts, _M.TAG_COLUMNS) }
  for _, tag in ipairs(tags) do w:write(tag) end
  w:finish()
  return true
end

local function tags_add(cx, opts, args)
  if opts.ids_from then
    if columns_of.chosen(opts) then
      return usage("--columns/--fields shape one tag added: --ids-from writes one JSON Lines result per id")
    end
    return require("clinch.cli.bulk").tag(cx, opts, args[1])
  end
  local tag, err = cx:client().candidates:add_tag(args[1], args[2])
  if not tag then return nil, err end
  if tag == true then tag = { candidate_id = args[1], name = args[2], added = true } end
  return write_one(cx, tag, columns(opts))
end

-- The tag `which` names among a candidate's tags: its id, else its name (exactly, else ignoring case)
-- -> the tag, or nil and an error: not_found (exit 1) when none matches, usage (exit 2) when the name
-- is ambiguous (two tags of that name: the id decides).
local function find_tag(tags, cand_id, which)
  for _, tag in ipairs(tags) do
    if tag.id == which then return tag end
  end
  local function named(same)
    local found = {}
    for _, tag in ipairs(tags) do
      if type(tag.name) == "string" and same(tag.name) then found[#found + 1] = tag end
    end
    return found
  end
  local found = named(function(n) return n == which end)
  if #found == 0 then found = named(function(n) return n:lower() == which:lower() end) end
  if #found == 1 then return found[1] end
  local listing = {}
  for _, tag in ipairs(#found > 1 and found or tags) do
    listing[#listing + 1] = tostring(tag.name) .. " (" .. tostring(tag.id) .. ")"
  end
  if #found > 1 then
    return usage(("candidate %s has %d tags named '%s': give the id of the one to remove: %s"):format(cand_id,
      #found, which, concat(listing, ", ")))
  end
  return nil, errors.new { kind = "not_found", message = ("candidate %s has no tag named or with the id '%s' "
    .. "(its tags: %s)"):format(cand_id, which, #listing > 0 and concat(listing, ", ") or "none") }
end

-- `tags remove ID NAME_OR_ID`: a name is looked up among the candidate's tags (one more request); under
-- --dry-run the argument is taken as the tag's id, so the printed request is the DELETE itself.
local function tags_remove(cx, opts, args)
  local cands = cx:client().candidates
  local tag = { id = args[2] }
  if not opts.dry_run then
    local tags, err = cands:list_tags(args[1])
    if not tags then return nil, err end
    local terr
    tag, terr = find_tag(tags, args[1], args[2])
    if not tag then return nil, terr end
  end
  local ok, err = cands:remove_tag(args[1], tag.id)
  if not ok then return nil, err end
  return write_one(cx, { candidate_id = args[1], tag_id = tag.id, name = tag.name, removed = true })
end

local function resume_upload(cx, opts, args)
  if opts.dir then return require("clinch.cli.bulk").upload(cx, opts) end
  local f, oerr = io.open(args[2], "rb")
  if not f then return usage("cannot read " .. tostring(oerr)) end -- ("PATH: No such file or directory")
  f:close()
  local file, err = cx:client().candidates:upload_resume(args[1], { path = args[2] })
  if not file then return nil, err end
  if file == true then file = { candidate_id = args[1], filename = args[2]:match("[^/]+$"), uploaded = true } end
  return write_one(cx, file)
end

-- --query NAME=VALUE: NAME may be deepObject-style, filter[updated_at][gte]=...
local function query_table(list)
  local q = {}
  for _, item in ipairs(list or {}) do
    local name, value = item:match("^([^=]+)=(.*)$")
    if not name then return nil, "--query expects NAME=VALUE, got '" .. item .. "'" end
    local keys = { name:match("^([^%[]+)") }
    if not keys[1] then return nil, "--query: invalid name '" .. name .. "'" end
    local rest = name:sub(#keys[1] + 1)
    for k in rest:gmatch("%[([^%]]*)%]") do keys[#keys + 1] = k end
    local t = q
    for i = 1, #keys - 1 do
      if type(t[keys[i]]) ~= "table" then t[keys[i]] = {} end
      t = t[keys[i]]
    end
    t[keys[#keys]] = value
  end
  return q
end

local function read_data(spec, stdin)
  if spec:sub(1, 1) ~= "@" then return spec end
  local path = spec:sub(2)
  local f, oerr = stdin, nil
  if path ~= "-" then f, oerr = io.open(path, "rb") end
  if not f then return nil, "cannot read " .. tostring(oerr) end
  local data = f:read("a")
  if f ~= stdin then f:close() end
  return data
end

local function request(cx, opts, args)
  if columns_of.chosen(opts) and cx.format == "json" then
    return usage("request --format json prints the response body as it came: use --columns/--fields with "
      .. "--format jsonl, csv or table")
  end
  local method = args[1]:upper()
  if not method:match("^%u+$") then return usage("METHOD must be an HTTP method such as GET") end
  local path = args[2]
  if path:sub(1, 1) ~= "/" then path = "/" .. path end
  local q, qerr = query_table(opts.query)
  if not q then return usage(qerr) end
  local ropts = { query = next(q) and q or nil }
  if opts.data then
    local body, derr = read_data(opts.data, cx.stdin)
    if not body then return usage(derr) end
    if require("cjson.safe").decode(body) == nil then return usage("--data is not valid JSON") end
    ropts.body = body
  end
  -- What client:request would raise for the user's METHOD and PATH, as a usage error.
  local valid, why = require("clinch.validate").request_target(method, path, ropts.query ~= nil)
  if not valid then return usage(why) end
  local res, err = cx:client():request(method, path, ropts)
  if not res then return nil, err end
  local doc = res.document
  if cx.format == "json" or type(doc) ~= "table" then
    local body = res.body or ""
    cx.stdout:write(body, (body ~= "" and body:sub(-1) ~= "\n") and "\n" or "")
    return true
  end
  local data = doc.data
  if type(data) ~= "table" then
    cx.stdout:write(res.body, "\n")
    return true
  end
  local single = data.id ~= nil or data.type ~= nil
  local cols = columns(opts)
  if not cols and (cx.format == "csv" or not single) then cols = columns_for(single and data or data[1]) end
  local w = cx:writer { columns = cols, single = single }
  if single then w:write(data) else for _, item in ipairs(data) do w:write(item) end end
  w:finish()
  return true
end

-- --include of a resource: its valid names listed when they are few, two examples otherwise.
local function include_opt(def)
  local names = def.includes
  local help = "related resources to include (repeatable, comma-separated)"
  if names and #names <= 4 then
    help = help .. ": " .. concat(names, ", ")
  elseif names then
    local simple = {}
    for i = #names, 1, -1 do
      if not names[i]:find(".", 1, true) and #simple < 2 then insert(simple, 1, names[i]) end
    end
    help = help .. ", e.g. " .. concat(simple, ",")
  end
  return { "include", arg = "NAME[,NAME]", multi = true, help = help }
end
local ATTR_OPTS = {
  { "email", arg = "EMAIL", help = "email address" },
  { "first-name", arg = "NAME", help = "first name" },
  { "last-name", arg = "NAME", help = "last name" },
  { "phone", arg = "PHONE", help = "phone number" },
}

local BULK_CONCURRENCY_OPT = { "concurrency", arg = "N", type = "integer",
                               help = "rows at once (default " .. require("clinch.defaults").CONCURRENCY .. ")" }

local function with(list, ...)
  local out = {}
  for _, o in ipairs(list) do out[#out + 1] = o end
  for _, o in ipairs { ... } do out[#out + 1] = o end
  return out
end

-- What `NAME list` adds for some resources: options that make its filter.
local LIST_EXTRAS = {
  candidates = {
    options = {
      { "updated-since", arg = "TIME",
        help = "only candidates updated at or after TIME (UTC, YYYY-MM-DD[THH:MM:SS])" },
      { "updated-before", arg = "TIME", help = "only candidates updated before TIME" },
      { "email", arg = "EMAIL", help = "only the candidate with this email address" },
    },
    filter = candidate_filter,
    example = "clinch candidates list --updated-since 2024-01-01 --all --format csv > out.csv",
  },
}

-- `NAME list` and `NAME get` of a registered resource.
local function resource_commands(def)
  local extra = LIST_EXTRAS[def.name]
  local options = {
    { "page", arg = "N", type = "integer", help = "page number (default 1)" },
    { "per-page", arg = "N", type = "integer",
      help = def.name .. " per page (default: the API's; with --all " .. require("clinch.defaults").BULK_PER_PAGE
        .. ")" },
    { "all", help = "follow every page from --page on (progress on stderr when it is a terminal)" },
    { "envelope", help = "with --format json, one page as a JSON document: {data, meta, links[, included]}" },
    { "concurrency", arg = "N", type = "integer",
      help = "with --all: pages in flight at once (default " .. _M.PAGES_IN_FLIGHT .. ")" },
    include_opt(def),
  }
  for _, o in ipairs(extra and extra.options or {}) do options[#options + 1] = o end
  options[#options + 1] = COLUMNS_OPT
  local example = def.includes and " --include " .. def.includes[#def.includes] or ""
  return {
    words = { def.name, "list" }, usage = "clinch " .. def.name .. " list [options]",
    summary = "list " .. def.name .. " (one page, or every page with --all)",
    example = extra and extra.example or "clinch " .. def.name .. " list --all --format csv > " .. def.name .. ".csv",
    options = options, args = {}, columns_of = def,
    run = function(cx, opts) return list_run(cx, opts, def, extra) end,
  }, {
    words = { def.name, "get" }, usage = "clinch " .. def.name .. " get ID [--include NAME,...]",
    summary = "show one " .. def.label, example = "clinch " .. def.name .. " get 35b24a" .. example,
    options = { include_opt(def), COLUMNS_OPT }, args = { "ID" }, columns_of = def,
    run = function(cx, opts, args) return get_run(cx, opts, args, def) end,
  }
end

-- The commands of the candidates beyond list and get.
local CANDIDATE_COMMANDS = {
  {
    words = { "candidates", "create" },
    usage = "clinch candidates create --email EMAIL [--first-name N] [--last-name N] [--phone P] [--tag T]... "
      .. "| --from FILE [--concurrency N]",
    summary = "create a candidate, or one per row of a file",
    example = "clinch candidates create --email jane@example.com --first-name Jane --tag 'Seed Data'; "
      .. "clinch candidates create --from people.csv > results.jsonl",
    options = with(ATTR_OPTS, { "tag", arg = "NAME", multi = true, help = "tag to add (repeatable)" }, COLUMNS_OPT,
      { "from", arg = "FILE", help = "one candidate per row: CSV with a header row naming attributes (tag_values "
        .. "split at ;), or JSON Lines; - for stdin. One JSON Lines result per row on stdout" },
      BULK_CONCURRENCY_OPT),
    args = {}, run = candidates_create, columns_of = registry.get("candidates"),
  },
  {
    words = { "candidates", "update" }, usage = "clinch candidates update ID [--first-name N] [--last-name N] ...",
    summary = "change a candidate's fields", example = "clinch candidates update 35b24a --last-name Smith",
    options = with(ATTR_OPTS, COLUMNS_OPT), args = { "ID" }, run = candidates_update,
    columns_of = registry.get("candidates"),
  },
  {
    words = { "candidates", "sync" }, usage = "clinch candidates sync --state FILE --out FILE [--since TIME]",
    summary = "export candidates changed since the last run (incremental, resumable)",
    example = "clinch candidates sync --since 2024-01-01 --state sync.json --out changes.jsonl",
    options = function() return require("clinch.cli.sync").OPTIONS end,
    args = {}, run = function(cx, opts) return require("clinch.cli.sync").run(cx, opts) end,
  },
  {
    words = { "tags", "list" }, usage = "clinch tags list ID", summary = "list a candidate's tags",
    example = "clinch tags list 35b24a", options = { COLUMNS_OPT }, args = { "ID" }, run = tags_list,
  },
  {
    words = { "tags", "add" }, usage = "clinch tags add ID NAME | --ids-from FILE NAME [--concurrency N]",
    summary = "tag a candidate, or every candidate a file lists",
    example = "clinch tags add 35b24a 'Java developer'; clinch tags add --ids-from ids.txt Imported",
    options = { COLUMNS_OPT,
      { "ids-from", arg = "FILE", help = "tag every candidate FILE lists: an id a line, or JSON Lines with an "
        .. "\"id\" (the results of candidates create --from); - for stdin. One JSON Lines result per row" },
      BULK_CONCURRENCY_OPT },
    args = function(opts) return opts.ids_from and { "NAME" } or { "ID", "NAME" } end, run = tags_add,
  },
  {
    words = { "tags", "remove" }, usage = "clinch tags remove ID NAME_OR_ID",
    summary = "remove a tag from a candidate, by its name or its id",
    example = "clinch tags remove 35b24a Hot", options = {}, args = { "ID", "NAME_OR_ID" }, run = tags_remove,
  },
  {
    words = { "resume", "upload" }, usage = "clinch resume upload ID FILE | --dir DIR [--concurrency N]",
    summary = "upload a resume file, or every file of a directory",
    example = "clinch resume upload 35b24a cv.pdf; clinch resume upload --dir resumes/",
    options = {
      { "dir", arg = "DIR", help = "upload each file of DIR named <email>.<ext> or <candidate id>.<ext> to that "
        .. "candidate (hidden files are left out). One JSON Lines result per file" },
      BULK_CONCURRENCY_OPT },
    args = function(opts) return opts.dir and {} or { "ID", "FILE" } end, run = resume_upload,
  },
}

-- The commands that belong to no resource.
local GENERAL_COMMANDS = {
  {
    words = { "request" }, usage = "clinch request METHOD PATH [--query NAME=VALUE]... [--data JSON|@FILE|@-]",
    summary = "send any signed request (the response body is printed)",
    example = "clinch request GET /candidates --query per_page=2 --query 'filter[email][eq]=jane@example.com'",
    options = {
      { "query", arg = "NAME=VALUE", multi = true, help = "query parameter (repeatable; a[b][c]=v for deepObject)" },
      { "data", arg = "JSON|@FILE|@-", help = "request body (JSON text, a file, or stdin)" },
      COLUMNS_OPT,
    },
    args = { "METHOD", "PATH" }, run = request,
  },
  {
    words = { "completion" }, usage = "clinch completion bash|zsh",
    summary = "print a shell completion script (commands, options, include names, formats)",
    example = "source <(clinch completion bash)", options = {}, args = { "SHELL" },
    run = function(cx, _, args)
      local script, err = require("clinch.cli.completion").script(args[1])
      if not script then return usage(err) end
      cx.stdout:write(script)
      return true
    end,
  },
  {
    words = { "repl" }, usage = "clinch repl", summary = "interactive Lua prompt with `clinch` and `client` loaded",
    example = "clinch repl", options = {}, args = {}, interactive = true,
    run = function(cx) return require("clinch.cli.repl").run(cx) end,
  },
}

-- The commands a resource has beyond list and get, by name.
local MORE = { candidates = CANDIDATE_COMMANDS }

--- Every command, in the order `clinch --help` lists them: each registered resource's list and get
-- (and its other commands), then the general ones.
_M.list = {}
for _, def in ipairs(registry.list()) do
  local list, get = resource_commands(def)
  _M.list[#_M.list + 1] = list
  _M.list[#_M.list + 1] = get
  for _, cmd in ipairs(MORE[def.name] or {}) do _M.list[#_M.list + 1] = cmd end
end
for _, cmd in ipairs(GENERAL_COMMANDS) do _M.list[#_M.list + 1] = cmd end

-- Every command with --columns also takes --fields, and checks the names first (clinch.cli.columns)
-- against the resource it shows (`columns_of`: a definition; unchecked without one).
local function checked_columns(cmd)
  local run, def = cmd.run, cmd.columns_of
  cmd.run = function(cx, opts, args)
    if opts.columns and opts.fields then return usage("--columns and --fields are the same option: give one") end
    local ok, why = columns_of.check(columns_of.chosen(opts), def)
    if not ok then return usage(why) end
    return run(cx, opts, args)
  end
end
for _, cmd in ipairs(_M.list) do
  local opts = cmd.options
  if type(opts) == "table" then
    for i, o in ipairs(opts) do
      if o == COLUMNS_OPT then
        insert(opts, i + 1, FIELDS_OPT)
        checked_columns(cmd)
        break
      end
    end
  end
end

return _M
