//! Recording (`rust/ABI.md`, "Recording"): `hl_record_*` over [`Client::record`] and its
//! siblings. A recording is named by its client's handle and its id (>= 1).

use super::{
    boundary::{ffi_panic_boundary, try_handle, try_slice, write_f64s},
    client::{null_buffer, status, CLIENTS},
};
use crate::{
    error::{Error, ErrorKind},
    Client,
};

/// Starts recording the market data of client `h` (JSON options, `len` bytes); returns the
/// recording's id (>= 1) or an error status (message in `hl_last_error`).
///
/// # Safety
/// `cfg` null or valid for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn hl_record_start(h: u32, cfg: *const u8, len: u32) -> i32 {
    ffi_panic_boundary! {
        let c = try_handle!(CLIENTS, h);
        // SAFETY: the caller's contract: `cfg` is null or valid for `len` bytes.
        let bytes = unsafe { try_slice(cfg, len as usize) };
        let json = bytes.and_then(|b| std::str::from_utf8(b).ok());
        let r = match json {
            Some(j) => c.record(j).map(|id| id as usize),
            None => Err(Error::new(
                ErrorKind::Argument,
                "hl_record_start: null or non-UTF-8 options",
            )),
        };
        status(&c, r)
    }
}

/// Stops recording `id` of client `h` and returns once its files are complete (it drains the
/// queue and packages the last rolls: call it where blocking is fine). Idempotent.
#[no_mangle]
pub extern "C" fn hl_record_stop(h: u32, id: u32) -> i32 {
    ffi_panic_boundary! {
        let c = try_handle!(CLIENTS, h);
        let r = c.record_stop(id);
        // The queue (18 MiB by default) and the writer's buffers go back to the system.
        super::release_freed_memory();
        status(&c, r)
    }
}

/// Counters of recording `id` (f64 each, `rust/ABI.md`); returns how many were written.
///
/// # Safety
/// `out` null or valid for `n` f64.
#[no_mangle]
pub unsafe extern "C" fn hl_record_stats(h: u32, id: u32, out: *mut f64, n: u32) -> i32 {
    ffi_panic_boundary! {
        let c = try_handle!(CLIENTS, h);
        let stats = match c.record_stats(id) {
            Ok(s) => s,
            Err(e) => return status::<()>(&c, Err(e)),
        };
        // SAFETY: the caller's contract: `out` is null or valid for `n` f64.
        match unsafe { write_f64s(&stats, out, n) } {
            Some(k) => k,
            None => null_buffer(&c, "hl_record_stats"),
        }
    }
}

/// The complete files of recording `id` and its first failure as UTF-8 JSON
/// `{"files": [...], "error": null | "..."}`; returns the JSON's full length, which may be more
/// than `cap` (then only `cap` bytes were written: call again with a larger buffer).
///
/// # Safety
/// `buf` null or valid for `cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn hl_record_info(h: u32, id: u32, buf: *mut u8, cap: u32) -> i32 {
    ffi_panic_boundary! {
        let c: Client = try_handle!(CLIENTS, h);
        let json = match c.record_info(id) {
            Ok(j) => j,
            Err(e) => return status::<()>(&c, Err(e)),
        };
        // SAFETY: the caller's contract: `buf` is null or valid for `cap` bytes.
        let _ = unsafe { super::boundary::write_msg(&json, buf, cap) };
        json.len().min(i32::MAX as usize) as i32
    }
}
