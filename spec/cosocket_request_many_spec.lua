-- client:request_many through the cosocket transport inside nginx, against the fault server's
-- `alternate` fault (every other request reset after its body): the writes of a parallel batch, on
-- pooled connections that keep dying under them, still arrive at most once, and each answer is the
-- response or an error that admits the write may have arrived. (The libcurl version of this case is
-- in spec/fault_matrix_spec.lua.)
local fault_server = require "fault_server"
local ns = require "nginx_support"
local cjson = require "cjson"

local COUNT = 200

describe("cosocket request_many against a server resetting every other request #nginx", function()
  local why = ns.unavailable()
  if why then
    it("runs in the LuaJIT run", function() pending(why) end)
    return
  end
  local fs, srv
  setup(function()
    fs = fault_server.start()
    srv = ns.start()
  end)
  teardown(function()
    if srv then srv.stop() end
    if fs then fs.stop() end
  end)

  it("sends each of " .. COUNT .. " POSTs at most once; each gives its response or an error with sent = true",
    function()
      local steps, body_of = {}, {}
      for i = 1, COUNT do
        local tag = "many-" .. i
        body_of[tag] = cjson.encode { data = { type = "probe", attributes = { tag = tag } } }
        steps[i] = { method = "POST", path = fs.path("alternate", tag), body = body_of[tag] }
      end
      local status, _, body = ns.request(srv.test_origin, {
        method = "POST", path = "/t/client-many", timeout = 120,
        body = cjson.encode { opts = { base_url = fs.origin, retries = 0, timeout = 10, connect_timeout = 5 },
                              steps = steps },
      })
      assert.equal(200, status, body)
      local results = cjson.decode(body).results
      assert.equal(COUNT, #results)

      local arrivals = {}
      for _, e in ipairs(fs.received()) do
        local tag = e.path:match("^/f/alternate/(.*)$")
        if tag then
          assert.equal("POST", e.method)
          assert.equal(body_of[tag], e.body)
          local list = arrivals[tag] or {}
          list[#list + 1] = e
          arrivals[tag] = list
        end
      end
      local ok, failed = 0, 0
      for i, r in ipairs(results) do
        local tag = "many-" .. i
        local got = arrivals[tag] or {}
        assert.is_true(#got <= 1, tag .. " reached the server " .. #got .. " times")
        if r.ok then
          ok = ok + 1
          assert.equal(200, r.status)
          assert.equal(1, r.attempts)
          -- the response is the one the server sent for this request
          assert.equal(1, #got, tag .. ": a response the server never sent")
          assert.equal("ok", got[1].action)
          assert.equal(got[1].conn, r.attrs.conn)
          assert.equal(got[1].nreq, r.attrs.nreq)
        else
          failed = failed + 1
          assert.is_true(r.sent, tag .. ": " .. tostring(r.text))
          assert.equal("network", r.kind, tag .. ": " .. tostring(r.text))
          assert.equal(1, r.attempts)
          assert.is_nil(r.text:find("%c"), r.text)
        end
      end
      -- the fault played: both outcomes occurred
      assert.is_true(ok > 0 and failed > 0, ok .. " responses, " .. failed .. " errors")
    end)
end)
