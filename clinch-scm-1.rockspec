rockspec_format = "3.0"
package = "clinch"
version = "scm-1"
source = {
  url = "git+https://github.com/lua-clinch/lua-clinch.git",
}
description = {
  summary = "Lua client for the PageUp Recruitment Marketing (Clinch Talent) API",
  detailed = [[
A C core (ApiAuth HMAC signing with OpenSSL, libcurl transport with keep-alive and parallel
requests, JSON:API decoding on top of lua-cjson) under a Lua layer that mirrors the API's
resources. Runs on Lua 5.1 (LuaJIT, OpenResty) to 5.4.
]],
  homepage = "https://github.com/lua-clinch/lua-clinch",
  license = "MIT",
}
dependencies = {
  "lua >= 5.1",
  "lua-cjson >= 2.1",
  "luasocket >= 3.0", -- only bin/clinch-mock needs it
}
external_dependencies = {
  OPENSSL = { header = "openssl/hmac.h", library = "crypto" },
  CURL = { header = "curl/curl.h", library = "curl" },
}
build = {
  type = "builtin",
  modules = {
    ["clinch.core"] = {
      sources = { "csrc/core.c" },
      defines = { "_DEFAULT_SOURCE" },
      libraries = { "curl", "crypto", "m" },
      incdirs = { "$(OPENSSL_INCDIR)", "$(CURL_INCDIR)" },
      libdirs = { "$(OPENSSL_LIBDIR)", "$(CURL_LIBDIR)" },
    },
  },
  install = {
    lua = {},
    bin = {},
  },
}
