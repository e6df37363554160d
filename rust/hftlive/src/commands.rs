//! Commands from the caller to the engine: a [`NewOrder`] or a [`CancelOrder`], decoded from the
//! C ABI's plain arguments with `TryFrom` at the edge and checked here, before anything is
//! queued. The checks that need the client's state (the asset, a duplicate id) are the
//! client's ([`crate::shared`]); the rules that turn a price into ticks are hftbacktest's.

use std::fmt::Display;

use hftbacktest::types::{OrdType, Order, Side, Status, TimeInForce};

use crate::error::{fail, Error, ErrorKind};

/// The largest order id: integers up to 2^53 - 1 cross the ABI exactly as `f64`.
pub const MAX_ORDER_ID: u64 = (1 << 53) - 1;

/// `hl_client_submit`'s arguments as they cross the C ABI (encoding: `rust/ABI.md`).
#[derive(Clone, Copy, Debug)]
pub struct RawNewOrder {
    pub asset: u32,
    pub order_id: f64,
    /// 1 buy, -1 sell.
    pub side: i32,
    pub price: f64,
    pub qty: f64,
    /// 0 GTC, 1 GTX, 2 FOK, 3 IOC.
    pub tif: u32,
    /// 0 limit, 1 market.
    pub ord_type: u32,
}

/// `hl_client_cancel`'s arguments as they cross the C ABI.
#[derive(Clone, Copy, Debug)]
pub struct RawCancelOrder {
    pub asset: u32,
    pub order_id: f64,
}

/// A new order: prices and quantities in instrument units, the asset by its index in the
/// client's configuration. [`crate::Client::submit`] checks it ([`NewOrder::validate`]) and
/// rounds it with hftbacktest's rule before queuing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NewOrder {
    pub asset: usize,
    /// In `1..=MAX_ORDER_ID`, unique per asset (`rust/ABI.md`).
    pub order_id: u64,
    pub side: Side,
    pub price: f64,
    pub qty: f64,
    pub time_in_force: TimeInForce,
    pub order_type: OrdType,
}

/// The cancellation of an order of this client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CancelOrder {
    pub asset: usize,
    pub order_id: u64,
}

/// A refusal before anything was sent: "Cannot {verb} order {id}: {why}".
fn refuse<T>(verb: &str, kind: ErrorKind, id: impl Display, why: impl Display) -> Result<T, Error> {
    fail(kind, format!("Cannot {verb} order {id}: {why}"))
}

const ID_RANGE: &str = "order id is not an integer in [1, 2^53-1]";

impl TryFrom<RawNewOrder> for NewOrder {
    type Error = Error;

    /// Decodes the ABI's integers and checks everything but the asset (that is the client's).
    fn try_from(r: RawNewOrder) -> Result<Self, Error> {
        let id = r.order_id;
        let bad = |why: String| refuse("submit", ErrorKind::Argument, id, why);
        if !(id.is_finite() && (1.0..=MAX_ORDER_ID as f64).contains(&id) && id.fract() == 0.0) {
            return bad(ID_RANGE.into());
        }
        let side = match r.side {
            1 => Side::Buy,
            -1 => Side::Sell,
            s => return bad(format!("side {s} is not 1 (buy) or -1 (sell)")),
        };
        let time_in_force = match r.tif {
            0 => TimeInForce::GTC,
            1 => TimeInForce::GTX,
            2 => TimeInForce::FOK,
            3 => TimeInForce::IOC,
            t => return bad(format!("time in force {t} is not 0..=3")),
        };
        let order_type = match r.ord_type {
            0 => OrdType::Limit,
            1 => OrdType::Market,
            t => return bad(format!("order type {t} is not 0 (limit) or 1 (market)")),
        };
        let order = NewOrder {
            asset: r.asset as usize,
            order_id: id as u64,
            side,
            price: r.price,
            qty: r.qty,
            time_in_force,
            order_type,
        };
        order.validate()?;
        Ok(order)
    }
}

