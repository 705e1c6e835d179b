-- The `clinch` command line (bin/clinch, lua/clinch/cli/): option parsing, configuration, output formats,
-- exit codes, progress, --verbose, --dry-run and `candidates sync`, end to end against the mock. The
-- CLI is a Lua 5.4 program: under LuaJIT these specs are skipped (the 5.4 suite runs them).
local support = require "support"
local read_file, write_file = support.read_file, support.write_file

if support.is_luajit then
  describe("clinch CLI", function()
    pending("runs on Lua 5.4 only: covered by the Lua 5.4 suite")
  end)
  return
end

local cjson = require("cjson.safe").new()
local core = require "clinch.core"

-- An RFC 4180 reader written independently of clinch.cli.csv: a character-level state machine.
local function read_csv(text)
  local rows, row, field = {}, {}, {}
  local i, n, quoted, after_quote = 1, #text, false, false
  local function end_field()
    row[#row + 1] = table.concat(field)
    field, after_quote = {}, false
  end
  while i <= n do
    local c = text:sub(i, i)
    if quoted then
      if c == '"' then
        if text:sub(i + 1, i + 1) == '"' then
          field[#field + 1] = '"'
          i = i + 1
        else
          quoted, after_quote = false, true
        end
      else
        field[#field + 1] = c
      end
    elseif c == '"' then
      assert(#field == 0 and not after_quote, "quote inside an unquoted field at byte " .. i)
      quoted = true
    elseif c == "," then
      end_field()
    elseif c == "\r" and text:sub(i + 1, i + 1) == "\n" then
      end_field()
      rows[#rows + 1] = row
      row = {}
      i = i + 1
    else
      assert(not after_quote, "text after a closing quote at byte " .. i)
      assert(c ~= "\n" and c ~= "\r", "bare line break outside quotes at byte " .. i)
      field[#field + 1] = c
    end
    i = i + 1
  end
  assert(not quoted, "unterminated quoted field")
  if #field > 0 or #row > 0 then
    end_field()
    rows[#rows + 1] = row
  end
  return rows
end

-- Rows as records keyed by the header.
local function csv_records(text)
  local rows = read_csv(text)
  local header, out = rows[1], {}
  for r = 2, #rows do
    local rec = {}
    for c, name in ipairs(header) do rec[name] = rows[r][c] end
    out[#out + 1] = rec
  end
  return out, header
end

local tmp = support.tmpdir()
local q = support.shell_quote



-- Runs a shell command with the suite's module paths -> exit code, stdout, stderr.
local function sh(cmd)
  local errfile = tmp .. "/stderr"
  local p = assert(io.popen(support.child_env .. cmd .. " 2>" .. errfile))
  local out = p:read("a")
  local _, _, code = p:close()
  return code, out, read_file(errfile) or ""
end

-- The environment the CLI sees (CLINCH_* variables), set by each describe block.
local vars = {}

local function env_string(v)
  local parts = { "env -u CLINCH_REGION -u CLINCH_BASE_URL -u CLINCH_API_KEY -u CLINCH_API_SECRET" }
  for k, x in pairs(v) do parts[#parts + 1] = k .. "=" .. q(x) end
  return table.concat(parts, " ")
end

-- Runs the CLI with a list of arguments -> exit code, stdout, stderr. By default in this process
-- (clinch.cli.main with captured streams, no terminal): fast, and the same code bin/clinch runs.
-- opts.process runs bin/clinch itself; opts.vars replaces the environment.
local function clinch(args, opts)
  opts = opts or {}
  local v = opts.vars or vars
  if opts.process then
    local argv = {}
    for i, a in ipairs(args) do argv[i] = q(a) end
    return sh(env_string(v) .. " " .. support.lua .. " bin/clinch " .. table.concat(argv, " "))
  end
  return support.cli_main(args, { vars = v })
end

-- Runs a command on a pseudo-terminal (script(1)) so that stdout and stderr are terminals.
local function on_tty(args, redirect)
  local argv = {}
  for i, a in ipairs(args) do argv[i] = q(a) end
  local inner = env_string(vars) .. " " .. support.lua .. " bin/clinch " .. table.concat(argv, " ")
    .. " " .. (redirect or "")
  return sh("script -qec " .. q(inner) .. " /dev/null")
end

-- The requests of a `candidates list --all` in the mock's journal are at most `max` (a walk that
-- stopped early); on failure the message lists every request the journal holds, to tell a retry, a
-- stray request of an earlier test, or a walk that went on.
local function assert_list_requests(journal, max)
  local lines, n = {}, 0
  for i, r in ipairs(journal) do
    lines[i] = tostring(r.method) .. " " .. tostring(r.uri) .. " -> " .. tostring(r.status)
    if r.method == "GET" and tostring(r.uri):find("^/v1/candidates%?") then n = n + 1 end
  end
  assert(n <= max, n .. " list requests, at most " .. max .. " expected:\n" .. table.concat(lines, "\n"))
end

local decode_lines, sink = support.decode_lines, support.sink

teardown(function() os.execute("rm -rf " .. q(tmp)) end)

describe("clinch.cli modules", function()
  local args = require "clinch.cli.args"
  local csv = require "clinch.cli.csv"
  local output = require "clinch.cli.output"
  local textable = require "clinch.cli.textable"
  local progress = require "clinch.cli.progress"
  local trace = require "clinch.cli.trace"
  local config = require "clinch.cli.config"

  it("parses long options in both forms, repeated options, flags and --", function()
    local specs = { { "page", arg = "N", type = "integer" }, { "all" }, { "tag", arg = "T", multi = true },
                    { "secret", arg = "S", reject = "no secrets here" } }
    local o = assert(args.parse({ "x", "--page=3", "--tag", "a", "--all", "--tag=b,c", "--", "--not-an-option" },
      1, { specs }))
    assert.are.same({ "x", "--not-an-option" }, o._args)
    assert.are.equal(3, o.page)
    assert.is_true(o.all)
    assert.are.same({ "a", "b,c" }, o.tag)
    local _, err = args.parse({ "--page", "0" }, 1, { specs })
    assert.matches("at least 1", err)
    _, err = args.parse({ "--bogus" }, 1, { specs })
    assert.are.equal("unknown option --bogus", err)
    _, err = args.parse({ "--secret=x" }, 1, { specs })
    assert.are.equal("no secrets here", err)
    _, err = args.parse({ "--page" }, 1, { specs })
    assert.matches("needs a value", err)
    _, err = args.parse({ "--all=yes" }, 1, { specs })
    assert.matches("takes no value", err)
  end)

  it("writes RFC 4180 CSV that an independent reader reads back", function()
    local tricky = { "plain", "with, comma", 'with "quotes"', "two\nlines", "crlf\r\nline", "", "ünïcødé", " spaced " }
    local text = csv.header { "a", "b", "c", "d", "e", "f", "g", "h" } .. csv.record(tricky, 8) .. csv.record({}, 8)
    assert.is_truthy(text:find("\r\n", 1, true))
    local rows = read_csv(text)
    assert.are.equal(3, #rows)
    assert.are.same(tricky, rows[2])
    assert.are.same({ "", "", "", "", "", "", "", "" }, rows[3])
    -- The module's own reader agrees (sync uses it to read its output back).
    assert.are.same(rows, csv.parse(text))
  end)

  it("aligns table columns by characters, cuts long cells and keeps rows on one line", function()
    local text = textable.render({ "id", "name" }, { { "1", "Zoë" }, { "22", "a\nb" }, { "3", ("x"):rep(60) } }, 10)
    local lines = {}
    for line in text:gmatch("[^\n]+") do lines[#lines + 1] = line end
    assert.are.equal(5, #lines)
    assert.are.equal("id  name", lines[1])
    assert.are.equal("--  ----------", lines[2])
    assert.are.equal("1   Zoë", lines[3])
    assert.are.equal("22  a b", lines[4])
    assert.are.equal("3   " .. ("x"):rep(9) .. "…", lines[5])
    -- by the columns a terminal gives them: wide characters two, combining marks none
    text = textable.render({ "name", "id" }, { { "山田太郎", "1" }, { "Zoe\u{301}", "2" }, { "ab", "3" },
                                               { ("山"):rep(8), "4" } }, 10)
    lines = {}
    for line in text:gmatch("[^\n]+") do lines[#lines + 1] = line end
    -- the widest cell is the cut one: four wide characters and the ellipsis, 9 columns
    assert.are.same({ "name       id", "---------  --", "山田太郎   1", "Zoe\u{301}        2", "ab         3",
                      ("山"):rep(4) .. "…  4" }, lines)
  end)

  it("writes each format from the same records", function()
    local records = { { id = "1", name = "a, b" }, { id = "2", name = 'say "hi"' } }
    local function render(format, single)
      local s = sink()
      local w = output.new { format = format, stream = s, columns = { "id", "name" }, single = single }
      for _, r in ipairs(records) do w:write(r) end
      w:finish()
      return s.text()
    end
    local doc = cjson.decode(render("json"))
    assert.are.equal(2, #doc)
    assert.are.equal('say "hi"', doc[2].name)
    assert.are.equal(2, #decode_lines(render("jsonl")))
    local recs = csv_records(render("csv"))
    assert.are.same({ id = "1", name = "a, b" }, recs[1])
    assert.matches("^id  name\n", render("table"))
    -- An empty list is still valid output.
    local s = sink()
    local w = output.new { format = "json", stream = s }
    w:finish()
    assert.are.same({}, cjson.decode(s.text()))
  end)

  it("draws a progress line with counts, total, rate and ETA only when enabled", function()
    local now = 100
    local s = sink()
    local p = progress.new { enabled = true, stream = s, label = "candidates", clock = function() return now end,
                             interval = 0 }
    now = 102
    p:page(50, 200)
    assert.matches("^\r1 page, 50/200 candidates, 25/s, ETA 0:06\27%[K$", s.text())
    now = 104
    p:page(50)
    p:finish()
    assert.matches("2 pages, 100/200 candidates, 25/s, ETA 0:04\27%[K\n$", s.text())
    local quiet = sink()
    local off = progress.new { enabled = false, stream = quiet }
    off:page(10, 10)
    off:finish()
    assert.are.equal("", quiet.text())
  end)

  it("renders curl commands and redacts Authorization values", function()
    local cmd = trace.curl_command { method = "POST", url = "http://127.0.0.1:1/v1/candidates?a=1&b=2",
      headers = { Authorization = "APIAuth k:sig=", Date = "Thu, 01 Jan 1970 00:00:00 GMT" },
      body = "{\"x\":\"it's\"}" }
    assert.are.equal("curl -X POST 'http://127.0.0.1:1/v1/candidates?a=1&b=2' -H 'Authorization: APIAuth k:sig=' "
      .. "-H 'Date: Thu, 01 Jan 1970 00:00:00 GMT' --data-binary '{\"x\":\"it'\\''s\"}'", cmd)
    assert.are.equal("APIAuth k:[redacted]", trace.redact_authorization("APIAuth k:c2lnbmF0dXJl"))
    assert.are.equal("APIAuth-HMAC-SHA256 k:[redacted]", trace.redact_authorization("APIAuth-HMAC-SHA256 k:abc"))
  end)

  it("configures from the environment and flags, the secret only from the environment or a file", function()
    local env = { CLINCH_API_KEY = "env-key", CLINCH_API_SECRET = "env-secret", CLINCH_REGION = "eu" }
    local getenv = function(k) return env[k] end
    local o = assert(config.options({}, getenv))
    assert.are.same({ "env-key", "env-secret", "eu" }, { o.key, o.secret, o.region })
    local secret_file = tmp .. "/secret"
    write_file(secret_file, "  file-secret  \nsecond line\n")
    o = assert(config.options({ key = "flag-key", secret_file = secret_file, base_url = "http://127.0.0.1:9/v1" },
      getenv))
    assert.are.same({ "flag-key", "file-secret", "http://127.0.0.1:9/v1" }, { o.key, o.secret, o.base_url })
    assert.is_nil(o.region)
    local _, err = config.options({ secret_file = tmp .. "/missing" }, getenv)
    assert.matches("cannot read the secret file", err)
    _, err = config.options({}, function() return nil end)
    assert.matches("CLINCH_API_KEY", err)
  end)

  it("names only registered resources' attributes: default columns and the options that set attributes", function()
    local contract = require "clinch.contract"
    local commands = require "clinch.cli.commands"
    local create = contract.operations.createCandidate.request.attributes
    for opt, attr in pairs(commands.ATTRIBUTE_OPTIONS) do assert.is_table(create[attr], opt) end
    local cand = contract.schemas.Candidate
    for _, c in ipairs(commands.CANDIDATE_COLUMNS) do
      assert.is_true(c == "id" or cand.attributes[c] ~= nil, c)
    end
    assert.is_table(contract.operations.createCandidateTag.request.attributes[commands.TAG_COLUMNS[2]])
    -- A column the contract's schema does not have is refused when the resource is defined.
    assert.has_error(function()
      require("clinch.resource").define { name = "x", schema = "Candidate", columns = { "id", "salary" } }
    end, "resource.define: x: column 'salary' is no attribute or relationship of the contract's Candidate")
  end)

  it("answers usage errors with exit code 2 and one line on stderr, without a network", function()
    local cli = require "clinch.cli"
    local function run(argv)
      local out, err = sink(), sink()
      local code = cli.main(argv, { stdout = out, stderr = err, isatty = function() return false end,
                                    getenv = function() return nil end })
      return code, out.text(), err.text()
    end
    for _, argv in ipairs {
      { "candidates", "list", "--bogus" }, { "candidates", "get" }, { "candidates", "get", "a", "b" },
      { "nope" }, { "candidates", "frobnicate" }, { "--secret", "s3cr3t", "candidates", "list" },
      { "candidates", "list", "--secret=s3cr3t" }, { "candidates", "list", "--format", "xml" },
      { "candidates", "list" }, -- no key configured
      {}, { "candidates" }, { "tags", "--bogus" },
    } do
      local code, out, err = run(argv)
      assert.are.equal(2, code, table.concat(argv, " "))
      assert.are.equal("", out)
      assert.matches("^clinch: [^\n]+\n$", err)
      assert.is_falsy(err:find("s3cr3t", 1, true))
    end
    -- What clinch.new and client:request would raise is checked first: the same message in the CLI's
    -- terms (the flags and variables, no function names: clinch.cli.messages), exit code 2.
    local function with_env(argv, env)
      local out, err = sink(), sink()
      local code = cli.main(argv, { stdout = out, stderr = err, isatty = function() return false end,
                                    getenv = function(k) return env[k] end })
      return code, out.text(), err.text()
    end
    local env = { CLINCH_API_KEY = "k", CLINCH_API_SECRET = "s", CLINCH_BASE_URL = "http://127.0.0.1:9/v1" }
    for _, case in ipairs {
      { { "request", "GET", "/a b" }, "PATH must start with '/' and be percent-encoded: /a b\n" },
      { { "request", "GET", "/x?a=1", "--query", "b=2" }, "give the query in PATH or with --query, not both\n" },
      { { "candidates", "list", "--timeout", "0" }, "--timeout must be positive\n" },
      { { "--key", "a key", "candidates", "list" },
        "the API key (--key or CLINCH_API_KEY) must be visible ASCII without ':' or spaces\n" },
      { { "--base-url", "https://u:p@example.com/v1", "candidates", "list" },
        "the base URL (--base-url or CLINCH_BASE_URL) must not hold user info (user:password@): "
          .. "https://[user info]@example.com/v1\n" },
    } do
      local code, out, err = with_env(case[1], env)
      assert.are.equal(2, code, table.concat(case[1], " "))
      assert.are.equal("", out)
      assert.are.equal("clinch: " .. case[2], err:sub(1, #case[2] + 8))
      assert.matches("^clinch: [^\n]+\n$", err)
      assert.is_falsy(err:find("%.lua:%d+"), err)
    end
    local code, out = run { "--help" }
    assert.are.equal(0, code)
    assert.matches("candidates list", out)
    code, out = run { "--version" }
    assert.are.equal(0, code)
    assert.matches("^clinch %d", out)
  end)
end)

describe("bin/clinch against the mock", function()
  local mock

  setup(function()
    mock = support.start_mock { "--candidates", "45", "--seed", "11" }
    vars = { CLINCH_BASE_URL = mock.base_url, CLINCH_API_KEY = "test-key", CLINCH_API_SECRET = "test-secret" }
  end)
  teardown(function() mock.stop() end)
  before_each(function() mock.control("POST", "reset") end)

  local function first_id()
    local code, out = clinch { "candidates", "list", "--per-page", "1", "--format", "csv", "--columns", "id" }
    assert.are.equal(0, code)
    return read_csv(out)[2][1]
  end

  it("prints help for every command with exit code 0", function()
    local cli_commands = require("clinch.cli.commands").list
    for _, cmd in ipairs(cli_commands) do
      local argv = {}
      for i, w in ipairs(cmd.words) do argv[i] = w end
      argv[#argv + 1] = "--help"
      local code, out, err = clinch(argv)
      assert.are.equal(0, code, table.concat(argv, " "))
      assert.matches("usage: " .. cmd.usage:gsub("%p", "%%%0"), out)
      assert.are.equal("", err)
    end
  end)

  it("lists candidates as JSON (the default when piped), JSON Lines and CSV", function()
    local code, out, err = clinch { "candidates", "list", "--per-page", "7" }
    assert.are.equal(0, code, err)
    local list = assert(cjson.decode(out))
    assert.are.equal(7, #list)
    for _, r in ipairs(list) do
      assert.are.equal("candidates", r.type)
      assert.is_string(r.attributes.email)
      assert.is_table(r.attributes.updated_at)
    end
    code, out = clinch { "candidates", "list", "--per-page", "7", "--page", "2", "--format", "jsonl" }
    assert.are.equal(0, code)
    local lines = decode_lines(out)
    assert.are.equal(7, #lines)
    assert.are_not.equal(list[1].id, lines[1].id)
    code, out = clinch { "candidates", "list", "--per-page", "7", "--format", "csv" }
    assert.are.equal(0, code)
    local recs, header = csv_records(out)
    assert.are.same({ "id", "email", "first_name", "last_name", "phone_number", "tags", "updated_at" }, header)
    assert.are.equal(7, #recs)
    assert.are.equal(list[1].id, recs[1].id)
    assert.are.equal(list[1].attributes.email, recs[1].email)
    assert.are.equal(list[1].attributes.updated_at.utc, recs[1].updated_at)
    -- Empty JSON arrays stay arrays (lua-cjson alone would write them as {}).
    code, out = clinch { "candidates", "list", "--all", "--format", "jsonl" }
    assert.are.equal(0, code)
    assert.is_truthy(out:find('"educated_at":[]', 1, true))
    assert.is_falsy(out:find('"educated_at":{}', 1, true))
  end)

  it("leaves the JSON array of --all open when a page fails, so that no reader takes it for the whole", function()
    mock.control("POST", "faults", { kind = "status", status = 500, count = -1, query = "page=3" })
    local code, out, err = clinch { "candidates", "list", "--all", "--per-page", "10", "--concurrency", "1",
                                    "--format", "json" }
    mock.control("DELETE", "faults")
    assert.are.equal(1, code, err)
    assert.matches("HTTP 500", err)
    assert.is_nil((require("cjson.safe").decode(out)))     -- not a document: the list is not all there
    assert.is_truthy(out:find("^%[\n"))
    assert.are.equal(20, select(2, out:gsub('"type":"candidates"', "")))
    -- JSON Lines: the whole records before the failure
    code, out = clinch { "candidates", "list", "--all", "--per-page", "10", "--concurrency", "1", "--format", "jsonl" }
    assert.are.equal(0, code) -- (the fault is gone: every page)
    assert.are.equal(45, #decode_lines(out))
  end)

  it("follows every page with --all, each record once", function()
    local code, out = clinch { "candidates", "list", "--all", "--per-page", "10", "--format", "jsonl" }
    assert.are.equal(0, code)
    local seen, n = {}, 0
    for _, r in ipairs(decode_lines(out)) do
      assert.is_nil(seen[r.id])
      seen[r.id], n = true, n + 1
    end
    assert.are.equal(45, n)
  end)

  it("filters by update time and email", function()
    local _, out = clinch { "candidates", "list", "--all", "--per-page", "50", "--format", "jsonl" }
    local all = decode_lines(out)
    table.sort(all, function(a, b) return a.attributes.updated_at.epoch < b.attributes.updated_at.epoch end)
    local mid = all[20].attributes.updated_at
    local since = mid.utc:sub(1, 19)
    local code, out2 = clinch { "candidates", "list", "--all", "--updated-since", since, "--format", "jsonl" }
    assert.are.equal(0, code)
    local after = decode_lines(out2)
    assert.is_true(#after > 0 and #after < 45)
    for _, r in ipairs(after) do assert.is_true(r.attributes.updated_at.epoch >= mid.epoch) end
    local _, out3 = clinch { "candidates", "list", "--all", "--updated-before", since, "--format", "jsonl" }
    assert.are.equal(45, #after + #decode_lines(out3))
    local email = all[5].attributes.email
    local _, out4 = clinch { "candidates", "list", "--email", email, "--format", "jsonl" }
    local found = decode_lines(out4)
    assert.are.equal(1, #found)
    assert.are.equal(all[5].id, found[1].id)
    local code5, _, err5 = clinch { "candidates", "list", "--updated-since", "last tuesday" }
    assert.are.equal(2, code5)
    assert.matches("^clinch: [^\n]*invalid time[^\n]*\n$", err5)
  end)

  it("round-trips names with commas, quotes and newlines through CSV", function()
    local first, last = 'Smith, "Jo"', "O'Neil\nSecond line, too"
    local code, out, err = clinch { "candidates", "create", "--email", "csv.test@example.com", "--first-name", first,
      "--last-name", last, "--phone", "+1 555 0100", "--tag", "a,b", "--tag", 'quote"d' }
    assert.are.equal(0, code, err)
    local created = assert(cjson.decode(out))
    assert.are.equal(first, created.attributes.first_name)
    code, out = clinch { "candidates", "list", "--email", "csv.test@example.com", "--format", "csv" }
    assert.are.equal(0, code)
    local recs = csv_records(out)
    assert.are.equal(1, #recs)
    assert.are.equal(created.id, recs[1].id)
    assert.are.equal(first, recs[1].first_name)
    assert.are.equal(last, recs[1].last_name)
    assert.are.equal('a,b; quote"d', recs[1].tags)
    -- The same record as a single-record CSV (get) and JSON.
    code, out = clinch { "candidates", "get", created.id, "--format", "csv" }
    assert.are.equal(0, code)
    assert.are.equal(last, csv_records(out)[1].last_name)
  end)

  it("shows what --include fetched: the related resources beside each record in JSON", function()
    local code, out, err = clinch { "candidates", "list", "--per-page", "3", "--include", "notes",
      "--format", "jsonl" }
    assert.are.equal(0, code, err)
    local records = decode_lines(out)
    assert.are.equal(3, #records)
    for _, r in ipairs(records) do
      local linked = {}
      for _, l in ipairs(r.relationships.notes.data) do linked[#linked + 1] = l.id end
      assert.is_true(#linked > 0)
      local shown = {}
      for _, inc in ipairs(r.included) do
        assert.are.equal("candidate_notes", inc.type)
        assert.is_string(inc.attributes.content)
        shown[#shown + 1] = inc.id
      end
      table.sort(linked)
      table.sort(shown)
      assert.are.same(linked, shown)
    end
    code, out = clinch { "candidates", "get", records[1].id, "--include", "notes,jobs" }
    assert.are.equal(0, code)
    local one = cjson.decode(out)
    local types = {}
    for _, inc in ipairs(one.included) do types[inc.type] = (types[inc.type] or 0) + 1 end
    assert.are.equal(#one.relationships.notes.data, types.candidate_notes)
    assert.are.equal(#one.relationships.jobs.data, types.jobs)
    -- Without --include, records are the API's resource objects alone.
    code, out = clinch { "candidates", "get", records[1].id }
    assert.are.equal(0, code)
    assert.is_nil(cjson.decode(out).included)
  end)

  it("gets, updates, tags, untags and uploads", function()
    local id = first_id()
    local code, out = clinch { "candidates", "get", id }
    assert.are.equal(0, code)
    assert.are.equal(id, cjson.decode(out).id)

    code, out = clinch { "candidates", "update", id, "--last-name", "Updated-by-CLI" }
    assert.are.equal(0, code)
    assert.are.equal("Updated-by-CLI", cjson.decode(out).attributes.last_name)
    code = clinch { "candidates", "update", id }
    assert.are.equal(2, code)

    code, out = clinch { "tags", "add", id, "From the CLI" }
    assert.are.equal(0, code)
    local tag = cjson.decode(out)
    assert.are.equal("From the CLI", tag.attributes.name)
    code, out = clinch { "tags", "list", id, "--format", "csv" }
    assert.are.equal(0, code)
    local names = {}
    for _, r in ipairs(csv_records(out)) do names[r.name] = r.id end
    assert.are.equal(tag.id, names["From the CLI"])
    code, out = clinch { "tags", "remove", id, tag.id }
    assert.are.equal(0, code)
    assert.are.same({ candidate_id = id, tag_id = tag.id, name = "From the CLI", removed = true }, cjson.decode(out))
    code, out = clinch { "tags", "list", id, "--format", "jsonl" }
    assert.are.equal(0, code)
    for _, r in ipairs(decode_lines(out)) do assert.are_not.equal(tag.id, r.id) end

    local pdf = tmp .. "/cv.pdf"
    write_file(pdf, "%PDF-1.4\nresume\n%%EOF\n")
    code, out = clinch { "resume", "upload", id, pdf }
    assert.are.equal(0, code)
    local file = cjson.decode(out)
    assert.are.equal("candidate_files", file.type)
    assert.are.equal("cv.pdf", file.attributes.filename)
    local _, err
    code, _, err = clinch { "resume", "upload", id, tmp .. "/missing.pdf" }
    assert.are.equal(2, code)
    assert.matches("cannot read [^\n]*/missing%.pdf: No such file or directory", err) -- and why
    code, _, err = clinch { "request", "POST", "/candidates", "--data", "@" .. tmp .. "/missing.json" }
    assert.are.equal(2, code)
    assert.matches("cannot read [^\n]*/missing%.json: No such file or directory", err)
  end)

  it("sends any signed request with `request`", function()
    local code, out = clinch { "request", "GET", "/candidates", "--query", "per_page=3" }
    assert.are.equal(0, code)
    assert.are.equal(3, #cjson.decode(out).data)
    local id = first_id()
    code, out = clinch { "request", "POST", "/candidates/" .. id .. "/tags",
      "--data", '{"data":{"type":"tag","attributes":{"name":"Raw request"}}}' }
    assert.are.equal(0, code)
    assert.are.equal("Raw request", cjson.decode(out).data.attributes.name)
    local _, shown = clinch { "candidates", "get", id }
    local email = cjson.decode(shown).attributes.email
    code, out = clinch { "request", "GET", "/candidates", "--query", "filter[email][eq]=" .. email,
      "--format", "csv" }
    assert.are.equal(0, code)
    assert.are.equal(id, csv_records(out)[1].id)
    code = clinch { "request", "POST", "/candidates", "--data", "{not json" }
    assert.are.equal(2, code)
  end)

  it("exits 1 with one line on stderr for API and network errors", function()
    local _
    -- bin/clinch itself: the exit status reaches the shell.
    local code, out, err = clinch({ "candidates", "get", "does-not-exist" }, { process = true })
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.matches("^clinch: not_found error %(HTTP 404%)[^\n]*\n$", err)
    code, out, err = clinch({ "candidates", "list", "--per-page", "none" }, { process = true })
    assert.are.equal(2, code)
    assert.are.equal("", out)
    assert.matches("^clinch: [^\n]*%-%-per%-page[^\n]*\n$", err)
    code, out = clinch({ "candidates", "list", "--per-page", "2", "--format", "jsonl" }, { process = true })
    assert.are.equal(0, code)
    assert.are.equal(2, #decode_lines(out))
    code, _, err = clinch({ "candidates", "list" }, { vars = { CLINCH_BASE_URL = mock.base_url,
      CLINCH_API_KEY = "test-key", CLINCH_API_SECRET = "wrong" } })
    assert.are.equal(1, code)
    assert.matches("^clinch: auth error %(HTTP 401%)[^\n]*\n$", err)
    assert.is_falsy(err:find("wrong", 1, true))
    code, _, err = clinch({ "candidates", "list", "--retries", "0" }, { vars = {
      CLINCH_BASE_URL = "http://127.0.0.1:1/v1", CLINCH_API_KEY = "k", CLINCH_API_SECRET = "s" } })
    assert.are.equal(1, code)
    assert.matches("^clinch: network error[^\n]*\n$", err)
    -- The API's message echoes the id: its control characters reach neither the line nor the terminal.
    code, _, err = clinch { "candidates", "get", "x\27]0;title\7\ty\nz" }
    assert.are.equal(1, code)
    assert.matches("^clinch: not_found error[^\n]*\n$", err)
    assert.is_falsy(err:sub(1, -2):find("%c"), err)
    code, _, err = clinch { "candidates", "create", "--email", "not-an-email" }
    assert.are.equal(2, code)
    assert.matches("^clinch: [^\n]*email[^\n]*\n$", err)
  end)

  it("stops with exit code 1 when stdout cannot be written (a full disk), quietly with 0 if the reader left", function()
    -- A stream that fails once the first page (one record) is written, as a full disk does; stderr is
    -- a terminal. JSON Lines writes a record in one call.
    local failing = { calls = 0 }
    function failing.write(self)
      self.calls = self.calls + 1
      if self.calls > 1 then return nil, "No space left on device", 28 end
      return self
    end
    function failing.flush(self) return self end
    mock.control("DELETE", "requests")
    local err = sink()
    local code = require("clinch.cli").main({ "candidates", "list", "--all", "--per-page", "1", "--format", "jsonl" },
      { stdout = failing, stderr = err, isatty = function(fd) return fd == 2 end,
        getenv = function(k) return vars[k] end })
    assert.are.equal(1, code)
    -- The progress line is cleared, so the message starts at column one.
    assert.matches("^\r1 page, 1/45 [^\n]*\27%[K\r\27%[Kclinch: cannot write the output: No space left on device\n$",
      err.text())
    -- It stopped at the second page (and the four in flight behind it), not after all 45.
    assert_list_requests(mock.control("GET", "requests").requests, 6)

    -- The same through bin/clinch: a short output that only fails when flushed at the end...
    local _, out, serr = sh("sh -c " .. q(env_string(vars) .. " " .. support.lua .. " bin/clinch candidates list "
      .. "--per-page 2 --format csv >/dev/full; echo $?"))
    assert.are.equal("1\n", out)
    assert.are.equal("clinch: cannot write the output: No space left on device\n", serr)
    -- ...and a pipe whose reader left (SIGPIPE ignored by the caller, as here, or not): the conventional
    -- quiet end, exit code 0, no message, no traceback, no walk over every page.
    mock.control("DELETE", "requests")
    -- 100 ms a page: the reader leaves long before a late-scheduled head could let 30 pages through
    mock.control("POST", "faults", { kind = "latency", ms = 100, count = -1 })
    _, _, serr = sh("sh -c " .. q("trap '' PIPE; (" .. env_string(vars) .. " " .. support.lua
      .. " bin/clinch candidates list --all --per-page 1 --format jsonl; echo $? >" .. q(tmp .. "/code")
      .. ") | head -c 1 >/dev/null"))
    assert.are.equal("0\n", read_file(tmp .. "/code"))
    assert.are.equal("", serr)
    -- how many pages the pipe takes before the reader is gone is a race (and four more are in flight
    -- behind the last): far fewer than the 45 there are
    assert_list_requests(mock.control("GET", "requests").requests, 30)
    mock.control("DELETE", "faults")
  end)

  it("ends quietly with exit code 0 when the reader of its pipe leaves (clinch ... | head -1)", function()
    -- Page 2 comes late, so head has read its line of page 1 and left before the next write. SIGPIPE is
    -- set back to its default action (this process may ignore it: luasocket does, and children inherit
    -- that), as in a login shell.
    for _, format in ipairs { "jsonl", "csv", "json" } do
      mock.control("POST", "faults", { kind = "latency", ms = 400, count = 1, query = "page=2" })
      local _, out, serr = sh("env --default-signal=PIPE sh -c " .. q("(" .. env_string(vars) .. " " .. support.lua
        .. " bin/clinch candidates list --all --per-page 10 --format " .. format .. "; echo $? >"
        .. q(tmp .. "/code") .. ") | head -1"))
      assert.are.equal("0\n", read_file(tmp .. "/code"), format)
      assert.are.equal("", serr, format)
      assert.are.equal(1, select(2, out:gsub("\n", "")), format)
    end
  end)

  it("runs from the checkout through a symbolic link to bin/clinch (e.g. from ~/bin)", function()
    local link = tmp .. "/bin-link/clinch"
    os.execute("mkdir -p " .. q(tmp .. "/bin-link") .. " && ln -sf " .. q(support.root .. "/bin/clinch") .. " "
      .. q(link))
    -- No LUA_PATH: only the checkout the link points into has the modules.
    local code, out, err = sh("sh -c " .. q("cd / && env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 "
      .. env_string(vars) .. " " .. support.lua .. " " .. q(link) .. " candidates list --per-page 1 --format csv "
      .. "--columns id"))
    assert.are.equal(0, code, err)
    assert.are.equal(2, #read_csv(out))
  end)

  it("reads the secret from --secret-file, and flags override the environment", function()
    local secret_file = tmp .. "/secret"
    write_file(secret_file, "test-secret\n")
    local code, out, err = clinch({ "--key", "test-key", "--secret-file", secret_file, "--base-url", mock.base_url,
      "candidates", "list", "--per-page", "2" }, { process = true,
      vars = { CLINCH_BASE_URL = "http://127.0.0.1:1/v1", CLINCH_API_KEY = "other" } })
    assert.are.equal(0, code, err)
    assert.are.equal(2, #cjson.decode(out))
  end)

  it("logs each request with --verbose, the Authorization value redacted", function()
    mock.control("POST", "faults", { kind = "status", status = 503, count = 1 })
    local code, out, err = clinch { "--verbose", "candidates", "list", "--per-page", "2", "--format", "csv" }
    assert.are.equal(0, code)
    assert.are.equal(3, #read_csv(out))
    assert.matches("clinch: > GET http://[^\n]+/v1/candidates%?per_page=2\n", err)
    assert.matches("clinch: > Authorization: APIAuth test%-key:%[redacted%]\n", err)
    assert.matches("clinch: > Date: %a%a%a, [^\n]+ GMT\n", err)
    assert.matches("clinch: < 503 GET /v1/candidates%?per_page=2 %(%d+ ms, attempt 1%)\n", err)
    assert.matches("clinch: < 200 GET /v1/candidates%?per_page=2 %(%d+ ms, attempt 2%)\n", err)
    assert.is_falsy(err:find("test-secret", 1, true))
    -- A base URL with credentials in it is refused (the API authenticates by signature), unshown.
    local with_userinfo = {}
    for k, v in pairs(vars) do with_userinfo[k] = v end
    with_userinfo.CLINCH_BASE_URL = mock.base_url:gsub("^http://", "http://gateway:url-password@")
    local code2, _, err2 = clinch({ "--verbose", "candidates", "list", "--per-page", "1" }, { vars = with_userinfo })
    assert.are.equal(2, code2, err2)
    assert.matches("base URL (--base-url or CLINCH_BASE_URL) must not hold user info", err2, 1, true)
    assert.is_falsy(err2:find("url-password", 1, true))
  end)

  it("prints the signed request as curl with --dry-run and sends nothing", function()
    local id = first_id()
    mock.control("DELETE", "requests")
    local code, out, err = clinch({ "--dry-run", "tags", "add", id, "Dry run" }, { process = true })
    assert.are.equal(0, code, err)
    assert.are.same({}, mock.control("GET", "requests").requests)
    assert.is_falsy(out:find("test-secret", 1, true))
    local method, url = out:match("^curl %-X (%u+) (%S+) ")
    assert.are.equal("POST", method)
    assert.are.equal(mock.base_url .. "/candidates/" .. id .. "/tags", url)
    local headers = {}
    for name, value in out:gmatch("%-H '([^:]+): ([^']*)'") do headers[name] = value end
    local body = out:match("%-%-data%-binary '(.-)'\n$")
    assert.are.equal('{"data":{"attributes":{"name":"Dry run"},"type":"tag"}}', body)
    -- The printed signature is valid for the printed request.
    local request_uri = url:match("^https?://[^/]+(/.*)$")
    local ok = core.verify({ method = method, request_uri = request_uri, headers = {
      authorization = headers.Authorization, date = headers.Date, ["content-type"] = headers["Content-Type"],
    }, body = body }, "test-secret")
    assert.is_truthy(ok)
  end)

  it("prints an aligned table on a terminal, JSON when piped", function()
    local code, out = on_tty { "candidates", "list", "--per-page", "3" }
    assert.are.equal(0, code)
    local lines = {}
    for line in out:gmatch("[^\r\n]+") do lines[#lines + 1] = line end
    -- A header, a rule, three rows, then (stderr is the terminal too) the hint that more pages exist.
    assert.are.equal(6, #lines)
    assert.matches("^clinch: page 1 of 15 shown: 42 more candidates in 14 pages; ", lines[6])
    assert.matches("^id%s+email%s+first_name%s+last_name%s+phone_number%s+tags%s+updated_at$", lines[1])
    assert.matches("^%-+  %-+", lines[2])
    -- Columns line up: "email" starts at the same column in the header and in each row.
    local col = lines[1]:find("email", 1, true)
    for i = 3, 5 do assert.are.equal(" ", lines[i]:sub(col - 1, col - 1)) end
  end)

  it("shows progress on stderr only when it is a terminal", function()
    local out_file = tmp .. "/all.csv"
    local code, out = on_tty({ "candidates", "list", "--all", "--per-page", "10", "--format", "csv" },
      "> " .. q(out_file))
    assert.are.equal(0, code)
    assert.matches("\r5 pages, 45/45 candidates, %d+/s, %d+:%d%d\27%[K", out)
    assert.are.equal(46, #read_csv(read_file(out_file)))
    -- the first line's rate counts the first page's round trip (0.3 s here): 10 records in it
    mock.control("POST", "faults", { kind = "latency", ms = 300, count = -1 })
    code, out = on_tty({ "candidates", "list", "--all", "--per-page", "10", "--concurrency", "1", "--format",
                         "csv" }, "> " .. q(out_file))
    mock.control("DELETE", "faults")
    assert.are.equal(0, code)
    local first = tonumber(out:match("\r1 page, 10/45 candidates, (%d+)/s"))
    assert.is_true(first ~= nil and first <= 40, out)
    local _, _, err = clinch { "candidates", "list", "--all", "--per-page", "10", "--format", "csv" }
    assert.are.equal("", err)
  end)
end)

describe("clinch candidates sync", function()
  local mock

  setup(function()
    mock = support.start_mock { "--candidates", "60", "--seed", "5" }
    vars = { CLINCH_BASE_URL = mock.base_url, CLINCH_API_KEY = "test-key", CLINCH_API_SECRET = "test-secret" }
  end)
  teardown(function() mock.stop() end)
  before_each(function()
    mock.control("POST", "reset")
    os.execute("rm -f " .. q(tmp) .. "/sync*")
  end)

  local state, out = tmp .. "/sync-state.json", tmp .. "/sync-out.jsonl"

  local function sync(extra)
    local argv = { "candidates", "sync", "--state", state, "--out", out, "--per-page", "5" }
    for _, a in ipairs(extra or {}) do argv[#argv + 1] = a end
    return clinch(argv)
  end

  local function exported_ids()
    local ids = {}
    for _, r in ipairs(decode_lines(read_file(out) or "")) do ids[#ids + 1] = r.id end
    return ids
  end

  -- Waits for the next whole second: a change made now then lies before the next run's window end.
  local function next_second()
    local s = math.floor(core.now())
    while core.now() < s + 1.02 do core.sleep(0.02) end
  end

  it("exports everything once, then only what changed", function()
    local code, summary, err = sync { "--since", "2000-01-01" }
    assert.are.equal(0, code, err)
    local first = cjson.decode(summary)
    assert.are.equal(60, first.exported)
    local ids = exported_ids()
    assert.are.equal(60, #ids)
    local st = cjson.decode(read_file(state))
    assert.are.equal(first["until"], st.high_water)
    assert.is_nil(st.run)

    -- Nothing changed: nothing exported.
    code, summary = sync()
    assert.are.equal(0, code)
    assert.are.equal(0, cjson.decode(summary).exported)
    assert.are.equal(60, #exported_ids())

    -- Change three candidates, let the clock pass the window's end, sync again.
    local changed = { ids[2], ids[30], ids[59] }
    for _, id in ipairs(changed) do
      assert.are.equal(0, (clinch { "tags", "add", id, "Changed" }))
    end
    next_second()
    code, summary = sync()
    assert.are.equal(0, code)
    assert.are.equal(3, cjson.decode(summary).exported)
    local all = exported_ids()
    assert.are.equal(63, #all)
    local delta = { all[61], all[62], all[63] }
    table.sort(delta)
    table.sort(changed)
    assert.are.same(changed, delta)
  end)

  it("writes CSV with one header across runs", function()
    local csv_out = tmp .. "/sync-out.csv"
    local code = clinch { "candidates", "sync", "--state", state, "--out", csv_out, "--columns", "id,email,last_name" }
    assert.are.equal(0, code)
    local rows = read_csv(read_file(csv_out))
    assert.are.equal(61, #rows)
    assert.are.same({ "id", "email", "last_name" }, rows[1])
    local id = rows[2][1]
    assert.are.equal(0, (clinch { "candidates", "update", id, "--last-name", 'New, "quoted"\nname' }))
    next_second()
    code = clinch { "candidates", "sync", "--state", state, "--out", csv_out, "--columns", "id,email,last_name" }
    assert.are.equal(0, code)
    rows = read_csv(read_file(csv_out))
    assert.are.equal(62, #rows)
    assert.are.same({ id, rows[2][2], 'New, "quoted"\nname' }, rows[62])
  end)

  -- Crashes, resumes, full disks, concurrent runs, corrupted state and records changing while a window
  -- is read: spec/sync_spec.lua.

  it("records no run for an output file it cannot open, so the next run may name another", function()
    local code, _, err = clinch { "candidates", "sync", "--state", state, "--out", tmp .. "/no-such-dir/out.jsonl" }
    assert.are.equal(1, code)
    assert.matches("^clinch: cannot open [^\n]*no%-such%-dir/out%.jsonl", err)
    local text = read_file(state)
    if text then assert.is_nil(cjson.decode(text).run) end
    local summary
    code, summary, err = sync()
    assert.are.equal(0, code, err)
    assert.are.equal(60, cjson.decode(summary).exported)
  end)

  it("refuses formats that cannot be appended and a resumed run with another output", function()
    local code, _, err = sync { "--format", "json" }
    assert.are.equal(2, code)
    assert.matches("jsonl or csv", err)
    code, _, err = clinch { "candidates", "sync", "--out", out }
    assert.are.equal(2, code)
    assert.matches("%-%-state", err)
    write_file(state, '{"version":1,"run":{"gte":"2000-01-01T00:00:00","lt":"2000-01-02T00:00:00","page":2,'
      .. '"pass":1,"out":"elsewhere.jsonl","format":"jsonl","out_start":0,"out_size":0,"exported":0}}')
    code, _, err = sync()
    assert.are.equal(2, code)
    assert.matches("elsewhere%.jsonl", err)
  end)
end)
