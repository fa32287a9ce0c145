"""Secret audit of a whole test run (issue 11: no secret in any log line).

Every log record of the run (``apf_core`` at DEBUG, aiohttp's access log, everything else at INFO)
goes through the redaction ``apf serve`` installs on its handlers into one file. When the run ends,
the file is searched for every API key, hub token and webhook secret the run created, and for any
string shaped like one. A hit fails the run and names the log line; the summary says how many lines
and secrets were audited, so an empty audit is visible.

``APF_SECRET_AUDIT=0`` turns it off (for a quick local run).
"""

from __future__ import annotations

import functools
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest

from apf_core.net.redact import RedactingFilter

#: the shapes of the secrets apf_core mints (keys.KEY_PREFIX, hub.protocol.TOKEN_PREFIX,
#: events.signatures.SECRET_PREFIX)
SECRET_SHAPES = re.compile(r"apf_live_[0-9a-f]{64}|apfhub_[0-9a-f]{64}|whsec_[0-9a-f]{48}")


class SecretAudit:
    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.created: set[str] = set()
        #: secrets a test chose itself (webhook secrets): matched exactly, not by shape
        self.chosen: set[str] = set()
        self.handler = logging.FileHandler(log_path, encoding="utf-8")
        self.handler.setLevel(logging.DEBUG)
        self.handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.handler.addFilter(RedactingFilter())
        self._levels: dict[str, int] = {}
        self._patches: list[tuple[Any, str, Any]] = []
        self._target = logging.getLogger()

    def start(self, target: logging.Logger | None = None) -> None:
        """Audit what reaches ``target`` (the root logger: the whole run)."""
        self._target = target or logging.getLogger()
        self._target.addHandler(self.handler)
        for name, level in (("", logging.INFO), ("apf_core", logging.DEBUG), ("aiohttp", logging.INFO)):
            logger = logging.getLogger(name)
            self._levels[name] = logger.level
            if logger.level == logging.NOTSET or logger.level > level:
                logger.setLevel(level)
        self._record_minted_secrets()

    def stop(self) -> None:
        self._target.removeHandler(self.handler)
        self.handler.close()
        for name, level in self._levels.items():
            logging.getLogger(name).setLevel(level)
        for owner, attr, original in reversed(self._patches):
            setattr(owner, attr, original)

    def _record_minted_secrets(self) -> None:
        from apf_core.events import webhooks
        from apf_core.hub import protocol
        from apf_core.services.keys import KeyService

        webhook_create = webhooks.WebhookService.create

        @functools.wraps(webhook_create)
        async def create_webhook(service: Any, body: dict[str, Any]) -> Any:
            if isinstance(body.get("secret"), str) and len(body["secret"]) >= 12:
                self.chosen.add(body["secret"])
            return await webhook_create(service, body)

        self._patches.append((webhooks.WebhookService, "create", webhook_create))
        webhooks.WebhookService.create = create_webhook  # type: ignore[method-assign]

        def remember(result: Any) -> Any:
            secret = result[0] if isinstance(result, tuple) else result
            if isinstance(secret, str):
                self.created.add(secret)
            return result

        def wrap_sync(owner: Any, attr: str) -> None:
            original = getattr(owner, attr)
            self._patches.append((owner, attr, original))
            setattr(owner, attr, functools.wraps(original)(lambda *a, **k: remember(original(*a, **k))))

        async_create = KeyService.create

        @functools.wraps(async_create)
        async def create(*args: Any, **kwargs: Any) -> Any:
            return remember(await async_create(*args, **kwargs))

        self._patches.append((KeyService, "create", async_create))
        KeyService.create = create  # type: ignore[method-assign]
        wrap_sync(protocol, "new_token")
        wrap_sync(webhooks, "new_secret")

    def leaks(self) -> tuple[int, list[str]]:
        """(lines audited, offending lines)."""
        alternatives = [SECRET_SHAPES.pattern, *(re.escape(s) for s in sorted(self.chosen))]
        pattern = re.compile("|".join(alternatives))
        found: list[str] = []
        lines = 0
        with self.log_path.open(encoding="utf-8", errors="replace") as log:
            for lines, line in enumerate(log, 1):
                masked, hits = pattern.subn(lambda m: m.group()[:10] + "…", line.strip())
                if hits:
                    found.append(f"line {lines}: {masked[:200]}")
        return lines, found


_AUDIT = pytest.StashKey[SecretAudit]()


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("APF_SECRET_AUDIT", "1") == "0" or hasattr(config, "workerinput"):
        return
    fd, name = tempfile.mkstemp(prefix="apf-run-", suffix=".log")
    os.close(fd)
    audit = SecretAudit(Path(name))
    audit.start()
    config.stash[_AUDIT] = audit


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    audit = session.config.stash.get(_AUDIT, None)
    if audit is None:
        return
    audit.stop()
    lines, found = audit.leaks()
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    summary = (
        f"secret audit: {lines} log lines, {len(audit.created) + len(audit.chosen)} secrets created, "
        f"{len(found)} leaking lines (log: {audit.log_path})"
    )
    if reporter is not None:
        reporter.write("\n")
        reporter.write_line(summary, red=bool(found), green=not found)
        for line in found[:20]:
            reporter.write_line(f"  secret in the log, {line}", red=True)
    if found:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    else:
        audit.log_path.unlink(missing_ok=True)
