//! Measures the engine's idle strategies against hftbacktest's own `LiveBot` (whose
//! `IceoryxUnifiedChannel` calls `node.wait(1 ns)` on every poll): latency from a connector's
//! publish to the bot seeing the event, and the CPU the process burns while doing it.
//!
//! `cargo run --release --example wait_strategies -- [events] [gap_us] [rounds]`
//!
//! A scripted connector (hftbacktest's `IceoryxBuilder` ports, real iceoryx2 IPC) publishes one
//! trade stamped with the wall clock, waits until the bot has seen it, sleeps `gap_us`, repeats.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicI64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use hftbacktest::{
    depth::HashMapMarketDepth,
    live::{
        ipc::{
            iceoryx::{IceoryxBuilder, IceoryxReceiver, IceoryxSender},
            TO_ALL,
        },
        Instrument, LiveBotBuilder,
    },
    prelude::*,
};
use hftlive::{now_ns, record::*, Client};

fn cpu_seconds() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap();
    let rest = &s[s.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / 100.0
}

struct Conn {
    tx: IceoryxSender<LiveEvent>,
    rx: IceoryxReceiver<LiveRequest>,
}

impl Conn {
    fn answer_registrations(&self) -> bool {
        let mut any = false;
        while let Ok(Some((id, req))) = self.rx.receive() {
            if let LiveRequest::RegisterInstrument { .. } = req {
                self.tx.send(id, &LiveEvent::BatchStart).unwrap();
                self.tx.send(id, &LiveEvent::BatchEnd).unwrap();
                any = true;
            }
        }
        any
    }
    fn trade(&self, ts: i64) {
        let ev = Event {
            ev: LOCAL_EVENT | EXCH_EVENT | BUY_EVENT | TRADE_EVENT,
            exch_ts: ts,
            local_ts: ts,
            px: 100.0,
            qty: 1.0,
            order_id: 0,
            ival: 0,
            fval: 0.0,
        };
        self.tx
            .send(
                TO_ALL,
                &LiveEvent::Feed {
                    symbol: "btcusdt".into(),
                    event: ev,
                },
            )
            .unwrap();
    }
}

struct Result_ {
    name: String,
    lat: Vec<f64>,
    cpu: f64,
}

/// Runs the connector side on this thread; `seen` holds the ts of the last event the bot saw.
fn drive(conn: &Conn, seen: &AtomicI64, events: usize, gap: Duration, ready: &AtomicBool) -> f64 {
    while !ready.load(Ordering::SeqCst) {
        conn.answer_registrations();
        std::thread::yield_now();
    }
    // warm-up
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    for _ in 0..events {
        let ts = now_ns();
        conn.trade(ts);
        // Sleep, not spin: the driver must not take a core from the bot under test.
        std::thread::sleep(gap);
        let start = Instant::now();
        while seen.load(Ordering::SeqCst) != ts {
            conn.answer_registrations();
            if start.elapsed() > Duration::from_secs(5) {
                panic!("event lost");
            }
            std::thread::sleep(Duration::from_micros(20));
        }
    }
    (cpu_seconds() - cpu0) / t0.elapsed().as_secs_f64()
}

/// `strategy` is an `engine_wait` value, or `inline:<engine_wait>` for an inline client polled
/// (and opened) on the consumer thread.
fn run_hftlive(strategy: &str, events: usize, gap: Duration, round: usize) -> Result_ {
    let (mode, wait) = match strategy.strip_prefix("inline:") {
        Some(w) => ("inline", w),
        None => ("thread", strategy),
    };
    let name = format!("hlwait-{}-{mode}-{wait}-{round}", std::process::id());
    hftlive::iox::prepare_dirs();
    let conn = Conn {
        tx: IceoryxBuilder::new(&name).bot(false).sender().unwrap(),
        rx: IceoryxBuilder::new(&name).bot(false).receiver().unwrap(),
    };
    let cfg = format!(
        r#"{{"instruments":[{{"connector":"{name}","symbol":"btcusdt","tick_size":0.1,"lot_size":0.001}}],"engine_wait":"{wait}","mode":"{mode}","poll_spin_us":0,"register_interval_ms":20,"liveness_interval_ms":20}}"#
    );
    let seen = Arc::new(AtomicI64::new(0));
    let ready = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let (s2, r2, st2) = (seen.clone(), ready.clone(), stop.clone());
    // The consumer thread opens the client (an inline engine runs on the thread that opened it).
    let consumer = std::thread::spawn(move || {
        let c = Client::open(&cfg).expect("open an hftlive client");
        let mut buf = vec![0u8; 64 * 256];
        let mut lat = Vec::new();
        while !st2.load(Ordering::SeqCst) {
            let n = c.poll(&mut buf, Duration::from_millis(50)).unwrap_or(0);
            let now = now_ns();
            for rec in buf[..n * 64].chunks_exact(64) {
                let r = RecView(rec);
                if r.kind() == K_INSTRUMENT && r.aux() == INST_REGISTERED {
                    r2.store(true, Ordering::SeqCst);
                }
                if r.kind() == K_TRADE {
                    lat.push((now - r.i(4)) as f64 / 1000.0);
                    s2.store(r.i(4), Ordering::SeqCst);
                }
            }
        }
        c.close();
        lat
    });
    let cpu = drive(&conn, &seen, events, gap, &ready);
    stop.store(true, Ordering::SeqCst);
    let lat = consumer.join().unwrap();
    Result_ {
        name: format!("hftlive {mode} engine_wait={wait}"),
        lat,
        cpu,
    }
}

