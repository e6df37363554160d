//! Measures how many market events per second the sim publishes to one draining bot.
//! `cargo run --release -p hftlive-sim --example sim_throughput -- [rate] [seconds] [batches 0|1]`

use std::time::{Duration, Instant};

use hftbacktest::{
    live::ipc::iceoryx::IceoryxChannel,
    types::{LiveEvent, LiveRequest},
};
use hftlive_sim::{Sim, SimConfig, SimInstrument};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rate: f64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(1e6);
    let secs: f64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(2.0);
    let batches = args.get(2).map(|s| s != "0").unwrap_or(true);
    let name = format!("hlsim-tp-{}", std::process::id());
    let mut cfg = SimConfig::new(
        &name,
        vec![SimInstrument {
            symbol: "btcusdt".into(),
            tick_size: 0.1,
            lot_size: 0.001,
            start_price: 50_000.0,
        }],
    );
    cfg.rate = rate;
    cfg.depth_batches = batches;
    cfg.poll_us = 0;
    let sim = Sim::start(cfg).expect("sim");
    let bot: IceoryxChannel<LiveRequest, LiveEvent> = IceoryxChannel::new(&name).expect("bot");
    bot.send(
        1,
        &LiveRequest::RegisterInstrument {
            symbol: "btcusdt".into(),
            tick_size: 0.1,
            lot_size: 0.001,
        },
    )
    .unwrap();
    let t0 = Instant::now();
    let s0 = sim.stats();
    let mut received = 0u64;
    while t0.elapsed() < Duration::from_secs_f64(secs) {
        while let Ok(Some(_)) = bot.receive() {
            received += 1;
        }
    }
    let s1 = sim.stats();
    let dt = t0.elapsed().as_secs_f64();
    println!(
        "rate {rate}: {:.0} market events/s, {:.0} messages/s sent, {:.0} messages/s received",
        (s1.market_events - s0.market_events) as f64 / dt,
        (s1.messages_sent - s0.messages_sent) as f64 / dt,
        received as f64 / dt
    );
    sim.stop();
}
