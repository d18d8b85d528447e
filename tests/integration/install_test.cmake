# The installed package, used the way an app developer would (cmake -P script, run by ctest):
# install the built tree into a fresh prefix, check its layout, build examples/embed-cpp
# (find_package, shared and static) and examples/embed-c (pkg-config) against that prefix
# alone, run them on the sim provider and check what they print.
# Inputs (-D): BUILD_DIR SOURCE_DIR WORK_DIR GENERATOR C_COMPILER CXX_COMPILER BUILD_TYPE
cmake_minimum_required(VERSION 3.25)

foreach(var BUILD_DIR SOURCE_DIR WORK_DIR GENERATOR C_COMPILER CXX_COMPILER)
  if(NOT ${var})
    message(FATAL_ERROR "install_test.cmake needs -D${var}=...")
  endif()
endforeach()

# run(NAME <what> COMMAND ... [EXPECT text...]): fails the test unless the command exits 0
# and its standard output contains every EXPECT text.
function(run)
  cmake_parse_arguments(R "" "NAME" "COMMAND;EXPECT" ${ARGN})
  execute_process(COMMAND ${R_COMMAND} RESULT_VARIABLE code
                  OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT code EQUAL 0)
    message(FATAL_ERROR "${R_NAME} failed (${code}):\n${R_COMMAND}\n${out}\n${err}")
  endif()
  foreach(text IN LISTS R_EXPECT)
    string(FIND "${out}" "${text}" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "${R_NAME}: output lacks '${text}':\n${out}\n${err}")
    endif()
  endforeach()
  message(STATUS "ok: ${R_NAME}")
endfunction()

