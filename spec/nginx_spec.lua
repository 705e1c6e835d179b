-- lua-clinch inside nginx: the example careers handler (examples/openresty) runs in a real nginx from a
-- private prefix, pointed at the mock API, and the tests talk to nginx over HTTP. Runs in the LuaJIT
-- run of the suite (`make test-nginx` runs only these); elsewhere it reports itself pending.
local support = require "support"
local ns = require "nginx_support"
local cjson = require "cjson"
local socket = require "socket"

local function json(body)
  local ok, doc = pcall(cjson.decode, body or "")
  assert(ok, "not JSON: " .. tostring(body))
  return doc
end

local function elapsed_since(t0)
  return socket.gettime() - t0
end

describe("cosocket transport outside nginx", function()
  it("answers with an unsupported error instead of trying to send", function()
    local t = require("clinch.transport.cosocket").new { timeout = 5 }
    local res, err = t:send { method = "GET", url = "http://127.0.0.1:9/x", headers = {} }
    assert.is_nil(res)
    assert.equal("unsupported", err.kind)
    assert.equal(false, err.sent)
    assert.truthy(err.message:find("inside nginx", 1, true))
  end)

  it("rejects bad options as a programming error", function()
    local cosocket = require "clinch.transport.cosocket"
    assert.has_error(function() cosocket.new { timeout = "5" } end,
      "cosocket.new: option 'timeout' must be a non-negative number")
    assert.has_error(function() cosocket.new(5) end, "cosocket.new: options must be a table")
    assert.has_error(function() cosocket.new { proxy = "http://proxy:3128" } end)
    assert.has_error(function() cosocket.new { user_agent = "ua\r\nX-Injected: yes" } end,
      "cosocket.new: option 'user_agent' must not hold CR, LF, NUL or other control characters")
    assert.has_error(function() cosocket.new { write_reuse_idle = 1.5 } end,
      "cosocket.new: option 'write_reuse_idle' must be a whole number of seconds")
    assert.has_error(function() cosocket.new { write_reuse_idle = -1 } end,
      "cosocket.new: option 'write_reuse_idle' must be a non-negative number")
    assert.has_error(function() cosocket.new { write_reuse_idle = "1" } end,
      "cosocket.new: option 'write_reuse_idle' must be a non-negative number")
    assert.has_no_error(function() cosocket.new { write_reuse_idle = 0 } end)
  end)

  it("is not the default transport outside nginx", function()
    local transports = require "clinch.transport"
    assert.is_table(require("clinch.transport.cosocket").phase_error())
    local t = transports.default { timeout = 5 }
    local cosocket_class = getmetatable(require("clinch.transport.cosocket").new())
    assert.is_table(t.impl)
    assert.are_not.equal(cosocket_class, getmetatable(t.impl))
    t:close()
  end)
end)

