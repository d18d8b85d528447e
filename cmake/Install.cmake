# `cmake --install <build> --prefix P` lays out:
#   P/bin/perdiem                              the command
#   P/lib/libperdiem.so{,.0,.0.1.0}, libperdiem.a
#   P/include/perdiem/*.h{,pp}                 the public headers, nothing else
#   P/lib/cmake/perdiem/                       find_package(perdiem CONFIG)
#   P/lib/pkgconfig/perdiem.pc                 pkg-config perdiem
#   P/share/perdiem/scripts/                   the Lua plan library (require "perdiem.*")
# Included at the end of sdk/CMakeLists.txt; directories come from cmake/InstallPaths.cmake.
include(CMakePackageConfigHelpers)

# The installed static library re-creates its dependencies in perdiemConfig.cmake.in under
# the names in PERDIEM_STATIC_INSTALL_DEPS (cmake/InstallPaths.cmake). A dependency added
# to PERDIEM_LINK_DEPS must be added there too; stop the configure until it is.
set(PERDIEM_STATIC_DEPS_KNOWN
  CURL::libcurl SQLite::SQLite3 Threads::Threads PkgConfig::SODIUM PkgConfig::SECP256K1
  PkgConfig::CRYPTOPP PkgConfig::LUA PkgConfig::HTTPLIB mimalloc
  nlohmann_json::nlohmann_json)  # header-only: nothing to link
foreach(dep IN LISTS PERDIEM_LINK_DEPS)
  if(NOT dep IN_LIST PERDIEM_STATIC_DEPS_KNOWN)
    message(FATAL_ERROR "libperdiem links ${dep}, which the installed package does not "
      "know: add it to PERDIEM_STATIC_INSTALL_DEPS (cmake/InstallPaths.cmake), to "
      "cmake/perdiemConfig.cmake.in and cmake/perdiem.pc.in, then to the list above")
  endif()
endforeach()

foreach(lib perdiem perdiem_static)
  target_include_directories(${lib} INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  if(PERDIEM_SANITIZE)
    # An ASan-built library only loads into an ASan-built program: the package says so.
    target_link_options(${lib} INTERFACE $<INSTALL_INTERFACE:-fsanitize=address,undefined>)
  endif()
endforeach()
set(PERDIEM_PC_SANITIZE_FLAGS "")
if(PERDIEM_SANITIZE)
  set(PERDIEM_PC_SANITIZE_FLAGS "-fsanitize=address,undefined")
endif()

# The command finds the shared library beside its own install, wherever the prefix is.
file(RELATIVE_PATH PERDIEM_BIN_TO_LIB "/p/${CMAKE_INSTALL_BINDIR}" "/p/${CMAKE_INSTALL_LIBDIR}")
set_target_properties(perdiem_cli PROPERTIES INSTALL_RPATH "$ORIGIN/${PERDIEM_BIN_TO_LIB}")

# Two export sets: the shared library needs nothing else from the user's system, the
# static one needs its dependencies' development files, looked up only when asked for.
install(TARGETS perdiem EXPORT perdiemTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS perdiem_static EXPORT perdiemStaticTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS perdiem_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/sdk/include/perdiem
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h" PATTERN "*.hpp")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/scripts/ DESTINATION ${PERDIEM_INSTALL_SCRIPTSDIR}
  FILES_MATCHING PATTERN "*.lua")

install(EXPORT perdiemTargets NAMESPACE perdiem:: DESTINATION ${PERDIEM_INSTALL_CMAKEDIR})
install(EXPORT perdiemStaticTargets NAMESPACE perdiem:: DESTINATION ${PERDIEM_INSTALL_CMAKEDIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/perdiemConfig.cmake.in
  ${PROJECT_BINARY_DIR}/perdiemConfig.cmake INSTALL_DESTINATION ${PERDIEM_INSTALL_CMAKEDIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR PERDIEM_INSTALL_SCRIPTSDIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/perdiemConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/perdiemConfig.cmake
              ${PROJECT_BINARY_DIR}/perdiemConfigVersion.cmake
  DESTINATION ${PERDIEM_INSTALL_CMAKEDIR})

# pkg-config: the prefix is computed from the .pc file's own place, so it is relocatable.
file(RELATIVE_PATH PERDIEM_PC_TO_PREFIX "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
string(REGEX REPLACE "/$" "" PERDIEM_PC_TO_PREFIX "${PERDIEM_PC_TO_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/perdiem.pc.in ${PROJECT_BINARY_DIR}/perdiem.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/perdiem.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
