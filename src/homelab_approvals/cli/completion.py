"""`homelab-approvals completion bash|zsh`: a completion script generated from the one
argparse grammar (cli/parser.py) by shtab, so it never drifts from the real options.

shtab is imported only here (about 0.1 s): no other command pays for it."""

from __future__ import annotations

import shtab

from homelab_approvals.cli.parser import build_parser


def script(shell: str) -> str:
    """The completion script for `shell` ("bash" or "zsh")."""
    parser = build_parser(path_completion=shtab.FILE)
    return str(shtab.complete(parser, shell=shell))
