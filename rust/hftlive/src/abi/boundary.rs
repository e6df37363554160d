//! What every `extern "C"` function needs, in one place (the shape of rustls-ffi's): the panic
//! boundary, pointer-to-slice helpers that turn null into an error instead of undefined
//! behaviour, writing a message into a caller buffer, the open-with-error-buffer protocol of
//! `hl_client_open` and `hl_sim_start`, and the depth layout.

use super::{status_of, HL_E_ARGUMENT, HL_E_CONFIG, HL_OK};
use crate::error::Error;

/// Runs the body (an `i32` status) and turns a panic into `HL_E_PANIC`: no panic crosses the
/// ABI. A `return` in the body returns its status.
macro_rules! ffi_panic_boundary {
    ($($body:tt)*) => {
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| -> i32 { $($body)* })) {
            Ok(status) => status,
            Err(_) => $crate::abi::HL_E_PANIC,
        }
    };
}
pub(crate) use ffi_panic_boundary;

/// The object of handle `$h` in `$table`, or `return HL_E_HANDLE`.
macro_rules! try_handle {
    ($table:expr, $h:expr) => {
        match $table.get($h) {
            Some(v) => v,
            None => return $crate::abi::HL_E_HANDLE,
        }
    };
}
pub(crate) use try_handle;

/// A slice of `len` `T`s at `ptr`, `None` if `ptr` is null.
///
/// # Safety
/// `ptr` is null or valid for reads of `len` `T`s for `'a`, and nothing else writes them.
pub unsafe fn try_slice<'a, T>(ptr: *const T, len: usize) -> Option<&'a [T]> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: non-null, and valid for `len` reads per this function's contract.
    Some(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A mutable slice of `len` `T`s at `ptr`, `None` if `ptr` is null.
///
/// # Safety
/// `ptr` is null or valid for reads and writes of `len` `T`s for `'a`, and nothing else
/// accesses them meanwhile.
pub unsafe fn try_slice_mut<'a, T>(ptr: *mut T, len: usize) -> Option<&'a mut [T]> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: non-null, and valid for `len` reads and writes per this function's contract.
    Some(unsafe { std::slice::from_raw_parts_mut(ptr, len) })
}

/// Copies `msg` into a caller buffer (truncated at a UTF-8 boundary); returns bytes written.
///
/// # Safety
/// `buf` must be null or valid for `cap` bytes of writes.
pub unsafe fn write_msg(msg: &str, buf: *mut u8, cap: u32) -> i32 {
    // SAFETY: per this function's contract.
    let Some(out) = (unsafe { try_slice_mut(buf, cap as usize) }) else {
        return 0;
    };
    let mut n = msg.len().min(out.len());
    while !msg.is_char_boundary(n) {
        n -= 1;
    }
    out[..n].copy_from_slice(&msg.as_bytes()[..n]);
    n as i32
}

/// The body of `hl_client_open` / `hl_sim_start`: reads the JSON configuration, creates the
/// object with `create`, writes its handle, or writes the failure's message into `err`.
///
/// # Safety
/// `cfg` valid for `cfg_len` bytes; `out_handle` valid for one u32; `err` null or valid for
/// `err_cap` bytes.
pub unsafe fn open_with_error_buffer(
    cfg: *const u8,
    cfg_len: u32,
    out_handle: *mut u32,
    err: *mut u8,
    err_cap: u32,
    what: &str,
    create: impl FnOnce(&str) -> Result<u32, Error>,
) -> i32 {
    ffi_panic_boundary! {
        let fail = |code: i32, msg: &str| {
            // SAFETY: per this function's contract.
            unsafe { write_msg(msg, err, err_cap) };
            code
        };
        // SAFETY: per this function's contract.
        let (bytes, out) = unsafe { (try_slice(cfg, cfg_len as usize), out_handle.as_mut()) };
        let (Some(bytes), Some(out)) = (bytes, out) else {
            return fail(
                HL_E_ARGUMENT,
                &format!("cannot open {what}: null configuration or handle pointer"),
            );
        };
        let Ok(json) = std::str::from_utf8(bytes) else {
            return fail(HL_E_CONFIG, &format!("invalid {what} configuration: not UTF-8"));
        };
        match create(json) {
            Ok(h) => {
                *out = h;
                HL_OK
            }
            Err(e) => fail(status_of(&e), &e.to_string()),
        }
    }
}

/// Defines an `extern "C"` constructor with the open-with-error-buffer protocol
/// ([`open_with_error_buffer`]): `$name(cfg, cfg_len, out_handle, err, err_cap) -> i32`, whose
/// object `$create` makes from the JSON configuration and returns the handle of.
macro_rules! extern_open {
    ($(#[$doc:meta])* $name:ident, $what:literal, $create:expr) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// `cfg` valid for `cfg_len` bytes; `out_handle` valid for one u32; `err` null or valid
        /// for `err_cap` bytes.
        #[no_mangle]
        pub unsafe extern "C" fn $name(
            cfg: *const u8,
            cfg_len: u32,
            out_handle: *mut u32,
            err: *mut u8,
            err_cap: u32,
        ) -> i32 {
            // SAFETY: this function's contract is open_with_error_buffer's.
            unsafe {
                $crate::abi::boundary::open_with_error_buffer(
                    cfg, cfg_len, out_handle, err, err_cap, $what, $create,
                )
            }
        }
    };
}
pub(crate) use extern_open;

/// Writes top-of-book levels in the `hl_client_depth` layout: `out[0]` bids, `out[1]` asks,
/// then `levels` (price, qty) pairs of bids, best first, then of asks.
pub fn write_levels(out: &mut [f64], levels: usize, bids: &[(f64, f64)], asks: &[(f64, f64)]) {
    let (nb, na) = (bids.len().min(levels), asks.len().min(levels));
    out[0] = nb as f64;
    out[1] = na as f64;
    let (bid_out, ask_out) = out[2..2 + 4 * levels].split_at_mut(2 * levels);
    for (side, dst) in [(&bids[..nb], bid_out), (&asks[..na], ask_out)] {
        for ((p, q), pair) in side.iter().zip(dst.chunks_exact_mut(2)) {
            pair[0] = *p;
            pair[1] = *q;
        }
    }
}

/// Copies the first `n` of `values` to `out` (valid for `n` f64); returns how many.
///
/// # Safety
/// `out` is null or valid for `n` f64 writes.
pub unsafe fn write_f64s(values: &[f64], out: *mut f64, n: u32) -> Option<i32> {
    let k = values.len().min(n as usize);
    // SAFETY: per this function's contract; k <= n.
    let out = unsafe { try_slice_mut(out, k) }?;
    out.copy_from_slice(&values[..k]);
    Some(k as i32)
}
