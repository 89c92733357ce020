//! Key names. Everything of one account carries the hash tag `{a:ID}`, so in Redis Cluster an
//! account's keys share a slot (each script touches one key), and every key starts with the
//! cluster's name, so clusters (production, staging, a test run) can share one Redis.

/// The key names of one cluster.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    /// The cluster's name, the first part of every key.
    name: String,
}

impl Keys {
    /// The pattern matching every key of the cluster.
    #[cfg(feature = "test-support")]
    pub(crate) fn all(&self) -> String {
        format!("{}:*", self.name)
    }
}

impl Keys {
    pub(crate) fn new(name: &str) -> Keys {
        Keys {
            name: name.to_owned(),
        }
    }

    fn account(&self, account_id: i64, what: &str) -> String {
        format!("{}:{{a:{account_id}}}:{what}", self.name)
    }

    /// The account's requests-per-second bucket (its theoretical arrival time).
    pub(crate) fn requests(&self, account_id: i64) -> String {
        self.account(account_id, "requests")
    }

    /// The account's connection-slot leases, one field per node.
    pub(crate) fn connections(&self, account_id: i64) -> String {
        self.account(account_id, "connections")
    }

    /// The account's byte total for the period starting at `period_start_ms`.
    pub(crate) fn bytes(&self, account_id: i64, period_start_ms: i64) -> String {
        self.account(account_id, &format!("bytes:{period_start_ms}"))
    }

    /// A sticky session's binding.
    pub(crate) fn session(&self, account_id: i64, session: &str) -> String {
        self.account(account_id, &format!("session:{session}"))
    }

    /// The node registry: one field per node, its latest report.
    pub(crate) fn nodes(&self) -> String {
        format!("{}:nodes", self.name)
    }

    /// One node's latest statistics snapshot (lapses unless rewritten).
    pub(crate) fn node_stats(&self, node: &str) -> String {
        format!("{}:stats:{node}", self.name)
    }

    /// The channel change notices go out on.
    pub(crate) fn changes(&self) -> String {
        format!("{}:changes", self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_keys_share_one_hash_tag() {
        let keys = Keys::new("atlantic");
        assert_eq!(keys.requests(42), "atlantic:{a:42}:requests");
        assert_eq!(keys.connections(42), "atlantic:{a:42}:connections");
        assert_eq!(
            keys.bytes(42, 1_700_000_000_000),
            "atlantic:{a:42}:bytes:1700000000000"
        );
        assert_eq!(keys.session(42, "abc"), "atlantic:{a:42}:session:abc");
    }
}
