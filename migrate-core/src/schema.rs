//! A schema as a backend reads it — `(kind, name) -> normalized SQL` — and what differs between
//! two of them (drift: the database changed outside migrations).

use crate::sql_text::canonical;
use std::collections::BTreeMap;

/// One schema object per entry: (type, name) -> normalized SQL.
pub type SchemaObjects = BTreeMap<(String, String), String>;

/// What differs between a recorded schema and the live one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SchemaDiff {
    /// Objects in the live schema only, as `type name`.
    pub added: Vec<String>,
    /// Objects in the recorded schema only.
    pub removed: Vec<String>,
    /// Objects whose definition changed.
    pub changed: Vec<String>,
}

impl SchemaDiff {
    /// Compares two object sets; definitions are compared in their [`canonical`] form.
    ///
    /// ```
    /// use migrate_core::{SchemaDiff, SchemaObjects};
    /// let key = |n: &str| ("table".to_owned(), n.to_owned());
    /// let recorded = SchemaObjects::from([(key("a"), "CREATE TABLE a (x INT)".to_owned())]);
    /// let live = SchemaObjects::from([
    ///     (key("a"), "create table a(x int)".to_owned()),
    ///     (key("b"), "CREATE TABLE b (y)".to_owned()),
    /// ]);
    /// let diff = SchemaDiff::between(&recorded, &live);
    /// assert_eq!(diff.added, ["table b"]);
    /// assert!(diff.changed.is_empty());
    /// assert_eq!(diff.to_string(), "added: table b");
    /// ```
    pub fn between(recorded: &SchemaObjects, live: &SchemaObjects) -> SchemaDiff {
        let label = |(kind, name): &(String, String)| format!("{kind} {name}");
        let mut diff = SchemaDiff::default();
        for (key, sql) in live {
            match recorded.get(key) {
                None => diff.added.push(label(key)),
                Some(old) if canonical(old) != canonical(sql) => diff.changed.push(label(key)),
                Some(_) => {}
            }
        }
        for key in recorded.keys() {
            if !live.contains_key(key) {
                diff.removed.push(label(key));
            }
        }
        diff
    }

    /// True when nothing differs.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

impl std::fmt::Display for SchemaDiff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        for (what, list) in [
            ("added", &self.added),
            ("removed", &self.removed),
            ("changed", &self.changed),
        ] {
            if !list.is_empty() {
                parts.push(format!("{what}: {}", list.join(", ")));
            }
        }
        f.write_str(&parts.join("; "))
    }
}
