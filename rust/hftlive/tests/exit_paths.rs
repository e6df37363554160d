//! Cancel on exit, the paths of the safe API (the ABI's own, a guarded thread ending and the
//! process exiting, are in `abi.rs`): a close, an engine failure, the thread holding an inline
//! engine ending. Against the sim.

mod common;

use std::time::{Duration, Instant};

use common::*;
use hftlive::ErrorKind;
use hftlive_sim::Fault;

const ON_EXIT: &str = r#","cancel_on_exit":true,"exit_timeout_ms":5000"#;

/// Delays the sim's answers by `ms` from now on (a fault is applied by the sim's thread; a book
/// query behind it returns once it was).
fn delay(sim: &hftlive_sim::Sim, ms: u64) {
    sim.fault(Fault::DelayMs(ms));
    sim.book("btcusdt").unwrap();
}

/// Every message of the ERROR records read so far and still unread.
fn messages(c: &TestClient) -> Vec<String> {
    std::iter::from_fn(|| c.c.take_message()).collect()
}

#[test]
fn close_cancels_every_active_order_and_each_unacknowledged_one_before_it_returns() {
    let name = unique_name("exitclose");
    let sim = order_sim(&name);
    let mut c = open(&client_cfg(&name, &["btcusdt"], ON_EXIT)).unwrap();
    c.wait_for(T, |r| registered(r, 0)).unwrap();
    c.rest(1..=50);
    // Sent but not acknowledged when close starts: cancelled once they are.
    delay(&sim, 300);
    for id in 51..=100 {
        c.submit(resting_buy(id)).unwrap();
    }
    let start = Instant::now();
    while c.c.stats()[10] < 100.0 {
        assert!(start.elapsed() < T, "all sent");
        std::thread::sleep(Duration::from_millis(1));
    }
    let t0 = Instant::now();
    c.c.close();
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(sim_resting(&sim, 0, Duration::from_secs(1)), 0, "none left");
    assert_eq!((sim.stats().acks, sim.stats().cancels), (100, 100));
    let msgs = messages(&c);
    assert!(
        msgs.iter()
            .any(|m| m.contains("cancel on exit: all 100 active orders finished")),
        "{msgs:?}"
    );
}

#[test]
fn close_sends_no_new_order_still_waiting_in_the_queue() {
    let name = unique_name("exitq");
    let sim = order_sim(&name);
    let extra = format!(r#"{ON_EXIT},"max_in_flight":1"#);
    let mut c = open(&client_cfg(&name, &["btcusdt"], &extra)).unwrap();
    c.wait_for(T, |r| registered(r, 0)).unwrap();
    // Long enough that the first answer cannot free the window before close starts.
    delay(&sim, 1_000);
    for id in 1..=5 {
        c.submit(resting_buy(id)).unwrap();
    }
    let start = Instant::now();
    while c.c.stats()[10] < 1.0 {
        assert!(start.elapsed() < T, "the first one is sent");
        std::thread::sleep(Duration::from_millis(1));
    }
    c.c.close();
    assert_eq!(sim_resting(&sim, 0, Duration::from_secs(1)), 0);
    let st = sim.stats();
    assert_eq!(
        (st.orders_received, st.acks, st.cancels),
        (2, 1, 1),
        "{st:?}"
    );
    let msgs = messages(&c);
    let withdrawn = msgs
        .iter()
        .filter(|m| m.contains("the client is closing; nothing was sent"))
        .count();
    assert_eq!(withdrawn, 4, "{msgs:?}");
}

#[test]
fn without_cancel_on_exit_close_leaves_orders_resting() {
    let name = unique_name("noexit");
    let sim = order_sim(&name);
    let mut c = open(&client_cfg(&name, &["btcusdt"], "")).unwrap();
    c.wait_for(T, |r| registered(r, 0)).unwrap();
    c.rest(1..=5);
    c.c.close();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        sim.stats().resting,
        5,
        "the default of the ABI: nothing cancelled"
    );
}

#[cfg(feature = "fault-injection")]
#[test]
fn an_engine_failure_cancels_through_fresh_ports_and_says_what_it_sent() {
    let name = unique_name("exitfail");
    let sim = order_sim(&name);
    let mut c = open(&client_cfg(&name, &["btcusdt"], ON_EXIT)).unwrap();
    c.wait_for(T, |r| registered(r, 0)).unwrap();
    c.rest(1..=20);
    c.c.inject_fault(1).unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let start = Instant::now();
    let err = loop {
        match c.c.poll(&mut buf, Duration::from_millis(20)) {
            Err(e) => break e,
            Ok(_) => assert!(start.elapsed() < T, "the engine never failed"),
        }
    };
    assert_eq!(err.kind(), ErrorKind::Engine);
    let msg = err.to_string();
    assert!(msg.contains("panicked"), "{msg}");
    assert!(
        msg.contains(&format!(
            "cancel on exit: connector \"{name}\": sent 20 of 20 cancels through a new channel, \
             20 answered"
        )),
        "{msg}"
    );
    assert_eq!(sim_resting(&sim, 0, T), 0);
}

#[test]
fn an_inline_engine_cancels_when_the_thread_that_holds_it_ends() {
    let name = unique_name("exitinl");
    let sim = order_sim(&name);
    let cfg = client_cfg(
        &name,
        &["btcusdt"],
        &format!(r#"{ON_EXIT},"mode":"inline""#),
    );
    std::thread::spawn(move || {
        let mut c = open(&cfg).unwrap();
        c.wait_for(T, |r| registered(r, 0)).unwrap();
        c.rest(1..=10);
        // Never closed: the engine goes with the thread's locals (a Worker terminated).
        std::mem::forget(c);
    })
    .join()
    .unwrap();
    assert_eq!(sim_resting(&sim, 0, Duration::from_secs(1)), 0);
}

#[test]
fn an_inline_client_closed_from_another_thread_cancels_at_its_owners_next_call() {
    let name = unique_name("exitinl2");
    let sim = order_sim(&name);
    let cfg = client_cfg(
        &name,
        &["btcusdt"],
        &format!(r#"{ON_EXIT},"mode":"inline""#),
    );
    let mut c = open(&cfg).unwrap();
    c.wait_for(T, |r| registered(r, 0)).unwrap();
    c.rest(1..=10);
    let other = c.c.clone();
    std::thread::spawn(move || other.close()).join().unwrap();
    assert_eq!(
        sim.stats().resting,
        10,
        "another thread cannot touch the ports"
    );
    let mut buf = vec![0u8; 64 * 16];
    let e = c.c.poll(&mut buf, Duration::from_millis(1)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Closed);
    // That call dropped the engine on its thread, cancelling first.
    assert_eq!(sim_resting(&sim, 0, Duration::from_secs(1)), 0);
}
