//! [`Handles`]: the metrics of a family that every call updates, found
//! without the family's own lookup.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;

use parking_lot::RwLock;

/// Metrics of one family by label key. Each is a clone of the family's own
/// metric (a prometheus-client metric's clones share one value), made on
/// first use and kept: families here never drop a label set, so a kept
/// clone never goes stale. A lookup hashes a borrowed key with foldhash;
/// the family's own hashes an owned label set (a `String` built for it)
/// with SipHash, and a call made five of them (docs/benchmarks.md).
#[derive(Debug)]
pub(crate) struct Handles<K, M> {
    map: RwLock<HashMap<K, M, foldhash::fast::RandomState>>,
}

impl<K, M> Default for Handles<K, M> {
    fn default() -> Self {
        Self {
            map: RwLock::new(HashMap::default()),
        }
    }
}

impl<K: Eq + Hash, M> Handles<K, M> {
    /// Run `f` on the metric kept for `key`, first keeping the one `make`
    /// gives (its key and the family's metric) if there is none yet.
    pub(crate) fn with<Q, R>(
        &self,
        key: &Q,
        make: impl FnOnce() -> (K, M),
        f: impl FnOnce(&M) -> R,
    ) -> R
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some(m) = self.map.read().get(key) {
            return f(m);
        }
        let (k, m) = make();
        f(self.map.write().entry(k).or_insert(m))
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;

    use super::*;

    #[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
    struct Name {
        name: String,
    }

    #[test]
    fn a_kept_handle_counts_into_the_family() {
        let family: Family<Name, Counter> = Family::default();
        let handles: Handles<String, Counter> = Handles::default();
        let label = |n: &str| Name { name: n.to_owned() };
        for n in ["a", "b", "a", "a"] {
            handles.with(
                n,
                || (n.to_owned(), family.get_or_create(&label(n)).clone()),
                |c| c.inc(),
            );
        }
        assert_eq!(family.get_or_create(&label("a")).get(), 3);
        assert_eq!(family.get_or_create(&label("b")).get(), 1);
        // Counted through the family directly, seen through the handle.
        family.get_or_create(&label("b")).inc();
        let b = handles.with("b", || unreachable!("kept"), Counter::get);
        assert_eq!(b, 2);
    }
}
