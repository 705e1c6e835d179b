-- JSON:API decoding (core.decode through clinch.jsonapi) and request-body encoding. Pure, no server.
local jsonapi = require "clinch.jsonapi"
local core = require "clinch.core"
local cjson = require "cjson"

local math_type = math.type -- nil on LuaJIT

local function decode(text)
  local doc, err = jsonapi.decode(text)
  assert(doc, err and tostring(err))
  return doc
end

-- Walks everything reachable from v (cycles included) and returns the path of the first lightuserdata.
local function find_lightuserdata(v, seen, path)
  seen = seen or {}
  path = path or "value"
  if type(v) == "userdata" then return path end
  if type(v) ~= "table" or seen[v] then return nil end
  seen[v] = true
  for k, x in pairs(v) do
    if type(k) == "userdata" then return path .. "[key]" end
    local found = find_lightuserdata(x, seen, path .. "." .. tostring(k))
    if found then return found end
  end
end

local function dt(utc, epoch)
  return string.format('{"utc":"%s","epoch":%d,"ago":"x","local":"%s","local_epoch":%d}', utc, epoch, utc, epoch)
end

local PAGE = [[{
  "data": [
    {"id": "c1", "type": "candidates",
     "attributes": {"name": "Ada", "visit_count": 3, "interaction_score": 0.25, "phone_number": null,
                    "id": "attribute-id", "type": "attribute-type", "notes": "attribute notes",
                    "links": {"self": {"url": "https://x/c1"}, "tel": null},
                    "tags": ["a", null, "b", null],
                    "custom_data": {"nested": {"deep": null, "n": 7, "list": [1, 2.5, null]}},
                    "created_at": ]] .. dt("2021-01-01T00:00:00Z", 1609459200) .. [[,
                    "updated_at": ]] .. dt("2022-01-01T00:00:00Z", 1640995200) .. [[,
                    "utm_parameters": {"source": "linked_in", "term": null}},
     "relationships": {
       "notes": {"data": [{"type": "candidate_notes", "id": "n1"}, {"type": "candidate_notes", "id": "n2"}],
                 "links": {"related": "https://x/c1/notes"}},
       "jobs": {"data": [{"type": "jobs", "id": "j1"}, {"type": "jobs", "id": "j9"}]},
       "social_profile": {"data": {"type": "social_profiles", "id": "s1"}},
       "recent_location": {"data": null},
       "page_sessions": {"links": {"related": "https://x/c1/page_sessions"}},
       "resumes": {"data": []}
     },
     "links": {"self": "https://x/candidates/c1"},
     "meta": {"score": 1}},
    {"id": "c2", "type": "candidates",
     "attributes": {"name": "Grace", "visit_count": 0},
     "relationships": {
       "jobs": {"data": [{"type": "jobs", "id": "j1"}, {"type": "jobs", "id": "j9"}]},
       "notes": {"data": []}
     }}
  ],
  "included": [
    {"id": "n1", "type": "candidate_notes", "attributes": {"body": "first"},
     "relationships": {"candidate": {"data": {"type": "candidates", "id": "c1"}}}},
    {"id": "n2", "type": "candidate_notes", "attributes": {"body": "second"},
     "relationships": {"candidate": {"data": {"type": "candidates", "id": "c1"}}}},
    {"id": "j1", "type": "jobs", "attributes": {"title": "Analyst", "closes_at": null},
     "relationships": {"categories": {"data": [{"type": "categories", "id": "7"}]}}},
    {"id": "s1", "type": "social_profiles"}
  ],
  "meta": {"record_count": 42, "note": null},
  "links": {"self": "https://x/candidates?page=1", "next": "https://x/candidates?page=2", "prev": null},
  "jsonapi": {"version": "1.0"}
}]]

