//! The engine against a scripted connector over real iceoryx2 IPC, through the safe API.
//! Each test reproduces one point of DESIGN.md's "What hftbacktest's live stack really does".

mod common;

use common::*;
use hftbacktest::{
    depth::{HashMapMarketDepth, L2MarketDepth, MarketDepth},
    prelude::*,
};
use hftlive::{record::*, NewOrder, TimeInForce};

fn is_register(req: &LiveRequest, sym: &str) -> bool {
    matches!(req, LiveRequest::RegisterInstrument { symbol, .. } if symbol == sym)
}

#[test]
fn client_started_before_connector_gets_registered_and_receives_data() {
    let name = unique_name("late");
    let mut c = open(&client_cfg(&name, &["btcusdt"], "")).unwrap();
    // No connector yet: the client reports it is down and nothing is registered.
    let down = c.wait_for(T, |r| r.kind() == K_CONNECTOR).unwrap();
    assert_eq!(down.v().aux(), 0, "connector reported down first");

    let conn = Connector::new(&name);
    c.wait_for(T, |r| r.kind() == K_CONNECTOR && r.v().aux() == 1)
        .expect("connector seen up");
    // hftbacktest's LiveBot sent its registration once, before the connector existed; the
    // engine keeps sending until answered.
    let (id, _) = conn
        .recv(T, |r| is_register(r, "btcusdt"))
        .expect("registration re-sent");
    conn.answer_registration(id, "btcusdt", &[], &[]);
    c.wait_for(T, |r| registered(r, 0)).expect("registered");
    conn.feed(
        "btcusdt",
        LOCAL_EVENT | EXCH_EVENT | BUY_EVENT | TRADE_EVENT,
        100.0,
        0.5,
        7,
    );
    let t = c
        .wait_for(T, |r| r.kind() == K_TRADE)
        .expect("trade delivered");
    assert_eq!(t.v().f(1), 100.0);
    assert_eq!(t.v().f(2), 0.5);
    assert_eq!(t.v().side(), 1);
    assert_eq!(t.v().i(3), 7);
    assert_eq!(t.v().i(4), 1007);
}

