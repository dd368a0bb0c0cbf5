! insitu.f90 - in-situ analysis with lumen inside a Fortran MPI simulation
! ("library mode", include/lumen/mpi.h).
!
! The program owns MPI: it calls MPI_Init_thread (MPI_THREAD_MULTIPLE, since
! it keeps calling MPI while lumen's threads do), runs a 1-D heat equation on
! every rank of MPI_COMM_WORLD with halo exchanges, and starts lumen with
! lumen_init_comm on a sub-communicator: the first half of the ranks (all of
! them with one rank). Every few steps each rank of the other half hands its
! snapshot to a lumen rank over MPI; each lumen rank puts its own block and the
! blocks it received into the object store (lumen_put) and submits one Fortran
! task per block (lumen_remote) that returns the block's heat and peak. The
! results of one snapshot are collected at the next, so the analysis runs
! while the simulation goes on. At the end every rank checks the analysed heat
! and peak against values computed directly, lumen stops (lumen_finalize,
! which leaves MPI alone) and the program calls MPI_Finalize. Exits non-zero
! when a result is wrong, 77 when MPI lacks MPI_THREAD_MULTIPLE.
!
!   mpirun -np 4 ./fortran_insitu

module insitu_tasks
  use, intrinsic :: iso_c_binding
  use lumen
  implicit none
  private
  public :: analyze

contains

  ! analyze(step, block): the heat (sum) and the peak (max) of a block of the
  ! field. block is a reference argument: the task sees the snapshot's values,
  ! and lumen_arg_view maps them without a copy.
  recursive function analyze(ctx) bind(C, name="lumen_example_insitu_analyze") result(st)
    type(c_ptr), value :: ctx
    integer(c_int) :: st
    integer(c_int64_t) :: step
    real(c_double), pointer :: u(:)
    st = lumen_arg_get(ctx, 1, step)
    if (st == LUMEN_OK) st = lumen_arg_view(ctx, 2, u)
    if (st /= LUMEN_OK) return
    if (size(u) == 0) then
      st = lumen_task_fail(ctx, "analyze: empty block")
      return
    end if
    st = lumen_return(ctx, 1, sum(u))
    if (st == LUMEN_OK) st = lumen_return(ctx, 2, maxval(u))
  end function analyze

end module insitu_tasks

program insitu
  use, intrinsic :: iso_c_binding
  use, intrinsic :: iso_fortran_env, only: error_unit
  use mpi_f08
  use lumen
  use insitu_tasks
  implicit none
  integer, parameter :: NLOC = 20000      ! grid points per rank
  integer, parameter :: STEPS = 200, EVERY = 40, NSNAP = STEPS / EVERY
  real(c_double), parameter :: ALPHA = 0.25_c_double, WIDTH = 5.0_c_double
  real(c_double), parameter :: TOL = 1e-12_c_double

  type(MPI_Comm) :: lcomm
  integer :: provided, wrank, wsize, half, nblocks, nsenders, step, snap, b, j, bad, k
  logical :: in_lumen
  real(c_double), allocatable :: u(:), unew(:), blocks(:, :)
  ! per snapshot: direct values of this rank's own block, and the analysed
  ! values of the blocks this rank submitted (lumen ranks)
  real(c_double) :: heat_direct(NSNAP), peak_direct(NSNAP), heat_tasks(NSNAP), peak_tasks(NSNAP)
  real(c_double) :: g_heat_direct(NSNAP), g_peak_direct(NSNAP), g_heat_tasks(NSNAP), g_peak_tasks(NSNAP)
  real(c_double), allocatable :: expect(:, :, :)   ! (heat|peak, block, snapshot)
  type(lumen_ref), allocatable :: results(:, :, :) ! (heat|peak, block, snapshot)
  real(c_double) :: got(2)
  integer :: bad_all

  call MPI_Init_thread(MPI_THREAD_MULTIPLE, provided)
  call MPI_Comm_rank(MPI_COMM_WORLD, wrank)
  call MPI_Comm_size(MPI_COMM_WORLD, wsize)
  if (provided < MPI_THREAD_MULTIPLE) then
    if (wrank == 0) write (error_unit, '(a)') "insitu: this MPI does not provide MPI_THREAD_MULTIPLE; skipped"
    call MPI_Finalize()
    stop 77
  end if

  ! lumen's ranks: world ranks 0 .. half-1. World rank r >= half sends its
  ! snapshots to lumen rank mod(r - half, half).
  half = max(1, wsize / 2)
  in_lumen = wrank < half
  nsenders = 0
  do j = half, wsize - 1
    if (mod(j - half, half) == wrank) nsenders = nsenders + 1
  end do
  nblocks = 1 + nsenders

  ! Register the remote functions before lumen starts, on every rank.
  call check(lumen_register_function("analyze", analyze), "lumen_register_function")
  call MPI_Comm_split(MPI_COMM_WORLD, merge(0, MPI_UNDEFINED, in_lumen), wrank, lcomm)
  if (in_lumen) call check(lumen_init_comm(lcomm%MPI_VAL), "lumen_init_comm")

  ! u(0) and u(NLOC+1) are halo cells; the field is zero at both ends of the
  ! world's domain and starts with a hot spot in the middle of each rank's
  ! block: as it spreads, the heat stays and the peak falls
  allocate(u(0:NLOC + 1), unew(0:NLOC + 1), blocks(NLOC, nblocks))
  allocate(expect(2, nblocks, NSNAP), results(2, nblocks, NSNAP))
  u = 0
  do j = 1, NLOC
    u(j) = exp(-0.5_c_double * ((j - NLOC / 2) / WIDTH)**2)
  end do
  heat_tasks = 0
  peak_tasks = 0
  bad = 0

  snap = 0
  do step = 1, STEPS
    call exchange_halos(u)
    unew(1:NLOC) = u(1:NLOC) + ALPHA * (u(0:NLOC - 1) - 2 * u(1:NLOC) + u(2:NLOC + 1))
    u(1:NLOC) = unew(1:NLOC)
    if (mod(step, EVERY) /= 0) cycle

    snap = snap + 1
    heat_direct(snap) = sum(u(1:NLOC))
    peak_direct(snap) = maxval(u(1:NLOC))
    if (.not. in_lumen) then
      call MPI_Send(u(1:NLOC), NLOC, MPI_DOUBLE_PRECISION, mod(wrank - half, half), snap, MPI_COMM_WORLD)
      cycle
    end if
    ! this rank's block, then the blocks of its senders in rank order
    blocks(:, 1) = u(1:NLOC)
    b = 1
    do j = half, wsize - 1
      if (mod(j - half, half) /= wrank) cycle
      b = b + 1
      call MPI_Recv(blocks(:, b), NLOC, MPI_DOUBLE_PRECISION, j, snap, MPI_COMM_WORLD, MPI_STATUS_IGNORE)
    end do
    do b = 1, nblocks
      expect(:, b, snap) = [sum(blocks(:, b)), maxval(blocks(:, b))]
      call submit(step, blocks(:, b), results(:, b, snap))
    end do
    ! the previous snapshot's analysis has had EVERY steps to run
    if (snap > 1) call collect(snap - 1)
  end do
  if (in_lumen) call collect(NSNAP)

  ! every rank's analysis is in: compare the world's totals
  call MPI_Allreduce(heat_direct, g_heat_direct, NSNAP, MPI_DOUBLE_PRECISION, MPI_SUM, MPI_COMM_WORLD)
  call MPI_Allreduce(peak_direct, g_peak_direct, NSNAP, MPI_DOUBLE_PRECISION, MPI_MAX, MPI_COMM_WORLD)
  call MPI_Allreduce(heat_tasks, g_heat_tasks, NSNAP, MPI_DOUBLE_PRECISION, MPI_SUM, MPI_COMM_WORLD)
  call MPI_Allreduce(peak_tasks, g_peak_tasks, NSNAP, MPI_DOUBLE_PRECISION, MPI_MAX, MPI_COMM_WORLD)
  do k = 1, NSNAP
    if (abs(g_heat_tasks(k) - g_heat_direct(k)) > TOL * abs(g_heat_direct(k)) &
        .or. g_peak_tasks(k) /= g_peak_direct(k)) then
      if (wrank == 0) write (error_unit, '(a, i0, 4(a, es22.15))') "insitu: snapshot ", k, ": heat ", &
        g_heat_tasks(k), " analysed, ", g_heat_direct(k), " direct; peak ", g_peak_tasks(k), " analysed, ", &
        g_peak_direct(k), " direct"
      bad = bad + 1
    end if
    if (wrank == 0) write (*, '(a, i4, a, f0.6, a, f8.6)') "step ", k * EVERY, ": heat ", g_heat_tasks(k), &
      ", peak ", g_peak_tasks(k)
  end do
  call MPI_Allreduce(bad, bad_all, 1, MPI_INTEGER, MPI_SUM, MPI_COMM_WORLD)

  ! lumen first (the driver's call ends it on every lumen rank), then MPI
  if (in_lumen) then
    call check(lumen_finalize(), "lumen_finalize")
    call MPI_Comm_free(lcomm)
  end if
  if (wrank == 0 .and. bad_all == 0) write (*, '(a, i0, a, i0, a, i0, a)') "insitu: OK, ", NSNAP, &
    " snapshots of ", wsize, " ranks analysed by lumen on ", half, " ranks"
  deallocate(u, unew, blocks, expect, results)
  call MPI_Finalize()
  if (bad_all /= 0) stop 1

contains

  subroutine exchange_halos(v)
    real(c_double), intent(inout) :: v(0:)
    integer :: left, right
    left = wrank - 1
    right = wrank + 1
    if (left < 0) left = MPI_PROC_NULL
    if (right >= wsize) right = MPI_PROC_NULL
    call MPI_Sendrecv(v(1), 1, MPI_DOUBLE_PRECISION, left, 0, v(NLOC + 1), 1, MPI_DOUBLE_PRECISION, right, 0, &
                      MPI_COMM_WORLD, MPI_STATUS_IGNORE)
    call MPI_Sendrecv(v(NLOC), 1, MPI_DOUBLE_PRECISION, right, 1, v(0), 1, MPI_DOUBLE_PRECISION, left, 1, &
                      MPI_COMM_WORLD, MPI_STATUS_IGNORE)
  end subroutine exchange_halos

  ! put a block in the object store and submit analyze(step, block), two returns
  subroutine submit(step, block, refs)
    integer, intent(in) :: step
    real(c_double), intent(in) :: block(:)
    type(lumen_ref), intent(out) :: refs(2)
    type(lumen_ref) :: obj
    call check(lumen_put(block, obj), "lumen_put")
    call check(lumen_remote("analyze", [lumen_arg_i64(step), lumen_arg_ref(obj)], refs), "lumen_remote")
    ! the task holds the snapshot until it has run
    call check(lumen_ref_release(obj), "lumen_ref_release")
  end subroutine submit

  ! get snapshot s's results, check them against the direct values, release them
  subroutine collect(s)
    integer, intent(in) :: s
    integer :: bb
    do bb = 1, nblocks
      call check(lumen_get(results(:, bb, s), got), "lumen_get")
      if (abs(got(1) - expect(1, bb, s)) > TOL * abs(expect(1, bb, s)) .or. got(2) /= expect(2, bb, s)) then
        write (error_unit, '(a, i0, a, i0, a, i0, 4(a, es22.15))') "insitu: rank ", wrank, " snapshot ", s, &
          " block ", bb, ": heat ", got(1), " vs ", expect(1, bb, s), ", peak ", got(2), " vs ", expect(2, bb, s)
        bad = bad + 1
      end if
      heat_tasks(s) = heat_tasks(s) + got(1)
      peak_tasks(s) = max(peak_tasks(s), got(2))
      call check(lumen_ref_release(results(:, bb, s)), "lumen_ref_release")
    end do
  end subroutine collect

  subroutine check(st, what)
    integer(c_int), intent(in) :: st
    character(*), intent(in) :: what
    if (st == LUMEN_OK) return
    write (error_unit, '(a, i0, 5a)') "insitu: rank ", wrank, ": ", what, ": ", lumen_strerror(st), &
      " - " // lumen_last_error()
    call MPI_Abort(MPI_COMM_WORLD, 1)
  end subroutine check

end program insitu
