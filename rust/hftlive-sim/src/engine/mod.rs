//! The sim thread: its IPC ports, loop, requests and faults. Publishing (registration answers,
//! market data through the connector's fused depth) is in [`publish`], the matching engine in
//! [`orders`].

mod orders;
mod publish;
mod replay;
mod resting;

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        atomic::{AtomicU64, Ordering},
        mpsc, Arc,
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use hftbacktest::{
    depth::FusedHashMapMarketDepth,
    live::ipc::{
        iceoryx::{IceoryxBuilder, IceoryxReceiver, IceoryxSender},
        TO_ALL,
    },
    types::{ErrorKind, LiveError, LiveEvent, LiveRequest, Order, Status, Value},
};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{
    market::{Market, MarketParams},
    replay::Replay,
    Arrivals, Book, Command, Fault, Shared, SimConfig,
};

/// Most market events published per wakeup (bursts for high rates).
const MAX_BURST: u32 = 4096;
/// Finished orders remembered per instrument for `cancel_race`.
const FINISHED_HISTORY: usize = 4096;

pub(crate) fn run(
    config: SimConfig,
    shared: Arc<Shared>,
    cmd_rx: mpsc::Receiver<Command>,
    ready_tx: mpsc::SyncSender<Result<(), String>>,
) {
    // Loaded here: hftbacktest's `Data` is not `Send`.
    let replays = match crate::replay::open_all(&config) {
        Ok(r) => r,
        Err(e) => {
            let _ = ready_tx.send(Err(format!("sim {}: {e}", config.name)));
            return;
        }
    };
    let ports = IceoryxBuilder::new(&config.name)
        .bot(false)
        .sender::<LiveEvent>()
        .and_then(|tx| {
            IceoryxBuilder::new(&config.name)
                .bot(false)
                .receiver::<LiveRequest>()
                .map(|rx| (tx, rx))
        });
    let (tx, rx) = match ports {
        Ok(p) => p,
        Err(e) => {
            let _ = ready_tx.send(Err(format!(
                "sim {}: cannot create the IPC ports ({}/ToBot, {}/FromBot): {e} \
                 (is another connector with this name running, or does \
                 HFTBACKTEST_CHANNEL_CONFIG differ from the other side's?)",
                config.name, config.name, config.name
            )));
            return;
        }
    };
    let n_replays = replays.iter().flatten().count() as u64;
    shared
        .counters
        .replaying
        .store(n_replays, Ordering::Relaxed);
    shared.running.store(true, Ordering::Release);
    let mut engine = Engine::new(config, shared.clone(), tx, rx, replays);
    let _ = ready_tx.send(Ok(()));
    engine.run(&cmd_rx);
    drop(engine);
    shared.running.store(false, Ordering::Release);
    drop(cmd_rx);
}

/// Publishing side: the sender and the counters (kept apart from the instruments so both can be
/// borrowed at once).
struct Out {
    tx: IceoryxSender<LiveEvent>,
    shared: Arc<Shared>,
    last_ts: i64,
    error_logged: bool,
}

impl Out {
    fn send(&mut self, dst: u64, ev: &LiveEvent) {
        match self.tx.send(dst, ev) {
            Ok(()) => inc(&self.shared.counters.messages_sent),
            Err(e) => {
                inc(&self.shared.counters.ipc_errors);
                if !self.error_logged {
                    self.error_logged = true;
                    eprintln!("hftlive-sim: IPC send failed: {e}");
                }
            }
        }
    }

    /// Nanoseconds since the Unix epoch, never decreasing.
    fn now_ns(&mut self) -> i64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        self.last_ts = self.last_ts.max(now);
        self.last_ts
    }

    fn counters(&self) -> &crate::Counters {
        &self.shared.counters
    }
}

