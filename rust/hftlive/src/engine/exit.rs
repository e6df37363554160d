//! Cancel on exit (`cancel_on_exit`): when an engine ends (its client closed, the thread that
//! holds it ended, the process exits) it cancels every active order first, and each
//! unacknowledged one once acknowledged, running until none is left or `exit_timeout_ms` passed.
//! After an engine failure (a panic: the engine is not run again) [`rescue_after_failure`] sends
//! the cancels through freshly built ports instead.

use std::{
    collections::{HashMap, HashSet},
    sync::atomic::Ordering::Relaxed,
    time::{Duration, Instant},
};

use hftbacktest::{
    live::ipc::iceoryx::IceoryxChannel,
    prelude::{LiveEvent, LiveRequest, Order, Status},
};

use super::Engine;
use crate::{
    clock::now_ns,
    commands::Cmd,
    iox::{self, Peer},
    record::{ERR_ENGINE, NOTICE_EXIT, NO_ASSET},
    shared::Shared,
};

/// How often the orders are scanned for ones that became cancellable (acknowledged).
const RESCAN: Duration = Duration::from_millis(5);

/// Ids listed in a summary at most.
const IDS_LISTED: usize = 20;

/// `n` ids, the first [`IDS_LISTED`] of them listed.
fn some_ids(ids: &[u64]) -> String {
    let mut s: Vec<String> = ids.iter().take(IDS_LISTED).map(u64::to_string).collect();
    if ids.len() > IDS_LISTED {
        s.push(format!("and {} more", ids.len() - IDS_LISTED));
    }
    s.join(", ")
}

impl Engine {
    /// Cancels every active order and waits for the answers, at most `exit_timeout_ms`; then
    /// reports what it did in an ERROR record (from `Drop`: once per engine); not after a failure.
    pub(super) fn cancel_on_exit(&mut self) {
        let (on, timeout_ms) = {
            let cfg = self.shared.config();
            (cfg.cancel_on_exit, cfg.exit_timeout_ms)
        };
        if !on || self.shared.signal().is_failed() {
            return;
        }
        let timeout = Duration::from_millis(timeout_ms);
        let start = Instant::now();
        self.withdraw_unsent_submits();
        let total: usize = self.tracked().iter().sum();
        if total == 0 {
            return;
        }
        let mut last_scan: Option<Instant> = None;
        loop {
            if last_scan.is_none_or(|t| t.elapsed() >= RESCAN) {
                last_scan = Some(Instant::now());
                self.queue_exit_cancels();
            }
            let busy = self.step();
            let tracked = self.tracked();
            let reachable = tracked.iter().enumerate().any(|(a, &n)| {
                n > 0 && matches!(self.conns[self.regs[a].conn].peer, Some(Peer::Up(_)))
            });
            if !reachable || start.elapsed() >= timeout {
                break;
            }
            if !busy {
                std::thread::sleep(Duration::from_micros(100));
            }
        }
        let ms = start.elapsed().as_millis();
        let left = self.tracked_ids();
        let msg = if left.is_empty() {
            format!("cancel on exit: all {total} active orders finished in {ms} ms")
        } else {
            format!(
                "cancel on exit: {} of {total} active orders still active after {ms} ms (timeout \
                 {timeout_ms} ms, or their connector is down): {}",
                left.len(),
                some_ids(&left)
            )
        };
        self.error_record(ERR_ENGINE, NOTICE_EXIT, 0, NO_ASSET, msg);
        self.out.flush(self.shared.signal());
    }

    /// How many orders each asset still tracks (active, or not yet acknowledged).
    fn tracked(&self) -> Vec<usize> {
        let st = self.shared.state();
        st.assets.iter().map(|a| a.orders.len()).collect()
    }

    /// The ids of the orders still tracked, by asset then id.
    fn tracked_ids(&self) -> Vec<u64> {
        let st = self.shared.state();
        let mut v = Vec::new();
        for asset in &st.assets {
            let mut ids: Vec<u64> = asset.orders.keys().copied().collect();
            ids.sort_unstable();
            v.extend(ids);
        }
        v
    }

    /// New orders still waiting to be sent are not sent at all: each ends Rejected with an ERROR
    /// record (code 1), like those of a connector that is down.
    fn withdraw_unsent_submits(&mut self) {
        self.take_commands();
        for c in 0..self.conns.len() {
            let unsent = self.conns[c].requests.take_submits();
            for cmd in unsent {
                self.shared.stats().queued.fetch_sub(1, Relaxed);
                self.not_sent(cmd, "the client is closing; nothing was sent");
            }
        }
    }

