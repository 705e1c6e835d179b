-- The candidates API (client.candidates) and Candidate objects against the real mock: every operation
-- of the seed, through the collection and through Candidate methods, validation before sending, and the
-- error kinds the API's failures map to.
local support = require "support"
local cjson = require("cjson").new()
local clinch = require "clinch"
local errors = require "clinch.errors"
local candidates = require "clinch.resources.candidates"
local registry = require "clinch.registry"
local core = require "clinch.core"


local METHODS = { "update", "reload", "list_tags", "add_tag", "remove_tag", "upload_resume" }

describe("Candidate objects share one namespace with the seed's fields", function()
  local seed = support.seed()
  local cand_schema = seed.components.schemas.Candidate.properties
  local names = { "id", "type" }
  for name in pairs(cand_schema.attributes.properties) do names[#names + 1] = name end
  for name in pairs(cand_schema.relationships.properties) do names[#names + 1] = name end

  it("has no method named like an attribute or relationship", function()
    assert.is_true(#names > 60)
    assert.truthy(cand_schema.attributes.properties.tags)
    assert.truthy(cand_schema.attributes.properties.links)
    -- create's outcome (cand.created) is read through the metatable: no attribute may take its name
    assert.is_nil(cand_schema.attributes.properties.created)
    assert.is_nil(cand_schema.relationships.properties.created)
    for _, name in ipairs(names) do
      assert.is_nil(rawget(candidates.Object, name), name)
    end
    for _, m in ipairs(METHODS) do assert.is_function(candidates.Object[m], m) end
    -- Every method is one of the documented ones (a new method must pass the check above too).
    for k in pairs(candidates.Object) do
      local known = false
      for _, m in ipairs(METHODS) do known = known or k == m end
      assert.is_true(known, "unexpected method " .. tostring(k))
    end
  end)

  it("never answers a field name with a method, even when the field is absent", function()
    local client = clinch.new { key = "k", secret = "s", base_url = "http://127.0.0.1:9/v1" }
    local cand = registry.wrap({ data = { id = "x", type = "candidates" } }, client).data
    assert.is_true(candidates.is(cand))
    for _, name in ipairs(names) do
      assert.is_not_function(cand[name], name)
    end
    client:close()
  end)
end)

describe("client.candidates against the mock", function()
  local mock, client

  setup(function()
    mock, client = support.start_mock_client { "--candidates", "60" }
  end)
  teardown(function()
    if client then client:close() end
    if mock then mock.stop() end
  end)
  before_each(function() mock.control("POST", "reset") end)

  local function requests()
    return mock.control("GET", "requests").requests
  end

  local function first_candidate(opts)
    local page = assert(client.candidates:list { per_page = 1, include = opts and opts.include })
    return page[1]
  end

  local function expect_validation(field, pattern, ...)
    local v, err = ...
    assert.is_nil(v)
    assert.is_true(errors.is(err), tostring(err))
    assert.equal("validation", err.kind)
    assert.equal(field, err.field)
    if pattern then assert.matches(pattern, err.message, 1, true) end
    assert.is_nil(err.status) -- raised here, not by the server
  end

  describe("reading", function()
    it("lists Candidate objects with attributes, relationships and a readable tostring", function()
      local page = assert(client.candidates:list { per_page = 10, include = { "notes", "jobs", "social_profile" } })
      assert.equal(10, #page)
      local cand = page[1]
      assert.is_true(candidates.is(cand))
      assert.equal("candidates", cand.type)
      assert.is_string(cand.email)
      assert.is_table(cand.tags) -- the attribute, not a method
      assert.is_string(cand.tags[1])
      assert.is_table(cand.links)
      assert.is_number(cand.updated_at.epoch)
      assert.equal("candidate_notes", cand.notes[1].type)
      assert.equal("social_profiles", cand.social_profile.type)
      assert.equal("candidate " .. cand.id .. " " .. cand.first_name .. " " .. cand.last_name .. " <"
        .. cand.email .. ">", tostring(cand))
    end)

    it("gets one candidate by id, with includes", function()
      local first = first_candidate()
      local cand = assert(client.candidates:get(first.id, { include = { "resumes", "jobs" } }))
      assert.is_true(candidates.is(cand))
      assert.equal(first.id, cand.id)
      assert.equal(first.email, cand.email)
      assert.equal("candidate_files", cand.resumes[1].type)
      assert.equal("jobs", cand.jobs[1].type)
    end)

    it("reloads a candidate in place", function()
      local cand = first_candidate()
      local before_tags = #cand.tags
      cand.first_name = "changed locally"
      cand.scratch = true
      assert.equal(cand, cand:reload { include = { "notes" } })
      assert.are_not.equal("changed locally", cand.first_name)
      assert.is_nil(cand.scratch)
      assert.equal(before_tags, #cand.tags)
      assert.equal("candidate_notes", cand.notes[1].type)
      assert.is_true(candidates.is(cand))
    end)

    it("keeps raw access in step with an update made through the object", function()
      local jsonapi = require "clinch.jsonapi"
      local cand = first_candidate()
      assert(cand:update { first_name = "Rawley" })
      assert.equal("Rawley", jsonapi.raw(cand).attributes.first_name)
    end)
  end)

  describe("writing", function()
    it("creates a candidate", function()
      local cand = assert(client.candidates:create {
        email = "ada.lovelace@example.com", first_name = "Ada", last_name = "Lovelace",
        phone_number = "+1-202-555-0169", tag_values = { "Pioneer", "Seed Data" },
      })
      assert.is_true(candidates.is(cand))
      assert.equal("ada.lovelace@example.com", cand.email)
      assert.same({ "Pioneer", "Seed Data" }, cand.tags)
      assert.equal("candidate " .. cand.id .. " Ada Lovelace <ada.lovelace@example.com>", tostring(cand))
      local sent = requests()[1]
      assert.equal("POST", sent.method)
      assert.equal("/v1/candidates", sent.uri)
      assert.equal("application/vnd.api+json", sent.headers["content-type"])
      local body = cjson.decode(sent.body)
      assert.equal("candidate", body.data.type)
      assert.equal("Ada", body.data.attributes.first_name)
      -- and it is really there
      local again = assert(client.candidates:get(cand.id))
      assert.equal("Lovelace", again.last_name)
    end)

    it("says whether the API created the candidate (201) or matched one by its email (200)", function()
      local new = assert(client.candidates:create { email = "created.or.matched@example.com", first_name = "New" })
      assert.is_true(new.created)
      local again = assert(client.candidates:create { email = "created.or.matched@example.com", last_name = "Again" })
      assert.is_false(again.created)
      assert.equal(new.id, again.id)
      assert.equal("Again", again.last_name)
      local statuses = {}
      for i, r in ipairs(requests()) do statuses[i] = r.status end
      assert.same({ 201, 200 }, statuses)
      -- an outcome of the call, not a field: the object's own fields are what the API sent
      assert.is_nil(rawget(again, "created"))
      for k in pairs(again) do assert.not_equal("created", k) end
      assert.is_nil(require("clinch.jsonapi").raw(again).attributes.created)
      -- still a Candidate, with its methods; reload keeps the outcome, get and list never have one
      assert.is_true(candidates.is(again))
      assert.equal(again, assert(again:reload()))
      assert.is_false(again.created)
      assert.is_nil(assert(client.candidates:get(new.id)).created)
      assert.is_nil(first_candidate().created)
      -- the CLI (Lua 5.4) writes what the API sent, and nothing named created
      if not support.is_luajit then
        assert.is_nil(require("clinch.cli.output").json_text(new):find('"created"', 1, true))
      end
    end)

    it("sends an empty tag_values list as []", function()
      assert(client.candidates:create { email = "no.tags@example.com", tag_values = {} })
      assert.truthy(requests()[1].body:find('"tag_values":[]', 1, true))
    end)

    it("updates a candidate by id and through the object, refreshing it in place", function()
      local cand = first_candidate()
      mock.control("DELETE", "requests")
      local updated = assert(client.candidates:update(cand.id, { first_name = "Grace" }))
      assert.equal("Grace", updated.first_name)
      assert.equal("PATCH", requests()[1].method)
      assert.equal("/v1/candidates/" .. cand.id, requests()[1].uri)
      local same = cand
      assert.equal(cand, cand:update { last_name = "Hopper" })
      assert.is_true(rawequal(same, cand))
      assert.equal("Grace", cand.first_name)
      assert.equal("Hopper", cand.last_name)
      assert.equal("candidate", cjson.decode(requests()[2].body).data.type)
      -- A newline in the data never breaks tostring's single line.
      assert(cand:update { first_name = "Line\nBreak" })
      assert.equal("candidate " .. cand.id .. " Line Break Hopper <" .. cand.email .. ">", tostring(cand))
    end)

    it("lists, adds and removes tags by id and through the object", function()
      local cand = first_candidate()
      local tags = assert(client.candidates:list_tags(cand.id))
      assert.equal(#cand.tags, #tags)
      assert.equal("tags", tags[1].type)
      local tag = assert(client.candidates:add_tag(cand.id, "Night Owl"))
      assert.equal("Night Owl", tag.name)
      assert.equal("tag", cjson.decode(requests()[#requests()].body).data.type)
      local tag2 = assert(cand:add_tag("Early Bird"))
      local names = {}
      for _, t in ipairs(assert(cand:list_tags())) do names[t.name] = t.id end
      assert.equal(tag.id, names["Night Owl"])
      assert.equal(tag2.id, names["Early Bird"])

      assert.is_true(client.candidates:remove_tag(cand.id, tag.id))
      assert.equal("DELETE", requests()[#requests()].method)
      assert.equal("/v1/candidates/" .. cand.id .. "/tags/" .. tag.id, requests()[#requests()].uri)
      assert.is_true(cand:remove_tag(tag2)) -- a tag object works as well as its id
      names = {}
      for _, t in ipairs(assert(cand:list_tags())) do names[t.name] = true end
      assert.is_nil(names["Night Owl"])
      assert.is_nil(names["Early Bird"])
      assert(cand:reload())
      assert.equal(#tags, #cand.tags)
      -- Removing it again: the API's 404.
      local ok, err = cand:remove_tag(tag.id)
      assert.is_nil(ok)
      assert.equal("not_found", err.kind)
    end)

    it("uploads a resume from content and from a path (binary, base64 on the wire)", function()
      local cand = first_candidate()
      local bytes = "%PDF-1.4\0\1\2\255\254\r\n\26end"
      local file = assert(client.candidates:upload_resume(cand.id, { filename = "cv.pdf", content = bytes }))
      assert.equal("candidate_files", file.type)
      assert.equal("cv.pdf", file.filename)
      assert.equal(#bytes, file.size)
      local body = cjson.decode(requests()[#requests()].body)
      assert.equal("candidate_files", body.data.type)
      assert.equal(bytes, core.base64_decode(body.data.attributes.content))

      local path = os.tmpname()
      local f = assert(io.open(path, "wb"))
      f:write(bytes, bytes)
      f:close()
      local from_path = assert(cand:upload_resume { path = path })
      assert.equal(path:match("([^/]+)$"), from_path.filename)
      assert.equal(2 * #bytes, from_path.size)
      local named = assert(cand:upload_resume { path = path, filename = "resume.docx" })
      assert.equal("resume.docx", named.filename)
      os.remove(path)
      assert(cand:reload { include = { "resumes" } })
      local ids = {}
      for _, r in ipairs(cand.resumes) do ids[r.id] = true end
      assert.is_true(ids[file.id] and ids[from_path.id] and ids[named.id])
    end)
  end)

  describe("validation before sending", function()
    it("checks create attributes against the seed and the email for plausibility", function()
      local c = client.candidates
      expect_validation("email", "attribute 'email' is required", c:create { first_name = "Jane" })
      for _, bad in ipairs { "jane", "jane@", "@example.com", "jane@example", "jane smith@example.com",
                             "jane@@example.com", "jane..smith@example.com", "jane@-example.com", "\255@example.com",
                             "jane@example.123", ("x"):rep(65) .. "@example.com" } do
        expect_validation("email", "is not a plausible email address", c:create { email = bad })
      end
      expect_validation("email", "must be a string", c:create { email = 42 })
      expect_validation("nickname", "unknown attribute 'nickname'; valid attributes: email, first_name, "
        .. "last_name, phone_number, tag_values", c:create { email = "a@example.com", nickname = "J" })
      local function with(field, value)
        return c:create { email = "a@example.com", [field] = value }
      end
      expect_validation("phone_number", "must be a string", with("phone_number", 5550169))
      expect_validation("first_name", "not valid UTF-8", with("first_name", "\192\128"))
      expect_validation("tag_values", "item 2 must be a string", with("tag_values", { "a", 2 }))
      expect_validation("tag_values", "must be a list", with("tag_values", "a,b"))
      expect_validation("tag_values", "must be a list", with("tag_values", { x = "a" }))
      expect_validation("tag_values", "must be a list", with("tag_values", { [2] = "a" }))
      expect_validation("tag_values", "item 1 must not be blank", with("tag_values", { " " }))
      assert.equal(0, #requests())
    end)

    it("updates what create takes (the update rule), checks it, and sends unknown ones with allow_unknown", function()
      local cand = first_candidate()
      mock.control("DELETE", "requests")
      local valid = "valid attributes: email, first_name, last_name, phone_number, tag_values"
      expect_validation("salary", "unknown attribute 'salary'; " .. valid,
        client.candidates:update(cand.id, { salary = 1 }))
      expect_validation("email", "email", cand:update { email = "not-an-email" })
      expect_validation("last_name", "must be a string", cand:update { last_name = false })
      expect_validation("phone_number", "must be a string", cand:update { phone_number = 5 })
      assert.equal(0, #requests())
      -- Every attribute of createCandidate is an update too, checked by create's rules.
      assert(client.candidates:update(cand.id, { phone_number = "+1 555 0100" }))
      assert(cand:update { email = "renamed@example.com" })
      assert.equal("renamed@example.com", cand.email)
      assert.equal("+1 555 0100", cand.phone_number)
      assert.equal(2, #requests())
      -- allow_unknown still sends what neither operation names.
      assert(cand:update({ first_name = "Una", custom_field = "x" }, { allow_unknown = true }))
      assert.equal(3, #requests())
      assert.equal("x", cjson.decode(requests()[3].body).data.attributes.custom_field)
    end)

    it("checks tag names, files and contents", function()
      local cand = first_candidate()
      mock.control("DELETE", "requests")
      expect_validation("name", "tag name must not be empty", cand:add_tag(""))
      expect_validation("name", "tag name must not be empty", client.candidates:add_tag(cand.id, "  "))
      expect_validation("content", "content or path is required", cand:upload_resume { filename = "cv.pdf" })
      expect_validation("content", "not both", cand:upload_resume { content = "x", path = "/etc/hostname" })
      expect_validation("filename", "filename must be a non-empty string", cand:upload_resume { content = "x" })
      expect_validation("filename", "filename must be a non-empty string",
        cand:upload_resume { content = "x", filename = "" })
      expect_validation("content", "the file is empty", cand:upload_resume { content = "", filename = "a.pdf" })
      expect_validation("content", "must be a string", cand:upload_resume { content = { 1 }, filename = "a.pdf" })
      expect_validation("path", "cannot read", cand:upload_resume { path = "/nonexistent/dir/cv.pdf" })
      assert.equal(0, #requests())
    end)

    it("raises on programming mistakes", function()
      local c = client.candidates
      assert.has_error(function() c:create("jane@example.com") end, "create: attributes must be a table, got string")
      assert.has_error(function() c:create({ email = "a@example.com" }, { allow = true }) end,
        "create: unknown option 'allow' (valid: allow_unknown, retries, timeout)")
      assert.has_error(function() c:update(12, {}) end, "update: id must be a non-empty string, got number")
      assert.has_error(function() c:update("x", "first_name=Jane") end,
        "update: attributes must be a table, got string")
      assert.has_error(function() c:get(nil) end, "get: id must be a non-empty string, got nil")
      assert.has_error(function() c:list_tags({}) end, "list_tags: id must be a non-empty string, got table")
      assert.has_error(function() c:add_tag("x", nil) end, "add_tag: tag name must be a string, got nil")
      assert.has_error(function() c:remove_tag("x", 5) end,
        "remove_tag: tag must be a tag object or a non-empty tag id string")
      assert.has_error(function() c:upload_resume("x", "cv.pdf") end,
        "upload_resume: expected a table { filename=, content= } or { path= }")
      assert.has_error(function() c:upload_resume("x", { file = "cv.pdf" }) end,
        "upload_resume: unknown field 'file' (valid: content, filename, path)")
      assert.has_error(function() candidates.Object.reload({ id = "x" }) end,
        "candidate:reload: not a candidate object (use cand:reload(...))")
      assert.equal(0, #requests())
    end)
  end)

  describe("per-request options", function()
    -- Every call takes { timeout =, retries = } as its last argument, by id and through the object.
    it("every operation takes timeout and retries for its request", function()
      local cand = first_candidate()
      local tag = assert(cand:add_tag("Timed"))
      local file = { filename = "cv.txt", content = "text" }
      local calls = {
        create = function(o) return client.candidates:create({ email = "timed@example.com" }, o) end,
        update = function(o) return client.candidates:update(cand.id, { first_name = "T" }, o) end,
        list_tags = function(o) return client.candidates:list_tags(cand.id, o) end,
        add_tag = function(o) return client.candidates:add_tag(cand.id, "T2", o) end,
        remove_tag = function(o) return client.candidates:remove_tag(cand.id, tag, o) end,
        upload_resume = function(o) return client.candidates:upload_resume(cand.id, file, o) end,
        ["cand:update"] = function(o) return cand:update({ first_name = "T" }, o) end,
        ["cand:reload"] = function(o) return cand:reload(o) end,
        ["cand:list_tags"] = function(o) return cand:list_tags(o) end,
        ["cand:add_tag"] = function(o) return cand:add_tag("T3", o) end,
        ["cand:remove_tag"] = function(o) return cand:remove_tag(tag.id, o) end,
        ["cand:upload_resume"] = function(o) return cand:upload_resume(file, o) end,
      }
      mock.control("POST", "faults", { kind = "latency", ms = 250 })
      for name, call in pairs(calls) do
        local v, err = call { timeout = 0.1, retries = 0 }
        assert.is_nil(v, name)
        assert.equal("timeout", err.kind, name)
        assert.equal(1, err.attempts, name)
      end
      mock.control("DELETE", "faults")
      -- retries: a 503 once, then success, only when the call allows a retry (idempotent requests).
      for _, name in ipairs { "list_tags", "cand:reload", "cand:remove_tag" } do
        tag = assert(cand:add_tag("Retried")) -- the timed-out remove_tag calls did reach the server
        mock.control("POST", "faults", { kind = "status", status = 503, count = 1 })
        local v, err = calls[name] { retries = 0 }
        assert.is_nil(v, name)
        assert.equal(1, err.attempts, name)
        mock.control("POST", "faults", { kind = "status", status = 503, count = 1 })
        assert(calls[name] { retries = 1, timeout = 5 }, name)
      end
    end)

    it("raise at the caller for wrong values and unknown options", function()
      local cand = first_candidate()
      mock.control("DELETE", "requests")
      for _, call in ipairs {
        function() local r = cand:update({}, { bogus = true }); return r end,
        function() local r = cand:update({}, { timeout = "soon" }); return r end,
        function() local r = cand:add_tag("x", { retries = -1 }); return r end,
        function() local r = cand:list_tags { include = { "notes" } }; return r end,
        function() local r = cand:reload { query = { x = print } }; return r end,
        function() local r = client.candidates:remove_tag(cand.id, "t", 5); return r end,
        function() local r = client.candidates:upload_resume(cand.id, { content = "x" }, { timeout = 0 }); return r end,
        function() local r = client.candidates:create({ email = "a@example.com" }, { retries = "2" }); return r end,
      } do
        local ok, err = pcall(call)
        assert.is_false(ok)
        assert.matches("candidates_spec%.lua:%d+: ", err)
      end
      assert.equal(0, #requests())
    end)
  end)

  describe("API errors", function()
    it("maps 401 to auth with the API's message, and never shows the secret", function()
      local wrong = clinch.new { key = "test-key", secret = "not-the-secret", base_url = mock.base_url }
      local page, err = wrong.candidates:list()
      assert.is_nil(page)
      assert.equal("auth", err.kind)
      assert.equal(401, err.status)
      assert.equal("401", err.errors[1].status)
      assert.matches("^Unauthorized: .+", err.message)
      assert.falsy(tostring(err):find("not-the-secret", 1, true))
      local cand, gerr = wrong.candidates:get("anything")
      assert.is_nil(cand)
      assert.equal("auth", gerr.kind)
      wrong:close()
    end)

    it("maps 404 to not_found", function()
      for _, call in ipairs {
        function() return client.candidates:get("missing") end,
        function() return client.candidates:update("missing", { first_name = "X" }) end,
        function() return client.candidates:list_tags("missing") end,
        function() return client.candidates:add_tag("missing", "T") end,
        function() return client.candidates:remove_tag("missing", "t") end,
        function() return client.candidates:upload_resume("missing", { filename = "a.pdf", content = "x" }) end,
      } do
        local v, err = call()
        assert.is_nil(v)
        assert.equal("not_found", err.kind)
        assert.equal(404, err.status)
        assert.equal("Not Found: candidate missing not found", err.message)
      end
    end)

    it("prints an error as one line even when the server's message holds control characters", function()
      -- The mock's 404 detail quotes the id: a newline and an escape sequence come back in it.
      local cand, err = client.candidates:get("two\nlines\27[31m")
      assert.is_nil(cand)
      assert.equal("not_found", err.kind)
      assert.equal("Not Found: candidate two lines [31m not found", err.message)
      assert.equal("candidate two\nlines\27[31m not found", err.errors[1].detail) -- the data, as sent
      local text = tostring(err)
      assert.is_nil(text:find("%c"), text)
      assert.matches("candidate two lines [31m not found", text, 1, true)
      assert.same({ method = "GET", uri = "/v1/candidates/two%0Alines%1B%5B31m" }, err.request)
    end)

    it("maps 422 (and 400) to validation with the API's messages", function()
      local page = assert(client.candidates:list { per_page = 2 })
      -- Another candidate's email: the seed does not list email for updates, the API refuses it.
      local cand, err = page[2]:update({ email = page[1].email }, { allow_unknown = true })
      assert.is_nil(cand)
      assert.equal("validation", err.kind)
      assert.equal(422, err.status)
      assert.equal("Unprocessable Entity: email has already been taken", err.message)
      assert.equal("/data/attributes/email", err.errors[1].source.pointer)
      local none, perr = client.candidates:list { per_page = 101 }
      assert.is_nil(none)
      assert.equal("validation", perr.kind)
      assert.equal(400, perr.status)
      assert.equal("Bad Request: per_page must be an integer from 1 to 100", perr.message)
    end)

    it("reports an HTML 500 page as a clear http error", function()
      mock.control("POST", "faults", { kind = "status", status = 500, html = true, count = 10 })
      local cand, err = client.candidates:get("anything")
      assert.is_nil(cand)
      assert.equal("http", err.kind)
      assert.equal(500, err.status)
      assert.equal("500 Internal Server Error (text/html response)", err.message)
      assert.matches("HTTP 500", tostring(err), 1, true)
      local ok, raised = pcall(function() for _ in client.candidates:each() do end end)
      assert.is_false(ok)
      assert.equal("http", raised.kind)
    end)
  end)
end)
