# What `cmake --install` puts under a prefix: the program, both libraries, the headers under
# include/mist/, the shipped weights, mist.pc, a CMake package (find_package(mist) gives
# mist::mist, the shared library, and mist::mist_static) and the Python package.
include(CMakePackageConfigHelpers)

# `cmake --install` never builds, and a tree where only `mist` was built (scripts/demo.sh)
# would fail on the first missing library: build what the install needs first.
install(CODE "
  set(_mist_missing)
  foreach(_f \"$<TARGET_FILE:mist>\" \"$<TARGET_FILE:mist_static>\" \"$<TARGET_FILE:mist_shared>\")
    if(NOT EXISTS \"\${_f}\")
      list(APPEND _mist_missing \"\${_f}\")
    endif()
  endforeach()
  if(_mist_missing)
    message(STATUS \"mist: building what the install needs: \${_mist_missing}\")
    execute_process(COMMAND \"${CMAKE_COMMAND}\" --build \"${PROJECT_BINARY_DIR}\"
      --target mist mist_static mist_shared RESULT_VARIABLE _mist_rc)
    if(_mist_rc)
      message(FATAL_ERROR \"mist: building the install's targets failed (\${_mist_rc})\")
    endif()
  endif()")

set_target_properties(mist_shared PROPERTIES EXPORT_NAME mist)
set_target_properties(mist_static PROPERTIES EXPORT_NAME mist_static)
install(TARGETS mist RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS mist_static mist_shared EXPORT mistTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${MIST_PUBLIC_HEADERS} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/mist)
file(GLOB MIST_SHIPPED_WEIGHTS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/weights/*.msgpack
  ${PROJECT_SOURCE_DIR}/weights/*.md)
install(FILES ${MIST_SHIPPED_WEIGHTS} DESTINATION ${CMAKE_INSTALL_DATADIR}/mist/weights)

set(MIST_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/mist)
install(EXPORT mistTargets NAMESPACE mist:: DESTINATION ${MIST_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/mistConfig.cmake.in
  ${PROJECT_BINARY_DIR}/mistConfig.cmake INSTALL_DESTINATION ${MIST_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/mistConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/mistConfig.cmake ${PROJECT_BINARY_DIR}/mistConfigVersion.cmake
  DESTINATION ${MIST_CMAKE_DIR})

# mist.pc names the prefix given at install time (`cmake --install build --prefix P`), not the
# one configured, so it is written when the install runs (bracket arguments keep ${prefix}).
foreach(_d LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_d}}")
    set(MIST_PC_${_d} "${CMAKE_INSTALL_${_d}}")
  else()
    set(MIST_PC_${_d} "\${prefix}/${CMAKE_INSTALL_${_d}}")
  endif()
endforeach()
install(CODE "
  set(PROJECT_VERSION \"${PROJECT_VERSION}\")
  set(MIST_PC_LIBDIR [=[${MIST_PC_LIBDIR}]=])
  set(MIST_PC_INCLUDEDIR [=[${MIST_PC_INCLUDEDIR}]=])
  set(MIST_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  configure_file(\"${PROJECT_SOURCE_DIR}/mist.pc.in\" \"${PROJECT_BINARY_DIR}/install-pc/mist.pc\" @ONLY)
  file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig\"
    TYPE FILE FILES \"${PROJECT_BINARY_DIR}/install-pc/mist.pc\")")

# The Python package goes where Debian's python3 looks under the prefix:
# lib/python3.X/dist-packages is on its path both for /usr and /usr/local.
find_package(Python3 COMPONENTS Interpreter QUIET)
if(Python3_FOUND)
  set(_mist_py "lib/python${Python3_VERSION_MAJOR}.${Python3_VERSION_MINOR}/dist-packages")
else()
  set(_mist_py "lib/python3/dist-packages")
endif()
set(MIST_INSTALL_PYTHONDIR "${_mist_py}" CACHE STRING
  "Where the Python package mist goes, relative to the prefix")
# The package finds libmist from its own place: the way from its folder to the libdir.
file(RELATIVE_PATH MIST_PY_TO_LIBDIR "${CMAKE_INSTALL_PREFIX}/${MIST_INSTALL_PYTHONDIR}/mist"
  "${CMAKE_INSTALL_FULL_LIBDIR}")
configure_file(${PROJECT_SOURCE_DIR}/python/mist/_install.py.in
  ${PROJECT_BINARY_DIR}/python/_install.py @ONLY)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/python/mist/ DESTINATION ${MIST_INSTALL_PYTHONDIR}/mist
  FILES_MATCHING PATTERN "*.py" PATTERN "__pycache__" EXCLUDE)
install(FILES ${PROJECT_BINARY_DIR}/python/_install.py
  DESTINATION ${MIST_INSTALL_PYTHONDIR}/mist)
