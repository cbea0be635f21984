"""Process settings of viewgen/runtime.py: bounded OpenMP spinning and threads that follow free cores."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import torch

from viewgen import runtime

LINUX_PROC = pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="needs Linux /proc")


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS")}


@pytest.mark.parametrize("user_setting", [{}, {"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "5"}])
def test_spinning_is_bounded_unless_the_user_chose(user_setting, monkeypatch):
    monkeypatch.delitem(sys.modules, "torch")  # as if torch were not loaded yet
    environ = dict(user_setting)
    applied = runtime.bound_openmp_spinning(environ)
    assert applied == (not user_setting)
    assert environ == (user_setting or {"GOMP_SPINCOUNT": str(runtime.SPIN_COUNT)})


def test_too_late_once_torch_is_loaded():
    environ: dict[str, str] = {}
    assert not runtime.bound_openmp_spinning(environ) and environ == {}


@pytest.mark.parametrize("command, expected", [("info", str(runtime.SPIN_COUNT)), ("serve", None)])
def test_the_cli_sets_the_policy_before_torch_loads(command, expected):
    probe = (f"import os, sys; sys.argv = ['viewgen', {command!r}]; import viewgen.cli.main; "
             "print(os.environ.get('GOMP_SPINCOUNT'), os.environ.get('OMP_WAIT_POLICY'))")
    out = subprocess.run([sys.executable, "-c", probe], env=_clean_env(), capture_output=True, text=True, check=True)
    spin, policy = out.stdout.split()
    assert spin == str(expected)
    assert policy == ("PASSIVE" if command == "serve" else "None")


def test_free_cores_subtracts_this_process():
    governor = runtime.FreeCoreThreads(max_threads=4)
    governor._cpus = 4
    # 1 s on 4 CPUs = 400 ticks; the machine was busy for 300 of them, 100 of which were ours.
    previous, current = (0.0, 1000, 4000, 50), (1.0, 1300, 4400, 150)
    assert governor.free_cores(previous, current) == pytest.approx(2.0)
    assert governor.free_cores(previous, (1.0, 1000, 4000, 50)) == 4  # no time passed


@LINUX_PROC
def test_threads_drop_to_one_when_other_processes_take_the_cores():
    cpus = os.cpu_count() or 1
    if cpus > 8:
        pytest.skip("keeps the test cheap: needs one busy loop per CPU")
    before = torch.get_num_threads()
    governor = runtime.FreeCoreThreads(max_threads=max(2, before), interval_s=0.4)
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cpus)]
    try:
        time.sleep(0.6)
        assert governor.update() == 1 == torch.get_num_threads()
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()
        torch.set_num_threads(before)


def test_update_within_the_interval_changes_nothing():
    before = torch.get_num_threads()
    governor = runtime.FreeCoreThreads(interval_s=3600)
    assert governor.update() == before == torch.get_num_threads()
