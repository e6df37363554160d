//! The order path's pacing (DESIGN.md, "The order path": bursts are paced, not lost).
//!
//! hftbacktest's `{name}/FromBot` service has iceoryx2's safe overflow on: once the connector's
//! buffer of this bot's requests is full, each send silently replaces the oldest unread request,
//! and a send with no connector subscribed goes nowhere, both reported as success. So requests
//! wait here and go out only while fewer than a window of them await an answer (half the
//! connector's buffer by default): a request is answered by the first order update of its id
//! after it was sent, which the connector publishes after it dequeued the request. Requests
//! unanswered after `request_timeout_ms` free their place and are reported; nothing is sent to a
//! connector that is down, and what waited for it is rejected or withdrawn, with an ERROR record
//! each. At most [`SENDS_PER_STEP`] go out per engine step, so the engine keeps reading.

use std::{
    collections::{HashMap, VecDeque},
    sync::atomic::Ordering::Relaxed,
    time::Instant,
};

use hftbacktest::prelude::{LiveRequest, Status};

use super::Engine;
use crate::{
    commands::Cmd,
    iox::Peer,
    record::{self, ERR_ENGINE, NOTICE_NOT_SENT, NOTICE_UNANSWERED, STATUS_REJECTED},
};

/// Requests sent per connector per engine step at most.
pub(super) const SENDS_PER_STEP: usize = 256;

/// The window when neither the connector's buffer nor the channel configuration is known.
pub(super) const DEFAULT_WINDOW: usize = 5_000;

/// One connector's requests: waiting to be sent, and sent awaiting an answer.
#[derive(Default)]
pub(super) struct Requests {
    queue: VecDeque<Cmd>,
    /// By (asset, order id): when it was sent and whether it is a cancel.
    in_flight: HashMap<(usize, u64), (Instant, bool)>,
    /// Sends in order, for the timeouts; entries answered or sent again are skipped.
    sent: VecDeque<(Instant, usize, u64)>,
    /// Requests in flight at most (set when the connector comes up).
    pub window: usize,
}

impl Requests {
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Ids of the new orders still waiting to be sent for `asset`.
    pub fn queued_submits(&self, asset: usize) -> impl Iterator<Item = u64> + '_ {
        self.queue
            .iter()
            .filter(move |q| q.asset == asset && !q.cancel)
            .map(|q| q.order_id)
    }

    /// Takes the new orders out of the queue (cancels stay).
    pub fn take_submits(&mut self) -> VecDeque<Cmd> {
        let (submits, rest) = std::mem::take(&mut self.queue)
            .into_iter()
            .partition(|q| !q.cancel);
        self.queue = rest;
        submits
    }

    pub fn push(&mut self, cmd: Cmd) {
        self.queue.push_back(cmd);
    }
}

/// Why a request in flight will get no answer.
#[derive(Clone, Copy)]
pub(super) enum Unanswered {
    Timeout,
    Down,
    Restarted,
}

impl Engine {
    /// Moves the callers' requests to their connectors' queues, expires requests unanswered for
    /// too long, and sends what each window allows (or rejects/withdraws what waits for a
    /// connector that is down). Returns whether anything happened.
    pub(super) fn pump_requests(&mut self) -> bool {
        let mut busy = self.take_commands();
        let now = Instant::now();
        for c in 0..self.conns.len() {
            busy |= self.expire(c, now);
            if matches!(self.conns[c].peer, Some(Peer::Up(_))) {
                busy |= self.send_queued(c, now);
            } else if !self.conns[c].requests.queue.is_empty() {
                self.withdraw_queued(c);
                busy = true;
            }
        }
        if busy {
            self.publish_in_flight();
        }
        busy
    }

    /// The requests in flight over every connector, for `hl_client_stats`.
    pub(super) fn publish_in_flight(&self) {
        let n: usize = self.conns.iter().map(|c| c.requests.in_flight()).sum();
        self.shared.stats().in_flight.store(n as u64, Relaxed);
    }

    /// Moves every request the callers queued to its connector's queue.
    pub(super) fn take_commands(&mut self) -> bool {
        let mut any = false;
        while let Ok(cmd) = self.cmd_rx.try_recv() {
            any = true;
            let c = self.regs[cmd.asset].conn;
            self.conns[c].requests.push(cmd);
        }
        any
    }

