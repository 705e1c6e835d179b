-- The CLI's bulk work against the mock: `list --all` and `candidates sync` with pages in flight
-- (--concurrency), and the bulk forms of `candidates create --from`, `tags add --ids-from` and
-- `resume upload --dir`: row validation before anything is sent (proved from the mock's journal),
-- one JSONL result per row, exit codes, created vs matched, overlap within a coarse time bound. The
-- CLI is a Lua 5.4 program: under LuaJIT these specs are skipped (the 5.4 suite runs them).
local support = require "support"

if support.is_luajit then
  describe("clinch bulk commands", function()
    pending("runs on Lua 5.4 only: covered by the Lua 5.4 suite")
  end)
  return
end

local cjson = require("cjson.safe").new()
local core = require "clinch.core"
local read_file, write_file = support.read_file, support.write_file
local q = support.shell_quote

local tmp = support.tmpdir()
teardown(function() os.execute("rm -rf " .. q(tmp)) end)

local mock, vars

-- Runs the CLI in this process (clinch.cli.main, captured streams, no terminal) -> code, stdout,
-- stderr. opts.stdin is the text standard input holds.
local function clinch(args, opts)
  opts = opts or {}
  local stdin
  if opts.stdin then
    stdin = assert(io.open(tmp .. "/stdin", "w+b"))
    stdin:write(opts.stdin)
    stdin:seek("set", 0)
  end
  local code, out, err = support.cli_main(args, { vars = vars, stdin = stdin })
  if stdin then stdin:close() end
  return code, out, err
end

local decode_lines = support.decode_lines

local function journal()
  return mock.control("GET", "requests").requests
end

-- The most requests the mock was answering when one of `requests` arrived.
local function most_in_flight(requests)
  local most = 0
  for _, r in ipairs(requests) do
    if (r.in_flight or 0) > most then most = r.in_flight end
  end
  return most
end

describe("pages in flight from the command line", function()
  setup(function()
    mock = support.start_mock { "--candidates", "60", "--seed", "3" }
    vars = { CLINCH_BASE_URL = mock.base_url, CLINCH_API_KEY = "test-key", CLINCH_API_SECRET = "test-secret" }
  end)
  teardown(function() mock.stop() end)
  before_each(function() mock.control("POST", "reset") end)

  it("list --all keeps --concurrency pages in flight, the records in the same order", function()
    local code, one, err = clinch { "candidates", "list", "--all", "--per-page", "5", "--format", "jsonl",
                                    "--concurrency", "1" }
    assert.are.equal(0, code, err)
    mock.control("POST", "faults", { kind = "latency", ms = 100, count = -1 })
    mock.control("DELETE", "requests")
    local four
    code, four, err = clinch { "candidates", "list", "--all", "--per-page", "5", "--format", "jsonl" }
    assert.are.equal(0, code, err)
    assert.are.equal(one, four)
    assert.are.equal(60, #decode_lines(four))
    -- the default is 4: the mock held three when the fourth arrived, and never more
    assert.are.equal(3, most_in_flight(journal()))
    mock.control("DELETE", "requests")
    code = clinch { "candidates", "list", "--all", "--per-page", "5", "--format", "jsonl", "--concurrency", "1" }
    assert.are.equal(0, code)
    assert.are.equal(0, most_in_flight(journal()))
  end)

  it("sync reads consecutive sub-windows together, exporting the same records", function()
    local exported = {}
    for _, n in ipairs { "1", "4" } do
      local state, out = tmp .. "/sync-" .. n .. ".json", tmp .. "/sync-" .. n .. ".jsonl"
      mock.control("DELETE", "requests")
      mock.control("POST", "faults", { kind = "latency", ms = 30, count = -1 })
      local code, _, err = clinch { "candidates", "sync", "--state", state, "--out", out, "--per-page", "5",
                                    "--since", "2000-01-01", "--concurrency", n }
      assert.are.equal(0, code, err)
      local ids = {}
      for _, r in ipairs(decode_lines(read_file(out))) do ids[#ids + 1] = r.id end
      table.sort(ids)
      exported[n] = table.concat(ids, ",")
      assert.are.equal(60, #ids)
      local most = most_in_flight(journal())
      if n == "1" then assert.are.equal(0, most) else assert.is_true(most >= 2, most .. " in flight at most") end
      mock.control("DELETE", "faults")
    end
    assert.are.equal(exported["1"], exported["4"])
  end)
end)

describe("bulk commands", function()
  local client, known -- a library client, and the email and id of a seeded candidate

  setup(function()
    mock = support.start_mock { "--candidates", "20", "--seed", "4" }
    vars = { CLINCH_BASE_URL = mock.base_url, CLINCH_API_KEY = "test-key", CLINCH_API_SECRET = "test-secret" }
    client = require("clinch").new { key = "test-key", secret = "test-secret", base_url = mock.base_url }
  end)
  teardown(function()
    client:close()
    mock.stop()
  end)
  before_each(function()
    mock.control("POST", "reset")
    local first = assert(client.candidates:list { per_page = 1 })[1]
    known = { email = first.email, id = first.id }
    mock.control("DELETE", "requests")
  end)

  -- Writes a file in the spec's directory and returns its path.
  local function file(name, text)
    local path = tmp .. "/" .. name
    write_file(path, text)
    return path
  end

  -- The results of a bulk command's stdout, each checked to be a JSON object with its row number.
  local function results(out)
    local list = decode_lines(out)
    for i, r in ipairs(list) do assert.are.equal(i, r.row, "results in row order") end
    return list
  end

  local function posts(pattern)
    local n = 0
    for _, r in ipairs(journal()) do
      if r.method == "POST" and r.uri:find(pattern) then n = n + 1 end
    end
    return n
  end

  describe("candidates create --from", function()
    it("creates one candidate per CSV row, and reports matched for an email the API knows", function()
      local path = file("people.csv", "email,first_name,last_name,tag_values\r\n"
        .. "ada@example.com,Ada,Lovelace,Pioneer; Seed Data\r\n"
        .. "\"grace@example.com\",\"Grace, Rear Admiral\",Hopper,\r\n"
        .. known.email .. ",Known,,\r\n")
      local code, out, err = clinch { "candidates", "create", "--from", path }
      assert.are.equal(0, code, err)
      assert.are.equal("", err) -- no progress line off a terminal
      local r = results(out)
      assert.are.equal(3, #r)
      assert.are.same({ "created", "created", "matched" }, { r[1].status, r[2].status, r[3].status })
      assert.are.equal(known.id, r[3].id)
      local ada = assert(client.candidates:get(r[1].id))
      assert.are.equal("ada@example.com", ada.email)
      assert.are.same({ "Pioneer", "Seed Data" }, ada.tags)
      assert.are.equal("Grace, Rear Admiral", assert(client.candidates:get(r[2].id)).first_name)
      assert.are.equal(3, posts("^/v1/candidates$"))
      -- The same file again: every row matched, the same candidates.
      local again
      code, again = clinch { "candidates", "create", "--from", path }
      assert.are.equal(0, code)
      local r2 = results(again)
      for i = 1, 3 do
        assert.are.equal("matched", r2[i].status)
        assert.are.equal(r[i].id, r2[i].id)
      end
    end)

    it("reads JSON Lines from stdin", function()
      local code, out, err = clinch({ "candidates", "create", "--from", "-" }, { stdin =
        '{"email":"one@example.com","first_name":"One","tag_values":["A","B"]}\n\n'
        .. '{"email":"two@example.com","phone_number":"+1 202 555 0100","last_name":null}\n' })
      assert.are.equal(0, code, err)
      local r = results(out)
      assert.are.equal(2, #r)
      assert.are.same({ "A", "B" }, assert(client.candidates:get(r[1].id)).tags)
      assert.are.equal("+1 202 555 0100", assert(client.candidates:get(r[2].id)).phone_number)
      -- a byte order mark in front (as some editors write one) is no data, in JSON Lines and id lists
      local bom = "\239\187\191"
      code, out, err = clinch({ "candidates", "create", "--from", "-" },
        { stdin = bom .. '{"email":"bom@example.com"}\n' })
      assert.are.equal(0, code, err)
      local id = results(out)[1].id
      code, out, err = clinch({ "tags", "add", "--ids-from", "-", "Bom" }, { stdin = bom .. id .. "\n" })
      assert.are.equal(0, code, err)
      assert.are.equal(id, results(out)[1].id)
      assert.are.equal("tagged", results(out)[1].status)
    end)

    it("checks every row first: all bad rows on stderr, exit 2, nothing sent", function()
      local path = file("bad.jsonl", table.concat({
        '{"email":"fine@example.com"}',
        '{"email":"not an email"}',
        '["a list"]',
        '{"email":"x@example.com","nickname":"X"}',
        '{"first_name":"No Email"}',
        '{"email":"also.fine@example.com"}',
      }, "\n"))
      local code, out, err = clinch { "candidates", "create", "--from", path }
      assert.are.equal(2, code)
      assert.are.equal("", out)
      local lines = {}
      for line in err:gmatch("[^\n]+") do lines[#lines + 1] = line end
      assert.are.equal(5, #lines, err)
      assert.matches("^clinch: row 2: create candidate: attribute 'email' is not a plausible email", lines[1])
      assert.matches("^clinch: row 3: is not a JSON object$", lines[2])
      assert.matches("^clinch: row 4: create candidate: unknown attribute 'nickname'", lines[3])
      assert.is_falsy(lines[3]:find("allow_unknown", 1, true), lines[3]) -- a Lua option: no flag sets it
      assert.matches("^clinch: row 5: create candidate: attribute 'email' is required$", lines[4])
      assert.are.equal("clinch: 4 of 6 rows are invalid; nothing was sent", lines[5])
      -- CSV: a row with another number of fields, and a header naming no attribute.
      code, out, err = clinch { "candidates", "create", "--from", file("bad.csv", "email,first_name\n"
        .. "a@example.com,A\nb@example.com\nc@example.com,C,extra\n") }
      assert.are.equal(2, code)
      assert.are.equal("", out)
      assert.are.equal("clinch: row 2: has 1 field, the header 2\nclinch: row 3: has 3 fields, the header 2\n"
        .. "clinch: 2 of 3 rows are invalid; nothing was sent\n", err)
      -- a file that is not CSV names the line where it goes wrong
      code, out, err = clinch { "candidates", "create", "--from", file("quote.csv", "email,first_name\n"
        .. "a@example.com,A\nb@example.com,B\"ob\nc@example.com,C\n") }
      assert.are.equal(2, code)
      assert.are.equal("", out)
      assert.matches("not CSV: line 3: quote inside an unquoted field", err)
      code, out, err = clinch { "candidates", "create", "--from", file("open.csv", "email,first_name\n"
        .. "a@example.com,\"Ann\nb@example.com,B\n") }
      assert.are.equal(2, code)
      assert.are.equal("", out)
      assert.matches("not CSV: line 2: unterminated quoted field", err)
      code, out, err = clinch { "candidates", "create", "--from", file("header.csv", "email,nick\na@example.com,A\n") }
      assert.are.equal("", out)
      assert.are.equal(2, code)
      assert.matches("the header names nick, which is no attribute of a new candidate", err)
      code, out, err = clinch { "candidates", "create", "--from", path, "--email", "a@example.com" }
      assert.are.equal("", out)
      assert.are.equal(2, code)
      assert.matches("leave out %-%-email", err)
      code, out, err = clinch { "candidates", "create", "--from", file("list.json", '[{"email":"a@example.com"}]') }
      assert.are.equal("", out)
      assert.matches("holds a JSON array: %-%-from reads CSV, or JSON Lines", err)
      assert.are.equal(2, code)
      -- the mock saw no request at all
      assert.are.same({}, journal())
    end)

    it("exits 1 when a row fails at the API, the other rows done", function()
      mock.control("POST", "faults", { kind = "status", status = 500, count = 1, method = "POST" })
      local path = file("three.csv", "email\nr1@example.com\nr2@example.com\nr3@example.com\n")
      local code, out, err = clinch { "candidates", "create", "--from", path, "--concurrency", "1" }
      assert.are.equal(1, code)
      assert.are.equal("clinch: 1 of 3 rows failed at the API (see the results on stdout)\n", err)
      local r = results(out)
      assert.are.equal("error", r[1].status)
      assert.is_nil(r[1].id)
      assert.matches("^http error %(HTTP 500%) POST ", r[1].error)
      assert.are.same({ "created", "created" }, { r[2].status, r[3].status })
    end)

    it("keeps --concurrency rows in flight: 16 rows at 8 take about two latencies", function()
      local rows = { "email" }
      for i = 1, 16 do rows[#rows + 1] = "overlap" .. i .. "@example.com" end
      local path = file("sixteen.csv", table.concat(rows, "\n") .. "\n")
      mock.control("POST", "faults", { kind = "latency", ms = 300, count = -1 })
      local t0 = core.monotime()
      local code, out, err = clinch { "candidates", "create", "--from", path, "--concurrency", "8" }
      local took = core.monotime() - t0
      assert.are.equal(0, code, err)
      assert.are.equal(16, #results(out))
      -- one after another they would take 16 x 0.3 s; two rounds of 8 take 0.6 s
      assert.is_true(took > 0.55 and took < 2.0, "took " .. took .. " s")
      assert.are.equal(7, most_in_flight(journal()))
    end)
  end)

  describe("tags add --ids-from", function()
    it("tags every candidate listed, from ids or from create's results", function()
      local ids = {}
      for cand in client.candidates:each { per_page = 5 } do
        if #ids < 5 then ids[#ids + 1] = cand.id end
      end
      local code, out, err = clinch({ "tags", "add", "--ids-from", "-", "Bulk" },
        { stdin = "\n" .. table.concat(ids, "\n") .. "\n\n" })
      assert.are.equal(0, code, err)
      local r = results(out)
      assert.are.equal(5, #r)
      for i, res in ipairs(r) do
        assert.are.equal("tagged", res.status)
        assert.are.equal(ids[i], res.id)
        assert.is_string(res.tag_id)
        local names = {}
        for _, t in ipairs(assert(client.candidates:list_tags(ids[i]))) do names[t.name] = true end
        assert.is_true(names.Bulk)
      end
      -- The results of a create, piped in.
      local created
      code, created = clinch { "candidates", "create", "--from",
                               file("two.csv", "email\np1@example.com\np2@example.com\n") }
      assert.are.equal(0, code)
      code, out = clinch({ "tags", "add", "--ids-from", "-", "Imported" }, { stdin = created })
      assert.are.equal(0, code)
      r = results(out)
      assert.are.equal(results(created)[2].id, r[2].id)
      -- a create that failed: its line gets a result of its own, and the others are tagged
      mock.control("DELETE", "requests")
      mock.control("POST", "faults", { kind = "status", status = 503, count = 1, method = "POST" })
      code, created = clinch { "candidates", "create", "--from",
                               file("three.csv", "email\np3@example.com\np4@example.com\np5@example.com\n") }
      assert.are.equal(1, code)
      code, out, err = clinch({ "tags", "add", "--ids-from", "-", "Piped" }, { stdin = created })
      assert.are.equal(1, code, err)
      r = results(out)
      assert.are.equal(3, #r)
      local tagged, skipped = 0, 0
      for i, res in ipairs(r) do
        assert.are.equal(i, res.row)
        if res.status == "tagged" then tagged = tagged + 1 end
        if res.status == "error" then
          skipped = skipped + 1
          assert.matches("^not tagged: the row this line reports failed %(http error %(HTTP 503%)", res.error)
        end
      end
      assert.are.same({ 2, 1 }, { tagged, skipped })
      local tag_posts = 0
      for _, req in ipairs(journal()) do
        if req.method == "POST" and req.uri:find("/tags$") then tag_posts = tag_posts + 1 end
      end
      assert.are.equal(2, tag_posts)
    end)

    it("checks every line first, and exits 1 for an id the API does not know", function()
      local code, out, err = clinch({ "tags", "add", "--ids-from", "-", "X" }, { stdin = known.id .. "\n"
        .. "two words\n" .. '{"row":3,"status":"error","error":"..."}\n' .. "{not json\n" })
      assert.are.equal(2, code)
      assert.are.equal("", out)
      assert.are.equal("clinch: row 2: the candidate id holds white space or control characters\n"
        .. "clinch: row 4: is not a JSON object\n"
        .. "clinch: 2 of 4 rows are invalid; nothing was sent\n", err)
      code, out, err = clinch({ "tags", "add", "--ids-from", "-", "  " }, { stdin = known.id .. "\n" })
      assert.are.equal("", out)
      assert.are.equal(2, code)
      assert.matches("NAME must not be blank", err)
      assert.are.same({}, journal())
      code, out, err = clinch({ "tags", "add", "--ids-from", "-", "X" }, { stdin = known.id .. "\nno-such-id\n" })
      assert.are.equal(1, code)
      assert.matches("1 of 2 rows failed at the API", err)
      local r = results(out)
      assert.are.equal("tagged", r[1].status)
      assert.are.equal("error", r[2].status)
      assert.are.equal("no-such-id", r[2].id)
      assert.matches("^not_found error %(HTTP 404%)", r[2].error)
      -- the single form still works
      code = clinch { "tags", "add", known.id, "Single" }
      assert.are.equal(0, code)
    end)
  end)

  describe("resume upload --dir", function()
    local dir = tmp .. "/resumes"
    local function fill(files)
      os.execute("rm -rf " .. q(dir) .. " && mkdir -p " .. q(dir .. "/sub"))
      for name, content in pairs(files) do write_file(dir .. "/" .. name, content) end
    end

    it("uploads <email>.<ext> and <id>.<ext> to their candidates, hidden files and directories left out", function()
      fill { [known.email .. ".pdf"] = "%PDF-1.4 by email", [known.id .. ".txt"] = "by id", [".DS_Store"] = "x",
             ["sub/other@example.com.pdf"] = "not a row", ["nobody@example.com.doc"] = "no such candidate" }
      local code, out, err = clinch { "resume", "upload", "--dir", dir .. "/" }
      assert.are.equal(1, code, err)
      assert.are.equal("clinch: 1 of 3 rows failed at the API (see the results on stdout)\n", err)
      local r = results(out)
      assert.are.equal(3, #r)
      -- rows in the byte order of the names
      local by_file, files = {}, {}
      for k, res in ipairs(r) do by_file[res.file], files[k] = res, res.file end
      local sorted = { table.unpack(files) }
      table.sort(sorted)
      assert.are.same(sorted, files)
      local e, i = by_file[known.email .. ".pdf"], by_file[known.id .. ".txt"]
      local nobody = by_file["nobody@example.com.doc"]
      assert.are.same({ "uploaded", known.id }, { e.status, e.id })
      assert.are.same({ "uploaded", known.id }, { i.status, i.id })
      assert.is_string(e.file_id)
      assert.are.equal("error", nobody.status)
      assert.matches("no candidate has the email nobody@example.com", nobody.error)
      local names = {}
      for _, req in ipairs(journal()) do
        if req.method == "POST" then names[#names + 1] = cjson.decode(req.body).data.attributes.filename end
      end
      table.sort(names)
      assert.are.same({ known.id .. ".txt", known.email .. ".pdf" }, names)
    end)

    it("checks every file first: exit 2, nothing sent", function()
      fill { ["ok@example.com.pdf"] = "fine", ["empty.pdf"] = "", ["noextension"] = "x",
             ["bad@@example.com.pdf"] = "x" }
      local code, out, err = clinch { "resume", "upload", "--dir", dir }
      assert.are.equal(2, code)
      assert.are.equal("", out)
      assert.matches("row %d: bad@@example%.com%.pdf: the email bad@@example%.com has more than one @", err)
      assert.matches("row %d: empty%.pdf is empty", err)
      assert.matches("row %d: noextension has no extension", err)
      assert.matches("clinch: 3 of 4 rows are invalid; nothing was sent\n$", err)
      code, out, err = clinch { "resume", "upload", "--dir", tmp .. "/no-such-dir" }
      assert.are.equal("", out)
      assert.are.equal(2, code)
      assert.matches("is not a directory", err)
      assert.are.same({}, journal())
    end)
  end)

  it("says what was not sent when the reader of its output leaves (| head -1), and exits 1", function()
    local lines = { "email" }
    for i = 1, 20 do lines[#lines + 1] = "piped-" .. i .. "@example.com" end
    local path = file("head.csv", table.concat(lines, "\n") .. "\n")
    -- 300 ms a create: head has its line and is gone long before the last rows start
    mock.control("POST", "faults", { kind = "latency", ms = 300, count = -1, method = "POST" })
    local env = {}
    for k, v in pairs(vars) do env[#env + 1] = k .. "=" .. q(v) end
    local p = assert(io.popen(support.child_env .. "env --default-signal=PIPE sh -c " .. q("(env "
      .. table.concat(env, " ") .. " " .. support.lua .. " bin/clinch candidates create --from " .. q(path)
      .. " --concurrency 2 2>" .. q(tmp .. "/head.err") .. "; echo $? >" .. q(tmp .. "/head.code") .. ") | head -1")))
    local out = p:read("a")
    p:close()
    mock.control("DELETE", "faults")
    assert.are.equal(1, #decode_lines(out))
    assert.are.equal("1\n", read_file(tmp .. "/head.code"))
    local unsent = tonumber(read_file(tmp .. "/head.err"):match("^clinch: the output was closed: (%d+) of 20 rows were "
      .. "not sent\n$"))
    assert.is_truthy(unsent, read_file(tmp .. "/head.err"))
    -- the server's own account: what it received is exactly what was not called unsent
    assert.are.equal(20 - unsent, posts("^/v1/candidates$"))
  end)

  it("draws a progress line on a terminal", function()
    local path = file("tty.csv", "email\ntty1@example.com\ntty2@example.com\n")
    local argv = { "candidates", "create", "--from", path }
    for i, a in ipairs(argv) do argv[i] = q(a) end
    local inner = "env CLINCH_BASE_URL=" .. q(mock.base_url)
      .. " CLINCH_API_KEY=test-key CLINCH_API_SECRET=test-secret "
      .. support.lua .. " bin/clinch " .. table.concat(argv, " ") .. " >" .. q(tmp .. "/tty.out")
    local p = assert(io.popen(support.child_env .. "script -qec " .. q(inner) .. " /dev/null"))
    local screen = p:read("a")
    p:close()
    assert.matches("\r2/2 candidates, %d+/s, %d+:%d%d\27%[K", screen)
    assert.are.equal(2, #decode_lines(read_file(tmp .. "/tty.out")))
    -- results on the same terminal: each on a line of its own, never after the progress text
    inner = inner:gsub(" >[^ ]+$", "")
    p = assert(io.popen(support.child_env .. "script -qec " .. q(inner) .. " /dev/null"))
    screen = p:read("a")
    p:close()
    local results_seen = 0
    for before in screen:gmatch("(.?.?.?.?){\"row\":") do
      results_seen = results_seen + 1
      assert.is_truthy(before == "" or before:find("\n$") or before:find("\r\27%[K$"), ("%q"):format(screen))
    end
    assert.are.equal(2, results_seen)
  end)
end)
