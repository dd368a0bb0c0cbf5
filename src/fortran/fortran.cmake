# src/fortran/fortran.cmake - lumen's Fortran module, included from the top
# CMakeLists.txt after the targets lumen and lumen_static exist.
#
# With a Fortran compiler (and LUMEN_FORTRAN on) it builds liblumen_fortran:
# module lumen (lumen.f90 and the modules it uses: lumen_c.f90,
# lumen_objects.f90, lumen_task.f90) and its C shim (lumen_fortran.c),
# linked to liblumen, and installs it with its .mod files. The Fortran
# examples (examples/fortran/) are built with LUMEN_BUILD_EXAMPLES; the
# library-mode one (insitu.f90) also needs MPI's Fortran bindings (mpi_f08)
# from the same MPI as the C library. Without a Fortran compiler nothing here
# is built and the rest of lumen configures as before. For tests/fortran:
#   LUMEN_FORTRAN_ENABLED       the module is built
#   LUMEN_FORTRAN_MPI           MPI::MPI_Fortran is usable (same MPI as MPI::MPI_C)
#   LUMEN_FORTRAN_MPI_STATUS    what was found, or why not
#   lumen_fortran_executable(name source [MPI])   a program using the module
option(LUMEN_FORTRAN "Build the Fortran module (module lumen) when a Fortran compiler is found" ON)
set(LUMEN_FORTRAN_ENABLED OFF)
set(LUMEN_FORTRAN_MPI OFF)
set(LUMEN_FORTRAN_SUMMARY "off (LUMEN_FORTRAN=OFF)")

if(LUMEN_FORTRAN)
  include(CheckLanguage)
  check_language(Fortran)
  if(CMAKE_Fortran_COMPILER)
    enable_language(Fortran)
    set(LUMEN_FORTRAN_ENABLED ON)
  else()
    set(LUMEN_FORTRAN_SUMMARY "off (no Fortran compiler found)")
    message(STATUS "lumen: no Fortran compiler found; module lumen is not built")
  endif()
endif()

