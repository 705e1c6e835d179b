-- core.sign keeps the key its HMAC context was last keyed with, and re-keys only when the secret
-- changes: signatures made while the secret goes back and forth (same length and different bytes,
-- other lengths, one too long to be remembered, both digests interleaved) are those of the one-shot
-- core.hmac, every time. It also remembers the last canonical string it signed and its MAC (the same
-- request again within a second): a repeated string must give the MAC of the secret it comes with now,
-- and a string differing in one byte its own.
local core = require "clinch.core"

local function expected(digest, secret, canonical)
  local scheme = digest == "sha256" and "APIAuth-HMAC-SHA256 " or "APIAuth "
  return scheme .. "acme:" .. core.base64_encode(core.hmac(digest, secret, canonical))
end

describe("core.sign with changing secrets", function()
  it("signs every request with the secret it is given", function()
    local secrets = { "secret-A", "secret-B", "secret-A", "a much longer secret than the others",
                      string.rep("k", 129), string.rep("k", 128), "secret-B", "secret-B" }
    local n = 0
    for round = 1, 3 do
      for i, secret in ipairs(secrets) do
        for _, digest in ipairs { "sha1", "sha256" } do
          local headers, canonical = core.sign { method = "GET", request_uri = "/v1/candidates/" .. i,
            access_id = "acme", secret = secret, digest = digest, date = 1704164645 + round }
          assert.are.equal(expected(digest, secret, canonical), headers.Authorization)
          n = n + 1
        end
      end
    end
    assert.are.equal(48, n)
  end)

  it("gives different signatures for secrets that differ in one byte", function()
    local function sig(secret)
      return core.sign { method = "GET", request_uri = "/v1/x", access_id = "acme", secret = secret,
                         date = 1704164645 }.Authorization
    end
    local a1, b, a2 = sig("secret-A"), sig("secret-B"), sig("secret-A")
    assert.are_not.equal(a1, b)
    assert.are.equal(a1, a2)
  end)
  it("signs a canonical string it signed before with the secret it comes with now", function()
    local long_uri = "/v1/candidates?" .. string.rep("q", 600) -- longer than the remembered message
    local one, two = "/v1/candidates/1", "/v1/candidates/2"
    local requests = {
      { one, "secret-A" }, { one, "secret-A" }, { one, "secret-B" }, { one, "secret-A" }, { two, "secret-A" },
      { one, "secret-A" }, { one, string.rep("k", 129) }, { one, string.rep("k", 129) }, { one, "secret-A" },
      { long_uri, "secret-A" }, { long_uri, "secret-A" }, { long_uri, "secret-B" },
      { long_uri .. "r", "secret-B" }, { one, "secret-A" }, { "/v1/candidates/3", "secret-A" },
      { "/v1/candidates/4", "secret-A" }, -- the same length as the last one, one byte apart
    }
    local n = 0
    for _, digests in ipairs { { "sha1" }, { "sha256" }, { "sha1", "sha256" } } do
      for _, r in ipairs(requests) do
        for _, digest in ipairs(digests) do
          local headers, canonical = core.sign { method = "GET", request_uri = r[1], access_id = "acme",
            secret = r[2], digest = digest, date = 1704164645 }
          assert.are.equal(expected(digest, r[2], canonical), headers.Authorization)
          n = n + 1
        end
      end
    end
    assert.are.equal(#requests * 4, n)
  end)
end)
