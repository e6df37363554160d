//! The recorder: every market event of chosen instruments, written in hftbacktest's own format
//! (`.npz` of its 64-byte `Event`, [`npz`]) off the engine's thread.
//!
//! The engine hands each feed event to a [`Tap`] (a bounded single-producer queue, never
//! blocking: a full queue drops and counts, then the book is re-sent as a snapshot once there
//! is room so the files stay consistent); a writer thread ([`writer`]) drains it into one
//! series of files per instrument, rolled by size or time, each beginning with the book;
//! a finisher thread packages closed rolls into `.npz`. [`Recorder`] is the handle the client
//! keeps: stats, stop (drain, close, package, join).

mod npz;
mod tap;
mod writer;

pub(crate) use tap::{snapshot_items, Item, Tap};

use std::{
    path::PathBuf,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering::Relaxed},
        Arc, Mutex,
    },
    thread::JoinHandle,
};

use hftbacktest::types::{EXCH_EVENT, LOCAL_EVENT};
use serde::Deserialize;

use crate::{
    error::{Error, ErrorKind},
    sync::LockExt,
};

fn default_roll_bytes() -> u64 {
    256 << 20
}
fn default_roll_secs() -> f64 {
    3600.0
}
fn default_queue() -> usize {
    1 << 18
}

/// Which event flags go into the files.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Flags {
    /// The connector's flags with `EXCH_EVENT | LOCAL_EVENT` added to every event, as
    /// hftbacktest's own converters write market data: its backtester's exchange side reads only
    /// `EXCH_EVENT` rows and its local side only `LOCAL_EVENT` rows, and connectors publish
    /// `LOCAL_*` events (and fused-depth deletions with neither flag).
    #[default]
    Backtest,
    /// Exactly the connector's `ev`.
    Connector,
}

/// A recording's configuration (JSON, `rust/ABI.md` "Recording").
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RecordConfig {
    /// The directory of the files (created if missing).
    pub dir: String,
    /// Instrument indices to record; all when absent.
    #[serde(default)]
    pub assets: Option<Vec<usize>>,
    /// A roll closes once its events take this many bytes (64 per event).
    #[serde(default = "default_roll_bytes")]
    pub roll_bytes: u64,
    /// A roll closes once it is this old (seconds).
    #[serde(default = "default_roll_secs")]
    pub roll_secs: f64,
    /// Events the queue between the engine and the writer holds; beyond, events are dropped.
    #[serde(default = "default_queue")]
    pub queue_capacity: usize,
    /// Deflate the `.npz` (level 1); stored otherwise.
    #[serde(default)]
    pub compress: bool,
    #[serde(default)]
    pub flags: Flags,
    /// Tests only (cargo feature `fault-injection`): the writer sleeps this long after each
    /// pass over the queue, so that it falls behind and the engine drops.
    #[serde(default)]
    pub stall_ms: u64,
}

/// The smallest roll (bytes): 64 events.
pub const MIN_ROLL_BYTES: u64 = 64 * 64;

impl RecordConfig {
    /// Parses and checks a configuration for a client with `n_assets` instruments.
    pub fn parse(json: &str, n_assets: usize) -> Result<Self, Error> {
        let bad = |m: String| Error::new(ErrorKind::Argument, format!("Cannot record: {m}"));
        let c: RecordConfig =
            serde_json::from_str(json).map_err(|e| bad(format!("invalid options: {e}")))?;
        if c.dir.is_empty() {
            return Err(bad("the directory is empty".into()));
        }
        if c.roll_bytes < MIN_ROLL_BYTES {
            return Err(bad(format!(
                "roll_bytes {} is below {MIN_ROLL_BYTES}",
                c.roll_bytes
            )));
        }
        if !(c.roll_secs.is_finite() && c.roll_secs >= 0.01) {
            return Err(bad(format!(
                "roll_secs {} is not a number of seconds >= 0.01",
                c.roll_secs
            )));
        }
        if !(1024..=1 << 24).contains(&c.queue_capacity) {
            return Err(bad(format!(
                "queue_capacity {} is not in [1024, 2^24]",
                c.queue_capacity
            )));
        }
        if c.stall_ms > 0 && !cfg!(feature = "fault-injection") {
            return Err(bad(
                "stall_ms needs a library built with fault injection (cargo feature \
                 hftlive/fault-injection)"
                    .into(),
            ));
        }
        if let Some(a) = &c.assets {
            if a.is_empty() {
                return Err(bad("no instrument to record".into()));
            }
            let mut seen = vec![false; n_assets];
            for &i in a {
                if i >= n_assets {
                    return Err(bad(format!("asset {i} is not configured (0..{n_assets})")));
                }
                if std::mem::replace(&mut seen[i], true) {
                    return Err(bad(format!("asset {i} is listed twice")));
                }
            }
        }
        Ok(c)
    }

