"""Platform benchmarks: how long ``make demo`` takes to serve the login page, and idle memory.

Each run starts ``manage.py demo`` (the already-installed venv, the existing demo data) on a free
port, polls ``/accounts/login/`` until it answers 200, waits until the Celery worker has started
its pool (a forked child: the demo may start the worker after the web server answers), lets the
processes settle, measures the resident memory of the web server and of the Celery worker tree,
then stops it with Ctrl-C (SIGINT) the way a person would.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

from bench.core import Benchmark, Result

ROOT = Path(__file__).resolve().parent.parent
RUNS = 3
SETTLE_SECONDS = 3.0
STARTUP_TIMEOUT = 180.0
_measured: dict[str, list[float]] = {}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ok(url: str) -> bool:
    # Patient, like a browser: a server that listens before its workers are up (gunicorn) holds
    # the connection until one is; a 2 s timeout would pile up abandoned requests that several
    # workers then each serve (and each grows by what a first request costs).
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - local URL
            return response.status == 200
    except OSError:
        return False


def _tree_rss_mb(process: psutil.Process, field: str = "rss") -> float:
    """Resident memory of a process tree: ``rss`` counts pages shared by forked processes once
    per process; ``pss`` splits each shared page between its sharers (what the tree costs)."""
    total = 0
    for proc in [process, *process.children(recursive=True)]:
        try:
            info = proc.memory_full_info() if field == "pss" else proc.memory_info()
            total += getattr(info, field)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total / (1024 * 1024)


def _role(proc: psutil.Process) -> str:
    try:
        cmdline = " ".join(proc.cmdline())
    except psutil.Error:
        return ""
    if "runserver" in cmdline or "gunicorn" in cmdline:
        return "web"
    if "celery" in cmdline and "worker" in cmdline:
        return "worker"
    return ""


def _worker_started(root: psutil.Process) -> bool:
    """Whether the Celery worker has forked its pool (it has loaded the app and its tasks)."""
    for child in root.children():
        if _role(child) == "worker":
            with contextlib.suppress(psutil.Error):
                if child.children():
                    return True
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        for child in psutil.Process(process.pid).children(recursive=True):
            child.kill()
        process.kill()
        process.wait()


def _one_run() -> tuple[float, float, float, float, float, float]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.setdefault("DEBUG", "true")
    url = f"http://127.0.0.1:{port}/accounts/login/"
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 - fixed argv
        [sys.executable, "manage.py", "demo", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C goes to the demo only, as in a terminal
    )
    try:
        while not _ok(url):
            if process.poll() is not None:
                raise RuntimeError(f"manage.py demo exited with {process.returncode}")
            if time.perf_counter() - started > STARTUP_TIMEOUT:
                raise RuntimeError(f"no 200 from {url} within {STARTUP_TIMEOUT:.0f} s")
            time.sleep(0.1)
        first_200 = time.perf_counter() - started
        root = psutil.Process(process.pid)
        while not _worker_started(root):
            if process.poll() is not None:
                raise RuntimeError(f"manage.py demo exited with {process.returncode}")
            if time.perf_counter() - started > STARTUP_TIMEOUT:
                raise RuntimeError(f"no Celery pool within {STARTUP_TIMEOUT:.0f} s")
            time.sleep(0.05)
        worker_ready = time.perf_counter() - started
        time.sleep(SETTLE_SECONDS)
        rss = {"web": 0.0, "worker": 0.0, "web_pss": 0.0, "worker_pss": 0.0}
        for child in psutil.Process(process.pid).children():
            role = _role(child)
            if role:
                rss[role] += _tree_rss_mb(child)
                rss[f"{role}_pss"] += _tree_rss_mb(child, "pss")
        return (
            first_200,
            worker_ready,
            rss["web"],
            rss["worker"],
            rss["web_pss"],
            rss["worker_pss"],
        )
    finally:
        _stop(process)


def _measure() -> dict[str, list[float]]:
    if not _measured:
        samples: dict[str, list[float]] = {
            "start": [],
            "worker_start": [],
            "web": [],
            "worker": [],
            "web_pss": [],
            "worker_pss": [],
        }
        for _ in range(RUNS):
            for name, value in zip(samples, _one_run(), strict=True):
                samples[name].append(value)
        _measured.update(samples)
    return _measured


def demo_to_first_200() -> Result:
    return Result(_measure()["start"], unit="s", note=f"{RUNS} cold starts of manage.py demo")


def demo_to_worker_pool() -> Result:
    return Result(
        _measure()["worker_start"], unit="s", note="until the Celery worker has forked its pool"
    )


def idle_rss_web() -> Result:
    return Result(
        _measure()["web"], unit="MB", note="web server tree, 3 s after the first 200 and the pool"
    )


def idle_rss_worker() -> Result:
    return Result(_measure()["worker"], unit="MB", note="celery worker + its pool processes")


def idle_pss_web() -> Result:
    return Result(_measure()["web_pss"], unit="MB", note="the web tree's PSS (shared pages split)")


def idle_pss_worker() -> Result:
    return Result(_measure()["worker_pss"], unit="MB", note="the worker tree's PSS")


BENCHMARKS = [
    Benchmark(
        "make demo → first 200 on /accounts/login/", "(measure)", demo_to_first_200, "platform"
    ),
    Benchmark(
        "make demo → Celery worker pool started", "(measure)", demo_to_worker_pool, "platform"
    ),
    Benchmark("idle RSS web", "(measure)", idle_rss_web, "platform"),
    Benchmark("idle RSS worker", "(measure)", idle_rss_worker, "platform"),
    Benchmark("idle PSS web", "(measure)", idle_pss_web, "platform"),
    Benchmark("idle PSS worker", "(measure)", idle_pss_worker, "platform"),
]
