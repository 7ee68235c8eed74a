//! Pinned tool definitions: the digest of each upstream tool's definition
//! (name, title, description, schemas, annotations) as an admin approved
//! it — or as it was first seen, when the upstream approves on first sight
//! — kept in the shared store so every node agrees. A tool whose
//! definition differs from its approved one (an upstream changed it under
//! its users: the "rug pull") is recorded as pending with the new
//! definition; with `pinning = "enforce"` it is held back (hidden from
//! lists, refused when called) until an admin approves the new one, with
//! `"warn"` it is served and alerted.

use std::collections::HashSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use switchboard_store::{EntryStore, MemoryEntryStore, StoreError};

/// What an upstream's pins do (`pinning`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PinMode {
    /// No pins: definitions are served as the upstream gives them.
    #[default]
    Off,
    /// A changed definition is served, and alerted (metric, audit, log).
    Warn,
    /// A changed (or, without first-sight approval, new) definition is
    /// held back until an admin approves it.
    Enforce,
}

/// The parts of a definition a digest covers.
const PINNED: [&str; 5] = [
    "title",
    "description",
    "inputSchema",
    "outputSchema",
    "annotations",
];

/// The digest of `definition` under the upstream's own name `own`:
/// SHA-256 hex of its pinned parts as canonical JSON (object keys sorted,
/// no spaces), so two nodes and two starts agree.
pub fn digest(own: &str, definition: &Value) -> String {
    let mut pinned = Map::new();
    pinned.insert("name".into(), Value::String(own.to_owned()));
    for key in PINNED {
        if let Some(v) = definition.get(key) {
            pinned.insert(key.to_owned(), v.clone());
        }
    }
    let mut text = String::new();
    canonical(&Value::Object(pinned), &mut text);
    let hash = Sha256::digest(text.as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// `v` as JSON with every object's keys sorted.
fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// One definition as it was seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seen {
    /// Its digest.
    pub digest: String,
    /// The definition, under the upstream's own name.
    pub definition: Value,
    /// When it was first seen (Unix ms).
    pub at_ms: u64,
}

/// What the store keeps of one tool.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PinRecord {
    /// The definition approved (by an admin, or on first sight).
    #[serde(default)]
    pub approved: Option<Seen>,
    /// A different definition seen since, awaiting approval.
    #[serde(default)]
    pub pending: Option<Seen>,
}

/// One tool's pin as an admin sees it.
#[derive(Debug, Clone, Serialize)]
pub struct PinView {
    /// The tool, by the upstream's own name.
    pub tool: String,
    /// `approved`, `changed` (a pending definition differs from the
    /// approved one) or `new` (pending, never approved).
    pub state: &'static str,
    /// See [`PinRecord`].
    pub approved: Option<Seen>,
    /// See [`PinRecord`].
    pub pending: Option<Seen>,
    /// A unified diff of the approved and the pending definitions (pretty
    /// JSON), when both are there.
    pub diff: Option<String>,
}

