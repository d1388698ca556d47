"""One notice as the body of an HTTP POST, per target format.

Every string from the database is data: made inert with `visible()` (control and
invisible characters replaced), then escaped for the format. Slack: `&`, `<` and `>` as
entities, so `<!channel>` in a service name is text and pings nobody, and its mrkdwn is
off. ntfy: published as JSON with markdown off (the default), so `*x*` or `[a](b)`
arrives as typed; the title is a JSON field, never a header, so nothing can be smuggled
into the request. json: plain JSON, every non-ASCII character escaped."""

from __future__ import annotations

import json
from dataclasses import dataclass

from homelab_approvals.domain.notices import Notice, NoticeKind
from homelab_approvals.domain.text import visible
from homelab_approvals.notify.targets import Target

USER_AGENT = "homelab-approvals"
ID_HEADER = "X-Homelab-Approvals-Id"

_TITLES = {
    NoticeKind.PENDING: "Waiting for approval",
    NoticeKind.FAILED: "Failed",
    NoticeKind.EXPIRED: "Expired",
}
# ntfy priorities: 3 default, 4 high.
_NTFY_PRIORITY = {NoticeKind.PENDING: 4, NoticeKind.FAILED: 4, NoticeKind.EXPIRED: 3}
_NTFY_TAGS = {
    NoticeKind.PENDING: ["hourglass_flowing_sand"],
    NoticeKind.FAILED: ["x"],
    NoticeKind.EXPIRED: ["alarm_clock"],
}


@dataclass(frozen=True, slots=True)
class Message:
    url: str
    body: bytes
    headers: dict[str, str]


def title(notice: Notice) -> str:
    return visible(f"{_TITLES[notice.kind]}: {notice.summary} on {notice.server}")


def lines(notice: Notice) -> list[str]:
    """The notice for a person, one inert line each."""
    out = [f"#{notice.action_id} {notice.summary} on {notice.server}"]
    if notice.command:
        out.append(f"command: {notice.command}")
    if notice.kind is NoticeKind.PENDING:
        out.append(f"proposed by {notice.actor}")
    elif notice.kind is NoticeKind.FAILED:
        out.append(f"exit code {notice.exit_code}")
        tail = notice.stderr_tail()
        if tail:
            out.append("stderr (last lines):")
            out.extend(f"  {line}" for line in tail)
    elif notice.reason:
        out.append(notice.reason)
    return [visible(line) for line in out]


def slack_escape(text: str) -> str:
    """Slack's three control characters, as its docs ask: the rest is left alone."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render(notice: Notice, target: Target) -> Message:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        ID_HEADER: notice.message_id,
    }
    if target.format == "slack":
        text = "\n".join([f"{title(notice)}", *lines(notice)])
        payload: dict[str, object] = {"text": slack_escape(text), "mrkdwn": False}
        return Message(target.url, _json(payload), headers)
    if target.format == "ntfy":
        # ntfy's JSON publishing: POST to the server's root, the topic in the body.
        base, _, topic = target.url.rstrip("/").rpartition("/")
        payload = {
            "topic": topic,
            "title": title(notice),
            "message": "\n".join(lines(notice)),
            "priority": _NTFY_PRIORITY[notice.kind],
            "tags": _NTFY_TAGS[notice.kind],
            "markdown": False,
        }
        return Message(base + "/", _json(payload), headers)
    return Message(target.url, _json(as_json(notice)), headers)


def as_json(notice: Notice) -> dict[str, object]:
    """The json format: the event, the action, its server and command, and who."""
    return {
        "id": notice.message_id,
        "event": notice.kind.value,
        "at": notice.at.isoformat(),
        "who": notice.actor,
        "reason": notice.reason,
        "action": {
            "id": notice.action_id,
            "type": notice.action_type,
            "service": notice.service_name,
            "status": notice.status,
            "command": notice.command,
            "exit_code": notice.exit_code,
            "stderr_tail": notice.stderr_tail() if notice.kind is NoticeKind.FAILED else [],
        },
        "server": {"id": notice.server_id, "label": notice.server_label},
    }


def _json(payload: dict[str, object]) -> bytes:
    return json.dumps(payload, ensure_ascii=True).encode("ascii")
