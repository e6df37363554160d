//! What the sim publishes: registration answers, the initial book, market data, all through
//! hftbacktest's fused depth as the connector's publisher does.

use std::time::Instant;

use hftbacktest::{
    depth::{ApplySnapshot, FusedHashMapMarketDepth},
    live::ipc::TO_ALL,
    types::{
        Event, LiveEvent, LOCAL_ASK_DEPTH_EVENT, LOCAL_BID_DEPTH_EVENT, LOCAL_BUY_TRADE_EVENT,
        LOCAL_SELL_TRADE_EVENT,
    },
};

use super::{inc, Engine, Inst, Out};
use crate::market::{Level, Step, Trade};

impl Engine {
    pub(super) fn register(&mut self, src: u64, symbol: String) {
        inc(&self.out.counters().registrations);
        self.out.send(src, &LiveEvent::BatchStart);
        if let Some(&idx) = self.by_symbol.get(&symbol) {
            let inst = &mut self.insts[idx];
            for r in inst.orders.iter() {
                self.out.send(
                    src,
                    &LiveEvent::Order {
                        symbol: symbol.clone(),
                        order: r.order.clone(),
                    },
                );
            }
            if let Some(ts) = inst.pos_ts {
                self.out.send(
                    src,
                    &LiveEvent::Position {
                        symbol: symbol.clone(),
                        qty: inst.pos_lots as f64 * inst.lot_size,
                        exch_ts: ts,
                    },
                );
            }
            match &inst.fuse {
                Some(fuse) => {
                    for event in fuse.snapshot() {
                        self.out.send(
                            src,
                            &LiveEvent::Feed {
                                symbol: symbol.clone(),
                                event,
                            },
                        );
                    }
                }
                None => {
                    inst.fuse = Some(FusedHashMapMarketDepth::new(inst.tick_size, inst.lot_size));
                    inst.initial_pending = true;
                }
            }
        }
        self.out.send(src, &LiveEvent::BatchEnd);
        inc(&self.out.counters().batches_sent);
        if let Some(&idx) = self.by_symbol.get(&symbol) {
            if self.insts[idx].initial_pending && !self.paused {
                self.publish_initial(idx);
            }
        }
    }

    /// Publishes the whole book as plain depth events in one batch to all bots, like the
    /// connector does with the REST depth snapshot when a symbol's stream starts.
    pub(super) fn publish_initial(&mut self, idx: usize) {
        let inst = &mut self.insts[idx];
        inst.initial_pending = false;
        let mut levels: Vec<Level> = inst
            .market
            .bids
            .iter()
            .rev()
            .map(|(&tick, &lots)| Level {
                buy: true,
                tick,
                lots,
            })
            .collect();
        levels.extend(inst.market.asks.iter().map(|(&tick, &lots)| Level {
            buy: false,
            tick,
            lots,
        }));
        let ts = self.out.now_ns();
        publish_depth(&mut self.out, inst, &levels, ts, self.cfg.depth_batches);
        self.stream_started.get_or_insert_with(Instant::now);
    }

    pub(super) fn market_step(&mut self) {
        let n = self.insts.len();
        for k in 0..n {
            let idx = (self.rr + k) % n;
            if self.insts[idx].streaming() && self.insts[idx].replay.is_none() {
                self.rr = idx + 1;
                let step = self.insts[idx].market.step();
                self.publish_step(idx, &step);
                inc(&self.out.counters().market_events);
                self.match_resting(idx, &step.trades);
                return;
            }
        }
    }

    fn publish_step(&mut self, idx: usize, step: &Step) {
        let inst = &mut self.insts[idx];
        let ts = self.out.now_ns();
        for tr in &step.trades {
            publish_trade(&mut self.out, inst, tr, ts);
        }
        publish_depth(&mut self.out, inst, &step.depth, ts, self.cfg.depth_batches);
    }
}

/// A connector's feed event `ev` stamped `ts` (exchange and local time alike).
fn feed_event(ev: u64, ts: i64, px: f64, qty: f64) -> Event {
    Event {
        ev,
        exch_ts: ts,
        local_ts: ts,
        px,
        qty,
        order_id: 0,
        ival: 0,
        fval: 0.0,
    }
}

/// `buy` or `sell` by the side.
fn sided(buy: bool, buy_ev: u64, sell_ev: u64) -> u64 {
    if buy {
        buy_ev
    } else {
        sell_ev
    }
}

pub(super) fn publish_trade(out: &mut Out, inst: &Inst, tr: &Trade, ts: i64) {
    let ev = LiveEvent::Feed {
        symbol: inst.symbol.clone(),
        event: feed_event(
            sided(tr.buy, LOCAL_BUY_TRADE_EVENT, LOCAL_SELL_TRADE_EVENT),
            ts,
            tr.tick as f64 * inst.tick_size,
            tr.lots as f64 * inst.lot_size,
        ),
    };
    out.send(TO_ALL, &ev);
}

/// Publishes one depth message through the instrument's fused depth, exactly as the connector's
/// publisher does (events the fused depth drops are not published; deletions it generates for
/// crossed levels are).
pub(super) fn publish_depth(
    out: &mut Out,
    inst: &mut Inst,
    levels: &[Level],
    ts: i64,
    batches: bool,
) {
    if levels.is_empty() {
        return;
    }
    let Some(fuse) = inst.fuse.as_mut() else {
        return;
    };
    if batches {
        out.send(TO_ALL, &LiveEvent::BatchStart);
    }
    for lv in levels {
        let event = feed_event(
            sided(lv.buy, LOCAL_BID_DEPTH_EVENT, LOCAL_ASK_DEPTH_EVENT),
            ts,
            lv.tick as f64 * inst.tick_size,
            lv.lots as f64 * inst.lot_size,
        );
        let emitted = if lv.buy {
            fuse.update_bid_depth(event)
        } else {
            fuse.update_ask_depth(event)
        };
        for event in emitted {
            out.send(
                TO_ALL,
                &LiveEvent::Feed {
                    symbol: inst.symbol.clone(),
                    event,
                },
            );
        }
    }
    if batches {
        out.send(TO_ALL, &LiveEvent::BatchEnd);
    }
}
