! lumen.f90 - module lumen: lumen's core API for Fortran programs.
!
! Ray concept             module lumen
! ----------------------  ------------------------------------------------------
! ray.init / shutdown     lumen_init() (every rank) / lumen_finalize()
! (library mode)          lumen_init_comm(comm) on an MPI communicator
! @ray.remote def f       a bind(C) function f(ctx), lumen_register_function("f", f)
! f.remote(x, y)          lumen_remote("f", [lumen_arg_i64(x), lumen_arg_f64(y)], ref)
! ObjectRef               type(lumen_ref)
! ray.get / ray.wait      lumen_get(ref, x) / lumen_wait(refs, k, ready)
! ray.put                 lumen_put(x, ref)
! del ref                 lumen_ref_release(ref)
! ray.cancel              lumen_cancel(ref)
!
! Every function returns an integer(c_int) status (LUMEN_OK or LUMEN_ERR_*)
! unless it says otherwise; lumen_strerror(st) names it and lumen_last_error()
! gives the cause. Arguments and return slots of a task count from 1, as
! Fortran arrays do: args(1) of lumen_remote is argument 1, refs(1) is return
! slot 1. Ranks count from 0 (rank 0 is the driver), as in MPI.
!
! This file: lifecycle, registration, errors, lumen_arg and lumen_remote. The
! rest of the module: lumen_objects.f90 (put, get, wait, references),
! lumen_task.f90 (inside a remote function), lumen_c.f90 (constants, the C
! interfaces) and lumen_fortran.c (a C shim for what Fortran cannot pass
! portably). Programs only `use lumen`. See docs/fortran.md.
module lumen
  use, intrinsic :: iso_c_binding
  use lumen_c
  use lumen_objects
  use lumen_task
  implicit none
  private
  ! the constants and lumen_ref (lumen_c), the object calls (lumen_objects)
  ! and the task side (lumen_task), re-exported
  public :: LUMEN_VERSION_MAJOR, LUMEN_VERSION_MINOR, LUMEN_VERSION_PATCH, LUMEN_MAX_ARGS, LUMEN_MAX_RETURNS, &
    LUMEN_TIMEOUT_INFINITE
  public :: LUMEN_OK, LUMEN_ERR_INVALID_ARG, LUMEN_ERR_NOT_INITIALIZED, LUMEN_ERR_ALREADY_INITIALIZED, &
    LUMEN_ERR_NO_MEMORY, LUMEN_ERR_MPI, LUMEN_ERR_UNKNOWN_FUNCTION, LUMEN_ERR_INVALID_REF, LUMEN_ERR_TIMEOUT, &
    LUMEN_ERR_TASK_FAILED, LUMEN_ERR_TASK_CANCELLED, LUMEN_ERR_INFEASIBLE, LUMEN_ERR_TYPE_MISMATCH, &
    LUMEN_ERR_OUT_OF_RANGE, LUMEN_ERR_STORE_FULL, LUMEN_ERR_IO, LUMEN_ERR_SHUTDOWN, LUMEN_ERR_PROTOCOL, &
    LUMEN_ERR_INTERNAL, LUMEN_ERR_ACTOR_DIED, LUMEN_ERR_PENDING_CALLS_EXCEEDED, LUMEN_ERR_NOT_FOUND, &
    LUMEN_ERR_ALREADY_EXISTS, LUMEN_ERR_END_OF_STREAM, LUMEN_ERR_UNSUPPORTED
  public :: LUMEN_TYPE_NONE, LUMEN_TYPE_I64, LUMEN_TYPE_F64, LUMEN_TYPE_BYTES, LUMEN_TYPE_STR, LUMEN_TYPE_REF, &
    LUMEN_TYPE_ACTOR, LUMEN_TYPE_DEVICE
  public :: lumen_ref

  ! An argument of lumen_remote, made by lumen_arg_i64, _f64, _str, _bytes or
  ! _ref. Byte and string arguments hold a copy of their data (kept by
  ! lumen_fortran.c under the handle in i64), which the lumen_remote that
  ! succeeds with them uses up: pass them to one call.
  type, public :: lumen_arg
    private
    integer(c_int) :: kind = LUMEN_TYPE_NONE
    integer(c_int64_t) :: i64 = 0_c_int64_t
    real(c_double) :: f64 = 0.0_c_double
    integer(c_int64_t) :: ref(2) = 0_c_int64_t
  end type lumen_arg

  ! A remote function: called on an executor thread of some rank with the
  ! task's context; returns LUMEN_OK or an error status (which fails the task).
  abstract interface
    function lumen_remote_function(ctx) bind(C) result(st)
      import :: c_ptr, c_int
      type(c_ptr), value :: ctx
      integer(c_int) :: st
    end function lumen_remote_function
  end interface
  public :: lumen_remote_function

  ! ---- procedures: this file's, then lumen_objects' and lumen_task's ------------------------
  public :: lumen_strerror, lumen_last_error
  public :: lumen_init, lumen_init_comm, lumen_finalize, lumen_is_initialized, lumen_rank, &
    lumen_world_size, lumen_is_driver, lumen_node_id
  public :: lumen_register_function
  public :: lumen_put, lumen_put_bytes, lumen_get, lumen_get_view, lumen_get_ptr, lumen_wait
  public :: lumen_ref_release, lumen_ref_dup, lumen_ref_is_nil, lumen_ref_equal, lumen_ref_hex, lumen_cancel
  public :: lumen_remote, lumen_arg_i64, lumen_arg_f64, lumen_arg_str, lumen_arg_bytes, lumen_arg_ref
  public :: lumen_num_args, lumen_arg_type, lumen_arg_get, lumen_arg_view, lumen_arg_get_ptr
  public :: lumen_num_returns, lumen_return, lumen_return_bytes, lumen_return_alloc
  public :: lumen_task_fail, lumen_task_function

  ! st = lumen_remote(fn, args, ref [, options]): one return;
  ! st = lumen_remote(fn, args, refs [, options]): size(refs) returns
  interface lumen_remote
    module procedure lf_remote_1, lf_remote_n
  end interface lumen_remote

  interface lumen_arg_i64
    module procedure lf_arg_i64, lf_arg_i32
  end interface lumen_arg_i64

  interface lumen_arg_f64
    module procedure lf_arg_f64, lf_arg_f32
  end interface lumen_arg_f64

  interface lumen_arg_bytes
    module procedure lf_arg_bytes_f64_1, lf_arg_bytes_f64_2, lf_arg_bytes_f32_1, lf_arg_bytes_i64_1, &
      lf_arg_bytes_i32_1, lf_arg_bytes_str, lf_arg_bytes_ptr
  end interface lumen_arg_bytes

