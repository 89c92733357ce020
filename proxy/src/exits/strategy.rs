//! Orders the healthy, matching exits of a request: the first is tried first, the rest are the
//! failover order.

use std::sync::Arc;

use super::Exit;
use crate::config::Strategy;

/// Orders `exits` in place. `turn` is a counter advanced once per request, used to rotate and
/// to break ties so equal exits share the load.
pub(crate) fn order(strategy: Strategy, exits: &mut [Arc<Exit>], turn: usize) {
    if exits.len() < 2 {
        return;
    }
    let len = exits.len();
    match strategy {
        Strategy::RoundRobin => exits.rotate_left(turn % len),
        Strategy::LeastConnections => {
            exits.rotate_left(turn % len);
            exits.sort_by_key(|e| e.active());
        }
        Strategy::LowestLatency => {
            exits.rotate_left(turn % len);
            exits.sort_by_key(|e| e.latency_micros());
        }
        Strategy::WeightedRandom => {
            // Efraimidis–Spirakis: sort by u^(1/w) descending == by -ln(u)/w ascending.
            let mut keyed: Vec<(f64, Arc<Exit>)> = exits
                .iter()
                .map(|e| {
                    let u: f64 = rand::random::<f64>().max(f64::MIN_POSITIVE);
                    let w = f64::from(e.entry.weight);
                    let key = if w > 0.0 { -u.ln() / w } else { f64::INFINITY };
                    (key, e.clone())
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
            for (slot, (_, e)) in exits.iter_mut().zip(keyed) {
                *slot = e;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exits::tests::exit;

    fn ids(v: &[Arc<Exit>]) -> Vec<i64> {
        v.iter().map(|e| e.entry.id).collect()
    }

    #[test]
    fn round_robin_rotates() {
        let mut v = vec![exit(1, 1), exit(2, 1), exit(3, 1)];
        order(Strategy::RoundRobin, &mut v, 4);
        assert_eq!(ids(&v), vec![2, 3, 1]);
    }

    #[test]
    fn least_connections_prefers_idle_exits_and_rotates_ties() {
        let v = vec![exit(1, 1), exit(2, 1), exit(3, 1)];
        let _busy = v[0].track();
        let mut a = v.clone();
        order(Strategy::LeastConnections, &mut a, 0);
        assert_eq!(ids(&a), vec![2, 3, 1]);
        let mut b = v.clone();
        order(Strategy::LeastConnections, &mut b, 1);
        assert_eq!(ids(&b), vec![2, 3, 1]);
        let mut c = v.clone();
        order(Strategy::LeastConnections, &mut c, 2);
        assert_eq!(ids(&c), vec![3, 2, 1]);
    }

    #[test]
    fn lowest_latency_first() {
        let v = vec![exit(1, 1), exit(2, 1), exit(3, 1)];
        v[0].observe_latency(std::time::Duration::from_millis(50));
        v[1].observe_latency(std::time::Duration::from_millis(5));
        v[2].observe_latency(std::time::Duration::from_millis(20));
        let mut a = v.clone();
        order(Strategy::LowestLatency, &mut a, 0);
        assert_eq!(ids(&a), vec![2, 3, 1]);
    }

    #[test]
    fn weighted_random_follows_weights() {
        let v = vec![exit(1, 9), exit(2, 1), exit(3, 0)];
        let mut first = [0usize; 4];
        for i in 0..2000 {
            let mut a = v.clone();
            order(Strategy::WeightedRandom, &mut a, i);
            first[a[0].entry.id as usize] += 1;
            assert_eq!(a[2].entry.id, 3, "weight 0 goes last");
        }
        assert!(first[1] > 1600 && first[1] < 1950, "{first:?}");
        assert_eq!(first[3], 0);
    }
}
