"""Invariants of the collector registry: names, descriptions, options, fixtures, tests, config examples."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

import collectors
from collectors import REGISTRY
from collectors.base import Collector, CollectorOptions
from tests.replay import SHARED_FEEDS
from vigia.config import SourceConfig

ROOT = Path(__file__).resolve().parents[2]
LOCAL_FIXTURES = Path(__file__).parent / "fixtures"
# The shared folder of recorded payloads for each type, where it is not named after the type.
SHARED_FOLDER = {"rss": "rss_atom"}


def defined_collectors() -> list[type[Collector]]:
    """Every concrete Collector class defined in a module of the collectors package."""
    found = []
    for info in pkgutil.iter_modules(collectors.__path__):
        module = importlib.import_module(f"collectors.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(cls, Collector)
                and cls.__module__ == module.__name__
                and not inspect.isabstract(cls)
            ):
                found.append(cls)
    return found


def config_examples() -> list[dict[str, Any]]:
    """The sources of config.yaml: live entries and the commented `# - name:` examples of its
    `sources:` section (other sections have commented examples of their own)."""
    text = (ROOT / "config.yaml").read_text(encoding="utf-8")
    entries = list(yaml.safe_load(text).get("sources") or [])
    lines = text.splitlines()
    start = lines.index("sources:")
    end = next(
        (n for n in range(start + 1, len(lines)) if re.match(r"^[a-z_]+:", lines[n])), len(lines)
    )
    block: list[str] = []
    for line in [*lines[start:end], ""]:
        if line.startswith("  # - name:") or (block and line.startswith("  #   ")):
            if line.startswith("  # - name:") and block:
                entries.extend(yaml.safe_load("\n".join(block)))
                block = []
            block.append(line.replace("  # ", "", 1))
        elif block:
            entries.extend(yaml.safe_load("\n".join(block)))
            block = []
    return entries


def test_every_collector_is_registered_once_under_its_own_name() -> None:
    classes = defined_collectors()
    names = [cls.name for cls in classes]
    assert len(names) == len(set(names)), f"duplicate collector names: {sorted(names)}"
    assert sorted(names) == sorted(REGISTRY)
    for name, cls in REGISTRY.items():
        assert cls.name == name


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_description_and_options(name: str) -> None:
    cls = REGISTRY[name]
    assert isinstance(cls.description, str) and len(cls.description) > 80
    assert "\n\n" not in cls.description.strip(), "one paragraph"
    assert issubclass(cls.Options, CollectorOptions) and cls.Options is not CollectorOptions
    module = importlib.import_module(cls.__module__)
    assert module.__doc__ and len(module.__doc__.strip().splitlines()) == 1


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_has_tests_and_fixtures(name: str) -> None:
    assert (Path(__file__).parent / f"test_{name}.py").is_file()
    local = sorted(LOCAL_FIXTURES.glob(f"{name}-*"))
    shared = SHARED_FEEDS / SHARED_FOLDER.get(name, name)
    if local:
        return
    if not SHARED_FEEDS.is_dir():
        pytest.skip(f"recorded payloads not found at {SHARED_FEEDS}")
    assert shared.is_dir() and any(shared.iterdir()), f"no fixtures for {name}"


def test_config_examples_cover_every_type_and_validate() -> None:
    examples = config_examples()
    assert {e["type"] for e in examples} >= set(REGISTRY)
    for example in examples:
        SourceConfig.model_validate(example)  # raises naming the key that is wrong
