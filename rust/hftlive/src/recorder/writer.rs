//! The writer thread: drains the engine's queue into one series of rolls per instrument, keeps
//! its own copy of each recorded book (so a new roll begins with the book, as a snapshot, and
//! backtests on its own), rolls by size or age, and hands closed rolls to a finisher thread
//! that packages them into `.npz` ([`super::npz`]).

use std::{
    fs::File,
    io::{BufWriter, Write},
    path::PathBuf,
    sync::{
        atomic::Ordering::{Acquire, Relaxed, Release},
        mpsc, Arc,
    },
    time::{Duration, Instant},
};

use hftbacktest::types::{
    Side, BUY_EVENT, DEPTH_BBO_EVENT, DEPTH_CLEAR_EVENT, DEPTH_EVENT, DEPTH_SNAPSHOT_EVENT,
    SELL_EVENT,
};
use rtrb::Consumer;

use super::{
    npz::{self, EVENT_SIZE},
    tap::{snapshot_items, Item, END},
    RecAsset, RecShared, RecordConfig,
};
use crate::{
    book::Book,
    config::DepthKind,
    error::{Error, ErrorKind},
};

/// Events taken off the queue at once.
const BATCH: usize = 4096;
/// How long the writer sleeps when the queue is empty.
const IDLE: Duration = Duration::from_millis(2);
/// How long a stopped recording waits for the engine's end at most (an inline client's engine
/// runs only when polled).
const STOP_WAIT: Duration = Duration::from_secs(2);

struct Open {
    path: PathBuf,
    out: BufWriter<File>,
    events: u64,
    started: Instant,
}

/// One instrument's rolls and its copy of the book.
struct Series {
    asset: RecAsset,
    book: Book,
    seq: u32,
    open: Option<Open>,
    /// (exch_ts, local_ts) of the last event written: the time of the next roll's snapshot.
    last_ts: (i64, i64),
    /// A roll closed: the next one begins with the book.
    rolled: bool,
}

pub(super) struct Writer {
    config: RecordConfig,
    dir: PathBuf,
    stamp: String,
    series: Vec<Series>,
    /// Series index by asset.
    by_asset: Vec<Option<usize>>,
    rx: Consumer<Item>,
    shared: Arc<RecShared>,
    failed: bool,
}

impl Writer {
    pub fn new(
        config: RecordConfig,
        dir: PathBuf,
        assets: Vec<RecAsset>,
        rx: Consumer<Item>,
        shared: Arc<RecShared>,
    ) -> Self {
        let n = assets.iter().map(|a| a.asset + 1).max().unwrap_or(0);
        let mut by_asset = vec![None; n];
        let series = assets
            .into_iter()
            .enumerate()
            .map(|(i, asset)| {
                by_asset[asset.asset] = Some(i);
                let kind = DepthKind::Named("hashmap".into());
                Series {
                    book: Book::new(&kind, asset.tick_size, asset.lot_size),
                    asset,
                    seq: 0,
                    open: None,
                    last_ts: (0, 0),
                    rolled: false,
                }
            })
            .collect();
        Self {
            config,
            dir,
            stamp: utc_stamp(crate::now_ns()),
            series,
            by_asset,
            rx,
            shared,
            failed: false,
        }
    }

