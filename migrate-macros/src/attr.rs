//! Parsing of the attribute's arguments: `seq = 1, name = "x", set = "y", ...`.

use crate::backend::Backend;
use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::parse::{Parse, ParseStream, Parser};
use syn::{LitBool, LitInt, LitStr, Path, Token};

/// Largest seq: it must fit a signed 64-bit database integer.
const MAX_SEQ: u64 = i64::MAX as u64;

const KEYS: &str = "seq, name, set, transaction, down, destructive, rebuild, crate";

/// The parsed arguments.
pub struct Args {
    pub seq: u64,
    pub seq_span: Span,
    pub name: Option<LitStr>,
    pub set: Option<LitStr>,
    pub transactional: bool,
    pub down: Option<(Path, Span)>,
    pub destructive: bool,
    pub rebuild: bool,
    pub krate: Path,
}

#[derive(Default)]
struct Builder {
    seq: Option<(u64, Span)>,
    name: Option<LitStr>,
    set: Option<LitStr>,
    transaction: Option<bool>,
    down: Option<(Path, Span)>,
    destructive: Option<bool>,
    rebuild: Option<bool>,
    krate: Option<Path>,
}

pub fn parse(args: TokenStream, backend: &Backend) -> syn::Result<Args> {
    let mut builder = Builder::default();
    let parser = syn::meta::parser(|meta| builder.key(meta));
    parser.parse2(args)?;
    builder.finish(backend)
}

/// Stores `value` in `slot`, refusing a second occurrence of the key.
fn set_once<T>(slot: &mut Option<T>, value: T, meta: &ParseNestedMeta) -> syn::Result<()> {
    if slot.is_some() {
        let key = path_text(&meta.path);
        return Err(syn::Error::new_spanned(
            &meta.path,
            format!("duplicate key `{key}`: give each key once"),
        ));
    }
    *slot = Some(value);
    Ok(())
}

fn path_text(path: &Path) -> String {
    quote::quote!(#path).to_string().replace(' ', "")
}

impl Builder {
    fn key(&mut self, meta: ParseNestedMeta) -> syn::Result<()> {
        let key = path_text(&meta.path);
        match key.as_str() {
            "seq" => {
                let seq = parse_seq(&meta)?;
                set_once(&mut self.seq, seq, &meta)
            }
            "name" => {
                let name = parse_text(&meta, "name", "create_users")?;
                set_once(&mut self.name, name, &meta)
            }
            "set" => {
                let set = parse_text(&meta, "set", "billing")?;
                check_set_name(&set)?;
                set_once(&mut self.set, set, &meta)
            }
            "transaction" => {
                let on: LitBool = value(
                    &meta,
                    "`transaction` takes `true` or `false`, like `transaction = false`",
                )?;
                set_once(&mut self.transaction, on.value, &meta)
            }
            "down" => {
                let path: Path = value(
                    &meta,
                    "`down` takes the name of the reverse function, like `down = drop_users`",
                )?;
                let span = meta.path.segments[0].ident.span();
                set_once(&mut self.down, (path, span), &meta)
            }
            "destructive" => {
                let on = parse_flag(&meta, "destructive")?;
                set_once(&mut self.destructive, on, &meta)
            }
            "rebuild" => {
                let on = parse_flag(&meta, "rebuild")?;
                set_once(&mut self.rebuild, on, &meta)
            }
            "crate" => {
                let path: Path = value(
                    &meta,
                    "`crate` takes the path of the backend crate, like `crate = ::migrate_sqlite`",
                )?;
                set_once(&mut self.krate, path, &meta)
            }
            _ => Err(meta.error(format!("unknown key `{key}`; the keys are: {KEYS}"))),
        }
    }

    fn finish(self, backend: &Backend) -> syn::Result<Args> {
        let Some((seq, seq_span)) = self.seq else {
            return Err(syn::Error::new(
                Span::call_site(),
                "missing `seq`: write #[migration(seq = N)] with N the migration's position \
                 in its set (1, 2, 3...)",
            ));
        };
        Ok(Args {
            seq,
            seq_span,
            name: self.name,
            set: self.set,
            transactional: self.transaction.unwrap_or(true),
            down: self.down,
            destructive: self.destructive.unwrap_or(false),
            rebuild: self.rebuild.unwrap_or(false),
            krate: self.krate.unwrap_or_else(backend.default_crate),
        })
    }
}

/// The value after `key =`, parsed as `T`; `expected` says what the key takes, for both a
/// missing `=` (pointing at the key) and a value of the wrong kind (pointing at the value).
fn value<T: Parse>(meta: &ParseNestedMeta, expected: &str) -> syn::Result<T> {
    equals(meta, expected)?
        .parse()
        .map_err(|e| syn::Error::new(e.span(), expected))
}

/// The input after `key =`.
fn equals<'a>(meta: &'a ParseNestedMeta, expected: &str) -> syn::Result<ParseStream<'a>> {
    if !meta.input.peek(Token![=]) {
        return Err(syn::Error::new_spanned(&meta.path, expected));
    }
    meta.value()
}

fn parse_seq(meta: &ParseNestedMeta) -> syn::Result<(u64, Span)> {
    const EXPECTED: &str = "`seq` must be an integer literal, like `seq = 1`";
    let input = equals(meta, EXPECTED)?;
    if input.peek(Token![-]) {
        let minus: Token![-] = input.parse()?;
        let lit: LitInt = input.parse()?;
        // Spanned from `-` to the digits: `Span::join` is unavailable on stable.
        return Err(syn::Error::new_spanned(
            quote::quote!(#minus #lit),
            "`seq` must be a positive integer; sequences start at 1",
        ));
    }
    let lit: LitInt = input
        .parse()
        .map_err(|e| syn::Error::new(e.span(), EXPECTED))?;
    let too_large = || {
        syn::Error::new(
            lit.span(),
            format!(
                "`seq` is too large: the largest is {MAX_SEQ} (it must fit a signed 64-bit integer)"
            ),
        )
    };
    let seq: u64 = lit.base10_parse().map_err(|_| too_large())?;
    if seq == 0 {
        return Err(syn::Error::new(
            lit.span(),
            "`seq` starts at 1; 0 means \"no migration applied\"",
        ));
    }
    if seq > MAX_SEQ {
        return Err(too_large());
    }
    Ok((seq, lit.span()))
}

fn parse_text(meta: &ParseNestedMeta, key: &str, example: &str) -> syn::Result<LitStr> {
    let lit: LitStr = value(
        meta,
        &format!("`{key}` takes a string literal, like `{key} = \"{example}\"`"),
    )?;
    let text = lit.value();
    if text.trim().is_empty() {
        return Err(syn::Error::new(
            lit.span(),
            format!("`{key}` cannot be empty"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(syn::Error::new(
            lit.span(),
            format!("`{key}` cannot contain control characters such as newlines"),
        ));
    }
    Ok(lit)
}

fn check_set_name(lit: &LitStr) -> syn::Result<()> {
    let ok = lit
        .value()
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(syn::Error::new(
            lit.span(),
            "`set` may contain only ASCII letters, digits, `_`, `-` and `.`",
        ))
    }
}

/// `destructive` alone means true; `destructive = false` is allowed too.
fn parse_flag(meta: &ParseNestedMeta, key: &str) -> syn::Result<bool> {
    if meta.input.peek(Token![=]) {
        let on: LitBool = value(
            meta,
            &format!("`{key}` takes `true` or `false`, or stands alone: `{key}`"),
        )?;
        Ok(on.value)
    } else {
        Ok(true)
    }
}
