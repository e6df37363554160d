//! The sim thread: IPC ports, market publishing, order matching and faults.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        atomic::{AtomicU64, Ordering},
        mpsc, Arc,
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use hftbacktest::{
    depth::{ApplySnapshot, FusedHashMapMarketDepth},
    live::ipc::{
        iceoryx::{IceoryxBuilder, IceoryxReceiver, IceoryxSender},
        TO_ALL,
    },
    types::{
        ErrorKind, Event, LiveError, LiveEvent, LiveRequest, OrdType, Order, Side, Status,
        TimeInForce, Value, LOCAL_ASK_DEPTH_EVENT, LOCAL_BID_DEPTH_EVENT, LOCAL_BUY_TRADE_EVENT,
        LOCAL_SELL_TRADE_EVENT,
    },
};

use crate::{
    market::{Level, Market, MarketParams, Step, Trade},
    Book, Command, Fault, Shared, SimConfig,
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
    shared.running.store(true, Ordering::Release);
    let mut engine = Engine::new(config, shared.clone(), tx, rx);
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
    orders: Vec<Resting>,
    finished: HashMap<u64, Order>,
    finished_fifo: VecDeque<u64>,
    pos_lots: i64,
    pos_ts: Option<i64>,
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
    ) -> Self {
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
            let market = Market::new(MarketParams {
                seed,
                start_tick,
                levels: cfg.levels,
                max_lots: cfg.max_level_lots as i64,
                trade_ratio: cfg.trade_ratio,
                fuse_order: cfg.fuse_deletions,
            });
            by_symbol.insert(ins.symbol.clone(), i);
            insts.push(Inst {
                symbol: ins.symbol.clone(),
                tick_size: ins.tick_size,
                lot_size: ins.lot_size,
                market,
                fuse: None,
                initial_pending: false,
                orders: Vec::new(),
                finished: HashMap::new(),
                finished_fifo: VecDeque::new(),
                pos_lots: 0,
                pos_ts: None,
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
        }
    }

    fn run(&mut self, cmd_rx: &mpsc::Receiver<Command>) {
        let period = (self.cfg.rate > 0.0).then(|| Duration::from_secs_f64(1.0 / self.cfg.rate));
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
            let active = !self.paused && self.insts.iter().any(Inst::streaming);
            match (period, active) {
                (Some(period), true) => {
                    let mut n = 0;
                    while next_due <= now && n < MAX_BURST {
                        self.market_step();
                        next_due += period;
                        n += 1;
                    }
                    if now.saturating_duration_since(next_due) > Duration::from_millis(100) {
                        // Too far behind (e.g. the machine stalled): drop the backlog.
                        next_due = now;
                    }
                }
                _ => next_due = now,
            }

            // Idle until the next market event, delayed request or poll.
            let mut wake = now + poll;
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

    fn register(&mut self, src: u64, symbol: String) {
        inc(&self.out.counters().registrations);
        self.out.send(src, &LiveEvent::BatchStart);
        if let Some(&idx) = self.by_symbol.get(&symbol) {
            let inst = &mut self.insts[idx];
            for r in &inst.orders {
                self.out.send(
                    src,
                    &LiveEvent::Order {
                        symbol: symbol.clone(),
                        order: r.order.clone(),
                    },
                );
            }
            if let Some(ts) = inst.pos_ts {
                self.out.send(
                    src,
                    &LiveEvent::Position {
                        symbol: symbol.clone(),
                        qty: inst.pos_lots as f64 * inst.lot_size,
                        exch_ts: ts,
                    },
                );
            }
            match &inst.fuse {
                Some(fuse) => {
                    for event in fuse.snapshot() {
                        self.out.send(
                            src,
                            &LiveEvent::Feed {
                                symbol: symbol.clone(),
                                event,
                            },
                        );
                    }
                }
                None => {
                    inst.fuse = Some(FusedHashMapMarketDepth::new(inst.tick_size, inst.lot_size));
                    inst.initial_pending = true;
                }
            }
        }
        self.out.send(src, &LiveEvent::BatchEnd);
        inc(&self.out.counters().batches_sent);
        if let Some(&idx) = self.by_symbol.get(&symbol) {
            if self.insts[idx].initial_pending && !self.paused {
                self.publish_initial(idx);
            }
        }
    }

    /// Publishes the whole book as plain depth events in one batch to all bots, like the
    /// connector does with the REST depth snapshot when a symbol's stream starts.
    fn publish_initial(&mut self, idx: usize) {
        let inst = &mut self.insts[idx];
        inst.initial_pending = false;
        let mut levels: Vec<Level> = inst
            .market
            .bids
            .iter()
            .rev()
            .map(|(&tick, &lots)| Level {
                buy: true,
                tick,
                lots,
            })
            .collect();
        levels.extend(inst.market.asks.iter().map(|(&tick, &lots)| Level {
            buy: false,
            tick,
            lots,
        }));
        let ts = self.out.now_ns();
        publish_depth(&mut self.out, inst, &levels, ts, self.cfg.depth_batches);
        self.stream_started.get_or_insert_with(Instant::now);
    }

    fn market_step(&mut self) {
        let n = self.insts.len();
        for k in 0..n {
            let idx = (self.rr + k) % n;
            if self.insts[idx].streaming() {
                self.rr = idx + 1;
                let step = self.insts[idx].market.step();
                self.publish_step(idx, &step);
                inc(&self.out.counters().market_events);
                self.match_resting(idx, &step.trades);
                return;
            }
        }
    }

    fn publish_step(&mut self, idx: usize, step: &Step) {
        let inst = &mut self.insts[idx];
        let ts = self.out.now_ns();
        for tr in &step.trades {
            publish_trade(&mut self.out, inst, tr, ts);
        }
        publish_depth(&mut self.out, inst, &step.depth, ts, self.cfg.depth_batches);
    }

    /// Fills resting orders after a market event: trades through their price fill up to the
    /// traded quantity; a touch that crosses their price fills them completely.
    fn match_resting(&mut self, idx: usize, trades: &[Trade]) {
        if self.insts[idx].orders.is_empty() {
            return;
        }
        let mut fills: Vec<(u64, i64)> = Vec::new(); // (seq, lots)
        {
            let inst = &self.insts[idx];
            let mut taken: HashMap<u64, i64> = HashMap::new();
            for tr in trades {
                // A sell aggressor hits resting buys at or above the trade price, and vice versa.
                let mut cands: Vec<&Resting> = inst
                    .orders
                    .iter()
                    .filter(|r| {
                        r.buy != tr.buy
                            && if r.buy {
                                r.tick >= tr.tick
                            } else {
                                r.tick <= tr.tick
                            }
                    })
                    .collect();
                cands.sort_by_key(|r| (if r.buy { -r.tick } else { r.tick }, r.seq));
                let mut left = tr.lots;
                for r in cands {
                    if left == 0 {
                        break;
                    }
                    let used = taken.entry(r.seq).or_insert(0);
                    let f = (r.leaves - *used).min(left);
                    if f > 0 {
                        *used += f;
                        left -= f;
                        fills.push((r.seq, f));
                    }
                }
            }
            let bb = inst.market.best_bid();
            let ba = inst.market.best_ask();
            for r in &inst.orders {
                let crossed = if r.buy {
                    ba.is_some_and(|a| r.tick >= a)
                } else {
                    bb.is_some_and(|b| r.tick <= b)
                };
                if crossed {
                    let used = taken.get(&r.seq).copied().unwrap_or(0);
                    if r.leaves > used {
                        fills.push((r.seq, r.leaves - used));
                    }
                }
            }
        }
        for (seq, lots) in fills {
            if let Some(k) = self.insts[idx].orders.iter().position(|r| r.seq == seq) {
                let tick = self.insts[idx].orders[k].tick;
                self.fill_resting(idx, k, lots, tick);
            }
        }
    }

    fn fill_resting(&mut self, idx: usize, k: usize, lots: i64, tick: i64) {
        let ts = self.out.now_ns();
        let inst = &mut self.insts[idx];
        let r = &mut inst.orders[k];
        r.leaves -= lots;
        let buy = r.buy;
        let exec_tick = {
            let o = &r.order;
            if o.tick_size > 0.0 && o.tick_size != inst.tick_size {
                (tick as f64 * inst.tick_size / o.tick_size).round() as i64
            } else {
                tick
            }
        };
        let o = &mut r.order;
        o.exec_qty = lots as f64 * inst.lot_size;
        o.exec_price_tick = exec_tick;
        o.leaves_qty = r.leaves as f64 * inst.lot_size;
        o.status = if r.leaves == 0 {
            Status::Filled
        } else {
            Status::PartiallyFilled
        };
        o.maker = true;
        o.req = Status::None;
        o.exch_timestamp = ts;
        let order = o.clone();
        let done = r.leaves == 0;
        if done {
            inst.orders.remove(k);
            inst.remember_finished(order.clone());
        }
        let symbol = inst.symbol.clone();
        self.out.send(TO_ALL, &LiveEvent::Order { symbol, order });
        inc(&self.out.counters().fills);
        self.update_position(idx, if buy { lots } else { -lots }, ts);
    }

    fn update_position(&mut self, idx: usize, delta_lots: i64, ts: i64) {
        let inst = &mut self.insts[idx];
        inst.pos_lots += delta_lots;
        inst.pos_ts = Some(ts);
        let ev = LiveEvent::Position {
            symbol: inst.symbol.clone(),
            qty: inst.pos_lots as f64 * inst.lot_size,
            exch_ts: ts,
        };
        self.out.send(TO_ALL, &ev);
    }

    fn reject(&mut self, symbol: String, mut order: Order, code: i64, msg: &str) {
        order.req = Status::None;
        order.status = Status::Expired;
        self.out.send(TO_ALL, &LiveEvent::Order { symbol, order });
        self.out.send(TO_ALL, &order_error(code, msg));
        inc(&self.out.counters().rejects);
    }

    fn submit(&mut self, symbol: String, mut order: Order) {
        let Some(&idx) = self.by_symbol.get(&symbol) else {
            return self.reject(symbol, order, -1121, "Invalid symbol.");
        };
        if self.reject_code != 0 {
            let code = self.reject_code;
            return self.reject(
                symbol,
                order,
                code,
                "Order rejected by hftlive-sim (fault injection).",
            );
        }
        if self.insts[idx]
            .orders
            .iter()
            .any(|r| r.order.order_id == order.order_id)
        {
            // The connector cannot map a second live order with the same id: it expires the
            // request without an error event.
            order.req = Status::None;
            order.status = Status::Expired;
            self.out.send(TO_ALL, &LiveEvent::Order { symbol, order });
            inc(&self.out.counters().expired);
            return;
        }

        let (tick_size, lot_size) = (self.insts[idx].tick_size, self.insts[idx].lot_size);
        let buy = match order.side {
            Side::Buy => true,
            Side::Sell => false,
            _ => {
                return self.reject(
                    symbol,
                    order,
                    -1102,
                    "Mandatory parameter 'side' was not sent, was empty/null, or malformed.",
                )
            }
        };
        if order.order_type == OrdType::Unsupported {
            return self.reject(symbol, order, -1116, "Invalid orderType.");
        }
        if order.time_in_force == TimeInForce::Unsupported {
            return self.reject(symbol, order, -1115, "Invalid timeInForce.");
        }
        if !order.qty.is_finite() || order.qty <= 0.0 {
            return self.reject(symbol, order, -4003, "Quantity less than or equal to zero.");
        }
        let lots_f = order.qty / lot_size;
        let lots = lots_f.round();
        if (lots_f - lots).abs() > 1e-6 * lots.max(1.0) || lots > 1e15 {
            return self.reject(
                symbol,
                order,
                -1111,
                "Precision is over the maximum defined for this asset.",
            );
        }
        let lots = lots as i64;
        if lots < 1 {
            return self.reject(symbol, order, -4003, "Quantity less than or equal to zero.");
        }
        let market_order = order.order_type == OrdType::Market;
        let order_tick_size = if order.tick_size > 0.0 {
            order.tick_size
        } else {
            tick_size
        };
        let price = order.price_tick as f64 * order_tick_size;
        let tick_f = price / tick_size;
        let tick = tick_f.round() as i64;
        if !market_order {
            if tick <= 0 {
                return self.reject(symbol, order, -4001, "Price less than 0.");
            }
            if (tick_f - tick_f.round()).abs() > 1e-6 {
                return self.reject(symbol, order, -4014, "Price not increased by tick size.");
            }
        }
        let limit = (!market_order).then_some(tick);
        let (bb, ba) = (
            self.insts[idx].market.best_bid(),
            self.insts[idx].market.best_ask(),
        );
        if order.time_in_force == TimeInForce::GTX {
            let crosses = market_order
                || if buy {
                    ba.is_some_and(|a| tick >= a)
                } else {
                    bb.is_some_and(|b| tick <= b)
                };
            if crosses {
                return self.reject(
                    symbol,
                    order,
                    -5022,
                    "Due to the order could not be executed as maker, the Post Only order will \
                     be rejected. The order will not be recorded in the order history",
                );
            }
        }
        if order.time_in_force == TimeInForce::FOK
            && self.insts[idx].market.fillable(buy, limit, lots) < lots
        {
            return self.reject(
                symbol,
                order,
                -5021,
                "Due to the order could not be filled immediately, the FOK order has been \
                 rejected. The order will not be recorded in the order history",
            );
        }

        // Accepted.
        let ts = self.out.now_ns();
        order.req = Status::None;
        order.status = Status::New;
        order.exch_timestamp = ts;
        order.leaves_qty = order.qty;
        order.exec_qty = 0.0;
        order.exec_price_tick = 0;
        order.maker = false;
        self.out.send(
            TO_ALL,
            &LiveEvent::Order {
                symbol: symbol.clone(),
                order: order.clone(),
            },
        );
        inc(&self.out.counters().acks);

        // Aggressive part. While the market is paused the book is frozen: fills do not take
        // liquidity (nothing could be published for it).
        let deplete = !self.paused;
        let (fills, depth) = self.insts[idx].market.consume(buy, limit, lots, deplete);
        let mut left = lots;
        let rest = self.cfg.rest_fills;
        for (k, &(t, f)) in fills.iter().enumerate() {
            left -= f;
            let ts = self.out.now_ns();
            order.exec_qty = if rest {
                (lots - left) as f64 * lot_size
            } else {
                f as f64 * lot_size
            };
            order.exec_price_tick = if rest {
                0
            } else {
                self.insts[idx].order_tick(&order, t)
            };
            order.leaves_qty = left as f64 * lot_size;
            order.status = if left == 0 {
                Status::Filled
            } else {
                Status::PartiallyFilled
            };
            order.maker = false;
            order.exch_timestamp = ts;
            if !rest || k + 1 == fills.len() {
                self.out.send(
                    TO_ALL,
                    &LiveEvent::Order {
                        symbol: symbol.clone(),
                        order: order.clone(),
                    },
                );
            }
            inc(&self.out.counters().fills);
            if !rest {
                self.update_position(idx, if buy { f } else { -f }, ts);
            }
        }
        if rest && !fills.is_empty() {
            // After the one order update, like the per-execution path.
            let filled = lots - left;
            let ts = self.out.now_ns();
            self.update_position(idx, if buy { filled } else { -filled }, ts);
        }
        if deplete && !fills.is_empty() && self.insts[idx].streaming() {
            let ts = self.out.now_ns();
            let inst = &mut self.insts[idx];
            for &(t, f) in &fills {
                publish_trade(
                    &mut self.out,
                    inst,
                    &Trade {
                        buy,
                        tick: t,
                        lots: f,
                    },
                    ts,
                );
            }
            publish_depth(&mut self.out, inst, &depth, ts, self.cfg.depth_batches);
        }

        if left == 0 {
            self.insts[idx].remember_finished(order);
        } else if market_order
            || order.time_in_force == TimeInForce::IOC
            || order.time_in_force == TimeInForce::FOK
        {
            order.status = Status::Expired;
            order.exec_qty = 0.0;
            order.exch_timestamp = self.out.now_ns();
            self.out.send(
                TO_ALL,
                &LiveEvent::Order {
                    symbol,
                    order: order.clone(),
                },
            );
            inc(&self.out.counters().expired);
            self.insts[idx].remember_finished(order);
        } else {
            self.seq += 1;
            self.insts[idx].orders.push(Resting {
                seq: self.seq,
                order,
                buy,
                tick,
                leaves: left,
            });
        }
    }

    fn cancel(&mut self, symbol: String, order: Order) {
        let Some(&idx) = self.by_symbol.get(&symbol) else {
            return;
        };
        let inst = &mut self.insts[idx];
        if let Some(k) = inst
            .orders
            .iter()
            .position(|r| r.order.order_id == order.order_id)
        {
            let r = inst.orders.remove(k);
            let mut o = r.order;
            o.status = Status::Canceled;
            o.req = Status::None;
            o.exec_qty = 0.0;
            o.exch_timestamp = self.out.now_ns();
            inst.remember_finished(o.clone());
            self.out
                .send(TO_ALL, &LiveEvent::Order { symbol, order: o });
            inc(&self.out.counters().cancels);
        } else if self.cfg.cancel_race {
            if let Some(done) = inst.finished.get(&order.order_id) {
                let mut o = done.clone();
                o.status = Status::None;
                o.req = Status::None;
                self.out
                    .send(TO_ALL, &LiveEvent::Order { symbol, order: o });
                self.out
                    .send(TO_ALL, &order_error(-2011, "Unknown order sent."));
            }
        }
        // A cancel of an order id the connector never mapped is only logged by the connector.
    }
}

fn publish_trade(out: &mut Out, inst: &Inst, tr: &Trade, ts: i64) {
    let ev = LiveEvent::Feed {
        symbol: inst.symbol.clone(),
        event: Event {
            ev: if tr.buy {
                LOCAL_BUY_TRADE_EVENT
            } else {
                LOCAL_SELL_TRADE_EVENT
            },
            exch_ts: ts,
            local_ts: ts,
            px: tr.tick as f64 * inst.tick_size,
            qty: tr.lots as f64 * inst.lot_size,
            order_id: 0,
            ival: 0,
            fval: 0.0,
        },
    };
    out.send(TO_ALL, &ev);
}

/// Publishes one depth message through the instrument's fused depth, exactly as the connector's
/// publisher does (events the fused depth drops are not published; deletions it generates for
/// crossed levels are).
fn publish_depth(out: &mut Out, inst: &mut Inst, levels: &[Level], ts: i64, batches: bool) {
    if levels.is_empty() {
        return;
    }
    let Some(fuse) = inst.fuse.as_mut() else {
        return;
    };
    if batches {
        out.send(TO_ALL, &LiveEvent::BatchStart);
    }
    for lv in levels {
        let event = Event {
            ev: if lv.buy {
                LOCAL_BID_DEPTH_EVENT
            } else {
                LOCAL_ASK_DEPTH_EVENT
            },
            exch_ts: ts,
            local_ts: ts,
            px: lv.tick as f64 * inst.tick_size,
            qty: lv.lots as f64 * inst.lot_size,
            order_id: 0,
            ival: 0,
            fval: 0.0,
        };
        let emitted = if lv.buy {
            fuse.update_bid_depth(event)
        } else {
            fuse.update_ask_depth(event)
        };
        for event in emitted {
            out.send(
                TO_ALL,
                &LiveEvent::Feed {
                    symbol: inst.symbol.clone(),
                    event,
                },
            );
        }
    }
    if batches {
        out.send(TO_ALL, &LiveEvent::BatchEnd);
    }
}
