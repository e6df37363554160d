//! The client object, the crate's safe API: open a client on a JSON configuration
//! (`rust/ABI.md`), read its records with [`Client::poll`] (hot loop) or
//! [`Client::wait`] + [`Client::drain`] (stream), send orders, query books and orders, close.
//! The C ABI (`crate::abi`) is a thin layer over it.
//!
//! ```no_run
//! use std::time::Duration;
//! let client = hftlive::Client::open(
//!     r#"{"instruments":[{"connector":"bf","symbol":"btcusdt","tick_size":0.1,"lot_size":0.001}]}"#,
//! )?;
//! let mut buf = vec![0u8; 64 * 256];
//! let n = client.poll(&mut buf, Duration::from_millis(10))?;
//! for rec in buf[..n * 64].chunks_exact(64) {
//!     let r = hftlive::record::RecView(rec);
//!     println!("record kind {}", r.kind());
//! }
//! client.close();
//! # Ok::<(), hftlive::Error>(())
//! ```

use std::{
    panic::{catch_unwind, AssertUnwindSafe},
    path::Path,
    sync::{atomic::Ordering::Relaxed, mpsc, Arc, Mutex},
    thread::JoinHandle,
    time::{Duration, Instant},
};

use crate::{
    book::Levels,
    commands::{CancelOrder, NewOrder, RawCancelOrder, RawNewOrder},
    config::{ClientConfig, Mode},
    doorbell::AcceptError,
    engine::{self, rescue_after_failure, Engine},
    error::{fail, Error, ErrorKind},
    inline,
    iox::ChannelConfig,
    record::{self, REC_SIZE},
    recorder::{RecAsset, RecordConfig, Recorder, RECORD_STATS},
    ring,
    shared::Shared,
    signal::WaitResult,
    sync::LockExt,
};

/// The refusal of `bell_listen` for an inline client (or, at the ABI, a null path).
pub(crate) const BELL_REFUSED: &str =
    "hl_client_bell_listen: null path, or an inline client (it has no engine thread)";

/// A client: its engine (on its own thread, or inline on the thread that opened it) and what it
/// shares with it. Cheap to clone (one `Arc`); closed by [`Client::close`] or when the last
/// clone is dropped.
#[derive(Clone)]
pub struct Client(Arc<ClientInner>);

struct ClientInner {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// The id of the inline engine in its thread's table ([`inline`]).
    inline: Option<u64>,
    /// Recordings by id (`crate::recorder`), stopped at the latest when the client closes.
    recorders: Mutex<Vec<(u32, Arc<Recorder>)>>,
    next_recorder: std::sync::atomic::AtomicU32,
}

/// The message of a panic payload.
fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

fn random_bot_id() -> u64 {
    loop {
        let id: u64 = rand::random();
        if id != 0 {
            break id;
        }
    }
}

impl Client {
    /// Opens a client from a JSON configuration (`rust/ABI.md`). The engine builds its IPC
    /// ports before this returns, so IPC failures are reported here. An inline client's engine
    /// stays on this thread: only this thread can poll it.
    pub fn open(json: &str) -> Result<Client, Error> {
        let config = ClientConfig::parse(json).map_err(|m| Error::new(ErrorKind::Config, m))?;
        let channel = ChannelConfig::from_env()?;
        let bot_id = config.bot_id.unwrap_or_else(random_bot_id);
        let (producer, consumer) = ring::ring(config.ring_capacity);
        let (cmd_tx, cmd_rx) = mpsc::channel();
        let mode = config.mode;
        let shared = Arc::new(Shared::new(config, channel, bot_id, consumer, cmd_tx));
        let ipc = |m: String| Error::new(ErrorKind::Ipc, m);
        let client = |thread, inline| {
            Client(Arc::new(ClientInner {
                shared: shared.clone(),
                thread: Mutex::new(thread),
                inline,
                recorders: Mutex::new(Vec::new()),
                next_recorder: 1.into(),
            }))
        };
        if mode == Mode::Inline {
            let engine = Engine::build(shared.clone(), cmd_rx, producer)?;
            return Ok(client(None, Some(inline::adopt(engine))));
        }
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let s2 = shared.clone();
        let thread = std::thread::Builder::new()
            .name("hftlive-engine".into())
            .spawn(move || {
                let watch = s2.clone();
                let run = AssertUnwindSafe(|| engine::run(s2, cmd_rx, producer, ready_tx));
                if let Err(p) = catch_unwind(run) {
                    let why = format!("the engine thread panicked: {}", panic_text(&*p));
                    fail_engine(&watch, why);
                }
            })
            .map_err(|e| ipc(format!("cannot start the engine thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(client(Some(thread), None)),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                fail(
                    ErrorKind::Panic,
                    "the engine thread panicked while starting",
                )
            }
        }
    }

