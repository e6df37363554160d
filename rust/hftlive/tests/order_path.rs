//! The order path (DESIGN.md, "The order path"): bursts are paced, never lost; the kill switch
//! works at any size; nothing is sent to a connector that is down; unanswered requests are
//! reported; a restarted connector's answer is the one source of truth; orders a dead client
//! left are adopted. Against the sim and a scripted connector, through the safe API.

mod common;

use std::{
    collections::HashSet,
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use common::*;
use hftbacktest::prelude::{LiveEvent, LiveRequest, Status};
use hftlive::{record::*, ErrorKind};
use hftlive_sim::Fault;

// `hl_client_stats` fields (rust/ABI.md, "Stats").
const QUEUED: usize = 8;
const IN_FLIGHT: usize = 9;
const SENT: usize = 10;
const UNANSWERED: usize = 11;
const REFUSED: usize = 12;
const ADOPTED: usize = 13;
const WINDOW: usize = 14;

const BIG: Duration = Duration::from_secs(60);

#[test]
fn a_burst_of_100k_submits_is_paced_every_id_accounted_for_then_the_kill_switch_cancels_all() {
    const N: u64 = 100_000;
    let name = unique_name("burst");
    let sim = order_sim(&name);
    let mut c = open(&client_cfg(&name, &["btcusdt"], "")).unwrap();
    c.wait_for(T, |r| registered(r, 0)).expect("registered");
    let t0 = Instant::now();
    let mut refused = HashSet::new();
    for id in 1..=N {
        match c.submit(resting_buy(id)) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Backpressure => {
                refused.insert(id);
            }
            Err(e) => panic!("submit {id}: {e}"),
        }
    }
    let queued_in = t0.elapsed();
    // Every accepted id ends acknowledged (or rejected/expired/filled): none is lost.
    let mut state = vec![0u8; N as usize + 1];
    let mut settled = refused.len() as u64;
    let done = c.pump(BIG, |r| {
        if r.kind() == K_ORDER && r.u(1) <= N {
            let (status, req) = order_state(&r);
            let slot = &mut state[r.u(1) as usize];
            if *slot == 0 && (req == 0 || status != 1) {
                *slot = status;
                settled += 1;
            }
        }
        settled == N
    });
    let acked_in = t0.elapsed();
    let accepted = N - refused.len() as u64;
    let acks = state.iter().filter(|s| **s == 1).count() as u64;
    assert!(
        done,
        "{settled} of {N} ids accounted for after {acked_in:?}"
    );
    assert_eq!(acks, accepted, "every accepted order rests (none rejected)");
    let st = c.c.stats();
    assert_eq!(st[SENT] as u64, accepted, "sent once each");
    assert_eq!((st[QUEUED], st[IN_FLIGHT], st[UNANSWERED]), (0.0, 0.0, 0.0));
    assert_eq!(st[REFUSED] as usize, refused.len());
    assert!(st[WINDOW] >= 1.0);
    assert_eq!(sim.stats().acks, accepted);
    assert_eq!(sim_resting(&sim, accepted, T), accepted);
    assert_eq!(c.active() as u64, accepted);

    // The kill switch: cancel every one of them, paced the same way.
    let t1 = Instant::now();
    for id in (1..=N).filter(|id| !refused.contains(id)) {
        c.cancel(id).unwrap();
    }
    let mut canceled = 0u64;
    let done = c.pump(BIG, |r| {
        if r.kind() == K_ORDER && order_state(&r).0 == Status::Canceled as u8 {
            canceled += 1;
        }
        canceled == accepted
    });
    let canceled_in = t1.elapsed();
    assert!(
        done,
        "{canceled} of {accepted} canceled after {canceled_in:?}"
    );
    assert_eq!(sim_resting(&sim, 0, T), 0, "nothing rests at the sim");
    assert_eq!(c.active(), 0);
    eprintln!(
        "burst: {N} submits queued in {queued_in:?}, all {accepted} acknowledged after \
         {acked_in:?} ({refused} refused, window {}); {accepted} cancels done in {canceled_in:?}",
        st[WINDOW],
        refused = refused.len()
    );
}

