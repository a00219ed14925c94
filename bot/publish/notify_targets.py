"""Where notifications go: the targets a watchlist names, shown without their secrets, and the
sending to each.

A target is stored and shown by its key, never by its URL: the Apprise URL as Apprise's privacy
mode shows it (``url(privacy=True)``: passwords and tokens masked), cut at its query, whose
defaults change between Apprise versions; ``env:NAME`` for a URL with its secret in that
environment variable; ``tag:NAME <masked URL>`` for each entry of the Apprise config file
(``[notify] config``) with that tag. The URL itself is found again only when sending: in the
watchlist, the environment or the config file.

Webhooks (``json://``, ``jsons://``) are POSTed here with httpx, not by Apprise: Apprise's JSON
service wraps the text in an envelope of its own (``{"version": "1.0", "title", "message",
"type"}``), so it could carry neither the versioned body per match nor a signature over exactly
the bytes sent. Their URLs are still Apprise's, parsed by Apprise (host, port, path,
``user:password@``, ``+Header=value``). Every other URL is sent by Apprise.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import unquote

import httpx

from bot import __version__
from bot.config import Config
from bot.errors import BotError
from bot.match.watchlists import Watchlist

WEBHOOK_SCHEMES = ("json", "jsons")
SIGNATURE_HEADER = "X-Referatvagt-Signature"
TIMEOUT = 30.0  # seconds for a webhook's answer; Apprise's services keep their own timeouts


class NotifyError(BotError):
    """A notification could not be sent; the message names the target by its key only."""


@dataclass(frozen=True)
class Target:
    """One place a watchlist's notifications go. Only ``key`` is ever shown or stored."""

    key: str
    url: str | None = None  # a URL of the watchlist file (which holds no secrets)
    env: str | None = None  # the variable holding the URL, read only when sending
    server: Any = None  # an entry of the Apprise config file


def has_targets(watchlist: Watchlist) -> bool:
    return bool(watchlist.deliver.notify or watchlist.deliver.notify_env)


def targets(watchlist: Watchlist, config: Config) -> tuple[list[Target], list[str]]:
    """The watchlist's targets, and an error for each entry that names none."""
    found: list[Target] = []
    errors = []
    for entry in watchlist.deliver.notify:
        try:
            found += tagged(config, entry[4:]) if entry.startswith("tag:") else [Target(_public_key(entry), url=entry)]
        except NotifyError as exc:
            errors.append(f"watchlist {watchlist.slug}: [deliver] notify: {exc}")
    found += [Target(f"env:{name}", env=name) for name in watchlist.deliver.notify_env]
    return _distinct(found), errors


def named(config: Config, entry: str) -> list[Target]:
    """The targets of one entry as `notify --test` takes it: a URL (secrets allowed: it is not
    stored), ``env:NAME`` or ``tag:NAME``."""
    if entry.startswith("env:"):
        return [Target(entry, env=entry[4:])]
    if entry.startswith("tag:"):
        return tagged(config, entry[4:])
    return [Target(key_of(instantiate(entry, shown=entry.split("://", 1)[0] + "://…")), url=entry)]


def key_of(server: Any) -> str:
    """How a URL is shown and stored: masked by Apprise, without the query part."""
    return str(server.url(privacy=True)).split("?", 1)[0]


def _public_key(url: str) -> str:
    """A watchlist's own URL must hold no secret: what Apprise would mask belongs in notify_env."""
    server = instantiate(url, shown=url.split("://", 1)[0] + "://…")
    if server.url(privacy=True) != server.url(privacy=False):
        raise NotifyError(
            f"{key_of(server)} holds a secret (a password or token): put the whole URL in an environment "
            "variable and name the variable in notify_env"
        )
    return key_of(server)


def tagged(config: Config, tag: str) -> list[Target]:
    """The entries of the Apprise config file with ``tag``."""
    path = config.notify.config
    if path is None:
        raise NotifyError(f"tag:{tag} names entries of the Apprise config file, but [notify] config is not set")
    if not path.is_file():
        raise NotifyError(f"tag:{tag}: cannot read the Apprise config file {path}")
    apprise = _apprise()
    bundle = apprise.Apprise()
    loaded = apprise.AppriseConfig()
    loaded.add(str(path))
    bundle.add(loaded)
    servers = list(bundle.find(tag=tag))
    if not servers:
        raise NotifyError(f"tag:{tag}: no entry of {path} has this tag")
    return [Target(f"tag:{tag} {key_of(server)}", server=server) for server in servers]


def _distinct(found: Sequence[Target]) -> list[Target]:
    """Two entries that look alike once masked get keys of their own: "… (2)"."""
    seen: dict[str, int] = {}
    out = []
    for target in found:
        seen[target.key] = seen.get(target.key, 0) + 1
        count = seen[target.key]
        out.append(target if count == 1 else Target(f"{target.key} ({count})", target.url, target.env, target.server))
    return out


