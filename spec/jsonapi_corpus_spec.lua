-- Conformance: jsonapi.decode over the JSON:API documents of ../shared/conformance/jsonapi-fixtures (from
-- the project's root), taken from the test suites of the JSON:API specification and of five client
-- libraries (its README.md and manifest.json say which). They are read here at test time, never copied
-- into the repository. Every document must decode or fail cleanly; valid responses must decode; where
-- another library's result is given, ours must agree with it up to this project's conventions.
local support = require "support"
local jsonapi = require "clinch.jsonapi"
local cjson = require("cjson").new() -- for the manifest and the expected files

local null = cjson.null
local DIR = support.root .. "/../shared/conformance/jsonapi-fixtures"

-- Documents of the kinds that must decode, but that this project's conventions reject, with the reason.
-- None today: a numeric id beyond 2^53 (refused by design) would be listed here.
local MUST_DECODE_EXCEPTIONS = {}

-- Every document that fails to decode, with what the message must contain. A document that starts or
-- stops failing is a change to look at, so the list is exact.
local REJECTED = {
  -- resources without an id: client-side documents (a response's resources always have one)
  ["jsona/without-root-ids.json"] = "data[1]: resource has no id",
  ["seyz/18-compound-document-without-id-id-should-not-be-returned.json"] = "data: resource has no id",
  ["seyz/24-meta-should-be-included.json"] = "data: resource has no id",
  ["seyz/25-meta-should-be-in-camelcase.json"] = "data: resource has no id",
  ["seyz/26-links-should-be-included.json"] = "data: resource has no id",
  -- json_api_client's stubs give primary resources without a type
  ["json_api_client/003-test-can-handle-creating.json"] = "data[1]: resource has no type",
  ["json_api_client/009-test-does-not-load-include-from-dataset.json"] = "data[2]: resource has no type",
  ["json_api_client/010-test-find-belongs-to.json"] = "data[1]: resource has no type",
  ["json_api_client/016-test-has-many-fetches-relationship.json"] = "data[1]: resource has no type",
  ["json_api_client/022-test-load-has-many.json"] = "data[1]: resource has no type",
  ["json_api_client/023-test-load-has-many-single-entry.json"] = "data[1]: resource has no type",
  ["json_api_client/024-test-load-has-many-with-configurable-multiword-res.json"] = "data[1]: resource has no type",
  ["json_api_client/026-test-load-has-many-with-multiword-resource-name.json"] = "data[1]: resource has no type",
  ["json_api_client/027-test-load-has-one.json"] = "data[1]: resource has no type",
  ["json_api_client/029-test-nested-create.json"] = "data: resource has no type",
  ["json_api_client/030-test-respect-included-has-many-relationship-empty-.json"] = "data[1]: resource has no type",
  ["json_api_client/040-test-collection-get.json"] = "data[1]: resource has no type",
  ["json_api_client/043-test-member-post.json"] = "data[1]: resource has no type",
  ["json_api_client/095-test-finding.json"] = "data[1]: resource has no type",
  -- plain-text error bodies
  ["json_api_client/060-test-500-errors-with-plain-text-response.json"] = "not JSON",
  ["json_api_client/062-test-access-denied.json"] = "not JSON",
  ["json_api_client/063-test-bad-gateway.json"] = "not JSON",
  ["json_api_client/064-test-conflict.json"] = "not JSON",
  ["json_api_client/065-test-gateway-timeout.json"] = "not JSON",
  ["json_api_client/067-test-internal-server-error-with-plain-text-respons.json"] = "not JSON",
  ["json_api_client/068-test-not-authorized.json"] = "not JSON",
  ["json_api_client/069-test-not-found-errors-with-plain-text-response.json"] = "not JSON",
  ["json_api_client/071-test-request-timeout.json"] = "not JSON",
  ["json_api_client/072-test-too-many-requests.json"] = "not JSON",
  ["json_api_client/073-test-unknown-response-code.json"] = "not JSON",
  -- a top-level array is not a JSON:API document (kitsu deserialises [] to [])
  ["kitsu/11-deserialise-deserialises-an-empty-array.json"] = "top level: expected object, got array",
  -- the specification's invalid responses that break what the decoder relies on (it accepts the
  -- other schema-invalid ones: "may reject")
  ["jsonapi-spec/schema-invalid/data__data_can_not_be_a_string.json"] = "data: expected object, array or null",
  ["jsonapi-spec/schema-invalid/data__data_can_not_be_array_of_string.json"] = "data[1]: expected resource object",
  ["jsonapi-spec/schema-invalid/errors__errors_must_be_an_array.json"] = "errors: expected array",
  ["jsonapi-spec/schema-invalid/included__included_member_must_be_collection.json"] = "included: expected array",
  ["jsonapi-spec/schema-invalid/relationships__linkage_must_be_object.json"] =
    "data.relationships.author.data: expected object, array or null",
  ["jsonapi-spec/schema-invalid/relationships__relationships_is_not_an_object.json"] =
    "data.relationships: expected object",
  ["jsonapi-spec/schema-invalid/resource__resource_must_have_id_member.json"] = "data: resource has no id",
  ["jsonapi-spec/schema-invalid/resource__resource_must_have_type_member.json"] = "data: resource has no type",
  ["jsonapi-spec/schema-invalid/resource__type_must_be_string.json"] = "data: resource type must be a string",
  ["jsonapi-spec/schema-invalid/resource_identifier__resource_must_have_id_member.json"] = "data: resource has no id",
  ["jsonapi-spec/schema-invalid/resource_identifier__resource_must_have_type_member.json"] =
    "data: resource has no type",
  ["jsonapi-spec/schema-invalid/resource_identifier__type_must_be_string.json"] =
    "data: resource type must be a string",
  -- requests a client sends to create a resource: no id yet
  ["jsonapi-spec/examples/v1.0-11-line1160.json"] = "data: resource has no id",
  ["jsonapi-spec/examples/v1.1-11-line1470.json"] = "data: resource has no id",
}

-- Where another library's result differs from ours by design, member by member: file -> { [path
-- where the difference shows] = reason }. A listed difference that no longer shows fails too.
local DEVIATIONS = {
  ["jsona/resource-id-obj-meta.json"] = {
    ["data[1].field_logo.resourceIdObjMeta"] = "jsona copies a resource identifier's meta onto the related " ..
      "model; here the related table is shared by every linkage to it: identifier meta is in jsonapi.raw",
    ["data[2].field_logo.resourceIdObjMeta"] = "as data[1]",
  },
  ["kitsu/spec-getcollection.json"] = {
    ["data[2]."] = "the fixture's second resource has its attributes beside id and type, not in `attributes` " ..
      "(not JSON:API); kitsu spreads every member of a resource object into its result, this decoder " ..
      "takes fields from attributes and relationships only (jsonapi.raw has the rest)",
  },
  ["seyz/12-compound-document-without-included-should-use-the-value-of-v.json"] = {
    ["data[1].address."] = "the values come from the test's valueForRelationship callback, not from the " ..
      "document; here linkage to a resource the document does not hold is an { id, type } stub",
    ["data[2].address."] = "as data[1]",
  },
  ["seyz/20-compound-document-with-multiple-relations-should-include-bot.json"] = {
    ["data.owner"] = "the expected file has owner null, though the test is named 'should include both " ..
      "relations if they point to same include'; here owner and publisher are both the included users 1",
  },
  ["seyz/23-transform-should-transform-record-before-deserialization.json"] = {
    ["data[1].full-name"] = "full-name is made by the test's transform callback, not in the document",
    ["data[2].full-name"] = "as data[1]",
  },
  -- Not a difference the comparison sees, as ours holds more: jsona/different-attrs-data-included.json
  -- gives process 1 twice, in data and in included, and jsona makes two models, each with its own copy's
  -- attributes; here it is one table holding both copies' attributes (see jsonapi.lua).
}