    /// Stops the engine and joins it; pending waits return `Closed`. Idempotent. With
    /// `cancel_on_exit`, the engine first cancels every active order and waits for the answers
    /// (at most `exit_timeout_ms`), so this returns once they are finished.
    pub fn close(&self) {
        self.0.close();
    }

    /// Starts closing without waiting (the engine thread's cancel on exit runs meanwhile);
    /// [`Client::close`] then waits. For closing many clients at once.
    pub(crate) fn begin_close(&self) {
        self.shared().signal().close();
    }

    /// Whether the engine runs inline (on the thread that opened the client).
    pub fn is_inline(&self) -> bool {
        self.0.inline.is_some()
    }

    fn shared(&self) -> &Shared {
        &self.0.shared
    }

    /// Hot-loop poll: waits up to `timeout` for records and drains them into `out` (whole
    /// 64-byte records); `Ok(0)` on timeout. An inline client runs its engine here (on the
    /// thread that opened it only); a threaded one waits for its engine thread, spinning
    /// `poll_spin_us` first.
    pub fn poll(&self, out: &mut [u8], timeout: Duration) -> Result<usize, Error> {
        let shared = self.shared();
        let Some(id) = self.0.inline else {
            let spin = Duration::from_micros(shared.config().poll_spin_us);
            return match shared.signal().wait(timeout, spin) {
                WaitResult::Ready(_) => Ok(self.drain(out)),
                WaitResult::Closed => Err(Error::closed()),
                WaitResult::Failed => Err(shared.failure()),
                WaitResult::Timeout | WaitResult::Woken => Ok(0),
            };
        };
        let signal = shared.signal();
        if signal.is_failed() {
            return match signal.ready() {
                0 => Err(shared.failure()),
                _ => Ok(self.drain(out)),
            };
        }
        let start = Instant::now();
        let r = inline::with(id, |engine| {
            catch_unwind(AssertUnwindSafe(|| loop {
                if signal.is_closed() {
                    return Err(Error::closed());
                }
                if signal.ready() > 0 {
                    return Ok(self.drain(out));
                }
                let busy = engine.step();
                if signal.ready() > 0 {
                    continue;
                }
                if start.elapsed() >= timeout {
                    return Ok(0);
                }
                if !busy {
                    engine.idle();
                }
            }))
        });
        match r {
            Some(Ok(r)) => r,
            Some(Err(p)) => {
                // The engine is in an unknown state after a panic: it is not run again.
                fail_engine(
                    shared,
                    format!("the inline engine panicked: {}", panic_text(&*p)),
                );
                Err(shared.failure())
            }
            None if signal.is_closed() => Err(Error::closed()),
            None => fail(
                ErrorKind::State,
                "an inline client can only be polled by the thread that opened it",
            ),
        }
    }

    /// Waits (parks) until records are ready (their count), the timeout passes or the client is
    /// woken (`Ok(0)`), or it is closed. Not for inline clients: they have no engine thread.
    pub fn wait(&self, timeout: Duration) -> Result<usize, Error> {
        if self.is_inline() {
            return fail(
                ErrorKind::State,
                "an inline client has no engine thread to wait for: use hl_client_poll",
            );
        }
        match self.shared().signal().wait(timeout, Duration::ZERO) {
            WaitResult::Ready(n) => Ok(n),
            WaitResult::Timeout | WaitResult::Woken => Ok(0),
            WaitResult::Closed => Err(Error::closed()),
            WaitResult::Failed => Err(self.shared().failure()),
        }
    }

    /// Copies the records ready now into `out` (whole 64-byte records); returns how many.
    pub fn drain(&self, out: &mut [u8]) -> usize {
        self.shared().drain(out)
    }

    /// Wakes every pending [`Client::wait`] (they return `Ok(0)`).
    pub fn wake(&self) {
        self.shared().signal().wake_all();
    }

    /// Arms the doorbell: `Ok(n > 0)` records are ready (drain them; not armed), `Ok(0)` armed
    /// (the engine rings when records arrive).
    pub fn arm(&self) -> Result<usize, Error> {
        let signal = self.shared().signal();
        let n = signal.arm();
        if n > 0 {
            return Ok(n);
        }
        if signal.is_failed() {
            return Err(self.shared().failure());
        }
        if signal.is_closed() {
            return Err(Error::closed());
        }
        Ok(0)
    }

