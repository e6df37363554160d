//! The C ABI (`rust/ABI.md`). Every function returns a status code, catches panics, and takes
//! handles that are ids into a slot table with a generation check.

use std::{
    panic::{catch_unwind, AssertUnwindSafe},
    sync::{mpsc, Arc, Mutex},
    thread::{JoinHandle, ThreadId},
    time::Duration,
};

use crate::{
    config::{ClientConfig, Mode},
    engine::{self, order_record, Engine, OrderRefusal, Shared, State},
    record::REC_SIZE,
    ring::{self, WaitResult},
};

pub const HL_OK: i32 = 0;
pub const HL_E_HANDLE: i32 = -1;
pub const HL_E_ARGUMENT: i32 = -2;
pub const HL_E_CLOSED: i32 = -3;
pub const HL_E_PANIC: i32 = -4;
pub const HL_E_IPC: i32 = -5;
pub const HL_E_NOT_FOUND: i32 = -6;
pub const HL_E_DUPLICATE: i32 = -7;
pub const HL_E_FULL: i32 = -8;
pub const HL_E_CONFIG: i32 = -9;
pub const HL_E_BUFFER: i32 = -10;
pub const HL_E_STATE: i32 = -11;
pub const HL_E_ENGINE: i32 = -12;

/// ABI version checked by the TypeScript loader.
pub const ABI_VERSION: u32 = 1;

/// A table of live objects addressed by `u32` handles: low 16 bits slot, high 16 generation.
pub struct Slots<T> {
    items: Vec<(u16, Option<T>)>,
}

impl<T: Clone> Slots<T> {
    pub const fn new() -> Self {
        Self { items: Vec::new() }
    }

    pub fn insert(&mut self, v: T) -> Option<u32> {
        let idx = match self.items.iter().position(|(_, x)| x.is_none()) {
            Some(i) => i,
            None => {
                if self.items.len() >= 0xFFFF {
                    return None;
                }
                self.items.push((0, None));
                self.items.len() - 1
            }
        };
        let slot = &mut self.items[idx];
        slot.0 = slot.0.wrapping_add(1).max(1);
        slot.1 = Some(v);
        Some(((slot.0 as u32) << 16) | idx as u32)
    }

    pub fn get(&self, h: u32) -> Option<T> {
        let (gen, idx) = ((h >> 16) as u16, (h & 0xFFFF) as usize);
        match self.items.get(idx) {
            Some((g, Some(v))) if *g == gen => Some(v.clone()),
            _ => None,
        }
    }

    pub fn remove(&mut self, h: u32) -> Option<T> {
        let (gen, idx) = ((h >> 16) as u16, (h & 0xFFFF) as usize);
        match self.items.get_mut(idx) {
            Some((g, v @ Some(_))) if *g == gen => v.take(),
            _ => None,
        }
    }
}

impl<T: Clone> Default for Slots<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// An engine run by the thread that opened the client (`"mode": "inline"`).
pub struct InlineEngine {
    owner: ThreadId,
    engine: Mutex<Option<Engine>>,
}

// SAFETY: `Engine` is not `Send` only because hftbacktest's and iceoryx2's ports hold `Rc`s
// that never leave it. Every access goes through `with`, which refuses any thread but the
// owner, and `Drop` on another thread leaks the engine instead of touching it, so the `Rc`s
// are only ever used by the thread that created them.
unsafe impl Send for InlineEngine {}
// SAFETY: as above; the mutex serialises the owner's own (re-entrant free) calls.
unsafe impl Sync for InlineEngine {}

impl InlineEngine {
    /// Runs `f` on the engine if called from the owner thread and the engine is still open.
    pub fn with<R>(&self, f: impl FnOnce(&mut Engine) -> R) -> Option<R> {
        if std::thread::current().id() != self.owner {
            return None;
        }
        let mut g = self.engine.lock().unwrap_or_else(|e| e.into_inner());
        g.as_mut().map(f)
    }

    fn close(&self) {
        let taken = {
            let mut g = self.engine.lock().unwrap_or_else(|e| e.into_inner());
            g.take()
        };
        if let Some(e) = taken {
            if std::thread::current().id() == self.owner {
                drop(e);
            } else {
                // Closed from another thread: the ports may not be touched here.
                std::mem::forget(e);
            }
        }
    }
}

impl Drop for InlineEngine {
    fn drop(&mut self) {
        self.close();
    }
}

/// A client as held by the slot table.
#[derive(Clone)]
pub struct Client {
    pub shared: Arc<Shared>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
    inline: Option<Arc<InlineEngine>>,
}

