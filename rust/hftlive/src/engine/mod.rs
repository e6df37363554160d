//! The engine: owns the IPC ports to every connector a client uses, keeps the authoritative
//! books, positions and orders (in [`Shared`]), and turns every `LiveEvent` into records.
//! It runs on one thread: its own (`run`), or the caller's (inline mode, [`crate::inline`]).
//!
//! It drives hftbacktest's public IPC (`IceoryxChannel`) directly rather than through `LiveBot`
//! so that (DESIGN.md, "What hftbacktest's live stack really does"):
//! 1. `RegisterInstrument` is re-sent until the connector answers, and again after a restart
//!    ([`registration`]);
//! 2. depth deletions without `LOCAL_EVENT` are applied, so the book matches level for level;
//! 3. `DEPTH_SNAPSHOT` events build the book of a symbol the connector already streams
//!    ([`market`]);
//! 5. a REST rejection (`Expired` + `OrderError`) is reported as a rejection with its code
//!    ([`orders`]).
//!
//! Requests are paced against the connector's IPC buffer, never lost ([`requests`]); orders
//! are reconciled and adopted when a connector (re)registers ([`registration`], [`orders`]);
//! cancel on exit and the rescue after a failure are in [`exit`].
//!
//! This file is the loop: build, step, idle strategy.

mod exit;
#[cfg(feature = "fault-injection")]
mod flood;
mod market;
mod orders;
mod recording;
mod registration;
mod requests;

pub(crate) use exit::rescue_after_failure;

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{
        atomic::Ordering,
        mpsc::{Receiver, SyncSender},
        Arc,
    },
    time::{Duration, Instant},
};

use hftbacktest::{
    live::ipc::{iceoryx::IceoryxChannel, TO_ALL},
    prelude::{LiveEvent, LiveRequest},
};
use iceoryx2::prelude::{ipc, NodeBuilder, SignalHandlingMode};

pub(crate) use crate::clock::now_ns;
use crate::{
    book::Bbo,
    commands::Cmd,
    config::{EngineWait, Mode},
    error::{Error, ErrorKind},
    iox::{self, ChannelConfig, Liveness, Peer, DEFAULT_CHANNEL},
    record::{self, Rec, ERR_ENGINE, NO_ASSET},
    recorder::Tap,
    ring::RingProducer,
    shared::Shared,
};
use requests::Requests;

/// One connector: its channel and what the engine knows of it.
struct Conn {
    name: String,
    ch: IceoryxChannel<LiveRequest, LiveEvent>,
    symbols: HashMap<String, usize>,
    assets: Vec<usize>,
    liveness: Liveness,
    peer: Option<Peer>,
    /// The publisher whose process looked gone and made the check run the full cleanup at
    /// once: not again for the same publisher (a process in another pid namespace always looks
    /// gone; the periodic cleanup still runs).
    forced_cleanup_for: Option<Peer>,
    /// Assets whose batch (registration answer) is in progress.
    batch: Option<Vec<usize>>,
    /// Registrations sent since the connector was last seen coming up, oldest first.
    pending: VecDeque<usize>,
    /// Last order of ours that expired before being acknowledged: the next `OrderError` is its.
    pending_reject: Option<(usize, u64)>,
    /// Inside a `BatchStart`..`BatchEnd` sent to all bots (an atomic group of market data).
    market_batch: bool,
    /// Requests waiting to be sent and requests awaiting an answer.
    requests: Requests,
}

