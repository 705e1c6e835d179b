-- The collection machinery (clinch.resource: list / each / get, pages, pagination links, filters, times)
-- against the real mock server with 1,000 seeded candidates.
local support = require "support"
local clinch = require "clinch"
local errors = require "clinch.errors"
local resource = require "clinch.resource"
local time = require "clinch.time"
local core = require "clinch.core"

local function no_sleep() end

-- Iterates c.candidates:each(opts) and, after the first candidate, makes the mock answer the next
-- `count` candidate requests with 503. Returns how many candidates came, and pcall's ok and error.
local function each_until_503(mock, c, opts, count)
  local n = 0
  local ok, err = pcall(function()
    for _ in c.candidates:each(opts) do
      n = n + 1
      if n == 1 then
        mock.control("POST", "faults", { kind = "status", status = 503, count = count, path = "/v1/candidates" })
      end
    end
  end)
  return n, ok, err
end

describe("clinch.time", function()
  it("keeps API times and converts zones to UTC", function()
    assert.equal("2021-01-01T13:00:17", time.format("2021-01-01T13:00:17"))
    assert.equal("2021-01-01T13:00:17", time.format("2021-01-01T13:00:17Z"))
    assert.equal("2021-01-01T11:00:17", time.format("2021-01-01T13:00:17.250+02:00"))
    assert.equal("2021-01-01T00:00:00", time.format("2020-12-31T19:00:00-05:00"))
    assert.equal("2021-01-01T00:00:00", time.format("2021-01-01"))
    assert.equal("2024-02-29T23:59:59", time.format("2024-02-29T23:59:59"))
  end)

  it("formats epoch numbers and DateTime objects in UTC", function()
    assert.equal("1970-01-01T00:00:00", time.format(0))
    assert.equal("2021-01-01T13:00:17", time.format(1609506017))
    assert.equal("2021-01-01T13:00:17", time.format(1609506017.9)) -- fractions dropped
    assert.equal("1969-12-31T23:59:59", time.format(-1))
    assert.equal("2021-01-01T13:00:17", time.format({ utc = "2021-01-01T13:00:17Z", epoch = 1609506017 }))
    for _, e in ipairs { 0, 951782400, 1709251199, 4102444800, 253402300799 } do
      if e < 2 ^ 31 then assert.equal(os.date("!%Y-%m-%dT%H:%M:%S", e), time.format(e)) end
      local y, mo, d, h, mi, s = time.format(e):match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)$")
      assert.equal(e, time.epoch_utc(tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(s)))
    end
  end)

  it("reads date tables as local time, like os.time (checked in a zone with daylight saving)", function()
    local code = [[
      local time = require "clinch.time"
      io.write(time.format { year = 2021, month = 1, day = 1 }, " ",
        time.format { year = 2021, month = 7, day = 1, hour = 12, min = 30, sec = 5 }, " ",
        time.format(os.date("*t", 1609506017)))
    ]]
    local ok, out = support.run("TZ=America/New_York " .. support.lua .. " -e " .. support.shell_quote(code))
    assert.is_true(ok, out)
    -- EST is UTC-5 in January, EDT UTC-4 in July; os.date("*t") round-trips to the same instant.
    assert.equal("2021-01-01T05:00:00 2021-07-01T16:30:05 2021-01-01T13:00:17", out)
  end)

  it("rejects what is not a time with a validation error", function()
    for _, bad in ipairs { "2021-13-01T00:00:00", "2021-02-29T00:00:00", "2021-01-01T24:00:00", "yesterday",
                           "2021-01-01T00:00:00+25:00", "", 0 / 0, 1 / 0, true, { year = 2021 },
                           { year = 2021, month = 1, day = 1.5 }, 1e13 } do
      local s, err = time.format(bad)
      assert.is_nil(s, tostring(bad))
      assert.is_true(errors.is(err))
      assert.equal("validation", err.kind)
    end
  end)
end)

