//! Splits SQL text into statements for a `transaction = false` migration: PostgreSQL runs a
//! multi-statement query string as one implicit transaction, which `CREATE INDEX CONCURRENTLY`,
//! `VACUUM` and friends refuse (SQLSTATE 25001), so each statement must be sent alone.
//!
//! Understood: `'...'` strings (`''` inside), `E'...'` strings (backslash escapes), `"..."`
//! identifiers, `$tag$...$tag$` dollar quotes, `-- ...` and nested `/* ... */` comments, and
//! SQL-standard function bodies (`CREATE [OR REPLACE] FUNCTION|PROCEDURE ... BEGIN ATOMIC ...
//! END`), whose inner `;` do not end the statement: as psql does, inside such a statement each
//! `BEGIN` opens a block that an `END` closes (a `CASE` inside a block ends with `END` too).

/// The statements of `sql`, each without its `;`, trimmed, empty ones (and comment-only ones)
/// left out.
///
/// ```
/// use migrate_postgres::split_statements;
/// let sql = "CREATE INDEX CONCURRENTLY a ON t (x); -- one\n\
///            CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;";
/// assert_eq!(
///     split_statements(sql),
///     ["CREATE INDEX CONCURRENTLY a ON t (x)",
///      "-- one\nCREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$"]
/// );
/// ```
pub fn split_statements(sql: &str) -> Vec<&str> {
    let mut statements = Vec::new();
    let mut start = 0;
    let mut body = Body::default();
    for token in tokens(sql) {
        match token {
            Token::Word(word) => body.word(word),
            Token::Open => body.parens += 1,
            Token::Close => body.parens = body.parens.saturating_sub(1),
            Token::Semicolon(_) if body.depth > 0 || body.parens > 0 => {}
            Token::Semicolon(at) => {
                push(&mut statements, &sql[start..at]);
                start = at + 1;
                body = Body::default();
            }
        }
    }
    push(&mut statements, &sql[start..]);
    statements
}

/// The words of `sql` outside quotes, dollar quotes and comments (keywords and unquoted
/// identifiers, as written).
pub(crate) fn words(sql: &str) -> Vec<&str> {
    tokens(sql)
        .filter_map(|token| match token {
            Token::Word(word) => Some(word),
            _ => None,
        })
        .collect()
}

/// What the scanner finds outside quotes and comments.
enum Token<'a> {
    Word(&'a str),
    /// A `;`, at this byte.
    Semicolon(usize),
    /// `(` and `)`: as in psql, a `;` inside parentheses does not end a statement, and the
    /// words there (a parameter named `begin`) open no block.
    Open,
    Close,
}

/// The words and semicolons of `sql`, quotes and comments skipped.
fn tokens(sql: &str) -> impl Iterator<Item = Token<'_>> {
    let bytes = sql.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() {
            let at = i;
            i = match bytes[i] {
                b';' => {
                    i += 1;
                    return Some(Token::Semicolon(at));
                }
                b'(' | b')' => {
                    i += 1;
                    return Some(if bytes[at] == b'(' {
                        Token::Open
                    } else {
                        Token::Close
                    });
                }
                b'\'' => {
                    let backslashes = i > 0
                        && matches!(bytes[i - 1], b'e' | b'E')
                        && (i < 2 || !is_ident_byte(bytes[i - 2]));
                    skip_quoted(bytes, i, b'\'', backslashes)
                }
                b'"' => skip_quoted(bytes, i, b'"', false),
                b'-' if bytes.get(i + 1) == Some(&b'-') => {
                    memchr(bytes, i, b'\n').map_or(bytes.len(), |end| end + 1)
                }
                b'/' if bytes.get(i + 1) == Some(&b'*') => skip_block_comment(bytes, i),
                b'$' => skip_dollar_quoted(sql, i),
                b if is_ident_start(b) && (i == 0 || !is_ident_byte(bytes[i - 1])) => {
                    i += bytes[i..]
                        .iter()
                        .take_while(|b| is_ident_byte(**b) || **b == b'$')
                        .count();
                    return Some(Token::Word(&sql[at..i]));
                }
                _ => i + 1,
            };
        }
        None
    })
}

