-- The checks the CLI makes in their nil, message form (clinch.validate.client_options and
-- request_target) give the very messages clinch.new and client:request raise at the caller's line,
-- and accept what those accept: the CLI reports a user's mistake without taking a raise apart.
local clinch = require "clinch"
local validate = require "clinch.validate"

local BASE = { key = "k", secret = "s", base_url = "http://127.0.0.1:9/v1" }

local function with(changes)
  local o = {}
  for k, v in pairs(BASE) do o[k] = v end
  for k, v in pairs(changes) do o[k] = v end
  if changes.base_url == false then o.base_url = nil end
  return o
end

-- The message clinch.new raises, without the position check.raise puts before it (this file's line).
local function raised(f, ...)
  local ok, err = pcall(f, ...)
  if ok then
    if type(err) == "table" and err.close then err:close() end
    return nil
  end
  local msg = tostring(err)
  assert.matches("^[^\n]*validate_spec%.lua:%d+: ", msg)
  return (msg:gsub("^[^\n]-validate_spec%.lua:%d+: ", ""))
end

describe("validate.client_options", function()
  it("refuses what clinch.new refuses, with the same message", function()
    local cases = {
      "not a table", with { key = "" }, with { key = "a key" }, with { key = "a:b" }, with { secret = "" },
      with { secret = 5 }, with { region = 5 }, with { user_agent = "x\r\nInjected: 1" }, with { timeout = "60" },
      with { timeout = 0 }, with { retries = -1 }, with { max_concurrency = 0 }, with { write_reuse_idle = 1.5 },
      with { sleep = "now" }, with { verify_tls = "no" }, with { signing = "sha1" },
      with { signing = { digest = "md5" } }, with { signing = { date_header = "date" } },
      with { signing = { with_method = 1 } }, with { base_url = "ftp://example.com/v1" },
      with { base_url = "https://user:pw@example.com/v1" }, with { base_url = "https://example.com/v1?x=1" },
      with { base_url = false, region = "mars" }, with { base_url = false, region = "eu", api_version = "v2?x" },
    }
    for i, o in ipairs(cases) do
      local want = raised(clinch.new, o)
      assert.is_string(want, "case " .. i)
      local ok, why = validate.client_options(o)
      assert.is_nil(ok, "case " .. i)
      assert.equal(want, why, "case " .. i)
    end
  end)

  it("accepts what clinch.new accepts", function()
    for i, o in ipairs {
      BASE, with { base_url = false }, with { base_url = false, region = "au", api_version = "v2" },
      with { timeout = 5, retries = 0, signing = { digest = "sha256", date_header = "both", with_method = true } },
      with { base_url = "https://example.com" }, with { user_agent = "my-app/1.0 (tab\tok)" },
    } do
      assert.is_nil(raised(clinch.new, o), "case " .. i)
      assert.is_string(validate.client_options(o), "case " .. i) -- the base URL the options name
    end
  end)
end)

describe("validate.request_target", function()
  local client = clinch.new(BASE)
  teardown(function() client:close() end)

  it("refuses what client:request refuses, with the same message, and accepts what it accepts", function()
    for i, case in ipairs {
      { "get", "/x" }, { "G1", "/x" }, { "GET", 5 }, { "GET", "x" }, { "GET", "/a b" }, { "GET", "/x?q=a b" },
      { "GET", "/x#frag" }, { "GET", "/x?a=1", { a = "2" } },
    } do
      local want = raised(client.signed_request, client, case[1], case[2], { query = case[3] })
      assert.is_string(want, "case " .. i)
      local ok, why = validate.request_target(case[1], case[2], case[3] ~= nil)
      assert.is_nil(ok, "case " .. i)
      assert.equal(want, why, "case " .. i)
    end
    local good = { { "GET", "/candidates" }, { "DELETE", "/a/b%2Fc?x=1&y=%5B" }, { "POST", "/x", { a = "1" } } }
    for i, case in ipairs(good) do
      assert.is_nil(raised(client.signed_request, client, case[1], case[2], { query = case[3] }), "case " .. i)
      assert.is_true(validate.request_target(case[1], case[2], case[3] ~= nil), "case " .. i)
    end
  end)
end)
