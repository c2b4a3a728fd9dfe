"""What every plot shares: a new Axes on its own figure, and saving a figure atomically.

Plot functions take ``ax=None`` and return the Axes; none uses pyplot's global state.
"""

from __future__ import annotations

import os
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from clvmodels.data.io import atomic_path


def new_axes(figsize: tuple[float, float]) -> Axes:
    """A new Axes on its own :class:`matplotlib.figure.Figure` (no pyplot state)."""
    figure = Figure(figsize=figsize, layout="constrained")
    return figure.add_subplot()


def save_figure(ax: Axes, path: str | os.PathLike[str], *, dpi: int = 120) -> Path:
    """Save the figure that holds ``ax`` as a PNG, atomically (temporary file, then rename).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Any Axes of the figure to save.
    path : path
        Target file; its folder is made if missing.
    dpi : int
        Resolution in dots per inch.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    figure = ax.get_figure(root=True)
    if figure is None:
        raise ValueError("the Axes belongs to no figure")
    target = Path(path)
    with atomic_path(target) as tmp:
        figure.savefig(tmp, format="png", dpi=dpi)
    return target
