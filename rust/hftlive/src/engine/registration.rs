//! Connector liveness and instrument registration (DESIGN.md point 1): `RegisterInstrument` is
//! re-sent until the connector answers with a batch addressed to this bot, and everything is
//! registered again when a connector (re)starts. After a restart the registration answer is the
//! one source of truth: orders held from before that it does not report end Expired.

use std::{
    collections::HashSet,
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use hftbacktest::prelude::{LiveRequest, Status};

use super::{now_ns, requests::Unanswered, Engine};
use crate::{
    iox::{self, Peer},
    record::{
        self, ERR_ENGINE, INST_REGISTERED, INST_REGISTER_SENT, INST_SNAPSHOT_BEGIN,
        NOTICE_AMBIGUOUS,
    },
};

impl Engine {
    pub(super) fn check_liveness(&mut self, now: Instant) {
        // Dead connector processes leave their publisher registered until cleaned up. The full
        // cleanup lists every iceoryx2 node on the machine (milliseconds with a few dozen), so
        // it runs every `liveness_cleanup_ms`, and at once when a connector's publisher belongs
        // to a process that is gone; the check itself lists only the connector's publishers.
        let mut cleaned = self
            .last_cleanup
            .is_none_or(|t| now - t >= self.cleanup_every);
        if cleaned {
            self.last_cleanup = Some(now);
            iox::cleanup_dead_nodes();
        }
        for c in 0..self.conns.len() {
            let mut peer = self.conns[c].liveness.peer();
            if let (Peer::Up(_), Some(pid)) = peer {
                let seen = self.conns[c].forced_cleanup_for == Some(peer.0);
                if !cleaned && !seen && !iox::process_exists(pid) {
                    cleaned = true;
                    self.last_cleanup = Some(now);
                    self.conns[c].forced_cleanup_for = Some(peer.0);
                    iox::cleanup_dead_nodes();
                    peer = self.conns[c].liveness.peer();
                }
            }
            let peer = peer.0;
            let prev = self.conns[c].peer;
            if prev == Some(peer) {
                continue;
            }
            self.conns[c].peer = Some(peer);
            let ts = now_ns();
            // The book clears below come from this check, not from a received message.
            self.rx_ts = ts;
            match peer {
                Peer::Up(_) => {
                    // A new (or restarted) connector: everything must be registered again.
                    if matches!(prev, Some(Peer::Up(_))) {
                        // Restarted between two checks: the old process answers nothing more.
                        self.abandon_in_flight(c, Unanswered::Restarted);
                    }
                    self.set_window(c);
                    self.expect_reconcile(c);
                    let conn = &mut self.conns[c];
                    conn.pending.clear();
                    conn.batch = None;
                    conn.market_batch = false;
                    conn.pending_reject = None;
                    self.unregister(c);
                    // A (re)started connector's book starts from nothing: a fresh connector
                    // answers the registration with an empty batch and streams the book later,
                    // so the previous connector's levels must not survive.
                    for k in 0..self.conns[c].assets.len() {
                        let a = self.conns[c].assets[k];
                        self.clear_book(a, ts);
                    }
                    self.stage(record::connector(c, true, ts));
                }
                Peer::Down => {
                    if prev.is_some() {
                        self.unregister(c);
                    }
                    self.stage(record::connector(c, false, ts));
                    self.abandon_in_flight(c, Unanswered::Down);
                }
            }
        }
    }

    /// Connector `c` came up: the orders each of its assets holds now (but new orders still
    /// waiting to be sent) are checked against its registration answer.
    fn expect_reconcile(&mut self, c: usize) {
        self.take_commands();
        for k in 0..self.conns[c].assets.len() {
            let a = self.conns[c].assets[k];
            let unsent: HashSet<u64> = self.conns[c].requests.queued_submits(a).collect();
            let held: HashSet<u64> = {
                let st = self.shared.state();
                let ids = st.assets[a].orders.keys();
                ids.filter(|id| !unsent.contains(id)).copied().collect()
            };
            self.regs[a].reconcile = (!held.is_empty()).then_some(held);
        }
    }

    /// The registration answer of asset `a` ended: the orders held from before the connector's
    /// restart that it did not report end Expired, each with an ERROR record (ambiguous: the
    /// old process may have filled them).
    fn reconcile(&mut self, a: usize) {
        let Some(ids) = self.regs[a].reconcile.take() else {
            return;
        };
        let mut ids: Vec<u64> = ids.into_iter().collect();
        ids.sort_unstable();
        let name = self.conns[self.regs[a].conn].name.clone();
        for id in ids {
            let rec = {
                let mut st = self.shared.state();
                let asset = &mut st.assets[a];
                match asset.orders.get(&id) {
                    Some(o) if o.active() => asset.orders.remove(&id).map(|mut o| {
                        o.status = Status::Expired;
                        o.req = Status::None;
                        asset.done.insert(id);
                        record::order(a, &o, Status::Expired as u8)
                    }),
                    _ => None,
                }
            };
            let Some(rec) = rec else {
                continue;
            };
            self.stage(rec);
            let msg = format!(
                "Order {id}: not reported by the restarted connector \"{name}\"; marked Expired \
                 (ambiguous: check fills and the position)"
            );
            self.error_record(ERR_ENGINE, NOTICE_AMBIGUOUS, id, a as u16, msg);
        }
    }

    /// Marks every asset of connector `c` as not registered, none sent yet.
    fn unregister(&mut self, c: usize) {
        for &a in &self.conns[c].assets {
            self.regs[a].registered = false;
            self.regs[a].last_sent = None;
        }
    }

    /// Sends `RegisterInstrument` for every unregistered asset of a live connector, at most once
    /// per `every`.
    pub(super) fn register(&mut self, now: Instant, every: Duration) {
        for c in 0..self.conns.len() {
            if self.conns[c].peer == Some(Peer::Down) || self.conns[c].peer.is_none() {
                continue;
            }
            for k in 0..self.conns[c].assets.len() {
                let a = self.conns[c].assets[k];
                let r = &self.regs[a];
                if r.registered || r.last_sent.is_some_and(|t| now - t < every) {
                    continue;
                }
                let inst = &self.shared.config().instruments[a];
                let req = LiveRequest::RegisterInstrument {
                    symbol: inst.symbol.clone(),
                    tick_size: inst.tick_size,
                    lot_size: inst.lot_size,
                };
                let first = self.regs[a].last_sent.is_none();
                self.regs[a].last_sent = Some(now);
                match self.conns[c].ch.send(self.shared.bot_id(), &req) {
                    Ok(()) => {
                        self.shared
                            .stats()
                            .registrations
                            .fetch_add(1, Ordering::Relaxed);
                        self.conns[c].pending.push_back(a);
                        if first {
                            self.stage(record::instrument(a, INST_REGISTER_SENT, now_ns()));
                        }
                    }
                    Err(e) => {
                        let msg = format!(
                            "cannot register {} on connector \"{}\": {e}",
                            inst.symbol, inst.connector
                        );
                        self.ipc_error(msg);
                    }
                }
            }
        }
    }

    /// The first event of a symbol inside a registration batch: its book is rebuilt from the
    /// snapshot that follows.
    pub(super) fn begin_batch_asset(&mut self, c: usize, a: usize) {
        let Some(batch) = self.conns[c].batch.as_mut() else {
            return;
        };
        if batch.contains(&a) {
            return;
        }
        batch.push(a);
        let ts = now_ns();
        self.stage(record::instrument(a, INST_SNAPSHOT_BEGIN, ts));
        self.clear_book(a, ts);
    }

    /// A `BatchEnd` addressed to this bot: the assets of the batch (or, for an empty answer, the
    /// oldest outstanding registration on this connector) are registered.
    pub(super) fn on_registration_answered(&mut self, c: usize) {
        let mut assets = self.conns[c].batch.take().unwrap_or_default();
        if assets.is_empty() {
            while let Some(a) = self.conns[c].pending.pop_front() {
                if !self.regs[a].registered {
                    assets.push(a);
                    break;
                }
            }
        } else {
            let regs = &self.regs;
            self.conns[c]
                .pending
                .retain(|a| !assets.contains(a) && !regs[*a].registered);
        }
        self.flush_bbo(c);
        let ts = now_ns();
        for a in assets {
            if !self.regs[a].registered {
                self.regs[a].registered = true;
                self.reconcile(a);
                self.stage(record::instrument(a, INST_REGISTERED, ts));
            }
        }
    }
}
