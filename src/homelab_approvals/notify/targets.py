"""A notification target, as `[[notify]]` in the config describes it."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from homelab_approvals.domain.notices import NoticeKind
from homelab_approvals.service.config import NotifyConfig

Format = Literal["ntfy", "slack", "json"]


@dataclass(frozen=True, slots=True)
class Target:
    url: str
    format: Format
    on: frozenset[NoticeKind]

    @property
    def key(self) -> str:
        """The target's name in `notify_cursors`: a digest, since a webhook URL is a
        secret. Changing the URL or the format makes a new target."""
        digest = hashlib.sha256(f"{self.format} {self.url}".encode()).hexdigest()
        return f"{self.format}:{digest[:32]}"

    @property
    def shown(self) -> str:
        """For messages: the scheme and host only (the path may hold a token)."""
        scheme, _, rest = self.url.partition("://")
        host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
        return f"{self.format} target {scheme}://{host}"


def targets_from(configured: Sequence[NotifyConfig]) -> list[Target]:
    """The config's `[[notify]]` tables (already checked) as targets."""
    return [
        Target(item.url, item.format, frozenset(NoticeKind(kind) for kind in item.on))
        for item in configured
    ]