static CLIENTS: Mutex<Slots<Client>> = Mutex::new(Slots::new());

fn client(h: u32) -> Option<Client> {
    CLIENTS.lock().unwrap_or_else(|e| e.into_inner()).get(h)
}

/// The message of a panic payload.
fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Runs `f` and turns a panic into `HL_E_PANIC`.
pub fn guard(f: impl FnOnce() -> i32) -> i32 {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(HL_E_PANIC)
}

/// Copies `msg` into a caller buffer (truncated at a UTF-8 boundary); returns bytes written.
///
/// # Safety
/// `buf` must be null or valid for `cap` bytes of writes.
pub unsafe fn write_msg(msg: &str, buf: *mut u8, cap: u32) -> i32 {
    if buf.is_null() || cap == 0 {
        return 0;
    }
    let mut n = msg.len().min(cap as usize);
    while !msg.is_char_boundary(n) {
        n -= 1;
    }
    // SAFETY: the caller guarantees `buf` is valid for `cap` bytes and n <= cap.
    unsafe { std::ptr::copy_nonoverlapping(msg.as_ptr(), buf, n) };
    n as i32
}

fn set_error(c: &Client, code: i32, msg: impl Into<String>) -> i32 {
    *c.shared
        .last_error
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = msg.into();
    code
}

/// Opens a client from a JSON configuration; the engine thread builds its IPC ports before
/// this returns, so IPC failures are reported here.
pub fn open_client(json: &str) -> Result<Client, (i32, String)> {
    let config = ClientConfig::parse(json).map_err(|m| (HL_E_CONFIG, m))?;
    let bot_id = config.bot_id.unwrap_or_else(|| loop {
        let id: u64 = rand::random();
        if id != 0 {
            break id;
        }
    });
    let (producer, consumer) = ring::ring(config.ring_capacity);
    let (cmd_tx, cmd_rx) = mpsc::sync_channel(65536);
    let assets = config
        .instruments
        .iter()
        .enumerate()
        .map(|(i, inst)| engine::AssetState {
            tick_size: inst.tick_size,
            lot_size: inst.lot_size,
            book: crate::book::Book::new(&config.depth_of(i), inst.tick_size, inst.lot_size),
            position: 0.0,
            position_ts: 0,
            orders: Default::default(),
            done: Default::default(),
        })
        .collect();
    let ring_capacity = config.ring_capacity;
    let shared = Arc::new(Shared {
        signal: Default::default(),
        consumer: Mutex::new(consumer),
        cmd_tx,
        state: Mutex::new(State { assets }),
        messages: Default::default(),
        last_error: Default::default(),
        stats: Default::default(),
        config,
        bot_id,
        ring_capacity,
        failure: Default::default(),
        fault: Default::default(),
        bell_listener: Default::default(),
    });
    if shared.config.mode == Mode::Inline {
        let engine = Engine::build(shared.clone(), cmd_rx, producer).map_err(|m| (HL_E_IPC, m))?;
        return Ok(Client {
            shared,
            thread: Arc::new(Mutex::new(None)),
            inline: Some(Arc::new(InlineEngine {
                owner: std::thread::current().id(),
                engine: Mutex::new(Some(engine)),
            })),
        });
    }
    let (ready_tx, ready_rx) = mpsc::sync_channel(1);
    let s2 = shared.clone();
    let thread = std::thread::Builder::new()
        .name("hftlive-engine".into())
        .spawn(move || {
            let watch = s2.clone();
            if let Err(p) = catch_unwind(AssertUnwindSafe(|| {
                engine::run(s2, cmd_rx, producer, ready_tx)
            })) {
                watch.fail(format!("the engine thread panicked: {}", panic_text(&p)));
            }
        })
        .map_err(|e| (HL_E_IPC, format!("cannot start the engine thread: {e}")))?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(Client {
            shared,
            thread: Arc::new(Mutex::new(Some(thread))),
            inline: None,
        }),
        Ok(Err(msg)) => {
            let _ = thread.join();
            Err((HL_E_IPC, msg))
        }
        Err(_) => {
            let _ = thread.join();
            Err((
                HL_E_PANIC,
                "the engine thread panicked while starting".into(),
            ))
        }
    }
}

