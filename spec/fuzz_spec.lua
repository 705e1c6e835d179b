-- Mutation fuzzing of the C core's entry points that read untrusted bytes: core.decode (API responses),
-- core.verify (requests reaching the mock), core.sign, Base64 and HTTP-date parsing. Each case only
-- asserts the contract: a result, or nil and a string message (raising only where the function
-- documents raising), and never a crash. The seeds are fixed, so a failure replays exactly; the whole
-- file runs in about a second, also under ASan, where a memory error aborts the run.
local core = require "clinch.core"
local cjson = require "cjson"

local byte, char, concat, floor = string.byte, string.char, table.concat, math.floor

-- Park-Miller: exact in doubles, so the same sequence on Lua 5.4 and LuaJIT.
local function prng(seed)
  local state = seed
  return function(n)
    state = (state * 16807) % 2147483647
    return state % n
  end
end

local function random_bytes(rand, n)
  local t = {}
  for i = 1, n do t[i] = char(rand(256)) end
  return concat(t)
end

-- Byte-level mutations of s: truncation, bit flips, overwrites, insertions, deletions, duplication.
local TOKENS = { "{", "}", "[", "]", '"', ":", ",", "null", "true", "0", "-1e400", "1e308", "\\u0000",
                 "\\ud800", "\0", "\255", '"id"', '"type"', '"data"', '"relationships"', '"attributes"',
                 '"included"', '"utc"', '"epoch"', "[[[[", "{}", "[]", "1.5", "9007199254740993" }