    pub fn run(mut self) {
        let (done_tx, done_rx) = mpsc::channel::<PathBuf>();
        let shared = self.shared.clone();
        let compress = self.config.compress;
        let finisher = std::thread::Builder::new()
            .name("hftlive-recorder-finish".into())
            .spawn(move || {
                for path in done_rx {
                    match npz::package(&path, compress) {
                        Ok(size) => {
                            shared.bytes_closed.fetch_add(size, Relaxed);
                            shared.files_closed.fetch_add(1, Relaxed);
                            let p = path.to_string_lossy().into_owned();
                            crate::sync::LockExt::lock_or_recover(&shared.files).push(p);
                        }
                        Err(e) => shared.fail(format!("cannot write {}: {e}", path.display())),
                    }
                }
            });
        let finisher = match finisher {
            Ok(t) => Some(t),
            Err(e) => {
                self.shared.fail(format!("cannot start the finisher: {e}"));
                None
            }
        };
        let roll_age = Duration::from_secs_f64(self.config.roll_secs);
        let mut stop_seen: Option<Instant> = None;
        let mut batch: Vec<Item> = Vec::with_capacity(BATCH);
        'run: loop {
            let n = self.rx.slots().min(BATCH);
            if let Ok(chunk) = self.rx.read_chunk(n) {
                let (a, b) = chunk.as_slices();
                batch.extend_from_slice(a);
                batch.extend_from_slice(b);
                chunk.commit_all();
            }
            for it in batch.drain(..) {
                // The engine's last item: everything it queued is written.
                if it.asset == END {
                    break 'run;
                }
                self.write(&it, &done_tx);
            }
            self.shared.queued.store(self.rx.slots() as u64, Relaxed);
            let now = Instant::now();
            for s in 0..self.series.len() {
                let old = self.series[s]
                    .open
                    .as_ref()
                    .is_some_and(|o| now - o.started >= roll_age);
                if old {
                    self.roll(s, &done_tx);
                }
            }
            // The engine is gone (its client closed), or does not answer the stop (an inline
            // client nobody polls any more): what is queued is all there will be.
            if self.rx.is_empty() {
                if self.rx.is_abandoned() {
                    break;
                }
                if self.shared.stop.load(Acquire) {
                    let since = *stop_seen.get_or_insert(now);
                    if now - since >= STOP_WAIT {
                        break;
                    }
                }
            }
            if n == 0 {
                std::thread::sleep(IDLE);
            } else if self.config.stall_ms > 0 {
                std::thread::sleep(Duration::from_millis(self.config.stall_ms));
            }
        }
        for s in 0..self.series.len() {
            if self.series[s].open.is_some() {
                self.roll(s, &done_tx);
            }
        }
        drop(done_tx);
        if let Some(t) = finisher {
            let _ = t.join();
        }
        self.shared.finished.store(true, Release);
        // Dropping the queue tells the engine the recording is over.
    }

    fn write(&mut self, it: &Item, done: &mpsc::Sender<PathBuf>) {
        let Some(s) = self.by_asset.get(it.asset as usize).copied().flatten() else {
            return;
        };
        if self.failed {
            self.shared.dropped.fetch_add(1, Relaxed);
            return;
        }
        if let Err(e) = self.write_event(s, it) {
            let path = self.series[s].open.as_ref().map(|o| o.path.clone());
            let shown = path.map(|p| p.display().to_string()).unwrap_or_default();
            self.shared.fail(format!(
                "cannot write {shown}: {}",
                e.message().unwrap_or("")
            ));
            self.failed = true;
            self.series[s].open = None;
            return;
        }
        let full = self.series[s]
            .open
            .as_ref()
            .is_some_and(|o| o.events * EVENT_SIZE as u64 >= self.config.roll_bytes);
        if full {
            self.roll(s, done);
        }
    }

    /// Writes one event to the roll of series `s` (opening it, with the book first when a roll
    /// closed before) and applies it to the series' book.
    fn write_event(&mut self, s: usize, it: &Item) -> Result<(), Error> {
        if self.series[s].open.is_none() {
            self.open(s)?;
        }
        let ser = &mut self.series[s];
        let o = ser.open.as_mut().expect("opened");
        o.out
            .write_all(&npz::event_bytes(&it.event()))
            .map_err(io_err)?;
        o.events += 1;
        self.shared.written.fetch_add(1, Relaxed);
        ser.last_ts = (it.exch_ts, it.local_ts);
        apply(&mut ser.book, it);
        Ok(())
    }

    fn open(&mut self, s: usize) -> Result<(), Error> {
        let ser = &mut self.series[s];
        let name = format!(
            "{}_{}_{}_{:05}.npz",
            file_part(&ser.asset.connector),
            file_part(&ser.asset.symbol),
            self.stamp,
            ser.seq
        );
        let path = self.dir.join(name);
        // Never over another recording's file.
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(npz::events_path(&path))
            .map_err(io_err)?;
        let mut open = Open {
            path,
            out: BufWriter::with_capacity(1 << 16, file),
            events: 0,
            started: Instant::now(),
        };
        if std::mem::take(&mut ser.rolled) {
            let (bids, asks) = ser.book.top(usize::MAX);
            for it in snapshot_items(ser.asset.asset, &bids, &asks, ser.last_ts) {
                let b = npz::event_bytes(&it.event());
                open.out.write_all(&b).map_err(io_err)?;
                open.events += 1;
                self.shared.written.fetch_add(1, Relaxed);
            }
        }
        ser.open = Some(open);
        Ok(())
    }

    /// Closes the roll of series `s` and hands it to the finisher.
    fn roll(&mut self, s: usize, done: &mpsc::Sender<PathBuf>) {
        let ser = &mut self.series[s];
        let Some(mut o) = ser.open.take() else {
            return;
        };
        ser.seq += 1;
        ser.rolled = true;
        let flushed = o.out.flush().and_then(|_| o.out.get_ref().sync_data());
        match flushed {
            Ok(()) => {
                drop(o.out);
                let _ = done.send(o.path);
            }
            Err(e) => self
                .shared
                .fail(format!("cannot write {}: {e}", o.path.display())),
        }
    }
}

fn io_err(e: std::io::Error) -> Error {
    Error::new(ErrorKind::Ipc, e.to_string())
}

/// Applies an event to a book as hftbacktest's backtester does (and the engine: every depth
/// event, `LOCAL_EVENT` or not).
fn apply(book: &mut Book, it: &Item) {
    let side: i8 = if it.ev & BUY_EVENT != 0 {
        1
    } else if it.ev & SELL_EVENT != 0 {
        -1
    } else {
        0
    };
    match it.ev & 0xFF {
        DEPTH_EVENT | DEPTH_SNAPSHOT_EVENT | DEPTH_BBO_EVENT if side != 0 => {
            book.update(side, it.px, it.qty, it.local_ts)
        }
        DEPTH_CLEAR_EVENT => match side {
            1 => book.clear(Side::Buy, it.px),
            -1 => book.clear(Side::Sell, it.px),
            _ => book.clear(Side::None, 0.0),
        },
        _ => {}
    }
}

/// A name part safe in a file name: ASCII letters, digits, `.`, `-`; anything else `-`.
fn file_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// `YYYYMMDDTHHMMSS.mmmZ` of a time in ns since the Unix epoch (UTC).
pub(super) fn utc_stamp(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + (m <= 2) as i64;
    let (h, mi, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    let ms = ns.rem_euclid(1_000_000_000) / 1_000_000;
    format!("{y:04}{m:02}{d:02}T{h:02}{mi:02}{s:02}.{ms:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_stamps() {
        assert_eq!(utc_stamp(0), "19700101T000000.000Z");
        assert_eq!(utc_stamp(1_700_000_000_123_000_000), "20231114T221320.123Z");
        assert_eq!(utc_stamp(951_782_400_000_000_000), "20000229T000000.000Z");
    }

    #[test]
    fn file_parts() {
        assert_eq!(file_part("BTC/USDT"), "BTC-USDT");
        assert_eq!(file_part("btcusdt"), "btcusdt");
    }
}
