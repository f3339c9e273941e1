//! Signature checks with narrow spans. Types are checked by the compiler afterwards (the
//! expansion coerces each step to the backend's step type); these catch what a type error would
//! explain badly.

use crate::backend::Backend;
use syn::spanned::Spanned;
use syn::{FnArg, Item, ItemFn, ItemMod, ReturnType, Signature, Type};

pub fn check_signature(sig: &Signature, backend: &Backend) -> syn::Result<()> {
    let wanted = backend.param();
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
            format!("a migration takes one parameter: `{wanted}`"),
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
            format!("a migration takes only one parameter, `{wanted}`: remove {what}"),
        ));
    }
    let FnArg::Typed(param) = first else {
        return Err(syn::Error::new(
            first.span(),
            format!("a migration is a free function taking `{wanted}`, not a method"),
        ));
    };
    match &*param.ty {
        Type::Reference(r) if r.mutability.is_some() && !backend.mut_tx => {
            return Err(syn::Error::new(
                r.mutability.span(),
                "take `&Tx`, not `&mut Tx`: the transaction handle needs no `mut`",
            ));
        }
        Type::Reference(r) if r.mutability.is_none() && backend.mut_tx => {
            return Err(syn::Error::new(
                r.and_token.span,
                "take `&mut Tx`, not `&Tx`: the PostgreSQL client's calls need `&mut`",
            ));
        }
        Type::Reference(_) => {}
        other => {
            return Err(syn::Error::new(
                other.span(),
                format!("the parameter must be a reference to the transaction: `{wanted}`"),
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
pub fn steps_of_module<'m>(
    module: &'m ItemMod,
    backend: &Backend,
) -> syn::Result<(&'m ItemFn, Option<&'m ItemFn>)> {
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
            format!(
                "a migration module needs `fn up({}) -> Result<()>` (and may have `fn down`)",
                backend.param()
            ),
        ));
    };
    check_signature(&up.sig, backend)?;
    let down = find("down");
    if let Some(down) = down {
        check_signature(&down.sig, backend)?;
    }
    Ok((up, down))
}
