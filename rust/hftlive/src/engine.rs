//! The engine: one thread per client that owns the IPC ports to every connector the client
//! uses, keeps the authoritative books, positions and orders, and turns every `LiveEvent` into
//! records for JavaScript.
//!
//! It drives hftbacktest's public IPC (`IceoryxChannel`) directly rather than through `LiveBot`
//! so that (DESIGN.md, "What hftbacktest's live stack really does"):
//! 1. `RegisterInstrument` is re-sent until the connector answers, and again after a restart;
//! 2. depth deletions without `LOCAL_EVENT` are applied, so the book matches level for level;
//! 3. `DEPTH_SNAPSHOT` events build the book of a symbol the connector already streams;
//! 5. a REST rejection (`Expired` + `OrderError`) is reported as a rejection with its code.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{
        atomic::{AtomicU32, AtomicU64, Ordering},
        mpsc::{Receiver, SyncSender},
        Arc, Mutex,
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use hftbacktest::{
    live::ipc::{iceoryx::IceoryxChannel, TO_ALL},
    prelude::{
        ErrorKind, Event, LiveError, LiveEvent, LiveRequest, OrdType, Order, Side, Status,
        TimeInForce, Value,
    },
};
use iceoryx2::prelude::{ipc, NodeBuilder, SignalHandlingMode};

use crate::{
    book::{tick_price, Bbo, Book},
    config::{ClientConfig, EngineWait},
    iox::{self, Liveness, Peer},
    record::*,
    ring::{RingConsumer, RingProducer, Signal},
};

/// Event-type bits of hftbacktest's `ev` field (the low byte).
const EV_KIND_MASK: u64 = 0xFF;
const DEPTH_EVENT: u64 = 1;
const TRADE_EVENT: u64 = 2;
const DEPTH_CLEAR_EVENT: u64 = 3;
const DEPTH_SNAPSHOT_EVENT: u64 = 4;
const DEPTH_BBO_EVENT: u64 = 5;
const BUY_EVENT: u64 = 1 << 29;
const SELL_EVENT: u64 = 1 << 28;

/// Nanoseconds since the Unix epoch (the clock hftbacktest stamps `local_timestamp` with).
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Counters readable through `hl_client_stats`.
#[derive(Default)]
pub struct Stats {
    pub pushed: AtomicU64,
    pub dropped: AtomicU64,
    pub foreign_orders: AtomicU64,
    pub ipc_errors: AtomicU64,
    pub registrations: AtomicU64,
    pub loops: AtomicU64,
}

/// Per-instrument state shared between the engine and callers.
pub struct AssetState {
    pub tick_size: f64,
    pub lot_size: f64,
    pub book: Book,
    pub position: f64,
    pub position_ts: i64,
    /// Orders this client submitted that are not in a terminal state.
    pub orders: HashMap<u64, Order>,
    /// Ids of this client's orders that reached a terminal state (the newest
    /// [`DONE_IDS_KEPT`]; an older id may be used again).
    pub done: DoneIds,
}

/// How many finished order ids each asset remembers for the duplicate-id check.
pub const DONE_IDS_KEPT: usize = 100_000;

/// A bounded set of finished order ids: the oldest is forgotten beyond [`DONE_IDS_KEPT`].
#[derive(Default)]
pub struct DoneIds {
    set: HashSet<u64>,
    fifo: VecDeque<u64>,
}

impl DoneIds {
    pub fn contains(&self, id: &u64) -> bool {
        self.set.contains(id)
    }

