//! The sim over real iceoryx2 IPC, with a bot built on hftbacktest's public `IceoryxChannel`.

mod common;

use std::time::{Duration, Instant};

use common::*;
use hftbacktest::{
    depth::{HashMapMarketDepth, L2MarketDepth},
    live::ipc::TO_ALL,
    types::{
        ErrorKind, LiveEvent, OrdType, Side, Status, TimeInForce, Value, BUY_EVENT, DEPTH_EVENT,
        DEPTH_SNAPSHOT_EVENT, EXCH_EVENT, LOCAL_ASK_DEPTH_EVENT, LOCAL_BID_DEPTH_EVENT,
        LOCAL_BUY_TRADE_EVENT, LOCAL_EVENT, LOCAL_SELL_TRADE_EVENT, SELL_EVENT, TRADE_EVENT,
    },
};
use hftlive_sim::{Fault, Sim};

fn is_depth(ev: u64) -> bool {
    ev & 0xff == DEPTH_EVENT
}

/// Waits for the first market-data depth batch after registration and returns the levels.
fn initial_book(bot: &Bot) -> Vec<(u64, LiveEvent)> {
    let mut depth_seen = false;
    bot.until(|dst, ev| {
        if dst == TO_ALL && matches!(ev, LiveEvent::Feed { .. }) {
            depth_seen = true;
        }
        depth_seen && dst == TO_ALL && matches!(ev, LiveEvent::BatchEnd)
    })
}

fn touch(sim: &Sim) -> (f64, f64) {
    let (bids, asks) = sim.book(SYMBOL).unwrap();
    (bids[0].0, asks[0].0)
}

