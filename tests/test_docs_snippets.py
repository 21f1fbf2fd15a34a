"""Every code snippet a reader copies runs as shown (issue 14): each ``python`` block of
the README and the docs includes a real file under ``examples/`` (the README, which
GitHub shows raw, holds a verbatim copy), and every file under ``examples/docs`` runs
alone, in a fresh interpreter, from the repository root."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
INCLUDE = re.compile(r'^--8<-- "([^"]+)"\s*$')
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SNIPPETS = sorted(p for p in (ROOT / "examples" / "docs").glob("*.py") if p.name != "__init__.py")


def blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text(encoding="utf-8"))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_python_block_is_a_real_file(page):
    for block in blocks(page):
        found = INCLUDE.match(block.strip())
        if found:
            assert (ROOT / found.group(1)).is_file(), found.group(1)
            continue
        copies = [p for p in SNIPPETS if p.read_text(encoding="utf-8") == block]
        assert copies, f"{page.name}: a python block that is no file of examples/docs:\n{block}"


def test_the_readme_tour_is_the_getting_started_file():
    (tour,) = blocks(ROOT / "README.md")
    assert tour == (ROOT / "examples" / "docs" / "one_function.py").read_text(encoding="utf-8")


def _needs_aws(path: Path) -> bool:
    return "simple_async_tasks.aws" in path.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "snippet",
    [
        pytest.param(p, id=p.name, marks=[pytest.mark.aws] if _needs_aws(p) else [])
        for p in SNIPPETS
    ],
)
def test_each_snippet_runs_alone(snippet, request, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SIMPLE_ASYNC_TASKS_BACKEND", None)
    if _needs_aws(snippet):
        aws = request.getfixturevalue("aws_endpoint")  # DynamoDB Local and moto's SQS
        env.update(
            {
                "AWS_ENDPOINT_URL_DYNAMODB": aws.dynamodb,
                "AWS_ENDPOINT_URL_SQS": aws.sqs,
                "TASKS_TABLE": f"docs-{tmp_path.name[-20:]}".replace("_", "-"),
            }
        )
    if snippet.name.startswith("test_"):
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(snippet)]
    else:
        command = [sys.executable, str(snippet)]
    out = subprocess.run(
        command, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr
