//! The seeded market model of one instrument: a two-sided book of price levels (in ticks and
//! lots) driven by a random walk of the touch, level quantity changes and trades.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One change of a price level. `lots == 0` removes the level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Level {
    pub buy: bool,
    pub tick: i64,
    pub lots: i64,
}

/// A public trade. `buy` is the side of the aggressor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Trade {
    pub buy: bool,
    pub tick: i64,
    pub lots: i64,
}

/// The output of one market step: an optional trade, then one depth message (in the order the
/// levels are published).
#[derive(Default, Debug)]
pub(crate) struct Step {
    pub trades: Vec<Trade>,
    pub depth: Vec<Level>,
}

pub(crate) struct MarketParams {
    pub seed: u64,
    pub start_tick: i64,
    pub levels: usize,
    pub max_lots: i64,
    pub trade_ratio: f64,
    /// Publish a depth message that moves the touch with the improving side first (like a
    /// Binance depth update going through hftbacktest's fused depth), so the fused depth emits
    /// the deletions of the crossed levels itself, without `LOCAL_EVENT`. Otherwise the crossed
    /// levels are deleted explicitly before the new levels are added.
    pub fuse_order: bool,
}

pub(crate) struct Market {
    rng: ChaCha8Rng,
    levels: usize,
    max_lots: i64,
    trade_ratio: f64,
    fuse_order: bool,
    min_tick: i64,
    max_tick: i64,
    /// tick -> lots
    pub bids: BTreeMap<i64, i64>,
    /// tick -> lots
    pub asks: BTreeMap<i64, i64>,
}

