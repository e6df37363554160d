//! What a client shares with its engine: the ring's consumer end and [`Signal`], the books,
//! positions and orders ([`State`]), the queue of commands, the texts of ERROR records, the
//! last error, the counters. Fields are private: the engine and the client go through the
//! methods, which keep the order rules (a command is queued and tracked together or not at all).

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{
        atomic::{
            AtomicBool, AtomicU64,
            Ordering::{Relaxed, Release},
        },
        mpsc::Sender,
        Mutex, MutexGuard,
    },
};

use hftbacktest::types::{Order, Status};

use crate::{
    book::Book,
    clock::now_ns,
    commands::{CancelOrder, Cmd, NewOrder},
    config::ClientConfig,
    error::{Error, ErrorKind},
    iox::ChannelConfig,
    recorder::Tap,
    ring::RingConsumer,
    signal::Signal,
    sync::LockExt,
};

/// Counters readable through `hl_client_stats`.
#[derive(Default)]
pub struct Stats {
    pub pushed: AtomicU64,
    pub dropped: AtomicU64,
    pub foreign_orders: AtomicU64,
    pub ipc_errors: AtomicU64,
    pub registrations: AtomicU64,
    pub loops: AtomicU64,
    /// Requests accepted and not yet sent (callers add, the engine takes away).
    pub queued: AtomicU64,
    /// Requests sent and not yet answered, over every connector.
    pub in_flight: AtomicU64,
    pub sent: AtomicU64,
    /// Requests that got no answer in `request_timeout_ms`, or whose connector went away first.
    pub unanswered: AtomicU64,
    /// Submits and cancels refused because `max_queued_requests` were waiting.
    pub refused: AtomicU64,
    /// Orders of others (a dead client) this client took over at registration.
    pub adopted: AtomicU64,
    /// The smallest window (requests in flight at most) over the client's connectors now.
    pub window: AtomicU64,
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

    /// Forgets `id` (an order the connector reports as resting after all).
    pub fn remove(&mut self, id: &u64) {
        self.set.remove(id);
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

/// Books, positions and orders, one [`AssetState`] per configured instrument.
pub struct State {
    pub assets: Vec<AssetState>,
}

impl State {
    fn new(config: &ClientConfig) -> Self {
        let assets = config
            .instruments
            .iter()
            .enumerate()
            .map(|(i, inst)| AssetState {
                tick_size: inst.tick_size,
                lot_size: inst.lot_size,
                book: Book::new(&config.depth_of(i), inst.tick_size, inst.lot_size),
                position: 0.0,
                position_ts: 0,
                orders: Default::default(),
                done: Default::default(),
            })
            .collect();
        Self { assets }
    }

    /// The state of `asset`, or `NotFound` ("asset {asset} is not configured").
    pub fn asset(&self, asset: usize) -> Result<&AssetState, Error> {
        self.assets.get(asset).ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!("asset {asset} is not configured"),
            )
        })
    }
}

/// Everything a client shares with its engine.
pub struct Shared {
    signal: Signal,
    consumer: Mutex<RingConsumer>,
    commands: Sender<Cmd>,
    state: Mutex<State>,
    messages: Mutex<VecDeque<String>>,
    last_error: Mutex<String>,
    stats: Stats,
    config: ClientConfig,
    /// hftbacktest's channel configuration in effect (`HFTBACKTEST_CHANNEL_CONFIG`), if set.
    channel: Option<ChannelConfig>,
    bot_id: u64,
    /// Why the engine stopped, when it stopped by itself (a panic).
    failure: Mutex<Option<String>>,
    /// Recordings started and not yet taken by the engine; `new_taps` says there are some.
    taps: Mutex<Vec<Tap>>,
    new_taps: AtomicBool,
    /// Fault injection for tests (`hl_client_fault`): the fault the engine carries out next.
    #[cfg(feature = "fault-injection")]
    fault: std::sync::atomic::AtomicU32,
}

impl Shared {
    pub fn new(
        config: ClientConfig,
        channel: Option<ChannelConfig>,
        bot_id: u64,
        consumer: RingConsumer,
        commands: Sender<Cmd>,
    ) -> Self {
        Self {
            signal: Signal::default(),
            consumer: Mutex::new(consumer),
            commands,
            state: Mutex::new(State::new(&config)),
            messages: Default::default(),
            last_error: Default::default(),
            stats: Stats::default(),
            config,
            channel,
            bot_id,
            failure: Default::default(),
            taps: Default::default(),
            new_taps: Default::default(),
            #[cfg(feature = "fault-injection")]
            fault: Default::default(),
        }
    }

