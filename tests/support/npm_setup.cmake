# Installs a test's npm packages into the build tree, exactly as its package-lock.json pins
# them. Run by ctest as a fixture's setup:
#   cmake -DNPM_DIR=<build>/<dir> -DSOURCE_DIR=<folder with package.json and its lock>
#         -DMARKER=<a file under node_modules that the install leaves> -DWHAT=<for messages>
#         -P npm_setup.cmake
# Skips the install when the same lock file was installed before.
cmake_minimum_required(VERSION 3.25)

find_program(NPM_PROGRAM npm)
find_program(NODE_PROGRAM node)
if(NOT NPM_PROGRAM OR NOT NODE_PROGRAM)
  message(FATAL_ERROR
    "These tests need Node.js and npm (to install ${WHAT} from the npm registry), and they "
    "are not installed. Install them: apt-get install nodejs npm (or run `make test`, which "
    "does).")
endif()

file(MAKE_DIRECTORY "${NPM_DIR}")
file(COPY "${SOURCE_DIR}/package.json" "${SOURCE_DIR}/package-lock.json" DESTINATION "${NPM_DIR}")
file(SHA256 "${SOURCE_DIR}/package-lock.json" lock_hash)
set(stamp "${NPM_DIR}/installed.stamp")
set(marker "${NPM_DIR}/node_modules/${MARKER}")
if(EXISTS "${stamp}" AND EXISTS "${marker}")
  file(READ "${stamp}" installed_hash)
  if(installed_hash STREQUAL lock_hash)
    message(STATUS "${WHAT} already installed in ${NPM_DIR}")
    return()
  endif()
endif()

message(STATUS "installing ${WHAT} into ${NPM_DIR}")
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
