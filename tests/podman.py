"""podman (Debian's packages) for the deploy tests: settings, base images, builds, cleanup.

Nothing here reaches a container registry. The base image is made from Debian's package
archive (deploy/podman/base-image.sh, mmdebstrap from the mirror apt uses); the app image
is deploy/Dockerfile built on it with the host's network and pip settings, its model trained
with this test session's embeddings; the stand-ins for postgres, nginx and Mailpit come from
deploy/podman/standins.Containerfile. Images stay cached in podman's storage and the root
file system under .cache/deploy, so a second run builds nothing that has not changed. Every
command has a time limit.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
#: The root file system tarball and podman's settings (BPBOT_DEPLOY_CACHE: another folder,
#: e.g. an empty one to time a first run; CONTAINERS_STORAGE_CONF does so for images).
CACHE = Path(os.environ.get("BPBOT_DEPLOY_CACHE") or ROOT / ".cache" / "deploy")
BASE_IMAGE = "localhost/bpbot-base:bookworm"
APP_IMAGE = "localhost/bpbot:test"
STANDINS = ("postgres", "nginx", "mailpit")
#: The embedding cache's file in BPBOT_CACHE_DIR (bot/nlu/embedders.py, CachedEmbedder).
EMBEDDINGS_FILE = "embeddings.sqlite3"

#: podman itself runs with at most this many processes (it lowers its own limit to it), so
#: a container may not ask for more.
PODMAN_NPROC = 32768


def standin_image(name: str) -> str:
    return f"localhost/bpbot-standin-{name}:test"


def containers_conf() -> Path:
    """deploy/podman/containers.conf with this machine's limits (podman asks for more)."""
    text = (DEPLOY / "podman" / "containers.conf").read_text()
    _, nofile = resource.getrlimit(resource.RLIMIT_NOFILE)
    _, nproc = resource.getrlimit(resource.RLIMIT_NPROC)
    limits = [f"nofile={nofile}:{nofile}"]
    if nproc != resource.RLIM_INFINITY:
        nproc = min(nproc, PODMAN_NPROC)
        limits.append(f"nproc={nproc}:{nproc}")
    line = "default_ulimits = []"
    assert text.count(line) == 1, f"{line!r} is no longer in deploy/podman/containers.conf"
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / "containers.conf"
    path.write_text(text.replace(line, "default_ulimits = " + json.dumps(limits)))
    return path


def podman_env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(containers_conf())}


