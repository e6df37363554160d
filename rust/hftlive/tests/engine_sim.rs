//! The engine against the sim connector (`hftlive-sim`) over real iceoryx2 IPC.

mod common;

use std::time::{Duration, Instant};

use common::*;
use hftlive::{record::*, ErrorKind, NewOrder, TimeInForce};
use hftlive_sim::{Fault, Sim, SimConfig, SimInstrument};

fn sim(name: &str, fuse: bool) -> Sim {
    let mut cfg = SimConfig::new(
        name,
        vec![SimInstrument {
            symbol: "btcusdt".into(),
            tick_size: 0.1,
            lot_size: 0.001,
            start_price: 50_000.0,
        }],
    );
    cfg.seed = 7;
    cfg.rate = 3000.0;
    cfg.fuse_deletions = fuse;
    Sim::start(cfg).unwrap()
}

const LOCAL: u32 = 1 << 30;

fn same(a: &[(f64, f64)], b: &[(f64, f64)]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x.0 - y.0).abs() < 1e-6 && (x.1 - y.1).abs() < 1e-9)
}

#[test]
fn book_matches_the_sim_level_for_level_with_fused_deletions() {
    let name = unique_name("simbook");
    let s = sim(&name, true);
    let mut c = open(&client_cfg(&name, &["btcusdt"], "")).unwrap();
    c.wait_for(T, |r| registered(r, 0)).expect("registered");
    let mut nonlocal_deletions = 0;
    c.wait_for(T, |r| {
        if r.kind() == K_DEPTH && r.v().f(2) == 0.0 && r.v().aux() & LOCAL == 0 {
            nonlocal_deletions += 1;
        }
        nonlocal_deletions >= 20
    })
    .expect("the sim sends deletions without LOCAL_EVENT");
    s.fault(Fault::PauseMarket(true));
    // Paused: the sim's book is fixed; the client must converge to it exactly.
    let (sb, sa) = s.book("btcusdt").unwrap();
    let start = Instant::now();
    loop {
        let (cb, ca) = c.depth(0, 1000);
        if same(&cb, &sb) && same(&ca, &sa) {
            break;
        }
        assert!(
            start.elapsed() < T,
            "client book never matched the sim's:\nclient bids {cb:?}\nsim bids {sb:?}\nclient asks {ca:?}\nsim asks {sa:?}"
        );
        c.wait_for(Duration::from_millis(20), |_| false);
    }
    assert!(!sb.is_empty() && !sa.is_empty());
    s.stop();
}

#[test]
fn orders_against_the_sim_fill_reject_and_move_the_position() {
    let name = unique_name("simord");
    let s = sim(&name, false);
    let mut c = open(&client_cfg(&name, &["btcusdt"], "")).unwrap();
    c.wait_for(T, |r| registered(r, 0)).expect("registered");
    let bbo = c
        .wait_for(T, |r| r.kind() == K_BBO && r.v().f(3).is_finite())
        .unwrap();
    let ask = bbo.v().f(3);
    // A crossing IOC buy fills (at least partly); the position follows.
    let ioc = NewOrder {
        time_in_force: TimeInForce::IOC,
        ..limit(1, 1, ask + 5.0, 0.001)
    };
    c.submit(ioc).unwrap();
    let fill = c
        .wait_for(T, |r| {
            r.kind() == K_ORDER && r.v().u(1) == 1 && matches!(r.v().aux() as u8, 3 | 2)
        })
        .expect("IOC order finished");
    assert_eq!(fill.v().aux() as u8, 3, "filled");
    let pos = match c
        .seen
        .iter()
        .rev()
        .find(|r| r.kind() == K_POSITION)
        .cloned()
    {
        Some(p) => p,
        None => c.wait_for(T, |r| r.kind() == K_POSITION).expect("position"),
    };
    assert!((pos.v().f(1) - 0.001).abs() < 1e-12);
    // A post-only order that would cross is rejected with Binance's code.
    let post_only = NewOrder {
        time_in_force: TimeInForce::GTX,
        ..limit(2, 1, ask + 5.0, 0.001)
    };
    c.submit(post_only).unwrap();
    let e = c.wait_for(T, |r| r.kind() == K_ERROR).unwrap();
    assert_eq!((e.v().aux(), e.v().i(1), e.v().u(2)), (ERR_ORDER, -5022, 2));
    // The reject fault: every order is rejected with the given code.
    s.fault(Fault::RejectOrders(-2019));
    c.submit(limit(3, -1, ask + 100.0, 0.001)).unwrap();
    let e = c
        .wait_for(T, |r| r.kind() == K_ERROR && r.v().u(2) == 3)
        .unwrap();
    assert_eq!(e.v().i(1), -2019);
    let o = c
        .seen
        .iter()
        .rev()
        .find(|r| r.kind() == K_ORDER && r.v().u(1) == 3)
        .unwrap();
    assert_eq!(o.v().aux() as u8, STATUS_REJECTED);
    // The sim exits: the client sees the connector go down without any market activity.
    s.fault(Fault::Exit);
    let t0 = Instant::now();
    c.wait_for(T, |r| r.kind() == K_CONNECTOR && r.v().aux() == 0)
        .expect("down");
    assert!(
        t0.elapsed() < Duration::from_millis(500),
        "{:?}",
        t0.elapsed()
    );
    s.stop();
}

#[test]
fn inline_client_polls_the_sim_on_its_own_thread_only() {
    let name = unique_name("siminl");
    let s = sim(&name, false);
    let mut c = open(&client_cfg(&name, &["btcusdt"], r#","mode":"inline""#)).unwrap();
    c.wait_for(T, |r| registered(r, 0))
        .expect("registered inline");
    c.wait_for(T, |r| r.kind() == K_TRADE)
        .expect("trades inline");
    assert_eq!(
        c.c.wait(Duration::from_millis(1)).unwrap_err().kind(),
        ErrorKind::State,
        "no engine thread to wait for"
    );
    let c2 = c.c.clone();
    let other = std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 4];
        c2.poll(&mut buf, Duration::from_millis(1))
    });
    assert_eq!(
        other.join().unwrap().unwrap_err().kind(),
        ErrorKind::State,
        "another thread may not run the engine"
    );
    // Closed from another thread: the owner's next poll says so (and drops the engine there).
    let c3 = c.c.clone();
    std::thread::spawn(move || c3.close()).join().unwrap();
    let mut buf = vec![0u8; 64 * 4];
    let err = c.c.poll(&mut buf, Duration::from_millis(1)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed);
    s.stop();
}
