-- OpenSSL keeps a per-thread error queue. A failed call the core makes must not leave its errors there:
-- inside nginx, the next OpenSSL user of the worker (its TLS code, another module) would read them as
-- its own. The core's digests only fail when OpenSSL cannot provide the algorithm, as on a system whose
-- configuration asks for FIPS implementations that are not installed; a child interpreter runs under
-- such a configuration, and a test-only module (spec/openssl_queue.c, built here) reads the queue.
local support = require "support"
local core = require "clinch.core"

local q = support.shell_quote

-- Builds spec/openssl_queue.c for this interpreter into dir; returns the output of a failed build.
local function build_helper(dir)
  local inc = support.is_luajit
    and "$(pkg-config --variable=includedir luajit 2>/dev/null || echo /usr/include/luajit-2.1)"
    or "/usr/include/lua" .. support.lua_version
  local ok, out = support.run(("cc -std=c99 -Wall -Wextra -Werror -D_DEFAULT_SOURCE -O2 -fPIC -shared " ..
    "-I%s -I%s -o %s %s -lcrypto"):format(inc, q(support.root .. "/csrc"), q(dir .. "/openssl_queue.so"),
    q(support.root .. "/spec/openssl_queue.c")))
  if not ok then return out end
end

-- A configuration under which every implicit fetch fails: no provider offers fips=yes algorithms.
local NO_DIGESTS = [[
openssl_conf = openssl_init
[openssl_init]
alg_section = evp_properties
[evp_properties]
default_properties = fips=yes
]]

-- Lua source for a value made of strings, numbers, booleans and tables of them.
local function literal(v)
  if type(v) == "string" then return ("%q"):format(v) end
  if type(v) ~= "table" then return tostring(v) end
  local parts = {}
  for k, x in pairs(v) do parts[#parts + 1] = "[" .. literal(k) .. "]=" .. literal(x) end
  table.sort(parts)
  return "{" .. table.concat(parts, ",") .. "}"
end

describe("the core and OpenSSL's error queue", function()
  local dir, results

  -- Runs the child once: each case is one line "name <TAB> pcall ok <TAB> first value <TAB> second value
  -- <TAB> what the queue holds afterwards, or nil".
  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir " .. q(dir)))
    local failed = build_helper(dir)
    assert(not failed, failed)
    support.write_file(dir .. "/no-digests.cnf", NO_DIGESTS)
    local NOW = 1735689600
    local function signed(content_hash, digest)
      local req = { method = "POST", request_uri = "/v1/candidates", access_id = "acme", secret = "s3cret",
        content_type = "application/vnd.api+json", body = '{"data":{}}', date = NOW, digest = digest,
        content_hash = content_hash }
      local headers = core.sign(req)
      return { method = "POST", request_uri = "/v1/candidates", headers = headers, body = req.body }
    end
    local code = [[
      package.cpath = ]] .. ("%q"):format(dir .. "/?.so;") .. [[ .. package.cpath
      local core, queue = require "clinch.core", require "openssl_queue"
      local NOW = ]] .. NOW .. [[
      local function case(name, fn, ...)
        queue.clear()
        local ok, a, b = pcall(fn, ...)
        io.write(name, "\t", tostring(ok), "\t", tostring(a), "\t", tostring(b), "\t", tostring(queue.peek()), "\n")
      end
      queue.clear()
      io.write("control\t", tostring(queue.fetch_fails("SHA256")), "\tnil\tnil\t", tostring(queue.peek()), "\n")
      local sign = { method = "POST", request_uri = "/v1/candidates", access_id = "acme", secret = "s3cret",
        content_type = "application/vnd.api+json", body = '{"data":{}}', date = NOW }
      case("sha256", core.sha256, "x")
      case("md5", core.md5, "x")
      case("hmac sha1", core.hmac, "sha1", "key", "x")
      case("hmac sha256", core.hmac, "sha256", "key", "x")
      sign.content_hash = "md5"
      case("sign md5", core.sign, sign)
      sign.content_hash = "sha256"
      case("sign sha256", core.sign, sign)
      sign.content_hash = "none"
      case("sign hmac", core.sign, sign)
      local opts = { now = NOW }
      case("verify md5", core.verify, ]] .. literal(signed("md5")) .. [[, "s3cret", opts)
      case("verify sha256", core.verify, ]] .. literal(signed("sha256", "sha256")) .. [[, "s3cret", opts)
      case("verify hmac", core.verify, ]] .. literal(signed("none")) .. [[, "s3cret", opts)
    ]]
    local ok, out = support.run("OPENSSL_CONF=" .. q(dir .. "/no-digests.cnf") .. " " .. support.lua ..
      " -e " .. q(code))
    assert(ok, out)
    results = {}
    for line in out:gmatch("[^\n]+") do
      local name, pok, a, b, left = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)$")
      if name then results[name] = { ok = pok, a = a, b = b, left = left } end
    end
  end)

  teardown(function()
    if dir then os.execute("rm -rf " .. q(dir)) end
  end)

  local function result(name)
    local r = results[name]
    assert(r, "no result for " .. name)
    return r
  end

  it("runs under a configuration where digests really fail, and the helper sees what a failure leaves", function()
    local r = result("control")
    assert.equal("true", r.ok) -- the fetch failed
    assert.is_not.equal("nil", r.left) -- and left its errors, which the helper reads
  end)

  it("clears the queue after a failed digest or HMAC (the call still raises)", function()
    for name, message in pairs { sha256 = "clinch.core.sha256: digest computation failed",
      md5 = "clinch.core.md5: digest computation failed", ["hmac sha1"] = "clinch.core.hmac: HMAC computation failed",
      ["hmac sha256"] = "clinch.core.hmac: HMAC computation failed" } do
      local r = result(name)
      assert.equal("false", r.ok, name)
      assert.truthy(r.a:find(message, 1, true), name .. ": " .. r.a)
      assert.equal("nil", r.left, name)
    end
  end)

  it("clears the queue after core.sign fails to hash the body or to compute the MAC", function()
    for name, message in pairs { ["sign md5"] = "clinch.core.sign: digest computation failed",
      ["sign sha256"] = "clinch.core.sign: digest computation failed",
      ["sign hmac"] = "clinch.core.sign: HMAC computation failed" } do
      local r = result(name)
      assert.equal("false", r.ok, name)
      assert.truthy(r.a:find(message, 1, true), name .. ": " .. r.a)
      assert.equal("nil", r.left, name)
    end
  end)

  it("clears the queue after core.verify fails to hash the body or to compute the MAC, and says so", function()
    for name, reason in pairs { ["verify md5"] = "cannot check Content-MD5: OpenSSL could not compute MD5",
      ["verify sha256"] = "cannot check X-Authorization-Content-SHA256: OpenSSL could not compute SHA-256",
      ["verify hmac"] = "cannot check the signature: OpenSSL could not compute the HMAC" } do
      local r = result(name)
      assert.equal("true", r.ok, name) -- verify answers, it does not raise
      assert.equal("nil", r.a, name)
      assert.equal(reason, r.b, name) -- not "does not match": nothing was compared
      assert.equal("nil", r.left, name)
    end
  end)
end)
