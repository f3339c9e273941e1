//! Which of the binary's migrations the other tool applied: by the upstream version that
//! `migrate import` put at the start of each name (`20180101000000_create_users`), or, for
//! rusqlite_migration, by position. They must be the first migrations of the set, in order.

use super::upstream::{self, Recorded};
use super::{Refusal, Tool};
use crate::Migration;
use std::collections::BTreeMap;

/// One adopted migration: the binary's migration and what the tool recorded about it.
pub struct Matched<'r> {
    pub migration: &'r Migration,
    pub upstream: String,
}

/// The upstream version a migration's name carries, if it carries one.
fn version_of(tool: Tool, m: &Migration) -> Option<String> {
    let (version, _) = m.name.split_once('_')?;
    (!version.is_empty() && version.chars().all(|c| c.is_ascii_digit()))
        .then(|| upstream::normalize(tool, version))
}

/// The migrations the tool applied, as a prefix of `migrations` (sorted by seq).
pub fn matched<'r>(
    tool: Tool,
    recorded: &Recorded,
    migrations: &'r [Migration],
) -> Result<Vec<Matched<'r>>, Refusal> {
    let versions = match recorded {
        Recorded::Count(n) => {
            let n = *n as usize;
            if n > migrations.len() {
                return Err(Refusal::new(format!(
                    "user_version is {n}, but this binary has only {} migrations: the database \
                     is ahead of the code. Import the whole history first (the `import` command), then \
                     build the app again",
                    migrations.len()
                )));
            }
            return Ok(migrations[..n]
                .iter()
                .map(|m| Matched {
                    migration: m,
                    upstream: format!("migration {} of {n} by user_version", m.seq),
                })
                .collect());
        }
        Recorded::Versions(versions) => versions,
    };
    let mut wanted: BTreeMap<&str, &str> = versions
        .iter()
        .map(|(v, detail)| (v.as_str(), detail.as_str()))
        .collect();
    let mut out = Vec::new();
    for (i, m) in migrations.iter().enumerate() {
        let version = version_of(tool, m);
        match version.as_deref().and_then(|v| wanted.remove_entry(v)) {
            Some((v, detail)) if i == out.len() => {
                out.push(Matched {
                    migration: m,
                    upstream: format!("version {v} ({detail})"),
                });
            }
            Some((v, _)) => {
                let skipped = &migrations[out.len()];
                return Err(Refusal::new(format!(
                    "{tool} applied version {v} ({} {:?}) but not {} {:?} before it: the \
                     database's history is not a prefix of this binary's. Apply the missing one \
                     with {tool} first, or check that the imported folder is the one this \
                     database was migrated from",
                    m.seq, m.name, skipped.seq, skipped.name
                )));
            }
            None => {}
        }
    }
    if let Some((v, detail)) = wanted.into_iter().next() {
        return Err(Refusal::new(format!(
            "{tool} applied version {v} ({detail}), which none of this binary's migrations \
             carries (imported names start with the upstream version). Import the folder this \
             database was migrated with (the `import` command) and build the app again"
        )));
    }
    Ok(out)
}
