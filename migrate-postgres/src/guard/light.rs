//! The checks that remain when rows are not counted (`Migrator::without_row_counts`), as on
//! SQLite without row counts: a migration that does not declare `destructive` may not send a
//! statement that deletes rows (`DELETE`, `TRUNCATE`, `MERGE ... DELETE`), judged by its text,
//! nor drop a table, unless it recreates one under the same name and declares `rebuild`.
//!
//! Cost: one tiny read per migration (`pg_class`'s delete counter in this transaction, which
//! only moves when a relation was dropped, an index or a rewritten table's old storage too).
//! When it moved, the migration is rolled back to its savepoint, the tables before it are
//! listed, and it runs again, so the tables after it can be compared with them.
//!
//! Limits, said in the README: a `DELETE` that a trigger, a function or a `DO` block runs is not
//! seen (no counter says which table lost rows without visiting every table, which is what this
//! mode spares); columns dropped are not checked.

use super::compare::{Facts, Needs, Tables, tables_of};
use super::observe::{self, Since};
use super::{Guard, Judging, Verdict, statements};
use crate::split::{split_statements, words};
use crate::{Error, Result};

/// The transaction's count of deleted `pg_class` rows.
pub(crate) const CLASS_DELETES: &str =
    "SELECT pg_catalog.pg_stat_get_xact_tuples_deleted('pg_catalog.pg_class'::regclass)";

impl Guard {
    /// After a transactional migration, without row counts.
    pub(super) fn after_step_light(
        &mut self,
        client: &mut postgres::Client,
        read: &postgres::Statement,
        judging: Judging,
        recorded: &[String],
    ) -> Result<Verdict> {
        if judging.refuse_losses {
            let deleting = deleting_statements(recorded);
            if !deleting.is_empty() {
                return Err(Error::DestructiveWithoutRowCounts {
                    seq: judging.seq,
                    lost: vec!["rows deleted".into()],
                    statements: deleting,
                });
            }
        }
        let class_deletes = match self.class_deletes_now.take() {
            Some(count) => count,
            None => self.class_deletes(client)?,
        };
        if class_deletes == self.since.class_deletes {
            return Ok(Verdict::Passed(Vec::new()));
        }
        if !judging.refuse_losses {
            // A down, or destruction declared or allowed: nothing to judge; the drop is known
            // from here on.
            self.since.class_deletes = class_deletes;
            return Ok(Verdict::Passed(Vec::new()));
        }
        let Some(before) = self.facts.take().and_then(|f| f.tables_before) else {
            return Ok(Verdict::Learn(Needs {
                tables_before: true,
                ..Needs::default()
            }));
        };
        self.since.class_deletes = class_deletes;
        let after = tables_of(&observe::read(
            client,
            read,
            &self.schema,
            &Since::default(),
            true,
        )?);
        let dropped = dropped_tables(&before, &after, judging.rebuild);
        if dropped.is_empty() {
            return Ok(Verdict::Passed(Vec::new()));
        }
        let lost: Vec<_> = dropped
            .iter()
            .map(|(schema, table)| super::compare::Lost {
                schema: schema.clone(),
                table: table.clone(),
                column: None,
            })
            .collect();
        Err(Error::DestructiveWithoutRowCounts {
            seq: judging.seq,
            lost: dropped
                .iter()
                .map(|(schema, table)| format!("table {schema}.{table} dropped"))
                .collect(),
            statements: statements::responsible(recorded, &lost),
        })
    }

    /// The transaction's count of deleted `pg_class` rows (a statement prepared once: one
    /// round trip).
    fn class_deletes(&mut self, client: &mut postgres::Client) -> Result<i64> {
        let statement = match self.class_deletes.take() {
            Some(statement) => statement,
            None => client.prepare(CLASS_DELETES)?,
        };
        let count = client.query_one(&statement, &[])?.get(0);
        self.class_deletes = Some(statement);
        Ok(count)
    }

