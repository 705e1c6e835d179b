-- each{ concurrency = N } against the real mock with 1,000 candidates: the same records in the same
-- order as each{}, with and without meta totals and pagination links, a page that fails mid-way, the
-- requests in flight and the pages decoded held to their bounds (counted through a transport that
-- counts and through weak references, never through timing), loops still found, a server whose links
-- go elsewhere followed as it says.
local support = require "support"
local clinch = require "clinch"
local errors = require "clinch.errors"

local function no_sleep() end

-- A libcurl transport that counts the requests started and not yet waited for (the bodies in flight).
local function counting_transport()
  local curl = require("clinch.transport.curl").new {}
  local t = { in_flight = 0, max = 0, started = 0 }
  function t.send(_, req) return curl:send(req) end
  function t.send_many(_, reqs, n) return curl:send_many(reqs, n) end
  function t.start(_, req)
    local p = curl:start(req)
    t.started, t.in_flight = t.started + 1, t.in_flight + 1
    if t.in_flight > t.max then t.max = t.in_flight end
    local waited = false
    return {
      wait = function()
        if not waited then
          waited = true
          t.in_flight = t.in_flight - 1
        end
        return p:wait()
      end,
      done = function() return p:done() end,
    }
  end
  function t.poll(_, seconds) return curl:poll(seconds) end
  function t.close() curl:close() end
  return t
end