local function read(path)
  return support.read_file(DIR .. "/" .. path)
end

-- Walks everything reachable from v (cycles included) for a lightuserdata; returns its path.
local function find_lightuserdata(v, seen, path)
  if type(v) == "userdata" then return path end
  if type(v) ~= "table" or seen[v] then return nil end
  seen[v] = true
  for k, x in pairs(v) do
    if type(k) == "userdata" then return path .. "[key]" end
    local found = find_lightuserdata(x, seen, path .. "." .. tostring(k))
    if found then return found end
  end
end

-- Ids as this project keeps them: strings (kitsu and json-api-normalizer keep numeric ids as numbers).
local function id_text(id)
  if type(id) == "number" and id == math.floor(id) then return string.format("%.0f", id) end
  return id
end

-- The name transformations the libraries apply to member names, by option.
local function camel(k) return (k:gsub("[-_](%w)", string.upper)) end
local function snake(k) return (k:gsub("%-", "_"):gsub("(%l)(%u)", function(a, b) return a .. "_" .. b:lower() end)) end
local function same_name(k) return k end

-- Our field of table t that the library calls `name` once its transformation is applied.
local function field(t, name, rename)
  if type(t) ~= "table" then return nil end
  if t[name] ~= nil then return t[name] end
  for k, v in pairs(t) do
    if type(k) == "string" and rename(k) == name then return v end
  end
  return nil
