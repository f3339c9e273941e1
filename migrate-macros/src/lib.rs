//! `#[migration(...)]`: registers a Rust function (or a module with `up` and `down`) as a
//! database migration. Use it through a backend crate, e.g. `migrate_sqlite::migration`, whose
//! documentation has the examples.
//!
//! Stages, one per file: `attr` parses the arguments, `ast` the item, `valid` checks the
//! signatures, `checksum` hashes the code, `expand` writes the registration.

#![warn(missing_docs)]

mod ast;
mod attr;
mod backend;
mod checksum;
mod expand;
mod valid;

use proc_macro::TokenStream;

/// Registers a migration. See the backend crate's documentation (`migrate_sqlite::migration`)
/// for the keys and examples.
#[proc_macro_attribute]
pub fn migration(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::migration_or_error(args.into(), item.into(), &backend::SQLITE).into()
}

/// Registers a PostgreSQL migration: the same keys and checks as [`macro@migration`], with
/// `::migrate_postgres` as the default crate and `fn(tx: &mut Tx) -> Result<()>` steps. Use it
/// as `migrate_postgres::migration`, whose documentation has the examples.
#[proc_macro_attribute]
pub fn postgres_migration(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::migration_or_error(args.into(), item.into(), &backend::POSTGRES).into()
}
