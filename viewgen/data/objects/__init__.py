"""The synthetic object world for Equivariant Neural Rendering: seeded procedural objects (chairs, tables, cars,
mugs) built of boxes and cylinders, rendered from cameras on a sphere, exported in Apple's dataset layout."""

from viewgen.data.objects.export import ELEVATION_RANGE, export_object_scenes, scene_name
from viewgen.data.objects.kinds import OBJECT_KINDS, make_object
from viewgen.data.objects.render import camera_from_object, render_object
from viewgen.data.objects.shapes import Mesh, box, cylinder, merge

__all__ = ["ELEVATION_RANGE", "OBJECT_KINDS", "Mesh", "box", "camera_from_object", "cylinder", "export_object_scenes",
           "make_object", "merge", "render_object", "scene_name"]