impl Client {
    /// Stops the engine and joins it. Pending waits return `HL_E_CLOSED`.
    pub fn close(&self) {
        // A doorbell listener never accepted (closed while the caller was connecting): its
        // socket file goes with it.
        let listener = self
            .shared
            .bell_listener
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some((_, path)) = listener {
            let _ = std::fs::remove_file(path);
        }
        self.shared.signal.close();
        if let Some(i) = &self.inline {
            i.close();
        }
        if let Some(t) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = t.join();
        }
    }

    /// `HL_E_ENGINE` with the reason the engine stopped as the last error.
    fn failed(&self) -> i32 {
        let why = self
            .shared
            .failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_else(|| "the engine stopped".into());
        set_error(self, HL_E_ENGINE, why)
    }

    /// Hot-loop poll: waits up to `timeout` for records and drains them into `out`. An inline
    /// client runs its engine here; a threaded one waits for its engine thread.
    pub fn poll(&self, out: &mut [u8], timeout: Duration) -> i32 {
        let Some(inline) = &self.inline else {
            let spin = Duration::from_micros(self.shared.config.poll_spin_us);
            return match self.shared.signal.wait(timeout, spin) {
                WaitResult::Ready(_) => self.drain(out) as i32,
                WaitResult::Closed => HL_E_CLOSED,
                WaitResult::Failed => self.failed(),
                _ => 0,
            };
        };
        if self.shared.signal.is_failed() {
            return match self.shared.signal.ready() {
                0 => self.failed(),
                _ => self.drain(out) as i32,
            };
        }
        let start = std::time::Instant::now();
        let r = inline.with(|engine| {
            catch_unwind(AssertUnwindSafe(|| loop {
                if self.shared.signal.is_closed() {
                    return HL_E_CLOSED;
                }
                if self.shared.signal.ready() > 0 {
                    return self.drain(out) as i32;
                }
                let busy = engine.step();
                if self.shared.signal.ready() > 0 {
                    continue;
                }
                if start.elapsed() >= timeout {
                    return 0;
                }
                if !busy {
                    engine.idle();
                }
            }))
        });
        match r {
            Some(Ok(rc)) => rc,
            Some(Err(p)) => {
                // The engine is in an unknown state after a panic: it is not run again.
                self.shared
                    .fail(format!("the inline engine panicked: {}", panic_text(&p)));
                self.failed()
            }
            None if self.shared.signal.is_closed() => HL_E_CLOSED,
            None => set_error(
                self,
                HL_E_STATE,
                "an inline client can only be polled by the thread that opened it",
            ),
        }
    }

    /// After a submit or cancel: an inline client sends at once when called on its thread.
    fn flush_commands(&self) {
        if let Some(i) = &self.inline {
            i.with(|e| e.send_commands());
        }
    }

    pub fn drain(&self, out: &mut [u8]) -> usize {
        let mut c = self
            .shared
            .consumer
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        c.drain_into(out, &self.shared.signal)
    }
}

fn slice_mut<'a>(buf: *mut u8, len: usize) -> Option<&'a mut [u8]> {
    if buf.is_null() {
        return None;
    }
    // SAFETY: the C ABI contract: `buf` is valid for `len` bytes of writes for this call.
    Some(unsafe { std::slice::from_raw_parts_mut(buf, len) })
}

/// The shared body of the `*_open`/`*_start` functions: reads a JSON configuration, creates
/// the object with `create`, writes its handle, or writes the failure's message into `err`.
///
/// # Safety
/// `cfg` valid for `cfg_len` bytes; `out_handle` valid for one u32; `err` null or valid for
/// `err_cap` bytes.
unsafe fn open_object(
    cfg: *const u8,
    cfg_len: u32,
    out_handle: *mut u32,
    err: *mut u8,
    err_cap: u32,
    what: &str,
    create: impl FnOnce(&str) -> Result<u32, (i32, String)>,
) -> i32 {
    guard(|| {
        let fail = |code: i32, msg: &str| {
            // SAFETY: per this function's contract.
            unsafe { write_msg(msg, err, err_cap) };
            code
        };
        if cfg.is_null() || out_handle.is_null() {
            return fail(
                HL_E_ARGUMENT,
                &format!("cannot open {what}: null configuration or handle pointer"),
            );
        }
        // SAFETY: per this function's contract.
        let bytes = unsafe { std::slice::from_raw_parts(cfg, cfg_len as usize) };
        let Ok(json) = std::str::from_utf8(bytes) else {
            return fail(
                HL_E_CONFIG,
                &format!("invalid {what} configuration: not UTF-8"),
            );
        };
        match create(json) {
            Ok(h) => {
                // SAFETY: checked non-null above; valid per contract.
                unsafe { *out_handle = h };
                HL_OK
            }
            Err((code, msg)) => fail(code, &msg),
        }
    })
}

/// ABI version (`rust/ABI.md`).
#[no_mangle]
pub extern "C" fn hl_abi_version() -> u32 {
    ABI_VERSION
}

