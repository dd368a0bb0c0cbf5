# tests/launch/launch.cmake - included from tests/CMakeLists.txt: the tests of
# lumen-run (mpi_launch/), each a bash script in this folder run on the
# build-tree copy <build>/bin/lumen-run.
#
# They run with the launcher this build found (LUMEN_MPIEXEC=MPIEXEC_EXECUTABLE)
# and its flavour, so an MPICH build folder checks lumen-run with MPICH; each
# flag check also runs against fake Open MPI and MPICH launchers (lib.sh), so
# both flavours are covered in every build folder. They drop the suite's
# OMPI_ALLOW_RUN_AS_ROOT* and OMPI_MCA_rmaps_base_oversubscribe settings:
# root and oversubscription are lumen-run's job here.
if(LUMEN_MPI_FLAVOR STREQUAL "Open MPI")
  set(_launch_flavor openmpi)
elseif(LUMEN_MPI_FLAVOR STREQUAL "MPICH")
  set(_launch_flavor mpich)
else()
  set(_launch_flavor unknown)
endif()
set(_launch_env ${LUMEN_TEST_ENV}
  LUMEN_MPIEXEC=${MPIEXEC_EXECUTABLE}
  LAUNCH_TEST_MPI_FLAVOR=${_launch_flavor}
  LAUNCH_TEST_BUILD_MPIEXEC=${MPIEXEC_EXECUTABLE})
set(_lumen_run ${CMAKE_BINARY_DIR}/bin/lumen-run)

# dry runs and fake launchers: quick, one CPU
foreach(_t binds_when_ranks_fit oversubscribes_beyond_cores forwards_lumen_env
           lets_open_mpi_run_as_root counts_hostfile_and_slurm_slots
           rejects_bad_arguments finds_or_reports_launcher execs_launcher)
  add_test(NAME launch_${_t}
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/${_t}.sh ${_lumen_run})
  set_tests_properties(launch_${_t} PROPERTIES TIMEOUT 60 ENVIRONMENT "${_launch_env}")
endforeach()
# forwards_lumen_env and execs_launcher also start 2 real ranks
set_tests_properties(launch_forwards_lumen_env launch_execs_launcher PROPERTIES PROCESSORS 2)

# the first example through lumen-run, as a user would start it
if(TARGET quickstart)
  foreach(_np 2 4)
    add_test(NAME launch_quickstart_np${_np}
      COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/runs_quickstart.sh ${_lumen_run}
              $<TARGET_FILE:quickstart> ${_np})
    set_tests_properties(launch_quickstart_np${_np} PROPERTIES
      TIMEOUT 120 PROCESSORS ${_np} ENVIRONMENT "${_launch_env}")
  endforeach()
endif()
