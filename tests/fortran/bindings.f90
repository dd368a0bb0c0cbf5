! bindings.f90 - module lumen from Fortran (ctest: fortran_bindings_np*).
!
! Proves, on any number of ranks: status codes and messages before and after
! lumen_init; registration rules; lumen_put / lumen_get of every supported
! array type and of strings, empty objects included, by copy and by view;
! a Fortran task receiving every argument type (i64, f64, str, bytes, ref)
! and filling six return slots of different types; zero-copy returns
! (lumen_return_alloc) below and above the inline threshold; references
! returned from a task and read back; errors found by lumen (unknown
! function, wrong argument type, infeasible resources) and by the module
! (1-based indices, byte counts, 32-bit range, 65 arguments, a byte or string
! argument used twice), each with its message in lumen_last_error;
! lumen_task_fail; timeouts, lumen_wait and lumen_cancel. The driver runs the
! checks; exits non-zero when one fails.

module binding_tasks
  use, intrinsic :: iso_c_binding
  use lumen
  implicit none
  private
  public :: echo_types, fail_on_purpose, wrong_type, bad_index, make_ref, read_ref, alloc_ret, whoami, slow, &
    add_one

  interface
    function usleep(us) bind(C, name="usleep") result(r)
      import :: c_int32_t, c_int
      integer(c_int32_t), value :: us
      integer(c_int) :: r
    end function usleep
  end interface

