//! Bot-side helpers for the sim's IPC tests: a bot built on hftbacktest's public
//! `IceoryxChannel`, waiting on conditions with timeouts (no sleeps).

#![allow(dead_code)]

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Once,
    },
    time::{Duration, Instant},
};

use hftbacktest::{
    live::ipc::{iceoryx::IceoryxChannel, TO_ALL},
    types::{ErrorKind, LiveEvent, LiveRequest, OrdType, Order, Side, Status, TimeInForce, Value},
};
use hftlive_sim::{Sim, SimConfig, SimInstrument};

pub const TIMEOUT: Duration = Duration::from_secs(15);
pub const TICK: f64 = 0.1;
pub const LOT: f64 = 0.001;
pub const SYMBOL: &str = "btcusdt";

static SETUP: Once = Once::new();
static COUNTER: AtomicU64 = AtomicU64::new(1);

/// Small shared memory for tests: both sides read `HFTBACKTEST_CHANNEL_CONFIG` when they create
/// their ports, so it is set once before any port exists in this process (and inherited by the
/// sim binary the tests spawn).
pub fn setup() {
    SETUP.call_once(|| {
        let path = std::env::temp_dir().join(format!(
            "hftlive-sim-test-channel-{}.toml",
            std::process::id()
        ));
        std::fs::write(&path, "buffer_size = 1024\nmax_bots = 16\n").unwrap();
        std::env::set_var("HFTBACKTEST_CHANNEL_CONFIG", &path);
        hftlive_sim::iox::prepare_dirs();
    });
}

pub fn unique_name(tag: &str) -> String {
    setup();
    format!(
        "hlsim-{tag}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn instrument() -> SimInstrument {
    SimInstrument {
        symbol: SYMBOL.into(),
        tick_size: TICK,
        lot_size: LOT,
        start_price: 50_000.0,
    }
}

pub fn start_sim(tag: &str, edit: impl FnOnce(&mut SimConfig)) -> Sim {
    let mut cfg = SimConfig::new(&unique_name(tag), vec![instrument()]);
    cfg.rate = 2000.0;
    cfg.levels = 10;
    edit(&mut cfg);
    Sim::start(cfg).expect("sim starts")
}

pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::yield_now();
    }
}

pub struct Bot {
    pub id: u64,
    ch: IceoryxChannel<LiveRequest, LiveEvent>,
    next_order_id: u64,
}

impl Bot {
    pub fn new(name: &str) -> Bot {
        setup();
        let id = ((std::process::id() as u64) << 20) | COUNTER.fetch_add(1, Ordering::Relaxed);
        Bot {
            id,
            ch: IceoryxChannel::new(name).expect("bot ports"),
            next_order_id: 1,
        }
    }

    pub fn register(&self, symbol: &str) {
        self.ch
            .send(
                self.id,
                &LiveRequest::RegisterInstrument {
                    symbol: symbol.into(),
                    tick_size: TICK,
                    lot_size: LOT,
                },
            )
            .unwrap();
    }

    pub fn order(
        &mut self,
        side: Side,
        price: f64,
        lots: i64,
        tif: TimeInForce,
        ty: OrdType,
    ) -> u64 {
        let id = self.next_order_id;
        self.next_order_id += 1;
        self.submit_raw(id, side, price, lots as f64 * LOT, tif, ty);
        id
    }

    pub fn submit_raw(
        &self,
        id: u64,
        side: Side,
        price: f64,
        qty: f64,
        tif: TimeInForce,
        ty: OrdType,
    ) {
        let mut order = Order::new(id, (price / TICK).round() as i64, TICK, qty, side, ty, tif);
        order.req = Status::New;
        self.ch
            .send(
                self.id,
                &LiveRequest::Order {
                    symbol: SYMBOL.into(),
                    order,
                },
            )
            .unwrap();
    }

    pub fn cancel(&self, id: u64) {
        let mut order = Order::new(
            id,
            0,
            TICK,
            0.0,
            Side::Buy,
            OrdType::Limit,
            TimeInForce::GTC,
        );
        order.req = Status::Canceled;
        self.ch
            .send(
                self.id,
                &LiveRequest::Order {
                    symbol: SYMBOL.into(),
                    order,
                },
            )
            .unwrap();
    }

    /// The next event addressed to this bot (or to all), with its destination id.
    pub fn next(&self) -> (u64, LiveEvent) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self.ch.receive().expect("receive") {
                Some((dst, ev)) if dst == TO_ALL || dst == self.id => return (dst, ev),
                Some(_) => {}
                None => {
                    assert!(Instant::now() < deadline, "timed out waiting for an event");
                    std::thread::yield_now();
                }
            }
        }
    }

    /// The next event for this bot if one is ready.
    pub fn try_next(&self) -> Option<(u64, LiveEvent)> {
        loop {
            match self.ch.receive().expect("receive") {
                Some((dst, ev)) if dst == TO_ALL || dst == self.id => return Some((dst, ev)),
                Some(_) => {}
                None => return None,
            }
        }
    }

    /// Events until (and including) the first one for which `stop` is true.
    pub fn until(&self, mut stop: impl FnMut(u64, &LiveEvent) -> bool) -> Vec<(u64, LiveEvent)> {
        let mut out = Vec::new();
        // Events that keep coming (market data) must not make a lost one a hang.
        let deadline = Instant::now() + TIMEOUT;
        loop {
            assert!(
                Instant::now() < deadline,
                "timed out: {} events, none the one awaited",
                out.len()
            );
            let (dst, ev) = self.next();
            let done = stop(dst, &ev);
            out.push((dst, ev));
            if done {
                return out;
            }
        }
    }

    /// The order updates of order `id` until one with `status` (inclusive), plus every other
    /// event seen meanwhile.
    pub fn order_updates_until(&self, id: u64, status: Status) -> Vec<(u64, LiveEvent)> {
        self.until(|_, ev| {
            matches!(ev, LiveEvent::Order { order, .. } if order.order_id == id && order.status == status)
        })
    }

    /// Registers and consumes the reply batch (BatchStart .. BatchEnd to this bot).
    pub fn register_and_wait(&self, symbol: &str) -> Vec<LiveEvent> {
        self.register(symbol);
        let id = self.id;
        let mut started = false;
        let evs = self.until(|dst, ev| {
            if dst == id && matches!(ev, LiveEvent::BatchStart) {
                started = true;
            }
            started && dst == id && matches!(ev, LiveEvent::BatchEnd)
        });
        let start = evs
            .iter()
            .position(|(dst, ev)| *dst == id && matches!(ev, LiveEvent::BatchStart))
            .unwrap();
        evs.into_iter()
            .skip(start)
            .filter(|(dst, _)| *dst == id)
            .map(|(_, ev)| ev)
            .collect()
    }
}

pub fn order_updates(evs: &[(u64, LiveEvent)], id: u64) -> Vec<Order> {
    evs.iter()
        .filter_map(|(_, ev)| match ev {
            LiveEvent::Order { order, .. } if order.order_id == id => Some(order.clone()),
            _ => None,
        })
        .collect()
}

/// The `(code, msg)` of an `OrderError` event.
pub fn order_error(ev: &LiveEvent) -> Option<(i64, String)> {
    match ev {
        LiveEvent::Error(err) if err.kind == ErrorKind::OrderError => match &err.value {
            Value::Map(map) => {
                let code = match map.get("code") {
                    Some(Value::Int(c)) => *c,
                    _ => return None,
                };
                let msg = map.get("msg").and_then(|v| v.get_str()).unwrap_or("");
                Some((code, msg.to_string()))
            }
            _ => None,
        },
        _ => None,
    }
}