/// The engine's own view of one asset.
struct AssetReg {
    conn: usize,
    registered: bool,
    last_sent: Option<Instant>,
    bbo: Bbo,
    /// A best bid/offer change held until the end of the current batch (exch_ts, local_ts).
    bbo_pending: Option<(i64, i64)>,
    /// After a connector (re)start: the ids of the orders held then; those its registration
    /// answer does not report end as Expired (ambiguous).
    reconcile: Option<HashSet<u64>>,
    /// (exch_ts, local_ts) of the last feed event: the time of a recording's snapshot.
    last_ts: (i64, i64),
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
    /// The full dead-node cleanup: every `cleanup_every`, or when a connector's process is gone.
    cleanup_every: Duration,
    last_cleanup: Option<Instant>,
    last_activity: Instant,
    loops: u64,
    /// When the message being handled was taken off IPC (ns since the epoch): the engine
    /// receive time stamped on market records ([`record::stamp_engine_ts`]).
    rx_ts: i64,
    /// The test producer (`hl_client_fault` 3/4): the sequence number of the next record.
    #[cfg(feature = "fault-injection")]
    flood: Option<u64>,
    request_timeout: Duration,
    /// Run by the thread that polls its client (`Mode::Inline`).
    inline: bool,
    /// The recordings running (`crate::recorder`).
    taps: Vec<Tap>,
}

