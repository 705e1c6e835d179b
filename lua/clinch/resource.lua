--- Collections: the list / each / get machinery shared by every resource (the registered ones,
-- client.candidates, client.jobs, client.lists, and any other path through client:resource), and the
-- definition of a registered resource (resource.define, used by the files of lua/clinch/resources/).
--
--    local jobs = client.jobs
--    local page = assert(jobs:list { per_page = 50, include = { "categories" } })
--    for _, job in ipairs(page) do ... end          -- page.meta, page.links, page.included
--    page = page:next()                              -- the next page, nil after the last one
--    page:prefetch()                                 -- start fetching the next page now
--    for job in jobs:each { per_page = 100, prefetch = true } do ... end
--    for job in jobs:each { per_page = 100, concurrency = 4 } do ... end   -- up to 4 pages in flight
--    local job = assert(jobs:get("4aa454fa42106969bc4a6ea2366262e5"))
--    assert(job:reload { include = { "categories" } })
--
-- Pagination: a page's `links.next` is followed when the response has pagination links (the next
-- link is made relative to the client's base URL, its query bytes kept as sent by the server, and a
-- link to another origin or outside the base path is refused); without pagination links the next
-- page is `page + 1`, asked for until a page is empty or shorter than `per_page`, or meta's
-- current_page reaches total_pages. Pagination cannot loop: a next link (or page number) already
-- visited by this walk, or a page holding the same ids as the page before it, ends the walk with an
-- error of kind "http" ("pagination loops back to page N").
--
-- Text: lua-cjson passes invalid UTF-8 through, so a page whose body is not valid UTF-8 has its decoded
-- strings (and keys) made valid, each ill-formed sequence replaced by U+FFFD (clinch.text.valid); `id`
-- and `type` are kept as sent, since jsonapi.raw(resource) finds the original object (bytes as sent)
-- by them. `resource.replaced(r)` tells which fields of a resource were changed. A body that is valid
-- UTF-8 (the usual case) costs one scan of it (see valid_body).
-- @module clinch.resource
local type, pairs, ipairs, tostring, tonumber, error, setmetatable, getmetatable, next, floor, rawget, rawset,
  select, require = type, pairs, ipairs, tostring, tonumber, error, setmetatable, getmetatable, next, math.floor,
  rawget, rawset, select, require
local format, concat, sort, find, byte, sub, gsub = string.format, table.concat, table.sort, string.find,
  string.byte, string.sub, string.gsub
local check = require "clinch.check"
local contract = require "clinch.contract"
local errors = require "clinch.errors"
local text = require "clinch.text"
local time = require "clinch.time"
local uri = require "clinch.uri"
local validate = require "clinch.validate"

local _M = {}

local fail = validate.fail
local arg = check.arg -- programming mistakes raise at the user's line
local number_text = text.number

-- The query parameters of the list options, as the contract names them: paging (page, per_page),
-- include (every include parameter of the contract has the one name: spec/contract_spec.lua) and the
-- deepObject filter.
local INCLUDE = contract.parameters.candidateInclude.name
local FILTER = contract.parameters.candidateFilter.name
local PAGE = contract.parameters.page.name
local PAGING = { page = PAGE, per_page = contract.parameters.perPage.name }
local PAGE_IN_LINK = "[?&]" .. gsub(PAGE, "%p", "%%%0") .. "=(%d+)"

--- Collection methods (`list`, `each`, `get`); candidates.lua extends this table.
local Collection = {}
Collection.__index = Collection
Collection.__name = "clinch.collection"
_M.Collection = Collection

Collection.__tostring = function(self)
  return "clinch.collection " .. self.path
end

