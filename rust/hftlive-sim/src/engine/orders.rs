//! The matching engine: new orders (checks, rejections with Binance's codes, fills against the
//! book), resting orders filled by the market, cancels, positions.

use std::collections::HashMap;

use hftbacktest::{
    live::ipc::TO_ALL,
    types::{LiveEvent, OrdType, Order, Side, Status, TimeInForce},
};

use super::{
    inc, order_error,
    publish::{publish_depth, publish_trade},
    Engine, Resting,
};
use crate::market::Trade;

impl Engine {
    /// Fills resting orders after a market event: trades through their price fill up to the
    /// traded quantity; a touch that crosses their price fills them completely.
    pub(super) fn match_resting(&mut self, idx: usize, trades: &[Trade]) {
        if self.insts[idx].orders.is_empty() {
            return;
        }
        let mut fills: Vec<(u64, i64)> = Vec::new(); // (seq, lots)
        {
            let inst = &self.insts[idx];
            let mut taken: HashMap<u64, i64> = HashMap::new();
            for tr in trades {
                // A sell aggressor hits resting buys at or above the trade price, and vice versa,
                // best price first, then arrival.
                let mut left = tr.lots;
                for seq in inst.orders.reachable(!tr.buy, tr.tick) {
                    if left == 0 {
                        break;
                    }
                    let Some(r) = inst.orders.get(seq) else {
                        continue;
                    };
                    let used = taken.entry(seq).or_insert(0);
                    let f = (r.leaves - *used).min(left);
                    if f > 0 {
                        *used += f;
                        left -= f;
                        fills.push((seq, f));
                    }
                }
            }
            // A touch that crosses a resting order's price fills it completely.
            let crossed_buys = inst
                .market
                .best_ask()
                .map(|a| inst.orders.reachable(true, a));
            let crossed_sells = inst
                .market
                .best_bid()
                .map(|b| inst.orders.reachable(false, b));
            for seq in crossed_buys.into_iter().chain(crossed_sells).flatten() {
                let Some(r) = inst.orders.get(seq) else {
                    continue;
                };
                let used = taken.get(&seq).copied().unwrap_or(0);
                if r.leaves > used {
                    fills.push((seq, r.leaves - used));
                }
            }
        }
        for (seq, lots) in fills {
            self.fill_resting(idx, seq, lots);
        }
    }

    fn fill_resting(&mut self, idx: usize, seq: u64, lots: i64) {
        let ts = self.out.now_ns();
        let inst = &mut self.insts[idx];
        let Some(tick) = inst.orders.get(seq).map(|r| r.tick) else {
            return;
        };
        let exec_tick = inst.order_tick(&inst.orders.get(seq).expect("checked").order, tick);
        let lot_size = inst.lot_size;
        let r = inst.orders.get_mut(seq).expect("checked");
        r.leaves -= lots;
        let buy = r.buy;
        let o = &mut r.order;
        o.exec_qty = lots as f64 * lot_size;
        o.exec_price_tick = exec_tick;
        o.leaves_qty = r.leaves as f64 * lot_size;
        o.status = if r.leaves == 0 {
            Status::Filled
        } else {
            Status::PartiallyFilled
        };
        o.maker = true;
        o.req = Status::None;
        o.exch_timestamp = ts;
        let order = o.clone();
        let done = r.leaves == 0;
        if done {
            inst.orders.remove_seq(seq);
            inst.remember_finished(order.clone());
        }
        let symbol = inst.symbol.clone();
        self.out.send(TO_ALL, &LiveEvent::Order { symbol, order });
        inc(&self.out.counters().fills);
        self.update_position(idx, if buy { lots } else { -lots }, ts);
    }

    fn update_position(&mut self, idx: usize, delta_lots: i64, ts: i64) {
        let inst = &mut self.insts[idx];
        inst.pos_lots += delta_lots;
        inst.pos_ts = Some(ts);
        let ev = LiveEvent::Position {
            symbol: inst.symbol.clone(),
            qty: inst.pos_lots as f64 * inst.lot_size,
            exch_ts: ts,
        };
        self.out.send(TO_ALL, &ev);
    }

