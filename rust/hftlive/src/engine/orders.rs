//! Orders: tracking the connector's order updates of this client's orders, adopting the orders
//! a connector reports at registration that nobody tracks (a dead client's), and the connector's
//! errors (DESIGN.md point 5: a REST rejection is `Expired` plus an `OrderError`, reported as a
//! rejection with the exchange's code). Sending is in [`super::requests`].

use std::sync::atomic::Ordering;

use hftbacktest::prelude::{ErrorKind, LiveError, Order, Status, Value};

use super::Engine;
use crate::record::{
    self, ERR_CONNECTION_INTERRUPTED, ERR_CRITICAL_CONNECTION, ERR_CUSTOM, ERR_ORDER, NO_ASSET,
    STATUS_REJECTED,
};

fn is_terminal(s: Status) -> bool {
    matches!(
        s,
        Status::Filled | Status::Canceled | Status::Expired | Status::Rejected
    )
}

impl Engine {
    /// An order update of asset `a` from connector `c`; `reported`: part of this bot's
    /// registration answer (the connector reports what rests).
    pub(super) fn on_order(&mut self, c: usize, a: usize, order: Order, reported: bool) {
        let id = order.order_id;
        self.answered(c, a, id);
        if reported {
            if let Some(ids) = self.regs[a].reconcile.as_mut() {
                ids.remove(&id);
            }
        }
        let adopt = reported && self.shared.config().adopt_orders;
        let rec = {
            let mut st = self.shared.state();
            let asset = &mut st.assets[a];
            let Some(mine) = asset.orders.get_mut(&id) else {
                if adopt && order.active() {
                    // Left by a client that is gone (or another bot's): this client takes it
                    // over, so it can be listed and cancelled.
                    let mut o = order;
                    o.req = Status::None;
                    if o.tick_size <= 0.0 {
                        o.tick_size = asset.tick_size;
                    }
                    let rec = record::order(a, &o, o.status as u8);
                    asset.done.remove(&id);
                    asset.orders.insert(id, o);
                    drop(st);
                    self.shared.stats().adopted.fetch_add(1, Ordering::Relaxed);
                    self.stage(rec);
                    return;
                }
                // Another bot's order (connectors send every order to every bot), or a late
                // update of one of ours that already finished.
                self.shared
                    .stats()
                    .foreign_orders
                    .fetch_add(1, Ordering::Relaxed);
                return;
            };
            if order.exch_timestamp < mine.exch_timestamp {
                return;
            }
            let acked = mine.exch_timestamp != 0 || mine.status != Status::New;
            let rejected = order.status == Status::Expired && !acked && mine.req == Status::New;
            let pending_cancel = mine.req == Status::Canceled;
            mine.update(&order);
            // The response settles whatever request was in flight.
            if order.status != Status::New || order.req == Status::None {
                mine.req = Status::None;
            }
            // A cancel the exchange did not match (Binance -2011: already filled or gone): the
            // connector answers with status None, forgets the order and drops any later update
            // of it, so it can never be tracked or cancelled again. It ends here as Expired, and
            // the OrderError that follows is tied to it; its true outcome is unknown.
            let unmatched_cancel = order.status == Status::None && pending_cancel;
            if unmatched_cancel {
                mine.status = Status::Expired;
            }
            let status = if rejected {
                STATUS_REJECTED
            } else {
                mine.status as u8
            };
            let rec = record::order(a, mine, status);
            if is_terminal(mine.status) {
                asset.orders.remove(&id);
                asset.done.insert(id);
            }
            (rec, rejected || unmatched_cancel)
        };
        let (rec, error_follows) = rec;
        if error_follows {
            self.conns[c].pending_reject = Some((a, id));
        }
        self.stage(rec);
    }

    pub(super) fn on_error(&mut self, c: usize, err: LiveError) {
        let (kind, code) = match err.kind {
            ErrorKind::ConnectionInterrupted => (ERR_CONNECTION_INTERRUPTED, 0),
            ErrorKind::CriticalConnectionError => (ERR_CRITICAL_CONNECTION, 0),
            ErrorKind::OrderError => (ERR_ORDER, 0),
            ErrorKind::Custom(code) => (ERR_CUSTOM, code),
        };
        let code = match (&err.value, code) {
            (_, c) if c != 0 => c,
            (Value::Int(i), _) => *i,
            (Value::Map(m), _) => match m.get("code") {
                Some(Value::Int(i)) => *i,
                Some(Value::String(s)) => s.parse().unwrap_or(0),
                _ => 0,
            },
            _ => 0,
        };
        let (asset, order_id) = match (kind, self.conns[c].pending_reject) {
            (ERR_ORDER, Some((a, id))) => {
                self.conns[c].pending_reject = None;
                (a as u16, id)
            }
            _ => (NO_ASSET, 0),
        };
        let msg = format!(
            "connector \"{}\": {}",
            self.conns[c].name,
            render_value(&err.value)
        );
        self.error_record(kind, code, order_id, asset, msg);
    }
}

/// Renders a connector error value as JSON-like text.
pub fn render_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Empty => String::new(),
        Value::List(l) => format!(
            "[{}]",
            l.iter().map(render_value).collect::<Vec<_>>().join(", ")
        ),
        Value::Map(m) => {
            let mut keys: Vec<_> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| match &m[k] {
                    Value::String(s) => format!("{k}: {s:?}"),
                    other => format!("{k}: {}", render_value(other)),
                })
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
    }
}
