"""The Textual console. `homelab_approvals.tui.app.console_app` builds it for the CLI.

Layout: `app` (the App, `console_app`, `run_app`, `run_console`), `startup` (the deferred
start: the first window is drawn from a read without SQLAlchemy, see
storage/first_window.py, and the database is opened after it), `collector` (the garbage
collector held off while starting), `console` (the main screen: bindings, decisions,
view changes), `live` (the polling thread and its messages), `table` (the diffing
table, a ScrollView of our own, with its marks), `detail`, `topbar`, `reject` (the reason
modal), `bulk` (A and R on marked rows: the confirmation and the result), `help`,
`commands` (the command palette), `keys` (every binding), `signals` (SIGTERM and SIGHUP
end it cleanly) and `formatting` (how a view becomes inert Rich text). Styles live in the
top-level styles/ folder.
"""
