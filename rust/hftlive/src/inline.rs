//! Inline engines (`"mode": "inline"`): an engine run by the thread that opened its client, in
//! that thread's calls to poll. Its IPC ports hold `Rc`s (hftbacktest's and iceoryx2's), so it is
//! not `Send`: it lives in a table local to its thread, found by its client's id. Another thread
//! finds nothing there, so it can never touch the engine; a client closed from another thread
//! only marks the engine closed, and the owner thread drops it at its next inline call or when
//! it exits.

use std::{
    cell::RefCell,
    sync::atomic::{AtomicU64, Ordering},
};

use crate::engine::Engine;

thread_local! {
    static ENGINES: RefCell<Vec<(u64, Engine)>> = const { RefCell::new(Vec::new()) };
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Keeps `engine` (built on this thread) in this thread's table; returns its id.
pub fn adopt(engine: Engine) -> u64 {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    ENGINES.with_borrow_mut(|engines| {
        reap(engines);
        engines.push((id, engine));
    });
    id
}

/// Runs `f` on engine `id` if this thread owns it and it is still open (`None` otherwise).
pub fn with<R>(id: u64, f: impl FnOnce(&mut Engine) -> R) -> Option<R> {
    ENGINES
        .try_with(|cell| {
            let mut engines = cell.borrow_mut();
            reap(&mut engines);
            let (_, engine) = engines.iter_mut().find(|(i, _)| *i == id)?;
            Some(f(engine))
        })
        .ok()
        .flatten()
}

/// Drops engine `id` now if this thread owns it (its ports go with it).
pub fn close(id: u64) {
    let _ = ENGINES.try_with(|cell| {
        let taken = {
            let mut engines = cell.borrow_mut();
            let k = engines.iter().position(|(i, _)| *i == id);
            k.map(|k| engines.swap_remove(k))
        };
        drop(taken);
    });
}

/// Drops the engines whose clients were closed from another thread.
fn reap(engines: &mut Vec<(u64, Engine)>) {
    engines.retain(|(_, e)| !e.is_closed());
}
