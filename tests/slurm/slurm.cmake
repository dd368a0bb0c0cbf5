# tests/slurm/slurm.cmake - included from tests/CMakeLists.txt.
#
# Each test starts a real single-node Slurm cluster of its own (Debian's
# slurm-wlm and munge, installed by the script when missing, as root), submits
# one job template from slurm/ with the quickstart example via `sbatch --wait`,
# checks the job's exit code and output, and tears the cluster down (see
# tests/slurm/slurm_cluster.sh). Without root, or when Slurm cannot be
# installed, the script says why and exits 77: ctest reports it as skipped.
#   slurm_one_node_cpu  slurm/one-node-cpu.sbatch: mpirun inside the allocation
#   slurm_srun_pmix     slurm/srun-pmix.sbatch: srun --mpi=pmix starts the ranks
#                       (skipped when this Slurm has no pmix plugin)
#   slurm_signal        the one-node template with tests/slurm/preempt_job.c:
#                       SIGUSR1 to the batch script (as --signal=B:USR1@T)
#                       runs every rank's checkpoint hook, the job ends with 0
#
# Only in an Open MPI build: the mpirun template is given this build's
# launcher and the test's settings (binding, root) are Open MPI's, and
# Debian's Slurm PMIx plugin pairs with Open MPI. An MPICH build's quickstart
# would need mpiexec.mpich (or srun --mpi=pmi2); that path is not tested.
#
# The script's --deadline (s) runs from the moment Slurm is there: cluster
# start, job and teardown take about 6 s here; past it the job is cancelled
# and the test fails. TIMEOUT leaves room for installing Slurm first (about
# 6 s from Debian's mirror here; each apt-get step has its own limit).
set(_slurm_expect
  "--expect=[0, 1, 4, 9]"
  "--expect=sum of put array: 8589869056 (expected 8589869056)"
  "--expect=square(3) + square(4) = 25 on 4 ranks")
if(TARGET quickstart AND LUMEN_MPI_FLAVOR STREQUAL "Open MPI")
  add_test(NAME slurm_one_node_cpu
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/slurm/slurm_cluster.sh
            --template=${PROJECT_SOURCE_DIR}/slurm/one-node-cpu.sbatch
            --program=$<TARGET_FILE:quickstart>
            --mpirun=${MPIEXEC_EXECUTABLE}
            --ntasks=4 --deadline=120 ${_slurm_expect})
  add_test(NAME slurm_srun_pmix
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/slurm/slurm_cluster.sh
            --template=${PROJECT_SOURCE_DIR}/slurm/srun-pmix.sbatch
            --program=$<TARGET_FILE:quickstart>
            --need-srun-mpi=pmix
            --ntasks=4 --deadline=120 ${_slurm_expect})
  # the end of an allocation: SIGUSR1 to the batch script reaches every rank's
  # checkpoint hook and the job stops cleanly
  add_executable(slurm_preempt_job ${CMAKE_CURRENT_SOURCE_DIR}/slurm/preempt_job.c)
  target_compile_options(slurm_preempt_job PRIVATE ${LUMEN_WARNINGS})
  target_link_libraries(slurm_preempt_job PRIVATE lumen)
  add_test(NAME slurm_signal
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/slurm/slurm_cluster.sh
            --template=${PROJECT_SOURCE_DIR}/slurm/one-node-cpu.sbatch
            --program=$<TARGET_FILE:slurm_preempt_job>
            --mpirun=${MPIEXEC_EXECUTABLE}
            --ntasks=4 --deadline=120
            "--signal-when=waiting for the end of the allocation"
            "--expect=checkpoint written by rank 0" "--expect=(rank 1) checkpoint written by rank 1"
            "--expect=(rank 2) checkpoint written by rank 2" "--expect=(rank 3) checkpoint written by rank 3"
            "--expect=preempted: stopping cleanly")
  set_tests_properties(slurm_one_node_cpu slurm_srun_pmix slurm_signal PROPERTIES
    TIMEOUT 600 SKIP_RETURN_CODE 77 PROCESSORS 4 LABELS slurm
    ENVIRONMENT "${LUMEN_TEST_ENV}")
endif()