    /// The window of connector `c` as it comes up: `max_in_flight`, else half the buffer of
    /// the connector's FromBot subscriber, else half the channel configuration's, else 5,000.
    pub(super) fn set_window(&mut self, c: usize) {
        let cfg = self.shared.config();
        let buffer = self.conns[c]
            .liveness
            .connector_buffer()
            .or(self.shared.channel().map(|ch| ch.buffer_size));
        let window = match (cfg.max_in_flight, buffer) {
            (Some(w), _) => w,
            (None, Some(b)) => (b / 2).max(1),
            (None, None) => DEFAULT_WINDOW,
        };
        self.conns[c].requests.window = window;
        let min = self
            .conns
            .iter()
            .map(|c| c.requests.window)
            .filter(|w| *w > 0)
            .min();
        self.shared
            .stats()
            .window
            .store(min.unwrap_or(0) as u64, Relaxed);
    }

    /// Sends queued requests of connector `c` while its window has room.
    fn send_queued(&mut self, c: usize, now: Instant) -> bool {
        let r = &self.conns[c].requests;
        let room = r.window.saturating_sub(r.in_flight()).min(SENDS_PER_STEP);
        if room == 0 || r.queue.is_empty() {
            return false;
        }
        // Gone since the last liveness check (a clean exit): keep them for its verdict.
        if !self.conns[c].liveness.subscribed() {
            return false;
        }
        let shared = self.shared.clone();
        let stats = shared.stats();
        let mut sent = 0;
        while sent < room {
            let Some(cmd) = self.conns[c].requests.queue.pop_front() else {
                break;
            };
            stats.queued.fetch_sub(1, Relaxed);
            let key = (cmd.asset, cmd.order_id);
            if cmd.cancel && self.conns[c].requests.in_flight.contains_key(&key) {
                continue; // a cancel of this order is already on its way
            }
            let order = {
                let mut st = self.shared.state();
                match st.assets[cmd.asset].orders.get_mut(&cmd.order_id) {
                    // Finished meanwhile: a cancel has nothing left to do.
                    None => continue,
                    Some(o) if cmd.cancel && !o.active() => continue,
                    Some(o) if cmd.cancel => {
                        o.req = Status::Canceled;
                        let mut req = o.clone();
                        req.local_timestamp = crate::clock::now_ns();
                        req
                    }
                    Some(o) => o.clone(),
                }
            };
            let symbol = self.shared.config().instruments[cmd.asset].symbol.clone();
            let request = LiveRequest::Order { symbol, order };
            match self.conns[c].ch.send(self.shared.bot_id(), &request) {
                Ok(()) => {
                    let r = &mut self.conns[c].requests;
                    r.in_flight.insert(key, (now, cmd.cancel));
                    r.sent.push_back((now, cmd.asset, cmd.order_id));
                    stats.sent.fetch_add(1, Relaxed);
                    sent += 1;
                }
                Err(e) => {
                    stats.ipc_errors.fetch_add(1, Relaxed);
                    let why = format!(
                        "cannot send it to connector \"{}\": {e}",
                        self.conns[c].name
                    );
                    self.not_sent(cmd, &why);
                }
            }
        }
        true
    }

    /// Connector `c` is down: everything waiting for it is rejected (new orders) or withdrawn
    /// (cancels), each with an ERROR record.
    fn withdraw_queued(&mut self, c: usize) {
        let why = format!(
            "connector \"{}\" is down; nothing was sent",
            self.conns[c].name
        );
        while let Some(cmd) = self.conns[c].requests.queue.pop_front() {
            self.shared.stats().queued.fetch_sub(1, Relaxed);
            self.not_sent(cmd, &why);
        }
    }

