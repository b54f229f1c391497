"""The GCJ-02 and BD-09 offsets of Chinese web maps, and their removal.

Chinese web maps (AMap/Gaode, Tencent, Google inside China) publish coordinates in GCJ-02, a
deliberately distorted WGS84 whose offset is a smooth function of position of a few hundred
metres; Baidu adds a second rotation-and-shift on top (BD-09). Data digitised over those maps
carries the offset, so gridplan removes it (``--offset gcj02|bd09``) before any work, and can add it
back to draw over a GCJ-02 basemap.

The forward GCJ-02 transform is the published closed formula on the Krasovsky 1940 ellipsoid
(a = 6 378 245 m, e² = 0.006 693 421 622 965 943 23). It has no closed inverse, so
:func:`gcj02_to_wgs84` inverts it by fixed-point iteration until the round trip agrees to
about a millimetre (the offset's derivative is tiny, so three to five steps suffice). Outside
China (a lon/lat rectangle, :func:`out_of_china`) every offset is exactly zero, as the web maps
do.

All functions take scalars or NumPy arrays (any shape) of longitudes and latitudes in degrees
and return a ``(lon, lat)`` pair of the same shape; scalars in give NumPy scalars out.

Example
-------
>>> lon, lat = wgs84_to_gcj02(106.63, 26.65)
>>> back = gcj02_to_wgs84(lon, lat)
>>> round(float(back[0]), 6), round(float(back[1]), 6)
(106.63, 26.65)
"""

from __future__ import annotations

from collections.abc import Callable

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS, Transformer

from gridplan._errors import DataError

