"""The Textual console. `homelab_approvals.tui.app.run_console` is its entry point.

Layout: `app` (the App and run_console), `console` (the main screen: bindings, decisions,
view changes), `live` (the polling thread and its messages), `table` (the diffing
DataTable), `detail`, `topbar`, `reject` (the reason modal), `help`, `commands` (the
command palette) and `formatting` (how a view becomes inert Rich text). Styles live in
the top-level styles/ folder.
"""
