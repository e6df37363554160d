//! Recordings: the engine hands every feed event of a recorded instrument to each recording's
//! queue ([`Tap`]), never blocking; the books go first (when a recording starts, and again
//! after a drop), taken from the engine's own book before the event is applied.

use hftbacktest::types::Event;

use super::{AssetReg, Engine};
use crate::{
    recorder::{snapshot_items, Item},
    shared::Shared,
};

/// The engine's book of `a` as snapshot items, at the time of its last feed event (now, before
/// the first one: a time of 0 would make a backtest crawl from 1970).
fn books(shared: &Shared, regs: &[AssetReg], a: usize) -> Vec<Item> {
    let (bids, asks) = shared.state().assets[a].book.top(usize::MAX);
    snapshot_items(a, &bids, &asks, last_ts(regs, a))
}

fn last_ts(regs: &[AssetReg], a: usize) -> (i64, i64) {
    match regs[a].last_ts {
        (0, 0) => {
            let now = crate::now_ns();
            (now, now)
        }
        t => t,
    }
}

impl Engine {
    /// Takes the recordings the client started since the last step.
    pub(super) fn attach_taps(&mut self) {
        for tap in self.shared.take_taps() {
            self.taps.push(tap);
            let t = self.taps.len() - 1;
            self.send_books(t);
        }
    }

    /// Every step while recordings run: a recording asked to stop gets its end (after the
    /// books, when a drop left them out of date); one whose books are out of date gets them as
    /// soon as the queue has room, market activity or not. Then forgets the ended ones.
    pub(super) fn service_taps(&mut self) {
        let mut ended = false;
        for t in 0..self.taps.len() {
            if self.taps[t].stop_requested() {
                let (shared, regs) = (&self.shared, &self.regs);
                let done = self.taps[t].end(|a| books(shared, regs, a));
                ended |= done || self.taps[t].is_abandoned();
                if done {
                    self.taps[t].ended = true;
                }
            } else if self.taps[t].needs_books() {
                self.send_books(t);
            }
        }
        if ended {
            self.taps.retain(|t| !t.ended && !t.is_abandoned());
        }
    }

    fn send_books(&mut self, t: usize) {
        let (shared, regs) = (&self.shared, &self.regs);
        self.taps[t].send_books(|a| books(shared, regs, a));
    }

    /// A feed event of asset `a`, before the engine applies it.
    #[inline]
    pub(super) fn tap_event(&mut self, a: usize, e: &Event) {
        for t in 0..self.taps.len() {
            if !self.taps[t].wants(a) {
                continue;
            }
            if self.taps[t].needs_books() {
                self.send_books(t);
            }
            self.taps[t].push(a, e);
        }
    }

    /// The engine clears the book of `a` itself (its connector came up): recorded as a clear
    /// at the last recorded exchange time and the local time `ts`.
    pub(super) fn tap_clear(&mut self, a: usize, ts: i64) {
        let exch = match self.regs[a].last_ts.0 {
            0 => ts,
            t => t,
        };
        for t in 0..self.taps.len() {
            if self.taps[t].wants(a) {
                if self.taps[t].needs_books() {
                    self.send_books(t);
                }
                self.taps[t].push_item(Item::clear(a, exch, ts));
            }
        }
    }
}
