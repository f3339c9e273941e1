//! The app's migrations, one file each. Every file registers itself with `#[migration]`;
//! nothing here lists them.

mod m0001_create_notebooks;
mod m0002_create_notes;
mod m0003_create_tags;
mod m0004_default_notebook;
mod m0005_require_note_titles;
mod m0006_index_notes_by_date;
mod m0007_pin_notes;
