"""Reading pickles that should hold only data (numpy arrays, numpy scalars, dicts, lists, strings, numbers).

The official `.npy` metadata and PySlowFast's Caffe2 weights are pickles; a pickle
may name any function to call while it loads. This unpickler resolves only the
names numpy's own array and scalar pickles use and refuses every other one, so a
crafted file cannot run code.
"""
from __future__ import annotations

import codecs
import pickle
from typing import IO

import numpy as np

# numpy's reconstructor and scalar constructor, taken from numpy's own reduce functions, under the module names
# that numpy 2 and numpy 1 (and Python 2 era files) write; the dtype classes of numeric data (no object dtype).
_RECONSTRUCT, _SCALAR = np.zeros(1).__reduce__()[0], np.int64(0).__reduce__()[0]
_NUMERIC_KINDS = "biufc"
NUMPY_DATA_GLOBALS: dict[tuple[str, str], object] = {
    **{(module, function.__name__): function for function in (_RECONSTRUCT, _SCALAR)
       for module in ("numpy.core.multiarray", "numpy._core.multiarray")},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    **{("numpy.dtypes", type(np.dtype(code)).__name__): type(np.dtype(code))
       for code in np.typecodes["All"] if np.dtype(code).kind in _NUMERIC_KINDS},
}
_ALLOWED_GLOBALS = {
    **NUMPY_DATA_GLOBALS,
    ("_codecs", "encode"): codecs.encode,  # how protocol 2 stores bytes (the array data) from Python 3
}


class _DataOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refuses to load {module}.{name}: only numpy arrays and plain data") from None


def load_data_pickle(handle: IO[bytes], encoding: str = "ASCII") -> object:
    """The next pickled object of `handle`; pickle.UnpicklingError when it names anything but numpy data."""
    return _DataOnlyUnpickler(handle, encoding=encoding).load()
