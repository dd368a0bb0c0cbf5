# tests/install.cmake - included from tests/CMakeLists.txt.
#
# install_consumer: `cmake --install` this build into a scratch prefix, then
# build tests/install/ against it with find_package(lumen) (lumen::lumen and
# lumen::lumen_static) and with pkg-config (shared and --static), and run each
# on 2 ranks. It gets the MPI compiler and launcher this build found, so an
# MPICH build is consumed with MPICH, and the sanitizer flags, so a sanitizer
# build is consumed by an instrumented program.
add_test(NAME install_consumer
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/install/run.sh
          --build-dir=${CMAKE_BINARY_DIR}
          --work=${CMAKE_CURRENT_BINARY_DIR}/install_consumer
          --cmake=${CMAKE_COMMAND}
          --cc=${CMAKE_C_COMPILER}
          --mpicc=${MPI_C_COMPILER}
          --mpiexec=${MPIEXEC_EXECUTABLE}
          --np-flag=${MPIEXEC_NUMPROC_FLAG}
          "--mpiexec-extra=${LUMEN_MPIEXEC_EXTRA}"
          "--sanitizer=${LUMEN_SANITIZER}")
set_tests_properties(install_consumer PROPERTIES
  TIMEOUT 300 PROCESSORS 2 ENVIRONMENT "${LUMEN_TEST_ENV}")

# The examples are what a new user runs first: run them on 4 ranks in every
# pass (Open MPI, sanitizers, MPICH). The pi example exits non-zero when its
# estimate is off by 0.01 or more; counter and parameter_server check their
# results (the printed counts, a falling loss) and exit non-zero otherwise;
# insitu (lumen inside an MPI simulation) checks its analyses and the heat;
# pipeline (a streaming generator feeding tasks) checks every block's result;
# sgd_allreduce (collective groups) checks a falling loss and equal weights.
foreach(_ex quickstart monte_carlo_pi counter parameter_server insitu pipeline sgd_allreduce)
  if(TARGET ${_ex} AND NOT TEST example_${_ex}_np4)
    add_test(NAME example_${_ex}_np4
      COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} 4 ${LUMEN_MPIEXEC_EXTRA}
              ${MPIEXEC_PREFLAGS} $<TARGET_FILE:${_ex}> ${MPIEXEC_POSTFLAGS})
    set_tests_properties(example_${_ex}_np4 PROPERTIES
      TIMEOUT 180 PROCESSORS 4 ENVIRONMENT "${LUMEN_TEST_ENV}")
  endif()
endforeach()
