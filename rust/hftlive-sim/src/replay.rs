//! Replay of recorded hftbacktest `.npz` files (hftlive's recorder writes them; hftbacktest's
//! own data works too) instead of the random walk: the events of an instrument's files, in
//! order, paced by their recorded `local_ts` at `speed` times the recorded speed (0: as fast as
//! the sim can publish).
//!
//! The snapshot at the start of the first file (`DEPTH_CLEAR` / `DEPTH_SNAPSHOT` events) is the
//! instrument's initial book; the snapshot at the start of each later file repeats the book the
//! previous file ended with (every recorded file backtests on its own), so it is skipped.

use std::{
    collections::{HashMap, VecDeque},
    time::{Duration, Instant},
};

use hftbacktest::{
    backtest::data::{read_npz_file, Data},
    types::{Event, DEPTH_CLEAR_EVENT, DEPTH_SNAPSHOT_EVENT},
};
use serde::Deserialize;

/// Which files an instrument replays.
#[derive(Deserialize, Clone, Debug)]
#[serde(untagged)]
pub enum ReplayFiles {
    /// The files of the sim's only instrument, in order.
    List(Vec<String>),
    /// The files of each instrument (by symbol), in order.
    BySymbol(HashMap<String, Vec<String>>),
}

fn default_speed() -> f64 {
    1.0
}

/// Replay of recorded files ([`crate::SimConfig::replay`]).
#[derive(Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct ReplayConfig {
    pub files: ReplayFiles,
    /// A multiple of the recorded speed (default 1); 0 replays as fast as the sim can publish.
    #[serde(default = "default_speed")]
    pub speed: f64,
}

impl ReplayConfig {
    /// Checks the configuration against the sim's symbols.
    pub fn validate(&self, symbols: &[&str]) -> Result<(), String> {
        if !(self.speed.is_finite() && self.speed >= 0.0) {
            return Err(format!(
                "sim config: replay speed {} is not >= 0",
                self.speed
            ));
        }
        match &self.files {
            ReplayFiles::List(f) if symbols.len() != 1 => Err(format!(
                "sim config: replay files as a list need exactly one instrument (there are {}); \
                 give them by symbol",
                symbols.len()
            )),
            ReplayFiles::List(f) if f.is_empty() => Err("sim config: no replay file".into()),
            ReplayFiles::List(f) => files_exist(f),
            ReplayFiles::BySymbol(m) => {
                for (s, f) in m {
                    if !symbols.contains(&s.as_str()) {
                        return Err(format!("sim config: replay of unknown symbol {s:?}"));
                    }
                    if f.is_empty() {
                        return Err(format!("sim config: no replay file for {s:?}"));
                    }
                    files_exist(f)?;
                }
                Ok(())
            }
        }
    }

    /// The files of instrument `symbol` (none: it runs the random walk).
    pub fn files_of(&self, symbol: &str) -> Option<Vec<String>> {
        match &self.files {
            ReplayFiles::List(f) => Some(f.clone()),
            ReplayFiles::BySymbol(m) => m.get(symbol).cloned(),
        }
    }
}

fn files_exist(files: &[String]) -> Result<(), String> {
    match files.iter().find(|f| !std::path::Path::new(f).is_file()) {
        Some(f) => Err(format!(
            "sim config: replay file {f:?} is not a readable file"
        )),
        None => Ok(()),
    }
}

fn is_snapshot(e: &Event) -> bool {
    matches!(e.ev & 0xFF, DEPTH_CLEAR_EVENT | DEPTH_SNAPSHOT_EVENT)
}

fn load(path: &str) -> Result<Data<Event>, String> {
    read_npz_file::<Event>(path, "data").map_err(|e| format!("cannot replay {path}: {e}"))
}

/// One instrument's replay: the files left, the one being read, and the pacing.
pub(crate) struct Replay {
    files: VecDeque<String>,
    data: Data<Event>,
    pos: usize,
    speed: f64,
    /// The recorded `local_ts` and the wall clock it maps to.
    origin: Option<(i64, Instant)>,
    /// Every event was published (or a file could not be read).
    pub done: bool,
}

