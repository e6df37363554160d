//! What waking an idle thread costs on this machine, with no hftlive and no JavaScript: a writer
//! thread sleeps `gap`, stamps the time and wakes a blocked reader, through a Unix socket (what
//! the stream-mode doorbell uses) or a condvar (what `hl_client_wait`/`poll` on an engine thread
//! park on); the reader measures now − stamp. Any hand-off between the engine thread and the
//! consumer's thread pays this; the inline hot loop does not.
//!
//! ```text
//! cargo run --release --example idle_wake -- [events per gap, default 300]
//! ```

use std::{
    io::{Read, Write},
    os::unix::net::UnixStream,
    sync::{Arc, Condvar, Mutex},
    time::{Duration, Instant},
};

fn pct(mut v: Vec<u128>) -> String {
    v.sort_unstable();
    let p = |q: f64| v[((v.len() - 1) as f64 * q) as usize] as f64 / 1e3;
    format!(
        "p50 {:.1} µs, p90 {:.1}, p99 {:.1}",
        p(0.5),
        p(0.9),
        p(0.99)
    )
}

fn socket(gap: Duration, n: usize, t0: Instant) -> Vec<u128> {
    let (mut a, mut b) = UnixStream::pair().expect("socket pair");
    let stamps = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let s2 = stamps.clone();
    let w = std::thread::spawn(move || {
        for _ in 0..n {
            std::thread::sleep(gap);
            s2.lock().unwrap().push(t0.elapsed().as_nanos());
            a.write_all(&[1]).unwrap();
        }
    });
    let mut lat = Vec::with_capacity(n);
    let mut buf = [0u8; 1];
    for i in 0..n {
        b.read_exact(&mut buf).unwrap();
        let now = t0.elapsed().as_nanos();
        lat.push(now - stamps.lock().unwrap()[i]);
    }
    w.join().unwrap();
    lat
}

fn condvar(gap: Duration, n: usize, t0: Instant) -> Vec<u128> {
    let pair = Arc::new((Mutex::new((0usize, 0u128)), Condvar::new()));
    let p2 = pair.clone();
    let w = std::thread::spawn(move || {
        for i in 1..=n {
            std::thread::sleep(gap);
            let (m, c) = &*p2;
            *m.lock().unwrap() = (i, t0.elapsed().as_nanos());
            c.notify_one();
        }
    });
    let mut lat = Vec::with_capacity(n);
    let (m, c) = &*pair;
    let mut seen = 0;
    while seen < n {
        let mut g = m.lock().unwrap();
        while g.0 == seen {
            g = c.wait(g).unwrap();
        }
        seen = g.0;
        lat.push(t0.elapsed().as_nanos() - g.1);
    }
    w.join().unwrap();
    lat
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let t0 = Instant::now();
    for gap_ms in [20u64, 10, 1] {
        let gap = Duration::from_millis(gap_ms);
        println!(
            "gap {gap_ms:>2} ms: unix socket {}; condvar {}",
            pct(socket(gap, n, t0)[5..].to_vec()),
            pct(condvar(gap, n, t0)[5..].to_vec())
        );
    }
}
