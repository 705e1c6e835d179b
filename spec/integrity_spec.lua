-- Bad data and broken servers never stop or fool a walk over pages (clinch.resource, clinch.text):
-- invalid UTF-8 reaches users as valid text (each ill-formed sequence as U+FFFD) with the bytes as sent
-- still in jsonapi.raw; a pagination that loops (a link cycle, a server that ignores the page number)
-- ends with an error of kind "http" instead of going on for ever. Against the mock and its faults.
local support = require "support"
local clinch = require "clinch"
local errors = require "clinch.errors"
local jsonapi = require "clinch.jsonapi"
local resource = require "clinch.resource"
local text = require "clinch.text"
local core = require "clinch.core"

local FFFD = "\239\191\189"

local function utf8_ok(s)
  return require("clinch.validate").utf8(s)
end

describe("clinch.text.valid", function()
  it("replaces each ill-formed sequence (its maximal subpart) with U+FFFD and counts them", function()
    local cases = {
      { "plain ascii", "plain ascii", 0 },
      { "Jos\195\169 \240\159\152\128", "Jos\195\169 \240\159\152\128", 0 }, -- valid: untouched
      { "a\255b", "a" .. FFFD .. "b", 1 },
      { "\226\130", FFFD, 1 },                     -- a truncated 3-byte sequence is one
      { "\226\130x", FFFD .. "x", 1 },
      { "\237\160\128", FFFD:rep(3), 3 },          -- a surrogate: ED is not followed by A0
      { "\192\175", FFFD:rep(2), 2 },              -- an overlong form
      { "\244\144\128\128", FFFD:rep(4), 4 },      -- above U+10FFFF
      { "x\128\128y\255", "x" .. FFFD .. FFFD .. "y" .. FFFD, 3 },
      { "line\nbreak\27[31m", "line\nbreak\27[31m", 0 }, -- control characters are not its business
    }
    for _, c in ipairs(cases) do
      local out, n = text.valid(c[1])
      assert.equal(c[2], out)
      assert.equal(c[3], n)
      assert.is_true(utf8_ok(out))
    end
    local s = "unchanged"
    assert.equal(s, (text.valid(s)))
    assert.has_error(function() text.valid(5) end)
  end)

  it("always returns valid UTF-8 (random bytes)", function()
    local seed = 12345
    local function rnd(n)
      seed = (seed * 16807) % 2147483647
      return seed % n
    end
    for _ = 1, 2000 do
      local bytes = {}
      for i = 1, rnd(12) + 1 do bytes[i] = string.char(rnd(4) == 0 and rnd(128) or 128 + rnd(128)) end
      local s = table.concat(bytes)
      local out, n = text.valid(s)
      assert.is_true(utf8_ok(out), s)
      assert.equal(utf8_ok(s), n == 0)
    end
  end)
end)

describe("clinch.cli.output.json_text", function()
  if support.is_luajit then
    pending("the CLI is a Lua 5.4 program: covered by the Lua 5.4 suite")
    return
  end
  it("writes valid JSON for any decoded value: bad text mended and counted, NaN and Infinity as null", function()
    local output = require "clinch.cli.output"
    local value = { name = "a\255b", ["k\254"] = { 1, 0 / 0, 1 / 0, "ok" }, n = 1.5 }
    local s, n = output.json_text(value)
    assert.equal(2, n)
    assert.is_true(utf8_ok(s))
    assert.same({ name = "a" .. FFFD .. "b", ["k" .. FFFD] = { 1, require("cjson").null, require("cjson").null, "ok" },
      n = 1.5 }, require("cjson").decode(s))
    assert.same({ '{"a":1}', 0 }, { output.json_text { a = 1 } })
    local cycle = {}
    cycle.self = cycle
    assert.has_error(function() output.json_text(cycle) end)
  end)
end)

