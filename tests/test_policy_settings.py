"""Each policy backend owns a settings dataclass: the registry names it, a config is checked by
building it (no engine imported), and the backend is built from that object."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from journeyforge.cli import CONF_DIR
from tests.option_docs import field_help
from search import policies
from search.policies import (BACKENDS, Backend, BackendSettings, Policy, backend_settings, make_policy,
                             policy_options, settings_class, validate_policy_config)
from search.policies.backend_settings import AT_LEAST_1, settings_from
from search.policies.scripted import ScriptedPolicy
from search.policies.scripted_settings import ScriptedSettings
from search.tasks import make_task

POLICY_YAML = sorted((Path(CONF_DIR) / "policy").glob("*.yaml"))


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_every_backend_option_has_help(backend):
    cls = settings_class(backend)
    assert issubclass(cls, BackendSettings) and dataclasses.is_dataclass(cls)
    docs = field_help(cls)
    missing = [f.name for f in dataclasses.fields(cls) if not docs.get(f.name, "").strip()]
    assert not missing, f"{cls.__name__} fields without help: {missing}"


@pytest.mark.parametrize("path", POLICY_YAML, ids=lambda p: p.name)
def test_every_policy_yaml_key_is_an_option_of_its_backend(path):
    data = yaml.safe_load(path.read_text())
    assert data["backend"] == path.stem
    assert set(data) - {"backend"} <= set(policy_options(path.stem))


def test_checking_a_config_builds_the_settings_object():
    # That this imports no backend is tests/test_config_errors.py's subprocess test.
    backend, settings = backend_settings({"backend": "hf", "model": "x", "batch_size": 3})
    assert backend == "hf" and type(settings).__name__ == "HFSettings"
    assert (settings.model, settings.batch_size, settings.dtype) == ("x", 3, "float32")


def test_a_backend_is_built_from_its_settings_object_or_their_fields():
    task = make_task({"name": "countdown", "n_train": 2, "n_test": 0})
    given = ScriptedSettings(error_rate=0.1, seed=4)
    assert ScriptedPolicy(task, given).settings is given
    assert ScriptedPolicy(task, error_rate=0.1, seed=4).settings == given
    assert make_policy({"backend": "scripted", "error_rate": 0.1, "seed": 4}, task=task).settings == given
    with pytest.raises(ValueError, match=r"^policy\.error_rate must be a probability in \[0, 1\], got 2"):
        ScriptedPolicy(task, error_rate=2)   # the constructor runs the same checks as the config


@dataclass
class EchoSettings(BackendSettings):
    """Options of the toy backend of this test."""

    times: int = 1
    """How many copies of the prompt a completion holds."""

    checks = {"times": AT_LEAST_1}


class EchoPolicy(Policy):
    """A toy backend: repeats the prompt."""

    name = "echo"

    def __init__(self, *args, **options) -> None:
        super().__init__()
        self.settings = settings_from(EchoSettings, args, options)

    def generate(self, requests):
        from search.policies.base import Completion

        return [[Completion(r.prompt * self.settings.times, [], 0.0, "stop")] * r.n for r in requests]


def test_a_backend_added_through_the_registry_alone_is_checked_and_built(monkeypatch):
    here = __name__
    monkeypatch.setitem(policies.BACKENDS, "echo", Backend(f"{here}:EchoPolicy", f"{here}:EchoSettings"))
    assert validate_policy_config({"backend": "echo", "times": 2}) == {"backend": "echo", "times": 2}
    with pytest.raises(ValueError, match=r"policy\.times must be an integer >= 1, got 0"):
        validate_policy_config({"backend": "echo", "times": 0})
    with pytest.raises(ValueError, match=r"policy\.speed: unknown option for backend 'echo'; its options are \['times'"):
        validate_policy_config({"backend": "echo", "speed": 2})
    policy = make_policy({"backend": "echo", "times": 2})
    [[completion]] = policy.generate([policies.GenerationRequest(prompt="ab")])
    assert completion.text == "abab"