/// Wall clock in ns since the Unix epoch, as f64.
#[no_mangle]
pub extern "C" fn hl_now() -> f64 {
    engine::now_ns() as f64
}

/// # Safety
/// `cfg` valid for `cfg_len` bytes; `out_handle` valid for one u32; `err` null or valid for
/// `err_cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn hl_client_open(
    cfg: *const u8,
    cfg_len: u32,
    out_handle: *mut u32,
    err: *mut u8,
    err_cap: u32,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe {
        open_object(cfg, cfg_len, out_handle, err, err_cap, "client", |json| {
            let c = open_client(json)?;
            let h = CLIENTS
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(c.clone());
            h.ok_or_else(|| {
                c.close();
                (HL_E_FULL, "too many open clients".to_string())
            })
        })
    }
}

/// Closes a client: wakes waits, stops and joins its engine thread.
#[no_mangle]
pub extern "C" fn hl_client_close(h: u32) -> i32 {
    guard(|| {
        let c = CLIENTS.lock().unwrap_or_else(|e| e.into_inner()).remove(h);
        match c {
            Some(c) => {
                c.close();
                drop(c);
                release_freed_memory();
                HL_OK
            }
            None => HL_E_HANDLE,
        }
    })
}

/// Gives memory freed by a closed client (its ring, its engine thread's allocations) back to
/// the system. glibc keeps freed blocks in per-thread arenas and, after a large block is freed,
/// serves the next large ones from the heap instead of fresh mappings, so without this the
/// resident size of a process that opens and closes clients climbs by tens of MiB before it
/// levels off (measured: +45 MiB over 1,000 connect/close cycles in Deno, back to flat with it).
/// It runs on a short-lived thread: trimming locks glibc's arenas one after another, which
/// must not stall the caller (the JavaScript thread) or other clients' engines for its duration
/// more than a normal allocation would.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    let _ = std::thread::Builder::new()
        .name("hftlive-trim".into())
        .spawn(|| {
            // SAFETY: malloc_trim only walks glibc's own allocator state; it takes no pointers.
            unsafe {
                libc::malloc_trim(0);
            }
        });
}

/// Fault injection for tests: `kind` 1 makes the engine panic at its next step (the engine
/// thread, or the next `hl_client_poll` of an inline client), as a bug in the core would; 2
/// makes it emit one record of a kind unknown to ABI v1 readers (0xEE).
#[no_mangle]
pub extern "C" fn hl_client_fault(h: u32, kind: u32) -> i32 {
    guard(|| match client(h) {
        Some(c) if kind == 1 || kind == 2 => {
            c.shared
                .fault
                .store(kind, std::sync::atomic::Ordering::Relaxed);
            HL_OK
        }
        Some(c) => set_error(
            &c,
            HL_E_ARGUMENT,
            format!("hl_client_fault: kind {kind} is not 1 (engine panic) or 2 (unknown record)"),
        ),
        None => HL_E_HANDLE,
    })
}

/// Doorbell, step 1: listens on a Unix socket at `path` (UTF-8, `len` bytes; any file there is
/// replaced). The caller connects to it with its own event loop, then calls
/// [`hl_client_bell_accept`].
///
/// # Safety
/// `path` valid for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn hl_client_bell_listen(h: u32, path: *const u8, len: u32) -> i32 {
    guard(|| {
        let Some(c) = client(h) else {
            return HL_E_HANDLE;
        };
        if path.is_null() || c.inline.is_some() {
            return set_error(
                &c,
                HL_E_ARGUMENT,
                "hl_client_bell_listen: null path, or an inline client (it has no engine thread)",
            );
        }
        // SAFETY: the caller guarantees `path` is valid for `len` bytes.
        let bytes = unsafe { std::slice::from_raw_parts(path, len as usize) };
        let Ok(p) = std::str::from_utf8(bytes) else {
            return set_error(
                &c,
                HL_E_ARGUMENT,
                "hl_client_bell_listen: path is not UTF-8",
            );
        };
        let p = std::path::PathBuf::from(p);
        let _ = std::fs::remove_file(&p);
        match std::os::unix::net::UnixListener::bind(&p).and_then(|l| {
            l.set_nonblocking(true)?;
            Ok(l)
        }) {
            Ok(l) => {
                *c.shared
                    .bell_listener
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = Some((l, p));
                HL_OK
            }
            Err(e) => set_error(
                &c,
                HL_E_IPC,
                format!("cannot listen on {}: {e}", p.display()),
            ),
        }
    })
}