    /// A request that was not sent: a new order ends Rejected; a cancel is withdrawn (the order
    /// may still rest: cancel it again). An ORDER record and an ERROR record each.
    pub(super) fn not_sent(&mut self, cmd: Cmd, why: &str) {
        let (a, id) = (cmd.asset, cmd.order_id);
        let rec = {
            let mut st = self.shared.state();
            let asset = &mut st.assets[a];
            if cmd.cancel {
                asset
                    .orders
                    .get_mut(&id)
                    .filter(|o| o.req == Status::Canceled)
                    .map(|o| {
                        o.req = Status::None;
                        record::order(a, o, o.status as u8)
                    })
            } else {
                asset.orders.remove(&id).map(|mut o| {
                    o.status = Status::Rejected;
                    o.req = Status::None;
                    asset.done.insert(id);
                    record::order(a, &o, STATUS_REJECTED)
                })
            }
        };
        let Some(rec) = rec else {
            return;
        };
        self.stage(rec);
        let msg = if cmd.cancel {
            format!("Cannot cancel order {id}: {why} (the order may still rest: cancel it again)")
        } else {
            format!("Cannot submit order {id}: {why}")
        };
        self.error_record(ERR_ENGINE, NOTICE_NOT_SENT, id, a as u16, msg);
    }

    /// The first order update of `id` since its request was sent answers it.
    pub(super) fn answered(&mut self, c: usize, a: usize, id: u64) {
        self.conns[c].requests.in_flight.remove(&(a, id));
    }

    /// Frees the places of connector `c`'s requests unanswered for `request_timeout_ms`.
    fn expire(&mut self, c: usize, now: Instant) -> bool {
        let mut any = false;
        loop {
            let r = &mut self.conns[c].requests;
            let Some(&(at, a, id)) = r.sent.front() else {
                break;
            };
            match r.in_flight.get(&(a, id)) {
                Some(&(t, cancel)) if t == at => {
                    if now.duration_since(at) < self.request_timeout {
                        break;
                    }
                    r.in_flight.remove(&(a, id));
                    r.sent.pop_front();
                    self.unanswered(c, a, id, cancel, Unanswered::Timeout);
                    any = true;
                }
                // Answered, or sent again later.
                _ => {
                    r.sent.pop_front();
                }
            }
        }
        any
    }

    /// Connector `c` went away: none of its requests in flight will be answered.
    pub(super) fn abandon_in_flight(&mut self, c: usize, why: Unanswered) {
        let r = &mut self.conns[c].requests;
        r.sent.clear();
        let mut lost: Vec<_> = r.in_flight.drain().collect();
        lost.sort_unstable_by_key(|(_, (at, _))| *at);
        for ((a, id), (_, cancel)) in lost {
            self.unanswered(c, a, id, cancel, why);
        }
        self.shared.stats().in_flight.store(
            self.conns
                .iter()
                .map(|c| c.requests.in_flight())
                .sum::<usize>() as u64,
            Relaxed,
        );
    }

    /// Reports a request that will get no answer. A cancel's request is cleared (a retry sends
    /// it again); a new order stays as it is, its outcome unknown (a late answer still applies,
    /// and after a connector restart it ends Expired unless the connector reports it).
    fn unanswered(&mut self, c: usize, a: usize, id: u64, cancel: bool, why: Unanswered) {
        self.shared.stats().unanswered.fetch_add(1, Relaxed);
        let name = &self.conns[c].name;
        let what = match why {
            Unanswered::Timeout => format!(
                "connector \"{name}\" did not answer within {} ms",
                self.request_timeout.as_millis()
            ),
            Unanswered::Down => format!("connector \"{name}\" went down before answering"),
            Unanswered::Restarted => format!("connector \"{name}\" restarted before answering"),
        };
        let msg = if cancel {
            let rec = {
                let mut st = self.shared.state();
                let o = st.assets[a].orders.get_mut(&id);
                o.filter(|o| o.req == Status::Canceled).map(|o| {
                    o.req = Status::None;
                    record::order(a, o, o.status as u8)
                })
            };
            let Some(rec) = rec else {
                return; // finished meanwhile
            };
            self.stage(rec);
            format!(
                "Cannot cancel order {id}: {what} (a connector does not answer the cancel of an \
                 order it does not know); the request was cleared: cancel again to re-send it"
            )
        } else {
            format!(
                "Order {id}: no answer to its submit ({what}); its outcome is unknown (the order \
                 stays New with its request in flight; a late answer still applies)"
            )
        };
        self.error_record(ERR_ENGINE, NOTICE_UNANSWERED, id, a as u16, msg);
    }
}
