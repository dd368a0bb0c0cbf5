! pi.f90 - estimate pi with 1,000 tasks written in Fortran, the Fortran twin of
! examples/monte_carlo_pi.c (Ray's Monte Carlo pi example):
!
!   @ray.remote
!   def sample(seed, n):
!       rng = random.Random(seed)
!       return sum(rng.random()**2 + rng.random()**2 < 1 for _ in range(n))
!   hits = sum(ray.get([sample.remote(i, n) for i in range(1000)]))
!   pi = 4 * hits / (1000 * n)
!
! Each task draws its points from its own seed, so the estimate is the same
! whatever the number of ranks. Exits 0 when |estimate - pi| < 0.01.
!
!   mpirun -np 4 ./fortran_pi [tasks] [samples_per_task]

! The remote function. A remote function is a bind(C) function of one
! argument, the task context, returning a status; it runs on an executor
! thread, so it is recursive (locals on the stack) and keeps no SAVE state.
module pi_tasks
  use, intrinsic :: iso_c_binding
  use lumen
  implicit none
  private
  public :: sample

contains

  ! xorshift64 (13, 7, 17): shifts and xors only, so no integer overflow
  pure subroutine xorshift(s)
    integer(c_int64_t), intent(inout) :: s
    s = ieor(s, ishft(s, 13))
    s = ieor(s, ishft(s, -7))
    s = ieor(s, ishft(s, 17))
  end subroutine xorshift

  ! uniform real in [0, 1) from the top 53 bits of the next state
  function uniform01(s) result(u)
    integer(c_int64_t), intent(inout) :: s
    real(c_double) :: u
    call xorshift(s)
    u = real(ishft(s, -11), c_double) * 2.0_c_double**(-53)
  end function uniform01

  ! sample(seed, n): how many of n random points in the unit square fall
  ! inside the quarter circle
  recursive function sample(ctx) bind(C, name="lumen_example_pi_sample") result(st)
    type(c_ptr), value :: ctx
    integer(c_int) :: st
    integer(c_int64_t) :: seed, n, i, hits, s
    real(c_double) :: x, y
    st = lumen_arg_get(ctx, 1, seed)
    if (st == LUMEN_OK) st = lumen_arg_get(ctx, 2, n)
    if (st /= LUMEN_OK) return
    if (n < 0) then
      st = lumen_task_fail(ctx, "sample: n is negative")
      return
    end if
    ! a state from the seed: never 0, decorrelated from the neighbouring seeds
    s = ieor(seed, int(z'2545F4914F6CDD1D', c_int64_t))
    if (s == 0) s = 1
    do i = 1, 16
      call xorshift(s)
    end do
    hits = 0
    do i = 1, n
      x = uniform01(s)
      y = uniform01(s)
      if (x * x + y * y < 1.0_c_double) hits = hits + 1
    end do
    st = lumen_return(ctx, 1, hits)
  end function sample

end module pi_tasks

program pi
  use, intrinsic :: iso_c_binding
  use, intrinsic :: iso_fortran_env, only: error_unit
  use lumen
  use pi_tasks
  implicit none
  real(c_double), parameter :: PI_REF = 3.14159265358979323846_c_double
  integer(c_int64_t) :: tasks, per_task
  integer :: rc

  ! every rank registers its functions before lumen_init: a rank may run
  ! tasks as soon as lumen_init returns on the driver
  call check(lumen_register_function("sample", sample), "lumen_register_function")
  call check(lumen_init(), "lumen_init")
  tasks = int_arg(1, 1000_c_int64_t)
  per_task = int_arg(2, 100000_c_int64_t)
  rc = 0
  if (tasks < 1 .or. per_task < 1) then
    if (lumen_is_driver()) write (error_unit, '(a)') "usage: fortran_pi [tasks >= 1] [samples_per_task >= 1]"
    rc = 2
  else if (lumen_is_driver()) then
    rc = driver(tasks, per_task)
  end if
  ! driver: ends the job; the other ranks: serve tasks until then
  call check(lumen_finalize(), "lumen_finalize")
  if (rc /= 0) stop rc

contains

  integer function driver(tasks, per_task) result(rc)
    integer(c_int64_t), intent(in) :: tasks, per_task
    type(lumen_ref), allocatable :: refs(:)
    integer(c_int64_t), allocatable :: hits(:)
    integer(c_int64_t) :: i
    integer(c_int64_t) :: t0, t1, rate
    real(c_double) :: samples, estimate, err
    allocate(refs(tasks), hits(tasks))
    call system_clock(t0, rate)

    ! futures = [sample.remote(i, n) for i in range(tasks)]
    do i = 1, tasks
      call check(lumen_remote("sample", [lumen_arg_i64(i - 1), lumen_arg_i64(per_task)], refs(i)), "lumen_remote")
    end do
    ! hits = sum(ray.get(futures))
    call check(lumen_get(refs, hits), "lumen_get")
    call check(lumen_ref_release(refs), "lumen_ref_release")
    deallocate(refs)

    call system_clock(t1)
    samples = real(tasks, c_double) * real(per_task, c_double)
    estimate = 4.0_c_double * real(sum(hits), c_double) / samples
    err = abs(estimate - PI_REF)
    write (*, '(a, f8.6, a, es8.2, a, es8.2, a, i0, a, i0, a, f6.3, a)') "pi ~= ", estimate, " (error ", err, &
      ") from ", samples, " samples in ", tasks, " tasks on ", lumen_world_size(), " ranks,", &
      real(t1 - t0, c_double) / real(rate, c_double), " s"
    deallocate(hits)
    rc = 0
    if (err >= 0.01_c_double) then
      write (error_unit, '(a, f7.4, a)') "error ", err, " is not below 0.01"
      rc = 1
    end if
  end function driver

  ! command-line argument k as an integer, or dflt when absent
  integer(c_int64_t) function int_arg(k, dflt)
    integer, intent(in) :: k
    integer(c_int64_t), intent(in) :: dflt
    character(len=32) :: buf
    integer :: ios
    int_arg = dflt
    if (command_argument_count() < k) return
    call get_command_argument(k, buf)
    read (buf, *, iostat=ios) int_arg
    if (ios /= 0) int_arg = -1
  end function int_arg

  ! stop the program with the cause when a call failed
  subroutine check(st, what)
    integer(c_int), intent(in) :: st
    character(*), intent(in) :: what
    if (st == LUMEN_OK) return
    write (error_unit, '(5a)') what, ": ", lumen_strerror(st), " - ", lumen_last_error()
    error stop 1
  end subroutine check

end program pi
