//! Confirmation before changes that lose data: asked on a terminal, refused without one unless
//! `--yes` was given.

use std::io::{BufRead, Write};

/// True when the user agreed (or passed `--yes`).
///
/// ```
/// assert!(migrate_core::cli::confirm::confirmed(true, "revert the last migration"));
/// ```
pub fn confirmed(yes: bool, what: &str) -> bool {
    if yes {
        return true;
    }
    if !super::interactive() {
        eprintln!(
            "refused: this would {what}. Not on a terminal, so nobody can confirm: pass --yes to \
             go ahead. Nothing was changed."
        );
        return false;
    }
    eprint!("This will {what}. Type yes to go on: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let read = std::io::stdin().lock().read_line(&mut answer);
    let agreed = read.is_ok() && answer.trim().eq_ignore_ascii_case("yes");
    if !agreed {
        eprintln!("refused: not confirmed. Nothing was changed.");
    }
    agreed
}
