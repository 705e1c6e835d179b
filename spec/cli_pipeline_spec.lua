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
local q = support.shell_quote

local function sink()
  local parts = {}
  return {
    write = function(self, ...)
      for i = 1, select("#", ...) do parts[#parts + 1] = tostring((select(i, ...))) end
      return self
    end,
    flush = function(self) return self end,
    text = function() return table.concat(parts) end,
  }
end

local vars = {}

-- Runs the CLI in this process -> exit code, stdout, stderr. opts.tty: the fds that are terminals.
local function clinch(args, opts)
  opts = opts or {}
  local out, err = sink(), sink()
  local tty = opts.tty or {}
  local code = require("clinch.cli").main(args, {
    stdout = out, stderr = err, isatty = function(fd) return tty[fd] == true end,
    getenv = function(k) return vars[k] end,
  })
  return code, out.text(), err.text()
end

local function decode_lines(text)
  local out = {}
  for line in text:gmatch("[^\n]+") do out[#out + 1] = assert(cjson.decode(line), "not JSON: " .. line) end
  return out
end

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
    for _, argv in ipairs { { "--envelope", "--all" }, { "--envelope", "--format", "csv" } } do
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


