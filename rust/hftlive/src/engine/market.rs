//! Market data: feed events into the authoritative book and DEPTH/TRADE/DEPTH_CLEAR records
//! (DESIGN.md points 2 and 3: every depth event is applied, `LOCAL_EVENT` or not, and snapshot
//! levels build the book), best bid/offer changes (one per batch), positions.

use hftbacktest::{
    prelude::{Event, Side},
    types::{
        BUY_EVENT, DEPTH_BBO_EVENT, DEPTH_CLEAR_EVENT, DEPTH_EVENT, DEPTH_SNAPSHOT_EVENT,
        SELL_EVENT, TRADE_EVENT,
    },
};

use super::Engine;
use crate::{
    book::tick_price,
    record::{self, K_DEPTH, K_TRADE},
};

/// The event-type bits of hftbacktest's `ev` field (its low byte).
const EV_KIND_MASK: u64 = 0xFF;

impl Engine {
    pub(super) fn on_feed(&mut self, a: usize, e: &Event) {
        if !self.taps.is_empty() {
            self.tap_event(a, e);
        }
        self.regs[a].last_ts = (e.exch_ts, e.local_ts);
        let kind = e.ev & EV_KIND_MASK;
        let side: i8 = if e.ev & BUY_EVENT != 0 {
            1
        } else if e.ev & SELL_EVENT != 0 {
            -1
        } else {
            0
        };
        match kind {
            DEPTH_EVENT | DEPTH_SNAPSHOT_EVENT | DEPTH_BBO_EVENT if side != 0 => {
                self.shared.state().assets[a]
                    .book
                    .update(side, e.px, e.qty, e.exch_ts);
                self.stage(record::market(K_DEPTH, side, a as u16, e));
                self.emit_bbo(a, e.exch_ts, e.local_ts);
            }
            DEPTH_CLEAR_EVENT => {
                let (s, upto) = match side {
                    1 => (Side::Buy, e.px),
                    -1 => (Side::Sell, e.px),
                    _ => (Side::None, f64::NAN),
                };
                self.shared.state().assets[a]
                    .book
                    .clear(s, if side == 0 { 0.0 } else { e.px });
                let rec =
                    record::depth_clear(side, a as u16, e.ev as u32, upto, e.exch_ts, e.local_ts);
                self.stage(rec);
                self.emit_bbo(a, e.exch_ts, e.local_ts);
            }
            TRADE_EVENT => self.stage(record::market(K_TRADE, side, a as u16, e)),
            _ => {}
        }
    }

    pub(super) fn on_position(&mut self, a: usize, qty: f64, exch_ts: i64) {
        {
            let mut st = self.shared.state();
            st.assets[a].position = qty;
            st.assets[a].position_ts = exch_ts;
        }
        self.stage(record::position(a as u16, qty, exch_ts));
    }

    /// Empties the book of `a` and says so (a DEPTH_CLEAR of both sides).
    pub(super) fn clear_book(&mut self, a: usize, ts: i64) {
        if !self.taps.is_empty() {
            self.tap_clear(a, ts);
        }
        self.shared.state().assets[a].book.clear(Side::None, 0.0);
        let aux = DEPTH_CLEAR_EVENT as u32;
        self.stage(record::depth_clear(0, a as u16, aux, f64::NAN, 0, ts));
        self.emit_bbo(a, 0, 0);
    }

    /// Publishes the best bid/offer of `a` if it changed. Inside a batch (a connector's atomic
    /// group of depth events, or a registration snapshot) it waits for the batch's end, so no
    /// best bid/offer that never existed on the exchange is published.
    fn emit_bbo(&mut self, a: usize, exch_ts: i64, local_ts: i64) {
        let c = self.regs[a].conn;
        if self.conns[c].market_batch || self.conns[c].batch.is_some() {
            self.regs[a].bbo_pending = Some((exch_ts, local_ts));
            return;
        }
        self.publish_bbo(a, exch_ts, local_ts);
    }

    /// Publishes the deferred best bid/offer of every asset of connector `c`.
    pub(super) fn flush_bbo(&mut self, c: usize) {
        for k in 0..self.conns[c].assets.len() {
            let a = self.conns[c].assets[k];
            if let Some((e, l)) = self.regs[a].bbo_pending.take() {
                self.publish_bbo(a, e, l);
            }
        }
    }

    fn publish_bbo(&mut self, a: usize, exch_ts: i64, local_ts: i64) {
        let (bbo, tick) = {
            let st = self.shared.state();
            (st.assets[a].book.bbo(), st.assets[a].tick_size)
        };
        if bbo == self.regs[a].bbo {
            return;
        }
        self.regs[a].bbo = bbo;
        let price = |t: i64, empty: i64| {
            if t == empty {
                f64::NAN
            } else {
                tick_price(t, tick)
            }
        };
        let bid = (price(bbo.bid_tick, i64::MIN), bbo.bid_qty);
        let ask = (price(bbo.ask_tick, i64::MAX), bbo.ask_qty);
        self.stage(record::bbo(a as u16, bid, ask, exch_ts, local_ts));
    }
}