# --- sending ----------------------------------------------------------------------------------------


def endpoint(target: Target) -> Any:
    """The Apprise service of ``target``, with its secrets: read from the environment only now."""
    if target.server is not None:
        return target.server
    url = target.url if target.url is not None else os.environ.get(target.env or "")
    if not url:
        raise NotifyError(f"{target.key}: the environment variable {target.env} is not set")
    return instantiate(url, shown=target.key)


def instantiate(url: str, shown: str) -> Any:
    server = _apprise().Apprise.instantiate(url)
    if not server:
        raise NotifyError(f"{shown}: not a URL Apprise knows (see https://github.com/caronc/apprise/wiki)")
    return server


def is_webhook(server: Any) -> bool:
    return str(server.url(privacy=True)).split("://", 1)[0] in WEBHOOK_SCHEMES


def send(
    server: Any,
    key: str,
    title: str,
    message: str,
    payloads: Sequence[str],
    done: int,
    secret: str | None,
    progress: Callable[[int], None],
) -> None:
    """A webhook gets each body from ``done`` on, ``progress`` told after each; any other service
    the text. Raises :class:`NotifyError`, its message free of the URL's secrets."""
    try:
        if is_webhook(server):
            for number, body in enumerate(payloads[done:], start=done + 1):
                post(server, body, secret)
                progress(number)
        else:
            _notify(server, title, message)
    except NotifyError as exc:
        raise NotifyError(f"{key}: {scrub(str(exc), server, secret)}") from None


def _notify(server: Any, title: str, message: str) -> None:
    apprise = _apprise()
    bundle = apprise.Apprise()
    bundle.add(server)
    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as said:
        accepted = bundle.notify(body=message, title=title)
    if not accepted:
        reason = " ".join(said.getvalue().split())[-400:] or "no reason given"
        raise NotifyError(f"not accepted ({reason})")


def post(server: Any, body: str, secret: str | None) -> None:
    """POST one webhook body, signed when there is a secret; any answer but 2xx is a failure."""
    data = body.encode("utf-8")
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": f"referatvagt/{__version__}",
        **(server.headers or {}),
    }
    if secret is not None:
        headers[SIGNATURE_HEADER] = signature(secret, data)
    auth = httpx.BasicAuth(unquote(server.user), unquote(server.password or "")) if server.user else None
    try:
        with httpx.Client(timeout=TIMEOUT, verify=bool(server.verify_certificate), auth=auth) as client:
            answer = client.post(_http_url(server), content=data, headers=headers)
    except httpx.HTTPError as exc:
        raise NotifyError(f"cannot reach it ({type(exc).__name__}: {exc})") from None
    if not 200 <= answer.status_code < 300:
        raise NotifyError(f"answered HTTP {answer.status_code}")


def signature(secret: str, data: bytes) -> str:
    """The header value: ``sha256=`` and the hex HMAC-SHA256 of the body under the secret."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), data, hashlib.sha256).hexdigest()


def _http_url(server: Any) -> str:
    host = f"[{server.host}]" if ":" in server.host else server.host
    port = f":{server.port}" if server.port else ""
    query = "&".join(f"{name}={value}" for name, value in (getattr(server, "params", None) or {}).items())
    path = server.fullpath or "/"
    return f"{'https' if server.secure else 'http'}://{host}{port}{path}" + (f"?{query}" if query else "")


def scrub(text: str, server: Any, secret: str | None = None) -> str:
    """``text`` with every part of the URL that Apprise's privacy mode hides (and the header
    values, the password, the signing secret) replaced by ****: error messages of HTTP
    libraries quote URLs."""
    full, shown = str(server.url(privacy=False)), str(server.url(privacy=True))
    hidden = set(_words(full)) - set(_words(shown))
    hidden |= {str(value) for value in (getattr(server, "headers", None) or {}).values()}
    hidden |= {value for value in (getattr(server, "password", None), secret) if value}
    forms = {form for secret_part in hidden for form in (secret_part, unquote(secret_part))}
    for form in sorted(forms, key=len, reverse=True):
        if len(form) >= 3:
            text = text.replace(form, "****")
    return text


def _words(url: str) -> list[str]:
    return [word for word in re.split(r"[/:@?&=#,;+ ]+", url) if word]


@cache
def _apprise() -> Any:
    """Apprise, imported when first needed (it takes a moment), its log kept out of ours: its
    messages may quote a URL with its secret. What it says about a failure reaches our log
    through :func:`_notify`, scrubbed."""
    import apprise

    quiet = logging.getLogger("apprise")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    return apprise