if(LUMEN_FORTRAN_ENABLED)
  # ---- MPI's Fortran bindings, from the MPI the C library uses -------------------
  # FindMPI would otherwise take the first mpif90 on PATH, which may be
  # another MPI than -DMPI_C_COMPILER=mpicc.mpich: look next to the C wrapper,
  # with its suffix, first (mpicc.mpich -> mpif90.mpich).
  if(NOT MPI_Fortran_COMPILER AND MPI_C_COMPILER)
    get_filename_component(_lf_dir "${MPI_C_COMPILER}" DIRECTORY)
    get_filename_component(_lf_name "${MPI_C_COMPILER}" NAME)
    if(_lf_name MATCHES "^mpicc(.*)$")
      find_program(_lf_mpifort NAMES mpif90${CMAKE_MATCH_1} mpifort${CMAKE_MATCH_1}
                   HINTS "${_lf_dir}" NO_CACHE)
      if(_lf_mpifort)
        set(MPI_Fortran_COMPILER "${_lf_mpifort}" CACHE FILEPATH "MPI Fortran compiler wrapper" FORCE)
      endif()
    endif()
  endif()
  find_package(MPI QUIET COMPONENTS Fortran)
  set(_lf_same_mpi ${MPI_Fortran_FOUND})
  foreach(_lf_lib IN LISTS MPI_C_LIBRARIES)
    if(NOT _lf_lib IN_LIST MPI_Fortran_LIBRARIES)
      set(_lf_same_mpi OFF)
    endif()
  endforeach()
  if(_lf_same_mpi AND MPI_Fortran_HAVE_F08_MODULE)
    set(LUMEN_FORTRAN_MPI ON)
    set(_lf_mpi "mpi_f08 via ${MPI_Fortran_COMPILER}")
  elseif(NOT MPI_Fortran_FOUND)
    set(_lf_mpi "no MPI Fortran bindings found: library-mode example and test skipped")
  elseif(NOT _lf_same_mpi)
    set(_lf_mpi "MPI Fortran (${MPI_Fortran_COMPILER}) is not the MPI of the C library: library-mode example and test skipped (set MPI_Fortran_COMPILER)")
  else()
    set(_lf_mpi "no mpi_f08 module: library-mode example and test skipped")
  endif()
  set(LUMEN_FORTRAN_MPI_STATUS "${_lf_mpi}")
  set(LUMEN_FORTRAN_SUMMARY
      "${CMAKE_Fortran_COMPILER_ID} ${CMAKE_Fortran_COMPILER_VERSION}, module lumen, MPI: ${_lf_mpi}")

  # ---- flags ---------------------------------------------------------------------------
  # Remote functions run on executor threads: -frecursive keeps every local
  # variable on the stack (gfortran puts large ones in static memory otherwise).
  # The tests compare reals exactly on purpose.
  set(LUMEN_FORTRAN_FLAGS "")
  if(CMAKE_Fortran_COMPILER_ID STREQUAL "GNU")
    set(LUMEN_FORTRAN_FLAGS -Wall -Wextra -Wno-compare-reals -frecursive)
    if(LUMEN_WERROR)
      list(APPEND LUMEN_FORTRAN_FLAGS -Werror)
    endif()
  endif()

  # ---- liblumen_fortran ------------------------------------------------------------------
  set(_lf_moddir ${PROJECT_BINARY_DIR}/fortran/include)
  add_library(lumen_fortran SHARED
    ${CMAKE_CURRENT_LIST_DIR}/lumen.f90
    ${CMAKE_CURRENT_LIST_DIR}/lumen_c.f90
    ${CMAKE_CURRENT_LIST_DIR}/lumen_objects.f90
    ${CMAKE_CURRENT_LIST_DIR}/lumen_task.f90
    ${CMAKE_CURRENT_LIST_DIR}/lumen_fortran.c)
  set_target_properties(lumen_fortran PROPERTIES
    Fortran_MODULE_DIRECTORY ${_lf_moddir}
    VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR})
  target_compile_options(lumen_fortran PRIVATE
    $<$<COMPILE_LANGUAGE:C>:${LUMEN_WARNINGS}>
    $<$<COMPILE_LANGUAGE:Fortran>:${LUMEN_FORTRAN_FLAGS}>)
  target_include_directories(lumen_fortran PUBLIC
    $<BUILD_INTERFACE:${_lf_moddir}>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/lumen/fortran>)
  target_link_libraries(lumen_fortran PUBLIC lumen)
  add_library(lumen::lumen_fortran ALIAS lumen_fortran)

  install(TARGETS lumen_fortran EXPORT lumenTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  # .mod files only work with the compiler that wrote them; lumen.mod needs the others
  install(DIRECTORY ${_lf_moddir}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/lumen/fortran
          FILES_MATCHING PATTERN "*.mod")

  # lumen_fortran_executable(name source [MPI]): a Fortran program using module
  # lumen; MPI adds MPI::MPI_Fortran (only when LUMEN_FORTRAN_MPI)
  function(lumen_fortran_executable name source)
    cmake_parse_arguments(F "MPI" "" "" ${ARGN})
    add_executable(${name} ${source})
    set_target_properties(${name} PROPERTIES
      Fortran_MODULE_DIRECTORY ${PROJECT_BINARY_DIR}/fortran/${name}.mod
      RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/fortran)
    target_compile_options(${name} PRIVATE ${LUMEN_FORTRAN_FLAGS})
    target_link_libraries(${name} PRIVATE lumen_fortran)
    if(F_MPI)
      target_link_libraries(${name} PRIVATE MPI::MPI_Fortran)
    endif()
  endfunction()

  if(LUMEN_BUILD_EXAMPLES)
    lumen_fortran_executable(fortran_pi ${PROJECT_SOURCE_DIR}/examples/fortran/pi.f90)
    if(LUMEN_FORTRAN_MPI)
      lumen_fortran_executable(fortran_insitu ${PROJECT_SOURCE_DIR}/examples/fortran/insitu.f90 MPI)
    endif()
  endif()
endif()

# The top CMakeLists.txt prints its summary after this file: add the Fortran
# line once it has.
cmake_language(DEFER CALL message STATUS "  Fortran       : ${LUMEN_FORTRAN_SUMMARY}")
