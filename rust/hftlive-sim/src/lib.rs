//! hftlive-sim: a paper exchange that speaks hftbacktest's live IPC protocol.
//!
//! It publishes on `{name}/ToBot` and subscribes to `{name}/FromBot` through hftbacktest's own
//! [`IceoryxBuilder`](hftbacktest::live::ipc::iceoryx::IceoryxBuilder) with `bot(false)`, exactly
//! as hftbacktest's `connector` binary does, and answers the same way:
//!
//! * `RegisterInstrument` from bot X: `BatchStart`, the symbol's active orders, its position (if
//!   any), the book as `DEPTH_SNAPSHOT` feed events (only if the symbol already streams), then
//!   `BatchEnd`, all addressed to X. The first registration of a symbol starts its market data,
//!   beginning with the whole book as plain depth events (like the connector's REST snapshot).
//! * Market data goes to `TO_ALL`, through hftbacktest's own `FusedHashMapMarketDepth` like the
//!   connector's: depth messages as `LOCAL_BID_DEPTH_EVENT`/`LOCAL_ASK_DEPTH_EVENT` wrapped in
//!   `BatchStart`/`BatchEnd` (to `TO_ALL`), trades as `LOCAL_BUY_TRADE_EVENT`/
//!   `LOCAL_SELL_TRADE_EVENT` (side of the aggressor).
//! * Orders: acks, fills, cancels, expiries as `LiveEvent::Order` to `TO_ALL`; a position after
//!   every fill; rejections as `Expired` followed by an `OrderError` with `{code, msg}`.
//!
//! See [`SimConfig`] for the switches that reproduce each quirk of the real stack.

mod engine;
pub mod iox;
mod market;
mod replay;

pub use replay::{ReplayConfig, ReplayFiles};

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        mpsc, Arc, Mutex,
    },
    thread::JoinHandle,
    time::Duration,
};

use serde::Deserialize;

/// A book: `(bids best first, asks best first)`, each level `(price, qty)`.
pub type Book = (Vec<(f64, f64)>, Vec<(f64, f64)>);

fn default_rate() -> f64 {
    1000.0
}
fn default_levels() -> usize {
    20
}
fn default_trade_ratio() -> f64 {
    0.5
}
fn default_true() -> bool {
    true
}
fn default_max_level_lots() -> u64 {
    50
}
fn default_poll_us() -> u64 {
    50
}
fn default_burst() -> u32 {
    1
}

