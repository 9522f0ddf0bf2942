"""Settings from options and $JOBQ_*, URL redaction, and argument encoding."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

import jobq
from jobq.config import DEFAULT_URL, Settings, load_settings, redact_url
from jobq.errors import ConfigError, SerializationError
from jobq.serializer import encode_call, encode_result


def test_defaults_without_options_or_environment() -> None:
    settings = load_settings({}, {})
    assert settings == Settings()
    assert settings.url == DEFAULT_URL == "sqlite:///jobq.db"
    assert settings.lease == 30.0


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        load_settings({}, {}).lease = 5  # type: ignore[misc]


def test_environment_is_read() -> None:
    env = {"JOBQ_URL": "redis://h:1/0", "JOBQ_LEASE": "12.5", "JOBQ_SCHEMA": "jq",
           "JOBQ_PREFIX": "x:", "JOBQ_RETENTION": "60"}
    settings = load_settings({}, env)
    assert (settings.url, settings.lease, settings.schema, settings.prefix,
            settings.retention) == ("redis://h:1/0", 12.5, "jq", "x:", 60.0)


def test_explicit_options_win_over_the_environment() -> None:
    env = {"JOBQ_URL": "redis://h:1/0", "JOBQ_LEASE": "12.5"}
    settings = load_settings({"url": "sqlite:///x.db", "lease": 3}, env)
    assert (settings.url, settings.lease) == ("sqlite:///x.db", 3)


def test_an_option_given_as_none_counts_as_not_given() -> None:
    settings = load_settings({"url": None, "lease": None}, {"JOBQ_URL": "sqlite:///e.db"})
    assert (settings.url, settings.lease) == ("sqlite:///e.db", 30.0)


def test_retention_none_keeps_jobs_forever() -> None:
    assert load_settings({"retention": None}, {"JOBQ_RETENTION": "60"}).retention is None
    assert load_settings({}, {"JOBQ_RETENTION": "none"}).retention is None
    assert load_settings({}, {}).retention == 7 * 24 * 3600


def test_the_app_reads_jobq_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("JOBQ_URL", url)
    monkeypatch.setenv("JOBQ_LEASE", "7")
    app = jobq.App()
    assert (app.settings.url, app.settings.lease) == (url, 7.0)


@pytest.mark.parametrize(
    ("wrong", "nearest"),
    [("leese", "lease"), ("retension", "retention"), ("shema", "schema"), ("urls", "url")],
)
def test_an_unknown_option_names_the_nearest_valid_one(wrong: str, nearest: str) -> None:
    with pytest.raises(ConfigError, match=rf"unknown option '{wrong}'; did you mean '{nearest}'"):
        load_settings({wrong: 1}, {})
    with pytest.raises(ConfigError, match=wrong):
        jobq.App("sqlite:///x.db", **{wrong: 1})


def test_an_unknown_option_far_from_any_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match=r"'zzzzqqq'.*valid options.*lease"):
        load_settings({"zzzzqqq": 1}, {})


@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf"), "fast", "5", True])
def test_a_bad_lease_is_refused(value: object) -> None:
    with pytest.raises(ConfigError, match=r"lease must be a positive number of seconds"):
        load_settings({"lease": value}, {})


@pytest.mark.parametrize("value", [0, -5, "a week"])
def test_a_bad_retention_is_refused(value: object) -> None:
    with pytest.raises(ConfigError, match="retention"):
        load_settings({"retention": value}, {})


def test_unknown_task_timeout_comes_from_the_option_or_the_environment() -> None:
    assert load_settings({}, {}).unknown_task_timeout == 3600
    assert load_settings({}, {"JOBQ_UNKNOWN_TASK_TIMEOUT": "90"}).unknown_task_timeout == 90
    assert load_settings({}, {"JOBQ_UNKNOWN_TASK_TIMEOUT": "never"}).unknown_task_timeout is None
    assert load_settings({"unknown_task_timeout": None},
                         {"JOBQ_UNKNOWN_TASK_TIMEOUT": "90"}).unknown_task_timeout is None
    with pytest.raises(ConfigError, match="unknown_task_timeout must be a positive number"):
        load_settings({"unknown_task_timeout": 0}, {})


@pytest.mark.parametrize(("var", "value"), [("JOBQ_LEASE", "soon"), ("JOBQ_RETENTION", "1w"),
                                            ("JOBQ_UNKNOWN_TASK_TIMEOUT", "1h")])
def test_a_bad_number_in_the_environment_names_the_variable(var: str, value: str) -> None:
    with pytest.raises(ConfigError, match=rf"\${var}='{value}' is not a number"):
        load_settings({}, {var: value})


def test_a_zero_lease_in_the_environment_is_refused() -> None:
    with pytest.raises(ConfigError, match="lease"):
        load_settings({}, {"JOBQ_LEASE": "0"})


def test_an_empty_variable_counts_as_unset() -> None:
    assert load_settings({}, {"JOBQ_LEASE": "", "JOBQ_URL": ""}) == Settings()


@pytest.mark.parametrize(("name", "value"), [("url", 5), ("url", ""), ("prefix", ""),
                                             ("schema", "x; DROP TABLE y"), ("schema", "1a")])
def test_bad_text_options_are_refused(name: str, value: object) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings({name: value}, {})


# -- redact_url -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:secret@127.0.0.1:1/x", "postgresql://u:***@127.0.0.1:1/x"),
        ("redis://:secret@h:6379/0", "redis://:***@h:6379/0"),
        ("postgresql://u:sec@ret@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:secret@[::1]:5432/x", "postgresql://u:***@[::1]:5432/x"),
        ("postgresql://h/x?password=secret&sslmode=require",
         "postgresql://h/x?password=***&sslmode=require"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("sqlite:///jobq.db", "sqlite:///jobq.db"),
        ("sqlite:////tmp/a.db?synchronous=full", "sqlite:////tmp/a.db?synchronous=full"),
    ],
)
def test_redact_url_hides_passwords_and_keeps_the_rest(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_url_of_an_unparseable_url_hides_everything_after_the_scheme() -> None:
    shown = redact_url("postgresql://u:secret@[::1/x")
    assert "secret" not in shown and shown.startswith("postgresql://")


def test_app_repr_hides_the_password() -> None:
    app = jobq.App("redis://:hunter2@127.0.0.1:1/0")
    assert "hunter2" not in repr(app)
    assert "127.0.0.1:1" in repr(app)


# -- serializer -------------------------------------------------------------------------------


def test_encode_call_is_compact_json() -> None:
    assert encode_call("t", (1, "é", [None, True]), {"k": {"a": 1.5}}) == (
        '[1,"é",[null,true]]', '{"k":{"a":1.5}}'
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [((1, object()), r"positional argument 1 is a object"),
     ((datetime.now(UTC),), r"positional argument 0 is a datetime"),
     (("ok", {"nested": {1, 2}}), r"positional argument 1 is a dict"),
     ((math.nan,), r"positional argument 0 is a float"),
     ((Decimal("1.5"),), r"positional argument 0 is a Decimal")],
)
def test_a_bad_positional_argument_is_named(args: tuple[object, ...], expected: str) -> None:
    with pytest.raises(SerializationError, match=rf"^mytask: {expected}") as info:
        encode_call("mytask", args, {})
    assert "JSON" in str(info.value) and "plain data" in str(info.value)


def test_a_bad_keyword_argument_is_named() -> None:
    with pytest.raises(SerializationError, match=r"argument 'when' is a datetime"):
        encode_call("mytask", (1, 2), {"fine": [1], "when": datetime.now(UTC)})


def test_encode_result_names_the_task_and_type() -> None:
    assert encode_result("t", {"a": [1]}) == '{"a":[1]}'
    with pytest.raises(SerializationError, match=r"mytask returned a set"):
        encode_result("mytask", {1})