describe("jsonapi.decode", function()
  local doc, c1, c2
  before_each(function()
    doc = decode(PAGE)
    c1, c2 = doc.data[1], doc.data[2]
  end)

  it("turns each resource into one table with id, type and attributes as fields", function()
    assert.equal(2, #doc.data)
    assert.equal("c1", c1.id)
    assert.equal("candidates", c1.type)
    assert.equal("Ada", c1.name)
    assert.equal(0.25, c1.interaction_score)
    assert.equal(4, #doc.included)
    assert.equal("first", doc.included[1].body)
  end)

  it("keeps id and type over attributes of those names, and relationships over attributes", function()
    assert.equal("c1", c1.id)
    assert.equal("candidates", c1.type)
    assert.equal("table", type(c1.notes)) -- the attribute "notes" lost to the relationship
  end)

  it("keeps an attribute called links, and leaves resource-level links and meta to raw()", function()
    assert.equal("https://x/c1", c1.links.self.url)
    assert.is_nil(c1.meta)
    assert.equal("https://x/candidates/c1", jsonapi.raw(c1).links.self)
    assert.equal(1, jsonapi.raw(c1).meta.score)
  end)

  it("uses one table per type+id everywhere in the document (identity map)", function()
    local n1 = doc.included[1]
    assert.equal(n1, c1.notes[1])
    assert.equal(doc.included[2], c1.notes[2])
    assert.equal(c1.jobs[1], c2.jobs[1])
    assert.equal(doc.included[3], c1.jobs[1])
    assert.equal(doc.included[4], c1.social_profile)
  end)

  it("links cycles", function()
    assert.equal(c1, c1.notes[1].candidate)
    assert.equal(c1, c1.notes[2].candidate)
    assert.equal(c1.notes[1], c1.notes[1].candidate.notes[1])
  end)

  it("leaves linkage to a resource that is not included as a shared { id, type } stub", function()
    local stub = c1.jobs[2]
    assert.same({ id = "j9", type = "jobs" }, stub)
    assert.equal(stub, c2.jobs[2])
    assert.same({ id = "7", type = "categories" }, c1.jobs[1].categories[1])
    assert.is_nil(jsonapi.raw(stub))
  end)

  it("makes to-many relationships arrays, to-one a table or nil, and omits relationships without data", function()
    assert.equal(2, #c1.notes)
    assert.equal(0, #c2.notes)
    assert.equal("table", type(c2.notes))
    assert.equal(0, #c1.resumes)
    assert.equal("social_profiles", c1.social_profile.type)
    assert.is_nil(c1.recent_location)
    assert.is_nil(c1.page_sessions)
    assert.is_nil(rawget(c1, "relationships"))
    assert.is_nil(rawget(c1, "attributes"))
  end)

  it("links forward references between primary resources", function()
    local d = decode([[{"data":[
      {"type":"a","id":"1","relationships":{"next":{"data":{"type":"a","id":"2"}}}},
      {"type":"a","id":"2","attributes":{"x":1},"relationships":{"prev":{"data":{"type":"a","id":"1"}}}}]}]])
    assert.equal(d.data[2], d.data[1].next)
    assert.equal(d.data[1], d.data[2].prev)
    assert.equal(1, d.data[1].next.x)
    assert.equal("2", d.data[2].id)
  end)

  it("accepts a single primary resource, null data and numeric ids", function()
    local d = decode([[{"data":{"type":"tags","id":42,"attributes":{"name":"x"},
      "relationships":{"owner":{"data":{"type":"users","id":7}}}}}]])
    assert.equal("42", d.data.id)
    assert.equal("7", d.data.owner.id)
    assert.equal("x", jsonapi.raw(d.data).attributes.name)
    assert.is_nil(decode('{"data":null}').data)
    assert.same({}, decode('{"data":[]}').data)
  end)

  it("removes JSON null everywhere: no lightuserdata reaches resource tables", function()
    assert.is_nil(c1.phone_number)
    assert.is_nil(c1.utm_parameters.term)
    assert.equal("linked_in", c1.utm_parameters.source)
    assert.is_nil(c1.links.tel)
    assert.is_nil(c1.custom_data.nested.deep)
    assert.is_nil(doc.included[3].closes_at)
    assert.is_nil(doc.meta.note)
    assert.is_nil(doc.links.prev)
    assert.is_nil(find_lightuserdata(doc))
  end)

  it("drops null elements of arrays and compacts them", function()
    assert.same({ "a", "b" }, c1.tags)
    assert.equal(2, #c1.custom_data.nested.list)
    assert.equal(2.5, c1.custom_data.nested.list[2])
  end)

  it("gives integers for integral numbers on Lua 5.3+", function()
    assert.equal("3", tostring(c1.visit_count))
    assert.equal("0", tostring(c2.visit_count))
    assert.equal("42", tostring(doc.meta.record_count))
    assert.equal("7", tostring(c1.custom_data.nested.n))
    assert.equal("1", tostring(c1.custom_data.nested.list[1]))
    if math_type then
      assert.equal("integer", math_type(c1.visit_count))
      assert.equal("integer", math_type(c1.created_at.epoch))
      assert.equal("float", math_type(c1.interaction_score))
      local d = decode('{"meta":{"big":9007199254740991,"huge":9007199254740992,"neg":-12,"e":1e3}}')
      assert.equal("integer", math_type(d.meta.big))
      assert.equal(9007199254740991, d.meta.big)
      assert.equal("float", math_type(d.meta.huge)) -- beyond 2^53 the text may not have been exact
      assert.equal(-12, d.meta.neg)
      assert.equal("integer", math_type(d.meta.e))
    end
  end)

  it("gives DateTime objects a metatable: tostring is utc, comparisons use epoch", function()
    local a, b = c1.created_at, c1.updated_at
    assert.is_true(jsonapi.is_datetime(a))
    assert.equal(core.DateTime, getmetatable(a))
    assert.equal(jsonapi.DateTime, getmetatable(a))
    assert.equal("2021-01-01T00:00:00Z", tostring(a))
    assert.equal(1609459200, a.epoch)
    assert.is_true(a < b)
    assert.is_true(a <= b)
    assert.is_false(b < a)
    assert.is_true(b > a)
    assert.is_false(a == b)
    local same_instant = decode('{"meta":{"x":' .. dt("2021-01-01T10:00:00+10:00", 1609459200) .. '}}').meta.x
    assert.is_true(a == same_instant)
    assert.is_true(a <= same_instant)
    assert.is_false(a == { epoch = "1609459200" }) -- == never raises
    assert.is_false(a == setmetatable({}, getmetatable(a)))
    assert.has_error(function() return a < {} end)
    assert.is_false(jsonapi.is_datetime(c1))
    assert.is_false(jsonapi.is_datetime(c1.utm_parameters))
    assert.is_false(jsonapi.is_datetime("2021"))
  end)

  it("only treats objects with a string utc and a number epoch as DateTimes", function()
    local d = decode([[{"data":{"type":"t","id":"1","attributes":{"utc":"x","epoch":1,
      "a":{"utc":"x"},"b":{"epoch":1},"c":{"utc":1,"epoch":1},"d":{"utc":"x","epoch":"1"}}}}]])
    assert.is_nil(getmetatable(d.data)) -- the resource itself is never one
    for _, k in ipairs { "a", "b", "c", "d" } do assert.is_false(jsonapi.is_datetime(d.data[k]), k) end
  end)

  it("keeps top-level meta, links, jsonapi and errors", function()
    assert.equal(42, doc.meta.record_count)
    assert.equal("https://x/candidates?page=2", doc.links.next)
    assert.equal("1.0", doc.jsonapi.version)
    assert.is_nil(doc.errors)
    local e = decode([[{"errors":[{"status":"422","title":"Invalid","detail":null,
      "source":{"pointer":"/data/attributes/email"}}],"meta":{"request_id":"r1"}}]])
    assert.is_nil(e.data)
    assert.equal(1, #e.errors)
    assert.equal("422", e.errors[1].status)
    assert.equal("/data/attributes/email", e.errors[1].source.pointer)
    assert.is_nil(find_lightuserdata(e))
    assert.equal("r1", e.meta.request_id)
  end)

  it("gives raw access to the resource object as parsed, nulls and original names included", function()
    local raw = jsonapi.raw(c1)
    assert.equal("c1", raw.id)
    assert.equal("attribute-id", raw.attributes.id)
    assert.equal("attribute notes", raw.attributes.notes)
    assert.equal(jsonapi.null, raw.attributes.phone_number)
    assert.equal(cjson.null, raw.attributes.utm_parameters.term)
    assert.equal(4, #raw.attributes.tags)
    assert.equal("https://x/c1/notes", raw.relationships.notes.links.related)
    assert.equal(raw, jsonapi.raw(c1)) -- parsed once per document
    assert.equal("second", jsonapi.raw(doc.included[2]).attributes.body)
    assert.equal("s1", jsonapi.raw(c1.social_profile).id)
    assert.equal("Ada", c1.name) -- raw access changes nothing
    assert.is_nil(jsonapi.raw({ id = "c1", type = "candidates" }))
    assert.has_error(function() jsonapi.raw("c1") end)
  end)

  it("parses a document once for raw access to any of its resources, as long as one is kept", function()
    local text = '{"data":[{"type":"t","id":"1","attributes":{"v":null},"meta":{"m":1}},'
      .. '{"type":"t","id":"2","attributes":{"v":2}}],"included":[{"type":"u","id":"3","links":{"self":"/u/3"}}]}'
    local d1 = assert(jsonapi.decode(text))
    local first = jsonapi.raw(d1.data[1])
    assert.equal(1, first.meta.m)
    assert.equal(jsonapi.null, first.attributes.v)
    -- a document of the same text shares that parse; one of another text does not
    local d2 = assert(jsonapi.decode(text))
    assert.equal(first, jsonapi.raw(d2.data[1]))
    local other = assert(jsonapi.decode(text .. " "))
    assert.are_not.equal(first, jsonapi.raw(other.data[1]))
    assert.same(first, jsonapi.raw(other.data[1]))
    -- with the resources raw looked at gone, the others still get their objects (parsed again)
    local second, third = d1.data[2], d1.included[1]
    d1, d2, first = nil, nil, nil -- luacheck: ignore 311
    collectgarbage()
    collectgarbage()
    assert.equal(2, jsonapi.raw(second).attributes.v)
    assert.equal("/u/3", jsonapi.raw(third).links.self)
    assert.equal(jsonapi.raw(second).attributes, jsonapi.raw(second).attributes)
  end)

  describe("given a resource more than once", function()
    -- Union, member by member; of two copies the later registered wins: `included` is registered before
    -- `data`, so primary data wins over included, and within either the later copy wins, as a repeated
    -- member name does in lua-cjson. Relationships win over attributes, id and type over both.
    local U1, U2 = '{"type":"u","id":"1"}', '{"type":"u","id":"2"}'

    it("makes a primary resource that is also included one table, the primary's members winning", function()
      local d = decode([[{"data":{"type":"a","id":"1",
          "attributes":{"v":1,"only_data":"d","gone":null,"shadow":"attr","deep":{"x":1}},
          "relationships":{"owner":{"data":]] .. U1 .. [[},"both":{"data":]] .. U1 .. [[},
            "none":{"data":null},"lo":{"links":{"related":"/lo"}},"shadow2":{"data":]] .. U1 .. [[}},
          "links":{"self":"/a/1"}},
        "included":[{"type":"a","id":"1",
          "attributes":{"v":2,"only_inc":"i","gone":"stale","shadow2":"attr","id":"x","deep":{"y":2}},
          "relationships":{"both":{"data":]] .. U2 .. [[},"inc_rel":{"data":[]] .. U2 .. [[]},
            "none":{"data":]] .. U2 .. [[},"lo":{"data":]] .. U2 .. [[},"shadow":{"data":]] .. U2 .. [[},
            "back":{"data":{"type":"a","id":"1"}}}},
          ]] .. U1 .. "," .. U2 .. "]}")
      local a, u1, u2 = d.data, d.included[2], d.included[3]
      assert.equal(a, d.included[1])
      assert.equal(3, #d.included)
      assert.equal("1", a.id)
      assert.equal("a", a.type)
      assert.equal(1, a.v)
      assert.equal("d", a.only_data)
      assert.equal("i", a.only_inc)
      assert.is_nil(a.gone) -- the primary's null wins too
      assert.same({ x = 1 }, a.deep) -- a member is taken whole, not merged deeper
      assert.equal(u1, a.owner)
      assert.equal(u1, a.both)
      assert.is_nil(a.none) -- the primary's empty to-one wins
      assert.equal(u2, a.lo) -- a links-only relationship says nothing of linkage: the included one shows
      assert.equal(1, #a.inc_rel)
      assert.equal(u2, a.inc_rel[1])
      assert.equal(a, a.back)
      assert.equal(u2, a.shadow) -- relationships win over attributes, whichever copy holds them
      assert.equal(u1, a.shadow2)
      local raw = jsonapi.raw(a) -- the primary data's object
      assert.equal(1, raw.attributes.v)
      assert.equal("/a/1", raw.links.self)
      assert.is_nil(raw.attributes.only_inc)
      assert.is_nil(find_lightuserdata(d))
    end)

    it("merges copies within data: the later wins, and both copies' relationships are linked", function()
      local d = decode([[{"data":[
        {"type":"a","id":"1","attributes":{"v":1,"first":"f","x":1,"y":null,"r1":"attr"},
         "relationships":{"r1":{"data":]] .. U1 .. [[},"r":{"data":]] .. U1 .. [[},"e":{"data":]] .. U1 .. [[}}},
        {"type":"b","id":"1"},
        {"type":"a","id":1,"attributes":{"v":2,"second":"s","x":null,"y":2},
         "relationships":{"r2":{"data":[]] .. U2 .. [[]},"r":{"data":]] .. U2 .. [[},"e":{"data":null}}}]}]])
      local a = d.data[1]
      assert.equal(3, #d.data)
      assert.equal(a, d.data[3])
      assert.equal("1", a.id)
      assert.equal(2, a.v)
      assert.equal("f", a.first)
      assert.equal("s", a.second)
      assert.is_nil(a.x)
      assert.equal(2, a.y)
      assert.same({ id = "1", type = "u" }, a.r1) -- not the later copy's attribute
      assert.equal("2", a.r.id)
      assert.equal("2", a.r2[1].id)
      assert.is_nil(a.e)
      assert.equal(2, jsonapi.raw(a).attributes.v) -- the winning copy
      assert.equal("b", d.data[2].type)
    end)

    it("merges copies within included: the later wins, and the resource is listed once", function()
      local d = decode([[{"data":{"type":"t","id":"1","relationships":{"b":{"data":{"type":"b","id":"1"}}}},
        "included":[{"type":"b","id":"1","attributes":{"v":1,"old":"o"},"relationships":{"p":{"data":]] .. U1 .. [[}}},
          ]] .. U1 .. [[,
          {"type":"b","id":"1","attributes":{"v":3}},
          {"type":"b","id":"1","attributes":{"v":4,"new":"n"},"relationships":{"q":{"data":]] .. U1 .. [[}}}]}]])
      local b = d.data.b
      assert.equal(2, #d.included)
      assert.equal(b, d.included[1])
      assert.equal(d.included[2], b.p)
      assert.equal(d.included[2], b.q)
      assert.equal(4, b.v)
      assert.equal("o", b.old)
      assert.equal("n", b.new)
      assert.equal(4, jsonapi.raw(b).attributes.v)
    end)

    it("orders included, then data, copy by copy, when a resource is in both more than once", function()
      local d = decode([[{"data":[{"type":"a","id":"1","attributes":{"v":"d1","d1":1}},
                                  {"type":"a","id":"1","attributes":{"v":"d2","d2":1}}],
        "included":[{"type":"a","id":"1","attributes":{"v":"i1","i1":1,"d2":"i"}},
                    {"type":"a","id":"1","attributes":{"v":"i2","i2":1}}]}]])
      local a = d.data[1]
      assert.equal(a, d.data[2])
      assert.equal(a, d.included[1])
      assert.equal(1, #d.included)
      assert.same({ id = "1", type = "a", v = "d2", d1 = 1, d2 = 1, i1 = 1, i2 = 1 }, a)
      assert.equal("d2", jsonapi.raw(a).attributes.v)
    end)

    it("keeps a repeated stub target linked everywhere", function()
      local d = decode([[{"data":[{"type":"a","id":"1","relationships":{"n":{"data":{"type":"a","id":"2"}}}},
        {"type":"a","id":"2","attributes":{"v":1}},{"type":"a","id":"2","attributes":{"w":2}}]}]])
      assert.equal(d.data[2], d.data[1].n)
      assert.equal(d.data[3], d.data[1].n)
      assert.equal(1, d.data[1].n.v)
      assert.equal(2, d.data[1].n.w)
    end)
  end)

  it("uses its own lua-cjson instance: the application's cjson settings change nothing", function()
    cjson.decode_max_depth(3)
    local ok, d = pcall(jsonapi.decode, '{"data":{"type":"a","id":"1","attributes":{"x":{"y":{"z":[1]}}}}}')
    cjson.decode_max_depth(1000)
    assert.is_true(ok)
    assert.equal(1, d.data.x.y.z[1])
  end)

  it("reports a missing lua-cjson as an unsupported error", function()
    local support = require "support"
    local code = [[
      package.preload["cjson.safe"] = function() error("no cjson here") end
      local core = require "clinch.core"
      local doc, msg, kind = core.decode("{}")
      local jsonapi = require "clinch.jsonapi"
      local doc2, err = jsonapi.decode("{}")
      io.write(tostring(doc), "|", msg, "|", kind, "|", tostring(doc2), "|", err.kind, "|", err.message)
    ]]
    local ok, out = support.run(support.lua .. " -e " .. support.shell_quote(code))
    assert.is_true(ok, out)
    assert.equal("nil|lua-cjson not available|unsupported|nil|unsupported|lua-cjson not available", out)
  end)

  it("raises for a non-string argument (a programming error)", function()
    assert.has_error(function() jsonapi.decode(nil) end)
    assert.has_error(function() jsonapi.decode({}) end)
    assert.has_error(function() core.decode({}) end)
    assert.has_error(function() core.decode("{}", "not a table") end)
  end)
end)

describe("jsonapi.decode on malformed documents", function()
  local function fails(text, pattern)
    local doc, err = jsonapi.decode(text)
    assert.is_nil(doc, text)
    assert.equal("decode", err.kind)
    assert.is_string(err.message)
    assert.truthy(err.message:find(pattern, 1, true),
      ("message %q does not contain %q"):format(err.message, pattern))
    assert.truthy(tostring(err):find("decode", 1, true))
    return err
  end

  it("says where the problem is", function()
    fails("", "not JSON")
    fails("nope", "not JSON: Expected value but found invalid token at character 1")
    fails('{"data":[1,2', "not JSON")
    fails('{"data":NaN}', "not JSON")
    fails('{"meta":{"x":Infinity}}', "not JSON")
    fails('[{"type":"a","id":"1"}]', "top level: expected object, got array")
    fails('"text"', "top level: expected object, got string")
    fails("null", "top level: expected object, got null")
    fails('{"data":"s"}', "data: expected object, array or null, got string")
    fails('{"data":3}', "data: expected object, array or null, got number")
    fails('{"data":true}', "data: expected object, array or null, got boolean")
    fails('{"data":{"type":"a"}}', "data: resource has no id")
    fails('{"data":{"id":"1"}}', "data: resource has no type")
    fails('{"data":{"id":null,"type":"a"}}', "data: resource has no id")
    fails('{"data":{"id":true,"type":"a"}}', "data: resource id must be a string, got boolean")
    fails('{"data":{"id":"1","type":5}}', "data: resource type must be a string, got number")
    fails('{"data":[{"type":"a","id":"1"},{"type":"a","id":"2"},{"type":"a"}]}', "data[3]: resource has no id")
    fails('{"data":["x"]}', "data[1]: expected resource object, got string")
    fails('{"data":[[1]]}', "data[1]: resource has no type")
    fails('{"data":{"type":"a","id":"1","attributes":[1]}}', "data.attributes: expected object, got array")
    fails('{"data":{"type":"a","id":"1","attributes":"x"}}', "data.attributes: expected object, got string")
    fails('{"data":{"type":"a","id":"1","relationships":"x"}}', "data.relationships: expected object, got string")
    fails('{"data":{"type":"a","id":"1","relationships":{"notes":3}}}',
      "data.relationships.notes: expected object, got number")
    fails('{"data":{"type":"a","id":"1","relationships":{"notes":{"data":"n1"}}}}',
      "data.relationships.notes.data: expected object, array or null, got string")
    fails('{"data":{"type":"a","id":"1","relationships":{"owner":{"data":{"type":"u"}}}}}',
      "data.relationships.owner.data: resource identifier has no id")
    fails('{"data":{"type":"a","id":"1","relationships":{"notes":{"data":[{"type":"n","id":"1"},"x"]}}}}',
      "data.relationships.notes.data[2]: expected resource identifier object, got string")
    fails('{"included":{"type":"a","id":"1"}}', "included: expected array, got object")
    fails('{"included":[{"type":"a","id":"1"},{"id":"2"}]}', "included[2]: resource has no type")
    fails('{"included":[{"type":"a","id":"1"},{"type":"b","id":"2","relationships":' ..
      '{"notes":{"data":[{"id":"1"}]}}}]}', "included[2].relationships.notes.data[1]: resource identifier has no type")
    fails('{"errors":{"title":"x"}}', "errors: expected array, got object")
  end)

  it("refuses every top-level value that is not an object, the empty array included", function()
    -- lua-cjson gives [] and {} as the same empty table: the text must decide
    for text, kind in pairs { ["[]"] = "array", [" \n\t[ ]"] = "array", ["[1]"] = "array", ["[{}]"] = "array",
      ['"x"'] = "string", ["1"] = "number", ["-0.5"] = "number", ["true"] = "boolean", ["false"] = "boolean",
      ["null"] = "null", ['[{"type":"a","id":"1"}]'] = "array" } do
      local err = fails(text, "top level: expected object, got " .. kind)
      assert.equal("top level: expected object, got " .. kind, err.message)
    end
    assert.same({}, decode("{}"))
    assert.same({}, decode(" \r\n {} "))
  end)

  it("refuses numeric ids that cannot be what the text said, instead of merging resources", function()
    -- both parse to the same double: as strings they would collapse into one table
    local err = fails('{"data":[{"type":"a","id":"1"},{"type":"a","id":9007199254740993},' ..
      '{"type":"a","id":9007199254740992}]}', "data[2]: numeric resource id 9.007199254741e+15 is beyond 2^53")
    assert.truthy(err.message:find("the API sends ids as strings", 1, true), err.message)
    fails('{"data":{"type":"a","id":-9007199254740992}}',
      "data: numeric resource id -9.007199254741e+15 is beyond 2^53")
    fails('{"data":{"type":"a","id":1e300}}', "data: numeric resource id 1e+300 is beyond 2^53")
    fails('{"data":{"type":"a","id":1.5}}', "data: numeric resource id 1.5 is not an integer")
    fails('{"included":[{"type":"a","id":0.1}]}', "included[1]: numeric resource id 0.1 is not an integer")
    fails('{"data":{"type":"a","id":"1","relationships":{"o":{"data":{"type":"u","id":12345678901234567890}}}}}',
      "data.relationships.o.data: numeric resource identifier id 1.2345678901235e+19 is beyond 2^53")
    fails('{"data":{"type":"a","id":"1","relationships":{"o":{"data":[{"type":"u","id":"1"},{"type":"u","id":2.5}]}}}}',
      "data.relationships.o.data[2]: numeric resource identifier id 2.5 is not an integer")
    fails('{"included":[{"type":"a","id":"1","relationships":{"o":{"data":{"type":"u","id":9007199254740993}}}}]}',
      "included[1].relationships.o.data: numeric resource identifier id 9.007199254741e+15 is beyond 2^53")
  end)

  it("keeps integral numeric ids below 2^53 as their decimal string, and raw() finds them", function()
    local d = decode('{"data":[{"type":"a","id":9007199254740991,"attributes":{"v":1}},' ..
      '{"type":"a","id":-9007199254740991},{"type":"a","id":0},{"type":"a","id":1e3,"attributes":{"v":2}}],' ..
      '"included":[{"type":"u","id":12}],' ..
      '"meta":{"x":1}}')
    assert.equal("9007199254740991", d.data[1].id)
    assert.equal("-9007199254740991", d.data[2].id)
    assert.equal("0", d.data[3].id)
    assert.equal("1000", d.data[4].id)
    assert.equal(1, jsonapi.raw(d.data[1]).attributes.v)
    assert.equal(2, jsonapi.raw(d.data[4]).attributes.v)
    assert.equal("12", d.included[1].id)
    assert.equal(12, jsonapi.raw(d.included[1]).id)
    -- a string id and the same number are one resource
    local m = decode('{"data":[{"type":"a","id":"7"},{"type":"a","id":7}]}')
    assert.equal(m.data[1], m.data[2])
  end)

  it("limits nesting depth", function()
    local deep = '{"meta":' .. string.rep("[", 200) .. string.rep("]", 200) .. "}"
    fails(deep, "nesting deeper than 128 levels")
    local ok = '{"meta":{"x":' .. string.rep("[", 100) .. "1" .. string.rep("]", 100) .. "}}"
    assert.is_table(decode(ok).meta.x)
    fails(string.rep("[", 100000), "nesting deeper")
    fails(string.rep("{\"a\":", 5000), "nesting deeper")
  end)

  it("never crashes on garbage, truncated or mutated documents", function()
    local state = 12345
    local function rand(n) -- deterministic, the same on every Lua
      state = (state * 16807) % 2147483647
      return state % n
    end
    local alphabet = '{}[]":,0123456789.-+eEtrufalsn \\u/\0\255abc'
    local function check(text)
      local ok, doc, err = pcall(jsonapi.decode, text)
      assert.is_true(ok, doc)
      if doc == nil then
        assert.equal("decode", err.kind)
      else
        assert.is_table(doc)
        assert.is_nil(find_lightuserdata(doc))
      end
    end
    for _ = 1, 300 do
      local parts = {}
      for i = 1, rand(60) do
        local k = rand(#alphabet) + 1
        parts[i] = alphabet:sub(k, k)
      end
      check(table.concat(parts))
    end
    for i = 0, #PAGE, 7 do check(PAGE:sub(1, i)) end
    for _ = 1, 200 do
      local pos = rand(#PAGE) + 1
      local k = rand(#alphabet) + 1
      check(PAGE:sub(1, pos - 1) .. alphabet:sub(k, k) .. PAGE:sub(pos + 1))
    end
    check(string.rep(" ", 1000000))
    check(string.rep("\0", 1000))
    check('{"data":[' .. string.rep('{"type":"a","id":"1"},', 20000) .. '{"type":"a","id":"1"}]}')
  end)
end)

-- A relationship whose value object has no "data" member ("links"/"meta" only) becomes no field, yet
-- raw() still shows it. These specs pin that down, with the messages for malformed documents, so that
-- any change to how the text reaches lua-cjson (such as leaving those members out before parsing, tried
-- and measured as no faster) must keep the result exactly the one the whole text gives.
describe("jsonapi.decode and link-only relationships", function()
  local parse = require("cjson.safe").new() -- configured like core.decode's private instance
  parse.decode_max_depth(128)
  parse.decode_invalid_numbers(false)

  -- Deep comparison of two decoded values: same shape, same identities (cycles included), same
  -- metatables, same number subtypes.
  local function same(a, b, path, seen, back)
    seen, back, path = seen or {}, back or {}, path or "doc"
    if type(a) ~= type(b) then return false, path .. ": " .. type(a) .. " vs " .. type(b) end
    if type(a) ~= "table" then
      if a ~= b or (math_type and math_type(a) ~= math_type(b)) then
        return false, path .. ": " .. tostring(a) .. " vs " .. tostring(b)
      end
      return true
    end
    if seen[a] ~= nil or back[b] ~= nil then
      if seen[a] ~= b or back[b] ~= a then return false, path .. ": identity differs" end
      return true
    end
    seen[a], back[b] = b, a
    if getmetatable(a) ~= getmetatable(b) then return false, path .. ": metatable differs" end
    for k, v in pairs(a) do
      local ok, where = same(v, rawget(b, k), path .. "." .. tostring(k), seen, back)
      if not ok then return false, where end
    end
    for k in pairs(b) do
      if rawget(a, k) == nil then return false, path .. "." .. tostring(k) .. ": missing on the left" end
    end
    return true
  end

  local function is_resource_list(v) return type(v) == "table" and (v[1] ~= nil or next(v) == nil) end

  -- The oracle: the document re-encoded by lua-cjson without the relationship members whose value is an
  -- object without "data". nil when lua-cjson cannot parse or re-encode it.
  local function stripped(text)
    local tree = parse.decode(text)
    if type(tree) ~= "table" then return nil end
    local function strip(r)
      if type(r) ~= "table" or type(r.relationships) ~= "table" then return end
      for name, rel in pairs(r.relationships) do -- {} and [] have no data either
        if type(rel) == "table" and rel[1] == nil and rel.data == nil then r.relationships[name] = nil end
      end
    end
    for _, list in ipairs { tree.data, tree.included } do
      if is_resource_list(list) then
        for i = 1, #list do strip(list[i]) end
      else
        strip(list)
      end
    end
    local ok, out = pcall(cjson.encode, tree)
    return ok and out or nil
  end

  -- decode(text) must equal decode(stripped(text)): same document, or both failing.
  local function check_same_as_stripped(text)
    local other = stripped(text)
    local d1, e1 = jsonapi.decode(text)
    if not other then
      return d1, e1
    end
    local d2, e2 = jsonapi.decode(other)
    assert.equal(d1 == nil, d2 == nil, text)
    if d1 then
      local ok, where = same(d1, d2)
      assert(ok, (where or "") .. " in " .. text)
    else
      assert.equal("decode", e1.kind)
      assert.equal("decode", e2.kind)
    end
    return d1, e1
  end

  local function res(rels)
    return '{"type":"t","id":"1","attributes":{"name":"x"},"relationships":{' .. rels .. '}}'
  end
  local OWNER = '"owner":{"data":{"type":"u","id":"7"},"links":{"related":"/t/1/owner"}}'
  local LINKS = '"sessions":{"links":{"self":"/t/1/relationships/sessions","related":"/t/1/sessions"}}'
  local META = '"events":{"meta":{"count":3}}'
  local EMPTY = '"resumes":{}'
  local MANY = '"notes":{"data":[{"type":"n","id":"1"},{"type":"n","id":"2"}]}'

  it("omits them wherever they are among the relationships, and raw() still has them", function()
    local cases = {
      { LINKS, OWNER, MANY }, { OWNER, LINKS, MANY }, { OWNER, MANY, LINKS }, { LINKS, META, EMPTY },
      { OWNER, MANY }, { LINKS, OWNER, META, MANY, EMPTY }, { LINKS }, {},
    }
    for _, members in ipairs(cases) do
      for _, sep in ipairs { ",", " ,\n ", "\t, " } do
        local text = '{"data":' .. res(table.concat(members, sep)) .. "}"
        local d = check_same_as_stripped(text)
        assert(d, text)
        local r, raw = d.data, jsonapi.raw(d.data)
        assert.equal("x", r.name)
        assert.is_nil(r.sessions)
        assert.is_nil(r.events)
        assert.is_nil(r.resumes)
        local has = {}
        for _, m in ipairs(members) do has[m:match('^"(%w+)"')] = true end
        if has.owner then
          assert.equal("7", r.owner.id)
          assert.equal("/t/1/owner", raw.relationships.owner.links.related)
        end
        if has.notes then assert.equal(2, #r.notes) end
        if has.sessions then assert.equal("/t/1/sessions", raw.relationships.sessions.links.related) end
        if has.events then assert.equal(3, raw.relationships.events.meta.count) end
        if has.resumes then assert.same({}, raw.relationships.resumes) end
        local n = 0
        for _ in pairs(raw.relationships) do n = n + 1 end
        assert.equal(#members, n, text)
      end
    end
  end)

  it("does the same in included resources, with the text spaced out", function()
    local text = ' \n{ "included" : [ { "type" : "n" , "id" : "1" , "relationships" : { ' ..
      '"a" : { "links" : { "related" : "/a" } } , "candidate" : { "data" : { "type" : "t" , "id" : "1" } } , ' ..
      '"b" : { "meta" : { } } } } ] , "data" : [ ' .. res(LINKS .. "," .. OWNER) .. " ] } \n"
    local d = check_same_as_stripped(text)
    assert.equal(d.data[1], d.included[1].candidate)
    assert.is_nil(d.included[1].a)
    assert.equal("/a", jsonapi.raw(d.included[1]).relationships.a.links.related)
    assert.same({}, jsonapi.raw(d.included[1]).relationships.b.meta)
  end)

  it("is not fooled by strings holding braces, quotes, escapes or the words relationships and data", function()
    local tricky = {
      [["{\"relationships\":{\"x\":{\"links\":{}}}}"]], [["} ] { [ , :"]], [["say \"data\": yes"]],
      [["back\\slash\\"]], [["\\\""]], [["data"]], [["relationships"]], [["\u0022}\u005c"]], [["é € \ud83d\ude00"]],
    }
    for _, s in ipairs(tricky) do
      local text = '{"data":{"type":"t","id":"1","attributes":{"a":' .. s .. ',' .. s .. ':1},' ..
        '"relationships":{"x":{"links":{"related":' .. s .. '},"meta":{' .. s .. ':' .. s .. '}},' ..
        '"y":{"data":null,"links":{"related":' .. s .. '}},' ..
        '"z":{"meta":{"data":' .. s .. '}}}},"meta":{"relationships":' .. s .. '}}'
      local d = check_same_as_stripped(text)
      assert(d, text)
      assert.equal(parse.decode(s), d.data.a)
      assert.is_nil(d.data.x)
      assert.is_nil(d.data.y)
      assert.is_nil(d.data.z)
      assert.equal(parse.decode(s), jsonapi.raw(d.data).relationships.x.links.related)
    end
  end)

  it("keeps members whose data is spelt with escapes, and treats escaped names as names", function()
    local d = check_same_as_stripped('{"data":' ..
      res('"owner":{"d\\u0061ta":{"type":"u","id":"7"}},"x\\"y":{"links":{}},"z":{"data":null}') .. "}")
    assert.equal("7", d.data.owner.id) -- "d\u0061ta" is "data"
    assert.is_nil(d.data['x"y'])
    assert.is_table(jsonapi.raw(d.data).relationships['x"y'])
    d = check_same_as_stripped('{"d\\u0061ta":{"type":"t","id":"1","rel\\u0061tionships":{' .. OWNER .. "," ..
      LINKS .. "}}}")
    assert.equal("7", d.data.owner.id)
    assert.is_nil(d.data.sessions)
    d = check_same_as_stripped('{"data":{"type":"t","id":"1","relationships":{' .. LINKS .. "," ..
      '"s\\u0065ssions":{"data":{"type":"u","id":"2"}}}}}') -- a repeated name, spelt differently
    assert.equal("2", d.data.sessions.id)
  end)

  it("omits members whose data is only nested deeper", function()
    local d = check_same_as_stripped('{"data":' .. res('"a":{"links":{"data":1}},"b":{"meta":{"data":' ..
      '{"type":"u","id":"1"}}},"c":{"links":{"x":[{"data":{}}]}},' .. OWNER) .. "}")
    assert.is_nil(d.data.a)
    assert.is_nil(d.data.b)
    assert.is_nil(d.data.c)
    assert.equal("7", d.data.owner.id)
    assert.equal(1, jsonapi.raw(d.data).relationships.a.links.data)
  end)

  it("follows the last of repeated names, and of repeated relationships", function()
    local d = check_same_as_stripped('{"data":' .. res('"owner":{"data":{"type":"u","id":"1"}},' ..
      '"owner":{"links":{}}') .. "}")
    assert.is_nil(d.data.owner) -- the last one wins, as in lua-cjson
    d = check_same_as_stripped('{"data":' .. res('"owner":{"links":{}},"owner":{"data":{"type":"u","id":"1"}}') .. "}")
    assert.equal("1", d.data.owner.id)
    d = check_same_as_stripped('{"data":{"type":"t","id":"1","relationships":{' .. OWNER ..
      '},"relationships":{' .. LINKS .. "}}}")
    assert.is_nil(d.data.owner)
    d = check_same_as_stripped('{"data":{"type":"t","id":"1","relationships":{' .. LINKS ..
      '},"relationships":{' .. OWNER .. "}}}")
    assert.equal("7", d.data.owner.id)
  end)

  it("leaves resource-level meta and links, and relationships outside resources, alone", function()
    local text = '{"data":{"type":"t","id":"1","meta":{"relationships":{"a":{"links":{}}}},' ..
      '"links":{"self":"/t/1"},"relationships":{' .. LINKS .. "}}," ..
      '"meta":{"relationships":{"b":{"links":{}}}},"links":{"relationships":{"c":{}}}}'
    local d = check_same_as_stripped(text)
    assert.same({ a = { links = {} } }, jsonapi.raw(d.data).meta.relationships)
    assert.same({ b = { links = {} } }, d.meta.relationships)
    assert.same({ c = {} }, d.links.relationships)
  end)

  -- cjson's message for text, as core.decode words it
  local function cjson_message(text)
    local tree, msg = parse.decode(text)
    assert.is_nil(tree, text)
    if msg:find("^Found too many nested") then return "document: nesting deeper than 128 levels (" .. msg .. ")" end
    return "not JSON: " .. msg
  end

  it("reports malformed documents exactly as lua-cjson reads the whole text", function()
    local bad = {
      '{"data":' .. res(LINKS .. "," .. OWNER) .. ',"meta":tru}',
      '{"data":' .. res(LINKS .. " " .. OWNER) .. "}",                 -- a missing comma
      '{"data":' .. res(LINKS .. ",," .. OWNER) .. "}",
      '{"data":' .. res(LINKS .. "," .. OWNER .. ",") .. "}",            -- a trailing comma
      '{"data":' .. res('"a":{"links":tru},' .. OWNER) .. "}",           -- inside a link-only member
      '{"data":' .. res('"a":{"links":{"x":1,}},' .. OWNER) .. "}",
      '{"data":' .. res('"a":{"links":"\\ud800"},' .. OWNER) .. "}",     -- a lone surrogate
      '{"data":' .. res('"a":{"links":01},' .. OWNER) .. "}",
      '{"data":' .. res('"a":{"links":[1}},' .. OWNER) .. "}",
      '{"data":' .. res('"a":{"links" {}},' .. OWNER) .. "}",
      '{"data":' .. res('"a":{"links":{}}' .. OWNER) .. "}",
      '{"data":' .. res(LINKS .. "," .. OWNER) .. "}}",                  -- trailing bytes
      '{"data":' .. res(LINKS .. "," .. OWNER) .. "} x",
      '{"data":' .. res(LINKS .. "," .. OWNER),                          -- truncated
      '{"data":' .. res('"a":{"links":' .. string.rep("[", 130) .. string.rep("]", 130) .. "}," .. OWNER) .. "}",
    }
    for _, text in ipairs(bad) do
      local d, err = jsonapi.decode(text)
      assert.is_nil(d, text)
      assert.equal("decode", err.kind)
      assert.equal(cjson_message(text), err.message)
    end
    -- the message names the character in the original text
    local text = '{"data":' .. res(LINKS .. "," .. OWNER) .. ',"meta":tru}'
    local _, err = jsonapi.decode(text)
    assert.truthy(err.message:find("at character " .. text:find("tru}", 1, true), 1, true), err.message)
  end)

  it("reports linking errors exactly as before", function()
    local _, err = jsonapi.decode('{"data":' .. res(LINKS .. ',"notes":3,' .. META) .. "}")
    assert.equal("data.relationships.notes: expected object, got number", err.message)
    _, err = jsonapi.decode('{"data":[' .. res(LINKS) .. ',{"type":"t","relationships":{' .. LINKS .. "}}]}")
    assert.equal("data[2]: resource has no id", err.message)
    _, err = jsonapi.decode('{"data":' .. res(LINKS .. ',"o":{"data":{"type":"u"}}') .. "}")
    assert.equal("data.relationships.o.data: resource identifier has no id", err.message)
  end)

  it("decodes generated and mutated documents exactly as their stripped form", function()
    local state = 4242
    local function rand(n) -- deterministic, the same on every Lua
      state = (state * 16807) % 2147483647
      return state % n
    end
    local function pick(list) return list[rand(#list) + 1] end
    local function ws() return pick { "", "", "", " ", "\n  ", "\t" } end
    local STRINGS = { '"plain"', '"{\\"relationships\\":{}}"', '"} ] { ["', '"say \\"data\\""', '"\\\\"',
      '"data"', '"relationships"', '"\\u0041\\n\\/"', '"é€"', '""' }
    local NAMES = { "notes", "jobs", "owner", "sessions", "resumes", "data", "links", "relationships", "id",
      "type", "", "a b" }
    local function obj(members)
      local parts = {}
      for i, m in ipairs(members) do parts[i] = ws() .. '"' .. m[1] .. '"' .. ws() .. ":" .. ws() .. m[2] .. ws() end
      return "{" .. table.concat(parts, ",") .. ws() .. "}"
    end
    local function ident() return obj { { "type", pick { '"t"', '"u"' } }, { "id", '"' .. rand(4) .. '"' } } end
    local function value(depth)
      local k = rand(depth > 2 and 4 or 7)
      if k == 0 then return pick(STRINGS) end
      if k == 1 then return tostring(rand(1000) - 500) end
      if k == 2 then return pick { "true", "false", "null", "0.25", "-1e3" } end
      if k == 3 then return "[]" end
      if k == 4 then return "[" .. value(depth + 1) .. "," .. ws() .. value(depth + 1) .. "]" end
      local members = {}
      for i = 1, rand(3) do members[i] = { pick(NAMES), value(depth + 1) } end
      return obj(members)
    end
    local function relationship()
      local k = rand(9)
      local members = {}
      if k == 0 then members[1] = { "data", ident() }
      elseif k == 1 then members[1] = { "data", "[" .. ident() .. "," .. ident() .. "]" }
      elseif k == 2 then members[1] = { "data", "null" }
      elseif k == 3 then members[1] = { rand(4) == 0 and "d\\u0061ta" or "data", ident() } -- escapes: rare
      elseif k == 4 then members[1] = { "links", obj { { "data", value(3) } } }
      elseif k == 5 then members[1] = { "meta", value(2) }
      elseif k >= 6 then members[1] = { "links", obj { { "related", pick(STRINGS) } } }
      end
      if rand(2) == 0 then table.insert(members, rand(#members + 1) + 1, { "links", value(2) }) end
      return obj(members)
    end
    local function resource()
      local rels = {}
      local names = {} -- mostly distinct
      for i = 1, #NAMES do names[i] = NAMES[i] end
      for i = 1, rand(6) do
        local j = i + rand(#names - i + 1)
        names[i], names[j] = names[j], names[i]
        rels[i] = { rand(10) == 0 and NAMES[1] or names[i], relationship() }
      end
      local members = { { "type", pick { '"t"', '"u"' } }, { "id", '"' .. rand(4) .. '"' },
        { "attributes", obj { { "name", pick(STRINGS) }, { pick(NAMES), value(1) } } }, { "relationships", obj(rels) } }
      if rand(3) == 0 then members[#members + 1] = { "meta", value(1) } end
      for i = #members, 2, -1 do -- shuffled
        local j = rand(i) + 1
        members[i], members[j] = members[j], members[i]
      end
      return obj(members)
    end
    local function document()
      local list = {}
      for i = 1, rand(4) do list[i] = resource() end
      local members = { { "data", rand(3) == 0 and resource() or "[" .. table.concat(list, ",") .. "]" } }
      if rand(2) == 0 then members[#members + 1] = { "included", "[" .. resource() .. "," .. resource() .. "]" } end
      if rand(2) == 0 then members[#members + 1] = { "meta", value(1) } end
      return ws() .. obj(members) .. ws()
    end

    local ALPHABET = '{}[]":,\\ 0123456789tnfulsead-.'
    local decoded, failed = 0, 0
    for _ = 1, 250 do
      local text = document()
      local d = check_same_as_stripped(text)
      if d then decoded = decoded + 1 else failed = failed + 1 end
      for _ = 1, 3 do -- and mutated
        local pos = rand(#text) + 1
        local k = rand(#ALPHABET) + 1
        local c = ALPHABET:sub(k, k)
        local m = rand(3)
        local mutated = m == 0 and text:sub(1, pos - 1) .. c .. text:sub(pos + 1)
          or m == 1 and text:sub(1, pos - 1) .. c .. text:sub(pos) or text:sub(1, pos - 1) .. text:sub(pos + 1)
        local md, err = check_same_as_stripped(mutated)
        if md then
          decoded = decoded + 1
        else
          failed = failed + 1
          if not parse.decode(mutated) then assert.equal(cjson_message(mutated), err.message) end
        end
      end
    end
    assert.truthy(decoded > 250, decoded) -- the generator mostly makes valid documents
    assert.truthy(failed > 100, failed)
  end)
end)

describe("jsonapi.encode", function()
  local function fails(value, field, pattern)
    local text, err = jsonapi.encode(value)
    assert.is_nil(text)
    assert.equal("validation", err.kind)
    assert.equal(field, err.field)
    assert.truthy(err.message:find(field, 1, true), err.message)
    if pattern then assert.truthy(err.message:find(pattern, 1, true), err.message) end
  end

  it("encodes a request body with sorted keys", function()
    local body = { data = { type = "tags", attributes = { name = "Graduate", tag_values = jsonapi.array {} } } }
    assert.equal('{"data":{"attributes":{"name":"Graduate","tag_values":[]},"type":"tags"}}', jsonapi.encode(body))
  end)

  it("writes [] for marked empty arrays and {} for other empty tables", function()
    assert.equal("[]", jsonapi.encode(jsonapi.array()))
    assert.equal("[]", jsonapi.encode(jsonapi.array {}))
    assert.equal("[1,2]", jsonapi.encode(jsonapi.array { 1, 2 }))
    assert.equal("{}", jsonapi.encode({}))
    assert.equal(jsonapi.array_mt, getmetatable(jsonapi.array()))
    assert.has_error(function() jsonapi.array("x") end)
    assert.has_error(function() jsonapi.array(setmetatable({}, {})) end)
  end)

  it("refuses sparse arrays and mixed tables, naming the field", function()
    fails({ data = { attributes = { tags = { "a", nil, "c" } } } }, "data.attributes.tags", "sparse array")
    fails({ [1] = 1, [3] = 3 }, "value", "sparse array")
    fails(jsonapi.array { [2] = "x" }, "value", "sparse array")
    fails({ list = { 1, 2, x = 3 } }, "list", "mixes")
    fails({ [1.5] = true }, "value")
    fails({ [true] = 1 }, "value")
  end)

  it("writes integers exactly, beyond lua-cjson's 14 digits", function()
    assert.equal("1234567890123456", jsonapi.encode(1234567890123456))
    assert.equal("[100000000000000,-9007199254740992]", jsonapi.encode({ 1e14, -2 ^ 53 }))
    assert.equal("9007199254740992", jsonapi.encode(2 ^ 53))
    assert.equal("3", jsonapi.encode(3))
    if math_type then
      assert.equal("9223372036854775807", jsonapi.encode(math.maxinteger))
      assert.equal("3", jsonapi.encode(3.0))
    end
    if math_type then -- LuaJIT numbers are doubles: this one has no exact form there
      assert.equal('{"id":12345678901234567}', jsonapi.encode({ id = 12345678901234567 }))
    end
  end)

  it("writes floats so that they read back the same", function()
    for _, x in ipairs { 0.1, 1 / 3, -2.5e-7, 1e300, 123456.789, 2 ^ -1074 } do
      local text = jsonapi.encode(x)
      assert.equal(x, tonumber(text), text)
    end
    assert.equal("0.1", jsonapi.encode(0.1))
    fails({ score = 0 / 0 }, "score", "no JSON form")
    fails({ score = math.huge }, "score")
    fails({ score = -math.huge }, "score")
  end)

  it("rejects invalid UTF-8, naming the field", function()
    fails({ data = { attributes = { first_name = "Ada\255" } } }, "data.attributes.first_name", "not valid UTF-8")
    fails({ data = { attributes = { tags = { "ok", "\192\175" } } } }, "data.attributes.tags[2]") -- overlong
    fails({ x = "\237\160\128" }, "x") -- surrogate
    fails({ x = "\244\144\128\128" }, "x") -- above U+10FFFF
    fails({ x = "\226\130" }, "x") -- truncated
    fails({ x = "\128" }, "x") -- lone continuation byte
    fails({ ["bad\255key"] = 1 }, '["bad\\255key"]', "key is not valid UTF-8")
    assert.equal('"€ 😀 é"', jsonapi.encode("€ 😀 é"))
  end)

  it("escapes strings so that lua-cjson reads them back unchanged", function()
    local s = 'quote " backslash \\ slash / nl \n tab \t cr \r nul \0 bell \7 del \127 end'
    local text = jsonapi.encode({ s = s })
    assert.equal(s, cjson.decode(text).s)
    assert.falsy(text:find("[%z\1-\31]"))
  end)

  it("writes null, booleans and nested values, and round-trips through lua-cjson", function()
    local v = { a = jsonapi.null, b = true, c = false, d = { 1, "two", { three = 3 } }, e = "x" }
    local text = jsonapi.encode(v)
    assert.equal('{"a":null,"b":true,"c":false,"d":[1,"two",{"three":3}],"e":"x"}', text)
    assert.same(v, cjson.decode(text))
    assert.equal("null", jsonapi.encode(nil))
  end)

  it("refuses values JSON cannot hold and cycles", function()
    fails({ f = print }, "f", "no JSON form")
    fails({ co = coroutine.create(print) }, "co")
    local t = { name = "x" }
    t.self = t
    fails(t, "self", "contains itself")
    local deep = {}
    local cur = deep
    for _ = 1, 200 do
      cur.x = {}
      cur = cur.x
    end
    local text, err = jsonapi.encode(deep)
    assert.is_nil(text)
    assert.truthy(err.message:find("nesting deeper", 1, true))
    assert.has_error(function() jsonapi.encode(1, 2) end)
  end)

  it("encodes a decoded DateTime as its object", function()
    local d = decode('{"meta":{"at":' .. dt("2021-01-01T00:00:00Z", 1609459200) .. '}}')
    local back = cjson.decode(jsonapi.encode(d.meta.at))
    assert.equal("2021-01-01T00:00:00Z", back.utc)
    assert.equal(1609459200, back.epoch)
  end)
end)
