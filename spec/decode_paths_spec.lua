-- The two decoders give the same documents: the C core's core.decode (csrc/decode.c) and the Lua linker
-- of clinch.link, which clinch.jsonapi uses on LuaJIT. Every text below goes through both, each with a
-- raw map of its own, and the results must be identical: the same document member by member (numbers
-- with their subtype on 5.4, the DateTime metatable), the same sharing (a table shared in one is shared
-- in the other, and nowhere else), the same raw map entries, and for bad input the same message and
-- kind. The texts: documents made to reach every rule and every message of the decoder, the benchmark's
-- 100-candidate page (bench/fixture.lua), every document of the JSON:API corpus in
-- ../shared/conformance/jsonapi-fixtures (read at test time), and fixed-seed mutations of them.
local support = require "support"
local core = require "clinch.core"
local link = require "clinch.link"
local jsonapi = require "clinch.jsonapi"
local cjson = require "cjson"

local encode = cjson.new().encode
local null = cjson.null
local math_type = math.type
local char, concat = string.char, table.concat

-- Compares a (from core.decode) with b (from link.decode); m.ab and m.ba are the table correspondence
-- so far, which must be one to one. Returns nil, or where and how they differ.
local function compare(a, b, m, path)
  local ta = type(a)
  if ta ~= type(b) then return path .. ": " .. ta .. " vs " .. type(b) end
  if ta == "number" then
    if a ~= b or (math_type and math_type(a) ~= math_type(b)) then
      return path .. ": " .. tostring(a) .. " vs " .. tostring(b)
    end
    return nil
  end
  if ta ~= "table" then
    if a ~= b then return path .. ": " .. tostring(a) .. " vs " .. tostring(b) end
    return nil
  end
  local known = m.ab[a]
  if known ~= nil then
    if known ~= b then return path .. ": a table shared on the C side is not shared on the Lua side" end
    return nil
  end
  if m.ba[b] ~= nil then return path .. ": a table shared on the Lua side is not shared on the C side" end
  m.ab[a], m.ba[b] = b, a
  if getmetatable(a) ~= getmetatable(b) then return path .. ": metatables differ" end
  for k, v in next, a do
    if type(k) ~= "string" and type(k) ~= "number" then return path .. ": a key of type " .. type(k) end
    local problem = compare(v, rawget(b, k), m, path .. "." .. tostring(k))
    if problem then return problem end
  end
  for k in next, b do
    if rawget(a, k) == nil then return path .. "." .. tostring(k) .. ": only on the Lua side" end
  end
  return nil
end

local function count(t)
  local n = 0
  for _ in next, t do n = n + 1 end
  return n
end

-- What a raw map points every resource of a document at, checked to be the document's text.
local function raw_source(raw, text)
  local src
  for _, s in next, raw do
    if src == nil then src = s end
    if s ~= src then return nil, "two sources in one document's raw map" end
  end
  if src ~= nil and src ~= text then return nil, "the raw map does not point at the text" end
  return src
end

local stats
-- Decodes text both ways; returns nil when they agree, else what differs.
local function differ(text)
  local raw_c, raw_l = setmetatable({}, { __mode = "k" }), setmetatable({}, { __mode = "k" })
  collectgarbage("stop") -- so that the raw maps of a failed decode can be counted before they empty
  local ok_c, doc_c, msg_c, kind_c = pcall(core.decode, text, raw_c)
  local ok_l, doc_l, msg_l, kind_l = pcall(link.decode, text, raw_l)
  local n_c, n_l = count(raw_c), count(raw_l)
  collectgarbage("restart")
  if not ok_c or not ok_l then return "raised: " .. tostring(doc_c) .. " / " .. tostring(doc_l) end
  if n_c ~= n_l then return "raw maps of " .. n_c .. " and " .. n_l .. " resources" end
  if (doc_c == nil) ~= (doc_l == nil) then
    return "C: " .. tostring(doc_c and "a document" or msg_c) .. "; Lua: " .. tostring(doc_l and "a document" or msg_l)
  end
  if doc_c == nil then
    if msg_c ~= msg_l or kind_c ~= kind_l then
      return "C: " .. tostring(kind_c) .. " " .. tostring(msg_c) .. "; Lua: " .. tostring(kind_l) .. " "
        .. tostring(msg_l)
    end
    stats.failed, stats.messages[msg_c] = stats.failed + 1, true
    return nil
  end
  local m = { ab = {}, ba = {} }
  local problem = compare(doc_c, doc_l, m, "doc")
  if problem then return problem end
  local src_c, e1 = raw_source(raw_c, text)
  local src_l, e2 = raw_source(raw_l, text)
  if e1 or e2 then return e1 or e2 end
  for a, b in next, m.ab do
    if (raw_c[a] == nil) ~= (raw_l[b] == nil) then return "a table is in one raw map only" end
  end
  if (src_c == nil) ~= (src_l == nil) then return "one raw map is empty" end
  stats.decoded, stats.tables = stats.decoded + 1, stats.tables + count(m.ab)
  return nil
