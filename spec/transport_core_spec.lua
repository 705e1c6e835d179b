-- The C transport (core.transport) against the real mock server: keep-alive, parallelism, result shape,
-- failure kinds, pendings and lifecycle. The mock's unsigned control API (/__mock/...) serves as the
-- request target; faults apply to /v1 paths, which answer unsigned requests with an error status, and
-- a status is all these tests need.
local core = require "clinch.core"
local support = require "support"
local cjson = require "cjson"
local socket = require "socket"

local now = socket.gettime

describe("core.transport", function()
  local mock, t

  setup(function()
    mock = support.start_mock()
  end)

  teardown(function()
    if mock then mock.stop() end
  end)

  before_each(function()
    mock.control("DELETE", "faults")
    t = core.transport { timeout = 5 }
  end)

  after_each(function()
    t:close()
  end)

  local function control(path)
    return { method = "GET", url = mock.origin .. "/__mock/" .. path, headers = { Accept = "application/json" } }
  end

  local function api(path, extra)
    local req = { method = "GET", url = mock.origin .. "/v1/" .. (path or "candidates"),
                  headers = { Accept = "application/vnd.api+json" } }
    for k, v in pairs(extra or {}) do req[k] = v end
    return req
  end

  local function fault(spec)
    local _, status = mock.control("POST", "faults", spec)
    assert.is_true(status >= 200 and status < 300, "fault not accepted")
  end

  local closed_port = support.refusing_port

  it("reports the libcurl version", function()
    assert.matches("^%d+%.%d+%.%d+", core.curl_version())
  end)

  it("returns a response with status, lowercased headers, body and timing", function()
    local r = t:perform({ control("stats") })[1]
    assert.is_nil(r.kind)
    assert.equal(200, r.status)
    assert.matches("json", r.headers["content-type"])
    assert.is_nil(r.headers["Content-Type"])
    local stats = cjson.decode(r.body)
    assert.is_number(stats.connections)
    assert.is_number(stats.requests)
    assert.equal("1.1", r.http_version)
    assert.is_number(r.time)
    assert.is_boolean(r.connect_reused)
    for name in pairs(r.headers) do assert.equal(name:lower(), name) end
    assert.is_string(r.headers["content-type"])
  end)

  it("sends the method, headers and body as given, without Expect or a default Accept", function()
    mock.control("DELETE", "requests")
    local body = string.rep("x", 2 * 1024 * 1024) -- large enough that curl would otherwise send Expect
    local r = t:perform({
      api("candidates", { method = "POST", body = body, headers = { ["X-Test"] = "yes", Accept = "a/b",
                                                                   ["Content-Type"] = "text/plain" } }),
      api("candidates", { method = "DELETE", headers = { ["X-Empty"] = "" } }),
    })
    assert.is_number(r[1].status)
    assert.is_number(r[2].status)
    local post, del
    for _, entry in ipairs(mock.control("GET", "requests").requests) do
      if entry.method == "POST" then post = entry elseif entry.method == "DELETE" then del = entry end
    end
    assert.is_table(post)
    assert.is_table(del)
    local function header(entry, name)
      for k, v in pairs(entry.headers or {}) do
        if k:lower() == name then return v end
      end
    end
    assert.equal("yes", header(post, "x-test"))
    assert.equal("a/b", header(post, "accept"))
    assert.equal("text/plain", header(post, "content-type"))
    assert.equal(tostring(#body), header(post, "content-length"))
    assert.is_nil(header(post, "expect"))
    assert.is_nil(header(del, "accept"))
    assert.equal("", header(del, "x-empty"))
    assert.matches("^lua%-clinch/", header(del, "user-agent"))
  end)

  it("performs one request given as itself, returning its result rather than a list", function()
    local one = t:perform(control("stats"))
    assert.equal(200, one.status)
    assert.is_table(cjson.decode(one.body))
    local failed = t:perform({ url = "http://127.0.0.1:" .. closed_port() .. "/" })
    assert.equal("network", failed.kind)
    assert.is_false(failed.sent)
    assert.has_error(function() t:perform({ url = 42 }) end)
    -- the libcurl adapter's send takes that form; a table without a url is still refused, not taken
    -- for an empty list
    local curl = require("clinch.transport.curl").new { timeout = 5 }
    assert.equal(200, (curl:send(control("stats"))).status)
    assert.has_error(function() curl:send({ method = "GET" }) end)
    assert.has_error(function() curl:send("http://x/") end)
    curl:close()
  end)

  it("sends one User-Agent: the transport's, or the request's own instead", function()
    mock.control("DELETE", "requests")
    local own = core.transport { timeout = 5, user_agent = "my-sync/1.0" }
    assert.is_number(own:perform({ api("candidates") })[1].status)
    assert.is_number(own:perform({ api("jobs", { headers = { ["user-agent"] = "per-request/2" } }) })[1].status)
    own:close()
    local agents = {}
    for _, entry in ipairs(mock.control("GET", "requests").requests) do
      for k, v in pairs(entry.headers or {}) do
        if k:lower() == "user-agent" then agents[#agents + 1] = v end
      end
    end
    -- the mock joins a repeated header's values with ", ": one value each is one line each
    assert.same({ "my-sync/1.0", "per-request/2" }, agents)
  end)

  it("gives a proxy's CONNECT the User-Agent too", function()
    local server = assert(socket.bind("127.0.0.1", 0))
    local _, port = server:getsockname()
    server:settimeout(2)
    local via = core.transport { timeout = 2, proxy = "http://127.0.0.1:" .. port, user_agent = "agent/3" }
    local p = via:start({ url = "https://api.example.invalid/v1/candidates" })
    local conn = assert(server:accept())
    conn:settimeout(2)
    local lines = {}
    repeat
      local line = conn:receive("*l")
      lines[#lines + 1] = line
    until line == "" or line == nil
    conn:close()
    server:close()
    assert.is_nil((p:wait()))
    via:close()
    assert.matches("^CONNECT api%.example%.invalid:443 HTTP/1%.1$", lines[1])
    local agents = 0
    for _, line in ipairs(lines) do
      if line:lower():find("^user%-agent:") then
        agents = agents + 1
        assert.equal("User-Agent: agent/3", line)
      end
    end
    assert.equal(1, agents)
  end)

  -- t:perform(req) uses one batch again and again; one left busy is set aside.
  it("goes on after a request that raised while being read", function()
    for _ = 1, 3 do
      assert.has_error(function() t:perform(api("candidates", { headers = { ["Bad Name"] = "x" } })) end)
      assert.is_number(t:perform(api("jobs")).status)
      assert.is_number(t:perform(api("jobs", { headers = { ["X-Long"] = ("v"):rep(900) } })).status)
    end
  end)

  it("serves a request a finalizer makes while another request is read", function()
    -- In a child: its heap is small enough that a collector in a hurry finishes a cycle, and runs
    -- the finalizer, while the long header lines of the outer request are being read.
    local script = [[
      local t = require("clinch.core").transport { timeout = 5 }
      local base = os.getenv("MOCK_ORIGIN")
      local outer_url, inner_url = base .. "/v1/candidates", base .. "/v1/jobs"
      local running, inside, statuses = false, 0, {}
      local function finalizer()
        if running then
          inside = inside + 1
          statuses[#statuses + 1] = t:perform({ url = inner_url }).status
        end
      end
      local headers = {}
      for i = 1, 12 do headers["X-H" .. i] = ("h"):rep(300) .. i end
      collectgarbage("setpause", 0)
      collectgarbage("setstepmul", 10000)
      for _ = 1, 100 do
        local req = { url = outer_url, headers = headers }
        -- garbage at once, and nothing allocates before the request is read
        if newproxy then getmetatable(newproxy(true)).__gc = finalizer
        else setmetatable({}, { __gc = finalizer }) end
        running = true
        local status = t:perform(req).status -- (not in the assignment: the finalizer appends too)
        running = false
        statuses[#statuses + 1] = status
      end
      collectgarbage("collect")
      for i, s in ipairs(statuses) do statuses[i] = tostring(s) end
      io.write(inside, " ", table.concat(statuses, " "))
    ]]
    mock.control("DELETE", "requests")
    local ok, out = support.run("MOCK_ORIGIN=" .. support.shell_quote(mock.origin) .. " " .. support.lua
      .. " -e " .. support.shell_quote(script))
    assert(ok, out)
    local inside = assert(tonumber(out:match("^(%d+)")), out)
    assert.is_true(inside >= 10, "the finalizer ran during a request only " .. inside .. " times")
    local statuses = 0
    for s in out:gmatch(" (%S+)") do
      assert.is_number(tonumber(s), out)
      statuses = statuses + 1
    end
    assert.equal(100 + inside, statuses)
    -- each request arrived once, the outer ones with their own headers
    local seen = { candidates = 0, jobs = 0 }
    for _, entry in ipairs(mock.control("GET", "requests").requests) do
      local what = entry.uri:match("^/v1/(%a+)$")
      seen[what] = seen[what] + 1
      if what == "candidates" then
        for i = 1, 12 do assert.equal(("h"):rep(300) .. i, entry.headers["x-h" .. i]) end
      end
    end
    assert.same({ candidates = 100, jobs = inside }, seen)
  end)

  -- A transport made with no proxy variables tells libcurl "no proxy" once (instead of its looking
  -- them up for every transfer); one made with them leaves them to libcurl. A child process, since the
  -- environment is read when the transport is made.
  local function child_get(env, url)
    local script = "local t = require('clinch.core').transport { timeout = 3 } "
      .. "local r = t:perform({ url = " .. string.format("%q", url) .. " }) "
      .. "io.write(r.status and ('status ' .. r.status) or ('error ' .. r.kind))"
    -- none of the suite's own environment's proxy variables: only what the case sets
    local clean = "env -u http_proxy -u https_proxy -u HTTPS_PROXY -u all_proxy -u ALL_PROXY -u no_proxy"
      .. " -u NO_PROXY "
    return assert(io.popen(support.child_env .. clean .. env .. " " .. support.lua .. " -e "
      .. support.shell_quote(script) .. " 2>&1"))
  end

  it("takes http_proxy from the environment", function()
    local server = assert(socket.bind("127.0.0.1", 0))
    local _, port = server:getsockname()
    server:settimeout(5)
    -- the name does not resolve: only a proxy can answer for it
    local child = child_get("http_proxy=http://127.0.0.1:" .. port, "http://api.example.invalid/v1/jobs")
    local conn = assert(server:accept())
    conn:settimeout(5)
    local first = conn:receive("*l")
    repeat local line = conn:receive("*l") until line == "" or line == nil
    conn:send("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
    local out = child:read("*a")
    child:close()
    conn:close()
    server:close()
    assert.equal("GET http://api.example.invalid/v1/jobs HTTP/1.1", first)
    assert.equal("status 204", out)
  end)

  it("keeps to no_proxy from the environment", function()
    local port = closed_port() -- a request sent through that proxy fails
    local child = child_get("http_proxy=http://127.0.0.1:" .. port .. " no_proxy=127.0.0.1",
      mock.origin .. "/__mock/stats")
    local out = child:read("*a")
    child:close()
    assert.equal("status 200", out)
    child = child_get("http_proxy=http://127.0.0.1:" .. port, mock.origin .. "/__mock/stats")
    out = child:read("*a")
    child:close()
    assert.equal("error network", out)
  end)

  it("keeps one connection alive across 50 sequential requests", function()
    mock.control("POST", "reset")
    for i = 1, 50 do
      local r = t:perform({ api() })[1]
      assert.is_number(r.status)
      assert.equal(i > 1, r.connect_reused)
    end
    local stats = mock.control("GET", "stats")
    assert.equal(50, stats.requests)
    assert.equal(1, stats.connections)
  end)

  it("runs a list in parallel and returns results in input order", function()
    -- 400 ms each: in parallel, eight stay under two singles with 400 ms to spare
    fault { kind = "latency", ms = 400, count = 1 }
    local start = now()
    t:perform({ api() })
    local single = now() - start
    assert.is_true(single >= 0.4)

    fault { kind = "latency", ms = 400, count = 8 }
    local reqs = {}
    for i = 1, 8 do reqs[i] = api("candidates?i=" .. i) end
    start = now()
    local rs = t:perform(reqs)
    local elapsed = now() - start
    assert.equal(8, #rs)
    for i = 1, 8 do assert.is_number(rs[i].status) end
    assert.is_true(elapsed < 2 * single, ("8 requests took %.3f s, one took %.3f s"):format(elapsed, single))

    -- order: mix outcomes that cannot be confused
    local port = closed_port()
    rs = t:perform({ control("stats"), { url = "http://127.0.0.1:" .. port .. "/" }, control("requests"),
                     api("candidates") }, 4)
    assert.equal(200, rs[1].status)
    assert.is_number(cjson.decode(rs[1].body).connections)
    assert.equal("network", rs[2].kind)
    assert.equal(200, rs[3].status)
    assert.is_nil(cjson.decode(rs[3].body).connections)
    assert.is_true(rs[4].status >= 400)
  end)

  it("honours the concurrency argument", function()
    fault { kind = "latency", ms = 150, count = 3 }
    local start = now()
    t:perform({ api(), api(), api() }, 1)
    assert.is_true(now() - start >= 0.45)
  end)

  it("keeps repeated response headers and joins them in the map", function()
    fault { kind = "status", status = 503, count = 1, retry_after = "1", html = true }
    local r = t:perform({ api() })[1]
    assert.equal(503, r.status)
    assert.equal("1", r.headers["retry-after"])
    assert.matches("html", r.headers["content-type"])
    assert.is_string(r.headers["x-request-id"])
  end)

  it("returns a 3xx as a response with its location", function()
    fault { kind = "redirect", location = "http://example.invalid/elsewhere", status = 302, count = 1 }
    local r = t:perform({ api() })[1]
    assert.equal(302, r.status)
    assert.equal("http://example.invalid/elsewhere", r.headers.location)
  end)

  it("reports a body over max_response_bytes as too_large", function()
    local small = core.transport { max_response_bytes = 16 }
    local r = small:perform({ control("requests") })[1]
    small:close()
    assert.equal("too_large", r.kind)
    assert.is_true(r.sent)
    assert.equal(63, r.curl_code) -- CURLE_FILESIZE_EXCEEDED: the Content-Length is over the limit
    assert.is_number(r.curl_code)
    assert.is_string(r.message)

    -- without a Content-Length the write callback is what stops it
    local server = assert(socket.bind("127.0.0.1", 0))
    local _, port = server:getsockname()
    server:settimeout(2)
    small = core.transport { max_response_bytes = 16, timeout = 2 }
    local p = small:start({ url = "http://127.0.0.1:" .. port .. "/" })
    local conn = assert(server:accept())
    conn:settimeout(2)
    repeat local line = conn:receive("*l") until line == "" or line == nil
    conn:send("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" .. string.rep("x", 64))
    local res
    res, r = p:wait() -- a failure: nil, err
    assert.is_nil(res)
    conn:close()
    server:close()
    small:close()
    assert.equal("too_large", r.kind)
    assert.is_true(r.sent)
    assert.equal(23, r.curl_code) -- CURLE_WRITE_ERROR: aborted by the write callback
  end)

  it("reports a stalled response as a timeout", function()
    fault { kind = "trickle", ms = 300, bytes = 1, count = 1 }
    local start = now()
    local r = t:perform({ api("candidates", { timeout = 0.3 }) })[1]
    assert.equal("timeout", r.kind)
    assert.equal(28, r.curl_code)
    assert.is_true(r.sent)
    assert.is_true(now() - start < 2)
  end)

  it("reports a refused connection as network, not sent", function()
    local r = t:perform({ { url = "http://127.0.0.1:" .. closed_port() .. "/x" } })[1]
    assert.equal("network", r.kind)
    assert.is_false(r.sent)
    assert.equal(7, r.curl_code)
    assert.matches("onnect", r.message)
  end)

  it("reports a reset or truncated response as network, sent", function()
    fault { kind = "reset", count = 1 }
    fault { kind = "truncate", count = 1 }
    local rs = t:perform({ api(), api() }, 1)
    for _, r in ipairs(rs) do
      assert.equal("network", r.kind)
      assert.is_true(r.sent)
    end
    -- the transport recovers on a fresh connection
    assert.equal(200, t:perform({ control("stats") })[1].status)
  end)

  it("reports a TLS handshake failure as tls, not sent", function()
    -- a plain TCP server answering the ClientHello with non-TLS bytes; start() lets this one thread
    -- serve it while the request is in flight
    local server = assert(socket.bind("127.0.0.1", 0))
    local _, port = server:getsockname()
    server:settimeout(2)
    local p = t:start({ url = "https://127.0.0.1:" .. port .. "/", timeout = 2 })
    local conn = assert(server:accept())
    conn:send("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    conn:close()
    server:close()
    local res, r = p:wait()
    assert.is_nil(res)
    assert.equal("tls", r.kind)
    assert.is_false(r.sent)
    assert.equal(35, r.curl_code)
  end)

  it("rejects CR, LF and NUL in requests before sending anything", function()
    local bad = {
      api("candidates", { headers = { ["X-A"] = "a\r\nX-B: b" } }),
      api("candidates", { headers = { ["X-A\n"] = "a" } }),
      api("candidates", { headers = { ["X-A"] = "a\0b" } }),
      api("candidates", { headers = { ["X A"] = "a" } }),
      api("candidates", { headers = { [1] = "a" } }),
      api("candidates", { method = "GET\r\n" }),
      api("candidates", { method = "" }),
      { url = mock.origin .. "/v1/x\r\nHost: evil" },
      { url = mock.origin .. "/\0" },
      { url = "file:///etc/passwd" },
      { url = 42 },
      api("candidates", { body = 42 }),
      api("candidates", { timeout = -1 }),
      "not a table",
    }
    local before = mock.control("GET", "stats").requests
    for i, req in ipairs(bad) do
      assert.has_error(function() t:perform({ control("stats"), req }) end, nil, "case " .. i)
      assert.has_error(function() t:start(req) end, nil, "case " .. i)
    end
    -- nothing went out (the mock does not count control calls)
    assert.equal(before, mock.control("GET", "stats").requests)
  end)

  it("validates its options", function()
    assert.has_error(function() core.transport { timeout = "soon" } end)
    assert.has_error(function() core.transport { timeout = 0 } end)
    assert.has_error(function() core.transport { verify_tls = "no" } end)
    assert.has_error(function() core.transport { proxy = 1 } end)
    assert.has_error(function() core.transport { proxy = "http://p\0:1" } end)
    -- the user agent is sent as a header: CR or LF would add headers of their own
    assert.has_error(function() core.transport { user_agent = "ua\r\nX-Injected: yes" } end)
    assert.has_error(function() core.transport { user_agent = "ua\nX-Injected: yes" } end)
    assert.has_error(function() core.transport { user_agent = "ua\0" } end)
    assert.has_error(function() core.transport { max_concurrency = 0 } end)
    local x = core.transport()
    assert.equal("clinch.transport", getmetatable(x).__name)
    x:close()
  end)

  it("closes idempotently and refuses work afterwards", function()
    local x = core.transport()
    x:close()
    x:close()
    assert.has_error(function() x:perform({ control("stats") }) end, "transport is closed")
    assert.has_error(function() x:start(control("stats")) end, "transport is closed")
  end)

  it("overlaps started requests", function()
    -- 500 ms each: together well under the 1 s they would take one after the other, with room to spare
    fault { kind = "latency", ms = 500, count = 2 }
    local start = now()
    local p1 = t:start(api())
    local p2 = t:start(api())
    assert.equal("clinch.pending", getmetatable(p1).__name)
    assert.is_boolean(p1:done())
    local r1, r2 = p1:wait(), p2:wait()
    local elapsed = now() - start
    assert.is_number(r1.status)
    assert.is_number(r2.status)
    assert.is_true(elapsed >= 0.5)
    assert.is_true(elapsed < 0.9, ("two 500 ms requests took %.3f s"):format(elapsed))
    assert.is_true(p1:done())
    assert.equal(r1, p1:wait())
  end)

  it("puts a started request on the wire before wait", function()
    fault { kind = "latency", ms = 400, count = 1 }
    local p = t:start(api())
    socket.sleep(0.6) -- the server works meanwhile; sent only at wait, it would take another 0.4 s
    local start = now()
    local r = p:wait()
    assert.is_number(r.status)
    assert.is_true(now() - start < 0.3, "wait took " .. (now() - start) .. " s")
  end)

  it("runs perform while started requests are in flight", function()
    fault { kind = "latency", ms = 200, path = "/v1/candidates", count = 1 }
    local p = t:start(api())
    local rs = t:perform({ control("stats"), control("stats") })
    assert.equal(200, rs[1].status)
    assert.equal(200, rs[2].status)
    assert.is_number(p:wait().status)
  end)

  it("cleans up a pending collected without wait", function()
    fault { kind = "latency", ms = 100, count = 4 }
    for _ = 1, 4 do t:start(api()) end
    collectgarbage()
    collectgarbage()
    assert.equal(200, t:perform({ control("stats") })[1].status)
  end)

  it("reports a pending whose transport was closed", function()
    fault { kind = "latency", ms = 200, count = 1 }
    local x = core.transport()
    local p = x:start(api())
    x:close()
    assert.is_true(p:done())
    assert.has_error(function() p:wait() end, "transport is closed")
  end)

  it("keeps a pending's response intact when a finalizer waits on it (or collects it) meanwhile", function()
    -- Finalizers run inside allocations, so Lua code can call p:wait() (or p's __gc) while p:wait() is
    -- building p's result from the response buffers; that must neither free nor rebuild them. It runs
    -- in a fresh interpreter: in a small heap a collection cycle fits inside the build, so the
    -- finalizers are sure to run there.
    local code = [=[
      local core, socket = require "clinch.core", require "socket"
      local server = assert(socket.bind("127.0.0.1", 0))
      local _, port = server:getsockname()
      server:settimeout(2)
      local t = core.transport { timeout = 5 }
      local p = t:start({ url = "http://127.0.0.1:" .. port .. "/" })
      local conn = assert(server:accept())
      conn:settimeout(2)
      repeat local line = conn:receive("*l") until line == "" or line == nil
      local lines = {}
      -- as many headers as the 64 KiB limit on a header block lets through
      for i = 1, 800 do lines[i] = "X-H" .. i .. ": v" .. i .. (" "):rep(60) .. "." end
      conn:send("HTTP/1.1 200 OK\r\n" .. table.concat(lines, "\r\n") .. "\r\nContent-Length: 2\r\n\r\nok")
      conn:close()
      server:close()
      while not p:done() do socket.sleep(0.01) end
      -- garbage with such finalizers, and a collector that runs whole cycles from the next allocation on
      local inner = {}
      local function finalizer()
        inner[#inner + 1] = { pcall(p.wait, p) }
        getmetatable(p).__gc(p)
      end
      collectgarbage()
      collectgarbage("stop")
      for _ = 1, 100 do
        if newproxy then getmetatable(newproxy(true)).__gc = finalizer -- LuaJIT: only userdata have __gc
        else setmetatable({}, { __gc = finalizer }) end
      end
      collectgarbage("setpause", 0)
      collectgarbage("setstepmul", 1000)
      collectgarbage("restart")
      local r = p:wait()
      collectgarbage("setpause", 200)
      collectgarbage()
      local n = 0
      for _ in pairs(r.headers) do n = n + 1 end
      assert(r.status == 200 and r.body == "ok" and n == 801)
      for i = 1, 800 do assert(r.headers["x-h" .. i] == "v" .. i .. (" "):rep(60) .. ".", i) end
      local refused = 0
      for _, res in ipairs(inner) do
        if res[1] then assert(res[2] == r) else refused = refused + 1 end
      end
      t:close()
      print("refused " .. refused)
    ]=]
    local ok, out = support.run(support.lua .. " -e " .. support.shell_quote(code))
    assert.is_true(ok, out)
    local refused = tonumber(out:match("refused (%d+)"))
    assert.is_number(refused, out)
    assert.is_true(refused > 0, "no finalizer ran while the result was being built")
  end)

  it("keeps a transport alive while a pending needs it", function()
    local p = core.transport():start(control("stats"))
    collectgarbage()
    collectgarbage()
    assert.equal(200, p:wait().status)
  end)
end)
