//! Native baseline of hftlive's benchmarks (`bench/`): hftbacktest's own `LiveBot`
//! (`IceoryxUnifiedChannel`, which polls with `node.wait(1 ns)`) against an in-process
//! hftlive-sim over real iceoryx2 IPC, and, for comparison, hftlive's engine driven natively
//! through its safe Rust API (inline mode, no JavaScript).
//!
//! ```text
//! cargo run --release --example native_baseline -- <bench> [key=value ...]
//!   bench: latency | rtt | throughput | cycles (bot=hftlive only) | liveness (calls=200)
//!   keys:  bot=livebot|hftlive   rate=10000   seconds=5   warmup=0.5   orders=300
//!          kind=trade|depth (latency)   trade_ratio=0.5   poll_us=50   arrivals=periodic|poisson
//!          burst=1   engine_wait=adaptive   engine_opts=<extra JSON members of the client config>
//!          extra_nodes=0 (iceoryx2 nodes held meanwhile, as on a busy machine)
//!          name=<connector name>
//! ```
//!
//! Prints one JSON line on stdout. Latencies are in µs, measured like the TypeScript benches:
//! `now - local_ts` where `local_ts` is the sim's publish time (CLOCK_REALTIME, ns) and `now` is
//! read when the bot's loop has the event in hand, kept in an HDR histogram (3 significant
//! digits). `kind=trade`: every trade (sim trade_ratio 1); `kind=depth`: one sample per depth
//! message (sim trade_ratio 0), when the bot has the whole message (LiveBot: `wait_next_feed`
//! returns at its `BatchEnd`; hftlive: its first DEPTH record, the engine flushes whole
//! messages). hftlive also reports the stages `engine` (engine receive − publish) and `deliver`
//! (handler − engine receive). Set `HFTBACKTEST_CHANNEL_CONFIG` the same as for every other
//! client.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
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

/// A latency histogram in ns: 1 ns .. 60 s, 3 significant digits.
fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("histogram bounds")
}

/// Records `ns` (clamped to the histogram's range; a negative difference of clocks as 0).
fn rec(h: &mut Histogram<u64>, ns: i64) {
    h.saturating_record(ns.max(0) as u64);
}

/// `"n", "p50" .. "max"` in µs of a histogram of ns.
fn hist_json(h: &Histogram<u64>) -> String {
    let us = |v: u64| v as f64 / 1e3;
    if h.is_empty() {
        return r#""n":0,"p50":null,"p90":null,"p99":null,"p999":null,"max":null"#.into();
    }
    format!(
        r#""n":{},"p50":{:.3},"p90":{:.3},"p99":{:.3},"p999":{:.3},"max":{:.3}"#,
        h.len(),
        us(h.value_at_quantile(0.5)),
        us(h.value_at_quantile(0.9)),
        us(h.value_at_quantile(0.99)),
        us(h.value_at_quantile(0.999)),
        us(h.max())
    )
}

fn stats_json(v: Vec<f64>) -> String {
    let mut h = hist();
    for x in v {
        rec(&mut h, (x * 1e3) as i64);
    }
    hist_json(&h)
}

/// Market events the sim publishes in `seconds` at `rate` (the samples a consumer that keeps up
/// takes; depth: one per message).
fn expected(a: &Args) -> f64 {
    a.f("rate", 10_000.0) * a.f("seconds", 5.0)
}

/// Whether the latency bench measures depth messages (else trades).
fn depth_kind(a: &Args) -> bool {
    a.s("kind", "trade") == "depth"
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
    cfg.arrivals = a.s("arrivals", "periodic").parse().expect("arrivals");
    cfg.burst = a.f("burst", 1.0) as u32;
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

/// The configuration of an inline hftlive client of the sim's one instrument (`engine_opts`:
/// more members of the configuration, e.g. `"liveness_interval_ms":1000`).
fn inline_cfg(a: &Args, name: &str) -> String {
    let extra = a.s("engine_opts", "");
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(",{extra}")
    };
    format!(
        r#"{{"instruments":[{{"connector":"{name}","symbol":"btcusdt","tick_size":0.1,"lot_size":0.001}}],"mode":"inline","engine_wait":"{}"{extra}}}"#,
        a.s("engine_wait", "adaptive")
    )
}

