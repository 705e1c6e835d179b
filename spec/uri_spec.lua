-- clinch.uri: deterministic, fully percent-encoded request-targets, and path segments that can
-- never change the path.
local uri = require "clinch.uri"

describe("uri.encode", function()
  it("leaves only RFC 3986 unreserved characters", function()
    assert.are.equal("AZaz09-._~", uri.encode("AZaz09-._~"))
    assert.are.equal("a%20b", uri.encode("a b"))
    assert.are.equal("%5B%5D", uri.encode("[]"))
    assert.are.equal("%21%23%24%25%26%27%28%29%2A%2B%2C%2F%3A%3B%3D%3F%40", uri.encode("!#$%&'()*+,/:;=?@"))
    assert.are.equal("%22%3C%3E%5C%5E%60%7B%7C%7D", uri.encode("\"<>\\^`{|}"))
    assert.are.equal("%00%0D%0A%09%7F", uri.encode("\0\r\n\t\127"))
  end)

  it("encodes UTF-8 byte by byte with upper-case hex", function()
    assert.are.equal("caf%C3%A9", uri.encode("café"))
    assert.are.equal("%E2%9C%93%F0%9F%98%80", uri.encode("✓😀"))
    assert.are.equal("%FF%FE", uri.encode("\255\254"))
  end)

  it("encodes every byte outside the unreserved set", function()
    for b = 0, 255 do
      local c = string.char(b)
      local want = c:find("^[A-Za-z0-9%-._~]$") and c or string.format("%%%02X", b)
      assert.are.equal(want, uri.encode(c))
    end
  end)

  it("accepts numbers and raises on other types", function()
    assert.are.equal("3", uri.encode(3))
    assert.are.equal("3", uri.encode(3.0))
    assert.has_error(function() uri.encode(nil) end)
    assert.has_error(function() uri.encode(true) end)
    assert.has_error(function() uri.encode({}) end)
  end)
end)

describe("uri.segment and uri.path", function()
  it("keeps an id from changing the path", function()
    assert.are.equal("..%2Fx", uri.segment("../x"))
    assert.are.equal("a%2Fb%3Fc", uri.segment("a/b?c"))
    assert.are.equal("a%23frag", uri.segment("a#frag"))
    assert.are.equal("%252F", uri.segment("%2F"))
    assert.are.equal("/candidates/a%2Fb%3Fc/tags", uri.build("/candidates/" .. uri.segment("a/b?c") .. "/tags"))
  end)

  it("writes the dot-segments so they are not dot-segments", function()
    assert.are.equal("%2E", uri.segment("."))
    assert.are.equal("%2E%2E", uri.segment(".."))
    assert.are.equal("...", uri.segment("..."))
    assert.are.equal(".x", uri.segment(".x"))
    assert.are.equal("/candidates/%2E%2E/tags", uri.path("candidates", "..", "tags"))
  end)

  it("joins encoded segments into an absolute path", function()
    assert.are.equal("/candidates/42/tags", uri.path("candidates", 42, "tags"))
    assert.are.equal("/candidates/a%20b", uri.path("candidates", "a b"))
    assert.are.equal("/x", uri.path("x"))
  end)

  it("raises on empty segments and wrong types", function()
    assert.has_error(function() uri.segment("") end)
    assert.has_error(function() uri.segment(nil) end)
    assert.has_error(function() uri.segment({}) end)
    assert.has_error(function() uri.path() end)
    assert.has_error(function() uri.path("a", "") end)
    assert.has_error(function() uri.path("a", nil, "b") end)
    assert.has_error(function() uri.path("a", false) end)
  end)
end)

