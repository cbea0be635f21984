"""A tiny PLY reader for the tests (``plyfile`` is not a dependency): the layout viewgen writes.

Reads ``element vertex`` with float x, y, z and uchar red, green, blue, and ``element face``
with ``list uchar int vertex_indices`` (triangles only), binary little-endian or ASCII.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

_TYPES = {"float": "<f4", "double": "<f8", "uchar": "u1", "int": "<i4", "uint": "<u4"}


def read_ply(path: str | Path) -> dict:
    """``{"format", "comments", "vertices" [N, 3] float32, "colors" [N, 3] uint8, "faces" [M, 3] int64}``."""
    data = Path(path).read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    lines = data[:end].decode("ascii").splitlines()
    assert lines[0] == "ply", lines[0]
    fmt = lines[1].split()[1]
    elements, comments = [], []
    for line in lines[2:-1]:
        words = line.split()
        if words[0] == "comment":
            comments.append(line[len("comment "):])
        elif words[0] == "element":
            elements.append((words[1], int(words[2]), []))
        elif words[0] == "property":
            elements[-1][2].append(words[1:])
    assert [name for name, _, _ in elements] == ["vertex", "face"], elements
    vertex_props = elements[0][2]
    assert [p[-1] for p in vertex_props] == ["x", "y", "z", "red", "green", "blue"], vertex_props
    assert elements[1][2] == [["list", "uchar", "int", "vertex_indices"]], elements[1][2]
    num_vertices, num_faces = elements[0][1], elements[1][1]
    vertex_dtype = np.dtype([(p[-1], _TYPES[p[0]]) for p in vertex_props])
    if fmt == "binary_little_endian":
        vertices = np.frombuffer(data, vertex_dtype, num_vertices, end)
        face_dtype = np.dtype([("n", "u1"), ("i", "<i4", (3,))])
        offset = end + vertex_dtype.itemsize * num_vertices
        faces = np.frombuffer(data, face_dtype, num_faces, offset)
        assert offset + face_dtype.itemsize * num_faces == len(data), "trailing bytes"
        assert (faces["n"] == 3).all()
        xyz = np.stack([vertices["x"], vertices["y"], vertices["z"]], 1)
        rgb = np.stack([vertices["red"], vertices["green"], vertices["blue"]], 1)
        index = faces["i"].astype(np.int64)
    else:
        assert fmt == "ascii", fmt
        rows = data[end:].decode("ascii").splitlines()
        assert len(rows) == num_vertices + num_faces, (len(rows), num_vertices, num_faces)
        vertex_rows = np.array([r.split() for r in rows[:num_vertices]], dtype=np.float64).reshape(-1, 6)
        face_rows = np.array([r.split() for r in rows[num_vertices:]], dtype=np.int64).reshape(-1, 4)
        assert (face_rows[:, 0] == 3).all()
        xyz = vertex_rows[:, :3].astype(np.float32)
        rgb = vertex_rows[:, 3:].astype(np.uint8)
        index = face_rows[:, 1:]
    return {"format": fmt, "comments": comments, "vertices": np.ascontiguousarray(xyz),
            "colors": np.ascontiguousarray(rgb), "faces": np.ascontiguousarray(index)}
