--- `--verbose` and `--dry-run`: what the CLI shows of requests on stderr, and the stand-in transport
-- that prints a request as a curl command instead of sending it. Both see only the signed request
-- (signature and date), never the secret; verbose output also redacts the signature, and response
-- headers that carry secrets (cookies, tokens).
local type, pairs, ipairs, setmetatable, tostring, format = type, pairs, ipairs, setmetatable, tostring, string.format
local require, sort, concat, floor = require, table.sort, table.concat, math.floor

local _M = {}

--- Quotes a string for a POSIX shell.
function _M.shell_quote(s)
  if s:match("^[%w%-%._/:=@,+]+$") then return s end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function sorted_headers(headers)
  local names = {}
  for name in pairs(headers or {}) do names[#names + 1] = name end
  sort(names, function(a, b) return a:lower() < b:lower() end)
  return names
end

--- The Authorization value with its signature hidden: "APIAuth key:[redacted]".
function _M.redact_authorization(value)
  return (tostring(value):gsub("^(%S+%s+[^:]*:).*$", "%1[redacted]"))
end

--- A transport request as a curl command line.
function _M.curl_command(req)
  local parts = { "curl" }
  if req.method ~= "GET" or req.body then parts[#parts + 1] = "-X " .. req.method end
  parts[#parts + 1] = _M.shell_quote(req.url)
  for _, name in ipairs(sorted_headers(req.headers)) do
    parts[#parts + 1] = "-H " .. _M.shell_quote(name .. ": " .. req.headers[name])
  end
  if req.body then parts[#parts + 1] = "--data-binary " .. _M.shell_quote(req.body) end
  return concat(parts, " ")
end

--- The dry-run transport: prints each request as a curl command on `stream` and fails it with an
-- error of kind "dry_run" (not retried), which the CLI treats as success.
function _M.dry_run_transport(stream)
  return function(req)
    stream:write(_M.curl_command(req), "\n")
    stream:flush()
    return nil, { kind = "dry_run", message = "dry run: request not sent", sent = true }
  end
end

--- Response headers whose values are secrets (a session a gateway hands out, credentials echoed back):
-- shown as "[redacted]" under --verbose. Lower case.
_M.SECRET_RESPONSE_HEADERS = { ["set-cookie"] = true, ["set-cookie2"] = true, authorization = true,
                               ["proxy-authorization"] = true, cookie = true }

--- A response header's value as --verbose shows it: redacted for the names above and for any name
-- that says token, secret or key (X-Api-Key, X-Auth-Token).
function _M.response_header_value(name, value)
  local lower = name:lower()
  if _M.SECRET_RESPONSE_HEADERS[lower] or lower:find("token", 1, true) or lower:find("secret", 1, true)
    or lower:find("key", 1, true) then
    return "[redacted]"
  end
  return tostring(value)
end

-- Why an attempt is retried, in words: "HTTP 429, Retry-After 2 s", "network error".
local function reason_text(r)
  local what = r.status and ("HTTP " .. tostring(r.status))
    or ((r.error or "failed") .. " error" .. (r.message and " (" .. r.message .. ")" or ""))
  if r.retry_after then
    what = what .. (r.status and format(", Retry-After %s s", require("clinch.text").number(r.retry_after) or "?")
      or " on a reused connection")
  end
  return format("%s %s: %s", tostring(r.method), tostring(r.uri), what)
end

--- The logger for clinch.new under --verbose: one line per attempt on `stream` (with the response's
-- headers), one per retry wait with its reasons, and the client's back-offs and warnings.
function _M.logger(stream)
  return function(event)
    if event.event == "request" then
      local what = event.status and tostring(event.status) or (event.error or "failed")
      local ms = floor((event.duration or 0) * 1000 + 0.5)
      stream:write(format("clinch: < %s %s %s (%d ms, attempt %d)\n", what, event.method, event.uri, ms,
        event.attempt or 1))
      local headers = event.headers or {}
      for _, name in ipairs(sorted_headers(headers)) do
        stream:write(format("clinch: < %s: %s\n", name, _M.response_header_value(name, headers[name])))
      end
    elseif event.event == "retry" then
      local reasons = {}
      for i, r in ipairs(event.reasons or {}) do reasons[i] = reason_text(r) end
      stream:write(format("clinch: retry %d in %.1f s after %s\n", (event.attempt or 1) + 1, event.wait or 0,
        concat(reasons, "; ")))
    elseif event.event == "backoff" then
      stream:write(format("clinch: back-off after HTTP %s: %d -> %d requests in flight, no request for %.1f s\n",
        tostring(event.status), event.limit_before or 0, event.limit or 0, event.wait or 0))
    elseif event.event == "warning" then
      stream:write("clinch: warning: ", tostring(event.message), "\n")
    end
    stream:flush()
  end
end

-- Writes the request line and headers of an attempt, the Authorization value redacted.
local function show(stream, req)
  local lines = { format("clinch: > %s %s", req.method, req.url) }
  for _, name in ipairs(sorted_headers(req.headers)) do
    local value = req.headers[name]
    if name:lower() == "authorization" then value = _M.redact_authorization(value) end
    lines[#lines + 1] = format("clinch: > %s: %s", name, value)
  end
  if req.body then lines[#lines + 1] = format("clinch: > (body: %d bytes)", #req.body) end
  stream:write(concat(lines, "\n"), "\n")
  stream:flush()
end

local Verbose = {}
Verbose.__index = Verbose

function Verbose:send(req)
  show(self.stream, req)
  return self.inner:send(req)
end

function Verbose:start(req)
  show(self.stream, req)
  return self.inner:start(req)
end

function Verbose:send_many(reqs, concurrency)
  for _, req in ipairs(reqs) do show(self.stream, req) end
  return self.inner:send_many(reqs, concurrency)
end

--- Waits for started requests to make progress (what client:parallel's scheduler blocks on).
function Verbose:poll(seconds)
  return self.inner:poll(seconds)
end

function Verbose:close()
  self.inner:close()
end

--- Wraps a transport (function or object) so that every request it sends is shown on `stream`.
function _M.verbose_transport(inner, stream)
  return setmetatable({ inner = require("clinch.transport").wrap(inner), stream = stream }, Verbose)
end

--- True when `err` is the error a dry run ends with.
function _M.is_dry_run(err)
  return type(err) == "table" and err.kind == "dry_run"
end

return _M
