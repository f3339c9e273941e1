//! From two schemas to the steps of a migration: `CREATE` for what is new, `ALTER TABLE ...
//! ADD/RENAME COLUMN` where SQLite can change a table in place, a [`Rebuild`](crate::Rebuild)
//! where it cannot, `DROP` for what is gone; the reverse steps when nothing is lost. Every
//! in-place change is tried on the migrated schema first (in a savepoint) and kept only if it
//! yields exactly the desired table; the whole result is checked the same way.

use super::schema::{Object, Objects, canonical, column_definitions, objects};
use crate::tx::quote_ident;
use crate::{Error, Rebuild, Result, Tx};
use rusqlite::Connection;
use std::collections::BTreeSet;

/// One step of a generated migration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// SQL run as a batch.
    Sql(String),
    /// A table rebuilt to this definition.
    Rebuild {
        /// The table.
        table: String,
        /// Its new `CREATE TABLE`.
        definition: String,
    },
}

/// What the migration must do, and how it must declare itself.
#[derive(Clone, Debug, Default)]
pub struct Changes {
    /// The forward steps.
    pub up: Vec<Piece>,
    /// The reverse steps, when nothing the forward steps remove is lost.
    pub down: Option<Vec<Piece>>,
    /// It drops schema objects or rebuilds tables.
    pub rebuild: bool,
    /// It loses data (a table or a column goes).
    pub destructive: bool,
    /// One line per change, for the doc comment.
    pub summary: Vec<String>,
}

impl Changes {
    /// True when the schemas are already the same.
    pub fn is_empty(&self) -> bool {
        self.up.is_empty()
    }
}

/// How one changed table is brought to its new shape.
enum TableChange {
    InPlace { up: Vec<String>, down: Vec<String> },
    Rebuilt,
}

