//! The checksum of a migration's code: a hash of its tokens, serialized so that what rustfmt
//! changes (whitespace, comments, line endings, trailing commas, commas after block match arms)
//! does not change it, and any real edit does.
//!
//! Only the `up` step is hashed (its parameters, return type and body): the checksum guards what
//! was applied to a database. Doc comments, the function's name and the `down` step are outside it.
//!
//! Files the body names in `include_str!("...")` / `include_bytes!("...")` (a string literal
//! path) are read and their contents hashed too, resolved as the compiler resolves them:
//! relative to the source file holding the invocation (`proc_macro::Span::local_file`). When
//! the compiler cannot say which file that is (tokens made by another macro), or the file cannot
//! be read (then `include_str!` itself fails to compile), only the path's text is hashed. SQL
//! that lives outside the body (a `const`, a helper fn) is not seen at all.

use migrate_core::{Checksum, ChecksumHasher};
use proc_macro2::{Delimiter, Literal, Spacing, Span, TokenStream, TokenTree};
use quote::ToTokens;
use std::path::{Path, PathBuf};
use syn::ItemFn;

/// A step's checksum and the files it includes (absolute paths), whose contents it covers.
pub struct StepChecksum {
    pub checksum: Checksum,
    pub included: Vec<PathBuf>,
}

pub fn of_step(step: &ItemFn) -> StepChecksum {
    let mut state = State {
        hasher: ChecksumHasher::new(),
        included: Vec::new(),
    };
    write_stream(&mut state, step.sig.inputs.to_token_stream());
    state.hasher.write(b"->");
    write_stream(&mut state, step.sig.output.to_token_stream());
    write_stream(&mut state, step.block.to_token_stream());
    StepChecksum {
        checksum: state.hasher.finish(),
        included: state.included,
    }
}

struct State {
    hasher: ChecksumHasher,
    included: Vec<PathBuf>,
}

fn write_stream(state: &mut State, stream: TokenStream) {
    let tokens: Vec<TokenTree> = stream.into_iter().collect();
    for (i, token) in tokens.iter().enumerate() {
        let hasher = &mut state.hasher;
        match token {
            TokenTree::Group(group) => {
                let (open, close) = match group.delimiter() {
                    Delimiter::Parenthesis => (b"(", b")"),
                    Delimiter::Brace => (b"{", b"}"),
                    Delimiter::Bracket => (b"[", b"]"),
                    Delimiter::None => (b" ", b" "),
                };
                hasher.write(open);
                write_stream(state, group.stream());
                state.hasher.write(close);
                if let Some(include) = include_at(&tokens, i) {
                    write_included(state, include);
                }
            }
            TokenTree::Ident(ident) => {
                hasher.write(b"i");
                hasher.write(ident.to_string().as_bytes());
                hasher.write(b"\0");
            }
            TokenTree::Punct(punct) => {
                if punct.as_char() == ',' && formatting_comma(&tokens, i) {
                    continue;
                }
                hasher.write(b"p");
                let mut buf = [0u8; 4];
                hasher.write(punct.as_char().encode_utf8(&mut buf).as_bytes());
                if joins_next(punct.as_char(), punct.spacing(), tokens.get(i + 1)) {
                    hasher.write(b"j");
                }
            }
            TokenTree::Literal(literal) => {
                hasher.write(b"l");
                hasher.write_text(&literal.to_string());
                hasher.write(b"\0");
            }
        }
    }
}

/// `include_str` / `include_bytes` (any path prefix), `!`, then this group holding one string
/// literal (and perhaps a trailing comma): that literal, and whether the file is text.
fn include_at(tokens: &[TokenTree], group_at: usize) -> Option<(Literal, bool)> {
    let name = &tokens[group_at.checked_sub(2)?];
    let bang = &tokens[group_at - 1];
    let (TokenTree::Ident(name), TokenTree::Punct(bang), TokenTree::Group(args)) =
        (name, bang, &tokens[group_at])
    else {
        return None;
    };
    let text = match name.to_string().as_str() {
        "include_str" => true,
        "include_bytes" => false,
        _ => return None,
    };
    if bang.as_char() != '!' || args.delimiter() != Delimiter::Parenthesis {
        return None;
    }
    let mut inner = args.stream().into_iter();
    match (inner.next(), inner.next(), inner.next()) {
        (Some(TokenTree::Literal(literal)), None, None) => Some((literal, text)),
        (Some(TokenTree::Literal(literal)), Some(TokenTree::Punct(p)), None)
            if p.as_char() == ',' =>
        {
            Some((literal, text))
        }
        _ => None,
    }
}

