//! Comparing what a manifest says a backup holds with what a copy of it holds (the SQLite
//! file itself, or the database restored into), table by table.

use store::backup::Census;

/// One table's comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCheck {
    /// The table.
    pub table: String,
    /// Rows the manifest counts.
    pub expected_rows: i64,
    /// Rows found; `None` when the table is missing.
    pub found_rows: Option<i64>,
    /// Whether the key checksums are equal.
    pub keys_match: bool,
}

impl TableCheck {
    /// Whether the table came through whole.
    pub fn ok(&self) -> bool {
        self.found_rows == Some(self.expected_rows) && self.keys_match
    }

    /// One line for the report: `accounts rows=1000 keys=match` or what differs.
    pub fn line(&self) -> String {
        match self.found_rows {
            None => format!(
                "{} missing (manifest: {} rows)",
                self.table, self.expected_rows
            ),
            Some(found) => format!(
                "{} rows={found}{} keys={}",
                self.table,
                if found == self.expected_rows {
                    String::new()
                } else {
                    format!(" (manifest: {})", self.expected_rows)
                },
                if self.keys_match { "match" } else { "DIFFER" }
            ),
        }
    }
}

/// Every table of `expected` checked against `found`, in name order.
pub fn tables(expected: &Census, found: &Census) -> Vec<TableCheck> {
    expected
        .tables
        .iter()
        .map(|(table, want)| {
            let got = found.tables.get(table);
            TableCheck {
                table: table.clone(),
                expected_rows: want.rows,
                found_rows: got.map(|g| g.rows),
                keys_match: got.is_some_and(|g| {
                    g.key_sha256 == want.key_sha256 && g.key_columns == want.key_columns
                }),
            }
        })
        .collect()
}

/// The checks that failed, as one message naming them, or `None` when all passed.
pub fn failures(checks: &[TableCheck]) -> Option<String> {
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| !c.ok())
        .map(TableCheck::line)
        .collect();
    (!failed.is_empty()).then(|| failed.join("; "))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use store::backup::TableCensus;

    use super::*;

    fn census(tables: &[(&str, i64, &str)]) -> Census {
        Census {
            migration_version: Some(10),
            tables: tables
                .iter()
                .map(|(name, rows, sha)| {
                    (
                        (*name).to_owned(),
                        TableCensus {
                            rows: *rows,
                            key_columns: vec!["id".to_owned()],
                            key_sha256: (*sha).to_owned(),
                        },
                    )
                })
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn equal_censuses_pass_and_differences_are_named() {
        let manifest = census(&[("accounts", 3, "aa"), ("plans", 5, "bb")]);
        assert_eq!(failures(&tables(&manifest, &manifest)), None);

        let short = census(&[("accounts", 2, "ab"), ("plans", 5, "bb")]);
        let message = failures(&tables(&manifest, &short)).expect("a difference");
        assert_eq!(message, "accounts rows=2 (manifest: 3) keys=DIFFER");

        let other_keys = census(&[("accounts", 3, "zz"), ("plans", 5, "bb")]);
        let message = failures(&tables(&manifest, &other_keys)).expect("a difference");
        assert_eq!(message, "accounts rows=3 keys=DIFFER");

        let missing = census(&[("accounts", 3, "aa")]);
        let message = failures(&tables(&manifest, &missing)).expect("a difference");
        assert_eq!(message, "plans missing (manifest: 5 rows)");
    }
}