/// The sim's trade ratio for a latency bench of `kind`.
fn latency_sim(a: &Args, name: &str) -> Sim {
    let mut a2 = Args(a.0.clone());
    let ratio = if depth_kind(a) { "0" } else { "1" };
    a2.0.entry("trade_ratio".into()).or_insert(ratio.into());
    start_sim(&a2, name)
}

/// Latency of LiveBot's `wait_next_feed` loop: each trade when the loop has it (`kind=trade`),
/// each depth message when `wait_next_feed` returns after its `BatchEnd` (`kind=depth`, through
/// `feed_latency`: the last feed event's `local_ts`).
fn latency_livebot(a: &Args, name: &str) -> String {
    let depth = depth_kind(a);
    let sim = latency_sim(a, name);
    let mut bot = livebot(name);
    let warm = Duration::from_secs_f64(a.f("warmup", 0.5));
    let dur = Duration::from_secs_f64(a.f("seconds", 5.0));
    let t0 = Instant::now();
    let mut lat = hist();
    let mut last_local = 0;
    let mut cpu0 = None;
    while t0.elapsed() < warm + dur {
        let r = bot.wait_next_feed(false, 100_000_000);
        let now = now_ns();
        let warmed = t0.elapsed() >= warm;
        if warmed {
            cpu0.get_or_insert_with(|| (cpu_seconds(), Instant::now()));
        }
        if depth {
            if let (Ok(_), Some((_, local))) = (r, bot.feed_latency(0)) {
                if local != last_local {
                    last_local = local;
                    if warmed {
                        rec(&mut lat, now - local);
                    }
                }
            }
        } else if let Ok(ElapseResult::MarketFeed) = r {
            if warmed {
                for t in bot.last_trades(0) {
                    rec(&mut lat, now - t.local_ts);
                }
            }
            bot.clear_last_trades(Some(0));
        }
    }
    let (c0, i0) = cpu0.unwrap_or((cpu_seconds(), Instant::now()));
    let cpu = (cpu_seconds() - c0) / i0.elapsed().as_secs_f64();
    drop(bot);
    sim.stop();
    format!(
        r#"{},"cpu":{cpu:.3},"expected":{:.0}"#,
        hist_json(&lat),
        expected(a)
    )
}

/// Opens an hftlive client from a JSON configuration (panics on failure: a benchmark setup error).
fn open_client(cfg: &str) -> Client {
    Client::open(cfg).expect("open an hftlive client")
}

/// Polls `c` into `buf` (0 records on timeout or error, as a benchmark loop wants).
fn poll(c: &Client, buf: &mut [u8], timeout: Duration) -> usize {
    c.poll(buf, timeout).unwrap_or(0)
}