    fn reject(&mut self, symbol: String, mut order: Order, code: i64, msg: &str) {
        order.req = Status::None;
        order.status = Status::Expired;
        self.out.send(TO_ALL, &LiveEvent::Order { symbol, order });
        self.out.send(TO_ALL, &order_error(code, msg));
        inc(&self.out.counters().rejects);
    }

    pub(super) fn submit(&mut self, symbol: String, mut order: Order) {
        let Some(&idx) = self.by_symbol.get(&symbol) else {
            return self.reject(symbol, order, -1121, "Invalid symbol.");
        };
        if self.reject_code != 0 {
            let code = self.reject_code;
            return self.reject(
                symbol,
                order,
                code,
                "Order rejected by hftlive-sim (fault injection).",
            );
        }
        if self.insts[idx].orders.contains_id(order.order_id) {
            // The connector cannot map a second live order with the same id: it expires the
            // request without an error event.
            order.req = Status::None;
            order.status = Status::Expired;
            self.out.send(TO_ALL, &LiveEvent::Order { symbol, order });
            inc(&self.out.counters().expired);
            return;
        }

        let (tick_size, lot_size) = (self.insts[idx].tick_size, self.insts[idx].lot_size);
        let buy = match order.side {
            Side::Buy => true,
            Side::Sell => false,
            _ => {
                return self.reject(
                    symbol,
                    order,
                    -1102,
                    "Mandatory parameter 'side' was not sent, was empty/null, or malformed.",
                )
            }
        };
        if order.order_type == OrdType::Unsupported {
            return self.reject(symbol, order, -1116, "Invalid orderType.");
        }
        if order.time_in_force == TimeInForce::Unsupported {
            return self.reject(symbol, order, -1115, "Invalid timeInForce.");
        }
        if !order.qty.is_finite() || order.qty <= 0.0 {
            return self.reject(symbol, order, -4003, "Quantity less than or equal to zero.");
        }
        let lots_f = order.qty / lot_size;
        let lots = lots_f.round();
        if (lots_f - lots).abs() > 1e-6 * lots.max(1.0) || lots > 1e15 {
            return self.reject(
                symbol,
                order,
                -1111,
                "Precision is over the maximum defined for this asset.",
            );
        }
        let lots = lots as i64;
        if lots < 1 {
            return self.reject(symbol, order, -4003, "Quantity less than or equal to zero.");
        }
        let market_order = order.order_type == OrdType::Market;
        let order_tick_size = if order.tick_size > 0.0 {
            order.tick_size
        } else {
            tick_size
        };
        let price = order.price_tick as f64 * order_tick_size;
        let tick_f = price / tick_size;
        let tick = tick_f.round() as i64;
        if !market_order {
            if tick <= 0 {
                return self.reject(symbol, order, -4001, "Price less than 0.");
            }
            if (tick_f - tick_f.round()).abs() > 1e-6 {
                return self.reject(symbol, order, -4014, "Price not increased by tick size.");
            }
        }
        let limit = (!market_order).then_some(tick);
        let (bb, ba) = (
            self.insts[idx].market.best_bid(),
            self.insts[idx].market.best_ask(),
        );
        if order.time_in_force == TimeInForce::GTX {
            let crosses = market_order
                || if buy {
                    ba.is_some_and(|a| tick >= a)
                } else {
                    bb.is_some_and(|b| tick <= b)
                };
            if crosses {
                return self.reject(
                    symbol,
                    order,
                    -5022,
                    "Due to the order could not be executed as maker, the Post Only order will \
                     be rejected. The order will not be recorded in the order history",
                );
            }
        }
        if order.time_in_force == TimeInForce::FOK
            && self.insts[idx].market.fillable(buy, limit, lots) < lots
        {
            return self.reject(
                symbol,
                order,
                -5021,
                "Due to the order could not be filled immediately, the FOK order has been \
                 rejected. The order will not be recorded in the order history",
            );
        }

        // Accepted.
        let ts = self.out.now_ns();
        order.req = Status::None;
        order.status = Status::New;
        order.exch_timestamp = ts;
        order.leaves_qty = order.qty;
        order.exec_qty = 0.0;
        order.exec_price_tick = 0;
        order.maker = false;
        self.out.send(
            TO_ALL,
            &LiveEvent::Order {
                symbol: symbol.clone(),
                order: order.clone(),
            },
        );
        inc(&self.out.counters().acks);

        // Aggressive part. While the market is paused the book is frozen: fills do not take
        // liquidity (nothing could be published for it).
        let deplete = !self.paused;
        let (fills, depth) = self.insts[idx].market.consume(buy, limit, lots, deplete);
        let mut left = lots;
        let rest = self.cfg.rest_fills;
        for (k, &(t, f)) in fills.iter().enumerate() {
            left -= f;
            let ts = self.out.now_ns();
            order.exec_qty = if rest {
                (lots - left) as f64 * lot_size
            } else {
                f as f64 * lot_size
            };
            order.exec_price_tick = if rest {
                0
            } else {
                self.insts[idx].order_tick(&order, t)
            };
            order.leaves_qty = left as f64 * lot_size;
            order.status = if left == 0 {
                Status::Filled
            } else {
                Status::PartiallyFilled
            };
            order.maker = false;
            order.exch_timestamp = ts;
            if !rest || k + 1 == fills.len() {
                self.out.send(
                    TO_ALL,
                    &LiveEvent::Order {
                        symbol: symbol.clone(),
                        order: order.clone(),
                    },
                );
            }
            inc(&self.out.counters().fills);
            if !rest {
                self.update_position(idx, if buy { f } else { -f }, ts);
            }
        }
        if rest && !fills.is_empty() {
            // After the one order update, like the per-execution path.
            let filled = lots - left;
            let ts = self.out.now_ns();
            self.update_position(idx, if buy { filled } else { -filled }, ts);
        }
        if deplete && !fills.is_empty() && self.insts[idx].streaming() {
            let ts = self.out.now_ns();
            let inst = &mut self.insts[idx];
            for &(t, f) in &fills {
                publish_trade(
                    &mut self.out,
                    inst,
                    &Trade {
                        buy,
                        tick: t,
                        lots: f,
                    },
                    ts,
                );
            }
            publish_depth(&mut self.out, inst, &depth, ts, self.cfg.depth_batches);
        }

        if left == 0 {
            self.insts[idx].remember_finished(order);
        } else if market_order
            || order.time_in_force == TimeInForce::IOC
            || order.time_in_force == TimeInForce::FOK
        {
            order.status = Status::Expired;
            order.exec_qty = 0.0;
            order.exch_timestamp = self.out.now_ns();
            self.out.send(
                TO_ALL,
                &LiveEvent::Order {
                    symbol,
                    order: order.clone(),
                },
            );
            inc(&self.out.counters().expired);
            self.insts[idx].remember_finished(order);
        } else {
            self.seq += 1;
            self.insts[idx].orders.insert(Resting {
                seq: self.seq,
                order,
                buy,
                tick,
                leaves: left,
            });
        }
    }

    pub(super) fn cancel(&mut self, symbol: String, order: Order) {
        let Some(&idx) = self.by_symbol.get(&symbol) else {
            return;
        };
        let inst = &mut self.insts[idx];
        if let Some(r) = inst.orders.remove_id(order.order_id) {
            let mut o = r.order;
            o.status = Status::Canceled;
            o.req = Status::None;
            o.exec_qty = 0.0;
            o.exch_timestamp = self.out.now_ns();
            inst.remember_finished(o.clone());
            self.out
                .send(TO_ALL, &LiveEvent::Order { symbol, order: o });
            inc(&self.out.counters().cancels);
        } else if self.cfg.cancel_race {
            if let Some(done) = inst.finished.get(&order.order_id) {
                let mut o = done.clone();
                o.status = Status::None;
                o.req = Status::None;
                self.out
                    .send(TO_ALL, &LiveEvent::Order { symbol, order: o });
                self.out
                    .send(TO_ALL, &order_error(-2011, "Unknown order sent."));
            }
        }
        // A cancel of an order id the connector never mapped is only logged by the connector.
    }
}