#[test]
fn book_matches_exchange_after_deletions_without_local_flag() {
    let name = unique_name("fuse");
    let conn = Connector::new(&name);
    let mut c = open(&client_cfg(&name, &["ethusdt"], "")).unwrap();
    let (id, _) = conn.recv(T, |r| is_register(r, "ethusdt")).unwrap();
    conn.answer_registration(id, "ethusdt", &[], &[]);
    c.wait_for(T, |r| registered(r, 0)).unwrap();

    // What LiveBot would keep: it ignores depth events without LOCAL_EVENT.
    let mut livebot = HashMapMarketDepth::new(0.1, 0.001);
    let mut exchange = HashMapMarketDepth::new(0.1, 0.001);
    let mut events = Vec::new();
    for i in 0..5 {
        events.push((
            LOCAL_BID_DEPTH_EVENT | EXCH_EVENT,
            100.0 - i as f64 * 0.1,
            1.0 + i as f64,
        ));
        events.push((
            LOCAL_ASK_DEPTH_EVENT | EXCH_EVENT,
            100.1 + i as f64 * 0.1,
            2.0 + i as f64,
        ));
    }
    // One exchange update moves the touch up through three ask levels: hftbacktest's fused
    // depth emits the deletions of the crossed levels with BUY/SELL|DEPTH only (no LOCAL).
    events.push((SELL_EVENT | DEPTH_EVENT, 100.1, 0.0));
    events.push((SELL_EVENT | DEPTH_EVENT, 100.2, 0.0));
    events.push((LOCAL_BID_DEPTH_EVENT | EXCH_EVENT, 100.2, 3.0));
    events.push((BUY_EVENT | DEPTH_EVENT, 99.9, 0.0));
    for (k, (ev, px, qty)) in events.iter().enumerate() {
        conn.feed("ethusdt", *ev, *px, *qty, 10 + k as i64);
        if *ev & BUY_EVENT != 0 {
            exchange.update_bid_depth(*px, *qty, 0);
        } else {
            exchange.update_ask_depth(*px, *qty, 0);
        }
        if *ev & LOCAL_EVENT != 0 {
            if *ev & BUY_EVENT != 0 {
                livebot.update_bid_depth(*px, *qty, 0);
            } else {
                livebot.update_ask_depth(*px, *qty, 0);
            }
        }
    }
    let n = events.len();
    let mut depth_records = 0;
    c.wait_for(T, |r| {
        if r.kind() == K_DEPTH {
            depth_records += 1;
        }
        depth_records == n
    })
    .expect("every depth event delivered");

    let sorted = |d: &HashMapMarketDepth| {
        let mut b: Vec<_> = d
            .bid_depth
            .iter()
            .filter(|(_, q)| **q > 0.0)
            .map(|(t, q)| (*t as f64 * 0.1, *q))
            .collect();
        let mut a: Vec<_> = d
            .ask_depth
            .iter()
            .filter(|(_, q)| **q > 0.0)
            .map(|(t, q)| (*t as f64 * 0.1, *q))
            .collect();
        b.sort_by(|x, y| y.0.partial_cmp(&x.0).unwrap());
        a.sort_by(|x, y| x.0.partial_cmp(&y.0).unwrap());
        (b, a)
    };
    let (eb, ea) = sorted(&exchange);
    let (lb, la) = sorted(&livebot);
    let (cb, ca) = c.depth(0, 50);
    let close = |x: &[(f64, f64)], y: &[(f64, f64)]| {
        x.len() == y.len()
            && x.iter()
                .zip(y)
                .all(|(a, b)| (a.0 - b.0).abs() < 1e-9 && a.1 == b.1)
    };
    assert!(close(&cb, &eb), "bids {cb:?} != exchange {eb:?}");
    assert!(close(&ca, &ea), "asks {ca:?} != exchange {ea:?}");
    assert!(
        !close(&lb, &eb) || !close(&la, &ea),
        "the scenario must leave LiveBot's book stale"
    );
    assert!(la.len() > ea.len(), "LiveBot keeps stale ask levels");
    // Best bid/offer as published agree with the book.
    let bbo = c.seen.iter().rev().find(|r| r.kind() == K_BBO).unwrap();
    assert!((bbo.v().f(1) - eb[0].0).abs() < 1e-9);
    assert!((bbo.v().f(3) - ea[0].0).abs() < 1e-9);
    assert_eq!(
        exchange.best_ask_tick(),
        (bbo.v().f(3) / 0.1).round() as i64
    );
}

#[test]
fn joining_a_streamed_symbol_starts_with_the_full_book() {
    let name = unique_name("join");
    let conn = Connector::new(&name);
    let mut c = open(&client_cfg(
        &name,
        &["solusdt"],
        r#","depth":{"roi":[50.0,150.0]}"#,
    ))
    .unwrap();
    let (id, _) = conn.recv(T, |r| is_register(r, "solusdt")).unwrap();
    let bids = [(99.9, 1.0), (99.8, 2.0), (99.5, 3.0)];
    let asks = [(100.0, 4.0), (100.3, 5.0)];
    conn.answer_registration(id, "solusdt", &bids, &asks);
    c.wait_for(T, |r| registered(r, 0)).unwrap();
    let (cb, ca) = c.depth(0, 10);
    assert_eq!(cb.len(), 3);
    assert_eq!(ca.len(), 2);
    for (got, want) in cb.iter().zip(&bids).chain(ca.iter().zip(&asks)) {
        assert!(
            (got.0 - want.0).abs() < 1e-9 && got.1 == want.1,
            "{got:?} != {want:?}"
        );
    }
    assert!(c
        .seen
        .iter()
        .any(|r| r.kind() == K_INSTRUMENT && r.v().aux() == INST_SNAPSHOT_BEGIN));
}

#[test]
fn batches_for_other_bots_are_ignored_and_registration_survives_restart() {
    let name = unique_name("restart");
    let conn = Connector::new(&name);
    let mut c = open(&client_cfg(&name, &["xrpusdt"], "")).unwrap();
    let (id, _) = conn.recv(T, |r| is_register(r, "xrpusdt")).unwrap();
    // A batch addressed to another bot must not count as our answer.
    conn.answer_registration(id.wrapping_add(1), "xrpusdt", &[(1.0, 1.0)], &[]);
    conn.answer_registration(id, "xrpusdt", &[], &[(2.0, 1.0)]);
    c.wait_for(T, |r| registered(r, 0)).unwrap();
    assert_eq!(c.depth(0, 5).0.len(), 0, "other bot's snapshot not applied");
    // The connector restarts: its ports go away, then come back.
    drop(conn);
    c.wait_for(T, |r| r.kind() == K_CONNECTOR && r.v().aux() == 0)
        .expect("down");
    let conn = Connector::new(&name);
    c.wait_for(T, |r| r.kind() == K_CONNECTOR && r.v().aux() == 1)
        .expect("up again");
    let (id2, _) = conn
        .recv(T, |r| is_register(r, "xrpusdt"))
        .expect("registered again");
    assert_eq!(id, id2);
    conn.answer_registration(id, "xrpusdt", &[(1.5, 2.0)], &[]);
    c.wait_for(T, |r| registered(r, 0)).unwrap();
    assert_eq!(c.depth(0, 5).0, vec![(1.5, 2.0)]);
}

