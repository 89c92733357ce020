-- Backups taken by `atlantic backup create`, usually a separate process (a cron job or a
-- systemd timer): the serving process reads the newest row to export when the last backup
-- succeeded and how big it was. The backup files and their manifests are the record of what
-- a backup holds; this table only says that one was taken.
CREATE TABLE backups (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at INTEGER NOT NULL,
    file       TEXT    NOT NULL,
    size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),
    sha256     TEXT    NOT NULL CHECK (length(sha256) = 64)
);
CREATE INDEX backups_created_at_idx ON backups (created_at);
