//! The C ABI (`rust/ABI.md`): every `hl_*` function, and all of the crate's `unsafe`.
//!
//! Each function is a few lines over the safe API ([`crate::Client`], [`hftlive_sim::Sim`]):
//! [`ffi_panic_boundary!`](boundary) turns a panic into `HL_E_PANIC`, pointers become slices in
//! [`boundary`]'s helpers (null is an error code), handles are looked up in a
//! [`HandleTable`](crate::handles::HandleTable), and an [`Error`] becomes its status code plus,
//! on a client, the message `hl_last_error` returns.
#![allow(unsafe_code)]

mod boundary;
mod client;
mod exit;
mod record;
mod sim;

pub use client::*;
pub use exit::hl_client_guard;
pub use record::*;
pub use sim::*;

use crate::{
    error::{Error, ErrorKind},
    iox,
};
use boundary::ffi_panic_boundary;

pub const HL_OK: i32 = 0;
pub const HL_E_HANDLE: i32 = -1;
pub const HL_E_ARGUMENT: i32 = -2;
pub const HL_E_CLOSED: i32 = -3;
pub const HL_E_PANIC: i32 = -4;
pub const HL_E_IPC: i32 = -5;
pub const HL_E_NOT_FOUND: i32 = -6;
pub const HL_E_DUPLICATE: i32 = -7;
pub const HL_E_FULL: i32 = -8;
pub const HL_E_CONFIG: i32 = -9;
pub const HL_E_BUFFER: i32 = -10;
pub const HL_E_STATE: i32 = -11;
pub const HL_E_ENGINE: i32 = -12;
pub const HL_E_BACKPRESSURE: i32 = -13;
pub const HL_E_LIMIT: i32 = -14;

/// ABI version checked by the TypeScript loader.
pub const ABI_VERSION: u32 = 1;

/// The status code of an error.
pub fn status_of(e: &Error) -> i32 {
    match e.kind() {
        ErrorKind::Argument => HL_E_ARGUMENT,
        ErrorKind::Closed => HL_E_CLOSED,
        ErrorKind::Panic => HL_E_PANIC,
        ErrorKind::Ipc => HL_E_IPC,
        ErrorKind::NotFound => HL_E_NOT_FOUND,
        ErrorKind::Duplicate => HL_E_DUPLICATE,
        ErrorKind::Full => HL_E_FULL,
        ErrorKind::Config => HL_E_CONFIG,
        ErrorKind::Buffer => HL_E_BUFFER,
        ErrorKind::State => HL_E_STATE,
        ErrorKind::Engine => HL_E_ENGINE,
        ErrorKind::Backpressure => HL_E_BACKPRESSURE,
        ErrorKind::Limit => HL_E_LIMIT,
    }
}

/// ABI version (`rust/ABI.md`).
#[no_mangle]
pub extern "C" fn hl_abi_version() -> u32 {
    ABI_VERSION
}

/// Wall clock in ns since the Unix epoch, as f64.
#[no_mangle]
pub extern "C" fn hl_now() -> f64 {
    crate::now_ns() as f64
}

/// Removes dead iceoryx2 nodes left by killed processes; returns how many.
#[no_mangle]
pub extern "C" fn hl_cleanup_stale() -> i32 {
    ffi_panic_boundary! {
        iox::prepare_dirs();
        iox::cleanup_dead_nodes().min(i32::MAX as usize) as i32
    }
}

/// Gives memory freed by closed clients (their rings, their engine threads' allocations) back
/// to the system; `hl_client_close` calls it. glibc keeps freed blocks in per-thread arenas and,
/// after a large block is freed, serves the next large ones from the heap instead of fresh
/// mappings, so without this the resident size of a process that opens and closes clients
/// climbs by tens of MiB before it levels off (measured: +45 MiB over 1,000 connect/close cycles
/// in Deno, back to flat with it). It runs on a short-lived thread: trimming locks glibc's
/// arenas one after another, which must not stall the caller (the JavaScript thread) or other
/// clients' engines for its duration more than a normal allocation would.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    let _ = std::thread::Builder::new()
        .name("hftlive-trim".into())
        .spawn(|| {
            // SAFETY: malloc_trim only walks glibc's own allocator state; it takes no pointers.
            unsafe {
                libc::malloc_trim(0);
            }
        });
}
