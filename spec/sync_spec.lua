-- `clinch candidates sync` against an adversary: records that keep changing while a window is read,
-- kill -9 at random moments and resumes with another --per-page, a full disk, two runs at once,
-- corrupted state files, invalid UTF-8, pagination loops, outputs of another format. bin/clinch runs as
-- a child process; what must have been exported is taken from the mock's own record of what exists
-- (GET /__mock/candidates), never from the client's account of what it did.
local support = require "support"

if support.is_luajit then
  describe("clinch candidates sync", function()
    pending("runs on Lua 5.4 only: covered by the Lua 5.4 suite")
  end)
  return
end

local core = require "clinch.core"
local cjson = require("cjson.safe").new()
local validate = require "clinch.validate"
local read_file, write_file = support.read_file, support.write_file
local q = support.shell_quote

local tmp = support.tmpdir()
teardown(function() os.execute("rm -rf " .. q(tmp)) end)

-- A seeded generator (Park-Miller): the same draws on every run of the suite.
local function generator(seed)
  local s = seed * 7919 % 2147483647 + 1
  return function(lo, hi)
    s = s * 48271 % 2147483647
    return lo + s % (hi - lo + 1)
  end
end

local mock
local function env()
  return "env -u CLINCH_REGION CLINCH_BASE_URL=" .. q(mock.base_url)
    .. " CLINCH_API_KEY=test-key CLINCH_API_SECRET=test-secret"
end

local function argv_text(args)
  local parts = {}
  for i, a in ipairs(args) do parts[i] = q(a) end
  return table.concat(parts, " ")
end

-- Runs bin/clinch ARGS -> exit code, stdout, stderr.
local function clinch(args)
  local errfile = tmp .. "/stderr"
  local p = assert(io.popen(support.child_env .. env() .. " " .. support.lua .. " bin/clinch " .. argv_text(args)
    .. " 2>" .. q(errfile)))
  local out = p:read("a")
  local _, _, code = p:close()
  return code, out, read_file(errfile) or ""
end

local STATE, OUT = tmp .. "/state.json", tmp .. "/out.jsonl"

local function sync(extra, state, out)
  local args = { "candidates", "sync", "--state", state or STATE, "--out", out or OUT }
  for _, a in ipairs(extra or {}) do args[#args + 1] = a end
  return clinch(args)
end

-- Starts a sync in the background -> { pid, wait() -> exit code (or "signal"), kill() }.
local function start_sync(extra, name)
  local args = { "candidates", "sync", "--state", STATE, "--out", OUT }
  for _, a in ipairs(extra or {}) do args[#args + 1] = a end
  local cmd = "echo $$; exec " .. env() .. " " .. support.lua .. " bin/clinch " .. argv_text(args)
    .. " >" .. q(tmp .. "/" .. (name or "bg") .. ".out") .. " 2>" .. q(tmp .. "/" .. (name or "bg") .. ".err")
  local p = assert(io.popen("exec env " .. support.child_env .. "sh -c " .. q(cmd)))
  local h = { pid = tonumber(p:read("l")) }
  function h.wait()
    local _, how, code = p:close()
    return how == "exit" and code or how
  end
  function h.kill()
    os.execute("kill -9 " .. h.pid .. " 2>/dev/null")
    return h.wait()
  end
  function h.output(which) return read_file(tmp .. "/" .. (name or "bg") .. "." .. which) or "" end
  return h
end

-- The store's own record: id -> updated_at (epoch seconds).
local function store()
  local out = {}
  for _, c in ipairs(mock.control("GET", "candidates").candidates) do out[c.id] = math.floor(c.updated_at) end
  return out
end

local function epoch(t)
  local y, mo, d, h, mi, s = t:match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)$")
  return require("clinch.time").epoch_utc(tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi),
    tonumber(s))
end

