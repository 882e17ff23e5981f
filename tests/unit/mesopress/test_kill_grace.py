"""kill_grace_period (a clean shutdown before SIGKILL) and drain_seconds: parsed, checked, rendered."""

from __future__ import annotations

import pytest

from mesopress import settings as settings_module
from mesopress.model import config
from mesopress.model.specs import PodSpec
from mesopress.offers import requests, samples, tasks

FILE = """
name: site
pods:
  - name: web
    count: 2
    cpus: 0.5
    mem: 256
    command: serve
    {extra}
  - name: galera
    kind: galera
"""


def load(extra: str = "") -> config.Loaded:
    return config.load(FILE.format(extra=extra), {}, {})


def test_the_field_is_optional_and_the_galera_kind_defaults_to_a_minute() -> None:
    web, galera = load().service.pods
    assert web.kill_grace_period is None and galera.kill_grace_period == 60.0
    assert load("kill_grace_period: 20").service.pods[0].kill_grace_period == 20.0


@pytest.mark.parametrize("value", ["0", "-1", "'soon'", "true", "7200"])
def test_bad_grace_periods_are_refused_with_the_field_and_the_fix(value: str) -> None:
    with pytest.raises(config.ConfigError) as err:
        load(f"kill_grace_period: {value}")
    assert any(
        e.startswith("pods[0].kill_grace_period: must be a number of seconds > 0") for e in err.value.errors
    )


def test_the_task_info_carries_the_kill_policy() -> None:
    pod = PodSpec("web", 1, 0.5, 256, "serve", kill_grace_period=2.5)
    ctx = requests.Context("site", "mesopress", "p", (), samples.counting_uuids())
    task = tasks.render(requests.launch(pod, 0, "web-0__t"), ctx, "a1", [], {})
    assert task["kill_policy"] == {"grace_period": {"nanoseconds": 2_500_000_000}}
    plain = tasks.render(requests.launch(PodSpec("web", 1, 0.5, 256, "serve"), 0, "t"), ctx, "a1", [], {})
    assert "kill_policy" not in plain


def test_drain_seconds_defaults_to_ten_and_must_not_be_negative() -> None:
    built, errors = settings_module.build({}, {}, {})
    assert built.drain_seconds == 10.0 and errors == []
    built, errors = settings_module.build({}, {"MESOPRESS_DRAIN_SECONDS": "0"}, {})
    assert built.drain_seconds == 0.0 and errors == []
    _, errors = settings_module.build({"drain_seconds": "-1"}, {}, {})
    assert any(e.startswith("drain_seconds: must be seconds >= 0") for e in errors)


def test_web_kinds_get_their_default_unless_the_pod_sets_one() -> None:
    text = FILE.format(extra="kind: wordpress")
    assert config.load(text, {}, {}).service.pods[0].kill_grace_period == 35.0
    text = FILE.format(extra="kind: proxy\n    kill_grace_period: 5")
    assert config.load(text, {}, {}).service.pods[0].kill_grace_period == 5.0
