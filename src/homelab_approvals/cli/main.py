"""Entry point for `homelab-approvals` and `python -m homelab_approvals`.

This is the one place that turns failures into exit statuses: every error, expected or not,
ends as a single `error: CODE: message` line on stderr, never a traceback.

Little is imported at the top: a decision the fast path can make (cli/fast.py), and a
read it can do (cli/fast_reads.py), never loads argparse, the commands or SQLAlchemy;
--help, --version and usage errors never load the commands or SQLAlchemy."""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence

from homelab_approvals.domain.errors import ApprovalsError


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit status (see `homelab-approvals --help`)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    _tolerate_unencodable_output()
    # Until the command line is parsed, guess --json from the words, so that even a usage
    # error reaches a JSON-reading script as JSON.
    as_json = "--json" in args_list[: _end_of_options(args_list)]
    try:
        from homelab_approvals.cli.fast import run_fast

        status = run_fast(args_list)  # None: not its case, and nothing was changed
        if status is None:
            from homelab_approvals.cli.fast_reads import run_read

            status = run_read(args_list)  # list, show, events, servers; None as above
        if status is None:
            from homelab_approvals.cli.parser import build_parser

            try:
                args = build_parser().parse(args_list)
            except SystemExit as done:  # --help and --version print, then exit 0
                return done.code if isinstance(done.code, int) else 0
            as_json = bool(getattr(args, "json", False))
            from homelab_approvals.cli.commands import dispatch

            status = dispatch(args)
        if sys.stdout is not None:  # None: fd 1 was closed before we started
            sys.stdout.flush()
        return status
    except ApprovalsError as error:
        from homelab_approvals.cli.errors import report

        return report(error, as_json=as_json)
    except KeyboardInterrupt:
        from homelab_approvals.cli.errors import Interrupted, report

        return report(Interrupted("interrupted"), as_json=as_json)
    except BrokenPipeError:
        # The reader left (`homelab-approvals list | head`); there is nobody to tell.
        from homelab_approvals.cli.errors import EXIT_ERROR
        from homelab_approvals.cli.results import discard_stdout

        discard_stdout()
        return EXIT_ERROR
    except Exception as error:
        from homelab_approvals.cli.errors import InternalError, report

        kind = type(error).__name__
        message = f"unexpected {kind}: {error} (this is a bug; please report it)"
        return report(InternalError(message), as_json=as_json)


def _end_of_options(words: list[str]) -> int:
    return words.index("--") if "--" in words else len(words)


def _tolerate_unencodable_output() -> None:
    """On a terminal whose encoding lacks a character (say, a Latin-1 locale and "␛"),
    print an escape instead of failing."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")


if __name__ == "__main__":
    raise SystemExit(main())
