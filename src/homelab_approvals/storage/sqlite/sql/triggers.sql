-- The audit trail is append-only in the database itself: even a hand-typed sqlite3
-- session cannot rewrite or erase history. REPLACE (INSERT OR REPLACE, or an UPSERT's
-- conflict path) deletes the old row without firing DELETE triggers unless
-- recursive_triggers is on, so an INSERT that reuses an existing id is refused as well.
-- Each is named by its trigger's name: ensure_schema creates whichever is missing.

-- name: action_events_no_replace
CREATE TRIGGER IF NOT EXISTS action_events_no_replace BEFORE INSERT ON action_events
WHEN EXISTS (SELECT 1 FROM action_events WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'action_events is append-only'); END;

-- name: action_events_no_update
CREATE TRIGGER IF NOT EXISTS action_events_no_update BEFORE UPDATE ON action_events
BEGIN SELECT RAISE(ABORT, 'action_events is append-only'); END;

-- name: action_events_no_delete
CREATE TRIGGER IF NOT EXISTS action_events_no_delete BEFORE DELETE ON action_events
BEGIN SELECT RAISE(ABORT, 'action_events is append-only'); END;