contains

  ! echo_types(i64, f64, str, bytes of f64, ref to i32 bytes, i64): six returns
  recursive function echo_types(ctx) bind(C, name="lumen_test_f_echo_types") result(st)
    type(c_ptr), value :: ctx
    integer(c_int) :: st
    integer(c_int64_t) :: i
    real(c_double) :: x
    character(len=:), allocatable :: s
    real(c_double), allocatable :: a(:)
    integer(c_int32_t), pointer :: v(:)
    integer :: small
    integer, parameter :: want(6) = [LUMEN_TYPE_I64, LUMEN_TYPE_F64, LUMEN_TYPE_STR, LUMEN_TYPE_BYTES, &
                                     LUMEN_TYPE_BYTES, LUMEN_TYPE_I64]
    integer :: k
    if (lumen_num_args(ctx) /= 6 .or. lumen_num_returns(ctx) /= 6) then
      st = lumen_task_fail(ctx, "echo_types: wants 6 arguments and 6 returns")
      return
    end if
    do k = 1, 6
      if (lumen_arg_type(ctx, k) /= want(k)) then
        st = lumen_task_fail(ctx, "echo_types: an argument has the wrong type")
        return
      end if
    end do
    if (lumen_arg_type(ctx, 7) /= LUMEN_TYPE_NONE .or. lumen_arg_type(ctx, 0) /= LUMEN_TYPE_NONE) then
      st = lumen_task_fail(ctx, "echo_types: lumen_arg_type outside 1..6")
      return
    end if
    st = lumen_arg_get(ctx, 1, i)
    if (st == LUMEN_OK) st = lumen_arg_get(ctx, 2, x)
    if (st == LUMEN_OK) st = lumen_arg_get(ctx, 3, s)
    if (st == LUMEN_OK) st = lumen_arg_get(ctx, 4, a)
    if (st == LUMEN_OK) st = lumen_arg_view(ctx, 5, v)
    if (st == LUMEN_OK) st = lumen_arg_get(ctx, 6, small)
    if (st /= LUMEN_OK) return
    st = lumen_return(ctx, 1, 2 * i)
    if (st == LUMEN_OK) st = lumen_return(ctx, 2, x + 0.5_c_double)
    if (st == LUMEN_OK) st = lumen_return(ctx, 3, "got [" // s // "]")
    if (st == LUMEN_OK) st = lumen_return(ctx, 4, 2 * a)
    if (st == LUMEN_OK) st = lumen_return(ctx, 5, v + 1_c_int32_t)
    if (st == LUMEN_OK) st = lumen_return(ctx, 6, small + 1)
  end function echo_types

  recursive function fail_on_purpose(ctx) bind(C, name="lumen_test_f_fail_on_purpose") result(st)
    type(c_ptr), value :: ctx
    integer(c_int) :: st
    character(len=:), allocatable :: why
    st = lumen_arg_get(ctx, 1, why)
    if (st == LUMEN_OK) st = lumen_task_fail(ctx, "fortran says no: " // why)
  end function fail_on_purpose

  ! reads its I64 argument as F64: lumen's own type check fails the task
  recursive function wrong_type(ctx) bind(C, name="lumen_test_f_wrong_type") result(st)
    type(c_ptr), value :: ctx
    integer(c_int) :: st
    real(c_double) :: x
    st = lumen_arg_get(ctx, 1, x)
  end function wrong_type

  ! reads argument 0: the module's index check fails the task
  recursive function bad_index(ctx) bind(C, name="lumen_test_f_bad_index") result(st)
    type(c_ptr), value :: ctx
    integer(c_int) :: st
    integer(c_int64_t) :: i
    st = lumen_arg_get(ctx, 0, i)
  end function bad_index

  ! make_ref(n): puts [1..n] (i64) and returns the reference
  recursive function make_ref(ctx) bind(C, name="lumen_test_f_make_ref") result(st)
    type(c_ptr), value :: ctx
    integer(c_int) :: st
    integer(c_int64_t) :: n, k
    type(lumen_ref) :: r
    st = lumen_arg_get(ctx, 1, n)
    if (st /= LUMEN_OK) return
    st = lumen_put([(k, k = 1, n)], r)
    if (st /= LUMEN_OK) return
    st = lumen_return(ctx, 1, r)
    if (st == LUMEN_OK) st = lumen_ref_release(r)
  end function make_ref

  ! read_ref(obj): obj holds a reference (from make_ref); returns the sum of its i64s
  recursive function read_ref(ctx) bind(C, name="lumen_test_f_read_ref") result(st)
    type(c_ptr), value :: ctx
    integer(c_int) :: st
    type(lumen_ref) :: inner
    integer(c_int64_t), allocatable :: x(:)
    if (lumen_arg_type(ctx, 1) /= LUMEN_TYPE_REF) then
      st = lumen_task_fail(ctx, "read_ref: argument 1 is not a reference")
      return
    end if
    st = lumen_arg_get(ctx, 1, inner)
    if (st == LUMEN_OK) st = lumen_get(inner, x)
    if (st == LUMEN_OK) st = lumen_return(ctx, 1, sum(x))
  end function read_ref

  ! alloc_ret(n): slot 1 is [1..n] written in place; slot 2 a 2x3 array
  recursive function alloc_ret(ctx) bind(C, name="lumen_test_f_alloc_ret") result(st)
    type(c_ptr), value :: ctx
    integer(c_int) :: st
    integer :: n, k
    real(c_double), pointer :: x(:)
    st = lumen_arg_get(ctx, 1, n)
    if (st == LUMEN_OK) st = lumen_return_alloc(ctx, 1, n, x)
    if (st /= LUMEN_OK) return
    do k = 1, n
      x(k) = real(k, c_double)
    end do
    st = lumen_return(ctx, 2, reshape([1.0_c_double, 2.0_c_double, 3.0_c_double, 4.0_c_double, 5.0_c_double, &
                                       6.0_c_double], [2, 3]))
  end function alloc_ret

  recursive function whoami(ctx) bind(C, name="lumen_test_f_whoami") result(st)
    type(c_ptr), value :: ctx
    integer(c_int) :: st
    st = lumen_return(ctx, 1, lumen_task_function(ctx))
    if (st == LUMEN_OK) st = lumen_return(ctx, 2, lumen_rank())
  end function whoami

  ! slow(ms): sleeps, returns ms
  recursive function slow(ctx) bind(C, name="lumen_test_f_slow") result(st)
    type(c_ptr), value :: ctx
    integer(c_int) :: st
    integer :: ms, r
    st = lumen_arg_get(ctx, 1, ms)
    if (st /= LUMEN_OK) return
    r = usleep(int(ms, c_int32_t) * 1000_c_int32_t)
    st = lumen_return(ctx, 1, ms)
  end function slow

  ! add_one(x): x + 1 (its argument may be a dependency)
  recursive function add_one(ctx) bind(C, name="lumen_test_f_add_one") result(st)
    type(c_ptr), value :: ctx
    integer(c_int) :: st
    integer(c_int64_t) :: x
    st = lumen_arg_get(ctx, 1, x)
    if (st == LUMEN_OK) st = lumen_return(ctx, 1, x + 1)
  end function add_one

end module binding_tasks

program bindings
  use, intrinsic :: iso_c_binding
  use, intrinsic :: iso_fortran_env, only: error_unit
  use lumen
  use binding_tasks
  implicit none
  integer :: checks = 0, failures = 0, rank
  integer(c_int) :: st
  type(lumen_ref) :: r

  ! ---- before lumen_init ----
  call expect(.not. lumen_is_initialized(), "not initialized before lumen_init")
  call expect(lumen_rank() == -1 .and. lumen_world_size() == -1, "rank and size -1 before lumen_init")
  call expect(lumen_strerror(LUMEN_OK) == "success", "strerror(LUMEN_OK)")
  call expect(lumen_strerror(LUMEN_ERR_TIMEOUT) == "timed out", "strerror(LUMEN_ERR_TIMEOUT)")
  call expect_st(lumen_put([1.0_c_double], r), LUMEN_ERR_NOT_INITIALIZED, "lumen_put before lumen_init")
  call expect(len(lumen_last_error()) > 0, "a message for lumen_put before lumen_init")
  call expect(lumen_ref_is_nil(r), "a failed put leaves a nil reference")

  ! ---- registration: every rank, before lumen_init ----
  call expect_st(lumen_register_function("echo_types", echo_types), LUMEN_OK, "register echo_types")
  call expect_st(lumen_register_function("echo_types", echo_types), LUMEN_OK, "register echo_types twice")
  call expect_st(lumen_register_function("echo_types", whoami), LUMEN_ERR_INVALID_ARG, &
                 "register another function under a taken name")
  call expect_st(lumen_register_function("", whoami), LUMEN_ERR_INVALID_ARG, "register an empty name")
  call expect_st(lumen_register_function("fail_on_purpose", fail_on_purpose), LUMEN_OK, "register")
  call expect_st(lumen_register_function("wrong_type", wrong_type), LUMEN_OK, "register")
  call expect_st(lumen_register_function("bad_index", bad_index), LUMEN_OK, "register")
  call expect_st(lumen_register_function("make_ref", make_ref), LUMEN_OK, "register")
  call expect_st(lumen_register_function("read_ref", read_ref), LUMEN_OK, "register")
  call expect_st(lumen_register_function("alloc_ret", alloc_ret), LUMEN_OK, "register")
  call expect_st(lumen_register_function("whoami", whoami), LUMEN_OK, "register")
  call expect_st(lumen_register_function("slow", slow), LUMEN_OK, "register")
  call expect_st(lumen_register_function("add_one", add_one), LUMEN_OK, "register")

  ! ---- init, with options ----
  st = lumen_init(num_cpus=2.0_c_double, inline_threshold=4096_c_int64_t)
  if (st /= LUMEN_OK) then
    write (error_unit, '(4a)') "lumen_init: ", lumen_strerror(st), " - ", lumen_last_error()
    error stop 1
  end if
  call expect(lumen_is_initialized(), "initialized")
  call expect(lumen_rank() >= 0 .and. lumen_rank() < lumen_world_size(), "rank in 0 .. size-1")
  call expect(lumen_is_driver() .eqv. lumen_rank() == 0, "the driver is rank 0")
  call expect(lumen_node_id() >= 0 .and. lumen_node_id() <= lumen_rank(), "node id is a rank at or below ours")
  call expect_st(lumen_init(), LUMEN_ERR_ALREADY_INITIALIZED, "lumen_init twice")

  if (lumen_is_driver()) then
    call objects()
    call tasks()
    call errors()
    call waiting()
  end if

  rank = lumen_rank()
  call expect_st(lumen_finalize(), LUMEN_OK, "lumen_finalize")
  call expect(.not. lumen_is_initialized(), "not initialized after lumen_finalize")
  if (failures > 0) then
    write (error_unit, '(a, i0, a, i0, a, i0, a)') "fortran_bindings: rank ", rank, ": ", failures, &
      " of ", checks, " checks failed"
    error stop 1
  end if
  if (rank == 0) write (*, '(a, i0, a)') "fortran_bindings: OK (", checks, " checks on the driver)"

contains

  ! ---- put and get of every type, by copy and by view ----
  subroutine objects()
    real(c_double) :: a2(3, 4)
    real(c_double), allocatable :: d(:)
    real(c_float), allocatable :: f(:)
    integer(c_int64_t), allocatable :: l(:)
    integer(c_int32_t), allocatable :: i(:)
    character(len=:), allocatable :: s
    real(c_double), pointer :: dv(:)
    integer(c_int32_t), pointer :: iv(:)
    type(c_ptr) :: p
    integer(c_size_t) :: nbytes
    type(lumen_ref) :: rd, rf, rl, ri, rs, r2, re, rdup
    integer(c_int64_t) :: scalar
    character(len=:), allocatable :: msg
    integer :: k
    a2 = reshape([(real(k, c_double), k = 1, 12)], [3, 4])
    call expect_st(lumen_put([1.5_c_double, -2.25_c_double, 1e300_c_double], rd), LUMEN_OK, "put f64")
    call expect_st(lumen_put([0.5_c_float, 3.0_c_float], rf), LUMEN_OK, "put f32")
    call expect_st(lumen_put([huge(0_c_int64_t), -7_c_int64_t], rl), LUMEN_OK, "put i64")
    call expect_st(lumen_put([1_c_int32_t, 2_c_int32_t, 3_c_int32_t], ri), LUMEN_OK, "put i32")
    call expect_st(lumen_put("hello, lumen  ", rs), LUMEN_OK, "put a string")
    call expect_st(lumen_put(a2, r2), LUMEN_OK, "put a 2-D f64 array")
    call expect_st(lumen_put([real(c_double) ::], re), LUMEN_OK, "put an empty array")

    call expect_st(lumen_get(rd, d), LUMEN_OK, "get f64")
    call expect(size(d) == 3 .and. all(d == [1.5_c_double, -2.25_c_double, 1e300_c_double]), "f64 values")
    call expect_st(lumen_get(rf, f), LUMEN_OK, "get f32")
    call expect(size(f) == 2 .and. all(f == [0.5_c_float, 3.0_c_float]), "f32 values")
    call expect_st(lumen_get(rl, l), LUMEN_OK, "get i64")
    call expect(size(l) == 2 .and. all(l == [huge(0_c_int64_t), -7_c_int64_t]), "i64 values")
    call expect_st(lumen_get(ri, i, timeout_ms=1000), LUMEN_OK, "get i32 with a timeout")
    call expect(size(i) == 3 .and. all(i == [1, 2, 3]), "i32 values")
    call expect_st(lumen_get(rs, s), LUMEN_OK, "get a string")
    call expect(s == "hello, lumen  " .and. len(s) == 14, "string value, trailing blanks kept")
    call expect_st(lumen_get(r2, d), LUMEN_OK, "get the 2-D array as 1-D")
    call expect(all(reshape(d, [3, 4]) == a2), "2-D values in column order")
    call expect_st(lumen_get(re, d), LUMEN_OK, "get an empty array")
    call expect(size(d) == 0, "empty array size")
    call expect_st(lumen_get(re, s), LUMEN_OK, "get an empty object as a string")
    call expect(len(s) == 0, "empty string")

    call expect_st(lumen_get_view(rd, dv), LUMEN_OK, "view f64")
    call expect(size(dv) == 3 .and. dv(2) == -2.25_c_double, "view f64 values")
    call expect_st(lumen_get_view(ri, iv), LUMEN_OK, "view i32")
    call expect(size(iv) == 3 .and. iv(3) == 3, "view i32 values")
    call expect_st(lumen_get_view(re, dv), LUMEN_OK, "view an empty object")
    call expect(associated(dv) .and. size(dv) == 0, "empty view")
    call expect_st(lumen_get_ptr(rs, p, nbytes), LUMEN_OK, "raw pointer")
    call expect(c_associated(p) .and. nbytes == 14, "raw pointer and size")

    ! the module's own checks
    call expect_st(lumen_get(ri, d), LUMEN_ERR_TYPE_MISMATCH, "12 bytes as f64")
    call expect(index(lumen_last_error(), "whole number") > 0, "message for 12 bytes as f64")
    call expect_st(lumen_get(rd, scalar), LUMEN_ERR_TYPE_MISMATCH, "bytes as an i64 scalar")
    msg = lumen_last_error()
    call expect(len(msg) > 0 .and. index(msg, "whole number") == 0, "lumen's newer message replaces the module's")

    ! references
    call expect(len_trim(lumen_ref_hex(rd)) == 32, "hex id")
    call expect_st(lumen_ref_dup(rd, rdup), LUMEN_OK, "dup")
    call expect(lumen_ref_equal(rd, rdup) .and. .not. lumen_ref_equal(rd, rf), "dup names the same object")
    call expect_st(lumen_ref_release([rd, rf, rl, ri, rs, r2, re]), LUMEN_OK, "release an array of references")
    call expect_st(lumen_get(rdup, d), LUMEN_OK, "the dup keeps the object")
    call expect_st(lumen_ref_release(rdup), LUMEN_OK, "release the dup")
    call expect_st(lumen_ref_release(rdup), LUMEN_ERR_INVALID_REF, "release twice")
    call expect(lumen_ref_is_nil(lumen_ref()) .and. .not. lumen_ref_is_nil(rdup), "nil reference")
  end subroutine objects

  ! ---- Fortran tasks: every argument and return type ----
  subroutine tasks()
    type(lumen_ref) :: obj, out(6), two(2), rr, rsum, ra(2), who(2)
    integer(c_int64_t) :: i
    real(c_double) :: x
    character(len=:), allocatable :: s
    real(c_double), allocatable :: d(:)
    integer(c_int32_t), allocatable :: iv(:)
    real(c_double), pointer :: dv(:)
    integer :: small, k, n
    integer(c_int64_t) :: many(20)
    type(lumen_ref) :: mr(20)

    call expect_st(lumen_put([10_c_int32_t, 20_c_int32_t], obj), LUMEN_OK, "put the i32 argument")
    call expect_st(lumen_remote("echo_types", [lumen_arg_i64(21_c_int64_t), lumen_arg_f64(1.25_c_double), &
                                               lumen_arg_str("a b "), lumen_arg_bytes([1.0_c_double, 2.0_c_double]), &
                                               lumen_arg_ref(obj), lumen_arg_i64(41)], out), &
                   LUMEN_OK, "submit echo_types")
    call expect_st(lumen_ref_release(obj), LUMEN_OK, "release an argument after submitting")
    call expect_st(lumen_get(out(1), i), LUMEN_OK, "echo i64")
    call expect(i == 42, "echo i64 value")
    call expect_st(lumen_get(out(2), x), LUMEN_OK, "echo f64")
    call expect(x == 1.75_c_double, "echo f64 value")
    call expect_st(lumen_get(out(3), s), LUMEN_OK, "echo str")
    call expect(s == "got [a b ]", "echo str value")
    call expect_st(lumen_get(out(4), d), LUMEN_OK, "echo f64 array")
    call expect(size(d) == 2 .and. all(d == [2.0_c_double, 4.0_c_double]), "echo f64 array values")
    call expect_st(lumen_get(out(5), iv), LUMEN_OK, "echo i32 array")
    call expect(size(iv) == 2 .and. all(iv == [11, 21]), "echo i32 array values")
    call expect_st(lumen_get(out(6), small), LUMEN_OK, "echo default integer")
    call expect(small == 42, "echo default integer value")
    call expect_st(lumen_ref_release(out), LUMEN_OK, "release the echo results")

    ! a 32-bit overflow: the module refuses; empty strings and arrays pass
    call expect_st(lumen_put([integer(c_int32_t) ::], obj), LUMEN_OK, "put an empty i32 array")
    call expect_st(lumen_remote("echo_types", [lumen_arg_i64(3000000000_c_int64_t), lumen_arg_f64(0.0), &
                                               lumen_arg_str(""), lumen_arg_bytes([real(c_double) ::]), &
                                               lumen_arg_ref(obj), lumen_arg_i64(0)], out), &
                   LUMEN_OK, "submit echo_types with a large i64")
    call expect_st(lumen_ref_release(obj), LUMEN_OK, "release")
    call expect_st(lumen_get(out(6), small), LUMEN_OK, "small result")
    call expect_st(lumen_get(out(1), small), LUMEN_ERR_OUT_OF_RANGE, "6e9 into a 32-bit integer")
    call expect(index(lumen_last_error(), "32-bit") > 0, "message for the 32-bit overflow")
    call expect_st(lumen_get(out(3), s), LUMEN_OK, "empty string argument")
    call expect(s == "got []", "empty string argument value")
    call expect_st(lumen_ref_release(out), LUMEN_OK, "release")

    ! a reference returned by a task, read on the driver and by another task
    call expect_st(lumen_remote("make_ref", [lumen_arg_i64(100)], rr), LUMEN_OK, "submit make_ref")
    call expect_st(lumen_remote("read_ref", [lumen_arg_ref(rr)], rsum), LUMEN_OK, "submit read_ref")
    call expect_st(lumen_get(rsum, i), LUMEN_OK, "read_ref result")
    call expect(i == 5050, "read_ref value")
    call expect_st(lumen_get(rr, obj), LUMEN_OK, "get a reference value")
    call expect_st(lumen_get([rr, rr], many(1:1)), LUMEN_ERR_INVALID_ARG, "2 references, 1 value")
    block
      integer(c_int64_t), allocatable :: l(:)
      call expect_st(lumen_get(obj, l), LUMEN_OK, "get through the inner reference")
      call expect(size(l) == 100 .and. sum(l) == 5050, "inner reference values")
    end block
    call expect_st(lumen_ref_release([rr, rsum]), LUMEN_OK, "release")

    ! zero-copy returns, inline and in the store (inline_threshold is 4096)
    do k = 1, 2
      n = merge(100, 20000, k == 1)
      call expect_st(lumen_remote("alloc_ret", [lumen_arg_i64(n)], ra), LUMEN_OK, "submit alloc_ret")
      call expect_st(lumen_get_view(ra(1), dv), LUMEN_OK, "view alloc_ret")
      call expect(size(dv) == n .and. dv(n) == real(n, c_double) .and. sum(dv) == real(n, c_double) * (n + 1) / 2, &
                  "alloc_ret values")
      call expect_st(lumen_get(ra(2), d), LUMEN_OK, "get the 2-D return")
      call expect(size(d) == 6 .and. d(4) == 4.0_c_double, "2-D return values")
      call expect_st(lumen_ref_release(ra), LUMEN_OK, "release")
    end do

    call expect_st(lumen_remote("whoami", [lumen_arg ::], who), LUMEN_OK, "submit without arguments")
    call expect_st(lumen_get(who(1), s), LUMEN_OK, "whoami name")
    call expect(s == "whoami", "lumen_task_function")
    call expect_st(lumen_get(who(2), small), LUMEN_OK, "whoami rank")
    call expect(small >= 0 .and. small < lumen_world_size(), "task rank")
    call expect_st(lumen_ref_release(who), LUMEN_OK, "release")

    ! ray.get of many scalars, with options
    do k = 1, 20
      call expect_st(lumen_remote("add_one", [lumen_arg_i64(k)], mr(k), num_cpus=0.5_c_double, max_retries=0), &
                     LUMEN_OK, "submit add_one")
    end do
    call expect_st(lumen_get(mr, many), LUMEN_OK, "get 20 results")
    call expect(all(many == [(int(k, c_int64_t) + 1, k = 1, 20)]), "20 results")
    call expect_st(lumen_ref_release(mr), LUMEN_OK, "release")
    call expect_st(lumen_remote("add_one", [lumen_arg_i64(1)], two(1), num_cpus=1000.0_c_double), &
                   LUMEN_ERR_INFEASIBLE, "1000 CPUs")
  end subroutine tasks

  ! ---- errors from tasks, lumen and the module ----
  subroutine errors()
    type(lumen_ref) :: f
    integer(c_int64_t) :: i
    type(lumen_arg) :: many(65), unset(1), text
    type(lumen_ref) :: none(0)
    integer :: k
    call expect_st(lumen_remote("fail_on_purpose", [lumen_arg_str("bad input")], f), LUMEN_OK, "submit")
    call expect_st(lumen_get(f, i), LUMEN_ERR_TASK_FAILED, "lumen_task_fail")
    call expect(index(lumen_last_error(), "fortran says no: bad input") > 0, "lumen_task_fail message")
    call expect_st(lumen_ref_release(f), LUMEN_OK, "release")

    call expect_st(lumen_remote("wrong_type", [lumen_arg_i64(1)], f), LUMEN_OK, "submit")
    call expect_st(lumen_get(f, i), LUMEN_ERR_TASK_FAILED, "a wrong argument type fails the task")
    call expect(index(lumen_last_error(), "wrong_type") > 0, "its message names the function")
    call expect_st(lumen_ref_release(f), LUMEN_OK, "release")

    call expect_st(lumen_remote("bad_index", [lumen_arg_i64(1)], f), LUMEN_OK, "submit")
    call expect_st(lumen_get(f, i), LUMEN_ERR_TASK_FAILED, "argument 0 fails the task")
    call expect(index(lumen_last_error(), "count from 1") > 0, "message for argument 0")
    call expect_st(lumen_ref_release(f), LUMEN_OK, "release")

    call expect_st(lumen_remote("no_such_function", [lumen_arg_i64(1)], f), LUMEN_OK, "submit unknown")
    call expect_st(lumen_get(f, i), LUMEN_ERR_UNKNOWN_FUNCTION, "unknown function")
    call expect_st(lumen_ref_release(f), LUMEN_OK, "release")

    do k = 1, 65
      many(k) = lumen_arg_i64(k)
    end do
    call expect_st(lumen_remote("add_one", many, f), LUMEN_ERR_OUT_OF_RANGE, "65 arguments")
    call expect(index(lumen_last_error(), "at most 64") > 0, "message for 65 arguments")
    call expect_st(lumen_remote("add_one", many(1:1), none), LUMEN_ERR_OUT_OF_RANGE, "no return slot")
    call expect_st(lumen_remote("add_one", [lumen_arg ::], f), LUMEN_OK, "submit without arguments")
    call expect_st(lumen_get(f, i), LUMEN_ERR_TASK_FAILED, "add_one without its argument fails")
    call expect_st(lumen_ref_release(f), LUMEN_OK, "release")
    call expect_st(lumen_remote("add_one", unset, f), LUMEN_ERR_INVALID_ARG, "a lumen_arg never set")
    call expect(index(lumen_last_error(), "lumen_arg_") > 0, "message for a lumen_arg never set")
    call expect_st(lumen_remote("add_one", [lumen_arg_i64(1), many(1)], f, resources="nonexistent=1"), &
                   LUMEN_ERR_INFEASIBLE, "an unknown resource")

    ! a byte or string argument goes with the call that succeeds with it
    text = lumen_arg_str("once")
    call expect_st(lumen_remote("fail_on_purpose", [text], f, num_cpus=1000.0_c_double), LUMEN_ERR_INFEASIBLE, &
                   "a failed call")
    call expect_st(lumen_remote("fail_on_purpose", [text, text], f), LUMEN_OK, &
                   "the same argument, twice, after a failed call")
    call expect_st(lumen_get(f, i), LUMEN_ERR_TASK_FAILED, "fail_on_purpose")
    call expect(index(lumen_last_error(), "fortran says no: once") > 0, "the string arrived")
    call expect_st(lumen_ref_release(f), LUMEN_OK, "release")
    call expect_st(lumen_remote("fail_on_purpose", [text], f), LUMEN_ERR_INVALID_ARG, "a string argument used twice")
    call expect(index(lumen_last_error(), "make it again") > 0, "message for an argument used twice")
  end subroutine errors

  ! ---- timeouts, wait, cancel ----
  subroutine waiting()
    type(lumen_ref) :: sl, dep, refs(3)
    logical :: ready(3)
    integer :: n, ms
    integer(c_int64_t) :: i
    call expect_st(lumen_remote("slow", [lumen_arg_i64(1500)], sl), LUMEN_OK, "submit slow")
    call expect_st(lumen_remote("add_one", [lumen_arg_ref(sl)], dep), LUMEN_OK, "submit a dependent task")
    call expect_st(lumen_get(sl, ms, timeout_ms=0), LUMEN_ERR_TIMEOUT, "poll a slow task")
    call expect_st(lumen_wait([sl], 1, ready(1:1), n, timeout_ms=0), LUMEN_OK, "wait with timeout 0")
    call expect(n == 0 .and. .not. ready(1), "nothing ready yet")
    call expect_st(lumen_cancel(dep), LUMEN_OK, "cancel the dependent task")
    call expect_st(lumen_get(dep, i), LUMEN_ERR_TASK_CANCELLED, "cancelled")
    call expect_st(lumen_remote("add_one", [lumen_arg_i64(1)], refs(1)), LUMEN_OK, "submit")
    call expect_st(lumen_remote("add_one", [lumen_arg_i64(2)], refs(2)), LUMEN_OK, "submit")
    refs(3) = sl
    call expect_st(lumen_wait(refs, 2, ready, n), LUMEN_OK, "wait for 2 of 3")
    call expect(n >= 2 .and. ready(1) .and. ready(2), "the two quick tasks are ready")
    call expect_st(lumen_wait(refs, 3, ready, n, timeout_ms=60000), LUMEN_OK, "wait for all 3")
    call expect(n == 3 .and. all(ready), "all ready")
    call expect_st(lumen_get(sl, ms), LUMEN_OK, "slow result")
    call expect(ms == 1500, "slow value")
    call expect_st(lumen_wait(refs, 1, ready(1:2)), LUMEN_ERR_INVALID_ARG, "ready of the wrong size")
    call expect_st(lumen_ref_release([sl, dep, refs(1), refs(2)]), LUMEN_OK, "release")
  end subroutine waiting

  subroutine expect(ok, what)
    logical, intent(in) :: ok
    character(*), intent(in) :: what
    checks = checks + 1
    if (ok) return
    failures = failures + 1
    write (error_unit, '(3a)') "FAILED: ", what, " (" // lumen_last_error() // ")"
  end subroutine expect

  subroutine expect_st(got, want, what)
    integer(c_int), intent(in) :: got, want
    character(*), intent(in) :: what
    checks = checks + 1
    if (got == want) return
    failures = failures + 1
    write (error_unit, '(2a, i0, a, i0, 3a)') "FAILED: ", what, ": status ", got, ", wanted ", want, &
      " (", lumen_last_error(), ")"
  end subroutine expect_st

end program bindings
