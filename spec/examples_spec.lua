-- The runnable examples in examples/ and the `make demo` driver, end to end against the mock. Lua 5.4
-- only, like the CLI they share modules with.
local support = require "support"
local read_file = support.read_file

if support.is_luajit then
  describe("examples", function()
    pending("run on Lua 5.4 only: covered by the Lua 5.4 suite")
  end)
  return
end

local clinch = require "clinch"
local core = require "clinch.core"
local csv = require "clinch.cli.csv"
local socket = require "socket"
local q = support.shell_quote
local tmp = support.tmpdir()


-- Runs a shell command with the suite's module paths -> exit code, stdout, stderr.
local function sh(cmd)
  local p = assert(io.popen(support.child_env .. cmd .. " 2>" .. q(tmp .. "/stderr")))
  local out = p:read("a")
  local _, _, code = p:close()
  return code, out, read_file(tmp .. "/stderr") or ""
end

local function example(env, name, ...)
  local argv = {}
  for i, a in ipairs { ... } do argv[i] = q(a) end
  return sh("cd " .. q(tmp) .. " && env -u CLINCH_REGION " .. env .. " " .. support.lua .. " "
    .. q(support.root .. "/examples/" .. name .. ".lua") .. " " .. table.concat(argv, " "))
end

local function port_open(base_url)
  local host, port = base_url:match("^http://([^:/]+):(%d+)")
  local c = socket.tcp()
  c:settimeout(1)
  local ok = c:connect(host, tonumber(port))
  c:close()
  return ok ~= nil
end

local function next_second()
  local s = math.floor(core.now())
  while core.now() < s + 1.02 do core.sleep(0.02) end
end

teardown(function() os.execute("rm -rf " .. q(tmp)) end)