describe("clinch inside nginx #nginx", function()
  local why = ns.unavailable()
  if why then
    it("runs in the LuaJIT run of the suite", function() pending(why) end)
    return
  end

  local mock, srv

  setup(function()
    mock = support.start_mock { "--candidates", "30" }
    srv = ns.start { base_url = mock.base_url, key = "test-key", secret = "test-secret" }
  end)

  teardown(function()
    if srv then srv.stop() end
    if mock then mock.stop() end
  end)

  before_each(function()
    ns.control(mock, "DELETE", "faults")
    ns.control(mock, "DELETE", "requests")
  end)

  local function get(path)
    local status, headers, body = ns.request(srv.origin, { path = path, timeout = 20 })
    assert(status, headers)
    return status, headers, body
  end

  local function apply(parts, headers)
    local body, ctype = ns.multipart(parts)
    local h = { ["Content-Type"] = ctype }
    for k, v in pairs(headers or {}) do h[k] = v end
    local status, rh, rbody = ns.request(srv.origin, { method = "POST", path = "/careers/apply", headers = h,
                                                      body = body, timeout = 20 })
    assert(status, rh)
    return status, rh, rbody
  end

  -- The API calls the mock received since the last before_each.
  local function journal()
    return ns.control(mock, "GET", "requests").requests
  end

  local function first_id()
    local status, _, body = get("/careers/candidates?per_page=1")
    assert.equal(200, status, body)
    return json(body).data[1].id
  end

  it("lists candidates through the client", function()
    local status, headers, body = get("/careers/candidates?per_page=5")
    assert.equal(200, status, body)
    assert.equal("application/json", headers["content-type"])
    local doc = json(body)
    assert.equal(5, #doc.data)
    for _, c in ipairs(doc.data) do
      assert.is_string(c.id)
      assert.truthy(c.email:find("@", 1, true))
    end
    local calls = journal()
    assert.equal(1, #calls)
    assert.equal("GET", calls[1].method)
    assert.truthy(calls[1].uri:find("per_page=5", 1, true))
    assert.truthy(calls[1].headers["user-agent"]:find("nginx-lua", 1, true))
  end)

  it("gets one candidate, and a missing one is a JSON 404", function()
    local id = first_id()
    local status, _, body = get("/careers/candidates/" .. id)
    assert.equal(200, status, body)
    assert.equal(id, json(body).data.id)

    status, _, body = get("/careers/candidates/00000000000000000000000000000000")
    assert.equal(404, status, body)
    assert.equal("not found", json(body).errors[1].message)
  end)

  it("applies: creates the candidate, tags it and uploads the resume", function()
    local resume = "%PDF-1.4\n" .. string.rep("resume line\n", 200)
    local status, _, body = apply {
      { name = "email", value = "ada.lovelace@example.com" }, { name = "first_name", value = "Ada" },
      { name = "last_name", value = "Lovelace" }, { name = "tags", value = "engineering, remote" },
      { name = "resume", filename = "ada.pdf", content = resume, type = "application/pdf" },
    }
    assert.equal(201, status, body)
    local doc = json(body)
    assert.equal("ada.lovelace@example.com", doc.email)
    assert.is_nil(doc.warnings)
    table.sort(doc.done)
    assert.same({ "resume", "tag careers-site", "tag engineering", "tag remote" }, doc.done)

    -- What the API saw: one create, three tags, one file with the resume's bytes.
    local tags, files, creates = {}, {}, 0
    for _, call in ipairs(journal()) do
      assert.equal("POST", call.method)
      local sent = json(call.body).data
      if call.uri == "/v1/candidates" then
        creates = creates + 1
        assert.equal("Ada", sent.attributes.first_name)
      elseif call.uri == "/v1/candidates/" .. doc.id .. "/tags" then
        tags[#tags + 1] = sent.attributes.name
      elseif call.uri == "/v1/candidates/" .. doc.id .. "/candidate_files" then
        files[#files + 1] = sent.attributes
      else
        error("unexpected API call " .. call.uri)
      end
      assert.truthy(call.status >= 200 and call.status < 300, call.uri .. " -> " .. call.status)
    end
    table.sort(tags)
    assert.equal(1, creates)
    assert.same({ "careers-site", "engineering", "remote" }, tags)
    assert.equal(1, #files)
    assert.equal("ada.pdf", files[1].filename)
    assert.equal(resume, require("clinch.core").base64_decode(files[1].content))

    -- And the candidate can be read back.
    local st2, _, body2 = get("/careers/candidates/" .. doc.id)
    assert.equal(200, st2, body2)
    assert.equal("Ada", json(body2).data.first_name)
  end)

  it("returns validation errors to the form as JSON, before any API call", function()
    local status, headers, body = apply { { name = "email", value = "not-an-email" },
                                          { name = "first_name", value = "X" } }
    assert.equal(422, status, body)
    assert.equal("application/json", headers["content-type"])
    local err = json(body).errors[1]
    assert.equal("email", err.field)
    assert.truthy(err.message:find("email", 1, true))

    status, headers, body = apply { { name = "first_name", value = "No Email" } }
    assert.equal(422, status, body)
    assert.equal("application/json", headers["content-type"])
    assert.same({ field = "email", message = "email is required" }, json(body).errors[1])
    assert.equal(0, #journal())
  end)

  it("returns the API's own validation errors to the form", function()
    ns.control(mock, "POST", "faults", { kind = "status", status = 422, count = 1, path = "/v1/candidates" })
    local status, _, body = apply { { name = "email", value = "taken@example.com" } }
    assert.equal(422, status, body)
    assert.is_string(json(body).errors[1].message)
  end)

  it("answers 502, not 404, when the API says 404 to a create (the site's configuration is at fault)", function()
    ns.control(mock, "POST", "faults", { kind = "status", status = 404, count = 1, path = "/v1/candidates" })
    local status, _, body = apply { { name = "email", value = "lost@example.com" } }
    assert.equal(502, status, body)
    assert.matches("could not be saved", json(body).errors[1].message)
  end)

  it("retries a 429 after its Retry-After with ngx.sleep, serving other requests meanwhile", function()
    local id = first_id()
    ns.control(mock, "DELETE", "requests")
    ns.control(mock, "POST", "faults", { kind = "status", status = 429, retry_after = "1", count = 1 })
    local t0 = socket.gettime()
    local slow = ns.open(srv.origin, { path = "/careers/candidates/" .. id, timeout = 20 })
    socket.sleep(0.3)   -- by now the handler waits out the Retry-After
    -- The single worker still answers: the wait yields instead of blocking.
    local t1 = socket.gettime()
    local status = get("/healthz")
    local quick = elapsed_since(t1)
    assert.equal(200, status)
    -- a blocked worker would answer when the wait ends, 0.7 s from now
    assert.is_true(quick < 0.5, "a request during the retry wait took " .. quick .. " s")

    local st, _, body = slow.wait()
    local total = elapsed_since(t0)
    assert.equal(200, st, body)
    assert.equal(id, json(body).data.id)
    assert.is_true(total >= 0.95, "the retry came after " .. total .. " s, before Retry-After")
    local calls = journal()
    assert.equal(2, #calls)
    assert.equal(429, calls[1].status)
    assert.equal(200, calls[2].status)
    -- the example's logger says what the wait and the back-off were
    local log = srv.error_log()
    assert.matches("clinch: retrying 1 request%(s%) in", log)
    assert.matches("clinch: the API answered 429", log)
    assert.is_falsy(log:find("clinch: nil", 1, true))
  end)

  it("does not block the worker: 10 concurrent requests with 300 ms of API latency", function()
    local id = first_id()
    ns.control(mock, "POST", "faults", { kind = "latency", ms = 300 })
    local t0 = socket.gettime()
    local status, _, body = get("/careers/candidates/" .. id)
    local one = elapsed_since(t0)
    assert.equal(200, status, body)
    assert.is_true(one >= 0.3, "latency not applied: " .. one .. " s")

    local results, total = ns.concurrent(srv.origin, { path = "/careers/candidates/" .. id, timeout = 20 }, 10)
    for _, r in ipairs(results) do assert.equal(200, r.status, r.body) end
    -- Serially this would take 10 x 300 ms; allow plenty of slack for a loaded machine.
    assert.is_true(total < 5 * one, ("10 concurrent took %.3f s, one took %.3f s"):format(total, one))
  end)

  it("reuses API connections across requests", function()
    local id = first_id()
    local before = ns.control(mock, "GET", "stats")
    for _ = 1, 20 do
      local status, _, body = get("/careers/candidates/" .. id)
      assert.equal(200, status, body)
    end
    local after = ns.control(mock, "GET", "stats")
    local requests = after.requests - before.requests
    local connections = after.connections - before.connections
    assert.equal(20, requests)
    assert.is_true(connections <= 2, connections .. " connections for 20 requests")
  end)

  it("keeps the visitor's headers, cookies and body out of API calls", function()
    local status, _, body = apply({
      { name = "email", value = "grace.hopper@example.com" },
      { name = "resume", filename = "grace.txt", content = "COBOL", type = "text/plain" },
    }, {
      Cookie = "session=visitor-session-cookie", Authorization = "Basic dmlzaXRvcjpwYXNz",
      ["X-Visitor-Secret"] = "visitor-header-value", Referer = "https://careers.example.com/apply",
      ["X-Forwarded-For"] = "203.0.113.9",
    })
    assert.equal(201, status, body)
    local calls = journal()
    assert.is_true(#calls >= 3)
    for _, call in ipairs(calls) do
      for name, value in pairs(call.headers) do
        assert.is_nil(name:find("cookie", 1, true), call.uri .. " carried " .. name)
        assert.is_nil(name:find("visitor", 1, true), call.uri .. " carried " .. name)
        assert.is_nil(name:find("referer", 1, true), call.uri .. " carried " .. name)
        assert.is_nil(name:find("forwarded", 1, true), call.uri .. " carried " .. name)
        assert.is_nil(tostring(value):find("visitor", 1, true), call.uri .. " carried " .. name .. ": " .. value)
        assert.is_nil(tostring(value):find("Basic", 1, true), call.uri .. " carried " .. name)
      end
      assert.is_nil((call.body or ""):find("Content-Disposition", 1, true), call.uri .. " carried the form body")
    end
  end)

  it("names the phase where cosockets do not exist, and neither retries nor sleeps", function()
    local expected = "unsupported after 1 attempt(s): cosockets are not available in the '%s' phase of nginx; "
      .. "make API calls from rewrite/access/content/timer phases"
    for _, phase in ipairs { "init", "set", "header_filter" } do
      local t0 = socket.gettime()
      local status, headers, body = ns.request(srv.test_origin, { path = "/t/phase/" .. phase, timeout = 10 })
      local took = elapsed_since(t0)
      assert.equal(200, status, body)
      local outcome = phase == "header_filter" and headers["x-clinch-outcome"] or body
      assert.equal(expected:format(phase), outcome)
      -- no retry ("after 1 attempt(s)") and no wait for a connection or a timeout: milliseconds, not seconds
      assert.is_true(took < 1.5, phase .. " took " .. took .. " s")
    end
  end)
end)

-- nginx's pool is LIFO, per worker: after a burst left several connections in it and one of them
-- then stayed busy, the others are idle longer than the last return says. A write must not take them.
describe("cosocket write reuse window with several pooled connections #nginx", function()
  local why = ns.unavailable()
  if why then
    it("runs in the LuaJIT run of the suite", function() pending(why) end)
    return
  end
  local srv
  setup(function() srv = ns.start() end)
  teardown(function() if srv then srv.stop() end end)

  local function send(mode, requests)
    for _, r in ipairs(requests) do r.url = srv.test_origin .. r.url end
    local status, _, body = ns.request(srv.test_origin, {
      method = "POST", path = "/t/send", timeout = 30,
      body = cjson.encode { opts = { timeout = 10 }, mode = mode, concurrency = #requests, requests = requests },
    })
    assert.equal(200, status, body)
    local out = {}
    for i, r in ipairs(json(body).results) do out[i] = json(assert(r.res, r.err and r.err.message).body) end
    return out
  end

  it("a write in a burst takes only a connection returned within write_reuse_idle, or a new one", function()
    local burst = {}
    for i = 1, 4 do burst[i] = { method = "GET", url = "/c/echo?ms=300" } end
    local first = send("many", burst)
    local idle = {}
    for _, e in ipairs(first) do idle[e.connection] = true end
    -- one connection stays in use (writes 0.5 s apart reuse the one returned last) while the others idle
    local steady = send("send", {
      { method = "POST", url = "/c/echo", body = "1", pause = 0.5 }, { method = "POST", url = "/c/echo", body = "2",
        pause = 0.5 }, { method = "POST", url = "/c/echo", body = "3", pause = 0.5 },
      { method = "POST", url = "/c/echo", body = "4" } })
    local busy = steady[1].connection
    assert.is_true(idle[busy])
    for _, e in ipairs(steady) do assert.equal(busy, e.connection) end
    idle[busy] = nil

    local writes = {}
    for i = 1, 4 do writes[i] = { method = "POST", url = "/c/echo?ms=300", body = "w" .. i } end
    local reused = 0
    for _, e in ipairs(send("many", writes)) do
      assert.is_nil(idle[e.connection], "a write went out on a connection idle for 1.5 s")
      if e.connection == busy then reused = reused + 1 else assert.equal(1, e.connection_requests) end
    end
    assert.equal(1, reused)
    -- reads take any pooled connection: the burst's new ones and the steady one
    local reads = {}
    for i = 1, 4 do reads[i] = { method = "GET", url = "/c/echo?ms=300" } end
    for _, e in ipairs(send("many", reads)) do assert.is_true(e.connection_requests > 1) end
  end)
end)

-- nginx.conf can pass libcurl's proxy variables on to the workers (env): the cosocket transport uses
-- no proxy, and warns in the error log rather than go around one without a word.
describe("cosocket transport and the proxy variables #nginx", function()
  local why = ns.unavailable()
  if why then
    it("runs in the LuaJIT run of the suite", function() pending(why) end)
    return
  end
  local srv
  setup(function() srv = ns.start { main = "env https_proxy=http://127.0.0.1:9;" } end)
  teardown(function() if srv then srv.stop() end end)

  it("connects directly and says so in the error log", function()
    local status, _, body = ns.request(srv.test_origin, {
      method = "POST", path = "/t/send", timeout = 30,
      body = cjson.encode { opts = { timeout = 10 }, mode = "send",
                            requests = { { method = "GET", url = srv.test_origin .. "/c/echo" } } },
    })
    assert.equal(200, status, body)
    local r = json(body).results[1]
    assert.equal(200, assert(r.res, r.err and r.err.message).status)
    assert.matches("clinch: https_proxy is set, but the cosocket transport uses no proxy", srv.error_log(), 1, true)
  end)
end)
