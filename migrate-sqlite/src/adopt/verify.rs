//! Does the live schema equal what the adopted migrations build? They are applied to a scratch
//! in-memory database and the two normalized schemas compared, the way drift is found.

use super::Refusal;
use super::matching::Matched;
use crate::fingerprint::{self, SchemaDiff, SchemaObjects, canonical};
use crate::{Migration, Migrator, Result};
use rusqlite::Connection;

/// The live schema without the other tool's tracking table.
pub fn live_schema(conn: &Connection, upstream_table: Option<&str>) -> Result<SchemaObjects> {
    let mut objects = fingerprint::objects(conn)?;
    objects.retain(|(kind, name), _| !(kind == "table" && Some(name.as_str()) == upstream_table));
    Ok(objects)
}

/// What the matched migrations build from an empty database. The history already ran once,
/// so the safety checks (destructive statements, row counts) are not the question here.
pub fn built_schema(
    config: &Migrator,
    matched: &[Matched<'_>],
) -> Result<Result<SchemaObjects, Refusal>> {
    let list: Vec<Migration> = matched.iter().map(|m| m.migration.clone()).collect();
    let mut scratch = Connection::open_in_memory()?;
    let mut replay = Migrator::new()
        .set(config.set.clone())
        .with_migrations(list)
        .without_backups()
        .without_row_counts()
        .allow_destructive();
    replay.validation = config.validation;
    if let Err(e) = replay.on(&mut scratch).and_then(|mut s| s.up()) {
        return Ok(Err(Refusal::new(format!(
            "the adopted migrations do not apply to an empty scratch database, so the live \
             schema cannot be compared with theirs: {e}"
        ))));
    }
    Ok(Ok(fingerprint::objects(&scratch)?))
}

/// `None` when equal; otherwise a refusal that shows each difference with both definitions.
pub fn compare(live: &SchemaObjects, built: &SchemaObjects) -> Option<Refusal> {
    let diff = SchemaDiff::between(built, live);
    if diff.is_empty() {
        return None;
    }
    let mut lines = Vec::new();
    for ((kind, name), sql) in live {
        match built.get(&(kind.clone(), name.clone())) {
            None => lines.push(format!("  only in the database: {sql}")),
            Some(b) if canonical(b) != canonical(sql) => {
                lines.push(format!("  {kind} {name}, in the database:     {sql}"));
                lines.push(format!("  {kind} {name}, as the migrations build: {b}"));
            }
            Some(_) => {}
        }
    }
    for (key, sql) in built {
        if !live.contains_key(key) {
            lines.push(format!("  missing from the database: {sql}"));
        }
    }
    Some(Refusal::new(format!(
        "the database's schema is not what the adopted migrations build ({diff}):\n{}\nAdopting \
         would record a history that is not true. Make the schema match (a migration of the \
         old tool that was never applied or was changed afterwards, or a hand edit), then adopt \
         again",
        lines.join("\n")
    )))
}