/// Builds the ports on the calling (engine) thread, says so on `ready`, and runs until the
/// client closes.
pub fn run(
    shared: Arc<Shared>,
    cmd_rx: Receiver<Cmd>,
    out: RingProducer,
    ready: SyncSender<Result<(), Error>>,
) {
    let mut engine = match Engine::build(shared, cmd_rx, out) {
        Ok(e) => {
            let _ = ready.send(Ok(()));
            e
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    drop(ready);
    while !engine.is_closed() {
        if !engine.step() {
            engine.idle();
        }
    }
    engine.out.flush(engine.shared.signal());
    // Dropping the engine cancels every active order first when `cancel_on_exit` is set.
}

impl Engine {
    pub fn build(
        shared: Arc<Shared>,
        cmd_rx: Receiver<Cmd>,
        out: RingProducer,
    ) -> Result<Self, Error> {
        iox::prepare_dirs();
        iox::cleanup_dead_nodes();
        let cfg = shared.config();
        if let Some(ns) = cfg.engine_timer_slack_ns {
            // Built on the thread that runs it (its own, or an inline client's poller).
            crate::slack::set_timer_slack_ns(ns).map_err(|e| Error::new(ErrorKind::Config, e))?;
        }
        let channel = shared.channel().unwrap_or(DEFAULT_CHANNEL);
        let mut conns: Vec<Conn> = Vec::new();
        let mut regs = Vec::with_capacity(cfg.instruments.len());
        for (i, inst) in cfg.instruments.iter().enumerate() {
            let c = match conns.iter().position(|c| c.name == inst.connector) {
                Some(c) => c,
                None => {
                    conns.push(Conn::open(&inst.connector, &channel)?);
                    conns.len() - 1
                }
            };
            conns[c].symbols.insert(inst.symbol.clone(), i);
            conns[c].assets.push(i);
            regs.push(AssetReg {
                conn: c,
                registered: false,
                last_sent: None,
                bbo: Bbo::EMPTY,
                bbo_pending: None,
                reconcile: None,
                last_ts: (0, 0),
            });
        }
        let wait_node = if cfg.engine_wait == EngineWait::NodeWait {
            Some(
                NodeBuilder::new()
                    .signal_handling_mode(SignalHandlingMode::Disabled)
                    .create::<ipc::Service>()
                    .map_err(|e| {
                        Error::new(
                            ErrorKind::Ipc,
                            format!("cannot create iceoryx2 node: {e:?}"),
                        )
                    })?,
            )
        } else {
            None
        };
        let mut engine = Self {
            liveness_every: Duration::from_millis(cfg.liveness_interval_ms.max(1)),
            register_every: Duration::from_millis(cfg.register_interval_ms.max(1)),
            spin_for: Duration::from_micros(cfg.engine_spin_us),
            sleep_for: Duration::from_nanos(cfg.engine_sleep_ns.max(1)),
            last_liveness: None,
            cleanup_every: Duration::from_millis(cfg.liveness_cleanup_ms),
            last_cleanup: Some(Instant::now()),
            last_activity: Instant::now(),
            loops: 0,
            rx_ts: now_ns(),
            #[cfg(feature = "fault-injection")]
            flood: None,
            request_timeout: Duration::from_millis(cfg.request_timeout_ms),
            inline: cfg.mode == Mode::Inline,
            taps: Vec::new(),
            shared,
            conns,
            regs,
            out,
            cmd_rx,
            wait_node,
        };
        // Whether each connector is there is known before the first request is sent.
        engine.last_liveness = Some(Instant::now());
        engine.check_liveness(Instant::now());
        Ok(engine)
    }

    /// Whether the client closed (or the engine failed): the engine is not run again.
    pub fn is_closed(&self) -> bool {
        self.shared.signal().is_closed()
    }

    /// One pass: commands, every connector's events, liveness, registrations, flush.
    /// Returns whether anything happened.
    pub fn step(&mut self) -> bool {
        self.loops += 1;
        #[cfg(feature = "fault-injection")]
        let flooding = self.inject_fault();
        #[cfg(not(feature = "fault-injection"))]
        let flooding = false;
        if self.shared.has_new_taps() {
            self.attach_taps();
        }
        if !self.taps.is_empty() {
            self.service_taps();
        }
        let mut busy = self.send_commands() | flooding;
        let mut received = false;
        for c in 0..self.conns.len() {
            received |= self.receive(c);
        }
        if received {
            busy = true;
            self.publish_in_flight();
        }
        let now = Instant::now();
        if self
            .last_liveness
            .is_none_or(|t| now - t >= self.liveness_every)
        {
            self.last_liveness = Some(now);
            self.check_liveness(now);
            self.shared
                .stats()
                .loops
                .store(self.loops, Ordering::Relaxed);
        }
        self.register(now, self.register_every);
        self.out.flush(self.shared.signal());
        let stats = self.shared.stats();
        stats.pushed.store(self.out.pushed_total, Ordering::Relaxed);
        stats
            .dropped
            .store(self.out.dropped_total, Ordering::Relaxed);
        if busy {
            self.last_activity = now;
        }
        busy
    }

    /// Events from connector `c`, bounded per pass so commands stay responsive.
    fn receive(&mut self, c: usize) -> bool {
        let mut busy = false;
        for _ in 0..512 {
            match self.conns[c].ch.receive() {
                Ok(Some((dst, ev))) => {
                    busy = true;
                    self.rx_ts = now_ns();
                    if dst == self.shared.bot_id() {
                        self.on_event(c, ev, true);
                    } else if dst == TO_ALL {
                        self.on_event(c, ev, false);
                    }
                    // A whole message is in (not inside a batch) and made records: hand them
                    // over now, not after the messages that follow it. An inline poll returns
                    // them only once this step ends, so an inline engine also ends the pass.
                    let conn = &self.conns[c];
                    if !conn.market_batch && conn.batch.is_none() && self.out.has_staged() {
                        self.out.flush(self.shared.signal());
                        if self.inline {
                            break;
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let msg = format!(
                        "cannot receive from connector \"{}\": {e}",
                        self.conns[c].name
                    );
                    self.ipc_error(msg);
                    break;
                }
            }
        }
        busy
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
            LiveEvent::BatchStart => self.conns[c].batch = Some(Vec::new()),
            LiveEvent::BatchEnd => self.on_registration_answered(c),
            LiveEvent::Feed { symbol, event } => {
                if let Some(a) = self.asset_of(c, &symbol) {
                    self.on_feed(a, &event);
                }
            }
            LiveEvent::Order { symbol, order } => {
                if let Some(a) = self.asset_of(c, &symbol) {
                    // Part of this bot's registration answer: the connector reports what rests.
                    let reported = to_me && self.conns[c].batch.is_some();
                    self.on_order(c, a, order, reported);
                }
            }
            LiveEvent::Position {
                symbol,
                qty,
                exch_ts,
            } => {
                if let Some(a) = self.asset_of(c, &symbol) {
                    self.on_position(a, qty, exch_ts);
                }
            }
            LiveEvent::Error(err) => self.on_error(c, err),
        }
    }

    /// The asset of `symbol` on connector `c`, noted as part of a registration batch if one is
    /// in progress.
    fn asset_of(&mut self, c: usize, symbol: &str) -> Option<usize> {
        let a = *self.conns[c].symbols.get(symbol)?;
        self.begin_batch_asset(c, a);
        Some(a)
    }

    /// Sends queued requests within each connector's window; returns whether anything happened.
    pub fn send_commands(&mut self) -> bool {
        let any = self.pump_requests();
        if any {
            self.out.flush(self.shared.signal());
        }
        any
    }

    /// What to do after a pass that found nothing (`engine_wait`).
    pub fn idle(&mut self) {
        match self.shared.config().engine_wait {
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

    /// Stages a record; market records carry the receive time of the message being handled.
    fn stage(&mut self, mut rec: Rec) {
        record::stamp_engine_ts(&mut rec, self.rx_ts);
        self.out.stage(rec);
    }

    fn engine_error(&mut self, msg: String) {
        self.error_record(ERR_ENGINE, 0, 0, NO_ASSET, msg);
    }

    /// An IPC failure: counted in the stats and reported as an engine ERROR record.
    fn ipc_error(&mut self, msg: String) {
        self.shared
            .stats()
            .ipc_errors
            .fetch_add(1, Ordering::Relaxed);
        self.engine_error(msg);
    }

    /// An ERROR record; its text is queued for `hl_client_take_message`.
    fn error_record(&mut self, kind: u32, code: i64, order_id: u64, asset: u16, msg: String) {
        let len = msg.len();
        self.shared.push_message(msg);
        self.stage(record::error(asset, kind, code, order_id, now_ns(), len));
    }

    /// Carries out a fault injected by `hl_client_fault` (tests): 1 panics as a bug in the core
    /// would; 2 emits a record of a kind no reader of ABI v1 knows; 3 starts and 4 stops the
    /// test producer ([`flood`]). Returns whether the producer pushed anything.
    #[cfg(feature = "fault-injection")]
    fn inject_fault(&mut self) -> bool {
        match self.shared.take_fault() {
            0 => {}
            1 => panic!("fault injected by hl_client_fault"),
            3 => self.flood = Some(self.flood.unwrap_or(0)),
            4 => self.flood = None,
            _ => {
                self.out.stage(record::unknown_test());
                self.out.flush(self.shared.signal());
            }
        }
        self.flood_step()
    }
}

impl Drop for Engine {
    /// Cancel on exit (when configured) runs here, so every way an engine ends takes it: its
    /// thread's loop ending, an inline client closed or reaped, the thread that holds inline
    /// engines ending. Not after a panic: an engine in an unknown state is not run again (the
    /// rescue in [`exit`] cancels through fresh ports instead).
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let run = std::panic::AssertUnwindSafe(|| self.cancel_on_exit());
        // A thread-local destructor must not unwind (that aborts the process).
        let _ = std::panic::catch_unwind(run);
    }
}

impl Conn {
    fn open(name: &str, channel: &ChannelConfig) -> Result<Self, Error> {
        let ch = IceoryxChannel::new(name)
            .map_err(|e| iox::open_error(name, channel, &e.to_string()))?;
        Ok(Conn {
            name: name.to_string(),
            ch,
            symbols: HashMap::new(),
            assets: Vec::new(),
            liveness: Liveness::open(name, channel)?,
            peer: None,
            forced_cleanup_for: None,
            batch: None,
            pending: VecDeque::new(),
            pending_reject: None,
            market_batch: false,
            requests: Requests::default(),
        })
    }
}
