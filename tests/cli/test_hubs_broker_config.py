"""``apf hubs broker-config`` run as a real process, and the hub's broker login."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from apf_core.hub.broker_config import ACL_FILE, CONF_FILE, PASSWORD_FILE, BrokerConfigError
from apf_core.hub.broker_config import server_user as resolve_server_user
from apf_core.hub.crypto import LinkKeys


def broker_config(
    tmp_path: Path, *args: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("APF_")}
    return subprocess.run(
        [sys.executable, "-m", "apf_core.cli", "hubs", "broker-config", *args],
        env={**clean, "APF_DATA_DIR": str(tmp_path / "data"), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_writes_files_for_the_server_user_without_printing_secrets(tmp_path: Path) -> None:
    out = tmp_path / "mosquitto"
    url = "mqtts://apf-srv:p%40ss%3Aword@broker.lan:8883"
    done = broker_config(tmp_path, "--out", str(out), env={"APF_MQTT_URL": url})
    assert done.returncode == 0, done.stderr
    assert "p@ss:word" not in done.stdout + done.stderr
    assert "0 hub user(s) and the server user apf-srv" in done.stdout
    assert "SIGHUP" in done.stdout
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    for name in (PASSWORD_FILE, ACL_FILE):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600
    passwd = (out / PASSWORD_FILE).read_text()
    assert passwd.startswith("apf-srv:$7$") and "p@ss" not in passwd
    assert "user apf-srv\ntopic readwrite apf/v1/hub/#\n" in (out / ACL_FILE).read_text()
    conf = (out / CONF_FILE).read_text()
    assert "allow_anonymous false" in conf and f"password_file {out / PASSWORD_FILE}" in conf


def test_server_user_from_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "conf"
    done = broker_config(
        tmp_path,
        "--out",
        str(out),
        "--server-user",
        "ops",
        "--server-password-env",
        "OPS_PW",
        "--no-mosquitto-passwd",
        env={"OPS_PW": "from-env", "APF_MQTT_URL": "mqtt://apf-srv:other@h"},
    )
    assert done.returncode == 0, done.stderr
    assert "from-env" not in done.stdout + done.stderr
    assert (out / PASSWORD_FILE).read_text().startswith("ops:$7$101$")
    assert "user ops\n" in (out / ACL_FILE).read_text()


def test_refuses_without_a_server_user(tmp_path: Path) -> None:
    done = broker_config(tmp_path, "--out", str(tmp_path / "conf"), env={})
    assert done.returncode == 2
    assert "no server user" in done.stderr
    assert not (tmp_path / "conf").exists()


def test_server_user_rules() -> None:
    with pytest.raises(BrokerConfigError, match="no password"):
        resolve_server_user("mqtt://srv@h", None, None)
    with pytest.raises(BrokerConfigError, match="no password"):  # URL password is srv's only
        resolve_server_user("mqtt://srv:pw@h", "other", None)
    with pytest.raises(BrokerConfigError, match="not set"):
        resolve_server_user(None, "ops", "APF_TEST_UNSET_VAR", environ={})
    with pytest.raises(BrokerConfigError, match="the hubs'"):
        resolve_server_user("mqtt://apfhub-x:pw@h", None, None)
    with pytest.raises(BrokerConfigError, match="must not"):
        resolve_server_user(None, "a b", "V", environ={"V": "pw"})
    assert resolve_server_user("mqtt://srv:pw@h", "srv", None).password == "pw"


def test_hub_login_defaults_to_the_derived_user(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from apf_core.cli import build_parser
    from apf_core.hub.agent import HubAgent
    from apf_core.hub.cli import broker_login

    for var in ("APF_MQTT_USERNAME", "APF_MQTT_PASSWORD", "APF_MQTT_URL"):
        monkeypatch.delenv(var, raising=False)
    base = ["hub", "--server", "http://apf.lan:8580", "--token", "t"]
    args = build_parser().parse_args(base)
    assert broker_login(args, "mqtt://h:1883") == (None, None)
    assert broker_login(args, "mqtt://u:p%2F1@h:1883") == ("u", "p/1")
    args = build_parser().parse_args([*base, "--mqtt-username", "x", "--mqtt-password", "y"])
    assert broker_login(args, "mqtt://u:p@h:1883") == ("x", "y")
    args = build_parser().parse_args([*base, "--mqtt-password", "y"])
    assert args.handler(args) == 2  # a password for the derived user makes no sense
    monkeypatch.setenv("APF_MQTT_USERNAME", "")  # explicitly anonymous
    assert broker_login(build_parser().parse_args(base), "mqtt://h") == ("", None)

    keys = LinkKeys.from_token("apfhub_" + "1" * 64)
    assert keys.broker_username == "apfhub-" + keys.topic_id
    assert "1" * 64 not in keys.broker_username + keys.broker_password
    derived = HubAgent("apfhub_" + "1" * 64, "mqtt://h", work_dir=tmp_path)
    assert derived._credentials == (keys.broker_username, keys.broker_password)
    explicit = HubAgent(
        "apfhub_" + "1" * 64, "mqtt://h", work_dir=tmp_path, username="x", password="y"
    )
    assert explicit.broker_username == "x"