#[test]
fn beyond_max_queued_requests_submits_are_refused_with_backpressure_and_the_rest_goes_through() {
    let name = unique_name("bp");
    let _sim = order_sim(&name);
    let extra = r#","max_queued_requests":200,"max_in_flight":50"#;
    let mut c = open(&client_cfg(&name, &["btcusdt"], extra)).unwrap();
    c.wait_for(T, |r| registered(r, 0)).expect("registered");
    let mut refused = HashSet::new();
    for id in 1..=5_000 {
        if let Err(e) = c.submit(resting_buy(id)) {
            assert_eq!(e.kind(), ErrorKind::Backpressure, "{e}");
            assert!(e.to_string().contains("max_queued_requests"), "{e}");
            refused.insert(id);
        }
    }
    assert!(!refused.is_empty(), "a burst beyond the bound is refused");
    let accepted = 5_000 - refused.len();
    let mut acked = HashSet::new();
    let done = c.pump(T, |r| {
        if is_ack(&r) {
            acked.insert(r.u(1));
        }
        acked.len() == accepted
    });
    assert!(done, "{} of {accepted} acknowledged", acked.len());
    assert!(
        acked.is_disjoint(&refused),
        "a refused order was never sent"
    );
    let st = c.c.stats();
    assert_eq!(st[REFUSED] as usize, refused.len());
    assert_eq!(st[WINDOW], 50.0);
    assert_eq!(st[15], 200.0, "the bound is visible");
}

#[test]
fn nothing_is_sent_to_a_connector_that_is_down_new_orders_are_rejected_cancels_withdrawn() {
    let name = unique_name("down");
    let sim = order_sim(&name);
    let mut c = open(&client_cfg(&name, &["btcusdt"], "")).unwrap();
    c.wait_for(T, |r| registered(r, 0)).expect("registered");
    c.rest(1..=1);
    sim.fault(Fault::Exit);
    c.wait_for(T, |r| r.kind() == K_CONNECTOR && r.v().aux() == 0)
        .expect("down");
    c.submit(resting_buy(2)).unwrap();
    let o = c
        .wait_for(T, |r| r.kind() == K_ORDER && r.v().u(1) == 2)
        .expect("the new order's fate");
    assert_eq!(order_state(&o.v()), (STATUS_REJECTED, 0));
    let e = c
        .find(T, |r| r.kind() == K_ERROR && r.v().u(2) == 2)
        .unwrap();
    assert_eq!((e.v().aux(), e.v().i(1)), (ERR_ENGINE, NOTICE_NOT_SENT));
    let msg = c.c.take_message().unwrap();
    assert!(msg.contains("is down; nothing was sent"), "{msg}");
    // The resting order can be cancelled; with the connector down the cancel is withdrawn.
    c.cancel(1).unwrap();
    let o = c
        .wait_for(T, |r| r.kind() == K_ORDER && r.v().u(1) == 1)
        .unwrap();
    assert_eq!(order_state(&o.v()), (1, 0), "still New, request cleared");
    let e = c
        .find(T, |r| r.kind() == K_ERROR && r.v().u(2) == 1)
        .unwrap();
    assert_eq!(e.v().i(1), NOTICE_NOT_SENT);
    assert_eq!(c.c.stats()[SENT], 1.0, "only the first order was sent");
}

fn is_order(r: &LiveRequest) -> bool {
    matches!(r, LiveRequest::Order { .. })
}

fn order_event(symbol: &str, req: &LiveRequest, status: Status, ts: i64) -> LiveEvent {
    let LiveRequest::Order { order, .. } = req else {
        panic!("not an order request: {req:?}")
    };
    let mut order = order.clone();
    order.status = status;
    order.req = Status::None;
    order.exch_timestamp = ts;
    LiveEvent::Order {
        symbol: symbol.into(),
        order,
    }
}

/// A scripted connector and a client registered on it (and the connector's name, its bot id).
fn scripted(tag: &str, extra: &str) -> (Connector, TestClient, String, u64) {
    let name = unique_name(tag);
    let conn = Connector::new(&name);
    let mut c = open(&client_cfg(&name, &["btcusdt"], extra)).unwrap();
    let (bot, _) = conn
        .recv(T, |r| matches!(r, LiveRequest::RegisterInstrument { .. }))
        .unwrap();
    conn.answer_registration(bot, "btcusdt", &[], &[]);
    c.wait_for(T, |r| registered(r, 0)).unwrap();
    (conn, c, name, bot)
}

