--- The test server of the bulk benchmarks (bench/nginx.conf's bulk server, driven by bench/run.lua): an
-- API that adds LATENCY seconds to every request and is not itself the bottleneck (the pages are
-- generated once, when nginx starts, and served from memory; ngx.sleep does not hold up the worker).
--
--   GET  /v1/candidates?page=P&per_page=100   page P of TOTAL candidates (bench/pages.lua)
--   POST /v1/candidates                       201 and a small candidate document
--   GET  /limited/v1/candidates/ID            a small candidate document; while more than LIMIT requests
--                                             of /limited are in flight, 429 with Retry-After: 1 at once
--   GET  /limited/stats                       "served S refused R peak P in_flight F" since the last
--                                             reset (a POST to it resets them)
-- The client signs its requests; this server does not check the signatures.
-- luacheck: globals ngx
local pages = require "pages"

local format, tonumber = string.format, tonumber

local _M = {}

_M.LATENCY = 0.1
_M.TOTAL = 10000
_M.PER_PAGE = 100
_M.LIMIT = 4

local state = {} -- base, pages: filled by init (in nginx's master, before the worker forks)

--- Generates the pages (init_by_lua): `base` is the API base URL the links point at.
function _M.init(base)
  state.base = base
  state.pages = pages.generate(base, _M.TOTAL, _M.PER_PAGE)
end

local function small_doc(id)
  return format('{"data":{"type":"candidates","id":"%s","attributes":{"email":"bench.%s@example.com",'
    .. '"first_name":"Bench","last_name":"Candidate","created_at":{"utc":"2024-01-02T03:04:05Z",'
    .. '"epoch":1704164645}},"links":{"self":"%s/candidates/%s"}}}', id, id, state.base, id)
end

local function answer(status, body)
  ngx.status = status
  ngx.header["Content-Type"] = "application/vnd.api+json"
  ngx.print(body)
  return ngx.exit(status)
end

--- /v1/candidates: a page (GET) or a create (POST).
function _M.candidates()
  local method = ngx.req.get_method()
  if method == "POST" then
    ngx.req.read_body()
    ngx.sleep(_M.LATENCY)
    local n = ngx.shared.bench_bulk:incr("created", 1, 0)
    return answer(201, small_doc(format("c%031x", n)))
  end
  local args = ngx.req.get_uri_args()
  local p, per_page = tonumber(args.page or 1), tonumber(args.per_page)
  ngx.sleep(_M.LATENCY)
  if per_page ~= _M.PER_PAGE or not p or p < 1 or p % 1 ~= 0 then
    return answer(400, '{"errors":[{"status":"400","title":"bench server: per_page must be '
      .. _M.PER_PAGE .. ' and page a positive integer"}]}')
  end
  return answer(200, state.pages[p] or pages.empty(state.base, _M.TOTAL, _M.PER_PAGE, p))
end

--- /limited/v1/candidates/ID: at most LIMIT requests in flight; the one over it gets 429 at once.
function _M.limited()
  local dict = ngx.shared.bench_bulk
  local n = dict:incr("in_flight", 1, 0)
  if n > _M.LIMIT then
    dict:incr("in_flight", -1)
    dict:incr("refused", 1, 0)
    ngx.header["Retry-After"] = "1"
    return answer(429, '{"errors":[{"status":"429","title":"Too Many Requests"}]}')
  end
  local peak = dict:get("peak") or 0
  if n > peak then dict:set("peak", n) end
  ngx.sleep(_M.LATENCY)
  -- Out of the count before the answer leaves, so the client never sees more in flight than the server.
  dict:incr("in_flight", -1)
  dict:incr("served", 1, 0)
  return answer(200, small_doc(ngx.var.candidate_id))
end

--- /limited/stats: the counters (a POST zeroes them first).
function _M.limited_stats()
  local dict = ngx.shared.bench_bulk
  if ngx.req.get_method() == "POST" then
    for _, k in ipairs { "served", "refused", "peak" } do dict:set(k, 0) end
  end
  ngx.header["Content-Type"] = "text/plain"
  ngx.print(format("served %d refused %d peak %d in_flight %d", dict:get("served") or 0, dict:get("refused") or 0,
    dict:get("peak") or 0, dict:get("in_flight") or 0))
end

return _M
