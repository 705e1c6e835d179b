-- Honest errors: an error response of any JSON shape gives nil, err (and `each` raises the error object,
-- never a string); messages and tostring are one line without control or bidi characters; `sent`
-- says whether the request may have reached the server; a replay after a dead kept-alive connection
-- obeys `retries`. Against the suite's fault server (spec/fault_server.lua), whose log is the proof.
local fault_server = require "fault_server"
local clinch = require "clinch"
local errors = require "clinch.errors"
local text = require "clinch.text"
local support = require "support"

-- Bytes a terminal or a reader would be fooled by: ASCII controls, C1 controls, bidi and line separators.
local FOOLING = { "[%c]", "\194[\128-\159]", "\216\156", "\226\128[\142\143\168-\174]", "\226\129[\166-\169]" }

local function assert_one_line(s, what)
  for _, pat in ipairs(FOOLING) do
    assert.is_nil(s:find(pat), (what or "") .. ": " .. s:gsub("[%c\128-\255]", "?"))
  end
end

describe("error answers", function()
  local fs, client
  setup(function()
    fs = fault_server.start()
    client = clinch.new { key = "k", secret = "s", base_url = fs.origin, retries = 0 }
  end)
  teardown(function()
    if client then client:close() end
    if fs then fs.stop() end
  end)

  describe("an error body of any JSON shape", function()
    for name in pairs(fault_server.ERROR_BODIES) do
      it("gives nil, err for " .. name, function()
        local ok, res, err = pcall(client.request, client, "GET", fs.path("errbody", name))
        assert.is_true(ok, tostring(res))
        assert.is_nil(res)
        assert.is_true(errors.is(err))
        assert.equal("http", err.kind)
        assert.equal(500, err.status)
        assert.is_true(err.sent)
        assert.is_string(err.message)
        assert.is_true(#err.message > 0)
        assert_one_line(err.message, name)
        assert_one_line(tostring(err), name)
      end)
    end

    it("takes the message from the first error object, skipping what is not one", function()
      local _, err = client:request("GET", fs.path("errbody", "mixed"))
      assert.equal("Second", err.message)
      assert.same({ 7, { title = "Second" } }, err.errors)
    end)

    it("makes each raise the error object, not a string", function()
      local coll = client:resource("f/errbody/numbers")
      local ok, raised = pcall(function()
        for _ in coll:each {} do end
      end)
      assert.is_false(ok)
      assert.is_true(errors.is(raised), tostring(raised))
      assert.equal(500, raised.status)
    end)
  end)

  describe("messages", function()
    it("lose CR, LF and escape sequences from the server", function()
      local _, err = client:request("GET", fs.path("errbody", "crlf"))
      assert.equal("Bad  clinch: all good: line break [31m", err.message)
      assert_one_line(tostring(err))
    end)

    it("show bidi controls and C1 controls as U+FFFD", function()
      local _, err = client:request("GET", fs.path("errbody", "bidi"))
      local r = text.REPLACEMENT
      assert.equal("invoice" .. r .. "gpj.exe: a" .. r .. "b" .. r .. "c" .. r .. "d" .. r .. "e", err.message)
      assert_one_line(tostring(err))
    end)

    it("stay one line when a caller sets fields after creation", function()
      local e = errors.new { kind = "http", message = "a\nb" }
      e.message, e.request_id = "x\r\ny\226\128\174z", "id\n2"
      assert_one_line(tostring(e))
      assert.equal("a b", errors.new { kind = "http", message = "a\nb" }.message)
    end)
  end)

  describe("sent", function()
    it("is false for a request refused before sending", function()
      local _, err = client.candidates:create { email = "not an email" }
      assert.equal("validation", err.kind)
      assert.is_false(err.sent)
      local _, terr = client.candidates:list { filter = { updated_at = { gte = "yesterday" } } }
      assert.equal("validation", terr.kind)
      assert.is_false(terr.sent)
    end)

    it("is false when the connection was refused, true once the server answered", function()
      local refused = clinch.new { key = "k", secret = "s", retries = 0,
                                   base_url = "http://127.0.0.1:" .. support.refusing_port() }
      local _, err = refused:request("POST", "/x", { body = "{}" })
      refused:close()
      assert.equal("network", err.kind)
      assert.is_false(err.sent)
      local _, herr = client:request("POST", fs.path("status", "sent-503", "code=503"), { body = "{}" })
      assert.is_true(herr.sent)
      assert.equal(503, herr.status)
    end)
  end)

  describe("a replay after a dead kept-alive connection", function()
    it("is an attempt that retries = 0 does not allow", function()
      assert(client:request("GET", fs.path("ok", "replay0-warm")))
      local res, err = client:request("GET", fs.path("close-reused", "replay0"))
      assert.is_nil(res)
      assert.equal("network", err.kind)
      assert.equal(1, err.attempts)
      assert.is_true(err.sent)
      assert.equal(1, #fs.received("replay0"))
    end)

    it("is counted in attempts when retries allow it, and logged as one", function()
      local events = {}
      local c = clinch.new { key = "k", secret = "s", base_url = fs.origin, retries = 1,
                             logger = function(e) events[#events + 1] = e end }
      assert(c:request("GET", fs.path("ok", "replay1-warm")))
      local res = assert(c:request("DELETE", fs.path("close-reused", "replay1")))
      c:close()
      assert.equal(2, res.attempts)
      assert.equal(2, #fs.received("replay1"))
      local attempts = {}
      for _, e in ipairs(events) do
        if e.event == "request" and e.uri:find("replay1$") then attempts[#attempts + 1] = e.attempt end
      end
      assert.same({ 1, 2 }, attempts)
    end)
  end)

  describe("kinds", function()
    it("are constants; a misspelt one raises", function()
      assert.equal("network", errors.KIND.network)
      assert.equal("protocol", errors.KIND.protocol)
      assert.has_error(function() return errors.KIND.netwrok end, "clinch.errors: unknown error kind 'netwrok'")
      assert.has_error(function() errors.new { kind = "bogus" } end, "errors.new: unknown error kind 'bogus'")
      for kind, what in pairs(errors.DESCRIPTION) do
        assert.equal(kind, errors.KIND[kind])
        assert.is_string(what)
      end
    end)

    it("of a plugged-in transport are kept when known, network otherwise", function()
      for given, want in pairs { timeout = "timeout", weird = "network", protocol = "protocol" } do
        local c = clinch.new { key = "k", secret = "s", base_url = "http://127.0.0.1:9", retries = 0,
          transport = function() return nil, { kind = given, message = "m" } end }
        local _, err = c:request("GET", "/x")
        assert.equal(want, err.kind)
        assert.is_true(err.sent)
      end
    end)
  end)
end)
