-- name: missing_foreign_key_parents
-- Tables that our tables (:our_tables, a list of quoted names filled in by the caller)
-- reference but that do not exist. SQLite table names are case-insensitive, hence lower().
SELECT DISTINCT fk."table"
FROM sqlite_master AS m, pragma_foreign_key_list(m.name) AS fk
WHERE m.type = 'table' AND m.name IN (:our_tables)
AND lower(fk."table") NOT IN (SELECT lower(name) FROM sqlite_master WHERE type = 'table');
