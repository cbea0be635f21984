"""Infinite Nature's perpetual fly-through: one RGBD frame in, an endless flight out.

The loop (the house plan's, ``../shared/DESIGN.md``), one pass per :meth:`FlyThroughPipeline.step`::

    style = refiner.encode_style(rgbd_0)                             # once, at reset()
    memory.reset(rgbd_0, cam_0, K)                                   # what the flight knows of the world
    for each frame:
        cam = controller.next(frame, offset)                         # autopilot or a scripted path
        warped, mask = memory.render(cam, K)                         # the known world from the new camera
        refined = refiner.refine(warped, mask, style)                # fill holes, add detail
        refined disparity *= exp(log-space scale fitted over mask)   # rescale_refined_disparity
        frame = memory.add(refined, cam, K)                          # remember it (-> the frame shown)
        emit frame

The controller, memory and refiner are policy objects the pipeline is given (as diffusers
gives a pipeline its scheduler). :meth:`~FlyThroughPipeline.from_pretrained` chooses
:class:`~viewgen.memory.LastFrame` and the SPADE refiner: Infinite Nature's ``autocruise.py``.
:meth:`~FlyThroughPipeline.weight_free` chooses the weight-free refiner and its memory:
frame 0 set into a procedural world (:class:`~viewgen.memory.WorldPrior`), flown level.
:meth:`~FlyThroughPipeline.render_refine` is warp + refine + rescale for given cameras;
release folders are read and written by :mod:`viewgen.pipelines.fly_through_weights`.

Inference has no randomness: with ``style_temperature = 0`` (the original) two flights from the
same input are identical; ``t > 0`` samples the style from a generator seeded with ``config.seed``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import Tensor

from viewgen.checks import check_shape
from viewgen.control.base import CameraController, check_steering
from viewgen.control.registry import make_controller
from viewgen.devices import usable_device
from viewgen.errors import ViewgenRuntimeError
from viewgen.geometry.disparity_rescale import rescale_refined_disparity
from viewgen.geometry.intrinsics import default_intrinsics
from viewgen.io.images import resize_input
from viewgen.io.rgbd_files import InputWarning, validate_rgbd
from viewgen.memory import LastFrame, Memory, WorldPrior, WorldPriorConfig
from viewgen.networks import SpadeGenerator, StyleEncoder
from viewgen.networks.winograd import conv_algorithm
from viewgen.pipelines.fly_through_config import DTYPES, FlyThroughConfig, check_gpu_options
from viewgen.pipelines.fly_through_weights import MissingWeightsError, load_release, save_release
from viewgen.pipelines.outputs import FlightOutput, Frame, PlannedStep, as_rgbd_batch
from viewgen.refiners.base import Refiner
from viewgen.refiners.cuda_graphs import GraphedRefiner
from viewgen.refiners.spade import SpadeRefiner
from viewgen.runtime import tune_cpu_allocator

__all__ = ["FlightOutput", "FlyThroughConfig", "FlyThroughPipeline", "Frame", "MissingWeightsError", "PlannedStep"]

Offset = tuple[float, float]


@dataclass(frozen=True, eq=False)
class _Flight:
    """The state between two :meth:`FlyThroughPipeline.step` calls besides the memory (replaced, never mutated)."""

    frame: Frame  # the last frame shown
    style: Tensor  # [1, style_dim]
    controller: CameraController
    warnings: tuple[str, ...] = ()


class FlyThroughPipeline:
    """Perpetual view generation: Infinite Nature's loop around a refiner, a memory and a camera controller.

    Args:
        style_encoder: a :class:`StyleEncoder` (RGBD -> 256-D style code).
        generator: a :class:`SpadeGenerator` (warped RGBD + mask + style -> RGBD).
        config: a :class:`FlyThroughConfig`; by default one at the refiner's image size.
        refiner: instead of the two networks, any :class:`~viewgen.refiners.base.Refiner`
            (e.g. the weight-free one; :meth:`weight_free` also picks its memory).
        memory: what the flight knows of the world (a :class:`~viewgen.memory.Memory`);
            :class:`~viewgen.memory.LastFrame` with the mesh warp (the paper) by default.
        controller: the :class:`CameraController` a flight uses when :meth:`reset` is given none;
            by default one made by name from ``config.controller`` at every reset.

    The refiner is moved to ``config.device`` / ``config.dtype`` and put in eval mode. Use::

        pipe = FlyThroughPipeline.from_pretrained("weights/infinite_nature")  # or .weight_free()
        flight = pipe(rgbd, num_frames=100)                 # FlightOutput: frames, poses, intrinsics
        pipe.reset(rgbd); frame = pipe.step((0.5, 0.0))     # interactive, steering right
    """

    def __init__(self, style_encoder: StyleEncoder | None = None, generator: SpadeGenerator | None = None,
                 config: FlyThroughConfig | None = None, *, refiner: Refiner | None = None,
                 memory: Memory | None = None, controller: CameraController | None = None) -> None:
        tune_cpu_allocator()
        if (refiner is None) == (style_encoder is None or generator is None):
            raise ValueError("give either a style_encoder and a generator, or a refiner")
        refiner = refiner if refiner is not None else SpadeRefiner(style_encoder, generator)
        self.config = config or FlyThroughConfig(image_size=tuple(refiner.image_size or (160, 256)))
        if refiner.image_size is not None and tuple(refiner.image_size) != tuple(self.config.image_size):
            raise ValueError(f"image sizes disagree: config {tuple(self.config.image_size)}, "
                             f"{refiner.name} refiner {tuple(refiner.image_size)}")
        self.device, self.dtype = usable_device(self.config.device), DTYPES[self.config.dtype]  # refuse "cuda" now
        check_gpu_options(self.config, self.device)
        self.refiner = refiner.to(self.device, self.dtype)
        if self._fast_on_cpu:
            self.refiner.channels_last()
        if self.config.cuda_graphs and not isinstance(self.refiner, GraphedRefiner):
            self.refiner = GraphedRefiner(self.refiner)
        self.memory = memory if memory is not None else LastFrame()
        self.default_controller = controller
        self._flight: _Flight | None = None

    @classmethod
    def weight_free(cls, config: FlyThroughConfig | None = None, **prior_options) -> FlyThroughPipeline:
        """A pipeline that needs no weights: frame 0 set into a procedural world, flown level.

        The memory is a :class:`~viewgen.memory.WorldPrior` (``prior_options`` are
        :class:`~viewgen.memory.WorldPriorConfig` fields); the refiner a
        :class:`~viewgen.refiners.classical.weight_free.WeightFreeRefiner`, which fills the small
        holes next to frame 0's content with the nearest known pixel. Its autopilot always flies
        level (``config.autopilot`` with ``level=True``: zero roll, bounded pitch, a climb near
        the ground; docs/autopilot.md).
        """
        from viewgen.refiners.classical.weight_free import WeightFreeRefiner

        config = config or FlyThroughConfig()
        config = replace(config, autopilot=replace(config.autopilot, level=True))
        prior = WorldPriorConfig(**{"seed": config.seed, **prior_options})  # the seed picks the invented world
        return cls(refiner=WeightFreeRefiner(), config=config, memory=WorldPrior(prior))

    @property
    def style_encoder(self) -> StyleEncoder:
        """The learned refiner's style encoder (``AttributeError`` for other refiners)."""
        return self._spade_refiner().style_encoder

    @property
    def generator(self) -> SpadeGenerator:
        """The learned refiner's SPADE generator (``AttributeError`` for other refiners)."""
        return self._spade_refiner().generator

    # ------------------------------------------------------------------ weights

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str | torch.device = "cpu",
                        config: FlyThroughConfig | None = None) -> FlyThroughPipeline:
        """Load ``path/style_encoder`` and ``path/spade_generator`` (and ``path/fly_through.json`` if present).

        The flight remembers the last frame only (:class:`~viewgen.memory.LastFrame`, the paper).
        Raises :class:`MissingWeightsError` naming what is missing and how to make it.
        """
        path = Path(path)
        usable_device(device)  # a CPU-only torch refuses "cuda" here, not at the first frame
        encoder, generator, saved_config = load_release(path, device, FlyThroughConfig)
        if config is None:
            config = saved_config or FlyThroughConfig(image_size=tuple(generator.config.image_size))
        return cls(encoder, generator, replace(config, device=str(device)), memory=LastFrame())

    @classmethod
    def load(cls, weights: str | Path | None = None, config: FlyThroughConfig | None = None) -> FlyThroughPipeline:
        """:meth:`from_pretrained` when ``weights`` is given, else :meth:`weight_free` (config's device)."""
        if weights is None:
            return cls.weight_free(config)
        device = config.device if config is not None else "cpu"
        return cls.from_pretrained(weights, device=device, config=config)

    def save_pretrained(self, path: str | Path) -> Path:
        """Write ``path/style_encoder``, ``path/spade_generator``, ``path/fly_through.json`` and a manifest.

        All or nothing: the release is built in a hidden folder beside ``path`` and swapped in
        whole, so a failure (a full disk) or an interrupt leaves an earlier ``path`` as it was.
        A ``path`` holding anything but such a release (or a converted one) is refused
        (``OSError``), so no file of the user's is deleted.
        """
        refiner = self._spade_refiner()
        return save_release(Path(path), refiner.style_encoder, refiner.generator, self.config)

    # ------------------------------------------------------------------ the two network calls

    @torch.inference_mode()
    def encode_style(self, rgbd: Tensor) -> Tensor:
        """``rgbd [B, 4, H, W]`` (at ``config.image_size``, in [0, 1]) -> style code mu ``[B, style_dim]``."""
        mu, _ = self.refiner.encode_style(self._network_rgbd(rgbd))
        return mu

    @torch.inference_mode()
    def render_refine(self, rgbd: Tensor, style: Tensor, cam_from_world: Tensor, intrinsics: Tensor,
                      next_cam_from_world: Tensor, next_intrinsics: Tensor) -> Tensor:
        """One render-refine step: the frame seen from ``cam_from_world``, re-imagined from ``next_cam_from_world``.

        Args:
            rgbd: ``[B, 4, H, W]`` RGB + disparity in [0, 1], at ``config.image_size``.
            style: ``[B, style_dim]`` or ``[style_dim]`` style code (shared by the batch).
            cam_from_world, next_cam_from_world: ``[3, 4]`` or ``[B, 3, 4]`` world-to-camera poses.
            intrinsics, next_intrinsics: ``[4]`` or ``[B, 4]`` normalized ``[fx, fy, cx, cy]``.

        Returns:
            ``[B, 4, H, W]``: RGB from the generator (no warped pixel is pasted back) and its
            disparity rescaled to the warped one in log space over the mask. The scale is fitted
            **per image**; the original sums over its batch of 1, which is the same there. The
            warp is the memory's (:attr:`Memory.warp`).
        """
        rgbd = self._network_rgbd(rgbd)
        style = self._style_batch(style, rgbd.shape[0])
        cam_from_world, next_cam_from_world = self._to_pipeline(cam_from_world), self._to_pipeline(next_cam_from_world)
        intrinsics, next_intrinsics = self._to_pipeline(intrinsics), self._to_pipeline(next_intrinsics)
        warped_rgbd, mask = self.memory.warp(rgbd, cam_from_world, next_cam_from_world, intrinsics, next_intrinsics)
        return self.refine(warped_rgbd, mask, style)

    @property
    def _fast_on_cpu(self) -> bool:
        """bfloat16 on a CPU (native there, :func:`~viewgen.devices.native_bfloat16`) with the SPADE generator
        channels-last, the layout oneDNN's bfloat16 kernels want."""
        return (self.config.precision == "fast" and self.device.type == "cpu"
                and isinstance(self.refiner, SpadeRefiner))

    @torch.inference_mode()
    def refine(self, warped_rgbd: Tensor, mask: Tensor, style: Tensor) -> Tensor:
        """``refiner.refine`` of ``warped_rgbd [B, 4, H, W]`` and ``mask [B, 1, H, W]`` with ``style [B, style_dim]``,
        then its disparity rescaled to the warped one over ``mask``: ``[B, 4, H, W]``."""
        fast = self.config.precision == "fast"
        if self._fast_on_cpu:  # the generator is channels-last here (__init__): its inputs too
            warped_rgbd, mask = (x.contiguous(memory_format=torch.channels_last) for x in (warped_rgbd, mask))
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=fast), conv_algorithm(self.config.conv):
            refined_rgbd = self.refiner.refine(warped_rgbd, mask, style)
        refined_rgbd = refined_rgbd.to(self.dtype).contiguous()
        disparity = rescale_refined_disparity(warped_rgbd[:, 3:], mask, refined_rgbd[:, 3:])
        return torch.cat([refined_rgbd[:, :3], disparity], dim=1)

    # ------------------------------------------------------------------ the flight

    def reset(self, rgbd, intrinsics: Tensor | None = None, cam_from_world: Tensor | None = None,
              controller: str | CameraController | None = None, **controller_options) -> Frame:
        """Start a flight from ``rgbd`` and return it as frame 0 (the memory starts from it).

        Args:
            rgbd: ``[1, 4, H, W]`` or ``[4, H, W]`` tensor or array, RGB and disparity in [0, 1];
                resized to ``config.image_size``. NaN, infinities, values out of range or a plain
                RGB image raise :class:`~viewgen.io.rgbd_files.InputError`; a constant or
                all-sky disparity gives an :class:`~viewgen.io.rgbd_files.InputWarning` (a
                ``UserWarning``, also kept in :attr:`input_warnings`).
            intrinsics: ``[4]``; by default ``[focal_x, focal_x * W / H, 0.5, 0.5]`` of the input.
            cam_from_world: start pose ``[3, 4]``; the identity by default.
            controller: a controller name or a ready :class:`CameraController`, which is reset
                to the start pose; by default the pipeline's ``controller`` if it was given one,
                else ``config.controller``.
            **controller_options: the controller's config fields; for the autopilot they
                override ``config.autopilot``.
        """
        rgbd = as_rgbd_batch(rgbd)
        start_rgbd, input_warnings = self.prepare_rgbd(rgbd)
        intrinsics = self._to_pipeline(default_intrinsics(*rgbd.shape[-2:], fx=self.config.focal_x)
                                       if intrinsics is None else intrinsics)
        start_pose = self._to_pipeline(torch.eye(4)[:3] if cam_from_world is None else cam_from_world)
        camera_controller = self._controller(controller, intrinsics, start_pose, controller_options)
        frame = Frame(0, start_rgbd, camera_controller.cam_from_world, intrinsics)
        style = self._flight_style(start_rgbd)
        self.memory.reset(frame.rgbd, frame.cam_from_world, frame.intrinsics)
        if self.memory.gravity is not None:
            camera_controller.set_gravity(self.memory.gravity)  # the memory knows which way is down
        self._flight = _Flight(frame, style, camera_controller, input_warnings)
        return frame

    @torch.inference_mode()
    def step(self, offset: Offset | None = (0.0, 0.0)) -> Frame:
        """Fly one frame (one pass of the loop in the module docstring) and return it.

        ``offset = (dx, dy)`` steers the autopilot's look target in texture units (+x right,
        +y down; the original demo sends ``2 * cursor - 1``); ``None`` means no steering,
        ``(0, 0)``. Two finite numbers (tuple, list, array or tensor) are accepted; anything
        else raises ``TypeError`` / ``ValueError`` here. Returns the new :class:`Frame`.
        """
        view = self.plan_step(offset)
        return self.complete_step(view, self.refine(view.warped_rgbd, view.mask, self.style))

    @torch.inference_mode()
    def plan_step(self, offset: Offset | None = (0.0, 0.0)) -> PlannedStep:
        """The first half of :meth:`step`: the next camera and the memory's view from it (a :class:`PlannedStep`).
        :class:`~viewgen.pipelines.flight_batch.FlightBatch` refines many flights' views in one call between
        this and :meth:`complete_step`."""
        offset = check_steering(offset)
        flight = self._require_flight()
        cam_from_world = flight.controller.next(flight.frame.rgbd, offset)  # autopilot, on the current frame
        warped_rgbd, mask = self.memory.render(cam_from_world, flight.frame.intrinsics)  # the known world
        return PlannedStep(flight.frame.index + 1, cam_from_world, flight.frame.intrinsics, warped_rgbd, mask)

    @torch.inference_mode()
    def complete_step(self, view: PlannedStep, refined_rgbd: Tensor) -> Frame:
        """The second half of :meth:`step`: remember ``refined_rgbd [1, 4, H, W]`` (the refined ``view``) and
        return the frame shown."""
        if not bool(torch.isfinite(refined_rgbd).all()):
            raise ViewgenRuntimeError(f"frame {view.index} has non-finite values; check the weights and inputs")
        shown = self.memory.add(refined_rgbd, view.cam_from_world, view.intrinsics)  # remember it
        frame = Frame(view.index, shown, view.cam_from_world, view.intrinsics)
        self._flight = replace(self._require_flight(), frame=frame)
        return frame  # emit

    def iter_frames(self, image_or_rgbd, num_frames: int, *, intrinsics: Tensor | None = None,
                    cam_from_world: Tensor | None = None, controller: str | CameraController | None = None,
                    offset: Offset | Callable[[int], Offset] = (0.0, 0.0), **controller_options) -> Iterator[Frame]:
        """Reset to ``image_or_rgbd`` (see :meth:`reset`) now, then yield ``num_frames`` generated frames.

        Each frame is one :meth:`step`; ``offset`` is a fixed ``(dx, dy)`` or a function of the
        frame index (1, 2, ...), like the original's ``turn_function``. The input frame is not
        yielded (as in ``autocruise.py``). The iterator shares the pipeline's flight state.
        """
        if isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 0:
            raise ValueError(f"num_frames must be a non-negative int, got {num_frames!r}")
        self.reset(image_or_rgbd, intrinsics, cam_from_world, controller, **controller_options)
        steering = offset if callable(offset) else (lambda _index: offset)
        return (self.step(steering(index)) for index in range(1, num_frames + 1))

    def __call__(self, image_or_rgbd, num_frames: int = 100, *, output_type: str = "frames",
                 **flight_options) -> FlightOutput | Tensor:
        """Fly ``num_frames`` frames from ``image_or_rgbd``; options as in :meth:`iter_frames`.

        Returns a :class:`~viewgen.pipelines.outputs.FlightOutput` (a sequence of :class:`Frame`
        with ``rgbd [T, 4, H, W]``, ``poses [T, 3, 4]``, ``intrinsics [T, 4]``), or with
        ``output_type="tensor"`` its ``rgbd`` alone.
        """
        if output_type not in ("frames", "tensor"):
            raise ValueError(f"output_type must be 'frames' or 'tensor', got {output_type!r}")
        frames = tuple(self.iter_frames(image_or_rgbd, num_frames, **flight_options))
        output = FlightOutput(frames, tuple(self.config.image_size), self.device, self.dtype)
        return output if output_type == "frames" else output.rgbd

    # ------------------------------------------------------------------ state

    @property
    def frame(self) -> Frame:
        """The current frame (the last one emitted, or frame 0 right after :meth:`reset`)."""
        return self._require_flight().frame

    @property
    def controller(self) -> CameraController:
        """The flight's camera controller (e.g. to change its speed: ``pipe.controller.set_speed(0.4)``)."""
        return self._require_flight().controller

    def set_controller(self, controller: CameraController) -> None:
        """Fly on with ``controller`` from the next :meth:`step` (e.g. a
        :class:`~viewgen.control.replay.ReplayPath` back along the poses flown): it is reset to the current
        frame's camera and given the memory's gravity; the frames, memory and style so far are kept."""
        flight = self._require_flight()
        if not isinstance(controller, CameraController):
            raise TypeError(f"set_controller needs a CameraController, got {type(controller).__name__}")
        controller.reset(flight.frame.cam_from_world)
        if self.memory.gravity is not None:
            controller.set_gravity(self.memory.gravity)
        self._flight = replace(flight, controller=controller)

    @property
    def style(self) -> Tensor:
        """The flight's style code ``[1, style_dim]``."""
        return self._require_flight().style

    @property
    def input_warnings(self) -> tuple[str, ...]:
        """Soft problems found in the input at the last :meth:`reset` (e.g. constant disparity)."""
        return self._require_flight().warnings

    # ------------------------------------------------------------------ helpers

    def prepare_rgbd(self, rgbd) -> tuple[Tensor, tuple[str, ...]]:
        """Validate an input frame and resize it: -> (``[1, 4, H, W]`` at ``config.image_size``, warnings)."""
        rgbd = as_rgbd_batch(rgbd)
        input_warnings = validate_rgbd(rgbd, "input rgbd")
        for message in input_warnings:
            warnings.warn(message, InputWarning, stacklevel=3)
        rgbd = self._to_pipeline(rgbd.clamp(0.0, 1.0))
        return resize_input(rgbd, self.config.image_size).clamp(0.0, 1.0), input_warnings

    def _to_pipeline(self, tensor: Tensor) -> Tensor:
        return torch.as_tensor(tensor).to(device=self.device, dtype=self.dtype)

    def _network_rgbd(self, rgbd: Tensor) -> Tensor:
        """Check ``[B, 4, H, W]`` at the networks' size and move it to the pipeline's device and dtype."""
        check_shape(rgbd, ("B", 4, *self.config.image_size), "rgbd",
                    hint=" (use reset() or prepare_rgbd() to resize an input)")
        return self._to_pipeline(rgbd)

    def _style_batch(self, style: Tensor, batch: int) -> Tensor:
        style = self._to_pipeline(style)
        style_dim = self.refiner.style_dim
        if style.dim() == 1:
            style = style.unsqueeze(0)
        check_shape(style, ("B", style_dim), "style", sizes={"B": (1, batch)})
        return style.expand(batch, style_dim)

    @torch.inference_mode()
    def _flight_style(self, rgbd: Tensor) -> Tensor:
        """mu, or a sample around it when ``config.style_temperature > 0`` (seeded, see the config)."""
        mu, logvar = self.refiner.encode_style(rgbd)
        if self.config.style_temperature == 0:
            return mu
        noise = torch.randn(mu.shape, generator=torch.Generator().manual_seed(self.config.seed), dtype=torch.float64)
        return mu + self.config.style_temperature * torch.exp(0.5 * logvar) * noise.to(mu)

    def _controller(self, controller, intrinsics: Tensor, start_pose: Tensor, options: dict) -> CameraController:
        if controller is None and self.default_controller is not None:
            controller = self.default_controller
        if isinstance(controller, CameraController):
            if options:
                raise ValueError("controller options cannot be given with a ready CameraController")
            controller.reset(start_pose)
            return controller
        name = self.config.controller if controller is None else controller
        if name == "autopilot":
            options = {**vars(self.config.autopilot), **options}
        return make_controller(name, intrinsics, start_pose, **options)

    def _spade_refiner(self) -> SpadeRefiner:
        refiner = self.refiner.refiner if isinstance(self.refiner, GraphedRefiner) else self.refiner
        if not isinstance(refiner, SpadeRefiner):
            raise AttributeError(f"this pipeline flies with the {refiner.name} refiner, not the SPADE networks")
        return refiner

    def _require_flight(self) -> _Flight:
        if self._flight is None:
            raise ViewgenRuntimeError("no flight yet: call reset(rgbd) (or iter_frames / __call__) first")
        return self._flight