fn run_livebot(events: usize, gap: Duration, round: usize) -> Result_ {
    let name = format!("hlwait-{}-livebot-{round}", std::process::id());
    hftlive::iox::prepare_dirs();
    let conn = Conn {
        tx: IceoryxBuilder::new(&name).bot(false).sender().unwrap(),
        rx: IceoryxBuilder::new(&name).bot(false).receiver().unwrap(),
    };
    let seen = Arc::new(AtomicI64::new(0));
    let ready = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let (s2, r2, st2, n2) = (seen.clone(), ready.clone(), stop.clone(), name.clone());
    let bot = std::thread::spawn(move || {
        let mut bot = LiveBotBuilder::new()
            .register(Instrument::new(
                &n2,
                "btcusdt",
                0.1,
                0.001,
                HashMapMarketDepth::new(0.1, 0.001),
                16,
            ))
            .build::<hftbacktest::live::ipc::iceoryx::IceoryxUnifiedChannel>()
            .unwrap();
        r2.store(true, Ordering::SeqCst);
        let mut lat = Vec::new();
        while !st2.load(Ordering::SeqCst) {
            if let Ok(ElapseResult::MarketFeed) = bot.wait_next_feed(false, 50_000_000) {
                let now = now_ns();
                if let Some(t) = bot.last_trades(0).last() {
                    if t.local_ts != s2.load(Ordering::SeqCst) {
                        lat.push((now - t.local_ts) as f64 / 1000.0);
                        s2.store(t.local_ts, Ordering::SeqCst);
                    }
                }
                bot.clear_last_trades(Some(0));
            }
        }
        lat
    });
    let cpu = drive(&conn, &seen, events, gap, &ready);
    stop.store(true, Ordering::SeqCst);
    let lat = bot.join().unwrap();
    Result_ {
        name: "hftbacktest LiveBot (node.wait 1ns)".into(),
        lat,
        cpu,
    }
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn median(v: &mut [f64]) -> f64 {
    pct(v, 0.5)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let events: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(3000);
    let gap = Duration::from_micros(args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200));
    let rounds: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(3);
    let only = std::env::var("ONLY").ok();
    let strategies = [
        "node_wait",
        "sleep",
        "adaptive",
        "yield",
        "inline:node_wait",
        "inline:sleep",
        "inline:yield",
        "inline:spin",
    ];
    // (bot, p50 per round, p99 per round, CPU per round)
    type Row = (String, Vec<f64>, Vec<f64>, Vec<f64>);
    let mut table: Vec<Row> = Vec::new();
    for round in 0..rounds {
        let mut results = Vec::new();
        if only.as_deref().is_none_or(|o| o == "livebot") {
            results.push(run_livebot(events, gap, round));
        }
        for s in strategies {
            if only.as_deref().is_some_and(|o| o != s) {
                continue;
            }
            results.push(run_hftlive(s, events, gap, round));
        }
        for mut r in results {
            let row = match table.iter_mut().find(|x| x.0 == r.name) {
                Some(row) => row,
                None => {
                    table.push((r.name.clone(), vec![], vec![], vec![]));
                    table.last_mut().unwrap()
                }
            };
            row.1.push(median(&mut r.lat));
            row.2.push(pct(&mut r.lat, 0.99));
            row.3.push(r.cpu);
        }
    }
    println!(
        "events={events} gap={}us rounds={rounds}; median over rounds [min-max]",
        gap.as_micros()
    );
    println!("| bot | p50 µs | p99 µs | process CPU (cores) |");
    println!("|---|---|---|---|");
    let fmt = |v: &mut Vec<f64>| {
        let mut s = v.clone();
        let m = median(&mut s);
        format!("{m:.1} [{:.1}-{:.1}]", s[0], s[s.len() - 1])
    };
    for (name, p50, p99, cpu) in table.iter_mut() {
        println!(
            "| {name} | {} | {} | {} |",
            fmt(p50),
            fmt(p99),
            fmt(cpu).replace(".1}", ".2}")
        );
    }
}