describe("uri.build", function()
  it("returns the path alone without a query", function()
    assert.are.equal("/v1/candidates", uri.build("/v1/candidates"))
    assert.are.equal("/v1/candidates", uri.build("/v1/candidates", {}))
  end)

  it("sorts keys", function()
    assert.are.equal("/x?a=1&b=2&c=3", uri.build("/x", { c = 3, a = 1, b = 2 }))
    assert.are.equal("/x?Z=1&a=2&page=1&per_page=50", uri.build("/x", { per_page = 50, page = 1, a = 2, Z = 1 }))
    -- the same query always gives the same bytes
    local q = {}
    for i = 1, 50 do q["k" .. i] = i end
    local first = uri.build("/x", q)
    for _ = 1, 5 do assert.are.equal(first, uri.build("/x", q)) end
  end)

  it("encodes reserved characters, spaces as %20 and unicode bytes", function()
    assert.are.equal("/x?q=a%20b%2Bc%26d%3De", uri.build("/x", { q = "a b+c&d=e" }))
    assert.are.equal("/x?name=Jos%C3%A9", uri.build("/x", { name = "José" }))
    assert.are.equal("/x?a%20b=1", uri.build("/x", { ["a b"] = 1 }))
  end)

  it("joins arrays with commas", function()
    assert.are.equal("/x?include=notes,jobs", uri.build("/x", { include = { "notes", "jobs" } }))
    assert.are.equal("/x?ids=1,2,3", uri.build("/x", { ids = { 1, 2, 3.0 } }))
    assert.are.equal("/x?t=a%2Cb,c", uri.build("/x", { t = { "a,b", "c" } }))
    assert.are.equal("/x", uri.build("/x", { include = {} }))
  end)

  it("writes nested tables as deepObject with sorted keys", function()
    assert.are.equal("/v1/candidates?filter%5Bupdated_at%5D%5Bgte%5D=2021-01-01T13%3A00%3A17",
      uri.build("/v1/candidates", { filter = { updated_at = { gte = "2021-01-01T13:00:17" } } }))
    assert.are.equal("/x?filter%5Bemail%5D%5Beq%5D=a%40b.c&filter%5Bupdated_at%5D%5Bgte%5D=1"
      .. "&filter%5Bupdated_at%5D%5Blt%5D=2&page=2",
      uri.build("/x", { page = 2, filter = { updated_at = { lt = 2, gte = 1 }, email = { eq = "a@b.c" } } }))
    assert.are.equal("/x?f%5Bk%5D=a,b", uri.build("/x", { f = { k = { "a", "b" } } }))
  end)

  it("prints numbers and booleans plainly", function()
    assert.are.equal("/x?a=3&b=-2&c=0.5&d=0&e=9007199254740992&f=true&g=false",
      uri.build("/x", { a = 3.0, b = -2, c = 0.5, d = -0.0, e = 2 ^ 53, f = true, g = false }))
    assert.are.equal("/x?a=0.1&b=1e-07&c=1.5e%2B300", uri.build("/x", { a = 0.1, b = 1e-7, c = 1.5e300 }))
    if math.type then
      assert.are.equal("/x?n=9007199254740993", uri.build("/x", { n = math.tointeger(9007199254740993) }))
    end
  end)

  it("appends to a path that already has a query", function()
    assert.are.equal("/x?a=1&b=2", uri.build("/x?a=1", { b = 2 }))
  end)

  it("uri.query gives the bare query string", function()
    assert.are.equal("a=1&b=x%20y", uri.query({ b = "x y", a = 1 }))
    assert.are.equal("", uri.query(nil))
  end)

  it("raises on wrong argument types", function()
    assert.has_error(function() uri.build(nil) end)
    assert.has_error(function() uri.build("x") end)
    assert.has_error(function() uri.build("/a b") end)
    assert.has_error(function() uri.build("/a\r\n") end)
    assert.has_error(function() uri.build("/caf\195\169") end)
    assert.has_error(function() uri.build("/x#y") end)
    assert.has_error(function() uri.build("/x", "a=1") end)
    assert.has_error(function() uri.build("/x", { [1] = "a" }) end)
    assert.has_error(function() uri.build("/x", { f = function() end }) end)
    assert.has_error(function() uri.build("/x", { a = 0 / 0 }) end)
    assert.has_error(function() uri.build("/x", { a = math.huge }) end)
    assert.has_error(function() uri.build("/x", { a = { {} } }) end)
    assert.has_error(function() uri.build("/x", { a = { [true] = 1 } }) end)
    assert.has_error(function() uri.build("/x", { a = { [1] = 1, ["1"] = 2 } }) end)
    local cycle = {}
    cycle.self = cycle
    assert.has_error(function() uri.build("/x", { a = cycle }) end)
  end)

  it("reports errors at the caller", function()
    -- (results are kept in locals so that the calls are not tail calls, which carry no position)
    local cases = {
      function() local r = uri.segment(""); return r end,
      function() local r = uri.build("/x", { a = { b = { c = function() end } } }); return r end,
      function() local r = uri.build("/x", { a = { [false] = 1 } }); return r end,
      function() local r = uri.build("/x", { a = 0 / 0 }); return r end,
      function() local r = uri.query({ a = { b = math.huge } }); return r end,
      function() local r = uri.query({ [1] = 1 }); return r end,
      function() local r = uri.build("/x", 5); return r end,
      function() local r = uri.path("a", {}); return r end,
    }
    for i, f in ipairs(cases) do
      local ok, err = pcall(f)
      assert.is_false(ok)
      assert.truthy(tostring(err):find("uri_spec.lua:", 1, true), "case " .. i .. ": " .. tostring(err))
    end
  end)
end)
