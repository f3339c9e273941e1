//! What differs between the backends' `#[migration]` entry points: the crate the generated code
//! names by default, and how the step takes its transaction handle. Everything else (parsing,
//! validation, checksum, expansion) is shared.

use syn::Path;

/// One backend's conventions.
pub struct Backend {
    /// The crate `#[migration]` expands to when the attribute has no `crate = ...` key.
    pub default_crate: fn() -> Path,
    /// The parameter the step takes: `&Tx` (SQLite: rusqlite needs no `&mut`) or `&mut Tx`
    /// (PostgreSQL: the `postgres` client's calls take `&mut self`).
    pub mut_tx: bool,
}

/// `migrate_sqlite::migration`.
pub const SQLITE: Backend = Backend {
    default_crate: || syn::parse_quote!(::migrate_sqlite),
    mut_tx: false,
};

/// `migrate_postgres::migration`.
pub const POSTGRES: Backend = Backend {
    default_crate: || syn::parse_quote!(::migrate_postgres),
    mut_tx: true,
};

impl Backend {
    /// The parameter as the user writes it, for messages.
    pub fn param(&self) -> &'static str {
        if self.mut_tx {
            "tx: &mut Tx"
        } else {
            "tx: &Tx"
        }
    }
}
