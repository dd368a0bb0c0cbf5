! lumen_c.f90 - module lumen_c: lumen.h as Fortran sees it, for the other
! modules of module lumen.
!
! The constants of lumen.h (status codes, value types, limits), the two
! structures shared with C (lumen_ref, lf_arg), the bind(C) interfaces to
! lumen.h and to the shim lumen_fortran.c, and the helpers the other modules
! share (strings, errors found in Fortran, timeouts). Programs use module
! lumen (lumen.f90), which re-exports the constants and lumen_ref; nothing
! else here is meant for a program. Owns no state.
module lumen_c
  use, intrinsic :: iso_c_binding
  implicit none
  private

  ! ---- version and limits (lumen.h) -----------------------------------------------------
  integer, parameter, public :: LUMEN_VERSION_MAJOR = 0, LUMEN_VERSION_MINOR = 1, LUMEN_VERSION_PATCH = 0
  integer, parameter, public :: LUMEN_MAX_ARGS = 64, LUMEN_MAX_RETURNS = 64
  integer, parameter, public :: LUMEN_TIMEOUT_INFINITE = -1

  ! ---- lumen_status --------------------------------------------------------------------
  integer(c_int), parameter, public :: LUMEN_OK = 0
  integer(c_int), parameter, public :: LUMEN_ERR_INVALID_ARG = -1
  integer(c_int), parameter, public :: LUMEN_ERR_NOT_INITIALIZED = -2
  integer(c_int), parameter, public :: LUMEN_ERR_ALREADY_INITIALIZED = -3
  integer(c_int), parameter, public :: LUMEN_ERR_NO_MEMORY = -4
  integer(c_int), parameter, public :: LUMEN_ERR_MPI = -5
  integer(c_int), parameter, public :: LUMEN_ERR_UNKNOWN_FUNCTION = -6
  integer(c_int), parameter, public :: LUMEN_ERR_INVALID_REF = -7
  integer(c_int), parameter, public :: LUMEN_ERR_TIMEOUT = -8
  integer(c_int), parameter, public :: LUMEN_ERR_TASK_FAILED = -9
  integer(c_int), parameter, public :: LUMEN_ERR_TASK_CANCELLED = -10
  integer(c_int), parameter, public :: LUMEN_ERR_INFEASIBLE = -11
  integer(c_int), parameter, public :: LUMEN_ERR_TYPE_MISMATCH = -12
  integer(c_int), parameter, public :: LUMEN_ERR_OUT_OF_RANGE = -13
  integer(c_int), parameter, public :: LUMEN_ERR_STORE_FULL = -14
  integer(c_int), parameter, public :: LUMEN_ERR_IO = -15
  integer(c_int), parameter, public :: LUMEN_ERR_SHUTDOWN = -16
  integer(c_int), parameter, public :: LUMEN_ERR_PROTOCOL = -17
  integer(c_int), parameter, public :: LUMEN_ERR_INTERNAL = -18
  integer(c_int), parameter, public :: LUMEN_ERR_ACTOR_DIED = -19
  integer(c_int), parameter, public :: LUMEN_ERR_PENDING_CALLS_EXCEEDED = -20
  integer(c_int), parameter, public :: LUMEN_ERR_NOT_FOUND = -21
  integer(c_int), parameter, public :: LUMEN_ERR_ALREADY_EXISTS = -22
  integer(c_int), parameter, public :: LUMEN_ERR_END_OF_STREAM = -23
  integer(c_int), parameter, public :: LUMEN_ERR_UNSUPPORTED = -24

  ! ---- lumen_type ----------------------------------------------------------------------
  integer(c_int), parameter, public :: LUMEN_TYPE_NONE = 0, LUMEN_TYPE_I64 = 1, LUMEN_TYPE_F64 = 2, &
    LUMEN_TYPE_BYTES = 3, LUMEN_TYPE_STR = 4, LUMEN_TYPE_REF = 5, LUMEN_TYPE_ACTOR = 6, &
    LUMEN_TYPE_DEVICE = 7

  ! A reference to an object (Ray's ObjectRef): two uint64_t, as in lumen.h.
  ! The default value is the nil reference. Release with lumen_ref_release.
  type, bind(C), public :: lumen_ref
    integer(c_int64_t) :: opaque_(2) = 0_c_int64_t
  end type lumen_ref

  ! One remote-call argument in the shape lumen_fortran.c reads (lumen_f_arg):
  ! every field at a fixed offset, no union; for BYTES and STR, i64 is the
  ! handle of the data's copy (lumen_f_data_new). lf_layout_ok checks the offsets.
  type, bind(C), public :: lf_arg
    integer(c_int32_t) :: type = 0_c_int32_t
    integer(c_int32_t) :: pad_ = 0_c_int32_t
    integer(c_int64_t) :: i64 = 0_c_int64_t
    real(c_double) :: f64 = 0.0_c_double
    type(lumen_ref) :: ref
  end type lf_arg

  ! optional fields passed to lumen_f_init and lumen_f_remote (their F_* enums)
  integer(c_int), parameter, public :: LF_INIT_CPUS = 1, LF_INIT_GPUS = 2, LF_INIT_RESOURCES = 4, &
    LF_INIT_STORE = 8, LF_INIT_SPILL = 16, LF_INIT_RANK_IS_NODE = 32, LF_INIT_INLINE = 64
  integer(c_int), parameter, public :: LF_TASK_CPUS = 1, LF_TASK_GPUS = 2, LF_TASK_RESOURCES = 4, &
    LF_TASK_RETRIES = 8, LF_TASK_RETRY_EXC = 16

  public :: lf_cstr, lf_fstr, lf_itoa, lf_layout_ok, lf_fail, lf_task_fail, lf_timeout

  ! zero-size targets for views of empty objects (never written)
  real(c_double), target, save, public :: lf_empty_f64(0)
  real(c_float), target, save, public :: lf_empty_f32(0)
  integer(c_int64_t), target, save, public :: lf_empty_i64(0)
  integer(c_int32_t), target, save, public :: lf_empty_i32(0)

  ! ---- lumen.h, called directly (no struct by value) ------------------------------
  interface
    function c_strlen(s) bind(C, name="strlen") result(n)
      import :: c_ptr, c_size_t
      type(c_ptr), value :: s
      integer(c_size_t) :: n
    end function c_strlen

    function c_strerror(st) bind(C, name="lumen_strerror") result(p)
      import :: c_int, c_ptr
      integer(c_int), value :: st
      type(c_ptr) :: p
    end function c_strerror

    function c_finalize() bind(C, name="lumen_finalize") result(st)
      import :: c_int
      integer(c_int) :: st
    end function c_finalize

    pure function c_is_initialized() bind(C, name="lumen_is_initialized") result(r)
      import :: c_int
      integer(c_int) :: r
    end function c_is_initialized

    pure function c_rank() bind(C, name="lumen_rank") result(r)
      import :: c_int
      integer(c_int) :: r
    end function c_rank

    pure function c_world_size() bind(C, name="lumen_world_size") result(r)
      import :: c_int
      integer(c_int) :: r
    end function c_world_size

    pure function c_is_driver() bind(C, name="lumen_is_driver") result(r)
      import :: c_int
      integer(c_int) :: r
    end function c_is_driver

    pure function c_node_id() bind(C, name="lumen_node_id") result(r)
      import :: c_int
      integer(c_int) :: r
    end function c_node_id

    function c_register_function(name, fn) bind(C, name="lumen_register_function") result(st)
      import :: c_char, c_funptr, c_int
      character(kind=c_char), intent(in) :: name(*)
      type(c_funptr), value :: fn
      integer(c_int) :: st
    end function c_register_function

    function c_put(data, size, out) bind(C, name="lumen_put") result(st)
      import :: c_ptr, c_size_t, c_int, lumen_ref
      type(c_ptr), value :: data
      integer(c_size_t), value :: size
      type(lumen_ref), intent(out) :: out
      integer(c_int) :: st
    end function c_put

    function c_wait(refs, n, num_returns, timeout_ms, ready, num_ready) bind(C, name="lumen_wait") result(st)
      import :: c_size_t, c_int64_t, c_int, lumen_ref
      type(lumen_ref), intent(in) :: refs(*)
      integer(c_size_t), value :: n, num_returns
      integer(c_int64_t), value :: timeout_ms
      integer(c_int), intent(out) :: ready(*)
      integer(c_size_t), intent(out) :: num_ready
      integer(c_int) :: st
    end function c_wait

    ! inside a task: ctx is the lumen_task_ctx pointer the function received
    pure function c_num_args(ctx) bind(C, name="lumen_num_args") result(n)
      import :: c_ptr, c_size_t
      type(c_ptr), value :: ctx
      integer(c_size_t) :: n
    end function c_num_args

    pure function c_arg_type(ctx, i) bind(C, name="lumen_arg_type") result(t)
      import :: c_ptr, c_size_t, c_int
      type(c_ptr), value :: ctx
      integer(c_size_t), value :: i
      integer(c_int) :: t
    end function c_arg_type

    function c_arg_get_i64(ctx, i, out) bind(C, name="lumen_arg_get_i64") result(st)
      import :: c_ptr, c_size_t, c_int64_t, c_int
      type(c_ptr), value :: ctx
      integer(c_size_t), value :: i
      integer(c_int64_t), intent(out) :: out
      integer(c_int) :: st
    end function c_arg_get_i64

    function c_arg_get_f64(ctx, i, out) bind(C, name="lumen_arg_get_f64") result(st)
      import :: c_ptr, c_size_t, c_double, c_int
      type(c_ptr), value :: ctx
      integer(c_size_t), value :: i
      real(c_double), intent(out) :: out
      integer(c_int) :: st
    end function c_arg_get_f64

    function c_arg_get_bytes(ctx, i, data, size) bind(C, name="lumen_arg_get_bytes") result(st)
      import :: c_ptr, c_size_t, c_int
      type(c_ptr), value :: ctx
      integer(c_size_t), value :: i
      type(c_ptr), intent(out) :: data
      integer(c_size_t), intent(out) :: size
      integer(c_int) :: st
    end function c_arg_get_bytes

    function c_arg_get_ref(ctx, i, out) bind(C, name="lumen_arg_get_ref") result(st)
      import :: c_ptr, c_size_t, c_int, lumen_ref
      type(c_ptr), value :: ctx
      integer(c_size_t), value :: i
      type(lumen_ref), intent(out) :: out
      integer(c_int) :: st
    end function c_arg_get_ref

    pure function c_num_returns(ctx) bind(C, name="lumen_num_returns") result(n)
      import :: c_ptr, c_size_t
      type(c_ptr), value :: ctx
      integer(c_size_t) :: n
    end function c_num_returns

    function c_return_i64(ctx, i, v) bind(C, name="lumen_return_i64") result(st)
      import :: c_ptr, c_size_t, c_int64_t, c_int
      type(c_ptr), value :: ctx
      integer(c_size_t), value :: i
      integer(c_int64_t), value :: v
      integer(c_int) :: st
    end function c_return_i64

    function c_return_f64(ctx, i, v) bind(C, name="lumen_return_f64") result(st)
      import :: c_ptr, c_size_t, c_double, c_int
      type(c_ptr), value :: ctx
      integer(c_size_t), value :: i
      real(c_double), value :: v
      integer(c_int) :: st
    end function c_return_f64

    function c_return_bytes(ctx, i, data, size) bind(C, name="lumen_return_bytes") result(st)
      import :: c_ptr, c_size_t, c_int
      type(c_ptr), value :: ctx
      integer(c_size_t), value :: i
      type(c_ptr), value :: data
      integer(c_size_t), value :: size
      integer(c_int) :: st
    end function c_return_bytes

    function c_return_str(ctx, i, s) bind(C, name="lumen_return_str") result(st)
      import :: c_ptr, c_size_t, c_char, c_int
      type(c_ptr), value :: ctx
      integer(c_size_t), value :: i
      character(kind=c_char), intent(in) :: s(*)
      integer(c_int) :: st
    end function c_return_str

    function c_return_alloc(ctx, i, size, data) bind(C, name="lumen_return_alloc") result(st)
      import :: c_ptr, c_size_t, c_int
      type(c_ptr), value :: ctx
      integer(c_size_t), value :: i
      integer(c_size_t), value :: size
      type(c_ptr), intent(out) :: data
      integer(c_int) :: st
    end function c_return_alloc

    function c_task_function(ctx) bind(C, name="lumen_task_function") result(p)
      import :: c_ptr
      type(c_ptr), value :: ctx
      type(c_ptr) :: p
    end function c_task_function
  end interface

  ! ---- lumen_fortran.c -----------------------------------------------------------------
  interface
    function c_f_last_error() bind(C, name="lumen_f_last_error") result(p)
      import :: c_ptr
      type(c_ptr) :: p
    end function c_f_last_error

    function c_f_set_error(st, msg) bind(C, name="lumen_f_set_error") result(r)
      import :: c_int, c_char
      integer(c_int), value :: st
      character(kind=c_char), intent(in) :: msg(*)
      integer(c_int) :: r
    end function c_f_set_error

    function c_f_task_error(ctx, st, msg) bind(C, name="lumen_f_task_error") result(r)
      import :: c_ptr, c_int, c_char
      type(c_ptr), value :: ctx
      integer(c_int), value :: st
      character(kind=c_char), intent(in) :: msg(*)
      integer(c_int) :: r
    end function c_f_task_error

    subroutine c_f_arg_layout(out) bind(C, name="lumen_f_arg_layout")
      import :: c_int64_t
      integer(c_int64_t), intent(out) :: out(5)
    end subroutine c_f_arg_layout

    function c_f_data_new(data, size) bind(C, name="lumen_f_data_new") result(handle)
      import :: c_ptr, c_int64_t
      type(c_ptr), value :: data
      integer(c_int64_t), value :: size
      integer(c_int64_t) :: handle
    end function c_f_data_new

    function c_f_init(use_comm, comm, set, num_cpus, num_gpus, resources, store_capacity, spill_dir, &
                      rank_is_node, inline_threshold) bind(C, name="lumen_f_init") result(st)
      import :: c_int, c_double, c_ptr, c_int64_t
      integer(c_int), value :: use_comm, comm, set
      real(c_double), value :: num_cpus, num_gpus
      type(c_ptr), value :: resources
      integer(c_int64_t), value :: store_capacity
      type(c_ptr), value :: spill_dir
      integer(c_int), value :: rank_is_node
      integer(c_int64_t), value :: inline_threshold
      integer(c_int) :: st
    end function c_f_init

    function c_f_ref_release(ref) bind(C, name="lumen_f_ref_release") result(st)
      import :: c_int, lumen_ref
      type(lumen_ref), intent(in) :: ref
      integer(c_int) :: st
    end function c_f_ref_release

    function c_f_ref_dup(ref, out) bind(C, name="lumen_f_ref_dup") result(st)
      import :: c_int, lumen_ref
      type(lumen_ref), intent(in) :: ref
      type(lumen_ref), intent(out) :: out
      integer(c_int) :: st
    end function c_f_ref_dup

    pure function c_f_ref_is_nil(ref) bind(C, name="lumen_f_ref_is_nil") result(r)
      import :: c_int, lumen_ref
      type(lumen_ref), intent(in) :: ref
      integer(c_int) :: r
    end function c_f_ref_is_nil

    pure function c_f_ref_equal(a, b) bind(C, name="lumen_f_ref_equal") result(r)
      import :: c_int, lumen_ref
      type(lumen_ref), intent(in) :: a, b
      integer(c_int) :: r
    end function c_f_ref_equal

    subroutine c_f_ref_hex(ref, out) bind(C, name="lumen_f_ref_hex")
      import :: c_char, lumen_ref
      type(lumen_ref), intent(in) :: ref
      character(kind=c_char), intent(out) :: out(33)
    end subroutine c_f_ref_hex

    function c_f_cancel(ref) bind(C, name="lumen_f_cancel") result(st)
      import :: c_int, lumen_ref
      type(lumen_ref), intent(in) :: ref
      integer(c_int) :: st
    end function c_f_cancel

    function c_f_get(ref, timeout_ms, type, i64, f64, data, size, inner) bind(C, name="lumen_f_get") result(st)
      import :: c_int, c_int32_t, c_int64_t, c_double, c_ptr, lumen_ref
      type(lumen_ref), intent(in) :: ref
      integer(c_int64_t), value :: timeout_ms
      integer(c_int32_t), intent(out) :: type
      integer(c_int64_t), intent(out) :: i64
      real(c_double), intent(out) :: f64
      type(c_ptr), intent(out) :: data
      integer(c_int64_t), intent(out) :: size
      type(lumen_ref), intent(out) :: inner
      integer(c_int) :: st
    end function c_f_get

    function c_f_get_i64(ref, timeout_ms, out) bind(C, name="lumen_f_get_i64") result(st)
      import :: c_int, c_int64_t, lumen_ref
      type(lumen_ref), intent(in) :: ref
      integer(c_int64_t), value :: timeout_ms
      integer(c_int64_t), intent(out) :: out
      integer(c_int) :: st
    end function c_f_get_i64

    function c_f_get_f64(ref, timeout_ms, out) bind(C, name="lumen_f_get_f64") result(st)
      import :: c_int, c_int64_t, c_double, lumen_ref
      type(lumen_ref), intent(in) :: ref
      integer(c_int64_t), value :: timeout_ms
      real(c_double), intent(out) :: out
      integer(c_int) :: st
    end function c_f_get_f64

    function c_f_get_many(refs, n, timeout_ms, type, out) bind(C, name="lumen_f_get_many") result(st)
      import :: c_int, c_int64_t, c_ptr, lumen_ref
      type(lumen_ref), intent(in) :: refs(*)
      integer(c_int64_t), value :: n, timeout_ms
      integer(c_int), value :: type
      type(c_ptr), value :: out
      integer(c_int) :: st
    end function c_f_get_many

    function c_f_remote(fn, args, nargs, num_returns, set, num_cpus, num_gpus, resources, max_retries, &
                        retry_exceptions, returns) bind(C, name="lumen_f_remote") result(st)
      import :: c_char, c_int, c_int64_t, c_double, c_ptr, lf_arg, lumen_ref
      character(kind=c_char), intent(in) :: fn(*)
      type(lf_arg), intent(in) :: args(*)
      integer(c_int64_t), value :: nargs, num_returns
      integer(c_int), value :: set
      real(c_double), value :: num_cpus, num_gpus
      type(c_ptr), value :: resources
      integer(c_int), value :: max_retries, retry_exceptions
      type(lumen_ref), intent(inout) :: returns(*)
      integer(c_int) :: st
    end function c_f_remote

    function c_f_return_ref(ctx, i, ref) bind(C, name="lumen_f_return_ref") result(st)
      import :: c_ptr, c_size_t, c_int, lumen_ref
      type(c_ptr), value :: ctx
      integer(c_size_t), value :: i
      type(lumen_ref), intent(in) :: ref
      integer(c_int) :: st
    end function c_f_return_ref

    function c_f_task_fail(ctx, msg) bind(C, name="lumen_f_task_fail") result(st)
      import :: c_ptr, c_char, c_int
      type(c_ptr), value :: ctx
      character(kind=c_char), intent(in) :: msg(*)
      integer(c_int) :: st
    end function c_f_task_fail
  end interface

  public :: c_strerror, c_finalize, c_is_initialized, c_rank, c_world_size, c_is_driver, c_node_id, &
    c_register_function, c_put, c_wait, c_num_args, c_arg_type, c_arg_get_i64, c_arg_get_f64, &
    c_arg_get_bytes, c_arg_get_ref, c_num_returns, c_return_i64, c_return_f64, c_return_bytes, &
    c_return_str, c_return_alloc, c_task_function, c_f_last_error, c_f_set_error, c_f_task_error, &
    c_f_data_new, c_f_init, c_f_ref_release, c_f_ref_dup, c_f_ref_is_nil, c_f_ref_equal, c_f_ref_hex, c_f_cancel, &
    c_f_get, c_f_get_i64, c_f_get_f64, c_f_get_many, c_f_remote, c_f_return_ref, c_f_task_fail

contains

  ! an error this module found: st, with msg for lumen_last_error
  function lf_fail(st, msg) result(r)
    integer(c_int), intent(in) :: st
    character(*), intent(in) :: msg
    integer(c_int) :: r
    r = c_f_set_error(st, lf_cstr(msg))
  end function lf_fail

  ! the same inside a task: also the task's failure message
  function lf_task_fail(ctx, st, msg) result(r)
    type(c_ptr), intent(in) :: ctx
    integer(c_int), intent(in) :: st
    character(*), intent(in) :: msg
    integer(c_int) :: r
    r = c_f_task_error(ctx, st, lf_cstr(msg))
  end function lf_task_fail

  pure function lf_timeout(timeout_ms) result(t)
    integer, intent(in), optional :: timeout_ms
    integer(c_int64_t) :: t
    t = int(LUMEN_TIMEOUT_INFINITE, c_int64_t)
    if (present(timeout_ms)) t = int(timeout_ms, c_int64_t)
  end function lf_timeout

  ! s as a NUL-terminated C string (trailing blanks kept)
  pure function lf_cstr(s) result(c)
    character(*), intent(in) :: s
    character(kind=c_char), allocatable :: c(:)
    integer :: k
    allocate(c(len(s) + 1))
    do k = 1, len(s)
      c(k) = s(k:k)
    end do
    c(len(s) + 1) = c_null_char
  end function lf_cstr

  ! a copy of the C string at p ("" for NULL)
  function lf_fstr(p) result(s)
    type(c_ptr), intent(in) :: p
    character(len=:), allocatable :: s
    character(kind=c_char), pointer :: a(:)
    integer :: k, n
    if (.not. c_associated(p)) then
      s = ''
      return
    end if
    n = int(c_strlen(p))
    allocate(character(len=n) :: s)
    if (n == 0) return
    call c_f_pointer(p, a, [n])
    do k = 1, n
      s(k:k) = a(k)
    end do
  end function lf_fstr

  pure function lf_itoa(i) result(s)
    integer(c_int64_t), intent(in) :: i
    character(len=:), allocatable :: s
    character(len=24) :: buf
    write (buf, '(i0)') i
    s = trim(buf)
  end function lf_itoa

  ! Do this module's lf_arg and lumen_ref match lumen_fortran.c's structures?
  ! (a library and a module from different builds would not)
  function lf_layout_ok() result(ok)
    logical :: ok
    integer(c_int64_t) :: c(5)
    type(lf_arg), target :: a
    integer(c_intptr_t) :: base
    call c_f_arg_layout(c)
    base = transfer(c_loc(a), base)
    ok = c(1) == c_sizeof(a) &
      .and. c(2) == transfer(c_loc(a%i64), base) - base &
      .and. c(3) == transfer(c_loc(a%f64), base) - base &
      .and. c(4) == transfer(c_loc(a%ref), base) - base &
      .and. c(5) == c_sizeof(a%ref)
  end function lf_layout_ok

end module lumen_c