/// The changes that turn the schema of `current` into the schema of `desired`. `current` is
/// used as scratch (savepoints, rolled back).
pub fn between(current: &Connection, desired: &Connection) -> Result<Changes> {
    let old = objects(current)?;
    let new = objects(desired)?;
    let tables = |objects: &Objects| -> Vec<Object> {
        objects
            .values()
            .filter(|o| o.kind == "table")
            .cloned()
            .collect()
    };
    let (old_tables, new_tables) = (tables(&old), tables(&new));
    let find = |list: &[Object], name: &str| {
        list.iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
            .cloned()
    };

    let mut changes = Changes::default();
    let mut created = Vec::new();
    let mut dropped = Vec::new();
    let mut in_place = Vec::new();
    let mut rebuilt = Vec::new();
    current.execute_batch("PRAGMA foreign_keys = OFF; SAVEPOINT generate_probe")?;
    let decided = (|| -> Result<()> {
        for table in &new_tables {
            match find(&old_tables, &table.name) {
                None => created.push(table.clone()),
                Some(before) if canonical(&before.sql) == canonical(&table.sql) => {}
                Some(before) => match change_table(current, &before, table)? {
                    TableChange::InPlace { up, down } => in_place.push((table.clone(), up, down)),
                    TableChange::Rebuilt => rebuilt.push((before, table.clone())),
                },
            }
        }
        for table in &old_tables {
            if find(&new_tables, &table.name).is_none() {
                dropped.push(table.clone());
            }
        }
        Ok(())
    })();
    // The probes stay applied: the other objects are compared with the tables as altered.
    let after_alters = decided.and_then(|()| objects(current));
    current.execute_batch("ROLLBACK TO generate_probe; RELEASE generate_probe")?;
    let after_alters = after_alters?;

    let touched: BTreeSet<String> = rebuilt
        .iter()
        .map(|(t, _)| t.name.to_lowercase())
        .chain(dropped.iter().map(|t| t.name.to_lowercase()))
        .collect();
    let others = |objects: &Objects| -> Vec<Object> {
        let mut list: Vec<Object> = objects
            .values()
            .filter(|o| o.kind != "table")
            .cloned()
            .collect();
        // Triggers and views before indexes when dropping; created in the reverse order.
        list.sort_by_key(|o| (kind_rank(&o.kind), o.name.to_lowercase()));
        list
    };
    let to_drop: Vec<Object> = others(&after_alters)
        .into_iter()
        .filter(|o| {
            let key = (o.kind.clone(), o.name.to_lowercase());
            touched.contains(&o.table.to_lowercase())
                || new
                    .get(&key)
                    .is_none_or(|n| canonical(&n.sql) != canonical(&o.sql))
        })
        .collect();
    let mut to_create: Vec<Object> = others(&new)
        .into_iter()
        .filter(|o| {
            let key = (o.kind.clone(), o.name.to_lowercase());
            touched.contains(&o.table.to_lowercase())
                || after_alters
                    .get(&key)
                    .is_none_or(|s| canonical(&s.sql) != canonical(&o.sql))
        })
        .collect();
    to_create.reverse();
    let old_versions: Vec<Object> = to_drop
        .iter()
        .filter_map(|o| old.get(&(o.kind.clone(), o.name.to_lowercase())).cloned())
        .collect();

    let mut up: Vec<Piece> = Vec::new();
    let mut down: Vec<Piece> = Vec::new();
    for o in &to_drop {
        up.push(Piece::Sql(format!(
            "DROP {} {};",
            o.kind.to_uppercase(),
            quote_ident(&o.name)
        )));
        changes.summary.push(format!("drops {} {}", o.kind, o.name));
        changes.rebuild = true;
    }
    for t in &created {
        up.push(Piece::Sql(format!("{};", t.sql)));
        changes.summary.push(format!("creates table {}", t.name));
    }
    for (t, alters, _) in &in_place {
        for alter in alters {
            up.push(Piece::Sql(alter.clone()));
        }
        changes
            .summary
            .push(format!("alters table {} in place", t.name));
    }
    for (before, after) in &rebuilt {
        up.push(Piece::Rebuild {
            table: after.name.clone(),
            definition: after.sql.clone(),
        });
        changes.rebuild = true;
        let kept: Vec<String> = column_definitions(&after.sql)
            .into_iter()
            .map(|c| c.0)
            .collect();
        let lost: Vec<String> = column_definitions(&before.sql)
            .into_iter()
            .map(|c| c.0)
            .filter(|c| !kept.contains(c))
            .collect();
        if lost.is_empty() {
            changes
                .summary
                .push(format!("rebuilds table {}", after.name));
        } else {
            changes.destructive = true;
            changes.summary.push(format!(
                "rebuilds table {} without column(s) {} (their data is lost)",
                after.name,
                lost.join(", ")
            ));
        }
    }
    for t in &dropped {
        up.push(Piece::Sql(format!("DROP TABLE {};", quote_ident(&t.name))));
        changes.rebuild = true;
        changes.destructive = true;
        changes
            .summary
            .push(format!("drops table {} (its rows are lost)", t.name));
    }
    for o in &to_create {
        up.push(Piece::Sql(format!("{};", o.sql)));
        changes
            .summary
            .push(format!("creates {} {}", o.kind, o.name));
    }

    // The reverse, in the opposite order.
    for o in to_create.iter().rev() {
        down.push(Piece::Sql(format!(
            "DROP {} {};",
            o.kind.to_uppercase(),
            quote_ident(&o.name)
        )));
    }
    for (before, _) in rebuilt.iter().rev() {
        down.push(Piece::Rebuild {
            table: before.name.clone(),
            definition: before.sql.clone(),
        });
    }
    for (_, _, reverse) in in_place.iter().rev() {
        for alter in reverse.iter().rev() {
            down.push(Piece::Sql(alter.clone()));
        }
    }
    for t in created.iter().rev() {
        down.push(Piece::Sql(format!("DROP TABLE {};", quote_ident(&t.name))));
    }
    for o in old_versions.iter().rev() {
        down.push(Piece::Sql(format!("{};", o.sql)));
    }
    changes.up = merge(up);
    changes.down = (!changes.destructive).then(|| merge(down));
    check(current, &changes, &old, &new)?;
    Ok(changes)
}

fn kind_rank(kind: &str) -> u8 {
    match kind {
        "trigger" => 0,
        "view" => 1,
        _ => 2,
    }
}

/// Consecutive SQL pieces as one batch.
fn merge(pieces: Vec<Piece>) -> Vec<Piece> {
    let mut merged: Vec<Piece> = Vec::new();
    for piece in pieces {
        match (merged.last_mut(), piece) {
            (Some(Piece::Sql(text)), Piece::Sql(more)) => {
                text.push('\n');
                text.push_str(&more);
            }
            (_, piece) => merged.push(piece),
        }
    }
    merged
}