describe("each{ concurrency = N }", function()
  local mock, client
  local reference = {} -- per_page -> the ids each{} yields, in order

  setup(function()
    mock = support.start_mock { "--candidates", "1000" }
    client = clinch.new { key = "test-key", secret = "test-secret", base_url = mock.base_url, sleep = no_sleep }
  end)
  teardown(function()
    if client then client:close() end
    if mock then mock.stop() end
  end)
  before_each(function()
    mock.control("DELETE", "faults")
    mock.control("DELETE", "requests")
  end)

  local function ids_of(opts, c)
    local ids = {}
    for cand in (c or client).candidates:each(opts) do ids[#ids + 1] = cand.id end
    return ids
  end

  local function sequential(per_page)
    if not reference[per_page] then
      mock.control("DELETE", "faults")
      reference[per_page] = ids_of { per_page = per_page }
      mock.control("DELETE", "requests")
    end
    return reference[per_page]
  end

  local function list_requests()
    local n = 0
    for _, r in ipairs(mock.control("GET", "requests").requests) do
      if r.method == "GET" and r.uri:find("^/v1/candidates") then n = n + 1 end
    end
    return n
  end

  -- per-page 100: the last page is full, so without totals or links an empty page 11 ends the walk;
  -- per-page 30: the last page (34) is short.
  for _, per_page in ipairs { 100, 30 } do
    for _, mode in ipairs { "", "no_totals", "no_links", "no_totals,no_links" } do
      it(("yields the same ids in the same order as each{} (per_page %d%s)"):format(per_page,
        mode == "" and "" or ", " .. mode), function()
        local want = sequential(per_page)
        assert.equal(1000, #want)
        if mode ~= "" then mock.control("POST", "faults", { kind = "pagination", mode = mode }) end
        local got = ids_of { per_page = per_page, concurrency = 4 }
        assert.equal(#want, #got)
        assert.equal(table.concat(want, ","), table.concat(got, ","))
        local pages = math.ceil(1000 / per_page)
        local n = list_requests()
        if mode == "no_totals,no_links" then
          -- nothing says how many pages there are: the pages asked for past the end are dropped
          assert.is_true(n >= pages and n <= pages + 1 + 4, n .. " requests")
        else
          assert.equal(pages, n) -- the server said where the end is: nothing asked for past it
        end
        assert.equal(0, client:stats().in_flight)
      end)
    end
  end

  for _, mode in ipairs { "", "no_totals,no_links" } do
    it("raises the error object of a page that still fails after its retries, after the records before it"
      .. (mode == "" and "" or " (" .. mode .. ")"), function()
      local want = sequential(100)
      if mode ~= "" then mock.control("POST", "faults", { kind = "pagination", mode = mode }) end
      mock.control("POST", "faults", { kind = "status", status = 502, count = -1, query = "page=5" })
      local got = {}
      local ok, err = pcall(function()
        for cand in client.candidates:each { per_page = 100, concurrency = 4 } do got[#got + 1] = cand.id end
      end)
      assert.is_false(ok)
      assert.is_true(errors.is(err), tostring(err))
      assert.equal("http", err.kind)
      assert.equal(502, err.status)
      assert.equal(3, err.attempts) -- the client's two retries were made
      -- pages 1-4 yielded, nothing of page 5 or after
      assert.equal(400, #got)
      for i = 1, 400 do assert.equal(want[i], got[i]) end
      local fives = 0
      for _, r in ipairs(mock.control("GET", "requests").requests) do
        if r.uri:find("[?&]page=5&") or r.uri:find("[?&]page=5$") then fives = fives + 1 end
      end
      assert.equal(3, fives)
      -- the pages in flight behind it were waited for: none is left counted in flight
      assert.equal(0, client:stats().in_flight)
    end)
  end

  it("keeps N requests in flight and at most two pages decoded, whatever N", function()
    for _, n in ipairs { 2, 6 } do
      local t = counting_transport()
      local c = clinch.new { key = "test-key", secret = "test-secret", base_url = mock.base_url, transport = t }
      local alive = setmetatable({}, { __mode = "k" })
      local count, most = 0, 0
      for cand in c.candidates:each { per_page = 50, concurrency = n } do
        count = count + 1
        alive[cand] = true
        if count % 50 == 25 then
          collectgarbage()
          collectgarbage()
          local live = 0
          for _ in pairs(alive) do live = live + 1 end
          if live > most then most = live end
        end
      end
      c:close()
      assert.equal(1000, count)
      assert.equal(n, t.max)          -- N bodies in flight at the most, and N reached
      assert.equal(19, t.started)     -- pages 2..20 (page 1 comes first, alone)
      assert.is_true(most <= 2 * 50, most .. " records of the yielded ones still alive")
    end
  end)

  it("still finds pagination loops", function()
    for _, mode in ipairs { "cycle", "ignore_page", "ignore_page,no_links,no_totals" } do
      mock.control("DELETE", "faults")
      mock.control("POST", "faults", { kind = "pagination", mode = mode })
      local n = 0
      local ok, err = pcall(function()
        for _ in client.candidates:each { per_page = 10, concurrency = 4 } do n = n + 1 end
      end)
      assert.is_false(ok, mode)
      assert.is_true(errors.is(err), tostring(err))
      assert.matches("^pagination loops back to page 1 ", err.message)
      assert.equal(mode == "cycle" and 20 or 10, n, mode)
      assert.equal(0, client:stats().in_flight)
    end
  end)

  it("follows a server whose next links skip pages, dropping the pages it guessed", function()
    -- A stand-in server whose links go 1 -> 2 -> 4 -> 5 (the end), each page holding its own ids.
    local NEXT = { [1] = 2, [2] = 4, [4] = 5 }
    local function page_doc(k)
      local data = {}
      for i = 1, 3 do data[i] = { id = k .. "-" .. i, type = "candidates", attributes = {} } end
      local links = { first = "/v1/candidates?page=1&per_page=3" }
      if NEXT[k] then links.next = "/v1/candidates?page=" .. NEXT[k] .. "&per_page=3" end
      return require("cjson").encode { data = data, links = links }
    end
    local asked = {}
    local transport = function(req)
      local k = tonumber(req.url:match("[?&]page=(%d+)")) or 1
      asked[k] = (asked[k] or 0) + 1
      return { status = 200, headers = { ["content-type"] = "application/vnd.api+json" }, body = page_doc(k) }
    end
    local c = clinch.new { key = "k", secret = "s", base_url = "http://127.0.0.1:9/v1", transport = transport }
    local got = ids_of({ per_page = 3, concurrency = 3 }, c)
    assert.same({ "1-1", "1-2", "1-3", "2-1", "2-2", "2-3", "4-1", "4-2", "4-3", "5-1", "5-2", "5-3" }, got)
    -- pages 3 and 6 were guessed (page + 1 .. page + N) and dropped; each page was asked for once
    assert.same({ [1] = 1, [2] = 1, [3] = 1, [4] = 1, [5] = 1, [6] = 1 }, asked)
    assert.equal(0, c:stats().in_flight)
    c:close()
  end)

  it("drains what is in flight when a loop breaks early (Lua 5.4 closes the walk)", function()
    if support.is_luajit then return pending("a for loop closes its values on Lua 5.4 only") end
    local n = 0
    for _ in client.candidates:each { per_page = 100, concurrency = 4 } do
      n = n + 1
      if n == 3 then break end
    end
    assert.equal(0, client:stats().in_flight)
    assert.equal(5, list_requests()) -- page 1 and the four in flight behind it
  end)

  it("refuses a concurrency that is not a whole number >= 1, at the caller's line", function()
    for _, bad in ipairs { 0, -1, 1.5, "4", 1 / 0 } do
      local ok, err = pcall(function() return client.candidates:each { concurrency = bad } end)
      assert.is_false(ok)
      assert.matches("each_concurrency_spec.lua:%d+: each: concurrency must be a whole number >= 1", err)
    end
  end)
end)
