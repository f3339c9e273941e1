//! The item under the attribute: a `fn` (forward-only) or an inline `mod` with `up`/`down`.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{Item, ItemFn, ItemMod};

pub enum Input {
    /// Boxed: an `ItemFn` is much larger than an `ItemMod`.
    Fn(Box<ItemFn>),
    Mod(ItemMod),
}

pub fn parse(item: TokenStream) -> syn::Result<Input> {
    let item: Item = syn::parse2(item)?;
    match item {
        Item::Fn(f) => Ok(Input::Fn(Box::new(f))),
        Item::Mod(m) if m.content.is_some() => Ok(Input::Mod(m)),
        Item::Mod(m) => Err(syn::Error::new(
            m.semi.span(),
            "#[migration] needs the module's body here; in a file of its own, put \
             #[migration(seq = N, down = ...)] on the `fn` instead",
        )),
        other => {
            let (span, kind) = kind_of(&other);
            Err(syn::Error::new(
                span,
                format!(
                    "#[migration] goes on a `fn` (forward-only) or an inline `mod` with `fn up` \
                     and `fn down`, not on {kind}"
                ),
            ))
        }
    }
}

/// The keyword that names the item's kind, for a narrow error span.
fn kind_of(item: &Item) -> (Span, &'static str) {
    match item {
        Item::Struct(s) => (s.struct_token.span, "a struct"),
        Item::Enum(e) => (e.enum_token.span, "an enum"),
        Item::Union(u) => (u.union_token.span, "a union"),
        Item::Impl(i) => (i.impl_token.span, "an impl block"),
        Item::Trait(t) => (t.trait_token.span, "a trait"),
        Item::Const(c) => (c.const_token.span, "a const"),
        Item::Static(s) => (s.static_token.span, "a static"),
        Item::Type(t) => (t.type_token.span, "a type alias"),
        Item::Use(u) => (u.use_token.span, "a use declaration"),
        Item::ExternCrate(e) => (e.extern_token.span, "an extern crate"),
        Item::ForeignMod(f) => (f.abi.extern_token.span, "an extern block"),
        other => (other.to_token_stream().span(), "this kind of item"),
    }
}
