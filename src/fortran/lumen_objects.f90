! lumen_objects.f90 - module lumen_objects: the object calls of module lumen
! (lumen_put, lumen_get, lumen_get_view, lumen_wait, references, lumen_cancel).
!
! Programs use module lumen, which re-exports everything public here; see
! lumen.f90 and docs/fortran.md. Owns no state.
module lumen_objects
  use, intrinsic :: iso_c_binding
  use lumen_c
  implicit none
  private

  public :: lumen_put, lumen_put_bytes, lumen_get, lumen_get_view, lumen_get_ptr, lumen_wait
  public :: lumen_ref_release, lumen_ref_dup, lumen_ref_is_nil, lumen_ref_equal, lumen_ref_hex, lumen_cancel

  ! st = lumen_put(x, ref): store a copy of x (ray.put); the object is BYTES
  interface lumen_put
    module procedure lf_put_f64_1, lf_put_f64_2, lf_put_f32_1, lf_put_i64_1, lf_put_i32_1, lf_put_str
  end interface lumen_put

  ! st = lumen_get(ref, x [, timeout_ms]): wait for the object and read it.
  ! Scalars: I64 and F64 objects (task results). Allocatable arrays and
  ! strings: BYTES and STR objects. lumen_get(refs, xs): many scalars at once.
  interface lumen_get
    module procedure lf_get_i64, lf_get_i32, lf_get_f64, lf_get_ref, lf_get_str, &
      lf_get_f64_a, lf_get_f32_a, lf_get_i64_a, lf_get_i32_a, lf_get_many_i64, lf_get_many_f64
  end interface lumen_get

  ! st = lumen_get_view(ref, x [, timeout_ms]): x points at the object's bytes,
  ! without a copy; read-only, valid while ref is held
  interface lumen_get_view
    module procedure lf_get_view_f64, lf_get_view_f32, lf_get_view_i64, lf_get_view_i32
  end interface lumen_get_view

  interface lumen_ref_release
    module procedure lf_ref_release_1, lf_ref_release_n
  end interface lumen_ref_release

  ! the object's value: type, scalars, and data/size (valid while ref is held)
  type :: lf_value
    integer(c_int32_t) :: type = 0
    integer(c_int64_t) :: i64 = 0
    real(c_double) :: f64 = 0
    type(c_ptr) :: data = c_null_ptr
    integer(c_int64_t) :: size = 0
    type(lumen_ref) :: inner
  end type lf_value

