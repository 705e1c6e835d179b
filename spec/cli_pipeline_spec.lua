-- The `clinch` command line in pipelines (issue 15): the hint of `list` about more pages, --envelope,
-- the page size of --all, --columns and --fields with dotted paths into included resources, get
-- --include in table view, tags remove by name, --verbose's response lines and retry waits, the
-- update attribute rule, --version. End to end against the mock; a Lua 5.4 program (skipped under
-- LuaJIT, as spec/cli_spec.lua is).
local support = require "support"

if support.is_luajit then
  describe("clinch CLI in pipelines", function()
    pending("runs on Lua 5.4 only: covered by the Lua 5.4 suite")
  end)
  return
end

local cjson = require("cjson.safe").new()

local vars = {}

-- Runs the CLI in this process -> exit code, stdout, stderr. opts.tty: the fds that are terminals.
local function clinch(args, opts)
  return support.cli_main(args, { vars = vars, tty = opts and opts.tty })
end

local decode_lines = support.decode_lines

-- The list requests of the mock's journal, as their URIs.
local function list_uris(mock)
  local uris = {}
  for _, r in ipairs(mock.control("GET", "requests").requests) do
    if r.method == "GET" and tostring(r.uri):find("^/v1/candidates%f[?\0]") then uris[#uris + 1] = r.uri end
  end
  return uris
end

describe("clinch list in pipelines", function()
  local mock

  setup(function()
    mock = support.start_mock { "--candidates", "45", "--seed", "11" }
    vars = { CLINCH_BASE_URL = mock.base_url, CLINCH_API_KEY = "test-key", CLINCH_API_SECRET = "test-secret" }
  end)
  teardown(function() mock.stop() end)
  before_each(function() mock.control("POST", "reset") end)

  it("says on stderr, when it is a terminal, how many more records and pages there are", function()
    local code, out, err = clinch({ "candidates", "list", "--per-page", "10", "--format", "jsonl" },
      { tty = { [2] = true } })
    local _
    assert.are.equal(0, code, err)
    assert.are.equal(10, #decode_lines(out))
    assert.are.equal("clinch: page 1 of 5 shown: 35 more candidates in 4 pages; --page 2 for the next, "
      .. "--all for every page\n", err)
    code, _, err = clinch({ "candidates", "list", "--per-page", "10", "--page", "4", "--format", "csv" },
      { tty = { [2] = true } })
    assert.are.equal(0, code)
    assert.are.equal("clinch: page 4 of 5 shown: 5 more candidates in 1 page; --page 5 for the next, "
      .. "--all for every page\n", err)
    -- The last page: nothing more to say.
    code, _, err = clinch({ "candidates", "list", "--per-page", "10", "--page", "5" }, { tty = { [2] = true } })
    assert.are.equal(0, code)
    assert.are.equal("", err)
    -- Without totals or a last link, the next link alone says that more exist.
    mock.control("POST", "faults", { kind = "pagination", mode = "no_totals", count = 1 })
    code, _, err = clinch({ "candidates", "list", "--per-page", "10" }, { tty = { [2] = true } })
    assert.are.equal(0, code)
    assert.matches("^clinch: page 1[^\n]* shown: [^\n]*; %-%-page 2 for the next, %-%-all for every page\n$", err)
    -- stderr not a terminal (a log, a pipeline): no hint.
    code, _, err = clinch { "candidates", "list", "--per-page", "10" }
    assert.are.equal(0, code)
    assert.are.equal("", err)
  end)

  it("writes one page as a JSON document with meta and links with --envelope", function()
    local code, out, err = clinch { "candidates", "list", "--per-page", "7", "--page", "2", "--envelope",
      "--format", "json" }
    assert.are.equal(0, code, err)
    local doc = assert(cjson.decode(out))
    assert.are.equal(7, #doc.data)
    assert.are.equal("candidates", doc.data[1].type)
    assert.is_string(doc.data[1].attributes.email)
    assert.are.same({ current_page = 2, total_count = 45, total_pages = 7 }, doc.meta)
    assert.matches("page=3", doc.links.next)
    assert.is_nil(doc.included)
    -- With --include, the included resources are the document's, each once, not each record's.
    code, out = clinch { "candidates", "list", "--per-page", "5", "--include", "notes", "--envelope" }
    assert.are.equal(0, code)
    doc = assert(cjson.decode(out))
    assert.is_table(doc.included)
    assert.is_true(#doc.included > 0)
    local ids = {}
    for _, r in ipairs(doc.included) do
      assert.are.equal("candidate_notes", r.type)
      assert.is_nil(ids[r.id])
      ids[r.id] = true
    end
    for _, r in ipairs(doc.data) do assert.is_nil(r.included) end
    -- An empty page is still a document with an array.
    code, out = clinch { "candidates", "list", "--per-page", "50", "--page", "3", "--envelope" }
    assert.are.equal(0, code)
    assert.is_truthy(out:find('"data":[]', 1, true), out)
    -- Only for one page in JSON.
    for _, argv in ipairs { { "--envelope", "--all" }, { "--envelope", "--format", "csv" },
                            { "--envelope", "--columns", "id" }, { "--envelope", "--fields", "id" } } do
      local c, o, e = clinch { "candidates", "list", table.unpack(argv) }
      assert.are.equal(2, c)
      assert.are.equal("", o)
      assert.matches("^clinch: %-%-envelope [^\n]+\n$", e)
    end
  end)

  it("asks for 100 a page with --all unless --per-page says otherwise", function()
    mock.control("DELETE", "requests")
    local code, out = clinch { "candidates", "list", "--all", "--format", "jsonl" }
    assert.are.equal(0, code)
    assert.are.equal(45, #decode_lines(out))
    local uris = list_uris(mock)
    assert.is_true(#uris >= 1)
    for _, uri in ipairs(uris) do assert.matches("per_page=100", uri) end
    mock.control("DELETE", "requests")
    code, out = clinch { "candidates", "list", "--all", "--per-page", "20", "--format", "jsonl" }
    assert.are.equal(0, code)
    assert.are.equal(45, #decode_lines(out))
    uris = list_uris(mock)
    assert.is_true(#uris >= 3)
    for _, uri in ipairs(uris) do assert.matches("per_page=20", uri) end
    -- One page without --per-page leaves the page size to the API.
    mock.control("DELETE", "requests")
    clinch { "candidates", "list" }
    assert.is_falsy(list_uris(mock)[1]:find("per_page", 1, true))
  end)
end)

-- An RFC 4180 reader good enough for the cells written here (quoted fields with commas, CRLF rows).
local function read_csv(text)
  local rows = {}
  for line in text:gmatch("(.-)\r\n") do
    local row, pos = {}, 1
    while pos <= #line + 1 do
      if line:sub(pos, pos) == '"' then
        local cell, i = {}, pos + 1
        while true do
          local c = line:sub(i, i)
          if c == '"' and line:sub(i + 1, i + 1) == '"' then cell[#cell + 1], i = '"', i + 2
          elseif c == '"' then break
          else cell[#cell + 1], i = c, i + 1 end
        end
        row[#row + 1], pos = table.concat(cell), i + 2
      else
        local e = line:find(",", pos, true) or #line + 1
        row[#row + 1], pos = line:sub(pos, e - 1), e + 1
      end
    end
    rows[#rows + 1] = row
  end
  return rows
end

describe("clinch --columns and --fields", function()
  local mock

  setup(function()
    mock = support.start_mock { "--candidates", "12", "--seed", "3" }
    vars = { CLINCH_BASE_URL = mock.base_url, CLINCH_API_KEY = "test-key", CLINCH_API_SECRET = "test-secret" }
  end)
  teardown(function() mock.stop() end)
  before_each(function() mock.control("POST", "reset") end)

  it("refuses unknown names with exit code 2, listing the contract's names, before any request", function()
    mock.control("DELETE", "requests")
    local registry = require "clinch.registry"
    for _, format in ipairs { "csv", "table", "json", "jsonl" } do
      for _, argv in ipairs {
        { "candidates", "list", "--columns", "id,emial" }, { "candidates", "list", "--fields", "id,emial" },
        { "candidates", "get", "x", "--columns", "emial" }, { "candidates", "list", "--columns", "tags.name" },
        { "candidates", "update", "x", "--last-name", "A", "--columns", "emial" },
      } do
        argv[#argv + 1] = "--format"
        argv[#argv + 1] = format
        local code, out, err = clinch(argv)
        assert.are.equal(2, code, table.concat(argv, " "))
        assert.are.equal("", out)
        assert.matches("^clinch: unknown column '[%w.]+' for candidates: valid names are id, type, [^\n]+\n$", err)
        for _, attr in ipairs(registry.attributes("candidates")) do
          assert.is_truthy(err:find(", " .. attr .. "[,;]"), attr)
        end
        assert.is_truthy(err:find("notes", 1, true))
      end
    end
    assert.are.same({}, mock.control("GET", "requests").requests)
    -- A field that none of the included resources has is a typo too (their type is not in the contract).
    local code, out, err = clinch { "candidates", "list", "--columns", "id,notes.contnet", "--format", "csv" }
    assert.are.equal(2, code)
    assert.are.equal("", out)
    assert.matches("^clinch: unknown column 'notes.contnet': the included notes have no field 'contnet'; "
      .. "they have id, type, [^\n]*content", err)
    code = clinch { "candidates", "list", "--columns", "id", "--fields", "id" }
    assert.are.equal(2, code)
  end)

  it("reads dotted paths into included relationships in CSV and table, to-many joined with '; '", function()
    mock.control("DELETE", "requests")
    local code, out, err = clinch { "candidates", "list", "--per-page", "4", "--format", "csv",
      "--columns", "id,email,notes.content,jobs.title" }
    assert.are.equal(0, code, err)
    local rows = read_csv(out)
    assert.are.same({ "id", "email", "notes.content", "jobs.title" }, rows[1])
    assert.are.equal(5, #rows)
    -- The relationships were included without --include, once each.
    local uri = mock.control("GET", "requests").requests[1].uri
    assert.matches("include=notes,jobs", uri, 1, true)
    -- The same values as the included resources of the JSON output.
    local _, json = clinch { "candidates", "list", "--per-page", "4", "--include", "notes,jobs" }
    local list = assert(cjson.decode(json))
    local some = false
    for i, r in ipairs(list) do
      local by_id = {}
      for _, inc in ipairs(r.included or {}) do by_id[inc.type .. "/" .. inc.id] = inc end
      local function joined(rel, field)
        local parts = {}
        for _, link in ipairs(r.relationships[rel].data) do
          parts[#parts + 1] = by_id[link.type .. "/" .. link.id].attributes[field]
        end
        return table.concat(parts, "; ")
      end
      assert.are.equal(r.id, rows[i + 1][1])
      assert.are.equal(joined("notes", "content"), rows[i + 1][3])
      assert.are.equal(joined("jobs", "title"), rows[i + 1][4])
      some = some or rows[i + 1][3]:find("; ", 1, true) ~= nil
    end
    assert.is_true(some, "no candidate with two notes: the test shows no joining")
    -- Table output, one record (get) and a list.
    code, out = clinch { "candidates", "get", list[1].id, "--columns", "id,notes.content", "--format", "table" }
    assert.are.equal(0, code)
    assert.matches("^id%s+" .. list[1].id .. "\nnotes%.content%s+", out)
    assert.is_truthy(out:find("\nnotes.content +" .. rows[2][3]:sub(1, 20):gsub("%p", "%%%0")), out)
    code, out = clinch { "candidates", "list", "--per-page", "2", "--columns", "id,jobs.title", "--format", "table" }
    assert.are.equal(0, code)
    assert.matches("^id%s+jobs%.title\n", out)
  end)

  it("projects JSON and JSON Lines on --fields (and --columns), lists as arrays", function()
    local code, out, err = clinch { "candidates", "list", "--per-page", "3", "--format", "jsonl",
      "--fields", "id,email,tags,notes.content" }
    assert.are.equal(0, code, err)
    local lines = decode_lines(out)
    assert.are.equal(3, #lines)
    for _, r in ipairs(lines) do
      local keys = {}
      for k in pairs(r) do keys[#keys + 1] = k end
      table.sort(keys)
      assert.are.same({ "email", "id", "notes.content", "tags" }, keys)
      assert.is_table(r["notes.content"])
      assert.is_table(r.tags)
    end
    local _, csv = clinch { "candidates", "list", "--per-page", "3", "--format", "csv",
      "--columns", "id,notes.content" }
    assert.are.equal(read_csv(csv)[2][2], table.concat(lines[1]["notes.content"], "; "))
    -- --columns is honoured by JSON too (never silently ignored)...
    code, out = clinch { "candidates", "list", "--per-page", "2", "--format", "json", "--columns", "id" }
    assert.are.equal(0, code)
    assert.are.same({ { id = cjson.decode(out)[1].id }, { id = cjson.decode(out)[2].id } }, cjson.decode(out))
    code, out = clinch { "candidates", "get", lines[1].id, "--fields", "id,email" }
    assert.are.equal(0, code)
    assert.are.same({ id = lines[1].id, email = lines[1].email }, cjson.decode(out))
    -- ...and refused where JSON is the response body as it came, or a bulk command's results.
    code, _, err = clinch { "request", "GET", "/candidates", "--columns", "id" }
    assert.are.equal(2, code)
    assert.matches("^clinch: request %-%-format json prints the response body", err)
    code, _, err = clinch { "candidates", "create", "--from", "-", "--columns", "id" }
    assert.are.equal(2, code)
    assert.matches("%-%-from writes one JSON Lines result per row", err)
    code, _, err = clinch { "tags", "add", "--ids-from", "-", "Hot", "--fields", "id" }
    assert.are.equal(2, code)
    assert.matches("%-%-ids%-from writes one JSON Lines result per id", err)
  end)
end)

describe("clinch candidates get --include in table view", function()
  local mock

  setup(function()
    mock = support.start_mock { "--candidates", "5", "--seed", "3" }
    vars = { CLINCH_BASE_URL = mock.base_url, CLINCH_API_KEY = "test-key", CLINCH_API_SECRET = "test-secret" }
  end)
  teardown(function() mock.stop() end)

  it("shows a section per included relationship with its resources", function()
    local _, json = clinch { "candidates", "list", "--per-page", "1", "--include", "notes,jobs" }
    local cand = assert(cjson.decode(json))[1]
    local code, out, err = clinch { "candidates", "get", cand.id, "--include", "notes,jobs", "--format", "table" }
    assert.are.equal(0, code, err)
    local fields, notes, jobs = out:match("^(.-)\n\nnotes %((%d+)%):\n.-\n\njobs %((%d+)%):\n")
    assert.is_string(fields, out)
    assert.matches("^id%s+" .. cand.id, fields)
    assert.are.equal(#cand.relationships.notes.data, tonumber(notes))
    assert.are.equal(#cand.relationships.jobs.data, tonumber(jobs))
    -- Every included note's content and job's title is in its section (under the section's header).
    local notes_part = out:match("\n\nnotes %(%d+%):\n(.-)\n\njobs")
    local jobs_part = out:match("\n\njobs %(%d+%):\n(.*)$")
    assert.matches("^id%s+[^\n]*content", notes_part)
    assert.matches("^id%s+title", jobs_part)
    for _, inc in ipairs(cand.included) do
      local part = inc.type == "jobs" and jobs_part or notes_part
      local text = inc.type == "jobs" and inc.attributes.title or inc.attributes.content
      assert.is_truthy(part:find(inc.id .. " ", 1, true), inc.id)
      assert.is_truthy(part:find(text:sub(1, 30), 1, true), text)
    end
    -- Other formats are unchanged: JSON carries them in "included".
    code, out = clinch { "candidates", "get", cand.id, "--include", "notes" }
    assert.are.equal(0, code)
    assert.is_table(cjson.decode(out).included)
  end)
end)

describe("clinch tags remove ID NAME_OR_ID", function()
  local mock

  setup(function()
    mock = support.start_mock { "--candidates", "3", "--seed", "4" }
    vars = { CLINCH_BASE_URL = mock.base_url, CLINCH_API_KEY = "test-key", CLINCH_API_SECRET = "test-secret" }
  end)
  teardown(function() mock.stop() end)
  before_each(function() mock.control("POST", "reset") end)

  local function first_id()
    local _, out = clinch { "candidates", "list", "--per-page", "1", "--format", "jsonl" }
    return decode_lines(out)[1].id
  end

  local function tag_names(id)
    local _, out = clinch { "tags", "list", id, "--format", "jsonl" }
    local names = {}
    for _, t in ipairs(decode_lines(out)) do names[t.attributes.name] = t.id end
    return names
  end

  it("removes a tag by its name, or by its id", function()
    local id = first_id()
    assert.are.equal(0, (clinch { "tags", "add", id, "Hot" }))
    assert.are.equal(0, (clinch { "tags", "add", id, "Cold" }))
    local before = tag_names(id)
    local code, out, err = clinch { "tags", "remove", id, "Hot" }
    assert.are.equal(0, code, err)
    assert.are.same({ candidate_id = id, tag_id = before.Hot, name = "Hot", removed = true }, cjson.decode(out))
    assert.is_nil(tag_names(id).Hot)
    -- Case does not matter when only one tag matches.
    code = clinch { "tags", "remove", id, "cOLD" }
    assert.are.equal(0, code)
    assert.is_nil(tag_names(id).Cold)
    -- By id, as before.
    assert.are.equal(0, (clinch { "tags", "add", id, "Warm" }))
    local warm = tag_names(id).Warm
    code, out = clinch { "tags", "remove", id, warm }
    assert.are.equal(0, code)
    assert.are.equal(warm, cjson.decode(out).tag_id)
    assert.is_nil(tag_names(id).Warm)
  end)

  it("refuses an unknown name (exit 1) and an ambiguous one (exit 2), removing nothing", function()
    local id = first_id()
    assert.are.equal(0, (clinch { "tags", "add", id, "Hot" }))
    assert.are.equal(0, (clinch { "tags", "add", id, "hot" }))
    local before = tag_names(id)
    mock.control("DELETE", "requests")
    local code, out, err = clinch { "tags", "remove", id, "Lukewarm" }
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.matches("^clinch: not_found error: candidate " .. id .. " has no tag named or with the id 'Lukewarm' "
      .. "%(its tags: [^\n]*Hot %(" .. before.Hot .. "%)[^\n]*%)\n$", err)
    code, out, err = clinch { "tags", "remove", id, "HOT" }
    assert.are.equal(2, code)
    assert.are.equal("", out)
    assert.matches("^clinch: candidate " .. id .. " has 2 tags named 'HOT': give the id of the one to remove: ", err)
    for _, r in ipairs(mock.control("GET", "requests").requests) do assert.are_not.equal("DELETE", r.method) end
    assert.are.same(before, tag_names(id))
    -- An exact name still decides between them.
    code = clinch { "tags", "remove", id, "hot" }
    assert.are.equal(0, code)
    assert.is_nil(tag_names(id).hot)
    assert.is_string(tag_names(id).Hot)
  end)
end)

describe("clinch --verbose", function()
  local mock

  setup(function()
    mock = support.start_mock { "--candidates", "3", "--seed", "4" }
    vars = { CLINCH_BASE_URL = mock.base_url, CLINCH_API_KEY = "test-key", CLINCH_API_SECRET = "test-secret" }
  end)
  teardown(function() mock.stop() end)
  before_each(function() mock.control("POST", "reset") end)

  it("shows each response's status and headers and every retry wait with its reason", function()
    mock.control("POST", "faults", { kind = "status", status = 429, retry_after = 0, count = 1 })
    mock.control("POST", "faults", { kind = "status", status = 503, count = 1 })
    mock.control("POST", "faults", { kind = "reset", count = 1 })
    local code, out, err = clinch { "--verbose", "--retries", "3", "candidates", "list", "--per-page", "1",
      "--format", "csv" }
    assert.are.equal(0, code, err)
    assert.are.equal(2, select(2, out:gsub("\r\n", "")))
    local uri = "GET /v1/candidates%?per_page=1"
    assert.matches("clinch: < 429 " .. uri .. " %(%d+ ms, attempt 1%)\nclinch: < connection: [^\n]+\n"
      .. "clinch: < content%-length: %d+\nclinch: < content%-type: application/vnd%.api%+json\n"
      .. "clinch: < date: [^\n]+ GMT\nclinch: < retry%-after: 0\nclinch: < x%-request%-id: %x+\n", err)
    assert.matches("clinch: retry 2 in 0%.0 s after " .. uri .. ": HTTP 429, Retry%-After 0 s\n", err)
    assert.matches("clinch: < 503 " .. uri .. " %(%d+ ms, attempt 2%)\n", err)
    assert.matches("clinch: retry 3 in %d+%.%d s after " .. uri .. ": HTTP 503\n", err)
    assert.matches("clinch: < network " .. uri .. " %(%d+ ms, attempt 3%)\n", err)
    assert.matches("clinch: retry 4 in %d+%.%d s after " .. uri .. ": network error %([^\n]+%)\n", err)
    assert.matches("clinch: < 200 " .. uri .. " %(%d+ ms, attempt 4%)\n", err)
    -- In order: each retry line comes after its answer and before the next attempt's request line.
    local r2, a2 = err:find("clinch: retry 2", 1, true), err:find("attempt 2)", 1, true)
    assert.is_true(r2 < a2)
    assert.is_falsy(err:find("test-secret", 1, true))
  end)

  it("redacts response headers that carry secrets", function()
    local trace = require "clinch.cli.trace"
    for _, name in ipairs { "Set-Cookie", "set-cookie", "X-Auth-Token", "X-Api-Key", "Authorization", "X-Secret" } do
      assert.are.equal("[redacted]", trace.response_header_value(name, "s3cr3t"), name)
    end
    assert.are.equal("2", trace.response_header_value("Retry-After", "2"))
    assert.are.equal("abc", trace.response_header_value("X-Request-Id", "abc"))
  end)
end)

describe("clinch candidates update: the library's update rule", function()
  local mock

  setup(function()
    mock = support.start_mock { "--candidates", "3", "--seed", "4" }
    vars = { CLINCH_BASE_URL = mock.base_url, CLINCH_API_KEY = "test-key", CLINCH_API_SECRET = "test-secret" }
  end)
  teardown(function() mock.stop() end)

  it("changes the phone and email without sending unchecked attributes", function()
    local _, out = clinch { "candidates", "list", "--per-page", "1", "--format", "jsonl" }
    local id = decode_lines(out)[1].id
    local code, shown, err = clinch { "candidates", "update", id, "--phone", "+44 20 7946 0000", "--email",
      "changed@example.com", "--format", "jsonl" }
    assert.are.equal(0, code, err)
    local cand = decode_lines(shown)[1]
    assert.are.equal("+44 20 7946 0000", cand.attributes.phone_number)
    assert.are.equal("changed@example.com", cand.attributes.email)
    -- Checked by create's rules before sending (no allow_unknown behind the user's back).
    mock.control("DELETE", "requests")
    code, _, err = clinch { "candidates", "update", id, "--email", "not-an-email" }
    assert.are.equal(2, code)
    assert.matches("^clinch: [^\n]*email[^\n]*\n$", err)
    assert.are.same({}, mock.control("GET", "requests").requests)
  end)
end)

describe("clinch --version", function()
  it("prints the library, core, libcurl and OpenSSL versions, a line each", function()
    local p = assert(io.popen(support.child_env .. support.lua .. " bin/clinch --version 2>&1"))
    local out = p:read("a")
    assert.is_true(p:close())
    local core = require "clinch.core"
    local curl, tls = core.curl_version()
    local lines = {}
    for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
    assert.are.equal(4, #lines, out)
    assert.are.equal("clinch " .. require("clinch")._VERSION, lines[1])
    assert.are.equal("core " .. core._VERSION .. " (" .. _VERSION .. ")", lines[2])
    assert.are.equal("libcurl " .. curl .. " (" .. tls .. ")", lines[3])
    assert.matches("^%d+%.%d+%.%d+", curl)
    assert.matches("^OpenSSL %d+%.%d+%.%d+", lines[4])
    assert.are.equal(core.openssl_version(), lines[4])
  end)
end)

describe("clinch's messages", function()
  local mock

  setup(function()
    mock = support.start_mock { "--candidates", "2", "--seed", "4" }
    vars = { CLINCH_BASE_URL = mock.base_url, CLINCH_API_KEY = "test-key", CLINCH_API_SECRET = "test-secret" }
  end)
  teardown(function() mock.stop() end)

  it("name flags and variables, never the library's functions or Lua options", function()
    local _, out = clinch { "candidates", "list", "--per-page", "1", "--format", "jsonl" }
    local id = decode_lines(out)[1].id
    -- The library's own names: clinch.new, its option names, every collection and object method.
    local internal = { "clinch%.new", "opts%.", "clinch%.uri", "%.lua", "base_url", "max_concurrency",
                       "date table", "epoch number" }
    local tables = { require("clinch.resource").Collection }
    for _, def in ipairs(require("clinch.registry").list()) do
      tables[#tables + 1], tables[#tables + 1] = def.Collection, def.Object
    end
    for _, t in ipairs(tables) do
      for name, v in pairs(t) do
        if type(v) == "function" then internal[#internal + 1] = "%f[%w_]" .. name:gsub("%p", "%%%0") .. ": " end
      end
    end
    local cases = {
      { { "candidates", "list", "--timeout", "0" }, 2, "^clinch: %-%-timeout must be positive\n$" },
      { { "candidates", "list", "--include", "bogus" }, 2,
        "^clinch: validation error: %-%-include: unknown name 'bogus'" },
      { { "candidates", "list", "--updated-since", "yesterday" }, 2,
        '^clinch: validation error: %-%-updated%-since: invalid time "yesterday": expected [^\n]+ %(UTC%)\n$' },
      { { "tags", "add", id, " " }, 2, "^clinch: validation error: tag name must not be empty\n$" },
      { { "request", "GET", "/a b" }, 2, "^clinch: PATH must start with '/'" },
      { { "request", "GET", "/x?a=1", "--query", "b=2" }, 2, "^clinch: give the query in PATH or with %-%-query" },
      { { "candidates", "create", "--email", "x" }, 2,
        "^clinch: validation error: create candidate: attribute 'email'" },
      { { "--key", "a b", "candidates", "list" }, 2, "^clinch: the API key %(%-%-key or CLINCH_API_KEY%) must be" },
    }
    for _, case in ipairs(cases) do
      local code, o, err = clinch(case[1])
      assert.are.equal(case[2], code, table.concat(case[1], " "))
      assert.are.equal("", o)
      assert.matches(case[3], err)
      for _, pat in ipairs(internal) do assert.is_falsy(err:find(pat), pat .. " in " .. err) end
    end
    -- The environment's values too.
    local saved = vars
    vars = { CLINCH_REGION = "uk", CLINCH_API_KEY = "k", CLINCH_API_SECRET = "s" }
    local code, _, err = clinch { "candidates", "list" }
    assert.are.equal(2, code)
    assert.are.equal("clinch: unknown region 'uk' (--region or CLINCH_REGION: us, eu, au)\n", err)
    vars = { CLINCH_BASE_URL = "ftp://x", CLINCH_API_KEY = "k", CLINCH_API_SECRET = "s" }
    code, _, err = clinch { "candidates", "list" }
    assert.are.equal(2, code)
    assert.are.equal("clinch: the base URL (--base-url or CLINCH_BASE_URL) must be an http(s) URL without query: "
      .. "ftp://x\n", err)
    vars = saved
  end)
end)

describe("clinch candidates sync --columns", function()
  it("checks the names as list does, before any request", function()
    vars = { CLINCH_BASE_URL = "http://127.0.0.1:1/v1", CLINCH_API_KEY = "k", CLINCH_API_SECRET = "s" }
    local dir = support.tmpdir()
    local code, out, err = clinch { "candidates", "sync", "--state", dir .. "/s.json", "--out", dir .. "/o.csv",
      "--columns", "id,emial" }
    os.execute("rm -rf '" .. dir .. "'")
    assert.are.equal(2, code)
    assert.are.equal("", out)
    assert.matches("^clinch: unknown column 'emial' for candidates: valid names are id, type, ", err)
  end)
end)