/// Configuration of a sim connector (JSON through serde; every field but `name` and
/// `instruments` is optional).
#[derive(Deserialize, Clone, Debug)]
pub struct SimConfig {
    /// Connector name: the IPC services are `{name}/ToBot` and `{name}/FromBot`.
    pub name: String,
    /// Seed of the market model (default 0). The market data of an instrument is a pure function
    /// of the seed, the instrument's index and the orders that trade against the book.
    #[serde(default)]
    pub seed: u64,
    pub instruments: Vec<SimInstrument>,
    /// Market events per second, in total over all streaming instruments (round robin).
    /// Default 1000. `0` publishes only the initial book.
    #[serde(default = "default_rate")]
    pub rate: f64,
    /// Book levels per side, default 20.
    #[serde(default = "default_levels")]
    pub levels: usize,
    /// When the touch moves, publish the depth message improving side first so that
    /// hftbacktest's fused depth emits the deletions of the crossed levels itself, WITHOUT
    /// `LOCAL_EVENT` (DESIGN point 2, what the real connector does). Default false: the crossed
    /// levels are deleted explicitly with `LOCAL_EVENT` before the new levels are added.
    #[serde(default)]
    pub fuse_deletions: bool,
    /// Share of market events that are trades at the touch, default 0.5.
    #[serde(default = "default_trade_ratio")]
    pub trade_ratio: f64,
    /// Wrap every depth message in `BatchStart`/`BatchEnd` sent to `TO_ALL`, like the
    /// binancefutures connector does for each depth update. Default true.
    #[serde(default = "default_true")]
    pub depth_batches: bool,
    /// Maximum quantity of a book level, in lots (default 50).
    #[serde(default = "default_max_level_lots")]
    pub max_level_lots: u64,
    /// Longest idle sleep of the sim thread between polls, in microseconds (default 50).
    /// `0` spins (yielding) for the lowest response latency at the cost of a core.
    #[serde(default = "default_poll_us")]
    pub poll_us: u64,
    /// A cancel of an order the sim already finished (filled, canceled, expired) is answered
    /// like the real connector answers a cancel that loses the race against the fill: the order
    /// with status `None` followed by an `OrderError {code: -2011, msg: "Unknown order sent."}`.
    /// When false, such a cancel is ignored (what the connector does once it has forgotten the
    /// order). A cancel of an order id the sim never saw is always ignored, like the connector.
    /// Default true.
    #[serde(default = "default_true")]
    pub cancel_race: bool,
    /// When > 0, market data stops this many milliseconds after it started (as if the
    /// exchange stream dropped and was never re-subscribed, DESIGN point 4) while the sim stays
    /// alive; `PauseMarket(false)` restarts it. Default 0 (never).
    #[serde(default)]
    pub stale_after_ms: u64,
    /// Report the executions of an aggressive order in ONE order update, the way the real
    /// binancefutures connector forwards a REST answer that arrives before the websocket
    /// execution reports: `exec_qty` is the cumulative filled quantity and the price is not
    /// given (`exec_price_tick` stays 0). Default false: one update per execution.
    #[serde(default)]
    pub rest_fills: bool,
    /// When market events arrive: `"periodic"` (default; every `1 / rate` seconds) or
    /// `"poisson"` (independent exponential gaps of mean `1 / rate`, like trades of a real
    /// symbol; seeded by `seed`).
    #[serde(default)]
    pub arrivals: Arrivals,
    /// Market events per arrival (default 1): with `burst` n the sim publishes n market events
    /// back to back at each arrival, arrivals coming at `rate / n`, so the mean rate stays `rate`
    /// (a burst of trades sweeping the book, a flurry of depth messages).
    #[serde(default = "default_burst")]
    pub burst: u32,
    /// Replay recorded `.npz` files (hftlive's recorder, or hftbacktest data) instead of the
    /// random walk, for the instruments it names; orders are still matched by the sim.
    #[serde(default)]
    pub replay: Option<ReplayConfig>,
}

/// When market events arrive ([`SimConfig::arrivals`]).
#[derive(Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Arrivals {
    /// Every `1 / rate` seconds (the default).
    #[default]
    Periodic,
    /// Exponential gaps of mean `1 / rate` seconds (a Poisson process), seeded by `seed`.
    Poisson,
}

impl std::str::FromStr for Arrivals {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "periodic" => Ok(Self::Periodic),
            "poisson" => Ok(Self::Poisson),
            _ => Err(format!("arrivals {s:?} is not \"periodic\" or \"poisson\"")),
        }
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            seed: 0,
            instruments: Vec::new(),
            rate: default_rate(),
            levels: default_levels(),
            fuse_deletions: false,
            trade_ratio: default_trade_ratio(),
            depth_batches: true,
            max_level_lots: default_max_level_lots(),
            poll_us: default_poll_us(),
            cancel_race: true,
            stale_after_ms: 0,
            rest_fills: false,
            arrivals: Arrivals::Periodic,
            burst: default_burst(),
            replay: None,
        }
    }
}

impl SimConfig {
    /// A configuration with defaults for everything but the name and instruments.
    pub fn new(name: &str, instruments: Vec<SimInstrument>) -> Self {
        Self {
            name: name.to_string(),
            instruments,
            ..Self::default()
        }
    }

    /// Parses a JSON configuration.
    pub fn from_json(json: &str) -> Result<Self, String> {
        serde_json::from_str(json).map_err(|e| format!("invalid sim configuration: {e}"))
    }

