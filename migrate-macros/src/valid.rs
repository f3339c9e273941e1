//! Signature checks with narrow spans. Types are checked by the compiler afterwards (the
//! expansion coerces each step to the backend's step type); these catch what a type error would
//! explain badly.

use syn::spanned::Spanned;
use syn::{FnArg, Item, ItemFn, ItemMod, ReturnType, Signature, Type};

pub fn check_signature(sig: &Signature) -> syn::Result<()> {
    if let Some(token) = &sig.asyncness {
        return Err(syn::Error::new(
            token.span,
            "a migration cannot be `async`: migrations are synchronous; an async app runs the \
             migrator inside `spawn_blocking`",
        ));
    }
    if !sig.generics.params.is_empty() {
        // `<...>` from the first to the last token (a plain span would cover only `<`).
        return Err(syn::Error::new_spanned(
            &sig.generics,
            "a migration cannot be generic: it is registered as one concrete function",
        ));
    }
    if let Some(clause) = &sig.generics.where_clause {
        return Err(syn::Error::new_spanned(
            clause,
            "a migration cannot have a `where` clause: it is registered as one concrete function",
        ));
    }
    let mut inputs = sig.inputs.iter();
    let Some(first) = inputs.next() else {
        return Err(syn::Error::new(
            sig.paren_token.span.join(),
            "a migration takes one parameter: `tx: &Tx`",
        ));
    };
    let extra: Vec<&FnArg> = inputs.collect();
    if !extra.is_empty() {
        let what = if extra.len() == 1 {
            "this one"
        } else {
            "these"
        };
        return Err(syn::Error::new_spanned(
            quote::quote!(#(#extra),*),
            format!("a migration takes only one parameter, `tx: &Tx`: remove {what}"),
        ));
    }
    let FnArg::Typed(param) = first else {
        return Err(syn::Error::new(
            first.span(),
            "a migration is a free function taking `tx: &Tx`, not a method",
        ));
    };
    match &*param.ty {
        Type::Reference(r) if r.mutability.is_some() => {
            return Err(syn::Error::new(
                r.mutability.span(),
                "take `&Tx`, not `&mut Tx`: the transaction handle needs no `mut`",
            ));
        }
        Type::Reference(_) => {}
        other => {
            return Err(syn::Error::new(
                other.span(),
                "the parameter must be a reference to the transaction: `tx: &Tx`",
            ));
        }
    }
    if let ReturnType::Default = sig.output {
        return Err(syn::Error::new(
            sig.paren_token.span.close(),
            "a migration returns `Result<()>`: add `-> Result<()>` and end with `Ok(())`",
        ));
    }
    Ok(())
}

/// The `up` and optional `down` functions of a migration module.
pub fn steps_of_module(module: &ItemMod) -> syn::Result<(&ItemFn, Option<&ItemFn>)> {
    let items = module.content.as_ref().map(|c| &c.1[..]).unwrap_or(&[]);
    let find = |name: &str| {
        items.iter().find_map(|item| match item {
            Item::Fn(f) if f.sig.ident == name => Some(f),
            _ => None,
        })
    };
    let Some(up) = find("up") else {
        return Err(syn::Error::new(
            module.ident.span(),
            "a migration module needs `fn up(tx: &Tx) -> Result<()>` (and may have `fn down`)",
        ));
    };
    check_signature(&up.sig)?;
    let down = find("down");
    if let Some(down) = down {
        check_signature(&down.sig)?;
    }
    Ok((up, down))
}
