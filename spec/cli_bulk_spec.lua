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

local tmp
do
  local p = assert(io.popen(support.child_env .. "mktemp -d"))
  tmp = p:read("l")
  p:close()
end
teardown(function() os.execute("rm -rf " .. q(tmp)) end)

local mock, vars

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

-- Runs the CLI in this process (clinch.cli.main, captured streams, no terminal) -> code, stdout,
-- stderr. opts.stdin is the text standard input holds.
local function clinch(args, opts)
  opts = opts or {}
  local out, err = sink(), sink()
  local stdin
  if opts.stdin then
    stdin = assert(io.open(tmp .. "/stdin", "w+b"))
    stdin:write(opts.stdin)
    stdin:seek("set", 0)
  end
  local code = require("clinch.cli").main(args, {
    stdout = out, stderr = err, stdin = stdin, isatty = function() return false end,
    getenv = function(k) return vars[k] end,
  })
  if stdin then stdin:close() end
  return code, out.text(), err.text()
end

local function decode_lines(text)
  local out = {}
  for line in text:gmatch("[^\n]+") do out[#out + 1] = assert(cjson.decode(line), "not JSON: " .. line) end
  return out
end

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