/// Doorbell, step 2: accepts the caller's connection, removes the socket file and installs the
/// doorbell: from then on, each [`hl_client_arm`] that finds nothing ready makes the engine
/// write one byte when records arrive (and close/wake always write one).
#[no_mangle]
pub extern "C" fn hl_client_bell_accept(h: u32) -> i32 {
    guard(|| {
        let Some(c) = client(h) else {
            return HL_E_HANDLE;
        };
        let taken = c
            .shared
            .bell_listener
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let Some((l, p)) = taken else {
            return set_error(
                &c,
                HL_E_STATE,
                "hl_client_bell_accept: no hl_client_bell_listen",
            );
        };
        let _ = std::fs::remove_file(&p);
        match l.accept() {
            Ok((s, _)) => match c.shared.signal.set_bell(s) {
                Ok(()) => HL_OK,
                Err(e) => set_error(&c, HL_E_IPC, format!("cannot set up the doorbell: {e}")),
            },
            Err(e) => set_error(
                &c,
                HL_E_STATE,
                format!(
                    "hl_client_bell_accept: no connection on {}: {e}",
                    p.display()
                ),
            ),
        }
    })
}

/// Arms the doorbell: `> 0` records are ready (drain them; not armed), `0` armed (the engine
/// rings when records arrive), `< 0` error (`HL_E_CLOSED`, `HL_E_ENGINE` once drained).
#[no_mangle]
pub extern "C" fn hl_client_arm(h: u32) -> i32 {
    guard(|| {
        let Some(c) = client(h) else {
            return HL_E_HANDLE;
        };
        let sig = &c.shared.signal;
        let n = sig.arm();
        if n > 0 {
            return n.min(i32::MAX as usize) as i32;
        }
        if sig.is_failed() {
            return c.failed();
        }
        if sig.is_closed() {
            return HL_E_CLOSED;
        }
        0
    })
}

/// Wakes every pending `hl_client_wait` on the client.
#[no_mangle]
pub extern "C" fn hl_client_wake(h: u32) -> i32 {
    guard(|| match client(h) {
        Some(c) => {
            c.shared.signal.wake_all();
            HL_OK
        }
        None => HL_E_HANDLE,
    })
}

fn wait_code(c: &Client, r: WaitResult) -> i32 {
    match r {
        WaitResult::Ready(n) => n.min(i32::MAX as usize) as i32,
        WaitResult::Timeout | WaitResult::Woken => 0,
        WaitResult::Closed => HL_E_CLOSED,
        WaitResult::Failed => c.failed(),
    }
}

/// Waits (parks) until records are ready, the timeout passes, the client is woken or closed.
#[no_mangle]
pub extern "C" fn hl_client_wait(h: u32, timeout_ms: u32) -> i32 {
    guard(|| match client(h) {
        Some(c) if c.inline.is_some() => set_error(
            &c,
            HL_E_STATE,
            "an inline client has no engine thread to wait for: use hl_client_poll",
        ),
        Some(c) => wait_code(
            &c,
            c.shared
                .signal
                .wait(Duration::from_millis(timeout_ms as u64), Duration::ZERO),
        ),
        None => HL_E_HANDLE,
    })
}

/// # Safety
/// `buf` valid for `max_records * 64` bytes.
#[no_mangle]
pub unsafe extern "C" fn hl_client_drain(h: u32, buf: *mut u8, max_records: u32) -> i32 {
    guard(|| {
        let Some(c) = client(h) else {
            return HL_E_HANDLE;
        };
        let Some(out) = slice_mut(buf, max_records as usize * REC_SIZE) else {
            return set_error(&c, HL_E_ARGUMENT, "hl_client_drain: null buffer");
        };
        c.drain(out) as i32
    })
}

/// # Safety
/// `buf` valid for `max_records * 64` bytes.
#[no_mangle]
pub unsafe extern "C" fn hl_client_poll(
    h: u32,
    buf: *mut u8,
    max_records: u32,
    timeout_us: u32,
) -> i32 {
    guard(|| {
        let Some(c) = client(h) else {
            return HL_E_HANDLE;
        };
        let Some(out) = slice_mut(buf, max_records as usize * REC_SIZE) else {
            return set_error(&c, HL_E_ARGUMENT, "hl_client_poll: null buffer");
        };
        c.poll(out, Duration::from_micros(timeout_us as u64))
    })
}

