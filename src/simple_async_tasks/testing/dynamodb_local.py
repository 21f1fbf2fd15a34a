"""DynamoDB Local, the engine AWS ships for local use, started on 127.0.0.1 for tests.

DynamoDB Local is a Java program. It is strict where moto is lenient (update
expressions, key sizes, ``TimeToLive`` already enabled, capacity units), so
the DynamoDB tests run on it. What it needs:

* Java 11 or newer on ``PATH`` or under ``JAVA_HOME`` (Debian:
  ``apt-get install openjdk-17-jre-headless``);
* the jar, which AWS also publishes inside the npm package
  ``amplify-dynamodb-simulator`` (version 2.9.30 carries DynamoDB Local
  1.25.1). :func:`install_dynamodb_local` fetches it once with ``npm pack``
  into a cache outside the project (``SAT_CACHE_DIR``, else
  ``$XDG_CACHE_HOME/simple-async-tasks``, else ``~/.cache/simple-async-tasks``).
  ``SAT_DYNAMODB_LOCAL_DIR`` points at a folder holding ``DynamoDBLocal.jar``
  and ``DynamoDBLocal_lib`` instead (AWS's own download, unpacked).

From the command line: ``python -m simple_async_tasks.testing.dynamodb_local install``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs

from ..errors import ConfigurationError
from ._ports import free_port

__all__ = [
    "DynamoDbLocal",
    "DynamoDbLocalUnavailableError",
    "dynamodb_local",
    "install_dynamodb_local",
    "start_dynamodb_local",
]

NPM_PACKAGE = "amplify-dynamodb-simulator@2.9.30"
"""The npm package that carries AWS's DynamoDBLocal.jar (1.25.1) under ``package/emulator/``."""

_FOLDER = "dynamodb-local-" + NPM_PACKAGE.rsplit("@", 1)[1]
_JAR = "DynamoDBLocal.jar"
_LIB = "DynamoDBLocal_lib"


class DynamoDbLocalUnavailableError(ConfigurationError):
    """DynamoDB Local cannot start here: Java or its jar is missing, or it did not answer."""


