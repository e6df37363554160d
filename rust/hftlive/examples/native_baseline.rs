//! Native baseline of hftlive's benchmarks (`bench/`): hftbacktest's own `LiveBot`
//! (`IceoryxUnifiedChannel`, which polls with `node.wait(1 ns)`) against an in-process
//! hftlive-sim over real iceoryx2 IPC, and, for comparison, hftlive's engine driven natively
//! through its safe Rust API (inline mode, no JavaScript).
//!
//! ```text
//! cargo run --release --example native_baseline -- <bench> [key=value ...]
//!   bench: latency | rtt | throughput | cycles (bot=hftlive only)
//!   keys:  bot=livebot|hftlive   rate=10000   seconds=5   warmup=0.5   orders=300
//!          trade_ratio=0.5   poll_us=50   engine_wait=adaptive   name=<connector name>
//! ```
//!
//! Prints one JSON line on stdout. Latencies are in µs, measured like the TypeScript benches:
//! `now - local_ts` where `local_ts` is the sim's publish time (CLOCK_REALTIME, ns) and `now` is
//! read when the bot's loop has the event in hand. Set `HFTBACKTEST_CHANNEL_CONFIG` the same as
//! for every other client.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use hftbacktest::{
    depth::HashMapMarketDepth,
    live::{ipc::iceoryx::IceoryxUnifiedChannel, Instrument, LiveBot, LiveBotBuilder},
    prelude::*,
};
use hftlive::{now_ns, record::*, Client};
use hftlive_sim::{Fault, Sim, SimConfig, SimInstrument};

type NativeBot = LiveBot<IceoryxUnifiedChannel, HashMapMarketDepth>;

struct Args(HashMap<String, String>);

impl Args {
    fn f(&self, k: &str, d: f64) -> f64 {
        self.0.get(k).map(|v| v.parse().expect(k)).unwrap_or(d)
    }
    fn s<'a>(&'a self, k: &str, d: &'a str) -> &'a str {
        self.0.get(k).map(|s| s.as_str()).unwrap_or(d)
    }
}

fn cpu_seconds() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap();
    let rest = &s[s.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0
}

fn rss_kib() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn stats_json(mut v: Vec<f64>) -> String {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    format!(
        r#""n":{},"p50":{:.3},"p90":{:.3},"p99":{:.3},"p999":{:.3},"max":{:.3}"#,
        v.len(),
        pct(&v, 0.5),
        pct(&v, 0.9),
        pct(&v, 0.99),
        pct(&v, 0.999),
        v.last().copied().unwrap_or(f64::NAN)
    )
}

fn start_sim(a: &Args, name: &str) -> Sim {
    let mut cfg = SimConfig::new(
        name,
        vec![SimInstrument {
            symbol: "btcusdt".into(),
            tick_size: 0.1,
            lot_size: 0.001,
            start_price: 50_000.0,
        }],
    );
    cfg.rate = a.f("rate", 10_000.0);
    cfg.trade_ratio = a.f("trade_ratio", 0.5);
    cfg.poll_us = a.f("poll_us", 50.0) as u64;
    cfg.seed = 7;
    Sim::start(cfg).expect("sim")
}

fn livebot(name: &str) -> NativeBot {
    LiveBotBuilder::new()
        .register(Instrument::new(
            name,
            "btcusdt",
            0.1,
            0.001,
            HashMapMarketDepth::new(0.1, 0.001),
            4096,
        ))
        .build::<IceoryxUnifiedChannel>()
        .expect("LiveBot")
}

/// The configuration of an inline hftlive client of the sim's one instrument.
fn inline_cfg(a: &Args, name: &str) -> String {
    format!(
        r#"{{"instruments":[{{"connector":"{name}","symbol":"btcusdt","tick_size":0.1,"lot_size":0.001}}],"mode":"inline","engine_wait":"{}"}}"#,
        a.s("engine_wait", "adaptive")
    )
}

