-- Inside nginx: client:parallel runs its items in light threads, and shared_limit puts the client's
-- request budget in a lua_shared_dict, so that every worker of the server draws on it. The mock's
-- journal (how many requests it was holding when each arrived) is the proof.
local ns = require "nginx_support"
local support = require "support"
local cjson = require "cjson"

local CONF = [==[
lua_shared_dict clinch_budget 1m;

server {
    listen 127.0.0.1:@TEST_PORT@ reuseport;
    location = /healthz { return 200 "ok\n"; }
    location = /t/bulk {
        content_by_lua_block {
            local cjson = require "cjson"
            local args = ngx.req.get_uri_args()
            local opts = { key = "test-key", secret = "test-secret", base_url = args.base, retries = 3,
                           max_concurrency = tonumber(args.max) }
            if args.shared then opts.shared_limit = "clinch_budget" end
            local client = require("clinch").new(opts)
            local ids = {}
            for id in args.ids:gmatch("[^,]+") do ids[#ids + 1] = id end
            ngx.update_time()
            local t0 = ngx.now()
            local res = client:parallel(ids, function(id) return client.candidates:get(id) end,
                                        { concurrency = tonumber(args.conc) })
            ngx.update_time()
            local ok, seen = 0, {}
            for i, r in ipairs(res) do
                if r.id == ids[i] then ok = ok + 1 else seen[#seen + 1] = tostring(r) end
            end
            ngx.print(cjson.encode { ok = ok, worker = ngx.worker.id(), elapsed = ngx.now() - t0,
                                     errors = seen })
        }
    }
    # the first jitter draw of a client made in this worker (its backoff's random source)
    location = /t/jitter {
        content_by_lua_block {
            local client = require("clinch").new { key = "k", secret = "s", base_url = "http://127.0.0.1:9/v1" }
            ngx.print(require("cjson").encode { worker = ngx.worker.id(), draw = client.random() })
        }
    }
}
]==]

describe("client:parallel inside nginx #nginx", function()
  local why = ns.unavailable()
  if why then
    it("runs in the LuaJIT run", function() pending(why) end)
    return
  end

  local mock, srv, ids
  setup(function()
    mock = support.start_mock { "--candidates", "30" }
    srv = ns.start { conf = CONF, workers = 2, base_url = mock.base_url }
    local client = require("clinch").new { key = "test-key", secret = "test-secret", base_url = mock.base_url }
    ids = {}
    for cand in client.candidates:each { per_page = 30 } do ids[#ids + 1] = cand.id end
    client:close()
  end)
  teardown(function()
    if srv then srv.stop() end
    if mock then mock.stop() end
  end)
  before_each(function()
    mock.control("DELETE", "faults")
    mock.control("DELETE", "requests")
    mock.control("POST", "faults", { kind = "latency", ms = 300, count = -1 })
  end)

  local function bulk(n, conc, max, shared, first)
    local list = table.concat(ids, ",", first or 1, (first or 1) + n - 1)
    return "/t/bulk?base=" .. mock.base_url .. "&conc=" .. conc .. "&max=" .. max .. "&ids=" .. list
      .. (shared and "&shared=1" or "")
  end

  -- The most requests the mock held at once, from its journal.
  local function most_held()
    local most = 0
    for _, r in ipairs(mock.control("GET", "requests").requests) do
      if r.in_flight then most = math.max(most, r.in_flight + 1) end
    end
    return most
  end

  it("runs the items in light threads: 16 gets at concurrency 8 take about two latencies", function()
    local status, _, body = ns.request(srv.test_origin, { path = bulk(16, 8, 8), timeout = 30 })
    assert.equal(200, status, body)
    local out = cjson.decode(body)
    assert.equal(16, out.ok, body)
    assert.is_true(out.elapsed > 0.55 and out.elapsed < 2.0, "took " .. out.elapsed .. " s")
  end)

  it("shares one budget across the workers with shared_limit, each client its own without", function()
    -- Rounds of 8 concurrent jobs until both workers took part (reuseport spreads the connections).
    local function load(shared)
      for _ = 1, 5 do
        mock.control("DELETE", "requests")
        local results = ns.concurrent(srv.test_origin, { path = bulk(6, 6, 3, shared, 1), timeout = 60 }, 8)
        local workers = {}
        for _, r in ipairs(results) do
          assert.equal(200, r.status, r.body)
          local out = cjson.decode(r.body)
          assert.equal(6, out.ok, r.body)
          workers[out.worker] = true
        end
        if workers[0] and workers[1] then return most_held() end
      end
      error("every round ran in one worker")
    end
    local shared_most = load(true)
    local own_most = load(false)
    assert.is_true(shared_most <= 3, "with a shared budget of 3 the mock held " .. shared_most .. " at once")
    -- without it, each client keeps its own 3 in flight: the mock holds more than one budget's worth
    assert.is_true(own_most > 3, "without shared_limit the mock held at most " .. own_most)
  end)

  it("gives each worker its own retry jitter (workers fork with the same math.random state)", function()
    local first = {}
    for _ = 1, 200 do
      local status, _, body = ns.request(srv.test_origin, { path = "/t/jitter" }) -- a new connection each
      assert.equal(200, status, body)
      local r = cjson.decode(body)
      if first[r.worker] == nil then first[r.worker] = r.draw end
      if first[0] ~= nil and first[1] ~= nil then break end
    end
    assert.is_number(first[0], "worker 0 answered")
    assert.is_number(first[1], "worker 1 answered")
    assert.are_not.equal(first[0], first[1])
    for w = 0, 1 do assert.is_true(first[w] >= 0 and first[w] < 1) end
  end)
end)
