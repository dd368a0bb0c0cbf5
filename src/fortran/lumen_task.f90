! lumen_task.f90 - module lumen_task: what a remote function written in Fortran
! sees: its arguments (lumen_arg_get, lumen_arg_view), its return slots
! (lumen_return, lumen_return_alloc) and lumen_task_fail. Indices count from 1.
!
! Programs use module lumen, which re-exports everything public here; see
! lumen.f90 and docs/fortran.md. Owns no state.
module lumen_task
  use, intrinsic :: iso_c_binding
  use lumen_c
  implicit none
  private

  public :: lumen_num_args, lumen_arg_type, lumen_arg_get, lumen_arg_view, lumen_arg_get_ptr
  public :: lumen_num_returns, lumen_return, lumen_return_bytes, lumen_return_alloc
  public :: lumen_task_fail, lumen_task_function

  ! inside a task: st = lumen_arg_get(ctx, i, x)
  interface lumen_arg_get
    module procedure lf_arg_get_i64, lf_arg_get_i32, lf_arg_get_f64, lf_arg_get_f32, lf_arg_get_ref, &
      lf_arg_get_str, lf_arg_get_f64_a, lf_arg_get_f32_a, lf_arg_get_i64_a, lf_arg_get_i32_a
  end interface lumen_arg_get

  ! inside a task: st = lumen_arg_view(ctx, i, x), x => the argument's bytes
  interface lumen_arg_view
    module procedure lf_arg_view_f64, lf_arg_view_f32, lf_arg_view_i64, lf_arg_view_i32
  end interface lumen_arg_view

  ! inside a task: st = lumen_return(ctx, i, v)
  interface lumen_return
    module procedure lf_return_i64, lf_return_i32, lf_return_f64, lf_return_f32, lf_return_str, &
      lf_return_ref, lf_return_f64_1, lf_return_f64_2, lf_return_f32_1, lf_return_i64_1, lf_return_i32_1
  end interface lumen_return

  ! inside a task: st = lumen_return_alloc(ctx, i, n, x), x(1:n) is return slot i
  interface lumen_return_alloc
    module procedure lf_return_alloc_f64, lf_return_alloc_f32, lf_return_alloc_i64, lf_return_alloc_i32
  end interface lumen_return_alloc

