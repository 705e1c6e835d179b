-- The fault matrix: every transport fault a real network and a hostile server produce, for GET, POST,
-- PATCH and DELETE, through client:request on both transports (libcurl here; cosockets inside nginx in
-- the LuaJIT run). The suite's own socket-level server (spec/fault_server.lua) plays the fault and logs
-- what it received: how many times a request arrived is read from that log, never from the client.
-- Each cell checks that a write arrives at most once unless retry_unsafe, and that the client's answer
-- is the real response or a typed error with the right kind, attempts and sent.
local fault_server = require "fault_server"
local ns = require "nginx_support"
local cjson = require "cjson"
local socket = require "socket"
local errors = require "clinch.errors"

local METHODS = { "GET", "POST", "PATCH", "DELETE" }
local WRITE = { POST = true, PATCH = true }

-- Client options of every cell: retries as the default (2), waits kept short.
local BASE_OPTS = { retries = 2, backoff_base = 0.001, backoff_cap = 0.01, timeout = 3, connect_timeout = 2 }

-- Each fault: the path's fault name and query, whether a warm-up request first opens the connection
-- the faulty request then reuses, options, and expect(method, unsafe) -> the expected outcome:
--   { ok = true, attempts = n, arrivals = n } or { kind =, attempts =, arrivals =, status = }
-- (`arrivals`: how many times the server logged the request).
local FAULTS = {
  {
    name = "close after reading the request on a reused connection", fault = "close-reused", warm = true,
    expect = function(method, unsafe)
      -- the next attempt goes out on a new connection, where the server answers
      if WRITE[method] and not unsafe then return { kind = "network", attempts = 1, arrivals = 1 } end
      return { ok = true, attempts = 2, arrivals = 2 }
    end,
  },
  {
    name = "reset after the body on a reused connection", fault = "reset-reused", warm = true,
    expect = function(method, unsafe)
      if WRITE[method] and not unsafe then return { kind = "network", attempts = 1, arrivals = 1 } end
      return { ok = true, attempts = 2, arrivals = 2 }
    end,
  },
  {
    name = "reset after the body", fault = "reset-body", warm = true,
    expect = function(method, unsafe)
      if WRITE[method] and not unsafe then return { kind = "network", attempts = 1, arrivals = 1 } end
      return { kind = "network", attempts = 3, arrivals = 3 }
    end,
  },
  {
    name = "reset after the headers", fault = "reset-headers", warm = true,
    expect = function(method, unsafe)
      if WRITE[method] and not unsafe then return { kind = "network", attempts = 1, arrivals = 1 } end
      return { kind = "network", attempts = 3, arrivals = 3 }
    end,
  },
  {
    name = "503", fault = "status", query = "code=503",
    expect = function(method, unsafe)
      if WRITE[method] and not unsafe then return { kind = "http", status = 503, attempts = 1, arrivals = 1 } end
      return { kind = "http", status = 503, attempts = 3, arrivals = 3 }
    end,
  },
  {
    name = "429 with Retry-After", fault = "status", query = "code=429&retry_after=0",
    expect = function(method, unsafe)
      if WRITE[method] and not unsafe then return { kind = "http", status = 429, attempts = 1, arrivals = 1 } end
      return { kind = "http", status = 429, attempts = 3, arrivals = 3 }
    end,
  },
  {
    name = "timeout mid-body", fault = "stall-body", opts = { timeout = 0.4, retries = 1 },
    expect = function(method, unsafe)
      if WRITE[method] and not unsafe then return { kind = "timeout", attempts = 1, arrivals = 1 } end
      return { kind = "timeout", attempts = 2, arrivals = 2 }
    end,
  },
  {
    -- 40 bytes at one per 0.1 s would take 4 s; the total per-attempt timeout ends each attempt at 0.4 s
    name = "trickling body", fault = "trickle", query = "n=40&every=0.1", opts = { timeout = 0.4, retries = 1 },
    max_elapsed = 2.5,
    expect = function(method, unsafe)
      if WRITE[method] and not unsafe then return { kind = "timeout", attempts = 1, arrivals = 1 } end
      return { kind = "timeout", attempts = 2, arrivals = 2 }
    end,
  },
  {
    name = "trailers", fault = "trailers", warm = true,
    expect = function() return { ok = true, attempts = 1, arrivals = 1, trailers = true } end,
  },
  {
    name = "101 Switching Protocols", fault = "switch",
    expect = function() return { kind = "protocol", status = 101, attempts = 1, arrivals = 1 } end,
  },
  {
    name = "a status outside 200-599", fault = "status", query = "code=600",
    expect = function() return { kind = "protocol", status = 600, attempts = 1, arrivals = 1 } end,
  },
  {
    name = "interim 100 and 103 before the response", fault = "interim", warm = true,
    expect = function() return { ok = true, attempts = 1, arrivals = 1 } end,
  },
  {
    name = "a 100 Continue and then the close", fault = "interim-close",
    expect = function(method, unsafe)
      if WRITE[method] and not unsafe then return { kind = "network", attempts = 1, arrivals = 1 } end
      return { kind = "network", attempts = 3, arrivals = 3 }
    end,
  },
  {
    name = "oversized header", fault = "big-header", query = "size=110000",
    expect = function() return { kind = "too_large", attempts = 1, arrivals = 1 } end,
  },
  {
    name = "a header block just over 64 KiB", fault = "big-header", query = "size=70000",
    expect = function() return { kind = "too_large", attempts = 1, arrivals = 1 } end,
  },
  {
    name = "conflicting Content-Length", fault = "two-cl",
    expect = function() return { kind = "protocol", attempts = 1, arrivals = 1 } end,
  },
}