/// Trade latency: LiveBot `wait_next_feed` loop; each trade's latency when the loop has it.
fn latency_livebot(a: &Args, name: &str) -> String {
    let sim = start_sim(a, name);
    let mut bot = livebot(name);
    let warm = Duration::from_secs_f64(a.f("warmup", 0.5));
    let dur = Duration::from_secs_f64(a.f("seconds", 5.0));
    let t0 = Instant::now();
    let mut lat = Vec::new();
    let mut cpu0 = None;
    while t0.elapsed() < warm + dur {
        if let Ok(ElapseResult::MarketFeed) = bot.wait_next_feed(false, 100_000_000) {
            let now = now_ns();
            if t0.elapsed() >= warm {
                cpu0.get_or_insert_with(|| (cpu_seconds(), Instant::now()));
                for t in bot.last_trades(0) {
                    lat.push((now - t.local_ts) as f64 / 1e3);
                }
            }
            bot.clear_last_trades(Some(0));
        }
    }
    let (c0, i0) = cpu0.unwrap_or((cpu_seconds(), Instant::now()));
    let cpu = (cpu_seconds() - c0) / i0.elapsed().as_secs_f64();
    drop(bot);
    sim.stop();
    format!(r#"{},"cpu":{cpu:.3}"#, stats_json(lat))
}

/// Opens an hftlive client from a JSON configuration (panics on failure: a benchmark setup error).
fn open_client(cfg: &str) -> Client {
    Client::open(cfg).expect("open an hftlive client")
}

/// Polls `c` into `buf` (0 records on timeout or error, as a benchmark loop wants).
fn poll(c: &Client, buf: &mut [u8], timeout: Duration) -> usize {
    c.poll(buf, timeout).unwrap_or(0)
}

/// Same measurement through hftlive's engine natively: inline client polled on this thread.
fn latency_hftlive(a: &Args, name: &str) -> String {
    let sim = start_sim(a, name);
    let c = open_client(&inline_cfg(a, name));
    let warm = Duration::from_secs_f64(a.f("warmup", 0.5));
    let dur = Duration::from_secs_f64(a.f("seconds", 5.0));
    let mut buf = vec![0u8; 64 * 4096];
    let mut lat = Vec::new();
    let t0 = Instant::now();
    let mut cpu0 = None;
    while t0.elapsed() < warm + dur {
        let n = poll(&c, &mut buf, Duration::from_millis(100));
        if n == 0 || t0.elapsed() < warm {
            continue;
        }
        cpu0.get_or_insert_with(|| (cpu_seconds(), Instant::now()));
        for rec in buf[..n * 64].chunks_exact(64) {
            let r = RecView(rec);
            if r.kind() == K_TRADE {
                lat.push((now_ns() - r.i(4)) as f64 / 1e3);
            }
        }
    }
    let (c0, i0) = cpu0.unwrap_or((cpu_seconds(), Instant::now()));
    let cpu = (cpu_seconds() - c0) / i0.elapsed().as_secs_f64();
    c.close();
    sim.stop();
    format!(r#"{},"cpu":{cpu:.3}"#, stats_json(lat))
}

/// Order round trip: `submit_buy_order(wait=true)` (returns on the sim's ack) and
/// `cancel(wait=true)`, a resting GTC limit far below the market; 1 ms of feed between orders.
fn rtt_livebot(a: &Args, name: &str) -> String {
    let sim = start_sim(a, name);
    let mut bot = livebot(name);
    let orders = a.f("orders", 300.0) as usize;
    // Warm-up: let registration and the initial book arrive.
    let _ = bot.elapse((a.f("warmup", 0.5) * 1e9) as i64);
    let mut sub = Vec::with_capacity(orders);
    let mut can = Vec::with_capacity(orders);
    let mut bad = 0;
    for i in 0..orders {
        let id = 1_000 + i as u64;
        let t0 = Instant::now();
        let r = bot.submit_buy_order(
            0,
            id,
            45_000.0,
            0.001,
            TimeInForce::GTC,
            OrdType::Limit,
            true,
        );
        sub.push(t0.elapsed().as_nanos() as f64 / 1e3);
        if !matches!(r, Ok(ElapseResult::OrderResponse))
            || bot.orders(0).get(&id).map(|o| o.status) != Some(Status::New)
        {
            bad += 1;
        }
        let t1 = Instant::now();
        let r = bot.cancel(0, id, true);
        can.push(t1.elapsed().as_nanos() as f64 / 1e3);
        if !matches!(r, Ok(ElapseResult::OrderResponse)) {
            bad += 1;
        }
        bot.clear_inactive_orders(Some(0));
        let _ = bot.elapse(1_000_000);
    }
    drop(bot);
    sim.stop();
    format!(
        r#"{},"cancel":{{{}}},"bad":{bad}"#,
        stats_json(sub),
        stats_json(can)
    )
}

/// Throughput with nothing lost: trade_ratio=1 so every market event is exactly one trade
/// message; the sim runs at `rate` (default: as fast as it can); after `seconds` the market is
/// paused and the bot drains. lost = sim market events − trades the bot saw.
fn throughput_livebot(a: &Args, name: &str) -> String {
    let sim = start_sim(a, name);
    let mut bot = livebot(name);
    let dur = Duration::from_secs_f64(a.f("seconds", 3.0));
    let warm = Duration::from_secs_f64(a.f("warmup", 0.5));
    let t0 = Instant::now();
    let mut total = 0u64;
    let mut in_window = 0u64;
    let mut window_start = None;
    let mut feeds = 0u64;
    while t0.elapsed() < warm + dur {
        if let Ok(ElapseResult::MarketFeed) = bot.wait_next_feed(false, 100_000_000) {
            let n = bot.last_trades(0).len() as u64;
            total += n;
            feeds += 1;
            if t0.elapsed() >= warm {
                window_start.get_or_insert_with(Instant::now);
                in_window += n;
            }
            bot.clear_last_trades(Some(0));
        }
    }
    let window = window_start
        .map(|s| s.elapsed().as_secs_f64())
        .unwrap_or(f64::NAN);
    sim.fault(Fault::PauseMarket(true));
    let produced_at_pause = sim.stats().market_events;
    let drain_end = Instant::now() + Duration::from_millis(500);
    while Instant::now() < drain_end && total < produced_at_pause {
        if let Ok(ElapseResult::MarketFeed) = bot.wait_next_feed(false, 10_000_000) {
            total += bot.last_trades(0).len() as u64;
            bot.clear_last_trades(Some(0));
        }
    }
    let produced = sim.stats().market_events;
    drop(bot);
    sim.stop();
    format!(
        r#""trades_per_s":{:.0},"events_per_s":{:.0},"produced":{produced},"received":{total},"lost":{},"wakeups":{feeds},"rss_kib":{}"#,
        in_window as f64 / window,
        in_window as f64 / window,
        produced.saturating_sub(total),
        rss_kib()
    )
}

/// The same throughput measurement through hftlive's engine natively (inline, no JavaScript).
fn throughput_hftlive(a: &Args, name: &str) -> String {
    let sim = start_sim(a, name);
    let c = open_client(&inline_cfg(a, name));
    let dur = Duration::from_secs_f64(a.f("seconds", 3.0));
    let warm = Duration::from_secs_f64(a.f("warmup", 0.5));
    let mut buf = vec![0u8; 64 * 4096];
    let (mut trades, mut events) = (0u64, 0u64);
    let mut w = None;
    let t0 = Instant::now();
    let mut count = |trades: &mut u64, events: &mut u64| {
        let n = poll(&c, &mut buf, Duration::from_millis(10));
        for rec in buf[..n * 64].chunks_exact(64) {
            *events += 1;
            if rec[0] == K_TRADE {
                *trades += 1;
            }
        }
    };
    while t0.elapsed() < warm + dur {
        count(&mut trades, &mut events);
        if w.is_none() && t0.elapsed() >= warm {
            w = Some((Instant::now(), trades, events));
        }
    }
    let (ws, tr0, ev0) = w.unwrap();
    let win = ws.elapsed().as_secs_f64();
    let (tr1, ev1) = (trades, events);
    sim.fault(Fault::PauseMarket(true));
    let mut produced = sim.stats().market_events;
    let drain_end = Instant::now() + Duration::from_millis(500);
    while Instant::now() < drain_end && trades < produced {
        count(&mut trades, &mut events);
    }
    produced = sim.stats().market_events;
    c.close();
    sim.stop();
    format!(
        r#""trades_per_s":{:.0},"events_per_s":{:.0},"produced":{produced},"received":{trades},"lost":{}"#,
        (tr1 - tr0) as f64 / win,
        (ev1 - ev0) as f64 / win,
        produced.saturating_sub(trades),
    )
}

/// RSS across `cycles` open → registered → close cycles of hftlive's engine (threaded client,
/// no JavaScript): separates native growth from JavaScript's in the TypeScript cycles bench.
fn cycles_hftlive(a: &Args, name: &str) -> String {
    let sim = start_sim(a, name);
    let cycles = a.f("cycles", 1000.0) as usize;
    let warm = a.f("warm", 20.0) as usize;
    let cfg = format!(
        r#"{{"instruments":[{{"connector":"{name}","symbol":"btcusdt","tick_size":0.1,"lot_size":0.001}}],"mode":"thread"}}"#
    );
    let mut buf = vec![0u8; 64 * 4096];
    let rss_start = rss_kib();
    let mut rss_warm = 0.0;
    let mut unregistered = 0;
    let t0 = Instant::now();
    for i in 1..=cycles {
        let c = open_client(&cfg);
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut registered = false;
        while !registered && Instant::now() < deadline {
            let n = poll(&c, &mut buf, Duration::from_millis(10));
            registered = buf[..n * 64].chunks_exact(64).any(|rec| {
                let r = RecView(rec);
                r.kind() == K_INSTRUMENT && r.aux() == INST_REGISTERED
            });
        }
        if !registered {
            unregistered += 1;
        }
        // What hl_client_close does, as the TypeScript cycles bench gets it.
        c.close();
        hftlive::release_freed_memory();
        if i == warm {
            rss_warm = rss_kib();
        }
    }
    let ms = t0.elapsed().as_secs_f64() * 1e3 / cycles as f64;
    let rss_end = rss_kib();
    sim.stop();
    format!(
        r#""cycles":{cycles},"ms_per_cycle":{ms:.2},"rss_start":{:.2},"rss_after_warm":{:.2},"rss_end":{:.2},"rss_growth":{:.2},"unregistered":{unregistered}"#,
        rss_start / 1024.0,
        rss_warm / 1024.0,
        rss_end / 1024.0,
        (rss_end - rss_warm) / 1024.0
    )
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let bench = argv.first().cloned().unwrap_or_else(|| "latency".into());
    let a = Args(
        argv.iter()
            .skip(1)
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    let bot = a.s("bot", "livebot").to_string();
    let name = a
        .s(
            "name",
            &format!("hlb-native-{}-{bench}", std::process::id()),
        )
        .to_string();
    hftlive::iox::prepare_dirs();
    let body = match (bench.as_str(), bot.as_str()) {
        ("latency", "livebot") => latency_livebot(&a, &name),
        ("latency", "hftlive") => latency_hftlive(&a, &name),
        ("rtt", "livebot") => rtt_livebot(&a, &name),
        ("throughput", "livebot") => throughput_livebot(&a, &name),
        ("throughput", "hftlive") => throughput_hftlive(&a, &name),
        ("cycles", "hftlive") => cycles_hftlive(&a, &name),
        (b, o) => {
            eprintln!("native_baseline: unknown bench/bot {b}/{o}");
            std::process::exit(2);
        }
    };
    println!(r#"{{"impl":"native-{bot}","bench":"{bench}",{body}}}"#);
}
