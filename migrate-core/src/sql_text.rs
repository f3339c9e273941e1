//! SQL text as both backends compare it: comments removed, whitespace collapsed outside
//! quotes ([`normalize_sql`], the form stored and shown), and a canonical form ([`canonical`]) in
//! which spacing and the case of unquoted words do not count, so that drift is neither hidden by
//! a comment nor invented by spacing.
//!
//! ```
//! use migrate_core::sql_text::{canonical, normalize_sql};
//! assert_eq!(normalize_sql("CREATE  TABLE t -- note\n (a INT)"), "CREATE TABLE t (a INT)");
//! assert_eq!(canonical("CREATE TABLE t ( a  INT )"), canonical("create table T(a int)"));
//! ```

/// The schema text as shown: comments removed (so text moved into a comment is a change, not
/// hidden), runs of whitespace outside quotes collapsed to one space.
pub fn normalize_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut pending_space = false;
    for token in tokens(sql) {
        match token {
            Token::Space | Token::Comment => pending_space = true,
            Token::Text(text) => {
                if pending_space && !out.is_empty() {
                    out.push(' ');
                }
                pending_space = false;
                out.push_str(text);
            }
        }
    }
    out
}

/// The form two definitions are compared in: the displayed form with spaces kept only where
/// they separate two words, and unquoted words in lower case (SQLite ignores both), so
/// `t (a  INT,b int)` and `T(a INT, b INT)` compare equal while a quoted string does not
/// change.
pub fn canonical(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut pending_space = false;
    for token in tokens(sql) {
        match token {
            Token::Space | Token::Comment => pending_space = true,
            Token::Text(text) => {
                let first = text.chars().next().unwrap_or(' ');
                let joins_words =
                    out.chars().next_back().is_some_and(is_word_char) && is_word_char(first);
                if pending_space && joins_words {
                    out.push(' ');
                }
                pending_space = false;
                if matches!(first, '\'' | '"' | '`' | '[') {
                    out.push_str(text);
                } else {
                    out.push_str(&text.to_ascii_lowercase());
                }
            }
        }
    }
    out
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '$' | '\'' | '"' | '`' | '[' | ']')
}

/// A piece of SQL text: whitespace and comments (both separate tokens), or anything else.
#[derive(Debug, PartialEq, Eq)]
enum Token<'a> {
    Space,
    Comment,
    Text(&'a str),
}

/// Splits SQL into spaces (whitespace and comments) and text; a quoted string or identifier
/// is one text token, so nothing inside quotes is touched.
fn tokens(sql: &str) -> Vec<Token<'_>> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            out.push(Token::Space);
        } else if bytes[i..].starts_with(b"--") {
            i = sql[i..].find('\n').map_or(bytes.len(), |n| i + n);
            out.push(Token::Comment);
        } else if bytes[i..].starts_with(b"/*") {
            // An unterminated block comment runs to the end, as in SQLite.
            i = sql[i + 2..]
                .find("*/")
                .map_or(bytes.len(), |n| i + 2 + n + 2);
            out.push(Token::Comment);
        } else if matches!(c, b'\'' | b'"' | b'`' | b'[') {
            let close = if c == b'[' { b']' } else { c };
            i += 1;
            loop {
                match bytes.get(i) {
                    None => break,
                    // A doubled quote is an escaped quote inside the string.
                    Some(&b) if b == close && close != b']' && bytes.get(i + 1) == Some(&close) => {
                        i += 2
                    }
                    Some(&b) if b == close => {
                        i += 1;
                        break;
                    }
                    Some(_) => i += 1,
                }
            }
            out.push(Token::Text(&sql[start..i]));
        } else {
            i += 1;
            while i < bytes.len()
                && !bytes[i].is_ascii_whitespace()
                && !matches!(bytes[i], b'\'' | b'"' | b'`' | b'[')
                && !bytes[i..].starts_with(b"--")
                && !bytes[i..].starts_with(b"/*")
            {
                i += 1;
            }
            out.push(Token::Text(&sql[start..i]));
        }
    }
    out
}

/// True when `sql` holds a `--` or `/* */` comment outside quotes.
///
/// ```
/// assert!(migrate_core::sql_text::has_comment("CREATE TABLE t (a) -- why"));
/// assert!(!migrate_core::sql_text::has_comment("SELECT '-- not one'"));
/// ```
pub fn has_comment(sql: &str) -> bool {
    tokens(sql).contains(&Token::Comment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_outside_quotes_collapses() {
        assert_eq!(
            normalize_sql("CREATE  TABLE\n t (a TEXT DEFAULT 'x  y')"),
            "CREATE TABLE t (a TEXT DEFAULT 'x  y')"
        );
    }

    #[test]
    fn comments_are_removed_so_they_cannot_swallow_a_column() {
        let before = "CREATE TABLE t (\n a TEXT, -- note\n b TEXT\n)";
        let after = "CREATE TABLE t (\n a TEXT, -- note b TEXT\n)";
        assert_eq!(normalize_sql(before), "CREATE TABLE t ( a TEXT, b TEXT )");
        assert_eq!(normalize_sql(after), "CREATE TABLE t ( a TEXT, )");
        assert_ne!(canonical(before), canonical(after));
        assert_eq!(
            normalize_sql("CREATE TABLE t (a /* b INT, */ TEXT)"),
            "CREATE TABLE t (a TEXT)"
        );
    }

    #[test]
    fn quoted_text_keeps_its_comment_markers_spaces_and_case() {
        let sql = "CREATE TABLE t (a TEXT DEFAULT '-- not  a /* comment', \"B  c\" INT)";
        assert_eq!(normalize_sql(sql), sql);
        assert_eq!(
            canonical(sql),
            "create table t(a text default '-- not  a /* comment',\"B  c\" int)"
        );
        assert_eq!(
            canonical("SELECT 'it''s -- here'"),
            "select 'it''s -- here'"
        );
    }

    #[test]
    fn spacing_and_keyword_case_do_not_differ_canonically() {
        assert_eq!(
            canonical("CREATE TABLE t ( a  INT ,b int )"),
            canonical("create table T(a INT, b INT)")
        );
        assert_ne!(
            canonical("CREATE TABLE t (a INT)"),
            canonical("CREATE TABLE t (ab INT)")
        );
        assert_ne!(canonical("CHECK (x > 0)"), canonical("CHECK (x >= 0)"));
    }
}