#[test]
fn registration_batch_then_market_data() {
    let sim = start_sim("reg", |_| {});
    let bot = Bot::new(sim.name());
    // Nothing is published before the first registration: the reply batch comes first.
    bot.register(SYMBOL);
    assert!(matches!(bot.next(), (dst, LiveEvent::BatchStart) if dst == bot.id));
    assert!(matches!(bot.next(), (dst, LiveEvent::BatchEnd) if dst == bot.id));
    assert_eq!(sim.stats().registrations, 1);
    assert_eq!(sim.stats().batches_sent, 1);

    // Then the whole book as plain depth events in one batch to all.
    let evs = initial_book(&bot);
    assert!(matches!(evs[0], (TO_ALL, LiveEvent::BatchStart)));
    let levels: Vec<_> = evs
        .iter()
        .filter_map(|(_, ev)| match ev {
            LiveEvent::Feed { symbol, event } => {
                assert_eq!(symbol, SYMBOL);
                Some(event.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(levels.len(), 20);
    assert!(levels[..10].iter().all(|e| e.ev == LOCAL_BID_DEPTH_EVENT));
    assert!(levels[10..].iter().all(|e| e.ev == LOCAL_ASK_DEPTH_EVENT));
    assert!(levels[..10].windows(2).all(|w| w[0].px > w[1].px));
    assert!(levels[10..].windows(2).all(|w| w[0].px < w[1].px));
    assert!(levels[9].px < levels[10].px);

    // Then a stream of depth messages and trades with the connector's flags.
    let (mut trades, mut depth) = (0, 0);
    bot.until(|dst, ev| {
        assert_eq!(dst, TO_ALL);
        if let LiveEvent::Feed { event, .. } = ev {
            assert!(event.local_ts > 0 && event.exch_ts > 0);
            if event.ev & 0xff == TRADE_EVENT {
                assert!(event.ev == LOCAL_BUY_TRADE_EVENT || event.ev == LOCAL_SELL_TRADE_EVENT);
                trades += 1;
            } else {
                // fuse_deletions is off: every depth event carries LOCAL_EVENT.
                assert!(
                    event.ev == LOCAL_BID_DEPTH_EVENT || event.ev == LOCAL_ASK_DEPTH_EVENT,
                    "{:#x}",
                    event.ev
                );
                depth += 1;
            }
        }
        trades >= 20 && depth >= 20
    });
    assert!(sim.stats().market_events > 0);
    sim.stop();
}

#[test]
fn second_registration_gets_orders_and_snapshot() {
    let sim = start_sim("snap", |_| {});
    let mut a = Bot::new(sim.name());
    a.register_and_wait(SYMBOL);
    initial_book(&a);
    let (bid, _) = touch(&sim);
    let resting = a.order(Side::Buy, bid - 100.0, 3, TimeInForce::GTC, OrdType::Limit);
    sim.fault(Fault::PauseMarket(true));
    a.order_updates_until(resting, Status::New);

    let b = Bot::new(sim.name());
    let batch = b.register_and_wait(SYMBOL);
    assert!(matches!(batch.first(), Some(LiveEvent::BatchStart)));
    assert!(matches!(batch.last(), Some(LiveEvent::BatchEnd)));
    let orders: Vec<_> = batch
        .iter()
        .filter_map(|ev| match ev {
            LiveEvent::Order { order, .. } => Some(order.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].order_id, resting);
    assert_eq!(orders[0].status, Status::New);
    assert!(!batch
        .iter()
        .any(|ev| matches!(ev, LiveEvent::Position { .. })));

    let snapshot: Vec<_> = batch
        .iter()
        .filter_map(|ev| match ev {
            LiveEvent::Feed { event, .. } => Some(event.clone()),
            _ => None,
        })
        .collect();
    let (bids, asks) = sim.book(SYMBOL).unwrap();
    assert_eq!(snapshot.len(), bids.len() + asks.len());
    for (e, (px, qty)) in snapshot.iter().zip(bids.iter().chain(asks.iter())) {
        assert_eq!((e.px, e.qty), (*px, *qty));
    }
    for e in &snapshot[..bids.len()] {
        assert_eq!(
            e.ev,
            EXCH_EVENT | LOCAL_EVENT | BUY_EVENT | DEPTH_SNAPSHOT_EVENT
        );
    }
    for e in &snapshot[bids.len()..] {
        assert_eq!(
            e.ev,
            EXCH_EVENT | LOCAL_EVENT | SELL_EVENT | DEPTH_SNAPSHOT_EVENT
        );
    }
    assert_eq!(sim.stats().registrations, 2);
    sim.stop();
}

#[test]
fn market_order_is_acked_filled_and_positions_follow() {
    let sim = start_sim("fill", |c| c.rate = 500.0);
    let mut bot = Bot::new(sim.name());
    bot.register_and_wait(SYMBOL);
    initial_book(&bot);

    // MARKET orders carry a price (ignored by the sim).
    let (_, ask) = touch(&sim);
    let id = bot.order(Side::Buy, ask, 120, TimeInForce::GTC, OrdType::Market);
    let evs = bot.order_updates_until(id, Status::Filled);
    let ups = order_updates(&evs, id);
    assert_eq!(ups[0].status, Status::New);
    assert_eq!(ups[0].req, Status::None);
    assert!(ups[0].exch_timestamp > 0);
    let fills = &ups[1..];
    assert!(!fills.is_empty());
    let total: f64 = fills.iter().map(|o| o.exec_qty).sum();
    assert!((total - 0.120).abs() < 1e-9, "{total}");
    for w in fills.windows(2) {
        assert_eq!(w[0].status, Status::PartiallyFilled);
        assert!(w[0].exec_price_tick <= w[1].exec_price_tick);
        assert!(w[0].leaves_qty > w[1].leaves_qty);
    }
    assert_eq!(fills.last().unwrap().leaves_qty, 0.0);
    assert!(fills.iter().all(|o| !o.maker));
    // A position after every fill (the last one follows the last fill), ending at the order's
    // quantity.
    let mut positions: Vec<f64> = evs
        .iter()
        .filter_map(|(_, ev)| match ev {
            LiveEvent::Position { qty, .. } => Some(*qty),
            _ => None,
        })
        .collect();
    if positions.len() < fills.len() {
        bot.until(|_, ev| {
            if let LiveEvent::Position { qty, .. } = ev {
                positions.push(*qty);
            }
            positions.len() == fills.len()
        });
    }
    assert_eq!(positions.len(), fills.len());
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    assert!(
        (positions.last().unwrap() - 0.120).abs() < 1e-9,
        "{positions:?}"
    );

    // An IOC sell far below the bid fills what is there and never rests.
    let (bid, _) = touch(&sim);
    let id = bot.order(
        Side::Sell,
        bid - 1000.0,
        2,
        TimeInForce::IOC,
        OrdType::Limit,
    );
    let evs = bot.order_updates_until(id, Status::Filled);
    let ups = order_updates(&evs, id);
    assert_eq!(ups[0].status, Status::New);
    let sold: f64 = ups[1..].iter().map(|o| o.exec_qty).sum();
    assert!((sold - 0.002).abs() < 1e-9);
    let s = sim.stats();
    assert_eq!(s.acks, 2);
    assert!(s.fills >= 2);
    sim.stop();
}

#[test]
fn resting_order_cancel_and_cancel_of_finished_order() {
    let sim = start_sim("cancel", |c| c.rate = 200.0);
    let mut bot = Bot::new(sim.name());
    bot.register_and_wait(SYMBOL);
    let (_, ask) = touch(&sim);
    let id = bot.order(Side::Sell, ask + 500.0, 5, TimeInForce::GTC, OrdType::Limit);
    bot.order_updates_until(id, Status::New);
    bot.cancel(id);
    let evs = bot.order_updates_until(id, Status::Canceled);
    let canceled = order_updates(&evs, id).pop().unwrap();
    assert_eq!(canceled.req, Status::None);
    assert_eq!(canceled.leaves_qty, 0.005);

    // Cancel of a finished order: like the connector when the cancel loses the race, the
    // order comes back with status None followed by OrderError -2011.
    bot.cancel(id);
    let evs = bot.order_updates_until(id, Status::None);
    assert!(order_updates(&evs, id)
        .iter()
        .all(|o| o.status == Status::None));
    let (_, err) = bot.next();
    assert_eq!(
        order_error(&err),
        Some((-2011, "Unknown order sent.".to_string()))
    );

    // Cancel of an id the sim never saw: ignored (the next reply is for the next request).
    bot.cancel(987_654);
    let (bid, _) = touch(&sim);
    let next = bot.order(Side::Buy, bid - 500.0, 1, TimeInForce::GTC, OrdType::Limit);
    let evs = bot.order_updates_until(next, Status::New);
    assert!(order_updates(&evs, 987_654).is_empty());
    assert!(!evs.iter().any(|(_, ev)| matches!(ev, LiveEvent::Error(_))));
    assert_eq!(sim.stats().cancels, 1);
    sim.stop();
}

#[test]
fn gtx_crossing_and_fok_rejections() {
    let sim = start_sim("gtx", |c| c.rate = 200.0);
    let mut bot = Bot::new(sim.name());
    bot.register_and_wait(SYMBOL);

    let (bid, ask) = touch(&sim);
    let id = bot.order(Side::Buy, ask + 50.0, 1, TimeInForce::GTX, OrdType::Limit);
    let evs = bot.order_updates_until(id, Status::Expired);
    assert_eq!(
        order_updates(&evs, id).len(),
        1,
        "no ack before a GTX rejection"
    );
    let (_, err) = bot.next();
    assert_eq!(order_error(&err).unwrap().0, -5022);

    // A GTX that does not cross rests.
    let id = bot.order(Side::Sell, ask + 50.0, 1, TimeInForce::GTX, OrdType::Limit);
    bot.order_updates_until(id, Status::New);

    // A FOK larger than the whole book expires with -5021.
    let id = bot.order(
        Side::Sell,
        bid - 2000.0,
        1_000_000,
        TimeInForce::FOK,
        OrdType::Limit,
    );
    let evs = bot.order_updates_until(id, Status::Expired);
    assert_eq!(order_updates(&evs, id).len(), 1);
    let (_, err) = bot.next();
    assert_eq!(order_error(&err).unwrap().0, -5021);

    // Invalid quantity (not a lot multiple) and unknown symbol are rejected with codes too.
    bot.submit_raw(
        77,
        Side::Buy,
        bid - 100.0,
        0.0015,
        TimeInForce::GTC,
        OrdType::Limit,
    );
    bot.order_updates_until(77, Status::Expired);
    assert_eq!(order_error(&bot.next().1).unwrap().0, -1111);
    assert_eq!(sim.stats().rejects, 3);
    sim.stop();
}

#[test]
fn reject_fault_gives_expired_and_order_error_with_code() {
    let sim = start_sim("reject", |c| c.rate = 200.0);
    let mut bot = Bot::new(sim.name());
    bot.register_and_wait(SYMBOL);
    let (bid, _) = touch(&sim);

    sim.fault(Fault::RejectOrders(-2019));
    let id = bot.order(Side::Buy, bid - 10.0, 1, TimeInForce::GTC, OrdType::Limit);
    let evs = bot.order_updates_until(id, Status::Expired);
    let ups = order_updates(&evs, id);
    assert_eq!(ups.len(), 1);
    assert_eq!(ups[0].req, Status::None);
    let (dst, err) = bot.next();
    assert_eq!(dst, TO_ALL);
    let (code, msg) = order_error(&err).expect("OrderError with {code, msg}");
    assert_eq!(code, -2019);
    assert!(!msg.is_empty());

    sim.fault(Fault::RejectOrders(0));
    let id = bot.order(Side::Buy, bid - 10.0, 1, TimeInForce::GTC, OrdType::Limit);
    bot.order_updates_until(id, Status::New);
    let s = sim.stats();
    assert_eq!((s.rejects, s.acks, s.orders_received), (1, 1, 2));
    sim.stop();
}

#[test]
fn delay_and_error_faults() {
    let sim = start_sim("delay", |c| c.rate = 200.0);
    let mut bot = Bot::new(sim.name());
    bot.register_and_wait(SYMBOL);
    let (bid, _) = touch(&sim);

    sim.fault(Fault::DelayMs(150));
    let t0 = Instant::now();
    let id = bot.order(Side::Buy, bid - 10.0, 1, TimeInForce::GTC, OrdType::Limit);
    bot.order_updates_until(id, Status::New);
    assert!(
        t0.elapsed() >= Duration::from_millis(150),
        "{:?}",
        t0.elapsed()
    );
    sim.fault(Fault::DelayMs(0));

    sim.fault(Fault::Error(1));
    let evs = bot.until(|_, ev| matches!(ev, LiveEvent::Error(_)));
    match &evs.last().unwrap().1 {
        LiveEvent::Error(e) => {
            assert_eq!(e.kind, ErrorKind::CriticalConnectionError);
            assert!(matches!(e.value, Value::String(_)));
        }
        _ => unreachable!(),
    }
    sim.stop();
}

/// Applies the bot's view of the market to hftbacktest's `HashMapMarketDepth`, both with every
/// depth event (what hftlive must do) and with LOCAL events only (what `LiveBot` does).
fn book_matches_bot_depth(fuse: bool) {
    let sim = start_sim("book", |c| {
        c.rate = 5000.0;
        c.fuse_deletions = fuse;
    });
    let mut bot = Bot::new(sim.name());
    bot.register_and_wait(SYMBOL);
    let mut full = HashMapMarketDepth::new(TICK, LOT);
    let mut local_only = HashMapMarketDepth::new(TICK, LOT);
    let mut non_local_deletions = 0;
    let mut apply = |ev: &LiveEvent| {
        if let LiveEvent::Feed { event, .. } = ev {
            if !is_depth(event.ev) && event.ev & 0xff != DEPTH_SNAPSHOT_EVENT {
                return;
            }
            let buy = event.ev & BUY_EVENT != 0;
            assert!(buy || event.ev & SELL_EVENT != 0);
            if event.ev & LOCAL_EVENT == 0 {
                assert_eq!(event.qty, 0.0, "only fused deletions lack LOCAL_EVENT");
                non_local_deletions += 1;
            }
            for (depth, applies) in [
                (&mut full, true),
                (&mut local_only, event.ev & LOCAL_EVENT != 0),
            ] {
                if !applies {
                    continue;
                }
                if buy {
                    depth.update_bid_depth(event.px, event.qty, event.exch_ts);
                } else {
                    depth.update_ask_depth(event.px, event.qty, event.exch_ts);
                }
            }
        }
    };
    wait_until("market events", || {
        while let Some((_, ev)) = try_next(&bot) {
            apply(&ev);
        }
        sim.stats().market_events >= 3000
    });
    sim.fault(Fault::PauseMarket(true));
    // Synchronise: the ack of an order sent after the pause comes after every market event.
    let (bid, _) = touch(&sim);
    let id = bot.order(Side::Buy, bid - 1000.0, 1, TimeInForce::GTX, OrdType::Limit);
    for (_, ev) in bot.order_updates_until(id, Status::New) {
        apply(&ev);
    }

    let (bids, asks) = sim.book(SYMBOL).unwrap();
    let mut bot_bids: Vec<_> = full
        .bid_depth
        .iter()
        .filter(|(_, q)| **q > 0.0)
        .map(|(t, q)| (*t, *q))
        .collect();
    bot_bids.sort_by_key(|b| std::cmp::Reverse(b.0));
    let mut bot_asks: Vec<_> = full
        .ask_depth
        .iter()
        .filter(|(_, q)| **q > 0.0)
        .map(|(t, q)| (*t, *q))
        .collect();
    bot_asks.sort_by_key(|a| a.0);
    let conv = |v: Vec<(i64, f64)>| -> Vec<(f64, f64)> {
        v.into_iter().map(|(t, q)| (t as f64 * TICK, q)).collect()
    };
    assert_eq!(conv(bot_bids), bids, "bids differ");
    assert_eq!(conv(bot_asks), asks, "asks differ");

    let stale = local_only.bid_depth.len() + local_only.ask_depth.len() - bids.len() - asks.len();
    if fuse {
        assert!(non_local_deletions > 0);
        assert!(stale > 0, "LOCAL-only book should keep stale levels");
    } else {
        assert_eq!(non_local_deletions, 0);
        assert_eq!(stale, 0);
    }
    sim.stop();
}

fn try_next(bot: &Bot) -> Option<(u64, LiveEvent)> {
    bot.try_next()
}

#[test]
fn book_matches_bot_depth_with_local_deletions() {
    book_matches_bot_depth(false);
}

#[test]
fn book_matches_bot_depth_with_fused_deletions() {
    book_matches_bot_depth(true);
}

#[test]
fn same_seed_gives_same_market() {
    let collect = |tag: &str| {
        // 2,000 events/s: at 20,000 a loaded machine (2 cores, other builds) stalled the bot
        // long enough for its 1,024-message buffer to overflow, losing the registration answer
        // (a hang) or market events (a false mismatch), on main as well.
        let sim = start_sim(tag, |c| {
            c.rate = 2_000.0;
            c.seed = 42;
        });
        let bot = Bot::new(sim.name());
        bot.register_and_wait(SYMBOL);
        let mut seen = Vec::new();
        bot.until(|_, ev| {
            if let LiveEvent::Feed { event, .. } = ev {
                seen.push((event.ev, event.px.to_bits(), event.qty.to_bits()));
            }
            seen.len() >= 500
        });
        sim.stop();
        seen
    };
    assert_eq!(collect("seed-a"), collect("seed-b"));
}

#[test]
fn exit_fault_then_restart_under_the_same_name() {
    let sim = start_sim("exit", |_| {});
    let name = sim.name().to_string();
    let bot = Bot::new(&name);
    bot.register_and_wait(SYMBOL);
    sim.fault(Fault::Exit);
    wait_until("sim exit", || !sim.is_running());
    assert_eq!(sim.stats().running, 0);
    // The book is still readable and stop() is fine afterwards.
    assert!(sim.book(SYMBOL).is_some());
    sim.stop();

    let mut cfg = hftlive_sim::SimConfig::new(&name, vec![instrument()]);
    cfg.rate = 100.0;
    let again = Sim::start(cfg).expect("restart under the same name");
    let bot2 = Bot::new(&name);
    bot2.register_and_wait(SYMBOL);
    again.stop();
}

#[test]
fn start_errors_are_readable() {
    let mut cfg = hftlive_sim::SimConfig::new(&unique_name("bad"), vec![instrument()]);
    cfg.instruments[0].tick_size = 0.0;
    let err = Sim::start(cfg).err().unwrap();
    assert!(err.contains("tick_size"), "{err}");
    assert!(hftlive_sim::SimConfig::from_json("{}").is_err());
    let cfg = hftlive_sim::SimConfig::from_json(
        r#"{"name":"x","instruments":[{"symbol":"a","tick_size":0.1,"lot_size":1,"start_price":100}]}"#,
    )
    .unwrap();
    assert_eq!((cfg.rate, cfg.levels, cfg.trade_ratio), (1000.0, 20, 0.5));
    assert!(!cfg.fuse_deletions && cfg.depth_batches && cfg.cancel_race);
}

#[test]
fn sim_binary_prints_ready_and_exits_cleanly_on_sigterm() {
    use std::{
        io::{BufRead, BufReader},
        process::{Command, Stdio},
        sync::mpsc,
    };
    let name = unique_name("bin");
    let mut child = Command::new(env!("CARGO_BIN_EXE_hftlive-sim"))
        .args([
            name.as_str(),
            "--seed",
            "7",
            "--rate",
            "500",
            "--symbol",
            SYMBOL,
            "--tick",
            "0.1",
            "--lot",
            "0.001",
            "--price",
            "30000",
            "--fuse-deletions",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let _ = tx.send(line.unwrap_or_default());
        }
    });
    let line = rx.recv_timeout(TIMEOUT).expect("ready line");
    assert_eq!(line, format!("ready {name}"));

    let bot = Bot::new(&name);
    bot.register_and_wait(SYMBOL);
    let evs = initial_book(&bot);
    assert!(evs.iter().any(
        |(_, ev)| matches!(ev, LiveEvent::Feed { event, .. } if (event.px - 30000.0).abs() < 100.0)
    ));

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + TIMEOUT;
    let code = loop {
        if let Some(code) = child.try_wait().unwrap() {
            break code;
        }
        assert!(
            Instant::now() < deadline,
            "sim binary did not exit on SIGTERM"
        );
        std::thread::yield_now();
    };
    assert!(code.success(), "{code:?}");
}