/// The words of one statement, as far as SQL-standard function bodies need them.
#[derive(Default)]
struct Body {
    /// How many words the statement has had so far.
    words: usize,
    /// Whether its first words are `CREATE [OR REPLACE] FUNCTION|PROCEDURE`, once known.
    routine: Option<bool>,
    /// Open `BEGIN` (and `CASE` inside them) blocks.
    depth: usize,
    /// Open parentheses.
    parens: usize,
}

impl Body {
    fn word(&mut self, word: &str) {
        let is = |w: &str| word.eq_ignore_ascii_case(w);
        self.words += 1;
        if self.routine.is_none() {
            self.routine = match self.words {
                1 if !is("create") => Some(false),
                2 if is("or") => None,
                3 if is("replace") => None,
                2 | 4 => Some(is("function") || is("procedure")),
                3 => Some(false),
                _ => None,
            };
            return;
        }
        if self.routine != Some(true) || self.parens > 0 {
            return;
        }
        if is("begin") || (is("case") && self.depth > 0) {
            self.depth += 1;
        } else if is("end") {
            self.depth = self.depth.saturating_sub(1);
        }
    }
}

fn push<'a>(statements: &mut Vec<&'a str>, statement: &'a str) {
    let statement = statement.trim();
    if !only_comments(statement) {
        statements.push(statement);
    }
}

/// True when nothing but comments and whitespace is left.
fn only_comments(statement: &str) -> bool {
    let bytes = statement.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        i = match bytes[i] {
            b if b.is_ascii_whitespace() => i + 1,
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                memchr(bytes, i, b'\n').map_or(bytes.len(), |end| end + 1)
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => skip_block_comment(bytes, i),
            _ => return false,
        };
    }
    true
}

