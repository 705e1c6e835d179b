-- core.sign / core.verify: the shared conformance vectors byte for byte, tampering, malformed
-- Authorization headers and bad input. No message may ever hold the secret or the expected signature.
local core = require "clinch.core"
local cjson = require "cjson"
local support = require "support"
local read_file = support.read_file


local fixture = assert(read_file(support.root .. "/spec/fixtures/signing-vectors.json"))
local shared = read_file(support.root .. "/../shared/conformance/signing-vectors.json")
local vectors = cjson.decode(shared or fixture)

local function absent(s)
  if s == "" then return nil end
  return s
end

-- The sign request of vector v, with `extra` fields over it.
local function vector_req(v, extra)
  local req = {
    method = v.method, request_uri = v.request_uri, access_id = v.access_id, secret = v.secret,
    content_type = absent(v.content_type), body = absent(v.body), date = v.date,
    digest = v.digest, content_hash = v.content_hash, with_method = v.with_method,
  }
  for k, x in pairs(extra or {}) do req[k] = x end
  return req
end

local function sign_vector(v, extra)
  return core.sign(vector_req(v, extra))
end

-- Turns signed headers into a server-side request, header names lower-cased like most servers.
local function server_request(method, uri, headers, body)
  local h = {}
  for k, x in pairs(headers) do h[k:lower()] = x end
  return { method = method, request_uri = uri, headers = h, body = body }
end

local SECRET = "TOP-SECRET-abc123+/="
local NONE = {} -- in option overrides: leave the field out

