-- clinch.text: the one number-to-text function (query values, JSON bodies, CSV, the pretty printer)
-- at its edges, and one_line, which makes server text safe to print.
local text = require "clinch.text"
local uri = require "clinch.uri"
local jsonapi = require "clinch.jsonapi"

local has_integers = math.type ~= nil

describe("clinch.text.number", function()
  it("writes integral numbers digit for digit", function()
    assert.equal("0", text.number(0))
    assert.equal("3", text.number(3.0))
    assert.equal("-42", text.number(-42))
    assert.equal("9007199254740992", text.number(2 ^ 53))
    if has_integers then assert.equal("9007199254740993", text.number(9007199254740993)) end -- an integer
    assert.equal("9223372036854775808", text.number(2 ^ 63))
    assert.equal("-9223372036854775808", text.number(-2 ^ 63))
    assert.equal("100000000000000000000", text.number(1e20))
    if has_integers then
      assert.equal("9223372036854775807", text.number(math.maxinteger))
      assert.equal("-9223372036854775808", text.number(math.mininteger))
    end
  end)

  it("writes other numbers in 15 significant digits, or 16 or 17 where needed to read back the same", function()
    assert.equal("0.1", text.number(0.1))
    assert.equal("1e+300", text.number(1e300))
    assert.equal("1e+21", text.number(1e21))
    assert.equal("1.5", text.number(1.5))
    assert.equal("0.30000000000000004", text.number(0.1 + 0.2))
    for _, n in ipairs { 5e-324, 0.1, 1 / 3, 2 / 3, 1e-7, 123456.789, 1.7976931348623157e308, 2 ^ 70 + 0.0 } do
      assert.equal(n, tonumber(text.number(n)))
    end
  end)

  it("writes -0.0 as 0", function()
    assert.equal("0", text.number(-0.0))
  end)

  it("returns nil, err for NaN, the infinities and non-numbers (never raises)", function()
    for _, v in ipairs { 0 / 0, math.huge, -math.huge } do
      local s, err = text.number(v)
      assert.is_nil(s)
      assert.is_string(err)
    end
    local s, err = text.number("3")
    assert.is_nil(s)
    assert.matches("expected a number", err)
  end)

  it("is what the query builder, the JSON encoder and the pretty printer write", function()
    assert.equal("/x?a=1e%2B300&b=3&c=0", uri.build("/x", { a = 1e300, b = 3.0, c = -0.0 }))
    assert.equal('{"a":1e+300}', (jsonapi.encode { a = 1e300 }))
    assert.equal('{"b":9007199254740992}', (jsonapi.encode { b = 2 ^ 53 }))
    assert.equal('{"c":0}', (jsonapi.encode { c = -0.0 }))
    assert.equal("1e+300", require("clinch.pretty").format(1e300))
  end)

  it("makes the query builder and the JSON encoder refuse NaN and infinities", function()
    assert.has_error(function() uri.build("/x", { a = 0 / 0 }) end)
    local body, err = jsonapi.encode { a = math.huge }
    assert.is_nil(body)
    assert.equal("validation", err.kind)
  end)
end)

describe("clinch.text.one_line", function()
  it("leaves printable ASCII and valid UTF-8 alone", function()
    assert.equal("Jane Smith <jane@example.com>", text.one_line("Jane Smith <jane@example.com>"))
    assert.equal("Zoë Ångström 日本", text.one_line("Zoë Ångström 日本"))
  end)

  it("turns ASCII control characters into spaces", function()
    assert.equal("a b c  d e", text.one_line("a\nb\rc\r\nd\27e"))
  end)

  it("shows C1 controls, bidi controls, line separators and invalid bytes as U+FFFD", function()
    local r = text.REPLACEMENT
    assert.equal("a" .. r .. "b", text.one_line("a\226\128\174b"))     -- U+202E
    assert.equal("a" .. r .. "b", text.one_line("a\226\129\166b"))     -- U+2066
    assert.equal("a" .. r .. "b", text.one_line("a\226\128\168b"))     -- U+2028
    assert.equal("a" .. r .. "b", text.one_line("a\194\155b"))         -- U+009B (CSI)
    assert.equal("a" .. r .. "b", text.one_line("a\155b"))             -- a lone byte
    assert.equal("a" .. r:rep(3) .. "b", text.one_line("a\237\160\128b"))  -- a surrogate, byte by byte
    assert.equal(r:rep(2), text.one_line("\192\128"))                   -- an overlong NUL
  end)

  it("takes any value through tostring", function()
    assert.equal("12", text.one_line(12))
    assert.equal("nil", text.one_line(nil))
  end)
end)
