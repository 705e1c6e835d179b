-- busted helper: runs before every spec file. Makes the checkout's Lua files and the C core built for
-- this interpreter visible to child processes (the mock server, the CLI) started by the specs.
local support = require "support"
support.export_paths()
