//! Recording, proved by hftbacktest itself: the client records the sim's feed, hftbacktest's
//! own reader (`read_npz_file`) loads the files, and hftbacktest's backtester runs over them
//! (HashMapMarketDepth, one order), ending with the book the client saw live.

mod common;

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use common::*;
use hftbacktest::{
    backtest::{
        assettype::LinearAsset,
        data::{read_npz_file, DataSource},
        models::{
            CommonFees, ConstantLatency, PowerProbQueueFunc3, ProbQueueModel, TradingValueFeeModel,
        },
        Backtest, ExchangeKind, L2AssetBuilder,
    },
    prelude::{Bot, HashMapMarketDepth, MarketDepth, OrdType, TimeInForce},
    types::{
        ElapseResult, Event, DEPTH_CLEAR_EVENT, DEPTH_SNAPSHOT_EVENT, EXCH_EVENT, LOCAL_EVENT,
    },
};
use hftlive::record::*;
use hftlive_sim::{Fault, Sim, SimConfig, SimInstrument};

const TICK: f64 = 0.1;
const LOT: f64 = 0.001;

fn sim(name: &str, rate: f64) -> Sim {
    let mut cfg = SimConfig::new(
        name,
        vec![SimInstrument {
            symbol: "btcusdt".into(),
            tick_size: TICK,
            lot_size: LOT,
            start_price: 50_000.0,
        }],
    );
    cfg.seed = 5;
    cfg.rate = rate;
    // Deletions without LOCAL_EVENT (DESIGN point 2) must be recorded and replayed too.
    cfg.fuse_deletions = true;
    Sim::start(cfg).unwrap()
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(unique_name(tag));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// The book in ticks and lots, sorted, levels with a quantity only.
type Ticks = (Vec<(i64, i64)>, Vec<(i64, i64)>);

fn ticks(levels: &[(f64, f64)]) -> Vec<(i64, i64)> {
    let mut v: Vec<_> = levels
        .iter()
        .filter(|l| l.1 > 0.0)
        .map(|&(p, q)| ((p / TICK).round() as i64, (q / LOT).round() as i64))
        .collect();
    v.sort_unstable();
    v
}

fn sim_book(s: &Sim) -> Ticks {
    let (b, a) = s.book("btcusdt").unwrap();
    (ticks(&b), ticks(&a))
}

fn hbt_book(d: &HashMapMarketDepth) -> Ticks {
    let side = |m: &std::collections::HashMap<i64, f64>| {
        let mut v: Vec<_> = m
            .iter()
            .filter(|(_, q)| **q > 0.0)
            .map(|(t, q)| (*t, (q / LOT).round() as i64))
            .collect();
        v.sort_unstable();
        v
    };
    (side(&d.bid_depth), side(&d.ask_depth))
}

/// Polls until the client's book is the sim's (the market is paused).
fn converge(c: &mut TestClient, s: &Sim) -> Ticks {
    let want = sim_book(s);
    let start = Instant::now();
    loop {
        let (b, a) = c.depth(0, 10_000);
        if (ticks(&b), ticks(&a)) == want {
            // The records of the last events may still wait in the ring (the book is the
            // engine's): take them too.
            c.wait_for(Duration::from_millis(100), |_| false);
            return want;
        }
        assert!(
            start.elapsed() < T,
            "the client's book never matched the sim's"
        );
        c.wait_for(Duration::from_millis(20), |_| false);
    }
}

fn wait_stat(c: &TestClient, id: u32, field: usize, at_least: f64) {
    let start = Instant::now();
    while c.c.record_stats(id).unwrap()[field] < at_least {
        assert!(
            start.elapsed() < T,
            "recording stat {field} stayed below {at_least}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn files(c: &TestClient, id: u32) -> Vec<String> {
    let info: serde_json::Value = serde_json::from_str(&c.c.record_info(id).unwrap()).unwrap();
    assert!(info["error"].is_null(), "{info}");
    let v = info["files"].as_array().unwrap();
    v.iter().map(|f| f.as_str().unwrap().to_string()).collect()
}

fn load(path: &str) -> Vec<Event> {
    let data = read_npz_file::<Event>(path, "data").expect("hftbacktest reads the file");
    (0..data.len()).map(|i| data[i].clone()).collect()
}

/// Runs hftbacktest's backtester over `paths` in order; with `order`, buys 5 lots through the
/// best ask once the first file's book is in. Returns the final book and position.
fn backtest(paths: &[String], order: bool) -> (Ticks, f64) {
    let data = paths.iter().map(|p| DataSource::File(p.clone())).collect();
    let asset = L2AssetBuilder::new()
        .data(data)
        .latency_model(ConstantLatency::new(0, 0))
        .asset_type(LinearAsset::new(1.0))
        .fee_model(TradingValueFeeModel::new(CommonFees::new(0.0, 0.0)))
        .exchange(ExchangeKind::NoPartialFillExchange)
        .queue_model(ProbQueueModel::new(PowerProbQueueFunc3::new(3.0)))
        .depth(|| HashMapMarketDepth::new(TICK, LOT))
        .build()
        .unwrap();
    let mut hbt = Backtest::builder().add_asset(asset).build().unwrap();
    // Past the file's first snapshot.
    assert_eq!(hbt.elapse(1).unwrap(), ElapseResult::Ok);
    if order {
        let ask = hbt.depth(0).best_ask();
        assert!(ask.is_finite(), "no ask after the snapshot");
        hbt.submit_buy_order(
            0,
            1,
            ask + 100.0 * TICK,
            5.0 * LOT,
            TimeInForce::GTC,
            OrdType::Limit,
            false,
        )
        .unwrap();
    }
    while hbt.elapse(1_000_000_000).unwrap() != ElapseResult::EndOfData {}
    (hbt_book(hbt.depth(0)), hbt.position(0))
}

fn is_snapshot(e: &Event) -> bool {
    matches!(e.ev & 0xFF, DEPTH_SNAPSHOT_EVENT | DEPTH_CLEAR_EVENT)
}

/// A feed record as (ev, px, qty, exch_ts, local_ts); `ev` with the recorder's added flags.
type Feed = (u64, f64, f64, i64, i64);

fn feed_of(records: &[R]) -> Vec<Feed> {
    records
        .iter()
        .filter(|r| matches!(r.kind(), K_TRADE | K_DEPTH | K_DEPTH_CLEAR))
        .map(|r| r.v())
        .map(|v| {
            (
                v.aux() as u64 | EXCH_EVENT | LOCAL_EVENT,
                v.f(1),
                v.f(2),
                v.i(3),
                v.i(4),
            )
        })
        .collect()
}

/// What a recording of the sim holds and what the client saw meanwhile.
struct Session {
    paths: Vec<String>,
    stats: [f64; 8],
    live: Vec<Feed>,
    live_book: Ticks,
    dir: PathBuf,
}

/// Records `ms` of the sim's feed (rolls of 1,500 events): the market is paused and the client
/// converged before the recording starts and after it ends, so every event of the files reached
/// the client after the recording started.
fn record_session(tag: &str, ms: u64) -> Session {
    let name = unique_name(tag);
    let s = sim(&name, 3000.0);
    let mut c = open(&client_cfg(&name, &["btcusdt"], "")).unwrap();
    c.wait_for(T, |r| registered(r, 0)).expect("registered");
    let mut trades = 0;
    c.wait_for(T, |r| {
        trades += (r.kind() == K_TRADE) as u32;
        trades >= 100
    })
    .expect("trades");
    s.fault(Fault::PauseMarket(true));
    converge(&mut c, &s);
    let dir = temp_dir(tag);
    let opts = format!(
        r#"{{"dir":"{}","roll_bytes":{}}}"#,
        dir.display(),
        64 * 1500
    );
    let id = c.c.record(&opts).unwrap();
    wait_stat(&c, id, 0, 1.0); // the initial book is written
    let from = c.seen.len();
    s.fault(Fault::PauseMarket(false));
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(ms) {
        c.wait_for(Duration::from_millis(20), |_| false);
    }
    s.fault(Fault::PauseMarket(true));
    let live_book = converge(&mut c, &s);
    c.c.record_stop(id).unwrap();
    Session {
        paths: files(&c, id),
        stats: c.c.record_stats(id).unwrap(),
        live: feed_of(&c.seen[from..]),
        live_book,
        dir,
    }
}

#[test]
fn recorded_files_load_in_hftbacktest_and_backtest_to_the_live_book() {
    let Session {
        paths,
        stats,
        live,
        live_book,
        dir,
    } = record_session("rec", 1500);
    assert_eq!(stats[1], 0.0, "nothing dropped");
    assert_eq!(stats[7], 0.0, "stopped");
    assert!(paths.len() >= 3, "rolled by size: {paths:?}");
    assert_eq!(stats[2], paths.len() as f64);

    let mut recorded = Vec::new();
    let mut prev_local = i64::MIN;
    for (k, p) in paths.iter().enumerate() {
        let evs = load(p);
        // Each file begins with the book: a clear, then snapshot levels.
        assert_eq!(
            evs[0].ev,
            DEPTH_CLEAR_EVENT | EXCH_EVENT | LOCAL_EVENT,
            "file {k}"
        );
        let n_snap = evs.iter().take_while(|e| is_snapshot(e)).count();
        assert!(n_snap > 20, "file {k}: {n_snap} snapshot events");
        for e in &evs {
            assert!(e.exch_ts > 0 && e.local_ts >= prev_local, "file {k}: {e:?}");
            prev_local = e.local_ts;
            assert_eq!(e.ev & (EXCH_EVENT | LOCAL_EVENT), EXCH_EVENT | LOCAL_EVENT);
        }
        let feed = evs[n_snap..]
            .iter()
            .map(|e| (e.ev, e.px, e.qty, e.exch_ts, e.local_ts));
        recorded.extend(feed);
        // Each file backtests on its own to the book at its end; the last one to the live book.
        if k == paths.len() - 1 {
            assert_eq!(backtest(&paths[k..], false).0, live_book, "last file alone");
        }
    }
    assert!(live.len() > 2000, "{} feed events", live.len());
    assert_eq!(recorded.len(), live.len(), "event counts");
    assert!(
        recorded == live,
        "the files hold the events the client saw, in order"
    );

    // The whole recording: the backtester ends with the live book, and an order through the
    // best ask fills on hftbacktest's exchange side (it sees the recorded EXCH_EVENT rows).
    let (book, position) = backtest(&paths, true);
    assert_eq!(book, live_book, "all files");
    assert!((position - 5.0 * LOT).abs() < 1e-9, "position {position}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_writer_that_falls_behind_drops_and_counts_and_the_books_stay_right() {
    let name = unique_name("recdrop");
    let s = sim(&name, 20_000.0);
    let mut c = open(&client_cfg(&name, &["btcusdt"], "")).unwrap();
    c.wait_for(T, |r| registered(r, 0)).expect("registered");
    let dir = temp_dir("recdrop");
    let opts = format!(
        r#"{{"dir":"{}","queue_capacity":1024,"stall_ms":100}}"#,
        dir.display()
    );
    let id = c.c.record(&opts).unwrap();
    wait_stat(&c, id, 1, 1000.0); // dropped
    s.fault(Fault::PauseMarket(true));
    let live_book = converge(&mut c, &s);
    c.c.record_stop(id).unwrap();
    let stats = c.c.record_stats(id).unwrap();
    assert!(stats[1] >= 1000.0 && stats[0] > 0.0, "{stats:?}");
    let paths = files(&c, id);
    assert_eq!(paths.len(), 1);
    // The books were sent again after each drop: the file still ends with the live book.
    assert_eq!(backtest(&paths, false).0, live_book);
    assert_eq!(c.c.stats()[1], 0.0, "the client's own ring dropped nothing");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_options_are_refused_with_a_message() {
    let name = unique_name("recbad");
    let _s = sim(&name, 10.0);
    let c = open(&client_cfg(&name, &["btcusdt"], "")).unwrap();
    for (opts, says) in [
        (r#"{"dir":""}"#, "directory is empty"),
        (r#"{"dir":"/proc/nope"}"#, "cannot create"),
        (
            r#"{"dir":"/tmp","assets":[3]}"#,
            "asset 3 is not configured",
        ),
        (r#"{"dir":"/tmp","roll_bytes":10}"#, "roll_bytes"),
        (r#"{"dir":"/tmp","roll_secs":0}"#, "roll_secs"),
        (r#"{"dir":"/tmp","queue_capacity":5}"#, "queue_capacity"),
        (r#"{"dir":"/tmp","colour":1}"#, "unknown field"),
        (r#"{"dir":"/tmp","flags":"raw"}"#, "unknown variant"),
    ] {
        let e = c.c.record(opts).unwrap_err();
        assert_eq!(e.kind(), hftlive::ErrorKind::Argument, "{opts}");
        let m = e.message().unwrap_or("").to_string();
        assert!(
            m.starts_with("Cannot record") && m.contains(says),
            "{opts}: {m}"
        );
    }
    assert_eq!(
        c.c.record_stop(7).unwrap_err().kind(),
        hftlive::ErrorKind::NotFound
    );
}

#[test]
fn replayed_files_reach_a_client_as_the_events_recorded() {
    let rec = record_session("recplay", 1000);
    let name = unique_name("replay");
    let mut cfg = SimConfig::new(
        &name,
        vec![SimInstrument {
            symbol: "btcusdt".into(),
            tick_size: TICK,
            lot_size: LOT,
            start_price: 50_000.0,
        }],
    );
    cfg.replay = Some(
        serde_json::from_value(serde_json::json!({ "files": rec.paths, "speed": 4.0 })).unwrap(),
    );
    let s = Sim::start(cfg).unwrap();
    let mut c = open(&client_cfg(&name, &["btcusdt"], "")).unwrap();
    c.wait_for(T, |r| registered(r, 0)).expect("registered");
    let want = rec.live.len();
    let start = Instant::now();
    while (s.stats().market_events as usize) < want {
        assert!(
            start.elapsed() < T,
            "{} of {want} replayed",
            s.stats().market_events
        );
        c.wait_for(Duration::from_millis(20), |_| false);
    }
    let book = converge(&mut c, &s);
    assert_eq!(
        book, rec.live_book,
        "the replay ends with the recorded book"
    );
    let seen = feed_of(&c.seen);
    assert!(seen.len() > want, "the initial book, then the replay");
    let replayed = &seen[seen.len() - want..];
    // The same events (flags, prices, quantities) in the same order; timestamps are the
    // replay's, with the recorded feed latency.
    let key = |f: &Feed| (f.0, f.1, f.2, f.4 - f.3);
    let a: Vec<_> = replayed.iter().map(key).collect();
    let b: Vec<_> = rec.live.iter().map(key).collect();
    if let Some(i) = (0..want).find(|&i| a[i] != b[i]) {
        panic!(
            "replayed event {i} of {want} differs: {:?} != {:?} ({} seen)",
            &a[i..(i + 3).min(want)],
            &b[i..(i + 3).min(want)],
            seen.len()
        );
    }
    let _ = std::fs::remove_dir_all(&rec.dir);
}
