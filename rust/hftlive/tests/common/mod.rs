//! Test helpers: a client through the crate's safe API, and a scripted connector speaking
//! hftbacktest's IPC protocol over real iceoryx2 (the connector side of `IceoryxBuilder`).
#![allow(dead_code)]

use std::{
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

use hftbacktest::{
    live::ipc::{
        iceoryx::{IceoryxBuilder, IceoryxReceiver, IceoryxSender},
        TO_ALL,
    },
    prelude::*,
};
use hftlive::{book::Levels, record::*, CancelOrder, Client, Error, NewOrder, Side};

/// A connector name no other test (or test process) uses.
pub fn unique_name(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "hlt-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A decoded record.
#[derive(Clone, Debug)]
pub struct R(pub Vec<u8>);

impl R {
    pub fn v(&self) -> RecView<'_> {
        RecView(&self.0)
    }
    pub fn kind(&self) -> u8 {
        self.0[0]
    }
}

/// A client through the crate's safe API, keeping every record it polled.
pub struct TestClient {
    pub c: Client,
    pub seen: Vec<R>,
}

pub fn open(cfg: &str) -> Result<TestClient, Error> {
    Ok(TestClient {
        c: Client::open(cfg)?,
        seen: Vec::new(),
    })
}

pub fn client_cfg(connector: &str, symbols: &[&str], extra: &str) -> String {
    let inst: Vec<String> = symbols
        .iter()
        .map(|s| {
            format!(
                r#"{{"connector":"{connector}","symbol":"{s}","tick_size":0.1,"lot_size":0.001}}"#
            )
        })
        .collect();
    format!(
        r#"{{"instruments":[{}],"liveness_interval_ms":20,"register_interval_ms":50{extra}}}"#,
        inst.join(",")
    )
}

/// A GTC limit order of asset 0 (`side` 1 buy, -1 sell).
pub fn limit(id: u64, side: i8, price: f64, qty: f64) -> NewOrder {
    let side = if side > 0 { Side::Buy } else { Side::Sell };
    NewOrder::limit(0, id, side, price, qty)
}

/// A sim for order tests: one instrument (btcusdt, tick 0.1, lot 0.001, around 50,000), a slow
/// market so the order traffic dominates.
pub fn order_sim(name: &str) -> hftlive_sim::Sim {
    let mut cfg = hftlive_sim::SimConfig::new(
        name,
        vec![hftlive_sim::SimInstrument {
            symbol: "btcusdt".into(),
            tick_size: 0.1,
            lot_size: 0.001,
            start_price: 50_000.0,
        }],
    );
    cfg.seed = 11;
    cfg.rate = 100.0;
    hftlive_sim::Sim::start(cfg).unwrap()
}

/// Waits until the sim holds `n` resting orders; returns how many it holds in the end.
pub fn sim_resting(sim: &hftlive_sim::Sim, n: u64, timeout: Duration) -> u64 {
    let start = Instant::now();
    loop {
        let r = sim.stats().resting;
        if r == n || start.elapsed() >= timeout {
            return r;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A resting buy far below the sim's market (never fills): id `id`, one lot.
pub fn resting_buy(id: u64) -> NewOrder {
    limit(id, 1, 1_000.0 + (id % 1_000) as f64 * 0.1, 0.001)
}

/// (status, request in flight) of an ORDER record.
pub fn order_state(r: &RecView<'_>) -> (u8, u8) {
    let aux = r.aux();
    (aux as u8, (aux >> 8) as u8)
}

/// An ORDER record of an acknowledged, active order with nothing in flight.
pub fn is_ack(r: &RecView<'_>) -> bool {
    r.kind() == K_ORDER && order_state(r) == (1, 0)
}

impl TestClient {
    /// Polls records without keeping them, calling `on` for each, until `on` returns true
    /// (returns true) or the timeout passes (false). For volumes too large to keep.
    pub fn pump(&mut self, timeout: Duration, mut on: impl FnMut(RecView<'_>) -> bool) -> bool {
        let start = Instant::now();
        let mut buf = vec![0u8; 64 * 8192];
        while start.elapsed() < timeout {
            let n = self
                .c
                .poll(&mut buf, Duration::from_millis(20))
                .expect("poll");
            for rec in buf[..n * 64].chunks_exact(64) {
                if on(RecView(rec)) {
                    return true;
                }
            }
        }
        false
    }

    /// Submits resting buys `ids` and waits for every acknowledgement.
    pub fn rest(&mut self, ids: std::ops::RangeInclusive<u64>) {
        let want = ids.clone().count();
        for id in ids.clone() {
            self.submit(resting_buy(id)).unwrap();
        }
        let mut acked = std::collections::HashSet::new();
        let done = self.pump(T, |r| {
            if is_ack(&r) && ids.contains(&r.u(1)) {
                acked.insert(r.u(1));
            }
            acked.len() == want
        });
        assert!(done, "{} of {want} orders acknowledged", acked.len());
    }

    /// How many active orders asset 0 holds (`hl_client_orders`).
    pub fn active(&self) -> usize {
        let mut buf = vec![0u8; 64 * 200_000];
        self.c.orders(0, &mut buf).unwrap()
    }

    /// The first record seen so far for which `pred` holds, else the next one polled.
    pub fn find(&mut self, timeout: Duration, mut pred: impl FnMut(&R) -> bool) -> Option<R> {
        if let Some(r) = self.seen.iter().find(|r| pred(r)) {
            return Some(r.clone());
        }
        self.wait_for(timeout, pred)
    }

    /// Polls records until `pred` holds for one of them (returns it) or the timeout passes.
    pub fn wait_for(&mut self, timeout: Duration, mut pred: impl FnMut(&R) -> bool) -> Option<R> {
        let start = Instant::now();
        let mut buf = vec![0u8; 64 * 256];
        while start.elapsed() < timeout {
            let n = self
                .c
                .poll(&mut buf, Duration::from_millis(20))
                .expect("poll");
            // Keep the whole batch (later records matter to later checks), return the first match.
            let mut found = None;
            for rec in buf[..n * 64].chunks_exact(64) {
                let r = R(rec.to_vec());
                self.seen.push(r.clone());
                if found.is_none() && pred(&r) {
                    found = Some(r);
                }
            }
            if found.is_some() {
                return found;
            }
        }
        None
    }

    pub fn depth(&self, asset: usize, levels: usize) -> (Levels, Levels) {
        self.c.depth(asset, levels).expect("depth")
    }

    pub fn submit(&self, order: NewOrder) -> Result<(), Error> {
        self.c.submit(&order)
    }

    pub fn cancel(&self, order_id: u64) -> Result<(), Error> {
        self.c.cancel(&CancelOrder { asset: 0, order_id })
    }
}

impl Drop for TestClient {
    fn drop(&mut self) {
        self.c.close();
    }
}

/// The connector side of hftbacktest's IPC, scripted by the test.
pub struct Connector {
    pub tx: IceoryxSender<LiveEvent>,
    pub rx: IceoryxReceiver<LiveRequest>,
}

impl Connector {
    pub fn new(name: &str) -> Self {
        hftlive::iox::prepare_dirs();
        Connector {
            tx: IceoryxBuilder::new(name).bot(false).sender().unwrap(),
            rx: IceoryxBuilder::new(name).bot(false).receiver().unwrap(),
        }
    }

    /// Waits for the next request matching `pred`.
    pub fn recv(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&LiveRequest) -> bool,
    ) -> Option<(u64, LiveRequest)> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            match self.rx.receive().unwrap() {
                Some((id, req)) if pred(&req) => return Some((id, req)),
                Some(_) => {}
                None => std::thread::yield_now(),
            }
        }
        None
    }

    pub fn send(&self, dst: u64, ev: LiveEvent) {
        self.tx.send(dst, &ev).unwrap();
    }

    pub fn feed(&self, symbol: &str, ev: u64, px: f64, qty: f64, ts: i64) {
        self.send(
            TO_ALL,
            LiveEvent::Feed {
                symbol: symbol.into(),
                event: Event {
                    ev,
                    exch_ts: ts,
                    local_ts: ts + 1000,
                    px,
                    qty,
                    order_id: 0,
                    ival: 0,
                    fval: 0.0,
                },
            },
        );
    }

    /// Answers a registration the way hftbacktest's connector does: BatchStart, the book as
    /// DEPTH_SNAPSHOT events, BatchEnd.
    pub fn answer_registration(
        &self,
        id: u64,
        symbol: &str,
        bids: &[(f64, f64)],
        asks: &[(f64, f64)],
    ) {
        self.send(id, LiveEvent::BatchStart);
        for (side, levels) in [(BUY_EVENT, bids), (SELL_EVENT, asks)] {
            for (px, qty) in levels {
                let event = Event {
                    ev: EXCH_EVENT | LOCAL_EVENT | side | DEPTH_SNAPSHOT_EVENT,
                    exch_ts: 1,
                    local_ts: 0,
                    px: *px,
                    qty: *qty,
                    order_id: 0,
                    ival: 0,
                    fval: 0.0,
                };
                let symbol = symbol.into();
                self.send(id, LiveEvent::Feed { symbol, event });
            }
        }
        self.send(id, LiveEvent::BatchEnd);
    }
}

pub fn registered(r: &R, asset: u16) -> bool {
    r.kind() == K_INSTRUMENT && r.v().aux() == INST_REGISTERED && r.v().asset() == asset
}

pub const T: Duration = Duration::from_secs(10);
