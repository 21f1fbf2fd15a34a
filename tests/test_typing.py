"""The public types: mypy --strict accepts the examples and rejects misuse."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

mypy_api = pytest.importorskip("mypy.api", reason="mypy is in the 'lint' dependency group")


def test_typing_examples_pass_mypy_strict():
    out, err, status = mypy_api.run(
        [
            "--strict",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            str(ROOT / "tests" / "typing" / "typing_example.py"),
            str(ROOT / "examples"),
        ]
    )
    assert status == 0, out + err
