//! The client half of the C ABI: `hl_client_*` and `hl_last_error` over [`Client`].

use std::time::Duration;

use super::{
    boundary::{
        extern_open, ffi_panic_boundary, try_handle, try_slice, try_slice_mut, write_f64s,
        write_levels, write_msg,
    },
    release_freed_memory, status_of, HL_E_HANDLE, HL_OK,
};
use crate::{
    client::BELL_REFUSED,
    commands::{RawCancelOrder, RawNewOrder},
    error::{Error, ErrorKind},
    handles::HandleTable,
    record::REC_SIZE,
    Client,
};

/// Clients open at once at most.
const CLIENT_SLOTS: usize = 4096;

pub(super) static CLIENTS: HandleTable<Client, CLIENT_SLOTS> = HandleTable::new();

/// A status from a result: a count or `HL_OK`, or the error's code with its message (if it has
/// one) kept as the client's last error.
pub(super) fn status<T: Into<Status>>(c: &Client, r: Result<T, Error>) -> i32 {
    match r {
        Ok(v) => v.into().0,
        Err(e) => {
            if let Some(m) = e.message() {
                c.set_last_error(m);
            }
            status_of(&e)
        }
    }
}

/// A success status: `HL_OK`, or a count.
pub(super) struct Status(i32);

impl From<()> for Status {
    fn from(_: ()) -> Self {
        Status(HL_OK)
    }
}

impl From<usize> for Status {
    fn from(n: usize) -> Self {
        Status(n.min(i32::MAX as usize) as i32)
    }
}

/// `HL_E_ARGUMENT` with "`{what}`: null buffer" as the last error.
pub(super) fn null_buffer(c: &Client, what: &str) -> i32 {
    status::<()>(
        c,
        Err(Error::new(
            ErrorKind::Argument,
            format!("{what}: null buffer"),
        )),
    )
}

/// A caller buffer of `len` `T`s as a slice, or `return` `HL_E_ARGUMENT` ("`$what`: null
/// buffer") when it is null. Only in `unsafe extern` functions whose contract makes `$ptr`
/// null or valid for `$len` elements.
macro_rules! try_buffer {
    ($c:expr, $ptr:expr, $len:expr, $what:expr) => {
        // SAFETY: the calling function's contract: `$ptr` is null or valid for `$len` elements
        // for the duration of the call.
        match unsafe { try_slice_mut($ptr, $len) } {
            Some(s) => s,
            None => return null_buffer(&$c, $what),
        }
    };
}

extern_open!(
    /// Opens a client from a JSON configuration (`rust/ABI.md`); its engine has built its IPC
    /// ports when this returns.
    hl_client_open,
    "client",
    |json| {
        let c = Client::open(json)?;
        super::exit::close_clients_at_exit();
        CLIENTS.insert(c.clone()).ok_or_else(|| {
            c.close();
            Error::new(ErrorKind::Full, "too many open clients")
        })
    }
);

/// Closes a client: wakes waits, stops and joins its engine thread. A second close of the
/// handle is `HL_E_HANDLE`.
#[no_mangle]
pub extern "C" fn hl_client_close(h: u32) -> i32 {
    ffi_panic_boundary! {
        let Some(c) = CLIENTS.remove(h) else {
            return HL_E_HANDLE;
        };
        c.close();
        drop(c);
        release_freed_memory();
        HL_OK
    }
}

/// Fault injection for tests (feature `fault-injection`, `rust/ABI.md`): `kind` 1 makes the
/// engine panic at its next step, 2 makes it emit one record of a kind unknown to ABI v1 readers.
#[no_mangle]
pub extern "C" fn hl_client_fault(h: u32, kind: u32) -> i32 {
    ffi_panic_boundary! {
        let c = try_handle!(CLIENTS, h);
        #[cfg(feature = "fault-injection")]
        let r = c.inject_fault(kind);
        #[cfg(not(feature = "fault-injection"))]
        let r: Result<(), Error> = Err(Error::new(
            ErrorKind::State,
            format!(
                "hl_client_fault: kind {kind}: this library was built without fault injection \
                 (cargo feature hftlive/fault-injection)"
            ),
        ));
        status(&c, r)
    }
}