    /// The `ev` bits added to every recorded feed event.
    pub(crate) fn added_flags(&self) -> u64 {
        match self.flags {
            Flags::Backtest => EXCH_EVENT | LOCAL_EVENT,
            Flags::Connector => 0,
        }
    }
}

/// One recorded instrument: its index, name parts and book granularity.
#[derive(Clone, Debug)]
pub struct RecAsset {
    pub asset: usize,
    pub connector: String,
    pub symbol: String,
    pub tick_size: f64,
    pub lot_size: f64,
}

/// What the engine's tap, the writer, the finisher and the handle share.
#[derive(Default)]
pub(crate) struct RecShared {
    pub stop: AtomicBool,
    /// The writer thread has finished (every file complete).
    pub finished: AtomicBool,
    pub written: AtomicU64,
    pub dropped: AtomicU64,
    pub files_closed: AtomicU64,
    pub bytes_closed: AtomicU64,
    pub queued: AtomicU64,
    pub errors: AtomicU64,
    /// Paths of the complete `.npz` files, in the order they were closed.
    pub files: Mutex<Vec<String>>,
    /// The first I/O failure.
    pub error: Mutex<Option<String>>,
}

impl RecShared {
    pub fn fail(&self, msg: String) {
        self.errors.fetch_add(1, Relaxed);
        self.error.lock_or_recover().get_or_insert(msg);
    }
}

/// A running recording: the handle a client keeps.
pub struct Recorder {
    shared: Arc<RecShared>,
    capacity: usize,
    writer: Mutex<Option<JoinHandle<()>>>,
}

/// Fields of [`Recorder::stats`], in `hl_record_stats` order.
pub const RECORD_STATS: usize = 8;

impl Recorder {
    /// Checks the directory, starts the writer and returns the handle with the engine's end of
    /// the queue (to hand to the engine). `assets` are the instruments to record.
    pub(crate) fn start(config: RecordConfig, assets: Vec<RecAsset>) -> Result<(Self, Tap), Error> {
        let dir = PathBuf::from(&config.dir);
        let io = |what: &str, e: std::io::Error| {
            Error::new(
                ErrorKind::Argument,
                format!("Cannot record into {}: {what}: {e}", dir.display()),
            )
        };
        std::fs::create_dir_all(&dir).map_err(|e| io("cannot create the directory", e))?;
        let probe = dir.join(format!(".hftlive-probe-{}", std::process::id()));
        std::fs::write(&probe, b"").map_err(|e| io("the directory is not writable", e))?;
        let _ = std::fs::remove_file(&probe);
        let shared = Arc::new(RecShared::default());
        let (tx, rx) = rtrb::RingBuffer::<Item>::new(config.queue_capacity);
        let tap = Tap::new(&config, &assets, tx, shared.clone());
        let capacity = config.queue_capacity;
        let w = writer::Writer::new(config, dir, assets, rx, shared.clone());
        let thread = std::thread::Builder::new()
            .name("hftlive-recorder".into())
            .spawn(move || w.run())
            .map_err(|e| Error::new(ErrorKind::Ipc, format!("cannot start the writer: {e}")))?;
        Ok((
            Self {
                shared,
                capacity,
                writer: Mutex::new(Some(thread)),
            },
            tap,
        ))
    }

    /// Stops: the writer drains what the engine queued, closes and packages every roll; returns
    /// once the files are complete. Idempotent.
    pub fn stop(&self) {
        self.shared
            .stop
            .store(true, std::sync::atomic::Ordering::Release);
        if let Some(t) = self.writer.lock_or_recover().take() {
            let _ = t.join();
        }
    }

    /// Counters: 0 events written, 1 events dropped (queue full), 2 files complete, 3 bytes of
    /// the complete files, 4 events queued now, 5 queue capacity, 6 I/O errors, 7 running (1/0).
    pub fn stats(&self) -> [f64; RECORD_STATS] {
        let s = &self.shared;
        let n = |a: &AtomicU64| a.load(Relaxed) as f64;
        // Not the writer's mutex: a stop holds it while the last files are packaged.
        let running = !s.finished.load(std::sync::atomic::Ordering::Acquire);
        [
            n(&s.written),
            n(&s.dropped),
            n(&s.files_closed),
            n(&s.bytes_closed),
            n(&s.queued),
            self.capacity as f64,
            n(&s.errors),
            running as u8 as f64,
        ]
    }

    /// The complete files so far, and the first I/O failure if any, as JSON
    /// `{"files": [...], "error": null | "..."}`.
    pub fn info_json(&self) -> String {
        let files = self.shared.files.lock_or_recover().clone();
        let error = self.shared.error.lock_or_recover().clone();
        serde_json::json!({ "files": files, "error": error }).to_string()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop();
    }
}
