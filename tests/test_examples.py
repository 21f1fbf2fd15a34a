"""The examples the docs show are real files, run here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quickstart_prints_final_statuses():
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    lines = out.stdout.splitlines()
    assert "queued tasks: 3 (4 calls, 1 duplicate)" in lines
    assert "deliveries: 4, emails sent: 3" in lines
    assert any(line.startswith("u1: FULFILLED runs=1 failures=0") for line in lines)
    assert any(line.startswith("u2: FULFILLED runs=2 failures=1") for line in lines)
    assert any(line.startswith("u3: FULFILLED runs=1 failures=0") for line in lines)
    assert "u1's result, read back from its record: 'sent to ada@example.com'" in lines
    assert "attempt 1 failed (ConnectionError); retry in 1s" in out.stderr
    assert "grace@example.com" not in out.stderr  # logs carry ids, not payloads


def test_scheduling_example_runs_each_worked_example_at_its_time():
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "scheduling.py")],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert out.stdout.splitlines() == [
        "reminder saved as SCHEDULED",
        "Sun 12:01:00 welcome ada",
        "Mon 02 09:00 weekly report of 2026-03-02",
        "Sun 08 12:00 reminder ada",
        "Mon 09 09:00 weekly report of 2026-03-09",
    ]


def test_the_readme_tour_runs(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    tour = readme.split("## A tour of the API", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    script = tmp_path / "tour.py"
    script.write_text(tour, encoding="utf-8")
    subprocess.run([sys.executable, str(script)], check=True, cwd=ROOT)


def test_the_local_aws_example_passes_on_the_local_engines(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(ROOT / "examples" / "test_local_aws.py"),
            "--rootdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=240,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 passed" in out.stdout


def test_every_docs_include_names_an_existing_file():
    includes = 0
    for page in (ROOT / "docs").glob("*.md"):
        text = page.read_text(encoding="utf-8")
        assert "--8 <" not in text, f"{page.name}: a mangled snippet include"
        for line in text.splitlines():
            if line.startswith("--8<--"):
                includes += 1
                target = line.split('"')[1]
                assert (ROOT / target).is_file(), f"{page.name} includes a missing {target}"
    assert includes >= 3


def test_the_readme_worker_commands_run(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Run a worker on the embedded backend", 1)[1]
    commands = block.split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "SIMPLE_ASYNC_TASKS_BACKEND": f"sqlite:///{tmp_path / 'tasks.db'}"}
    outputs = []
    for command in commands:
        args = command.split()
        program = args[0].removeprefix(".venv/bin/")
        path = sys.executable if program == "python" else str(bin_dir / program)
        out = subprocess.run(
            [path, *args[1:]],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            timeout=120,
            check=False,
        )
        assert out.returncode == 0, (command, out.stderr)
        outputs.append(out.stdout)
    listing = outputs[-1].splitlines()
    assert sorted(line.split()[:3] for line in listing[1:]) == [
        ["SendWelcomeEmail", "u1", "FULFILLED"],
        ["SendWelcomeEmail", "u2", "FULFILLED"],
        ["SendWelcomeEmail", "u3", "QUEUED"],  # due in ten minutes
    ]
