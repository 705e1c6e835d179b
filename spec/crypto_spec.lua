-- Known-answer tests for the C core's primitives: HMAC (RFC 2202, RFC 4231), digests, strict Base64
-- (RFC 4648) and HTTP-dates (RFC 7231).
local core = require "clinch.core"

local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

local function unhex(h)
  return (h:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end))
end

local function bytes(from, to)
  local t = {}
  for i = from, to do t[#t + 1] = string.char(i) end
  return table.concat(t)
end

describe("core.hmac", function()
  -- RFC 2202 section 3 (HMAC-SHA1), test cases 1-4, 6, 7.
  local sha1_cases = {
    { string.rep("\11", 20), "Hi There", "b617318655057264e28bc0b6fb378c8ef146be00" },
    { "Jefe", "what do ya want for nothing?", "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79" },
    { string.rep("\170", 20), string.rep("\221", 50), "125d7342b9ac11cd91a39af48aa17b4f63f175d3" },
    { bytes(1, 25), string.rep("\205", 50), "4c9007f4026250c6bc8414f9bf50c86c2d7235da" },
    { string.rep("\170", 80), "Test Using Larger Than Block-Size Key - Hash Key First",
      "aa4ae5e15272d00e95705637ce8a3b55ed402112" },
    { string.rep("\170", 80), "Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data",
      "e8e99d0f45237d786d6bbaa7965c7808bbff1a91" },
  }
  -- RFC 4231 section 4 (HMAC-SHA256), test cases 1-4, 6, 7.
  local sha256_cases = {
    { string.rep("\11", 20), "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
    { "Jefe", "what do ya want for nothing?",
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
    { string.rep("\170", 20), string.rep("\221", 50),
      "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" },
    { bytes(1, 25), string.rep("\205", 50),
      "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b" },
    { string.rep("\170", 131), "Test Using Larger Than Block-Size Key - Hash Key First",
      "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
    { string.rep("\170", 131), "This is a test using a larger than block-size key and a larger than block-size"
      .. " data. The key needs to be hashed before being used by the HMAC algorithm.",
      "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2" },
  }

  it("matches the RFC 2202 HMAC-SHA1 vectors", function()
    for i, c in ipairs(sha1_cases) do
      assert.are.equal(c[3], hex(core.hmac("sha1", c[1], c[2])), "case " .. i)
    end
  end)

  it("matches the RFC 4231 HMAC-SHA256 vectors", function()
    for i, c in ipairs(sha256_cases) do
      assert.are.equal(c[3], hex(core.hmac("sha256", c[1], c[2])), "case " .. i)
    end
  end)

  it("handles an empty key and message, and binary input with NULs", function()
    assert.are.equal("b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad",
      hex(core.hmac("sha256", "", "")))
    local a = core.hmac("sha1", "k\0a", "m\0x")
    local b = core.hmac("sha1", "k\0b", "m\0x")
    assert.are.equal(20, #a)
    assert.are_not.equal(a, b)
  end)

  it("raises on an unknown digest or wrong argument types", function()
    assert.has_error(function() core.hmac("md5", "k", "m") end)
    -- a name is compared whole: a NUL does not cut it short
    assert.has_error(function() core.hmac("sha1\0x", "k", "m") end)
    assert.has_error(function() core.hmac("sha256\0", "k", "m") end)
    assert.has_error(function() core.hmac("sha1", nil, "m") end)
    assert.has_error(function() core.hmac("sha1", "k", {}) end)
  end)
end)

describe("core.sha256 and core.md5", function()
  it("match the FIPS 180 and RFC 1321 vectors", function()
    assert.are.equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", hex(core.sha256("")))
    assert.are.equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", hex(core.sha256("abc")))
    assert.are.equal("d41d8cd98f00b204e9800998ecf8427e", hex(core.md5("")))
    assert.are.equal("900150983cd24fb0d6963f7d28e17f72", hex(core.md5("abc")))
    assert.are.equal("57edf4a22be3c955ac49da2e2107b67a",
      hex(core.md5("12345678901234567890123456789012345678901234567890123456789012345678901234567890")))
  end)

  it("raise on a non-string argument", function()
    assert.has_error(function() core.sha256(nil) end)
    assert.has_error(function() core.md5({}) end)
  end)
end)

describe("core.base64_encode / base64_decode", function()
  local rfc4648 = {
    { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
    { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
  }

  it("match the RFC 4648 section 10 vectors both ways", function()
    for _, c in ipairs(rfc4648) do
      assert.are.equal(c[2], core.base64_encode(c[1]))
      assert.are.equal(c[1], core.base64_decode(c[2]))
    end
  end)

  it("round-trip every byte value and use the standard alphabet", function()
    local all = bytes(0, 255)
    local enc = core.base64_encode(all)
    assert.is_nil(enc:find("[^A-Za-z0-9+/=]"))
    assert.are.equal(all, core.base64_decode(enc))
    assert.are.equal("+/+/", core.base64_encode(unhex("fbffbf")))
  end)

  it("encodes several megabytes quickly, without line breaks", function()
    local chunk = bytes(0, 255)
    local big = string.rep(chunk, 6 * 4096 + 1) .. "xy" -- a little over 6 MiB, not a multiple of 3
    local t0 = os.clock()
    local enc = core.base64_encode(big)
    local elapsed = os.clock() - t0
    assert.are.equal(4 * math.ceil(#big / 3), #enc)
    assert.is_nil(enc:find("[\r\n]"))
    assert.are.equal(big, core.base64_decode(enc))
    assert.is_true(elapsed < 1, "encoding took " .. elapsed .. " s")
  end)

  it("decodes strictly: returns nil and a message for any malformed input", function()
    local bad = {
      "Zg=",          -- length not a multiple of 4
      "Zg",           -- unpadded
      "Zg==\n",       -- trailing newline
      "Zm9v\nYmFy",   -- embedded newline
      "Z g=",         -- space
      "Zh==",         -- non-zero padding bits
      "Zm9=",         -- non-zero padding bits
      "=Zg=",         -- padding at the start
      "Zg=a",         -- data after padding
      "Zm9v====",     -- a whole group of padding
      "Zg==Zg==",     -- padding in the middle
      "Zm-_",         -- URL-safe alphabet
      "Zm9\0",        -- NUL
      "Zm9v\255",     -- high byte
    }
    for _, s in ipairs(bad) do
      local v, err = core.base64_decode(s)
      assert.is_nil(v, ("accepted %q"):format(s))
      assert.is_string(err)
      assert.truthy(err:find("invalid base64", 1, true))
    end
  end)

  it("raise on a non-string argument", function()
    assert.has_error(function() core.base64_encode(nil) end)
    assert.has_error(function() core.base64_decode({}) end)
  end)
end)

describe("core.httpdate / core.parse_httpdate", function()
  local known = {
    { 0, "Thu, 01 Jan 1970 00:00:00 GMT" },
    { 784111777, "Sun, 06 Nov 1994 08:49:37 GMT" },
    { 951782400, "Tue, 29 Feb 2000 00:00:00 GMT" },
    { 1709164800, "Thu, 29 Feb 2024 00:00:00 GMT" },
    { 2147483647, "Tue, 19 Jan 2038 03:14:07 GMT" },
    { 2147483648, "Tue, 19 Jan 2038 03:14:08 GMT" },
    { 4102444800, "Fri, 01 Jan 2100 00:00:00 GMT" },
    { 4107542400, "Mon, 01 Mar 2100 00:00:00 GMT" },
    { 253402300799, "Fri, 31 Dec 9999 23:59:59 GMT" },
    { -1, "Wed, 31 Dec 1969 23:59:59 GMT" },
  }

  it("formats and parses known dates, including epochs past 2038", function()
    for _, c in ipairs(known) do
      assert.are.equal(c[2], core.httpdate(c[1]))
      assert.are.equal(c[1], core.parse_httpdate(c[2]))
    end
  end)

  it("round-trips and agrees with os.date over a spread of epochs", function()
    for e = 0, 4102444800, 86400 * 397 + 3661 do
      local s = core.httpdate(e)
      assert.are.equal(os.date("!%a, %d %b %Y %H:%M:%S GMT", e), s)
      assert.are.equal(e, core.parse_httpdate(s))
    end
  end)

  it("truncates fractional epochs and defaults to now", function()
    assert.are.equal("Sun, 09 Sep 2001 01:46:40 GMT", core.httpdate(1000000000.75))
    assert.are.equal("Sun, 09 Sep 2001 01:46:40 GMT", core.httpdate(1e9))
    local now = core.parse_httpdate(core.httpdate())
    assert.is_true(math.abs(now - os.time()) <= 2)
  end)

  it("returns an integer epoch", function()
    local e = core.parse_httpdate("Thu, 01 Jan 1970 00:00:00 GMT")
    assert.are.equal("0", tostring(e))
  end)

  it("accepts the obsolete RFC 850 and asctime forms", function()
    assert.are.equal(784111777, core.parse_httpdate("Sunday, 06-Nov-94 08:49:37 GMT"))
    assert.are.equal(784111777, core.parse_httpdate("Sun Nov  6 08:49:37 1994"))
    assert.are.equal(1735689600, core.parse_httpdate("Wed Jan  1 00:00:00 2025"))
    assert.are.equal(1736957831, core.parse_httpdate("Wed Jan 15 16:17:11 2025"))
  end)

  it("rejects garbage with nil and a message", function()
    local bad = {
      "", "yesterday", "0", " Sun, 06 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMT ",
      "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 06 Nov 1994 08:49:37 gmt", "sun, 06 Nov 1994 08:49:37 GMT",
      "Sun, 06 nov 1994 08:49:37 GMT", "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 94 08:49:37 GMT",
      "Sun,06 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 8:49:37 GMT", "Sun, 06 Nov 1994 08:49 GMT",
      "Mon, 06 Nov 1994 08:49:37 GMT",   -- wrong day name
      "Fri, 30 Feb 2024 00:00:00 GMT",   -- no such day
      "Thu, 29 Feb 2100 00:00:00 GMT",   -- 2100 is not a leap year
      "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:60:00 GMT", "Sun, 00 Nov 1994 08:49:37 GMT",
      "Sun, 06 Nov 1994 08:49:37 GMT\0", "Sun, 06 Nov 1994 08:49:37 GMT\r\n",
      "Sunday, 06-Nov-1994 08:49:37 GMT", "Sun Nov 6 08:49:37 1994", "Sun Nov  6 08:49:37 1994 GMT",
      "2024-02-29T00:00:00Z",
    }
    for _, s in ipairs(bad) do
      local v, err = core.parse_httpdate(s)
      assert.is_nil(v, ("accepted %q"):format(s))
      assert.is_string(err)
    end
  end)

  it("raises on wrong argument types and out-of-range epochs", function()
    assert.has_error(function() core.parse_httpdate(nil) end)
    assert.has_error(function() core.parse_httpdate(0) end)
    assert.has_error(function() core.httpdate("now") end)
    assert.has_error(function() core.httpdate(0 / 0) end)
    assert.has_error(function() core.httpdate(math.huge) end)
    assert.has_error(function() core.httpdate(1e300) end)
    assert.has_error(function() core.httpdate(253402300800) end)
  end)
end)