-- Every reason seen passes through here: it must not hold the secret, nor anything that looks like a
-- signature (a long Base64 run), and is kept for the check at the end of the file.
local messages = {}
local BASE64_RUN = ("[%w+/=]"):rep(20)
local function note(msg)
  local m = tostring(msg)
  assert.is_nil(m:find(SECRET, 1, true), m)
  assert.is_nil(m:find(BASE64_RUN), m)
  messages[#messages + 1] = m
  return msg
end

describe("signing conformance vectors", function()
  it("the fixture equals the shared conformance file when that exists", function()
    if shared then
      assert.are.same(cjson.decode(shared), cjson.decode(fixture))
    end
    assert.is_true(#vectors >= 12)
  end)

  for _, v in ipairs(vectors) do
    describe(v.name, function()
      it("signs byte for byte", function()
        local headers, canonical = sign_vector(v)
        assert.are.equal(v.expected_canonical_string, canonical)
        local want = {
          Authorization = v.expected_authorization,
          Date = v.date,
          ["Content-Type"] = absent(v.content_type),
          ["Content-MD5"] = v.expected_content_md5,
          ["X-Authorization-Content-SHA256"] = v.expected_x_authorization_content_sha256,
        }
        assert.are.same(want, headers)
      end)

      it("verifies, with header names in any case", function()
        local headers = sign_vector(v)
        local now = core.parse_httpdate(v.date)
        local opts = { now = now, with_method = v.with_method }
        local ok, id = core.verify(server_request(v.method, v.request_uri, headers, absent(v.body)), v.secret, opts)
        assert.is_true(ok, id)
        assert.are.equal(v.access_id, id)
        -- as given (mixed case) and upper case
        ok, id = core.verify({ method = v.method, request_uri = v.request_uri, headers = headers,
                               body = absent(v.body) }, v.secret, opts)
        assert.is_true(ok, id)
        local upper = {}
        for k, x in pairs(headers) do upper[k:upper()] = x end
        ok, id = core.verify({ method = v.method, request_uri = v.request_uri, headers = upper,
                               body = absent(v.body) }, v.secret, opts)
        assert.is_true(ok, id)
      end)

      it("fails verification in the other canonical form", function()
        local headers = sign_vector(v)
        local ok, reason = core.verify(server_request(v.method, v.request_uri, headers, absent(v.body)), v.secret,
          { now = core.parse_httpdate(v.date), with_method = not v.with_method })
        assert.is_nil(ok)
        assert.are.equal("signature does not match", note(reason))
      end)

      it("signs the same with the date given as an epoch", function()
        local h1, c1 = sign_vector(v)
        local h2, c2 = sign_vector(v, { date = core.parse_httpdate(v.date) })
        assert.are.equal(c1, c2)
        assert.are.same(h1, h2)
      end)
    end)
  end
end)

describe("core.sign options", function()
  local base = { method = "POST", request_uri = "/v1/candidates", access_id = "acme", secret = SECRET,
                 content_type = "application/vnd.api+json", body = '{"a":1}', date = 1735689600 }
  local function with(extra)
    local r = {}
    for k, x in pairs(base) do r[k] = x end
    for k, x in pairs(extra) do
      if x == NONE then r[k] = nil else r[k] = x end
    end
    return r
  end

  it("uses sha1, no content hash, the method and the Date header by default", function()
    local h, canonical = core.sign(base)
    assert.are.equal("POST,application/vnd.api+json,,/v1/candidates,Wed, 01 Jan 2025 00:00:00 GMT", canonical)
    assert.truthy(h.Authorization:find("^APIAuth acme:[A-Za-z0-9+/]+=$"))
    assert.are.equal(core.base64_encode(core.hmac("sha1", SECRET, canonical)), h.Authorization:match(":(.*)$"))
    assert.are.same({ "Authorization", "Content-Type", "Date" }, (function()
      local keys = {}
      for k in pairs(h) do keys[#keys + 1] = k end
      table.sort(keys)
      return keys
    end)())
  end)

  it("upper-cases the method in the canonical string", function()
    local _, canonical = core.sign(with { method = "patch" })
    assert.are.equal("PATCH,", canonical:sub(1, 6))
  end)

  it("sends X-HMAC-Date instead of, or as well as, Date", function()
    local h = core.sign(with { date_header = "X-HMAC-Date" })
    assert.is_nil(h.Date)
    assert.are.equal("Wed, 01 Jan 2025 00:00:00 GMT", h["X-HMAC-Date"])
    h = core.sign(with { date_header = "both" })
    assert.are.equal(h.Date, h["X-HMAC-Date"])
  end)

  it("sends Content-MD5 of the empty string for a request without a body", function()
    local h, canonical = core.sign(with { method = "GET", body = NONE, content_type = NONE, content_hash = "md5" })
    assert.are.equal("1B2M2Y8AsgTpgAmY7PhCfg==", h["Content-MD5"])
    assert.are.equal("GET,,1B2M2Y8AsgTpgAmY7PhCfg==,/v1/candidates,Wed, 01 Jan 2025 00:00:00 GMT", canonical)
  end)

  it("sends X-Authorization-Content-SHA256 only when there is a body", function()
    local h = core.sign(with { content_hash = "sha256" })
    assert.are.equal(core.base64_encode(core.sha256('{"a":1}')), h["X-Authorization-Content-SHA256"])
    h = core.sign(with { content_hash = "sha256", body = "" })
    assert.is_nil(h["X-Authorization-Content-SHA256"])
  end)

  it("signs with the current time when no date is given, and that verifies", function()
    local h = core.sign(with { date = NONE, content_hash = "sha256", digest = "sha256" })
    local when = core.parse_httpdate(h.Date)
    assert.is_true(math.abs(when - os.time()) <= 2)
    assert.is_true(core.verify(server_request("POST", "/v1/candidates", h, '{"a":1}'), SECRET))
  end)
end)

describe("core.verify", function()
  local NOW = 1735689600
  local body = '{"data":{"type":"candidate","attributes":{"first_name":"Jane"}}}'
  local function signed(extra)
    local req = { method = "PATCH", request_uri = "/v1/candidates/abc?include=jobs", access_id = "acme",
                  secret = SECRET, content_type = "application/vnd.api+json", body = body, date = NOW,
                  digest = "sha256", content_hash = "sha256" }
    for k, x in pairs(extra or {}) do
      if x == NONE then req[k] = nil else req[k] = x end
    end
    local headers, canonical = core.sign(req)
    return server_request(req.method, req.request_uri, headers, req.body), canonical, headers
  end
  local function rejects(req, secret, opts, want)
    local ok, reason = core.verify(req, secret or SECRET, opts or { now = NOW })
    assert.is_nil(ok)
    assert.is_string(reason)
    note(reason)
    if want then assert.are.equal(want, reason) end
    return reason
  end

  it("accepts the untouched request", function()
    local ok, id = core.verify(signed(), SECRET, { now = NOW })
    assert.is_true(ok)
    assert.are.equal("acme", id)
  end)

  it("rejects a change to any canonical part", function()
    local req = signed()
    req.method = "PUT"
    rejects(req, nil, nil, "signature does not match")
    req = signed()
    req.headers["content-type"] = "application/json"
    rejects(req, nil, nil, "signature does not match")
    req = signed()
    req.headers["content-type"] = nil
    rejects(req, nil, nil, "signature does not match")
    req = signed()
    req.request_uri = "/v1/candidates/abd?include=jobs"
    rejects(req, nil, nil, "signature does not match")
    req = signed()
    req.request_uri = "/v1/candidates/abc?include=notes"
    rejects(req, nil, nil, "signature does not match")
    req = signed()
    req.headers.date = core.httpdate(NOW + 1)
    rejects(req, nil, nil, "signature does not match")
  end)

  it("rejects a changed body when a hash header is present", function()
    local req = signed()
    req.body = body:gsub("Jane", "Joan")
    rejects(req, nil, nil, "X-Authorization-Content-SHA256 does not match the body")
    req = signed { content_hash = "md5" }
    req.body = body .. " "
    rejects(req, nil, nil, "Content-MD5 does not match the body")
    req = signed { content_hash = "md5", body = NONE, method = "GET", content_type = NONE }
    req.body = "smuggled"
    rejects(req, nil, nil, "Content-MD5 does not match the body")
  end)

  it("rejects a dropped or swapped hash header", function()
    local req = signed()
    req.headers["x-authorization-content-sha256"] = nil
    rejects(req, nil, nil, "signature does not match")
    req = signed()
    req.headers["x-authorization-content-sha256"] = core.base64_encode(core.sha256("other"))
    req.body = "other"
    rejects(req, nil, nil, "signature does not match")
  end)

  it("does not check the body when no hash header is present (as api-auth)", function()
    local req = signed { content_hash = "none" }
    req.body = "anything"
    assert.is_true(core.verify(req, SECRET, { now = NOW }))
  end)

  it("rejects the wrong key", function()
    rejects(signed(), "another-secret", nil, "signature does not match")
    rejects(signed(), SECRET .. "x", nil, "signature does not match")
  end)

  it("enforces the clock skew window (900 s by default, or opts.clock_skew)", function()
    assert.is_true(core.verify(signed(), SECRET, { now = NOW + 900 }))
    assert.is_true(core.verify(signed(), SECRET, { now = NOW - 900 }))
    local skew = "request date is outside the allowed clock skew"
    rejects(signed(), nil, { now = NOW + 901 }, skew)
    rejects(signed(), nil, { now = NOW - 901 }, skew)
    rejects(signed(), nil, { now = NOW + 61, clock_skew = 60 }, skew)
    assert.is_true(core.verify(signed(), SECRET, { now = NOW + 60, clock_skew = 60 }))
    -- without opts.now the real clock is used: a 2025 date is long past
    rejects(signed(), nil, {}, skew)
  end)

  it("prefers X-HMAC-Date over Date", function()
    local req = signed { date_header = "X-HMAC-Date" }
    req.headers.date = core.httpdate(NOW + 5)
    assert.is_true(core.verify(req, SECRET, { now = NOW }))
    req = signed()
    req.headers["x-hmac-date"] = core.httpdate(NOW + 5)
    rejects(req, nil, nil, "signature does not match")
  end)

  it("rejects missing, duplicate and unparseable headers", function()
    local req = signed()
    req.headers.authorization = nil
    rejects(req, nil, nil, "missing Authorization header")
    req = signed()
    req.headers.date = nil
    rejects(req, nil, nil, "missing Date header")
    req = signed()
    req.headers.date = "yesterday"
    rejects(req, nil, nil, "invalid Date header")
    req = signed()
    req.headers.Date = req.headers.date
    rejects(req, nil, nil, "header given more than once")
    req = signed()
    req.headers.authorization = { req.headers.authorization }
    rejects(req, nil, nil, "malformed header value")
  end)

  it("looks the secret up through a function, failing for an unknown id", function()
    local seen = {}
    local function lookup(id)
      seen[#seen + 1] = id
      if id == "acme" then return SECRET end
      return nil
    end
    assert.is_true(core.verify(signed(), lookup, { now = NOW }))
    assert.are.same({ "acme" }, seen)
    local req = signed { access_id = "mallory" }
    rejects(req, lookup, nil, "unknown access id")
    rejects(signed(), function() return false end, nil, "unknown access id")
  end)

  it("rejects malformed Authorization headers with a reason", function()
    local _, _, headers = signed()
    local sig = headers.Authorization:match(":(.*)$")
    local sha1_sig = core.base64_encode(core.hmac("sha1", "k", "m"))
    local bad = {
      "", "APIAuth", "APIAuth ", "APIAuth acme", "APIAuth acme:", "APIAuth :" .. sig, "Bearer acme:" .. sig,
      "apiauth-hmac-sha256 acme:" .. sig, "APIAuth-HMAC-SHA256  acme:" .. sig, " APIAuth-HMAC-SHA256 acme:" .. sig,
      "APIAuth-HMAC-SHA256 acme:" .. sig .. " ", "APIAuth-HMAC-SHA256 acme:" .. sig .. "=",
      "APIAuth-HMAC-SHA256 ac me:" .. sig, "APIAuth-HMAC-SHA256 acme:" .. sha1_sig,
      "APIAuth-HMAC-SHA256 acme:" .. sig:sub(2), "APIAuth-HMAC-SHA256 acme:" .. '-' .. sig:sub(2),
      "APIAuth-HMAC-SHA256 acme:" .. ("!"):rep(#sig), "APIAuth-HMAC-MD5 acme:" .. sig,
      "APIAuth-HMAC-SHA512 acme:" .. sig, "APIAuth-HMAC-SHA256:acme:" .. sig, "APIAuth acme:" .. sig,
    }
    for _, auth in ipairs(bad) do
      local req = signed()
      req.headers.authorization = auth
      local reason = rejects(req)
      assert.is_nil(reason:find(sig, 1, true))
    end
    -- a sha1 header carrying the sha256 signature of the same request is not valid either
    local req = signed()
    req.headers.authorization = "APIAuth-HMAC-SHA1 acme:" .. sha1_sig
    rejects(req, nil, nil, "signature does not match")
  end)

  it("restricts the digest with opts.digest", function()
    rejects(signed(), nil, { now = NOW, digest = "sha1" }, "digest not accepted")
    assert.is_true(core.verify(signed(), SECRET, { now = NOW, digest = "sha256" }))
    assert.is_true(core.verify(signed { digest = "sha1" }, SECRET, { now = NOW, digest = "sha1" }))
  end)

  it("raises on wrong argument types", function()
    local req = signed()
    assert.has_error(function() core.verify(nil, SECRET) end)
    assert.has_error(function() core.verify(req, 42) end)
    assert.has_error(function() core.verify(req, "") end)
    assert.has_error(function() core.verify(req, SECRET, "opts") end)
    assert.has_error(function() core.verify(req, SECRET, { clock_skew = -1 }) end)
    assert.has_error(function() core.verify(req, SECRET, { with_method = "no" }) end)
    assert.has_error(function() core.verify(req, SECRET, { now = "today" }) end)
    assert.has_error(function() core.verify(req, SECRET, { digest = "md5" }) end)
    assert.has_error(function() core.verify(req, SECRET, { digest = "sha256\0x" }) end)
    assert.has_error(function() core.verify({ method = "GET", request_uri = "/" }, SECRET) end)
    assert.has_error(function() core.verify({ method = "GET", headers = {} }, SECRET) end)
    assert.has_error(function() core.verify(req, function() return 1 end, { now = NOW }) end)
  end)

  it("never puts the secret or the expected signature in a reason", function()
    local _, canonical = signed()
    local expected = core.base64_encode(core.hmac("sha256", SECRET, canonical))
    for _, m in ipairs(messages) do
      assert.is_nil(m:find(SECRET, 1, true), m)
      assert.is_nil(m:find(expected, 1, true), m)
    end
  end)
end)

describe("core.sign bad input", function()
  local function good()
    return { method = "POST", request_uri = "/v1/candidates?x=1", access_id = "acme", secret = SECRET,
             content_type = "application/vnd.api+json", body = "{}", date = "Wed, 01 Jan 2025 00:00:00 GMT" }
  end
  local cases = {
    { "access_id", { access_id = false }, "access_id" },
    { "access_id", { access_id = "" }, "access_id" },
    { "access_id", { access_id = "ac:me" }, "access_id" },
    { "access_id", { access_id = "acme\0" }, "access_id" },
    { "access_id", { access_id = "acme\r\nX-Evil: 1" }, "access_id" },
    { "access_id", { access_id = 1044 }, "access_id" },
    { "secret", { secret = false }, "secret" },
    { "secret", { secret = "" }, "secret" },
    { "method", { method = false }, "method" },
    { "method", { method = "" }, "method" },
    { "method", { method = "GE T" }, "method" },
    { "method", { method = "GET\r\n" }, "method" },
    { "method", { method = "GET\0" }, "method" },
    { "request_uri", { request_uri = false }, "request_uri" },
    { "request_uri", { request_uri = "" }, "request_uri" },
    { "request_uri", { request_uri = "v1/candidates" }, "request_uri" },
    { "request_uri", { request_uri = "/v1/x\r\nHost: evil" }, "request_uri" },
    { "request_uri", { request_uri = "/v1/x y" }, "request_uri" },
    { "request_uri", { request_uri = "/v1/x\0" }, "request_uri" },
    { "content_type", { content_type = "text/plain\r\nX-Evil: 1" }, "content_type" },
    { "content_type", { content_type = "text/plain\0" }, "content_type" },
    { "content_type", { content_type = 5 }, "content_type" },
    { "body", { body = 5 }, "body" },
    { "date", { date = "yesterday" }, "date" },
    { "date", { date = "Wed, 01 Jan 2025 00:00:00 GMT\r\nX-Evil: 1" }, "date" },
    { "date", { date = "Wed, 01 Jan 2025 00:00:00 GMT\0" }, "date" },
    { "date", { date = 0 / 0 }, "date" },
    { "date", { date = 1e300 }, "date" },
    { "date", { date = {} }, "date" },
    { "digest", { digest = "md5" }, "digest" },
    { "digest", { digest = "sha256\0x" }, "digest" },
    { "content_hash", { content_hash = "sha1" }, "content_hash" },
    { "content_hash", { content_hash = "md5\0" }, "content_hash" },
    { "with_method", { with_method = "yes" }, "with_method" },
    { "date_header", { date_header = "date" }, "date_header" },
    { "date_header", { date_header = "both\0" }, "date_header" },
  }
  for _, c in ipairs(cases) do
    it("raises a clear error for a bad " .. c[1], function()
      local req = good()
      for k, x in pairs(c[2]) do req[k] = x end
      local ok, err = pcall(core.sign, req)
      assert.is_false(ok)
      err = tostring(err)
      assert.truthy(err:find("clinch.core.sign", 1, true), err)
      assert.truthy(err:find(c[3], 1, true), err)
      assert.is_nil(err:find(SECRET, 1, true))
    end)
  end

  it("raises when req is not a table", function()
    assert.has_error(function() core.sign(nil) end)
    assert.has_error(function() core.sign("GET /") end)
  end)

  it("the good request itself signs", function()
    local h = core.sign(good())
    assert.is_string(h.Authorization)
  end)
end)

-- core.sign_fields (the client's per-attempt call) is core.sign with the fields as arguments: the same
-- headers, canonical string and errors for every vector, option and bad input.
describe("core.sign_fields", function()
  local unpack = table.unpack or rawget(_G, "unpack")
  local ORDER = { "method", "request_uri", "access_id", "secret", "content_type", "body", "date", "digest",
                  "content_hash", "with_method", "date_header" }
  local function fields(req)
    local list = {}
    for i, name in ipairs(ORDER) do list[i] = req[name] end
    return unpack(list, 1, #ORDER)
  end

  it("signs every vector, in every date header and date form, as core.sign does", function()
    for _, v in ipairs(vectors) do
      for _, extra in ipairs { {}, { date_header = "X-HMAC-Date" }, { date_header = "both" },
                               { date = core.parse_httpdate(v.date) } } do
        local req = vector_req(v, extra)
        local h1, c1 = core.sign(req)
        local h2, c2 = core.sign_fields(fields(req))
        assert.are.equal(c1, c2, v.name)
        assert.are.same(h1, h2, v.name)
      end
      assert.are.equal(v.expected_authorization, core.sign_fields(fields(vector_req(v))).Authorization, v.name)
    end
  end)

  it("signs with the current time when no date is given", function()
    local req = { method = "GET", request_uri = "/v1/x", access_id = "acme", secret = SECRET }
    local before = os.time()
    local h = core.sign_fields(fields(req))
    local at = core.parse_httpdate(h.Date)
    assert.is_true(at >= before - 1 and at <= os.time() + 1)
  end)

  it("raises what core.sign raises for bad input, without the secret", function()
    local bad = { { access_id = false }, { access_id = "ac:me" }, { secret = "" }, { method = "GE T" },
                  { request_uri = "/v1/x\r\nHost: evil" }, { content_type = 5 }, { body = 5 }, { date = "yesterday" },
                  { digest = "md5" }, { content_hash = "sha1" }, { with_method = "yes" }, { date_header = "date" } }
    for _, change in ipairs(bad) do
      local req = { method = "POST", request_uri = "/v1/candidates", access_id = "acme", secret = SECRET, body = "{}",
                    date = "Wed, 01 Jan 2025 00:00:00 GMT" }
      for k, x in pairs(change) do req[k] = x end
      local ok1, e1 = pcall(core.sign, req)
      local ok2, e2 = pcall(core.sign_fields, fields(req))
      assert.is_false(ok1)
      assert.is_false(ok2)
      e1, e2 = tostring(e1), tostring(e2)
      assert.are.equal(e1:gsub("clinch.core.sign", "", 1), (e2:gsub("clinch.core.sign", "", 1)))
      assert.is_nil(e2:find(SECRET, 1, true))
    end
  end)
end)

-- The signer remembers the strings of its last signature (csrc/sign.c, the memo): the same request again
-- gives them back, and anything that changes the Authorization value must not. Each case signs right
-- after a request that differs from it in one part, and checks the header against the HMAC computed
-- here.
describe("the signer's memo of its last signature", function()
  local DATE = "Wed, 01 Jan 2025 00:00:00 GMT"
  local function req(extra)
    local r = { method = "GET", request_uri = "/v1/candidates", access_id = "acme", secret = SECRET, date = DATE }
    for k, x in pairs(extra or {}) do r[k] = x end
    return r
  end
  local function expected(r, canonical)
    local sha256 = r.digest == "sha256"
    return (sha256 and "APIAuth-HMAC-SHA256 " or "APIAuth ") .. r.access_id .. ":"
      .. core.base64_encode(core.hmac(sha256 and "sha256" or "sha1", r.secret, canonical))
  end
  local function check(r)
    local h, canonical = core.sign(r)
    assert.are.equal(expected(r, canonical), h.Authorization)
    return h, canonical
  end

  it("gives the same headers and canonical string for the same request again", function()
    local h1, c1 = check(req())
    local h2, c2 = check(req())
    assert.are.same(h1, h2)
    assert.are.equal(c1, c2)
  end)

  it("signs anew for another access id with the same secret and canonical string (the same MAC)", function()
    check(req())
    local h = check(req { access_id = "other-id" })
    assert.truthy(h.Authorization:find("^APIAuth other%-id:"))
  end)

  it("signs anew for another secret, another digest and another request", function()
    for _, change in ipairs { { secret = "another-secret" }, { digest = "sha256" }, { request_uri = "/v1/jobs" },
                              { method = "POST" }, { date = "Thu, 02 Jan 2025 00:00:00 GMT" },
                              { content_type = "application/json", body = "{}" }, { with_method = false } } do
      check(req())
      check(req(change))
      check(req()) -- and back
    end
  end)

  it("signs access ids and canonical strings longer than it remembers", function()
    local long_id = string.rep("k", 200)
    local long_uri = "/v1/candidates?" .. string.rep("q=1&", 150)
    for _ = 1, 2 do
      check(req { access_id = long_id })
      check(req())
      check(req { request_uri = long_uri })
      check(req { request_uri = long_uri, access_id = long_id })
    end
  end)

  it("dates signatures without a date by the clock, the same string within a second", function()
    local r = req()
    r.date = nil
    local h1 = check(r)
    local h2 = check(r)
    assert.is_true(h1.Date == h2.Date or core.parse_httpdate(h2.Date) == core.parse_httpdate(h1.Date) + 1)
    assert.is_true(math.abs(core.parse_httpdate(h2.Date) - os.time()) <= 1)
  end)
end)