end

-- Asserts that every text of the list decodes alike both ways.
local function all_alike(texts, name)
  local problems = {}
  for i, text in ipairs(texts) do
    local problem = differ(text)
    if problem then
      problems[#problems + 1] = name .. " #" .. i .. ": " .. problem .. "\n  text: " .. text:sub(1, 300)
    end
  end
  assert(#problems == 0,
    #problems .. " of " .. #texts .. " differ:\n" .. concat(problems, "\n", 1, math.min(#problems, 5)))
end

local function res(ty, id, attrs, rels, extra)
  local r = { type = ty, id = id, attributes = attrs, relationships = rels }
  for k, v in pairs(extra or {}) do r[k] = v end
  return r
end
local function one(ty, id) return { data = { type = ty, id = id } } end
local function many(...)
  local list = {}
  for i, v in ipairs { ... } do list[i] = { type = v[1], id = v[2] } end
  return { data = list }
end
local function dt(utc, epoch) return { utc = utc, epoch = epoch, ago = "x", ["local"] = utc, local_epoch = epoch } end

-- Documents made to reach each rule of csrc/decode.c, as Lua values (encoded below) or texts.
local function rule_documents()
  local deep_arr = function(n) return ("["):rep(n) .. ("]"):rep(n) end
  local deep_obj = function(n) return ('{"a":'):rep(n) .. "1" .. ("}"):rep(n) end
  local docs = {
    -- linking: cycles, stubs, repeats (data twice, included twice, data and included), nulls of later copies
    { data = { res("a", "1", { x = 1, y = "s", n = null },
                   { b = one("b", "2"), me = one("a", "1"), s = many({ "c", "9" }) }),
               res("a", "3", nil, { fwd = one("a", "4") }), res("a", "4", { z = true }) },
      included = { res("b", "2", { w = { 1, null, 2.5, { utc = "u", epoch = 5 } } }, { back = one("a", "1") }) } },
    { data = { res("a", "1", { x = 1, y = 2 }, { r = one("b", "1") }),
               res("a", "1", { x = null, z = 3 }, { r = one("b", "2") }) },
      included = { res("b", "1"), res("b", "1", { q = 1 }),
                   res("a", "1", { from_inc = 1, y = 9 }, { r = one("b", "3"), t = one("b", "1") }) } },
    { data = res("a", "1", { rel = "attr wins?" }, { rel = one("b", "1"), id = one("b", "2"), type = one("b", "3") }),
      included = { res("a", "1", { rel = "inc", k = null }, { other = { data = null } }),
                   res("b", "1", { id = "x", type = "y" }) } },
    { data = { res("a", "1", {},
                   { p = { data = {} }, q = { data = null }, l = { links = { self = "x" } }, m = { meta = {} } }),
               res("a", "1", { p = 1 }, { p = { data = null } }) } },
    { data = { res("a", "2", nil, { s = one("a", "1") }), res("a", "1", nil, { s = one("a", "2") }), res("a", "1") } },
    -- numeric ids
    { data = res("a", 1, nil, { r = one("b", 2), s = many({ "b", -7 }, { "b", 0 }) }), included = { res("b", 2.0) } },
    { data = res("a", 9007199254740991) }, { data = res("a", 9007199254740992) },
    { data = res("a", -9007199254740992) },
    { data = res("a", 1.5) }, { data = res("a", 1e300) }, { data = res("a", "1", nil, { r = one("b", 2 ^ 60) }) },
    { data = res("a", "1", nil, { r = one("b", 0.25) }) }, { data = { res("a", "1"), res("a", 1) } },
    -- types and ids of the wrong kind
    { data = res(1, "1") }, { data = res(true, "1") }, { data = res({}, "1") }, { data = res({ 1 }, "1") },
    { data = { id = "1" } }, { data = { type = "a" } }, { data = res("a", true) }, { data = res("a", { 1 }) },
    { data = res("a", { x = 1 }) }, { data = { type = null, id = "1" } }, { data = { type = "a", id = null } },
    { data = res("a", "1", nil, { r = { data = { type = 5, id = "1" } } }) },
    { data = res("a", "1", nil, { r = { data = { type = "b" } } }) },
    { data = res("a", "1", nil, { r = { data = { id = "1" } } }) },
    { data = res("a", "1", nil, { r = { data = { type = "b", id = false } } }) },
    -- attributes and relationships of the wrong kind
    { data = res("a", "1", { 1, 2 }) }, { data = res("a", "1", "s") }, { data = res("a", "1", 5) },
    { data = { res("a", "1"), res("a", "2", true) } }, { included = { res("a", "1", { 1 }) } },
    { data = res("a", "1", nil, { 1 }) }, { data = res("a", "1", nil, "s") }, { data = res("a", "1", nil, 3) },
    { data = res("a", "1", nil, { r = "s" }) }, { data = res("a", "1", nil, { r = { 1 } }) },
    { data = res("a", "1", nil, { r = null }) }, { data = res("a", "1", nil, { r = { data = "s" } }) },
    { data = res("a", "1", nil, { r = { data = 1 } }) }, { data = res("a", "1", nil, { r = { data = true } }) },
    { data = res("a", "1", nil, { r = { data = { one("b", "1").data, null } } }) },
    { data = res("a", "1", nil, { r = { data = { "x" } } }) },
    { data = { res("a", "1"), res("a", "2", nil, { r = { data = { one("b", "1").data, 7 } } }) } },
    { included = { res("a", "1"), res("a", "2", nil, { r = { data = { {} } } }) } },
    { data = res("a", "1", nil, { r = { data = { { type = "b", id = 1.5 } } } }) },
    -- document members of every kind
    { data = "s" }, { data = 1 }, { data = true }, { data = null }, { data = {} }, { data = { 1 } }, { data = { "x" } },
    { included = "s" }, { included = { x = 1 } }, { included = null }, { included = {} }, { included = { 1 } },
    { errors = "s" }, { errors = { x = 1 } }, { errors = null }, { errors = {} },
    { errors = { { status = "422", x = null } } },
    { meta = 1 }, { meta = "s" }, { meta = true }, { meta = null }, { meta = { 1, null, { 2, null } } },
    { links = { self = "x", next = null }, jsonapi = { version = "1.0" },
      meta = { at = dt("u", 1), n = 1.0, f = 0.5 } },
    { meta = { utc = "u", epoch = 1 }, data = res("a", "1", { utc = "u", epoch = 1, d = { utc = 1, epoch = 1 } }) },
    { meta = { d = { utc = "u", epoch = "1" }, e = { utc = null, epoch = 1 }, f = { epoch = 1 }, g = { utc = "u" } } },
    { data = res("a", "1", { big = 2 ^ 53, neg = -0.0, huge = 1e20, list = { 1.0, 2 ^ 52, -3.0, null, null } }) },
    { data = { res("a", "1", nil, nil, { links = { self = "x" }, meta = { m = 1 } }) } },
    { data = res("a", "1", { x = 1 }, { ["a\0b"] = "bad" }) },
    {},
  }
  local texts = {}
  for i, d in ipairs(docs) do texts[i] = encode(d) end
  local extra = {
    "", " ", "x", "[]", " []", "\n[1]", "[{}]", "{", "{}", " \t\r\n{}", "null", "1", '"s"', "true", "{} x",
    "{\"a\":1,}",
    '{"data":{"type":"a","id":"1","attributes":{"a":1,"a":2}}}',
    '{"data":{"type":"a","id":"1","attributes":{"a":1},"attributes":{"b":2}}}',
    '{"data":[{"type":"a","id":"1"}],"data":{"type":"b","id":"2"}}',
    '{"data":{"type":"a","id":"1e2"}}', '{"data":{"type":"a","id":1e2}}', '{"data":{"type":"a","id":-0}}',
    '{"data":{"type":"a","id":9007199254740993}}', '{"data":{"type":"a","id":9007199254740991}}',
    '{"data":{"type":"a","id":"1","relationships":{"r":{"data":[{"type":"b","id":123456789012345}]}}}}',
    '{"data":{"type":"a","id":1E400}}', '{"data":{"type":"a","id":NaN}}',
    '{"data":{"type":"a","id":"1","relationships":{"r\\u0000s":{"data":5}}}}',
    '{"data":{"type":"a","id":"1","attributes":{"s":"\\u0000","k\\u0000":1}}}',
  }
  for _, t in ipairs(extra) do texts[#texts + 1] = t end
  for _, depth in ipairs { 2, 60, 124, 125, 126, 127, 128, 129, 200 } do
    local dto = ('{"utc":"x","epoch":1,"a":'):rep(depth) .. "1" .. ("}"):rep(depth)
    for _, v in ipairs { deep_arr(depth), deep_obj(depth), dto } do
      texts[#texts + 1] = '{"meta":' .. v .. "}"
      texts[#texts + 1] = '{"data":{"type":"a","id":"1","attributes":{"x":' .. v .. "}}}"
      texts[#texts + 1] = '{"data":[{"type":"a","id":"1","attributes":{"x":' .. v .. "}}]}"
      texts[#texts + 1] = '{"included":[{"type":"a","id":"1","attributes":{"x":' .. v .. "}}]}"
      texts[#texts + 1] = '{"errors":[' .. v .. "]}"
      texts[#texts + 1] = '{"data":{"type":"a","id":"1","relationships":{"r":{"data":' .. v .. "}}}}"
    end
  end
  return texts
end

-- Park-Miller: exact in doubles, so the same sequence on Lua 5.4 and LuaJIT.
local function prng(seed)
  local state = seed
  return function(n)
    state = (state * 16807) % 2147483647
    return state % n
  end
end

local TOKENS = { "{", "}", "[", "]", '"', ":", ",", "null", "true", "0", "1.5", "-1e400", "\\u0000", '"id"', '"type"',
                 '"data"', '"relationships"', '"attributes"', '"included"', '"utc"', '"epoch"', "[[", "{}", "[]",
                 "9007199254740993", '{"type":"a","id":"1"}' }
-- One byte-level mutation of s: truncation, overwrite, token insertion, deletion, duplication.
local function mutate(rand, s)
  local n = #s
  local pos, op = rand(n + 1) + 1, rand(5)
  if op == 0 then return s:sub(1, rand(n + 1)) end
  if op == 1 then return s:sub(1, pos - 1) .. char(rand(256)) .. s:sub(pos + 1) end
  if op == 2 then return s:sub(1, pos - 1) .. TOKENS[rand(#TOKENS) + 1] .. s:sub(pos) end
  if op == 3 then return s:sub(1, pos - 1) .. s:sub(pos + rand(16) + 1) end
  local len = rand(32)
  return s:sub(1, pos + len) .. s:sub(pos, pos + len) .. s:sub(pos + len + 1)
end

-- A random JSON value of depth at most d, biased towards the decoder's member names.
local function random_value(rand, d)
  local k = rand(d > 0 and 9 or 6)
  if k == 0 then return null
  elseif k == 1 then return rand(2) == 1
  elseif k == 2 then return rand(1000) - 500
  elseif k == 3 then return (rand(1000) - 500) / 8
  elseif k == 4 then return ("s"):rep(rand(3))
  elseif k == 5 then return ({ "a", "b", "1", "2", "utc", "epoch" })[rand(6) + 1]
  elseif k == 6 then
    local t = {}
    for i = 1, rand(4) do t[i] = random_value(rand, d - 1) end
    return t
  elseif k == 7 then
    local t = {}
    local names = { "id", "type", "data", "attributes", "relationships", "utc", "epoch", "links", "x" }
    for _ = 1, rand(4) do t[names[rand(#names) + 1]] = random_value(rand, d - 1) end
    return t
  end
  local t = { type = ({ "a", "b" })[rand(2) + 1], id = ({ "1", "2", 1, "3" })[rand(4) + 1] }
  if rand(2) == 1 then t.attributes = random_value(rand, d - 1) end
  if rand(2) == 1 then
    t.relationships = { r = { data = random_value(rand, d - 1) }, s = { data = random_value(rand, 1) } }
  end
  return t
end

-- A copy of v with about one node in `odds` replaced by a random value and one member in 20 dropped.
local function tree_mutate(rand, v, odds)
  if rand(odds) == 0 then return random_value(rand, 3) end
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do
    if rand(20) ~= 0 then out[k] = tree_mutate(rand, x, odds) end
  end
  return out
end

local function seed_documents()
  return {
    { data = { res("a", "1", { n = 1, s = "x", z = null, at = dt("u", 1), l = { 1, null } },
                 { b = many({ "b", "1" }, { "b", "2" }), c = one("a", "2"), e = { data = null }, l = { links = {} } }),
               res("a", "2", { n = 2 }, { c = one("a", "1") }) },
      included = { res("b", "1", { k = 1 }, { back = one("a", "1") }), res("b", "2"), res("b", "1", { k = null }) },
      meta = { total = 2, x = null }, links = { self = "s" }, jsonapi = { version = "1.0" } },
    { data = res("a", "1", { x = 1 }, { r = one("b", "1") }), included = { res("b", "1"), res("a", "1", { y = 2 }) } },
    { data = null, errors = { { status = "422", source = { pointer = "/data" } } } },
  }
end

describe("core.decode and clinch.link.decode", function()
  before_each(function() stats = { decoded = 0, failed = 0, tables = 0, messages = {} } end)

  it("is the decoder clinch.jsonapi uses on LuaJIT (the C core elsewhere)", function()
    assert.equal(support.is_luajit and "lua" or "c", jsonapi.linker)
  end)

  it("give the same documents and the same errors for documents reaching every rule", function()
    local texts = rule_documents()
    all_alike(texts, "rule document")
    -- what the list reaches, so that it cannot shrink to nothing unnoticed
    assert.truthy(stats.decoded >= 60, stats.decoded)
    assert.truthy(stats.failed >= 80, stats.failed)
    local n = 0
    for msg in pairs(stats.messages) do
      n = n + 1
      assert.is_string(msg)
    end
    assert.truthy(n >= 60, n)
    for _, want in ipairs { "nesting too deep", "nesting deeper than 128", "beyond 2^53", "is not an integer",
                            "has no id", "has no type", "type must be a string", "id must be a string",
                            "expected resource object", "expected resource identifier object",
                            "expected object, array or null", "expected object, got array", "expected array",
                            "not JSON", "top level: expected object" } do
      local found = false
      for msg in pairs(stats.messages) do
        if msg:find(want, 1, true) then found = true end
      end
      assert(found, "no rule document fails with " .. want)
    end
  end)

  it("take their arguments alike: a number as its text, anything else but a string or a table raises", function()
    assert.same({ core.decode(5) }, { link.decode(5) })
    assert.same({ core.decode(1.5, {}) }, { link.decode(1.5, {}) })
    for _, bad in ipairs { {}, true, print } do
      assert.is_false(pcall(core.decode, bad))
      assert.is_false(pcall(link.decode, bad))
    end
    assert.is_false(pcall(core.decode, "{}", "raw"))
    assert.is_false(pcall(link.decode, "{}", "raw"))
    assert.is_true(pcall(link.decode, "{}", nil))
  end)

  it("give the same document for the benchmark's 100-candidate page", function()
    local fixture = dofile(support.root .. "/bench/fixture.lua")
    all_alike({ fixture.page(100), fixture.page(7) }, "bench page")
    assert.equal(2, stats.decoded)
    assert.truthy(stats.tables > 3000, stats.tables)
  end)

  it("give the same documents for every document of the JSON:API corpus", function()
    local dir = support.root .. "/../shared/conformance/jsonapi-fixtures"
    local manifest = support.read_file(dir .. "/manifest.json")
    if not manifest then
      pending("conformance fixtures not found at " .. dir)
      return
    end
    local texts = {}
    for i, e in ipairs(cjson.decode(manifest)) do texts[i] = assert(support.read_file(dir .. "/" .. e.file), e.file) end
    assert.equal(342, #texts)
    all_alike(texts, "corpus document")
    assert.truthy(stats.decoded >= 280 and stats.failed >= 40, stats.decoded .. " " .. stats.failed)
  end)

  it("give the same results for tree mutations of documents (fixed seed)", function()
    local rand, seeds, texts = prng(20240601), seed_documents(), {}
    for i = 1, 1500 do texts[i] = encode(tree_mutate(rand, seeds[i % #seeds + 1], 6)) end
    all_alike(texts, "tree mutation")
    assert.truthy(stats.decoded > 100 and stats.failed > 100, stats.decoded .. " " .. stats.failed)
  end)

  it("give the same results for mutated document text (fixed seed)", function()
    local rand, texts, seeds = prng(7), {}, seed_documents()
    for i = 1, 1500 do
      local text = encode(seeds[i % #seeds + 1])
      for _ = 0, rand(3) do text = mutate(rand, text) end
      texts[i] = text
    end
    all_alike(texts, "text mutation")
    assert.truthy(stats.decoded > 50 and stats.failed > 300, stats.decoded .. " " .. stats.failed)
  end)

  it("link.decode keeps its document when a finalizer decodes while it links", function()
    -- finalizers run at the allocations the linker makes: a table's on 5.4, a userdata's on LuaJIT
    -- (whose tables have no __gc)
    local ids = {}
    for i = 1, 3000 do ids[i] = { type = "b", id = tostring(i) } end
    local text = encode { data = { type = "a", id = "1", relationships = { r = { data = ids } } } }
    local inner = '{"data":{"type":"x","id":"9","relationships":{"q":{"data":{"type":"y","id":"1"}}}}}'
    -- done: no finalizer arms another once the case is over (one armed while LuaJIT closes its state
    -- crashes it: lua_close runs the finalizers)
    local inside, during, inner_docs, done = false, 0, {}, false
    local function arm()
      local function finalize()
        if inside then during = during + 1 end
        inner_docs[#inner_docs + 1] = link.decode(inner) or false
        if #inner_docs < 200 and not done then arm() end
      end
      if newproxy then
        getmetatable(newproxy(true)).__gc = finalize
      else
        setmetatable({}, { __gc = finalize })
      end
    end
    local pause = collectgarbage("setpause", 10)
    local doc, msg
    for _ = 1, 20 do
      for _ = 1, 5 do arm() end
      inside = true
      doc, msg = link.decode(text)
      inside = false
      if during > 0 then break end
    end
    collectgarbage("setpause", pause)
    done = true
    collectgarbage()
    collectgarbage()
    assert.is_nil(msg)
    assert.truthy(during > 0, "no finalizer ran during the decode")
    assert.equal(3000, #doc.data.r)
    assert.equal("3000", doc.data.r[3000].id)
    for _, d in ipairs(inner_docs) do assert.equal("1", d.data.q.id) end
  end)

  it("compares for real: a difference in content, subtype, metatable or sharing is found", function()
    local function diff(a, b) return compare(a, b, { ab = {}, ba = {} }, "d") end
    local s = { 1 }
    assert.is_nil(diff({ x = { 1 }, y = "s" }, { x = { 1 }, y = "s" }))
    assert.truthy(diff({ a = s, b = s }, { a = { 1 }, b = { 1 } }))
    assert.truthy(diff({ a = { 1 }, b = { 1 } }, { a = s, b = s }))
    assert.truthy(diff({ x = 1 }, { x = 2 }))
    assert.truthy(diff({ x = 1 }, { x = 1, y = 1 }))
    assert.truthy(diff({ x = 1, y = 1 }, { x = 1 }))
    assert.truthy(diff({ x = {} }, { x = setmetatable({}, jsonapi.DateTime) }))
    if math_type then assert.truthy(diff({ x = 1 }, { x = 1.0 })) end
  end)
end)