fn refusal(c: &Client, r: OrderRefusal) -> i32 {
    match r {
        OrderRefusal::Argument(m) => set_error(c, HL_E_ARGUMENT, m),
        OrderRefusal::NotFound(m) => set_error(c, HL_E_NOT_FOUND, m),
        OrderRefusal::Duplicate(m) => set_error(c, HL_E_DUPLICATE, m),
        OrderRefusal::State(m) => set_error(c, HL_E_STATE, m),
        OrderRefusal::Full(m) => set_error(c, HL_E_FULL, m),
        OrderRefusal::Closed => set_error(c, HL_E_CLOSED, "the client is closed"),
    }
}

/// Submits a new order (see `rust/ABI.md` for the argument encoding).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn hl_client_submit(
    h: u32,
    asset: u32,
    order_id: f64,
    side: i32,
    price: f64,
    qty: f64,
    tif: u32,
    ord_type: u32,
) -> i32 {
    guard(|| {
        let Some(c) = client(h) else {
            return HL_E_HANDLE;
        };
        match c
            .shared
            .submit(asset, order_id, side, price, qty, tif, ord_type)
        {
            Ok(()) => {
                c.flush_commands();
                HL_OK
            }
            Err(r) => refusal(&c, r),
        }
    })
}

/// Requests the cancellation of an order.
#[no_mangle]
pub extern "C" fn hl_client_cancel(h: u32, asset: u32, order_id: f64) -> i32 {
    guard(|| {
        let Some(c) = client(h) else {
            return HL_E_HANDLE;
        };
        match c.shared.cancel(asset, order_id) {
            Ok(()) => {
                c.flush_commands();
                HL_OK
            }
            Err(r) => refusal(&c, r),
        }
    })
}

/// # Safety
/// `out` valid for 2 f64.
#[no_mangle]
pub unsafe extern "C" fn hl_client_position(h: u32, asset: u32, out: *mut f64) -> i32 {
    guard(|| {
        let Some(c) = client(h) else {
            return HL_E_HANDLE;
        };
        if out.is_null() {
            return set_error(&c, HL_E_ARGUMENT, "hl_client_position: null buffer");
        }
        let st = c.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        let Some(a) = st.assets.get(asset as usize) else {
            return set_error(
                &c,
                HL_E_NOT_FOUND,
                format!("asset {asset} is not configured"),
            );
        };
        // SAFETY: checked non-null; valid for 2 f64 per contract.
        unsafe {
            *out = a.position;
            *out.add(1) = a.position_ts as f64;
        }
        HL_OK
    })
}

/// # Safety
/// `out` valid for `2 + 4 * levels` f64.
#[no_mangle]
pub unsafe extern "C" fn hl_client_depth(h: u32, asset: u32, levels: u32, out: *mut f64) -> i32 {
    guard(|| {
        let Some(c) = client(h) else {
            return HL_E_HANDLE;
        };
        if out.is_null() {
            return set_error(&c, HL_E_ARGUMENT, "hl_client_depth: null buffer");
        }
        let levels = levels as usize;
        // SAFETY: valid for 2 + 4*levels f64 per contract.
        let out = unsafe { std::slice::from_raw_parts_mut(out, 2 + 4 * levels) };
        let st = c.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        let Some(a) = st.assets.get(asset as usize) else {
            return set_error(
                &c,
                HL_E_NOT_FOUND,
                format!("asset {asset} is not configured"),
            );
        };
        let (bids, asks) = a.book.top(levels);
        write_levels(out, levels, &bids, &asks);
        HL_OK
    })
}

/// # Safety
/// `buf` valid for `max_records * 64` bytes.
#[no_mangle]
pub unsafe extern "C" fn hl_client_orders(
    h: u32,
    asset: u32,
    buf: *mut u8,
    max_records: u32,
) -> i32 {
    guard(|| {
        let Some(c) = client(h) else {
            return HL_E_HANDLE;
        };
        let Some(out) = slice_mut(buf, max_records as usize * REC_SIZE) else {
            return set_error(&c, HL_E_ARGUMENT, "hl_client_orders: null buffer");
        };
        let st = c.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        let Some(a) = st.assets.get(asset as usize) else {
            return set_error(
                &c,
                HL_E_NOT_FOUND,
                format!("asset {asset} is not configured"),
            );
        };
        if a.orders.len() > max_records as usize {
            return set_error(
                &c,
                HL_E_BUFFER,
                format!(
                    "{} active orders do not fit in {max_records} records",
                    a.orders.len()
                ),
            );
        }
        let mut ids: Vec<_> = a.orders.keys().copied().collect();
        ids.sort_unstable();
        for (i, id) in ids.iter().enumerate() {
            let o = &a.orders[id];
            out[i * REC_SIZE..(i + 1) * REC_SIZE].copy_from_slice(&order_record(
                asset as usize,
                o,
                o.status as u8,
            ));
        }
        ids.len() as i32
    })
}

