--- Test support for the nginx specs: runs nginx (Debian's nginx-light with the Lua module) from a
-- private prefix on free loopback ports with the example configuration (examples/openresty), plus
-- test servers, and stops it by its pid file. Also a small blocking HTTP client and a concurrent one
-- (LuaSocket) to talk to it.
local support = require "support"
local read_file, write_file = support.read_file, support.write_file
local socket = require "socket"
local cjson = require "cjson"
local io, os, table, string = io, os, table, string
local assert, error, tostring, tonumber, pairs, ipairs, pcall =
  assert, error, tostring, tonumber, pairs, ipairs, pcall
local math = math
local concat = table.concat

local _M = {}

_M.NGINX = os.getenv("CLINCH_NGINX") or "/usr/sbin/nginx"
_M.MODULES = "/usr/lib/nginx/modules"

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end



-- External programs run without the sanitizer runtimes the ASan run preloads: they are not built
-- for them (LeakSanitizer would abort mktemp at exit, and nginx must not run under them).
local CLEAN_ENV = "env -u LD_PRELOAD -u ASAN_OPTIONS -u UBSAN_OPTIONS "

local function sh(cmd)
  local ok = os.execute(cmd)
  return ok == true or ok == 0
end

--- Why nginx cannot serve as a test server here, or nil when it can.
function _M.server_unavailable()
  if not exists(_M.NGINX) then return _M.NGINX .. " is missing (scripts/deps.sh installs nginx-light)" end
  if not exists(_M.MODULES .. "/ngx_http_lua_module.so") then
    return "the nginx Lua module is missing (scripts/deps.sh installs libnginx-mod-http-lua)"
  end
  if not sh("command -v openssl >/dev/null 2>&1") then return "openssl is missing (for test certificates)" end
  return nil
end

--- Why the module cannot be tested inside nginx here, or nil when it can. Inside nginx the module
-- runs on LuaJIT, so only the LuaJIT run of the suite tests it; the sanitizer run skips it (nginx is
-- not instrumented).
function _M.unavailable()
  if not support.is_luajit then return "nginx specs run in the LuaJIT run of the suite" end
  if os.getenv("CLINCH_SANITIZER") == "1" then return "nginx specs do not run under the sanitizers" end
  local why = _M.server_unavailable()
  if why then return why end
  if not exists(support.root .. "/build/5.1/clinch/core.so") then
    return "build/5.1/clinch/core.so is missing (make LUA=luajit)"
  end
  return nil
end

--- Replaces @NAME@ markers in a template; every marker must be given.
function _M.fill(template, values)
  local out = template:gsub("@([A-Z_]+)@", function(name)
    local v = values[name]
    if v == nil then error("nginx template marker @" .. name .. "@ has no value", 3) end
    return tostring(v)
  end)
  return out
end

-- A self-signed certificate for 127.0.0.1 (as a DNS and an IP name, which nginx and libcurl check
-- respectively) and one for a name nobody connects to, to test verification failures.
local function make_certs(dir)
  local function cert(name, san)
    local cmd = CLEAN_ENV .. "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2"
      .. " -subj '/CN=" .. name .. "'"
      .. " -addext 'subjectAltName=" .. san .. "'"
      .. " -keyout " .. support.shell_quote(dir .. "/" .. name .. ".key")
      .. " -out " .. support.shell_quote(dir .. "/" .. name .. ".crt") .. " >/dev/null 2>&1"
    if not sh(cmd) then error("openssl could not make a test certificate", 3) end
  end
  cert("127.0.0.1", "DNS:127.0.0.1,IP:127.0.0.1")
  cert("wrong.invalid", "DNS:wrong.invalid")
end

--- The test servers (conf/conf.d/test.conf): an HTTP server on @TEST_PORT@ that answers the
-- transport contract cases and runs the cosocket transport on request (/t/send), and two TLS
-- servers: one with a certificate for 127.0.0.1 (trusted through lua_ssl_trusted_certificate) and
-- one with a certificate for another name.
_M.TEST_CONF = [==[
# Runs in the master at configuration load: the "init" phase has no cosockets.
init_by_lua_block {
    local ok, clinch = pcall(require, "clinch")
    local outcome
    if not ok then
        outcome = "require failed: " .. tostring(clinch)
    else
        local client = clinch.new { key = "k", secret = "s", base_url = "http://127.0.0.1:9/v1" }
        local okr, res, err = pcall(client.request, client, "GET", "/candidates")
        outcome = not okr and ("raised: " .. tostring(res)) or (res and "succeeded")
          or err.kind .. " after " .. tostring(err.attempts) .. " attempt(s): " .. err.message
    end
    package.loaded.clinch_init_outcome = outcome
}

server {
    listen 127.0.0.1:@TEST_PORT@;
    default_type text/plain;

    # Contract endpoints ----------------------------------------------------------------------
    location = /c/echo {
        client_body_buffer_size 1m;   # bodies stay in memory, for get_body_data
        content_by_lua_block {
            local cjson = require "cjson"
            if ngx.var.arg_ms then ngx.sleep(tonumber(ngx.var.arg_ms) / 1000) end  -- to overlap requests
            ngx.req.read_body()
            local body = ngx.req.get_body_data() or ""
            local out = cjson.encode {
                method = ngx.req.get_method(), uri = ngx.var.request_uri, headers = ngx.req.get_headers(),
                body = body, connection = tonumber(ngx.var.connection),
                connection_requests = tonumber(ngx.var.connection_requests),
            }
            ngx.header["Content-Type"] = "application/json"
            ngx.header["Content-Length"] = #out
            ngx.header["X-Mixed-Case"] = "Yes"
            ngx.header["X-Multi"] = { "one", "two" }
            ngx.print(out)
        }
    }
    location = /c/chunked {
        content_by_lua_block {
            local n = tonumber(ngx.var.arg_n) or 3
            for i = 1, n do
                ngx.print("chunk-" .. i .. ";")
                ngx.flush(true)
            end
        }
    }
    location = /c/big {
        content_by_lua_block {
            local n = tonumber(ngx.var.arg_n) or 1000
            if ngx.var.arg_chunked then
                ngx.print(string.rep("x", n))
                ngx.flush(true)
                ngx.print("y")
            else
                ngx.header["Content-Length"] = n
                ngx.print(string.rep("x", n))
            end
        }
    }
    location = /c/slow {
        content_by_lua_block {
            ngx.sleep((tonumber(ngx.var.arg_ms) or 1000) / 1000)
            ngx.say("slow")
        }
    }
    # Like /c/echo, but nginx closes the connection 50 ms after the response.
    location = /c/short-keepalive {
        keepalive_timeout 50ms;
        content_by_lua_block {
            local out = require("cjson").encode { connection = tonumber(ngx.var.connection) }
            ngx.header["Content-Length"] = #out
            ngx.print(out)
        }
    }
    # Drops a kept-alive connection without a response (444) on its second request: what a client
    # sees when the server closed an idle connection just as the request went out.
    location = /c/drop-reused {
        content_by_lua_block {
            if tonumber(ngx.var.connection_requests) > 1 then return ngx.exit(444) end
            ngx.req.read_body()
            local out = require("cjson").encode { connection = tonumber(ngx.var.connection),
                                                  body = ngx.req.get_body_data() }
            ngx.header["Content-Length"] = #out
            ngx.print(out)
        }
    }
    # Writes the base64-decoded ?b64= bytes as the whole response and closes: malformed or unusual
    # responses nginx itself would never send.
    location = /c/raw {
        content_by_lua_block {
            ngx.req.read_body()
            local sock = assert(ngx.req.socket(true))
            sock:send(assert(ngx.decode_base64(ngx.unescape_uri(ngx.var.arg_b64))))
            ngx.flush(true)
            return ngx.exit(444)
        }
    }
    # A response that comes one byte every ?ms= milliseconds: the whole of it (?head=1), or a body of
    # ?n= bytes after a head sent at once. Slower than the timeout of any case that calls it.
    location = /c/trickle {
        content_by_lua_block {
            ngx.req.read_body()
            local sock = assert(ngx.req.socket(true))
            local n, ms = tonumber(ngx.var.arg_n) or 20, tonumber(ngx.var.arg_ms) or 200
            local head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " .. n .. "\r\n\r\n"
            local bytes = string.rep("x", n)
            if ngx.var.arg_head then   -- with a long header line: a timer restarted per byte outlasts it
                local pad = "X-Pad: " .. string.rep("p", 80) .. "\r\n"
                bytes = "HTTP/1.1 200 OK\r\n" .. pad .. head:match("\r\n(.*)$") .. bytes
            elseif not sock:send(head) then
                return ngx.exit(444)
            end
            for i = 1, #bytes do
                ngx.sleep(ms / 1000)
                if not sock:send(bytes:sub(i, i)) then break end
            end
            return ngx.exit(444)
        }
    }
    location = /c/close {
        keepalive_timeout 0;
        return 200 "closed\n";
    }
    location ~ ^/c/status/(?<code>\d+)$ {
        content_by_lua_block {
            ngx.status = tonumber(ngx.var.code)
            ngx.say("status ", ngx.var.code)
        }
    }

    # Runs the cosocket transport on a request described as JSON:
    # { opts = {...}, mode = "send"|"many"|"start", requests = { {...}, ... } }
    #   -> { results = { { res =, err = } or { raised = message } } }
    location = /t/send {
        client_body_buffer_size 4m;
        content_by_lua_block {
            local cjson = require "cjson"
            ngx.req.read_body()
            local job = cjson.decode(ngx.req.get_body_data())
            local t = require("clinch.transport.cosocket").new(job.opts)
            local results = {}
            if job.mode == "many" then
                for i, r in ipairs(t:send_many(job.requests, job.concurrency)) do
                    results[i] = { res = r[1], err = r[2] }
                end
            elseif job.mode == "start" then
                local pending = {}
                for i, req in ipairs(job.requests) do pending[i] = t:start(req) end
                for i, p in ipairs(pending) do
                    local res, err = p:wait()
                    results[i] = { res = res, err = err }
                end
            else
                for i, req in ipairs(job.requests) do
                    local ok, res, err = pcall(t.send, t, req)
                    results[i] = ok and { res = res, err = err } or { raised = tostring(res) }
                    if req.pause then ngx.sleep(req.pause) end
                end
            end
            ngx.header["Content-Type"] = "application/json"
            ngx.print(cjson.encode { results = results })
        }
    }

    # The fault matrix (spec/fault_matrix_spec.lua): runs client:request steps through the cosocket
    # transport against the suite's fault server and answers what each gave.
    location = /t/client {
        content_by_lua_block {
            local cjson = require "cjson"
            local summarize = require("fault_server").summarize
            ngx.req.read_body()
            local job = cjson.decode(ngx.req.get_body_data())
            job.opts.key, job.opts.secret = "k", "s"
            local client = require("clinch").new(job.opts)
            local results = {}
            for i, step in ipairs(job.steps) do
                ngx.update_time()
                local started = ngx.now()
                local body = step.body or (step.body_size and ("x"):rep(step.body_size))
                local res, err = client:request(step.method, step.path, { body = body })
                ngx.update_time()
                results[i] = summarize(res, err, ngx.now() - started)
            end
            ngx.header["Content-Type"] = "application/json"
            ngx.print(cjson.encode { results = results })
        }
    }

    # The cosocket request_many case (spec/cosocket_request_many_spec.lua): client:request_many with
    # the steps of the job, as /t/client answers them.
    location = /t/client-many {
        client_body_buffer_size 1m;   # the job is read from memory
        content_by_lua_block {
            local cjson = require "cjson"
            local errors = require "clinch.errors"
            local summarize = require("fault_server").summarize
            ngx.req.read_body()
            local job = cjson.decode(ngx.req.get_body_data())
            job.opts.key, job.opts.secret = "k", "s"
            local client = require("clinch").new(job.opts)
            local list = {}
            for i, step in ipairs(job.steps) do list[i] = { step.method, step.path, { body = step.body } } end
            local results = {}
            for i, r in ipairs(client:request_many(list, { concurrency = job.concurrency })) do
                if errors.is(r) then results[i] = summarize(nil, r) else results[i] = summarize(r) end
            end
            ngx.header["Content-Type"] = "application/json"
            ngx.print(cjson.encode { results = results })
        }
    }

    # Phases without cosockets ----------------------------------------------------------------
    location = /t/phase/init {
        content_by_lua_block { ngx.print(package.loaded.clinch_init_outcome or "init block did not run") }
    }
    location = /t/phase/set {
        set_by_lua_block $clinch_outcome {
            local clinch = require "clinch"
            local client = clinch.new { key = "k", secret = "s", base_url = "http://127.0.0.1:9/v1" }
            local ok, res, err = pcall(client.request, client, "GET", "/candidates")
            if not ok then return "raised: " .. tostring(res) end
            if res then return "succeeded" end
            return err.kind .. " after " .. tostring(err.attempts) .. " attempt(s): " .. err.message
        }
        return 200 $clinch_outcome;
    }
    location = /t/phase/header_filter {
        return 200 "body\n";
        header_filter_by_lua_block {
            local clinch = require "clinch"
            local client = clinch.new { key = "k", secret = "s", base_url = "http://127.0.0.1:9/v1" }
            local ok, res, err = pcall(client.request, client, "GET", "/candidates")
            local outcome = not ok and ("raised: " .. tostring(res)) or (res and "succeeded")
              or (err.kind .. " after " .. tostring(err.attempts) .. " attempt(s): " .. err.message)
            ngx.header["X-Clinch-Outcome"] = outcome
        }
    }
}

server {
    listen 127.0.0.1:@TLS_PORT@ ssl http2;
    ssl_certificate @CERTS@/127.0.0.1.crt;
    ssl_certificate_key @CERTS@/127.0.0.1.key;
    location = /c/echo {
        default_type application/json;
        return 200 '{"tls":true}';
    }
}

server {
    listen 127.0.0.1:@WRONG_TLS_PORT@ ssl;
    ssl_certificate @CERTS@/wrong.invalid.crt;
    ssl_certificate_key @CERTS@/wrong.invalid.key;
    location = /c/echo {
        default_type application/json;
        return 200 '{"tls":true}';
    }
}
]==]

-- Stops nginx and removes its prefix if this test process dies without calling stop() (killed by a
-- timeout, say). A normal stop() removes the pid file first, so the watchdog then only exits.
local function watchdog(prefix)
  local f = io.open("/proc/self/stat", "rb")
  local me = f and f:read("*l"):match("^(%d+)")
  if f then f:close() end
  if not me then return end
  local q = support.shell_quote(prefix)
  local script = "while kill -0 " .. me .. " 2>/dev/null; do sleep 1; done; "
    .. "if [ -f " .. q .. "/logs/nginx.pid ]; then kill -TERM $(cat " .. q .. "/logs/nginx.pid); "
    .. "sleep 1; rm -rf " .. q .. "; fi"
  sh(CLEAN_ENV .. "sh -c " .. support.shell_quote(script) .. " </dev/null >/dev/null 2>&1 &")
end

--- Starts nginx. opts:
--   conf        extra configuration file contents (written to conf/conf.d/test.conf), a template
--               with the same markers plus @TEST_PORT@, @TLS_PORT@, @WRONG_TLS_PORT@, @CERTS@
--               (default: TEST_CONF)
--   base_url    the API base URL the example handler uses (CLINCH_BASE_URL)
--   key, secret the API credentials given to the example (environment)
-- Returns a server { port, test_port, tls_port, prefix, origin, test_origin, certs, stop(),
-- error_log() }. Raises (after cleaning up) when nginx does not start.
-- opts.server_only: nginx only serves the test endpoints (the libcurl contract run, any Lua).
-- opts.workers: worker processes (default 1).
-- opts.main: lines for nginx.conf's main context (such as env directives).
function _M.start(opts)
  opts = opts or {}
  local why
  if opts.server_only then why = _M.server_unavailable() else why = _M.unavailable() end
  if why then error("nginx unavailable: " .. why, 2) end
  local root = support.root
  local p = assert(io.popen(CLEAN_ENV .. "mktemp -d /tmp/clinch-nginx.XXXXXX"))
  local tmp = p:read("*l")
  p:close()
  assert(tmp and tmp ~= "", "mktemp failed")
  local srv = { prefix = tmp, certs = tmp .. "/certs" }

  local ok, err = pcall(function()
    local q = support.shell_quote(tmp)
    assert(sh(CLEAN_ENV .. "mkdir -p " .. q .. "/conf/conf.d " .. q .. "/logs " .. q .. "/tmp " .. q .. "/certs"))
    -- The workers must reach the prefix (mktemp makes it private to its owner).
    assert(sh(CLEAN_ENV .. "chmod 755 " .. support.shell_quote(tmp)))
    make_certs(srv.certs)
    for attempt = 1, 3 do
      srv.port, srv.test_port, srv.tls_port, srv.wrong_tls_port = require("clinch.mock.process").free_ports(4)
      srv.origin = "http://127.0.0.1:" .. srv.port
      srv.test_origin = "http://127.0.0.1:" .. srv.test_port
      local values = {
        LISTEN = "127.0.0.1:" .. srv.port,
        LUA_PATH = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. root .. "/examples/openresty/?.lua;"
          .. root .. "/spec/?.lua",
        LUA_CPATH = root .. "/build/5.1/?.so",
        TRUSTED_CA = srv.certs .. "/127.0.0.1.crt",
        RESOLVER = "127.0.0.1",
        TEST_PORT = srv.test_port, TLS_PORT = srv.tls_port, WRONG_TLS_PORT = srv.wrong_tls_port, CERTS = srv.certs,
      }
      local conf = _M.fill(assert(read_file(root .. "/examples/openresty/nginx.conf")), values)
      -- Test-only changes to the example: one worker (the non-blocking test needs it), and, when the
      -- suite runs as root, workers as root too, since the checkout may not be readable by nobody.
      local n
      conf, n = conf:gsub("\nworker_processes [^;]+;", "\nworker_processes " .. (opts.workers or 1) .. ";")
      assert(n == 1, "examples/openresty/nginx.conf: worker_processes line not found")
      local _, uid = support.run(CLEAN_ENV .. "id -u")
      if uid:match("^0%s*$") then
        conf = "user root root;\n" .. conf
      end
      if opts.main then conf = opts.main .. "\n" .. conf end
      write_file(tmp .. "/conf/nginx.conf", conf)
      write_file(tmp .. "/conf/conf.d/test.conf", _M.fill(opts.conf or _M.TEST_CONF, values))

      local env = {
        CLINCH_API_KEY = opts.key or "test-key", CLINCH_API_SECRET = opts.secret or "test-secret",
        CLINCH_BASE_URL = opts.base_url or "http://127.0.0.1:9/v1",
      }
      local assigns = {}
      for k, v in pairs(env) do assigns[#assigns + 1] = k .. "=" .. support.shell_quote(v) end
      local cmd = CLEAN_ENV .. concat(assigns, " ") .. " "
        .. support.shell_quote(_M.NGINX) .. " -p " .. support.shell_quote(tmp .. "/") .. " -c conf/nginx.conf"
        .. " -e logs/error.log >" .. support.shell_quote(tmp .. "/logs/start.log") .. " 2>&1"
      if sh(cmd) then break end
      local log = read_file(tmp .. "/logs/start.log") or ""
      -- A port found free can be taken before nginx binds it (by any connection's source port): then
      -- nginx starts again on other ports.
      if attempt == 3 or not log:find("Address already in use", 1, true) then
        error("nginx did not start: " .. log .. "\n" .. _M.error_log(srv))
      end
    end
    watchdog(tmp)
    -- The master forks the workers after writing the pid; wait until the example answers.
    local deadline = socket.gettime() + 10
    while true do
      local status = _M.request(srv.origin, { path = "/healthz", timeout = 1 })
      if status == 200 then break end
      if socket.gettime() > deadline then
        error("nginx started but does not answer on " .. srv.origin .. "\n" .. _M.error_log(srv))
      end
      socket.sleep(0.05)
    end
  end)
  srv.stop = function() _M.stop(srv) end
  srv.error_log = function() return _M.error_log(srv) end
  if not ok then
    _M.stop(srv)
    error(err, 2)
  end
  return srv
end

--- The end of nginx's error log, for failure messages.
function _M.error_log(srv)
  local f = io.open(srv.prefix .. "/logs/error.log", "rb")
  if not f then return "(no error log)" end
  local text = f:read("*a")
  f:close()
  return "nginx error.log:\n" .. text:sub(-4000)
end

-- True while the process runs. The master is daemonized, so once it exits it is a zombie until
-- init reaps it (which can take a while in containers): a zombie counts as gone.
local function alive(pid)
  local f = io.open("/proc/" .. pid .. "/stat", "rb")
  if not f then
    if exists("/proc/self/stat") then return false end
    return sh("kill -0 " .. pid .. " 2>/dev/null")
  end
  local stat = f:read("*a") or ""
  f:close()
  local state = stat:match("^%d+ %b() (%a)")
  return state ~= nil and state ~= "Z" and state ~= "X"
end

--- Stops nginx by its pid file and removes the prefix. Idempotent.
function _M.stop(srv)
  if srv.stopped then return end
  srv.stopped = true
  local f = io.open(srv.prefix .. "/logs/nginx.pid", "rb")
  local pid = f and tonumber(f:read("*l") or "")
  if f then f:close() end
  if pid then
    -- TERM is nginx's fast shutdown; KILL only if it hangs.
    for _, sig in ipairs { "TERM", "KILL" } do
      sh("kill -" .. sig .. " " .. pid .. " 2>/dev/null")
      local deadline = socket.gettime() + 5
      while alive(pid) and socket.gettime() < deadline do socket.sleep(0.02) end
      if not alive(pid) then break end
    end
  end
  if os.getenv("CLINCH_KEEP_NGINX") then
    io.stderr:write("nginx prefix kept: " .. srv.prefix .. "\n")
  else
    sh(CLEAN_ENV .. "rm -rf " .. support.shell_quote(srv.prefix))
  end
end

-- The bytes of a request: req { method, path, headers = { name = value }, body }.
local function request_bytes(host, port, req)
  local lines = { (req.method or "GET") .. " " .. req.path .. " HTTP/1.1", "Host: " .. host .. ":" .. port,
                  "Connection: close" }
  for k, v in pairs(req.headers or {}) do lines[#lines + 1] = k .. ": " .. v end
  if req.body then lines[#lines + 1] = "Content-Length: " .. #req.body end
  return concat(lines, "\r\n") .. "\r\n\r\n" .. (req.body or "")
end

--- Sends a request over a fresh connection ("Connection: close") and returns at once with a handle
-- whose :wait() reads the response -> status, headers (lowercased names), body, or nil, err.
-- req: { method, path, headers = { name = value }, body, timeout }.
function _M.open(origin, req)
  local host, port = origin:match("^http://([^:/]+):(%d+)")
  local sock = socket.tcp()
  sock:settimeout(req.timeout or 30)
  local handle = {}
  local ok, err = sock:connect(host, tonumber(port))
  if ok then ok, err = sock:send(request_bytes(host, port, req)) end
  if not ok then
    sock:close()
    function handle.wait() return nil, err end
    return handle
  end
  function handle.wait()
    local raw, rerr, partial = sock:receive("*a")
    sock:close()
    raw = raw or partial
    if not raw or raw == "" then return nil, rerr or "empty reply" end
    return _M.parse_response(raw)
  end
  return handle
end

--- One request over a fresh connection -> status, headers, body or nil, err (see open).
function _M.request(origin, req)
  return _M.open(origin, req).wait()
end

--- Calls the mock's control API (/__mock/<path>) -> decoded JSON reply, status.
function _M.control(mock, method, path, body)
  local payload = body and cjson.encode(body) or nil
  local status, _, text = _M.request(mock.origin, {
    method = method, path = "/__mock/" .. path, body = payload, timeout = 10,
    headers = payload and { ["Content-Type"] = "application/json" } or nil,
  })
  if not status then error("mock control " .. method .. " " .. path .. ": " .. tostring(text), 2) end
  return text ~= "" and cjson.decode(text) or nil, status
end

--- Parses a whole HTTP/1.1 response read until close -> status, headers, body.
function _M.parse_response(raw)
  local head, body = raw:match("^(.-)\r\n\r\n(.*)$")
  if not head then return nil, "malformed response: " .. raw:sub(1, 200) end
  local status = tonumber(head:match("^HTTP/1%.%d (%d%d%d)"))
  local headers = {}
  for name, value in head:gmatch("\r\n([^:\r\n]+):%s*([^\r\n]*)") do headers[name:lower()] = value end
  if (headers["transfer-encoding"] or ""):lower():find("chunked") then
    local out, pos = {}, 1
    while true do
      local size_hex, after = body:match("^(%x+)[^\r\n]*\r\n()", pos)
      local size = size_hex and tonumber(size_hex, 16)
      if not size or size == 0 then break end
      out[#out + 1] = body:sub(after, after + size - 1)
      pos = after + size + 2
    end
    body = concat(out)
  end
  return status, headers, body
end

--- Sends `n` copies of a request at once over separate connections and waits for all of them.
-- Returns the list of { status, headers, body } and the elapsed seconds.
function _M.concurrent(origin, req, n)
  local host, port = origin:match("^http://([^:/]+):(%d+)")
  local started = socket.gettime()
  local conns, pending = {}, {}
  local payload = request_bytes(host, port, req)
  for i = 1, n do
    local s = socket.tcp()
    s:settimeout(10)
    assert(s:connect(host, tonumber(port)))
    assert(s:send(payload))
    s:settimeout(0)
    conns[i] = { sock = s, parts = {} }
    pending[#pending + 1] = s
  end
  local index = {}
  for i, c in ipairs(conns) do index[c.sock] = i end
  local deadline = started + (req.timeout or 30)
  while #pending > 0 do
    if socket.gettime() > deadline then error("concurrent requests timed out", 2) end
    local readable = socket.select(pending, nil, 1)
    for _, s in ipairs(readable) do
      local c = conns[index[s]]
      local data, err, partial = s:receive(65536)
      data = data or partial
      if data and data ~= "" then c.parts[#c.parts + 1] = data end
      if err == "closed" then
        c.elapsed = socket.gettime() - started
        s:close()
        for k, p in ipairs(pending) do
          if p == s then table.remove(pending, k) break end
        end
      end
    end
  end
  local results = {}
  for i, c in ipairs(conns) do
    local status, headers, body = _M.parse_response(concat(c.parts))
    results[i] = { status = status, headers = headers, body = body, elapsed = c.elapsed }
  end
  return results, socket.gettime() - started
end

--- A multipart/form-data body from a list of { name =, value = } or { name =, filename =, content =,
-- type = } parts -> body, content type.
function _M.multipart(parts)
  local boundary = "clinch-test-" .. string.format("%08x", math.random(0, 0x7fffffff))
  local out = {}
  for _, p in ipairs(parts) do
    out[#out + 1] = "--" .. boundary .. "\r\n"
    if p.filename then
      out[#out + 1] = 'Content-Disposition: form-data; name="' .. p.name .. '"; filename="' .. p.filename
        .. '"\r\nContent-Type: ' .. (p.type or "application/octet-stream") .. "\r\n\r\n" .. p.content .. "\r\n"
    else
      out[#out + 1] = 'Content-Disposition: form-data; name="' .. p.name .. '"\r\n\r\n' .. p.value .. "\r\n"
    end
  end
  out[#out + 1] = "--" .. boundary .. "--\r\n"
  return concat(out), "multipart/form-data; boundary=" .. boundary
end

return _M