impl Market {
    pub fn new(p: MarketParams) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
        let levels = p.levels.max(1);
        let max_lots = p.max_lots.max(1);
        let band = ((p.start_tick as f64) * 0.2).floor() as i64;
        let mut bids = BTreeMap::new();
        let mut asks = BTreeMap::new();
        for i in 0..levels as i64 {
            bids.insert(p.start_tick - i, rng.random_range(1..=max_lots));
            asks.insert(p.start_tick + 1 + i, rng.random_range(1..=max_lots));
        }
        Self {
            rng,
            levels,
            max_lots,
            trade_ratio: p.trade_ratio.clamp(0.0, 1.0),
            fuse_order: p.fuse_order,
            min_tick: (p.start_tick - band).max(levels as i64 + 1),
            max_tick: p.start_tick + band,
            bids,
            asks,
        }
    }

    pub fn best_bid(&self) -> Option<i64> {
        self.bids.last_key_value().map(|(t, _)| *t)
    }

    pub fn best_ask(&self) -> Option<i64> {
        self.asks.first_key_value().map(|(t, _)| *t)
    }

    fn random_lots(&mut self) -> i64 {
        self.rng.random_range(1..=self.max_lots)
    }

    /// Adds levels beyond the far end of `buy`'s side until it holds `levels` levels again.
    fn refill(&mut self, buy: bool, out: &mut Vec<Level>) {
        if buy {
            while self.bids.len() < self.levels {
                let next = match self.bids.first_key_value() {
                    Some((t, _)) => *t - 1,
                    None => self.best_ask().map(|a| a - 1).unwrap_or(self.min_tick),
                };
                if next < 1 {
                    break;
                }
                let lots = self.random_lots();
                self.bids.insert(next, lots);
                out.push(Level {
                    buy: true,
                    tick: next,
                    lots,
                });
            }
        } else {
            while self.asks.len() < self.levels {
                let next = match self.asks.last_key_value() {
                    Some((t, _)) => *t + 1,
                    None => self.best_bid().map(|b| b + 1).unwrap_or(self.max_tick),
                };
                let lots = self.random_lots();
                self.asks.insert(next, lots);
                out.push(Level {
                    buy: false,
                    tick: next,
                    lots,
                });
            }
        }
    }

    /// Removes levels at the far end of `buy`'s side until it holds `levels` levels.
    fn trim(&mut self, buy: bool, out: &mut Vec<Level>) {
        if buy {
            while self.bids.len() > self.levels {
                let (t, _) = self.bids.pop_first().expect("non-empty");
                out.push(Level {
                    buy: true,
                    tick: t,
                    lots: 0,
                });
            }
        } else {
            while self.asks.len() > self.levels {
                let (t, _) = self.asks.pop_last().expect("non-empty");
                out.push(Level {
                    buy: false,
                    tick: t,
                    lots: 0,
                });
            }
        }
    }

    /// Advances the market by one event.
    pub fn step(&mut self) -> Step {
        let r: f64 = self.rng.random();
        if r < self.trade_ratio {
            self.step_trade()
        } else {
            let r2: f64 = self.rng.random();
            if r2 < 0.6 {
                self.step_level_change()
            } else if r2 < 0.75 {
                self.step_spread_fill()
            } else {
                self.step_touch_move()
            }
        }
    }

    fn step_trade(&mut self) -> Step {
        let buy = self.rng.random_bool(0.5);
        let touch = if buy {
            self.asks.first_key_value()
        } else {
            self.bids.last_key_value()
        };
        let Some((&tick, &lots)) = touch else {
            return Step::default();
        };
        let qty = self.rng.random_range(1..=lots);
        let mut step = Step {
            trades: vec![Trade {
                buy,
                tick,
                lots: qty,
            }],
            depth: Vec::new(),
        };
        let left = lots - qty;
        let book = if buy { &mut self.asks } else { &mut self.bids };
        if left > 0 {
            book.insert(tick, left);
        } else {
            book.remove(&tick);
        }
        step.depth.push(Level {
            buy: !buy,
            tick,
            lots: left,
        });
        self.refill(!buy, &mut step.depth);
        step
    }

    fn step_level_change(&mut self) -> Step {
        let buy = self.rng.random_bool(0.5);
        let idx = self.rng.random_range(0..self.levels);
        let side = if buy { &self.bids } else { &self.asks };
        let found = if buy {
            side.iter().rev().nth(idx)
        } else {
            side.iter().nth(idx)
        };
        let Some((&tick, &old)) = found else {
            return Step::default();
        };
        let mut lots = self.random_lots();
        if lots == old {
            lots = lots % self.max_lots + 1;
        }
        if buy {
            self.bids.insert(tick, lots);
        } else {
            self.asks.insert(tick, lots);
        }
        Step {
            trades: Vec::new(),
            depth: vec![Level { buy, tick, lots }],
        }
    }

    fn step_spread_fill(&mut self) -> Step {
        let (Some(bb), Some(ba)) = (self.best_bid(), self.best_ask()) else {
            return self.step_level_change();
        };
        if ba - bb <= 1 {
            return self.step_level_change();
        }
        let buy = self.rng.random_bool(0.5);
        let tick = if buy { bb + 1 } else { ba - 1 };
        let lots = self.random_lots();
        let mut depth = vec![Level { buy, tick, lots }];
        if buy {
            self.bids.insert(tick, lots);
        } else {
            self.asks.insert(tick, lots);
        }
        self.trim(buy, &mut depth);
        Step {
            trades: Vec::new(),
            depth,
        }
    }

    fn step_touch_move(&mut self) -> Step {
        let (Some(bb), Some(ba)) = (self.best_bid(), self.best_ask()) else {
            return self.step_level_change();
        };
        let k = self.rng.random_range(1..=3i64);
        let mut up = self.rng.random_bool(0.5);
        if up && bb + k > self.max_tick {
            up = false;
        } else if !up && ba - k < self.min_tick {
            up = true;
        }
        // The improving side gains `k` levels inside/through the spread; the other side loses
        // the levels that are crossed.
        let mut improve = Vec::new(); // new levels, best first
        let mut crossed = Vec::new(); // deletions of the other side, nearest first
        let mut far_improve = Vec::new(); // trims of the improving side
        let mut far_other = Vec::new(); // refills of the other side
        if up {
            let nb = bb + k;
            for t in (bb + 1..=nb).rev() {
                let lots = self.random_lots();
                self.bids.insert(t, lots);
                improve.push(Level {
                    buy: true,
                    tick: t,
                    lots,
                });
            }
            while let Some((&t, _)) = self.asks.first_key_value() {
                if t > nb {
                    break;
                }
                self.asks.remove(&t);
                crossed.push(Level {
                    buy: false,
                    tick: t,
                    lots: 0,
                });
            }
            self.trim(true, &mut far_improve);
            self.refill(false, &mut far_other);
        } else {
            let na = ba - k;
            for t in na..ba {
                let lots = self.random_lots();
                self.asks.insert(t, lots);
                improve.push(Level {
                    buy: false,
                    tick: t,
                    lots,
                });
            }
            while let Some((&t, _)) = self.bids.last_key_value() {
                if t < na {
                    break;
                }
                self.bids.remove(&t);
                crossed.push(Level {
                    buy: true,
                    tick: t,
                    lots: 0,
                });
            }
            self.trim(false, &mut far_improve);
            self.refill(true, &mut far_other);
        }
        let mut depth =
            Vec::with_capacity(improve.len() + crossed.len() + far_improve.len() + far_other.len());
        if self.fuse_order {
            // Like an exchange depth message: one side (the improving one, best first, then its
            // far deletions), then the other side (crossed deletions, then far additions).
            depth.extend(improve);
            depth.extend(far_improve);
            depth.extend(crossed);
            depth.extend(far_other);
        } else {
            // Deletions first, so no new level ever crosses the other side.
            depth.extend(crossed);
            depth.extend(far_improve);
            depth.extend(improve);
            depth.extend(far_other);
        }
        Step {
            trades: Vec::new(),
            depth,
        }
    }

    /// Lots an aggressive order could fill right now (`limit` None = market order).
    pub fn fillable(&self, buy: bool, limit: Option<i64>, max_lots: i64) -> i64 {
        let mut total = 0;
        if buy {
            for (&t, &l) in self.asks.iter() {
                if limit.is_some_and(|p| t > p) || total >= max_lots {
                    break;
                }
                total += l;
            }
        } else {
            for (&t, &l) in self.bids.iter().rev() {
                if limit.is_some_and(|p| t < p) || total >= max_lots {
                    break;
                }
                total += l;
            }
        }
        total.min(max_lots)
    }

    /// Fills an aggressive order against the book: returns the fills (tick, lots) best first and,
    /// when `deplete`, removes the liquidity and returns the depth message for it.
    pub fn consume(
        &mut self,
        buy: bool,
        limit: Option<i64>,
        lots: i64,
        deplete: bool,
    ) -> (Vec<(i64, i64)>, Vec<Level>) {
        let mut fills = Vec::new();
        let mut left = lots;
        {
            let levels: Box<dyn Iterator<Item = (&i64, &i64)>> = if buy {
                Box::new(self.asks.iter())
            } else {
                Box::new(self.bids.iter().rev())
            };
            for (&t, &l) in levels {
                if left == 0 {
                    break;
                }
                if let Some(p) = limit {
                    if (buy && t > p) || (!buy && t < p) {
                        break;
                    }
                }
                let f = left.min(l);
                fills.push((t, f));
                left -= f;
            }
        }
        let mut depth = Vec::new();
        if deplete && !fills.is_empty() {
            let book = if buy { &mut self.asks } else { &mut self.bids };
            for &(t, f) in &fills {
                let rest = book.get(&t).copied().unwrap_or(0) - f;
                if rest > 0 {
                    book.insert(t, rest);
                } else {
                    book.remove(&t);
                }
                depth.push(Level {
                    buy: !buy,
                    tick: t,
                    lots: rest.max(0),
                });
            }
            self.refill(!buy, &mut depth);
        }
        (fills, depth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(seed: u64, fuse: bool) -> MarketParams {
        MarketParams {
            seed,
            start_tick: 10_000,
            levels: 5,
            max_lots: 20,
            trade_ratio: 0.5,
            fuse_order: fuse,
        }
    }

    #[test]
    fn book_stays_valid_and_bounded() {
        for fuse in [false, true] {
            let mut m = Market::new(params(7, fuse));
            for _ in 0..200_000 {
                m.step();
                let (bb, ba) = (m.best_bid().unwrap(), m.best_ask().unwrap());
                assert!(bb < ba, "crossed book {bb} {ba}");
                assert_eq!(m.bids.len(), 5);
                assert_eq!(m.asks.len(), 5);
                assert!(bb >= 7_000 && ba <= 13_100, "{bb} {ba}");
                assert!(m.bids.values().chain(m.asks.values()).all(|&l| l > 0));
            }
        }
    }

    #[test]
    fn same_seed_same_market() {
        let mut a = Market::new(params(3, true));
        let mut b = Market::new(params(3, true));
        for _ in 0..10_000 {
            let (sa, sb) = (a.step(), b.step());
            assert_eq!(sa.trades, sb.trades);
            assert_eq!(sa.depth, sb.depth);
        }
    }

    #[test]
    fn consume_walks_levels() {
        let mut m = Market::new(params(1, false));
        let ba = m.best_ask().unwrap();
        let first = m.asks[&ba];
        let (fills, depth) = m.consume(true, None, first + 1, true);
        assert_eq!(fills[0], (ba, first));
        assert_eq!(fills[1].1, 1);
        assert!(depth.contains(&Level {
            buy: false,
            tick: ba,
            lots: 0
        }));
        assert_eq!(m.asks.len(), 5);
        assert!(m.best_ask().unwrap() > ba);
    }
}
