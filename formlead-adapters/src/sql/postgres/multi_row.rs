//! Multi-row `INSERT … VALUES (…), (…)` text with numbered placeholders,
//! in a few fixed sizes so the prepared-statement cache stays small.

/// `prefix` + `rows` groups of `width` placeholders + `suffix`.
pub(crate) fn multi_row(prefix: &str, width: usize, rows: usize, suffix: &str) -> String {
    let mut sql = String::with_capacity(prefix.len() + rows * width * 5 + suffix.len());
    sql.push_str(prefix);
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..width {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&(r * width + c + 1).to_string());
        }
        sql.push(')');
    }
    sql.push_str(suffix);
    sql
}

/// Splits into chunks of 128, 32, 8, 2 and 1 (greedy), so only five statement
/// shapes per table reach the prepared-statement cache.
pub(crate) fn chunks<T>(items: &[T]) -> Vec<&[T]> {
    let mut out = Vec::new();
    let mut rest = items;
    while !rest.is_empty() {
        let size = [128, 32, 8, 2, 1]
            .into_iter()
            .find(|s| *s <= rest.len())
            .unwrap_or(1);
        let (head, tail) = rest.split_at(size);
        out.push(head);
        rest = tail;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunking_and_placeholders() {
        let v: Vec<u32> = (0..101).collect();
        let sizes: Vec<usize> = chunks(&v).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, vec![32, 32, 32, 2, 2, 1], "101 = 3 × 32 + 2 × 2 + 1");
        assert_eq!(
            multi_row("INSERT INTO t VALUES ", 2, 2, " X"),
            "INSERT INTO t VALUES ($1, $2), ($3, $4) X"
        );
    }
}