end

local function is_array(v) return type(v) == "table" and (v[1] ~= nil or next(v) == nil) end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

local leaves = 0 -- values compared, to show that the comparison did compare

local function show(v)
  if type(v) == "number" then return id_text(v) end
  return tostring(v)
end

-- Compares our decoded value with what another library made of the same JSON, adding each difference
-- ("path: what") to diffs. Only what the library shows is compared (our union of a resource's copies
-- may hold more). Resource-level links and meta are not fields here (jsonapi.raw has them); a
-- relationship without data is no field (kitsu keeps its links); nulls are absent, and dropped from
-- arrays.
local function compare(ours, exp, path, rename, depth, diffs)
  local function differ(p, what) diffs[#diffs + 1] = p .. ": " .. what end
  leaves = leaves + 1
  if exp == null then
    if ours ~= nil then differ(path, "expected nothing, got " .. show(ours)) end
    return
  end
  if type(exp) == "string" and exp:find("^%[Circular") then return end -- kitsu's marker for a cycle
  if type(exp) ~= "table" then
    if ours ~= exp then differ(path, "expected " .. show(exp) .. ", got " .. show(ours)) end
    return
  end
  if depth > 6 then return end
  if type(ours) ~= "table" then return differ(path, "expected a table, got " .. show(ours)) end
  if is_array(exp) then
    local list = {}
    for i = 1, #exp do if exp[i] ~= null then list[#list + 1] = exp[i] end end
    if #ours ~= #list then return differ(path, "expected " .. #list .. " elements, got " .. #ours) end
    for i = 1, #list do compare(ours[i], list[i], path .. "[" .. i .. "]", rename, depth + 1, diffs) end
    return
  end
  local record = exp.id ~= nil or exp.type ~= nil
  for _, k in ipairs(sorted_keys(exp)) do
    local v, p = exp[k], path .. "." .. k
    if record and (k == "meta" or k == "links" or k == "relationshipNames") then -- luacheck: ignore 542
    elseif record and (k == "id" or k == "type") then
      local want = k == "id" and id_text(v) or v
      if ours[k] ~= want then differ(p, "expected " .. show(want) .. ", got " .. show(ours[k])) end
    elseif record and type(v) == "table" and not is_array(v) and v.id == nil and v.type == nil
      and (v.data ~= nil or v.links ~= nil or v.meta ~= nil) then
      -- kitsu's relationship object { data, links, meta }: its data is our field
      local only = true
      for x in pairs(v) do only = only and (x == "data" or x == "links" or x == "meta") end
      if not only then
        compare(field(ours, k, rename), v, p, rename, depth + 1, diffs)
      elseif v.data ~= nil then
        compare(field(ours, k, rename), v.data, p, rename, depth + 1, diffs)
      elseif field(ours, k, rename) ~= nil then
        differ(p, "a relationship without data should be no field")
      end
    else
      compare(field(ours, k, rename), v, p, rename, depth + 1, diffs)
    end
  end
end

-- Splits a library's path ("", "[0].address", ".images[1]") into our segments: names, and 1-based indexes.
local function segments(path)
  local segs = {}
  for name, index in path:gmatch("%.?([^.%[]*)%[?(%d*)%]?") do
    if name ~= "" then segs[#segs + 1] = name end
    if index ~= "" then segs[#segs + 1] = tonumber(index) + 1 end
  end
  return segs
end

-- Our notation for segments: data[1].address
local function our_path(segs)
  local out = "data"
  for _, s in ipairs(segs) do out = out .. (type(s) == "number" and "[" .. s .. "]" or "." .. s) end
  return out
end

local function follow(v, segs, rename)
  for _, s in ipairs(segs) do
    if type(s) == "number" then v = type(v) == "table" and v[s] or nil
    else v = field(v, s, rename) end
  end
  return v
end

-- The assertions of an expected file as { path =, value = } on our doc.data (for json-api-normalizer,
-- on its store of every resource), and the renaming its options apply.
local function expectations(entry, expected)
  local repo, options = entry.repo, entry.options ~= null and entry.options or {}
  if repo == "olosegres/jsona" then return { { path = "", value = expected } }, same_name end
  if repo == "wopian/kitsu" then
    if not is_array(expected) then return { { path = "", value = expected.data } }, same_name end
    local out = {}
    for _, a in ipairs(expected) do
      local v = a.value
      if not options.hoistData and type(v) == "table" and v[1] == nil then v = v.data end -- {} too
      if v ~= nil then out[#out + 1] = { path = a.path, value = v } end
    end
    return out, same_name
  end
  if repo == "SeyZ/jsonapi-serializer" then
    local rename = options.keyForAttribute == "camelCase" and camel or options.keyForAttribute == "snake_case"
      and snake or same_name
    return expected, rename
  end
  if repo == "yury-dymov/json-api-normalizer" then
    return expected, options.camelizeKeys == false and same_name or camel, "store"
  end
  error("no comparison for " .. repo)
end

-- json-api-normalizer's store: type -> id -> { id, type, attributes, relationships } of every resource.
local function compare_store(doc, store, rename, diffs)
  local ours, n, m = {}, 0, 0
  local function add(r) ours[rename(r.type) .. " " .. r.id] = r end
  if is_array(doc.data) then for _, r in ipairs(doc.data) do add(r) end elseif doc.data then add(doc.data) end
  for _, r in ipairs(doc.included or {}) do add(r) end
  for _, ty in ipairs(sorted_keys(store)) do
    if ty ~= "meta" then -- its meta by endpoint, not a type
      for _, id in ipairs(sorted_keys(store[ty])) do
        local r, attributes, p = ours[ty .. " " .. id], store[ty][id].attributes, "store." .. ty .. "." .. id
        n = n + 1
        if not r then diffs[#diffs + 1] = p .. ": no such resource"
        elseif attributes ~= nil then compare(r, attributes, p, rename, 1, diffs) end
      end
    end
  end
  for _ in pairs(ours) do m = m + 1 end
  if m ~= n then diffs[#diffs + 1] = "store: expected " .. n .. " resources, got " .. m end
end

local manifest = read("manifest.json")

describe("jsonapi.decode over the JSON:API conformance corpus", function()
  if not manifest then
    pending("conformance fixtures not found at " .. DIR .. " (a sibling shared/ of the checkout)")
    return
  end
  local entries = cjson.decode(manifest)
  local texts = {}
  for i, e in ipairs(entries) do
    texts[i] = assert(read(e.file), e.file)
  end

  it("reads all " .. #entries .. " documents of the manifest", function()
    assert.equal(342, #entries)
  end)

  it("never raises: each gives a document without JSON null, or nil and a decode error with a message", function()
    for i, e in ipairs(entries) do
      local ok, doc, err = pcall(jsonapi.decode, texts[i])
      assert(ok, e.file .. ": " .. tostring(doc))
      if doc then
        assert.is_table(doc)
        assert.is_nil(err)
        local where = find_lightuserdata(doc, {}, "doc")
        assert(not where, e.file .. ": JSON null at " .. tostring(where))
      else
        assert.equal("decode", err.kind, e.file)
        assert.is_string(err.message, e.file)
        assert.truthy(#err.message > 0, e.file)
      end
    end
  end)

  it("decodes every valid response (schema-valid, spec-response)", function()
    local n = 0
    for i, e in ipairs(entries) do
      if e.kind == "schema-valid" or e.kind == "spec-response" then
        local doc, err = jsonapi.decode(texts[i])
        local reason = MUST_DECODE_EXCEPTIONS[e.file]
        if reason then
          assert(not doc, e.file .. " is listed as an exception (" .. reason .. ") but decodes")
        else
          assert(doc, e.file .. ": " .. tostring(err))
          n = n + 1
        end
      end
    end
    assert.equal(39, n)
  end)

  it("rejects exactly the documents listed, saying where", function()
    for i, e in ipairs(entries) do
      local doc, err = jsonapi.decode(texts[i])
      local want = REJECTED[e.file]
      if want then
        assert(not doc, e.file .. " is listed as rejected but decodes")
        assert(err.message:find(want, 1, true), e.file .. ": " .. err.message .. " does not say " .. want)
      else
        assert(doc, e.file .. " (" .. e.kind .. ") fails: " .. tostring(err))
      end
    end
    local known = {}
    for _, e in ipairs(entries) do known[e.file] = true end
    for file in pairs(REJECTED) do assert(known[file], file .. " is listed but not in the manifest") end
  end)

  it("compares for real: a changed expectation is a difference", function()
    local doc = assert(jsonapi.decode('{"data":[{"type":"a","id":"1","attributes":{"n":1,"s":"x"},' ..
      '"relationships":{"o":{"data":{"type":"b","id":"2"}}}}]}'))
    local function diffs_for(exp)
      local diffs = {}
      compare(doc.data, cjson.decode(exp), "data", same_name, 1, diffs)
      return diffs
    end
    assert.same({}, diffs_for('[{"type":"a","id":"1","n":1,"s":"x","o":{"data":{"type":"b","id":"2"}}}]'))
    assert.same({}, diffs_for('[{"type":"a","id":1,"o":{"type":"b","id":2}}]'))
    assert.same({ "data[1].n: expected 2, got 1" }, diffs_for('[{"type":"a","id":"1","n":2}]'))
    assert.same({ "data[1].o.id: expected 3, got 2" },
      diffs_for('[{"type":"a","id":"1","o":{"type":"b","id":"3"}}]'))
    assert.same({ "data: expected 2 elements, got 1" }, diffs_for('[{"type":"a","id":"1"},{"type":"a","id":"2"}]'))
    assert.same({ "data[1].s: expected nothing, got x" }, diffs_for('[{"type":"a","id":"1","s":null}]'))
  end)

  it("agrees with the other libraries' results, up to this project's conventions", function()
    local compared = 0
    for i, e in ipairs(entries) do
      if e.kind == "library" and e.expected ~= nil and e.expected ~= null then
        local doc = jsonapi.decode(texts[i])
        local expected = cjson.decode((assert(read(e.expected), e.expected)))
        local asserts, rename, mode = expectations(e, expected)
        local deviations, diffs, excused = DEVIATIONS[e.file] or {}, {}, {}
        if doc then
          compared = compared + 1
          for _, a in ipairs(asserts) do
            if mode ~= "store" then
              local segs = segments(a.path)
              compare(follow(doc.data, segs, rename), a.value, our_path(segs), rename, 1, diffs)
            elseif a.path == "" then
              compare_store(doc, a.value, rename, diffs)
            end
          end
        end
        for _, diff in ipairs(diffs) do
          local by
          for prefix in pairs(deviations) do
            if diff:sub(1, #prefix) == prefix then by = prefix end
          end
          assert(by, e.file .. ": " .. diff)
          excused[by or ""] = true
        end
        for prefix, reason in pairs(deviations) do
          assert(excused[prefix], e.file .. ": the deviation listed at " .. prefix .. " (" .. reason ..
            ") no longer shows")
        end
      end
    end
    assert.truthy(compared >= 60, compared)
    assert.truthy(leaves >= 800, leaves)
  end)
end)
