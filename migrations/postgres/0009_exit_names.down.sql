-- The renamed exits keep their new names: the old ones were only their addresses.
ALTER TABLE exits DROP COLUMN forward_names;
