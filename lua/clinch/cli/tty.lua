--- Whether a standard stream is a terminal. Plain Lua has no isatty, so a child shell (which inherits
-- our descriptors) is asked with `test -t`; the CLI asks once per stream at start-up.
local os_execute, tostring = os.execute, tostring

local _M = {}

--- True when file descriptor `fd` (0, 1 or 2) is a terminal.
function _M.isatty(fd)
  return os_execute("test -t " .. tostring(fd)) == true
end

return _M