# The prefix sits outside the build tree: an installed library finds its plan library
# relative to itself, not through the build tree (sdk/src/install_paths.hpp).
file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")
run(NAME install COMMAND ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")

# The layout: lib/ as on any non-Debian-multiarch prefix (GNUInstallDirs gives lib).
foreach(file bin/perdiem lib/libperdiem.so lib/libperdiem.so.0 lib/libperdiem.a
             include/perdiem/perdiem.h include/perdiem/perdiem.hpp include/perdiem/export.h
             lib/cmake/perdiem/perdiemConfig.cmake lib/cmake/perdiem/perdiemConfigVersion.cmake
             lib/cmake/perdiem/perdiemTargets.cmake lib/cmake/perdiem/perdiemStaticTargets.cmake
             lib/pkgconfig/perdiem.pc share/perdiem/scripts)
  if(NOT EXISTS "${prefix}/${file}")
    message(FATAL_ERROR "the install lacks ${file}")
  endif()
endforeach()
# Only the public headers: nothing from runtime/, wallet/ or tools/ leaks.
file(GLOB_RECURSE installed_headers RELATIVE "${prefix}/include" "${prefix}/include/*")
file(GLOB_RECURSE public_headers RELATIVE "${SOURCE_DIR}/sdk/include" "${SOURCE_DIR}/sdk/include/*")
list(SORT installed_headers)
list(SORT public_headers)
if(NOT installed_headers STREQUAL public_headers)
  message(FATAL_ERROR "installed headers ${installed_headers} != public ${public_headers}")
endif()
# Every Lua module of the plan library is installed.
file(GLOB_RECURSE modules RELATIVE "${SOURCE_DIR}/scripts" "${SOURCE_DIR}/scripts/*.lua")
foreach(module IN LISTS modules)
  if(NOT EXISTS "${prefix}/share/perdiem/scripts/${module}")
    message(FATAL_ERROR "the install lacks the plan library's ${module}")
  endif()
endforeach()

# The installed command runs from its prefix (RPATH $ORIGIN/../lib).
run(NAME "installed perdiem --version" COMMAND "${prefix}/bin/perdiem" --version EXPECT "0.")

# Configure and build one example against the prefix alone: no package registry, and
# pkg-config sees only the prefix's own .pc plus the system's.
function(build_example name source)
  set(dir "${WORK_DIR}/${name}")
  run(NAME "configure ${name}" COMMAND ${CMAKE_COMMAND} -E env
        "PKG_CONFIG_PATH=${prefix}/lib/pkgconfig"
      ${CMAKE_COMMAND} -S "${source}" -B "${dir}" -G "${GENERATOR}"
        "-DCMAKE_PREFIX_PATH=${prefix}" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
        "-DCMAKE_C_COMPILER=${C_COMPILER}" "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
        "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}"
        # The public headers must compile cleanly under an app's strict warnings.
        "-DCMAKE_C_FLAGS=-Wall -Wextra -Wpedantic -Werror"
        "-DCMAKE_CXX_FLAGS=-Wall -Wextra -Wpedantic -Wshadow -Werror" ${ARGN})
  run(NAME "build ${name}" COMMAND ${CMAKE_COMMAND} --build "${dir}")
endfunction()

build_example(embed-cpp "${SOURCE_DIR}/examples/embed-cpp")
build_example(embed-cpp-static "${SOURCE_DIR}/examples/embed-cpp"
              -DPERDIEM_LIBRARY=perdiem::perdiem_static)
build_example(embed-c "${SOURCE_DIR}/examples/embed-c")

# Run them on the sim provider, whatever the caller's environment names. They find
# libperdiem.so through the RPATH CMake gave them, not LD_LIBRARY_PATH.
set(env ${CMAKE_COMMAND} -E env --unset=LD_LIBRARY_PATH --unset=OPENROUTER_API_KEY
    --unset=PERDIEM_BASE_URL --unset=PERDIEM_MODEL PERDIEM_PROVIDER=sim
    "PERDIEM_HOME=${WORK_DIR}/home")
set(answer "answer: sim: I received your message: What is DIEM?")
foreach(app embed-cpp/embed-cpp embed-cpp-static/embed-cpp embed-c/embed-c)
  run(NAME "${app}" COMMAND ${env} "${WORK_DIR}/${app}" "What is DIEM?"
      EXPECT "${answer}" "run id: run-" "served by: sim")
endforeach()
run(NAME "embed-cpp host tool" COMMAND ${env} "${WORK_DIR}/embed-cpp/embed-cpp" "x"
    EXPECT "notes kept by the app's tool: 1")
run(NAME "embed-cpp cost" COMMAND ${env} "${WORK_DIR}/embed-cpp/embed-cpp" "x"
    EXPECT "cost: $0.00 over 1 model call(s)" "runs: 1 started, 0 still running")
run(NAME "embed-c cost" COMMAND ${env} "${WORK_DIR}/embed-c/embed-c" "x"
    EXPECT "cost: 0 nano-USD over 1 model call(s)")
# A plan file with arguments, through each API.
run(NAME "embed-c --file" COMMAND ${env} "${WORK_DIR}/embed-c/embed-c"
      --file "${SOURCE_DIR}/examples/agents/hello.lua" "What is DIEM?"
    EXPECT "sim: I received your message: What is DIEM?" "(served by sim")
run(NAME "embed-cpp --file" COMMAND ${env} "${WORK_DIR}/embed-cpp/embed-cpp"
      --file "${SOURCE_DIR}/examples/agents/hello.lua" "What is DIEM?"
    EXPECT "sim: I received your message: What is DIEM?" "(served by sim")

# A failing agent is an error value: exit code 1 and the kind and place on stderr.
file(WRITE "${WORK_DIR}/broken.lua" "local x = nil\nreturn x.field\n")
foreach(app embed-cpp/embed-cpp embed-c/embed-c)
  execute_process(COMMAND ${env} "${WORK_DIR}/${app}" --file "${WORK_DIR}/broken.lua"
                  RESULT_VARIABLE code OUTPUT_QUIET ERROR_VARIABLE err)
  string(FIND "${err}" "broken.lua:2" at)
  if(NOT code EQUAL 1 OR at EQUAL -1 OR NOT err MATCHES "agent failed: script")
    message(FATAL_ERROR "${app} on a broken plan: exit ${code}, stderr:\n${err}")
  endif()
  message(STATUS "ok: ${app} reports a broken plan")
endforeach()

file(REMOVE_RECURSE "${WORK_DIR}")
