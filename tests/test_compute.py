"""lai.compute: ordered results, content-hash cache, resumption, and a real Dask cluster on 127.0.0.1."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lai.compute import Cache, TaskError, map_tasks, task_key
from lai.files import sha256_file


def square_with_pid(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def touch_and_square(item: tuple[str, int]) -> int:
    folder, x = item
    Path(folder, f"called-{x}").touch()
    return x * x


def fail_when_flagged(item: tuple[str, int]) -> int:
    folder, x = item
    if x == 3 and Path(folder, "fail").exists():
        msg = "simulated crash"
        raise RuntimeError(msg)
    Path(folder, f"called-{x}").touch()
    return x + 100


def test_map_tasks_returns_results_in_input_order_from_processes() -> None:
    results = map_tasks(square_with_pid, list(range(12)), scheduler="processes", max_workers=2)
    assert [r[0] for r in results] == [x * x for x in range(12)]
    assert os.getpid() not in {pid for _, pid in results}


def test_sync_scheduler_runs_in_this_process() -> None:
    results = map_tasks(square_with_pid, [1, 2], scheduler="sync")
    assert {pid for _, pid in results} == {os.getpid()}


def test_scheduler_is_read_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAI_SCHEDULER", "sync")
    results = map_tasks(square_with_pid, [1, 2, 3])
    assert {pid for _, pid in results} == {os.getpid()}


def test_unknown_scheduler_is_refused_with_the_accepted_forms() -> None:
    with pytest.raises(ValueError, match="tcp://"):
        map_tasks(square_with_pid, [1], scheduler="slurm")


def test_cached_results_are_not_recomputed(tmp_path: Path) -> None:
    items = [(str(tmp_path), x) for x in range(6)]
    keys = [task_key("touch_and_square", x) for x in range(6)]
    first = map_tasks(touch_and_square, items, keys=keys, cache_dir=tmp_path / "cache", max_workers=2)
    for marker in tmp_path.glob("called-*"):
        marker.unlink()
    second = map_tasks(touch_and_square, items, keys=keys, cache_dir=tmp_path / "cache", max_workers=2)
    assert first == second == [x * x for x in range(6)]
    assert not list(tmp_path.glob("called-*"))


def test_interrupted_run_resumes_with_finished_tasks_kept(tmp_path: Path) -> None:
    items = [(str(tmp_path), x) for x in range(6)]
    keys = [task_key("fail_when_flagged", x) for x in range(6)]
    (tmp_path / "fail").touch()
    with pytest.raises(TaskError, match="Task 3"):
        map_tasks(fail_when_flagged, items, keys=keys, cache_dir=tmp_path / "cache", scheduler="sync")
    assert sorted(p.name for p in tmp_path.glob("called-*")) == ["called-0", "called-1", "called-2"]
    (tmp_path / "fail").unlink()
    for marker in tmp_path.glob("called-*"):
        marker.unlink()
    results = map_tasks(fail_when_flagged, items, keys=keys, cache_dir=tmp_path / "cache", scheduler="sync")
    assert results == [x + 100 for x in range(6)]
    assert sorted(p.name for p in tmp_path.glob("called-*")) == ["called-3", "called-4", "called-5"]


def test_task_key_depends_on_every_part_and_is_stable() -> None:
    assert task_key("a", {"x": 1, "y": [1, 2]}) == task_key("a", {"y": [1, 2], "x": 1})
    assert task_key("a", {"x": 1}) != task_key("a", {"x": 2})
    assert task_key("a", Path("/p")) == task_key("a", "/p")
    with pytest.raises(TypeError, match="cannot hash"):
        task_key(object())


def test_cache_entry_is_absent_until_put(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    assert "k" * 64 not in cache
    cache.put("k" * 64, {"v": 1})
    assert cache.get("k" * 64) == {"v": 1}
    with pytest.raises(KeyError):
        cache.get("0" * 64)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def dask_cluster(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A dask.distributed scheduler and two single-threaded workers, each its own process on 127.0.0.1."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    bin_dir = Path(sys.executable).parent
    procs = [
        subprocess.Popen(
            [
                str(bin_dir / "dask"),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--dashboard-address",
                ":0",
                "--no-show",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    for name in ("w1", "w2"):
        procs.append(
            subprocess.Popen(
                [
                    str(bin_dir / "dask"),
                    "worker",
                    address,
                    "--nthreads",
                    "1",
                    "--nworkers",
                    "1",
                    "--name",
                    name,
                    "--no-dashboard",
                    "--local-directory",
                    str(tmp_path / name),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    from distributed import Client

    deadline = time.monotonic() + 60
    with Client(address, timeout=60) as client:
        while len(client.scheduler_info()["workers"]) < 2:
            if time.monotonic() > deadline:
                pytest.fail("Dask workers did not register within 60 s")
            time.sleep(0.2)
    yield address
    for proc in reversed(procs):
        proc.terminate()
    for proc in procs:
        proc.wait(timeout=30)


def test_map_tasks_runs_on_a_dask_cluster_with_two_workers(dask_cluster: str) -> None:
    results = map_tasks(square_with_pid, list(range(40)), scheduler=dask_cluster)
    assert [r[0] for r in results] == [x * x for x in range(40)]
    pids = {pid for _, pid in results}
    assert os.getpid() not in pids
    assert len(pids) == 2


def test_dask_results_match_local_file_hashes(dask_cluster: str, tmp_path: Path) -> None:
    files = []
    for i in range(5):
        path = tmp_path / f"f{i}.bin"
        path.write_bytes(bytes([i]) * (1000 + i))
        files.append(str(path))
    remote = map_tasks(sha256_file, files, scheduler=dask_cluster)
    assert remote == [hashlib.sha256(Path(f).read_bytes()).hexdigest() for f in files]


def test_task_key_of_an_object_array_is_the_same_in_another_process() -> None:
    code = (
        "import numpy as np; from lai.compute import task_key; "
        "print(task_key(np.array(['p1', 'p2', None], dtype=object)))"
    )
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert other.stdout.strip() == task_key(np.array(["p1", "p2", None], dtype=object))
    assert task_key(np.array(["p1"], dtype=object)) != task_key(np.array(["p2"], dtype=object))
