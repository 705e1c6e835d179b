-- The cosocket transport's response head parser (Exchange:read_head) reads header lines in place in its
-- read buffer, with plain finds and byte checks, for LuaJIT's compiler. This spec holds it to the rules
-- written the plain way, with patterns: thousands of fixed-seed random heads (mixed-case and repeated
-- names, white space around values, folded lines, CRLF and bare LF, malformed lines, heads near the size
-- limit), each fed to the parser in random pieces through a socket of the spec's own (the parser's
-- reads are all it sees of the socket), must give the same status, headers and error as the rules.
local cosocket = require "clinch.transport.cosocket"
local defaults = require "clinch.defaults"

local Exchange = cosocket._Exchange
local MAX = defaults.MAX_HEADER_BYTES
local concat = table.concat

-- The rules: status line "HTTP/1.<d> <ddd>[ reason]"; then "Name: value" lines until an empty one,
-- the name up to the first colon (not empty, without white space), the value with the white space
-- around it dropped; names lower-cased, a repeated one's values joined with ", "; a line starting with
-- a space or tab continues the previous value; the header lines (each counted with one line end) over
-- MAX bytes are too_large.
local function reference(head)
  local lines, pos = {}, 1
  while true do
    local i = head:find("\n", pos, true)
    if not i then return nil, "closed" end
    local line = head:sub(pos, i - 1):gsub("\r$", "")
    lines[#lines + 1] = line
    pos = i + 1
    if line == "" and #lines > 1 then break end
  end
  local minor, status, after = lines[1]:match("^HTTP/1%.(%d) +(%d%d%d)(.?)")
  if not status or (after ~= "" and after ~= " " and after ~= "\t") then return nil, "malformed status line" end
  local headers, bytes, last = {}, 0, nil
  for k = 2, #lines - 1 do
    local h = lines[k]
    bytes = bytes + #h + 1
    if bytes > MAX then return nil, "too_large" end
    if h:match("^[ \t]") and last then
      headers[last] = headers[last] .. " " .. h:match("^%s*(.-)%s*$")
    else
      local name, value = h:match("^([^:]+):%s*(.-)%s*$")
      if not name or name:find("[ \t\r\v\f]") then return nil, "malformed header line" end
      last = name:lower()
      headers[last] = headers[last] and headers[last] .. ", " .. value or value
    end
  end
  return tonumber(status), headers, tonumber(minor)
end

-- A socket that hands out `head` in the given piece sizes, then says closed.
local function socket_of(head, sizes)
  local pos, k = 1, 0
  return {
    settimeout = function() end,
    close = function() end,
    receiveany = function()
      if pos > #head then return nil, "closed" end
      k = k + 1
      local n = sizes[(k - 1) % #sizes + 1]
      local piece = head:sub(pos, pos + n - 1)
      pos = pos + n
      return piece
    end,
  }
end

local function parse(head, sizes)
  local x = setmetatable({ deadline = math.huge, where = "127.0.0.1:1", sent = true, reused = false,
                           got_bytes = false, buf = "", pos = 1, size = 0, first = false, parts = false,
                           limit = 1e9, sock = socket_of(head, sizes) }, Exchange)
  return x:read_head()
end

local function same(a1, a2, a3, b1, b2, b3)
  if a1 ~= b1 or a3 ~= b3 then return false end
  if type(a2) ~= type(b2) then return false end
  if type(a2) ~= "table" then return a2 == b2 end
  for k, v in pairs(a2) do if b2[k] ~= v then return false end end
  for k in pairs(b2) do if a2[k] == nil then return false end end
  return true
end

local function show(a, b, c)
  if type(b) ~= "table" then return tostring(a) .. ", " .. tostring(b) end
  local keys = {}
  for k in pairs(b) do keys[#keys + 1] = k end
  table.sort(keys)
  for i, k in ipairs(keys) do keys[i] = string.format("%q=%q", k, b[k]) end
  return tostring(a) .. ", {" .. concat(keys, " ") .. "}, " .. tostring(c)
end

describe("cosocket transport: the response head parser", function()
  local seed = 20261201
  local function rand(n) -- a small fixed-seed generator, the same on every VM
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed % n + 1
  end
  local function pick(list) return list[rand(#list)] end

  local NAMES = { "Content-Type", "content-length", "X-Request-Id", "Set-Cookie", "Date", "SERVER", "Via",
                  "x-a", "Link", "ETag", "Cache-Control", "Retry-After" }
  local WS = { "", " ", "  ", "\t", " \t ", "" }
  local VALUES = { "application/vnd.api+json", "12", "abc def", "", "a,b", "x:y:z", "  ", "v\t1", "é", "\"q\"" }
  local EOL = { "\r\n", "\r\n", "\r\n", "\n" }

  local function random_head()
    local eol = pick(EOL)
    local parts = { pick { "HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found", "HTTP/1.0 204", "HTTP/1.1  503 x",
                           "HTTP/1.1 20 OK", "HTTP/2 200", "HTTP/1.1 200\tOK" }, eol }
    for _ = 1, rand(12) - 1 do
      local r = rand(40)
      local line
      if r == 1 then line = "no colon here"
      elseif r == 2 then line = ": value"
      elseif r == 3 then line = "Bad Name: v"
      elseif r == 4 then line = "Bad\tName: v"
      elseif r <= 8 then line = pick { " ", "\t", "  " } .. pick(VALUES) .. pick(WS) -- a continuation
      else
        line = pick(NAMES) .. pick { ":", ":", ": " } .. pick(WS) .. pick(VALUES) .. pick(WS)
      end
      parts[#parts + 1] = line
      parts[#parts + 1] = r == 9 and pick(EOL) or eol
    end
    parts[#parts + 1] = eol
    return concat(parts)
  end

  local SIZES = { { 1 }, { 3 }, { 7, 1 }, { 64 }, { 65536 }, { 2, 50 } }

  it("gives what the rules give on 3,000 random heads, read in pieces of any size", function()
    for n = 1, 3000 do
      local head = random_head() .. "BODY"
      local sizes = SIZES[(n - 1) % #SIZES + 1]
      local e1, e2, e3 = reference(head)
      local g1, g2, g3 = parse(head, sizes)
      if not same(e1, e2, e3, g1, g2, g3) then
        error(string.format("head %q (pieces of %s):\n  rules:  %s\n  parser: %s", head,
          concat(sizes, ","), show(e1, e2, e3), show(g1, g2, g3)))
      end
    end
  end)

  it("keeps the bytes after the head in its buffer, for the body", function()
    local head = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nX-A: b\r\n\r\nBODY"
    for _, sizes in ipairs(SIZES) do
      local x = setmetatable({ deadline = math.huge, where = "h", buf = "", pos = 1, sent = true,
                               sock = socket_of(head, sizes) }, Exchange)
      local status, headers = x:read_head()
      assert.equal(200, status)
      assert.same({ ["content-length"] = "4", ["x-a"] = "b" }, headers)
      local rest = x.buf:sub(x.pos) -- what was read past the head: the start of the body, unconsumed
      assert.equal(("BODY"):sub(1, #rest), rest)
    end
  end)

  it("counts the header lines against the limit as libcurl does: too_large just over it, not at it", function()
    local function head_of(total) -- header lines of `total` bytes, each counted with one line end
      local lines, left = {}, total
      while left > 0 do
        local len = math.min(left, 1000) - 1 -- the line without its line end
        lines[#lines + 1] = "X-Fill: " .. string.rep("a", len - 8)
        left = left - (len + 1)
      end
      return "HTTP/1.1 200 OK\n" .. concat(lines, "\n") .. "\n\n"
    end
    assert.equal(200, (parse(head_of(MAX), { 65536 })))
    local status, err = parse(head_of(MAX + 1), { 65536 })
    assert.is_nil(status)
    assert.equal("too_large", err)
    -- the same, through the line-at-a-time path (the line end not in the buffer yet)
    assert.equal(200, (parse(head_of(MAX), { 999 })))
    assert.equal("too_large", select(2, parse(head_of(MAX + 1), { 999 })))
  end)
end)
