"""The whole-run secret audit (tests/secret_audit.py) catches a secret in a log line."""

from __future__ import annotations

import logging

from tests.secret_audit import SecretAudit


def test_audit_flags_a_logged_key_and_a_chosen_secret(tmp_path) -> None:
    # a logger of its own that does not propagate: the run's own audit must not see these lines
    log = logging.getLogger("secret_audit_selftest")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    audit = SecretAudit(tmp_path / "run.log")
    audit.start(log)
    try:
        key = "apf_live_" + "ab" * 32
        audit.chosen.add("my-own-webhook-secret")
        log.debug("harmless line")
        log.info("a careless line with %s", key)
        log.warning("the webhook secret is my-own-webhook-secret")
        log.info("a printer at http://maker:hunter2hunter2@10.0.0.5/ (redacted by the filter)")
    finally:
        audit.stop()
    lines, found = audit.leaks()
    assert lines == 4
    assert len(found) == 2
    assert "apf_live_a…" in found[0] and "my-own-web…" in found[1]
    assert not any(key in f for f in found), "the report itself masks the secret"
    assert "hunter2" not in (tmp_path / "run.log").read_text()


async def test_audit_records_minted_keys(tmp_path) -> None:
    from apf_core.services.keys import KeyService

    audit = SecretAudit(tmp_path / "run.log")
    original = KeyService.create
    audit.start(logging.getLogger("secret_audit_selftest"))
    try:
        assert KeyService.create is not original
    finally:
        audit.stop()
    assert KeyService.create is original