/// Doorbell, step 1: listens on a Unix socket at `path` (UTF-8, `len` bytes; any file there is
/// replaced). The caller connects to it with its own event loop, then calls
/// [`hl_client_bell_accept`].
///
/// # Safety
/// `path` null or valid for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn hl_client_bell_listen(h: u32, path: *const u8, len: u32) -> i32 {
    ffi_panic_boundary! {
        let c = try_handle!(CLIENTS, h);
        let refused = |msg: &str| status::<()>(&c, Err(Error::new(ErrorKind::Argument, msg)));
        // SAFETY: the caller's contract: `path` is null or valid for `len` bytes.
        let bytes = unsafe { try_slice(path, len as usize) };
        let Some(bytes) = bytes.filter(|_| !c.is_inline()) else {
            return refused(BELL_REFUSED);
        };
        let Ok(p) = std::str::from_utf8(bytes) else {
            return refused("hl_client_bell_listen: path is not UTF-8");
        };
        status(&c, c.bell_listen(p.as_ref()))
    }
}

/// Doorbell, step 2: accepts the caller's connection, removes the socket file and installs the
/// doorbell: from then on, each [`hl_client_arm`] that finds nothing ready makes the engine
/// write one byte when records arrive (and close/wake always write one).
#[no_mangle]
pub extern "C" fn hl_client_bell_accept(h: u32) -> i32 {
    ffi_panic_boundary! {
        let c = try_handle!(CLIENTS, h);
        status(&c, c.bell_accept())
    }
}

/// Arms the doorbell: `> 0` records are ready (drain them; not armed), `0` armed (the engine
/// rings when records arrive), `< 0` error (`HL_E_CLOSED`, `HL_E_ENGINE` once drained).
#[no_mangle]
pub extern "C" fn hl_client_arm(h: u32) -> i32 {
    ffi_panic_boundary! {
        let c = try_handle!(CLIENTS, h);
        status(&c, c.arm())
    }
}

/// Wakes every pending `hl_client_wait` on the client.
#[no_mangle]
pub extern "C" fn hl_client_wake(h: u32) -> i32 {
    ffi_panic_boundary! {
        try_handle!(CLIENTS, h).wake();
        HL_OK
    }
}

/// Waits (parks) until records are ready, the timeout passes, the client is woken or closed.
#[no_mangle]
pub extern "C" fn hl_client_wait(h: u32, timeout_ms: u32) -> i32 {
    ffi_panic_boundary! {
        let c = try_handle!(CLIENTS, h);
        status(&c, c.wait(Duration::from_millis(timeout_ms as u64)))
    }
}

/// # Safety
/// `buf` null or valid for `max_records * 64` bytes.
#[no_mangle]
pub unsafe extern "C" fn hl_client_drain(h: u32, buf: *mut u8, max_records: u32) -> i32 {
    ffi_panic_boundary! {
        let c = try_handle!(CLIENTS, h);
        let out = try_buffer!(c, buf, max_records as usize * REC_SIZE, "hl_client_drain");
        status(&c, Ok(c.drain(out)))
    }
}

/// # Safety
/// `buf` null or valid for `max_records * 64` bytes.
#[no_mangle]
pub unsafe extern "C" fn hl_client_poll(
    h: u32,
    buf: *mut u8,
    max_records: u32,
    timeout_us: u32,
) -> i32 {
    ffi_panic_boundary! {
        let c = try_handle!(CLIENTS, h);
        let out = try_buffer!(c, buf, max_records as usize * REC_SIZE, "hl_client_poll");
        status(&c, c.poll(out, Duration::from_micros(timeout_us as u64)))
    }
}