describe("pages against the mock", function()
  local mock, client

  setup(function()
    mock = support.start_mock { "--candidates", "60", "--seed", "3" }
    client = clinch.new { key = "test-key", secret = "test-secret", base_url = mock.base_url, timeout = 10,
                          sleep = function() end }
  end)
  teardown(function()
    if client then client:close() end
    if mock then mock.stop() end
  end)
  before_each(function() mock.control("POST", "reset") end)

  -- Sets a candidate's first name to raw bytes (the API keeps what it is sent; so does the mock).
  local function set_first_name(id, bytes)
    local body = '{"data":{"type":"candidates","attributes":{"first_name":"' .. bytes .. '",'
      .. '"custom_data":{"note\255":"ok","k":"v\254"}}}}'
    local res = assert(client:request("PATCH", "/candidates/" .. id, { body = body }))
    assert.equal(200, res.status)
  end

  describe("invalid UTF-8", function()
    it("reaches each, list and get as valid text; jsonapi.raw keeps the bytes as sent", function()
      local first = assert(client.candidates:list { per_page = 5 })
      local id = first[2].id
      set_first_name(id, "Zo\235 \255\254")
      local function check(cand)
        assert.equal("Zo" .. FFFD .. " " .. FFFD .. FFFD, cand.first_name)
        assert.is_true(utf8_ok(cand.name))
        assert.equal(FFFD, cand.custom_data.k:sub(2))
        assert.equal("ok", cand.custom_data["note" .. FFFD])
        assert.is_nil(cand.custom_data["note\255"])
        -- The bytes as the server sent them stay reachable.
        assert.equal("Zo\235 \255\254", jsonapi.raw(cand).attributes.first_name)
        local fields = resource.replaced(cand)
        assert.equal(3, fields.first_name)
        assert.equal(2, fields.custom_data) -- one in a key, one in a value
        assert.equal(3, fields.name)
      end
      local found = 0
      for cand in client.candidates:each { per_page = 7 } do
        if cand.id == id then
          check(cand)
          found = found + 1
        else
          assert.is_nil(resource.replaced(cand))
        end
      end
      assert.equal(1, found)
      check(assert(client.candidates:get(id)))
      check(assert(client.candidates:list { per_page = 5 })[2])
    end)
  end)

  describe("pagination that loops", function()
    local function each_error(opts)
      local n, start = 0, core.monotime()
      local ok, err = pcall(function()
        for _ in client.candidates:each(opts) do n = n + 1 end
      end)
      assert.is_false(ok)
      assert.is_true(errors.is(err), tostring(err))
      assert.equal("http", err.kind)
      assert.is_true(core.monotime() - start < 1)
      return err, n
    end

    it("ends each with an error when a next link leads back to a page already read", function()
      mock.control("POST", "faults", { kind = "pagination", mode = "cycle" })
      for _, prefetch in ipairs { false, true } do
        mock.control("DELETE", "requests")
        local err, n = each_error { per_page = 10, prefetch = prefetch }
        assert.matches("^pagination loops back to page 1 %(the next link of page 2 is ", err.message)
        assert.equal(20, n)
        assert.equal(2, #mock.control("GET", "requests").requests) -- page 1 is never asked for again
      end
      -- page:next() returns the error.
      local page = assert(client.candidates:list { per_page = 10 })
      page = assert(page:next())
      local after, err = page:next()
      assert.is_nil(after)
      assert.equal("http", err.kind)
      assert.is_false(err.sent)
    end)

    it("ends a walk at an empty page, even when the page links to a next one", function()
      -- a server that links on past its last page: without the stop, each link a page never seen
      for _, opts in ipairs { { per_page = 10 }, { per_page = 10, prefetch = true },
                              { per_page = 10, concurrency = 3 } } do
        -- (for 40 answers: a walk that went on past the end fails here instead of running forever)
        mock.control("DELETE", "faults")
        mock.control("POST", "faults", { kind = "pagination", mode = "endless,no_totals", count = 40 })
        mock.control("DELETE", "requests")
        local n = 0
        for _ in client.candidates:each(opts) do n = n + 1 end
        assert.equal(60, n)
        -- six pages, the empty seventh, and at most the pages already in flight behind it
        local asked = #mock.control("GET", "requests").requests
        assert.is_true(asked >= 7 and asked <= 10, asked .. " pages asked for")
      end
    end)

    it("ends each with an error when a page repeats the page before it", function()
      mock.control("POST", "faults", { kind = "pagination", mode = "ignore_page" })
      local err, n = each_error { per_page = 10 }
      assert.matches("^pagination loops back to page 1 %(page 2 holds the same records as page 1%)", err.message)
      assert.equal(10, n)
      -- The same without links, where page numbers are counted up: the repeated records end it.
      mock.control("DELETE", "faults")
      mock.control("POST", "faults", { kind = "pagination", mode = "ignore_page,no_links" })
      mock.control("DELETE", "requests")
      err, n = each_error { per_page = 10 }
      assert.equal("/v1/candidates?page=2&per_page=10", mock.control("GET", "requests").requests[2].uri)
      assert.matches("^pagination loops back to page 1 ", err.message)
      assert.equal(10, n)
    end)

    it("walks a sound server to its end (the checks do not stop a real walk)", function()
      local seen, n = {}, 0
      for cand in client.candidates:each { per_page = 7, prefetch = true } do
        assert.is_nil(seen[cand.id])
        seen[cand.id], n = true, n + 1
      end
      assert.equal(60, n)
      mock.control("POST", "faults", { kind = "pagination", mode = "no_links" })
      n = 0
      for _ in client.candidates:each { per_page = 7 } do n = n + 1 end
      assert.equal(60, n)
    end)
  end)
end)