def bounded(command: list[str], timeout: float, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    """Run a command (output captured) in its own process group, all of it ended on timeout.

    Raises:
        subprocess.TimeoutExpired: it ran past `timeout` seconds (the group is killed).
    """
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=env, start_new_session=True) as process:
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.communicate(timeout=10)
                    break
            raise
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def podman(*args: str, timeout: float = 120, check: bool = True,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `podman ARGS` (text output captured); a failure shows podman's stderr."""
    result = bounded(["podman", *args], timeout, env or podman_env())
    if check and result.returncode != 0:
        pytest.fail(f"podman {' '.join(args[:3])} ... exited {result.returncode}:\n"
                    f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


@functools.cache
def usable() -> str | None:
    """None where podman runs containers here; else why not (the reason to skip with)."""
    for tools in (("podman",), ("podman-compose",), ("mmdebstrap", "debootstrap")):
        if not any(shutil.which(tool) or os.path.exists(f"/usr/sbin/{tool}") for tool in tools):
            pytest.fail(f"{' or '.join(tools)} is missing: scripts/setup.sh dev installs the "
                        "Debian packages podman, podman-compose and mmdebstrap for the deploy "
                        "tests")
    if os.geteuid() != 0:
        return ("the deploy tests run podman and mmdebstrap as root (they make a root file "
                "system and bind ports for nginx); this user is not root")
    info = subprocess.run(["podman", "info", "--format", "json"], capture_output=True,
                          text=True, timeout=60, env=podman_env())
    if info.returncode != 0:
        return f"podman cannot run on this machine: {info.stderr.strip()[-500:]}"
    return None


def require_podman() -> None:
    reason = usable()
    if reason:
        pytest.skip(reason)


#: Lines for the terminal (build figures), written by `announce` from a fixture.
_REPORTS: list[str] = []


def _report(line: str) -> None:
    _REPORTS.append(line)


def announce(request: pytest.FixtureRequest) -> None:
    """Write the build figures on pytest's terminal (also when it captures output)."""
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        while _REPORTS:
            print("\n" + _REPORTS.pop(0), flush=True)


@functools.cache
def base_image() -> str:
    """localhost/bpbot-base:bookworm, made from Debian's archive unless podman has it."""
    start = time.monotonic()
    result = bounded([str(DEPLOY / "podman" / "base-image.sh"), BASE_IMAGE, str(CACHE)], 900,
                     podman_env())
    if result.returncode != 0:
        pytest.fail(f"deploy/podman/base-image.sh failed:\n{result.stderr[-3000:]}")
    _report(f"[deploy] base image {BASE_IMAGE} ready in {time.monotonic() - start:.0f} s")
    return BASE_IMAGE


def pip_build_options() -> list[str]:
    """The host's pip index, trusted hosts, proxy and CA bundle as build options.

    Read at run time from `pip config list` and the environment; local indexes (file://,
    folders) do not exist inside the build and are left out.
    """
    listed = subprocess.run([sys.executable, "-m", "pip", "config", "list"],
                            capture_output=True, text=True, timeout=60).stdout
    config: dict[str, str] = {}
    for key, value in re.findall(r"^[^.\s]*\.([a-z-]+)='(.*)'$", listed, re.M):
        config[key] = value
    for key in ("index-url", "extra-index-url", "trusted-host", "cert"):
        value = os.environ.get("PIP_" + key.upper().replace("-", "_"))
        if value:
            config[key] = value
    options: list[str] = []
    for key in ("index-url", "extra-index-url"):
        urls = [u for u in config.get(key, "").split() if re.match(r"https?://", u)]
        if urls:
            options += ["--build-arg", f"PIP_{key.upper().replace('-', '_')}={' '.join(urls)}"]
    if config.get("trusted-host"):
        options += ["--build-arg", f"PIP_TRUSTED_HOST={config['trusted-host']}"]
    for name in ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                 "NO_PROXY"):
        if os.environ.get(name):
            options += ["--build-arg", f"{name}={os.environ[name]}"]
    cert = config.get("cert") or os.environ.get("REQUESTS_CA_BUNDLE")
    if cert and os.path.isfile(cert):
        options += ["--secret", f"id=pip_cert,src={cert}"]
    return options


def build(tag: str, containerfile: Path, context: Path, *options: str,
          timeout: float = 1500) -> tuple[float, str]:
    """`podman build` with the host's network; the seconds it took and its output."""
    start = time.monotonic()
    result = podman("build", "--network", "host", "--build-arg", f"BASE_IMAGE={base_image()}",
                    *options, "-f", str(containerfile), "-t", tag, str(context),
                    timeout=timeout)
    return time.monotonic() - start, result.stdout


def embeddings_snapshot(folder: Path) -> Path | None:
    """A copy of this session's embedding cache in `folder`; None where it has none.

    SQLite's backup copies it as one read, so a test writing to the cache meanwhile leaves
    no torn copy; only the embeddings go (not the cache folder's converted models).
    """
    from bot.nlu.embedders import cache_dir

    source = cache_dir() / EMBEDDINGS_FILE
    if not source.is_file():
        return None
    with contextlib.closing(sqlite3.connect(source, timeout=60)) as live, \
            contextlib.closing(sqlite3.connect(folder / EMBEDDINGS_FILE)) as copy:
        live.backup(copy)
    return folder


@functools.cache
def app_image() -> str:
    """deploy/Dockerfile built on the Debian base; prints the build time and image size.

    The build trains with this session's embeddings (the `trained_model` fixture has
    embedded every training text), passed as a volume, never in the build context.
    """
    with tempfile.TemporaryDirectory(prefix="bpbot-build-cache-") as folder:
        cache = embeddings_snapshot(Path(folder))
        volume = ["--volume", f"{cache}:/mnt:ro"] if cache else []
        seconds, output = build(APP_IMAGE, DEPLOY / "Dockerfile", ROOT, *volume,
                                *pip_build_options())
    size = int(podman("image", "inspect", "--format", "{{.Size}}", APP_IMAGE).stdout)
    trained = re.search(r"^Model written to \S+ in ([\d.]+) s$", output, re.M)
    figures = {"build_s": round(seconds), "size_mb": round(size / 1e6), "image": APP_IMAGE,
               "train_s": float(trained.group(1)) if trained else None}
    (CACHE / "last-build.json").write_text(json.dumps(figures) + "\n")
    _report(f"[deploy] built {APP_IMAGE} from deploy/Dockerfile in {seconds:.0f} s (layers "
            f"podman had cached are reused; `bpbot train` "
            f"{f'took {trained.group(1)} s' if trained else 'was cached'}); image size "
            f"{size / 1e6:.0f} MB")
    return APP_IMAGE


@functools.cache
def standin_images() -> dict[str, str]:
    """The stand-ins for compose's public images, by service."""
    seconds = sum(build(standin_image(name), DEPLOY / "podman" / "standins.Containerfile",
                        DEPLOY / "podman", "--target", name, timeout=900)[0]
                  for name in STANDINS)
    _report(f"[deploy] stand-ins for {', '.join(STANDINS)} built in {seconds:.0f} s")
    return {name: standin_image(name) for name in STANDINS}


def remove_labelled(label: str) -> None:
    """Remove the containers, volumes and networks with a label (images stay cached)."""
    env = podman_env()
    ids = podman("ps", "-aq", "--filter", f"label={label}", env=env).stdout.split()
    if ids:
        podman("rm", "-f", "-t", "0", *ids, timeout=120, check=False, env=env)
    for kind in ("volume", "network"):
        names = podman(kind, "ls", "-q", "--filter", f"label={label}", env=env).stdout.split()
        if names:
            podman(kind, "rm", "-f", *names, timeout=60, check=False, env=env)


def wait_for(check: Callable[[], bool], seconds: float, what: str,
             diagnose: Callable[[], str] = lambda: "") -> None:
    """Poll `check` until it holds; fail saying `what` did not happen (and `diagnose`)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(1)
    pytest.fail(f"{what} within {seconds:.0f} s\n{diagnose()}")
