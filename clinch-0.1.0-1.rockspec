rockspec_format = "3.0"
package = "clinch"
version = "0.1.0-1"
source = {
  url = "git+https://github.com/lua-clinch/lua-clinch.git",
  tag = "v0.1.0",
}
description = {
  summary = "Lua client for the PageUp Recruitment Marketing (Clinch Talent) API",
  detailed = [[
A C core (ApiAuth HMAC signing with OpenSSL, libcurl transport with keep-alive and parallel
requests, JSON:API decoding on top of lua-cjson) under a Lua layer that mirrors the API's
resources. Runs on Lua 5.4 and on LuaJIT 2.1 (OpenResty), not on plain Lua 5.1; the clinch
command-line tool runs on Lua 5.4 (luarocks --lua-version 5.4 make).
]],
  homepage = "https://github.com/lua-clinch/lua-clinch",
  license = "MIT",
}
dependencies = {
  "lua >= 5.1",
  "lua-cjson >= 2.1",
}
external_dependencies = {
  OPENSSL = { header = "openssl/hmac.h", library = "crypto" },
  CURL = { library = "curl" },
}
-- The project's Makefile builds the C core into build/rock/ (LuaRocks' builtin backend would compile in
-- the checkout and leave csrc/core.o and clinch/core.so there); -B rebuilds it for the Lua at hand
-- whatever was built there before. LuaRocks installs the files listed under install.
build = {
  type = "make",
  build_target = "-B core",
  build_variables = {
    BUILD = "build/rock", LUA = "$(LUA)", LUA_INCDIR = "$(LUA_INCDIR)", CC = "$(CC)",
    CFLAGS = "$(CFLAGS) -I$(OPENSSL_INCDIR) -I$(CURL_INCDIR)", LDFLAGS = "-L$(OPENSSL_LIBDIR) -L$(CURL_LIBDIR)",
  },
  install_pass = false,
  install = {
    lib = { ["clinch.core"] = "build/rock/clinch/core.so" },
    lua = {
    ["clinch"] = "lua/clinch/init.lua",
    ["clinch.check"] = "lua/clinch/check.lua",
    ["clinch.cli"] = "lua/clinch/cli/init.lua",
    ["clinch.cli.args"] = "lua/clinch/cli/args.lua",
    ["clinch.cli.bulk"] = "lua/clinch/cli/bulk.lua",
    ["clinch.cli.columns"] = "lua/clinch/cli/columns.lua",
    ["clinch.cli.commands"] = "lua/clinch/cli/commands.lua",
    ["clinch.cli.completion"] = "lua/clinch/cli/completion.lua",
    ["clinch.cli.config"] = "lua/clinch/cli/config.lua",
    ["clinch.cli.csv"] = "lua/clinch/cli/csv.lua",
    ["clinch.cli.messages"] = "lua/clinch/cli/messages.lua",
    ["clinch.cli.output"] = "lua/clinch/cli/output.lua",
    ["clinch.cli.progress"] = "lua/clinch/cli/progress.lua",
    ["clinch.cli.repl"] = "lua/clinch/cli/repl.lua",
    ["clinch.cli.repl_complete"] = "lua/clinch/cli/repl_complete.lua",
    ["clinch.cli.state"] = "lua/clinch/cli/state.lua",
    ["clinch.cli.sync"] = "lua/clinch/cli/sync.lua",
    ["clinch.cli.textable"] = "lua/clinch/cli/textable.lua",
    ["clinch.cli.trace"] = "lua/clinch/cli/trace.lua",
    ["clinch.cli.tty"] = "lua/clinch/cli/tty.lua",
    ["clinch.client"] = "lua/clinch/client.lua",
    ["clinch.config"] = "lua/clinch/config.lua",
    ["clinch.contract"] = "lua/clinch/contract.lua",
    ["clinch.defaults"] = "lua/clinch/defaults.lua",
    ["clinch.errors"] = "lua/clinch/errors.lua",
    ["clinch.jsonapi"] = "lua/clinch/jsonapi.lua",
    ["clinch.limiter"] = "lua/clinch/limiter.lua",
    ["clinch.link"] = "lua/clinch/link.lua",
    ["clinch.parallel"] = "lua/clinch/parallel.lua",
    ["clinch.pretty"] = "lua/clinch/pretty.lua",
    ["clinch.registry"] = "lua/clinch/registry.lua",
    ["clinch.resource"] = "lua/clinch/resource.lua",
    ["clinch.resources.candidates"] = "lua/clinch/resources/candidates.lua",
    ["clinch.resources.jobs"] = "lua/clinch/resources/jobs.lua",
    ["clinch.resources.lists"] = "lua/clinch/resources/lists.lua",
    ["clinch.retry"] = "lua/clinch/retry.lua",
    ["clinch.schema"] = "lua/clinch/schema.lua",
    ["clinch.tables"] = "lua/clinch/tables.lua",
    ["clinch.text"] = "lua/clinch/text.lua",
    ["clinch.time"] = "lua/clinch/time.lua",
    ["clinch.transport"] = "lua/clinch/transport/init.lua",
    ["clinch.transport.cosocket"] = "lua/clinch/transport/cosocket.lua",
    ["clinch.transport.curl"] = "lua/clinch/transport/curl.lua",
    ["clinch.uri"] = "lua/clinch/uri.lua",
    ["clinch.validate"] = "lua/clinch/validate.lua",
    },
    bin = {
      ["clinch"] = "bin/clinch",
    },
  },
  -- The LuaLS annotations (scripts/gen-types.lua), kept in the rock's directory (README "Editor hints").
  copy_directories = { "types" },
}
