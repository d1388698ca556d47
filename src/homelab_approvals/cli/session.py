"""What a command needs (config, actor, database), built lazily and in a safe order.

A command checks its own input first, then touches `session.service`: the config is read,
then the database is opened, once. So bad input never creates or opens a database, and
`--help` or a usage error never pays for importing SQLAlchemy (nor does the console's
first screen: see `tui.app.console_app`)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from homelab_approvals.cli.errors import report_line
from homelab_approvals.domain.enums import AUDIT_RESTORED
from homelab_approvals.domain.errors import ConfigError
from homelab_approvals.service.availability import decisions_off_reason
from homelab_approvals.service.config import CONFIG_ENV, Config, load_config, resolve_config_path
from homelab_approvals.service.identity import resolve_actor
from homelab_approvals.service.policy import Policy
from homelab_approvals.storage.paths import resolve_db_path

if TYPE_CHECKING:
    from homelab_approvals.service import ApprovalService
    from homelab_approvals.storage import Database


class Session:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.db: Database | None = None
        self._service: ApprovalService | None = None
        self._actor: str | None = None
        self.config_path = resolve_config_path(args.config)

    @property
    def actor(self) -> str:
        """--operator, else the OS account name. SSH_ORIGINAL_COMMAND is never consulted:
        under a forced command the operator name comes from the key, not the client."""
        if self._actor is None:
            self._actor = resolve_actor(self.args.operator)
        return self._actor

    @property
    def service(self) -> ApprovalService:
        if self._service is None:
            from homelab_approvals.service import ApprovalService

            config = self.load_config()
            self.db = open_from_args(self.args)
            self._service = ApprovalService(
                self.db, config.policy, preview_settings=config.preview.settings
            )
        return self._service

    def load_policy(self) -> Policy:
        return self.load_config().policy

    def load_config(self) -> Config:
        # A config file someone named explicitly must exist: a typo in --config (say, in
        # an SSH forced command) must not silently drop the approvers list.
        explicit = self.args.config or os.environ.get(CONFIG_ENV)
        if explicit and not self.config_path.exists():
            raise ConfigError(f"config file not found: {self.config_path}")
        return load_config(self.config_path)

    def console_read_only_reason(self) -> str | None:
        """Why the console must not offer decisions, or None when it may."""
        service = self.service
        return decisions_off_reason(
            service.db, self.actor, service.policy, config_path=self.config_path
        )

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None


def open_from_args(args: argparse.Namespace, path: Path | None = None) -> Database:
    """Open the database the global options name (or `path`, when given)."""
    from homelab_approvals.storage import open_database

    if args.database_url:
        db = open_database(
            url=args.database_url, read_only=args.read_only, listen=not args.no_listen
        )
    else:
        db = open_database(
            path or resolve_db_path(args.db),
            read_only=args.read_only,
            group_shared=args.group_shared,
        )
    if db.audit_repairs:  # a console shows its own banner; a command says it once here
        report_line(f"warning: {AUDIT_RESTORED} ({'; '.join(db.audit_repairs)}): {db.label}")
    return db
