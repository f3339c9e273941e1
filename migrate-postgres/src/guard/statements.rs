//! Which of the statements a migration sent through its [`Tx`](crate::Tx) removed a table, a
//! column or rows: those that can remove data (`DROP`, `TRUNCATE`, `DELETE`, `ALTER ... DROP`,
//! `MERGE`) and name the table (or its schema, for `DROP SCHEMA`). Text matching, only to
//! name them in the message: the judgment itself is made on the catalog and the counts.

use super::compare::Lost;
use crate::split::split_statements;

/// The longest statement text a message quotes.
const QUOTED: usize = 200;

/// The recorded statements that may have caused `lost`: those that can remove data and name
/// its table (or its schema, for `DROP SCHEMA`). When none names it, every statement that can
/// remove data (a function or a DO block may have done it).
pub(crate) fn responsible(recorded: &[String], lost: &[Lost]) -> Vec<String> {
    let statements: Vec<&str> = recorded
        .iter()
        .flat_map(|text| split_statements(text))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let removing: Vec<&str> = statements
        .iter()
        .copied()
        .filter(|s| can_remove(s))
        .collect();
    let mut named: Vec<String> = Vec::new();
    for statement in &removing {
        let lower = statement.to_lowercase();
        let names_it = lost.iter().any(|l| {
            let table = l.table.to_lowercase();
            let schema = l.schema.to_lowercase();
            lower.contains(&table) || (lower.contains("schema") && lower.contains(&schema))
        });
        if names_it {
            named.push(quote(statement));
        }
    }
    if named.is_empty() {
        named = removing.iter().map(|s| quote(s)).collect();
    }
    named.dedup();
    named
}

/// Whether a statement's words can remove data.
fn can_remove(statement: &str) -> bool {
    let words: Vec<String> = statement
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .filter(|w| !w.is_empty())
        .map(str::to_uppercase)
        .collect();
    let has = |w: &str| words.iter().any(|x| x == w);
    has("DROP") || has("TRUNCATE") || has("DELETE") || has("MERGE") || has("DO")
}

fn quote(statement: &str) -> String {
    let one_line = statement.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= QUOTED {
        return one_line;
    }
    let cut: String = one_line.chars().take(QUOTED).collect();
    format!("{cut}…")
}

/// The text a message gives for `statements`.
pub(crate) fn by(statements: &[String]) -> String {
    if statements.is_empty() {
        return "no statement sent through its Tx did it by name; look for a function, DO block \
                or trigger it called"
            .into();
    }
    format!("by: {}", statements.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lost(table: &str) -> Lost {
        Lost {
            schema: "public".into(),
            table: table.into(),
            column: None,
        }
    }

    #[test]
    fn names_the_statement_that_drops_the_table() {
        let recorded = vec![
            "CREATE TABLE keep (x int); DROP TABLE notes; INSERT INTO keep VALUES (1)".to_owned(),
            "DELETE FROM other".to_owned(),
        ];
        assert_eq!(
            responsible(&recorded, &[lost("notes")]),
            ["DROP TABLE notes"]
        );
    }

    #[test]
    fn drop_schema_is_named_by_its_schema() {
        let recorded = vec!["DROP SCHEMA public CASCADE".to_owned()];
        assert_eq!(
            responsible(&recorded, &[lost("notes")]),
            ["DROP SCHEMA public CASCADE"]
        );
    }

    #[test]
    fn without_a_statement_naming_it_every_removing_statement_is_listed() {
        let recorded = vec!["SELECT purge()".to_owned(), "DELETE FROM x".to_owned()];
        assert_eq!(responsible(&recorded, &[lost("notes")]), ["DELETE FROM x"]);
        assert!(
            by(&responsible(&["SELECT purge()".to_owned()], &[lost("n")])).contains("function")
        );
    }
}