local function body_for(method, tag)
  if method == "GET" or method == "DELETE" then return nil end
  return cjson.encode { data = { type = "probe", attributes = { tag = tag } } }
end

-- Checks one cell's outcome `r` (fault_server.summarize) against the server's log of `tag`.
local function check_cell(fs, f, method, unsafe, tag, r)
  local want = f.expect(method, unsafe)
  local got = fs.received(tag)
  local where = method .. " " .. f.name .. (unsafe and " (retry_unsafe)" or "") .. ": "
  local describe_r = where .. (r.ok and ("ok after " .. tostring(r.attempts)) or tostring(r.text))
  assert.equal(want.arrivals, #got, describe_r .. " — the server received it " .. #got .. " times")
  for _, e in ipairs(got) do
    assert.equal(method, e.method)
    if not WRITE[method] then assert.equal("", e.body) end
    if WRITE[method] and e.action ~= "reset-headers" then assert.equal(body_for(method, tag), e.body) end
  end
  if want.ok then
    assert.is_true(r.ok, describe_r)
    assert.equal(200, r.status)
    assert.equal(want.attempts, r.attempts, describe_r)
    -- the response is one the server sent: the connection and request number it names were answered
    local answered = false
    for _, e in ipairs(got) do
      if e.action ~= "close-reused" and e.action ~= "reset-reused" and e.conn == r.attrs.conn
         and e.nreq == r.attrs.nreq then
        answered = true
      end
    end
    assert.is_true(answered, where .. "a success the server did not send")
    if want.trailers then
      assert.equal("application/vnd.api+json", r.headers["content-type"])
      assert.equal("real-id", r.headers["x-request-id"])
      assert.is_nil(r.headers.location)
    end
  else
    assert.is_false(r.ok, describe_r)
    assert.equal(want.kind, r.kind, describe_r)
    assert.equal(want.attempts, r.attempts, describe_r)
    assert.equal(want.status, r.status, describe_r)
    assert.is_true(r.sent, describe_r)
    -- one line, whatever the server sent
    assert.is_nil(r.text:find("[%c]"), describe_r)
  end
  if f.max_elapsed then
    assert.is_true(r.elapsed < f.max_elapsed, where .. "took " .. r.elapsed .. " s")
  end
end

-- Runs every cell through `run(opts, steps) -> summaries`; `name` tells the transports' tags apart.
local function matrix(name, run)
  local fs
  setup(function() fs = fault_server.start() end)
  teardown(function() if fs then fs.stop() end end)

  -- A write far larger than the socket buffers, which the server answers after its head and then
  -- stops reading: the answer is the server's 401, at once, not a timeout of the send.
  it("a large write answered before the server read it gets that answer", function()
    local tag = name .. "-early"
    local opts = { base_url = fs.origin, timeout = 8, retries = 0 }
    local r = run(opts, { { method = "POST", path = fs.path("early", tag), body_size = 16 * 1024 * 1024 } })[1]
    assert.is_false(r.ok, r.text)
    assert.equal("auth", r.kind, r.text)
    assert.equal(401, r.status)
    assert.matches("early answer", r.text)
    assert.is_true(r.elapsed < 5, "took " .. r.elapsed .. " s")
    local got = fs.received(tag)
    assert.equal(1, #got)
    assert.is_false(got[1].body_read)
  end)

  local n = 0
  for _, f in ipairs(FAULTS) do
    for _, method in ipairs(METHODS) do
      for _, unsafe in ipairs { false, true } do
        -- retry_unsafe only changes what writes do
        if unsafe and not WRITE[method] then goto continue end
        n = n + 1
        local tag = name .. "-" .. n
        it(method .. " / " .. f.name .. (unsafe and " / retry_unsafe" or ""), function()
          local opts = { base_url = fs.origin, retry_unsafe = unsafe }
          for k, v in pairs(BASE_OPTS) do opts[k] = v end
          for k, v in pairs(f.opts or {}) do opts[k] = v end
          local steps = {}
          if f.warm then steps[1] = { method = "GET", path = fs.path("ok", tag .. "-warm") } end
          steps[#steps + 1] = { method = method, path = fs.path(f.fault, tag, f.query), body = body_for(method, tag) }
          local results = run(opts, steps)
          if f.warm then assert.is_true(results[1].ok, results[1].text) end
          check_cell(fs, f, method, unsafe, tag, results[#results])
        end)
        ::continue::
      end
    end
  end
end

-- 200 writes in parallel, retries = 0, against a server that resets every other request after reading
-- it: whatever libcurl would like to replay, every write arrives at most once, and each result is the
-- response or an error that says the write may have arrived.
local function many_writes_case(run_many)
  local fs = fault_server.start()
  local list, n = {}, 200
  for i = 1, n do
    list[i] = { "POST", fs.path("alternate", "many-" .. i), { body = body_for("POST", "many-" .. i) } }
  end
  local ok, results = pcall(run_many, fs, list)
  local seen = {}
  for _, e in ipairs(fs.received()) do
    local tag = e.path:match("^/f/alternate/(many%-%d+)$")
    if tag then seen[tag] = (seen[tag] or 0) + 1 end
  end
  fs.stop()
  assert(ok, results)
  assert.equal(n, #results)
  local answered, failed = 0, 0
  for i = 1, n do
    local tag = "many-" .. i
    assert.is_true((seen[tag] or 0) <= 1, tag .. " arrived " .. tostring(seen[tag]) .. " times")
    local r = results[i]
    if r.ok then
      assert.equal(1, seen[tag], tag .. ": a success the server did not send")
      answered = answered + 1
    else
      assert.is_true(r.sent, tag .. ": " .. r.text)
      assert.equal("network", r.kind, r.text)
      failed = failed + 1
    end
  end
  -- the server answered about half of what it received; with nothing replayed, both kinds occur
  assert.is_true(answered > 0 and failed > 0, answered .. " answered, " .. failed .. " failed")
end

describe("fault matrix", function()
  describe("libcurl", function()
    matrix("curl", function(opts, steps)
      opts.key, opts.secret = "k", "s"
      local client = require("clinch").new(opts)
      local out = {}
      for i, step in ipairs(steps) do
        local started = socket.gettime()
        local body = step.body or (step.body_size and ("x"):rep(step.body_size))
        local res, err = client:request(step.method, step.path, { body = body })
        out[i] = fault_server.summarize(res, err, socket.gettime() - started)
      end
      client:close()
      return out
    end)
  end)

  it("libcurl: request_many with 200 writes, every other one reset, sends each at most once", function()
    many_writes_case(function(fs, list)
      local client = require("clinch").new { key = "k", secret = "s", base_url = fs.origin, retries = 0 }
      local out = {}
      for i, r in ipairs(client:request_many(list, { concurrency = 8 })) do
        out[i] = errors.is(r) and fault_server.summarize(nil, r, 0) or fault_server.summarize(r, nil, 0)
      end
      client:close()
      return out
    end)
  end)

  it("libcurl: writes in a row reuse one connection; after write_reuse_idle a write opens a new one", function()
    local fs = fault_server.start()
    local ok, err = pcall(function()
      local client = require("clinch").new { key = "k", secret = "s", base_url = fs.origin, write_reuse_idle = 1 }
      for i = 1, 5 do assert(client:request("POST", fs.path("ok", "row-" .. i), { body = "{}" })) end
      socket.sleep(1.2)
      assert(client:request("GET", fs.path("ok", "row-get")))     -- GETs reuse whatever the idle time
      assert(client:request("POST", fs.path("ok", "row-6"), { body = "{}" }))
      socket.sleep(1.2)
      assert(client:request("POST", fs.path("ok", "row-7"), { body = "{}" }))
      client:close()
    end)
    local conn = {}
    for _, tag in ipairs { "row-1", "row-2", "row-3", "row-4", "row-5", "row-get", "row-6", "row-7" } do
      local got = fs.received(tag)
      conn[tag] = got[1] and got[1].conn
    end
    fs.stop()
    assert(ok, err)
    for i = 2, 5 do assert.equal(conn["row-1"], conn["row-" .. i]) end
    assert.equal(conn["row-1"], conn["row-get"])
    assert.equal(conn["row-get"], conn["row-6"]) -- the GET just used it: fresh again
    assert.are_not.equal(conn["row-6"], conn["row-7"])
  end)

  describe("cosocket inside nginx #nginx", function()
    local why = ns.unavailable()
    if why then
      it("runs in the LuaJIT run", function() pending(why) end)
      return
    end
    local srv
    setup(function() srv = ns.start() end)
    teardown(function() if srv then srv.stop() end end)
    matrix("cosocket", function(opts, steps)
      local status, _, body = ns.request(srv.test_origin, {
        method = "POST", path = "/t/client", timeout = 60, body = cjson.encode { opts = opts, steps = steps },
      })
      assert.equal(200, status, body)
      return cjson.decode(body).results
    end)
  end)
end)