/// Submits a new order (see `rust/ABI.md` for the argument encoding).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn hl_client_submit(
    h: u32,
    asset: u32,
    order_id: f64,
    side: i32,
    price: f64,
    qty: f64,
    tif: u32,
    ord_type: u32,
) -> i32 {
    ffi_panic_boundary! {
        let c = try_handle!(CLIENTS, h);
        let raw = RawNewOrder { asset, order_id, side, price, qty, tif, ord_type };
        status(&c, c.submit_raw(raw))
    }
}

/// Requests the cancellation of an order.
#[no_mangle]
pub extern "C" fn hl_client_cancel(h: u32, asset: u32, order_id: f64) -> i32 {
    ffi_panic_boundary! {
        let c = try_handle!(CLIENTS, h);
        status(&c, c.cancel_raw(RawCancelOrder { asset, order_id }))
    }
}

/// # Safety
/// `out` null or valid for 2 f64.
#[no_mangle]
pub unsafe extern "C" fn hl_client_position(h: u32, asset: u32, out: *mut f64) -> i32 {
    ffi_panic_boundary! {
        let c = try_handle!(CLIENTS, h);
        let out = try_buffer!(c, out, 2, "hl_client_position");
        let r = c.position(asset as usize).map(|(qty, ts)| {
            out[0] = qty;
            out[1] = ts as f64;
        });
        status(&c, r)
    }
}

/// # Safety
/// `out` null or valid for `2 + 4 * levels` f64.
#[no_mangle]
pub unsafe extern "C" fn hl_client_depth(h: u32, asset: u32, levels: u32, out: *mut f64) -> i32 {
    ffi_panic_boundary! {
        let c = try_handle!(CLIENTS, h);
        let levels = levels as usize;
        let out = try_buffer!(c, out, 2 + 4 * levels, "hl_client_depth");
        let r = c.depth(asset as usize, levels);
        status(&c, r.map(|(bids, asks)| write_levels(out, levels, &bids, &asks)))
    }
}

/// # Safety
/// `buf` null or valid for `max_records * 64` bytes.
#[no_mangle]
pub unsafe extern "C" fn hl_client_orders(
    h: u32,
    asset: u32,
    buf: *mut u8,
    max_records: u32,
) -> i32 {
    ffi_panic_boundary! {
        let c = try_handle!(CLIENTS, h);
        let out = try_buffer!(c, buf, max_records as usize * REC_SIZE, "hl_client_orders");
        status(&c, c.orders(asset as usize, out))
    }
}

/// # Safety
/// `out` null or valid for `n` f64.
#[no_mangle]
pub unsafe extern "C" fn hl_client_stats(h: u32, out: *mut f64, n: u32) -> i32 {
    ffi_panic_boundary! {
        let c = try_handle!(CLIENTS, h);
        // SAFETY: the caller's contract: `out` is null or valid for `n` f64.
        match unsafe { write_f64s(&c.stats(), out, n) } {
            Some(k) => k,
            None => null_buffer(&c, "hl_client_stats"),
        }
    }
}

/// # Safety
/// `buf` null or valid for `cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn hl_last_error(h: u32, buf: *mut u8, cap: u32) -> i32 {
    ffi_panic_boundary! {
        let c = try_handle!(CLIENTS, h);
        // SAFETY: the caller's contract: `buf` is null or valid for `cap` bytes.
        unsafe { write_msg(&c.last_error(), buf, cap) }
    }
}

/// # Safety
/// `buf` null or valid for `cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn hl_client_take_message(h: u32, buf: *mut u8, cap: u32) -> i32 {
    ffi_panic_boundary! {
        let c = try_handle!(CLIENTS, h);
        match c.take_message() {
            // SAFETY: the caller's contract: `buf` is null or valid for `cap` bytes.
            Some(m) => unsafe { write_msg(&m, buf, cap) },
            None => 0,
        }
    }
}