/// Same measurement through hftlive's engine natively: an inline client polled on this thread;
/// also the stages publish -> engine receive -> handler.
fn latency_hftlive(a: &Args, name: &str) -> String {
    let depth = depth_kind(a);
    let sim = latency_sim(a, name);
    let c = open_client(&inline_cfg(a, name));
    let warm = Duration::from_secs_f64(a.f("warmup", 0.5));
    let dur = Duration::from_secs_f64(a.f("seconds", 5.0));
    let mut buf = vec![0u8; 64 * 4096];
    let (mut lat, mut engine, mut deliver) = (hist(), hist(), hist());
    let mut last_local = 0;
    let t0 = Instant::now();
    let mut cpu0 = None;
    while t0.elapsed() < warm + dur {
        let n = poll(&c, &mut buf, Duration::from_millis(100));
        if n == 0 || t0.elapsed() < warm {
            continue;
        }
        cpu0.get_or_insert_with(|| (cpu_seconds(), Instant::now()));
        for rec_bytes in buf[..n * 64].chunks_exact(64) {
            let r = RecView(rec_bytes);
            let sample = if depth {
                // The first record of each depth message (all of a message share local_ts).
                r.kind() == K_DEPTH && r.i(3) > 0 && r.i(4) != last_local
            } else {
                r.kind() == K_TRADE
            };
            if sample {
                let now = now_ns();
                let (local, eng) = (r.i(4), r.i(ENGINE_TS_SLOT));
                last_local = local;
                rec(&mut lat, now - local);
                rec(&mut engine, eng - local);
                rec(&mut deliver, now - eng);
            }
        }
    }
    let (c0, i0) = cpu0.unwrap_or((cpu_seconds(), Instant::now()));
    let cpu = (cpu_seconds() - c0) / i0.elapsed().as_secs_f64();
    c.close();
    sim.stop();
    format!(
        r#"{},"cpu":{cpu:.3},"expected":{:.0},"stages":{{"engine":{{{}}},"deliver":{{{}}}}}"#,
        hist_json(&lat),
        expected(a),
        hist_json(&engine),
        hist_json(&deliver)
    )
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

/// What one liveness check costs: the full dead-node cleanup (lists every iceoryx2 node on the
/// machine) against listing the connector's publishers only, `calls` times each, with the sim up
/// (and `extra_nodes` more nodes, as other processes on a busy machine have).
fn liveness_cost(a: &Args, name: &str) -> String {
    let sim = start_sim(a, name);
    let calls = a.f("calls", 200.0) as usize;
    let channel = hftlive::iox::ChannelConfig::from_env()
        .expect("channel config")
        .unwrap_or(hftlive::iox::DEFAULT_CHANNEL);
    let live = hftlive::iox::Liveness::open(name, &channel).expect("liveness");
    let (mut cleanup, mut list) = (hist(), hist());
    let mut up = 0;
    for _ in 0..calls {
        let t = Instant::now();
        hftlive::iox::cleanup_dead_nodes();
        rec(&mut cleanup, t.elapsed().as_nanos() as i64);
        let t = Instant::now();
        let (peer, pid) = live.peer();
        let alive = pid.is_some_and(hftlive::iox::process_exists);
        rec(&mut list, t.elapsed().as_nanos() as i64);
        if matches!(peer, hftlive::iox::Peer::Up(_)) && alive {
            up += 1;
        }
    }
    let mut nodes = 0;
    let _ = iceoryx2::prelude::Node::<iceoryx2::prelude::ipc::Service>::list(
        iceoryx2::prelude::Config::global_config(),
        |_| {
            nodes += 1;
            iceoryx2::prelude::CallbackProgression::Continue
        },
    );
    sim.stop();
    format!(
        r#""nodes":{nodes},"peer_up":{up},"cleanup":{{{}}},"list_publishers":{{{}}}"#,
        hist_json(&cleanup),
        hist_json(&list)
    )
}

/// `extra_nodes` iceoryx2 nodes held for the whole run: the node count of a busy machine (every
/// process speaking iceoryx2 has some), which the full dead-node cleanup walks.
fn extra_nodes(a: &Args) -> Vec<iceoryx2::node::Node<iceoryx2::prelude::ipc::Service>> {
    (0..a.f("extra_nodes", 0.0) as usize)
        .map(|_| {
            iceoryx2::prelude::NodeBuilder::new()
                .signal_handling_mode(iceoryx2::prelude::SignalHandlingMode::Disabled)
                .create::<iceoryx2::prelude::ipc::Service>()
                .expect("extra node")
        })
        .collect()
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
    let _nodes = extra_nodes(&a);
    let body = match (bench.as_str(), bot.as_str()) {
        ("liveness", _) => liveness_cost(&a, &name),
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
