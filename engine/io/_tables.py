"""Tables, graphs and JSON written atomically, in plain portable types."""

import json
import math
import os
from collections.abc import Mapping

import numpy as np

from .._errors import InvalidInputError, require
from ._atomic import atomic_write

_EXCEL_MAX_ROWS = 1_048_575  # one row is the header


def _suffix(path):
    return os.path.splitext(os.fspath(path))[1].lower()


def write_table(df, path):
    """Write a DataFrame as CSV, Excel or Parquet, chosen by the extension.

    The index is not written (use ``df.reset_index()`` to keep it).
    ``.xlsx`` needs openpyxl (extra ``excel``), ``.parquet`` needs pyarrow
    (extra ``parquet``); both are imported only here.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    path : str or os.PathLike
        Destination ending in ``.csv``, ``.xlsx`` or ``.parquet``.

    Raises
    ------
    InvalidInputError
        If ``df`` is not a DataFrame, the extension is not one of the
        three, or the table has more rows than Excel holds.
    MissingExtraError
        If openpyxl or pyarrow is needed and not installed.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import pandas as pd
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "edges.csv"
    >>> write_table(pd.DataFrame({"node_a": [1], "node_b": [2]}), path)
    >>> path.read_text().splitlines()
    ['node_a,node_b', '1,2']
    """
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise InvalidInputError(f"df must be a pandas DataFrame, was {type(df).__name__}")
    suffix = _suffix(path)
    if suffix == ".csv":
        with atomic_write(path, "w", newline="") as fh:
            df.to_csv(fh, index=False)
    elif suffix == ".xlsx":
        require("openpyxl", "excel")
        if len(df) > _EXCEL_MAX_ROWS:
            raise InvalidInputError(
                f"{os.fspath(path)}: {len(df)} rows do not fit in an Excel sheet "
                f"(at most {_EXCEL_MAX_ROWS}); write .csv or .parquet instead"
            )
        write_excel({"Sheet1": df}, path)
    elif suffix == ".parquet":
        require("pyarrow", "parquet")
        with atomic_write(path, "wb") as fh:
            df.to_parquet(fh, index=False, engine="pyarrow")
    else:
        raise InvalidInputError(
            f"cannot tell the table format of {os.fspath(path)}: the extension "
            "must be .csv, .xlsx or .parquet"
        )


def write_excel(sheets, path):
    """Write several DataFrames as the sheets of one ``.xlsx`` workbook.

    Excel stores numbers as doubles, so integer ids above 2**53 (uint64
    connectomics ids) are written as text to keep every digit.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import pandas as pd
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "net.xlsx"
    >>> write_excel({"edges": pd.DataFrame({"node_a": [2**60]})}, path)
    >>> import openpyxl
    >>> openpyxl.load_workbook(path)["edges"]["A2"].value
    '1152921504606846976'
    """
    import pandas as pd

    require("openpyxl", "excel")
    for name, df in sheets.items():
        if len(df) > _EXCEL_MAX_ROWS:
            raise InvalidInputError(
                f"{os.fspath(path)}: sheet {name!r} has {len(df)} rows, more than an "
                f"Excel sheet holds ({_EXCEL_MAX_ROWS}); write .csv or .parquet instead"
            )
    with atomic_write(path, "wb") as fh:
        with pd.ExcelWriter(fh, engine="openpyxl") as writer:
            for name, df in sheets.items():
                _exact_for_excel(df).to_excel(writer, sheet_name=name, index=False)


def _exact_for_excel(df):
    wide = [
        col for col in df.columns
        if df[col].dtype.kind in "iu" and len(df) and int(df[col].max()) > 2**53
    ]
    if not wide:
        return df
    return df.assign(**{col: df[col].astype(str) for col in wide})


def _plain(value):
    """A GraphML-storable value (bool, int, float or str), or None to drop."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return ";".join(str(_plain(v)) for v in items)
    if isinstance(value, Mapping):
        return json.dumps(_jsonable(value))
    return str(value)


def _unify(items):
    """Convert each attribute dict in place so one key has one type."""
    kinds = {}
    for data in items:
        for key, value in list(data.items()):
            data[key] = value = _plain(value)
            if value is None:
                del data[key]
            else:
                kinds.setdefault(key, set()).add(type(value))
    for key, found in kinds.items():
        if len(found) == 1:
            continue
        if found <= {bool, int}:
            cast = int
        elif found <= {int, float}:
            cast = float
        else:
            cast = str
        for data in items:
            if key in data:
                data[key] = cast(data[key])


def write_graphml(graph, path):
    """Write a networkx graph as GraphML, converting unstorable attributes.

    GraphML holds booleans, numbers and strings only. numpy scalars become
    Python numbers; lists, tuples and sets become ``;``-joined strings;
    dicts become JSON strings; ``None`` values are left out (GraphML's
    missing value); a key holding ints and floats becomes float, bools
    and ints becomes int, any other mix becomes string. The graph itself is not changed.

    Parameters
    ----------
    graph : networkx.Graph
        Any networkx graph (directed, multi).
    path : str or os.PathLike
        Destination, usually ``.graphml``.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import networkx as nx
    >>> g = nx.Graph()
    >>> g.add_edge(1, 2, edge_ids=[7, 9], length=np.float32(2.5))
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "net.graphml"
    >>> write_graphml(g, path)
    >>> nx.read_graphml(path, node_type=int).edges[1, 2]
    {'edge_ids': '7;9', 'length': 2.5}
    """
    import networkx as nx

    if not isinstance(graph, nx.Graph):
        raise InvalidInputError(
            f"graph must be a networkx graph, was {type(graph).__name__}"
        )
    out = graph.copy()  # attribute dicts are copied, values are not mutated
    _unify([out.graph])
    _unify([data for _, data in out.nodes(data=True)])
    _unify([data for *_, data in out.edges(data=True)])
    with atomic_write(path, "wb") as fh:
        nx.write_graphml(out, fh)


def _jsonable(obj):
    """Plain JSON types; NaN and infinities become None (null)."""
    if isinstance(obj, np.ndarray):
        obj = obj.tolist()
    elif isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, Mapping):
        return {_key(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise InvalidInputError(
        f"cannot write a {type(obj).__name__} to JSON; convert it to "
        "numbers, strings, lists or dicts first"
    )


def _key(key):
    key = key.item() if isinstance(key, np.generic) else key
    return key if isinstance(key, (str, int, float, bool)) or key is None else str(key)


def write_json(obj, path, *, indent=2):
    """Write numbers, strings, lists, dicts and numpy values as JSON.

    numpy arrays become (nested) lists, numpy scalars Python numbers;
    NaN and infinities are written as ``null`` so the file is strict
    JSON that every parser reads. Written atomically, UTF-8.

    Parameters
    ----------
    obj : object
        Nested dicts, lists, tuples, numbers, strings, numpy values.
    path : str or os.PathLike
        Destination, usually ``.json``.
    indent : int or None
        Indentation, or None for one line.

    Raises
    ------
    InvalidInputError
        If ``obj`` holds a value of another type.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "stats.json"
    >>> write_json({"mean": np.float64("nan"), "ids": np.arange(3)}, path, indent=None)
    >>> path.read_text()
    '{"mean": null, "ids": [0, 1, 2]}'
    """
    text = json.dumps(_jsonable(obj), indent=indent, allow_nan=False, ensure_ascii=False)
    with atomic_write(path, "w") as fh:
        fh.write(text + ("\n" if indent is not None else ""))