    /// Checks the configuration, returning a readable message for the first problem.
    pub fn validate(&self) -> Result<(), String> {
        if self.name.is_empty() {
            return Err("sim config: `name` must not be empty".into());
        }
        if self.name.len() > 200 || self.name.contains(char::is_whitespace) {
            return Err(format!(
                "sim config: invalid name {:?} (no whitespace, at most 200 bytes)",
                self.name
            ));
        }
        if self.instruments.is_empty() {
            return Err("sim config: `instruments` must not be empty".into());
        }
        if !self.rate.is_finite() || self.rate < 0.0 {
            return Err(format!(
                "sim config: `rate` must be >= 0, got {}",
                self.rate
            ));
        }
        if self.levels == 0 || self.levels > 10_000 {
            return Err(format!(
                "sim config: `levels` must be in 1..=10000, got {}",
                self.levels
            ));
        }
        if !(0.0..=1.0).contains(&self.trade_ratio) {
            return Err(format!(
                "sim config: `trade_ratio` must be in [0, 1], got {}",
                self.trade_ratio
            ));
        }
        if self.burst == 0 || self.burst > 4096 {
            return Err(format!(
                "sim config: `burst` must be in 1..=4096, got {}",
                self.burst
            ));
        }
        if self.max_level_lots == 0 || self.max_level_lots > 1 << 40 {
            return Err("sim config: `max_level_lots` must be in 1..=2^40".into());
        }
        if let Some(r) = &self.replay {
            let symbols: Vec<&str> = self.instruments.iter().map(|i| i.symbol.as_str()).collect();
            r.validate(&symbols)?;
        }
        let mut seen = std::collections::HashSet::new();
        for i in &self.instruments {
            if i.symbol.is_empty() {
                return Err("sim config: an instrument has an empty `symbol`".into());
            }
            if !seen.insert(i.symbol.as_str()) {
                return Err(format!("sim config: duplicate symbol {:?}", i.symbol));
            }
            for (what, v) in [
                ("tick_size", i.tick_size),
                ("lot_size", i.lot_size),
                ("start_price", i.start_price),
            ] {
                if !v.is_finite() || v <= 0.0 {
                    return Err(format!(
                        "sim config: {}: `{what}` must be a positive number, got {v}",
                        i.symbol
                    ));
                }
            }
            let start_tick = (i.start_price / i.tick_size).round();
            if start_tick * 0.8 < (self.levels as f64) * 2.0 + 2.0 || start_tick > 1e15 {
                return Err(format!(
                    "sim config: {}: start_price / tick_size = {start_tick} ticks is out of range \
                     (needs at least {} ticks for {} levels within the ±20% band)",
                    i.symbol,
                    ((self.levels as f64) * 2.0 + 2.0) / 0.8,
                    self.levels
                ));
            }
        }
        Ok(())
    }
}

/// One instrument of the sim.
#[derive(Deserialize, Clone, Debug)]
pub struct SimInstrument {
    pub symbol: String,
    pub tick_size: f64,
    pub lot_size: f64,
    pub start_price: f64,
}

/// Faults the sim can inject (see ABI.md, "Sim faults").
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fault {
    /// Stop (true) / resume (false) publishing market data; the market model freezes meanwhile.
    /// The sim still answers orders and registrations.
    PauseMarket(bool),
    /// Every new order becomes `Expired` followed by `OrderError {code, msg}`; 0 turns it off.
    RejectOrders(i64),
    /// Delay the processing of (and so the responses to) order requests by this many ms.
    DelayMs(u64),
    /// Drop all ports and end the sim thread as if the process had exited.
    Exit,
    /// Publish a `LiveEvent::Error` of this kind (0 ConnectionInterrupted,
    /// 1 CriticalConnectionError, 2 OrderError, 3 Custom) with a string value.
    Error(u32),
}

/// Counters of a sim.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Market model events published (the unit of `rate`).
    pub market_events: u64,
    /// Order requests received (submits and cancels).
    pub orders_received: u64,
    /// Orders acknowledged (`New`).
    pub acks: u64,
    /// Fills (each `PartiallyFilled`/`Filled` update).
    pub fills: u64,
    /// Orders canceled on request.
    pub cancels: u64,
    /// Orders rejected (`Expired` + `OrderError`), including GTX and FOK rejections.
    pub rejects: u64,
    /// `RegisterInstrument` requests answered.
    pub registrations: u64,
    /// Registration batches (`BatchStart` .. `BatchEnd` to one bot) sent.
    pub batches_sent: u64,
    /// Every IPC message published.
    pub messages_sent: u64,
    /// Orders expired without an error event (IOC/market remainder, duplicate order id).
    pub expired: u64,
    /// IPC send or receive errors.
    pub ipc_errors: u64,
    /// 1 while the sim thread runs.
    pub running: u64,
    /// Orders resting in the sim's books now (all instruments).
    pub resting: u64,
    /// Instruments whose replay still has events to publish (0 once every replay ended).
    pub replaying: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub market_events: AtomicU64,
    pub orders_received: AtomicU64,
    pub acks: AtomicU64,
    pub fills: AtomicU64,
    pub cancels: AtomicU64,
    pub rejects: AtomicU64,
    pub registrations: AtomicU64,
    pub batches_sent: AtomicU64,
    pub messages_sent: AtomicU64,
    pub expired: AtomicU64,
    pub ipc_errors: AtomicU64,
    pub resting: AtomicU64,
    pub replaying: AtomicU64,
}