describe("examples against a configured API", function()
  local mock, env, client

  setup(function()
    mock = support.start_mock { "--candidates", "40", "--seed", "9" }
    env = "CLINCH_BASE_URL=" .. q(mock.base_url) .. " CLINCH_API_KEY=test-key CLINCH_API_SECRET=test-secret"
    client = clinch.new { key = "test-key", secret = "test-secret", base_url = mock.base_url }
  end)
  teardown(function()
    client:close()
    mock.stop()
  end)
  before_each(function() mock.control("POST", "reset") end)

  local function count_since(since)
    local n = 0
    for _ in client.candidates:each { per_page = 100, filter = { updated_at = { gte = since } } } do n = n + 1 end
    return n
  end

  it("export_csv.lua writes the candidates updated since a date as CSV", function()
    local since = "2000-01-01"
    local code, out, err = example(env, "export_csv", since, "all.csv")
    assert.are.equal(0, code, err)
    assert.are.equal("exported 40 candidates updated since 2000-01-01 to all.csv\n", out)
    local rows = assert(csv.parse(read_file(tmp .. "/all.csv")))
    assert.are.same({ "id", "email", "first_name", "last_name", "phone_number", "tags", "updated_at" }, rows[1])
    assert.are.equal(41, #rows)
    -- A later date: the same count the API gives for that filter.
    local page = assert(client.candidates:list { per_page = 40 })
    local dates = {}
    for i, c in ipairs(page) do dates[i] = c.updated_at.epoch end
    table.sort(dates)
    local mid = os.date("!%Y-%m-%d", dates[20])
    code, out = example(env, "export_csv", mid, "recent.csv")
    assert.are.equal(0, code)
    local expected = count_since(mid)
    assert.are.equal(("exported %d candidates updated since %s to recent.csv\n"):format(expected, mid), out)
    assert.are.equal(expected + 1, #assert(csv.parse(read_file(tmp .. "/recent.csv"))))
  end)

  it("tag_by_skill.lua tags every candidate with the skill, and a second run changes nothing", function()
    local code, out, err = example(env, "tag_by_skill", "sql", "SQL people")
    assert.are.equal(0, code, err)
    local matching, seen, tagged = out:match("(%d+) of (%d+) candidates list the skill \"sql\": (%d+) newly tagged")
    assert.are.equal("40", seen)
    assert.are.equal(matching, tagged)
    assert.is_true(tonumber(tagged) > 0)
    for cand in client.candidates:each { per_page = 100 } do
      local has_skill, has_tag = false, false
      for _, s in ipairs(cand.skills or {}) do has_skill = has_skill or s:lower() == "sql" end
      for _, t in ipairs(cand.tags or {}) do has_tag = has_tag or t == "SQL people" end
      assert.are.equal(has_skill, has_tag, tostring(cand))
    end
    code, out = example(env, "tag_by_skill", "sql", "SQL people")
    assert.are.equal(0, code)
    assert.matches(": 0 newly tagged \"SQL people\", " .. matching .. " already were\n$", out)
  end)

  it("upload_resumes.lua uploads PDFs to the candidates their names match, and skips the rest", function()
    local folder = tmp .. "/resumes"
    os.execute("rm -rf " .. q(folder) .. " && mkdir -p " .. q(folder))
    local page = assert(client.candidates:list { per_page = 2 })
    for _, name in ipairs { page[1].email .. ".pdf", page[2].email .. ".PDF", "unknown@example.com.pdf",
                            "notes.txt" } do
      local f = assert(io.open(folder .. "/" .. name, "wb"))
      f:write("%PDF-1.4\n%%EOF\n")
      f:close()
    end
    mock.control("DELETE", "requests")
    local code, out, err = example(env, "upload_resumes", folder)
    assert.are.equal(0, code, err)
    assert.matches("no candidate with email unknown@example.com: skipped", out, 1, true)
    assert.matches("2 resumes uploaded, 1 skipped\n$", out)
    local uploads = {}
    for _, r in ipairs(mock.control("GET", "requests").requests) do
      if r.method == "POST" then uploads[#uploads + 1] = r.uri end
    end
    table.sort(uploads)
    local expected = { "/v1/candidates/" .. page[1].id .. "/candidate_files",
                       "/v1/candidates/" .. page[2].id .. "/candidate_files" }
    table.sort(expected)
    assert.are.same(expected, uploads)
  end)

  it("sync_incremental.lua exports everything, then only the candidates changed since", function()
    local state, out_file = "lib-state.json", "lib-changes.jsonl"
    os.execute("rm -f " .. q(tmp .. "/" .. state) .. " " .. q(tmp .. "/" .. out_file))
    local code, out, err = example(env, "sync_incremental", state, out_file)
    assert.are.equal(0, code, err)
    assert.matches("exported 40 candidates changed in %[1970%-01%-01T00:00:00, ", out)
    -- Changes made now fall at or after the first run's window end, whatever the second.
    local page = assert(client.candidates:list { per_page = 2 })
    for _, c in ipairs(page) do assert(c:update { last_name = "Changed" }) end
    next_second()
    code, out = example(env, "sync_incremental", state, out_file)
    assert.are.equal(0, code)
    assert.matches("exported 2 candidates changed in ", out)
    local lines = 0
    for _ in read_file(tmp .. "/" .. out_file):gmatch("[^\n]+") do lines = lines + 1 end
    assert.are.equal(42, lines)
  end)
end)

describe("sync_incremental.lua while other users change candidates", function()
  it("skips no candidate that stayed in the window (the mock's own list is the proof)", function()
    local m = support.start_mock { "--candidates", "300", "--seed", "21" }
    local dir = support.tmpdir()
    -- after every answer, another user changes the first two candidates of the window: they leave
    -- it, and every later candidate moves two places back, across the page boundaries
    m.control("POST", "faults", { kind = "churn", touch = 2, seed = 3, among = "first", count = -1 })
    local env = "CLINCH_BASE_URL=" .. q(m.base_url) .. " CLINCH_API_KEY=test-key CLINCH_API_SECRET=test-secret"
    local code, _, err = example(env, "sync_incremental", dir .. "/state.json", dir .. "/out.jsonl")
    m.control("DELETE", "faults")
    local cjson = require "cjson"
    local exported = {}
    for line in (read_file(dir .. "/out.jsonl") or ""):gmatch("[^\n]+") do exported[cjson.decode(line).id] = true end
    local mark = cjson.decode(read_file(dir .. "/state.json") or "{}").high_water
    local candidates = m.control("GET", "candidates").candidates
    m.stop()
    os.execute("rm -rf " .. q(dir))
    assert.are.equal(0, code, err)
    local y, mo, d, h, mi, sec = mark:match("^(%d+)%-(%d+)%-(%d+)T(%d+):(%d+):(%d+)$")
    local mark_epoch = require("clinch.time").epoch_utc(tonumber(y), tonumber(mo), tonumber(d), tonumber(h),
      tonumber(mi), tonumber(sec))
    -- a candidate changed before the mark was in the window and unchanged since: it must be there
    local missing = {}
    for _, c in ipairs(candidates) do
      if c.updated_at < mark_epoch and not exported[c.id] then missing[#missing + 1] = c.id end
    end
    assert.are.same({}, missing)
  end)
end)

describe("examples without configuration", function()
  local unset = "-u CLINCH_BASE_URL -u CLINCH_API_KEY -u CLINCH_API_SECRET"

  it("start a mock API for the run, and stop it afterwards", function()
    local code, out, err = example(unset, "sync_incremental")
    assert.are.equal(0, code, err)
    local base_url = out:match("using a mock API at (%S+)%)")
    assert.is_string(base_url)
    assert.matches("sync run 1:\n", out)
    assert.matches("changed candidate ", out)
    assert.matches("sync run 2:\n.*exported 2 candidates changed in ", out)
    assert.is_false(port_open(base_url))
  end)

  it("stop the mock when the example fails", function()
    local code, out, err = example(unset, "export_csv", "2000-01-01", tmp .. "/no-such-dir/out.csv")
    assert.are.equal(1, code)
    -- what went wrong, in one line (a traceback is for a bug of the example)
    assert.matches("^example failed: cannot write [^\n]*/no%-such%-dir/out%.csv: No such file or directory\n$", err)
    local base_url = out:match("using a mock API at (%S+)%)")
    assert.is_string(base_url)
    assert.is_false(port_open(base_url))
  end)
end)

describe("upload_resumes.lua with a folder that is not there", function()
  it("fails with one line, uploading nothing", function()
    local code, out, err = example("-u CLINCH_BASE_URL -u CLINCH_API_KEY -u CLINCH_API_SECRET", "upload_resumes",
      tmp .. "/no-such-folder")
    assert.are.equal(1, code, out)
    assert.are.equal("example failed: no folder " .. tmp .. "/no-such-folder\n", err)
  end)
end)

describe("make demo (scripts/demo.sh)", function()
  it("tours the CLI, the REPL and every example against a mock it starts and stops #slow", function()
    local code, out, err = sh("env -u CLINCH_BASE_URL -u CLINCH_REGION scripts/demo.sh")
    assert.are.equal(0, code, out .. err)
    for _, step in ipairs { "Start the mock API", "candidates list", "candidates sync", "The REPL",
                            "examples/export_csv.lua", "examples/tag_by_skill.lua", "examples/upload_resumes.lua",
                            "examples/sync_incremental.lua", "mock API stopped" } do
      assert.matches(step, out, 1, true)
    end
    local base_url = out:match("CLINCH_BASE_URL=(%S+)")
    assert.is_string(base_url)
    assert.is_false(port_open(base_url))
  end)
end)
