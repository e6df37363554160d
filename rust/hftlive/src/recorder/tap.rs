//! The engine's end of a recording: a bounded single-producer queue of events. A push never
//! blocks: when the queue is full the event is dropped and counted, and the recorded books are
//! sent again as a snapshot once there is room, so what follows in the files is consistent.

use std::sync::{atomic::Ordering::Relaxed, Arc};

use hftbacktest::types::{
    Event, BUY_EVENT, DEPTH_CLEAR_EVENT, DEPTH_SNAPSHOT_EVENT, EXCH_EVENT, LOCAL_EVENT, SELL_EVENT,
};
use rtrb::Producer;

use super::{RecAsset, RecShared, RecordConfig};

/// One queued event of instrument `asset` (hftbacktest's `Event` fields).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Item {
    pub asset: u32,
    pub ev: u64,
    pub exch_ts: i64,
    pub local_ts: i64,
    pub px: f64,
    pub qty: f64,
    pub order_id: u64,
    pub ival: i64,
    pub fval: f64,
}

/// The `asset` of the item that ends a recording (the engine's last).
pub const END: u32 = u32::MAX;

impl Item {
    pub fn of(asset: usize, e: &Event, add: u64) -> Self {
        Self {
            asset: asset as u32,
            ev: e.ev | add,
            exch_ts: e.exch_ts,
            local_ts: e.local_ts,
            px: e.px,
            qty: e.qty,
            order_id: e.order_id,
            ival: e.ival,
            fval: e.fval,
        }
    }

    pub fn event(&self) -> Event {
        Event {
            ev: self.ev,
            exch_ts: self.exch_ts,
            local_ts: self.local_ts,
            px: self.px,
            qty: self.qty,
            order_id: self.order_id,
            ival: self.ival,
            fval: self.fval,
        }
    }

    /// A clear of both sides of `asset`'s book (hftbacktest's `DEPTH_CLEAR_EVENT` without a
    /// side), as an exchange and local event.
    pub fn clear(asset: usize, exch_ts: i64, local_ts: i64) -> Self {
        Self {
            asset: asset as u32,
            ev: DEPTH_CLEAR_EVENT | EXCH_EVENT | LOCAL_EVENT,
            exch_ts,
            local_ts,
            ..Self::default()
        }
    }

    /// A `DEPTH_SNAPSHOT_EVENT` level, as an exchange and local event.
    pub fn level(asset: usize, buy: bool, px: f64, qty: f64, ts: (i64, i64)) -> Self {
        let side = if buy { BUY_EVENT } else { SELL_EVENT };
        Self {
            asset: asset as u32,
            ev: DEPTH_SNAPSHOT_EVENT | EXCH_EVENT | LOCAL_EVENT | side,
            exch_ts: ts.0,
            local_ts: ts.1,
            px,
            qty,
            ..Self::default()
        }
    }
}

/// A book as snapshot items: a clear of both sides, then the bids and asks (best first).
pub fn snapshot_items(
    asset: usize,
    bids: &[(f64, f64)],
    asks: &[(f64, f64)],
    ts: (i64, i64),
) -> Vec<Item> {
    let mut v = Vec::with_capacity(1 + bids.len() + asks.len());
    v.push(Item::clear(asset, ts.0, ts.1));
    v.extend(
        bids.iter()
            .map(|&(p, q)| Item::level(asset, true, p, q, ts)),
    );
    v.extend(
        asks.iter()
            .map(|&(p, q)| Item::level(asset, false, p, q, ts)),
    );
    v
}

/// The engine's end of one recording.
pub struct Tap {
    wanted: Vec<bool>,
    assets: Vec<usize>,
    tx: Producer<Item>,
    shared: Arc<RecShared>,
    add: u64,
    /// The recorded books must be sent (at the start, and after a drop) before more events.
    resync: bool,
    /// The end was queued: the engine forgets the tap.
    pub ended: bool,
    /// Items the books took when last built.
    books_len: usize,
}

impl Tap {
    pub(super) fn new(
        config: &RecordConfig,
        assets: &[RecAsset],
        tx: Producer<Item>,
        shared: Arc<RecShared>,
    ) -> Self {
        let n = assets.iter().map(|a| a.asset + 1).max().unwrap_or(0);
        let mut wanted = vec![false; n];
        for a in assets {
            wanted[a.asset] = true;
        }
        Self {
            wanted,
            assets: assets.iter().map(|a| a.asset).collect(),
            tx,
            shared,
            add: config.added_flags(),
            resync: true,
            ended: false,
            books_len: 0,
        }
    }

    #[inline]
    pub fn wants(&self, asset: usize) -> bool {
        self.wanted.get(asset).copied().unwrap_or(false)
    }

    /// Whether the writer is gone: the engine forgets the tap.
    pub fn is_abandoned(&self) -> bool {
        self.tx.is_abandoned()
    }

    /// Whether the recording was asked to stop.
    #[inline]
    pub fn stop_requested(&self) -> bool {
        self.shared.stop.load(Relaxed)
    }

    /// Queues the end of the recording once the books are consistent (sent again if a drop
    /// left them out of date) and the queue has room; returns whether it did.
    pub fn end(&mut self, book: impl Fn(usize) -> Vec<Item>) -> bool {
        if self.resync {
            self.send_books(book);
        }
        let end = Item {
            asset: END,
            ..Item::default()
        };
        !self.resync && self.tx.push(end).is_ok()
    }

    /// Whether the books must be sent before the next event.
    pub fn needs_books(&self) -> bool {
        self.resync
    }

    /// Sends the recorded books (from `book`: the snapshot items of an asset) if the queue has
    /// room for all of them; otherwise they are tried again at the next event. Not before the
    /// writer has emptied half the queue (or all of it, for books larger than that): building
    /// the books at every event of a full queue would slow the engine just when it is loaded.
    pub fn send_books(&mut self, book: impl Fn(usize) -> Vec<Item>) {
        let free = self.tx.slots();
        let cap = self.tx.buffer().capacity();
        if free < cap / 2 || (self.books_len > cap / 2 && free < cap) {
            return;
        }
        let items: Vec<Item> = self.assets.iter().flat_map(|&a| book(a)).collect();
        self.books_len = items.len();
        if free < items.len() {
            return;
        }
        for it in items {
            let _ = self.tx.push(it);
        }
        self.resync = false;
    }

    /// Queues an event of `asset` (which the tap [`wants`](Tap::wants)); drops and counts it
    /// when the queue is full or the books are still to be sent.
    #[inline]
    pub fn push(&mut self, asset: usize, e: &Event) {
        if self.resync || self.tx.push(Item::of(asset, e, self.add)).is_err() {
            self.resync = true;
            self.shared.dropped.fetch_add(1, Relaxed);
        }
    }

    /// Queues an event the engine made itself (a clear of the book when a connector came up).
    pub fn push_item(&mut self, it: Item) {
        if self.resync || self.tx.push(it).is_err() {
            self.resync = true;
            self.shared.dropped.fetch_add(1, Relaxed);
        }
    }
}
