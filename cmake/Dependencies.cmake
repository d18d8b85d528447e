# Every dependency comes from Debian's packages (see the Makefile's DEBIAN_PACKAGES).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(CURL REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(SQLite3 REQUIRED)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
pkg_check_modules(SECP256K1 REQUIRED IMPORTED_TARGET libsecp256k1)
pkg_check_modules(CRYPTOPP REQUIRED IMPORTED_TARGET libcrypto++)
# Lua built as C++: a Lua error unwinds with an exception, so C++ destructors in
# binding code run instead of being skipped by longjmp.
pkg_check_modules(LUA REQUIRED IMPORTED_TARGET lua5.4-c++)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
# mimalloc: the Lua heaps of agents (runtime/lua/sandbox.cpp), and the perdiem command's
# process allocator. Thousands of agents are thousands of small heaps growing at once,
# which glibc's arenas serve with a syscall per page of growth.
find_package(mimalloc 2.0 REQUIRED)
if(PERDIEM_TESTS)
  find_package(doctest REQUIRED)
endif()

# perdiem_module(NAME SOURCES... [DEPS targets...]) declares one internal module.
function(perdiem_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} OBJECT ${M_SOURCES})
  target_include_directories(${name} PUBLIC ${PERDIEM_INTERNAL_INCLUDES})
  target_compile_definitions(${name} PRIVATE PERDIEM_BUILDING_LIBRARY)
  target_link_libraries(${name} PUBLIC ${M_DEPS})
endfunction()