local function mutate(rand, s)
  local n = #s
  local pos = rand(n + 1) + 1
  local op = rand(7)
  if op == 0 then
    return s:sub(1, rand(n + 1))
  elseif op == 1 then
    return s:sub(1, pos - 1) .. random_bytes(rand, rand(8) + 1) .. s:sub(pos + rand(8) + 1)
  elseif op == 2 then
    return s:sub(1, pos - 1) .. char(rand(256)) .. s:sub(pos + 1)
  elseif op == 3 then
    return s:sub(1, pos - 1) .. TOKENS[rand(#TOKENS) + 1] .. s:sub(pos)
  elseif op == 4 then
    return s:sub(1, pos - 1) .. s:sub(pos + rand(16) + 1)
  elseif op == 5 then
    local len = rand(32)
    return s:sub(1, pos + len) .. s:sub(pos, pos + len) .. s:sub(pos + len + 1)
  end
  -- flip one bit
  if n == 0 then return s end
  pos = pos > n and n or pos
  local b, bit = byte(s, pos), 2 ^ rand(8)
  b = (floor(b / bit) % 2 == 1) and b - bit or b + bit
  return s:sub(1, pos - 1) .. char(b) .. s:sub(pos + 1)
end

local function dt(utc, epoch)
  return { utc = utc, epoch = epoch, ago = "x", ["local"] = utc, local_epoch = epoch }
end

-- Seed documents as Lua values: they are mutated as trees (which keeps them JSON, so the linker gets
-- exercised) and as text.
local function seed_docs()
  local c1 = { type = "candidates", id = "c1",
    attributes = { name = "Ada", visit_count = 3, score = 0.25, phone = cjson.null, tags = { "a", cjson.null, "b" },
                   created_at = dt("2021-01-01T00:00:00Z", 1609459200), custom = { deep = { list = { 1, 2.5 } } } },
    relationships = {
      notes = { data = { { type = "notes", id = "n1" }, { type = "notes", id = "n2" } }, links = { related = "x" } },
      owner = { data = { type = "users", id = 7 } },
      peer = { data = { type = "candidates", id = "c2" } },
      empty = { data = cjson.null },
      linkonly = { links = { related = "y" } },
    },
    links = { self = "https://x/c1" }, meta = { m = 1 } }
  local c2 = { type = "candidates", id = "c2", attributes = { name = "Bo" },
    relationships = { peer = { data = { type = "candidates", id = "c1" } } } }
  local included = {
    { type = "notes", id = "n1", attributes = { body = "first", at = dt("2020-01-01T00:00:00Z", 1577836800) },
      relationships = { candidate = { data = { type = "candidates", id = "c1" } } } },
    { type = "notes", id = "n2", relationships = { candidate = { data = { type = "candidates", id = "c1" } } } },
    { type = "users", id = "7" },
  }
  return {
    { data = { c1, c2 }, included = included, meta = { total = 2, x = cjson.null },
      links = { self = "s", next = cjson.null }, jsonapi = { version = "1.0" } },
    { data = c1, included = included },
    { data = cjson.null, errors = { { status = "422", title = "bad", source = { pointer = "/data" } } } },
    { data = {}, meta = { nested = { { { {} } } } } },
  }
end

-- A random JSON value of depth at most d.
local function random_value(rand, d)
  local k = rand(d > 0 and 9 or 6)
  if k == 0 then return cjson.null
  elseif k == 1 then return rand(2) == 1
  elseif k == 2 then return rand(1000) - 500
  elseif k == 3 then return (rand(1000) - 500) / 7
  elseif k == 4 then return ("s"):rep(rand(5))
  elseif k == 5 then return ({ "id", "type", "data", "utc", "epoch", "attributes" })[rand(6) + 1]
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
  local t = { type = ({ "candidates", "notes", "users" })[rand(3) + 1], id = ({ "c1", "c2", "n1", "7" })[rand(4) + 1] }
  if rand(2) == 1 then t.attributes = random_value(rand, d - 1) end
  if rand(2) == 1 then t.relationships = { r = { data = random_value(rand, d - 1) } } end
  return t
end

-- Copies v, replacing one randomly chosen node (about one in `odds`) with a random value.
local function tree_mutate(rand, v, odds)
  if rand(odds) == 0 then return random_value(rand, 3) end
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do
    if rand(20) ~= 0 then out[k] = tree_mutate(rand, x, odds) end
  end
  return out
end

describe("fuzzing core.decode", function()
  local encode = cjson.new().encode

  local function check(text, raw)
    local ok, doc, err, kind = pcall(core.decode, text, raw)
    assert.is_true(ok, doc)
    if doc == nil then
      assert.is_string(err)
      assert.equal("decode", kind, err)
    else
      assert.is_table(doc)
    end
  end

  it("survives tree mutations of JSON:API documents", function()
    local rand = prng(20240501)
    local seeds = seed_docs()
    for i = 1, 1500 do
      local text = encode(tree_mutate(rand, seeds[i % #seeds + 1], 8))
      check(text, i % 2 == 0 and {} or nil)
    end
  end)

  it("survives truncated, bit-flipped and spliced document text", function()
    local rand = prng(7)
    local texts = {}
    for i, d in ipairs(seed_docs()) do texts[i] = encode(d) end
    for i = 1, 1500 do
      local text = texts[i % #texts + 1]
      for _ = 0, rand(4) do text = mutate(rand, text) end
      check(text, i % 3 == 0 and {} or nil)
    end
    for i = 0, #texts[1] do check(texts[1]:sub(1, i)) end
  end)

  it("survives deep and wide nesting at every level of the document", function()
    for _, depth in ipairs { 120, 124, 125, 126, 127, 128, 129, 200 } do
      local arr = ("["):rep(depth) .. ("]"):rep(depth)
      local obj = ('{"a":'):rep(depth) .. "1" .. ("}"):rep(depth)
      local dtobj = ('{"utc":"x","epoch":1,"a":'):rep(depth) .. "1" .. ("}"):rep(depth)
      for _, v in ipairs { arr, obj, dtobj } do
        check('{"meta":' .. v .. "}")
        check('{"data":{"type":"a","id":"1","attributes":{"x":' .. v .. "}}}")
        check('{"data":[{"type":"a","id":"1","attributes":{"x":' .. v .. "}}]}", {})
        check('{"included":[{"type":"a","id":"1","attributes":{"x":' .. v .. "}}]}")
        check('{"errors":[' .. v .. "]}")
        check('{"data":{"type":"a","id":"1","relationships":{"r":{"data":' .. v .. "}}}}")
      end
    end
  end)
end)

describe("fuzzing core.verify and core.sign", function()
  local NOW, SECRET = 1735689600, "fuzz-secret"
  local base = { method = "PATCH", request_uri = "/v1/candidates/abc?include=jobs", access_id = "acme",
                 secret = SECRET, content_type = "application/vnd.api+json", body = '{"data":{}}', date = NOW,
                 digest = "sha256", content_hash = "sha256" }

  local function check_verify(req, secret, opts)
    local ok, a, b = pcall(core.verify, req, secret, opts)
    assert.is_true(ok, a)
    if a == nil then
      assert.is_string(b)
      assert.is_nil(b:find(SECRET, 1, true))
    else
      assert.is_true(a)
      assert.is_string(b)
    end
    return a
  end

  it("answers every mutated request with true, id or nil, reason", function()
    local rand = prng(99)
    local variants = {}
    local kinds = { { "sha256", "sha256", "Date" }, { "sha1", "md5", "X-HMAC-Date" }, { "sha1", "none", "both" } }
    for i, v in ipairs(kinds) do
      local req = {}
      for k, x in pairs(base) do req[k] = x end
      req.digest, req.content_hash, req.date_header = v[1], v[2], v[3]
      variants[i] = { req = req, headers = core.sign(req) }
    end
    local lookup = function(id) return id == "acme" and SECRET or nil end
    local fields = { "method", "request_uri", "body" }
    local accepted = 0
    for i = 1, 1500 do
      local v = variants[i % #variants + 1]
      local headers = {}
      for k, x in pairs(v.headers) do headers[k] = x end
      local req = { method = v.req.method, request_uri = v.req.request_uri, body = v.req.body, headers = headers }
      for _ = 0, rand(3) do
        if rand(3) == 0 then
          local f = fields[rand(#fields) + 1]
          req[f] = mutate(rand, req[f])
        else
          local names = {}
          for k in pairs(headers) do names[#names + 1] = k end
          table.sort(names)
          local k = names[rand(#names) + 1]
          local op = rand(6)
          if op == 0 then headers[k] = nil
          elseif op == 1 then headers[k:lower()] = headers[k]
          elseif op == 2 then headers[k] = random_bytes(rand, rand(60))
          else headers[k] = mutate(rand, headers[k]) end
        end
      end
      if check_verify(req, i % 2 == 0 and SECRET or lookup, { now = NOW }) then accepted = accepted + 1 end
    end
    -- some mutations leave the signed parts alone (a header renamed to lower case, say)
    assert.is_true(accepted > 0)
  end)

  it("signs or raises a string error for every mutated input", function()
    local rand = prng(4242)
    local fields = { "method", "request_uri", "access_id", "secret", "content_type", "body", "date" }
    for _ = 1, 800 do
      local req = {}
      for k, x in pairs(base) do req[k] = x end
      req.date = "Wed, 01 Jan 2025 00:00:00 GMT"
      for _ = 0, rand(2) do
        local f = fields[rand(#fields) + 1]
        req[f] = mutate(rand, req[f])
      end
      local ok, headers, canonical = pcall(core.sign, req)
      if ok then
        assert.is_table(headers)
        assert.is_string(canonical)
        assert.is_string(headers.Authorization)
      else
        assert.is_string(headers)
        assert.truthy(headers:find("clinch.core.sign", 1, true), headers)
      end
    end
  end)
end)

describe("fuzzing Base64, HMAC and HTTP-date parsing", function()
  it("decodes random and mutated Base64 to bytes or nil, message", function()
    local rand = prng(31337)
    for i = 1, 1500 do
      local raw = random_bytes(rand, rand(40))
      local enc = core.base64_encode(raw)
      assert.equal(raw, core.base64_decode(enc))
      local text = i % 3 == 0 and random_bytes(rand, rand(24)) or mutate(rand, enc)
      local out, err = core.base64_decode(text)
      if out == nil then
        assert.is_string(err)
      else
        assert.is_string(out)
        -- strict: only the canonical encoding decodes
        assert.equal(text, core.base64_encode(out))
      end
    end
  end)

  it("computes an HMAC for any key and message", function()
    local rand = prng(5)
    for i = 1, 300 do
      local key, msg = random_bytes(rand, rand(200)), random_bytes(rand, rand(200))
      local mac = core.hmac(i % 2 == 0 and "sha1" or "sha256", key, msg)
      assert.equal(i % 2 == 0 and 20 or 32, #mac)
    end
  end)

  it("parses mutated HTTP-dates to an integer epoch or nil, message", function()
    local rand = prng(1994)
    local seeds = { "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994" }
    for i = 1, 1500 do
      local s = seeds[i % #seeds + 1]
      for _ = 0, rand(3) do s = mutate(rand, s) end
      local epoch, err = core.parse_httpdate(s)
      if epoch == nil then
        assert.is_string(err)
      else
        assert.is_number(epoch)
        assert.equal(epoch, floor(epoch))
      end
    end
  end)
end)