    pub fn insert(&mut self, id: u64) {
        if self.set.insert(id) {
            self.fifo.push_back(id);
            if self.fifo.len() > DONE_IDS_KEPT {
                if let Some(old) = self.fifo.pop_front() {
                    self.set.remove(&old);
                }
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.fifo.len()
    }
}

pub struct State {
    pub assets: Vec<AssetState>,
}

/// A request for the engine thread to send.
pub struct Cmd {
    pub asset: usize,
    pub order: Order,
}

/// Everything a client handle shares with its engine thread.
pub struct Shared {
    pub signal: Signal,
    pub consumer: Mutex<RingConsumer>,
    pub cmd_tx: SyncSender<Cmd>,
    pub state: Mutex<State>,
    pub messages: Mutex<VecDeque<String>>,
    pub last_error: Mutex<String>,
    pub stats: Stats,
    pub config: ClientConfig,
    pub bot_id: u64,
    pub ring_capacity: usize,
    /// Why the engine thread stopped, when it stopped by itself (a panic).
    pub failure: Mutex<Option<String>>,
    /// Fault injection for tests (`hl_client_fault`): 1 makes the engine thread panic.
    pub fault: AtomicU32,
    /// The doorbell listener between `hl_client_bell_listen` and `hl_client_bell_accept`.
    pub bell_listener: Mutex<Option<(std::os::unix::net::UnixListener, std::path::PathBuf)>>,
}

/// Why a submit or cancel was refused before anything was sent.
#[derive(Debug)]
pub enum OrderRefusal {
    Argument(String),
    NotFound(String),
    Duplicate(String),
    State(String),
    Full(String),
    Closed,
}

impl Shared {
    /// Records why the engine stopped by itself and fails the ring: waits return
    /// `HL_E_ENGINE` once the records pushed before are drained; submits and cancels are refused.
    pub fn fail(&self, why: String) {
        let mut f = self.failure.lock().unwrap_or_else(|e| e.into_inner());
        if f.is_none() {
            *f = Some(why);
        }
        drop(f);
        self.signal.fail();
    }

    /// Validates and queues a new order (hftbacktest's rules: `price_tick = round(price/tick)`).
    #[allow(clippy::too_many_arguments)]
    pub fn submit(
        &self,
        asset: u32,
        order_id: f64,
        side: i32,
        price: f64,
        qty: f64,
        tif: u32,
        ord_type: u32,
    ) -> Result<(), OrderRefusal> {
        use OrderRefusal::*;
        if self.signal.is_closed() {
            return Err(Closed);
        }
        let what = format!("Cannot submit order {order_id}");
        if !(order_id.is_finite()
            && (1.0..=9007199254740991.0).contains(&order_id)
            && order_id.fract() == 0.0)
        {
            return Err(Argument(format!(
                "{what}: order id is not an integer in [1, 2^53-1]"
            )));
        }
        let id = order_id as u64;
        let side = match side {
            1 => Side::Buy,
            -1 => Side::Sell,
            s => {
                return Err(Argument(format!(
                    "{what}: side {s} is not 1 (buy) or -1 (sell)"
                )))
            }
        };
        let tif = match tif {
            0 => TimeInForce::GTC,
            1 => TimeInForce::GTX,
            2 => TimeInForce::FOK,
            3 => TimeInForce::IOC,
            t => return Err(Argument(format!("{what}: time in force {t} is not 0..=3"))),
        };
        let ord_type = match ord_type {
            0 => OrdType::Limit,
            1 => OrdType::Market,
            t => {
                return Err(Argument(format!(
                    "{what}: order type {t} is not 0 (limit) or 1 (market)"
                )))
            }
        };
        if ord_type == OrdType::Market && tif == TimeInForce::GTX {
            return Err(Argument(format!(
                "{what}: a market order cannot be post-only (GTX)"
            )));
        }
        if !(price.is_finite() && price > 0.0) {
            return Err(Argument(format!(
                "{what}: price {price} is not a positive finite number"
            )));
        }
        if !(qty.is_finite() && qty > 0.0) {
            return Err(Argument(format!(
                "{what}: qty {qty} is not a positive finite number"
            )));
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let n_assets = state.assets.len();
        let Some(a) = state.assets.get_mut(asset as usize) else {
            return Err(NotFound(format!(
                "{what}: asset {asset} is not configured (0..{n_assets})"
            )));
        };
        let price_tick = (price / a.tick_size).round();
        if price_tick < 1.0 {
            return Err(Argument(format!(
                "{what}: price {price} rounds to 0 ticks of {}",
                a.tick_size
            )));
        }
        let lots = qty / a.lot_size;
        if (lots - lots.round()).abs() > 1e-9 * lots.max(1.0) || lots.round() < 1.0 {
            return Err(Argument(format!(
                "{what}: qty {qty} is not a positive multiple of the lot size {}",
                a.lot_size
            )));
        }
        if a.orders.contains_key(&id) || a.done.contains(&id) {
            return Err(Duplicate(format!(
                "{what}: order id {id} was already used on asset {asset}"
            )));
        }
        let order = Order {
            order_id: id,
            price_tick: price_tick as i64,
            qty,
            leaves_qty: qty,
            tick_size: a.tick_size,
            side,
            time_in_force: tif,
            order_type: ord_type,
            status: Status::New,
            local_timestamp: now_ns(),
            req: Status::New,
            exec_price_tick: 0,
            exch_timestamp: 0,
            exec_qty: 0.0,
            q: Box::new(()),
            maker: false,
        };
        match self.cmd_tx.try_send(Cmd {
            asset: asset as usize,
            order: order.clone(),
        }) {
            Ok(()) => {
                a.orders.insert(id, order);
                Ok(())
            }
            Err(std::sync::mpsc::TrySendError::Full(_)) => {
                Err(Full(format!("{what}: the command queue is full")))
            }
            Err(std::sync::mpsc::TrySendError::Disconnected(_)) => Err(Closed),
        }
    }

    /// Queues a cancel (hftbacktest's rule: only `New`/`PartiallyFilled` orders with no request
    /// in flight can be cancelled).
    pub fn cancel(&self, asset: u32, order_id: f64) -> Result<(), OrderRefusal> {
        use OrderRefusal::*;
        if self.signal.is_closed() {
            return Err(Closed);
        }
        let what = format!("Cannot cancel order {order_id}");
        if !(order_id.is_finite() && order_id >= 1.0 && order_id.fract() == 0.0) {
            return Err(Argument(format!(
                "{what}: order id is not a positive integer"
            )));
        }
        let id = order_id as u64;
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let Some(a) = state.assets.get_mut(asset as usize) else {
            return Err(NotFound(format!("{what}: asset {asset} is not configured")));
        };
        if a.done.contains(&id) {
            return Err(State(format!(
                "{what}: the order is already in a terminal state"
            )));
        }
        let Some(order) = a.orders.get_mut(&id) else {
            return Err(NotFound(format!("{what}: no such order on asset {asset}")));
        };
        if !order.cancellable() {
            return Err(State(format!(
                "{what}: status {:?} with request {:?} in flight cannot be cancelled",
                order.status, order.req
            )));
        }
        let mut req = order.clone();
        req.req = Status::Canceled;
        req.local_timestamp = now_ns();
        match self.cmd_tx.try_send(Cmd {
            asset: asset as usize,
            order: req,
        }) {
            Ok(()) => {
                order.req = Status::Canceled;
                Ok(())
            }
            Err(std::sync::mpsc::TrySendError::Full(_)) => {
                Err(Full(format!("{what}: the command queue is full")))
            }
            Err(std::sync::mpsc::TrySendError::Disconnected(_)) => Err(Closed),
        }
    }
}

/// An ORDER record for `order`, with `status` overriding the order's own.
pub fn order_record(asset: usize, order: &Order, status: u8) -> Rec {
    let aux = status as u32
        | (order.req as u8 as u32) << 8
        | (order.time_in_force as u8 as u32) << 16
        | ((order.order_type as u8 as u32) | if order.maker { 0x80 } else { 0 }) << 24;
    RecBuilder::new(K_ORDER, order.side as i8, asset as u16, aux)
        .u(1, order.order_id)
        .f(2, tick_price(order.price_tick, order.tick_size))
        .f(3, order.qty)
        .f(4, order.leaves_qty)
        .f(5, order.exec_qty)
        .f(6, tick_price(order.exec_price_tick, order.tick_size))
        .i(7, order.exch_timestamp)
        .build()
}

fn is_terminal(s: Status) -> bool {
    matches!(
        s,
        Status::Filled | Status::Canceled | Status::Expired | Status::Rejected
    )
}

struct Conn {
    name: String,
    ch: IceoryxChannel<LiveRequest, LiveEvent>,
    symbols: HashMap<String, usize>,
    assets: Vec<usize>,
    liveness: Liveness,
    peer: Option<Peer>,
    /// Assets whose batch (registration answer) is in progress.
    batch: Option<Vec<usize>>,
    /// Registrations sent since the connector was last seen coming up, oldest first.
    pending: VecDeque<usize>,
    /// Last order of ours that expired before being acknowledged: the next `OrderError` is its.
    pending_reject: Option<(usize, u64)>,
    /// Inside a `BatchStart`..`BatchEnd` sent to all bots (an atomic group of market data).
    market_batch: bool,
}

struct AssetReg {
    conn: usize,
    registered: bool,
    last_sent: Option<Instant>,
    bbo: Bbo,
    /// A best bid/offer change held until the end of the current batch (exch_ts, local_ts).
    bbo_pending: Option<(i64, i64)>,
}

/// The engine: owns the IPC ports (not `Send`), so it lives on one thread.
pub struct Engine {
    shared: Arc<Shared>,
    conns: Vec<Conn>,
    regs: Vec<AssetReg>,
    out: RingProducer,
    cmd_rx: Receiver<Cmd>,
    wait_node: Option<iceoryx2::node::Node<ipc::Service>>,
    liveness_every: Duration,
    register_every: Duration,
    spin_for: Duration,
    sleep_for: Duration,
    last_liveness: Option<Instant>,
    last_activity: Instant,
    loops: u64,
}

/// Builds the ports on the calling (engine) thread and runs until the client closes.
pub fn run(
    shared: Arc<Shared>,
    cmd_rx: Receiver<Cmd>,
    out: RingProducer,
    ready: SyncSender<Result<(), String>>,
) {
    let mut engine = match Engine::build(shared, cmd_rx, out) {
        Ok(e) => {
            let _ = ready.send(Ok(()));
            e
        }
        Err(msg) => {
            let _ = ready.send(Err(msg));
            return;
        }
    };
    drop(ready);
    engine.run();
}

impl Engine {
    pub fn build(
        shared: Arc<Shared>,
        cmd_rx: Receiver<Cmd>,
        out: RingProducer,
    ) -> Result<Self, String> {
        iox::prepare_dirs();
        iox::cleanup_dead_nodes();
        let mut conns: Vec<Conn> = Vec::new();
        for (i, inst) in shared.config.instruments.iter().enumerate() {
            let c = match conns.iter().position(|c| c.name == inst.connector) {
                Some(c) => c,
                None => {
                    let ch = IceoryxChannel::new(&inst.connector).map_err(|e| {
                        format!(
                            "cannot open the IPC channel of connector \"{}\": {e}",
                            inst.connector
                        )
                    })?;
                    conns.push(Conn {
                        name: inst.connector.clone(),
                        ch,
                        symbols: HashMap::new(),
                        assets: Vec::new(),
                        liveness: Liveness::new(&inst.connector)?,
                        peer: None,
                        batch: None,
                        pending: VecDeque::new(),
                        pending_reject: None,
                        market_batch: false,
                    });
                    conns.len() - 1
                }
            };
            conns[c].symbols.insert(inst.symbol.clone(), i);
            conns[c].assets.push(i);
        }
        let wait_node = if shared.config.engine_wait == EngineWait::NodeWait {
            Some(
                NodeBuilder::new()
                    .signal_handling_mode(SignalHandlingMode::Disabled)
                    .create::<ipc::Service>()
                    .map_err(|e| format!("cannot create iceoryx2 node: {e:?}"))?,
            )
        } else {
            None
        };
        let regs = shared
            .config
            .instruments
            .iter()
            .map(|inst| AssetReg {
                conn: conns
                    .iter()
                    .position(|c| c.name == inst.connector)
                    .unwrap_or(0),
                bbo_pending: None,
                registered: false,
                last_sent: None,
                bbo: Bbo {
                    bid_tick: i64::MIN,
                    bid_qty: 0.0,
                    ask_tick: i64::MAX,
                    ask_qty: 0.0,
                },
            })
            .collect();
        let cfg = &shared.config;
        let liveness_every = Duration::from_millis(cfg.liveness_interval_ms.max(1));
        let register_every = Duration::from_millis(cfg.register_interval_ms.max(1));
        let spin_for = Duration::from_micros(cfg.engine_spin_us);
        let sleep_for = Duration::from_nanos(cfg.engine_sleep_ns.max(1));
        Ok(Self {
            liveness_every,
            register_every,
            spin_for,
            sleep_for,
            last_liveness: None,
            last_activity: Instant::now(),
            loops: 0,
            shared,
            conns,
            regs,
            out,
            cmd_rx,
            wait_node,
        })
    }

    fn run(&mut self) {
        while !self.shared.signal.is_closed() {
            if !self.step() {
                self.idle();
            }
        }
        self.out.flush(&self.shared.signal);
    }

    /// Carries out a fault injected by `hl_client_fault` (tests).
    fn inject_fault(&mut self) {
        if self.shared.fault.swap(0, Ordering::Relaxed) == 1 {
            panic!("fault injected by hl_client_fault");
        }
        // A record of a kind no reader of ABI v1 knows (what a newer core could send).
        self.out
            .stage(RecBuilder::new(K_UNKNOWN_TEST, 0, NO_ASSET, 0).build());
        self.out.flush(&self.shared.signal);
    }

    /// One pass: commands, every connector's events, liveness, registrations, flush.
    /// Returns whether anything happened.
    pub fn step(&mut self) -> bool {
        self.loops += 1;
        // A plain load on every step; the read-modify-write only when a fault was injected.
        if self.shared.fault.load(Ordering::Relaxed) != 0 {
            self.inject_fault();
        }
        let mut busy = false;
        busy |= self.send_commands();
        // Events from every connector (bounded per pass so commands stay responsive).
        for c in 0..self.conns.len() {
            for _ in 0..512 {
                match self.conns[c].ch.receive() {
                    Ok(Some((dst, ev))) => {
                        busy = true;
                        if dst == self.shared.bot_id {
                            self.on_event(c, ev, true);
                        } else if dst == TO_ALL {
                            self.on_event(c, ev, false);
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        self.shared.stats.ipc_errors.fetch_add(1, Ordering::Relaxed);
                        self.engine_error(format!(
                            "cannot receive from connector \"{}\": {e}",
                            self.conns[c].name
                        ));
                        break;
                    }
                }
            }
        }
        let now = Instant::now();
        if self
            .last_liveness
            .is_none_or(|t| now - t >= self.liveness_every)
        {
            self.last_liveness = Some(now);
            self.check_liveness();
            self.shared.stats.loops.store(self.loops, Ordering::Relaxed);
        }
        self.register(now, self.register_every);
        self.out.flush(&self.shared.signal);
        self.shared
            .stats
            .pushed
            .store(self.out.pushed_total, Ordering::Relaxed);
        self.shared
            .stats
            .dropped
            .store(self.out.dropped_total, Ordering::Relaxed);
        if busy {
            self.last_activity = now;
        }
        busy
    }

    /// Sends every queued command; returns whether there was any.
    pub fn send_commands(&mut self) -> bool {
        let mut any = false;
        while let Ok(cmd) = self.cmd_rx.try_recv() {
            any = true;
            self.send_order(cmd);
        }
        if any {
            self.out.flush(&self.shared.signal);
        }
        any
    }

    /// What to do after a pass that found nothing (`engine_wait`).
    pub fn idle(&mut self) {
        match self.shared.config.engine_wait {
            EngineWait::Spin => std::hint::spin_loop(),
            EngineWait::Yield => std::thread::yield_now(),
            EngineWait::Sleep => std::thread::sleep(self.sleep_for),
            EngineWait::NodeWait => {
                if let Some(n) = &self.wait_node {
                    let _ = n.wait(Duration::from_nanos(1));
                }
            }
            EngineWait::Adaptive => {
                if self.last_activity.elapsed() < self.spin_for {
                    std::thread::yield_now();
                } else {
                    std::thread::sleep(self.sleep_for);
                }
            }
        }
    }

    fn stage(&mut self, rec: Rec) {
        self.out.stage(rec);
    }

    fn engine_error(&mut self, msg: String) {
        self.error_record(ERR_ENGINE, 0, 0, NO_ASSET, msg);
    }

    fn error_record(&mut self, kind: u32, code: i64, order_id: u64, asset: u16, msg: String) {
        let len = msg.len() as u64;
        self.shared
            .messages
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(msg);
        self.stage(
            RecBuilder::new(K_ERROR, 0, asset, kind)
                .i(1, code)
                .u(2, order_id)
                .i(3, now_ns())
                .u(4, len)
                .build(),
        );
    }

    fn send_order(&mut self, cmd: Cmd) {
        let c = self.shared.config.instruments[cmd.asset].connector.clone();
        let Some(ci) = self.conns.iter().position(|x| x.name == c) else {
            return;
        };
        let symbol = self.shared.config.instruments[cmd.asset].symbol.clone();
        let id = cmd.order.order_id;
        let is_new = cmd.order.req == Status::New;
        if let Err(e) = self.conns[ci].ch.send(
            self.shared.bot_id,
            &LiveRequest::Order {
                symbol,
                order: cmd.order,
            },
        ) {
            self.shared.stats.ipc_errors.fetch_add(1, Ordering::Relaxed);
            // Nothing reached the connector: a new order is rejected, a cancel is withdrawn.
            let rec = {
                let mut st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
                let a = &mut st.assets[cmd.asset];
                if is_new {
                    a.orders.remove(&id).map(|mut o| {
                        o.status = Status::Rejected;
                        o.req = Status::None;
                        a.done.insert(id);
                        order_record(cmd.asset, &o, STATUS_REJECTED)
                    })
                } else {
                    a.orders.get_mut(&id).map(|o| {
                        o.req = Status::None;
                        order_record(cmd.asset, o, o.status as u8)
                    })
                }
            };
            if let Some(rec) = rec {
                self.stage(rec);
            }
            self.error_record(
                ERR_ENGINE,
                0,
                id,
                cmd.asset as u16,
                format!("Cannot send order {id} to connector \"{c}\": {e}"),
            );
        }
    }

    fn check_liveness(&mut self) {
        // Dead connector processes leave their publisher registered until cleaned up.
        iox::cleanup_dead_nodes();
        for c in 0..self.conns.len() {
            let peer = self.conns[c].liveness.peer();
            let prev = self.conns[c].peer;
            if prev == Some(peer) {
                continue;
            }
            self.conns[c].peer = Some(peer);
            let ts = now_ns();
            match peer {
                Peer::Up(_) => {
                    // A new (or restarted) connector: everything must be registered again.
                    let conn = &mut self.conns[c];
                    conn.pending.clear();
                    conn.batch = None;
                    conn.market_batch = false;
                    conn.pending_reject = None;
                    for &a in &conn.assets {
                        self.regs[a].registered = false;
                        self.regs[a].last_sent = None;
                    }
                    // A (re)started connector's book starts from nothing: a fresh connector
                    // answers the registration with an empty batch and streams the book later,
                    // so the previous connector's levels must not survive.
                    for k in 0..self.conns[c].assets.len() {
                        let a = self.conns[c].assets[k];
                        self.clear_book(a, ts);
                    }
                    self.stage(
                        RecBuilder::new(K_CONNECTOR, 0, NO_ASSET, 1)
                            .u(1, c as u64)
                            .i(2, ts)
                            .build(),
                    );
                }
                Peer::Down => {
                    if prev.is_some() {
                        for &a in &self.conns[c].assets {
                            self.regs[a].registered = false;
                            self.regs[a].last_sent = None;
                        }
                    }
                    self.stage(
                        RecBuilder::new(K_CONNECTOR, 0, NO_ASSET, 0)
                            .u(1, c as u64)
                            .i(2, ts)
                            .build(),
                    );
                }
            }
        }
    }

    fn register(&mut self, now: Instant, every: Duration) {
        for c in 0..self.conns.len() {
            if self.conns[c].peer != Some(Peer::Down) && self.conns[c].peer.is_some() {
                for k in 0..self.conns[c].assets.len() {
                    let a = self.conns[c].assets[k];
                    let r = &self.regs[a];
                    if r.registered || r.last_sent.is_some_and(|t| now - t < every) {
                        continue;
                    }
                    let inst = &self.shared.config.instruments[a];
                    let req = LiveRequest::RegisterInstrument {
                        symbol: inst.symbol.clone(),
                        tick_size: inst.tick_size,
                        lot_size: inst.lot_size,
                    };
                    let first = self.regs[a].last_sent.is_none();
                    self.regs[a].last_sent = Some(now);
                    match self.conns[c].ch.send(self.shared.bot_id, &req) {
                        Ok(()) => {
                            self.shared
                                .stats
                                .registrations
                                .fetch_add(1, Ordering::Relaxed);
                            self.conns[c].pending.push_back(a);
                            if first {
                                self.stage(
                                    RecBuilder::new(K_INSTRUMENT, 0, a as u16, INST_REGISTER_SENT)
                                        .i(2, now_ns())
                                        .build(),
                                );
                            }
                        }
                        Err(e) => {
                            self.shared.stats.ipc_errors.fetch_add(1, Ordering::Relaxed);
                            let msg = format!(
                                "cannot register {} on connector \"{}\": {e}",
                                inst.symbol, inst.connector
                            );
                            self.engine_error(msg);
                        }
                    }
                }
            }
        }
    }

    /// `to_me`: addressed to this bot (a registration answer) rather than to all bots.
    fn on_event(&mut self, c: usize, ev: LiveEvent, to_me: bool) {
        match ev {
            // Connectors also wrap market data in batches sent to all bots (binancefutures does
            // for every depth message): only a batch addressed to us answers a registration.
            LiveEvent::BatchStart if !to_me => self.conns[c].market_batch = true,
            LiveEvent::BatchEnd if !to_me => {
                self.conns[c].market_batch = false;
                self.flush_bbo(c);
            }
            LiveEvent::BatchStart => {
                self.conns[c].batch = Some(Vec::new());
            }
            LiveEvent::BatchEnd => {
                let mut assets = self.conns[c].batch.take().unwrap_or_default();
                if assets.is_empty() {
                    // An empty answer: the oldest outstanding registration on this connector.
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
                        self.stage(
                            RecBuilder::new(K_INSTRUMENT, 0, a as u16, INST_REGISTERED)
                                .i(2, ts)
                                .build(),
                        );
                    }
                }
            }
            LiveEvent::Feed { symbol, event } => {
                if let Some(&a) = self.conns[c].symbols.get(&symbol) {
                    self.begin_batch_asset(c, a);
                    self.on_feed(a, &event);
                }
            }
            LiveEvent::Order { symbol, order } => {
                if let Some(&a) = self.conns[c].symbols.get(&symbol) {
                    self.begin_batch_asset(c, a);
                    self.on_order(c, a, order);
                }
            }
            LiveEvent::Position {
                symbol,
                qty,
                exch_ts,
            } => {
                if let Some(&a) = self.conns[c].symbols.get(&symbol) {
                    self.begin_batch_asset(c, a);
                    {
                        let mut st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
                        st.assets[a].position = qty;
                        st.assets[a].position_ts = exch_ts;
                    }
                    self.stage(
                        RecBuilder::new(K_POSITION, 0, a as u16, 0)
                            .f(1, qty)
                            .i(2, exch_ts)
                            .build(),
                    );
                }
            }
            LiveEvent::Error(err) => self.on_error(c, err),
        }
    }

    /// The first event of a symbol inside a registration batch: its book is rebuilt from the
    /// snapshot that follows.
    fn begin_batch_asset(&mut self, c: usize, a: usize) {
        let Some(batch) = self.conns[c].batch.as_mut() else {
            return;
        };
        if batch.contains(&a) {
            return;
        }
        batch.push(a);
        let ts = now_ns();
        self.stage(
            RecBuilder::new(K_INSTRUMENT, 0, a as u16, INST_SNAPSHOT_BEGIN)
                .i(2, ts)
                .build(),
        );
        self.clear_book(a, ts);
    }

    /// Empties the book of `a` and tells JavaScript (a DEPTH_CLEAR of both sides).
    fn clear_book(&mut self, a: usize, ts: i64) {
        {
            let mut st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
            st.assets[a].book.clear(Side::None, 0.0);
        }
        self.stage(
            RecBuilder::new(K_DEPTH_CLEAR, 0, a as u16, DEPTH_CLEAR_EVENT as u32)
                .f(1, f64::NAN)
                .i(3, 0)
                .i(4, ts)
                .build(),
        );
        self.emit_bbo(a, 0, 0);
    }

    fn on_feed(&mut self, a: usize, e: &Event) {
        let kind = e.ev & EV_KIND_MASK;
        let side: i8 = if e.ev & BUY_EVENT != 0 {
            1
        } else if e.ev & SELL_EVENT != 0 {
            -1
        } else {
            0
        };
        let aux = e.ev as u32;
        match kind {
            DEPTH_EVENT | DEPTH_SNAPSHOT_EVENT | DEPTH_BBO_EVENT if side != 0 => {
                {
                    let mut st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
                    st.assets[a].book.update(side, e.px, e.qty, e.exch_ts);
                }
                self.stage(
                    RecBuilder::new(K_DEPTH, side, a as u16, aux)
                        .f(1, e.px)
                        .f(2, e.qty)
                        .i(3, e.exch_ts)
                        .i(4, e.local_ts)
                        .build(),
                );
                self.emit_bbo(a, e.exch_ts, e.local_ts);
            }
            DEPTH_CLEAR_EVENT => {
                let s = match side {
                    1 => Side::Buy,
                    -1 => Side::Sell,
                    _ => Side::None,
                };
                let upto = if side == 0 { f64::NAN } else { e.px };
                {
                    let mut st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
                    st.assets[a]
                        .book
                        .clear(s, if side == 0 { 0.0 } else { e.px });
                }
                self.stage(
                    RecBuilder::new(K_DEPTH_CLEAR, side, a as u16, aux)
                        .f(1, upto)
                        .i(3, e.exch_ts)
                        .i(4, e.local_ts)
                        .build(),
                );
                self.emit_bbo(a, e.exch_ts, e.local_ts);
            }
            TRADE_EVENT => {
                self.stage(
                    RecBuilder::new(K_TRADE, side, a as u16, aux)
                        .f(1, e.px)
                        .f(2, e.qty)
                        .i(3, e.exch_ts)
                        .i(4, e.local_ts)
                        .build(),
                );
            }
            _ => {}
        }
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
    fn flush_bbo(&mut self, c: usize) {
        for k in 0..self.conns[c].assets.len() {
            let a = self.conns[c].assets[k];
            if let Some((e, l)) = self.regs[a].bbo_pending.take() {
                self.publish_bbo(a, e, l);
            }
        }
    }

    fn publish_bbo(&mut self, a: usize, exch_ts: i64, local_ts: i64) {
        let (bbo, tick) = {
            let st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
            (st.assets[a].book.bbo(), st.assets[a].tick_size)
        };
        if bbo == self.regs[a].bbo {
            return;
        }
        self.regs[a].bbo = bbo;
        let bid = if bbo.bid_tick == i64::MIN {
            f64::NAN
        } else {
            tick_price(bbo.bid_tick, tick)
        };
        let ask = if bbo.ask_tick == i64::MAX {
            f64::NAN
        } else {
            tick_price(bbo.ask_tick, tick)
        };
        self.stage(
            RecBuilder::new(K_BBO, 0, a as u16, 0)
                .f(1, bid)
                .f(2, bbo.bid_qty)
                .f(3, ask)
                .f(4, bbo.ask_qty)
                .i(5, exch_ts)
                .i(6, local_ts)
                .build(),
        );
    }

    fn on_order(&mut self, c: usize, a: usize, order: Order) {
        let id = order.order_id;
        let rec = {
            let mut st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
            let asset = &mut st.assets[a];
            let Some(mine) = asset.orders.get_mut(&id) else {
                // Another bot's order (connectors send every order to every bot), or a late
                // update of one of ours that already finished.
                self.shared
                    .stats
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
            let rec = order_record(a, mine, status);
            if is_terminal(mine.status) {
                asset.orders.remove(&id);
                asset.done.insert(id);
            }
            Some((rec, rejected || unmatched_cancel))
        };
        if let Some((rec, error_follows)) = rec {
            if error_follows {
                self.conns[c].pending_reject = Some((a, id));
            }
            self.stage(rec);
        }
    }

    fn on_error(&mut self, c: usize, err: LiveError) {
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
        let (asset, order_id) = if kind == ERR_ORDER {
            match self.conns[c].pending_reject.take() {
                Some((a, id)) => (a as u16, id),
                None => (NO_ASSET, 0),
            }
        } else {
            (NO_ASSET, 0)
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

#[cfg(test)]
mod tests {
    use super::{DoneIds, DONE_IDS_KEPT};

    #[test]
    fn finished_ids_are_remembered_up_to_the_limit_oldest_forgotten_first() {
        let mut d = DoneIds::default();
        for id in 1..=(DONE_IDS_KEPT as u64 + 2) {
            d.insert(id);
        }
        d.insert(5); // already there: no second entry
        assert_eq!(d.len(), DONE_IDS_KEPT);
        assert!(!d.contains(&1) && !d.contains(&2));
        assert!(d.contains(&3) && d.contains(&(DONE_IDS_KEPT as u64 + 2)));
    }
}