/// # Safety
/// `out` valid for `n` f64.
#[no_mangle]
pub unsafe extern "C" fn hl_client_stats(h: u32, out: *mut f64, n: u32) -> i32 {
    guard(|| {
        let Some(c) = client(h) else {
            return HL_E_HANDLE;
        };
        if out.is_null() {
            return set_error(&c, HL_E_ARGUMENT, "hl_client_stats: null buffer");
        }
        use std::sync::atomic::Ordering::Relaxed;
        let s = &c.shared.stats;
        let v = [
            s.pushed.load(Relaxed) as f64,
            s.dropped.load(Relaxed) as f64,
            s.foreign_orders.load(Relaxed) as f64,
            s.ipc_errors.load(Relaxed) as f64,
            s.registrations.load(Relaxed) as f64,
            s.loops.load(Relaxed) as f64,
            c.shared.ring_capacity as f64,
            c.shared.signal.ready() as f64,
        ];
        let k = v.len().min(n as usize);
        // SAFETY: valid for n f64 per contract; k <= n.
        unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), out, k) };
        k as i32
    })
}

/// # Safety
/// `buf` null or valid for `cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn hl_last_error(h: u32, buf: *mut u8, cap: u32) -> i32 {
    guard(|| {
        let Some(c) = client(h) else {
            return HL_E_HANDLE;
        };
        let msg = c
            .shared
            .last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        // SAFETY: per contract.
        unsafe { write_msg(&msg, buf, cap) }
    })
}

/// # Safety
/// `buf` null or valid for `cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn hl_client_take_message(h: u32, buf: *mut u8, cap: u32) -> i32 {
    guard(|| {
        let Some(c) = client(h) else {
            return HL_E_HANDLE;
        };
        let msg = c
            .shared
            .messages
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front();
        match msg {
            // SAFETY: per contract.
            Some(m) => unsafe { write_msg(&m, buf, cap) },
            None => 0,
        }
    })
}

/// Removes dead iceoryx2 nodes left by killed processes; returns how many.
#[no_mangle]
pub extern "C" fn hl_cleanup_stale() -> i32 {
    guard(|| {
        crate::iox::prepare_dirs();
        crate::iox::cleanup_dead_nodes() as i32
    })
}

/// An in-process sim and the symbols of its instruments, by index.
pub struct SimEntry {
    sim: Mutex<Option<hftlive_sim::Sim>>,
    symbols: Vec<String>,
}

static SIMS: Mutex<Slots<Arc<SimEntry>>> = Mutex::new(Slots::new());

fn sim(h: u32) -> Option<Arc<SimEntry>> {
    SIMS.lock().unwrap_or_else(|e| e.into_inner()).get(h)
}

/// Starts the in-process sim connector (`hftlive-sim`) from a JSON `SimConfig`; returns once
/// its IPC ports exist.
///
/// # Safety
/// `cfg` valid for `cfg_len` bytes; `out_handle` valid for one u32; `err` null or valid for
/// `err_cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn hl_sim_start(
    cfg: *const u8,
    cfg_len: u32,
    out_handle: *mut u32,
    err: *mut u8,
    err_cap: u32,
) -> i32 {
    // SAFETY: forwarded contract.
    unsafe {
        open_object(cfg, cfg_len, out_handle, err, err_cap, "sim", |json| {
            let config = hftlive_sim::SimConfig::from_json(json).map_err(|m| (HL_E_CONFIG, m))?;
            config.validate().map_err(|m| (HL_E_CONFIG, m))?;
            let symbols = config
                .instruments
                .iter()
                .map(|i| i.symbol.clone())
                .collect();
            let s = hftlive_sim::Sim::start(config).map_err(|m| (HL_E_IPC, m))?;
            SIMS.lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(Arc::new(SimEntry {
                    sim: Mutex::new(Some(s)),
                    symbols,
                }))
                .ok_or((HL_E_FULL, "too many sims".to_string()))
        })
    }
}

/// Stops a sim (drops its ports, joins its thread).
#[no_mangle]
pub extern "C" fn hl_sim_stop(h: u32) -> i32 {
    guard(|| {
        let s = SIMS.lock().unwrap_or_else(|e| e.into_inner()).remove(h);
        match s {
            Some(s) => {
                let taken = s.sim.lock().unwrap_or_else(|e| e.into_inner()).take();
                if let Some(sim) = taken {
                    sim.stop();
                }
                HL_OK
            }
            None => HL_E_HANDLE,
        }
    })
}

