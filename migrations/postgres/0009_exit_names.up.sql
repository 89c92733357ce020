-- Exits get a display name that does not give their address away (customers see it), and a
-- per-exit choice to forward destination names to the upstream instead of checked addresses.
ALTER TABLE exits ADD COLUMN forward_names INTEGER NOT NULL DEFAULT 0
    CHECK (forward_names IN (0, 1));
-- Names that were the old default, the upstream's host:port, become "CC #id".
UPDATE exits SET name = upper(country) || ' #' || CAST(id AS TEXT)
    WHERE substr(url, length(url) - length(name) + 1) = name;
