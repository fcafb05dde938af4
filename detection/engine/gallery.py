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
    """Names plus a float32 matrix of embeddings, matched by the recognizer's metric."""

    def __init__(
        self,
        names: Sequence[str] = (),
        embeddings: np.ndarray | None = None,
        *,
        metric: str = "cosine",
        threshold: float,
        recognizer: str = "sface",
    ) -> None:
        if metric not in ("cosine", "euclidean"):
            raise ValueError(f"unknown metric {metric!r}")
        self.metric = metric
        self.threshold = float(threshold)
        self.recognizer = recognizer
        self._lock = threading.Lock()
        self._names: list[str] = []
        self._matrix = np.zeros((0, 0), dtype=np.float32)
        if len(names):
            if embeddings is None:
                raise ValueError("names given without embeddings")
            self.add_many(names, embeddings)

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

    def add(self, name: str, embedding: np.ndarray) -> None:
        """Enrol one or more rows for `name`."""
        rows = self._prepare(embedding)
        self.add_many([name] * len(rows), rows)

    def add_many(self, names: Sequence[str], embeddings: np.ndarray) -> None:
        rows = self._prepare(embeddings)
        if len(names) != len(rows):
            raise ValueError(f"{len(names)} names for {len(rows)} embeddings")
        with self._lock:
            matrix = rows if not self._names else np.vstack([self._matrix, rows])
            self._names, self._matrix = self._names + [str(n) for n in names], matrix

    def remove(self, name: str) -> int:
        """Forget every row of `name`; returns how many were removed."""
        with self._lock:
            keep = [i for i, n in enumerate(self._names) if n != name]
            removed = len(self._names) - len(keep)
            self._names = [self._names[i] for i in keep]
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
        sq = (queries**2).sum(1)[:, None] + (matrix**2).sum(1)[None, :] - 2.0 * queries @ matrix.T
        return np.sqrt(np.maximum(sq, 0.0))

    def match(self, embeddings: np.ndarray) -> list[Match]:
        """Nearest row per query; an identity only within the threshold."""
        queries = np.atleast_2d(np.asarray(embeddings, dtype=np.float32))
        with self._lock:
            names, matrix = self._names, self._matrix
        if not names or len(queries) == 0:
            return [Match(None, None) for _ in range(len(queries))]
        dist = self._distances(self._prepare(queries), matrix)
        best = dist.argmin(axis=1)
        result = []
        for row, j in zip(dist, best):
            d = float(row[j])
            result.append(Match(names[j] if d <= self.threshold else None, round(d, 4)))
        return result
