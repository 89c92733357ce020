//! The secrets sealed at rest as a whole: the data migration that seals plaintext rows (and
//! unseals them when migration 0008 is reverted), and re-sealing every value under the current
//! key after a rotation of `ATLANTIC_SECRET`.

use sqlx::any::Any;
use sqlx::{Row, Transaction};

use crate::sealing::Column;
use crate::{Db, Result, StoreError, redact_url};

/// The schema migration that introduced sealing: reverting it unseals everything first.
pub(crate) const SEALED_SECRETS_MIGRATION: i64 = 8;

/// What [`rotate`] did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rotation {
    /// Values that were sealed under an older key and now are under the current one.
    pub resealed: u64,
    /// Values that were under the current key already (left as they were).
    pub current: u64,
    /// The current key's version.
    pub version: String,
}

/// The sealed values of a column: `(row id, value)`.
fn select_sealed(column: Column) -> &'static str {
    match column {
        Column::ExitUrl => {
            "SELECT id, url_sealed AS value FROM exits WHERE url_sealed IS NOT NULL ORDER BY id"
        }
        Column::TotpSecret => {
            "SELECT id, totp_secret AS value FROM accounts WHERE totp_secret LIKE 'v1:%' \
             ORDER BY id"
        }
        Column::ProxySecret => {
            "SELECT account_id AS id, secret AS value FROM proxy_credentials \
             WHERE secret LIKE 'v1:%' ORDER BY account_id"
        }
    }
}

async fn rows(tx: &mut Transaction<'_, Any>, sql: &str) -> Result<Vec<(i64, String)>> {
    let rows = sqlx::query(sql).fetch_all(&mut **tx).await?;
    rows.iter()
        .map(|row| Ok((row.try_get("id")?, row.try_get("value")?)))
        .collect()
}

/// Stores a re-sealed value in place (the exits' sealed URL, or the secret column).
async fn store_sealed(
    tx: &mut Transaction<'_, Any>,
    column: Column,
    id: i64,
    sealed: &str,
) -> Result<()> {
    let sql = match column {
        Column::ExitUrl => "UPDATE exits SET url_sealed = $1 WHERE id = $2",
        Column::TotpSecret => "UPDATE accounts SET totp_secret = $1 WHERE id = $2",
        Column::ProxySecret => "UPDATE proxy_credentials SET secret = $1 WHERE account_id = $2",
    };
    sqlx::query(sql)
        .bind(sealed)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Seals every secret still in plaintext, in one transaction, and returns how many it sealed.
/// Run by [`Db::migrate`] after the schema migrations, so plaintext never outlives a start.
pub(crate) async fn seal_plaintext(db: &Db) -> Result<u64> {
    let keys = db.keyring();
    let mut tx = db.pool().begin().await?;
    let mut sealed = 0;
    for (column, sql) in [
        (
            Column::ProxySecret,
            "SELECT account_id AS id, secret AS value FROM proxy_credentials \
             WHERE secret NOT LIKE 'v1:%'",
        ),
        (
            Column::TotpSecret,
            "SELECT id, totp_secret AS value FROM accounts \
             WHERE totp_secret IS NOT NULL AND totp_secret NOT LIKE 'v1:%'",
        ),
    ] {
        for (id, plaintext) in rows(&mut tx, sql).await? {
            store_sealed(&mut tx, column, id, &keys.seal(column, id, &plaintext)).await?;
            sealed += 1;
        }
    }
    let exits = rows(
        &mut tx,
        "SELECT id, url AS value FROM exits WHERE url_sealed IS NULL",
    )
    .await?;
    for (id, url) in exits {
        sqlx::query("UPDATE exits SET url = $1, url_sealed = $2 WHERE id = $3")
            .bind(redact_url(&url))
            .bind(keys.seal(Column::ExitUrl, id, &url))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::conflict_as(format!(
                "exit {id} has the same URL as another exit apart from its password: remove one \
                 of them (`atlantic upstream remove`) and start again"
            )))?;
        sealed += 1;
    }
    tx.commit().await?;
    Ok(sealed)
}

/// Writes every sealed secret back as plaintext (exits' URLs back into `url`), in one
/// transaction; returns how many. Run before migration 0008 is reverted.
pub(crate) async fn unseal_all(db: &Db) -> Result<u64> {
    let keys = db.keyring();
    let mut tx = db.pool().begin().await?;
    let mut unsealed = 0;
    for column in Column::ALL {
        for (id, sealed) in rows(&mut tx, select_sealed(column)).await? {
            let plaintext = keys.open(column, id, &sealed)?;
            match column {
                Column::ExitUrl => {
                    sqlx::query("UPDATE exits SET url = $1, url_sealed = NULL WHERE id = $2")
                        .bind(plaintext)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                _ => store_sealed(&mut tx, column, id, &plaintext).await?,
            }
            unsealed += 1;
        }
    }
    tx.commit().await?;
    Ok(unsealed)
}

/// Re-seals, in one transaction, every value sealed under an older key (one of
/// `ATLANTIC_SECRET_PREVIOUS`) under the current key. Afterwards the previous secrets are no
/// longer needed. Fails, changing nothing, if any value opens under no configured key.
pub async fn rotate(db: &Db) -> Result<Rotation> {
    let keys = db.keyring();
    let mut tx = db.pool().begin().await?;
    let mut rotation = Rotation {
        resealed: 0,
        current: 0,
        version: keys.version().to_owned(),
    };
    for column in Column::ALL {
        for (id, sealed) in rows(&mut tx, select_sealed(column)).await? {
            // Opened even when current: a rotation proves every value still opens.
            let plaintext = keys.open(column, id, &sealed)?;
            if !keys.is_stale(&sealed) {
                rotation.current += 1;
                continue;
            }
            store_sealed(&mut tx, column, id, &keys.seal(column, id, &plaintext)).await?;
            rotation.resealed += 1;
        }
    }
    tx.commit().await?;
    Ok(rotation)
}