contains

  ! ==== put =================================================================================

  ! Store a copy of nbytes bytes at data (any type: c_loc(x), c_sizeof(x)).
  function lumen_put_bytes(data, nbytes, ref) result(st)
    type(c_ptr), intent(in) :: data
    integer(c_size_t), intent(in) :: nbytes
    type(lumen_ref), intent(out) :: ref
    integer(c_int) :: st
    if (nbytes < 0) then
      st = lf_fail(LUMEN_ERR_INVALID_ARG, "lumen_put_bytes: nbytes is negative")
      return
    end if
    st = c_put(data, nbytes, ref)
  end function lumen_put_bytes

  function lf_put_f64_1(x, ref) result(st)
    real(c_double), intent(in), target, contiguous :: x(:)
    type(lumen_ref), intent(out) :: ref
    integer(c_int) :: st
    type(c_ptr) :: p
    p = c_null_ptr
    if (size(x) > 0) p = c_loc(x(1))
    st = c_put(p, int(size(x), c_size_t) * 8, ref)
  end function lf_put_f64_1

  function lf_put_f64_2(x, ref) result(st)
    real(c_double), intent(in), target, contiguous :: x(:, :)
    type(lumen_ref), intent(out) :: ref
    integer(c_int) :: st
    type(c_ptr) :: p
    p = c_null_ptr
    if (size(x) > 0) p = c_loc(x(1, 1))
    st = c_put(p, int(size(x), c_size_t) * 8, ref)
  end function lf_put_f64_2

  function lf_put_f32_1(x, ref) result(st)
    real(c_float), intent(in), target, contiguous :: x(:)
    type(lumen_ref), intent(out) :: ref
    integer(c_int) :: st
    type(c_ptr) :: p
    p = c_null_ptr
    if (size(x) > 0) p = c_loc(x(1))
    st = c_put(p, int(size(x), c_size_t) * 4, ref)
  end function lf_put_f32_1

  function lf_put_i64_1(x, ref) result(st)
    integer(c_int64_t), intent(in), target, contiguous :: x(:)
    type(lumen_ref), intent(out) :: ref
    integer(c_int) :: st
    type(c_ptr) :: p
    p = c_null_ptr
    if (size(x) > 0) p = c_loc(x(1))
    st = c_put(p, int(size(x), c_size_t) * 8, ref)
  end function lf_put_i64_1

  function lf_put_i32_1(x, ref) result(st)
    integer(c_int32_t), intent(in), target, contiguous :: x(:)
    type(lumen_ref), intent(out) :: ref
    integer(c_int) :: st
    type(c_ptr) :: p
    p = c_null_ptr
    if (size(x) > 0) p = c_loc(x(1))
    st = c_put(p, int(size(x), c_size_t) * 4, ref)
  end function lf_put_i32_1

  ! the characters of s, trailing blanks included, without a NUL
  function lf_put_str(s, ref) result(st)
    character(*), intent(in) :: s
    type(lumen_ref), intent(out) :: ref
    integer(c_int) :: st
    character(kind=c_char), allocatable, target :: c(:)
    allocate(c(len(s) + 1))
    c(:) = lf_cstr(s)
    st = c_put(c_loc(c), int(len(s), c_size_t), ref)
  end function lf_put_str

  ! ==== get =================================================================================

  ! get ref and check that it holds BYTES or STR, a whole number n of elem-byte elements
  function lf_get_elems(ref, timeout_ms, elem, v, n) result(st)
    type(lumen_ref), intent(in) :: ref
    integer, intent(in), optional :: timeout_ms
    integer, intent(in) :: elem
    type(lf_value), intent(out) :: v
    integer(c_int64_t), intent(out) :: n
    integer(c_int) :: st
    n = 0
    st = c_f_get(ref, lf_timeout(timeout_ms), v%type, v%i64, v%f64, v%data, v%size, v%inner)
    if (st /= LUMEN_OK) return
    if (v%type /= LUMEN_TYPE_BYTES .and. v%type /= LUMEN_TYPE_STR) then
      st = lf_fail(LUMEN_ERR_TYPE_MISMATCH, "lumen_get: the object has type " // lf_itoa(int(v%type, c_int64_t)) &
                   // ", not bytes or a string")
    else if (mod(v%size, int(elem, c_int64_t)) /= 0) then
      st = lf_fail(LUMEN_ERR_TYPE_MISMATCH, "lumen_get: " // lf_itoa(v%size) // " bytes are not a whole number of " &
                   // lf_itoa(int(elem, c_int64_t)) // "-byte elements")
    else
      n = v%size / elem
    end if
  end function lf_get_elems

  function lf_get_i64(ref, x, timeout_ms) result(st)
    type(lumen_ref), intent(in) :: ref
    integer(c_int64_t), intent(out) :: x
    integer, intent(in), optional :: timeout_ms
    integer(c_int) :: st
    st = c_f_get_i64(ref, lf_timeout(timeout_ms), x)
  end function lf_get_i64

  function lf_get_i32(ref, x, timeout_ms) result(st)
    type(lumen_ref), intent(in) :: ref
    integer(c_int32_t), intent(out) :: x
    integer, intent(in), optional :: timeout_ms
    integer(c_int) :: st
    integer(c_int64_t) :: v
    x = 0
    st = c_f_get_i64(ref, lf_timeout(timeout_ms), v)
    if (st /= LUMEN_OK) return
    if (v < -huge(x) - 1 .or. v > huge(x)) then
      st = lf_fail(LUMEN_ERR_OUT_OF_RANGE, "lumen_get: " // lf_itoa(v) // " does not fit a 32-bit integer")
      return
    end if
    x = int(v, c_int32_t)
  end function lf_get_i32

  function lf_get_f64(ref, x, timeout_ms) result(st)
    type(lumen_ref), intent(in) :: ref
    real(c_double), intent(out) :: x
    integer, intent(in), optional :: timeout_ms
    integer(c_int) :: st
    st = c_f_get_f64(ref, lf_timeout(timeout_ms), x)
  end function lf_get_f64

  ! An object whose value is a reference (a task returned it with
  ! lumen_return(ctx, i, ref)): x is valid while ref is held; lumen_ref_dup keeps it.
  function lf_get_ref(ref, x, timeout_ms) result(st)
    type(lumen_ref), intent(in) :: ref
    type(lumen_ref), intent(out) :: x
    integer, intent(in), optional :: timeout_ms
    integer(c_int) :: st
    type(lf_value) :: v
    st = c_f_get(ref, lf_timeout(timeout_ms), v%type, v%i64, v%f64, v%data, v%size, v%inner)
    if (st /= LUMEN_OK) return
    if (v%type /= LUMEN_TYPE_REF) then
      st = lf_fail(LUMEN_ERR_TYPE_MISMATCH, "lumen_get: the object has type " // lf_itoa(int(v%type, c_int64_t)) &
                   // ", not a reference")
      return
    end if
    x = v%inner
  end function lf_get_ref

  function lf_get_str(ref, x, timeout_ms) result(st)
    type(lumen_ref), intent(in) :: ref
    character(len=:), allocatable, intent(out) :: x
    integer, intent(in), optional :: timeout_ms
    integer(c_int) :: st
    type(lf_value) :: v
    integer(c_int64_t) :: n
    character(kind=c_char), pointer :: p(:)
    integer(c_int64_t) :: k
    st = lf_get_elems(ref, timeout_ms, 1, v, n)
    if (st /= LUMEN_OK) return
    allocate(character(len=n) :: x)
    if (n == 0) return
    call c_f_pointer(v%data, p, [n])
    do k = 1, n
      x(k:k) = p(k)
    end do
  end function lf_get_str

  function lf_get_f64_a(ref, x, timeout_ms) result(st)
    type(lumen_ref), intent(in) :: ref
    real(c_double), allocatable, intent(out) :: x(:)
    integer, intent(in), optional :: timeout_ms
    integer(c_int) :: st
    type(lf_value) :: v
    integer(c_int64_t) :: n
    real(c_double), pointer :: p(:)
    st = lf_get_elems(ref, timeout_ms, 8, v, n)
    if (st /= LUMEN_OK) return
    allocate(x(n))
    if (n == 0) return
    call c_f_pointer(v%data, p, [n])
    x = p
  end function lf_get_f64_a

  function lf_get_f32_a(ref, x, timeout_ms) result(st)
    type(lumen_ref), intent(in) :: ref
    real(c_float), allocatable, intent(out) :: x(:)
    integer, intent(in), optional :: timeout_ms
    integer(c_int) :: st
    type(lf_value) :: v
    integer(c_int64_t) :: n
    real(c_float), pointer :: p(:)
    st = lf_get_elems(ref, timeout_ms, 4, v, n)
    if (st /= LUMEN_OK) return
    allocate(x(n))
    if (n == 0) return
    call c_f_pointer(v%data, p, [n])
    x = p
  end function lf_get_f32_a

  function lf_get_i64_a(ref, x, timeout_ms) result(st)
    type(lumen_ref), intent(in) :: ref
    integer(c_int64_t), allocatable, intent(out) :: x(:)
    integer, intent(in), optional :: timeout_ms
    integer(c_int) :: st
    type(lf_value) :: v
    integer(c_int64_t) :: n
    integer(c_int64_t), pointer :: p(:)
    st = lf_get_elems(ref, timeout_ms, 8, v, n)
    if (st /= LUMEN_OK) return
    allocate(x(n))
    if (n == 0) return
    call c_f_pointer(v%data, p, [n])
    x = p
  end function lf_get_i64_a

  function lf_get_i32_a(ref, x, timeout_ms) result(st)
    type(lumen_ref), intent(in) :: ref
    integer(c_int32_t), allocatable, intent(out) :: x(:)
    integer, intent(in), optional :: timeout_ms
    integer(c_int) :: st
    type(lf_value) :: v
    integer(c_int64_t) :: n
    integer(c_int32_t), pointer :: p(:)
    st = lf_get_elems(ref, timeout_ms, 4, v, n)
    if (st /= LUMEN_OK) return
    allocate(x(n))
    if (n == 0) return
    call c_f_pointer(v%data, p, [n])
    x = p
  end function lf_get_i32_a

  ! ray.get([...]) of I64 results: x(k) is the value of refs(k); size(x) == size(refs)
  function lf_get_many_i64(refs, x, timeout_ms) result(st)
    type(lumen_ref), intent(in) :: refs(:)
    integer(c_int64_t), intent(out), target, contiguous :: x(:)
    integer, intent(in), optional :: timeout_ms
    integer(c_int) :: st
    if (size(x) /= size(refs)) then
      st = lf_fail(LUMEN_ERR_INVALID_ARG, "lumen_get: " // lf_itoa(int(size(refs), c_int64_t)) // " references, " &
                   // lf_itoa(int(size(x), c_int64_t)) // " values")
      return
    end if
    if (size(x) == 0) then
      st = LUMEN_OK
      return
    end if
    st = c_f_get_many(refs, int(size(refs), c_int64_t), lf_timeout(timeout_ms), LUMEN_TYPE_I64, c_loc(x(1)))
  end function lf_get_many_i64

  function lf_get_many_f64(refs, x, timeout_ms) result(st)
    type(lumen_ref), intent(in) :: refs(:)
    real(c_double), intent(out), target, contiguous :: x(:)
    integer, intent(in), optional :: timeout_ms
    integer(c_int) :: st
    if (size(x) /= size(refs)) then
      st = lf_fail(LUMEN_ERR_INVALID_ARG, "lumen_get: " // lf_itoa(int(size(refs), c_int64_t)) // " references, " &
                   // lf_itoa(int(size(x), c_int64_t)) // " values")
      return
    end if
    if (size(x) == 0) then
      st = LUMEN_OK
      return
    end if
    st = c_f_get_many(refs, int(size(refs), c_int64_t), lf_timeout(timeout_ms), LUMEN_TYPE_F64, c_loc(x(1)))
  end function lf_get_many_f64

  ! data points at the object's nbytes bytes (BYTES or STR; for I64/F64 its raw
  ! 8 bytes): read-only, valid while ref is held
  function lumen_get_ptr(ref, data, nbytes, timeout_ms) result(st)
    type(lumen_ref), intent(in) :: ref
    type(c_ptr), intent(out) :: data
    integer(c_size_t), intent(out) :: nbytes
    integer, intent(in), optional :: timeout_ms
    integer(c_int) :: st
    type(lf_value) :: v
    st = c_f_get(ref, lf_timeout(timeout_ms), v%type, v%i64, v%f64, v%data, v%size, v%inner)
    data = v%data
    nbytes = int(v%size, c_size_t)
  end function lumen_get_ptr

  function lf_get_view_f64(ref, x, timeout_ms) result(st)
    type(lumen_ref), intent(in) :: ref
    real(c_double), pointer, intent(out) :: x(:)
    integer, intent(in), optional :: timeout_ms
    integer(c_int) :: st
    type(lf_value) :: v
    integer(c_int64_t) :: n
    x => null()
    st = lf_get_elems(ref, timeout_ms, 8, v, n)
    if (st /= LUMEN_OK) return
    x => lf_empty_f64
    if (n > 0) call c_f_pointer(v%data, x, [n])
  end function lf_get_view_f64

  function lf_get_view_f32(ref, x, timeout_ms) result(st)
    type(lumen_ref), intent(in) :: ref
    real(c_float), pointer, intent(out) :: x(:)
    integer, intent(in), optional :: timeout_ms
    integer(c_int) :: st
    type(lf_value) :: v
    integer(c_int64_t) :: n
    x => null()
    st = lf_get_elems(ref, timeout_ms, 4, v, n)
    if (st /= LUMEN_OK) return
    x => lf_empty_f32
    if (n > 0) call c_f_pointer(v%data, x, [n])
  end function lf_get_view_f32

  function lf_get_view_i64(ref, x, timeout_ms) result(st)
    type(lumen_ref), intent(in) :: ref
    integer(c_int64_t), pointer, intent(out) :: x(:)
    integer, intent(in), optional :: timeout_ms
    integer(c_int) :: st
    type(lf_value) :: v
    integer(c_int64_t) :: n
    x => null()
    st = lf_get_elems(ref, timeout_ms, 8, v, n)
    if (st /= LUMEN_OK) return
    x => lf_empty_i64
    if (n > 0) call c_f_pointer(v%data, x, [n])
  end function lf_get_view_i64

  function lf_get_view_i32(ref, x, timeout_ms) result(st)
    type(lumen_ref), intent(in) :: ref
    integer(c_int32_t), pointer, intent(out) :: x(:)
    integer, intent(in), optional :: timeout_ms
    integer(c_int) :: st
    type(lf_value) :: v
    integer(c_int64_t) :: n
    x => null()
    st = lf_get_elems(ref, timeout_ms, 4, v, n)
    if (st /= LUMEN_OK) return
    x => lf_empty_i32
    if (n > 0) call c_f_pointer(v%data, x, [n])
  end function lf_get_view_i32

  ! ray.wait: return when num_returns of refs are ready (value or error) or
  ! timeout_ms expires (not an error: check num_ready). ready(k) tells refs(k).
  function lumen_wait(refs, num_returns, ready, num_ready, timeout_ms) result(st)
    type(lumen_ref), intent(in) :: refs(:)
    integer, intent(in) :: num_returns
    logical, intent(out) :: ready(:)
    integer, intent(out), optional :: num_ready
    integer, intent(in), optional :: timeout_ms
    integer(c_int) :: st
    integer(c_int) :: r(max(1, size(refs)))
    integer(c_size_t) :: n
    ready = .false.
    if (present(num_ready)) num_ready = 0
    if (size(ready) /= size(refs) .or. num_returns < 0) then
      st = lf_fail(LUMEN_ERR_INVALID_ARG, "lumen_wait: ready needs one element per reference, num_returns >= 0")
      return
    end if
    r = 0
    st = c_wait(refs, int(size(refs), c_size_t), int(num_returns, c_size_t), lf_timeout(timeout_ms), r, n)
    ready = r(1:size(refs)) /= 0
    if (present(num_ready)) num_ready = int(n)
  end function lumen_wait

  ! ==== references ==============================================================================

  function lf_ref_release_1(ref) result(st)
    type(lumen_ref), intent(in) :: ref
    integer(c_int) :: st
    st = c_f_ref_release(ref)
  end function lf_ref_release_1

  ! every reference of refs; the first error is returned
  function lf_ref_release_n(refs) result(st)
    type(lumen_ref), intent(in) :: refs(:)
    integer(c_int) :: st
    integer(c_int) :: s
    integer :: k
    st = LUMEN_OK
    do k = 1, size(refs)
      s = c_f_ref_release(refs(k))
      if (st == LUMEN_OK) st = s
    end do
  end function lf_ref_release_n

  ! one more reference to the same object (release each on its own)
  function lumen_ref_dup(ref, out) result(st)
    type(lumen_ref), intent(in) :: ref
    type(lumen_ref), intent(out) :: out
    integer(c_int) :: st
    st = c_f_ref_dup(ref, out)
  end function lumen_ref_dup

  pure logical function lumen_ref_is_nil(ref)
    type(lumen_ref), intent(in) :: ref
    lumen_ref_is_nil = c_f_ref_is_nil(ref) /= 0
  end function lumen_ref_is_nil

  pure logical function lumen_ref_equal(a, b)
    type(lumen_ref), intent(in) :: a, b
    lumen_ref_equal = c_f_ref_equal(a, b) /= 0
  end function lumen_ref_equal

  ! hex form of the id, for logs
  function lumen_ref_hex(ref) result(s)
    type(lumen_ref), intent(in) :: ref
    character(len=32) :: s
    character(kind=c_char) :: c(33)
    integer :: k
    call c_f_ref_hex(ref, c)
    do k = 1, 32
      s(k:k) = c(k)
    end do
  end function lumen_ref_hex

  ! ray.cancel: the task producing ref, if it has not started
  function lumen_cancel(ref) result(st)
    type(lumen_ref), intent(in) :: ref
    integer(c_int) :: st
    st = c_f_cancel(ref)
  end function lumen_cancel

end module lumen_objects