    /// Doorbell, step 1: listens on a Unix socket at `path` (any file there is replaced).
    pub fn bell_listen(&self, path: &Path) -> Result<(), Error> {
        if self.is_inline() {
            return fail(ErrorKind::Argument, BELL_REFUSED);
        }
        self.shared().signal().bell().listen(path).map_err(|e| {
            Error::new(
                ErrorKind::Ipc,
                format!("cannot listen on {}: {e}", path.display()),
            )
        })
    }

    /// Doorbell, step 2 (after the caller connected): accepts, removes the socket file, and
    /// installs the doorbell.
    pub fn bell_accept(&self) -> Result<(), Error> {
        use ErrorKind::{Ipc, State};
        match self.shared().signal().bell().accept() {
            Ok(()) => Ok(()),
            Err(AcceptError::NotListening) => {
                fail(State, "hl_client_bell_accept: no hl_client_bell_listen")
            }
            Err(AcceptError::NoConnection(p, e)) => fail(
                State,
                format!(
                    "hl_client_bell_accept: no connection on {}: {e}",
                    p.display()
                ),
            ),
            Err(AcceptError::Setup(e)) => fail(Ipc, format!("cannot set up the doorbell: {e}")),
        }
    }

    /// Checks and queues a new order; an inline client sends it at once when called on its
    /// thread.
    pub fn submit(&self, order: &NewOrder) -> Result<(), Error> {
        self.shared().submit(order)?;
        self.flush_commands();
        Ok(())
    }

    /// Checks and queues the cancellation of an active order.
    pub fn cancel(&self, cancel: &CancelOrder) -> Result<(), Error> {
        self.shared().cancel(cancel)?;
        self.flush_commands();
        Ok(())
    }

    /// [`Client::submit`] of the ABI's arguments (a closed client refuses before decoding).
    pub(crate) fn submit_raw(&self, raw: RawNewOrder) -> Result<(), Error> {
        self.shared().ensure_open()?;
        self.submit(&NewOrder::try_from(raw)?)
    }

    /// [`Client::cancel`] of the ABI's arguments (a closed client refuses before decoding).
    pub(crate) fn cancel_raw(&self, raw: RawCancelOrder) -> Result<(), Error> {
        self.shared().ensure_open()?;
        self.cancel(&CancelOrder::try_from(raw)?)
    }

    /// After a submit or cancel: an inline client sends at once when called on its thread.
    fn flush_commands(&self) {
        if let Some(id) = self.0.inline {
            inline::with(id, |e| e.send_commands());
        }
    }

    /// The position of `asset` and the exchange time of its last change (ns).
    pub fn position(&self, asset: usize) -> Result<(f64, i64), Error> {
        let st = self.shared().state();
        let a = st.asset(asset)?;
        Ok((a.position, a.position_ts))
    }

    /// The top `levels` levels of each side of `asset`'s book, best first.
    pub fn depth(&self, asset: usize, levels: usize) -> Result<(Levels, Levels), Error> {
        Ok(self.shared().state().asset(asset)?.book.top(levels))
    }

    /// The active orders of `asset` as ORDER records in `out` (by id); returns how many.
    pub fn orders(&self, asset: usize, out: &mut [u8]) -> Result<usize, Error> {
        let st = self.shared().state();
        let a = st.asset(asset)?;
        let max = out.len() / REC_SIZE;
        if a.orders.len() > max {
            return fail(
                ErrorKind::Buffer,
                format!(
                    "{} active orders do not fit in {max} records",
                    a.orders.len()
                ),
            );
        }
        let mut ids: Vec<_> = a.orders.keys().copied().collect();
        ids.sort_unstable();
        for (rec, id) in out.chunks_exact_mut(REC_SIZE).zip(&ids) {
            let o = &a.orders[id];
            rec.copy_from_slice(&record::order(asset, o, o.status as u8));
        }
        Ok(ids.len())
    }

    /// The counters, in `hl_client_stats` order (`rust/ABI.md`, "Stats").
    pub fn stats(&self) -> [f64; 16] {
        let shared = self.shared();
        let s = shared.stats();
        let n = |a: &std::sync::atomic::AtomicU64| a.load(Relaxed) as f64;
        [
            n(&s.pushed),
            n(&s.dropped),
            n(&s.foreign_orders),
            n(&s.ipc_errors),
            n(&s.registrations),
            n(&s.loops),
            shared.config().ring_capacity as f64,
            shared.signal().ready() as f64,
            n(&s.queued),
            n(&s.in_flight),
            n(&s.sent),
            n(&s.unanswered),
            n(&s.refused),
            n(&s.adopted),
            n(&s.window),
            shared.config().max_queued_requests as f64,
        ]
    }

