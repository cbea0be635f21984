"""Infinite Nature Zero's perpetual flight: the original's ``view_generation`` loop, frame by frame.

One pass per :meth:`InfiniteNatureZeroPipeline.step` (``S`` the frame side, ``F`` the canvas side)::

    cam      = controller.next([rgb, disparity], offset)           # Zero's autopilot, in the start camera's frame
    fly      = cam @ inverse(previous cam)                          # the relative pose [4, 4]
    dome     = splat(canvas, R = cam's rotation, t = 0, K_full)     # the sky dome: the first frame's canvas
                                                                    # turned with the camera, centre S x S
    refined  = refiner.render_and_refine([rgb, alpha], disparity, fly, K, style)    # the frame shown
    alpha    = Sobel alpha of the refined disparity
    sky      = erode7((dome coverage > 0.9) & (dome disparity < sky_offset)) * (refined disparity < sky_offset)
    if mean(sky) < 0.05 or > 0.6: a crash event (the original deletes its output and gives up)
    rgb, disparity = blend of refined and dome by blur5(sky) * (dome coverage > 0.9)    # sky correction
    disparity = clamp(disparity, 0, 1)

Frames are the refined outputs before the sky correction, as the original saves them; the corrected
frame the flight grows from is :attr:`ZeroFrame.carried_rgbd`. A crash is a recoverable event: the frame
that failed the test carries a :class:`FlightEvent`, the flight stops after it (``config.stop_on_crash``)
and every frame made so far is returned (:class:`ZeroFlightOutput`). Input preparation is in
:mod:`viewgen.pipelines.zero_inputs`; the refiner in :mod:`viewgen.refiners.stylegan`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import Tensor

from viewgen.control.base import CameraController, check_start_pose, check_steering
from viewgen.control.zero_autopilot import ZeroAutopilot
from viewgen.devices import usable_device
from viewgen.errors import ViewgenRuntimeError
from viewgen.geometry.poses import compose_poses
from viewgen.memory.base import Memory
from viewgen.networks.pretrained import config_from_dict, config_to_dict, write_release_manifest
from viewgen.networks.stylegan2 import CoModGenerator, find_latest_checkpoint, load_original_checkpoint
from viewgen.pipelines.fly_through_weights import MissingWeightsError
from viewgen.pipelines.infinite_nature_zero_config import InfiniteNatureZeroConfig, ZeroStepRecord
from viewgen.pipelines.outputs import FlightEvent, ZeroFlightOutput, ZeroFrame
from viewgen.pipelines.zero_inputs import (
    SkyCorrection,
    SkyDomeView,
    ZeroInputs,
    correct_sky,
    prepare_zero_inputs,
    sky_dome_view,
)
from viewgen.refiners.stylegan import StyleGANRefiner, ZeroRefinement, ZeroStyle, ZeroWarp
from viewgen.staging import build_and_publish, check_replaceable, write_file_atomic

__all__ = ["FlightEvent", "InfiniteNatureZeroConfig", "InfiniteNatureZeroPipeline", "ZeroFlightOutput", "ZeroFrame",
           "ZeroStepRecord"]

GENERATOR_DIR, CONFIG_FILE = "generator", "infinite_nature_zero.json"
Offset = tuple[float, float]


@dataclass(frozen=True, eq=False)
class _Flight:
    """The state between two steps (replaced, never mutated)."""

    frame: ZeroFrame  # the last frame emitted
    rgba: Tensor  # [1, 4, S, S] corrected RGB + Sobel alpha of the refined disparity
    disparity: Tensor  # [1, 1, S, S] corrected disparity, clamped to [0, 1]
    cam_from_start: Tensor  # [4, 4] float32
    start_pose: Tensor | None  # [3, 4] the user's start pose, None for the identity
    inputs: ZeroInputs
    style: ZeroStyle
    controller: CameraController
    canvas_depth: Tensor  # [1, F, F]
    noise_generator: torch.Generator
    events: tuple[FlightEvent, ...] = ()
    stopped: FlightEvent | None = None


class InfiniteNatureZeroPipeline:
    """Perpetual view generation with Infinite Nature Zero (the loop of the module doc).

    Args:
        generator: the :class:`~viewgen.networks.stylegan2.CoModGenerator` (or give ``refiner``).
        config: an :class:`InfiniteNatureZeroConfig` (its ``inputs.size`` is set to the generator's resolution).
        refiner: a ready :class:`~viewgen.refiners.stylegan.StyleGANRefiner` instead of ``generator``.
        controller: the :class:`CameraController` a flight uses when :meth:`reset` is given none
            (Zero's autopilot by default); it flies in the start camera's frame.
        memory: ``None`` (the original: every frame splats the last one), or a
            :class:`~viewgen.memory.Memory` (e.g. :class:`~viewgen.memory.world.WorldMemory`) that renders each
            new camera instead; the refiner fills what it does not know and the frame shown is what the memory
            keeps of the sky-corrected frame (:meth:`~viewgen.memory.Memory.add`).

    Use::

        pipe = InfiniteNatureZeroPipeline.from_pretrained("checkpoints/")   # original *latest.tar or a release
        flight = pipe(image, num_frames=100, disparity=disparity)           # ZeroFlightOutput
        pipe.reset(image, disparity); frame = pipe.step((0.5, 0.0))          # interactive, steering right
    """

    def __init__(self, generator: CoModGenerator | None = None, config: InfiniteNatureZeroConfig | None = None, *,
                 refiner: StyleGANRefiner | None = None, controller: CameraController | None = None,
                 memory: Memory | None = None) -> None:
        if (generator is None) == (refiner is None):
            raise ValueError("give either a generator or a refiner")
        config = config or InfiniteNatureZeroConfig()
        refiner = refiner if refiner is not None else StyleGANRefiner(generator, config.refiner)
        config = replace(config, refiner=refiner.config, inputs=replace(config.inputs, size=refiner.image_size[0]))
        self.config = config
        self.device = usable_device(config.device)
        self.refiner = refiner.to(self.device, torch.float32)
        self.default_controller, self.memory = controller, memory
        self._flight: _Flight | None = None
        self.last_step: ZeroStepRecord | None = None

    # ------------------------------------------------------------------ weights

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str | torch.device = "cpu",
                        config: InfiniteNatureZeroConfig | None = None) -> InfiniteNatureZeroPipeline:
        """Load an original checkpoint (a ``*latest.tar`` or the folder holding it), a saved generator folder
        (``config.json`` + ``model.safetensors``) or a release of :meth:`save_pretrained`.

        Raises :class:`~viewgen.pipelines.fly_through_weights.MissingWeightsError` when none is found.
        """
        path, device = Path(path), usable_device(device)
        saved = None
        if path.is_file() or (path.is_dir() and any(path.glob("*latest.tar"))):
            generator = load_original_checkpoint(find_latest_checkpoint(path), device=device)
        elif (path / "config.json").is_file():
            generator = CoModGenerator.from_pretrained(path, device=device)
        elif (path / GENERATOR_DIR / "config.json").is_file():
            generator = CoModGenerator.from_pretrained(path / GENERATOR_DIR, device=device)
            if (path / CONFIG_FILE).is_file():
                saved = config_from_dict(InfiniteNatureZeroConfig, json.loads((path / CONFIG_FILE).read_text()))
        else:
            raise MissingWeightsError(f"no Infinite Nature Zero weights in {path}: give the original checkpoint "
                                      f"(checkpoints/*latest.tar, or its folder) or a folder saved by save_pretrained")
        return cls(generator, replace(config or saved or InfiniteNatureZeroConfig(), device=str(device)))

    def save_pretrained(self, path: str | Path) -> Path:
        """Write ``path/generator`` (``config.json`` + ``model.safetensors``), ``path/infinite_nature_zero.json``
        and a manifest, all or nothing; a ``path`` holding anything else is refused (``OSError``)."""
        target = Path(path)
        check_replaceable(target, lambda entry: entry.name in (GENERATOR_DIR, CONFIG_FILE, "manifest.json"),
                          "Infinite Nature Zero weights", "save into a new or empty folder")

        def fill(folder: Path) -> None:
            self.refiner.generator.save_pretrained(folder / GENERATOR_DIR)
            text = (json.dumps(config_to_dict(self.config), indent=2) + "\n").encode()
            write_file_atomic(folder / CONFIG_FILE, lambda stream: stream.write(text))
            write_release_manifest(folder, [GENERATOR_DIR])

        build_and_publish(target, fill, "the Infinite Nature Zero weights", path)
        return target

    # ------------------------------------------------------------------ the flight

    def prepare(self, image, disparity=None, sky_mask=None) -> ZeroInputs:
        """:func:`~viewgen.pipelines.zero_inputs.prepare_zero_inputs` with ``config.inputs``; a ready
        :class:`ZeroInputs` is returned as it is."""
        if isinstance(image, ZeroInputs):
            return image
        return prepare_zero_inputs(image, disparity, sky_mask, self.config.inputs)

    def reset(self, image, disparity=None, *, sky_mask=None, cam_from_world: Tensor | None = None,
              style: ZeroStyle | None = None, controller: CameraController | None = None,
              **controller_options) -> ZeroFrame:
        """Start a flight and return frame 0 (the prepared crop).

        Args:
            image, disparity, sky_mask: see :meth:`prepare` (or a ready :class:`ZeroInputs` as ``image``).
            cam_from_world: the start pose ``[3, 4]`` of the reported poses (the identity by default).
            style: a ready :class:`~viewgen.refiners.stylegan.ZeroStyle`; by default one is drawn for the
                first frame from a generator seeded with ``config.seed``.
            controller: a :class:`CameraController` (reset to the identity); default Zero's autopilot
                with ``config.autopilot`` updated by ``controller_options``.
        """
        inputs = self.prepare(image, disparity, sky_mask)
        if inputs.rgbd.shape[-1] != self.refiner.image_size[0]:
            raise ValueError(f"inputs are {inputs.rgbd.shape[-1]} pixels wide, the generator needs "
                             f"{self.refiner.image_size[0]}: prepare them with this pipeline's config")
        generator = torch.Generator().manual_seed(self.config.seed)
        rgbd = inputs.rgbd.to(self.device)
        style = style if style is not None else self.refiner.sample_style(rgbd, generator)
        if style.kernels is None:
            style = self.refiner.with_kernels(style)
        start_pose = None if cam_from_world is None else check_start_pose(torch.as_tensor(cam_from_world))
        pose = start_pose if start_pose is not None else torch.eye(4)[:3]
        frame = ZeroFrame(0, rgbd, pose, inputs.intrinsics, carried_rgbd=rgbd)
        alpha = self.refiner.foreground_alpha(rgbd[:, 3:4])
        if self.memory is not None:
            self.memory.reset(rgbd, torch.eye(4, device=self.device)[:3], inputs.intrinsics.to(self.device))
        self._flight = _Flight(frame, torch.cat([rgbd[:, :3], alpha], 1), rgbd[:, 3:4], torch.eye(4), start_pose,
                               inputs, style, self._controller(controller, inputs, controller_options),
                               inputs.canvas_depth().to(self.device), generator)
        self.last_step = None
        return frame

    def _controller(self, controller, inputs: ZeroInputs, options: dict) -> CameraController:
        controller = controller if controller is not None else self.default_controller
        if controller is None:
            return ZeroAutopilot(inputs.pixel_matrix, torch.eye(4)[:3], replace(self.config.autopilot, **options))
        if options:
            raise ValueError("controller options cannot be given with a ready CameraController")
        controller.reset(torch.eye(4)[:3])
        return controller

    @torch.no_grad()
    def step(self, offset: Offset | None = (0.0, 0.0)) -> ZeroFrame:
        """Fly one frame (the module doc's loop) and return it; ``offset = (dx, dy)`` steers the look target
        (texture units, +x right, +y down). After a crash that stopped the flight, raises
        :class:`~viewgen.errors.ViewgenRuntimeError` (call :meth:`reset`)."""
        offset = check_steering(offset)
        flight = self._require_flight()
        if flight.stopped is not None:
            raise ViewgenRuntimeError(f"the flight stopped at frame {flight.stopped.frame_index} "
                                      f"({flight.stopped.message}); call reset() to start another")
        view = torch.cat([flight.rgba[:, :3], flight.disparity], 1).cpu()
        cam = _homogeneous(flight.controller.next(view, offset))  # autopilot, on the carried frame
        fly = torch.matmul(cam[None], torch.inverse(flight.cam_from_start[None]))[0]  # batched, as the original
        dome = self._sky_dome(flight.inputs, flight.canvas_depth, cam)
        if self.memory is None:  # the original: splat the carried frame
            refinement = self.refiner.render_and_refine(
                flight.rgba.clamp(min=0.0, max=1.0), flight.disparity.clamp(min=1e-2, max=1.0), fly[None, :3, :3],
                fly[None, :3, 3], flight.inputs.pixel_matrix[None], flight.style, flight.noise_generator)
        else:
            refinement = self._refine_memory(flight, cam)
        if not bool(torch.isfinite(refinement.rgbd).all()):
            raise ViewgenRuntimeError(f"frame {flight.frame.index + 1} has non-finite values; check the weights "
                                      "and inputs")
        return self._remember(flight, cam, fly, dome, refinement)

    def _refine_memory(self, flight: _Flight, cam: Tensor) -> ZeroRefinement:
        """The memory's view of ``cam`` (the start camera's frame), refined where the memory knows nothing."""
        rendered, mask = self.memory.render(cam[:3].to(self.device), flight.inputs.intrinsics.to(self.device))
        known = (mask > 0.5).to(rendered.dtype)
        disparity = rendered[:, 3:].clamp(min=self.refiner.config.min_disparity, max=1.0)
        warp = ZeroWarp(rendered[:, :3], known, disparity, mask, known)
        return ZeroRefinement(self.refiner.refine(rendered, known, flight.style, flight.noise_generator), warp)

    @torch.no_grad()
    def _sky_dome(self, inputs: ZeroInputs, canvas_depth: Tensor, cam_from_start: Tensor) -> SkyDomeView:
        device = self.device
        return sky_dome_view(inputs.rgbd_full[:, :3].to(device), canvas_depth, cam_from_start[None, :3, :3].to(device),
                             inputs.full_pixel_matrix[None].to(device), inputs.rgbd.shape[-1], inputs.vertical_offset)

    @torch.no_grad()
    def _remember(self, flight: _Flight, cam: Tensor, fly: Tensor, dome: SkyDomeView,
                  refinement: ZeroRefinement) -> ZeroFrame:
        """Sky correction and crash test of the refined frame; the next state; the frame to emit."""
        index, inputs, refined = flight.frame.index + 1, flight.inputs, refinement.rgbd
        alpha = self.refiner.foreground_alpha(refined[:, 3:4])  # before the correction, as the original
        sky = self._correct_sky(refined, dome, inputs.sky_offset) if self._corrects(inputs) else None
        event = self._crash_event(index, sky)
        corrected = sky is not None and event is None
        rgb, disparity = (sky.rgb, sky.disparity) if corrected else (refined[:, :3], refined[:, 3:4])
        disparity = torch.clamp(disparity, 0.0, 1.0)
        if self.memory is not None:  # shown: what the memory keeps (its view where it knew, the refined elsewhere)
            refined = self.memory.add(torch.cat([rgb, disparity], 1), cam[:3].to(self.device),
                                      inputs.intrinsics.to(self.device))
            rgb, disparity = refined[:, :3], refined[:, 3:4]
        frame = ZeroFrame(index, refined, self._reported_pose(cam, flight.start_pose), inputs.intrinsics,
                          carried_rgbd=torch.cat([rgb, disparity], 1), event=event,
                          sky_fraction=None if sky is None else sky.fraction)
        events = flight.events + ((event,) if event is not None else ())
        stopped = event if event is not None and self.config.stop_on_crash else None
        self._flight = replace(flight, frame=frame, rgba=torch.cat([rgb, alpha], 1), disparity=disparity,
                               cam_from_start=cam, events=events, stopped=stopped)
        self.last_step = ZeroStepRecord(cam, fly, dome, refinement, alpha, sky)
        return frame

    def _correct_sky(self, refined: Tensor, dome: SkyDomeView, sky_offset: float) -> SkyCorrection:
        config = self.config
        return correct_sky(refined, dome, sky_offset, config.coverage_threshold, config.erosion_size,
                           config.blur_size, config.blur_sigma)

    def _corrects(self, inputs: ZeroInputs) -> bool:
        """Sky correction (and the crash test) run when configured and the input has sky (``sky_offset > 0``)."""
        return self.config.sky_correction and inputs.sky_offset > 0

    def _crash_event(self, index: int, sky: SkyCorrection | None) -> FlightEvent | None:
        if sky is None:
            return None
        return FlightEvent.sky_test(index, sky.fraction, self.config.crash_below, self.config.crash_above)

    @staticmethod
    def _reported_pose(cam_from_start: Tensor, start_pose: Tensor | None) -> Tensor:
        if start_pose is None:
            return cam_from_start[:3].clone()
        return compose_poses(cam_from_start[:3].double(), start_pose.double()).to(start_pose.dtype)

    def iter_frames(self, image, num_frames: int, *, disparity=None, offset: Offset | Callable[[int], Offset] = (0, 0),
                    **reset_options) -> Iterator[ZeroFrame]:
        """Reset to ``image`` now (see :meth:`reset`), then yield up to ``num_frames`` frames; a flight that stops
        (a crash) ends the iteration after the frame that carries the event."""
        if isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 0:
            raise ValueError(f"num_frames must be a non-negative int, got {num_frames!r}")
        self.reset(image, disparity, **reset_options)
        steering = offset if callable(offset) else (lambda _index: offset)

        def frames() -> Iterator[ZeroFrame]:
            for index in range(1, num_frames + 1):
                yield self.step(steering(index))
                if self._require_flight().stopped is not None:
                    return

        return frames()

    def __call__(self, image, num_frames: int = 100, *, output_type: str = "frames",
                 **flight_options) -> ZeroFlightOutput | Tensor:
        """Fly ``num_frames`` frames (fewer after a crash); options as in :meth:`iter_frames`. Returns a
        :class:`ZeroFlightOutput` (frames 1..T, their ``rgbd [T, 4, S, S]``, ``poses``, ``events``), or with
        ``output_type="tensor"`` its ``rgbd``."""
        if output_type not in ("frames", "tensor"):
            raise ValueError(f"output_type must be 'frames' or 'tensor', got {output_type!r}")
        frames = tuple(self.iter_frames(image, num_frames, **flight_options))
        output = ZeroFlightOutput(frames, self.refiner.image_size, self.device, torch.float32,
                                  events=self._require_flight().events)
        return output if output_type == "frames" else output.rgbd

    # ------------------------------------------------------------------ state

    @property
    def frame(self) -> ZeroFrame:
        """The current frame (frame 0 right after :meth:`reset`)."""
        return self._require_flight().frame

    @property
    def controller(self) -> CameraController:
        return self._require_flight().controller

    def set_controller(self, controller: CameraController) -> None:
        """Fly on with ``controller`` from the next :meth:`step` (e.g. a
        :class:`~viewgen.control.replay.ReplayPath` back along the cameras flown, which are the start camera's
        frame when :meth:`reset` had no start pose); it is reset to the current camera. Frames, memory and style
        are kept."""
        flight = self._require_flight()
        if not isinstance(controller, CameraController):
            raise TypeError(f"set_controller needs a CameraController, got {type(controller).__name__}")
        controller.reset(flight.cam_from_start[:3])
        self._flight = replace(flight, controller=controller)

    @property
    def style(self) -> ZeroStyle:
        return self._require_flight().style

    @property
    def inputs(self) -> ZeroInputs:
        return self._require_flight().inputs

    @property
    def events(self) -> tuple[FlightEvent, ...]:
        """The flight's events so far (crashes)."""
        return self._require_flight().events

    @property
    def input_warnings(self) -> tuple[str, ...]:
        return self._require_flight().inputs.warnings

    def _require_flight(self) -> _Flight:
        if self._flight is None:
            raise ViewgenRuntimeError("no flight yet: call reset(image, disparity) (or iter_frames / __call__) first")
        return self._flight


def _homogeneous(pose: Tensor) -> Tensor:
    """``[3, 4]`` -> ``[4, 4]`` float32 on the CPU (the original's ``next_se3``)."""
    bottom = torch.tensor([[0.0, 0.0, 0.0, 1.0]])
    return torch.cat([pose.detach().to("cpu", torch.float32)[:3], bottom], dim=0)
