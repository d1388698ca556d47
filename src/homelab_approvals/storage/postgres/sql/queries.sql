-- name: existing_objects
-- Which of our functions and triggers exist (in the schema our tables are in).
SELECT proname FROM pg_proc WHERE pronamespace = current_schema()::regnamespace
UNION ALL
SELECT tgname FROM pg_trigger WHERE NOT tgisinternal
  AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = current_schema()::regnamespace);

-- name: lock_schema
-- Held to the end of the transaction: two processes creating the schema take turns.
SELECT pg_advisory_xact_lock(hashtext('homelab_approvals.schema'));

-- name: may_write
-- Whether this role may make decisions: change actions and add to their trail. NULL
-- while our tables do not exist yet (then we create them, or fail saying why).
SELECT CASE WHEN to_regclass('remediation_actions') IS NULL
            OR to_regclass('action_events') IS NULL THEN NULL
       ELSE has_table_privilege('remediation_actions', 'UPDATE')
            AND has_table_privilege('action_events', 'INSERT') END;

-- name: change_check
-- The periodic re-check behind LISTEN, and all of polling's (--no-listen): the newest
-- action and event, and how many rows were ever written or changed (statistics, a
-- moment behind), so a change HomelabCmd makes without an event shows too, and one to
-- a table of ours with no event (a preview, live output, an executor's heartbeat).
SELECT (SELECT max(id) FROM remediation_actions),
       (SELECT max(id) FROM action_events),
       (SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables
        WHERE relname IN ('remediation_actions', 'action_events', 'servers',
                          'approval_previews', 'approval_output_chunks',
                          'approval_preview_requests', 'approval_plan_bindings',
                          'executor_claims', 'executor_heartbeats'));

-- name: listen
LISTEN homelab_approvals;

-- name: sync
-- A round trip: notifications that reached the session arrive before its answer.
SELECT 1;
