"""Binary little-endian PLY files of point clouds, for viewers (MeshLab, CloudCompare, Open3D),
written with numpy alone: one ``vertex`` element whose properties are the fields of a
structured array (float32 ``x``, ``y``, ``z``, then any extra fields, e.g. uint8 colours)."""
from __future__ import annotations

import numpy as np

#: numpy dtype -> PLY type name.
PLY_TYPES = {"f4": "float", "f8": "double", "u1": "uchar", "i1": "char", "u2": "ushort", "i2": "short",
             "u4": "uint", "i4": "int"}


def vertex_array(points: np.ndarray, **extra: np.ndarray) -> np.ndarray:
    """A structured array of x, y, z (float32) and the ``extra`` per-point fields, in that order."""
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    fields += [(name, values.dtype.newbyteorder("<").str) for name, values in extra.items()]
    vertices = np.empty(len(points), dtype=fields)
    for axis, name in enumerate("xyz"):
        vertices[name] = points[:, axis]
    for name, values in extra.items():
        vertices[name] = values
    return vertices


def encode_ply(vertices: np.ndarray) -> bytes:
    """The bytes of a binary PLY holding the structured array ``vertices``."""
    properties = "".join(f"property {PLY_TYPES[vertices.dtype[name].str[1:]]} {name}\n"
                         for name in vertices.dtype.names)
    header = f"ply\nformat binary_little_endian 1.0\nelement vertex {len(vertices)}\n{properties}end_header\n"
    return header.encode("ascii") + vertices.tobytes()


def decode_ply(data: bytes) -> np.ndarray:
    """The structured array back from :func:`encode_ply`'s bytes (only that layout)."""
    head, _, body = data.partition(b"end_header\n")
    lines = head.decode("ascii").splitlines()
    names = {v: k for k, v in PLY_TYPES.items()}
    fields = [(line.split()[2], "<" + names[line.split()[1]]) for line in lines if line.startswith("property ")]
    return np.frombuffer(body, dtype=fields)
