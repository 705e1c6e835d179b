--- Lists the Lua functions longer than MAX lines (from the line of `function` to the line of its
-- `end`, blank and comment lines included), for `make check`; exits 1 when there is one.
--   lua5.4 scripts/lua-func-lengths.lua MAX FILE...
-- A small tokenizer: it skips strings, long strings and comments, and pairs block openers (function,
-- if, do, while ... do counts once, for ... do once, repeat) with their closers.
local max = assert(tonumber(arg[1]), "usage: lua-func-lengths.lua MAX FILE...")

-- The words of `text` that open or close blocks, with their lines: { {word, line}, ... }.
local function block_words(text)
  local out, i, line, n = {}, 1, 1, #text
  while i <= n do
    local c = text:sub(i, i)
    if c == "\n" then
      line, i = line + 1, i + 1
    elseif text:find("^%-%-", i) then
      local eq = text:match("^%-%-%[(=*)%[", i)
      local stop
      if eq then
        stop = select(2, text:find("]" .. eq .. "]", i, true)) or n
      else
        stop = (text:find("\n", i, true) or n + 1) - 1
      end
      local _, lines = text:sub(i, stop):gsub("\n", "")
      line, i = line + lines, stop + 1
    elseif text:find("^%[=*%[", i) then
      local eq = text:match("^%[(=*)%[", i)
      local stop = select(2, text:find("]" .. eq .. "]", i, true)) or n
      local _, lines = text:sub(i, stop):gsub("\n", "")
      line, i = line + lines, stop + 1
    elseif c == '"' or c == "'" then
      local j = i + 1
      while j <= n do
        local d = text:sub(j, j)
        if d == "\\" then j = j + 2 elseif d == c or d == "\n" then break else j = j + 1 end
      end
      i = j + 1
    elseif c:find("[%a_]") then
      local word = text:match("^[%w_]+", i)
      if word == "function" or word == "if" or word == "do" or word == "while" or word == "for"
         or word == "repeat" or word == "end" or word == "until" then
        out[#out + 1] = { word, line }
      end
      i = i + #word
    else
      i = i + 1
    end
  end
  return out
end

local failed = false
for k = 2, #arg do
  local f = assert(io.open(arg[k], "rb"))
  local words = block_words(f:read("a"))
  f:close()
  local stack = {}
  for _, w in ipairs(words) do
    local word, line = w[1], w[2]
    if word == "end" or word == "until" then
      local open = table.remove(stack)
      if open and open[1] == "function" and line - open[2] + 1 > max then
        print(("%s:%d: function of %d lines (over %d)"):format(arg[k], open[2], line - open[2] + 1, max))
        failed = true
      end
    elseif word == "do" and stack[#stack] and stack[#stack].loop then
      stack[#stack].loop = nil -- the `do` of while/for belongs to the loop already open
    else
      stack[#stack + 1] = { word, line, loop = (word == "while" or word == "for") or nil }
    end
  end
end
os.exit(failed and 1 or 0)
