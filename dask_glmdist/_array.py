"""Array-namespace helpers: block functions run on NumPy, CuPy or any array-API array.

Only the small per-block summaries leave the device; :func:`to_host` moves them to
NumPy. Special functions (normal CDF, log-gamma) are not in the array API standard,
so :func:`special` dispatches to SciPy / CuPy and falls back to a host round trip.
"""

from __future__ import annotations

import numpy as np
import scipy.special
from array_api_compat import array_namespace, is_cupy_array, is_numpy_array

__all__ = ["get_namespace", "to_host", "special", "float_dtype"]


#: the namespace of NumPy arrays (array_api_compat's wrapper of NumPy)
NUMPY = array_namespace(np.empty(0))


def get_namespace(*arrays):
    """Return the array namespace shared by ``arrays`` (NumPy for plain Python input)."""
    if all(type(a) is np.ndarray or a is None for a in arrays):
        return NUMPY  # the common case (NumPy blocks), without the general look-up
    arrays = [a for a in arrays if a is not None and not np.isscalar(a)]
    if not arrays:
        return NUMPY
    return array_namespace(*arrays)


def to_host(x) -> np.ndarray:
    """Copy an array of any namespace to a NumPy array on the host."""
    if isinstance(x, np.ndarray | np.generic | float | int) or is_numpy_array(x):
        return np.asarray(x)
    if is_cupy_array(x):
        return x.get()
    return np.from_dlpack(x)


def float_dtype(xp, x):
    """The floating dtype to compute in: ``x``'s when it is floating, else float64."""
    if type(x) is np.ndarray:
        return x.dtype if x.dtype.kind == "f" else np.float64
    if xp.isdtype(x.dtype, "real floating"):
        return x.dtype
    return xp.float64


def special(name: str, x):
    """Evaluate ``scipy.special.<name>`` on ``x`` in ``x``'s own namespace."""
    if is_numpy_array(x):
        return getattr(scipy.special, name)(x)
    if is_cupy_array(x):  # pragma: no cover - needs a GPU
        import cupyx.scipy.special

        return getattr(cupyx.scipy.special, name)(x)
    xp = array_namespace(x)
    host = getattr(scipy.special, name)(to_host(x))
    return xp.asarray(host, dtype=x.dtype)