fn order_event(symbol: &str, mut order: Order, status: Status, exch_ts: i64) -> LiveEvent {
    order.status = status;
    order.req = Status::None;
    order.exch_timestamp = exch_ts;
    LiveEvent::Order {
        symbol: symbol.into(),
        order,
    }
}

#[test]
fn orders_round_trip_and_rejections_carry_the_exchange_code() {
    let name = unique_name("ord");
    let conn = Connector::new(&name);
    let mut c = open(&client_cfg(&name, &["btcusdt"], "")).unwrap();
    let (id, _) = conn.recv(T, |r| is_register(r, "btcusdt")).unwrap();
    conn.answer_registration(id, "btcusdt", &[], &[]);
    c.wait_for(T, |r| registered(r, 0)).unwrap();

    c.submit(limit(11, 1, 100.04, 0.002)).unwrap();
    let (_, req) = conn
        .recv(T, |r| matches!(r, LiveRequest::Order { .. }))
        .unwrap();
    let LiveRequest::Order { symbol, order } = req else {
        unreachable!()
    };
    assert_eq!(symbol, "btcusdt");
    assert_eq!(order.order_id, 11);
    assert_eq!(
        order.price_tick, 1000,
        "price rounded to ticks with hftbacktest's rule"
    );
    assert_eq!(order.req, Status::New);
    // Ack, partial fill, then fill.
    conn.send(0, order_event("btcusdt", order.clone(), Status::New, 1));
    let mut part = order.clone();
    part.leaves_qty = 0.001;
    part.exec_qty = 0.001;
    part.exec_price_tick = 1000;
    conn.send(
        0,
        order_event("btcusdt", part.clone(), Status::PartiallyFilled, 2),
    );
    part.leaves_qty = 0.0;
    conn.send(0, order_event("btcusdt", part, Status::Filled, 3));
    // A late update after the terminal state and another bot's order are not reported.
    conn.send(0, order_event("btcusdt", order.clone(), Status::New, 4));
    let mut foreign = order.clone();
    foreign.order_id = 999;
    conn.send(0, order_event("btcusdt", foreign, Status::New, 5));
    conn.send(
        0,
        LiveEvent::Position {
            symbol: "btcusdt".into(),
            qty: 0.002,
            exch_ts: 6,
        },
    );
    c.wait_for(T, |r| r.kind() == K_POSITION).unwrap();
    let statuses: Vec<u8> = c
        .seen
        .iter()
        .filter(|r| r.kind() == K_ORDER)
        .map(|r| r.v().aux() as u8)
        .collect();
    assert_eq!(
        statuses,
        vec![1, 5, 3],
        "New, PartiallyFilled, Filled; nothing after"
    );
    assert!(c
        .seen
        .iter()
        .filter(|r| r.kind() == K_ORDER)
        .all(|r| r.v().u(1) == 11));
    assert_eq!(c.c.position(0).unwrap(), (0.002, 6));
    assert_eq!(
        c.submit(limit(11, 1, 100.0, 0.001)).unwrap_err().kind(),
        hftlive::ErrorKind::Duplicate,
        "id of a finished order"
    );
    assert_eq!(
        c.cancel(11).unwrap_err().kind(),
        hftlive::ErrorKind::State,
        "cancel of a filled order"
    );

    // A REST error: Expired before any ack, then OrderError with the exchange's code.
    let post_only = NewOrder {
        time_in_force: TimeInForce::GTX,
        ..limit(12, -1, 101.0, 0.001)
    };
    c.submit(post_only).unwrap();
    let (_, req) = conn
        .recv(T, |r| matches!(r, LiveRequest::Order { .. }))
        .unwrap();
    let LiveRequest::Order { order, .. } = req else {
        unreachable!()
    };
    conn.send(0, order_event("btcusdt", order, Status::Expired, 7));
    let mut m = std::collections::HashMap::new();
    m.insert("code".to_string(), Value::Int(-5022));
    m.insert(
        "msg".to_string(),
        Value::String("Post Only order will be rejected".into()),
    );
    conn.send(
        0,
        LiveEvent::Error(LiveError::with(ErrorKind::OrderError, Value::Map(m))),
    );
    let e = c.wait_for(T, |r| r.kind() == K_ERROR).unwrap();
    assert_eq!(e.v().aux(), ERR_ORDER);
    assert_eq!(e.v().i(1), -5022);
    assert_eq!(e.v().u(2), 12, "the rejection is tied to the order");
    assert_eq!(e.v().asset(), 0);
    let rej = c.seen.iter().rev().find(|r| r.kind() == K_ORDER).unwrap();
    assert_eq!(rej.v().u(1), 12);
    assert_eq!(rej.v().aux() as u8, STATUS_REJECTED);
    let text = c.c.take_message().unwrap();
    assert!(
        text.contains("-5022") && text.contains("Post Only"),
        "{text}"
    );

    // Cancel: request carries req=Canceled; the active list shows the order until it ends.
    c.submit(limit(13, 1, 90.0, 0.001)).unwrap();
    let (_, req) = conn
        .recv(T, |r| matches!(r, LiveRequest::Order { .. }))
        .unwrap();
    let LiveRequest::Order { order, .. } = req else {
        unreachable!()
    };
    conn.send(0, order_event("btcusdt", order.clone(), Status::New, 8));
    c.wait_for(T, |r| r.kind() == K_ORDER && r.v().u(1) == 13)
        .unwrap();
    c.cancel(13).unwrap();
    assert_eq!(
        c.cancel(13).unwrap_err().kind(),
        hftlive::ErrorKind::State,
        "a cancel is already in flight"
    );
    let (_, req) = conn
        .recv(T, |r| matches!(r, LiveRequest::Order { .. }))
        .unwrap();
    let LiveRequest::Order { order: creq, .. } = req else {
        unreachable!()
    };
    assert_eq!(creq.req, Status::Canceled);
    let mut buf = vec![0u8; 64 * 8];
    assert_eq!(c.c.orders(0, &mut buf).unwrap(), 1);
    assert_eq!(RecView(&buf[..64]).u(1), 13);
    conn.send(0, order_event("btcusdt", order, Status::Canceled, 9));
    c.wait_for(T, |r| {
        r.kind() == K_ORDER && r.v().u(1) == 13 && r.v().aux() as u8 == 4
    })
    .unwrap();
    assert_eq!(c.c.orders(0, &mut buf).unwrap(), 0);
}