/// Injects a fault (`rust/ABI.md`, "Sim faults").
#[no_mangle]
pub extern "C" fn hl_sim_fault(h: u32, fault: u32, value: f64) -> i32 {
    guard(|| {
        use hftlive_sim::Fault;
        let Some(s) = sim(h) else { return HL_E_HANDLE };
        let f = match fault {
            1 => Fault::PauseMarket(value != 0.0),
            2 if value.is_finite() => Fault::RejectOrders(value as i64),
            3 if value.is_finite() && value >= 0.0 => Fault::DelayMs(value as u64),
            4 => Fault::Exit,
            5 if (0.0..=3.0).contains(&value) => Fault::Error(value as u32),
            _ => return HL_E_ARGUMENT,
        };
        let g = s.sim.lock().unwrap_or_else(|e| e.into_inner());
        match g.as_ref() {
            Some(sim) => {
                sim.fault(f);
                HL_OK
            }
            None => HL_E_CLOSED,
        }
    })
}

/// Sim counters in `SimStats` order (`rust/ABI.md`); returns how many were written.
///
/// # Safety
/// `out` valid for `n` f64.
#[no_mangle]
pub unsafe extern "C" fn hl_sim_stats(h: u32, out: *mut f64, n: u32) -> i32 {
    guard(|| {
        let Some(s) = sim(h) else { return HL_E_HANDLE };
        if out.is_null() {
            return HL_E_ARGUMENT;
        }
        let g = s.sim.lock().unwrap_or_else(|e| e.into_inner());
        let Some(sim) = g.as_ref() else {
            return HL_E_CLOSED;
        };
        let st = sim.stats();
        let v = [
            st.market_events,
            st.orders_received,
            st.acks,
            st.fills,
            st.cancels,
            st.rejects,
            st.registrations,
            st.batches_sent,
            st.messages_sent,
            st.expired,
            st.ipc_errors,
            st.running,
        ]
        .map(|x| x as f64);
        let k = v.len().min(n as usize);
        // SAFETY: valid for n f64 per contract; k <= n.
        unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), out, k) };
        k as i32
    })
}

/// The sim's true book of instrument `asset` (index in its configuration), in the layout of
/// `hl_client_depth`. Tests compare a client's book to it level for level.
///
/// # Safety
/// `out` valid for `2 + 4 * levels` f64.
#[no_mangle]
pub unsafe extern "C" fn hl_sim_book(h: u32, asset: u32, levels: u32, out: *mut f64) -> i32 {
    guard(|| {
        let Some(s) = sim(h) else { return HL_E_HANDLE };
        if out.is_null() {
            return HL_E_ARGUMENT;
        }
        let Some(symbol) = s.symbols.get(asset as usize) else {
            return HL_E_NOT_FOUND;
        };
        let g = s.sim.lock().unwrap_or_else(|e| e.into_inner());
        let Some((bids, asks)) = g.as_ref().and_then(|sim| sim.book(symbol)) else {
            return HL_E_NOT_FOUND;
        };
        let levels = levels as usize;
        // SAFETY: valid for 2 + 4*levels f64 per contract.
        let out = unsafe { std::slice::from_raw_parts_mut(out, 2 + 4 * levels) };
        write_levels(out, levels, &bids, &asks);
        HL_OK
    })
}

/// Writes top-of-book levels in the `hl_client_depth` layout.
fn write_levels(out: &mut [f64], levels: usize, bids: &[(f64, f64)], asks: &[(f64, f64)]) {
    let (nb, na) = (bids.len().min(levels), asks.len().min(levels));
    out[0] = nb as f64;
    out[1] = na as f64;
    for (i, (p, q)) in bids.iter().take(nb).enumerate() {
        out[2 + 2 * i] = *p;
        out[3 + 2 * i] = *q;
    }
    let base = 2 + 2 * levels;
    for (i, (p, q)) in asks.iter().take(na).enumerate() {
        out[base + 2 * i] = *p;
        out[base + 1 + 2 * i] = *q;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_reject_stale_and_double_removed_handles() {
        let mut s: Slots<u32> = Slots::new();
        let a = s.insert(1).unwrap();
        assert_eq!(s.get(a), Some(1));
        assert_eq!(s.remove(a), Some(1));
        assert_eq!(s.remove(a), None, "double close");
        let b = s.insert(2).unwrap();
        assert_eq!(a & 0xFFFF, b & 0xFFFF, "slot reused");
        assert_ne!(a, b, "generation differs");
        assert_eq!(s.get(a), None, "stale handle");
        assert_eq!(s.get(0xDEAD_BEEF), None);
    }
}