-- The ids of a JSONL output, in order; every line must be valid UTF-8 and a JSON object.
local function jsonl_ids(path)
  local ids = {}
  for line in (read_file(path) or ""):gmatch("[^\n]+") do
    assert.is_true(validate.utf8(line), "a line that is not valid UTF-8")
    local t = cjson.decode(line)
    assert(type(t) == "table" and type(t.id) == "string", "not a record: " .. line:sub(1, 80))
    ids[#ids + 1] = t.id
  end
  return ids
end

-- Asserts that `ids` holds no id twice and every id of `expected` (a set) once.
local function assert_exactly_once(ids, expected, what)
  local seen = {}
  for _, id in ipairs(ids) do
    assert(not seen[id], (what or "output") .. ": " .. id .. " exported twice")
    seen[id] = true
  end
  local missing = 0
  for id in pairs(expected) do if not seen[id] then missing = missing + 1 end end
  assert(missing == 0, (what or "output") .. ": " .. missing .. " records of the window never exported")
  return seen
end

local function set_of(t, keep)
  local out = {}
  for id, v in pairs(t) do if keep(v) then out[id] = true end end
  return out
end

local function count(set)
  local n = 0
  for _ in pairs(set) do n = n + 1 end
  return n
end

-- Waits for the next whole second: a change made before it then lies before the next run's window end.
local function next_second()
  local s = math.floor(core.now())
  while core.now() < s + 1.02 do core.sleep(0.02) end
end

local function clean()
  os.execute("rm -f " .. q(tmp) .. "/state* " .. q(tmp) .. "/out*")
end

-- A second in the past (within every window here) into which `n` candidates are packed.
local DENSE = 1600000000

describe("clinch candidates sync", function()
  setup(function()
    mock = support.start_mock { "--candidates", "300", "--seed", "21" }
  end)
  teardown(function() mock.stop() end)
  before_each(function()
    mock.control("POST", "reset")
    clean()
  end)

  describe("while other users keep changing records", function()
    -- Seeds, page sizes, updates per request, and whether the API reports totals. Those marked slow
    -- take the same paths as another case with other numbers (the sanitizer run leaves them out).
    local cases = {
      { seed = 1, per_page = 7, touch = 2, totals = true },
      { seed = 2, per_page = 25, touch = 3, totals = true, slow = true },
      { seed = 3, per_page = 10, touch = 2, totals = false },
      { seed = 4, per_page = 16, touch = 4, totals = false, slow = true },
      -- A batch job working through the list in the server's order: every later page shifts.
      { seed = 5, per_page = 7, touch = 5, totals = true, among = "first" },
    }
    for _, c in ipairs(cases) do
      it(("exports every record that stayed in the window exactly once (seed %d, per-page %d, %d updates per "
        .. "request among %s, %s)"):format(c.seed, c.per_page, c.touch, c.among or "filter",
          c.totals and "totals" or "no totals") .. (c.slow and " #slow" or ""), function()
        -- 300 candidates over two years, 90 of them in one second and 40 in another: more than a page.
        mock.control("POST", "touch", { count = 90, seed = c.seed, at = DENSE })
        mock.control("POST", "touch", { count = 40, seed = c.seed + 50, at = DENSE + 7 })
        mock.control("POST", "faults", { kind = "churn", touch = c.touch, seed = c.seed, among = c.among or "filter",
                                          method = "GET", path = "/v1/candidates" })
        if not c.totals then mock.control("POST", "faults", { kind = "pagination", mode = "no_totals" }) end
        local before = store()
        local code, summary, err = sync { "--since", "2000-01-01", "--per-page", tostring(c.per_page) }
        assert.are.equal(0, code, err)
        summary = assert(cjson.decode(summary))
        local gte, lt = epoch(summary.since), epoch(summary["until"])
        local after = store()
        local function in_window(t) return t >= gte and t < lt end
        -- A change moves updated_at to the server's now, past the window's end; none came back.
        local stayed = set_of(after, in_window)
        local left = {}
        for id, t in pairs(before) do if in_window(t) and not in_window(after[id]) then left[id] = true end end
        assert.is_true(count(left) >= 20, "the adversary moved only " .. count(left) .. " records")
        local ids = jsonl_ids(OUT)
        assert_exactly_once(ids, stayed)
        for _, id in ipairs(ids) do assert.is_true(in_window(before[id]), id .. " was never in the window") end
        assert.are.equal(#ids, summary.exported)
        -- The records that changed during the run are the next run's, each once, as they now are.
        mock.control("DELETE", "faults")
        next_second()
        local n_first = #ids
        code, summary, err = sync()
        assert.are.equal(0, code, err)
        local all_ids, second = jsonl_ids(OUT), {}
        for i = n_first + 1, #all_ids do second[#second + 1] = all_ids[i] end
        assert_exactly_once(second, left, "the next run")
        assert.are.equal(#second, cjson.decode(summary).exported)
      end)
    end
  end)

  it("resumes after kill -9 at random moments with another --per-page: every record once", function()
    mock.control("POST", "touch", { count = 60, seed = 9, at = DENSE })
    local all = set_of(store(), function() return true end)
    for _, seed in ipairs { 11, 12, 13 } do
      mock.control("DELETE", "faults")
      clean()
      local draw = generator(seed)
      -- Page sizes small enough, and kills early enough, that every attempt is cut short.
      local sizes = { 5, 13, 7, 9, 6 }
      local kills = 0
      for attempt = 1, 5 do
        local per_page = sizes[(draw(0, 100) + attempt) % #sizes + 1]
        local start = mock.control("GET", "stats").requests
        local threshold = start + draw(2, 6)
        local h = start_sync { "--since", "2000-01-01", "--per-page", tostring(per_page) }
        local deadline = core.monotime() + 10
        while mock.control("GET", "stats").requests < threshold and core.monotime() < deadline do
          core.sleep(0.001 * draw(1, 4))
        end
        local how = h.kill()
        if how == "signal" then kills = kills + 1 end
        local st = cjson.decode(read_file(STATE) or "")
        if how == "signal" and st then assert.is_table(st.run) end
      end
      assert.is_true(kills >= 3, "only " .. kills .. " runs were killed before they ended")
      local code, _, err = sync { "--per-page", "33" }
      assert.are.equal(0, code, err)
      assert_exactly_once(jsonl_ids(OUT), all, "seed " .. seed)
      assert.are.equal(count(all), #jsonl_ids(OUT))
    end
  end)

  describe("one run at a time", function()
    it("refuses a second run while one holds the state file, waits with --wait, and nothing is exported twice",
      function()
        mock.control("POST", "faults", { kind = "latency", ms = 15, count = -1 })
        local a = start_sync({ "--since", "2000-01-01", "--per-page", "10" }, "a")
        for _ = 1, 500 do
          local st = cjson.decode(read_file(STATE) or "")
          if st and st.run then break end
          core.sleep(0.01)
        end
        local t0 = core.monotime()
        local code, _, err = sync { "--per-page", "10" }
        assert.are.equal(1, code)
        assert.are.equal("clinch: another sync holds " .. STATE .. " (pid " .. a.pid .. "); --wait waits for it "
          .. "to finish\n", err)
        assert.is_true(core.monotime() - t0 < 1)
        local c = start_sync({ "--per-page", "50", "--wait" }, "c")
        assert.are.equal(0, a.wait(), a.output("err"))
        assert.are.equal(0, c.wait(), c.output("err"))
        assert.are.equal(0, cjson.decode(c.output("out")).exported)
        local ids = jsonl_ids(OUT)
        assert_exactly_once(ids, set_of(store(), function() return true end))
        assert.are.equal(300, #ids)
      end)

    it("is not blocked by the lock of a run killed with -9", function()
      mock.control("POST", "faults", { kind = "latency", ms = 5, count = -1 })
      local a = start_sync { "--since", "2000-01-01", "--per-page", "10" }
      for _ = 1, 500 do
        local st = cjson.decode(read_file(STATE) or "")
        if st and st.run and st.run.exported > 0 then break end
        core.sleep(0.01)
      end
      assert.are.equal("signal", a.kill())
      assert.matches("^" .. a.pid .. "\n$", read_file(STATE .. ".lock")) -- the dead holder's pid is still there
      local code, _, err = sync { "--per-page", "30" }
      assert.are.equal(0, code, err)
      assert_exactly_once(jsonl_ids(OUT), set_of(store(), function() return true end))
    end)
  end)

  describe("a state file it cannot trust", function()
    local base_state, base_out
    -- A complete first run (made once), then a state with an unfinished run at the end of the output.
    local function prepare()
      if not base_state then
        local code, _, err = sync { "--since", "2000-01-01", "--per-page", "100" }
        assert.are.equal(0, code, err)
        base_state, base_out = read_file(STATE), read_file(OUT)
      end
      write_file(OUT, base_out)
      local st = cjson.decode(base_state)
      local size = #base_out
      st.run = { gte = st.high_water, lt = st.high_water, cursor = epoch(st.high_water), width = 1, out = OUT,
                 format = "jsonl", out_start = size, out_size = size, exported = 0 }
      return st, size
    end

    local function mutate(st, path, value)
      local t = st
      for i = 1, #path - 1 do t = t[path[i]] end
      t[path[#path]] = value
    end

    local cases = {
      { { "run", "out_size" }, -5, "run%.out_size" },
      { { "run", "out_size" }, 0, "run%.out_size below run%.out_start" },
      { { "high_water" }, "yesterday", "high_water" },
      { { "high_water" }, 5, "high_water" },
      { { "high_water" }, "2024-02-30T00:00:00", "high_water" },
      { { "version" }, 3, "version" },
      { { "run" }, "running", "run" },
      { { "run", "cursor" }, "abc", "run%.cursor" },
      { { "run", "cursor" }, 12, "run%.cursor outside" },
      { { "run", "format" }, "xml", "run%.format" },
      { { "run", "width" }, 0, "run%.width" },
      { { "run", "gte" }, "2999-01-01T00:00:00", "run%.lt before run%.gte" },
      { { "runs" }, -1, "runs" },
      { { "last_run", "exported" }, "many", "last_run%.exported" },
      { { "surprise" }, true, "unknown field at the top level%.surprise" },
      { { "run", "surprise" }, 1, "unknown field in run%.surprise" },
      { { "output", "format" }, "xml", "output%.format" },
    }
    for _, c in ipairs(cases) do
      it("refuses " .. table.concat(c[1], ".") .. " = " .. tostring(c[2]) .. " with exit 2, changing nothing",
        function()
          local st = prepare()
          mutate(st, c[1], c[2])
          local text = assert(cjson.encode(st))
          write_file(STATE, text)
          local before = read_file(OUT)
          local code, out, err = sync()
          assert.are.equal(2, code, err)
          assert.are.equal("", out)
          assert.matches("^clinch: the state file " .. STATE:gsub("%p", "%%%0") .. " [^\n]*" .. c[3], err)
          assert.are.equal(before, read_file(OUT))
          assert.are.equal(text, read_file(STATE))
        end)
    end

    it("refuses state that is not JSON, empty, or whose run does not match the output", function()
      local st, size = prepare()
      local before = read_file(OUT)
      local variants = {
        { "{not json", "is not valid JSON" },
        { "", "is empty" },
        { "[1,2]", "top level" },
      }
      -- The run's counts are consistent with each other but not with the file: cutting would wipe it.
      st.run.out_start, st.run.out_size = 0, 0
      variants[#variants + 1] = { cjson.encode(st), "run%.out_size = 0, but [^\n]* not records of the run's window" }
      st.run.out_start, st.run.out_size = size - 100, size - 100
      st.run.out_check = core.base64_encode(core.sha256("other bytes"))
      variants[#variants + 1] = { cjson.encode(st), "run%.out_size = %d+, but [^\n]*run%.out_check" }
      for _, v in ipairs(variants) do
        write_file(STATE, v[1])
        local code, _, err = sync()
        assert.are.equal(2, code, v[1])
        assert.matches(v[2], err)
        assert.are.equal(before, read_file(OUT))
        assert.are.equal(v[1], read_file(STATE))
      end
    end)
  end)

  it("resumes the unfinished run of a version 1 state file (earlier releases) by reading its window again",
    function()
      local code, _, err = sync { "--since", "2000-01-01", "--per-page", "100" }
      assert.are.equal(0, code, err)
      local st = cjson.decode(read_file(STATE))
      local text = read_file(OUT)
      -- As the page-numbered layout left it: 40 records of the window written, recorded up to page 3.
      local cut = 0
      for _ = 1, 40 do cut = text:find("\n", cut + 1, true) end
      write_file(OUT, text:sub(1, cut))
      write_file(STATE, cjson.encode { version = 1, runs = 0, run = { gte = "2000-01-01T00:00:00",
        lt = st.high_water, page = 3, pass = 1, out = OUT, format = "jsonl", out_start = 0, out_size = cut,
        exported = 40 } })
      code, _, err = sync { "--per-page", "30" }
      assert.are.equal(0, code, err)
      assert.are.equal(2, cjson.decode(read_file(STATE)).version)
      assert_exactly_once(jsonl_ids(OUT), set_of(store(), function() return true end))
      assert.are.equal(300, #jsonl_ids(OUT))
    end)

  describe("outputs of another format", function()
    it("refuses to append other columns or another format, exit 2, the output unchanged", function()
      local csv_out = tmp .. "/out.csv"
      local code, _, err = sync({ "--since", "2000-01-01", "--columns", "id,email" }, nil, csv_out)
      assert.are.equal(0, code, err)
      local before = read_file(csv_out)
      local function refused(args, pattern, state, out)
        local c, o, e = sync(args, state, out or csv_out)
        assert.are.equal(2, c, e)
        assert.are.equal("", o)
        assert.matches(pattern, e)
        assert.are.equal(before, read_file(csv_out))
      end
      refused({ "--columns", "id,last_name" }, "%-%-columns id,last_name differ from the columns of")
      refused({ "--format", "jsonl" }, "%-%-format jsonl cannot be appended")
      -- The same through the file itself, for a state that never saw it.
      refused({ "--columns", "id,last_name" }, "the CSV header of [^\n]* is id,email", tmp .. "/state-b.json")
      refused({ "--format", "jsonl" }, "does not hold JSON Lines", tmp .. "/state-c.json")
      -- JSON Lines, and a file that does not end with a complete record.
      code = sync({ "--since", "2000-01-01" }, tmp .. "/state-d.json", OUT)
      assert.are.equal(0, code)
      local jsonl = read_file(OUT)
      code, _, err = sync({ "--format", "csv" }, tmp .. "/state-d.json", OUT)
      assert.are.equal(2, code)
      assert.matches("holds jsonl records", err)
      code, _, err = sync({ "--format", "csv" }, tmp .. "/state-e.json", OUT)
      assert.are.equal(2, code)
      assert.matches("holds JSON Lines, not CSV", err)
      assert.are.equal(jsonl, read_file(OUT))
      write_file(tmp .. "/out-torn.jsonl", '{"id":"1","type":"candidates"}\n{"id":"2"')
      code, _, err = sync({ "--since", "2000-01-01" }, tmp .. "/state-f.json", tmp .. "/out-torn.jsonl")
      assert.are.equal(2, code)
      assert.matches("does not end with a complete record", err)
      assert.are.equal('{"id":"1","type":"candidates"}\n{"id":"2"', read_file(tmp .. "/out-torn.jsonl"))
    end)

    it("refuses - for --out or --state: they must be files", function()
      for _, args in ipairs { { "candidates", "sync", "--state", STATE, "--out", "-" },
                              { "candidates", "sync", "--state", "-", "--out", OUT } } do
        local code, out, err = clinch(args)
        assert.are.equal(2, code, err)
        assert.are.equal("", out)
        assert.matches("candidates sync writes to files", err)
      end
      assert.is_nil(io.open("-", "rb"))
    end)

    it("writes JSON Lines of just the --columns members, and keeps to them when it appends", function()
      local out, st = tmp .. "/cols.jsonl", tmp .. "/state-cols.json"
      local code, _, err = sync({ "--since", "2000-01-01", "--columns", "id,email,notes.content" }, st, out)
      assert.are.equal(0, code, err)
      local n = 0
      for line in read_file(out):gmatch("[^\n]+") do
        local t = cjson.decode(line)
        local keys = {}
        for k in pairs(t) do keys[#keys + 1] = k end
        table.sort(keys)
        assert.is_true(#keys >= 1 and #keys <= 3 and t.id ~= nil, line)
        for _, k in ipairs(keys) do assert.is_truthy(({ id = 1, email = 1, ["notes.content"] = 1 })[k], k) end
        n = n + 1
      end
      assert.is_true(n > 0)
      assert.are.equal("id,email,notes.content", table.concat(cjson.decode(read_file(st)).output.columns, ","))
      local before = read_file(out)
      code, _, err = sync({}, st, out)
      assert.are.equal(2, code, err)
      assert.matches("%(whole records%) differ from the columns of [^\n]*use %-%-columns id,email,notes.content", err)
      code, _, err = sync({ "--columns", "id,email" }, st, out)
      assert.are.equal(2, code, err)
      assert.are.equal(before, read_file(out))
      code, _, err = sync({ "--columns", "id,email,notes.content" }, st, out)
      assert.are.equal(0, code, err)
    end)

    it("takes a resumed run's options from the state, and refuses others naming the option", function()
      mock.control("POST", "faults", { kind = "latency", ms = 5, count = -1 })
      local csv_out = tmp .. "/out.csv"
      local args = { "candidates", "sync", "--state", STATE, "--out", csv_out, "--since", "2000-01-01",
                     "--per-page", "10", "--columns", "id,email" }
      local cmd = "echo $$; exec " .. env() .. " " .. support.lua .. " bin/clinch " .. argv_text(args) .. " >/dev/null"
      local p = assert(io.popen("exec env " .. support.child_env .. "sh -c " .. q(cmd)))
      local pid = p:read("l")
      for _ = 1, 500 do
        local st = cjson.decode(read_file(STATE) or "")
        if st and st.run and st.run.exported > 0 then break end
        core.sleep(0.01)
      end
      os.execute("kill -9 " .. pid)
      p:close()
      mock.control("DELETE", "faults")
      local code, _, err = sync({ "--columns", "id,phone_number" }, nil, csv_out)
      assert.are.equal(2, code)
      assert.matches("unfinished run with %-%-columns id,email; resume it with those", err)
      code, _, err = sync({ "--format", "jsonl" }, nil, csv_out)
      assert.are.equal(2, code)
      assert.matches("unfinished run with %-%-format csv", err)
      code, _, err = sync({ "--per-page", "7" }, nil, csv_out)
      assert.are.equal(0, code, err)
      local rows = {}
      for line in read_file(csv_out):gmatch("[^\r\n]+") do rows[#rows + 1] = line end
      assert.are.equal("id,email", rows[1])
      local ids = {}
      for i = 2, #rows do ids[#ids + 1] = rows[i]:match("^([^,]+)") end
      assert_exactly_once(ids, set_of(store(), function() return true end))
    end)
  end)

  describe("bad records", function()
    -- Sets raw bytes in two candidates' names (the API keeps what it is sent; so does the mock).
    local function corrupt()
      local ids = {}
      for id in pairs(store()) do ids[#ids + 1] = id end
      table.sort(ids)
      local client = require("clinch").new { key = "test-key", secret = "test-secret", base_url = mock.base_url }
      for i, bytes in ipairs { "Zo\235", "\255\254x" } do
        local body = '{"data":{"type":"candidates","attributes":{"first_name":"' .. bytes .. '"}}}'
        assert.are.equal(200, assert(client:request("PATCH", "/candidates/" .. ids[i], { body = body })).status)
      end
      client:close()
      -- Back into the past, so that the window of a run started now holds them.
      mock.control("POST", "touch", { ids = { ids[1], ids[2] }, at = DENSE })
      return ids[1], ids[2]
    end

    it("never stops a run for invalid UTF-8: JSONL and CSV stay valid, the replacements are counted", function()
      local a, b = corrupt()
      local code, summary, err = sync { "--since", "2000-01-01", "--per-page", "50" }
      assert.are.equal(0, code, err)
      summary = cjson.decode(summary)
      assert.are.equal(300, summary.exported)
      -- first_name and name each hold the bad bytes: 1 + 1 for the first, 2 + 2 for the second.
      assert.are.equal(6, summary.invalid_utf8)
      assert.matches("warning: 6 invalid UTF%-8 sequences in the data replaced by U%+FFFD in "
        .. OUT:gsub("%p", "%%%0"), err)
      local ids = jsonl_ids(OUT)
      assert.are.equal(300, #ids)
      local text = read_file(OUT)
      assert.matches('"first_name":"Zo\239\191\189"', text, 1, true)
      assert.is_truthy(text:find('"first_name":"\239\191\189\239\191\189x"', 1, true))
      assert.are.equal(6, cjson.decode(read_file(STATE)).last_run.invalid_utf8)
      -- CSV: the columns shown count, the others do not.
      code, summary, err = sync({ "--since", "2000-01-01", "--columns", "id,first_name" }, tmp .. "/state-csv.json",
        tmp .. "/out.csv")
      assert.are.equal(0, code, err)
      assert.are.equal(3, cjson.decode(summary).invalid_utf8)
      local csv_text = read_file(tmp .. "/out.csv")
      assert.is_true(validate.utf8(csv_text))
      assert.is_truthy(csv_text:find(a .. ",Zo\239\191\189\r\n", 1, true))
      assert.is_truthy(csv_text:find(b .. ",\239\191\189\239\191\189x\r\n", 1, true))
    end)

    it("lists them as valid JSON, JSON Lines and CSV, with a warning", function()
      corrupt()
      for _, format in ipairs { "json", "jsonl", "csv" } do
        local code, out, err = clinch { "candidates", "list", "--all", "--per-page", "40", "--format", format }
        assert.are.equal(0, code, err)
        assert.is_true(validate.utf8(out), format)
        assert.matches("^clinch: warning: %d+ invalid UTF%-8 sequences in the data replaced by U%+FFFD in "
          .. "the output\n$", err)
        if format == "json" then
          assert.are.equal(300, #assert(cjson.decode(out)))
        elseif format == "jsonl" then
          local n = 0
          for line in out:gmatch("[^\n]+") do
            assert.is_table(cjson.decode(line))
            n = n + 1
          end
          assert.are.equal(300, n)
        else
          local n = 0
          for _ in out:gmatch("\r\n") do n = n + 1 end
          assert.are.equal(301, n)
        end
      end
    end)
  end)

  it("fails, exit 1, when the API's order is not stable, instead of declaring a second read", function()
    mock.control("POST", "touch", { count = 30, seed = 5, at = DENSE })
    for _, mode in ipairs { "shuffle", "shuffle,no_totals" } do
      clean()
      mock.control("DELETE", "faults")
      mock.control("POST", "faults", { kind = "pagination", mode = mode })
      local code, _, err = sync { "--since", "2000-01-01", "--per-page", "5" }
      assert.are.equal(1, code, mode)
      assert.matches("^clinch: http error: the API's order of the [%d ]*records updated at 2020%-09%-13T12:26:40 is "
        .. "not stable", err)
      -- What was read before that second stands, recorded; the run can be resumed once the API behaves.
      local st = cjson.decode(read_file(STATE))
      assert.is_true(st.run.cursor <= DENSE)
    end
    mock.control("DELETE", "faults")
    local code, _, err = sync { "--per-page", "5" }
    assert.are.equal(0, code, err)
    assert_exactly_once(jsonl_ids(OUT), set_of(store(), function() return true end))
  end)

  it("without totals, tells an unstable order by two passes giving their records in another order", function()
    -- 11 records in one second, pages of 10: two passes of a shuffling server can both miss the same
    -- record and still agree on what they saw, so agreement alone would declare the second read
    mock.control("POST", "touch", { count = 11, seed = 7, at = DENSE })
    for run = 1, 8 do
      clean()
      mock.control("DELETE", "faults")
      mock.control("POST", "faults", { kind = "pagination", mode = "shuffle,no_totals" })
      local code, _, err = sync { "--since", "2000-01-01", "--per-page", "10" }
      assert.are.equal(1, code, "run " .. run .. ": " .. err)
      assert.matches("not stable: two passes over them gave the same records in another order", err)
    end
    mock.control("DELETE", "faults")
  end)

  describe("pagination that loops", function()
    it("stops list --all and sync within a second, exit 1", function()
      mock.control("POST", "touch", { count = 30, seed = 5, at = DENSE })
      for _, mode in ipairs { "cycle", "ignore_page" } do
        mock.control("DELETE", "faults")
        mock.control("POST", "faults", { kind = "pagination", mode = mode })
        local t0 = core.monotime()
        local code, out, err = clinch { "candidates", "list", "--all", "--per-page", "10", "--format", "jsonl" }
        assert.are.equal(1, code)
        assert.matches("^clinch: http error: pagination loops back to page 1 ", err)
        local lines = 0
        for _ in out:gmatch("\n") do lines = lines + 1 end
        assert.is_true(lines <= 20, lines .. " lines")
        -- sync reads a second holding 30 records in pages of 5.
        clean()
        code, _, err = sync { "--since", "2000-01-01", "--per-page", "5" }
        assert.are.equal(1, code)
        assert.matches("^clinch: http error: pagination loops back to page 1 ", err)
        assert.is_true(core.monotime() - t0 < 1.5, mode)
      end
    end)
  end)
end)

-- A full disk: a 64 KiB tmpfs (root only; skipped otherwise, with the reason).
local function probe_mount()
  local p = io.popen("id -u")
  local uid = p:read("l")
  p:close()
  if uid ~= "0" then return nil, "not root (mount -t tmpfs needs root)" end
  local dir = tmp .. "/probe"
  os.execute("mkdir -p " .. q(dir))
  local ok = os.execute("mount -t tmpfs -o size=64k tmpfs " .. q(dir) .. " 2>/dev/null")
  if not ok then return nil, "mount -t tmpfs failed here" end
  os.execute("umount " .. q(dir))
  return true
end

describe("clinch candidates sync on a full disk", function()
  local can, why = probe_mount()
  if not can then
    pending("full-disk tests skipped: " .. why)
    return
  end
  local disk = tmp .. "/disk"

  setup(function()
    mock = support.start_mock { "--candidates", "60", "--seed", "8" }
  end)
  teardown(function() mock.stop() end)

  local function mount(size)
    os.execute("mkdir -p " .. q(disk))
    assert(os.execute("mount -t tmpfs -o size=" .. size .. " tmpfs " .. q(disk)))
  end
  local function umount() os.execute("umount " .. q(disk) .. " 2>/dev/null") end

  it("fails with exit 1 naming the file, and the next run with space loses and duplicates nothing", function()
    mount("64k")
    finally(umount)
    local state, out = disk .. "/state.json", disk .. "/out.jsonl"
    local code, _, err = sync({ "--since", "2000-01-01", "--per-page", "10" }, state, out)
    assert.are.equal(1, code)
    -- The output fills the disk; whichever write then finds no room (a record, or the state's
    -- temporary file) is named.
    local named = err:match("^clinch: cannot write (.-): No space left on device\n$")
    assert.is_truthy(named == out or named == "the state file " .. state .. ".tmp", err)
    local st = assert(cjson.decode(read_file(state)))
    assert.is_table(st.run)
    assert.is_true(#read_file(out) >= st.run.out_size)
    -- Still full: the resumed run cuts what was not recorded, gets as far as it can, fails the same way.
    code, _, err = sync({ "--per-page", "7" }, state, out)
    assert.are.equal(1, code)
    assert.matches("No space left on device", err)
    assert(os.execute("mount -o remount,size=4m " .. q(disk)))
    code, _, err = sync({ "--per-page", "25" }, state, out)
    assert.are.equal(0, code, err)
    local ids = jsonl_ids(out)
    assert_exactly_once(ids, set_of(store(), function() return true end))
    assert.are.equal(60, #ids)
  end)

  it("fails with exit 1 naming the state file when it cannot be written, and loses nothing", function()
    mount("64k")
    finally(umount)
    local state, out = disk .. "/state.json", tmp .. "/out-disk.jsonl"
    os.execute("rm -f " .. q(out))
    -- Room for the lock file and one state file: the run starts, and its first save of progress fails
    -- (the temporary file needs a page of its own).
    local free = tonumber(io.popen("stat -f -c %f " .. q(disk)):read("l"))
    assert(os.execute("dd if=/dev/zero of=" .. q(disk .. "/fill") .. " bs=4096 count=" .. (free - 2)
      .. " 2>/dev/null"))
    local code, _, err = sync({ "--since", "2000-01-01", "--per-page", "10" }, state, out)
    assert.are.equal(1, code)
    assert.are.equal("clinch: cannot write the state file " .. state .. ".tmp: No space left on device\n", err)
    local st = assert(cjson.decode(read_file(state)))
    assert.is_table(st.run)
    assert.is_true(#read_file(out) > st.run.out_size) -- records written past what the state records
    os.remove(disk .. "/fill")
    code, _, err = sync({ "--per-page", "20" }, state, out)
    assert.are.equal(0, code, err)
    local ids = jsonl_ids(out)
    assert_exactly_once(ids, set_of(store(), function() return true end))
    assert.are.equal(60, #ids)
  end)
end)
