-- clinch.config: the one rule clinch.new, the CLI and the examples take their settings by (arguments or
-- flags, then the environment, then a profile of $XDG_CONFIG_HOME/clinch/config), the profile file's
-- format and errors, the warning for a secret others may read; end to end against the mock through
-- clinch.new() in a child process, bin/clinch and the examples.
local support = require "support"
local write_file, read_file = support.write_file, support.read_file
local q = support.shell_quote
local config = require "clinch.config"
local core = require "clinch.core"

local tmp = support.tmpdir()
teardown(function() os.execute("rm -rf " .. q(tmp)) end)

-- A configuration home with `text` as clinch/config (mode `mode`, default 0600) -> its directory.
local homes = 0
local function home(text, mode)
  homes = homes + 1
  local dir = tmp .. "/home" .. homes
  os.execute("mkdir -p " .. q(dir .. "/clinch"))
  if text then
    write_file(dir .. "/clinch/config", text)
    os.execute("chmod " .. (mode or "600") .. " " .. q(dir .. "/clinch/config"))
  end
  return dir
end

local function env_of(t)
  return function(k) return t[k] end
end

local SECRET = "s3cr3t-do-not-show"
local PADDED = "Zm9vYmFyYmF6cXV4c2VjcmV0a2V5MTIzNDU2Nzg5MGFiY2RlZg==" -- Base64 with neither + nor /

