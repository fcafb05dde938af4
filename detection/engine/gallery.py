"""In-memory gallery of known faces with vectorised nearest-neighbour matching.

The engine only takes arrays: where the rows come from (database, a folder for the CLI) is the
caller's business. A person may have several rows (several photos, drawn-mask variants).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Match:
    """Best gallery match of one face; `identity` is None when nobody is close enough."""

    identity: str | None
    distance: float | None


class Gallery:
    """Names plus a float32 matrix of embeddings, matched by the recognizer's metric.

    Rows flagged as `variants` (embeddings of a drawn mask on an enrolment photo) match only within
    `variant_threshold`: masked faces resemble each other, so a masked stranger would otherwise
    be accepted far more often than the plain threshold promises.
    """

    def __init__(
        self,
        names: Sequence[str] = (),
        embeddings: np.ndarray | None = None,
        *,
        metric: str = "cosine",
        threshold: float,
        recognizer: str = "sface",
        variants: Sequence[bool] | None = None,
        variant_threshold: float | None = None,
    ) -> None:
        if metric not in ("cosine", "euclidean"):
            raise ValueError(f"unknown metric {metric!r}")
        self.metric = metric
        self.threshold = float(threshold)
        self.variant_threshold = self.threshold if variant_threshold is None else float(variant_threshold)
        self.recognizer = recognizer
        self._lock = threading.Lock()
        self._names: list[str] = []
        self._variant = np.zeros(0, dtype=bool)
        self._matrix = np.zeros((0, 0), dtype=np.float32)
        if len(names):
            if embeddings is None:
                raise ValueError("names given without embeddings")
            self.add_many(names, embeddings, variants=variants)

    def __len__(self) -> int:
        return len(self._names)

    @property
    def names(self) -> list[str]:
        """Distinct enrolled names, in enrolment order."""
        return list(dict.fromkeys(self._names))

    def _prepare(self, embeddings: np.ndarray) -> np.ndarray:
        rows = np.atleast_2d(np.asarray(embeddings, dtype=np.float32))
        if rows.ndim != 2 or (len(self._names) and rows.shape[1] != self._matrix.shape[1]):
            raise ValueError(f"embedding shape {rows.shape} does not fit the gallery")
        if not np.all(np.isfinite(rows)):
            raise ValueError("embeddings contain NaN or infinity")
        if self.metric == "cosine":
            rows = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
        return rows

    def add(self, name: str, embedding: np.ndarray, *, variant: bool = False) -> None:
        """Enrol one or more rows for `name` (`variant`: drawn-mask copies of an enrolment photo)."""
        rows = self._prepare(embedding)
        self.add_many([name] * len(rows), rows, variants=[variant] * len(rows))

    def add_many(self, names: Sequence[str], embeddings: np.ndarray, *, variants: Sequence[bool] | None = None) -> None:
        rows = self._prepare(embeddings)
        if len(names) != len(rows):
            raise ValueError(f"{len(names)} names for {len(rows)} embeddings")
        flags = np.zeros(len(rows), dtype=bool) if variants is None else np.asarray(variants, dtype=bool)
        if flags.shape != (len(rows),):
            raise ValueError(f"{len(flags)} variant flags for {len(rows)} embeddings")
        with self._lock:
            matrix = rows if not self._names else np.vstack([self._matrix, rows])
            self._names, self._matrix = self._names + [str(n) for n in names], matrix
            self._variant = np.concatenate([self._variant, flags])

    def remove(self, name: str) -> int:
        """Forget every row of `name`; returns how many were removed."""
        with self._lock:
            keep = [i for i, n in enumerate(self._names) if n != name]
            removed = len(self._names) - len(keep)
            self._names = [self._names[i] for i in keep]
            self._variant = self._variant[keep]
            self._matrix = self._matrix[keep] if keep else np.zeros((0, 0), dtype=np.float32)
        return removed

    def distances(self, embeddings: np.ndarray) -> np.ndarray:
        """(N, rows) distance matrix between the query embeddings and every gallery row."""
        with self._lock:
            matrix = self._matrix
        return self._distances(self._prepare(embeddings), matrix)

    def _distances(self, queries: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        if self.metric == "cosine":
            return 1.0 - queries @ matrix.T
        q, m = queries.astype(np.float64), matrix.astype(np.float64)  # float32 loses ~1e-3 near zero
        sq = (q**2).sum(1)[:, None] + (m**2).sum(1)[None, :] - 2.0 * q @ m.T
        return np.sqrt(np.maximum(sq, 0.0))

    def match(self, embeddings: np.ndarray) -> list[Match]:
        """Per query the row that is most within its threshold; an identity only if one is.

        `distance` is that row's distance, or the nearest distance when nobody matches.
        """
        queries = np.atleast_2d(np.asarray(embeddings, dtype=np.float32))
        with self._lock:
            names, matrix, variant = self._names, self._matrix, self._variant
        if not names or len(queries) == 0:
            return [Match(None, None) for _ in range(len(queries))]
        dist = self._distances(self._prepare(queries), matrix)
        margin = dist - np.where(variant, self.variant_threshold, self.threshold)[None, :]
        best = margin.argmin(axis=1)
        result = []
        for row, margins, j in zip(dist, margin, best, strict=True):
            if margins[j] <= 0:
                result.append(Match(names[j], round(float(row[j]), 4)))
            else:
                result.append(Match(None, round(float(row.min()), 4)))
        return result
