"""``viewgen fly --memory NAME --save-world DIR [--world-every N]``: what a flight remembers, and its world exported.

``--memory`` picks the flight's :class:`~viewgen.memory.Memory` (Zero: ``default``, its own splat of the last frame,
or ``world``):

* ``default``: the refiner's own (the weight-free flight: its procedural world prior; learned weights: the last
  frame, as the paper);
* ``last-frame``: every frame warps the previous one (:class:`~viewgen.memory.LastFrame`);
* ``keyframes``: warps from the last keyframe (:class:`~viewgen.memory.Keyframes`);
* ``world``: the persistent world (:class:`~viewgen.memory.world.WorldMemory`): every frame's new surface kept,
  so coming back to a place shows what was there; for the weight-free flight, with its prior as the fallback.

``--save-world DIR`` keeps every ``--world-every``-th frame (and the last) with its camera and, once the flight
is written, exports them with :func:`~viewgen.io.world_files.write_world` (points, mesh, splats, cameras).
"""

from __future__ import annotations

from argparse import Namespace

__all__ = ["MEMORIES", "CameraLog", "WorldKeeper", "add_world_options", "check_world_args", "choose_memory"]

MEMORIES = ("default", "last-frame", "keyframes", "world")  # viewgen.memory.world.MEMORY_NAMES


def add_world_options(fly) -> None:
    """Register ``--memory``, ``--save-world`` and ``--world-every`` on the ``fly`` parser."""
    fly.add_argument("--memory", choices=MEMORIES, default="default",
                     help="what the flight remembers: default (the refiner's own), last-frame, keyframes, or world "
                          "(every frame's new surface kept: come back and find it again); Zero: default or world")
    fly.add_argument("--save-world", default=None, metavar="DIR",
                     help="also export the world flown through to DIR: points.ply, mesh.ply, splats.ply (3D "
                          "Gaussian splats), cameras.txt (RealEstate10K) and transforms.json")
    fly.add_argument("--world-every", type=int, default=4, metavar="N",
                     help="with --save-world: keep every N-th frame for the export (default 4)")


def check_world_args(args: Namespace) -> None:
    """One-line refusals before any work."""
    if args.model == "infinite-nature-zero" and args.memory not in ("default", "world"):
        raise ValueError(f"--memory {args.memory} does not apply to --model infinite-nature-zero: its own loop "
                         "splats the last frame (default), or it remembers the world (--memory world)")
    if args.world_every < 1:
        raise ValueError(f"--world-every must be >= 1, got {args.world_every}")
    if args.save_world is not None:
        from viewgen.io.world_files import check_world_folder

        check_world_folder(args.save_world)


def choose_memory(name: str, current, weight_free: bool):
    """The memory ``--memory name`` asks for: :func:`viewgen.memory.world.memory_named` (the web demo's too);
    ``current`` is the pipeline's own (kept for ``default``, and the fallback of the weight-free flight's ``world``)."""
    from viewgen.memory.world import memory_named

    return memory_named(name, current, weight_free)


class WorldKeeper:
    """Keeps every ``every``-th frame (RGBD on the CPU, float16 disparity) with its camera, for :meth:`write`."""

    def __init__(self, every: int) -> None:
        self.every, self.frames, self.last = every, [], None

    def keep(self, frame) -> None:
        """Note ``frame`` (a flight frame with ``index``, ``rgbd [1, 4, H, W]``, ``cam_from_world``, ``intrinsics``)."""
        import torch

        entry = (frame.rgbd[0].detach().to("cpu", torch.float16), frame.cam_from_world.detach().cpu().double()[:3],
                 frame.intrinsics.detach().cpu().double())
        if frame.index % self.every == 0:
            self.frames.append(entry)
            self.last = None
        else:
            self.last = entry

    def write(self, out_dir, fps: float):
        """Export the kept frames (and the flight's last) to ``out_dir``; returns the export's summary."""
        import torch

        from viewgen.io.world_files import write_world
        from viewgen.io.world_record import WorldRecord

        frames = self.frames + ([self.last] if self.last is not None else [])
        record = WorldRecord(torch.stack([rgbd.float() for rgbd, _, _ in frames]).clamp(0, 1),
                             torch.stack([pose for _, pose, _ in frames]),
                             torch.stack([intrinsics for _, _, intrinsics in frames]), fps=fps / self.every)
        return write_world(out_dir, record)


class CameraLog:
    """Every flown frame's camera, for the ``cameras.json`` a PNG-folder flight is written with
    (:meth:`~viewgen.io.frame_writer.PngFolderWriter.write_cameras`), so ``viewgen export-world`` can read it."""

    def __init__(self) -> None:
        self.poses, self.intrinsics = [], []

    def keep(self, frame) -> None:
        self.poses.append(frame.cam_from_world.detach().cpu().double()[:3])
        self.intrinsics.append(frame.intrinsics.detach().cpu().double())

    def write_into(self, writer) -> None:
        """Write the cameras into ``writer`` when it is a PNG folder with frames (other outputs have no place)."""
        from viewgen.io.frame_writer import PngFolderWriter

        if isinstance(writer, PngFolderWriter) and self.poses:
            import torch

            writer.write_cameras(torch.stack(self.poses), torch.stack(self.intrinsics))
