# mpi_launch/launch.cmake - included from the top-level CMakeLists.txt.
#
# lumen-run, the launcher (mpi_launch/lumen-run, a bash script): copied into the
# build tree as <build>/bin/lumen-run, where the tests (tests/launch/) and users
# of the build tree run it, and installed to <prefix>/bin. The copy has the
# launcher this build was configured with (MPIEXEC_EXECUTABLE) as its default,
# so a lumen built against MPICH is started with MPICH's mpiexec.
set(LUMEN_RUN_MPIEXEC "${MPIEXEC_EXECUTABLE}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/lumen-run ${CMAKE_BINARY_DIR}/bin/lumen-run @ONLY
  FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE
                   GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
install(PROGRAMS ${CMAKE_BINARY_DIR}/bin/lumen-run DESTINATION ${CMAKE_INSTALL_BINDIR})