    pub fn signal(&self) -> &Signal {
        &self.signal
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// hftbacktest's channel configuration as set for this process (`None`: its defaults).
    pub fn channel(&self) -> Option<ChannelConfig> {
        self.channel
    }

    pub fn bot_id(&self) -> u64 {
        self.bot_id
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Books, positions and orders, locked.
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock_or_recover()
    }

    /// Copies ready records into `out` (whole 64-byte records); returns how many.
    pub fn drain(&self, out: &mut [u8]) -> usize {
        self.consumer
            .lock_or_recover()
            .drain_into(out, &self.signal)
    }

    /// Queues the text of an ERROR record (read with [`Shared::take_message`], in order).
    pub fn push_message(&self, msg: String) {
        self.messages.lock_or_recover().push_back(msg);
    }

    pub fn take_message(&self) -> Option<String> {
        self.messages.lock_or_recover().pop_front()
    }

    pub fn last_error(&self) -> String {
        self.last_error.lock_or_recover().clone()
    }

    pub fn set_last_error(&self, msg: &str) {
        let mut e = self.last_error.lock_or_recover();
        e.clear();
        e.push_str(msg);
    }

    /// Records why the engine stopped by itself and fails the ring: waits return
    /// `HL_E_ENGINE` once the records pushed before are drained; submits and cancels are refused.
    pub fn fail(&self, why: String) {
        let mut f = self.failure.lock_or_recover();
        if f.is_none() {
            *f = Some(why);
        }
        drop(f);
        self.signal.fail();
    }

    /// The `Engine` error: why the engine stopped.
    pub fn failure(&self) -> Error {
        let why = self.failure.lock_or_recover().clone();
        Error::new(
            ErrorKind::Engine,
            why.unwrap_or_else(|| "the engine stopped".into()),
        )
    }

    /// `Closed` ("the client is closed") once the client is closed or its engine failed.
    pub fn ensure_open(&self) -> Result<(), Error> {
        if self.signal.is_closed() {
            return Err(Error::new(ErrorKind::Closed, "the client is closed"));
        }
        Ok(())
    }

    /// Checks and queues a new order, and tracks it as active once queued.
    pub fn submit(&self, order: &NewOrder) -> Result<(), Error> {
        self.ensure_open()?;
        order.validate()?;
        let mut state = self.state();
        let n_assets = state.assets.len();
        let Some(a) = state.assets.get_mut(order.asset) else {
            return order.refuse(
                ErrorKind::NotFound,
                format_args!("asset {} is not configured (0..{n_assets})", order.asset),
            );
        };
        let o = order.live_order(a.tick_size, a.lot_size, now_ns())?;
        let id = order.order_id;
        if a.orders.contains_key(&id) || a.done.contains(&id) {
            return order.refuse(
                ErrorKind::Duplicate,
                format_args!("order id {id} was already used on asset {}", order.asset),
            );
        }
        let cmd = Cmd {
            asset: order.asset,
            order_id: id,
            cancel: false,
        };
        self.enqueue(cmd, |why| order.refuse(ErrorKind::Backpressure, why))?;
        a.orders.insert(id, o);
        Ok(())
    }

    /// Queues a cancel (hftbacktest's rule: only `New`/`PartiallyFilled` orders with no request
    /// queued or in flight can be cancelled).
    pub fn cancel(&self, cancel: &CancelOrder) -> Result<(), Error> {
        use ErrorKind::*;
        self.ensure_open()?;
        let (asset, id) = (cancel.asset, cancel.order_id);
        let mut state = self.state();
        let Some(a) = state.assets.get_mut(asset) else {
            return cancel.refuse(NotFound, format_args!("asset {asset} is not configured"));
        };
        if a.done.contains(&id) {
            return cancel.refuse(State, "the order is already in a terminal state");
        }
        let Some(order) = a.orders.get_mut(&id) else {
            return cancel.refuse(NotFound, format_args!("no such order on asset {asset}"));
        };
        if !order.cancellable() {
            return cancel.refuse(
                State,
                format_args!(
                    "status {:?} with request {:?} in flight cannot be cancelled",
                    order.status, order.req
                ),
            );
        }
        let cmd = Cmd {
            asset,
            order_id: id,
            cancel: true,
        };
        self.enqueue(cmd, |why| cancel.refuse(Backpressure, why))?;
        order.req = Status::Canceled;
        Ok(())
    }

    /// Queues a request for the engine (under the state lock, so the count cannot pass the
    /// bound); `refuse` makes the error when `max_queued_requests` are already waiting.
    fn enqueue(
        &self,
        cmd: Cmd,
        refuse: impl FnOnce(String) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let max = self.config.max_queued_requests as u64;
        if self.stats.queued.load(Relaxed) >= max {
            self.stats.refused.fetch_add(1, Relaxed);
            return refuse(format!(
                "{max} requests already wait to be sent (max_queued_requests): the connector \
                 answers more slowly than orders arrive. Nothing was queued; retry once answers \
                 come in (hl_client_stats: requests queued, in flight), or raise \
                 max_queued_requests"
            ));
        }
        // Counted before the engine can see it, so the engine never takes away more than this.
        self.stats.queued.fetch_add(1, Relaxed);
        if self.commands.send(cmd).is_err() {
            self.stats.queued.fetch_sub(1, Relaxed);
            return Err(Error::new(ErrorKind::Closed, "the client is closed"));
        }
        Ok(())
    }

    /// Hands a recording's queue to the engine (it takes it at its next step).
    pub fn attach_tap(&self, tap: Tap) {
        self.taps.lock_or_recover().push(tap);
        self.new_taps.store(true, Release);
    }

    /// Whether recordings wait to be taken (a plain load on every engine step).
    #[inline]
    pub fn has_new_taps(&self) -> bool {
        self.new_taps.load(Relaxed)
    }

    /// The recordings started since the last call.
    pub fn take_taps(&self) -> Vec<Tap> {
        let mut t = self.taps.lock_or_recover();
        self.new_taps.store(false, Relaxed);
        std::mem::take(&mut *t)
    }

    /// Asks the engine to carry out a fault at its next step (`hl_client_fault`).
    #[cfg(feature = "fault-injection")]
    pub fn inject_fault(&self, kind: u32) {
        self.fault.store(kind, std::sync::atomic::Ordering::Relaxed);
    }

    /// The fault injected, if any, taken. A plain load on every engine step; the
    /// read-modify-write only when a fault was injected.
    #[cfg(feature = "fault-injection")]
    pub fn take_fault(&self) -> u32 {
        use std::sync::atomic::Ordering::Relaxed;
        if self.fault.load(Relaxed) == 0 {
            return 0;
        }
        self.fault.swap(0, Relaxed)
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