/// Index after the closing quote of a quoted run starting at `open` (a doubled quote is part of
/// the run; with `backslashes`, `\x` escapes too). Unclosed: the end of the text.
fn skip_quoted(bytes: &[u8], open: usize, quote: u8, backslashes: bool) -> usize {
    let mut i = open + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if backslashes => i += 2,
            b if b == quote && bytes.get(i + 1) == Some(&quote) => i += 2,
            b if b == quote => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Index after a `/* ... */` comment starting at `open`; they nest in PostgreSQL.
fn skip_block_comment(bytes: &[u8], open: usize) -> usize {
    let mut depth = 0;
    let mut i = open;
    while i + 1 < bytes.len() {
        match (bytes[i], bytes[i + 1]) {
            (b'/', b'*') => {
                depth += 1;
                i += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Index after a `$tag$ ... $tag$` run starting at `open`, or `open + 1` when the `$` does not
/// open one (a parameter like `$1`, or `$` inside an identifier).
fn skip_dollar_quoted(sql: &str, open: usize) -> usize {
    let bytes = sql.as_bytes();
    if open > 0 && is_ident_byte(bytes[open - 1]) {
        return open + 1;
    }
    let tag_len = bytes[open + 1..]
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b >= 0x80)
        .count();
    let close = open + 1 + tag_len;
    let starts_with_digit = bytes.get(open + 1).is_some_and(u8::is_ascii_digit);
    if bytes.get(close) != Some(&b'$') || starts_with_digit {
        return open + 1;
    }
    let tag = &sql[open..=close];
    match sql[close + 1..].find(tag) {
        Some(at) => close + 1 + at + tag.len(),
        None => bytes.len(),
    }
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

fn memchr(bytes: &[u8], from: usize, needle: u8) -> Option<usize> {
    bytes[from..]
        .iter()
        .position(|b| *b == needle)
        .map(|p| from + p)
}

#[cfg(test)]
mod tests {
    use super::split_statements;

    #[test]
    fn semicolons_inside_quotes_comments_and_dollar_quotes_do_not_split() {
        let sql = "INSERT INTO t VALUES ('a;b', 'it''s;');\n\
                   SELECT \"odd;name\" FROM t; /* c; /* nested; */ still; */ SELECT 2;\n\
                   DO $body$ BEGIN PERFORM 1; END $body$;\n\
                   SELECT $$x;y$$; SELECT E'back\\';slash'; -- trailing; comment\n";
        assert_eq!(
            split_statements(sql),
            [
                "INSERT INTO t VALUES ('a;b', 'it''s;')",
                "SELECT \"odd;name\" FROM t",
                "/* c; /* nested; */ still; */ SELECT 2",
                "DO $body$ BEGIN PERFORM 1; END $body$",
                "SELECT $$x;y$$",
                "SELECT E'back\\';slash'",
            ]
        );
    }

    #[test]
    fn parameters_and_dollar_in_identifiers_are_not_quotes() {
        assert_eq!(
            split_statements("SELECT $1; SELECT a$b$ FROM t; SELECT 3"),
            ["SELECT $1", "SELECT a$b$ FROM t", "SELECT 3"]
        );
    }

    #[test]
    fn empty_and_comment_only_statements_are_dropped() {
        assert!(split_statements(" ; ;\n-- nothing\n/* nor this */ ;").is_empty());
        assert_eq!(split_statements("VACUUM"), ["VACUUM"]);
    }

    #[test]
    fn sql_standard_function_bodies_are_one_statement() {
        let sql = "CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql\n\
                   BEGIN ATOMIC\n  SELECT CASE WHEN a > 0 THEN a ELSE 0 END + b;\nEND;\n\
                   create or replace procedure p() language sql begin atomic\n\
                   insert into t values (1); insert into t values (2);\nend;\n\
                   CREATE INDEX CONCURRENTLY i ON t (x); SELECT 'end;'; END";
        assert_eq!(
            split_statements(sql),
            [
                "CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql\n\
                 BEGIN ATOMIC\n  SELECT CASE WHEN a > 0 THEN a ELSE 0 END + b;\nEND",
                "create or replace procedure p() language sql begin atomic\n\
                 insert into t values (1); insert into t values (2);\nend",
                "CREATE INDEX CONCURRENTLY i ON t (x)",
                "SELECT 'end;'",
                "END",
            ]
        );
    }

    #[test]
    fn begin_and_end_outside_a_routine_body_split_as_usual() {
        assert_eq!(
            split_statements("BEGIN; SELECT 1; END; CREATE TABLE begin_end (begin int); SELECT 2"),
            [
                "BEGIN",
                "SELECT 1",
                "END",
                "CREATE TABLE begin_end (begin int)",
                "SELECT 2"
            ]
        );
        // A function with a string body: its words after AS are in quotes, never counted.
        assert_eq!(
            split_statements(
                "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$; SELECT 3"
            ),
            [
                "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$",
                "SELECT 3"
            ]
        );
    }

    #[test]
    fn words_leave_out_quotes_dollar_quotes_and_comments() {
        assert_eq!(
            super::words(
                "DELETE FROM t -- x\n WHERE a = 'b c' /* d */ AND \"e f\" = $q$ g $q$ AND h$1 = $1"
            ),
            ["DELETE", "FROM", "t", "WHERE", "a", "AND", "AND", "h$1"]
        );
    }

    #[test]
    fn a_plain_string_keeps_backslashes_literal() {
        // standard_conforming_strings: in '...' a backslash is an ordinary character.
        assert_eq!(
            split_statements(r"SELECT 'a\'; SELECT 2"),
            [r"SELECT 'a\'", "SELECT 2"]
        );
    }

    #[test]
    fn parentheses_hold_semicolons_and_words_as_in_psql() {
        // A parameter named `begin` opens no block; a rule's actions in parentheses stay one
        // statement.
        assert_eq!(
            split_statements(
                "CREATE FUNCTION since(begin date) RETURNS int LANGUAGE sql \
                 RETURN (current_date - begin); \
                 CREATE INDEX CONCURRENTLY i ON t (x); \
                 CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); \
                 INSERT INTO b VALUES (2)); SELECT 2"
            ),
            [
                "CREATE FUNCTION since(begin date) RETURNS int LANGUAGE sql \
                 RETURN (current_date - begin)",
                "CREATE INDEX CONCURRENTLY i ON t (x)",
                "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); \
                 INSERT INTO b VALUES (2))",
                "SELECT 2",
            ]
        );
    }
}
