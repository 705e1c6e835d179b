-- The transport contract (see lua/clinch/transport/init.lua): the same cases run against both built-in
-- transports. libcurl runs here in busted (every run of the suite); the cosocket transport runs inside
-- nginx (LuaJIT run only), which executes each case through its /t/send test endpoint. nginx also
-- serves the HTTP endpoints the cases call (spec/nginx_support.lua, TEST_CONF).
local ns = require "nginx_support"
local support = require "support"
local cjson = require "cjson"
local socket = require "socket"

-- Each case: requests (urls relative to the test server, or "{TLS}/..." / "{WRONG_TLS}/..." /
-- "{REFUSED}" / "{SILENT_TLS}" (takes the connection, never answers); or `raw` = the exact response
-- bytes for the server to send; `pause` = seconds to wait after that request, in "send" mode),
-- optional opts, mode ("send" sequentially, "many",
-- "start"), and check(results, elapsed, srv) where
-- results[i] = { res = response, err = error } or { raised = message } when the call raised.
-- Transports ignore request fields they do not know.
local CASES = {
  {
    name = "GET 200 with a Content-Length body",
    requests = { { method = "GET", url = "/c/echo" } },
    check = function(r)
      local res = assert(r[1].res, r[1].err and r[1].err.message)
      assert.equal(200, res.status)
      assert.equal(tostring(#res.body), res.headers["content-length"])
      local echo = cjson.decode(res.body)
      assert.equal("GET", echo.method)
      assert.equal("/c/echo", echo.uri)
    end,
  },
  {
    name = "response header names are lowercased and repeated ones joined with ', '",
    requests = { { method = "GET", url = "/c/echo" } },
    check = function(r)
      local h = r[1].res.headers
      assert.equal("Yes", h["x-mixed-case"])
      assert.equal("one, two", h["x-multi"])
      assert.equal("application/json", h["content-type"])
      for name in pairs(h) do assert.equal(name:lower(), name) end
    end,
  },
  {
    name = "request headers, method and query are sent as given",
    requests = { { method = "GET", url = "/c/echo?a=1&b=%20x",
                   headers = { ["X-Custom"] = "value 1", Accept = "a/b" } } },
    check = function(r)
      local echo = cjson.decode(r[1].res.body)
      assert.equal("value 1", echo.headers["x-custom"])
      assert.equal("a/b", echo.headers["accept"])
      assert.equal("/c/echo?a=1&b=%20x", echo.uri)
      assert.truthy(echo.headers["user-agent"]:find("lua-clinch/", 1, true))
    end,
  },
  {
    -- more lines and bytes than the libcurl transport keeps in a transfer's own room (6 lines, 256
    -- bytes): the rest go to libcurl's own list, in order, with nothing lost on either side
    name = "many and long request headers all arrive, on every request of a batch",
    mode = "many",
    requests = (function()
      local list = {}
      for k = 1, 3 do
        local headers = { ["X-Long"] = ("L"):rep(600 * k), ["X-Empty"] = "" }
        for i = 1, 6 * k do headers["X-H" .. i] = ("v%d.%d"):format(k, i) end
        list[k] = { method = "POST", url = "/c/echo", body = "b" .. k, headers = headers }
      end
      return list
    end)(),
    check = function(r)
      for k = 1, 3 do
        local echo = cjson.decode(assert(r[k].res, r[k].err and r[k].err.message).body)
        assert.equal("b" .. k, echo.body)
        assert.equal(("L"):rep(600 * k), echo.headers["x-long"])
        assert.equal("", echo.headers["x-empty"])
        for i = 1, 6 * k do assert.equal(("v%d.%d"):format(k, i), echo.headers["x-h" .. i]) end
        assert.is_nil(echo.headers["x-h" .. (6 * k + 1)])
        assert.truthy(echo.headers["user-agent"]:find("lua-clinch/", 1, true))
      end
    end,
  },
  {
    name = "a POST body arrives whole with its Content-Length",
    requests = { { method = "POST", url = "/c/echo", body = '{"data":{"type":"candidate"}}',
                   headers = { ["Content-Type"] = "application/vnd.api+json" } } },
    check = function(r)
      local echo = cjson.decode(r[1].res.body)
      assert.equal("POST", echo.method)
      assert.equal('{"data":{"type":"candidate"}}', echo.body)
      assert.equal("29", echo.headers["content-length"])
      assert.equal("application/vnd.api+json", echo.headers["content-type"])
    end,
  },
  {
    name = "a large POST body arrives whole",
    requests = { { method = "POST", url = "/c/echo", body = ("0123456789abcdef"):rep(20000) .. "end" } },
    check = function(r)
      local echo = cjson.decode(assert(r[1].res, r[1].err and r[1].err.message).body)
      assert.equal("320003", echo.headers["content-length"])
      assert.equal(("0123456789abcdef"):rep(20000) .. "end", echo.body)
    end,
  },
  {
    name = "PATCH and DELETE are sent with their method",
    requests = { { method = "PATCH", url = "/c/echo", body = "x" }, { method = "DELETE", url = "/c/echo" } },
    check = function(r)
      assert.equal("PATCH", cjson.decode(r[1].res.body).method)
      assert.equal("x", cjson.decode(r[1].res.body).body)
      assert.equal("DELETE", cjson.decode(r[2].res.body).method)
    end,
  },
  {
    name = "one connection after another method carries nothing over: method, body and no-body",
    requests = { { method = "POST", url = "/c/echo", body = "first" }, { method = "DELETE", url = "/c/echo" },
                 { method = "HEAD", url = "/c/echo" }, { method = "GET", url = "/c/echo" },
                 { method = "PUT", url = "/c/echo", body = "second" }, { method = "GET", url = "/c/echo" },
                 { method = "OPTIONS", url = "/c/echo" },
                 -- a write right after a HEAD: its body goes out, and its answer's body is read
                 { method = "HEAD", url = "/c/echo" }, { method = "POST", url = "/c/echo", body = "third" },
                 { method = "HEAD", url = "/c/echo" }, { method = "PATCH", url = "/c/echo", body = "fourth" },
                 { method = "HEAD", url = "/c/echo" }, { method = "PUT", url = "/c/echo", body = "fifth" } },
    check = function(r)
      local want = { { "POST", "first" }, { "DELETE", "" }, nil, { "GET", "" }, { "PUT", "second" }, { "GET", "" },
                     { "OPTIONS", "" }, nil, { "POST", "third" }, nil, { "PATCH", "fourth" }, nil, { "PUT", "fifth" } }
      for i = 1, 13 do
        local res = assert(r[i].res, r[i].err and r[i].err.message)
        assert.equal(200, res.status)
        if i == 3 or i == 8 or i == 10 or i == 12 then
          assert.equal("", res.body) -- HEAD: no body read
        else
          local echo = cjson.decode(res.body)
          assert.equal(want[i][1], echo.method, "request " .. i)
          assert.equal(want[i][2], echo.body, "request " .. i)
        end
      end
    end,
  },
  {
    name = "a chunked response is decoded",
    requests = { { method = "GET", url = "/c/chunked?n=5" } },
    check = function(r)
      assert.equal(200, r[1].res.status)
      assert.equal("chunk-1;chunk-2;chunk-3;chunk-4;chunk-5;", r[1].res.body)
    end,
  },
  {
    name = "nothing of a response carries over to the next: chunked, sized and unframed bodies in turn",
    requests = {
      { method = "GET", url = "/c/chunked?n=5" }, { method = "GET", url = "/c/chunked?n=2" },
      { method = "GET", url = "/c/echo" }, { method = "GET", url = "/c/chunked?n=3" },
      { method = "GET", raw = "HTTP/1.1 200 OK\r\nConnection: close\r\nX-Only: here\r\n\r\nto the end" },
      { method = "GET", url = "/c/chunked?n=1" }, { method = "GET", url = "/c/status/404" },
    },
    check = function(r)
      for i = 1, 7 do assert(r[i].res, r[i].err and r[i].err.message) end
      assert.equal("chunk-1;chunk-2;chunk-3;chunk-4;chunk-5;", r[1].res.body)
      assert.equal("chunk-1;chunk-2;", r[2].res.body)
      assert.equal("/c/echo", cjson.decode(r[3].res.body).uri)
      assert.equal("chunk-1;chunk-2;chunk-3;", r[4].res.body)
      assert.equal("to the end", r[5].res.body)
      assert.equal("here", r[5].res.headers["x-only"])
      assert.equal("chunk-1;", r[6].res.body)
      assert.is_nil(r[6].res.headers["x-only"])
      assert.equal(404, r[7].res.status)
      assert.is_nil(r[7].res.body:find("chunk", 1, true))
    end,
  },
  {
    name = "nothing of a response carries over to another in parallel",
    mode = "many", concurrency = 3,
    requests = {
      { method = "GET", url = "/c/chunked?n=4" }, { method = "GET", url = "/c/chunked?n=1" },
      { method = "GET", url = "/c/echo" }, { method = "GET", url = "/c/chunked?n=3" },
      { method = "GET", url = "/c/chunked?n=2" }, { method = "GET", url = "/c/echo" },
    },
    check = function(r)
      local want = { 4, 1, nil, 3, 2 }
      for i = 1, 6 do
        local res = assert(r[i].res, r[i].err and r[i].err.message)
        if want[i] then
          local body = {}
          for k = 1, want[i] do body[k] = "chunk-" .. k .. ";" end
          assert.equal(table.concat(body), res.body)
        else
          assert.equal("/c/echo", cjson.decode(res.body).uri)
        end
      end
    end,
  },
  {
    name = "an error status is a response, not a transport error",
    requests = { { method = "GET", url = "/c/status/429" }, { method = "GET", url = "/c/status/503" } },
    check = function(r)
      assert.equal(429, r[1].res.status)
      assert.equal("status 429\n", r[1].res.body)
      assert.equal(503, r[2].res.status)
    end,
  },
  {
    name = "a 204 has an empty body",
    requests = { { method = "DELETE", url = "/c/status/204" } },
    check = function(r)
      assert.equal(204, r[1].res.status)
      assert.equal("", r[1].res.body)
    end,
  },
  {
    name = "sequential requests reuse one kept-alive connection",
    requests = { { method = "GET", url = "/c/echo" }, { method = "POST", url = "/c/echo", body = "b" },
                 { method = "GET", url = "/c/echo" } },
    check = function(r)
      local first = cjson.decode(r[1].res.body)
      for i = 2, 3 do
        local echo = cjson.decode(r[i].res.body)
        assert.equal(first.connection, echo.connection)
        assert.equal(first.connection_requests + i - 1, echo.connection_requests)
      end
    end,
  },
  {
    -- (the cosocket transport sends a large body from a light thread of its own: when it is done, the
    -- connection is as reusable as after a small one)
    name = "large writes in a row reuse one kept-alive connection",
    requests = { { method = "POST", url = "/c/echo", body = ("a"):rep(100000) },
                 { method = "PUT", url = "/c/echo", body = ("b"):rep(100000) },
                 { method = "GET", url = "/c/echo" } },
    check = function(r)
      local first = cjson.decode(assert(r[1].res, r[1].err and r[1].err.message).body)
      assert.equal(100000, #first.body)
      for i = 2, 3 do
        local echo = cjson.decode(assert(r[i].res, r[i].err and r[i].err.message).body)
        assert.equal(first.connection, echo.connection, "request " .. i)
      end
    end,
  },
  {
    name = "writes in quick succession reuse a connection; after write_reuse_idle only a GET does",
    opts = { write_reuse_idle = 1 },
    requests = {
      { method = "POST", url = "/c/echo", body = "1" }, { method = "PATCH", url = "/c/echo", body = "2" },
      { method = "POST", url = "/c/echo", body = "3", pause = 1.3 },
      { method = "POST", url = "/c/echo", body = "4" },               -- idle 1.3 s: a new connection
      { method = "GET", url = "/c/echo", pause = 1.3 },
      { method = "GET", url = "/c/echo" },                            -- idle 1.3 s, but a GET: reused
      { method = "DELETE", url = "/c/echo" },
    },
    check = function(r)
      local e = {}
      for i, x in ipairs(r) do e[i] = cjson.decode(assert(x.res, x.err and x.err.message).body) end
      for i = 2, 3 do
        assert.equal(e[1].connection, e[i].connection)
        assert.equal(e[1].connection_requests + i - 1, e[i].connection_requests)
      end
      assert.equal(1, e[4].connection_requests)
      for i = 5, 7 do
        assert.equal(e[4].connection, e[i].connection)
        assert.equal(i - 3, e[i].connection_requests)
      end
    end,
  },
  {
    name = "write_reuse_idle = 0: every write opens a new connection, reads still reuse",
    opts = { write_reuse_idle = 0 },
    requests = { { method = "GET", url = "/c/echo" }, { method = "GET", url = "/c/echo" },
                 { method = "POST", url = "/c/echo", body = "1" }, { method = "PATCH", url = "/c/echo", body = "2" },
                 { method = "GET", url = "/c/echo" } },
    check = function(r)
      local e = {}
      for i, x in ipairs(r) do e[i] = cjson.decode(assert(x.res, x.err and x.err.message).body) end
      assert.equal(e[1].connection, e[2].connection)
      assert.equal(1, e[3].connection_requests)
      assert.equal(1, e[4].connection_requests)
      assert.are_not.equal(e[3].connection, e[4].connection)
      assert.is_true(e[5].connection_requests > 1)
    end,
  },
  {
    name = "a response with Connection: close is read, and the next request opens a new connection",
    requests = { { method = "GET", url = "/c/close" }, { method = "GET", url = "/c/echo" } },
    check = function(r)
      assert.equal("closed\n", r[1].res.body)
      assert.equal(200, r[2].res.status)
    end,
  },
  {
    name = "a kept-alive connection the server closed meanwhile is replaced, even for a POST",
    -- closed by nginx after 50 ms; 0.8 s later still inside the 1 s a write may reuse a connection
    requests = { { method = "GET", url = "/c/short-keepalive", pause = 0.8 },
                 { method = "POST", url = "/c/echo", body = "after the close" } },
    check = function(r)
      local first = cjson.decode(r[1].res.body)
      local res = assert(r[2].res, r[2].err and r[2].err.message)
      local echo = cjson.decode(res.body)
      assert.equal("after the close", echo.body)
      assert.are_not.equal(first.connection, echo.connection)
    end,
  },
  {
    name = "a kept-alive connection dropped without a response is never replayed by the transport",
    requests = { { method = "GET", url = "/c/echo" }, { method = "POST", url = "/c/drop-reused", body = "once" },
                 { method = "GET", url = "/c/echo" }, { method = "GET", url = "/c/drop-reused" } },
    check = function(r)
      for _, i in ipairs { 2, 4 } do
        assert.is_nil(r[i].res)
        assert.equal("network", r[i].err.kind)
        assert.is_true(r[i].err.sent)
        assert.is_true(r[i].err.reused)
      end
    end,
  },
  {
    name = "a response without a length is read until the server closes",
    requests = { { method = "GET", raw = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the close" } },
    check = function(r)
      local res = assert(r[1].res, r[1].err and r[1].err.message)
      assert.equal(200, res.status)
      assert.equal("until the close", res.body)
    end,
  },
  {
    name = "a 1xx interim response before the response is skipped",
    requests = { { method = "POST", body = "x", raw = "HTTP/1.1 100 Continue\r\n\r\n"
      .. "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nX-Final: yes\r\nConnection: close\r\n\r\nok" } },
    check = function(r)
      local res = assert(r[1].res, r[1].err and r[1].err.message)
      assert.equal(201, res.status)
      assert.equal("ok", res.body)
      assert.equal("yes", res.headers["x-final"])
    end,
  },
  {
    name = "a body cut short gives kind network",
    requests = { { method = "GET", raw = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort" } },
    check = function(r)
      assert.is_nil(r[1].res)
      assert.equal("network", r[1].err.kind)
      assert.is_true(r[1].err.sent)
    end,
  },
  {
    name = "a malformed chunked body gives kind network",
    requests = { { method = "GET", raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx" } },
    check = function(r)
      assert.is_nil(r[1].res)
      assert.equal("network", r[1].err.kind)
    end,
  },
  {
    name = "101 Switching Protocols gives kind protocol with its status",
    requests = { { method = "GET",
                   raw = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n" } },
    check = function(r)
      assert.is_nil(r[1].res)
      assert.equal("protocol", r[1].err.kind)
      assert.equal(101, r[1].err.status)
      assert.is_true(r[1].err.sent)
    end,
  },
  {
    name = "a final status outside 200-599 gives kind protocol with its status",
    requests = { { method = "GET", raw = "HTTP/1.1 600 Odd\r\nContent-Length: 2\r\n\r\nok" } },
    check = function(r)
      assert.is_nil(r[1].res)
      assert.equal("protocol", r[1].err.kind)
      assert.equal(600, r[1].err.status)
      assert.is_true(r[1].err.sent)
    end,
  },
  {
    name = "a header line without a colon gives kind protocol",
    requests = { { method = "GET", raw = "HTTP/1.1 200 OK\r\nNo colon here\r\nContent-Length: 2\r\n\r\nok" } },
    check = function(r)
      assert.is_nil(r[1].res)
      assert.equal("protocol", r[1].err.kind)
      assert.is_true(r[1].err.sent)
    end,
  },
  {
    -- libcurl would take "Name : value" (RFC 9112 forbids the space); a NUL could cut a value short
    name = "white space before a header's colon, a NUL in a header line or a first line folded gives kind protocol",
    requests = { { method = "GET", raw = "HTTP/1.1 200 OK\r\nX-A : b\r\nContent-Length: 2\r\n\r\nok" },
                 { method = "GET", raw = "HTTP/1.1 200 OK\r\nX-A: b\0c\r\nContent-Length: 2\r\n\r\nok" },
                 { method = "GET", raw = "HTTP/1.1 200 OK\r\nX\0A: b\r\nContent-Length: 2\r\n\r\nok" },
                 -- a continuation line with nothing to continue, and one holding a NUL
                 { method = "GET", raw = "HTTP/1.1 200 OK\r\n  folded: x\r\nContent-Length: 2\r\n\r\nok" },
                 { method = "GET", raw = "HTTP/1.1 200 OK\r\nX-A: b\r\n c\0d\r\nContent-Length: 2\r\n\r\nok" } },
    check = function(r)
      for i = 1, 5 do
        assert.is_nil(r[i].res, i)
        assert.equal("protocol", r[i].err.kind, r[i].err.message)
        assert.is_true(r[i].err.sent)
      end
    end,
  },
  {
    -- libcurl 7.88 keeps a pointer to a header of a transfer stopped while its headers came, freed
    -- with it, and follows it when the next response on that handle opens with a folded line (a
    -- use after free, under ASan in the sanitizer run): such a handle is never used again
    name = "a response stopped in its headers leaves nothing behind for the next ones",
    requests = { { method = "GET", raw = "HTTP/1.1 200 OK\r\nX-A: b\r\nX-B : c\r\nContent-Length: 2\r\n\r\nok" },
                 { method = "GET", raw = "HTTP/1.1 200 OK\r\n  folded: x\r\nContent-Length: 2\r\n\r\nok" },
                 { method = "GET", url = "/c/echo" } },
    check = function(r)
      for i = 1, 2 do
        assert.is_nil(r[i].res, i)
        assert.equal("protocol", r[i].err.kind, r[i].err.message)
      end
      assert.equal(200, assert(r[3].res, r[3].err and r[3].err.message).status)
    end,
  },
  {
    -- this client asks for no transfer coding: a body still gzip-coded must not pass for the body
    name = "a transfer coding other than chunked gives kind protocol",
    requests = { { method = "GET", raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\n"
                                       .. "okEXTRA" },
                 { method = "GET", raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                                       .. "2\r\nok\r\n0\r\n\r\n" } },
    check = function(r)
      for i = 1, 2 do
        assert.is_nil(r[i].res, i)
        assert.equal("protocol", r[i].err.kind, r[i].err.message)
        assert.is_true(r[i].err.sent)
      end
    end,
  },
  {
    name = "a tab after the status code is taken as the space",
    requests = { { method = "GET", raw = "HTTP/1.1 200\tOK\r\nContent-Length: 2\r\n\r\nok" } },
    check = function(r)
      local res = assert(r[1].res, r[1].err and r[1].err.message)
      assert.same({ 200, "ok" }, { res.status, res.body })
    end,
  },
  {
    name = "a status line that is not HTTP/1.x with three digits, or a status under 100, gives kind protocol",
    requests = { { method = "GET", raw = "HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\nok" },
                 { method = "GET", raw = "SMTP ready\r\n\r\n" },
                 { method = "GET", raw = "HTTP/1.1 099 Odd\r\nContent-Length: 2\r\n\r\nok" } },
    check = function(r)
      for i = 1, 3 do
        assert.is_nil(r[i].res)
        assert.equal("protocol", r[i].err.kind)
        assert.is_true(r[i].err.sent)
      end
      -- libcurl refuses a code under 100 before its header callback sees the line: no status to give
      assert.is_true(r[3].err.status == 99 or r[3].err.status == nil)
    end,
  },
  {
    name = "conflicting Content-Length headers give kind protocol; equal duplicates are accepted",
    requests = {
      { method = "GET", raw = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc" },
      { method = "GET", raw = "HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nabc" },
      -- /c/raw closes after the bytes: said, so that the next request never takes the connection
      { method = "GET",
        raw = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok" },
      { method = "GET", raw = "HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nConnection: close\r\n\r\nok" },
    },
    check = function(r)
      for i = 1, 2 do
        assert.is_nil(r[i].res)
        assert.equal("protocol", r[i].err.kind)
      end
      for i = 3, 4 do
        local res = assert(r[i].res, r[i].err and r[i].err.message)
        assert.equal("ok", res.body)
      end
    end,
  },
  {
    name = "chunked trailers never reach the response headers",
    requests = { { method = "GET", raw = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Request-Id: real\r\n"
      .. "Connection: close\r\nTransfer-Encoding: chunked\r\nTrailer: Content-Type, X-Request-Id, Location\r\n\r\n"
      .. "2\r\n{}\r\n0\r\n"
      .. "Content-Type: text/html\r\nX-Request-Id: injected\r\nLocation: http://evil.invalid/\r\n\r\n" } },
    check = function(r)
      local res = assert(r[1].res, r[1].err and r[1].err.message)
      assert.equal("{}", res.body)
      assert.equal("application/json", res.headers["content-type"])
      assert.equal("real", res.headers["x-request-id"])
      assert.is_nil(res.headers.location)
    end,
  },
  {
    name = "a header value with a line break is refused as a programming error",
    requests = { { method = "GET", url = "/c/echo", headers = { ["X-A"] = "a\r\nX-Injected: 1" } } },
    check = function(r)
      assert.is_string(r[1].raised)
      assert.is_nil(r[1].res)
    end,
  },
  {
    name = "a method or header name that is not a token, or a HEAD with a body, is refused as a programming error",
    requests = { { method = "GET", url = "/c/echo", headers = { ["Bad Name"] = "x" } },
                 { method = "GET", url = "/c/echo", headers = { ["X:A"] = "x" } },
                 { method = "GE T", url = "/c/echo" },
                 { method = "HEAD", url = "/c/echo", body = "x" } },
    check = function(r)
      for i = 1, 4 do
        assert.is_string(r[i].raised, i)
        assert.is_nil(r[i].res)
      end
    end,
  },
  {
    name = "a URL that is not http(s) is refused as a programming error",
    requests = { { method = "GET", url = "ftp://127.0.0.1/x" }, { method = "GET", url = "/c/echo?a b" } },
    check = function(r)
      assert.is_string(r[1].raised)
      assert.is_string(r[2].raised)
    end,
  },
  {
    name = "the total timeout gives kind timeout",
    opts = { timeout = 0.3 },
    requests = { { method = "GET", url = "/c/slow?ms=3000" } },
    check = function(r, elapsed)
      assert.is_nil(r[1].res)
      assert.equal("timeout", r[1].err.kind)
      assert.is_string(r[1].err.message)
      assert.is_true(elapsed < 2, "took " .. elapsed .. " s")
    end,
  },
  {
    name = "a body that keeps trickling in ends at the total timeout",
    opts = { timeout = 1 },
    requests = { { method = "GET", url = "/c/trickle?n=40&ms=200" } },
    check = function(r, elapsed)
      assert.is_nil(r[1].res)
      assert.equal("timeout", r[1].err.kind)
      assert.is_true(r[1].err.sent)
      assert.is_true(elapsed < 2.5, "a 1 s timeout took " .. elapsed .. " s")
    end,
  },
  {
    name = "a status line and headers that trickle in end at the total timeout",
    opts = { timeout = 1 },
    requests = { { method = "GET", url = "/c/trickle?n=5&ms=50&head=1" } },
    check = function(r, elapsed)
      assert.is_nil(r[1].res)
      assert.equal("timeout", r[1].err.kind)
      assert.is_true(elapsed < 2.5, "a 1 s timeout took " .. elapsed .. " s")
    end,
  },
  {
    name = "a per-request timeout overrides the transport's",
    requests = { { method = "GET", url = "/c/slow?ms=3000", timeout = 0.3 } },
    check = function(r, elapsed)
      assert.equal("timeout", r[1].err.kind)
      assert.is_true(elapsed < 2, "took " .. elapsed .. " s")
    end,
  },
  {
    name = "connection refused gives kind network with sent = false",
    requests = { { method = "POST", url = "{REFUSED}/c/echo", body = "x" } },
    check = function(r)
      assert.is_nil(r[1].res)
      assert.equal("network", r[1].err.kind)
      assert.equal(false, r[1].err.sent)
    end,
  },
  {
    name = "a Content-Length body over max_response_bytes gives kind too_large",
    opts = { max_response_bytes = 1000 },
    requests = { { method = "GET", url = "/c/big?n=5000" }, { method = "GET", url = "/c/big?n=1000" } },
    check = function(r)
      assert.is_nil(r[1].res)
      assert.equal("too_large", r[1].err.kind)
      assert.equal(1000, #r[2].res.body)
    end,
  },
  {
    name = "a chunked body over max_response_bytes gives kind too_large",
    opts = { max_response_bytes = 1000 },
    requests = { { method = "GET", url = "/c/big?n=5000&chunked=1" } },
    check = function(r)
      assert.is_nil(r[1].res)
      assert.equal("too_large", r[1].err.kind)
    end,
  },
  {
    name = "send_many runs requests in parallel and keeps their order",
    mode = "many", concurrency = 5,
    requests = {
      { method = "GET", url = "/c/slow?ms=400" }, { method = "GET", url = "/c/chunked?n=1" },
      { method = "GET", url = "/c/slow?ms=400" }, { method = "GET", url = "/c/status/404" },
      { method = "GET", url = "/c/slow?ms=400" },
    },
    check = function(r, elapsed)
      assert.equal("slow\n", r[1].res.body)
      assert.equal("chunk-1;", r[2].res.body)
      assert.equal(404, r[4].res.status)
      assert.equal("slow\n", r[5].res.body)
      assert.is_true(elapsed < 1.1, "3 x 400 ms took " .. elapsed .. " s")
    end,
  },
  {
    name = "send_many reports each failure in its place",
    mode = "many",
    opts = { max_response_bytes = 1000 },
    requests = { { method = "GET", url = "{REFUSED}/x" }, { method = "GET", url = "/c/big?n=500" },
                 { method = "GET", url = "/c/big?n=5000" } },
    check = function(r)
      assert.equal("network", r[1].err.kind)
      assert.equal(500, #r[2].res.body)
      assert.equal("too_large", r[3].err.kind)
    end,
  },
  {
    name = "start returns pendings that run while the caller goes on",
    mode = "start",
    requests = { { method = "GET", url = "/c/slow?ms=500" }, { method = "GET", url = "/c/slow?ms=500" } },
    check = function(r, elapsed)
      assert.equal("slow\n", r[1].res.body)
      assert.equal("slow\n", r[2].res.body)
      assert.is_true(elapsed < 0.9, "2 x 500 ms took " .. elapsed .. " s") -- one after the other: 1 s
    end,
  },
  {
    name = "https with a trusted certificate",
    requests = { { method = "GET", url = "{TLS}/c/echo" } },
    check = function(r)
      local res = assert(r[1].res, r[1].err and r[1].err.message)
      assert.equal('{"tls":true}', res.body)
    end,
  },
  {
    name = "uses HTTP/2 when the server offers it over TLS",
    only = "libcurl", -- cosockets speak HTTP/1.1
    requests = { { method = "GET", url = "{TLS}/c/echo" } },
    check = function(r)
      local res = assert(r[1].res, r[1].err and r[1].err.message)
      assert.equal("2", res.http_version)
      assert.equal('{"tls":true}', res.body)
    end,
  },
  {
    name = "sends through the configured HTTP proxy",
    only = "libcurl", -- nginx cosockets have no proxy support; that transport refuses the option
    opts = { proxy = "{TEST_ORIGIN}" },
    requests = { { method = "GET", url = "http://api.example.invalid/c/echo?via=proxy" } },
    check = function(r)
      local res = assert(r[1].res, r[1].err and r[1].err.message)
      local echo = cjson.decode(res.body)
      assert.equal("api.example.invalid", echo.headers.host)
      assert.matches("/c/echo%?via=proxy$", echo.uri)
    end,
  },
  {
    name = "https with a certificate for another name gives kind tls",
    requests = { { method = "GET", url = "{WRONG_TLS}/c/echo" } },
    check = function(r)
      assert.is_nil(r[1].res)
      assert.equal("tls", r[1].err.kind)
      assert.equal(false, r[1].err.sent)
    end,
  },
  {
    -- as libcurl's: a host that takes the connection and stalls the handshake costs connect_timeout,
    -- not the attempt's whole timeout
    name = "connect_timeout covers the TLS handshake",
    opts = { connect_timeout = 0.5, timeout = 8 },
    requests = { { method = "GET", url = "{SILENT_TLS}/c/echo" } },
    check = function(r, elapsed)
      assert.is_nil(r[1].res)
      assert.equal("timeout", r[1].err.kind, r[1].err.message)
      assert.equal(false, r[1].err.sent)
      assert.is_true(elapsed >= 0.45 and elapsed < 4, "took " .. elapsed .. " s")
    end,
  },
  {
    name = "verify_tls = false accepts that certificate",
    opts = { verify_tls = false },
    requests = { { method = "GET", url = "{WRONG_TLS}/c/echo" } },
    check = function(r)
      assert.equal(200, assert(r[1].res, r[1].err and r[1].err.message).status)
    end,
  },
}

-- The requests of a case with absolute URLs for this server.
local function resolve(srv, requests)
  local out = {}
  for i, req in ipairs(requests) do
    local copy = {}
    for k, v in pairs(req) do copy[k] = v end
    copy.url = (req.url or "")
      :gsub("^{TLS}", "https://127.0.0.1:" .. srv.tls_port)
      :gsub("^{WRONG_TLS}", "https://127.0.0.1:" .. srv.wrong_tls_port)
      :gsub("^{REFUSED}", "http://127.0.0.1:" .. srv.refused_port)
      :gsub("^{SILENT_TLS}", "https://127.0.0.1:" .. srv.silent_port)
    if req.raw then
      copy.raw, copy.url = nil, "/c/raw?b64=" .. require("clinch.core").base64_encode(req.raw):gsub("[+/=]", {
        ["+"] = "%2B", ["/"] = "%2F", ["="] = "%3D" })
    end
    if copy.url:sub(1, 1) == "/" then copy.url = srv.test_origin .. copy.url end
    out[i] = copy
  end
  return out
end

local function case_opts(srv, case)
  local opts = { timeout = 10, connect_timeout = 5, ca_file = srv.certs .. "/127.0.0.1.crt" }
  for k, v in pairs(case.opts or {}) do opts[k] = v == "{TEST_ORIGIN}" and srv.test_origin or v end
  return opts
end

-- Runs the cases with `run(srv, opts, requests, mode, concurrency) -> results`.
local function contract(name, run, server_opts)
  local srv
  setup(function()
    srv = ns.start(server_opts)
    srv.refused_port = support.refusing_port()
    srv.silent_port = support.silent_port()
  end)
  teardown(function()
    if srv then srv.stop() end
  end)
  for _, case in ipairs(CASES) do
    if case.only and case.only ~= name then goto continue end
    it(case.name, function()
      local started = socket.gettime()
      local results = run(srv, case_opts(srv, case), resolve(srv, case.requests), case.mode or "send", case.concurrency)
      local elapsed = socket.gettime() - started
      assert.equal(#case.requests, #results)
      case.check(results, elapsed, srv)
    end)
    ::continue::
  end
end

describe("transport contract", function()
  describe("libcurl", function()
    local why = ns.server_unavailable()
    if why then
      it("needs nginx as its test server", function() pending(why) end)
      return
    end
    contract("libcurl", function(_, opts, requests, mode, concurrency)
      local t = require("clinch.transport.curl").new(opts)
      local results = {}
      if mode == "many" then
        for i, r in ipairs(t:send_many(requests, concurrency)) do results[i] = { res = r[1], err = r[2] } end
      elseif mode == "start" then
        local pending = {}
        for i, req in ipairs(requests) do pending[i] = t:start(req) end
        for i, p in ipairs(pending) do
          local res, err = p:wait()
          results[i] = { res = res, err = err }
        end
      else
        for i, req in ipairs(requests) do
          local ok, res, err = pcall(t.send, t, req)
          results[i] = ok and { res = res, err = err } or { raised = tostring(res) }
          if req.pause then socket.sleep(req.pause) end
        end
      end
      t:close()
      return results
    end, { server_only = true })
  end)

  describe("cosocket inside nginx #nginx", function()
    local why = ns.unavailable()
    if why then
      it("runs in the LuaJIT run", function() pending(why) end)
      return
    end
    contract("cosocket", function(srv, opts, requests, mode, concurrency)
      local status, _, body = ns.request(srv.test_origin, {
        method = "POST", path = "/t/send", timeout = 30,
        body = cjson.encode { opts = opts, requests = requests, mode = mode, concurrency = concurrency },
      })
      assert.equal(200, status, body)
      return cjson.decode(body).results
    end)
  end)
end)