def cache_dir() -> Path:
    """Where downloads are kept, outside any project."""
    if os.environ.get("SAT_CACHE_DIR"):
        return Path(os.environ["SAT_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "simple-async-tasks"


def _installed() -> Path | None:
    given = os.environ.get("SAT_DYNAMODB_LOCAL_DIR")
    if given:
        folder = Path(given)
        if not (folder / _JAR).is_file():
            raise DynamoDbLocalUnavailableError(
                f"SAT_DYNAMODB_LOCAL_DIR={given} holds no {_JAR}: point it at the folder AWS's "
                f"DynamoDB Local download unpacks to (with {_JAR} and {_LIB}), or unset it"
            )
        return folder
    folder = cache_dir() / _FOLDER
    return folder if (folder / _JAR).is_file() else None


def install_dynamodb_local(*, fetch: bool = True) -> Path:
    """The folder holding ``DynamoDBLocal.jar``; fetched with ``npm pack`` when missing.

    With ``fetch=False`` a missing jar raises :class:`DynamoDbLocalUnavailableError`
    instead of downloading it.
    """
    folder = _installed()
    if folder is not None:
        return folder
    npm = shutil.which("npm")
    if not fetch or npm is None:
        why = "fetching is turned off" if not fetch else "npm is not on PATH"
        raise DynamoDbLocalUnavailableError(
            f"DynamoDB Local is not installed and {why}: run "
            f"`python -m simple_async_tasks.testing.dynamodb_local install` with npm on PATH "
            f"(it runs `npm pack {NPM_PACKAGE}`), or set SAT_DYNAMODB_LOCAL_DIR to a folder "
            f"holding AWS's {_JAR}"
        )
    target = cache_dir() / _FOLDER
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        done = subprocess.run(
            [npm, "pack", NPM_PACKAGE, "--silent", "--pack-destination", work],
            capture_output=True,
            text=True,
            check=False,
        )
        tarballs = list(Path(work).glob("*.tgz"))
        if done.returncode != 0 or not tarballs:
            raise DynamoDbLocalUnavailableError(
                f"`npm pack {NPM_PACKAGE}` failed (exit {done.returncode}): "
                f"{done.stderr.strip()[-500:]}; check npm's registry access, or set "
                f"SAT_DYNAMODB_LOCAL_DIR to a folder holding AWS's {_JAR}"
            )
        unpacked = Path(work) / "emulator"
        _extract_emulator(tarballs[0], unpacked)
        if not (unpacked / _JAR).is_file():
            raise DynamoDbLocalUnavailableError(
                f"{NPM_PACKAGE} carries no package/emulator/{_JAR}; set SAT_DYNAMODB_LOCAL_DIR "
                f"to a folder holding AWS's {_JAR}"
            )
        try:
            unpacked.rename(target)
        except OSError:  # another process installed it first
            if not (target / _JAR).is_file():
                raise
    return target


def _extract_emulator(tarball: Path, into: Path) -> None:
    """Unpack ``package/emulator/*`` only, refusing any path that leaves ``into``."""
    prefix = "package/emulator/"
    into.mkdir()
    root = into.resolve()
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive.getmembers():
            if not member.name.startswith(prefix) or not (member.isfile() or member.isdir()):
                continue
            destination = (into / member.name[len(prefix) :]).resolve()
            if root not in destination.parents and destination != root:
                raise DynamoDbLocalUnavailableError(
                    f"unsafe path in {tarball.name}: {member.name}"
                )
            if member.isdir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            source = archive.extractfile(member)
            assert source is not None  # a regular file
            with source, destination.open("wb") as out:
                shutil.copyfileobj(source, out)


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise DynamoDbLocalUnavailableError(
            "DynamoDB Local needs Java 11 or newer, and no `java` is on PATH or under "
            "JAVA_HOME: install a JRE (Debian: `apt-get install openjdk-17-jre-headless`)"
        )
    return found


@attrs.define
class DynamoDbLocal:
    """A running DynamoDB Local: its ``url``; ``stop()`` ends it (also at interpreter exit)."""

    url: str
    process: subprocess.Popen[bytes]
    workdir: tempfile.TemporaryDirectory[str]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.workdir.cleanup()


def start_dynamodb_local(*, port: int | None = None, timeout: float = 60.0) -> DynamoDbLocal:
    """Start DynamoDB Local in memory on 127.0.0.1 and wait until it answers.

    It runs from a temporary working directory (it writes a metadata file
    there). Raises :class:`DynamoDbLocalUnavailableError` when Java or the jar
    is missing or the engine does not answer within ``timeout`` seconds.
    """
    java = _java()
    folder = install_dynamodb_local()
    for _ in range(3):  # a free port can be taken before Java binds it
        chosen = port or free_port()
        workdir = tempfile.TemporaryDirectory(prefix="dynamodb-local-")
        log = Path(workdir.name) / "dynamodb-local.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    java,
                    f"-Djava.library.path={folder / _LIB}",
                    "-jar",
                    str(folder / _JAR),
                    "-inMemory",
                    "-sharedDb",  # one database whatever the keys and region, as one account
                    "-disableTelemetry",
                    "-port",
                    str(chosen),
                ],
                cwd=workdir.name,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        engine = DynamoDbLocal(f"http://127.0.0.1:{chosen}", process, workdir)
        atexit.register(engine.stop)
        if _wait_until_up(engine, timeout):
            return engine
        output = log.read_text(errors="replace")[-2000:]
        engine.stop()
        if "Address already in use" in output and port is None:
            continue
        raise DynamoDbLocalUnavailableError(
            f"DynamoDB Local ({folder / _JAR}) did not answer on {engine.url} within "
            f"{timeout:.0f} s; its output:\n{output}"
        )
    raise DynamoDbLocalUnavailableError("DynamoDB Local found no free port in 3 tries")


def _wait_until_up(engine: DynamoDbLocal, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if engine.process.poll() is not None:
            return False
        try:
            urllib.request.urlopen(engine.url, timeout=1).close()
            return True
        except urllib.error.HTTPError:
            return True  # it answers (400: no signature), so it is up
        except OSError:
            time.sleep(0.1)
    return False


@contextmanager
def dynamodb_local(*, port: int | None = None) -> Iterator[str]:
    """Run DynamoDB Local for the duration of the ``with`` block; yield its URL."""
    engine = start_dynamodb_local(port=port)
    try:
        yield engine.url
    finally:
        engine.stop()


def _main(argv: list[str]) -> int:
    if argv != ["install"]:
        print(
            "usage: python -m simple_async_tasks.testing.dynamodb_local install", file=sys.stderr
        )
        return 2
    try:
        print(install_dynamodb_local())
        _java()
    except DynamoDbLocalUnavailableError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
