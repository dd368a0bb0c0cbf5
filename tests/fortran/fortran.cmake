# tests/fortran/fortran.cmake - included from tests/CMakeLists.txt: module
# lumen from Fortran (src/fortran/). Each program runs under mpiexec once per
# rank count (LUMEN_TEST_RANKS: 1, 2, 4), as lumen_mpi_test runs the C tests:
#   fortran_bindings  every binding: values of each type both ways, tasks
#                     written in Fortran, errors and their messages, wait,
#                     timeouts, cancel (tests/fortran/bindings.f90)
#   fortran_pi        examples/fortran/pi.f90: exits non-zero when the
#                     estimate is off by 0.01 or more
#   fortran_insitu    examples/fortran/insitu.f90: library mode on a
#                     sub-communicator inside a Fortran MPI program; needs MPI's
#                     Fortran bindings of the MPI the C library uses
# What cannot run here (no Fortran compiler, no matching MPI Fortran) is
# registered as a test that reports the reason and is skipped (exit 77).

function(lumen_fortran_skipped name reason)
  foreach(np IN LISTS LUMEN_TEST_RANKS)
    add_test(NAME ${name}_np${np} COMMAND sh -c "echo '${name} skipped: ${reason}'; exit 77")
    set_tests_properties(${name}_np${np} PROPERTIES SKIP_RETURN_CODE 77 LABELS fortran)
  endforeach()
endfunction()

if(NOT LUMEN_FORTRAN_ENABLED)
  foreach(_lf_t fortran_bindings fortran_pi fortran_insitu)
    lumen_fortran_skipped(${_lf_t} "no Fortran compiler (or LUMEN_FORTRAN=OFF)")
  endforeach()
  return()
endif()

# the examples are built here too when LUMEN_BUILD_EXAMPLES is off
if(NOT TARGET fortran_pi)
  lumen_fortran_executable(fortran_pi ${PROJECT_SOURCE_DIR}/examples/fortran/pi.f90)
endif()
if(LUMEN_FORTRAN_MPI AND NOT TARGET fortran_insitu)
  lumen_fortran_executable(fortran_insitu ${PROJECT_SOURCE_DIR}/examples/fortran/insitu.f90 MPI)
endif()
lumen_fortran_executable(fortran_bindings ${CMAKE_CURRENT_LIST_DIR}/bindings.f90)

set(_lf_tests fortran_bindings fortran_pi)
if(LUMEN_FORTRAN_MPI)
  list(APPEND _lf_tests fortran_insitu)
else()
  lumen_fortran_skipped(fortran_insitu "${LUMEN_FORTRAN_MPI_STATUS}")
endif()

foreach(_lf_t IN LISTS _lf_tests)
  foreach(np IN LISTS LUMEN_TEST_RANKS)
    add_test(NAME ${_lf_t}_np${np}
      COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${np} ${LUMEN_MPIEXEC_EXTRA}
              ${MPIEXEC_PREFLAGS} $<TARGET_FILE:${_lf_t}> ${MPIEXEC_POSTFLAGS})
    # 77: fortran_insitu on an MPI without MPI_THREAD_MULTIPLE
    set_tests_properties(${_lf_t}_np${np} PROPERTIES TIMEOUT 180
      ENVIRONMENT "${LUMEN_TEST_ENV}" PROCESSORS ${np} SKIP_RETURN_CODE 77 LABELS fortran)
  endforeach()
endforeach()
