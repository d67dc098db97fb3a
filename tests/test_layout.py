"""The packages the tests exercise are this repository's, not same-named ones installed elsewhere."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("package", ["collectors", "analysis", "dashboard", "vigia"])
def test_package_comes_from_this_repository(package: str) -> None:
    module = importlib.import_module(package)
    assert Path(module.__file__).resolve().parent == REPO / package


def test_streamlit_is_imported_only_by_the_dashboard() -> None:
    offenders = [
        path.relative_to(REPO)
        for folder in ("collectors", "analysis", "vigia")
        for path in (REPO / folder).rglob("*.py")
        if "import streamlit" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []


def test_collectors_and_analysis_do_not_import_the_core() -> None:
    offenders = [
        path.relative_to(REPO)
        for folder in ("collectors", "analysis")
        for path in (REPO / folder).rglob("*.py")
        if any(
            line.lstrip().startswith(("from vigia", "import vigia", "from dashboard"))
            for line in path.read_text(encoding="utf-8").splitlines()
        )
    ]
    assert offenders == []
