-- client:parallel and the client's adaptive request budget, against the mock: a mix of real
-- operations inside fn, errors per item, overlap (a coarse time bound), and a 429 storm whose proof
-- is the mock's own journal (arrival times, and how many requests it held when each arrived).
local support = require "support"
local clinch = require "clinch"
local errors = require "clinch.errors"
local core = require "clinch.core"

describe("client:parallel", function()
  local mock, client, ids

  setup(function()
    mock = support.start_mock { "--candidates", "40" }
    client = clinch.new { key = "test-key", secret = "test-secret", base_url = mock.base_url }
    ids = {}
    for cand in client.candidates:each { per_page = 40 } do ids[#ids + 1] = cand.id end
  end)
  teardown(function()
    if client then client:close() end
    if mock then mock.stop() end
  end)
  before_each(function()
    mock.control("DELETE", "faults")
    mock.control("DELETE", "requests")
  end)

  it("runs a mix of operations: results in order, objects as outside, errors per item", function()
    local items = {}
    for i = 1, 50 do
      local k = i % 5
      items[i] = k == 0 and { op = "create", email = "parallel-" .. i .. "@example.com" }
        or k == 1 and { op = "tag", id = ids[i % #ids + 1] }
        or k == 2 and { op = "upload", id = ids[i % #ids + 1] }
        or k == 3 and { op = "invalid" }
        or { op = "raise" }
    end
    local results = client:parallel(items, function(item, i)
      if item.op == "create" then
        local cand, err = client.candidates:create { email = item.email, first_name = "P" .. i }
        if not cand then return nil, err end
        assert(cand:add_tag("Imported"))              -- several calls in sequence inside one fn
        return cand
      elseif item.op == "tag" then
        return client.candidates:add_tag(item.id, "Batch " .. i)
      elseif item.op == "upload" then
        return client.candidates:upload_resume(item.id, { filename = "cv-" .. i .. ".pdf", content = "%PDF-" .. i })
      elseif item.op == "invalid" then
        return client.candidates:create { email = "not an email" }
      end
      error("boom " .. i)
    end, { concurrency = 8 })

    assert.equal(50, #results)
    -- a create outside parallel: a Candidate with create's outcome (cand.created), as those inside are
    local sequential = assert(client.candidates:create { email = "parallel-sequential@example.com" })
    for i, item in ipairs(items) do
      local r = results[i]
      if item.op == "create" then
        assert.is_false(errors.is(r), tostring(r))
        assert.equal(getmetatable(sequential), getmetatable(r)) -- a Candidate, as outside parallel
        assert.equal(item.email, r.email)
        assert.is_true(r.created)
      elseif item.op == "tag" or item.op == "upload" then
        assert.is_false(errors.is(r), tostring(r))
      elseif item.op == "invalid" then
        assert.is_true(errors.is(r))
        assert.equal("validation", r.kind)
        assert.is_false(r.sent)
      else
        assert.is_true(errors.is(r))
        assert.equal("lua", r.kind)
        assert.matches("boom " .. i, r.message, 1, true)
        assert.matches("traceback", r.traceback, 1, true)
      end
    end
    -- the mock saw each create once, and each created candidate tagged once
    local creates, tags = {}, 0
    for _, req in ipairs(mock.control("GET", "requests").requests) do
      if req.method == "POST" and req.uri == "/v1/candidates" then
        local email = req.body:match('"email":"([^"]+)"')
        creates[email] = (creates[email] or 0) + 1
      end
      if req.method == "POST" and req.body and req.body:find('"Imported"', 1, true) then tags = tags + 1 end
    end
    for _, item in ipairs(items) do
      if item.op == "create" then assert.equal(1, creates[item.email], item.email) end
    end
    assert.equal(10, tags)
  end)

  it("keeps requests in flight together: 16 items at concurrency 8 take about two latencies", function()
    mock.control("POST", "faults", { kind = "latency", ms = 300, count = -1 })
    local t0 = core.monotime()
    local get = function(id) return client.candidates:get(id) end
    local results = client:parallel({ (table.unpack or unpack)(ids, 1, 16) }, get, { concurrency = 8 })
    local took = core.monotime() - t0
    for i = 1, 16 do assert.equal(ids[i], results[i].id) end
    -- one after another they would take 16 x 0.3 s; two rounds of 8 take 0.6 s
    assert.is_true(took > 0.55 and took < 2.0, "took " .. took .. " s")
  end)

  it("drives the requests of another client used inside fn as its own", function()
    -- fn may use a second client (another account or region): its transfers are in flight together
    -- too, and each answer is taken as it comes, not when a wait on the first client's transport ends
    local other = clinch.new { key = "test-key", secret = "test-secret", base_url = mock.base_url }
    mock.control("POST", "faults", { kind = "latency", ms = 300, count = -1 })
    local t0 = core.monotime()
    local get = function(id) return other.candidates:get(id) end
    local results = client:parallel({ (table.unpack or unpack)(ids, 1, 16) }, get, { concurrency = 4 })
    local took = core.monotime() - t0
    other:close()
    for i = 1, 16 do assert.equal(ids[i], results[i].id) end
    local seen = 0
    for _, req in ipairs(mock.control("GET", "requests").requests) do
      if req.method == "GET" and req.uri:find("^/v1/candidates/") then seen = seen + 1 end
    end
    assert.equal(16, seen)
    -- four rounds of 0.3 s; a round that waited out the scheduler's own 1 s wait would take 4 s
    assert.is_true(took > 1.1 and took < 3.4, "took " .. took .. " s")
  end)

  it("signs a request when it leaves, after any wait for the budget, not before", function()
    -- item 1 draws a 429 with Retry-After 3, which pauses the budget; item 2's second request is
    -- made during the pause and waits it out: the Date it carries is the one of its sending
    local a, b1, b2 = ids[1], ids[2], ids[3]
    mock.control("POST", "faults", { kind = "status", status = 429, retry_after = 3, path = "/v1/candidates/" .. a,
                                     count = 1 })
    mock.control("POST", "faults", { kind = "latency", ms = 1000, path = "/v1/candidates/" .. b1, count = 1 })
    local c = clinch.new { key = "test-key", secret = "test-secret", base_url = mock.base_url, max_retry_wait = 5 }
    local results = c:parallel({ 1, 2 }, function(i)
      if i == 1 then return c.candidates:get(a) end
      assert(c.candidates:get(b1))
      return c.candidates:get(b2)
    end, { concurrency = 2 })
    c:close()
    assert.equal(a, results[1].id, tostring(results[1]))
    assert.equal(b2, results[2].id, tostring(results[2]))
    local checked, first
    for _, r in ipairs(mock.control("GET", "requests").requests) do
      first = first or r.at
      if r.uri == "/v1/candidates/" .. b2 then
        local date = assert(core.parse_httpdate(r.headers.date))
        assert.is_true(r.at - first > 2.5, "it waited out the pause")
        assert.is_true(r.at - date < 1.5, ("sent %.1f s after its Date"):format(r.at - date))
        checked = true
      end
    end
    assert.is_true(checked)
  end)

  it("backs off in a 429 storm: every item completes, in-flight work drops, nothing is sent in the wait", function()
    mock.control("POST", "faults", { kind = "latency", ms = 100, count = -1 })
    mock.control("POST", "faults", { kind = "overload", max = 4, retry_after = 1, count = -1 })
    local c = clinch.new { key = "test-key", secret = "test-secret", base_url = mock.base_url, retries = 6,
                           max_concurrency = 16 }
    local results = c:parallel({ (table.unpack or unpack)(ids, 1, 24) }, function(id) return c.candidates:get(id) end,
      { concurrency = 16 })
    local stats = c:stats()
    c:close()
    for i = 1, 24 do assert.equal(ids[i], results[i].id, tostring(results[i])) end

    local journal = mock.control("GET", "requests").requests
    local first429
    for _, r in ipairs(journal) do
      if r.status == 429 and not first429 then first429 = r.at end
    end
    assert.is_number(first429, "the storm happened")
    -- Retry-After 1: after the first refusal nothing new arrives until the wait is over. The first 16
    -- arrivals are the first burst (concurrency 16), on their way when the refusal came, however late
    -- the mock got to them.
    for i, r in ipairs(journal) do
      assert.is_false(i > 16 and r.at > first429 and r.at < first429 + 0.95,
        ("request %d arrived %.3f s into the Retry-After wait"):format(i, r.at - first429))
    end
    -- in-flight work dropped: after the first wait, fewer requests are refused than in the first burst
    local burst, later = 0, 0
    for _, r in ipairs(journal) do
      if r.status == 429 then
        if r.at < first429 + 0.5 then burst = burst + 1 else later = later + 1 end
      end
    end
    assert.is_true(burst >= 8, burst .. " refused in the first burst")
    assert.is_true(later < burst, later .. " refused after the wait, " .. burst .. " in the first burst")
    assert.is_true(stats.limit < 16)
    assert.equal(429, stats.last_event.status)
  end)

  it("ends the budget's count of a started request dropped without a wait, once it is collected", function()
    local c = clinch.new { key = "test-key", secret = "test-secret", base_url = mock.base_url }
    do
      local _ = c:start("GET", "/candidates") -- dropped at the end of the block, never waited for
      assert.equal(1, c:stats().in_flight)
    end
    collectgarbage()
    collectgarbage()
    assert.equal(0, c:stats().in_flight)
    local waited = c:start("GET", "/candidates")
    assert(waited:wait())
    assert.equal(0, c:stats().in_flight)
    c:close()
  end)

  it("raises at the caller's line for wrong arguments", function()
    assert.has_error(function() client:parallel("x", print) end, "parallel: items must be a list")
    assert.has_error(function() client:parallel({}, "x") end, "parallel: fn must be a function(item, i)")
    assert.has_error(function() client:parallel({}, print, { concurrency = 0 }) end)
  end)
end)