fn inc(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

struct Resting {
    seq: u64,
    order: Order,
    buy: bool,
    /// Price in the sim's ticks.
    tick: i64,
    leaves: i64,
}

struct Inst {
    symbol: String,
    tick_size: f64,
    lot_size: f64,
    market: Market,
    /// The connector-side fused depth, created by the first registration (streaming from then).
    fuse: Option<FusedHashMapMarketDepth>,
    /// The initial book still has to be published (first registration while paused).
    initial_pending: bool,
    orders: resting::RestingOrders,
    finished: HashMap<u64, Order>,
    finished_fifo: VecDeque<u64>,
    pos_lots: i64,
    pos_ts: Option<i64>,
    /// Replaying recorded files instead of the random walk.
    replay: Option<Replay>,
}

impl Inst {
    fn streaming(&self) -> bool {
        self.fuse.is_some() && !self.initial_pending
    }

    fn book(&self) -> Book {
        let bids = self
            .market
            .bids
            .iter()
            .rev()
            .map(|(&t, &l)| (t as f64 * self.tick_size, l as f64 * self.lot_size))
            .collect();
        let asks = self
            .market
            .asks
            .iter()
            .map(|(&t, &l)| (t as f64 * self.tick_size, l as f64 * self.lot_size))
            .collect();
        (bids, asks)
    }

    fn remember_finished(&mut self, order: Order) {
        if self
            .finished
            .insert(order.order_id, order.clone())
            .is_none()
        {
            self.finished_fifo.push_back(order.order_id);
            if self.finished_fifo.len() > FINISHED_HISTORY {
                if let Some(old) = self.finished_fifo.pop_front() {
                    self.finished.remove(&old);
                }
            }
        }
    }

    /// Converts a sim tick to the order's own tick units (the bot's tick size).
    fn order_tick(&self, order: &Order, tick: i64) -> i64 {
        if order.tick_size > 0.0 && order.tick_size != self.tick_size {
            (tick as f64 * self.tick_size / order.tick_size).round() as i64
        } else {
            tick
        }
    }
}

struct Delayed {
    due: Instant,
    symbol: String,
    order: Order,
}

struct Engine {
    cfg: SimConfig,
    out: Out,
    rx: IceoryxReceiver<LiveRequest>,
    insts: Vec<Inst>,
    by_symbol: HashMap<String, usize>,
    paused: bool,
    reject_code: i64,
    delay: Duration,
    delayed: VecDeque<Delayed>,
    rr: usize,
    seq: u64,
    stream_started: Option<Instant>,
    stale_fired: bool,
    /// Draws the gaps between arrivals of market events (`arrivals: "poisson"`).
    arrivals_rng: ChaCha8Rng,
}

fn order_error(code: i64, msg: &str) -> LiveEvent {
    let mut map = HashMap::new();
    map.insert("code".to_string(), Value::Int(code));
    map.insert("msg".to_string(), Value::String(msg.to_string()));
    LiveEvent::Error(LiveError::with(ErrorKind::OrderError, Value::Map(map)))
}

impl Engine {
    fn new(
        cfg: SimConfig,
        shared: Arc<Shared>,
        tx: IceoryxSender<LiveEvent>,
        rx: IceoryxReceiver<LiveRequest>,
        mut replays: Vec<Option<(Replay, Vec<hftbacktest::types::Event>)>>,
    ) -> Self {
        let cfg_seed = cfg.seed;
        let mut insts = Vec::new();
        let mut by_symbol = HashMap::new();
        for (i, ins) in cfg.instruments.iter().enumerate() {
            let start_tick = (ins.start_price / ins.tick_size).round() as i64;
            let seed = cfg
                .seed
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .wrapping_add(i as u64)
                .rotate_left(17)
                ^ 0x5151_5eed;
            let mut market = Market::new(MarketParams {
                seed,
                start_tick,
                levels: cfg.levels,
                max_lots: cfg.max_level_lots as i64,
                trade_ratio: cfg.trade_ratio,
                fuse_order: cfg.fuse_deletions,
            });
            let replay = replays.get_mut(i).and_then(Option::take).map(|(r, book)| {
                crate::replay::initial_book(&mut market, &book, ins.tick_size, ins.lot_size);
                r
            });
            by_symbol.insert(ins.symbol.clone(), i);
            insts.push(Inst {
                symbol: ins.symbol.clone(),
                tick_size: ins.tick_size,
                lot_size: ins.lot_size,
                market,
                fuse: None,
                initial_pending: false,
                orders: Default::default(),
                finished: HashMap::new(),
                finished_fifo: VecDeque::new(),
                pos_lots: 0,
                pos_ts: None,
                replay,
            });
        }
        Self {
            cfg,
            out: Out {
                tx,
                shared,
                last_ts: 0,
                error_logged: false,
            },
            rx,
            insts,
            by_symbol,
            paused: false,
            reject_code: 0,
            delay: Duration::ZERO,
            delayed: VecDeque::new(),
            rr: 0,
            seq: 0,
            stream_started: None,
            stale_fired: false,
            arrivals_rng: ChaCha8Rng::seed_from_u64(cfg_seed ^ 0xA11_1BA1_5EED),
        }
    }

    /// The time to the next arrival of market events: `mean` (periodic) or an exponential gap
    /// of mean `mean` (Poisson).
    fn next_gap(&mut self, mean: Duration) -> Duration {
        match self.cfg.arrivals {
            Arrivals::Periodic => mean,
            Arrivals::Poisson => {
                let u: f64 = self.arrivals_rng.random();
                mean.mul_f64(-(1.0 - u).ln())
            }
        }
    }

    fn run(&mut self, cmd_rx: &mpsc::Receiver<Command>) {
        // One arrival per `burst` market events, so the mean rate stays `rate`.
        let burst = self.cfg.burst.max(1);
        let period = (self.cfg.rate > 0.0)
            .then(|| Duration::from_secs_f64(f64::from(burst) / self.cfg.rate));
        let poll = Duration::from_micros(self.cfg.poll_us);
        let mut next_due = Instant::now();
        'main: loop {
            // Commands from the handle.
            loop {
                match cmd_rx.try_recv() {
                    Ok(Command::Stop) | Ok(Command::Fault(Fault::Exit)) => break 'main,
                    Ok(Command::Fault(f)) => {
                        if f == Fault::PauseMarket(false) {
                            next_due = Instant::now();
                        }
                        self.apply_fault(f);
                    }
                    Ok(Command::Book(symbol, reply)) => {
                        let book = self.by_symbol.get(&symbol).map(|&i| self.insts[i].book());
                        let _ = reply.send(book);
                    }
                    Err(mpsc::TryRecvError::Empty) => break,
                    Err(mpsc::TryRecvError::Disconnected) => break 'main,
                }
            }

            self.poll_requests();
            self.process_delayed();

            if !self.paused {
                for idx in 0..self.insts.len() {
                    if self.insts[idx].initial_pending {
                        self.publish_initial(idx);
                    }
                }
            }
            if let (Some(started), false) = (self.stream_started, self.stale_fired) {
                if self.cfg.stale_after_ms > 0
                    && started.elapsed() >= Duration::from_millis(self.cfg.stale_after_ms)
                {
                    self.stale_fired = true;
                    self.paused = true;
                }
            }

            // Market data.
            let now = Instant::now();
            let active = !self.paused
                && self
                    .insts
                    .iter()
                    .any(|i| i.streaming() && i.replay.is_none());
            match (period, active) {
                (Some(period), true) => {
                    let mut n = 0;
                    while next_due <= now && n < MAX_BURST {
                        for _ in 0..burst {
                            self.market_step();
                        }
                        next_due += self.next_gap(period);
                        n += burst;
                    }
                    if now.saturating_duration_since(next_due) > Duration::from_millis(100) {
                        // Too far behind (e.g. the machine stalled): drop the backlog.
                        next_due = now;
                    }
                }
                _ => next_due = now,
            }

            let resting: usize = self.insts.iter().map(|i| i.orders.len()).sum();
            self.out
                .counters()
                .resting
                .store(resting as u64, Ordering::Relaxed);

            // Idle until the next market event, delayed request or poll.
            let mut wake = now + poll;
            if !self.paused {
                for idx in 0..self.insts.len() {
                    if let Some(due) = self.replay_step(idx, now) {
                        wake = wake.min(due);
                    }
                }
            }
            if let (Some(_), true) = (period, active) {
                wake = wake.min(next_due);
            }
            if let Some(d) = self.delayed.front() {
                wake = wake.min(d.due);
            }
            let remaining = wake.saturating_duration_since(Instant::now());
            if self.cfg.poll_us == 0 || remaining < Duration::from_micros(2) {
                std::thread::yield_now();
            } else {
                std::thread::sleep(remaining);
            }
        }
        if let Ok(mut books) = self.out.shared.final_books.lock() {
            for inst in &self.insts {
                books.insert(inst.symbol.clone(), inst.book());
            }
        }
    }

    fn apply_fault(&mut self, fault: Fault) {
        match fault {
            Fault::PauseMarket(p) => {
                self.paused = p;
                for r in self.insts.iter_mut().filter_map(|i| i.replay.as_mut()) {
                    r.rebase();
                }
                if !p {
                    self.stale_fired = true;
                }
            }
            Fault::RejectOrders(code) => self.reject_code = code,
            Fault::DelayMs(ms) => self.delay = Duration::from_millis(ms),
            Fault::Exit => {}
            Fault::Error(kind) => {
                let kind = match kind {
                    0 => ErrorKind::ConnectionInterrupted,
                    1 => ErrorKind::CriticalConnectionError,
                    2 => ErrorKind::OrderError,
                    3 => ErrorKind::Custom(0),
                    k => ErrorKind::Custom(k as i64),
                };
                let ev = LiveEvent::Error(LiveError::with(
                    kind,
                    Value::String(format!("hftlive-sim injected fault: {kind:?}")),
                ));
                self.out.send(TO_ALL, &ev);
            }
        }
    }

    fn poll_requests(&mut self) {
        loop {
            match self.rx.receive() {
                Ok(Some((src, req))) => self.handle_request(src, req),
                Ok(None) => break,
                Err(e) => {
                    inc(&self.out.counters().ipc_errors);
                    if !self.out.error_logged {
                        self.out.error_logged = true;
                        eprintln!("hftlive-sim: IPC receive failed: {e}");
                    }
                    break;
                }
            }
        }
    }

    fn handle_request(&mut self, src: u64, req: LiveRequest) {
        match req {
            LiveRequest::RegisterInstrument { symbol, .. } => self.register(src, symbol),
            LiveRequest::Order { symbol, order } => {
                if order.req != Status::New && order.req != Status::Canceled {
                    // The connector logs "An invalid request was received from the bot." only.
                    return;
                }
                inc(&self.out.counters().orders_received);
                if !self.delay.is_zero() || !self.delayed.is_empty() {
                    self.delayed.push_back(Delayed {
                        due: Instant::now() + self.delay,
                        symbol,
                        order,
                    });
                } else {
                    self.handle_order(symbol, order);
                }
            }
        }
    }

    fn process_delayed(&mut self) {
        let now = Instant::now();
        while self.delayed.front().is_some_and(|d| d.due <= now) {
            let d = self.delayed.pop_front().expect("checked");
            self.handle_order(d.symbol, d.order);
        }
    }

    fn handle_order(&mut self, symbol: String, order: Order) {
        if order.req == Status::New {
            self.submit(symbol, order);
        } else {
            self.cancel(symbol, order);
        }
    }
}