#[test]
fn a_restarted_connector_that_answers_with_an_empty_batch_leaves_no_stale_book() {
    let name = unique_name("rebook");
    let conn = Connector::new(&name);
    let mut c = open(&client_cfg(&name, &["btcusdt"], "")).unwrap();
    let (id, _) = conn.recv(T, |r| is_register(r, "btcusdt")).unwrap();
    conn.answer_registration(id, "btcusdt", &[(100.0, 1.0), (99.9, 2.0)], &[(100.1, 3.0)]);
    c.wait_for(T, |r| registered(r, 0)).unwrap();
    assert_eq!(c.depth(0, 5).0.len(), 2);
    drop(conn);
    c.wait_for(T, |r| r.kind() == K_CONNECTOR && r.v().aux() == 0)
        .expect("down");
    // A fresh connector has no book yet: its answer is empty, the book streams afterwards.
    let conn = Connector::new(&name);
    let (id, _) = conn.recv(T, |r| is_register(r, "btcusdt")).unwrap();
    conn.answer_registration(id, "btcusdt", &[], &[]);
    c.wait_for(T, |r| registered(r, 0)).unwrap();
    assert_eq!(
        c.depth(0, 5),
        (vec![], vec![]),
        "the old connector's levels are gone"
    );
    conn.feed("btcusdt", LOCAL_BID_DEPTH_EVENT, 90.0, 1.0, 5);
    c.wait_for(T, |r| r.kind() == K_DEPTH).unwrap();
    assert_eq!(c.depth(0, 5), (vec![(90.0, 1.0)], vec![]));
}