--- Page methods. A page's array part holds the resources, so methods live in the metatable and the
-- page's own string keys are data only: `meta`, `links`, `included`.
local Page = {}
local page_mt = { __index = Page, __name = "clinch.page" }
page_mt.__tostring = function(p)
  return format("clinch.page %s (%d items)", tostring(p.links and p.links.self or ""), #p)
end
_M.Page = Page

-- Per-page bookkeeping (collection, request target, page number, prefetch) kept out of the page's
-- namespace. Weak keys: a dropped page takes its state with it.
local state = setmetatable({}, { __mode = "k" })

-- Option names each method accepts; anything else is a programming mistake (most often a typo).
-- Every call also takes the per-request options `timeout` and `retries` (see request_opts).
local LIST_OPTS = { include = true, filter = true, page = true, per_page = true, query = true,
                    allow_unknown = true, timeout = true, retries = true }
local EACH_OPTS = { prefetch = true, concurrency = true }
for k in pairs(LIST_OPTS) do EACH_OPTS[k] = true end
local GET_OPTS = { include = true, query = true, timeout = true, retries = true }

-- The names of a set, sorted and joined for messages.
local function names_of(set)
  local names = {}
  for name in pairs(set) do names[#names + 1] = name end
  sort(names)
  return concat(names, ", ")
end

--- Checks a call's options against the set of names it takes -> the options ({} for nil), or nil and
-- the message for a programming mistake (not a table, an unknown name).
-- @local
function _M.options(opts, allowed, fname)
  if opts == nil then return {} end
  if type(opts) ~= "table" then return nil, fname .. ": options must be a table" end
  for k in pairs(opts) do
    if not allowed[k] then
      return nil, fname .. ": unknown option '" .. tostring(k) .. "' (valid: " .. names_of(allowed) .. ")"
    end
  end
  return opts
end

--- The same check for a public entry point: raises the mistake at the user's line.
-- @local
function _M.check_opts(opts, allowed, fname)
  local checked, why = _M.options(opts, allowed, fname)
  arg(checked, why)
  return checked
end

--- The per-request options of a call's (already name-checked) options, for client:request:
-- { timeout =, retries = } or nil when neither is given. Wrong values raise at the user's line.
-- @local
function _M.request_opts(opts, fname)
  local timeout, retries = opts.timeout, opts.retries
  if timeout == nil and retries == nil then return nil end
  arg(timeout == nil or (type(timeout) == "number" and timeout == timeout and timeout > 0 and timeout ~= 1 / 0),
    fname .. ": timeout must be a positive number of seconds")
  arg(retries == nil or (type(retries) == "number" and retries >= 0 and retries == floor(retries)
                         and retries ~= 1 / 0), fname .. ": retries must be a non-negative integer")
  return { timeout = timeout, retries = retries }
end

--- true, or nil and the message, for a resource id: a non-empty string (a number is a mistake too,
-- since ids in this API are opaque strings).
-- @local
function _M.valid_id(id, fname)
  if type(id) == "string" and id ~= "" then return true end
  return nil, fname .. ": id must be a non-empty string, got " .. (id == "" and "an empty string" or type(id))
end

--- Raises at the user's line unless `id` is a usable resource id.
-- @local
function _M.check_id(id, fname)
  arg(_M.valid_id(id, fname))
end

local function positive_integer(v, name)
  local n = v
  if type(n) == "string" and n:match("^%d+$") then n = tonumber(n) end
  if type(n) ~= "number" or n ~= floor(n) or n < 1 or n >= 2 ^ 53 then
    return fail(name .. " must be a positive integer, got " .. tostring(v), name)
  end
  return number_text(n)
end

-- A filter value as query text. `want` is the JSON type the contract gives the filtered attribute
-- (a number for email is never meant: nil, err), nil when it gives none.
local function scalar(v, what, want)
  local tv = type(v)
  if want == "string" and tv ~= "string" then
    return fail(what .. " must be a string, got " .. tv, "filter")
  end
  if tv == "string" then
    if not validate.utf8(v) then return fail(what .. " is not valid UTF-8", "filter") end
    return v
  elseif tv == "number" then
    local s, why = number_text(v)
    if not s then return fail(what .. ": " .. why, "filter") end
    return s
  elseif tv == "boolean" then
    return tostring(v)
  end
  return fail(what .. " must be a string, number or boolean, got " .. tv, "filter")
end

-- Builds the `filter` query table (deepObject: filter[field][operator]=value). Fields the collection's
-- filter schema marks as times, and for other collections any field ending in "_at", take time values
-- (see clinch.time). With a filter schema, fields and operators are checked unless allow_unknown.
local function build_filter(filter, filters, allow_unknown)
  if type(filter) ~= "table" then return fail("filter must be a table, got " .. type(filter), "filter") end
  local out = {}
  for field, ops in pairs(filter) do
    if type(field) ~= "string" or field == "" then return fail("filter: field names must be strings", "filter") end
    local spec = filters and filters[field]
    if filters and not spec and not allow_unknown then
      local names = {}
      for name in pairs(filters) do names[#names + 1] = name end
      return fail("filter: unknown field '" .. field .. "'; valid fields: " .. validate.listing(names)
        .. " (allow_unknown = true sends it anyway)", "filter")
    end
    local is_time = (spec and spec.time) or (not spec and field:match("_at$") ~= nil)
    local function value(v, what)
      if is_time then
        local s, err = time.format(v)
        if not s then
          err.message, err.field = what .. ": " .. err.message, "filter"
          return nil, err
        end
        return s
      end
      return scalar(v, what, spec and spec.value)
    end
    if type(ops) == "table" and ops.epoch == nil and ops.year == nil then
      local o = {}
      for op, v in pairs(ops) do
        if type(op) ~= "string" or not op:match("^[%w_]+$") then
          return fail("filter[" .. field .. "]: operator names must be words, got " .. tostring(op), "filter")
        end
        if spec and not allow_unknown then
          local known = false
          for _, name in ipairs(spec.operators) do if name == op then known = true end end
          if not known then
            return fail("filter[" .. field .. "]: unknown operator '" .. op .. "'; valid operators: "
              .. validate.listing(spec.operators), "filter")
          end
        end
        local s, err = value(v, "filter[" .. field .. "][" .. op .. "]")
        if not s then return nil, err end
        o[op] = s
      end
      if next(o) then out[field] = o end
    else
      if spec and not allow_unknown then
        return fail("filter[" .. field .. "] takes operators, e.g. { " .. spec.operators[1] .. " = ... }",
          "filter")
      end
      local s, err = value(ops, "filter[" .. field .. "]")
      if not s then return nil, err end
      out[field] = s
    end
  end
  return out
end

--- Validates list/get options and returns the query table for clinch.uri.build, or nil, err.
-- @local
function Collection:_query(opts)
  local q = {}
  if opts.include ~= nil then
    local list, err = validate.include(opts.include, self.includes)
    if not list then return nil, err end
    if #list > 0 then q[INCLUDE] = list end
  end
  if opts.filter ~= nil then
    local f, err = build_filter(opts.filter, self.filters, opts.allow_unknown)
    if not f then return nil, err end
    if next(f) then q[FILTER] = f end
  end
  for name, param in pairs(PAGING) do
    if opts[name] ~= nil then
      local s, err = positive_integer(opts[name], name)
      if not s then return nil, err end
      q[param] = s
    end
  end
  if opts.query ~= nil then
    if type(opts.query) ~= "table" then return fail("query must be a table", "query") end
    for k, v in pairs(opts.query) do
      if q[k] ~= nil then return fail("query: '" .. tostring(k) .. "' is set by another option", "query") end
      q[k] = v
    end
  end
  return q
end

-- resource -> { field = replacements } for resources whose text was made valid UTF-8. Weak keys.
local replaced_fields = setmetatable({}, { __mode = "k" })

--- Which fields of a decoded resource had ill-formed UTF-8 replaced by U+FFFD: a table
-- { field = number of replacements } (a nested value counts under its top-level field), or nil.
-- @tparam table resource a resource of a response
-- @treturn table|nil the replacement counts by field, or nil when nothing was replaced
-- @raise nothing
function _M.replaced(resource)
  return replaced_fields[resource]
end

local valid_text = text.valid

-- A linkage stub ({ id =, type = } and nothing else): its id and type are the server's, kept as sent.
local function is_stub(t)
  if type(t.id) ~= "string" or type(t.type) ~= "string" then return false end
  for k in next, t do
    if k ~= "id" and k ~= "type" then return false end
  end
  return true
end

-- Makes the strings and keys of a decoded value valid UTF-8 in place (resource tables and stubs are
-- left to their own pass) -> the value, the number of replacements.
local function repair(v, resources, seen)
  if type(v) == "string" then return valid_text(v) end
  if type(v) ~= "table" or seen[v] or resources[v] then return v, 0 end
  seen[v] = true
  if is_stub(v) then return v, 0 end
  local n, bad_keys = 0, nil
  for k, x in next, v do
    local fixed, c = repair(x, resources, seen)
    if c > 0 then
      v[k] = fixed -- assigning to an existing field is allowed during next()
      n = n + c
    end
    if type(k) == "string" and find(k, "[\128-\255]") then
      bad_keys = bad_keys or {}
      bad_keys[#bad_keys + 1] = k
    end
  end
  for _, k in ipairs(bad_keys or {}) do
    local good, c = valid_text(k)
    if c > 0 then
      -- Two keys that differ only in their bad bytes become one; the first one kept wins.
      if v[good] == nil then v[good] = v[k] end
      v[k] = nil
      n = n + c
    end
  end
  return v, n
end

-- True when a response body is valid UTF-8: lua-cjson refuses invalid \u escapes, so its decoded strings
-- are then valid too. Lua 5.3+'s utf8.len is the fastest check plain Lua has (string.find with a byte
-- class is five times slower); LuaJIT compiles the byte loop.
local utf8_len = rawget(_G, "utf8") and utf8.len
local function valid_body(body)
  if utf8_len then return utf8_len(body) ~= nil end
  for i = 1, #body do
    if byte(body, i) >= 0x80 then return validate.utf8(sub(body, i)) end
  end
  return true
end

-- Documents whose text was checked (a document may be read more than once). Weak keys.
local checked = setmetatable({}, { __mode = "k" })

-- Makes a document's decoded text valid UTF-8 when its body is not (see the module comment).
local function repair_document(res, doc)
  local body = res.body
  if type(body) ~= "string" or valid_body(body) then return end
  local resources, list = {}, {}
  local function add(r)
    if type(r) == "table" and not resources[r] then
      resources[r] = true
      list[#list + 1] = r
    end
  end
  local data = doc.data
  if type(data) == "table" then
    if data.id ~= nil or data.type ~= nil then add(data) else for _, r in ipairs(data) do add(r) end end
  end
  if type(doc.included) == "table" then for _, r in ipairs(doc.included) do add(r) end end
  local seen = {}
  for _, r in ipairs(list) do
    local counts, keys = nil, {}
    for k in next, r do
      if k ~= "id" and k ~= "type" then keys[#keys + 1] = k end
    end
    for _, k in ipairs(keys) do
      local fixed, c = repair(r[k], resources, seen)
      local name = k
      if type(k) == "string" then
        local good, kc = valid_text(k)
        if kc > 0 then
          r[k] = nil
          if r[good] == nil then r[good] = fixed end
          name, c = good, c + kc
        elseif c > 0 then
          r[k] = fixed
        end
      elseif c > 0 then
        r[k] = fixed
      end
      if c > 0 then
        counts = counts or {}
        counts[name] = (counts[name] or 0) + c
      end
    end
    if counts then replaced_fields[r] = counts end
  end
  repair(doc.meta, resources, seen)
  repair(doc.links, resources, seen)
end

-- Error for a successful response that does not hold the document the operation needs.
local function shape_error(res, what)
  return nil, errors.new {
    kind = "decode", status = res.status, request = res.request, sent = true,
    method = res.request and res.request.method, message = "expected " .. what .. " in the response",
  }
end
_M.shape_error = shape_error

--- The JSON:API document of a response, or nil, err when the body held none.
-- @local
function _M.document(res)
  local doc = res.document
  if type(doc) ~= "table" then return shape_error(res, "a JSON:API document") end
  if not checked[doc] then
    checked[doc] = true
    repair_document(res, doc)
  end
  return doc
end

local function origin_key(origin)
  local scheme, host, port = origin:lower():match("^(https?)://([^/:]+):?(%d*)$")
  if not scheme then return origin:lower() end
  if port == "" then port = scheme == "https" and "443" or "80" end
  return scheme .. "://" .. host .. ":" .. tonumber(port)
end

-- Bytes the client accepts unencoded in a request target; others (a raw "[" or space in a server's
-- link) are percent-encoded, which is what a browser or curl would put on the wire anyway. Existing
-- escapes are kept byte for byte.
local function encode_loose(s)
  return (s:gsub("[^%w%-%._~!%$&'%(%)%*%+,;=:@/%?%%]", function(c)
    return format("%%%02X", c:byte())
  end))
end

--- Turns a pagination link (absolute, or origin-relative) into a request target relative to the
-- client's base URL, keeping its query. Returns the target or nil, err.
-- @local
function _M.relative_link(client, link)
  local origin, rest = link:match("^([Hh][Tt][Tt][Pp][Ss]?://[^/?#]+)(.*)$")
  if origin then
    if origin_key(origin) ~= origin_key(client.origin) then
      return nil, errors.new { kind = "redirect", location = link, sent = false,
        message = "pagination link points to another origin; not followed: " .. link }
    end
  elseif link:sub(1, 1) == "/" and link:sub(2, 2) ~= "/" then
    rest = link
  else
    return nil, errors.new { kind = "decode", message = "unsupported pagination link: " .. link, sent = false }
  end
  rest = rest:gsub("#.*$", "")
  local base = client.base_path or ""
  local after = rest:sub(#base + 1, #base + 1)
  if rest:sub(1, #base) ~= base or (after ~= "/" and after ~= "") then
    return nil, errors.new { kind = "redirect", location = link, sent = false,
      message = "pagination link is outside the API base path " .. base .. ": " .. link }
  end
  local target = rest:sub(#base + 1)
  if target == "" or target:sub(1, 1) ~= "/" then target = "/" .. target end
  return encode_loose(target)
end

local function link_href(v)
  if type(v) == "table" then v = v.href end
  if type(v) == "string" and v ~= "" then return v end
  return nil
end

local PAGINATION_LINKS = { "next", "prev", "first", "last" }

-- The error that ends a walk whose next page is one it has been to (`number`).
local function loop_error(number, detail, sent)
  return errors.new { kind = "http", sent = sent,
                      message = format("pagination loops back to page %d (%s)", number, detail) }
end

-- The ids of a page as a set, and their number.
local function id_set(page)
  local set, n = {}, 0
  for i = 1, #page do
    local id = type(page[i]) == "table" and page[i].id
    if id ~= nil and not set[id] then set[id], n = true, n + 1 end
  end
  return set, n
end

-- True when two pages hold the same (non-empty) set of ids: a server that ignores the page asked for.
local function same_ids(a, b)
  if #a == 0 or #a ~= #b then return false end
  local set, n = id_set(a)
  local other, m = id_set(b)
  if n ~= m then return false end
  for id in next, other do
    if not set[id] then return false end
  end
  return true
end

-- Works out the request target of the page after `page`: a string, false when there is none, or
-- nil, err when the server's link cannot be followed or leads back to a page of this walk.
local function next_target(page)
  local st = state[page]
  -- An empty page ends the walk, a next link or not: a server linking on past its last page would
  -- otherwise be followed forever (each link a new page, which no loop check catches).
  local count = #page
  if count == 0 then return false end
  local links = page.links
  if type(links) == "table" then
    local href = link_href(links.next)
    if href then
      local target, err = _M.relative_link(st.collection.client, href)
      if not target then return nil, err end
      local number = tonumber(href:match(PAGE_IN_LINK))
      local back = st.walk.targets[target] or (number and st.walk.numbers[number])
      if back then return nil, loop_error(back, "the next link of page " .. st.number .. " is " .. href, false) end
      return target, number
    end
    for _, name in ipairs(PAGINATION_LINKS) do
      -- The server paginates with links and gave no next one: this was the last page.
      if link_href(links[name]) then return false end
    end
  end
  local meta = page.meta
  if type(meta) == "table" and type(meta.total_pages) == "number" and type(meta.current_page) == "number"
    and meta.current_page >= meta.total_pages then
    return false
  end
  if st.per_page and count < st.per_page then return false end
  local q = {}
  for k, v in pairs(st.query) do q[k] = v end
  local number = st.number + 1
  if st.walk.numbers[number] then
    return nil, loop_error(number, "page " .. st.number .. " is followed by page " .. number, false)
  end
  q[PAGE] = number_text(number)
  return uri.build(st.collection.path, q), number
end

-- Makes a Page out of a response. `walk` is the pagination walk it belongs to ({ targets = { target =
-- number }, numbers = { number = number } }: what it has visited), new for a first page.
function Collection:_page(res, target, query, number, ropts, walk)
  local doc, err = _M.document(res)
  if not doc then return nil, err end
  local data = doc.data
  if type(data) ~= "table" then return shape_error(res, "a list of resources (data)") end
  local page = { meta = doc.meta, links = doc.links, included = doc.included }
  -- A single resource where a list was expected still counts as one item.
  if data.id ~= nil or data.type ~= nil then data = { data } end
  for i, resource in ipairs(data) do page[i] = resource end
  if not walk then walk = { targets = {}, numbers = { [number] = number } } end
  if walk.targets[target] == nil then walk.targets[target] = number end
  state[page] = {
    collection = self, target = target, query = query, number = number,
    per_page = tonumber(query[PAGING.per_page]), ropts = ropts, walk = walk,
  }
  return setmetatable(page, page_mt)
end

-- Fetches the page at `target` (a request target, query included) -> page or nil, err. `ropts` are
-- the per-request options, kept for the pages after it.
function Collection:_fetch_page(target, query, number, pending, ropts, walk)
  local res, err
  if pending then
    res, err = pending:wait()
  else
    res, err = self.client:request("GET", target, ropts)
  end
  if not res then return nil, err end
  return self:_page(res, target, query, number, ropts, walk)
end

-- The page after `page` -> page, nil after the last one, or nil, err. `take(st, target)` gives the
-- pending request already started for that target (a prefetch, or a page of a parallel walk), or nil.
local function after(page, take)
  local st = state[page]
  local target, number = st.next_target, st.next_number
  if target == nil then
    local t, n_or_err = next_target(page)
    if t == nil then return nil, n_or_err end
    target, number = t, n_or_err
    st.next_target, st.next_number = target, number
  end
  if target == false then return nil end
  -- Only page numbers the server or the fallback named count: a link without one has none.
  if number then st.walk.numbers[number] = number end
  local nxt, err = st.collection:_fetch_page(target, st.query, number or st.number + 1, take(st, target), st.ropts,
    st.walk)
  if nxt and same_ids(page, nxt) then
    return nil, loop_error(st.number, "page " .. state[nxt].number .. " holds the same records as page "
      .. st.number, true)
  end
  return nxt, err
end

-- The prefetched request of a page (page:prefetch), taken once.
local function take_prefetched(st)
  local pending = st.pending
  st.pending = nil
  return pending
end

--- The next page, `nil` after the last one, or nil, err.
-- @treturn Page the next page
-- @return[2] nil after the last page
-- @return[3] nil
-- @treturn[3] Error err the request's, or kind http for a pagination that loops back
-- @raise for what is not a page
-- @within Page
function Page:next()
  arg(state[self], "page:next: not a page")
  return after(self, take_prefetched)
end

-- Starts fetching the next page now, so that page:next() finds it on the way or already there.
-- Returns nothing; a failure shows up when page:next() is called.
local function prefetch(page)
  local st = state[page]
  if st.pending or st.next_target == false then return end
  local target, number = next_target(page)
  if target == nil then return end -- the error surfaces again from page:next()
  st.next_target, st.next_number = target, number
  if target then st.pending = st.collection.client:start("GET", target, st.ropts) end
end

--- Starts fetching the next page now, so that it travels while the caller works on this one;
-- page:next() then returns it. Returns the page.
-- @treturn Page this page
-- @raise for what is not a page
-- @within Page
function Page:prefetch()
  arg(state[self], "page:prefetch: not a page")
  prefetch(self)
  return self
end

--- One page of the collection: list{ include=, filter=, page=, per_page=, query=, allow_unknown=,
-- timeout=, retries= } -> page or nil, err.
-- @tparam[opt] table opts `include` (a list of names, or "a,b"), `filter` ({ field = { operator = value } }),
--   `page`, `per_page`, `query` (more query parameters), `allow_unknown` (send unknown filter fields),
--   `timeout`, `retries`
-- @treturn Page the page
-- @return[2] nil
-- @treturn[2] Error err refused before sending (kind validation: an unknown include or filter), or the
--   request's error
-- @raise for an unknown option or a value of the wrong type (a programming mistake)
-- @within Collection
function Collection:list(opts)
  opts = _M.check_opts(opts, LIST_OPTS, "list")
  local ropts = _M.request_opts(opts, "list")
  local q, err = self:_query(opts)
  if not q then return nil, err end
  local target = uri.build(self.path, q) -- a value with no query form raises at the user's line
  return self:_fetch_page(target, q, tonumber(q[PAGE]) or 1, nil, ropts)
end

-- Walks ---------------------------------------------------------------------------------------------
--
-- A walk goes through the pages of a collection in order (each, and the CLI's --all). Without
-- `concurrency` it holds one page (and with prefetch the request of the next). With concurrency = N
-- it keeps up to N requests for the pages after the current one in flight (client:start, so they
-- travel while the caller works): pages up to the last one when the server says how many there are
-- (meta total_pages, or the page number of links.last), otherwise page + 1 .. page + N on speculation.
-- A page further ahead is asked for under the target of the next link (or the fallback's page + 1)
-- with its page number changed, and it is used only when the page before it names that very target as
-- its next page: a server whose links go elsewhere (another order, a cursor, a loop back) is followed
-- as it says, the requests it did not confirm dropped. So the pages, their order, the loop detection
-- and the end (an empty or short page, no next link) are those of page:next(); requests past the end
-- are dropped. Decoding happens when a page's turn comes, so at most two pages are decoded at once
-- (the current one and, for a moment, the one before it), whatever N; the N in flight are bodies.
-- Dropped requests are waited for (their answers discarded), so that the client's count of
-- requests in flight stays right.

local Walk = {}
Walk.__index = Walk
-- Lua 5.4 closes the walk when a for loop over each() ends early (break, an error in the body).
Walk.__close = function(w) w:drain() end
Walk.__name = "clinch.walk"

-- The target of page `k` in the form of `target` (a request target with a page number), or nil when
-- `target` names no page number.
local PAGE_PARAM = "[?&]" .. gsub(PAGE, "%p", "%%%0") .. "=%d+"
local function numbered(target, k)
  local s, e = find(target, PAGE_PARAM)
  if not s then return nil end
  return sub(target, 1, s) .. PAGE .. "=" .. number_text(k) .. sub(target, e + 1)
end

-- The number of the last page when the server says it (meta total_pages, or the page number of
-- links.last), else nil.
local function last_page(page)
  local meta = page.meta
  if type(meta) == "table" and type(meta.total_pages) == "number" then return meta.total_pages end
  local links = page.links
  local href = type(links) == "table" and link_href(links.last)
  return href and tonumber(href:match(PAGE_IN_LINK)) or nil
end

--- A walk over the pages from the first one the query names (see above); `concurrency` (nil, or a
-- whole number >= 1) and `prefetch` as each() takes them.
-- @local
function _M.walk(coll, q, ropts, concurrency, do_prefetch)
  return setmetatable({ coll = coll, q = q, ropts = ropts, n = concurrency, prefetch = do_prefetch, ahead = {},
                        in_flight = 0, page = nil, finished = false, failure = nil }, Walk)
end

-- Waits for every request still in flight and drops the answers.
function Walk:drain()
  local ahead = self.ahead
  self.ahead, self.in_flight = {}, 0
  for _, pending in next, ahead do pending:wait() end
end

-- The request started for `target`, taken out of the walk's; when the server named another target
-- than the walk started, the ones it started are dropped.
function Walk:_take(target)
  local pending = self.ahead[target]
  if pending then
    self.ahead[target] = nil
    self.in_flight = self.in_flight - 1
  elseif self.in_flight > 0 then
    self:drain()
  end
  return pending
end

-- Starts requests for the pages after the current one, up to N in flight (see above).
function Walk:_fill()
  local page = self.page
  local st = state[page]
  local target, number = next_target(page)
  if not target then return end -- the end, or an error that page:next() finds again
  st.next_target, st.next_number = target, number
  local targets = { target }
  if number == st.number + 1 and numbered(target, number) == target then
    local last = last_page(page)
    for k = number + 1, number + self.n - 1 do
      if last and k > last then break end
      targets[#targets + 1] = numbered(target, k)
    end
  end
  local client = self.coll.client
  for _, t in ipairs(targets) do
    if self.in_flight >= self.n then break end
    if not self.ahead[t] then
      self.ahead[t] = client:start("GET", t, self.ropts)
      self.in_flight = self.in_flight + 1
    end
  end
end

--- The next page -> page, false after the last one, or nil, err (then again on every later call).
-- @local
function Walk:step()
  if self.failure then return nil, self.failure end
  if self.finished then return false end
  local page, err
  if self.page == nil then
    local q = self.q
    page, err = self.coll:_fetch_page(uri.build(self.coll.path, q), q, tonumber(q[PAGE]) or 1, nil, self.ropts)
  elseif self.n then
    page, err = after(self.page, function(_, target) return self:_take(target) end)
  else
    page, err = self.page:next()
  end
  if not page then
    self:drain()
    self.page = nil
    if err then
      self.failure = err
      return nil, err
    end
    self.finished = true
    return false
  end
  self.page = page
  if self.n then self:_fill() elseif self.prefetch then prefetch(page) end
  return page
end

--- The walk of each(opts) (the CLI's --all uses it too): its options checked, mistakes raising at the
-- user's line -> walk (walk:step() gives its pages), or nil, err for a query the checks refuse.
-- @local
function Collection:_walk(opts, fname)
  opts = _M.check_opts(opts, EACH_OPTS, fname)
  local ropts = _M.request_opts(opts, fname)
  local concurrency = opts.concurrency
  arg(concurrency == nil or (type(concurrency) == "number" and concurrency >= 1 and concurrency == floor(concurrency)
                             and concurrency < 2 ^ 31), fname .. ": concurrency must be a whole number >= 1")
  local list_opts = {}
  for k, v in pairs(opts) do if k ~= "prefetch" and k ~= "concurrency" then list_opts[k] = v end end
  local q, qerr = self:_query(list_opts)
  if not q then return nil, qerr end
  uri.build(self.path, q) -- a value with no query form raises here, at the user's line
  return _M.walk(self, q, ropts, concurrency, opts.prefetch and true or false)
end

--- An iterator over every resource of the collection across pages, holding one page at a time (two
-- with prefetch = true, which fetches the next page while the caller works on the current one; with
-- concurrency = N, up to N pages are in flight: see the walks above). Errors are raised as error
-- objects, never swallowed: invalid options when each() is called, a page that still fails after the
-- client's retries when the loop reaches it, so a loop cannot end quietly with part of the data.
-- @tparam[opt] table opts as list takes them, and `prefetch` (true: fetch the next page while the loop
--   works) or `concurrency` (up to N pages in flight)
-- @treturn iterator the iterator, for use in a generic for: `for cand in client.candidates:each() do`
-- @raise an Error object (not a message): for options the checks refuse, when each() is called; for a
--   page that fails after its retries, when the loop reaches it. A programming mistake raises a message.
-- @within Collection
function Collection:each(opts)
  local walk, err = self:_walk(opts, "each")
  if not walk then error(err, 0) end -- an error object: it carries no position
  local page, index = nil, 0
  local function iterate()
    while true do
      if page then
        index = index + 1
        local item = page[index]
        if item ~= nil then return item end
      end
      local why
      page, why = walk:step()
      index = 0
      if page == nil then error(why, 0) end
      if not page then
        page = nil
        return nil
      end
    end
  end
  -- The walk is the for loop's closing value: Lua 5.4 drains its requests when the loop ends early.
  return iterate, nil, nil, walk
end

--- One resource by id: get(id, { include=, query=, timeout=, retries= }) -> resource or nil, err.
-- @tparam string id the resource's id
-- @tparam[opt] table opts `include`, `query`, `timeout`, `retries`
-- @treturn Resource the resource (a Candidate, Job or List object for a registered collection)
-- @return[2] nil
-- @treturn[2] Error err kind not_found for an unknown id, validation for an unknown include, or the
--   request's error
-- @raise for an id that is not a non-empty string, or an unknown option
-- @within Collection
function Collection:get(id, opts)
  _M.check_id(id, "get")
  opts = _M.check_opts(opts, GET_OPTS, "get")
  local ropts = _M.request_opts(opts, "get")
  local q, err = self:_query(opts)
  if not q then return nil, err end
  local res, rerr = self.client:request("GET", uri.build(self:_item(id), q), ropts)
  if not res then return nil, rerr end
  return _M.one(res)
end

--- The path of one resource of the collection: its item path with the id as one encoded segment.
-- @local
function Collection:_item(id)
  return _M.expand(self.item_path, id)
end

--- Fills a path template ("/candidates/{candidateId}/tags/{tagId}", as the contract writes them) with
-- the values given, in the order of its parameters, each as one encoded segment.
-- @local
function _M.expand(template, ...)
  local values, i = { ... }, 0
  return (gsub(template, "{[^}]*}", function()
    i = i + 1
    return uri.segment(values[i])
  end))
end

--- The single resource of a response -> resource or nil, err.
-- @local
function _M.one(res)
  local doc, err = _M.document(res)
  if not doc then return nil, err end
  local data = doc.data
  if type(data) ~= "table" or (data.id == nil and data.type == nil) then
    return shape_error(res, "a single resource (data)")
  end
  return data
end

local NEW_OPTS = { includes = true, filters = true, class = true, item_path = true }

--- Creates a collection for `path` ("/jobs"). opts: `includes` (the list of valid include names; nil or
-- false: none checked), `filters` (filter rules as clinch.schema.filter makes them; without, filter
-- fields ending in "_at" take time values and nothing else is checked), `item_path` (the path template
-- of one resource, default path .. "/{id}"), `class` (a metatable whose __index falls back to
-- resource.Collection, for collections with more methods). Registered resources get theirs from
-- clinch.registry; client:resource(name) gives a plain one for any other path.
-- @local
function _M.new(client, path, opts)
  arg(type(client) == "table", "resource.new: client required")
  arg(type(path) == "string" and path:match("^/[^?#{}]+$") ~= nil,
    "resource.new: path must start with '/' and hold no query")
  opts = _M.check_opts(opts, NEW_OPTS, "resource.new")
  local includes = opts.includes
  arg(not includes or validate.is_list(includes), "resource.new: includes must be a list of names or false")
  local item_path = opts.item_path or path .. "/{id}"
  arg(type(item_path) == "string" and select(2, gsub(item_path, "{[^}]*}", "")) == 1,
    "resource.new: item_path must be a path template with one {parameter}")
  return setmetatable({
    client = client, path = path, name = path:sub(2), item_path = item_path,
    includes = includes or nil, filters = opts.filters,
  }, opts.class or Collection)
end

-- Resource objects -----------------------------------------------------------------------------------

--- The collection a resource object came from (kept in its metatable, so that the object's namespace
-- holds only the resource's own data); raises at the user's line for what is not such an object.
-- @local
function _M.collection_of(obj, fname, def)
  local mt = getmetatable(obj)
  local coll = type(mt) == "table" and rawget(mt, "collection")
  arg(coll, def.label .. ":" .. fname .. ": not a " .. def.label .. " object (use " .. def.var .. ":" .. fname
    .. "(...))")
  arg(type(obj.id) == "string", def.label .. ":" .. fname .. ": the " .. def.label .. " has no id")
  return coll
end

--- Replaces the fields of `obj` by those of `fresh` (the same resource, decoded again), keeping the
-- object's identity; jsonapi.raw(obj) then gives the newer document's object.
-- @local
function _M.refresh(obj, fresh)
  if fresh == obj then return obj end
  for k in next, obj do obj[k] = nil end
  for k, v in next, fresh do obj[k] = v end
  require("clinch.jsonapi").adopt(obj, fresh)
  return obj
end

local RELOAD_OPTS = { include = true, query = true, timeout = true, retries = true }

-- One line, whatever the data holds: control characters (a newline in a name) become spaces.
local function clean(s)
  return (gsub(tostring(s), "%c", " "))
end
_M.clean = clean

-- The default tostring of a resource object: its label, id and title or name.
local function default_tostring(def)
  return function(obj)
    local parts = { def.label, clean(obj.id or "?") }
    local title = obj.title or obj.name
    if type(title) == "string" and title ~= "" then parts[#parts + 1] = clean(title) end
    return concat(parts, " ")
  end
end

local function is_names(t)
  if not validate.is_list(t) then return false end
  for _, v in ipairs(t) do if type(v) ~= "string" or v == "" then return false end end
  return true
end

-- Checks the columns of a definition against the contract schema of its resources, when it has one.
local function check_columns(def)
  arg(is_names(def.columns), "resource.define: " .. def.name .. ": columns must be a list of names")
  local s = def.schema and contract.schemas[def.schema]
  if not s then return end
  for _, c in ipairs(def.columns) do
    arg(c == "id" or c == "type" or s.attributes[c] or s.relationships[c], "resource.define: " .. def.name
      .. ": column '" .. c .. "' is no attribute or relationship of the contract's " .. def.schema)
  end
end

local DEFINE = { name = true, path = true, item_path = true, type = true, schema = true, includes = true,
                 filters = true, columns = true, label = true, var = true, tostring = true }

--- Defines a registered resource: the one thing a file of lua/clinch/resources/ makes (see
-- clinch.registry, and README "Adding a resource"). def:
--   name       the client's field and the CLI's command group ("jobs": client.jobs, clinch jobs list)
--   path       the collection path ("/jobs"); item_path the path of one ("/jobs/{id}", the default)
--   schema     the contract schema its resources follow ("Candidate"), when the contract has one: its
--              type, array attributes and the names columns may take come from there
--   type       the JSON:API type of its resources (default: the schema's)
--   includes   the valid include names (nil: the contract gives none, nothing is checked)
--   filters    filter rules (clinch.schema.filter), or nil
--   columns    the default columns of the CLI's csv and table formats
--   label      one resource in messages and tostring ("job"); var, how code names one ("job")
--   tostring   function(obj) -> one line (default: label, id, and its title or name)
-- Returns def with def.Collection (methods of the collection: list, each, get, and those the file
-- adds), def.Object (methods of its resource objects: reload, and those the file adds) and def.is(v).
-- @local
function _M.define(def)
  arg(type(def) == "table", "resource.define: expected a table")
  for k in pairs(def) do arg(DEFINE[k], "resource.define: unknown field '" .. tostring(k) .. "'") end
  arg(type(def.name) == "string" and def.name:match("^[%a_][%w_]*$") ~= nil,
    "resource.define: name must be a Lua name")
  arg(def.schema == nil or contract.schemas[def.schema], "resource.define: " .. def.name
    .. ": the contract has no schema " .. tostring(def.schema))
  def.type = def.type or (def.schema and contract.schemas[def.schema].type)
  arg(type(def.type) == "string", "resource.define: " .. def.name .. ": type required")
  arg(def.includes == nil or is_names(def.includes), "resource.define: includes must be a list of names")
  check_columns(def)
  def.label = def.label or def.name
  def.var = def.var or def.label
  def.tostring = def.tostring or default_tostring(def)
  local Coll = setmetatable({}, { __index = Collection })
  Coll.__index, Coll.__tostring, Coll.__name = Coll, Collection.__tostring, "clinch." .. def.name
  local Object = {}
  --- obj:reload({ include=, query=, timeout=, retries= }) -> obj (its fields refreshed from the server)
  -- or nil, err.
  -- @tparam[opt] table opts `include`, `query`, `timeout`, `retries`
  -- @treturn Resource the object itself, its fields those of the server's copy
  -- @return[2] nil
  -- @treturn[2] Error err as collection:get returns it
  -- @raise for what is not such an object, an object without id, or an unknown option
  -- @within Objects
  function Object:reload(opts)
    local coll = _M.collection_of(self, "reload", def)
    _M.check_opts(opts, RELOAD_OPTS, "reload")
    local fresh, err = coll:get(self.id, opts)
    if not fresh then return nil, err end
    return _M.refresh(self, fresh)
  end
  def.Collection, def.Object = Coll, Object
  function def.is(v)
    local mt = getmetatable(v)
    return type(mt) == "table" and (rawget(mt, "__index") == Object or rawget(mt, "outcome_of") == Object)
  end
  return def
end

--- Gives a resource object the outcome of the call that returned it as `obj[name]` (create's
-- `cand.created`): read through a variant of its metatable, never a field of its own, so the object's
-- fields stay exactly what the API sent (the CLI's output, jsonapi.raw, pairs and refresh see only
-- those), a field the API sends under that name would win, and reload or update (which keep the
-- object's metatable) keep it. The object stays an object of its class (def.is, registry.class_of),
-- its metatable one variant per outcome (every created candidate shares one). Returns obj.
-- @local
function _M.outcome(obj, name, value)
  local mt = getmetatable(obj)
  arg(type(mt) == "table" and type(rawget(mt, "__index")) == "table", "resource.outcome: not a resource object")
  local variants = rawget(mt, "outcomes")
  if not variants then
    variants = {}
    rawset(mt, "outcomes", variants)
  end
  local key = name .. "=" .. tostring(value)
  local variant = variants[key]
  if not variant then
    variant = {}
    for k, v in next, mt do if k ~= "outcomes" then variant[k] = v end end
    local methods = rawget(mt, "outcome_of") or mt.__index
    variant.__index = setmetatable({ [name] = value }, { __index = mt.__index })
    variant.outcome_of = methods
    variants[key] = variant
  end
  return setmetatable(obj, variant)
end

--- The collection of a defined resource for a client: its class, and the metatable its resource
-- objects get (clinch.registry wraps every resource of a response in it).
-- @local
function _M.instance(def, client)
  local coll = _M.new(client, def.path, { includes = def.includes, filters = def.filters, class = def.Collection,
                                          item_path = def.item_path })
  coll._object = { __index = def.Object, __tostring = def.tostring, __name = "clinch." .. def.label,
                   collection = coll, def = def }
  return coll
end

return _M