__all__ = [
    "OFFSETS",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "convert_geoseries",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "local_utm_crs",
    "out_of_china",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

#: Coordinate systems :func:`convert_geoseries` knows.
OFFSETS: tuple[str, ...] = ("wgs84", "gcj02", "bd09")

# Krasovsky 1940 ellipsoid, as the GCJ-02 formula uses it.
_A = 6378245.0
_EE = 0.00669342162296594323
# BD-09 constant.
_X_PI = np.pi * 3000.0 / 180.0
# Rectangle outside which the web maps apply no offset.
_CHINA_LON = (72.004, 137.8347)
_CHINA_LAT = (0.8293, 55.8271)
# Iterative inverses stop when the forward transform of the estimate is this close, degrees
# (1e-9 degree is about 0.1 mm).
_TOL_DEG = 1e-9
_MAX_ITER = 30

Pair = tuple[NDArray[np.float64], NDArray[np.float64]]


def _arrays(lon: ArrayLike, lat: ArrayLike) -> Pair:
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    if x.shape != y.shape:
        x, y = np.broadcast_arrays(x, y)
    return x, y


def out_of_china(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """Whether each point lies outside the rectangle where the web-map offsets apply.

    Parameters
    ----------
    lon, lat
        Degrees, scalars or arrays of one shape.

    Returns
    -------
    numpy.ndarray
        Booleans, ``True`` outside China (offset exactly zero there). Non-finite coordinates
        count as outside.
    """
    x, y = _arrays(lon, lat)
    inside = (
        (x >= _CHINA_LON[0]) & (x <= _CHINA_LON[1]) & (y >= _CHINA_LAT[0]) & (y <= _CHINA_LAT[1])
    )
    return np.asarray(~inside)


def _delta_lat(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    out = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    out += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    out += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    out += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return out


def _delta_lon(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    out = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    out += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    out += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    out += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return out


def _gcj_offset(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> Pair:
    """The GCJ-02 offset (dlon, dlat) in degrees at WGS84 (lon, lat); zero outside China."""
    x = lon - 105.0
    y = lat - 35.0
    dlat = _delta_lat(x, y)
    dlon = _delta_lon(x, y)
    rad = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad) * np.pi)
    outside = out_of_china(lon, lat)
    dlon = np.where(outside, 0.0, dlon)
    dlat = np.where(outside, 0.0, dlat)
    return dlon, dlat


def _result(x: NDArray[np.float64], y: NDArray[np.float64]) -> Pair:
    # 0-d arrays become NumPy scalars so scalar callers get scalars back.
    if x.ndim == 0:
        return x[()], y[()]
    return x, y


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> Pair:
    """Add the GCJ-02 offset to WGS84 coordinates (degrees)."""
    x, y = _arrays(lon, lat)
    dlon, dlat = _gcj_offset(x, y)
    return _result(x + dlon, y + dlat)


def _invert(
    forward: Callable[[NDArray[np.float64], NDArray[np.float64]], Pair],
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    start: Pair,
) -> Pair:
    """Solve ``forward(w) == (x, y)`` for w by fixed-point iteration from ``start``."""
    wx, wy = np.array(start[0], dtype=np.float64), np.array(start[1], dtype=np.float64)
    for _ in range(_MAX_ITER):
        fx, fy = forward(wx, wy)
        ex, ey = fx - x, fy - y
        wx = wx - ex
        wy = wy - ey
        err = np.maximum(np.abs(ex), np.abs(ey))
        if not np.any(err[np.isfinite(err)] > _TOL_DEG):
            break
    return wx, wy


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> Pair:
    """Remove the GCJ-02 offset (iterative inverse; round trip well below 0.5 m)."""
    x, y = _arrays(lon, lat)

    def forward(a: NDArray[np.float64], b: NDArray[np.float64]) -> Pair:
        da, db = _gcj_offset(a, b)
        return a + da, b + db

    dlon, dlat = _gcj_offset(x, y)
    wx, wy = _invert(forward, x, y, (x - dlon, y - dlat))
    outside = out_of_china(x, y)
    return _result(np.where(outside, x, wx), np.where(outside, y, wy))


def _gcj_to_bd(x: NDArray[np.float64], y: NDArray[np.float64]) -> Pair:
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> Pair:
    """Add Baidu's BD-09 offset to GCJ-02 coordinates (none outside China)."""
    x, y = _arrays(lon, lat)
    bx, by = _gcj_to_bd(x, y)
    outside = out_of_china(x, y)
    return _result(np.where(outside, x, bx), np.where(outside, y, by))


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> Pair:
    """Remove Baidu's BD-09 offset, giving GCJ-02 (closed approximation refined iteratively)."""
    x, y = _arrays(lon, lat)
    px, py = x - 0.0065, y - 0.006
    z = np.sqrt(px * px + py * py) - 0.00002 * np.sin(py * _X_PI)
    theta = np.arctan2(py, px) - 0.000003 * np.cos(px * _X_PI)
    gx, gy = _invert(_gcj_to_bd, x, y, (z * np.cos(theta), z * np.sin(theta)))
    outside = out_of_china(x, y)
    return _result(np.where(outside, x, gx), np.where(outside, y, gy))


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> Pair:
    """WGS84 to BD-09 (GCJ-02 then Baidu's offset)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> Pair:
    """BD-09 to WGS84 (remove Baidu's offset, then GCJ-02's)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


_CONVERTERS: dict[tuple[str, str], Callable[[ArrayLike, ArrayLike], Pair]] = {
    ("wgs84", "gcj02"): wgs84_to_gcj02,
    ("gcj02", "wgs84"): gcj02_to_wgs84,
    ("gcj02", "bd09"): gcj02_to_bd09,
    ("bd09", "gcj02"): bd09_to_gcj02,
    ("wgs84", "bd09"): wgs84_to_bd09,
    ("bd09", "wgs84"): bd09_to_wgs84,
}


def _system(name: str) -> str:
    key = str(name).lower().replace("-", "").replace("_", "")
    if key not in OFFSETS:
        msg = f"unknown coordinate offset {name!r}; use one of {', '.join(OFFSETS)}"
        raise DataError(msg)
    return key


def convert_geoseries(gs: gpd.GeoSeries, from_: str, to: str) -> gpd.GeoSeries:
    """Convert every vertex of a lon/lat GeoSeries between WGS84, GCJ-02 and BD-09.

    Parameters
    ----------
    gs
        Geometries in a geographic CRS (EPSG:4326, or CGCS2000 EPSG:4490, which agrees with
        WGS84 to a few centimetres), or without a CRS.
    from_, to
        ``"wgs84"``, ``"gcj02"`` or ``"bd09"`` (case and dashes ignored).

    Returns
    -------
    geopandas.GeoSeries
        A new series, same index and CRS; Z values are kept.

    Raises
    ------
    DataError
        An unknown system name, or a projected CRS (the offsets are defined on degrees).
    """
    src, dst = _system(from_), _system(to)
    if gs.crs is not None and not gs.crs.is_geographic:
        msg = (
            f"the {src} to {dst} conversion needs longitude/latitude coordinates, but the "
            f"geometries are in the projected CRS {gs.crs.to_string()}; declare the offset only "
            "on data in degrees (WGS84 / EPSG:4326)"
        )
        raise DataError(msg)
    if src == dst:
        return gs.copy()
    func = _CONVERTERS[(src, dst)]

    def convert(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        lon, lat = func(coords[:, 0], coords[:, 1])
        out = coords.copy()
        out[:, 0] = lon
        out[:, 1] = lat
        return out

    values = shapely.transform(np.asarray(gs.values), convert, include_z=None)
    return gpd.GeoSeries(values, index=gs.index, crs=gs.crs, name=gs.name)


def local_utm_crs(gs: gpd.GeoSeries | gpd.GeoDataFrame) -> CRS:
    """The WGS84 UTM zone (EPSG:326xx north, 327xx south) holding the centre of the data.

    The same answer as ``GeoSeries.estimate_utm_crs()`` for a town-sized extent (both take the
    zone of the bounding-box centre), without its slow PROJ database query.

    Parameters
    ----------
    gs
        Geometries with a CRS (geographic or projected) and at least one non-empty geometry.

    Returns
    -------
    pyproj.CRS
        The UTM CRS.

    Raises
    ------
    DataError
        No CRS, or no finite coordinates.
    """
    if gs.crs is None:
        msg = "cannot choose a UTM zone for data without a CRS; declare the CRS of the input"
        raise DataError(msg)
    minx, miny, maxx, maxy = gs.total_bounds
    if not np.all(np.isfinite([minx, miny, maxx, maxy])):
        msg = "cannot choose a UTM zone: the data has no finite coordinates"
        raise DataError(msg)
    x, y = (minx + maxx) / 2.0, (miny + maxy) / 2.0
    crs = CRS.from_user_input(gs.crs)
    if not crs.is_geographic:
        x, y = Transformer.from_crs(crs, 4326, always_xy=True).transform(x, y)
    # A geographic CRS other than WGS84 (CGCS2000...) differs by centimetres: used as is.
    zone = int(np.floor((float(x) + 180.0) / 6.0)) % 60 + 1
    return CRS.from_epsg((32600 if float(y) >= 0 else 32700) + zone)
