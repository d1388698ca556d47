"""A notification target, as `[[notify]]` in the config describes it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from homelab_approvals.domain.notices import NoticeKind

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
