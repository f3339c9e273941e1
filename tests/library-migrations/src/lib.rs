//! A library crate that owns migrations, in the set `"library"`, one file per migration.
//!
//! A binary finds them only if it links this crate, e.g. with `use library_migrations as _;`:
//! a dependency that no code references registers nothing.

pub mod migrations;
