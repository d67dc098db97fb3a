"""Fixtures for running the `vigia` command in this process on a real SQLite file."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from vigia.cli import main
from vigia.storage import connect


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f'database_url: "sqlite:///{tmp_path / "vigia.db"}"\ntimezone: Europe/Madrid\n'
        "brands: [{name: Vellora, keywords: [vellora]}]\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def engine(config: Path, tmp_path: Path) -> Iterator[Engine]:
    engine = connect(f"sqlite:///{tmp_path / 'vigia.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def transcript() -> list[str]:
    """Everything the `vigia` fixture's runs printed, stdout and stderr."""
    return []


@pytest.fixture
def vigia(
    config: Path,
    transcript: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., Run]:
    """`vigia -c config.yaml ARGS` in this process, `stdin` as its standard input."""

    def run(*args: str, stdin: str = "") -> Run:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(["-c", str(config), *args])
        out, err = capsys.readouterr()
        transcript.extend((out, err))
        return Run(code, out, err)

    return run