impl Replay {
    /// Opens the first file; returns the replay and the file's leading snapshot (the initial
    /// book).
    pub fn open(files: Vec<String>, speed: f64) -> Result<(Self, Vec<Event>), String> {
        let mut files: VecDeque<String> = files.into();
        let first = files.pop_front().ok_or("no replay file")?;
        let data = load(&first)?;
        let mut pos = 0;
        let mut book = Vec::new();
        while pos < data.len() && is_snapshot(&data[pos]) {
            book.push(data[pos].clone());
            pos += 1;
        }
        let replay = Self {
            files,
            data,
            pos,
            speed,
            origin: None,
            done: false,
        };
        Ok((replay, book))
    }

    /// The next event, loading the next file (past its leading snapshot) when one ends; `None`
    /// once every file is replayed. A file that cannot be read ends the replay with the error.
    pub fn peek(&mut self) -> Result<Option<&Event>, String> {
        while self.pos >= self.data.len() {
            let Some(next) = self.files.pop_front() else {
                return Ok(None);
            };
            self.data = load(&next)?;
            self.pos = 0;
            while self.pos < self.data.len() && is_snapshot(&self.data[self.pos]) {
                self.pos += 1;
            }
        }
        Ok(Some(&self.data[self.pos]))
    }

    pub fn advance(&mut self) {
        self.pos += 1;
    }

    /// When the event recorded at `local_ts` is due (the first one: now).
    pub fn due(&mut self, local_ts: i64, now: Instant) -> Instant {
        let (t0, w0) = *self.origin.get_or_insert((local_ts, now));
        if self.speed == 0.0 {
            return now;
        }
        let ns = ((local_ts - t0).max(0) as f64 / self.speed).min(1e18);
        w0 + Duration::from_nanos(ns as u64)
    }

    /// Restarts the pacing at the next event (after a pause: no burst to catch up).
    pub fn rebase(&mut self) {
        self.origin = None;
    }
}

/// The replay of each instrument of `config` (in order; `None`: the random walk) with its
/// initial book.
pub(crate) type Opened = Vec<Option<(Replay, Vec<Event>)>>;

/// Opens the first file of every replayed instrument.
pub(crate) fn open_all(config: &crate::SimConfig) -> Result<Opened, String> {
    let Some(r) = &config.replay else {
        return Ok(Vec::new());
    };
    config
        .instruments
        .iter()
        .map(|i| {
            r.files_of(&i.symbol)
                .map(|f| Replay::open(f, r.speed))
                .transpose()
        })
        .collect()
}

/// Sets `market`'s book to the recorded initial book (ticks and lots).
pub(crate) fn initial_book(
    market: &mut crate::market::Market,
    book: &[Event],
    tick: f64,
    lot: f64,
) {
    market.bids.clear();
    market.asks.clear();
    for e in book {
        apply(market, e, tick, lot);
    }
}

/// Applies a recorded depth event to the sim's book (ticks and lots), as hftbacktest's depth
/// does: a level set or removed, a clear of a side (up to a price) or of both.
pub(crate) fn apply(market: &mut crate::market::Market, e: &Event, tick: f64, lot: f64) {
    use hftbacktest::types::{BUY_EVENT, DEPTH_BBO_EVENT, DEPTH_EVENT, SELL_EVENT};
    let t = (e.px / tick).round() as i64;
    let buy = e.ev & BUY_EVENT != 0;
    let sell = e.ev & SELL_EVENT != 0;
    match e.ev & 0xFF {
        DEPTH_EVENT | DEPTH_SNAPSHOT_EVENT | DEPTH_BBO_EVENT if buy || sell => {
            let side = if buy {
                &mut market.bids
            } else {
                &mut market.asks
            };
            let lots = (e.qty / lot).round() as i64;
            if lots > 0 {
                side.insert(t, lots);
            } else {
                side.remove(&t);
            }
        }
        DEPTH_CLEAR_EVENT if buy && e.px.is_finite() => market.bids.retain(|k, _| *k < t),
        DEPTH_CLEAR_EVENT if sell && e.px.is_finite() => market.asks.retain(|k, _| *k > t),
        DEPTH_CLEAR_EVENT if buy => market.bids.clear(),
        DEPTH_CLEAR_EVENT if sell => market.asks.clear(),
        DEPTH_CLEAR_EVENT => {
            market.bids.clear();
            market.asks.clear();
        }
        _ => {}
    }
}
