# Installs the npm MCP servers the tools tests use into the build tree, exactly as
# package-lock.json pins them. Run by ctest as the fixture setup `setup.tools_npm`:
#   cmake -DNPM_DIR=<build>/npm -DSOURCE_DIR=<this folder> -P npm_setup.cmake
# Skips the install when the same lock file was installed before.
cmake_minimum_required(VERSION 3.25)

find_program(NPM_PROGRAM npm)
find_program(NODE_PROGRAM node)
if(NOT NPM_PROGRAM OR NOT NODE_PROGRAM)
  message(FATAL_ERROR
    "The MCP tests need Node.js and npm (to install @modelcontextprotocol/server-everything "
    "from the npm registry), and they are not installed. Install them: "
    "apt-get install nodejs npm (or run `make deps`).")
endif()

file(MAKE_DIRECTORY "${NPM_DIR}")
file(COPY "${SOURCE_DIR}/package.json" "${SOURCE_DIR}/package-lock.json" DESTINATION "${NPM_DIR}")
file(SHA256 "${SOURCE_DIR}/package-lock.json" lock_hash)
set(stamp "${NPM_DIR}/installed.stamp")
set(marker "${NPM_DIR}/node_modules/@modelcontextprotocol/server-everything/package.json")
if(EXISTS "${stamp}" AND EXISTS "${marker}")
  file(READ "${stamp}" installed_hash)
  if(installed_hash STREQUAL lock_hash)
    message(STATUS "npm MCP servers already installed in ${NPM_DIR}")
    return()
  endif()
endif()

message(STATUS "installing npm MCP servers into ${NPM_DIR}")
execute_process(
  COMMAND "${NPM_PROGRAM}" ci --no-audit --no-fund --loglevel=error --prefix "${NPM_DIR}"
  RESULT_VARIABLE result
  OUTPUT_VARIABLE output
  ERROR_VARIABLE output
  TIMEOUT 600)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "npm ci failed (${result}); is the npm registry reachable?\n${output}")
endif()
file(WRITE "${stamp}" "${lock_hash}")