/// Hashes the included file's contents after its path (text with line endings normalized, as
/// for string literals). Nothing is added when the file cannot be found or read.
fn write_included(state: &mut State, (literal, text): (Literal, bool)) {
    let Some(path) = included_path(&literal, invoking_file(literal.span()).as_deref()) else {
        return;
    };
    let Ok(bytes) = std::fs::read(&path) else {
        return;
    };
    state.hasher.write(b"f");
    match (text, std::str::from_utf8(&bytes)) {
        (true, Ok(contents)) => state.hasher.write_text(contents),
        _ => state.hasher.write(&bytes),
    }
    state.hasher.write(b"\0");
    state.included.push(path);
}

/// The path `include_str!` would read: absolute as written, or relative to the directory of
/// the invoking source file. `None` for a literal that is not a string, or a relative path
/// when that file is unknown.
fn included_path(literal: &Literal, invoking_file: Option<&Path>) -> Option<PathBuf> {
    let path = syn::parse2::<syn::LitStr>(TokenTree::Literal(literal.clone()).into())
        .ok()?
        .value();
    let path = Path::new(&path);
    let resolved = if path.is_absolute() {
        path.to_owned()
    } else {
        invoking_file?.parent()?.join(path)
    };
    // rustc may name the source file relative to its working directory; the expansion's
    // `include_bytes!` needs a path that does not depend on where it is written.
    std::path::absolute(resolved).ok()
}

/// The source file a span comes from, when running inside the compiler and it knows.
fn invoking_file(span: Span) -> Option<PathBuf> {
    if !proc_macro::is_available() {
        return None;
    }
    span.unwrap().local_file()
}

/// A comma that rustfmt adds or removes: trailing in its group, or after a `{ }` block (as in
/// `A => {},`).
fn formatting_comma(tokens: &[TokenTree], i: usize) -> bool {
    let trailing = i + 1 == tokens.len();
    let after_block =
        i > 0 && matches!(&tokens[i - 1], TokenTree::Group(g) if g.delimiter() == Delimiter::Brace);
    trailing || after_block
}

