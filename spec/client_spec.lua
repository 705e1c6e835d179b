-- The client's request path end to end against the mock: signing, keep-alive, parallel requests,
-- retries and error objects (issue 3).
local support = require "support"
local clinch = require "clinch"
local core = require "clinch.core"
local errors = require "clinch.errors"
local retry = require "clinch.retry"

describe("client:request against the mock", function()
  local mock

  setup(function() mock = support.start_mock { "--candidates", "60" } end)
  teardown(function() mock.stop() end)
  before_each(function() mock.control("POST", "reset") end)

  -- A client whose sleeps are recorded instead of slept, so retry tests stay fast.
  local function new_client(extra)
    local opts = { key = "test-key", secret = "test-secret", base_url = mock.base_url, timeout = 5 }
    local slept = {}
    opts.sleep = function(s) slept[#slept + 1] = s end
    for k, v in pairs(extra or {}) do opts[k] = v end
    local c = clinch.new(opts)
    return c, slept
  end

  local function first_id(c)
    local res = assert(c:request("GET", "/candidates", { query = { per_page = 1 } }))
    return res.document.data[1].id
  end

  it("signs requests the mock accepts and sends what was signed", function()
    local c = new_client()
    local res = assert(c:request("GET", "/candidates", { query = { per_page = 2, page = 1 } }))
    assert.are.equal(200, res.status)
    assert.are.equal(2, #res.document.data)
    local log = mock.control("GET", "requests").requests
    local last = log[#log]
    assert.are.equal("GET", last.method)
    assert.are.equal("/v1/candidates?page=1&per_page=2", last.uri)
    local h = {}
    for k, v in pairs(last.headers) do h[k:lower()] = v end
    assert.are.equal("application/vnd.api+json", h.accept)
    assert.is_truthy(h.date:match("^%a%a%a, %d%d %a%a%a %d%d%d%d %d%d:%d%d:%d%d GMT$"))
    assert.are.equal("[redacted]", h.authorization)
    assert.is_nil(h["content-type"])
  end)

  it("round-trips every seed operation", function()
    local c = new_client()
    local id = first_id(c)
    local seg = clinch.uri.segment(id)
    local got = assert(c:request("GET", "/candidates/" .. seg, { query = { include = { "notes", "jobs" } } }))
    assert.are.equal(id, got.document.data.id)

    local created = assert(c:request("POST", "/candidates", { body = { data = { type = "candidate",
      attributes = { email = "new.person@example.com", first_name = "New" } } } }))
    assert.are.equal(201, created.status)
    local new_id = created.document.data.id

    local updated = assert(c:request("PATCH", "/candidates/" .. clinch.uri.segment(new_id), { body = {
      data = { type = "candidate", attributes = { last_name = "Person" } } } }))
    assert.are.equal("Person", updated.document.data.last_name)

    local tag = assert(c:request("POST", "/candidates/" .. seg .. "/tags", { body = {
      data = { type = "tag", attributes = { name = "Hot" } } } }))
    local tag_id = tag.document.data.id
    local tags = assert(c:request("GET", "/candidates/" .. seg .. "/tags"))
    local names = {}
    for _, t in ipairs(tags.document.data) do names[t.name] = t.id end
    assert.are.equal(tag_id, names.Hot)
    assert(c:request("DELETE", "/candidates/" .. seg .. "/tags/" .. clinch.uri.segment(tag_id)))

    local file = assert(c:request("POST", "/candidates/" .. seg .. "/candidate_files", { body = {
      data = { type = "candidate_files", attributes = { filename = "cv.pdf",
        content = core.base64_encode("%PDF-1.4 fake") } } } }))
    assert.are.equal(201, file.status)
  end)

  it("signs with every supported signing configuration", function()
    for _, signing in ipairs {
      { digest = "sha256" }, { content_hash = "md5" }, { content_hash = "sha256" },
      { date_header = "X-HMAC-Date" }, { date_header = "both", digest = "sha256", content_hash = "sha256" },
    } do
      local c = new_client { signing = signing }
      local res, err = c:request("POST", "/candidates", { body = { data = { type = "candidate",
        attributes = { email = "sig@example.com" } } } })
      assert(res, tostring(err))
    end
  end)

  -- Fails when any string reachable from v (keys and values, through tables) contains one of `needles`.
  local function assert_nowhere(v, needles, seen, path)
    seen, path = seen or {}, path or "value"
    if type(v) == "string" then
      for _, n in ipairs(needles) do assert.is_falsy(v:find(n, 1, true), path .. " holds " .. n) end
    elseif type(v) == "table" and not seen[v] then
      seen[v] = true
      for k, x in pairs(v) do
        assert_nowhere(k, needles, seen, path .. "[key]")
        assert_nowhere(x, needles, seen, path .. "." .. tostring(k))
      end
    end
  end

  it("gives an auth error object for a wrong secret, without the secret", function()
    local events = {}
    local c = new_client { secret = "not-the-secret", logger = function(e) events[#events + 1] = e end }
    local res, err = c:request("GET", "/candidates", { query = { per_page = 1 } })
    assert.is_nil(res)
    assert.is_true(errors.is(err))
    assert.are.equal("auth", err.kind)
    assert.are.equal(401, err.status)
    assert.are.equal(1, err.attempts)
    assert.is_truthy(err.request_id)
    assert.are.same({ method = "GET", uri = "/v1/candidates?per_page=1" }, err.request)
    local text = tostring(err)
    assert.is_truthy(text:find("401", 1, true))
    -- Neither the secret nor the signature made from it, anywhere in the error, the log or tostring.
    local sent = c:signed_request("GET", "/candidates", { query = { per_page = 1 } })
    local signature = sent.headers.Authorization:match(":(.+)$")
    local needles = { "not-the-secret", signature }
    assert_nowhere(err, needles)
    assert_nowhere(text, needles)
    assert_nowhere(events, needles)
    assert.are.equal(1, #events)
    assert_nowhere(tostring(c), needles)
  end)

  it("maps 404 and 422 to error kinds with the API's messages", function()
    local c = new_client()
    local _, err = c:request("GET", "/candidates/" .. string.rep("0", 32))
    assert.are.equal("not_found", err.kind)
    assert.are.equal(404, err.status)
    assert.is_table(err.errors)
    local _, verr = c:request("POST", "/candidates", { body = { data = { type = "candidate",
      attributes = { email = "not-an-email" } } } })
    assert.are.equal("validation", verr.kind)
    assert.are.equal(422, verr.status)
    assert.is_truthy(verr.message:lower():find("email", 1, true))
  end)

  it("reuses one connection for 50 sequential requests", function()
    local c = new_client()
    local before = mock.control("GET", "stats").connections
    for _ = 1, 50 do assert(c:request("GET", "/candidates", { query = { per_page = 1 } })) end
    local after = mock.control("GET", "stats").connections
    assert.are.equal(1, after - before)
  end)

  it("runs requests in parallel with results in input order", function()
    local c = new_client()
    local id = first_id(c)
    mock.control("POST", "faults", { kind = "latency", ms = 400 }) -- 400 ms to spare below two singles
    local t0 = core.monotime()
    assert(c:request("GET", "/candidates", { query = { per_page = 1 } }))
    local one = core.monotime() - t0
    local list = {}
    for i = 1, 8 do
      list[i] = { "GET", "/candidates", { query = { per_page = 1, page = i } } }
    end
    list[5] = { "GET", "/candidates/" .. id }
    t0 = core.monotime()
    local results = c:request_many(list, { concurrency = 8 })
    local eight = core.monotime() - t0
    assert.is_true(eight < 2 * one, ("8 parallel took %.3fs, one took %.3fs"):format(eight, one))
    for i = 1, 8 do
      assert.is_falsy(errors.is(results[i]))
      if i == 5 then
        assert.are.equal(id, results[i].document.data.id)
      else
        assert.are.equal(i, results[i].document.meta.current_page)
      end
    end
  end)

  it("honours Retry-After on 429 and then succeeds, signing the retry afresh", function()
    local c = new_client { sleep = core.sleep }
    mock.control("POST", "faults", { kind = "status", status = 429, retry_after = "1", count = 1 })
    local t0 = core.monotime()
    local res = assert(c:request("GET", "/candidates", { query = { per_page = 1 } }))
    assert.is_true(core.monotime() - t0 >= 1.0)
    assert.are.equal(2, res.attempts)
    -- A second later: a new Date header (the mock verified both signatures against their dates).
    local log = mock.control("GET", "requests").requests
    assert.are.equal(2, #log)
    assert.are_not.equal(log[1].headers.date, log[2].headers.date)
  end)

  it("honours Retry-After on 503 too, capped by max_retry_wait", function()
    local c, slept = new_client { max_retry_wait = 2 }
    mock.control("POST", "faults", { kind = "status", status = 503, retry_after = "30", count = 1 })
    assert(c:request("GET", "/candidates", { query = { per_page = 1 } }))
    mock.control("POST", "faults", { kind = "status", status = 503, retry_after = "1", count = 1 })
    assert(c:request("GET", "/candidates", { query = { per_page = 1 } }))
    assert.are.same({ 2, 1 }, slept)
    -- An HTTP-date: the seconds until then (whole seconds, so between 0 and 2 here), still capped.
    mock.control("POST", "faults", { kind = "status", status = 503, retry_after = core.httpdate(core.now() + 2),
      count = 1 })
    assert(c:request("GET", "/candidates", { query = { per_page = 1 } }))
    assert.is_true(slept[3] > 0 and slept[3] <= 2, tostring(slept[3]))
    mock.control("POST", "faults", { kind = "status", status = 503, retry_after = core.httpdate(core.now() + 600),
      count = 1 })
    assert(c:request("GET", "/candidates", { query = { per_page = 1 } }))
    assert.are.equal(2, slept[4])
  end)

  it("backs off exponentially with full jitter drawn from the random source", function()
    local draws = 0
    local c, slept = new_client { retries = 3, random = function() draws = draws + 1; return 0.5 end }
    mock.control("POST", "faults", { kind = "status", status = 503, count = 3 })
    assert(c:request("GET", "/candidates", { query = { per_page = 1 } }))
    assert.are.equal(3, draws)
    assert.are.same({ 0.25, 0.5, 1 }, slept) -- half of the 0.5, 1 and 2 s windows
  end)

  it("takes timeout and retries per request", function()
    local c, slept = new_client()
    mock.control("POST", "faults", { kind = "status", status = 503, count = 1 })
    local _, err = c:request("GET", "/candidates", { retries = 0 })
    assert.are.equal(1, err.attempts)
    assert.are.equal(0, #slept)
    mock.control("POST", "faults", { kind = "status", status = 503, count = 4 })
    local res = assert(c:request("GET", "/candidates", { retries = 4, query = { per_page = 1 } }))
    assert.are.equal(5, res.attempts)
    mock.control("POST", "faults", { kind = "trickle", ms = 400, count = 1 })
    local _, terr = c:request("GET", "/candidates", { timeout = 0.2, retries = 0, query = { per_page = 5 } })
    assert.are.equal("timeout", terr.kind)
  end)

  it("retries 503 twice with jittered backoff, then succeeds", function()
    local c, slept = new_client()
    mock.control("POST", "faults", { kind = "status", status = 503, count = 2 })
    local res = assert(c:request("GET", "/candidates", { query = { per_page = 1 } }))
    assert.are.equal(3, res.attempts)
    assert.are.equal(2, #slept)
    assert.is_true(slept[1] >= 0 and slept[1] <= 0.5)
    assert.is_true(slept[2] >= 0 and slept[2] <= 1.0)
  end)

  it("gives an http error with attempts = 3 when retries run out", function()
    local c = new_client()
    mock.control("POST", "faults", { kind = "status", status = 503, count = 5 })
    local res, err = c:request("GET", "/candidates")
    assert.is_nil(res)
    assert.are.equal("http", err.kind)
    assert.are.equal(503, err.status)
    assert.are.equal(3, err.attempts)
  end)

  it("does not retry a POST that got a 503", function()
    local c = new_client()
    mock.control("POST", "faults", { kind = "status", status = 503, count = 5 })
    local _, err = c:request("POST", "/candidates", { body = { data = { type = "candidate",
      attributes = { email = "once@example.com" } } } })
    assert.are.equal(503, err.status)
    assert.are.equal(1, err.attempts)
    local posts = 0
    for _, r in ipairs(mock.control("GET", "requests").requests) do
      if r.method == "POST" then posts = posts + 1 end
    end
    assert.are.equal(1, posts)
  end)

  it("retries a POST with retry_unsafe", function()
    local c = new_client { retry_unsafe = true }
    mock.control("POST", "faults", { kind = "status", status = 503, count = 1 })
    local res = assert(c:request("POST", "/candidates", { body = { data = { type = "candidate",
      attributes = { email = "twice@example.com" } } } }))
    assert.are.equal(2, res.attempts)
  end)

  it("retries a GET whose response was reset mid-body", function()
    local c = new_client()
    mock.control("POST", "faults", { kind = "reset", count = 1 })
    local res = assert(c:request("GET", "/candidates", { query = { per_page = 5 } }))
    assert.are.equal(2, res.attempts)
    assert.are.equal(5, #res.document.data)
  end)

  it("gives kind timeout when the body trickles past the timeout", function()
    local c = new_client { timeout = 0.3, retries = 0 }
    mock.control("POST", "faults", { kind = "trickle", ms = 400, count = 1 })
    local res, err = c:request("GET", "/candidates", { query = { per_page = 5 } })
    assert.is_nil(res)
    assert.are.equal("timeout", err.kind)
    assert.are.equal(1, err.attempts)
  end)

  it("retries a timed-out GET, but not a POST that timed out or was reset (it reached the server)", function()
    -- the retry has the same 0.6 s for a new connection and a page it gets in milliseconds
    local c = new_client { timeout = 0.6 }
    mock.control("POST", "faults", { kind = "trickle", ms = 1200, count = 1 })
    local res = assert(c:request("GET", "/candidates", { query = { per_page = 5 } }))
    assert.are.equal(2, res.attempts)
    local body = { data = { type = "candidate", attributes = { email = "once.only@example.com" } } }
    for _, fault in ipairs { { kind = "trickle", ms = 1200, count = 1 }, { kind = "reset", count = 1 } } do
      mock.control("POST", "reset")
      mock.control("POST", "faults", fault)
      local _, err = c:request("POST", "/candidates", { body = body })
      assert.are.equal(fault.kind == "reset" and "network" or "timeout", err.kind)
      assert.are.equal(1, err.attempts)
      assert.are.equal(1, #mock.control("GET", "requests").requests)
    end
  end)

  it("turns a redirect into an error naming the Location", function()
    local c = new_client()
    mock.control("POST", "faults", { kind = "redirect", status = 302, location = "http://elsewhere.invalid/x",
      count = 1 })
    local _, err = c:request("GET", "/candidates")
    assert.are.equal("redirect", err.kind)
    assert.is_truthy(tostring(err):find("http://elsewhere.invalid/x", 1, true))
    -- the request id the answer carried, as every other answer's error has it
    assert.matches("^%x+$", err.request_id)
    assert.is_truthy(tostring(err):find("[request id " .. err.request_id .. "]", 1, true))
  end)

  it("gives a clear http error for an HTML 502 page", function()
    local c = new_client { retries = 0 }
    mock.control("POST", "faults", { kind = "status", status = 502, html = true, count = 1 })
    local _, err = c:request("GET", "/candidates")
    assert.are.equal("http", err.kind)
    assert.are.equal(502, err.status)
    assert.is_truthy(err.message:find("text/html", 1, true))
  end)

  it("stops a response larger than max_response_bytes", function()
    local c = new_client { max_response_bytes = 1000 }
    local _, err = c:request("GET", "/candidates", { query = { per_page = 20 } })
    assert.are.equal("too_large", err.kind)
  end)

  it("starts a request and waits for it later", function()
    local c = new_client()
    mock.control("POST", "faults", { kind = "latency", ms = 500 })
    local t0 = core.monotime()
    local a = c:start("GET", "/candidates", { query = { page = 1, per_page = 1 } })
    local b = c:start("GET", "/candidates", { query = { page = 2, per_page = 1 } })
    local ra, rb = assert(a:wait()), assert(b:wait())
    -- together: 0.5 s; one after the other: 1 s
    assert.is_true(core.monotime() - t0 < 0.9, "took " .. (core.monotime() - t0) .. " s")
    assert.are.equal(1, ra.document.meta.current_page)
    assert.are.equal(2, rb.document.meta.current_page)
    assert.are.equal(ra, (a:wait()))
  end)

  it("gives the signed request without sending it", function()
    local c = new_client()
    local req = assert(c:signed_request("POST", "/candidates", { body = { data = { type = "candidate",
      attributes = { email = "dry@example.com" } } } }))
    assert.are.equal(mock.base_url .. "/candidates", req.url)
    local ok, who = core.verify({ method = req.method, request_uri = "/v1/candidates", headers = req.headers,
      body = req.body }, "test-secret")
    assert.is_true(ok)
    assert.are.equal("test-key", who)
    assert.are.equal(0, #mock.control("GET", "requests").requests)
  end)

  it("logs each attempt without the Authorization value", function()
    local events = {}
    local c = new_client { logger = function(e) events[#events + 1] = e end }
    mock.control("POST", "faults", { kind = "status", status = 503, count = 1 })
    assert(c:request("GET", "/candidates", { query = { per_page = 1 } }))
    local requests, backoffs = {}, {}
    for _, e in ipairs(events) do
      if e.event == "request" then
        requests[#requests + 1] = e
      elseif e.event == "backoff" then
        backoffs[#backoffs + 1] = e
      end
    end
    assert.are.equal(2, #requests)
    assert.are.equal(503, requests[1].status)
    assert.are.equal(200, requests[2].status)
    assert.are.equal("/v1/candidates?per_page=1", requests[2].uri)
    assert.is_number(requests[2].duration)
    -- the 503 cut the client's budget, and said so
    assert.are.equal(1, #backoffs)
    assert.are.equal(503, backoffs[1].status)
    assert.are.equal(4, backoffs[1].limit)
  end)
end)

describe("client without a server", function()
  it("retries a POST whose connection was refused, then reports a network error", function()
    local slept = {}
    -- Port 9 (discard) on loopback: nothing listens there in the test environment.
    local c = clinch.new { key = "k", secret = "s", base_url = "http://127.0.0.1:9/v1",
                           sleep = function(s) slept[#slept + 1] = s end }
    local _, err = c:request("POST", "/candidates", { body = "{}" })
    assert.are.equal("network", err.kind)
    assert.are.equal(3, err.attempts)
    assert.are.equal(2, #slept)
  end)

  it("raises for programming mistakes", function()
    assert.has_error(function() clinch.new { key = 5 } end) -- a missing secret is looked for (spec/config_spec)
    assert.has_error(function() clinch.new { key = "k", secret = "s", region = "mars" } end)
    assert.has_error(function() clinch.new { key = "k", secret = "s", timeout = "soon" } end)
    local c = clinch.new { key = "k", secret = "s" }
    assert.has_error(function() c:request("get", "/candidates") end)
    assert.has_error(function() c:request("GET", "candidates") end)
    assert.has_error(function() c:request("GET", "/candidates/a b") end)
    assert.has_error(function() c:request("GET", "/x", { headers = { Authorization = "x" } }) end)
  end)

  -- error(msg, 2): the message starts with the line of the caller, here this file.
  local function raises_here(f)
    local ok, err = pcall(f)
    assert.is_false(ok)
    assert.is_string(err)
    assert.matches("client_spec%.lua:%d+: ", err)
    return err
  end

  it("points every clinch.new mistake at the caller's line", function()
    for _, opts in ipairs {
      { key = 5 }, { secret = {} }, { key = "k", secret = "s", timeout = "soon" },
      { key = "k", secret = "s", timeout = -1 }, { key = "k", secret = "s", timeout = 0 },
      { key = "k", secret = "s", region = "mars" }, { key = "k", secret = "s", base_url = "ftp://x/v1" },
      { key = "k", secret = "s", signing = { digest = "md5" } },
      { key = "k", secret = "s", signing = { with_method = 1 } },
    } do
      raises_here(function() local c = clinch.new(opts); return c end)
    end
  end)

  it("refuses at clinch.new an option it does not know, and a number that is not finite", function()
    for _, case in ipairs {
      { { timeuot = 5 }, "clinch.new: unknown option 'timeuot' %(options: api_version, backoff_base, " },
      { { max_retrywait = 5 }, "unknown option 'max_retrywait'" },
      { { signing = { digets = "sha256" } },
        "unknown signing option 'digets' %(signing options: content_hash, date_header, digest, with_method%)" },
      { { timeout = 0 / 0 }, "clinch.new: option 'timeout' must be a finite number" },
      { { connect_timeout = math.huge }, "option 'connect_timeout' must be a finite number" },
      { { max_retry_wait = -math.huge }, "option 'max_retry_wait' must be a finite number" },
    } do
      local opts = case[1]
      opts.key, opts.secret = "k", "very-secret-value"
      local err = raises_here(function() local c = clinch.new(opts); return c end)
      assert.matches(case[2], err)
      assert.is_falsy(err:find("very-secret-value", 1, true))
    end
    -- every option README's Configuration table names is known
    assert.is_table(clinch.new { key = "k", secret = "s", profile = nil, region = "eu", api_version = "v2",
      timeout = 5, connect_timeout = 2, retries = 1, retry_unsafe = false, write_reuse_idle = 1, max_retry_wait = 5,
      sleep = function() end, proxy = "http://127.0.0.1:9", ca_file = "/x", ca_path = "/y", verify_tls = true,
      user_agent = "ua", max_response_bytes = 1024, logger = function() end, max_concurrency = 4, max_rate = 10,
      random = math.random, backoff_base = 0.1, backoff_cap = 1,
      signing = { digest = "sha256", content_hash = "none", date_header = "Date", with_method = true } })
  end)

  it("refuses at clinch.new a key the Authorization header cannot carry, without showing the secret", function()
    for _, key in ipairs { "k:1", "k 1", "k\n", "k\0", "k\127", "kä" } do
      local err = raises_here(function() local c = clinch.new { key = key, secret = "very-secret-value" }; return c end)
      assert.matches("'key'", err, 1, true)
      assert.is_falsy(err:find("very-secret-value", 1, true))
    end
  end)

  it("refuses at clinch.new a user_agent that would add headers of its own", function()
    for _, ua in ipairs { "ua\r\nX-Injected: yes", "ua\nX: y", "ua\0", "ua\27[31m" } do
      local err = raises_here(function()
        local c = clinch.new { key = "k", secret = "s", user_agent = ua }
        return c
      end)
      assert.matches("clinch.new: option 'user_agent' must not hold", err, 1, true)
    end
    assert.is_table(clinch.new { key = "k", secret = "s", user_agent = "my-sync/1.0 (ops@example.com)\tx" })
  end)

  it("refuses a base_url with user info, and never echoes the password", function()
    for _, url in ipairs { "https://user:pa55word@api.example.com/v1", "ftp://user:pa55word@x/v1?q" } do
      local err = raises_here(function()
        local c = clinch.new { key = "k", secret = "s", base_url = url }
        return c
      end)
      assert.is_falsy(err:find("pa55word", 1, true))
    end
  end)

  it("raises at the caller for a header that would split or break the request, without its value", function()
    local c = clinch.new { key = "k", secret = "s", base_url = "http://127.0.0.1:9/v1", retries = 0 }
    for _, headers in ipairs {
      { ["X-Trace"] = "a\r\nX-Injected: 1" }, { ["X-Trace"] = "a\0b" }, { ["X-Trace"] = "a\27b" },
      { ["Content-Type"] = "application/json\nX-Injected: 1" }, { ["Bad Name"] = "v" }, { ["X:y"] = "v" },
      { [""] = "v" },
    } do
      for _, call in ipairs {
        function() local r = c:request("GET", "/x", { headers = headers }); return r end,
        function() local r = c:signed_request("POST", "/x", { headers = headers, body = "{}" }); return r end,
        function() local r = c:start("GET", "/x", { headers = headers }); return r end,
        function() local r = c:request_many({ { "GET", "/x", { headers = headers } } }); return r end,
      } do
        local err = raises_here(call)
        assert.is_falsy(err:find("Injected", 1, true))
      end
    end
    -- A tab is allowed in a value (RFC 9110 field-value), as in any HTTP client.
    assert(c:signed_request("GET", "/x", { headers = { ["X-Trace"] = "a\tb" } }))
    c:close()
  end)

  it("raises at the caller for a query value that has no query form", function()
    local c = clinch.new { key = "k", secret = "s", base_url = "http://127.0.0.1:9/v1", retries = 0 }
    for _, query in ipairs { { a = print }, { a = 0 / 0 }, { a = { b = { true, {} } } }, { [1] = "x" } } do
      raises_here(function() local r = c:request("GET", "/x", { query = query }); return r end)
      raises_here(function() local r = c:start("GET", "/x", { query = query }); return r end)
      raises_here(function() local r = c:request_many({ { "GET", "/x", { query = query } } }); return r end)
    end
    c:close()
  end)

  it("uses the region's base URL and keeps the version configurable", function()
    assert.are.equal("https://api.clinchtalent.com/v1", clinch.new { key = "k", secret = "s" }.base_url)
    assert.are.equal("https://api.rec-marketing.dc3.pageuppeople.com/v2",
      clinch.new { key = "k", secret = "s", region = "eu", api_version = "v2" }.base_url)
  end)

  it("warns when TLS verification is turned off", function()
    local events = {}
    clinch.new { key = "k", secret = "s", verify_tls = false, logger = function(e) events[#events + 1] = e end }
    assert.are.equal("warning", events[1].event)
    assert.is_truthy(events[1].message:find("TLS", 1, true))
  end)

  it("never shows the secret in tostring or fields", function()
    local c = clinch.new { key = "k", secret = "very-secret-value" }
    assert.is_falsy(tostring(c):find("very-secret-value", 1, true))
    for _, v in pairs(c) do assert.are_not.equal("very-secret-value", v) end
  end)

  it("computes full-jitter backoff within its window", function()
    for attempt = 1, 6 do
      local window = math.min(8, 0.5 * 2 ^ (attempt - 1))
      assert.are.equal(window, retry.backoff(attempt, nil, nil, function() return 1 end))
      assert.are.equal(0, retry.backoff(attempt, nil, nil, function() return 0 end))
    end
    assert.are.equal(8, retry.backoff(10, nil, nil, function() return 1 end))
  end)

  it("reads Retry-After as seconds or an HTTP-date", function()
    assert.are.equal(3, retry.retry_after("3"))
    local now = 1700000000
    assert.are.equal(30, retry.retry_after(core.httpdate(now + 30), now))
    assert.is_nil(retry.retry_after("soon"))
  end)

  it("accepts a plain function as transport", function()
    local seen
    local c = clinch.new { key = "k", secret = "s", base_url = "http://example.test/v1",
      transport = function(req)
        seen = req
        return { status = 200, headers = { ["content-type"] = "text/plain" }, body = "ok" }
      end }
    local res = assert(c:request("GET", "/ping"))
    assert.are.equal("ok", res.body)
    assert.are.equal("http://example.test/v1/ping", seen.url)
    assert.is_truthy(seen.headers.Authorization:match("^APIAuth k:"))
  end)

  -- The built-in transports are handed the prepared request itself (its signed headers replaced per
  -- attempt); a plugged-in transport, which may keep what it is given, and signed_request's caller get
  -- tables of their own, holding the transport request's fields only.
  it("gives a plugged-in transport and signed_request a request table of their own for each attempt", function()
    local function copy(t)
      local c = {}
      for k, v in pairs(t) do c[k] = type(v) == "table" and copy(v) or v end
      return c
    end
    local function keys(t) return table.concat(support.sorted_keys(t), ",") end
    local kept, at_send = {}, {}
    local c = clinch.new { key = "k", secret = "s", base_url = "http://example.test/v1", retries = 2,
      sleep = function() end, transport = function(req)
        kept[#kept + 1], at_send[#at_send + 1] = req, copy(req)
        if #kept < 3 then return { status = 503, headers = { ["retry-after"] = "0" }, body = "" } end
        return { status = 200, headers = { ["content-type"] = "text/plain" }, body = "ok" }
      end }
    local res = assert(c:request("PUT", "/tags/1", { body = "{}", headers = { ["X-Trace"] = "t" } }))
    assert.are.equal(3, res.attempts)
    assert.are.equal(3, #kept)
    for i = 1, 3 do
      assert.are.equal("body,headers,method,url", keys(kept[i]), "attempt " .. i)
      assert.are.same(at_send[i], kept[i], "attempt " .. i .. "'s request changed after it was sent")
      assert.are.equal("t", kept[i].headers["X-Trace"])
      for j = i + 1, 3 do
        assert.are_not.equal(kept[i], kept[j])
        assert.are_not.equal(kept[i].headers, kept[j].headers)
      end
    end
    -- With the built-in transport too, signed_request's caller gets the request alone.
    local b = clinch.new { key = "k", secret = "s", base_url = "http://127.0.0.1:1/v1" }
    local signed = assert(b:signed_request("GET", "/x", { timeout = 3 }))
    assert.are.equal("headers,method,timeout,url", keys(signed))
  end)
end)
