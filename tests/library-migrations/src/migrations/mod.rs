//! One file per migration, named after its seq and name. A migration in a file of its own
//! carries the attribute on its `fn` (or on an inline `mod` inside the file): attributes on a
//! `mod name;` declaration are unstable.

mod m0001_create_books;
mod m0002_add_isbn;
mod m0003_require_isbn;
