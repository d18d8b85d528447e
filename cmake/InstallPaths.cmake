# Install directories, and the paths libperdiem compiles in to find its Lua plan library
# (sdk/src/install_paths.hpp). Included from sdk/CMakeLists.txt before its targets.
include(GNUInstallDirs)

set(PERDIEM_INSTALL_SCRIPTSDIR ${CMAKE_INSTALL_DATADIR}/perdiem/scripts)
set(PERDIEM_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/perdiem)

# perdiem_relative_path(OUT FROM TO): install directory TO as seen from FROM. Relative
# directories are compared under a stand-in prefix, so the result survives
# `cmake --install --prefix` and a moved prefix; an absolute TO stays absolute.
function(perdiem_relative_path out from to)
  if(IS_ABSOLUTE "${to}")
    set(${out} "${to}" PARENT_SCOPE)
    return()
  endif()
  if(NOT IS_ABSOLUTE "${from}")
    set(from "/perdiem-prefix/${from}")
  endif()
  file(RELATIVE_PATH relative "${from}" "/perdiem-prefix/${to}")
  set(${out} "${relative}" PARENT_SCOPE)
endfunction()

perdiem_relative_path(PERDIEM_SCRIPTS_FROM_LIBDIR ${CMAKE_INSTALL_LIBDIR} ${PERDIEM_INSTALL_SCRIPTSDIR})
perdiem_relative_path(PERDIEM_SCRIPTS_FROM_BINDIR ${CMAKE_INSTALL_BINDIR} ${PERDIEM_INSTALL_SCRIPTSDIR})
# Only this file needs the paths: changing them must not rebuild the whole SDK.
set_property(SOURCE ${PROJECT_SOURCE_DIR}/sdk/src/install_paths.cpp APPEND PROPERTY
             COMPILE_DEFINITIONS
  PERDIEM_BUILD_DIR="${PROJECT_BINARY_DIR}"
  PERDIEM_SOURCE_SCRIPTS_DIR="${PROJECT_SOURCE_DIR}/scripts"
  PERDIEM_SCRIPTS_FROM_LIBDIR="${PERDIEM_SCRIPTS_FROM_LIBDIR}"
  PERDIEM_SCRIPTS_FROM_BINDIR="${PERDIEM_SCRIPTS_FROM_BINDIR}")

# What the installed static library links, under the names perdiemConfig.cmake gives them
# (its own pkg-config prefixes, so they cannot clash with an app's PkgConfig:: targets).
# nlohmann_json and cpp-httplib's headers are used inside the library only; cpp-httplib
# is also a compiled library on Debian, so it is linked.
set(PERDIEM_STATIC_INSTALL_DEPS
  CURL::libcurl SQLite::SQLite3 Threads::Threads
  PkgConfig::perdiem_sodium PkgConfig::perdiem_secp256k1 PkgConfig::perdiem_cryptopp
  PkgConfig::perdiem_lua PkgConfig::perdiem_httplib mimalloc)
