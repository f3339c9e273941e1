//! A line diff for the snapshot message: what a reviewer would see in `git diff`.

/// Lines differ this many at most before the diff gives up aligning them (quadratic table).
const MAX_CELLS: usize = 4_000_000;

/// The lines of `old` and `new` as a diff: `-` removed, `+` added, two lines of context
/// around each change, `…` for the unchanged lines in between.
///
/// ```
/// use migrate_core::harness::line_diff;
/// let diff = line_diff("a\nb\nc\n", "a\nB\nc\n");
/// assert_eq!(diff, " a\n-b\n+B\n c\n");
/// ```
pub fn line_diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    if a.len().saturating_mul(b.len()) > MAX_CELLS {
        let mut out: String = a.iter().map(|l| format!("-{l}\n")).collect();
        out.extend(b.iter().map(|l| format!("+{l}\n")));
        return out;
    }
    let ops = align(&a, &b);
    let changed: Vec<bool> = ops.iter().map(|(mark, _)| *mark != ' ').collect();
    let near_change = |i: usize| {
        let from = i.saturating_sub(2);
        let to = (i + 3).min(ops.len());
        changed[from..to].iter().any(|c| *c)
    };
    let mut out = String::new();
    let mut skipped = false;
    for (i, (mark, line)) in ops.iter().enumerate() {
        if near_change(i) {
            out.push_str(&format!("{mark}{line}\n"));
            skipped = false;
        } else if !skipped {
            out.push_str("…\n");
            skipped = true;
        }
    }
    out
}

/// Longest common subsequence alignment: (' ' | '-' | '+', line).
fn align<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<(char, &'a str)> {
    let (n, m) = (a.len(), b.len());
    // common[i][j]: length of the LCS of a[i..] and b[j..].
    let mut common = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            common[i][j] = if a[i] == b[j] {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut ops = Vec::with_capacity(n + m);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            ops.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || common[i + 1][j] >= common[i][j + 1]) {
            // Removed lines first, as `diff -u` prints them.
            ops.push(('-', a[i]));
            i += 1;
        } else {
            ops.push(('+', b[j]));
            j += 1;
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::line_diff;

    #[test]
    fn far_unchanged_lines_are_elided_and_changes_keep_their_order() {
        let old = "1\n2\n3\n4\n5\n6\n7\n8\n";
        let new = "1\n2\n3\n4\n5\n6\n7\nEIGHT\nnine\n";
        assert_eq!(line_diff(old, new), "…\n 6\n 7\n-8\n+EIGHT\n+nine\n");
        assert_eq!(line_diff("", "x\n"), "+x\n");
        assert_eq!(line_diff("same\n", "same\n"), "…\n");
    }
}
