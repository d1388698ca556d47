"""The version of our own tables, importable without SQLAlchemy (the console's first
window checks it before SQLAlchemy is loaded; schema.py brings databases up to it)."""

#: The version of our own tables (action_events, approvals_schema, triggers) this code knows.
#: 2: the preview tables (approval_previews, approval_plan_bindings, approval_output_chunks).
#: 3: action_events.command (the command an approval approved), executor_claims and
#: executor_heartbeats (storage/execution_tables.py).
SCHEMA_VERSION = 3
