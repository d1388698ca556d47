-- Our schema objects on PostgreSQL (14 or later: CREATE OR REPLACE TRIGGER), created in this order by whichever is missing (under
-- the advisory lock, see backend.py). Each is named by the object it creates.

-- The audit trail is append-only, enforced by the server whoever the client is.
-- name: approvals_refuse_change
CREATE OR REPLACE FUNCTION approvals_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'restrict_violation',
    MESSAGE = 'action_events is append-only (' || TG_OP || ' refused)';
END
$$;

-- name: action_events_append_only
CREATE OR REPLACE TRIGGER action_events_append_only BEFORE UPDATE OR DELETE ON action_events
FOR EACH ROW EXECUTE FUNCTION approvals_refuse_change();

-- name: action_events_no_truncate
CREATE OR REPLACE TRIGGER action_events_no_truncate BEFORE TRUNCATE ON action_events
FOR EACH STATEMENT EXECUTE FUNCTION approvals_refuse_change();

-- The change feed: every change to an action (ours or HomelabCmd's) or its trail
-- notifies listening consoles, with the action's id. Sent at commit, once per
-- distinct id per transaction.
-- name: approvals_notify
CREATE OR REPLACE FUNCTION approvals_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'action_events' THEN
    PERFORM pg_notify('homelab_approvals', NEW.action_id::text);
  ELSIF TG_TABLE_NAME = 'servers' THEN
    PERFORM pg_notify('homelab_approvals', 'server');
  ELSE
    PERFORM pg_notify('homelab_approvals', NEW.id::text);
  END IF;
  RETURN NULL;
END
$$;

-- name: remediation_actions_notify
CREATE OR REPLACE TRIGGER remediation_actions_notify AFTER INSERT OR UPDATE ON remediation_actions
FOR EACH ROW EXECUTE FUNCTION approvals_notify();

-- name: action_events_notify
CREATE OR REPLACE TRIGGER action_events_notify AFTER INSERT ON action_events
FOR EACH ROW EXECUTE FUNCTION approvals_notify();

-- name: servers_notify
CREATE OR REPLACE TRIGGER servers_notify AFTER INSERT OR UPDATE ON servers
FOR EACH ROW EXECUTE FUNCTION approvals_notify();

-- A run's live output, a new preview and a request for one belong to an action too: a
-- `show --follow`, the console's detail and a waiting executor are told at once, as
-- SQLite's data_version tells them of any commit. A function of its own (not a new branch
-- in approvals_notify): a database made before these triggers gets both, never an old
-- approvals_notify beside them.
-- name: approvals_notify_action
CREATE OR REPLACE FUNCTION approvals_notify_action() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('homelab_approvals', NEW.action_id::text);
  RETURN NULL;
END
$$;

-- name: approval_output_chunks_notify
CREATE OR REPLACE TRIGGER approval_output_chunks_notify AFTER INSERT ON approval_output_chunks
FOR EACH ROW EXECUTE FUNCTION approvals_notify_action();

-- name: approval_previews_notify
CREATE OR REPLACE TRIGGER approval_previews_notify AFTER INSERT ON approval_previews
FOR EACH ROW EXECUTE FUNCTION approvals_notify_action();

-- name: approval_preview_requests_notify
CREATE OR REPLACE TRIGGER approval_preview_requests_notify
AFTER INSERT ON approval_preview_requests
FOR EACH ROW EXECUTE FUNCTION approvals_notify_action();

-- An executor's heartbeats and claims, and the plan an approval was bound to: the
-- console shows them ("no executor", a run's age, the bound plan), and on SQLite any
-- commit moves the change token. Once per statement, by table name (a heartbeat has no
-- action; the feed only counts notifications).
-- name: approvals_notify_change
CREATE OR REPLACE FUNCTION approvals_notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('homelab_approvals', TG_TABLE_NAME);
  RETURN NULL;
END
$$;

-- name: executor_heartbeats_notify
CREATE OR REPLACE TRIGGER executor_heartbeats_notify
AFTER INSERT OR UPDATE OR DELETE ON executor_heartbeats
FOR EACH STATEMENT EXECUTE FUNCTION approvals_notify_change();

-- name: executor_claims_notify
CREATE OR REPLACE TRIGGER executor_claims_notify
AFTER INSERT OR UPDATE OR DELETE ON executor_claims
FOR EACH STATEMENT EXECUTE FUNCTION approvals_notify_change();

-- name: approval_plan_bindings_notify
CREATE OR REPLACE TRIGGER approval_plan_bindings_notify
AFTER INSERT ON approval_plan_bindings
FOR EACH STATEMENT EXECUTE FUNCTION approvals_notify_change();
