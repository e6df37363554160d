//! Arrival processes of market events: periodic (the default), Poisson, and bursts.

mod common;

use common::*;
use hftbacktest::types::{LiveEvent, LOCAL_BUY_TRADE_EVENT, LOCAL_SELL_TRADE_EVENT};
use hftlive_sim::Arrivals;

/// The publish times (ns) of the next `n` trades a bot sees.
fn trade_times(edit: impl FnOnce(&mut hftlive_sim::SimConfig), n: usize) -> Vec<i64> {
    let sim = start_sim("arrivals", |c| {
        c.trade_ratio = 1.0;
        edit(c);
    });
    let bot = Bot::new(sim.name());
    bot.register_and_wait(SYMBOL);
    let mut ts = Vec::new();
    bot.until(|_, ev| {
        if let LiveEvent::Feed { event, .. } = ev {
            if event.is(LOCAL_BUY_TRADE_EVENT) || event.is(LOCAL_SELL_TRADE_EVENT) {
                ts.push(event.local_ts);
            }
        }
        ts.len() >= n
    });
    sim.stop();
    ts
}

/// Mean and coefficient of variation of the gaps between consecutive times.
fn gaps(ts: &[i64]) -> (f64, f64, Vec<f64>) {
    let g: Vec<f64> = ts.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
    let mean = g.iter().sum::<f64>() / g.len() as f64;
    let var = g.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / g.len() as f64;
    (mean, var.sqrt() / mean, g)
}

#[test]
fn poisson_arrivals_keep_the_mean_rate_with_exponential_gaps() {
    let ts = trade_times(
        |c| {
            c.rate = 500.0;
            c.arrivals = Arrivals::Poisson;
        },
        400,
    );
    let (mean, cv, _) = gaps(&ts);
    // Mean gap 2 ms; an exponential distribution has a coefficient of variation of 1 (periodic
    // arrivals: close to 0). Loose bounds: a loaded machine delays some publications.
    assert!((1.4e6..3.0e6).contains(&mean), "mean gap {mean} ns");
    assert!(cv > 0.6, "coefficient of variation {cv}: not Poisson-like");
}

#[test]
fn periodic_arrivals_are_regular() {
    let ts = trade_times(|c| c.rate = 500.0, 200);
    let (mean, _, g) = gaps(&ts);
    assert!((1.6e6..2.6e6).contains(&mean), "mean gap {mean} ns");
    // Most gaps are close to the period (timer slack and scheduling aside).
    let near = g.iter().filter(|x| (**x - 2e6).abs() < 1e6).count();
    assert!(
        near * 10 >= g.len() * 7,
        "{near} of {} gaps near 2 ms",
        g.len()
    );
}

#[test]
fn bursts_publish_back_to_back_at_the_mean_rate() {
    let ts = trade_times(
        |c| {
            c.rate = 500.0;
            c.burst = 5;
        },
        200,
    );
    let (mean, _, g) = gaps(&ts);
    assert!((1.4e6..3.0e6).contains(&mean), "mean gap {mean} ns");
    // Four of five gaps are inside a burst (microseconds), one between bursts (10 ms).
    let long = g.iter().filter(|x| **x > 5e6).count();
    let short = g.iter().filter(|x| **x < 1e6).count();
    assert!(
        long * 5 <= g.len() + 5 && short * 10 >= g.len() * 7,
        "{long} long and {short} short gaps of {}",
        g.len()
    );
}