/// What reviewing a listing found.
#[derive(Debug, Default)]
pub(crate) struct Review {
    /// Tools (upstream's own names) whose definition is not the approved
    /// one, or was never approved.
    pub(crate) unapproved: HashSet<String>,
    /// Of those, tools whose pending definition was recorded just now
    /// (first seen by this review): `(tool, "changed" | "new")`.
    pub(crate) recorded: Vec<(String, &'static str)>,
    /// Tools approved on first sight by this review.
    pub(crate) first_seen: Vec<String>,
}

/// The pins of every upstream, on the store every node shares. Cheap to
/// clone.
#[derive(Debug, Clone)]
pub struct PinBook {
    store: Arc<dyn EntryStore>,
}

impl Default for PinBook {
    fn default() -> Self {
        Self::new(Arc::new(MemoryEntryStore::new()))
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn decode(bytes: &[u8]) -> PinRecord {
    // A record this version cannot read counts as never approved: held in
    // `enforce`, which is the safe side.
    serde_json::from_slice(bytes).unwrap_or_default()
}

impl PinBook {
    /// Pins kept in `store` (its `Pins` space).
    pub fn new(store: Arc<dyn EntryStore>) -> Self {
        Self { store }
    }

    /// Every pinned tool of `upstream`, by name.
    pub async fn views(&self, upstream: &str) -> Result<Vec<PinView>, StoreError> {
        let entries = self.store.entries(upstream).await?;
        Ok(entries
            .into_iter()
            .map(|(tool, bytes)| view(tool, decode(&bytes)))
            .collect())
    }

    /// Approve the pending definition of `upstream`'s `tool` (only if its
    /// digest is `digest`, when given, so an admin approves what they
    /// saw). `Ok(None)`: nothing pending (or another digest).
    pub async fn approve(
        &self,
        upstream: &str,
        tool: &str,
        digest: Option<&str>,
    ) -> Result<Option<Seen>, StoreError> {
        let Some(bytes) = self.store.get(upstream, tool).await? else {
            return Ok(None);
        };
        let mut record = decode(&bytes);
        let Some(pending) = record.pending.take() else {
            return Ok(None);
        };
        if digest.is_some_and(|d| d != pending.digest) {
            return Ok(None);
        }
        record.approved = Some(pending.clone());
        self.put(upstream, tool, &record).await?;
        Ok(Some(pending))
    }

    async fn put(&self, upstream: &str, tool: &str, record: &PinRecord) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(record).unwrap_or_default();
        self.store.put(upstream, tool, &bytes).await
    }

    /// Compare `upstream`'s listed tools (own name, definition) with their
    /// pins: approve on first sight if `first_sight`, record a pending
    /// definition the first time it is seen, and say which are not
    /// approved.
    pub(crate) async fn review(
        &self,
        upstream: &str,
        tools: &[(String, &Value)],
        first_sight: bool,
    ) -> Result<Review, StoreError> {
        let mut records: std::collections::HashMap<String, PinRecord> = self
            .store
            .entries(upstream)
            .await?
            .into_iter()
            .map(|(tool, bytes)| (tool, decode(&bytes)))
            .collect();
        let mut review = Review::default();
        for (own, definition) in tools {
            let digest = digest(own, definition);
            let record = records.remove(own).unwrap_or_default();
            let seen = || Seen {
                digest: digest.clone(),
                definition: with_name(definition, own),
                at_ms: now_ms(),
            };
            match &record.approved {
                Some(a) if a.digest == digest => continue,
                None if first_sight => {
                    let fresh = PinRecord {
                        approved: Some(seen()),
                        pending: None,
                    };
                    self.put(upstream, own, &fresh).await?;
                    review.first_seen.push(own.clone());
                    continue;
                }
                _ => {}
            }
            review.unapproved.insert(own.clone());
            if record.pending.as_ref().is_none_or(|p| p.digest != digest) {
                let kind = if record.approved.is_some() {
                    "changed"
                } else {
                    "new"
                };
                let updated = PinRecord {
                    pending: Some(seen()),
                    ..record
                };
                self.put(upstream, own, &updated).await?;
                review.recorded.push((own.clone(), kind));
            }
        }
        Ok(review)
    }
}

/// `definition` under the upstream's own name `own` (the listing carries
/// the prefixed one).
fn with_name(definition: &Value, own: &str) -> Value {
    let mut d = definition.clone();
    if let Some(map) = d.as_object_mut() {
        map.insert("name".into(), Value::String(own.to_owned()));
    }
    d
}

fn view(tool: String, record: PinRecord) -> PinView {
    let state = match (&record.approved, &record.pending) {
        (_, None) => "approved",
        (Some(_), Some(_)) => "changed",
        (None, Some(_)) => "new",
    };
    let diff = match (&record.approved, &record.pending) {
        (Some(a), Some(p)) => Some(diff(&a.definition, &p.definition)),
        _ => None,
    };
    PinView {
        tool,
        state,
        approved: record.approved,
        pending: record.pending,
        diff,
    }
}

/// A unified diff of two definitions as pretty JSON (keys sorted).
pub fn diff(old: &Value, new: &Value) -> String {
    let pretty = |v: &Value| {
        let mut text = String::new();
        canonical(v, &mut text);
        let sorted: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        serde_json::to_string_pretty(&sorted).unwrap_or_default() + "\n"
    };
    let (a, b) = (pretty(old), pretty(new));
    similar::TextDiff::from_lines(&a, &b)
        .unified_diff()
        .context_radius(3)
        .header("approved", "pending")
        .to_string()
}

#[cfg(test)]
mod tests;