    /// Queues a cancel for every order that can be cancelled now (active, no request).
    fn queue_exit_cancels(&mut self) {
        let mut cmds = Vec::new();
        {
            let mut st = self.shared.state();
            for (a, asset) in st.assets.iter_mut().enumerate() {
                for (&id, o) in asset.orders.iter_mut() {
                    if o.cancellable() {
                        o.req = Status::Canceled;
                        cmds.push(Cmd {
                            asset: a,
                            order_id: id,
                            cancel: true,
                        });
                    }
                }
            }
        }
        cmds.sort_unstable_by_key(|c| (c.asset, c.order_id));
        for cmd in cmds {
            self.shared.stats().queued.fetch_add(1, Relaxed);
            let c = self.regs[cmd.asset].conn;
            self.conns[c].requests.push(cmd);
        }
    }
}

/// After the engine failed (a panic; it is not run again): when `cancel_on_exit` is set, sends a
/// cancel for every active order through freshly built ports, at most a window at a time, and
/// waits for the answers up to `exit_timeout_ms`. Returns what it did, for the failure message
/// (`None` when cancel on exit is off).
pub(crate) fn rescue_after_failure(shared: &Shared) -> Option<String> {
    let cfg = shared.config();
    if !cfg.cancel_on_exit {
        return None;
    }
    // By connector: (symbol, order to cancel).
    let mut by_conn: HashMap<&str, Vec<(usize, Order)>> = HashMap::new();
    {
        let st = shared.state();
        for (a, asset) in st.assets.iter().enumerate() {
            for o in asset.orders.values().filter(|o| o.active()) {
                let mut req = o.clone();
                req.req = Status::Canceled;
                req.local_timestamp = now_ns();
                by_conn
                    .entry(cfg.instruments[a].connector.as_str())
                    .or_default()
                    .push((a, req));
            }
        }
    }
    if by_conn.is_empty() {
        return Some("cancel on exit: no active orders".into());
    }
    let deadline = Instant::now() + Duration::from_millis(cfg.exit_timeout_ms);
    let window = match shared.stats().window.load(Relaxed) as usize {
        0 => super::requests::DEFAULT_WINDOW,
        w => w,
    };
    let mut parts: Vec<String> = Vec::new();
    let mut names: Vec<&str> = by_conn.keys().copied().collect();
    names.sort_unstable();
    for name in names {
        let mut orders = by_conn.remove(name).unwrap_or_default();
        orders.sort_unstable_by_key(|(a, o)| (*a, o.order_id));
        parts.push(rescue_connector(shared, name, orders, window, deadline));
    }
    Some(format!("cancel on exit: {}", parts.join("; ")))
}

/// Cancels `orders` on connector `name` through a fresh channel; says what happened.
fn rescue_connector(
    shared: &Shared,
    name: &str,
    orders: Vec<(usize, Order)>,
    window: usize,
    deadline: Instant,
) -> String {
    let total = orders.len();
    iox::prepare_dirs();
    let ch = match IceoryxChannel::<LiveRequest, LiveEvent>::new(name) {
        Ok(ch) => ch,
        Err(e) => {
            return format!("connector \"{name}\": none of {total} cancels sent: {e}");
        }
    };
    let bot = shared.bot_id();
    let mut pending: HashSet<u64> = HashSet::new();
    let (mut sent, mut answered, mut failed) = (0usize, 0usize, 0usize);
    let mut next = orders.into_iter();
    let mut exhausted = false;
    while Instant::now() < deadline {
        while !exhausted && pending.len() < window {
            let Some((a, order)) = next.next() else {
                exhausted = true;
                break;
            };
            let id = order.order_id;
            let symbol = shared.config().instruments[a].symbol.clone();
            match ch.send(bot, &LiveRequest::Order { symbol, order }) {
                Ok(()) => {
                    sent += 1;
                    pending.insert(id);
                }
                Err(_) => failed += 1,
            }
        }
        let mut got = false;
        while let Ok(Some((_, ev))) = ch.receive() {
            got = true;
            if let LiveEvent::Order { order, .. } = ev {
                if pending.remove(&order.order_id) {
                    answered += 1;
                }
            }
        }
        if exhausted && pending.is_empty() {
            break;
        }
        if !got {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    let mut s = format!(
        "connector \"{name}\": sent {sent} of {total} cancels through a new channel, {answered} \
         answered"
    );
    if failed > 0 {
        s.push_str(&format!(", {failed} failed to send"));
    }
    if !pending.is_empty() || sent + failed < total {
        s.push_str(" before the exit timeout");
    }
    s
}
