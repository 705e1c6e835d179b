-- clinch.pretty: readable nested output, depth limits, cycles, secrets never shown. Runs on Lua 5.4 and
-- LuaJIT (the REPL uses it on 5.4; applications may use it anywhere).
local pretty = require "clinch.pretty"
local jsonapi = require "clinch.jsonapi"
local clinch = require "clinch"

describe("clinch.pretty", function()
  it("prints scalars as Lua literals", function()
    assert.are.equal('"a\\"b\\nc"', pretty.format('a"b\nc'))
    assert.are.equal("42", pretty.format(42))
    assert.are.equal("2.5", pretty.format(2.5))
    assert.are.equal("true", pretty.format(true))
    assert.are.equal("nil", pretty.format(nil))
    assert.are.equal("<function>", pretty.format(print))
  end)

  it("prints short flat tables on one line, lists first, then sorted keys", function()
    assert.are.equal('{ 1, 2, "x", a = true, b = { "y" } }', pretty.format({ 1, 2, "x", b = { "y" }, a = true }))
    assert.are.equal('{ [10] = 2, ["with space"] = 1 }', pretty.format({ ["with space"] = 1, [10] = 2 }))
    assert.are.equal("{}", pretty.format({}))
  end)

  it("indents nested tables that do not fit on a line", function()
    local t = { name = ("n"):rep(60), inner = { list = { ("a"):rep(30), ("b"):rep(30) } } }
    local text = pretty.format(t)
    assert.are.equal(table.concat({
      "{",
      '  inner = { list = { "' .. ("a"):rep(30) .. '", "' .. ("b"):rep(30) .. '" } },',
      '  name = "' .. ("n"):rep(60) .. '"',
      "}",
    }, "\n"), text)
  end)

  it("limits depth, saying how much is hidden", function()
    local t = { a = { b = { c = { d = { e = 1 } } } } }
    assert.are.equal("{ a = { b = { c = { … 1 field } } } }", pretty.format(t))
    assert.are.equal("{ a = { … 1 field } }", pretty.format(t, 1))
    assert.are.equal("{ … 3 items }", pretty.format({ 1, 2, 3 }, 0))
  end)

  it("survives cycles and shared tables", function()
    local t = { name = "root" }
    t.self = t
    t.child = { parent = t }
    local text = pretty.format(t)
    assert.matches("self = <table, shown above>", text, 1, true)
    assert.matches("parent = <table, shown above>", text, 1, true)
  end)

  it("never shows values of secret-like fields or API signatures", function()
    local text = pretty.format({ secret = "s1", api_secret = "s2", password = "s3", token = "s4",
      Authorization = "APIAuth key:c2lnbmF0dXJl", nested = { client_secret = "s5" },
      header = "APIAuth-HMAC-SHA256 key:c2lnbmF0dXJl" }, 5)
    for _, s in ipairs { "s1", "s2", "s3", "s4", "s5", "c2lnbmF0dXJl" } do
      assert.is_falsy(text:find('"' .. s, 1, true), s)
      assert.is_falsy(text:find(s .. '"', 1, true), s)
    end
    assert.matches('header = "APIAuth-HMAC-SHA256 key:<redacted>"', text, 1, true)
    assert.matches("secret = <redacted>", text, 1, true)
  end)

  it("escapes control characters in descriptions, which may hold the API's data", function()
    -- A candidate can choose their own name on a careers form: none of it may reach the terminal raw.
    local obj = setmetatable({}, { __tostring = function() return "candidate 1 Evil\27]0;owned\7 Name\n" end })
    local res = setmetatable({ id = "1", type = "candidates", name = "x" },
      { __tostring = function() return "candidate 1 \27[2J" end })
    local text = pretty.format({ obj, res })
    assert.is_falsy(text:find("[\27\7]"), text)
    assert.matches("<candidate 1 Evil\\027]0;owned\\007 Name\\n>", text, 1, true)
    assert.matches("candidate 1 \\027[2J", text, 1, true)
    -- beyond ASCII: C1 controls (U+009B is CSI), bidi overrides and bytes that are no UTF-8 are
    -- escaped; other characters stay
    local odd = setmetatable({}, { __tostring = function() return "candidate 2 Eve\226\128\174nimda X\194\1552J" end })
    text = pretty.format({ odd, name = "bad\255 é 山 \226\129\166" })
    assert.matches("candidate 2 Eve\\u{202E}nimda X\\u{9B}2J", text, 1, true)
    assert.matches('"bad\\xFF é 山 \\u{2066}"', text, 1, true)
    assert.is_falsy(text:find("\226\128\174", 1, true) or text:find("\194\155", 1, true)
      or text:find("\255", 1, true), text)
  end)

  it("cuts long strings and long lists", function()
    local text = pretty.format(("x"):rep(500), { max_string = 10 })
    assert.are.equal('"xxxxxxxxxx"…(500 bytes)', text)
    local list = {}
    for i = 1, 100 do list[i] = i end
    local out = pretty.format(list, { max_items = 5 })
    assert.are.equal("{ 1, 2, 3, 4, 5, … (95 more) }", out)
  end)

  it("prints a client as its description, never its secret", function()
    local c = clinch.new { key = "k", secret = "very-secret-value", base_url = "http://127.0.0.1:9/v1" }
    local text = pretty.format({ client = c, list = { c } }, 6)
    assert.is_falsy(text:find("very-secret-value", 1, true))
    assert.matches("<clinch.client http://127.0.0.1:9/v1 (key k)>", text, 1, true)
    c:close()
    -- Credentials in URLs inside any text stay hidden (a client refuses them in its base_url).
    text = pretty.format({ url = "http://gateway:url-password@127.0.0.1:9/v1",
      long = "see https://u:url-password@h/" .. ("x"):rep(300) }, 6)
    assert.is_falsy(text:find("url-password", 1, true), text)
    assert.matches('"http://<redacted>@127.0.0.1:9/v1"', text, 1, true)
    assert.matches('"see https://<redacted>@h/xxx', text, 1, true)
  end)

  it("prints decoded resources with their description, id and type first, relationships as references",
    function()
      local doc = assert(jsonapi.decode([[{
        "data": { "id": "c1", "type": "candidates",
          "attributes": { "email": "a@example.com", "tags": ["x", "y"],
            "updated_at": { "utc": "2024-01-02T03:04:05Z", "epoch": 1704164645 } },
          "relationships": { "notes": { "data": [ { "id": "n1", "type": "notes" } ] } } },
        "included": [ { "id": "n1", "type": "notes", "attributes": { "body": "hello" },
          "relationships": { "candidate": { "data": { "id": "c1", "type": "candidates" } } } } ]
      }]]))
      local text = pretty.format(doc.data, 5)
      local id_at, type_at, email_at = text:find('id = "c1"', 1, true), text:find('type = "candidates"', 1, true),
        text:find("email = ", 1, true)
      assert.is_truthy(id_at and type_at and email_at)
      assert.is_true(id_at < type_at and type_at < email_at)
      assert.matches("^candidates c1 {", text)
      assert.matches("updated_at = <DateTime 2024-01-02T03:04:05Z>", text, 1, true)
      assert.matches('tags = { "x", "y" }', text, 1, true)
      assert.matches('body = "hello"', text, 1, true)
      -- The note links back to the candidate: shown as a reference, not again.
      assert.matches("candidate = <candidates c1, shown above>", text, 1, true)
    end)
end)
