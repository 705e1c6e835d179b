--- CSV output as RFC 4180 defines it: records end with CRLF; a field holding a comma, a double quote,
-- CR or LF is enclosed in double quotes, with each double quote inside doubled. Everything else is
-- written as is (UTF-8 passes through).
local type, tostring, ipairs, concat = type, tostring, ipairs, table.concat

local _M = {}

--- One field, quoted when it must be.
function _M.field(v)
  if v == nil then return "" end
  local s = type(v) == "string" and v or tostring(v)
  if s:find('[,"\r\n]') then
    return '"' .. s:gsub('"', '""') .. '"'
  end
  return s
end

--- One record (a list of values, nil allowed up to n) with its CRLF.
function _M.record(values, n)
  local out = {}
  for i = 1, n or #values do out[i] = _M.field(values[i]) end
  return concat(out, ",") .. "\r\n"
end

--- A header record from column names.
function _M.header(columns)
  local names = {}
  for i, c in ipairs(columns) do names[i] = c end
  return _M.record(names, #names)
end

--- Parses CSV text (RFC 4180; a lone LF also ends a record) -> list of records (lists of strings),
-- or nil and a message for a quote out of place.
function _M.parse(text)
  local rows, row, i, n = {}, {}, 1, #text
  if n == 0 then return rows end
  -- "line L: why", L the line of the file where the field at `at` starts (only when there is a mistake)
  local function fail(at, why)
    local _, breaks = text:sub(1, at - 1):gsub("\n", "")
    return nil, "line " .. (breaks + 1) .. ": " .. why
  end
  while true do
    local field
    if text:sub(i, i) == '"' then
      local parts = {}
      local j = i + 1
      while true do
        local q = text:find('"', j, true)
        if not q then return fail(i, "unterminated quoted field") end
        parts[#parts + 1] = text:sub(j, q - 1)
        if text:sub(q + 1, q + 1) == '"' then
          parts[#parts + 1] = '"'
          j = q + 2
        else
          i = q + 1
          break
        end
      end
      field = concat(parts)
    else
      local e = text:find("[,\r\n]", i) or n + 1
      field = text:sub(i, e - 1)
      if field:find('"', 1, true) then return fail(i, "quote inside an unquoted field") end
      i = e
    end
    row[#row + 1] = field
    local c = text:sub(i, i)
    if c == "," then
      i = i + 1
    elseif c == "\r" or c == "\n" or c == "" then
      rows[#rows + 1] = row
      row = {}
      if c == "\r" and text:sub(i + 1, i + 1) == "\n" then i = i + 1 end
      i = i + 1
      if i > n then break end
    else
      return fail(i, "unexpected character after a quoted field")
    end
  end
  return rows
end

return _M