describe("resource.relative_link", function()
  local client = { origin = "https://api.example.com", base_path = "/v1" }

  it("keeps the path and the exact query bytes under the base URL", function()
    assert.equal("/candidates?per_page=100&page=2&filter%5Bemail%5D%5Beq%5D=a%40b.c",
      resource.relative_link(client, "https://api.example.com/v1/candidates?per_page=100&page=2"
        .. "&filter%5Bemail%5D%5Beq%5D=a%40b.c"))
    assert.equal("/candidates?page=2",
      resource.relative_link(client, "HTTPS://API.example.com:443/v1/candidates?page=2"))
    assert.equal("/candidates?page=2", resource.relative_link(client, "/v1/candidates?page=2#frag"))
    -- Bytes a request target may not hold raw are percent-encoded; existing escapes stay as they are.
    assert.equal("/candidates?filter%5Bupdated_at%5D%5Bgte%5D=2021-01-01T00:00:00&q=a%20b%2C",
      resource.relative_link(client, "https://api.example.com/v1/candidates?filter[updated_at][gte]=2021-01-01T00:00:00"
        .. "&q=a b%2C"))
  end)

  it("refuses links to another origin or outside the base path", function()
    for _, link in ipairs { "https://evil.example.com/v1/candidates?page=2", "http://api.example.com/v1/candidates",
                            "https://api.example.com:8443/v1/candidates", "https://api.example.com/v2/candidates",
                            "https://api.example.com/v10/candidates", "//evil.example.com/v1/x",
                            "candidates?page=2" } do
      local target, err = resource.relative_link(client, link)
      assert.is_nil(target, link)
      assert.is_true(errors.is(err), link)
    end
  end)
end)

