//! Publishing a replay ([`crate::replay`]) as a connector would: each run of depth events
//! recorded with the same `local_ts` (one exchange message) in one `BatchStart`..`BatchEnd` to
//! all bots, trades one by one; the sim's book follows (for matching and registration
//! snapshots), and resting orders are matched after each message as with generated data.
//! Timestamps are the publish time (`local_ts`), with the recorded feed latency kept
//! (`exch_ts = local_ts - (recorded local_ts - recorded exch_ts)`).

use std::{sync::atomic::Ordering, time::Instant};

use hftbacktest::{
    live::ipc::TO_ALL,
    types::{Event, LiveEvent, Side, BUY_EVENT, DEPTH_CLEAR_EVENT, SELL_EVENT, TRADE_EVENT},
};

use super::{inc, Engine, MAX_BURST};
use crate::{market::Trade, replay};

impl Engine {
    /// Publishes the due events of instrument `idx`'s replay; returns when the next one is due
    /// (`None`: no replay, not streaming yet, or replayed to the end).
    pub(super) fn replay_step(&mut self, idx: usize, now: Instant) -> Option<Instant> {
        if !self.insts[idx].streaming() {
            return None;
        }
        let mut published = 0;
        loop {
            let inst = &mut self.insts[idx];
            let rp = inst.replay.as_mut().filter(|r| !r.done)?;
            let first = match rp.peek() {
                Ok(Some(e)) => e.clone(),
                end => {
                    if let Err(msg) = end {
                        eprintln!("hftlive-sim: {msg}; the replay of {} ends", inst.symbol);
                    }
                    rp.done = true;
                    self.out
                        .counters()
                        .replaying
                        .fetch_sub(1, Ordering::Relaxed);
                    return None;
                }
            };
            let due = rp.due(first.local_ts, now);
            if due > now || published >= MAX_BURST {
                return Some(due);
            }
            rp.advance();
            let mut group = vec![first];
            if group[0].ev & 0xFF != TRADE_EVENT {
                // The rest of the message: depth events of the same recorded local time.
                while let Ok(Some(e)) = rp.peek() {
                    if e.local_ts != group[0].local_ts || e.ev & 0xFF == TRADE_EVENT {
                        break;
                    }
                    group.push(e.clone());
                    rp.advance();
                }
            }
            published += group.len() as u32;
            self.publish_recorded(idx, &group);
        }
    }

    fn publish_recorded(&mut self, idx: usize, group: &[Event]) {
        let ts = self.out.now_ns();
        let inst = &mut self.insts[idx];
        let (tick, lot) = (inst.tick_size, inst.lot_size);
        let mut trades = Vec::new();
        let batch = group[0].ev & 0xFF != TRADE_EVENT && self.cfg.depth_batches;
        if batch {
            self.out.send(TO_ALL, &LiveEvent::BatchStart);
        }
        for e in group {
            let mut event = e.clone();
            event.local_ts = ts;
            event.exch_ts = ts - (e.local_ts - e.exch_ts);
            if e.ev & 0xFF == TRADE_EVENT {
                trades.push(Trade {
                    buy: e.ev & BUY_EVENT != 0,
                    tick: (e.px / tick).round() as i64,
                    lots: (e.qty / lot).round() as i64,
                });
            } else {
                replay::apply(&mut inst.market, e, tick, lot);
                if let Some(fuse) = inst.fuse.as_mut() {
                    // The connector's depth follows (registration snapshots); what it would
                    // emit is what was recorded, published below.
                    let side = if e.ev & BUY_EVENT != 0 {
                        Side::Buy
                    } else if e.ev & SELL_EVENT != 0 {
                        Side::Sell
                    } else {
                        Side::None
                    };
                    match (e.ev & 0xFF, side) {
                        (DEPTH_CLEAR_EVENT, Side::None) => fuse.clear_depth(side, 0.0, ts),
                        (DEPTH_CLEAR_EVENT, _) => fuse.clear_depth(side, e.px, ts),
                        (_, Side::Buy) => drop(fuse.update_bid_depth(event.clone())),
                        (_, Side::Sell) => drop(fuse.update_ask_depth(event.clone())),
                        _ => {}
                    }
                }
            }
            let symbol = inst.symbol.clone();
            self.out.send(TO_ALL, &LiveEvent::Feed { symbol, event });
            inc(&self.out.counters().market_events);
        }
        if batch {
            self.out.send(TO_ALL, &LiveEvent::BatchEnd);
        }
        self.match_resting(idx, &trades);
    }
}