#[test]
fn requests_beyond_the_window_wait_until_answers_free_their_place() {
    let (conn, c, _, _) = scripted("window", r#","max_in_flight":3"#);
    for id in 1..=10 {
        c.submit(resting_buy(id)).unwrap();
    }
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(conn.recv(T, is_order).expect("within the window").1);
    }
    assert!(
        conn.recv(Duration::from_millis(300), is_order).is_none(),
        "a fourth request waits for an answer"
    );
    assert_eq!(c.c.stats()[QUEUED], 7.0);
    assert_eq!(c.c.stats()[IN_FLIGHT], 3.0);
    conn.send(0, order_event("btcusdt", &got[0], Status::New, 1));
    let (_, fourth) = conn.recv(T, is_order).expect("an answer frees a place");
    let LiveRequest::Order { order, .. } = fourth else {
        unreachable!()
    };
    assert_eq!(order.order_id, 4, "in order");
    assert!(conn.recv(Duration::from_millis(200), is_order).is_none());
}

#[test]
fn unanswered_requests_free_their_place_and_are_reported_a_cancel_can_be_sent_again() {
    let (conn, mut c, _, _) = scripted("timeout", r#","request_timeout_ms":300"#);
    c.submit(resting_buy(1)).unwrap();
    let (_, sub) = conn.recv(T, is_order).unwrap();
    conn.send(0, order_event("btcusdt", &sub, Status::New, 1));
    c.wait_for(T, |r| is_ack(&r.v())).unwrap();
    // The connector never answers this cancel (it does not know the order).
    c.cancel(1).unwrap();
    conn.recv(T, is_order).expect("the cancel");
    let e = c
        .wait_for(T, |r| r.kind() == K_ERROR && r.v().u(2) == 1)
        .expect("reported");
    assert_eq!(e.v().i(1), NOTICE_UNANSWERED);
    let msg = c.c.take_message().unwrap();
    assert!(msg.contains("did not answer within 300 ms"), "{msg}");
    let o = c.seen.iter().rev().find(|r| r.kind() == K_ORDER).unwrap();
    assert_eq!(order_state(&o.v()), (1, 0), "request cleared");
    assert_eq!(c.c.stats()[UNANSWERED], 1.0);
    assert_eq!(c.c.stats()[IN_FLIGHT], 0.0);
    c.cancel(1).expect("a retry is accepted");
    let (_, again) = conn.recv(T, is_order).expect("and re-sent");
    conn.send(0, order_event("btcusdt", &again, Status::Canceled, 2));
    let o = c
        .wait_for(T, |r| r.kind() == K_ORDER && r.v().u(1) == 1)
        .unwrap();
    assert_eq!(order_state(&o.v()).0, Status::Canceled as u8);
    // An unanswered submit is reported too; its outcome stays unknown.
    c.submit(resting_buy(2)).unwrap();
    conn.recv(T, is_order).unwrap();
    let e = c
        .wait_for(T, |r| r.kind() == K_ERROR && r.v().u(2) == 2)
        .expect("reported");
    assert_eq!(e.v().i(1), NOTICE_UNANSWERED);
    assert_eq!(c.active(), 1, "order 2 is still tracked");
}

#[test]
fn core_orders_stay_consistent_over_three_connector_restarts() {
    let name = unique_name("restarts");
    let mut c = None;
    for round in 0..3u64 {
        let sim = order_sim(&name);
        let c = c.get_or_insert_with(|| open(&client_cfg(&name, &["btcusdt"], "")).unwrap());
        c.seen.clear();
        c.wait_for(T, |r| registered(r, 0)).expect("registered");
        if round > 0 {
            // The 5 orders of the previous round are not reported by the new connector.
            let expired: HashSet<u64> = c
                .seen
                .iter()
                .filter(|r| r.kind() == K_ORDER && order_state(&r.v()).0 == 2)
                .map(|r| r.v().u(1))
                .collect();
            let first = (round - 1) * 5 + 1;
            assert_eq!(expired, (first..first + 5).collect());
            let notices = c
                .seen
                .iter()
                .filter(|r| r.kind() == K_ERROR && r.v().i(1) == NOTICE_AMBIGUOUS);
            assert_eq!(notices.count(), 5);
            let msg = c.c.take_message().unwrap();
            assert!(
                msg.contains("not reported by the restarted connector"),
                "{msg}"
            );
        }
        assert_eq!(c.active(), 0, "round {round}: the core holds nothing stale");
        let first = round * 5 + 1;
        c.rest(first..=first + 4);
        assert_eq!(c.active(), 5);
        sim.stop();
        c.wait_for(T, |r| r.kind() == K_CONNECTOR && r.v().aux() == 0)
            .expect("down");
        while c.c.take_message().is_some() {}
    }
}

#[test]
fn a_restarted_connector_reports_what_rests_those_stay_the_others_expire() {
    let (conn, mut c, name, bot) = scripted("reconcile", "");
    let mut reqs = Vec::new();
    for id in [1, 2] {
        c.submit(resting_buy(id)).unwrap();
        let (_, r) = conn.recv(T, is_order).unwrap();
        conn.send(0, order_event("btcusdt", &r, Status::New, id as i64));
        reqs.push(r);
    }
    c.wait_for(T, |r| is_ack(&r.v()) && r.v().u(1) == 2)
        .unwrap();
    drop(conn);
    c.wait_for(T, |r| r.kind() == K_CONNECTOR && r.v().aux() == 0)
        .expect("down");
    let conn = Connector::new(&name);
    c.wait_for(T, |r| r.kind() == K_CONNECTOR && r.v().aux() == 1)
        .expect("up");
    conn.recv(T, |r| matches!(r, LiveRequest::RegisterInstrument { .. }))
        .unwrap();
    // It reports order 1 only.
    conn.send(bot, LiveEvent::BatchStart);
    conn.send(bot, order_event("btcusdt", &reqs[0], Status::New, 5));
    conn.send(bot, LiveEvent::BatchEnd);
    c.wait_for(T, |r| registered(r, 0)).unwrap();
    let o = c
        .seen
        .iter()
        .rev()
        .find(|r| r.kind() == K_ORDER && r.v().u(1) == 2)
        .expect("order 2 settled");
    assert_eq!(order_state(&o.v()).0, Status::Expired as u8);
    assert_eq!(c.active(), 1, "order 1 stays");
    c.cancel(1).expect("and can be cancelled");
}

#[test]
fn a_new_client_adopts_and_cancels_what_a_dropped_client_left_resting() {
    let name = unique_name("adopt");
    let sim = order_sim(&name);
    let mut a = open(&client_cfg(&name, &["btcusdt"], "")).unwrap();
    a.wait_for(T, |r| registered(r, 0)).unwrap();
    a.rest(1..=3);
    drop(a); // closed without cancelling: the orders rest
    assert_eq!(sim_resting(&sim, 3, T), 3);
    adopt_and_cancel(&sim, &name, &[1, 2, 3]);
}

/// Opens a client on `name`, checks it adopted `ids` and cancels them all at the sim.
fn adopt_and_cancel(sim: &hftlive_sim::Sim, name: &str, ids: &[u64]) {
    let mut b = open(&client_cfg(name, &["btcusdt"], "")).unwrap();
    b.wait_for(T, |r| registered(r, 0)).unwrap();
    let adopted: HashSet<u64> = b
        .seen
        .iter()
        .filter(|r| is_ack(&r.v()))
        .map(|r| r.v().u(1))
        .collect();
    assert_eq!(adopted, ids.iter().copied().collect(), "ORDER records");
    assert_eq!(b.active(), ids.len(), "hl_client_orders lists them");
    assert_eq!(b.c.stats()[ADOPTED] as usize, ids.len());
    for &id in ids {
        b.cancel(id).unwrap();
    }
    let mut canceled = 0;
    let done = b.pump(T, |r| {
        if r.kind() == K_ORDER && order_state(&r).0 == Status::Canceled as u8 {
            canceled += 1;
        }
        canceled == ids.len()
    });
    assert!(done, "{canceled} canceled");
    assert_eq!(sim_resting(sim, 0, T), 0);
}

/// Runs in a child process: rests orders on the parent's sim, says so, waits to be killed.
#[test]
#[ignore = "helper for orders_of_a_killed_process_are_adopted_by_a_new_client"]
fn child_rests_orders_until_killed() {
    let Ok(name) = std::env::var("HLT_CHILD_CONNECTOR") else {
        return;
    };
    let mut c = open(&client_cfg(&name, &["btcusdt"], "")).unwrap();
    c.wait_for(T, |r| registered(r, 0)).unwrap();
    c.rest(7..=11);
    println!("ready");
    loop {
        std::thread::park();
    }
}

#[test]
fn orders_of_a_killed_process_are_adopted_by_a_new_client() {
    let name = unique_name("orphan");
    let sim = order_sim(&name);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_rests_orders_until_killed",
            "--ignored",
            "--nocapture",
        ])
        .env("HLT_CHILD_CONNECTOR", &name)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("ready") {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "child exited early");
    }
    child.kill().unwrap(); // SIGKILL: no cleanup, no cancel
    child.wait().unwrap();
    assert_eq!(sim_resting(&sim, 5, T), 5);
    adopt_and_cancel(&sim, &name, &[7, 8, 9, 10, 11]);
}
