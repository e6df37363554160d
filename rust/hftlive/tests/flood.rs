//! The test producer (feature `fault-injection`, `hl_client_fault` 3/4): it fills the ring with
//! numbered TRADE records as fast as the consumer makes room, and never drops one.
#![cfg(feature = "fault-injection")]

mod common;

use std::time::{Duration, Instant};

use common::*;
use hftlive::record::*;

#[test]
fn the_test_producer_fills_the_ring_in_order_without_losing_a_record() {
    for extra in ["", r#","mode":"inline","ring_capacity":1024"#] {
        let name = unique_name("flood");
        let c = hftlive::Client::open(&client_cfg(&name, &["a"], extra)).unwrap();
        let mut buf = vec![0u8; 64 * 4096];
        let mut next = 0f64;
        let check = |buf: &[u8], n: usize, next: &mut f64| {
            for rec in buf[..n * 64].chunks_exact(64) {
                let r = RecView(rec);
                if r.kind() == K_TRADE {
                    assert_eq!(r.f(1), *next, "mode {extra:?}: a gap or a reordering");
                    assert!(r.i(ENGINE_TS_SLOT) > 0);
                    *next += 1.0;
                }
            }
        };
        c.inject_fault(3).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while next < 300_000.0 && Instant::now() < deadline {
            let n = c.poll(&mut buf, Duration::from_millis(100)).unwrap();
            check(&buf, n, &mut next);
        }
        assert!(next >= 300_000.0, "mode {extra:?}: only {next} records");
        c.inject_fault(4).unwrap();
        // What was pushed before the stop, then nothing more.
        let mut quiet = 0;
        while quiet < 5 && Instant::now() < deadline {
            let n = c.poll(&mut buf, Duration::from_millis(20)).unwrap();
            let before = next;
            check(&buf, n, &mut next);
            quiet = if next == before { quiet + 1 } else { 0 };
        }
        assert_eq!(quiet, 5, "mode {extra:?}: the producer stopped");
        let stats = c.stats();
        assert_eq!(stats[1], 0.0, "mode {extra:?}: no record dropped");
        assert!(stats[0] >= next, "{} pushed, {next} trades seen", stats[0]);
        c.close();
    }
}
