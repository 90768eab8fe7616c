"""The data sets of an SDMX message as tables of text: one row an observation, with its position.

pysdmx reads a message into one DataFrame per data set; SDMX-CSV is read again as text by pandas,
since pysdmx lets pandas guess types (the code "01" would become 1). A ``Table`` gives each
component's values as stripped text and each row's position in the message, for the rejections.
"""

from __future__ import annotations

from dataclasses import dataclass
from io import StringIO
from typing import TYPE_CHECKING, Any

from collectors.sources.base import PayloadError
from collectors.sources.sdmx_errors import explain, preview

if TYPE_CHECKING:
    import pandas as pd
    from pysdmx.model.message import Message

TIME_PERIOD = "TIME_PERIOD"
OBS_VALUE = "OBS_VALUE"
OBS_STATUS = "OBS_STATUS"


@dataclass
class Table:
    """One data set's observations, with their positions in the message."""

    structure: str
    frame: pd.DataFrame
    positions: list[int]
    constants: dict[str, str]  # data-set-level attributes, for components absent from the rows
    raw: pd.DataFrame | None  # SDMX-CSV read as text: the exact codes for these rows
    deleting: bool = False

    def has(self, name: str) -> bool:
        return name in self.frame.columns or name in self.constants

    def column(self, name: str) -> list[str]:
        """The component's values as stripped text, '' where absent."""
        if self.raw is not None and name in self.raw.columns:
            # pysdmx's CSV readers let pandas guess types, which turns the code "01" into 1.
            return [v.strip() for v in self.raw[name].to_numpy()[self.positions].tolist()]
        if name in self.frame.columns:
            return _texts(self.frame[name])
        return [self.constants.get(name, "")] * len(self.positions)

    def record(self, j: int) -> dict[str, Any]:
        """Row ``j``'s components as text, for a rejection."""
        out = {str(c): _text(v) for c, v in zip(self.frame.columns, self.frame.iloc[j].tolist(), strict=True)}
        if self.raw is not None:
            out.update({str(c): str(self.raw[c].iat[self.positions[j]]) for c in self.raw.columns if c in out})
        return out

    @property
    def observations(self) -> int:
        """How many observations the data set brings (none when it deletes them)."""
        return 0 if self.deleting else len(self.positions)


def tables_of(message: Message, raw: pd.DataFrame | None) -> list[Table]:
    header = message.header
    obs_dims = (header.structure or {}) if header is not None else {}
    tables: list[Table] = []
    offset = 0
    covered: set[int] = set()
    for ds in message.data or ():
        frame: pd.DataFrame = ds.data  # type: ignore[attr-defined]  # a PandasDataset
        structure = str(ds.structure)
        constants = {str(k): _text(v) for k, v in (ds.attributes or {}).items()}
        deleting = getattr(ds.action, "value", ds.action) == "Delete"
        if raw is not None:
            # pysdmx keeps the CSV's row numbers as the index, also when it splits data sets by structure.
            positions = [int(i) for i in frame.index]
            if not _aligned(frame, raw, positions) or covered.intersection(positions):
                raise PayloadError("pysdmx and pandas read different rows from this SDMX-CSV message")  # never seen
            covered.update(positions)
        else:
            frame = _without_bare_series(frame, obs_dims.get(structure) or TIME_PERIOD)
            positions = list(range(offset, offset + len(frame)))
            offset += len(frame)
        tables.append(Table(structure, frame, positions, constants, raw, deleting))
    if raw is not None and len(covered) < len(raw):
        # pysdmx drops the rows with ACTION "D" from a CSV that mixes them with others.
        left = [i for i in range(len(raw)) if i not in covered]
        tables.append(Table("(deleted rows)", raw.iloc[left], left, {}, raw, deleting=True))
    return tables


def _aligned(frame: pd.DataFrame, raw: pd.DataFrame, positions: list[int]) -> bool:
    """Whether ``positions`` are the rows of ``raw`` that ``frame`` holds (TIME_PERIOD is text in both)."""
    if positions and not 0 <= min(positions) <= max(positions) < len(raw):
        return False
    if TIME_PERIOD not in frame.columns or TIME_PERIOD not in raw.columns:
        return True
    ours = [v.strip() for v in raw[TIME_PERIOD].to_numpy()[positions].tolist()]
    return ours == _texts(frame[TIME_PERIOD])


def _without_bare_series(frame: pd.DataFrame, obs_dim: str) -> pd.DataFrame:
    """SDMX-ML: pysdmx gives a series without observations a row of its own; that row is no observation."""
    marks = [c for c in (obs_dim, OBS_VALUE, OBS_STATUS) if c in frame.columns]
    if not len(frame) or not marks or obs_dim == "AllDimensions":  # flat observations: every row is one
        return frame
    bare = (frame[marks[0]].astype("string").fillna("").str.strip() == "").to_numpy()
    for c in marks[1:]:
        bare &= (frame[c].astype("string").fillna("").str.strip() == "").to_numpy()
    return frame[~bare] if bare.any() else frame


def text_csv(body: bytes) -> pd.DataFrame:
    """The SDMX-CSV table as text, exactly as written."""
    import pandas as pd

    text = body.decode("utf-8", errors="replace").replace("\ufeff", "")  # as pysdmx decodes it
    try:
        return pd.read_csv(StringIO(text), dtype=str, keep_default_na=False, na_filter=False)
    except Exception as exc:  # pysdmx read it, so this is unlikely; still no pandas error unexplained
        raise PayloadError(
            f"not a readable SDMX-CSV message ({explain(exc)}); it starts with {preview(body)}"
        ) from None


def _texts(series: pd.Series) -> list[str]:
    values: list[str] = series.astype("string").fillna("").str.strip().tolist()
    return values


def _text(value: object) -> str:
    import pandas as pd

    return "" if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)) else str(value)