/// ADD or RENAME COLUMN when that yields exactly the new table, else a rebuild. Leaves the
/// in-place change applied on `conn` (inside the caller's savepoint).
fn change_table(conn: &Connection, before: &Object, after: &Object) -> Result<TableChange> {
    let old_columns = column_definitions(&before.sql);
    let new_columns = column_definitions(&after.sql);
    let table = quote_ident(&before.name);
    let mut up = Vec::new();
    let mut down = Vec::new();
    if new_columns.len() > old_columns.len()
        && old_columns
            .iter()
            .zip(&new_columns)
            .all(|(a, b)| a.0 == b.0)
    {
        for (name, definition) in &new_columns[old_columns.len()..] {
            up.push(format!("ALTER TABLE {table} ADD COLUMN {definition};"));
            down.push(format!(
                "ALTER TABLE {table} DROP COLUMN {};",
                quote_ident(name)
            ));
        }
    } else if new_columns.len() == old_columns.len() {
        for ((old_name, old_def), (new_name, new_def)) in old_columns.iter().zip(&new_columns) {
            if old_name == new_name {
                continue;
            }
            // Only a rename if the rest of the definition is the same.
            let rest = |def: &str| canonical(def.split_once(' ').map_or("", |(_, r)| r));
            if rest(old_def) != rest(new_def) {
                return Ok(TableChange::Rebuilt);
            }
            let (from, to) = (first_word(old_def), first_word(new_def));
            up.push(format!("ALTER TABLE {table} RENAME COLUMN {from} TO {to};"));
            down.push(format!("ALTER TABLE {table} RENAME COLUMN {to} TO {from};"));
        }
    }
    if up.is_empty() {
        return Ok(TableChange::Rebuilt);
    }
    conn.execute_batch("SAVEPOINT generate_table")?;
    let fits = conn.execute_batch(&up.join("\n")).is_ok()
        && objects(conn)?
            .get(&("table".to_owned(), before.name.to_lowercase()))
            .is_some_and(|now| canonical(&now.sql) == canonical(&after.sql));
    if fits {
        conn.execute_batch("RELEASE generate_table")?;
        Ok(TableChange::InPlace { up, down })
    } else {
        conn.execute_batch("ROLLBACK TO generate_table; RELEASE generate_table")?;
        Ok(TableChange::Rebuilt)
    }
}

fn first_word(definition: &str) -> &str {
    definition.split_whitespace().next().unwrap_or(definition)
}

/// Runs the generated steps on the current schema (rolled back) and checks that up yields the
/// desired schema and down, when there is one, the current schema again.
fn check(conn: &Connection, changes: &Changes, old: &Objects, new: &Objects) -> Result<()> {
    let canon = |objects: &Objects| -> Vec<(String, String, String)> {
        objects
            .iter()
            .map(|((kind, name), o)| (kind.clone(), name.clone(), canonical(&o.sql)))
            .collect()
    };
    conn.execute_batch("SAVEPOINT generate_check")?;
    let result = (|| -> Result<()> {
        run(conn, &changes.up)?;
        let after_up = objects(conn)?;
        if canon(&after_up) != canon(new) {
            return Err(mismatch("up", &canon(&after_up), &canon(new)));
        }
        if let Some(down) = &changes.down {
            run(conn, down)?;
            let after_down = objects(conn)?;
            if canon(&after_down) != canon(old) {
                return Err(mismatch("down", &canon(&after_down), &canon(old)));
            }
        }
        Ok(())
    })();
    conn.execute_batch("ROLLBACK TO generate_check; RELEASE generate_check")?;
    result
}

fn run(conn: &Connection, pieces: &[Piece]) -> Result<()> {
    let tx = Tx::new(conn, 0, "generated");
    for piece in pieces {
        match piece {
            Piece::Sql(sql) => conn.execute_batch(sql)?,
            Piece::Rebuild { table, definition } => {
                Rebuild::new(table.clone())
                    .definition(definition.clone())
                    .run(&tx)?;
            }
        }
    }
    Ok(())
}

fn mismatch(
    direction: &str,
    got: &[(String, String, String)],
    wanted: &[(String, String, String)],
) -> Error {
    let differing: Vec<String> = got
        .iter()
        .filter(|o| !wanted.contains(o))
        .chain(wanted.iter().filter(|o| !got.contains(o)))
        .map(|(kind, name, _)| format!("{kind} {name}"))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    Error::Unsupported(format!(
        "the generated {direction} steps would not give exactly the schema wanted (differs: \
         {}); nothing was written. Write this migration by hand: the same `migrate new` \
         command without `--from-schema` writes a skeleton",
        differing.join(", ")
    ))
}