describe("collections against the mock", function()
  local mock, client
  local all -- id -> updated_at epoch, for every seeded candidate, read once

  setup(function()
    mock = support.start_mock { "--candidates", "1000" }
    client = clinch.new { key = "test-key", secret = "test-secret", base_url = mock.base_url, sleep = no_sleep,
                          timeout = 10 }
  end)
  teardown(function()
    if client then client:close() end
    if mock then mock.stop() end
  end)
  -- Nothing here changes the store: clearing faults and the request log is enough between tests.
  before_each(function()
    mock.control("DELETE", "faults")
    mock.control("DELETE", "requests")
  end)

  local function requests()
    return mock.control("GET", "requests").requests
  end

  local function collect(opts)
    local ids, n = {}, 0
    for cand in client.candidates:each(opts) do
      assert.is_nil(ids[cand.id], "duplicate id " .. tostring(cand.id))
      ids[cand.id] = cand.updated_at.epoch
      n = n + 1
    end
    return ids, n
  end

  local function everything()
    if not all then
      local n
      all, n = collect { per_page = 100 }
      assert.equal(1000, n)
    end
    return all
  end

  describe("list", function()
    it("returns a page: items in the array part, meta and links as fields, next() in the metatable", function()
      local page = assert(client.candidates:list { per_page = 30 })
      assert.equal(30, #page)
      assert.equal(1000, page.meta.total_count)
      assert.equal(34, page.meta.total_pages)
      assert.equal(1, page.meta.current_page)
      assert.is_string(page.links.next)
      assert.is_nil(rawget(page, "next"))
      assert.equal("candidates", page[1].type)
      for k in pairs(page) do
        assert.is_true(type(k) == "number" or k == "meta" or k == "links" or k == "included", tostring(k))
      end
      local second = assert(page:next())
      assert.equal(30, #second)
      assert.equal(2, second.meta.current_page)
      assert.are_not.equal(page[1].id, second[1].id)
      -- page:next() follows links.next byte for byte.
      local log = requests()
      assert.equal("GET", log[#log].method)
      assert.equal(page.links.next:match("^https?://[^/]+(.*)$"), log[#log].uri)
    end)

    it("returns nil from next() after the last page", function()
      local page = assert(client.candidates:list { per_page = 100, page = 10 })
      assert.equal(100, #page)
      assert.is_nil(page.links.next)
      local after, err = page:next()
      assert.is_nil(after)
      assert.is_nil(err)
    end)

    it("asks for page + 1 when the server sends no pagination links, until a short page", function()
      -- A page made from a response without links (the shape some servers send): the fallback applies.
      local res = assert(client:request("GET", "/candidates?page=33&per_page=30"))
      res.document.links = nil
      local page = assert(client.candidates:_page(res, "/candidates?page=33&per_page=30",
        { page = "33", per_page = "30" }, 33))
      local last = assert(page:next())
      assert.equal(10, #last)
      assert.equal(34, last.meta.current_page)
      assert.equal("/v1/candidates?page=34&per_page=30", requests()[2].uri)
      last.links = nil
      assert.is_nil(last:next()) -- short page: no further request
      assert.equal(2, #requests())
    end)

    it("checks options before sending anything", function()
      local cases = {
        { { include = { "notes", "nope" } }, "include" },
        { { include = "notes,bogus" }, "include" },
        { { include = { 1 } }, "include" },
        { { page = 0 }, "page" },
        { { per_page = 2.5 }, "per_page" },
        { { per_page = "ten" }, "per_page" },
        { { filter = { updated_at = { gte = "last week" } } }, "filter" },
        { { filter = { updated_at = { since = "2021-01-01T00:00:00" } } }, "filter" },
        { { filter = { name = { eq = "Jane" } } }, "filter" },
        { { filter = { email = "a@b.c" } }, "filter" },
        { { filter = { email = { eq = {} } } }, "filter" },
        { { filter = "updated_at>2021" }, "filter" },
      }
      for _, case in ipairs(cases) do
        local page, err = client.candidates:list(case[1])
        assert.is_nil(page)
        assert.is_true(errors.is(err))
        assert.equal("validation", err.kind)
        assert.equal(case[2], err.field)
      end
      local _, err = client.candidates:list { include = { "notes", "nope" } }
      assert.matches("unknown name 'nope'", err.message, 1, true)
      -- The message lists the valid names.
      assert.matches("job_applications, jobs, list_memberships", err.message, 1, true)
      local _, ferr = client.candidates:list { filter = { name = { eq = "Jane" } } }
      assert.matches("valid fields: email, updated_at", ferr.message, 1, true)
      local _, oerr = client.candidates:list { filter = { updated_at = { since = "2021-01-01T00:00:00" } } }
      assert.matches("unknown operator 'since'; valid operators: gte, lt", oerr.message, 1, true)
      assert.equal(0, #requests())
      -- Option names and types are programming mistakes: they raise.
      assert.has_error(function() client.candidates:list { includes = { "notes" } } end,
        "list: unknown option 'includes' (valid: allow_unknown, filter, include, page, per_page, query, retries, "
        .. "timeout)")
      assert.has_error(function() client.candidates:list("notes") end, "list: options must be a table")
    end)

    it("sends includes comma-separated and filters deepObject-style in the API time form", function()
      local page = assert(client.candidates:list {
        include = { "notes", "jobs" }, per_page = 5,
        filter = { updated_at = { gte = 0, lt = "2999-01-01T00:00:00Z" } },
      })
      assert.equal(5, #page)
      assert.equal("/v1/candidates?filter%5Bupdated_at%5D%5Bgte%5D=1970-01-01T00%3A00%3A00"
        .. "&filter%5Bupdated_at%5D%5Blt%5D=2999-01-01T00%3A00%3A00&include=notes,jobs&per_page=5",
        requests()[1].uri)
      -- An os.date("*t") table is local time, as os.time reads it: the same instant in UTC on the wire.
      assert(client.candidates:list { per_page = 1, filter = { updated_at = { gte = os.date("*t", 1609506017) } } })
      assert.equal("/v1/candidates?filter%5Bupdated_at%5D%5Bgte%5D=2021-01-01T13%3A00%3A17&per_page=1",
        requests()[2].uri)
    end)

    it("writes filter numbers with text.number, and refuses those without a text form or in a string field", function()
      -- email is a string attribute in the contract: a number there is never meant.
      for _, v in ipairs { 1e300, 42, 0 / 0, true } do
        local page, err = client.candidates:list { filter = { email = { eq = v } } }
        assert.is_nil(page)
        assert.equal("validation", err.kind)
        assert.equal("filter", err.field)
        assert.equal("filter[email][eq] must be a string, got " .. type(v), err.message)
      end
      for _, v in ipairs { 0 / 0, 1 / 0, -1 / 0 } do
        local page, err = client.candidates:list { filter = { kind = { eq = v } }, allow_unknown = true }
        assert.is_nil(page)
        assert.equal("validation", err.kind)
        assert.matches("^filter%[kind%]%[eq%]: .* no text form$", err.message)
      end
      for _, v in ipairs { 1e300, 2 ^ 63, 2 ^ 53, -0.0 } do
        local page, err = client.candidates:list { per_page = v }
        assert.is_nil(page)
        assert.equal("per_page", err.field)
      end
      assert.equal(0, #requests())
      -- Sent, as one number-to-text function writes them; the mock refuses the unknown filter.
      for v, text in pairs { [1e300] = "1e%2B300", [2 ^ 63] = "9223372036854775808", [0.1] = "0.1" } do
        local _, err = client.candidates:list { filter = { kind = { eq = v } }, allow_unknown = true }
        assert.equal(400, err.status)
        assert.equal("/v1/candidates?filter%5Bkind%5D%5Beq%5D=" .. text, requests()[#requests()].uri)
      end
    end)

    it("sends unknown filters with allow_unknown (the server has the last word)", function()
      local page, err = client.candidates:list { filter = { kind = { eq = "lead" } }, allow_unknown = true }
      assert.is_nil(page)
      assert.equal("validation", err.kind) -- the mock answers 400: not a supported filter
      assert.equal(400, err.status)
      assert.matches("filter[kind][eq] is not a supported filter", err.message, 1, true)
    end)
  end)

  describe("includes", function()
    it("links the same included job or note to the same Lua table across a page", function()
      local page = assert(client.candidates:list { per_page = 25, include = { "jobs", "notes", "social_profile" } })
      local included = {}
      for _, r in ipairs(page.included) do included[r.type .. "/" .. r.id] = r end
      local jobs, shared, notes = {}, 0, 0
      for _, cand in ipairs(page) do
        for _, job in ipairs(cand.jobs or {}) do
          assert.equal("jobs", job.type)
          assert.is_string(job.title)
          if jobs[job.id] then
            shared = shared + 1
            assert.is_true(rawequal(jobs[job.id], job))
          end
          jobs[job.id] = job
          assert.is_true(rawequal(included["jobs/" .. job.id], job))
        end
        for _, note in ipairs(cand.notes or {}) do
          notes = notes + 1
          assert.equal("candidate_notes", note.type)
          assert.is_true(rawequal(included["candidate_notes/" .. note.id], note))
        end
      end
      -- The mock's first candidates all have job 1.
      assert.is_true(shared >= 2)
      assert.is_true(notes >= 2)
      assert.equal("social_profiles", page[1].social_profile.type)
    end)
  end)

  describe("each", function()
    it("yields every one of 1,000 candidates exactly once #slow", function()
      local ids, n = collect { per_page = 100 }
      assert.equal(1000, n)
      local log = requests()
      assert.equal(10, #log) -- follows links.next and stops at the last page: no extra request
      for i, r in ipairs(log) do
        if i > 1 then assert.matches("[?&]page=" .. i .. "$", r.uri) end
      end
      all = ids
    end)

    it("yields the same 1,000 with prefetch #slow", function()
      local ids, n = collect { per_page = 100, prefetch = true }
      assert.equal(1000, n)
      assert.same(everything(), ids)
      assert.equal(10, #requests())
    end)

    it("has the next page on the wire while the caller works on the current one", function()
      local iter = client.candidates:each { per_page = 50, prefetch = true }
      assert.is_table(iter())
      -- Still on item 1 of page 1: the request for page 2 must reach the server without another call.
      local seen = false
      local deadline = os.time() + 3
      repeat
        for _, r in ipairs(requests()) do
          if r.uri:find("page=2", 1, true) then seen = true end
        end
      until seen or os.time() > deadline
      assert.is_true(seen)
      local n = 1
      while n < 120 do
        assert.is_table(iter())
        n = n + 1
      end
      -- Page 2 came from the prefetch, page 3 is on its way: three requests in all, no duplicates.
      local pages = {}
      for _, r in ipairs(requests()) do
        local p = r.uri:match("[?&]page=(%d+)") or "1"
        assert.is_nil(pages[p], r.uri)
        pages[p] = true
      end
      assert.is_true(pages["1"] and pages["2"] and pages["3"])
    end)

    it("lets go of pages it has finished (constant memory)", function()
      for _, prefetch in ipairs { false, true } do
        local seen = setmetatable({}, { __mode = "v" })
        local iter = client.candidates:each { per_page = 20, prefetch = prefetch, include = { "jobs", "notes" } }
        for n = 1, 100 do
          local cand = iter()
          if n <= 20 then seen[n] = cand end
        end
        -- The iterator is alive and on page 5: page 1 must be collectable.
        collectgarbage()
        collectgarbage()
        assert.is_nil(next(seen), "a candidate of page 1 is still reachable")
        assert.is_table(iter())
      end
    end)

    it("page:prefetch puts the next page on the wire and page:next takes it from there", function()
      local page = assert(client.candidates:list { per_page = 50 })
      assert.equal(page, page:prefetch())
      local seen, deadline = false, os.time() + 3
      repeat
        for _, r in ipairs(requests()) do
          if r.uri:find("page=2", 1, true) then seen = true end
        end
      until seen or os.time() > deadline
      assert.is_true(seen)
      local second = assert(page:next())
      assert.equal(2, second.meta.current_page)
      assert.equal(2, #requests()) -- no second request for page 2
    end)

    it("without prefetch, asks for the next page only when the current one is used up", function()
      local iter = client.candidates:each { per_page = 50 }
      for _ = 1, 50 do assert.is_table(iter()) end
      assert.equal(1, #requests())
      assert.is_table(iter())
      assert.equal(2, #requests())
    end)

    it("narrows by updated_at and email exactly as the data says #slow", function()
      local everyone = everything()
      local epochs = {}
      for _, e in pairs(everyone) do epochs[#epochs + 1] = e end
      table.sort(epochs)
      local lo, hi = epochs[250], epochs[700]
      local function expected(gte, lt)
        local out = {}
        for id, e in pairs(everyone) do
          if (not gte or e >= gte) and (not lt or e < lt) then out[id] = e end
        end
        return out
      end
      -- The same bounds given as an API time string, an epoch number and a DateTime-like object.
      local got = collect { per_page = 100, filter = { updated_at = { gte = time.format(lo), lt = hi } } }
      assert.same(expected(lo, hi), got)
      got = collect { per_page = 100, prefetch = true, filter = { updated_at = { gte = { epoch = lo } } } }
      assert.same(expected(lo, nil), got)
      got = collect { per_page = 100, filter = { updated_at = { lt = os.date("!%Y-%m-%dT%H:%M:%SZ", lo) } } }
      assert.same(expected(nil, lo), got)
      got = collect { per_page = 100, filter = { updated_at = { gte = os.date("*t", lo), lt = os.date("*t", hi) } } }
      assert.same(expected(lo, hi), got)

      local one = assert(client.candidates:list { per_page = 1, page = 123 })[1]
      got = collect { filter = { email = { eq = one.email } } }
      assert.same({ [one.id] = one.updated_at.epoch }, got)
      got = collect { filter = { email = { eq = "nobody@example.com" } } }
      assert.same({}, got)
    end)

    it("raises the error object when a page keeps failing, instead of ending the loop", function()
      for _, prefetch in ipairs { false, true } do
        mock.control("DELETE", "faults")
        local retrying = clinch.new { key = "test-key", secret = "test-secret", base_url = mock.base_url,
                                      retries = 1, sleep = function() end }
        local n, ok, err = each_until_503(mock, retrying, { per_page = 100, prefetch = prefetch }, 10)
        assert.is_false(ok)
        assert.is_true(errors.is(err), tostring(err))
        assert.equal("http", err.kind)
        assert.equal(503, err.status)
        assert.equal(2, err.attempts)
        -- Without prefetch page 2 fails; with it page 2 was already fetched and page 3 fails.
        assert.equal(prefetch and 200 or 100, n)
        retrying:close()
      end
    end)

    it("keeps raising once it has failed, and raises bad options at once", function()
      local retrying = clinch.new { key = "test-key", secret = "test-secret", base_url = mock.base_url,
                                    retries = 0, sleep = no_sleep }
      mock.control("POST", "faults", { kind = "status", status = 503, count = 5, path = "/v1/candidates" })
      local iter = retrying.candidates:each { per_page = 10 }
      local ok1, e1 = pcall(iter)
      local ok2, e2 = pcall(iter)
      assert.is_false(ok1)
      assert.is_false(ok2)
      assert.equal(e1, e2)
      assert.equal(503, e1.status)
      local ok, err = pcall(client.candidates.each, client.candidates, { include = { "nope" } })
      assert.is_false(ok)
      assert.equal("validation", err.kind)
      retrying:close()
    end)
  end)

  describe("per-request options", function()
    it("list and get take timeout and retries for their request", function()
      mock.control("POST", "faults", { kind = "status", status = 503, count = 1 })
      local page, err = client.candidates:list { per_page = 5, retries = 0 }
      assert.is_nil(page)
      assert.equal(503, err.status)
      assert.equal(1, err.attempts) -- the client's default (2 retries) would have succeeded
      local first = assert(client.candidates:list { per_page = 1 })[1]
      mock.control("POST", "faults", { kind = "latency", ms = 1000, count = 1 })
      local t0 = core.monotime()
      local none, terr = client.candidates:get(first.id, { timeout = 0.2, retries = 0 })
      assert.is_nil(none)
      assert.equal("timeout", terr.kind)
      assert.is_true(core.monotime() - t0 < 0.8) -- without the timeout: 1 s
      assert.equal(first.id, assert(client.candidates:get(first.id, { timeout = 5, retries = 1 })).id)
    end)

    it("each and page:next keep them for every page", function()
      for _, prefetch in ipairs { false, true } do
        mock.control("DELETE", "faults")
        local _, ok, err = each_until_503(mock, client, { per_page = 100, retries = 0, prefetch = prefetch }, 1)
        assert.is_false(ok)
        assert.equal(503, err.status)
        assert.equal(1, err.attempts)
      end
      mock.control("DELETE", "faults")
      local page = assert(client.candidates:list { per_page = 10, retries = 0 })
      mock.control("POST", "faults", { kind = "status", status = 503, count = 1, path = "/v1/candidates" })
      local _, err = page:next()
      assert.equal(1, err.attempts)
    end)

    it("raise at the caller for a query value with no query form, each at once", function()
      for _, call in ipairs {
        function() local r = client.candidates:list { query = { a = print } }; return r end,
        function() local r = client.candidates:get("x", { query = { a = 0 / 0 } }); return r end,
        function() local r = client.candidates:each { query = { a = print } }; return r end,
        function() local r = client:resource("jobs"):each { query = { a = { b = { {} } } } }; return r end,
      } do
        local ok, err = pcall(call)
        assert.is_false(ok)
        assert.matches("resource_spec%.lua:%d+: ", err)
      end
      assert.equal(0, #requests())
    end)

    it("raise at the caller for wrong values", function()
      for _, call in ipairs {
        function() local r = client.candidates:list { timeout = "soon" }; return r end,
        function() local r = client.candidates:list { timeout = 0 }; return r end,
        function() local r = client.candidates:get("x", { retries = -1 }); return r end,
        function() local r = client.candidates:each { retries = 1.5 }; return r end,
      } do
        local ok, err = pcall(call)
        assert.is_false(ok)
        assert.matches("resource_spec%.lua:%d+: %a+: (%a+) must be", err)
      end
      assert.equal(0, #requests())
    end)
  end)

  describe("get", function()
    it("fetches one resource with includes; 404 is not_found", function()
      local first = assert(client.candidates:list { per_page = 1 })[1]
      local cand = assert(client.candidates:get(first.id, { include = { "notes" } }))
      assert.equal(first.id, cand.id)
      assert.equal("candidate_notes", cand.notes[1].type)
      local none, err = client.candidates:get("no-such-id")
      assert.is_nil(none)
      assert.equal("not_found", err.kind)
      assert.equal(404, err.status)
      assert.equal("Not Found: candidate no-such-id not found", err.message)
      assert.has_error(function() client.candidates:get(42) end, "get: id must be a non-empty string, got number")
      assert.has_error(function() client.candidates:get("") end,
        "get: id must be a non-empty string, got an empty string")
    end)

    it("puts ids in the path as one encoded segment", function()
      local _, err = client.candidates:get("a/b?c")
      assert.equal("not_found", err.kind)
      assert.equal("/v1/candidates/a%2Fb%3Fc", requests()[1].uri)
    end)
  end)

  describe("client:resource", function()
    it("gives the registered collection for a registered name, a plain one with options", function()
      assert.is_true(rawequal(client.candidates, client:resource("candidates")))
      local generic = client:resource("candidates", {})
      assert.is_false(rawequal(client.candidates, generic))
      local page = assert(generic:list { per_page = 3, include = "notes" })
      assert.equal(3, #page)
      -- Every response is wrapped by type (clinch.registry), whichever collection asked for it.
      assert.is_true(require("clinch.resources.candidates").is(page[1]))
      -- Without a filter schema, fields ending in _at still take time values.
      local cut = page[1].updated_at.epoch
      local want = assert(client.candidates:list { per_page = 1, filter = { updated_at = { gte = cut } } })
      local n = 0
      for r in generic:each { per_page = 40, filter = { updated_at = { gte = cut } } } do
        assert.is_true(r.updated_at.epoch >= cut)
        n = n + 1
      end
      assert.equal(want.meta.total_count, n)
      local sent = "filter%5Bupdated_at%5D%5Bgte%5D=" .. time.format(cut):gsub(":", "%%3A") .. "&"
      assert.truthy(requests()[#requests()].uri:find(sent, 1, true))
      local one = assert(generic:get(page[1].id))
      assert.equal(page[1].id, one.id)
      -- A plain collection checks no include names: the server refuses this one.
      local _, err = generic:list { include = { "nope" } }
      assert.equal("validation", err.kind)
      assert.equal(400, err.status)
    end)

    it("checks the include names it is given and sends them", function()
      local campaigns = client:resource("web_campaigns", { includes = { "pages", "candidates" } })
      local _, err = campaigns:list { include = { "notes" } }
      assert.equal("validation", err.kind)
      assert.matches("valid names: candidates, pages", err.message, 1, true)
      assert.equal(0, #requests())
      -- The mock serves no campaigns: the request goes out and the server's answer comes back as an error.
      local _, nf = campaigns:list { include = { "pages" }, per_page = 10 }
      assert.equal("not_found", nf.kind)
      assert.equal("/v1/web_campaigns?include=pages&per_page=10", requests()[1].uri)
      local ok, raised = pcall(function() for _ in campaigns:each() do end end)
      assert.is_false(ok)
      assert.equal("not_found", raised.kind)
    end)

    it("checks no include names for a path it knows nothing of", function()
      local _, err = client:resource("web_campaigns"):list { include = { "anything.at_all" } }
      assert.equal("not_found", err.kind)
      assert.equal("/v1/web_campaigns?include=anything.at_all", requests()[1].uri)
    end)
  end)
end)