#[test]
fn best_bid_offer_is_published_once_per_connector_batch() {
    let name = unique_name("bbobatch");
    let conn = Connector::new(&name);
    let mut c = open(&client_cfg(&name, &["btcusdt"], "")).unwrap();
    let (id, _) = conn.recv(T, |r| is_register(r, "btcusdt")).unwrap();
    conn.answer_registration(
        id,
        "btcusdt",
        &[(100.0, 1.0)],
        &[(100.1, 1.0), (100.2, 1.0)],
    );
    c.wait_for(T, |r| registered(r, 0)).unwrap();
    let bbos = |c: &TestClient| {
        c.seen
            .iter()
            .filter(|r| r.kind() == K_BBO)
            .map(|r| (r.v().f(1), r.v().f(3)))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        bbos(&c),
        vec![(100.0, 100.1)],
        "one BBO for the snapshot, never one-sided"
    );
    // One exchange message moving the touch up two ticks, as binancefutures publishes it:
    // wrapped in a batch to all bots, bids first.
    conn.send(0, LiveEvent::BatchStart);
    conn.feed("btcusdt", LOCAL_BID_DEPTH_EVENT, 100.1, 1.0, 9);
    conn.feed("btcusdt", SELL_EVENT | DEPTH_EVENT, 100.1, 0.0, 9);
    conn.feed("btcusdt", LOCAL_BID_DEPTH_EVENT, 100.2, 1.0, 9);
    conn.feed("btcusdt", SELL_EVENT | DEPTH_EVENT, 100.2, 0.0, 9);
    conn.feed("btcusdt", LOCAL_ASK_DEPTH_EVENT, 100.3, 1.0, 9);
    conn.send(0, LiveEvent::BatchEnd);
    conn.feed(
        "btcusdt",
        LOCAL_EVENT | BUY_EVENT | TRADE_EVENT,
        100.2,
        1.0,
        10,
    );
    c.wait_for(T, |r| r.kind() == K_TRADE).unwrap();
    assert_eq!(
        bbos(&c),
        vec![(100.0, 100.1), (100.2, 100.3)],
        "no intermediate (crossed) best bid/offer"
    );
}

#[test]
fn a_cancel_the_exchange_cannot_match_ends_the_order_with_the_code() {
    let name = unique_name("c2011");
    let conn = Connector::new(&name);
    let mut c = open(&client_cfg(&name, &["btcusdt"], "")).unwrap();
    let (id, _) = conn.recv(T, |r| is_register(r, "btcusdt")).unwrap();
    conn.answer_registration(id, "btcusdt", &[], &[]);
    c.wait_for(T, |r| registered(r, 0)).unwrap();
    c.submit(limit(21, 1, 100.0, 0.001)).unwrap();
    let (_, req) = conn
        .recv(T, |r| matches!(r, LiveRequest::Order { .. }))
        .unwrap();
    let LiveRequest::Order { order, .. } = req else {
        unreachable!()
    };
    conn.send(0, order_event("btcusdt", order.clone(), Status::New, 1));
    c.wait_for(T, |r| r.kind() == K_ORDER).unwrap();
    c.cancel(21).unwrap();
    conn.recv(T, |r| matches!(r, LiveRequest::Order { .. }))
        .unwrap();
    // binancefutures: -2011 "Unknown order sent." -> status None, then an OrderError.
    conn.send(0, order_event("btcusdt", order, Status::None, 2));
    let mut m = std::collections::HashMap::new();
    m.insert("code".to_string(), Value::Int(-2011));
    m.insert(
        "msg".to_string(),
        Value::String("Unknown order sent.".into()),
    );
    conn.send(
        0,
        LiveEvent::Error(LiveError::with(ErrorKind::OrderError, Value::Map(m))),
    );
    let e = c.wait_for(T, |r| r.kind() == K_ERROR).unwrap();
    assert_eq!((e.v().i(1), e.v().u(2)), (-2011, 21));
    let o = c.seen.iter().rev().find(|r| r.kind() == K_ORDER).unwrap();
    assert_eq!(
        o.v().aux() as u8,
        Status::Expired as u8,
        "terminal, not stuck at New"
    );
    assert_eq!(c.cancel(21).unwrap_err().kind(), hftlive::ErrorKind::State);
}