/// The ABI's encoding of an order (what a C caller passes to `hl_client_submit`).
impl From<NewOrder> for RawNewOrder {
    fn from(o: NewOrder) -> Self {
        RawNewOrder {
            asset: o.asset as u32,
            order_id: o.order_id as f64,
            side: o.side as i8 as i32,
            price: o.price,
            qty: o.qty,
            tif: o.time_in_force as u8 as u32,
            ord_type: o.order_type as u8 as u32,
        }
    }
}

impl NewOrder {
    /// A good-till-cancel limit order (other kinds: `NewOrder { order_type, ..NewOrder::limit(..) }`).
    pub fn limit(asset: usize, order_id: u64, side: Side, price: f64, qty: f64) -> Self {
        Self {
            asset,
            order_id,
            side,
            price,
            qty,
            time_in_force: TimeInForce::GTC,
            order_type: OrdType::Limit,
        }
    }

    /// Checks what the types do not say: the id's range, a market order that is not post-only,
    /// a positive finite price and quantity.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |why: String| self.refuse(ErrorKind::Argument, why);
        if !(1..=MAX_ORDER_ID).contains(&self.order_id) {
            return bad(ID_RANGE.into());
        }
        if !matches!(self.side, Side::Buy | Side::Sell) {
            return bad(format!("side {:?} is not Buy or Sell", self.side));
        }
        if !matches!(self.order_type, OrdType::Limit | OrdType::Market)
            || self.time_in_force == TimeInForce::Unsupported
        {
            return bad("unsupported order type or time in force".into());
        }
        if self.order_type == OrdType::Market && self.time_in_force == TimeInForce::GTX {
            return bad("a market order cannot be post-only (GTX)".into());
        }
        let (price, qty) = (self.price, self.qty);
        if !(price.is_finite() && price > 0.0) {
            return bad(format!("price {price} is not a positive finite number"));
        }
        if !(qty.is_finite() && qty > 0.0) {
            return bad(format!("qty {qty} is not a positive finite number"));
        }
        Ok(())
    }

    /// The hftbacktest order to send for an asset of `tick_size` and `lot_size`, with
    /// hftbacktest's rule `price_tick = round(price / tick_size)`; refused if the price rounds to
    /// no tick or the quantity is not a positive multiple of the lot size (within 1e-9 lots).
    pub(crate) fn live_order(
        &self,
        tick_size: f64,
        lot_size: f64,
        now: i64,
    ) -> Result<Order, Error> {
        let (price, qty) = (self.price, self.qty);
        let price_tick = (price / tick_size).round();
        if price_tick < 1.0 {
            let why = format!("price {price} rounds to 0 ticks of {tick_size}");
            return self.refuse(ErrorKind::Argument, why);
        }
        let lots = qty / lot_size;
        if (lots - lots.round()).abs() > 1e-9 * lots.max(1.0) || lots.round() < 1.0 {
            let why = format!("qty {qty} is not a positive multiple of the lot size {lot_size}");
            return self.refuse(ErrorKind::Argument, why);
        }
        Ok(Order {
            order_id: self.order_id,
            price_tick: price_tick as i64,
            qty,
            leaves_qty: qty,
            tick_size,
            side: self.side,
            time_in_force: self.time_in_force,
            order_type: self.order_type,
            status: Status::New,
            local_timestamp: now,
            req: Status::New,
            exec_price_tick: 0,
            exch_timestamp: 0,
            exec_qty: 0.0,
            q: Box::new(()),
            maker: false,
        })
    }

    /// Refuses this order with `kind` ("Cannot submit order {id}: {why}").
    pub(crate) fn refuse<T>(&self, kind: ErrorKind, why: impl Display) -> Result<T, Error> {
        refuse("submit", kind, self.order_id, why)
    }
}

impl TryFrom<RawCancelOrder> for CancelOrder {
    type Error = Error;

    fn try_from(r: RawCancelOrder) -> Result<Self, Error> {
        let id = r.order_id;
        if !(id.is_finite() && id >= 1.0 && id.fract() == 0.0) {
            return refuse(
                "cancel",
                ErrorKind::Argument,
                id,
                "order id is not a positive integer",
            );
        }
        Ok(CancelOrder {
            asset: r.asset as usize,
            order_id: id as u64,
        })
    }
}

