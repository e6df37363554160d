//! The authoritative book per instrument, on hftbacktest's own depth types.

use hftbacktest::{
    depth::{
        HashMapMarketDepth, L2MarketDepth, MarketDepth, ROIVectorMarketDepth, INVALID_MAX,
        INVALID_MIN,
    },
    types::Side,
};

use crate::config::DepthKind;

/// Decimal places of a tick size (at most 12), e.g. 0.1 -> 1, 0.005 -> 3, 1.0 -> 0.
pub fn tick_decimals(tick_size: f64) -> i32 {
    (0..12)
        .find(|d| {
            let m = 10f64.powi(*d) * tick_size;
            (m - m.round()).abs() < 1e-9 * m.abs().max(1.0)
        })
        .unwrap_or(12)
}

/// The price of `tick` ticks, rounded to the tick size's decimals so that `1000001 * 0.1` is
/// `100000.1`, not `100000.10000000001` (hftbacktest multiplies without rounding).
pub fn tick_price(tick: i64, tick_size: f64) -> f64 {
    let m = 10f64.powi(tick_decimals(tick_size));
    (tick as f64 * tick_size * m).round() / m
}

/// Price levels, best first, as (price, qty).
pub type Levels = Vec<(f64, f64)>;

pub enum Book {
    HashMap(HashMapMarketDepth),
    Roi(ROIVectorMarketDepth),
}

/// Best bid/offer as published in BBO records.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct Bbo {
    pub bid_tick: i64,
    pub bid_qty: f64,
    pub ask_tick: i64,
    pub ask_qty: f64,
}

impl Bbo {
    /// Both sides empty (hftbacktest's `INVALID_MIN` / `INVALID_MAX` ticks).
    pub const EMPTY: Bbo = Bbo {
        bid_tick: INVALID_MIN,
        bid_qty: 0.0,
        ask_tick: INVALID_MAX,
        ask_qty: 0.0,
    };
}

impl Book {
    pub fn new(kind: &DepthKind, tick: f64, lot: f64) -> Self {
        match kind {
            DepthKind::Roi { roi: [lo, hi] } => {
                Book::Roi(ROIVectorMarketDepth::new(tick, lot, *lo, *hi))
            }
            DepthKind::Named(_) => Book::HashMap(HashMapMarketDepth::new(tick, lot)),
        }
    }

    fn md(&self) -> &dyn MarketDepth {
        match self {
            Book::HashMap(d) => d,
            Book::Roi(d) => d,
        }
    }

    pub fn update(&mut self, side: i8, px: f64, qty: f64, ts: i64) {
        match (self, side > 0) {
            (Book::HashMap(d), true) => drop(d.update_bid_depth(px, qty, ts)),
            (Book::HashMap(d), false) => drop(d.update_ask_depth(px, qty, ts)),
            (Book::Roi(d), true) => drop(d.update_bid_depth(px, qty, ts)),
            (Book::Roi(d), false) => drop(d.update_ask_depth(px, qty, ts)),
        }
    }

    pub fn clear(&mut self, side: Side, upto: f64) {
        match self {
            Book::HashMap(d) => d.clear_depth(side, upto),
            Book::Roi(d) => d.clear_depth(side, upto),
        }
    }

    pub fn bbo(&self) -> Bbo {
        let md = self.md();
        let bid_tick = md.best_bid_tick();
        let ask_tick = md.best_ask_tick();
        Bbo {
            bid_tick,
            bid_qty: if bid_tick == INVALID_MIN {
                0.0
            } else {
                md.bid_qty_at_tick(bid_tick)
            },
            ask_tick,
            ask_qty: if ask_tick == INVALID_MAX {
                0.0
            } else {
                md.ask_qty_at_tick(ask_tick)
            },
        }
    }

    pub fn tick_size(&self) -> f64 {
        self.md().tick_size()
    }

    /// Top `levels` levels per side, best first, as (price, qty).
    pub fn top(&self, levels: usize) -> (Levels, Levels) {
        let tick = self.tick_size();
        match self {
            Book::HashMap(d) => {
                let mut bids: Vec<(i64, f64)> = d
                    .bid_depth
                    .iter()
                    .filter(|(_, q)| **q > 0.0)
                    .map(|(t, q)| (*t, *q))
                    .collect();
                let mut asks: Vec<(i64, f64)> = d
                    .ask_depth
                    .iter()
                    .filter(|(_, q)| **q > 0.0)
                    .map(|(t, q)| (*t, *q))
                    .collect();
                bids.sort_unstable_by_key(|l| std::cmp::Reverse(l.0));
                asks.sort_unstable_by_key(|l| l.0);
                (
                    bids.into_iter()
                        .take(levels)
                        .map(|(t, q)| (tick_price(t, tick), q))
                        .collect(),
                    asks.into_iter()
                        .take(levels)
                        .map(|(t, q)| (tick_price(t, tick), q))
                        .collect(),
                )
            }
            Book::Roi(d) => {
                let (lb, _) = d.roi_tick();
                let mut bids = Vec::new();
                let mut asks = Vec::new();
                let bd = d.bid_depth();
                let ad = d.ask_depth();
                let best_bid = d.best_bid_tick();
                if best_bid != INVALID_MIN {
                    let mut i = (best_bid - lb).min(bd.len() as i64 - 1);
                    while i >= 0 && bids.len() < levels {
                        let q = bd[i as usize];
                        if q > 0.0 {
                            bids.push((tick_price(i + lb, tick), q));
                        }
                        i -= 1;
                    }
                }
                let best_ask = d.best_ask_tick();
                if best_ask != INVALID_MAX {
                    let mut i = (best_ask - lb).max(0) as usize;
                    while i < ad.len() && asks.len() < levels {
                        let q = ad[i];
                        if q > 0.0 {
                            asks.push((tick_price(i as i64 + lb, tick), q));
                        }
                        i += 1;
                    }
                }
                (bids, asks)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_prices_have_no_float_noise() {
        assert_eq!(tick_decimals(0.1), 1);
        assert_eq!(tick_decimals(0.005), 3);
        assert_eq!(tick_decimals(1.0), 0);
        assert_eq!(tick_decimals(0.00001), 5);
        assert_eq!(tick_price(500_001, 0.1), 50000.1);
        assert_eq!(tick_price(3, 0.1), 0.3);
        assert_eq!(tick_price(12345, 0.005), 61.725);
    }
}
