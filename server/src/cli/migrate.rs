//! `atlantic migrate [--revert]`.

use store::Db;

/// Applies every pending migration, or reverts the newest applied one.
pub async fn run(db: &Db, revert: bool) -> anyhow::Result<()> {
    if revert {
        match db.revert_last().await? {
            Some(version) => eprintln!("reverted migration {version}"),
            None => eprintln!("no migration to revert"),
        }
    } else {
        let pending = db.pending_migrations().await?;
        db.migrate().await?;
        eprintln!(
            "applied {pending} migration(s); the {} database is up to date",
            db.backend()
        );
    }
    Ok(())
}