impl CancelOrder {
    /// Refuses this cancel with `kind` ("Cannot cancel order {id}: {why}").
    pub(crate) fn refuse<T>(&self, kind: ErrorKind, why: impl Display) -> Result<T, Error> {
        refuse("cancel", kind, self.order_id, why)
    }
}

/// A request for the engine to send: the new order `order_id` of `asset`, or its cancel. The
/// order itself is the one the client tracks, read when the request is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cmd {
    pub asset: usize,
    pub order_id: u64,
    pub cancel: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawNewOrder {
        NewOrder::limit(0, 1, Side::Buy, 100.0, 0.001).into()
    }

    fn refusal(r: RawNewOrder) -> String {
        NewOrder::try_from(r).unwrap_err().to_string()
    }

    #[test]
    fn the_abi_encoding_round_trips() {
        let o = NewOrder {
            time_in_force: TimeInForce::FOK,
            order_type: OrdType::Market,
            ..NewOrder::limit(3, 42, Side::Sell, 7.5, 2.0)
        };
        assert_eq!(NewOrder::try_from(RawNewOrder::from(o)), Ok(o));
    }

    #[test]
    fn raw_orders_are_decoded_and_checked_at_the_edge() {
        let o = NewOrder::try_from(RawNewOrder {
            side: -1,
            tif: 3,
            ord_type: 1,
            ..raw()
        })
        .unwrap();
        assert_eq!(
            (o.side, o.time_in_force, o.order_type),
            (Side::Sell, TimeInForce::IOC, OrdType::Market)
        );
        assert_eq!(o.order_id, 1);
        for (r, needle) in [
            (
                RawNewOrder {
                    order_id: 1.5,
                    ..raw()
                },
                "Cannot submit order 1.5: order id is not an integer",
            ),
            (
                RawNewOrder {
                    order_id: 2f64.powi(53),
                    ..raw()
                },
                "order id",
            ),
            (RawNewOrder { side: 2, ..raw() }, "side 2"),
            (RawNewOrder { tif: 9, ..raw() }, "time in force 9"),
            (
                RawNewOrder {
                    ord_type: 2,
                    ..raw()
                },
                "order type 2",
            ),
            (
                RawNewOrder {
                    tif: 1,
                    ord_type: 1,
                    ..raw()
                },
                "post-only",
            ),
            (
                RawNewOrder {
                    price: f64::NAN,
                    ..raw()
                },
                "price NaN",
            ),
            (RawNewOrder { qty: 0.0, ..raw() }, "qty 0"),
        ] {
            let m = refusal(r);
            assert!(m.contains(needle), "{m} should mention {needle}");
        }
    }

    #[test]
    fn prices_round_with_hftbacktests_rule_and_quantities_must_be_whole_lots() {
        let o = NewOrder::try_from(RawNewOrder {
            price: 100.04,
            qty: 0.002,
            ..raw()
        })
        .unwrap();
        assert_eq!(o.live_order(0.1, 0.001, 5).unwrap().price_tick, 1000);
        let refusal = |o: NewOrder| o.live_order(0.1, 0.001, 5).unwrap_err().to_string();
        assert!(refusal(NewOrder { price: 0.04, ..o }).contains("rounds to 0 ticks"));
        assert!(refusal(NewOrder { qty: 0.0005, ..o }).contains("lot size"));
    }

    #[test]
    fn cancels_need_a_positive_integer_id() {
        let c = CancelOrder::try_from(RawCancelOrder {
            asset: 1,
            order_id: 7.0,
        })
        .unwrap();
        assert_eq!(
            c,
            CancelOrder {
                asset: 1,
                order_id: 7
            }
        );
        let e = CancelOrder::try_from(RawCancelOrder {
            asset: 0,
            order_id: 0.5,
        })
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Cannot cancel order 0.5: order id is not a positive integer"
        );
    }
}