    /// With the migration rolled back to its savepoint: every table before it.
    pub(super) fn learn_light(&mut self, client: &mut postgres::Client) -> Result<()> {
        // Read before the rollback: not the count now.
        self.class_deletes_now = None;
        let Some(read) = self.read.clone() else {
            return Ok(());
        };
        let observed = observe::read(client, &read, &self.schema, &Since::default(), true)?;
        self.since.class_deletes = self.class_deletes(client)?;
        self.facts = Some(Facts {
            tables_before: Some(tables_of(&observed)),
            ..Facts::default()
        });
        Ok(())
    }
}

/// `(schema, table)` of each table of `before` whose oid is gone from `after`, unless (with
/// `rebuild`) a table of the same qualified name is there.
fn dropped_tables(before: &Tables, after: &Tables, rebuild: bool) -> Vec<(String, String)> {
    before
        .iter()
        .filter(|(oid, _)| !after.contains_key(oid))
        .filter(|(_, was)| {
            !(rebuild
                && after
                    .values()
                    .any(|now| now.schema == was.schema && now.name == was.name))
        })
        .map(|(_, was)| (was.schema.clone(), was.name.clone()))
        .collect()
}

/// The statements that delete rows by their text: those whose first word is `DELETE` or
/// `TRUNCATE`, and `WITH`, `MERGE`, `PREPARE` or `EXPLAIN ANALYZE` statements with a `DELETE`
/// in them (words inside quotes, dollar quotes and comments do not count).
fn deleting_statements(recorded: &[String]) -> Vec<String> {
    recorded
        .iter()
        .flat_map(|text| split_statements(text))
        .filter(|statement| {
            let words: Vec<String> = words(statement)
                .iter()
                .map(|w| w.to_ascii_uppercase())
                .collect();
            match words.first().map(String::as_str) {
                Some("DELETE" | "TRUNCATE") => true,
                // EXPLAIN ANALYZE runs what it explains; EXECUTE runs what PREPARE named.
                Some("WITH" | "MERGE" | "PREPARE") => words.iter().any(|w| w == "DELETE"),
                Some("EXPLAIN") => {
                    words.iter().any(|w| w == "DELETE")
                        && words.iter().any(|w| w == "ANALYZE" || w == "ANALYSE")
                }
                _ => false,
            }
        })
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deleting(sql: &str) -> Vec<String> {
        deleting_statements(&[sql.to_owned()])
    }

    #[test]
    fn statements_that_delete_rows_are_found_by_their_first_word() {
        assert_eq!(
            deleting(
                "DELETE FROM notes WHERE id > 3; truncate audit; \
                 WITH gone AS (DELETE FROM a RETURNING *) INSERT INTO b SELECT * FROM gone; \
                 MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE"
            ),
            [
                "DELETE FROM notes WHERE id > 3",
                "truncate audit",
                "WITH gone AS (DELETE FROM a RETURNING *) INSERT INTO b SELECT * FROM gone",
                "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE",
            ]
        );
    }

    #[test]
    fn the_word_delete_elsewhere_deletes_nothing() {
        assert!(
            deleting(
                "CREATE TABLE c (p int REFERENCES p ON DELETE CASCADE);
                 CREATE TRIGGER t BEFORE DELETE ON c FOR EACH ROW EXECUTE FUNCTION f();
                 INSERT INTO log VALUES ('DELETE FROM x'); -- DELETE
                 CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN DELETE FROM x; RETURN OLD; END $$;
                 WITH x AS (SELECT 'DELETE' /* DELETE */) SELECT * FROM x;
                 UPDATE deleted_items SET deleted_at = now()"
            )
            .is_empty()
        );
    }

    #[test]
    fn a_dropped_table_is_allowed_only_when_rebuilt_under_its_name() {
        use super::super::compare::Known;
        let known = |name: &str| Known {
            schema: "public".into(),
            name: name.into(),
            filenode: 1,
            columns: Vec::new(),
            rows: None,
        };
        let before: Tables = [(1, known("notes")), (2, known("tags"))].into();
        let after: Tables = [(3, known("notes"))].into();
        assert_eq!(
            dropped_tables(&before, &after, true),
            [("public".to_owned(), "tags".to_owned())]
        );
        assert_eq!(
            dropped_tables(&before, &after, false),
            [
                ("public".to_owned(), "notes".to_owned()),
                ("public".to_owned(), "tags".to_owned())
            ]
        );
    }
}
