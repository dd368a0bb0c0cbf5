# lumen's MPI tests: one executable per concern, each run under mpiexec with
# 1, 2 and 4 ranks unless RANKS says otherwise (lumen_mpi_test is defined in
# tests/CMakeLists.txt). Each test's header comment says what it proves.
lumen_mpi_test(task_basic)
lumen_mpi_test(task_dependencies)
lumen_mpi_test(task_dependencies ENV LUMEN_RANK_IS_NODE=1 SUFFIX _pernode)
lumen_mpi_test(task_nested)
lumen_mpi_test(task_nested ENV LUMEN_NUM_CPUS=1 SUFFIX _cpus1)
# one CPU per rank whatever the machine: test_parallel expects 2 sleepers on every rank
lumen_mpi_test(task_many ENV LUMEN_NUM_CPUS=1)
lumen_mpi_test(task_wakeup)
lumen_mpi_test(object_put_get)
lumen_mpi_test(object_put_get ENV LUMEN_RANK_IS_NODE=1 SUFFIX _pernode)
lumen_mpi_test(object_spill ENV LUMEN_STORE_CAPACITY=64M)
lumen_mpi_test(object_spill ENV LUMEN_STORE_CAPACITY=64M LUMEN_RANK_IS_NODE=1 SUFFIX _pernode)
# more concurrent writers than the store holds at once: creates and restores wait for space
lumen_mpi_test(object_spill ENV LUMEN_STORE_CAPACITY=64M LUMEN_NUM_CPUS=4 SUFFIX _cpus4 RANKS 2 4)
lumen_mpi_test(errors_propagation)
lumen_mpi_test(infeasible ENV LUMEN_RESOURCES=special=2)
lumen_mpi_test(timeouts_cancel ENV LUMEN_NUM_CPUS=1)
# no stealing: the foreign-reference check needs a task to stay on the peer it was sent to
lumen_mpi_test(bad_input ENV LUMEN_STEAL=0)
lumen_mpi_test(threads)
lumen_mpi_test(library_mode)
lumen_mpi_test(idle_cpu RANKS 2 4)
# actors, placement groups, resources and runtime context
lumen_mpi_test(actor_basic)
lumen_mpi_test(actor_ordering)
lumen_mpi_test(actor_handles)
lumen_mpi_test(actor_kill)
lumen_mpi_test(actor_restart)
lumen_mpi_test(actor_resources ENV LUMEN_NUM_CPUS=2 LUMEN_RESOURCES=slot=1)
lumen_mpi_test(placement_group ENV LUMEN_NUM_CPUS=2)
lumen_mpi_test(placement_group ENV LUMEN_NUM_CPUS=2 LUMEN_RANK_IS_NODE=1 SUFFIX _pernode)
lumen_mpi_test(resources_context ENV LUMEN_NUM_CPUS=2 LUMEN_RESOURCES=widget=3)
lumen_mpi_test(resources_context ENV LUMEN_NUM_CPUS=2 LUMEN_RESOURCES=widget=3 LUMEN_RANK_IS_NODE=1 SUFFIX _pernode)
lumen_mpi_test(gpu_ids ENV LUMEN_NUM_GPUS=2)