pub(crate) struct Shared {
    pub counters: Counters,
    pub running: AtomicBool,
    /// The books as the sim thread left them when it ended.
    pub final_books: Mutex<HashMap<String, Book>>,
}

pub(crate) enum Command {
    Fault(Fault),
    Book(String, mpsc::SyncSender<Option<Book>>),
    Stop,
}

/// A running sim connector. `Send + Sync`; dropping it stops the sim.
pub struct Sim {
    name: String,
    symbols: Vec<String>,
    cmd: Mutex<mpsc::Sender<Command>>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Sim {
    /// Starts the sim thread and returns once its IPC ports exist, so a client started after
    /// this returns can talk to it.
    pub fn start(config: SimConfig) -> Result<Sim, String> {
        config.validate()?;
        iox::prepare_dirs();
        let shared = Arc::new(Shared {
            counters: Counters::default(),
            running: AtomicBool::new(false),
            final_books: Mutex::new(HashMap::new()),
        });
        let (cmd_tx, cmd_rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let name = config.name.clone();
        let symbols = config
            .instruments
            .iter()
            .map(|i| i.symbol.clone())
            .collect();
        let shared_ = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("hftlive-sim {name}"))
            .spawn(move || engine::run(config, shared_, cmd_rx, ready_tx))
            .map_err(|e| format!("cannot spawn the sim thread: {e}"))?;
        match ready_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(())) => Ok(Sim {
                name,
                symbols,
                cmd: Mutex::new(cmd_tx),
                shared,
                thread: Some(thread),
            }),
            Ok(Err(msg)) => {
                let _ = thread.join();
                Err(msg)
            }
            Err(_) => {
                let _ = cmd_tx.send(Command::Stop);
                Err(format!(
                    "sim {name}: the sim thread did not create its IPC ports in time"
                ))
            }
        }
    }

    /// The connector name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The symbol of instrument `index` (its place in the configuration).
    pub fn symbol(&self, index: usize) -> Option<&str> {
        self.symbols.get(index).map(String::as_str)
    }

    /// Injects a fault (no effect once the sim thread has ended).
    pub fn fault(&self, fault: Fault) {
        if let Ok(tx) = self.cmd.lock() {
            let _ = tx.send(Command::Fault(fault));
        }
    }

    /// Whether the sim thread still runs (false after `Fault::Exit` or `stop`).
    pub fn is_running(&self) -> bool {
        self.shared.running.load(Ordering::Acquire)
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> SimStats {
        let c = &self.shared.counters;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        SimStats {
            market_events: l(&c.market_events),
            orders_received: l(&c.orders_received),
            acks: l(&c.acks),
            fills: l(&c.fills),
            cancels: l(&c.cancels),
            rejects: l(&c.rejects),
            registrations: l(&c.registrations),
            batches_sent: l(&c.batches_sent),
            messages_sent: l(&c.messages_sent),
            expired: l(&c.expired),
            ipc_errors: l(&c.ipc_errors),
            running: self.shared.running.load(Ordering::Acquire) as u64,
            resting: l(&c.resting),
            replaying: l(&c.replaying),
        }
    }

    /// The sim's true book of `symbol` (bids best first, asks best first), consistent with every
    /// market event published so far (it is taken by the sim thread between two events).
    /// `None` for an unknown symbol.
    pub fn book(&self, symbol: &str) -> Option<Book> {
        if self.is_running() {
            let (tx, rx) = mpsc::sync_channel(1);
            let sent = self
                .cmd
                .lock()
                .map(|c| c.send(Command::Book(symbol.to_string(), tx)).is_ok())
                .unwrap_or(false);
            if sent {
                if let Ok(book) = rx.recv_timeout(Duration::from_secs(10)) {
                    return book;
                }
            }
        }
        self.shared
            .final_books
            .lock()
            .ok()
            .and_then(|b| b.get(symbol).cloned())
    }

    /// Stops the sim (drops its ports) and joins its thread. Idempotent; `Drop` does the same.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(thread) = self.thread.take() {
            if let Ok(tx) = self.cmd.lock() {
                let _ = tx.send(Command::Stop);
            }
            let _ = thread.join();
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.shutdown();
    }
}
