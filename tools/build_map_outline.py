"""Write the dashboard map's land outline (trackers/static/trackers/europe-outline.json).

Source: Natural Earth 1:50m land (public domain) as TopoJSON in the npm package world-atlas@2.0.2
(ISC). Reproduce with:

    npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
    python tools/build_map_outline.py package/land-50m.json

The output is one SVG path in the map's own coordinates (an equirectangular projection of the box
below, x scaled by cos(48 deg)), plus the box, so the page draws it offline and projects tracker
coordinates the same way (trackers/static/trackers/map.js).
"""

import json
import math
import sys
from pathlib import Path

WEST, EAST, SOUTH, NORTH = -25.0, 45.0, 34.0, 72.0
SCALE = 10.0  # map units per projected degree
COS = math.cos(math.radians(48.0))
OUT = Path(__file__).resolve().parent.parent / "trackers" / "static" / "trackers" / "europe-outline.json"


def project(lon: float, lat: float) -> tuple[float, float]:
    return (lon - WEST) * COS * SCALE, (NORTH - lat) * SCALE


def decode_arcs(topology: dict) -> list[list[tuple[float, float]]]:
    """Return every arc as absolute (lon, lat) points (TopoJSON quantized, delta-encoded)."""
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def ring_points(ring: list[int], arcs: list) -> list[tuple[float, float]]:
    points = []
    for index in ring:
        arc = arcs[index] if index >= 0 else list(reversed(arcs[~index]))
        points.extend(arc if not points else arc[1:])
    return points


def in_box(points) -> bool:
    return any(WEST - 5 <= lon <= EAST + 5 and SOUTH - 5 <= lat <= NORTH + 5 for lon, lat in points)


def clamp(lon: float, lat: float) -> tuple[float, float]:
    """Pull a point outside the box onto its margin: the ring keeps its shape inside the box."""
    return min(max(lon, WEST - 1), EAST + 1), min(max(lat, SOUTH - 1), NORTH + 1)


def path_of(points) -> str:
    coords = [project(*clamp(lon, lat)) for lon, lat in points]
    out, last = [], None
    for x, y in coords:
        cell = (round(x), round(y))
        if cell != last:
            out.append(f"{cell[0]:g},{cell[1]:g}")
            last = cell
    return "M" + "L".join(out) + "Z" if len(out) > 2 else ""


def main(source: str) -> None:
    topology = json.loads(Path(source).read_text())
    arcs = decode_arcs(topology)
    paths = []
    for geometry in topology["objects"]["land"]["geometries"]:
        polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
        for polygon in polygons:
            for ring in polygon:
                points = ring_points(ring, arcs)
                if any(lon > 170 for lon, _ in points) and any(lon < -170 for lon, _ in points):
                    # Crosses the antimeridian (Eurasia's Chukotka): unwrap, so it clamps east.
                    points = [(lon + 360 if lon < -150 else lon, lat) for lon, lat in points]
                if in_box(points):
                    paths.append(path_of(points))
    width, height = project(EAST, SOUTH)
    data = {
        "source": "Natural Earth 1:50m land via world-atlas@2.0.2 (tools/build_map_outline.py)",
        "box": {"west": WEST, "east": EAST, "south": SOUTH, "north": NORTH, "scale": SCALE, "cosLat": COS},
        "width": round(width, 1),
        "height": round(height, 1),
        "path": "".join(p for p in paths if p),
    }
    OUT.write_text(json.dumps(data, separators=(",", ":")))
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(paths)} rings)")


if __name__ == "__main__":
    main(sys.argv[1])
