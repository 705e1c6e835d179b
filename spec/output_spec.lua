-- The CLI's writers work from what the client decoded: JSON keeps the API's attribute names and empty
-- lists, relationships become identifiers, and the response body is never parsed again.
local support = require "support"
if support.is_luajit then
  describe("clinch.cli.output", function()
    pending("the CLI runs on Lua 5.4 only: covered by the Lua 5.4 suite")
  end)
  return
end

local output = require "clinch.cli.output"
local jsonapi = require "clinch.jsonapi"
local cjson = require "cjson"

local DOC = [[{"data":[{"type":"candidates","id":"c1","attributes":{"email":"a@example.com","tags":[],
"skills":["sql"],"phone_number":null,"custom_data":{},"visit_count":3},
"relationships":{"notes":{"data":[{"type":"notes","id":"n1"}]},"jobs":{"data":[]},
"social_profile":{"data":null}}}],
"included":[{"type":"notes","id":"n1","attributes":{"content":"hello"}}]}]]

describe("clinch.cli.output", function()
  it("writes JSON from the decoded resource, without parsing the body again", function()
    local doc = assert(jsonapi.decode(DOC))
    local raw = jsonapi.raw
    jsonapi.raw = function() error("the writer parsed the body again") end
    local ok, text = pcall(output.json_text, doc.data[1])
    jsonapi.raw = raw
    assert(ok, text)
    local v = cjson.decode(text)
    assert.equal("c1", v.id)
    assert.equal("candidates", v.type)
    assert.equal("a@example.com", v.attributes.email)
    assert.equal(3, v.attributes.visit_count)
    assert.matches('"tags":%[%]', text)          -- an empty list stays a list
    assert.same({ "sql" }, v.attributes.skills)
    assert.is_nil(v.attributes.phone_number)     -- decoding drops null; so does the output
    assert.same({ { type = "notes", id = "n1" } }, v.relationships.notes.data)
    assert.matches('"jobs":{"data":%[%]}', text) -- an empty to-many relationship stays a relationship
    assert.is_nil(v.attributes.notes)
    assert.equal("hello", v.included[1].attributes.content)
  end)

  it("keeps empty relationships and empty lists of a type the contract does not describe", function()
    local doc = assert(jsonapi.decode([[{"data":[{"type":"jobs","id":"j1","attributes":{"title":"T",
      "locations":[],"salary":{"min":1}},"relationships":{"categories":{"data":[]},"owner":{"data":null}}}]}]]))
    local text = output.json_text(doc.data[1])
    local v = cjson.decode(text)
    assert.equal("T", v.attributes.title)
    assert.matches('"locations":%[%]', text)
    assert.matches('"categories":{"data":%[%]}', text)
    assert.is_nil(v.attributes.categories)
    assert.same({ min = 1 }, v.attributes.salary)
    local cols = {}
    for _, c in ipairs(output.fields_of(doc.data[1])) do cols[c] = true end
    assert.is_true(cols.locations)
    assert.is_nil(cols.categories)
  end)

  it("names a type's attributes as columns even when a record leaves them out", function()
    local doc = assert(jsonapi.decode(DOC))
    local cols = output.fields_of(doc.data[1])
    local set = {}
    for _, c in ipairs(cols) do set[c] = true end
    assert.equal("id", cols[1])
    assert.is_true(set.phone_number)             -- null in this record, a column all the same
    assert.is_true(set.email)
    assert.is_nil(set.notes)                     -- a relationship, not a column
  end)
end)
