"""The rasterizer's memory stays bounded by the image size whatever the vertex values are.

Before the fix, NaN vertices gave every triangle a whole-screen box and the visibility pass
listed every (triangle, pixel) pair at once: 22.5 GB and an OOM kill at 160x256. The check runs
in a child process with a capped address space, so a regression fails the test instead of
taking the machine down, and the child reports its peak resident memory.
"""

import json
import os
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent("""
    import json, resource, sys
    limit = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import torch

    from viewgen.data.toy_scene import toy_landscape_rgbd
    from viewgen.rendering import grid_faces, grid_vertices, perspective_from_intrinsics, rasterize

    height, width = 160, 256
    gen = torch.Generator().manual_seed(0)
    faces = grid_faces(height, width)
    intrinsics = torch.tensor([[0.8, 1.28, 0.5, 0.5]])
    vertices = grid_vertices(toy_landscape_rgbd(height, width)[:, 3:], intrinsics)
    normal = torch.cat([vertices, torch.ones_like(vertices[..., :1])], -1) @ perspective_from_intrinsics(intrinsics).mT
    cases = {name: torch.full_like(normal, value) for name, value in
             [("nan", float("nan")), ("inf", float("inf")), ("-inf", -float("inf")), ("1e30", 1e30),
              ("-1e30", -1e30), ("zero", 0.0)]}
    for value in (float("nan"), float("inf"), 1e30, -1e30, 0.0):
        spoiled = normal.clone()
        spoiled[torch.rand(spoiled.shape[:2], generator=gen) < 0.3] = value
        cases[f"30% of vertices {value}"] = spoiled
    for value in (float("nan"), float("inf")):
        spoiled = normal.clone()
        spoiled[torch.rand(spoiled.shape, generator=gen) < 0.3] = value
        cases[f"30% of coordinates {value}"] = spoiled
    behind = normal.clone()
    behind[..., 3] *= torch.where(torch.rand(height * width, generator=gen) < 0.05, -1.0, 1.0)
    cases["5% behind the eye"] = behind
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    covered = {}
    for name, clip in cases.items():
        covered[name] = int((rasterize(clip, faces, height, width, grid=(height, width)).face_ids >= 0).sum())
    growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - baseline) / 1024
    print(json.dumps({"growth_mib": growth, "covered": covered}))
""")


def test_garbage_vertices_rasterize_in_bounded_memory():
    env = dict(os.environ, OMP_NUM_THREADS="1")
    limit = 3 << 30  # address space; torch itself maps ~1 GB
    result = subprocess.run([sys.executable, "-c", CHILD, str(limit)], capture_output=True, text=True, env=env,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["growth_mib"] < 400, report
    for name in ("nan", "inf", "-inf", "zero"):
        assert report["covered"][name] == 0, report
