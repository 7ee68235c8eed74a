//! The key layout (see the crate docs for what each key holds).

/// Key names under one prefix.
#[derive(Debug)]
pub(crate) struct Keys {
    prefix: String,
    seen: String,
    created: String,
    uninit: String,
    tethered: String,
    ids: String,
}

impl Keys {
    pub(crate) fn new(prefix: &str) -> Result<Self, String> {
        if prefix.is_empty() || prefix.contains(['{', '}']) || prefix.contains(char::is_whitespace)
        {
            return Err(format!(
                "the Redis key prefix {prefix:?} must be non-empty, without braces or spaces"
            ));
        }
        let idx = |name: &str| format!("{prefix}:{{idx}}:{name}");
        Ok(Self {
            seen: idx("seen"),
            created: idx("created"),
            uninit: idx("uninit"),
            tethered: idx("tethered"),
            ids: idx("ids"),
            prefix: prefix.to_owned(),
        })
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The session's record: `<prefix>:s:{<id>}`.
    pub(crate) fn session(&self, id: &str) -> String {
        format!("{}:s:{{{id}}}", self.prefix)
    }

    /// One event stream of a session: `<prefix>:ev:{<id>}:<stream>`.
    pub(crate) fn stream(&self, id: &str, stream: u64) -> String {
        format!("{}:ev:{{{id}}}:{stream}", self.prefix)
    }

    /// The request each of a session's request streams answers (a hash,
    /// stream → the id's JSON text): `<prefix>:evr:{<id>}`.
    pub(crate) fn stream_requests(&self, id: &str) -> String {
        format!("{}:evr:{{{id}}}", self.prefix)
    }

    /// A session's request streams by when each began (a sorted set,
    /// score in µs): `<prefix>:evz:{<id>}`.
    pub(crate) fn request_streams(&self, id: &str) -> String {
        format!("{}:evz:{{{id}}}", self.prefix)
    }

    /// The set of a session's stream numbers, as nodes before the sorted
    /// set kept it (read only to drop a session): `<prefix>:evs:{<id>}`.
    pub(crate) fn streams(&self, id: &str) -> String {
        format!("{}:evs:{{{id}}}", self.prefix)
    }

    /// The GCRA state (TAT) of one rate-limit bucket: `<prefix>:rl:{<key>}`.
    pub(crate) fn rate(&self, key: &str) -> String {
        format!("{}:rl:{{{key}}}", self.prefix)
    }

    /// A task's record (a hash: version, JSON): `<prefix>:task:{<id>}`.
    pub(crate) fn task(&self, id: &str) -> String {
        format!("{}:task:{{{id}}}", self.prefix)
    }

    /// The entries of one group (hex of its name) in `space`, name →
    /// bytes: `<prefix>:vault:{<hex of tenant>}`, `<prefix>:pins:{<hex of
    /// upstream>}`.
    pub(crate) fn entries(&self, space: switchboard_store::Space, group: &str) -> String {
        let hex: String = group.bytes().map(|b| format!("{b:02x}")).collect();
        format!("{}:{}:{{{hex}}}", self.prefix, space.as_str())
    }

    /// The live tasks of one principal, id → expiry (ms):
    /// `<prefix>:taskq:{<hex of the principal>}` (hex: a principal may hold
    /// braces).
    pub(crate) fn task_quota(&self, principal: &str) -> String {
        let hex: String = principal.bytes().map(|b| format!("{b:02x}")).collect();
        format!("{}:taskq:{{{hex}}}", self.prefix)
    }

    /// The working tasks, id → lease expiry (ms), for the orphan sweep:
    /// `<prefix>:tasks:{working}` (its own slot; kept beside each task's
    /// record without atomicity, and corrected by the sweep).
    pub(crate) fn tasks_working(&self) -> String {
        format!("{}:tasks:{{working}}", self.prefix)
    }

    /// The pub/sub channel of the session bus: `<prefix>:bus`.
    pub(crate) fn bus(&self) -> String {
        format!("{}:bus", self.prefix)
    }

    /// The live sessions of one quota group: `<prefix>:{idx}:q:<group>`,
    /// id → created (ms). On the indexes' slot, so one script checks both.
    pub(crate) fn quota(&self, group: &str) -> String {
        format!("{}:{{idx}}:q:{group}", self.prefix)
    }

    /// The record sizes of one quota group's live sessions:
    /// `<prefix>:{idx}:qb:<group>`, id → bytes ([`SessionRecord::stored_bytes`]),
    /// for its byte budget. On the indexes' slot, beside the group.
    ///
    /// [`SessionRecord::stored_bytes`]: switchboard_store::SessionRecord::stored_bytes
    pub(crate) fn quota_bytes(&self, group: &str) -> String {
        format!("{}:{{idx}}:qb:{group}", self.prefix)
    }

    /// Sessions with a standalone (GET) stream: id → registered (ms). On
    /// the indexes' slot, so one script reads it against `seen`.
    pub(crate) fn standalone(&self) -> String {
        format!("{}:{{idx}}:gets", self.prefix)
    }

    /// Session id → last seen (ms).
    pub(crate) fn seen(&self) -> &str {
        &self.seen
    }

    /// Session id → created (ms).
    pub(crate) fn created(&self) -> &str {
        &self.created
    }

    /// Sessions that have not completed `initialize`: id → created (ms).
    pub(crate) fn uninit(&self) -> &str {
        &self.uninit
    }

    /// Tethered sessions (2024-11-05 HTTP+SSE): id → last renewed (ms).
    pub(crate) fn tethered(&self) -> &str {
        &self.tethered
    }

    /// Every session id at score 0, for paging in id order.
    pub(crate) fn ids(&self) -> &str {
        &self.ids
    }
}

#[cfg(test)]
mod tests {
    use super::Keys;

    #[test]
    fn layout() {
        let k = Keys::new("sb").expect("valid prefix");
        assert_eq!(k.session("abc"), "sb:s:{abc}");
        assert_eq!(k.stream("abc", 3), "sb:ev:{abc}:3");
        assert_eq!(k.streams("abc"), "sb:evs:{abc}");
        assert_eq!(k.request_streams("abc"), "sb:evz:{abc}");
        assert_eq!(k.seen(), "sb:{idx}:seen");
        assert_eq!(k.bus(), "sb:bus");
        assert_eq!(k.standalone(), "sb:{idx}:gets");
        assert_eq!(k.quota("tenant:acme"), "sb:{idx}:q:tenant:acme");
        assert_eq!(k.quota_bytes("identity:x"), "sb:{idx}:qb:identity:x");
        assert_eq!(k.rate("t:acme"), "sb:rl:{t:acme}");
        assert_eq!(k.task("t1"), "sb:task:{t1}");
        assert_eq!(k.task_quota("a/{b}"), "sb:taskq:{612f7b627d}");
        assert!(Keys::new("a{b").is_err());
        assert!(Keys::new("").is_err());
    }
}
