//! The resting orders of one instrument, indexed so that every operation stays cheap however
//! many rest (100,000 resting orders made the linear scans of each request and each market
//! event the sim's bottleneck): by arrival (`seq`), by order id, and by price per side, best
//! first.

use std::{
    cmp::Reverse,
    collections::{BTreeMap, BTreeSet, HashMap},
};

use super::Resting;

#[derive(Default)]
pub(super) struct RestingOrders {
    by_seq: BTreeMap<u64, Resting>,
    by_id: HashMap<u64, u64>,
    /// Best (highest) price first, then arrival.
    buys: BTreeSet<(Reverse<i64>, u64)>,
    /// Best (lowest) price first, then arrival.
    sells: BTreeSet<(i64, u64)>,
}

impl RestingOrders {
    pub fn is_empty(&self) -> bool {
        self.by_seq.is_empty()
    }

    pub fn len(&self) -> usize {
        self.by_seq.len()
    }

    pub fn contains_id(&self, order_id: u64) -> bool {
        self.by_id.contains_key(&order_id)
    }

    /// In arrival order.
    pub fn iter(&self) -> impl Iterator<Item = &Resting> {
        self.by_seq.values()
    }

    pub fn get(&self, seq: u64) -> Option<&Resting> {
        self.by_seq.get(&seq)
    }

    pub fn get_mut(&mut self, seq: u64) -> Option<&mut Resting> {
        self.by_seq.get_mut(&seq)
    }

    pub fn insert(&mut self, r: Resting) {
        self.by_id.insert(r.order.order_id, r.seq);
        if r.buy {
            self.buys.insert((Reverse(r.tick), r.seq));
        } else {
            self.sells.insert((r.tick, r.seq));
        }
        self.by_seq.insert(r.seq, r);
    }

    pub fn remove_seq(&mut self, seq: u64) -> Option<Resting> {
        let r = self.by_seq.remove(&seq)?;
        self.by_id.remove(&r.order.order_id);
        if r.buy {
            self.buys.remove(&(Reverse(r.tick), seq));
        } else {
            self.sells.remove(&(r.tick, seq));
        }
        Some(r)
    }

    pub fn remove_id(&mut self, order_id: u64) -> Option<Resting> {
        let seq = *self.by_id.get(&order_id)?;
        self.remove_seq(seq)
    }

    /// Resting buys priced at or above `tick` (`buy` = true), or sells at or below it, best
    /// price first, then arrival: what an aggressor at `tick` reaches, in the order it fills.
    pub fn reachable(&self, buy: bool, tick: i64) -> Box<dyn Iterator<Item = u64> + '_> {
        if buy {
            let it = self
                .buys
                .iter()
                .take_while(move |(Reverse(t), _)| *t >= tick);
            Box::new(it.map(|&(_, seq)| seq))
        } else {
            let it = self.sells.iter().take_while(move |(t, _)| *t <= tick);
            Box::new(it.map(|&(_, seq)| seq))
        }
    }
}
