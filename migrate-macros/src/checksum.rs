//! The checksum of a migration's code: a hash of its tokens, serialized so that what rustfmt
//! changes (whitespace, comments, line endings, trailing commas, commas after block match arms)
//! does not change it, and any real edit does.
//!
//! Only the `up` step is hashed (its parameters, return type and body): the checksum guards what
//! was applied to a database. Doc comments, the function's name and the `down` step are outside it.

use migrate_core::{Checksum, ChecksumHasher};
use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};
use quote::ToTokens;
use syn::ItemFn;

pub fn of_step(step: &ItemFn) -> Checksum {
    let mut hasher = ChecksumHasher::new();
    write_stream(&mut hasher, step.sig.inputs.to_token_stream());
    hasher.write(b"->");
    write_stream(&mut hasher, step.sig.output.to_token_stream());
    write_stream(&mut hasher, step.block.to_token_stream());
    hasher.finish()
}

fn write_stream(hasher: &mut ChecksumHasher, stream: TokenStream) {
    let tokens: Vec<TokenTree> = stream.into_iter().collect();
    for (i, token) in tokens.iter().enumerate() {
        match token {
            TokenTree::Group(group) => {
                let (open, close) = match group.delimiter() {
                    Delimiter::Parenthesis => (b"(", b")"),
                    Delimiter::Brace => (b"{", b"}"),
                    Delimiter::Bracket => (b"[", b"]"),
                    Delimiter::None => (b" ", b" "),
                };
                hasher.write(open);
                write_stream(hasher, group.stream());
                hasher.write(close);
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
        of_step(&syn::parse_str(source).expect("test source parses"))
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

    #[test]
    fn operators_are_kept_apart_from_their_spaced_forms() {
        let and = checksum("fn up(tx: &Tx) -> R { a && b }");
        let amp = checksum("fn up(tx: &Tx) -> R { a & &b }");
        assert_ne!(and, amp);
    }
}
