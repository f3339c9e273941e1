//! Rust identifiers from upstream migration names.

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "box", "break", "const", "continue", "crate", "do", "dyn", "else",
    "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let", "loop",
    "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return", "self",
    "static", "struct", "super", "trait", "true", "try", "type", "typeof", "unsafe", "unsized",
    "use", "virtual", "where", "while", "yield",
];

/// `01-users` -> `01_users`: what follows `m0001_` in a module name.
pub fn slug(name: &str) -> String {
    let ident = ident(name);
    ident.strip_prefix("m_").unwrap_or(&ident).to_owned()
}

/// `Create Users-table` -> `create_users_table`: lower case ASCII letters, digits and single
/// underscores; never empty, never starting with a digit, never a keyword.
pub fn ident(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    let trimmed = out.trim_end_matches('_');
    let mut out = match trimmed {
        "" => "migration".to_owned(),
        t if t.starts_with(|c: char| c.is_ascii_digit()) => format!("m_{t}"),
        t => t.to_owned(),
    };
    if KEYWORDS.contains(&out.as_str()) {
        out.push('_');
    }
    out
}

/// True when the SQL holds something other than whitespace and comments (diesel writes a
/// `down.sql` holding only a comment by default: that is no down step).
pub fn has_statements(sql: &str) -> bool {
    let mut rest = sql;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ';');
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, r)| r);
        } else {
            return !rest.is_empty();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_valid_rust() {
        assert_eq!(ident("Create Users-table"), "create_users_table");
        assert_eq!(ident("001_init"), "m_001_init");
        assert_eq!(ident("__"), "migration");
        assert_eq!(ident("type"), "type_");
        assert_eq!(ident("add  email!"), "add_email");
    }

    #[test]
    fn comments_alone_are_no_statement() {
        assert!(!has_statements(
            "-- This file should undo anything in `up.sql`\n"
        ));
        assert!(!has_statements("  /* nothing */ ;\n"));
        assert!(has_statements("-- undo\nDROP TABLE users;"));
    }
}
