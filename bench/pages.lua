--- The pages of the bulk benchmarks' test server (bench/bulk_server.lua), generated once when nginx
-- starts: `GET /candidates?page=P&per_page=100` over `total` candidates, as the API answers it without
-- an include: every attribute of the benchmark fixture's candidates (bench/fixture.lua), relationships
-- with links only, links.self/first/last/prev/next and meta totals, so that `each` pages through them.
--
-- Candidate k (1-based, in page order) has an id whose first 8 hex digits are k, so a reader can check
-- it got every record once and in order (bench/bulk.lua does).
--
--   local pages = require "pages"               -- with bench/ on package.path
--   local list = pages.generate("http://127.0.0.1:8080/v1", 10000, 100)   -- list[p]: JSON text
local cjson = require "cjson"
local fixture = require "fixture"

local format, ceil = string.format, math.ceil

local _M = {}

local RELATIONSHIPS = { "social_profile", "notes", "jobs", "recent_location", "page_sessions", "resumes", "events",
  "static_lists" }

--- The id of candidate k: k in 8 hex digits, then the fixture's id (24 more digits).
function _M.id(k, fixture_id)
  return format("%08x", k) .. fixture_id:sub(9)
end

--- The index k a candidate id holds (see _M.id).
function _M.index(id)
  return tonumber(id:sub(1, 8), 16)
end

--- Returns the list of page texts (JSON) of `total` candidates, `per_page` a page, with links under
-- `base` (the API base URL: origin and path, as the client's base_url).
function _M.generate(base, total, per_page)
  local template = cjson.decode(fixture.page(per_page)).data
  local pages = ceil(total / per_page)
  local function url(p) return format("%s/candidates?page=%d&per_page=%d", base, p, per_page) end
  local out = {}
  for p = 1, pages do
    local data = {}
    for i = 1, math.min(per_page, total - (p - 1) * per_page) do
      local t = template[i]
      local id = _M.id((p - 1) * per_page + i, t.id)
      local self_url = base .. "/candidates/" .. id
      local rels = {}
      for _, name in ipairs(RELATIONSHIPS) do
        rels[name] = { links = { self = self_url .. "/relationships/" .. name, related = self_url .. "/" .. name } }
      end
      data[i] = { type = "candidates", id = id, attributes = t.attributes, relationships = rels,
                  links = { self = self_url } }
    end
    local links = { self = url(p), first = url(1), last = url(pages) }
    if p > 1 then links.prev = url(p - 1) end
    if p < pages then links.next = url(p + 1) end
    out[p] = cjson.encode {
      data = data, links = links, jsonapi = { version = "1.0" },
      meta = { total_count = total, total_pages = pages, current_page = p, per_page = per_page },
    }
  end
  return out
end

--- The page past the last one: no records, the same links and meta.
function _M.empty(base, total, per_page, p)
  local pages = ceil(total / per_page)
  local function url(n) return format("%s/candidates?page=%d&per_page=%d", base, n, per_page) end
  return format('{"data":[],"links":{"self":"%s","first":"%s","last":"%s"},'
    .. '"meta":{"total_count":%d,"total_pages":%d,"current_page":%d,"per_page":%d}}',
    url(p), url(1), url(pages), total, pages, p, per_page)
end

return _M
