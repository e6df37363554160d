//! The sim half of the C ABI: `hl_sim_*` over an in-process [`Sim`] (`hftlive-sim`). Sims have
//! no last error: their functions return bare status codes.

use std::sync::{Arc, Mutex};

use hftlive_sim::{Fault, Sim, SimConfig};

use super::{
    boundary::{
        extern_open, ffi_panic_boundary, try_handle, try_slice_mut, write_f64s, write_levels,
    },
    HL_E_ARGUMENT, HL_E_CLOSED, HL_E_HANDLE, HL_E_NOT_FOUND, HL_OK,
};
use crate::{
    error::{Error, ErrorKind},
    handles::HandleTable,
    sync::LockExt,
};

/// Sims running at once at most.
const SIM_SLOTS: usize = 1024;

/// A sim until `hl_sim_stop` takes it.
type SimEntry = Arc<Mutex<Option<Sim>>>;

static SIMS: HandleTable<SimEntry, SIM_SLOTS> = HandleTable::new();

/// Runs `f` on a running sim; `HL_E_CLOSED` once it was stopped.
fn with_sim(entry: &SimEntry, f: impl FnOnce(&Sim) -> i32) -> i32 {
    match entry.lock_or_recover().as_ref() {
        Some(sim) => f(sim),
        None => HL_E_CLOSED,
    }
}

extern_open!(
    /// Starts the in-process sim connector (`hftlive-sim`) from a JSON `SimConfig`; returns once
    /// its IPC ports exist.
    hl_sim_start,
    "sim",
    |json| {
        let config = |m| Error::new(ErrorKind::Config, m);
        let c = SimConfig::from_json(json).map_err(config)?;
        c.validate().map_err(config)?;
        let sim = Sim::start(c).map_err(|m| Error::new(ErrorKind::Ipc, m))?;
        SIMS.insert(Arc::new(Mutex::new(Some(sim))))
            .ok_or_else(|| Error::new(ErrorKind::Full, "too many sims"))
    }
);

/// Stops a sim (drops its ports, joins its thread).
#[no_mangle]
pub extern "C" fn hl_sim_stop(h: u32) -> i32 {
    ffi_panic_boundary! {
        let Some(entry) = SIMS.remove(h) else {
            return HL_E_HANDLE;
        };
        let taken = entry.lock_or_recover().take();
        if let Some(sim) = taken {
            sim.stop();
        }
        HL_OK
    }
}

/// Injects a fault (`rust/ABI.md`, "Sim faults").
#[no_mangle]
pub extern "C" fn hl_sim_fault(h: u32, fault: u32, value: f64) -> i32 {
    ffi_panic_boundary! {
        let entry = try_handle!(SIMS, h);
        let f = match fault {
            1 => Fault::PauseMarket(value != 0.0),
            2 if value.is_finite() => Fault::RejectOrders(value as i64),
            3 if value.is_finite() && value >= 0.0 => Fault::DelayMs(value as u64),
            4 => Fault::Exit,
            5 if (0.0..=3.0).contains(&value) => Fault::Error(value as u32),
            _ => return HL_E_ARGUMENT,
        };
        with_sim(&entry, |sim| {
            sim.fault(f);
            HL_OK
        })
    }
}

/// Sim counters in `SimStats` order (`rust/ABI.md`); returns how many were written.
///
/// # Safety
/// `out` null or valid for `n` f64.
#[no_mangle]
pub unsafe extern "C" fn hl_sim_stats(h: u32, out: *mut f64, n: u32) -> i32 {
    ffi_panic_boundary! {
        let entry = try_handle!(SIMS, h);
        if out.is_null() {
            return HL_E_ARGUMENT;
        }
        with_sim(&entry, |sim| {
            let st = sim.stats();
            let v = [
                st.market_events,
                st.orders_received,
                st.acks,
                st.fills,
                st.cancels,
                st.rejects,
                st.registrations,
                st.batches_sent,
                st.messages_sent,
                st.expired,
                st.ipc_errors,
                st.running,
                st.resting,
                st.replaying,
            ]
            .map(|x| x as f64);
            // SAFETY: the caller's contract: `out` is valid for `n` f64 (checked non-null).
            unsafe { write_f64s(&v, out, n) }.unwrap_or(HL_E_ARGUMENT)
        })
    }
}

/// The sim's true book of instrument `asset` (index in its configuration), in the layout of
/// `hl_client_depth`. Tests compare a client's book to it level for level.
///
/// # Safety
/// `out` null or valid for `2 + 4 * levels` f64.
#[no_mangle]
pub unsafe extern "C" fn hl_sim_book(h: u32, asset: u32, levels: u32, out: *mut f64) -> i32 {
    ffi_panic_boundary! {
        let entry = try_handle!(SIMS, h);
        let levels = levels as usize;
        // SAFETY: the caller's contract: `out` is null or valid for `2 + 4 * levels` f64.
        let Some(out) = (unsafe { try_slice_mut(out, 2 + 4 * levels) }) else {
            return HL_E_ARGUMENT;
        };
        let book = entry.lock_or_recover().as_ref().and_then(|sim| {
            let symbol = sim.symbol(asset as usize)?;
            sim.book(symbol)
        });
        let Some((bids, asks)) = book else {
            return HL_E_NOT_FOUND;
        };
        write_levels(out, levels, &bids, &asks);
        HL_OK
    }
}
