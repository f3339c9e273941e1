//! The expansion: the user's item unchanged, an `inventory` registration of its descriptor, and a
//! crate-wide marker that makes a second migration with the same seq and set a compile error.

use crate::ast::{self, Input};
use crate::attr::{self, Args};
use crate::backend::Backend;
use crate::{checksum, valid};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::{Attribute, Expr, ExprLit, Ident, ItemFn, Lit, Meta, Path};

/// The expansion, or on a user error the error followed by the item unchanged: the item stays
/// defined, so the error is not buried under unresolved names and unused imports it would cause.
pub fn migration_or_error(args: TokenStream, item: TokenStream, backend: &Backend) -> TokenStream {
    match migration(args, item.clone(), backend) {
        Ok(expansion) => expansion,
        Err(error) => {
            let mut output = error.into_compile_error();
            output.extend(item);
            output
        }
    }
}

fn migration(args: TokenStream, item: TokenStream, backend: &Backend) -> syn::Result<TokenStream> {
    let args = attr::parse(args, backend)?;
    match ast::parse(item)? {
        Input::Fn(f) => expand_fn(args, *f, backend),
        Input::Mod(m) => expand_mod(args, m, backend),
    }
}

fn expand_fn(mut args: Args, f: ItemFn, backend: &Backend) -> syn::Result<TokenStream> {
    valid::check_signature(&f.sig, backend)?;
    let ident = &f.sig.ident;
    let up: Path = ident.clone().into();
    let down = args.down.take();
    let registration = register(&args, &f, &f.attrs, &ident.unraw_string(), up, down);
    Ok(quote! {
        #f
        #registration
    })
}

fn expand_mod(args: Args, mut m: syn::ItemMod, backend: &Backend) -> syn::Result<TokenStream> {
    if let Some((_, span)) = &args.down {
        return Err(syn::Error::new(
            *span,
            "`down = ...` is for the `fn` form; in a module, write `fn down` next to `fn up`",
        ));
    }
    let (up, down) = valid::steps_of_module(&m, backend)?;
    let down_path = down.map(|d| (Path::from(d.sig.ident.clone()), d.sig.ident.span()));
    let up_path = Path::from(up.sig.ident.clone());
    let registration = register(
        &args,
        up,
        &m.attrs,
        &m.ident.unraw_string(),
        up_path,
        down_path,
    );
    // Registered inside the module, so `up` and `down` need not be `pub`.
    if let Some((_, items)) = &mut m.content {
        items.push(syn::Item::Verbatim(registration));
    }
    Ok(quote!(#m))
}

trait UnrawString {
    fn unraw_string(&self) -> String;
}

impl UnrawString for Ident {
    fn unraw_string(&self) -> String {
        let text = self.to_string();
        text.strip_prefix("r#").map(str::to_owned).unwrap_or(text)
    }
}

fn register(
    args: &Args,
    up_item: &ItemFn,
    doc_attrs: &[Attribute],
    default_name: &str,
    up: Path,
    down: Option<(Path, Span)>,
) -> TokenStream {
    let krate = &args.krate;
    let seq = args.seq;
    let name = args
        .name
        .as_ref()
        .map(|lit| lit.value())
        .unwrap_or_else(|| default_name.to_owned());
    let set = args
        .set
        .as_ref()
        .map(|lit| lit.value())
        .unwrap_or_else(|| migrate_core::DEFAULT_SET.to_owned());
    let description = description(doc_attrs);
    let checksum::StepChecksum {
        checksum: sum,
        included,
    } = checksum::of_step(up_item);
    let (version, value) = (sum.version(), sum.value());
    // The checksum covers these files: keep them inputs of this crate's build, so editing one
    // recompiles it (and so recomputes the checksum) even if the item's own include moves.
    let included = included.iter().map(|path| {
        let path = path.to_string_lossy();
        quote!(
            const _: &[u8] = ::core::include_bytes!(#path);
        )
    });
    let transactional = args.transactional;
    let (destructive, rebuild) = (args.destructive, args.rebuild);
    // A const of the step type: a function with the wrong signature fails here, and the
    // error points at the user's own function name or `down` path.
    let up = quote!({ const UP: #krate::__private::Step = #up; &UP });
    let down = match down {
        Some((path, _)) => quote! {
            ::core::option::Option::Some({ const DOWN: #krate::__private::Step = #path; &DOWN })
        },
        None => quote!(::core::option::Option::None),
    };
    let marker = seq_marker(seq, &set, args.seq_span);
    quote! {
        #krate::__private::inventory::submit! {
            #krate::__private::Descriptor {
                seq: #seq,
                name: #name,
                set: #set,
                description: #description,
                checksum: #krate::__private::Checksum::from_parts(#version, #value),
                up: #up,
                down: #down,
                transactional: #transactional,
                flags: #krate::__private::Flags::NONE
                    .with_destructive(#destructive)
                    .with_rebuilds_tables(#rebuild),
                file: ::core::file!(),
                line: ::core::line!(),
            }
        }
        #marker
        #(#included)*
    }
}

/// A `#[macro_export]` macro lives at the crate root, so two migrations with the same seq and set
/// in one crate define the same name twice: error E0428, pointing at both `seq` values.
fn seq_marker(seq: u64, set: &str, span: Span) -> TokenStream {
    let name = format_ident!(
        "seq_{}_is_used_by_two_migrations_in_set_{}",
        seq,
        ident_safe(set),
        span = span
    );
    quote_spanned! {span=>
        #[doc(hidden)]
        #[allow(non_local_definitions, unused_macros)]
        #[macro_export]
        macro_rules! #name { () => {}; }
    }
}

/// Letters and digits as they are, `_` as `__`, anything else (set names are ASCII) as `_xHH`:
/// an injective encoding, so distinct sets never share a marker.
fn ident_safe(set: &str) -> String {
    set.chars()
        .map(|c| match c {
            '_' => "__".to_owned(),
            c if c.is_ascii_alphanumeric() => c.to_string(),
            c => format!("_x{:02x}", c as u32),
        })
        .collect()
}

/// The item's doc comment, one leading space per line removed.
fn description(attrs: &[Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|attr| attr.path().is_ident("doc"))
        .filter_map(|attr| match &attr.meta {
            Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(s), ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .map(|line| line.strip_prefix(' ').map(str::to_owned).unwrap_or(line))
        .collect();
    lines.join("\n").trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::ident_safe;

    #[test]
    fn set_names_encode_without_collisions() {
        assert_eq!(ident_safe("default"), "default");
        assert_ne!(ident_safe("a.b"), ident_safe("a_x2e_b"));
        assert_ne!(ident_safe("a_b"), ident_safe("a-b"));
        assert_eq!(ident_safe("a-b.c_d"), "a_x2db_x2ec__d");
    }
}
