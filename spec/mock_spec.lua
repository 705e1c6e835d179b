-- bin/clinch-mock over real sockets: the eight operations, jobs and lists, signature checks, validation,
-- pagination, filters, includes, HTTP/1.1 connection handling, faults, the control API and process lifecycle.
-- Requests are written by hand on LuaSocket sockets so that every byte on the wire is the test's own.
local support = require "support"
local core = require "clinch.core"
local cjson = require "cjson"
local socket = require "socket"

local KEY, SECRET = "test-key", "test-secret"
local JSONAPI = "application/vnd.api+json"

local mock

-- HTTP over a socket -------------------------------------------------------------------------------

local function connect()
  local sock = socket.tcp()
  sock:settimeout(5)
  assert(sock:connect(mock.host, mock.port))
  return sock
end

-- Writes a request; headers is a map or a list of {name, value}.
local function send(sock, method, target, headers, body)
  local lines = { method .. " " .. target .. " HTTP/1.1", "Host: " .. mock.host .. ":" .. mock.port }
  if headers and headers[1] then
    for _, h in ipairs(headers) do lines[#lines + 1] = h[1] .. ": " .. h[2] end
  else
    for k, v in pairs(headers or {}) do lines[#lines + 1] = k .. ": " .. v end
  end
  if body then lines[#lines + 1] = "Content-Length: " .. #body end
  assert(sock:send(table.concat(lines, "\r\n") .. "\r\n\r\n" .. (body or "")))
end

-- Reads one response: { status, headers (lowercase names), body, err, partial }.
local function receive(sock)
  local line, err = sock:receive("*l")
  if not line then return nil, err end
  local res = { status = tonumber(line:match("^HTTP/1%.1 (%d%d%d) ")), headers = {} }
  while true do
    local h, herr = sock:receive("*l")
    if not h then return nil, herr end
    if h == "" then break end
    local k, v = h:match("^([^:]+):%s*(.-)%s*$")
    res.headers[k:lower()] = v
  end
  local n = tonumber(res.headers["content-length"] or "0")
  if n > 0 then
    res.body, res.err, res.partial = sock:receive(n)
  else
    res.body = ""
  end
  if res.body and (res.headers["content-type"] or ""):find("json", 1, true) then
    res.json = cjson.decode(res.body)
  end
  return res
end

local function sign(method, target, body, opts)
  local req = { method = method, request_uri = target, access_id = KEY, secret = SECRET,
    content_type = body and JSONAPI or nil, body = body }
  for k, v in pairs(opts or {}) do req[k] = v end
  return (core.sign(req))
end

-- A signed request on a fresh (or given) connection. `doc` is a table (encoded) or a string body.
-- opts: sign (extra core.sign fields, or false for none), headers (extra), sock.
local function call(method, target, doc, opts)
  opts = opts or {}
  local body = type(doc) == "table" and cjson.encode(doc) or doc
  local headers = opts.sign == false and {} or sign(method, target, body, opts.sign)
  if body and not headers["Content-Type"] and not opts.no_content_type then headers["Content-Type"] = JSONAPI end
  for k, v in pairs(opts.headers or {}) do headers[k] = v end
  local sock = opts.sock or connect()
  send(sock, method, target, headers, body)
  local res = assert(receive(sock))
  if not opts.sock then sock:close() end
  return res
end

local function control(method, path, body)
  return mock.control(method, path, body)
end

local function first_page(query)
  return call("GET", "/v1/candidates" .. (query or ""))
end

-- The contract --------------------------------------------------------------------------------------

local contract = (function()
  local f = assert(io.open(support.root .. "/api/recruitment-marketing-openapi.json"))
  local doc = cjson.decode(f:read("*a"))
  f:close()
  return doc
end)()

local function is_datetime(v)
  return type(v) == "table" and type(v.utc) == "string"
    and v.utc:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$") ~= nil
    and type(v.epoch) == "number" and type(v.ago) == "string" and type(v["local"]) == "string"
    and type(v.local_epoch) == "number"
end

describe("clinch-mock", function()
  setup(function()
    mock = support.start_mock()
  end)

  teardown(function()
    if mock then mock.stop() end
  end)

  before_each(function()
    control("POST", "reset")
  end)

  it("prints its listening URL on a free port", function()
    assert.matches("^http://127%.0%.0%.1:%d+/v1$", mock.base_url)
    assert.is_true(mock.port > 0)
  end)

  it("prints usage for --help", function()
    local ok, out = support.run(support.lua .. " bin/clinch-mock --help")
    assert.is_true(ok)
    assert.matches("Usage: clinch%-mock", out)
    assert.matches("%-%-latency MS", out)
  end)

  describe("listCandidates", function()
    it("pages with links and meta", function()
      local res = first_page()
      assert.equal(200, res.status)
      assert.matches("^application/vnd%.api%+json", res.headers["content-type"])
      local doc = res.json
      assert.equal(25, #doc.data)
      assert.same({ total_count = 200, total_pages = 8, current_page = 1 }, doc.meta)
      assert.equal(mock.base_url .. "/candidates", doc.links.self)
      assert.equal(mock.base_url .. "/candidates?page=1", doc.links.first)
      assert.equal(mock.base_url .. "/candidates?page=2", doc.links.next)
      assert.equal(mock.base_url .. "/candidates?page=8", doc.links.last)
      assert.is_nil(doc.links.prev)

      local q = "?per_page=30&filter%5Bupdated_at%5D%5Blt%5D=2999-01-01T00:00:00&page=7"
      doc = first_page(q).json
      assert.equal(200 - 6 * 30, #doc.data)
      assert.same({ total_count = 200, total_pages = 7, current_page = 7 }, doc.meta)
      assert.equal(mock.base_url .. "/candidates" .. q, doc.links.self)
      assert.equal(mock.base_url .. "/candidates" .. q:gsub("page=7", "page=6"), doc.links.prev)
      assert.equal(mock.base_url .. "/candidates" .. q:gsub("page=7", "page=1"), doc.links.first)
      assert.is_nil(doc.links.next)

      local seen = {}
      for page = 1, 2 do
        for _, c in ipairs(first_page("?per_page=100&page=" .. page).json.data) do
          assert.is_nil(seen[c.id])
          seen[c.id] = true
        end
      end
      local beyond = first_page("?page=9")
      assert.equal(200, beyond.status)
      assert.matches('"data":%[%]', beyond.body)
    end)

    it("rejects bad page parameters with 400", function()
      for _, q in ipairs({ "?page=0", "?page=-1", "?page=x", "?per_page=0", "?per_page=101", "?per_page=2.5",
                             "?page=99999999999" }) do
        local res = first_page(q)
        assert.equal(400, res.status, q)
        assert.equal("400", res.json.errors[1].status)
      end
      assert.equal(100, #first_page("?per_page=100").json.data)
    end)

    it("serves every Candidate attribute of the contract, with DateTime objects", function()
      local c = first_page("?per_page=1").json.data[1]
      assert.equal("candidates", c.type)
      assert.matches("^%x+$", c.id)
      assert.equal(32, #c.id)
      local schema = contract.components.schemas.Candidate.properties.attributes.properties
      for name, prop in pairs(schema) do
        assert.is_not_nil(c.attributes[name], name)
        if prop["$ref"] == "#/components/schemas/DateTime" then
          assert.is_true(is_datetime(c.attributes[name]), name)
        end
      end
      for _, link in ipairs({ "edit", "self", "modal", "archive", "linkedin_search", "mail_to", "tel", "linkedin" }) do
        assert.is_string(c.attributes.links[link].url, link)
      end
      assert.equal(c.attributes.first_name .. " " .. c.attributes.last_name, c.attributes.name)
      for name in pairs(contract.components.schemas.Candidate.properties.relationships.properties) do
        assert.matches("^" .. mock.base_url:gsub("%p", "%%%0") .. "/candidates/" .. c.id .. "/",
          c.relationships[name].links.related)
      end
    end)

    it("filters by updated_at and by email", function()
      local all = first_page("?per_page=100").json.data
      for _, c in ipairs(first_page("?per_page=100&page=2").json.data) do all[#all + 1] = c end
      table.sort(all, function(a, b) return a.attributes.updated_at.epoch < b.attributes.updated_at.epoch end)
      local oldest, newest = all[1].attributes.updated_at.epoch, all[#all].attributes.updated_at.epoch
      assert.is_true(newest - oldest > 365 * 86400, "updated_at spread over more than a year")
      local pivot = all[101].attributes.updated_at
      local t = pivot.utc:sub(1, 19)
      local gte = first_page("?per_page=100&filter[updated_at][gte]=" .. t).json
      local lt = first_page("?per_page=100&filter[updated_at][lt]=" .. t).json
      assert.equal(200, gte.meta.total_count + lt.meta.total_count)
      assert.equal(100, gte.meta.total_count)
      for _, c in ipairs(gte.data) do assert.is_true(c.attributes.updated_at.epoch >= pivot.epoch) end
      for _, c in ipairs(lt.data) do assert.is_true(c.attributes.updated_at.epoch < pivot.epoch) end
      local both = first_page("?filter%5Bupdated_at%5D%5Bgte%5D=" .. all[50].attributes.updated_at.utc:sub(1, 19)
        .. "&filter%5Bupdated_at%5D%5Blt%5D=" .. t).json
      assert.equal(51, both.meta.total_count)

      local email = all[7].attributes.email
      local one = first_page("?filter[email][eq]=" .. email:gsub("@", "%%40")).json
      assert.equal(1, one.meta.total_count)
      assert.equal(all[7].id, one.data[1].id)
      assert.equal(0, first_page("?filter[email][eq]=nobody%40example.com").json.meta.total_count)

      assert.equal(400, first_page("?filter[updated_at][gte]=yesterday").status)
      assert.equal(400, first_page("?filter[updated_at][gt]=2020-01-01T00:00:00").status)
      assert.equal(400, first_page("?filter[name][eq]=x").status)
    end)

    it("includes related resources once each, shared ones by the same id", function()
      local res = first_page("?include=notes,jobs,social_profile,resumes,static_lists,job_applications")
      local doc = res.json
      local included = {}
      for _, r in ipairs(doc.included) do
        local key = r.type .. ":" .. r.id
        assert.is_nil(included[key], "duplicate " .. key)
        included[key] = r
      end
      local rel_types = { notes = "candidate_notes", jobs = "jobs", resumes = "candidate_files",
        static_lists = "company_lists", job_applications = "job_applications" }
      for _, c in ipairs(doc.data) do
        for name, typ in pairs(rel_types) do
          for _, link in ipairs(c.relationships[name].data) do
            assert.equal(typ, link.type)
            assert.is_table(included[typ .. ":" .. link.id], name)
          end
        end
        local sp = c.relationships.social_profile.data
        if sp ~= cjson.null then assert.is_table(included["social_profiles:" .. sp.id]) end
        assert.is_nil(c.relationships.notes.links)
        assert.is_table(c.relationships.events.links)
      end
      local first = doc.data[1]
      for _, name in ipairs({ "notes", "jobs", "resumes", "static_lists", "job_applications" }) do
        assert.is_true(#first.relationships[name].data > 0, name)
      end
      assert.is_table(first.relationships.social_profile.data)
      local shared = first.relationships.jobs.data
      local in_second = {}
      for _, j in ipairs(doc.data[2].relationships.jobs.data) do in_second[j.id] = true end
      local common = 0
      for _, j in ipairs(shared) do if in_second[j.id] then common = common + 1 end end
      assert.is_true(common > 0, "the first two candidates share a job")
      local note = included["candidate_notes:" .. first.relationships.notes.data[1].id]
      assert.is_string(note.attributes.content)
      assert.is_true(is_datetime(note.attributes.created_at))
      local job = included["jobs:" .. shared[1].id]
      assert.is_string(job.attributes.title)
    end)

    it("accepts every include name of the contract and rejects others with 400", function()
      local enum = contract.components.parameters.candidateInclude.schema.items.enum
      local res = first_page("?per_page=2&include=" .. table.concat(enum, ","))
      assert.equal(200, res.status)
      local c = res.json.data[1]
      assert.same({}, c.relationships.events.data)
      assert.matches('"events":{"data":%[%]}', res.body)
      assert.equal(cjson.null, c.relationships.newest_event.data)
      assert.same({}, c.relationships.timeline_entries.data)
      local bad = first_page("?include=notes,secrets")
      assert.equal(400, bad.status)
      assert.equal("include", bad.json.errors[1].source.parameter)
      assert.matches("secrets", bad.json.errors[1].detail)
    end)

    it("encodes a 100-candidate page with every include quickly", function()
      local start = socket.gettime()
      local res = first_page("?per_page=100&include=notes,jobs,social_profile,resumes,static_lists,job_applications")
      assert.equal(200, res.status)
      assert.equal(100, #res.json.data)
      assert.is_true(socket.gettime() - start < 1, "took " .. (socket.gettime() - start) .. " s")
    end)
  end)

  describe("single candidates", function()
    it("gets one candidate with includes, 404 for an unknown id", function()
      local id = first_page("?per_page=1").json.data[1].id
      local res = call("GET", "/v1/candidates/" .. id .. "?include=notes")
      assert.equal(200, res.status)
      assert.equal(id, res.json.data.id)
      assert.equal(mock.base_url .. "/candidates/" .. id, res.json.links.self)
      assert.is_true(#res.json.included > 0)
      local missing = call("GET", "/v1/candidates/" .. string.rep("0", 32))
      assert.equal(404, missing.status)
      assert.equal("404", missing.json.errors[1].status)
    end)

    it("creates a candidate (201) with a fresh updated_at, and updates it on a repeated email", function()
      local before = os.time()
      local res = call("POST", "/v1/candidates", { data = { type = "candidate", attributes = {
        first_name = "Jane", last_name = "Smith", email = "jane.smith@example.com", phone_number = "+1-202-555-0169",
        tag_values = { "foo", "bar" } } } })
      assert.equal(201, res.status)
      local c = res.json.data
      assert.equal("candidates", c.type)
      assert.equal(32, #c.id)
      assert.equal("Jane Smith", c.attributes.name)
      assert.same({ "foo", "bar" }, c.attributes.tags)
      assert.is_true(c.attributes.updated_at.epoch >= before - 1)
      assert.equal(mock.base_url .. "/candidates/" .. c.id, res.headers.location)
      local found = first_page("?filter[email][eq]=jane.smith%40example.com").json
      assert.equal(c.id, found.data[1].id)
      assert.equal(201, first_page().json.meta.total_count)

      local again = call("POST", "/v1/candidates", { data = { type = "candidates", attributes = {
        email = "jane.smith@example.com", first_name = "Janet" } } })
      assert.equal(200, again.status)
      assert.equal(c.id, again.json.data.id)
      assert.equal("Janet", again.json.data.attributes.first_name)
      assert.equal(201, first_page().json.meta.total_count)
    end)

    it("updates a candidate (200) with a fresh updated_at", function()
      local old = first_page("?per_page=1").json.data[1]
      local res = call("PATCH", "/v1/candidates/" .. old.id, { data = { type = "candidate", attributes = {
        first_name = "New first name", last_name = "New last name" } } })
      assert.equal(200, res.status)
      local c = res.json.data
      assert.equal("New first name New last name", c.attributes.name)
      assert.equal(old.attributes.email, c.attributes.email)
      assert.is_true(c.attributes.updated_at.epoch >= os.time() - 2)
      assert.is_true(c.attributes.updated_at.epoch > old.attributes.updated_at.epoch)
      assert.equal("New first name", call("GET", "/v1/candidates/" .. old.id).json.data.attributes.first_name)
      local gone = call("PATCH", "/v1/candidates/" .. string.rep("f", 32), { data = { type = "candidate",
        attributes = { first_name = "x" } } })
      assert.equal(404, gone.status)
    end)
  end)

  describe("tags", function()
    it("lists, adds, re-adds and deletes tags", function()
      local c = call("POST", "/v1/candidates", { data = { type = "candidate", attributes = {
        email = "tags@example.com" } } }).json.data
      local base = "/v1/candidates/" .. c.id .. "/tags"
      local empty = call("GET", base)
      assert.equal(200, empty.status)
      assert.matches('"data":%[%]', empty.body)

      local added = call("POST", base, { data = { type = "tag", attributes = { name = "Tag Name" } } })
      assert.equal(201, added.status)
      local tag = added.json.data
      assert.equal("tags", tag.type)
      assert.equal("Tag Name", tag.attributes.name)
      local again = call("POST", base, { data = { type = "tags", attributes = { name = "Tag Name" } } })
      assert.equal(200, again.status)
      assert.equal(tag.id, again.json.data.id)

      local list = call("GET", base).json.data
      assert.equal(1, #list)
      assert.same({ type = "tags", id = tag.id, attributes = { name = "Tag Name" } }, list[1])
      assert.same({ "Tag Name" }, call("GET", "/v1/candidates/" .. c.id).json.data.attributes.tags)

      assert.equal(200, call("DELETE", base .. "/" .. tag.id).status)
      assert.equal(404, call("DELETE", base .. "/" .. tag.id).status)
      assert.matches('"data":%[%]', call("GET", base).body)
      assert.equal(404, call("GET", "/v1/candidates/" .. string.rep("a", 32) .. "/tags").status)
    end)

    it("rejects an empty tag name with 422", function()
      local id = first_page("?per_page=1").json.data[1].id
      local res = call("POST", "/v1/candidates/" .. id .. "/tags",
        { data = { type = "tag", attributes = { name = " " } } })
      assert.equal(422, res.status)
      assert.equal("/data/attributes/name", res.json.errors[1].source.pointer)
    end)
  end)

  describe("candidate files", function()
    it("uploads a base64 file (201)", function()
      local id = first_page("?per_page=1").json.data[1].id
      local content = "%PDF-1.4 not really a resume\0\1\2"
      local res = call("POST", "/v1/candidates/" .. id .. "/candidate_files", { data = { type = "candidate_files",
        attributes = { filename = "resume.pdf", content = core.base64_encode(content) } } })
      assert.equal(201, res.status)
      local f = res.json.data
      assert.equal("candidate_files", f.type)
      assert.equal(32, #f.id)
      assert.equal("resume.pdf", f.attributes.filename)
      assert.equal(#content, f.attributes.size)
      assert.equal("application/pdf", f.attributes.content_type)
      local resumes = call("GET", "/v1/candidates/" .. id .. "?include=resumes").json.data.relationships.resumes.data
      assert.equal(f.id, resumes[#resumes].id)
    end)

    it("rejects bad base64 and empty filenames with 422", function()
      local path = "/v1/candidates/" .. first_page("?per_page=1").json.data[1].id .. "/candidate_files"
      local res = call("POST", path, { data = { type = "candidate_files", attributes = { filename = "a.pdf",
        content = "not base64!" } } })
      assert.equal(422, res.status)
      assert.equal("/data/attributes/content", res.json.errors[1].source.pointer)
      res = call("POST", path, { data = { type = "candidate_files", attributes = { filename = "",
        content = "aGk=" } } })
      assert.equal(422, res.status)
      assert.equal("/data/attributes/filename", res.json.errors[1].source.pointer)
      assert.equal(404, call("POST", "/v1/candidates/" .. string.rep("b", 32) .. "/candidate_files",
        { data = { type = "candidate_files", attributes = { filename = "a.pdf", content = "aGk=" } } }).status)
    end)
  end)

  describe("jobs and lists", function()
    -- Every record of a list path, following links.next.
    local function all_of(path)
      local out, target = {}, "/v1/" .. path .. "?per_page=7"
      while target do
        local res = call("GET", target)
        assert.equal(200, res.status, target)
        for _, r in ipairs(res.json.data) do out[#out + 1] = r end
        local nxt = res.json.links.next
        target = nxt and nxt:match("^https?://[^/]+(/.*)$")
      end
      return out
    end

    it("serves the jobs and lists the candidates' relationships point at, paginated", function()
      local jobs, lists = all_of("jobs"), all_of("lists")
      assert.equal(40, #jobs)
      assert.equal(8, #lists)
      local job_ids, list_ids = {}, {}
      for _, j in ipairs(jobs) do
        assert.equal("jobs", j.type)
        assert.is_string(j.attributes.title)
        assert.is_true(is_datetime(j.attributes.updated_at))
        assert.is_nil(job_ids[j.id])
        job_ids[j.id] = j
      end
      for _, l in ipairs(lists) do
        assert.equal("company_lists", l.type)
        assert.is_string(l.attributes.name)
        list_ids[l.id] = l
      end
      local doc = first_page("?per_page=50&include=jobs,static_lists").json
      local linked = 0
      for _, c in ipairs(doc.data) do
        for _, link in ipairs(c.relationships.jobs.data) do
          linked = linked + 1
          local one = call("GET", "/v1/jobs/" .. link.id)
          assert.equal(200, one.status)
          assert.same(job_ids[link.id].attributes, one.json.data.attributes)
        end
        for _, link in ipairs(c.relationships.static_lists.data) do
          assert.equal(link.type, list_ids[link.id].type)
          assert.equal(200, call("GET", "/v1/lists/" .. link.id).status)
        end
      end
      assert.is_true(linked > 50)
      local res = call("GET", "/v1/jobs?per_page=3&page=2")
      assert.equal(40, res.json.meta.total_count)
      assert.equal(14, res.json.meta.total_pages)
      assert.matches("[?&]page=3$", res.json.links.next)
      assert.matches("[?&]page=1$", res.json.links.prev)
    end)

    it("includes a job's categories on request, each once, and links them otherwise", function()
      local res = call("GET", "/v1/jobs?per_page=40&include=categories")
      local included = {}
      for _, r in ipairs(res.json.included) do
        assert.equal("categories", r.type)
        assert.is_nil(included[r.id])
        included[r.id] = r
      end
      local two = 0
      for _, j in ipairs(res.json.data) do
        local cats = j.relationships.categories.data
        assert.is_true(#cats >= 1)
        assert.equal(j.attributes.category, included[cats[1].id].attributes.name)
        if #cats > 1 then two = two + 1 end
      end
      assert.is_true(two > 0)
      local plain = call("GET", "/v1/jobs/" .. res.json.data[1].id).json
      assert.is_nil(plain.included)
      assert.matches("/jobs/" .. plain.data.id .. "/categories$", plain.data.relationships.categories.links.related)
      local one = call("GET", "/v1/jobs/" .. res.json.data[1].id .. "?include=categories").json
      assert.equal(#res.json.data[1].relationships.categories.data, #one.included)
    end)

    it("answers 400 for includes and filters they do not have, 404 for unknown ids, and signs", function()
      for _, target in ipairs { "/v1/jobs?include=notes", "/v1/lists?include=categories",
                                "/v1/lists/x?include=members", "/v1/jobs?filter[updated_at][gte]=2021-01-01T00:00:00",
                                "/v1/jobs?per_page=101", "/v1/lists?page=0" } do
        local res = call("GET", target)
        assert.equal(400, res.status, target)
      end
      assert.equal(404, call("GET", "/v1/jobs/" .. string.rep("0", 32)).status)
      local res = call("GET", "/v1/lists/nope")
      assert.equal(404, res.status)
      assert.equal("list nope not found", res.json.errors[1].detail)
      assert.equal(401, call("GET", "/v1/jobs", nil, { sign = false }).status)
      control("POST", "faults", { kind = "pagination", mode = "no_links", count = 1, path = "/v1/lists" })
      assert.is_nil(call("GET", "/v1/lists").json.links)
    end)
  end)

  describe("validation and routing", function()
    local function pointer(res) return res.json.errors[1].source.pointer end

    it("answers 422 with a source pointer for bad documents", function()
      local cases = {
        { { data = { type = "candidate", attributes = { first_name = "x" } } }, "/data/attributes/email" },
        { { data = { type = "candidate", attributes = { email = "not-an-email" } } }, "/data/attributes/email" },
        { { data = { type = "candidate", attributes = { email = 5 } } }, "/data/attributes/email" },
        { { meta = {} }, "/data" },
        { { data = { attributes = { email = "a@example.com" } } }, "/data/type" },
        { { data = { type = "tag", attributes = { email = "a@example.com" } } }, "/data/type" },
        { { data = { type = "candidate" } }, "/data/attributes" },
        { { data = { type = "candidate", attributes = { email = "a@example.com", tag_values = { 1 } } } },
          "/data/attributes/tag_values/0" },
      }
      for i, case in ipairs(cases) do
        local res = call("POST", "/v1/candidates", case[1])
        assert.equal(422, res.status, "case " .. i)
        assert.equal("422", res.json.errors[1].status)
        assert.equal(case[2], pointer(res), "case " .. i)
      end
    end)

    it("answers 400 for a body that is not JSON", function()
      local res = call("POST", "/v1/candidates", "{not json")
      assert.equal(400, res.status)
      assert.equal("400", res.json.errors[1].status)
    end)

    it("answers 415 for a body without a JSON Content-Type, or with none", function()
      local doc = { data = { type = "candidate", attributes = { email = "ct@example.com" } } }
      local res = call("POST", "/v1/candidates", doc, { headers = { ["Content-Type"] = "text/plain" },
                                                     sign = { content_type = "text/plain" } })
      assert.equal(415, res.status)
      res = call("POST", "/v1/candidates", doc, { no_content_type = true, sign = { content_type = "" } })
      assert.equal(415, res.status)
      assert.matches("Content%-Type must be application/vnd%.api%+json", res.json.errors[1].title
        .. " " .. tostring(res.json.errors[1].detail))
    end)

    it("answers 404 for unknown routes and 405 for wrong methods", function()
      assert.equal(404, call("GET", "/v1/web_campaigns").status)
      assert.equal(404, call("GET", "/v1/jobs/x/categories").status)
      assert.equal(405, call("POST", "/v1/jobs", "{}").status)
      assert.equal(404, call("GET", "/v2/candidates").status)
      assert.equal(404, call("GET", "/").status)
      local res = call("DELETE", "/v1/candidates")
      assert.equal(405, res.status)
      assert.equal("GET, POST", res.headers.allow)
      assert.equal(405, call("PUT", "/v1/candidates/" .. string.rep("0", 32), "{}").status)
    end)

    it("puts an X-Request-Id on every response", function()
      local ids = {}
      local responses = { first_page(), call("GET", "/nowhere"), call("GET", "/v1/candidates", nil, { sign = false }),
                          call("GET", "/__mock/stats", nil, { sign = false }) }
      for _, res in ipairs(responses) do
        assert.matches("^%x+$", res.headers["x-request-id"])
        assert.is_nil(ids[res.headers["x-request-id"]])
        ids[res.headers["x-request-id"]] = true
      end
    end)
  end)

  describe("signatures", function()
    local function unauthorized(res, detail)
      assert.equal(401, res.status)
      assert.same({ status = "401", title = "Unauthorized", detail = res.json.errors[1].detail }, res.json.errors[1])
      if detail then assert.matches(detail, res.json.errors[1].detail) end
    end

    it("accepts every signing mode", function()
      for _, opts in ipairs({ {}, { digest = "sha256" }, { content_hash = "md5" }, { content_hash = "sha256" },
                              { date_header = "X-HMAC-Date" }, { date_header = "both" } }) do
        assert.equal(200, call("GET", "/v1/candidates?per_page=1", nil, { sign = opts }).status)
        local res = call("POST", "/v1/candidates", { data = { type = "candidate", attributes = {
          email = "modes@example.com" } } }, { sign = opts })
        assert.is_true(res.status == 200 or res.status == 201)
      end
    end)

    it("rejects a missing signature, wrong key, bad signature, stale date and body hash mismatch", function()
      unauthorized(call("GET", "/v1/candidates", nil, { sign = false }), "Authorization")
      unauthorized(call("GET", "/v1/candidates", nil, { sign = { access_id = "other-key" } }), "access id")
      unauthorized(call("GET", "/v1/candidates", nil, { sign = { secret = "wrong" } }), "signature")
      unauthorized(call("GET", "/v1/candidates", nil, { sign = { date = os.time() - 3600 } }), "skew")
      assert.equal(200, call("GET", "/v1/candidates", nil, { sign = { date = os.time() - 600 } }).status)

      local body = cjson.encode({ data = { type = "candidate", attributes = { email = "hash@example.com" } } })
      local headers = sign("POST", "/v1/candidates", body, { content_hash = "sha256" })
      headers["Content-Type"] = JSONAPI
      local sock = connect()
      send(sock, "POST", "/v1/candidates", headers, body:gsub("hash@", "hush@"))
      unauthorized(receive(sock), "SHA256")
      sock:close()
    end)

    it("verifies the request target exactly as sent", function()
      local target = "/v1/candidates?include=notes%2Cjobs&filter%5Bemail%5D%5Beq%5D=x%40example.org&per_page=5"
      local res = call("GET", target)
      assert.equal(200, res.status)
      assert.equal(0, res.json.meta.total_count)
      assert.equal(mock.base_url .. target:sub(4), res.json.links.self)
      -- signed for one spelling, sent with another
      local headers = sign("GET", "/v1/candidates?include=notes,jobs")
      local sock = connect()
      send(sock, "GET", "/v1/candidates?include=notes%2Cjobs", headers)
      assert.equal(401, receive(sock).status)
      sock:close()
    end)
  end)

  describe("connections", function()
    it("keeps a connection alive across requests", function()
      local sock = connect()
      for _ = 1, 3 do
        local res = call("GET", "/v1/candidates?per_page=1", nil, { sock = sock })
        assert.equal(200, res.status)
        assert.equal("keep-alive", res.headers.connection)
      end
      sock:close()
      local stats = control("GET", "stats")
      assert.equal(1, stats.connections)
      assert.equal(3, stats.requests)
    end)

    it("answers pipelined requests in order", function()
      local sock = connect()
      local a, b = "/v1/candidates?per_page=1", "/v1/candidates?per_page=2"
      local wire = {}
      for _, target in ipairs({ a, b }) do
        local lines = { "GET " .. target .. " HTTP/1.1", "Host: x" }
        for k, v in pairs(sign("GET", target)) do lines[#lines + 1] = k .. ": " .. v end
        wire[#wire + 1] = table.concat(lines, "\r\n") .. "\r\n\r\n"
      end
      sock:send(table.concat(wire))
      assert.equal(1, #receive(sock).json.data)
      assert.equal(2, #receive(sock).json.data)
      sock:close()
    end)

    it("honours Connection: close and HTTP/1.0", function()
      local sock = connect()
      local res = call("GET", "/v1/candidates?per_page=1", nil, { sock = sock, headers = { Connection = "close" } })
      assert.equal(200, res.status)
      assert.equal("close", res.headers.connection)
      local _, err = sock:receive(1)
      assert.equal("closed", err)
      sock:close()

      sock = connect()
      sock:send("GET /__mock/stats HTTP/1.0\r\n\r\n")
      assert.matches("^HTTP/1%.1 200", sock:receive("*l"))
      local rest = sock:receive("*a")
      assert.matches("Connection: close", rest)
      sock:close()
    end)

    it("serves many connections at once", function()
      local socks = {}
      for i = 1, 20 do
        socks[i] = connect()
        local target = "/v1/candidates?per_page=" .. i
        send(socks[i], "GET", target, sign("GET", target))
      end
      for i = 20, 1, -1 do
        assert.equal(i, #receive(socks[i]).json.data)
        socks[i]:close()
      end
      assert.equal(20, control("GET", "stats").connections)
    end)

    it("reads a chunked request body and answers Expect: 100-continue", function()
      local body = cjson.encode({ data = { type = "candidate", attributes = { email = "chunked@example.com" } } })
      local headers = sign("POST", "/v1/candidates", body)
      headers["Content-Type"] = JSONAPI
      headers["Transfer-Encoding"] = "chunked"
      headers["Expect"] = "100-continue"
      local sock = connect()
      send(sock, "POST", "/v1/candidates", headers)
      assert.matches("^HTTP/1%.1 100 Continue", sock:receive("*l"))
      assert.equal("", sock:receive("*l"))
      local half = math.floor(#body / 2)
      sock:send(string.format("%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n", half, body:sub(1, half), #body - half,
        body:sub(half + 1)))
      local res = receive(sock)
      assert.equal(201, res.status)
      assert.equal("chunked@example.com", res.json.data.attributes.email)
      sock:close()
    end)

    it("answers 400 and closes on a malformed request", function()
      local sock = connect()
      sock:send("\22\3\1\0\1garbage")
      local res = receive(sock)
      assert.equal(400, res.status)
      assert.matches("^%x+$", res.headers["x-request-id"])
      local _, err = sock:receive(1)
      assert.equal("closed", err)
      sock:close()
    end)
  end)

  describe("faults", function()
    local function fault(spec)
      local reply, status = control("POST", "faults", spec)
      assert.equal(200, status)
      return reply.fault
    end

    it("adds latency without holding up other connections", function()
      fault({ kind = "latency", ms = 800, count = 1 }) -- the fast one has 550 ms to spare
      local slow, fast = connect(), connect()
      local start = socket.gettime()
      send(slow, "GET", "/v1/candidates?per_page=1", sign("GET", "/v1/candidates?per_page=1"))
      socket.sleep(0.05)
      send(fast, "GET", "/v1/candidates?per_page=2", sign("GET", "/v1/candidates?per_page=2"))
      assert.equal(200, receive(fast).status)
      local fast_time = socket.gettime() - start
      assert.equal(200, receive(slow).status)
      local slow_time = socket.gettime() - start
      assert.is_true(fast_time < 0.6, "fast request took " .. fast_time)
      assert.is_true(slow_time >= 0.8, "slow request took " .. slow_time)
      slow:close()
      fast:close()
    end)

    it("answers 429 with Retry-After for the next N requests only", function()
      fault({ kind = "status", status = 429, retry_after = "1", count = 2 })
      for _ = 1, 2 do
        local res = first_page()
        assert.equal(429, res.status)
        assert.equal("1", res.headers["retry-after"])
        assert.equal("429", res.json.errors[1].status)
      end
      assert.equal(200, first_page().status)
    end)

    it("answers 503 as JSON:API and 502/500 as HTML pages", function()
      fault({ kind = "status", status = 503, count = 1 })
      local res = first_page()
      assert.equal(503, res.status)
      assert.equal("503", res.json.errors[1].status)
      fault({ kind = "status", status = 502, html = true, count = 1 })
      fault({ kind = "status", status = 500, html = true, count = 1 })
      for _, status in ipairs({ 502, 500 }) do
        res = first_page()
        assert.equal(status, res.status)
        assert.matches("^text/html", res.headers["content-type"])
        assert.matches("<h1>" .. status, res.body)
      end
    end)

    it("resets the connection mid-response", function()
      fault({ kind = "reset", count = 1 })
      local sock = connect()
      send(sock, "GET", "/v1/candidates", sign("GET", "/v1/candidates"))
      local res = receive(sock)
      assert.equal(200, res.status)
      assert.is_nil(res.body)
      assert.is_truthy(res.err == "closed" or res.err:find("reset", 1, true))
      assert.is_true(#res.partial < tonumber(res.headers["content-length"]))
      sock:close()
    end)

    it("truncates a body", function()
      fault({ kind = "truncate", count = 1 })
      local sock = connect()
      send(sock, "GET", "/v1/candidates", sign("GET", "/v1/candidates"))
      local res = receive(sock)
      assert.equal("closed", res.err)
      assert.is_true(#res.partial > 0)
      assert.is_true(#res.partial < tonumber(res.headers["content-length"]))
      sock:close()
    end)

    it("trickles a body", function()
      fault({ kind = "trickle", ms = 100, bytes = 3, count = 1 })
      local sock = connect()
      send(sock, "GET", "/v1/candidates/" .. string.rep("0", 32), sign("GET", "/v1/candidates/" .. string.rep("0", 32)))
      sock:settimeout(0.35)
      local res = receive(sock)
      assert.equal(404, res.status)
      assert.equal("timeout", res.err)
      -- some 3-byte drips, not the whole body (how many came in 0.35 s depends on the scheduling)
      assert.is_true(#res.partial >= 3 and #res.partial % 3 == 0
        and #res.partial < tonumber(res.headers["content-length"]), "got " .. #res.partial .. " bytes")
      sock:close()
    end)

    it("redirects", function()
      fault({ kind = "redirect", location = "http://example.invalid/v1/candidates", count = 1 })
      local res = first_page()
      assert.equal(302, res.status)
      assert.equal("http://example.invalid/v1/candidates", res.headers.location)
    end)

    it("matches by method and path prefix, never applies to the control API, and clears", function()
      fault({ kind = "status", status = 503, method = "post", path = "/v1/candidates" })
      fault({ kind = "status", status = 500, path = "/v1/elsewhere" })
      assert.equal(200, first_page().status)
      assert.equal(503, call("POST", "/v1/candidates", { data = { type = "candidate", attributes = {
        email = "fault@example.com" } } }).status)
      local _, status = control("GET", "stats")
      assert.equal(200, status)
      assert.equal(2, #control("GET", "faults").faults)
      assert.same({ faults = {} }, control("DELETE", "faults"))
      assert.equal(201, call("POST", "/v1/candidates", { data = { type = "candidate", attributes = {
        email = "fault@example.com" } } }).status)
    end)

    it("matches by one name=value part of the query, byte for byte", function()
      fault({ kind = "status", status = 502, count = -1, query = "page=5" })
      assert.equal(502, first_page("?page=5").status)
      assert.equal(502, first_page("?per_page=3&page=5").status)
      assert.equal(502, first_page("?page=5&per_page=3").status)
      for _, other in ipairs { "?page=50", "?per_page=5", "?xpage=5", "?page=4", "" } do
        assert.equal(200, first_page(other).status, other)
      end
      control("DELETE", "faults")
    end)

    -- id -> updated_at of every candidate, from the control API (the store itself).
    local function updated_by_id()
      local out = {}
      for _, c in ipairs(control("GET", "candidates").candidates) do out[c.id] = c.updated_at end
      return out
    end

    it("churns: after each answer, K seeded random candidates are updated, the same ones for a seed", function()
      local function run(seed)
        control("POST", "reset")
        fault({ kind = "churn", touch = 3, seed = seed, path = "/v1/candidates", method = "GET" })
        local before = updated_by_id()
        local first = first_page("?per_page=5")
        assert.equal(200, first.status)
        assert.equal(200, first_page("?per_page=5&page=2").status)
        local changed = {}
        for id, t in pairs(updated_by_id()) do
          if t ~= before[id] then
            assert.is_true(t >= os.time() - 2)
            changed[#changed + 1] = id
          end
        end
        table.sort(changed)
        assert.equal(3, control("GET", "faults").faults[1].touch)
        assert.equal(6, control("GET", "faults").faults[1].touched)
        return changed
      end
      local a = run(7)
      assert.is_true(#a >= 4 and #a <= 6, #a .. " changed") -- 3 per answer; the two draws may overlap
      assert.same(a, run(7))
      assert.are_not.same(a, run(8))
    end)

    it("churns among the candidates the request's filter matched", function()
      local all = control("GET", "candidates").candidates
      local window = {}
      for _, id in ipairs(control("POST", "touch", { count = 10, seed = 3, at = 1000000000 }).touched) do
        window[id] = true
      end
      fault({ kind = "churn", touch = 2, seed = 1, among = "filter", path = "/v1/candidates" })
      local res = first_page("?filter[updated_at][gte]=2001-09-09T01:46:40&filter[updated_at][lt]=2001-09-09T01:46:41")
      assert.equal(200, res.status)
      local moved = 0
      for id, t in pairs(updated_by_id()) do
        if window[id] and t ~= 1000000000 then moved = moved + 1 end
        if not window[id] then
          for _, c in ipairs(all) do if c.id == id then assert.equal(c.updated_at, t) end end
        end
      end
      assert.equal(2, moved)
    end)

    it("churns the first K candidates a request's filter matched, as a batch job going through the list", function()
      local first = first_page("?per_page=3").json.data
      fault({ kind = "churn", touch = 2, among = "first", path = "/v1/candidates", count = 1 })
      first_page("?per_page=1")
      local now, by_id = os.time(), updated_by_id()
      assert.is_true(by_id[first[1].id] >= now - 2)
      assert.is_true(by_id[first[2].id] >= now - 2)
      assert.equal(first[3].attributes.updated_at.epoch, by_id[first[3].id])
    end)

    it("breaks pagination on demand: cycles, ignored page numbers, no totals, no links", function()
      fault({ kind = "pagination", mode = "cycle", count = 1 })
      assert.matches("[?&]page=1$", first_page("?per_page=5&page=2").json.links.next)
      assert.matches("[?&]page=3$", first_page("?per_page=5&page=2").json.links.next)
      fault({ kind = "pagination", mode = "ignore_page", count = 1 })
      local p3 = first_page("?per_page=5&page=3").json
      assert.equal(first_page("?per_page=5").json.data[1].id, p3.data[1].id)
      assert.equal(3, p3.meta.current_page)
      assert.matches("[?&]page=4$", p3.links.next)
      fault({ kind = "pagination", mode = "no_totals", count = 1 })
      local doc = first_page("?per_page=5").json
      assert.is_nil(doc.meta)
      assert.is_string(doc.links.next)
      fault({ kind = "pagination", mode = "no_links", count = 1 })
      doc = first_page("?per_page=5").json
      assert.is_nil(doc.links)
      assert.equal(200, doc.meta.total_count)
      fault({ kind = "pagination", mode = "shuffle", count = 2 })
      local a, b = first_page("?per_page=100").json.data, first_page("?per_page=100").json.data
      local same = true
      for i = 1, 100 do same = same and a[i].id == b[i].id end
      assert.is_false(same)
      assert.equal(200, first_page("?per_page=5").json.meta.total_count)
    end)

    it("rejects malformed fault descriptions with 400", function()
      for _, spec in ipairs({ { kind = "explode" }, { kind = "status" }, { kind = "latency" },
                              { kind = "status", status = 503, count = 0 }, { kind = "redirect" },
                              { kind = "churn" }, { kind = "churn", touch = 1, among = "some" },
                              { kind = "churn", touch = 0 },
                              { kind = "pagination" }, { kind = "pagination", mode = "sideways" },
                              { kind = "status", status = 502, query = "a=1&b=2" },
                              { kind = "status", status = 502, query = 5 } }) do
        local _, status = control("POST", "faults", spec)
        assert.equal(400, status)
      end
    end)

    it("takes --latency as a flag", function()
      local slow = support.start_mock({ "--latency", "300", "--candidates", "3" })
      local ok, err = pcall(function()
        local saved = mock
        mock = slow
        local start = socket.gettime()
        local res = first_page()
        mock = saved
        assert.equal(3, #res.json.data)
        assert.is_true(socket.gettime() - start >= 0.3)
      end)
      slow.stop()
      assert(ok, err)
    end)
  end)

  describe("control API", function()
    it("logs requests with the Authorization value redacted", function()
      local target = "/v1/candidates?per_page=1"
      first_page("?per_page=1")
      local body = cjson.encode({ data = { type = "candidate", attributes = { email = "log@example.com" } } })
      call("POST", "/v1/candidates", body)
      local log = control("GET", "requests").requests
      assert.equal(2, #log)
      assert.equal("GET", log[1].method)
      assert.equal(target, log[1].uri)
      assert.equal(200, log[1].status)
      assert.equal("[redacted]", log[1].headers.authorization)
      assert.matches("GMT$", log[1].headers.date)
      assert.equal("POST", log[2].method)
      assert.equal(body, log[2].body)
      assert.equal(201, log[2].status)
      assert.equal(JSONAPI, log[2].headers["content-type"])
      for _, entry in ipairs(log) do
        for _, v in pairs(entry.headers) do assert.is_nil(tostring(v):find(SECRET, 1, true)) end
      end
      assert.same({ requests = {} }, control("DELETE", "requests"))
      assert.same({}, control("GET", "requests").requests)
    end)

    it("counts connections and open connections, and resets", function()
      local sock = connect()
      call("GET", "/v1/candidates?per_page=1", nil, { sock = sock })
      assert.same({ connections = 1, open = 1, requests = 1 }, control("GET", "stats"))
      sock:close()
      call("POST", "/v1/candidates", { data = { type = "candidate", attributes = { email = "gone@example.com" } } })
      assert.equal(201, first_page().json.meta.total_count)
      control("POST", "reset")
      assert.equal(0, control("GET", "stats").requests)
      assert.equal(200, first_page().json.meta.total_count)
      assert.equal(0, first_page("?filter[email][eq]=gone%40example.com").json.meta.total_count)
    end)

    it("lists every candidate's id and updated_at, and touches candidates to a given second", function()
      local list = control("GET", "candidates").candidates
      assert.equal(200, #list)
      assert.matches("^%x+$", list[1].id)
      assert.is_number(list[1].updated_at)
      local reply, status = control("POST", "touch", { count = 50, seed = 4, at = 1600000000 })
      assert.equal(200, status)
      assert.equal(50, #reply.touched)
      local dense = first_page("?filter[updated_at][gte]=2020-09-13T12:26:40"
        .. "&filter[updated_at][lt]=2020-09-13T12:26:41")
      assert.equal(50, dense.json.meta.total_count)
      local named = control("GET", "candidates").candidates[7].id
      assert.same({ touched = { named } }, control("POST", "touch", { ids = { named }, at = 1600000000 }))
      dense = first_page("?filter[updated_at][gte]=2020-09-13T12:26:40"
        .. "&filter[updated_at][lt]=2020-09-13T12:26:41")
      local already = false
      for _, id in ipairs(reply.touched) do already = already or id == named end
      assert.equal(already and 50 or 51, dense.json.meta.total_count)
      for _, bad in ipairs({ {}, { count = 0 }, { count = 1, at = 1.5 }, { count = 1, seed = "x" },
                             { ids = { "nope" } }, { ids = "x" } }) do
        local _, s = control("POST", "touch", bad)
        assert.equal(400, s)
      end
      control("POST", "reset")
      assert.same(list, control("GET", "candidates").candidates)
    end)

    it("answers 404 for unknown control endpoints", function()
      local _, status = control("GET", "nothing")
      assert.equal(404, status)
    end)
  end)

  describe("lifecycle", function()
    local function alive(pid)
      local r = os.execute("kill -0 " .. pid .. " 2>/dev/null")
      return r == true or r == 0 -- Lua 5.4 gives true, LuaJIT the status number
    end

    it("stops on SIGTERM", function()
      local m = support.start_mock({ "--candidates", "1" })
      local pid = m.pid
      assert.truthy(alive(pid))
      m.stop()
      assert.falsy(alive(pid))
    end)

    it("exits cleanly on SIGINT", function()
      local script = table.concat({
        "out=$(mktemp)",
        support.lua .. " bin/clinch-mock --candidates 1 > \"$out\" 2>&1 &",
        "pid=$!",
        "for i in $(seq 50); do grep -q listening \"$out\" && break; sleep 0.05; done",
        "kill -INT $pid",
        "wait $pid; echo \"exit=$?\"",
        "rm -f \"$out\"",
      }, "\n")
      local ok, out = support.run("sh -c " .. support.shell_quote(script))
      assert.is_true(ok)
      assert.matches("exit=0", out)
    end)

    it("seeds the same data on Lua 5.4 and LuaJIT", function()
      local code = "local s = require('clinch.mock.store').new{ seed = 7, candidates = 5, anchor = 1700000000 }"
        .. " local c = s.candidates[5] io.write(c.id, ' ', c.email, ' ', c.updated)"
      local outs = {}
      for _, lua in ipairs({ "lua5.4", "luajit" }) do
        local ok, out = support.run(lua .. " -e " .. support.shell_quote(code))
        assert.is_true(ok, out)
        outs[#outs + 1] = out
      end
      assert.equal(outs[1], outs[2])
      assert.matches("^%x+ %S+@example%.%a+ %d+$", outs[1])
    end)
  end)
end)