    /// Starts recording market data (JSON options: `rust/ABI.md`, "Recording"); returns the
    /// recording's id (>= 1) for [`Client::record_stop`] and [`Client::record_stats`].
    pub fn record(&self, json: &str) -> Result<u32, Error> {
        let shared = self.shared();
        shared.ensure_open()?;
        let cfg = shared.config();
        let config = RecordConfig::parse(json, cfg.instruments.len())?;
        let all: Vec<usize> = (0..cfg.instruments.len()).collect();
        let assets = config
            .assets
            .as_ref()
            .unwrap_or(&all)
            .iter()
            .map(|&a| {
                let i = &cfg.instruments[a];
                RecAsset {
                    asset: a,
                    connector: i.connector.clone(),
                    symbol: i.symbol.clone(),
                    tick_size: i.tick_size,
                    lot_size: i.lot_size,
                }
            })
            .collect();
        let (rec, tap) = Recorder::start(config, assets)?;
        shared.attach_tap(tap);
        let id = self.0.next_recorder.fetch_add(1, Relaxed);
        let mut recs = self.0.recorders.lock_or_recover();
        recs.push((id, Arc::new(rec)));
        Ok(id)
    }

    fn recorder(&self, id: u32) -> Result<Arc<Recorder>, Error> {
        let recs = self.0.recorders.lock_or_recover();
        match recs.iter().find(|(i, _)| *i == id) {
            Some((_, r)) => Ok(r.clone()),
            None => fail(ErrorKind::NotFound, format!("no recording {id}")),
        }
    }

    /// Stops recording `id`: returns once every file is complete. A stopped recording stays
    /// readable ([`Client::record_stats`], [`Client::record_info`]) until the client closes.
    pub fn record_stop(&self, id: u32) -> Result<(), Error> {
        self.recorder(id)?.stop();
        Ok(())
    }

    /// Counters of recording `id` (`rust/ABI.md`, "Recording").
    pub fn record_stats(&self, id: u32) -> Result<[f64; RECORD_STATS], Error> {
        Ok(self.recorder(id)?.stats())
    }

    /// The complete files of recording `id` and its first I/O failure, as JSON.
    pub fn record_info(&self, id: u32) -> Result<String, Error> {
        Ok(self.recorder(id)?.info_json())
    }

    /// The message of the last failure reported through the C ABI.
    pub fn last_error(&self) -> String {
        self.shared().last_error()
    }

    pub(crate) fn set_last_error(&self, msg: &str) {
        self.shared().set_last_error(msg);
    }

    /// The text of the oldest unread ERROR record.
    pub fn take_message(&self) -> Option<String> {
        self.shared().take_message()
    }

    /// Fault injection for tests: 1 makes the engine panic at its next step (the engine thread,
    /// or the next poll of an inline client), as a bug in the core would; 2 makes it emit one
    /// record of a kind unknown to ABI v1 readers (0xEE); 3 starts the test producer (the
    /// engine fills the ring with TRADE records numbered 0, 1, 2, … in their price, as fast as
    /// the ring has room: a producer that is never the bottleneck) and 4 stops it.
    #[cfg(feature = "fault-injection")]
    pub fn inject_fault(&self, kind: u32) -> Result<(), Error> {
        if !(1..=4).contains(&kind) {
            return fail(
                ErrorKind::Argument,
                format!(
                    "hl_client_fault: kind {kind} is not 1 (engine panic), 2 (unknown record), \
                     3 (start the test producer) or 4 (stop it)"
                ),
            );
        }
        self.shared().inject_fault(kind);
        Ok(())
    }
}

/// The engine stopped by itself: with `cancel_on_exit`, cancels go out through fresh ports
/// first; then the client fails with `why` and what was sent.
fn fail_engine(shared: &Shared, why: String) {
    let why = match rescue_after_failure(shared) {
        Some(what) => format!("{why}; {what}"),
        None => why,
    };
    shared.fail(why);
}

impl ClientInner {
    fn close(&self) {
        // A doorbell listener never accepted (closed while the caller was connecting): its
        // socket file goes with it.
        self.shared.signal().bell().abandon();
        self.shared.signal().close();
        if let Some(id) = self.inline {
            inline::close(id);
        }
        if let Some(t) = self.thread.lock_or_recover().take() {
            let _ = t.join();
        }
        // After the engine: everything it queued is in the files.
        let recs = self.recorders.lock_or_recover().clone();
        for (_, r) in recs {
            r.stop();
        }
    }
}

impl Drop for ClientInner {
    fn drop(&mut self) {
        self.close();
    }
}