contains

  ! ==== inside a task: arguments =====================================================================

  ! C's 0-based index of argument (what = "argument") or return slot i
  function lf_index(ctx, i, what, idx) result(st)
    type(c_ptr), intent(in) :: ctx
    integer, intent(in) :: i
    character(*), intent(in) :: what
    integer(c_size_t), intent(out) :: idx
    integer(c_int) :: st
    idx = 0
    st = LUMEN_OK
    if (i < 1) then
      st = lf_task_fail(ctx, LUMEN_ERR_OUT_OF_RANGE, what // " " // lf_itoa(int(i, c_int64_t)) &
                        // ": they count from 1")
      return
    end if
    idx = int(i - 1, c_size_t)
  end function lf_index

  ! number of arguments of the running task
  pure integer function lumen_num_args(ctx)
    type(c_ptr), intent(in) :: ctx
    lumen_num_args = int(c_num_args(ctx))
  end function lumen_num_args

  ! LUMEN_TYPE_* of argument i (LUMEN_TYPE_NONE when there is none)
  pure function lumen_arg_type(ctx, i) result(t)
    type(c_ptr), intent(in) :: ctx
    integer, intent(in) :: i
    integer(c_int) :: t
    t = LUMEN_TYPE_NONE
    if (i >= 1) t = c_arg_type(ctx, int(i - 1, c_size_t))
  end function lumen_arg_type

  function lf_arg_get_i64(ctx, i, x) result(st)
    type(c_ptr), intent(in) :: ctx
    integer, intent(in) :: i
    integer(c_int64_t), intent(out) :: x
    integer(c_int) :: st
    integer(c_size_t) :: idx
    x = 0
    st = lf_index(ctx, i, "argument", idx)
    if (st == LUMEN_OK) st = c_arg_get_i64(ctx, idx, x)
  end function lf_arg_get_i64

  function lf_arg_get_i32(ctx, i, x) result(st)
    type(c_ptr), intent(in) :: ctx
    integer, intent(in) :: i
    integer(c_int32_t), intent(out) :: x
    integer(c_int) :: st
    integer(c_int64_t) :: v
    x = 0
    st = lf_arg_get_i64(ctx, i, v)
    if (st /= LUMEN_OK) return
    if (v < -huge(x) - 1 .or. v > huge(x)) then
      st = lf_task_fail(ctx, LUMEN_ERR_OUT_OF_RANGE, "argument " // lf_itoa(int(i, c_int64_t)) // " is " &
                        // lf_itoa(v) // ", which does not fit a 32-bit integer")
      return
    end if
    x = int(v, c_int32_t)
  end function lf_arg_get_i32

  function lf_arg_get_f64(ctx, i, x) result(st)
    type(c_ptr), intent(in) :: ctx
    integer, intent(in) :: i
    real(c_double), intent(out) :: x
    integer(c_int) :: st
    integer(c_size_t) :: idx
    x = 0
    st = lf_index(ctx, i, "argument", idx)
    if (st == LUMEN_OK) st = c_arg_get_f64(ctx, idx, x)
  end function lf_arg_get_f64

  function lf_arg_get_f32(ctx, i, x) result(st)
    type(c_ptr), intent(in) :: ctx
    integer, intent(in) :: i
    real(c_float), intent(out) :: x
    integer(c_int) :: st
    real(c_double) :: v
    x = 0
    st = lf_arg_get_f64(ctx, i, v)
    if (st == LUMEN_OK) x = real(v, c_float)
  end function lf_arg_get_f32

  ! An argument whose value is a reference (an object a task filled with
  ! lumen_return(ctx, i, ref)): valid during the call; lumen_ref_dup keeps it.
  function lf_arg_get_ref(ctx, i, x) result(st)
    type(c_ptr), intent(in) :: ctx
    integer, intent(in) :: i
    type(lumen_ref), intent(out) :: x
    integer(c_int) :: st
    integer(c_size_t) :: idx
    st = lf_index(ctx, i, "argument", idx)
    if (st == LUMEN_OK) st = c_arg_get_ref(ctx, idx, x)
  end function lf_arg_get_ref

  ! argument i's bytes (BYTES or STR), a whole number n of elem-byte elements
  function lf_arg_elems(ctx, i, elem, p, n) result(st)
    type(c_ptr), intent(in) :: ctx
    integer, intent(in) :: i, elem
    type(c_ptr), intent(out) :: p
    integer(c_int64_t), intent(out) :: n
    integer(c_int) :: st
    integer(c_size_t) :: idx, nbytes
    p = c_null_ptr
    n = 0
    st = lf_index(ctx, i, "argument", idx)
    if (st == LUMEN_OK) st = c_arg_get_bytes(ctx, idx, p, nbytes)
    if (st /= LUMEN_OK) return
    if (mod(nbytes, int(elem, c_size_t)) /= 0) then
      st = lf_task_fail(ctx, LUMEN_ERR_TYPE_MISMATCH, "argument " // lf_itoa(int(i, c_int64_t)) // ": " &
                        // lf_itoa(int(nbytes, c_int64_t)) // " bytes are not a whole number of " &
                        // lf_itoa(int(elem, c_int64_t)) // "-byte elements")
      return
    end if
    n = int(nbytes, c_int64_t) / elem
  end function lf_arg_elems

  ! data points at argument i's nbytes bytes (BYTES or STR, without the NUL):
  ! read-only, valid until the function returns; 8-byte aligned
  function lumen_arg_get_ptr(ctx, i, data, nbytes) result(st)
    type(c_ptr), intent(in) :: ctx
    integer, intent(in) :: i
    type(c_ptr), intent(out) :: data
    integer(c_size_t), intent(out) :: nbytes
    integer(c_int) :: st
    integer(c_int64_t) :: n
    nbytes = 0
    st = lf_arg_elems(ctx, i, 1, data, n)
    nbytes = int(n, c_size_t)
  end function lumen_arg_get_ptr

  function lf_arg_get_str(ctx, i, x) result(st)
    type(c_ptr), intent(in) :: ctx
    integer, intent(in) :: i
    character(len=:), allocatable, intent(out) :: x
    integer(c_int) :: st
    type(c_ptr) :: p
    integer(c_int64_t) :: n, k
    character(kind=c_char), pointer :: c(:)
    st = lf_arg_elems(ctx, i, 1, p, n)
    if (st /= LUMEN_OK) return
    allocate(character(len=n) :: x)
    if (n == 0) return
    call c_f_pointer(p, c, [n])
    do k = 1, n
      x(k:k) = c(k)
    end do
  end function lf_arg_get_str

  function lf_arg_get_f64_a(ctx, i, x) result(st)
    type(c_ptr), intent(in) :: ctx
    integer, intent(in) :: i
    real(c_double), allocatable, intent(out) :: x(:)
    integer(c_int) :: st
    real(c_double), pointer :: v(:)
    st = lf_arg_view_f64(ctx, i, v)
    if (st == LUMEN_OK) x = v
  end function lf_arg_get_f64_a

  function lf_arg_get_f32_a(ctx, i, x) result(st)
    type(c_ptr), intent(in) :: ctx
    integer, intent(in) :: i
    real(c_float), allocatable, intent(out) :: x(:)
    integer(c_int) :: st
    real(c_float), pointer :: v(:)
    st = lf_arg_view_f32(ctx, i, v)
    if (st == LUMEN_OK) x = v
  end function lf_arg_get_f32_a

  function lf_arg_get_i64_a(ctx, i, x) result(st)
    type(c_ptr), intent(in) :: ctx
    integer, intent(in) :: i
    integer(c_int64_t), allocatable, intent(out) :: x(:)
    integer(c_int) :: st
    integer(c_int64_t), pointer :: v(:)
    st = lf_arg_view_i64(ctx, i, v)
    if (st == LUMEN_OK) x = v
  end function lf_arg_get_i64_a

  function lf_arg_get_i32_a(ctx, i, x) result(st)
    type(c_ptr), intent(in) :: ctx
    integer, intent(in) :: i
    integer(c_int32_t), allocatable, intent(out) :: x(:)
    integer(c_int) :: st
    integer(c_int32_t), pointer :: v(:)
    st = lf_arg_view_i32(ctx, i, v)
    if (st == LUMEN_OK) x = v
  end function lf_arg_get_i32_a

  function lf_arg_view_f64(ctx, i, x) result(st)
    type(c_ptr), intent(in) :: ctx
    integer, intent(in) :: i
    real(c_double), pointer, intent(out) :: x(:)
    integer(c_int) :: st
    type(c_ptr) :: p
    integer(c_int64_t) :: n
    x => null()
    st = lf_arg_elems(ctx, i, 8, p, n)
    if (st /= LUMEN_OK) return
    x => lf_empty_f64
    if (n > 0) call c_f_pointer(p, x, [n])
  end function lf_arg_view_f64

  function lf_arg_view_f32(ctx, i, x) result(st)
    type(c_ptr), intent(in) :: ctx
    integer, intent(in) :: i
    real(c_float), pointer, intent(out) :: x(:)
    integer(c_int) :: st
    type(c_ptr) :: p
    integer(c_int64_t) :: n
    x => null()
    st = lf_arg_elems(ctx, i, 4, p, n)
    if (st /= LUMEN_OK) return
    x => lf_empty_f32
    if (n > 0) call c_f_pointer(p, x, [n])
  end function lf_arg_view_f32

  function lf_arg_view_i64(ctx, i, x) result(st)
    type(c_ptr), intent(in) :: ctx
    integer, intent(in) :: i
    integer(c_int64_t), pointer, intent(out) :: x(:)
    integer(c_int) :: st
    type(c_ptr) :: p
    integer(c_int64_t) :: n
    x => null()
    st = lf_arg_elems(ctx, i, 8, p, n)
    if (st /= LUMEN_OK) return
    x => lf_empty_i64
    if (n > 0) call c_f_pointer(p, x, [n])
  end function lf_arg_view_i64

  function lf_arg_view_i32(ctx, i, x) result(st)
    type(c_ptr), intent(in) :: ctx
    integer, intent(in) :: i
    integer(c_int32_t), pointer, intent(out) :: x(:)
    integer(c_int) :: st
    type(c_ptr) :: p
    integer(c_int64_t) :: n
    x => null()
    st = lf_arg_elems(ctx, i, 4, p, n)
    if (st /= LUMEN_OK) return
    x => lf_empty_i32
    if (n > 0) call c_f_pointer(p, x, [n])
  end function lf_arg_view_i32

  ! ==== inside a task: returns and failure =============================================================

  ! number of return slots of the running task
  pure integer function lumen_num_returns(ctx)
    type(c_ptr), intent(in) :: ctx
    lumen_num_returns = int(c_num_returns(ctx))
  end function lumen_num_returns

  function lf_return_i64(ctx, i, v) result(st)
    type(c_ptr), intent(in) :: ctx
    integer, intent(in) :: i
    integer(c_int64_t), intent(in) :: v
    integer(c_int) :: st
    integer(c_size_t) :: idx
    st = lf_index(ctx, i, "return slot", idx)
    if (st == LUMEN_OK) st = c_return_i64(ctx, idx, v)
  end function lf_return_i64

  function lf_return_i32(ctx, i, v) result(st)
    type(c_ptr), intent(in) :: ctx
    integer, intent(in) :: i
    integer(c_int32_t), intent(in) :: v
    integer(c_int) :: st
    st = lf_return_i64(ctx, i, int(v, c_int64_t))
  end function lf_return_i32

  function lf_return_f64(ctx, i, v) result(st)
    type(c_ptr), intent(in) :: ctx
    integer, intent(in) :: i
    real(c_double), intent(in) :: v
    integer(c_int) :: st
    integer(c_size_t) :: idx
    st = lf_index(ctx, i, "return slot", idx)
    if (st == LUMEN_OK) st = c_return_f64(ctx, idx, v)
  end function lf_return_f64

  function lf_return_f32(ctx, i, v) result(st)
    type(c_ptr), intent(in) :: ctx
    integer, intent(in) :: i
    real(c_float), intent(in) :: v
    integer(c_int) :: st
    st = lf_return_f64(ctx, i, real(v, c_double))
  end function lf_return_f32

  ! a string (STR): the characters of s, trailing blanks included
  function lf_return_str(ctx, i, s) result(st)
    type(c_ptr), intent(in) :: ctx
    integer, intent(in) :: i
    character(*), intent(in) :: s
    integer(c_int) :: st
    integer(c_size_t) :: idx
    st = lf_index(ctx, i, "return slot", idx)
    if (st == LUMEN_OK) st = c_return_str(ctx, idx, lf_cstr(s))
  end function lf_return_str

  ! a reference (Ray: returning an ObjectRef); the task keeps its own ref to release
  function lf_return_ref(ctx, i, ref) result(st)
    type(c_ptr), intent(in) :: ctx
    integer, intent(in) :: i
    type(lumen_ref), intent(in) :: ref
    integer(c_int) :: st
    integer(c_size_t) :: idx
    st = lf_index(ctx, i, "return slot", idx)
    if (st == LUMEN_OK) st = c_f_return_ref(ctx, idx, ref)
  end function lf_return_ref

  ! a copy of nbytes bytes at data (BYTES)
  function lumen_return_bytes(ctx, i, data, nbytes) result(st)
    type(c_ptr), intent(in) :: ctx
    integer, intent(in) :: i
    type(c_ptr), intent(in) :: data
    integer(c_size_t), intent(in) :: nbytes
    integer(c_int) :: st
    integer(c_size_t) :: idx
    st = lf_index(ctx, i, "return slot", idx)
    if (st /= LUMEN_OK) return
    if (nbytes < 0) then
      st = lf_task_fail(ctx, LUMEN_ERR_INVALID_ARG, "lumen_return_bytes: nbytes is negative")
      return
    end if
    st = c_return_bytes(ctx, idx, data, nbytes)
  end function lumen_return_bytes

  function lf_return_f64_1(ctx, i, v) result(st)
    type(c_ptr), intent(in) :: ctx
    integer, intent(in) :: i
    real(c_double), intent(in), target, contiguous :: v(:)
    integer(c_int) :: st
    type(c_ptr) :: p
    p = c_null_ptr
    if (size(v) > 0) p = c_loc(v(1))
    st = lumen_return_bytes(ctx, i, p, int(size(v), c_size_t) * 8)
  end function lf_return_f64_1

  function lf_return_f64_2(ctx, i, v) result(st)
    type(c_ptr), intent(in) :: ctx
    integer, intent(in) :: i
    real(c_double), intent(in), target, contiguous :: v(:, :)
    integer(c_int) :: st
    type(c_ptr) :: p
    p = c_null_ptr
    if (size(v) > 0) p = c_loc(v(1, 1))
    st = lumen_return_bytes(ctx, i, p, int(size(v), c_size_t) * 8)
  end function lf_return_f64_2

  function lf_return_f32_1(ctx, i, v) result(st)
    type(c_ptr), intent(in) :: ctx
    integer, intent(in) :: i
    real(c_float), intent(in), target, contiguous :: v(:)
    integer(c_int) :: st
    type(c_ptr) :: p
    p = c_null_ptr
    if (size(v) > 0) p = c_loc(v(1))
    st = lumen_return_bytes(ctx, i, p, int(size(v), c_size_t) * 4)
  end function lf_return_f32_1

  function lf_return_i64_1(ctx, i, v) result(st)
    type(c_ptr), intent(in) :: ctx
    integer, intent(in) :: i
    integer(c_int64_t), intent(in), target, contiguous :: v(:)
    integer(c_int) :: st
    type(c_ptr) :: p
    p = c_null_ptr
    if (size(v) > 0) p = c_loc(v(1))
    st = lumen_return_bytes(ctx, i, p, int(size(v), c_size_t) * 8)
  end function lf_return_i64_1

  function lf_return_i32_1(ctx, i, v) result(st)
    type(c_ptr), intent(in) :: ctx
    integer, intent(in) :: i
    integer(c_int32_t), intent(in), target, contiguous :: v(:)
    integer(c_int) :: st
    type(c_ptr) :: p
    p = c_null_ptr
    if (size(v) > 0) p = c_loc(v(1))
    st = lumen_return_bytes(ctx, i, p, int(size(v), c_size_t) * 4)
  end function lf_return_i32_1

  ! return slot i as a buffer of elem-byte elements to fill in place
  function lf_return_alloc(ctx, i, n, elem, p) result(st)
    type(c_ptr), intent(in) :: ctx
    integer, intent(in) :: i, n, elem
    type(c_ptr), intent(out) :: p
    integer(c_int) :: st
    integer(c_size_t) :: idx
    p = c_null_ptr
    st = lf_index(ctx, i, "return slot", idx)
    if (st /= LUMEN_OK) return
    if (n < 0) then
      st = lf_task_fail(ctx, LUMEN_ERR_INVALID_ARG, "lumen_return_alloc: n is negative")
      return
    end if
    st = c_return_alloc(ctx, idx, int(n, c_size_t) * int(elem, c_size_t), p)
  end function lf_return_alloc

  function lf_return_alloc_f64(ctx, i, n, x) result(st)
    type(c_ptr), intent(in) :: ctx
    integer, intent(in) :: i, n
    real(c_double), pointer, intent(out) :: x(:)
    integer(c_int) :: st
    type(c_ptr) :: p
    x => null()
    st = lf_return_alloc(ctx, i, n, 8, p)
    if (st /= LUMEN_OK) return
    x => lf_empty_f64
    if (n > 0) call c_f_pointer(p, x, [n])
  end function lf_return_alloc_f64

  function lf_return_alloc_f32(ctx, i, n, x) result(st)
    type(c_ptr), intent(in) :: ctx
    integer, intent(in) :: i, n
    real(c_float), pointer, intent(out) :: x(:)
    integer(c_int) :: st
    type(c_ptr) :: p
    x => null()
    st = lf_return_alloc(ctx, i, n, 4, p)
    if (st /= LUMEN_OK) return
    x => lf_empty_f32
    if (n > 0) call c_f_pointer(p, x, [n])
  end function lf_return_alloc_f32

  function lf_return_alloc_i64(ctx, i, n, x) result(st)
    type(c_ptr), intent(in) :: ctx
    integer, intent(in) :: i, n
    integer(c_int64_t), pointer, intent(out) :: x(:)
    integer(c_int) :: st
    type(c_ptr) :: p
    x => null()
    st = lf_return_alloc(ctx, i, n, 8, p)
    if (st /= LUMEN_OK) return
    x => lf_empty_i64
    if (n > 0) call c_f_pointer(p, x, [n])
  end function lf_return_alloc_i64

  function lf_return_alloc_i32(ctx, i, n, x) result(st)
    type(c_ptr), intent(in) :: ctx
    integer, intent(in) :: i, n
    integer(c_int32_t), pointer, intent(out) :: x(:)
    integer(c_int) :: st
    type(c_ptr) :: p
    x => null()
    st = lf_return_alloc(ctx, i, n, 4, p)
    if (st /= LUMEN_OK) return
    x => lf_empty_i32
    if (n > 0) call c_f_pointer(p, x, [n])
  end function lf_return_alloc_i32

  ! Record why the task failed; returns LUMEN_ERR_TASK_FAILED to return.
  function lumen_task_fail(ctx, msg) result(st)
    type(c_ptr), intent(in) :: ctx
    character(*), intent(in) :: msg
    integer(c_int) :: st
    st = c_f_task_fail(ctx, lf_cstr(msg))
  end function lumen_task_fail

  ! name of the running function
  function lumen_task_function(ctx) result(s)
    type(c_ptr), intent(in) :: ctx
    character(len=:), allocatable :: s
    s = lf_fstr(c_task_function(ctx))
  end function lumen_task_function

end module lumen_task
