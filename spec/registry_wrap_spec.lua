-- clinch.registry's two walks that give a decoded document's resources their classes: the Lua one
-- (registry.wrap_lua, what LuaJIT uses) and the C core's twin (core.set_classes, what registry.wrap
-- uses on PUC Lua). On the same documents they must leave every table with the same metatable.
local clinch = require "clinch"
local core = require "clinch.core"
local jsonapi = require "clinch.jsonapi"
local registry = require "clinch.registry"

local client = clinch.new { key = "k", secret = "s", base_url = "http://127.0.0.1:1/v1" }

-- type -> object metatable, as registry.wrap_lua finds them
local function class_map()
  local map = {}
  for _, def in ipairs(registry.list()) do map[def.type] = client[def.name]._object end
  return map
end

-- The metatables of every table reachable from v, in a walk order that does not depend on `next`:
-- path -> metatable (false for none).
local function metatables(v, path, out, seen)
  out, seen = out or {}, seen or {}
  if type(v) ~= "table" or seen[v] then return out end
  seen[v] = true
  out[path] = getmetatable(v) or false
  local keys = {}
  for k in next, v do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(keys) do metatables(rawget(v, k), path .. "." .. tostring(k), out, seen) end
  return out
end

local DOCS = {
  -- one resource: a to-one stub, a to-many list of stubs and resources, an unregistered type
  [[{"data":{"type":"candidates","id":"1","attributes":{"email":"a@b.c","address":{"city":"X"},
    "tags":[{"id":"t","type":"tags","extra":1}],
    "created_at":{"utc":"2024-01-02T03:04:05Z","epoch":1704164645}},
    "relationships":{"job":{"data":{"type":"jobs","id":"9"}},
      "lists":{"data":[{"type":"company_lists","id":"5"},{"type":"company_lists","id":"6"},
        {"type":"widgets","id":"7"}]},
      "owner":{"data":{"type":"candidates","id":"2"}}}},
    "included":[{"type":"candidates","id":"2","attributes":{"first_name":"B"}},
      {"type":"company_lists","id":"6","attributes":{"name":"L"}},{"type":"widgets","id":"w","attributes":{}}]}]],
  -- a list of resources, one of an unregistered type, and no included
  [[{"data":[{"type":"jobs","id":"1","attributes":{"title":"T"},
      "relationships":{"candidates":{"data":[{"type":"candidates","id":"3"}]}}},
    {"type":"widgets","id":"2"},{"type":"company_lists","id":"4","attributes":{"items":[1,2,3]}}],
    "meta":{"total":3}}]],
  -- no data at all, an empty list, an errors document
  [[{"meta":{"total":0}}]],
  [[{"data":[]}]],
  [[{"errors":[{"title":"T","detail":"D"}]}]],
  -- a resource whose member is an object holding only id and type (read as a stub by both)
  [[{"data":{"type":"candidates","id":"8","attributes":{"ref":{"id":"1","type":"jobs"}}}}]],
}

describe("registry.wrap's Lua and C walks", function()
  for i, text in ipairs(DOCS) do
    it("give document " .. i .. " the same classes", function()
      local a = assert(jsonapi.decode(text))
      local b = assert(jsonapi.decode(text))
      assert.are.equal(a, registry.wrap_lua(a, client))
      assert.are.equal(b, core.set_classes(b, class_map()))
      assert.are.same(metatables(a, "doc"), metatables(b, "doc"))
    end)
  end

  it("wrap registered resources and stubs in their classes, and no other table", function()
    local doc = assert(jsonapi.decode(DOCS[1]))
    registry.wrap(doc, client)
    local cand = doc.data
    assert.are.equal(client.candidates._object, getmetatable(cand))
    assert.are.equal(client.jobs._object, getmetatable(cand.job))        -- a stub
    assert.are.equal(client.lists._object, getmetatable(cand.lists[1]))  -- a stub in a list
    assert.are.equal(client.lists._object, getmetatable(cand.lists[2]))  -- an included resource
    assert.is_nil(getmetatable(cand.lists[3]))                           -- unregistered type
    assert.are.equal(client.candidates._object, getmetatable(cand.owner))
    assert.is_nil(getmetatable(cand.address))
    assert.is_nil(getmetatable(cand.tags[1]))                            -- not a stub: extra member
    assert.are.equal(jsonapi.DateTime, getmetatable(cand.created_at))    -- kept
  end)

  it("keep a metatable a table already has", function()
    local doc = assert(jsonapi.decode(DOCS[2]))
    local mine = {}
    setmetatable(doc.data[1], mine)
    core.set_classes(doc, class_map())
    assert.are.equal(mine, getmetatable(doc.data[1]))
    assert.are.equal(client.lists._object, getmetatable(doc.data[3]))
  end)

  it("leave what is not a table as it is", function()
    assert.are.equal("x", core.set_classes("x", class_map()))
    assert.are.equal("x", registry.wrap("x", client))
    assert.has_error(function() core.set_classes({}, nil) end)
  end)
end)