contains

  ! ==== errors ===========================================================================

  ! Static text for a status code.
  function lumen_strerror(st) result(s)
    integer(c_int), intent(in) :: st
    character(len=:), allocatable :: s
    s = lf_fstr(c_strerror(st))
  end function lumen_strerror

  ! The cause of the last error on the calling thread ("" if none).
  function lumen_last_error() result(s)
    character(len=:), allocatable :: s
    s = lf_fstr(c_f_last_error())
  end function lumen_last_error
  ! ==== lifecycle ========================================================================

  ! Start lumen on MPI_COMM_WORLD, on every rank (it initialises MPI unless the
  ! program did). The options are what this rank offers (lumen_init_options).
  function lumen_init(num_cpus, num_gpus, resources, store_capacity, spill_dir, rank_is_node, &
                      inline_threshold) result(st)
    real(c_double), intent(in), optional :: num_cpus, num_gpus
    character(*), intent(in), optional :: resources, spill_dir
    integer(c_int64_t), intent(in), optional :: store_capacity, inline_threshold
    logical, intent(in), optional :: rank_is_node
    integer(c_int) :: st
    st = lf_init(0_c_int, 0_c_int, num_cpus, num_gpus, resources, store_capacity, spill_dir, rank_is_node, &
                 inline_threshold)
  end function lumen_init

  ! Library mode: start lumen on communicator comm of a program that called
  ! MPI_Init_thread itself: a handle of `use mpi` (integer) or comm%MPI_VAL of
  ! `use mpi_f08`. Every rank of comm calls it; rank 0 of comm is the driver.
  function lumen_init_comm(comm, num_cpus, num_gpus, resources, store_capacity, spill_dir, rank_is_node, &
                           inline_threshold) result(st)
    integer, intent(in) :: comm
    real(c_double), intent(in), optional :: num_cpus, num_gpus
    character(*), intent(in), optional :: resources, spill_dir
    integer(c_int64_t), intent(in), optional :: store_capacity, inline_threshold
    logical, intent(in), optional :: rank_is_node
    integer(c_int) :: st
    st = lf_init(1_c_int, int(comm, c_int), num_cpus, num_gpus, resources, store_capacity, spill_dir, &
                 rank_is_node, inline_threshold)
  end function lumen_init_comm

  function lf_init(use_comm, comm, num_cpus, num_gpus, resources, store_capacity, spill_dir, rank_is_node, &
                   inline_threshold) result(st)
    integer(c_int), intent(in) :: use_comm, comm
    real(c_double), intent(in), optional :: num_cpus, num_gpus
    character(*), intent(in), optional :: resources, spill_dir
    integer(c_int64_t), intent(in), optional :: store_capacity, inline_threshold
    logical, intent(in), optional :: rank_is_node
    integer(c_int) :: st
    integer(c_int) :: set, node
    real(c_double) :: cpus, gpus
    integer(c_int64_t) :: cap, inl
    character(kind=c_char), allocatable, target :: res(:), spill(:)
    type(c_ptr) :: pres, pspill
    if (.not. lf_layout_ok()) then
      st = lf_fail(LUMEN_ERR_INTERNAL, "module lumen and liblumen_fortran were built from different sources")
      return
    end if
    set = 0
    cpus = 0
    gpus = 0
    cap = 0
    inl = 0
    node = 0
    pres = c_null_ptr
    pspill = c_null_ptr
    if (present(num_cpus)) then
      set = ior(set, LF_INIT_CPUS)
      cpus = num_cpus
    end if
    if (present(num_gpus)) then
      set = ior(set, LF_INIT_GPUS)
      gpus = num_gpus
    end if
    if (present(resources)) then
      set = ior(set, LF_INIT_RESOURCES)
      allocate(res(len(resources) + 1))
      res(:) = lf_cstr(resources)
      pres = c_loc(res)
    end if
    if (present(store_capacity)) then
      set = ior(set, LF_INIT_STORE)
      cap = store_capacity
    end if
    if (present(spill_dir)) then
      set = ior(set, LF_INIT_SPILL)
      allocate(spill(len(spill_dir) + 1))
      spill(:) = lf_cstr(spill_dir)
      pspill = c_loc(spill)
    end if
    if (present(rank_is_node)) then
      set = ior(set, LF_INIT_RANK_IS_NODE)
      node = merge(1_c_int, 0_c_int, rank_is_node)
    end if
    if (present(inline_threshold)) then
      set = ior(set, LF_INIT_INLINE)
      inl = inline_threshold
    end if
    st = c_f_init(use_comm, comm, set, cpus, gpus, pres, cap, pspill, node, inl)
  end function lf_init

  ! Shut lumen down (every rank). The driver's call ends the job; the other
  ! ranks serve tasks until then.
  function lumen_finalize() result(st)
    integer(c_int) :: st
    st = c_finalize()
  end function lumen_finalize

  pure logical function lumen_is_initialized()
    lumen_is_initialized = c_is_initialized() /= 0
  end function lumen_is_initialized

  ! rank in lumen's communicator (-1 before init)
  pure integer function lumen_rank()
    lumen_rank = int(c_rank())
  end function lumen_rank

  ! number of ranks (-1 before init)
  pure integer function lumen_world_size()
    lumen_world_size = int(c_world_size())
  end function lumen_world_size

  ! rank 0
  pure logical function lumen_is_driver()
    lumen_is_driver = c_is_driver() /= 0
  end function lumen_is_driver

  ! this rank's node (its lowest rank)
  pure integer function lumen_node_id()
    lumen_node_id = int(c_node_id())
  end function lumen_node_id

  ! Register fn under name on this rank. Every rank registers the same names
  ! before any rank submits them: do it before lumen_init.
  function lumen_register_function(name, fn) result(st)
    character(*), intent(in) :: name
    procedure(lumen_remote_function) :: fn
    integer(c_int) :: st
    st = c_register_function(lf_cstr(name), c_funloc(fn))
  end function lumen_register_function
  ! ==== arguments of lumen_remote ==================================================================

  subroutine lf_arg_init(a, kind)
    type(lumen_arg), intent(inout) :: a
    integer(c_int), intent(in) :: kind
    a%kind = kind
    a%i64 = 0
    a%f64 = 0
    a%ref = 0
  end subroutine lf_arg_init

  ! a BYTES or STR argument: a copy of nbytes bytes at p, by handle
  function lf_arg_data(kind, p, nbytes) result(a)
    integer(c_int), intent(in) :: kind
    type(c_ptr), intent(in) :: p
    integer(c_int64_t), intent(in) :: nbytes
    type(lumen_arg) :: a
    call lf_arg_init(a, kind)
    a%i64 = c_f_data_new(p, nbytes)
  end function lf_arg_data

  function lf_arg_i64(v) result(a)
    integer(c_int64_t), intent(in) :: v
    type(lumen_arg) :: a
    call lf_arg_init(a, LUMEN_TYPE_I64)
    a%i64 = v
  end function lf_arg_i64

  function lf_arg_i32(v) result(a)
    integer(c_int32_t), intent(in) :: v
    type(lumen_arg) :: a
    call lf_arg_init(a, LUMEN_TYPE_I64)
    a%i64 = int(v, c_int64_t)
  end function lf_arg_i32

  function lf_arg_f64(v) result(a)
    real(c_double), intent(in) :: v
    type(lumen_arg) :: a
    call lf_arg_init(a, LUMEN_TYPE_F64)
    a%f64 = v
  end function lf_arg_f64

  function lf_arg_f32(v) result(a)
    real(c_float), intent(in) :: v
    type(lumen_arg) :: a
    call lf_arg_init(a, LUMEN_TYPE_F64)
    a%f64 = real(v, c_double)
  end function lf_arg_f32

  ! a string argument (STR): the characters of s, trailing blanks included
  function lumen_arg_str(s) result(a)
    character(*), intent(in) :: s
    type(lumen_arg) :: a
    character(kind=c_char), allocatable, target :: c(:)
    allocate(c(len(s) + 1))
    c(:) = lf_cstr(s)
    a = lf_arg_data(LUMEN_TYPE_STR, c_loc(c), int(len(s), c_int64_t))
  end function lumen_arg_str

  ! a reference argument: the task runs when the object is ready and sees its value
  function lumen_arg_ref(ref) result(a)
    type(lumen_ref), intent(in) :: ref
    type(lumen_arg) :: a
    call lf_arg_init(a, LUMEN_TYPE_REF)
    a%ref = ref%opaque_
  end function lumen_arg_ref

  function lf_arg_bytes_f64_1(x) result(a)
    real(c_double), intent(in), target, contiguous :: x(:)
    type(lumen_arg) :: a
    type(c_ptr) :: p
    p = c_null_ptr
    if (size(x) > 0) p = c_loc(x(1))
    a = lf_arg_data(LUMEN_TYPE_BYTES, p, size(x, kind=c_int64_t) * 8)
  end function lf_arg_bytes_f64_1

  function lf_arg_bytes_f64_2(x) result(a)
    real(c_double), intent(in), target, contiguous :: x(:, :)
    type(lumen_arg) :: a
    type(c_ptr) :: p
    p = c_null_ptr
    if (size(x) > 0) p = c_loc(x(1, 1))
    a = lf_arg_data(LUMEN_TYPE_BYTES, p, size(x, kind=c_int64_t) * 8)
  end function lf_arg_bytes_f64_2

  function lf_arg_bytes_f32_1(x) result(a)
    real(c_float), intent(in), target, contiguous :: x(:)
    type(lumen_arg) :: a
    type(c_ptr) :: p
    p = c_null_ptr
    if (size(x) > 0) p = c_loc(x(1))
    a = lf_arg_data(LUMEN_TYPE_BYTES, p, size(x, kind=c_int64_t) * 4)
  end function lf_arg_bytes_f32_1

  function lf_arg_bytes_i64_1(x) result(a)
    integer(c_int64_t), intent(in), target, contiguous :: x(:)
    type(lumen_arg) :: a
    type(c_ptr) :: p
    p = c_null_ptr
    if (size(x) > 0) p = c_loc(x(1))
    a = lf_arg_data(LUMEN_TYPE_BYTES, p, size(x, kind=c_int64_t) * 8)
  end function lf_arg_bytes_i64_1

  function lf_arg_bytes_i32_1(x) result(a)
    integer(c_int32_t), intent(in), target, contiguous :: x(:)
    type(lumen_arg) :: a
    type(c_ptr) :: p
    p = c_null_ptr
    if (size(x) > 0) p = c_loc(x(1))
    a = lf_arg_data(LUMEN_TYPE_BYTES, p, size(x, kind=c_int64_t) * 4)
  end function lf_arg_bytes_i32_1

  ! the characters of s as bytes (BYTES), without a NUL
  function lf_arg_bytes_str(s) result(a)
    character(*), intent(in) :: s
    type(lumen_arg) :: a
    character(kind=c_char), allocatable, target :: c(:)
    allocate(c(len(s) + 1))
    c(:) = lf_cstr(s)
    a = lf_arg_data(LUMEN_TYPE_BYTES, c_loc(c), int(len(s), c_int64_t))
  end function lf_arg_bytes_str

  ! nbytes bytes at data, copied now
  function lf_arg_bytes_ptr(data, nbytes) result(a)
    type(c_ptr), intent(in) :: data
    integer(c_size_t), intent(in) :: nbytes
    type(lumen_arg) :: a
    a = lf_arg_data(LUMEN_TYPE_BYTES, data, int(nbytes, c_int64_t))
  end function lf_arg_bytes_ptr

  ! ==== submission ==================================================================================

  ! f.options(num_returns=size(refs), num_cpus=..., ...).remote(*args).
  ! The options not given keep lumen's defaults (1 CPU, 0 GPU, 3 retries, no
  ! retry on errors).
  function lf_remote_n(fn, args, refs, num_cpus, num_gpus, resources, max_retries, retry_exceptions) result(st)
    character(*), intent(in) :: fn
    type(lumen_arg), intent(in) :: args(:)
    type(lumen_ref), intent(out) :: refs(:)
    real(c_double), intent(in), optional :: num_cpus, num_gpus
    character(*), intent(in), optional :: resources
    integer, intent(in), optional :: max_retries
    logical, intent(in), optional :: retry_exceptions
    integer(c_int) :: st
    type(lf_arg) :: flat(LUMEN_MAX_ARGS)
    type(lumen_ref) :: out(LUMEN_MAX_RETURNS)
    character(kind=c_char), allocatable, target :: res(:)
    type(c_ptr) :: pres
    integer(c_int) :: set, retries, exc
    real(c_double) :: cpus, gpus
    integer :: k
    if (size(args) > LUMEN_MAX_ARGS .or. size(refs) < 1 .or. size(refs) > LUMEN_MAX_RETURNS) then
      st = lf_fail(LUMEN_ERR_OUT_OF_RANGE, "lumen_remote('" // fn // "'): " // lf_itoa(int(size(args), c_int64_t)) &
                   // " arguments (at most 64) and " // lf_itoa(int(size(refs), c_int64_t)) &
                   // " returns (1 to 64)")
      return
    end if
    do k = 1, size(args)
      flat(k)%type = args(k)%kind
      flat(k)%i64 = args(k)%i64
      flat(k)%f64 = args(k)%f64
      flat(k)%ref%opaque_ = args(k)%ref
    end do
    set = 0
    cpus = 0
    gpus = 0
    retries = 0
    exc = 0
    pres = c_null_ptr
    if (present(num_cpus)) then
      set = ior(set, LF_TASK_CPUS)
      cpus = num_cpus
    end if
    if (present(num_gpus)) then
      set = ior(set, LF_TASK_GPUS)
      gpus = num_gpus
    end if
    if (present(resources)) then
      set = ior(set, LF_TASK_RESOURCES)
      allocate(res(len(resources) + 1))
      res(:) = lf_cstr(resources)
      pres = c_loc(res)
    end if
    if (present(max_retries)) then
      set = ior(set, LF_TASK_RETRIES)
      retries = int(max_retries, c_int)
    end if
    if (present(retry_exceptions)) then
      set = ior(set, LF_TASK_RETRY_EXC)
      exc = merge(1_c_int, 0_c_int, retry_exceptions)
    end if
    st = c_f_remote(lf_cstr(fn), flat, int(size(args), c_int64_t), int(size(refs), c_int64_t), set, cpus, gpus, &
                    pres, retries, exc, out)
    if (st == LUMEN_OK) refs = out(1:size(refs))
  end function lf_remote_n

  function lf_remote_1(fn, args, ref, num_cpus, num_gpus, resources, max_retries, retry_exceptions) result(st)
    character(*), intent(in) :: fn
    type(lumen_arg), intent(in) :: args(:)
    type(lumen_ref), intent(out) :: ref
    real(c_double), intent(in), optional :: num_cpus, num_gpus
    character(*), intent(in), optional :: resources
    integer, intent(in), optional :: max_retries
    logical, intent(in), optional :: retry_exceptions
    integer(c_int) :: st
    type(lumen_ref) :: refs(1)
    st = lf_remote_n(fn, args, refs, num_cpus, num_gpus, resources, max_retries, retry_exceptions)
    ref = refs(1)
  end function lf_remote_1

end module lumen
