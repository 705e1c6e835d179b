--- Programming mistakes (a wrong argument type, an unknown option, a header with a line break) raise
-- here, and only here, with a message that points at the caller's line: the first frame on the stack
-- that is not lua-clinch's own code. No other module computes an error level, so a helper may call
-- another, or tail-call it, and the blame still lands on the user's line.
--
--   check.arg(type(path) == "string", "request: path must be a string")
--   if not ok then check.raise(msg) end
--
-- Validators that the CLI also uses return `nil, message` instead; a public entry point passes their
-- message to check.raise. Runtime failures (the API, the network, input the API would refuse) are
-- never raised: they are `nil, err` with an error object (clinch.errors).
local error = error
local getinfo = debug and debug.getinfo

local _M = {}

-- The directory of lua-clinch's own modules (this file's), as its sources name it ("@.../clinch/").
local OWN = getinfo and (getinfo(1, "S").source:match("^(@.*[/\\]clinch[/\\])[^/\\]*$"))

-- The level, counted from the caller of this function's caller (raise or arg), of the first frame that
-- is neither lua-clinch's code nor a C function: the user's line. 2 when the stack cannot be read.
local function user_level()
  if not OWN then return 3 end
  local level = 3
  while true do
    local info = getinfo(level + 1, "S")
    if not info then return level end
    local src = info.source
    if info.what ~= "C" and src:sub(1, #OWN) ~= OWN then return level end
    level = level + 1
  end
end

--- Raises `message` at the user's line.
function _M.raise(message)
  error(message, user_level())
end

--- Raises `message` at the user's line unless `ok`.
function _M.arg(ok, message)
  if not ok then error(message, user_level()) end
end

return _M