/// Whether this punctuation forms one operator with the next (`&&` vs `& &`). Spacing that
/// forms no operator (`=-1` vs `= -1`) is formatting, so it is left out.
fn joins_next(c: char, spacing: Spacing, next: Option<&TokenTree>) -> bool {
    #[rustfmt::skip]
    const PAIRS: &[(char, char)] = &[
        ('&', '&'), ('|', '|'), ('=', '='), ('!', '='), ('<', '='), ('>', '='), ('+', '='),
        ('-', '='), ('*', '='), ('/', '='), ('%', '='), ('^', '='), ('&', '='), ('|', '='),
        ('<', '<'), ('>', '>'), (':', ':'), ('-', '>'), ('=', '>'), ('.', '.'), ('<', '-'),
    ];
    match (spacing, next) {
        (Spacing::Joint, Some(TokenTree::Punct(next))) => PAIRS.contains(&(c, next.as_char())),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checksum(source: &str) -> Checksum {
        of_step(&syn::parse_str(source).expect("test source parses")).checksum
    }

    const ORIGINAL: &str = r#"
        fn up(tx: &Tx) -> Result<()> {
            tx.execute_batch("CREATE TABLE t (id INTEGER)")?;
            match tx.x() { 1 => {}, _ => { let y = [1, 2, 3]; } }
            let z = -1;
            Ok(())
        }
    "#;

    #[test]
    fn formatting_does_not_change_the_checksum() {
        let reformatted = "/// A doc comment\nfn up(\n    tx: &Tx,\n) -> Result<()> {\r\n    // a comment\r\n    \
             tx.execute_batch(\"CREATE TABLE t (id INTEGER)\",)?;\r\n    match tx.x() {\r\n        1 => {}\r\n        \
             _ => {\r\n            let y = [1, 2, 3,];\r\n        }\r\n    }\r\n    let z =-1;\r\n    Ok(())\r\n}";
        assert_eq!(checksum(ORIGINAL), checksum(reformatted));
    }

    #[test]
    fn the_name_is_outside_the_checksum() {
        assert_eq!(
            checksum(ORIGINAL),
            checksum(&ORIGINAL.replace("fn up", "fn create_t"))
        );
    }

    #[test]
    fn line_endings_inside_string_literals_are_normalized() {
        let lf = "fn up(tx: &Tx) -> R { tx.run(\"A\nB\") }";
        let crlf = "fn up(tx: &Tx) -> R { tx.run(\"A\r\nB\") }";
        assert_eq!(checksum(lf), checksum(crlf));
    }

    #[test]
    fn real_changes_change_the_checksum() {
        let base = checksum(ORIGINAL);
        for edited in [
            ORIGINAL.replace("id INTEGER", "id TEXT"),
            ORIGINAL.replace("let z = -1", "let z = 1"),
            ORIGINAL.replace("[1, 2, 3]", "[1, 2]"),
            ORIGINAL.replace("tx: &Tx", "t: &Tx"),
            ORIGINAL.replace("Ok(())", "Ok(());"),
        ] {
            assert_ne!(base, checksum(&edited), "{edited}");
        }
    }

    /// A file named in `include_str!`/`include_bytes!` with an absolute path (no invoking file
    /// is known outside the compiler, so relative paths are tested separately below).
    #[test]
    fn included_files_are_part_of_the_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("m0003.sql");
        let step = |mac: &str| {
            of_step(
                &syn::parse_str(&format!(
                    "fn up(tx: &Tx) -> R {{ tx.execute_batch({mac}!({:?})) }}",
                    file.display().to_string()
                ))
                .unwrap(),
            )
        };
        std::fs::write(&file, "CREATE TABLE a (x);\n").unwrap();
        let first = step("include_str");
        assert_eq!(first.included, std::slice::from_ref(&file));
        std::fs::write(&file, "CREATE TABLE a (x, y);\n").unwrap();
        let edited = step("include_str");
        assert_ne!(first.checksum, edited.checksum);
        // Line endings in a text file are formatting, as in string literals; not in bytes.
        std::fs::write(&file, "CREATE TABLE a (x, y);\r\n").unwrap();
        assert_eq!(edited.checksum, step("include_str").checksum);
        let bytes_crlf = step("include_bytes");
        std::fs::write(&file, "CREATE TABLE a (x, y);\n").unwrap();
        assert_ne!(bytes_crlf.checksum, step("include_bytes").checksum);
        // A file that cannot be read adds nothing (include_str! itself will not compile).
        std::fs::remove_file(&file).unwrap();
        assert!(step("include_str").included.is_empty());
    }

    #[test]
    fn relative_include_paths_resolve_against_the_invoking_file() {
        let literal = Literal::string("sql/m0003.sql");
        let invoking = Path::new("/app/src/migrations/m0003.rs");
        assert_eq!(
            included_path(&literal, Some(invoking)),
            Some(PathBuf::from("/app/src/migrations/sql/m0003.sql"))
        );
        // Unknown invoking file: a relative path cannot be resolved, so only its text counts.
        assert_eq!(included_path(&literal, None), None);
        let absolute = Literal::string("/etc/m.sql");
        assert_eq!(
            included_path(&absolute, None),
            Some(PathBuf::from("/etc/m.sql"))
        );
        // Not a string literal: nothing.
        assert_eq!(
            included_path(&Literal::u8_suffixed(1), Some(invoking)),
            None
        );
    }

    #[test]
    fn other_macros_and_arguments_are_not_includes() {
        let tokens = |src: &str| -> Vec<TokenTree> {
            src.parse::<TokenStream>().unwrap().into_iter().collect()
        };
        assert!(include_at(&tokens("include_str!(\"a.sql\")"), 2).is_some());
        assert!(include_at(&tokens("std::include_bytes!(\"a.bin\",)"), 5).is_some());
        assert!(include_at(&tokens("concat!(\"a.sql\")"), 2).is_none());
        assert!(include_at(&tokens("include_str!(concat!(\"a\", \".sql\"))"), 2).is_none());
        assert!(include_at(&tokens("include_str(\"a.sql\")"), 1).is_none());
    }

    #[test]
    fn operators_are_kept_apart_from_their_spaced_forms() {
        let and = checksum("fn up(tx: &Tx) -> R { a && b }");
        let amp = checksum("fn up(tx: &Tx) -> R { a & &b }");
        assert_ne!(and, amp);
    }
}
