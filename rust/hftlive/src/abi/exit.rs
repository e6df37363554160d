//! The paths of cancel on exit that belong to the ABI: the process exiting without closing its
//! clients (an `atexit` handler closes every open client) and the thread that guards a client
//! ending, such as a Deno Worker terminated (`hl_client_guard`). Closing a client with
//! `cancel_on_exit` cancels its active orders first, bounded by its `exit_timeout_ms`; clients
//! are closed together, so the bound holds for all of them at once.

use std::{
    cell::RefCell,
    panic::{catch_unwind, AssertUnwindSafe},
    sync::Once,
};

use super::{
    boundary::{ffi_panic_boundary, try_handle},
    client::CLIENTS,
    HL_E_STATE, HL_OK,
};
use crate::Client;

/// The handles guarded by this thread: closed when it ends.
struct Guard(RefCell<Vec<u32>>);

thread_local! {
    static GUARDED: Guard = const { Guard(RefCell::new(Vec::new())) };
}

impl Drop for Guard {
    fn drop(&mut self) {
        let handles = std::mem::take(self.0.get_mut());
        // Closed since (or by another thread): their handles are stale and remove nothing.
        let clients = handles
            .into_iter()
            .filter_map(|h| CLIENTS.remove(h))
            .collect();
        close_all(clients);
    }
}

/// Starts closing every client (their engines cancel on exit meanwhile), then waits for each.
/// Never unwinds: it runs in a thread-local destructor or at process exit.
fn close_all(clients: Vec<Client>) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        for c in &clients {
            c.begin_close();
        }
        for c in &clients {
            c.close();
        }
    }));
}

/// Ties client `h` to the calling thread: when this thread ends with the client still open (a
/// Deno Worker terminated), the client is closed, cancelling its orders first if it has
/// `cancel_on_exit`. Call it on the thread that uses the client, not on a thread pool's thread
/// (an `hl_client_open` bound as `nonblocking` in Deno runs on one, and those end when idle).
/// Calling it again on the same thread changes nothing.
#[no_mangle]
pub extern "C" fn hl_client_guard(h: u32) -> i32 {
    ffi_panic_boundary! {
        drop(try_handle!(CLIENTS, h));
        let added = GUARDED.try_with(|g| {
            let mut v = g.0.borrow_mut();
            if !v.contains(&h) {
                v.push(h);
            }
        });
        match added {
            Ok(()) => HL_OK,
            Err(_) => HL_E_STATE, // this thread is ending
        }
    }
}

/// Registers the process-exit handler, once (when the first client opens).
pub(super) fn close_clients_at_exit() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: `at_exit` is a plain `extern "C" fn()` that never unwinds. glibc runs handlers
        // a shared library registers when it is unloaded (dlclose), so none outlives its code.
        unsafe {
            libc::atexit(at_exit);
        }
    });
}

/// Closes every client still open when the process exits (`exit`, or `main` returning).
extern "C" fn at_exit() {
    let _ = catch_unwind(|| close_all(CLIENTS.take_all()));
}