describe("clinch.config", function()
  it("finds the file under XDG_CONFIG_HOME, else ~/.config", function()
    assert.equal("/x/clinch/config", config.path(env_of { XDG_CONFIG_HOME = "/x", HOME = "/h" }))
    assert.equal("/h/.config/clinch/config", config.path(env_of { HOME = "/h" }))
    assert.equal("/h/.config/clinch/config", config.path(env_of { HOME = "/h", XDG_CONFIG_HOME = "" }))
    assert.is_nil(config.path(env_of {}))
  end)

  it("parses profiles, comments and blank lines, recording each setting's line", function()
    local p = assert(config.parse("# mine\n\n[default]\nkey = abc\n  region=eu  \n; other\n[acme]\r\n"
      .. "key=k2\nbase_url = http://127.0.0.1:9/v1\nsecret_file = acme.secret\n", "/f"))
    assert.same({ "abc", "eu", 4, 5 }, { p.default.key, p.default.region, p.default._line.key, p.default._line.region })
    assert.same({ "k2", "http://127.0.0.1:9/v1", "acme.secret" }, { p.acme.key, p.acme.base_url, p.acme.secret_file })
  end)

  it("names the file and line of every mistake, and never shows the line itself", function()
    for _, case in ipairs {
      { "key = x\n", 1, "a setting before the first %[profile%] line" },
      { "[a]\n" .. SECRET .. "\n", 2, "expected '%[profile%]', 'setting = value' or a # comment" },
      { "[a]\nkey = x\nregoin = eu\n", 3,
        "unknown setting 'regoin' %(settings: key, secret, secret_file, region, base_url%)" },
      -- A padded Base64 secret pasted on a line of its own reads as "name =": its name is not shown.
      { "[a]\nkey = x\n" .. PADDED .. "\n", 3, "unknown setting %(settings: key," },
      { "[a]\nkey = x\n" .. PADDED:lower() .. "\n", 3, "unknown setting %(settings: key," },
      { "[a]\nkey = x\n[a]\n", 3, "profile 'a' is defined twice %(first at line 1%)" },
      { "[a]\nkey = x\nkey = y\n", 3, "'key' is set twice" },
      { "[a]\nsecret =\n", 2, "'secret' has no value" },
      { "[a]\nsecret = " .. SECRET .. "\nsecret_file = f\n", 3,
        "profile 'a' sets both secret and secret_file %(give one%)" },
      { "[bad name]\n", 1, "expected" },
    } do
      local p, err = config.parse(case[1], "/etc/x/config")
      assert.is_nil(p, case[1])
      assert.equal("config", err.kind)
      assert.equal("/etc/x/config", err.file)
      assert.equal(case[2], err.line, case[1])
      assert.matches("^/etc/x/config:" .. case[2] .. ": " .. case[3], err.message)
      assert.is_falsy(tostring(err):find(SECRET, 1, true), case[1])
      assert.is_falsy(tostring(err):lower():find(PADDED:sub(1, -3):lower(), 1, true), case[1])
    end
  end)

  it("takes each setting from the arguments, else the environment, else the profile", function()
    local dir = home("[default]\nkey = file-key\nsecret = file-secret\nregion = au\n")
    local env = { XDG_CONFIG_HOME = dir }
    local s = assert(config.resolve { getenv = env_of(env) })
    assert.same({ "file-key", "file-secret", "au", "default" }, { s.key, s.secret, s.region, s.profile })
    assert.is_nil(s.base_url)
    assert.equal(dir .. "/clinch/config:2", s.source.key)
    -- The environment overrides the file, setting by setting; the base URL beats the file's region.
    env.CLINCH_API_KEY, env.CLINCH_BASE_URL = "env-key", "http://127.0.0.1:9/v1"
    s = assert(config.resolve { getenv = env_of(env) })
    assert.same({ "env-key", "file-secret", "http://127.0.0.1:9/v1" }, { s.key, s.secret, s.base_url })
    assert.is_nil(s.region)
    assert.equal("CLINCH_API_KEY", s.source.key)
    -- Explicit values override both; a region given explicitly beats the environment's base URL.
    s = assert(config.resolve { getenv = env_of(env), explicit = { key = "arg-key", region = "eu" } })
    assert.same({ "arg-key", "file-secret", "eu" }, { s.key, s.secret, s.region })
    assert.is_nil(s.base_url)
  end)

  it("uses the profile named, else CLINCH_PROFILE, else default; an unknown one is an error", function()
    local dir = home("[default]\nkey = d\nsecret = ds\n[acme]\nkey = a\nsecret = as\nregion = eu\n")
    local env = { XDG_CONFIG_HOME = dir }
    assert.equal("d", assert(config.resolve { getenv = env_of(env) }).key)
    env.CLINCH_PROFILE = "acme"
    local s = assert(config.resolve { getenv = env_of(env) })
    assert.same({ "a", "as", "eu", "acme" }, { s.key, s.secret, s.region, s.profile })
    assert.equal("d", assert(config.resolve { getenv = env_of(env), profile = "default" }).key)
    local _, err = config.resolve { getenv = env_of(env), profile = "globex" }
    assert.equal("config", err.kind)
    assert.equal(dir .. "/clinch/config", err.file)
    assert.equal("unknown profile 'globex' in " .. dir .. "/clinch/config (profiles: acme, default)", err.message)
    -- A named profile and no file at all; no file and no name is simply no profile.
    _, err = config.resolve { getenv = env_of { XDG_CONFIG_HOME = tmp .. "/none", CLINCH_PROFILE = "acme" } }
    assert.matches("unknown profile 'acme': there is no configuration file " .. tmp .. "/none/clinch/config",
      err.message, 1, true)
    _, err = config.resolve { getenv = env_of { XDG_CONFIG_HOME = tmp .. "/none" } }
    assert.equal("no API key: set CLINCH_API_KEY or give key in a profile of the configuration file", err.message)
  end)

  it("warns when the environment overrides a profile that was named", function()
    local dir = home("[acme]\nkey = a\nsecret = as\n")
    local s, warnings = config.resolve { getenv = env_of { XDG_CONFIG_HOME = dir, CLINCH_API_KEY = "e" },
                                         profile = "acme" }
    assert.equal("e", s.key)
    assert.same({ "CLINCH_API_KEY overrides the key of profile 'acme'" }, warnings)
  end)

  it("warns when the environment's endpoint overrides a named profile's, region or base_url alike", function()
    local dir = home("[acme]\nkey = a\nsecret = as\nbase_url = https://api.rec-marketing.dc2.pageuppeople.com/v1\n"
      .. "[eu]\nkey = a\nsecret = as\nregion = eu\n")
    local s, warnings = config.resolve { getenv = env_of { XDG_CONFIG_HOME = dir, CLINCH_REGION = "eu" },
                                         profile = "acme" }
    assert.equal("eu", s.region)
    assert.same({ "CLINCH_REGION overrides the base_url of profile 'acme'" }, warnings)
    s, warnings = config.resolve { getenv = env_of { XDG_CONFIG_HOME = dir, CLINCH_BASE_URL = "http://127.0.0.1:9/v1" },
                                   profile = "eu" }
    assert.equal("http://127.0.0.1:9/v1", s.base_url)
    assert.same({ "CLINCH_BASE_URL overrides the region of profile 'eu'" }, warnings)
    -- an endpoint given by the caller overrides both: the environment overrides nothing of the profile
    s, warnings = config.resolve { getenv = env_of { XDG_CONFIG_HOME = dir, CLINCH_BASE_URL = "http://127.0.0.1:9/v1" },
                                   profile = "acme", explicit = { region = "au" } }
    assert.equal("au", s.region)
    assert.same({}, warnings)
  end)

  it("reads secret_file (~/ is HOME, relative to the file's directory), warning when others may read it", function()
    local dir = home("[default]\nkey = k\nsecret_file = my.secret\n[tilde]\nkey = k\nsecret_file = ~/t.secret\n")
    write_file(dir .. "/clinch/my.secret", "  " .. SECRET .. "  \nnext line\n")
    os.execute("chmod 600 " .. q(dir .. "/clinch/my.secret"))
    local s, warnings = config.resolve { getenv = env_of { XDG_CONFIG_HOME = dir } }
    assert.equal(SECRET, s.secret)
    assert.same({}, warnings)
    assert.equal(dir .. "/clinch/config:3", s.source.secret)
    os.execute("chmod 640 " .. q(dir .. "/clinch/my.secret"))
    s, warnings = config.resolve { getenv = env_of { XDG_CONFIG_HOME = dir } }
    assert.equal(SECRET, s.secret)
    assert.same({ "the secret file " .. dir .. "/clinch/my.secret is readable by other users (mode 0640): chmod 600 "
      .. dir .. "/clinch/my.secret" }, warnings)
    write_file(tmp .. "/t.secret", "tilde-secret\n")
    s = assert(config.resolve { getenv = env_of { XDG_CONFIG_HOME = dir, HOME = tmp }, profile = "tilde" })
    assert.equal("tilde-secret", s.secret)
    -- An empty or missing secret file is an error naming the setting's line, not the secret.
    write_file(tmp .. "/t.secret", "\n")
    local _, err = config.resolve { getenv = env_of { XDG_CONFIG_HOME = dir, HOME = tmp }, profile = "tilde" }
    assert.equal(dir .. "/clinch/config:6: the secret file " .. tmp .. "/t.secret is empty", err.message)
    os.remove(tmp .. "/t.secret")
    _, err = config.resolve { getenv = env_of { XDG_CONFIG_HOME = dir, HOME = tmp }, profile = "tilde" }
    assert.matches("config:6: cannot read the secret file: ", err.message, 1, true)
  end)

  it("warns about a configuration file holding a secret that others may read, and only then", function()
    local dir = home("[default]\nkey = k\nsecret = " .. SECRET .. "\n", "644")
    local s, warnings = config.resolve { getenv = env_of { XDG_CONFIG_HOME = dir } }
    local _
    assert.equal(SECRET, s.secret)
    assert.equal(1, #warnings)
    assert.equal("the configuration file " .. dir .. "/clinch/config is readable by other users (mode 0644): "
      .. "chmod 600 " .. dir .. "/clinch/config", warnings[1])
    assert.is_falsy(warnings[1]:find(SECRET, 1, true))
    -- The environment's secret is the one used: the file's mode does not matter then.
    _, warnings = config.resolve { getenv = env_of { XDG_CONFIG_HOME = dir, CLINCH_API_SECRET = "e" } }
    assert.same({}, warnings)
    -- No secret in the file: nothing to protect.
    dir = home("[default]\nkey = k\nregion = eu\n", "644")
    _, warnings = config.resolve { getenv = env_of { XDG_CONFIG_HOME = dir, CLINCH_API_SECRET = "e" } }
    assert.same({}, warnings)
  end)

  it("says what regions exist, and where a bad value came from, without internal names", function()
    local _, err = config.resolve { getenv = env_of { CLINCH_API_KEY = "k", CLINCH_API_SECRET = "s",
                                                      CLINCH_REGION = "uk" } }
    assert.equal("CLINCH_REGION: unknown region 'uk' (regions: au, eu, us; or give a base URL instead)", err.message)
    local dir = home("[default]\nkey = k\nsecret = s\nregion = uk\n")
    _, err = config.resolve { getenv = env_of { XDG_CONFIG_HOME = dir } }
    assert.equal(dir .. "/clinch/config:4: unknown region 'uk' (regions: au, eu, us; or give a base URL instead)",
      err.message)
    _, err = config.resolve { getenv = env_of { CLINCH_API_KEY = "a key", CLINCH_API_SECRET = "s" } }
    assert.equal("CLINCH_API_KEY: 'key' must be visible ASCII without ':' or spaces", err.message)
    _, err = config.resolve { getenv = env_of { CLINCH_API_KEY = "k", CLINCH_API_SECRET = "s",
                                                CLINCH_BASE_URL = "ftp://x/v1" } }
    assert.equal("CLINCH_BASE_URL: base_url must be an http(s) URL without query: ftp://x/v1", err.message)
  end)

  it("defaults to the API's default region, us, as the CLI does", function()
    local s = assert(config.resolve { getenv = env_of { CLINCH_API_KEY = "k", CLINCH_API_SECRET = "s" } })
    assert.equal("us", s.region)
    assert.is_nil(s.base_url)
    local client = require("clinch.cli.config")
    local o = assert(client.options({}, env_of { CLINCH_API_KEY = "k", CLINCH_API_SECRET = "s" }))
    assert.equal("us", o.region)
  end)

  it("core.mode gives the permission bits of a path or an open file", function()
    local path = tmp .. "/mode"
    write_file(path, "x")
    os.execute("chmod 640 " .. q(path))
    assert.equal(416, core.mode(path))
    local f = assert(io.open(path))
    assert.equal(416, core.mode(f))
    f:close()
    local m, err = core.mode(tmp .. "/missing")
    assert.is_nil(m)
    assert.matches("No such file", err)
  end)
end)

describe("clinch.new", function()
  it("raises for arguments of the wrong type, as before", function()
    local clinch = require "clinch"
    assert.has_error(function() clinch.new("key") end, "clinch.new expects a table of options")
    assert.has_error(function() clinch.new { profile = 1 } end, "clinch.new: option 'profile' must be a string")
  end)
end)

-- Runs a Lua 5.4 child with the suite's paths and `vars` (a table; false unsets) -> code, stdout, stderr.
local function child(vars, cmd)
  local assign = { "env -u CLINCH_API_KEY -u CLINCH_API_SECRET -u CLINCH_REGION -u CLINCH_BASE_URL -u CLINCH_PROFILE" }
  for k, v in pairs(vars) do assign[#assign + 1] = k .. "=" .. q(v) end
  -- The exit code goes through a file: LuaJIT's popen:close() does not report it.
  local p = assert(io.popen(support.child_env .. table.concat(assign, " ") .. " " .. cmd .. " 2>" .. q(tmp .. "/err")
    .. "; echo $? >" .. q(tmp .. "/code")))
  local out = p:read("*a")
  p:close()
  return tonumber(read_file(tmp .. "/code")), out, read_file(tmp .. "/err") or ""
end

local function lua_child(vars, code)
  return child(vars, support.lua .. " -e " .. q(code))
end

describe("configuration end to end", function()
  local mock
  -- The CLI and the examples are Lua 5.4 programs; clinch.new() runs on both VMs.
  local it_54 = support.is_luajit and function(name) pending(name .. ": Lua 5.4 only (the 5.4 suite runs it)") end
    or it
  setup(function() mock = support.start_mock { "--candidates", "12", "--seed", "3" } end)
  teardown(function() mock.stop() end)
  before_each(function() mock.control("DELETE", "requests") end)

  local function requests()
    return mock.control("GET", "requests").requests
  end

  local LIST = [[
    local clinch = require "clinch"
    local client = assert(clinch.new(...))
    local page = assert(client.candidates:list { per_page = 3 })
    print(#page, client.base_url)
  ]]

  it("clinch.new() reads the environment and talks to the API it names", function()
    local code, out, err = lua_child({ CLINCH_API_KEY = "test-key", CLINCH_API_SECRET = "test-secret",
      CLINCH_BASE_URL = mock.base_url, XDG_CONFIG_HOME = home() }, LIST)
    assert.equal(0, code, err)
    assert.equal("3\t" .. mock.base_url .. "\n", out)
    local log = requests()
    assert.equal(1, #log)
    assert.equal("/v1/candidates?per_page=3", log[1].uri)
    assert.equal(200, log[1].status) -- the mock verified the signature made with the environment's secret
  end)

  it("clinch.new with a key and no secret looks for the secret, and says where it can be given", function()
    local code, out, err = lua_child({ XDG_CONFIG_HOME = home() },
      "local c, e = require('clinch').new { key = 'test-key' } print(c, e.kind, e.message)")
    assert.equal(0, code, err)
    assert.equal("nil\tconfig\tno API secret: set CLINCH_API_SECRET, pass secret to clinch.new or give secret_file "
      .. "in a profile of the configuration file\n", out)
    code, out, err = lua_child({ XDG_CONFIG_HOME = home(), CLINCH_API_SECRET = "test-secret",
      CLINCH_BASE_URL = mock.base_url }, LIST:gsub("%.%.%.", "{ key = 'test-key', timeout = 5 }"))
    assert.equal(0, code, err)
    assert.equal("3\t" .. mock.base_url .. "\n", out)
  end)

  it("clinch.new{ profile = } reads that profile; the environment overrides it; a bad one is nil, err", function()
    local dir = home("[acme]\nkey = test-key\nsecret_file = acme.secret\nbase_url = " .. mock.base_url .. "\n"
      .. "[wrong]\nkey = test-key\nsecret = wrong\nbase_url = " .. mock.base_url .. "\n")
    write_file(dir .. "/clinch/acme.secret", "test-secret\n")
    os.execute("chmod 600 " .. q(dir .. "/clinch/acme.secret"))
    local code, out, err = lua_child({ XDG_CONFIG_HOME = dir },
      "local c = assert(require('clinch').new { profile = 'acme' }) print(#assert(c.candidates:list { per_page = 2 }))")
    assert.equal(0, code, err)
    assert.equal("2\n", out)
    assert.equal("", err)
    -- CLINCH_PROFILE selects it too; the environment's secret overrides the wrong one of the file.
    code, out, err = lua_child({ XDG_CONFIG_HOME = dir, CLINCH_PROFILE = "wrong", CLINCH_API_SECRET = "test-secret" },
      "local c = assert(require('clinch').new()) print(#assert(c.candidates:list { per_page = 2 }))")
    assert.equal(0, code, err)
    assert.equal("2\n", out)
    assert.equal("clinch: warning: CLINCH_API_SECRET overrides the secret of profile 'wrong'\n", err)
    code, out = lua_child({ XDG_CONFIG_HOME = dir },
      "local c, e = require('clinch').new { profile = 'nope' } print(c, e.kind, e.message)")
    assert.equal(0, code)
    assert.equal("nil\tconfig\tunknown profile 'nope' in " .. dir .. "/clinch/config (profiles: acme, wrong)\n", out)
    assert.equal(2, #requests())
  end)

  it_54("bin/clinch: --profile, CLINCH_PROFILE, the environment over the file, warnings and errors", function()
    local dir = home("[default]\nkey = test-key\nsecret = nope\nbase_url = http://127.0.0.1:9/v1\n"
      .. "[mock]\nkey = test-key\nsecret = test-secret\nbase_url = " .. mock.base_url .. "\n", "644")
    local function clinch(vars, ...)
      local argv = {}
      for i, a in ipairs { ... } do argv[i] = q(a) end
      vars.XDG_CONFIG_HOME = vars.XDG_CONFIG_HOME or dir
      return child(vars, support.lua .. " bin/clinch " .. table.concat(argv, " "))
    end
    local warning = "clinch: warning: the configuration file " .. dir .. "/clinch/config is readable by other users "
      .. "(mode 0644): chmod 600 " .. dir .. "/clinch/config\n"
    local _
    local code, out, err = clinch({}, "--profile", "mock", "--format", "csv", "candidates", "list", "--per-page", "2")
    assert.equal(0, code, err)
    assert.equal(3, select(2, out:gsub("\n", "")))
    assert.equal(warning, err)
    code, out, err = clinch({ CLINCH_PROFILE = "mock" }, "--format", "json", "candidates", "list", "--per-page", "1")
    assert.equal(0, code, err)
    assert.matches('"email"', out)
    -- The default profile points at a closed port; the environment's base URL and secret win.
    code, _, err = clinch({ CLINCH_BASE_URL = mock.base_url, CLINCH_API_SECRET = "test-secret" },
      "candidates", "list", "--per-page", "1")
    assert.equal(0, code, err)
    assert.equal("", err)
    code, out, err = clinch({}, "--profile", "acme", "candidates", "list")
    assert.equal(2, code)
    assert.equal("", out)
    assert.equal("clinch: unknown profile 'acme' in " .. dir .. "/clinch/config (profiles: default, mock)\n", err)
    local bad = home("[default]\nkey = test-key\n" .. SECRET .. "\n")
    code, _, err = clinch({ XDG_CONFIG_HOME = bad }, "candidates", "list")
    assert.equal(2, code)
    assert.equal("clinch: " .. bad .. "/clinch/config:3: expected '[profile]', 'setting = value' or a # comment\n", err)
    code, _, err = clinch({ XDG_CONFIG_HOME = home(), CLINCH_API_KEY = "k", CLINCH_API_SECRET = "s",
                            CLINCH_REGION = "uk" }, "candidates", "list")
    assert.equal(2, code)
    assert.equal("clinch: unknown region 'uk' (--region or CLINCH_REGION: us, eu, au)\n", err)
    -- A profile's value is named by its file and line.
    local uk = home("[default]\nkey = k\nsecret = s\nregion = uk\n")
    code, _, err = clinch({ XDG_CONFIG_HOME = uk }, "candidates", "list")
    assert.equal(2, code)
    assert.equal("clinch: " .. uk .. "/clinch/config:4: unknown region 'uk' (regions: au, eu, us; or give a base URL "
      .. "instead)\n", err)
    -- --secret-file is read by the same rule: a file others may read works, with the warning.
    write_file(tmp .. "/flag.secret", "test-secret\n")
    os.execute("chmod 604 " .. q(tmp .. "/flag.secret"))
    code, _, err = clinch({ XDG_CONFIG_HOME = home(), CLINCH_API_KEY = "test-key", CLINCH_BASE_URL = mock.base_url },
      "--secret-file", tmp .. "/flag.secret", "candidates", "list", "--per-page", "1")
    assert.equal(0, code, err)
    assert.equal("clinch: warning: the secret file " .. tmp .. "/flag.secret is readable by other users (mode 0604): "
      .. "chmod 600 " .. tmp .. "/flag.secret\n", err)
    assert.equal(4, #requests())
  end)

  it_54("the examples use the configuration and start no mock of their own when credentials are set", function()
    local dir = home("[default]\nbase_url = " .. mock.base_url .. "\n")
    local function example(vars)
      -- From the temporary directory, the example finds the checkout through its own path (as
      -- examples_spec runs them): the suite's relative module paths would lead nowhere there.
      return child(vars, "sh -c " .. q("cd " .. q(tmp) .. " && exec env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 "
        .. "-u LUA_CPATH_5_4 " .. support.lua .. " "
        .. q(support.root .. "/examples/export_csv.lua") .. " 2000-01-01 ex.csv"))
    end
    -- Credentials from the environment, the endpoint from the profile: the suite's mock, not one of its own.
    local code, out, err = example { XDG_CONFIG_HOME = dir, CLINCH_API_KEY = "test-key",
                                     CLINCH_API_SECRET = "test-secret" }
    assert.equal(0, code, err)
    assert.equal("exported 12 candidates updated since 2000-01-01 to ex.csv\n", out)
    assert.is_true(#requests() >= 1)
    -- Credentials and no reachable API: a network error, never a mock in its place.
    code, out, err = example { XDG_CONFIG_HOME = home(), CLINCH_API_KEY = "k", CLINCH_API_SECRET = "s",
                               CLINCH_BASE_URL = "http://127.0.0.1:9/v1" }
    assert.equal(1, code)
    assert.is_falsy(out:find("mock", 1, true), out)
    assert.matches("example failed: clinch.network error GET http://127.0.0.1:9/v1/candidates", err, 1, true)
    -- A key alone is a configuration mistake, not a reason to use a mock.
    code, out, err = example { XDG_CONFIG_HOME = home(), CLINCH_API_KEY = "k" }
    assert.equal(2, code)
    assert.is_falsy(out:find("mock", 1, true), out)
    assert.matches("no API secret: set CLINCH_API_SECRET", err)
    code, out, err = example { XDG_CONFIG_HOME = home(), CLINCH_API_KEY = "k", CLINCH_API_SECRET = "s",
                               CLINCH_REGION = "uk" }
    assert.equal(2, code)
    assert.equal("", out)
    assert.equal("example: CLINCH_REGION: unknown region 'uk' (regions: au, eu, us; or give a base URL instead)\n", err)
  end)
end)
