"""The Textual console. `homelab_approvals.tui.app.run_console` is its entry point.

Layout: `app` (the App and run_console), `console` (the main screen: bindings, decisions,
view changes), `live` (the polling thread and its messages), `table` (the diffing
DataTable, with its marks), `detail`, `topbar`, `reject` (the reason modal), `bulk` (A and
R on marked rows: the confirmation and the result), `help`, `commands` (the command
palette), `keys` (every binding), `signals` (SIGTERM and SIGHUP end it cleanly) and
`formatting` (how a view becomes inert Rich text). Styles live in the top-level styles/
folder.
"""
