"""Gallery matching: nearest row, threshold, unknowns, add/remove, both metrics."""

import numpy as np
import pytest

from detection.engine.gallery import Gallery, Match


def unit(*v):
    a = np.asarray(v, dtype=np.float32)
    return a / np.linalg.norm(a)


def test_cosine_match_and_unknown():
    g = Gallery(["ann", "bob"], np.stack([unit(1, 0, 0), unit(0, 1, 0)]), metric="cosine", threshold=0.3)
    ann, nobody = g.match(np.stack([unit(1, 0.1, 0), unit(0, 0, 1)]))
    assert ann.identity == "ann" and ann.distance == pytest.approx(1 - 1 / np.sqrt(1.01), abs=1e-4)
    assert nobody.identity is None and nobody.distance == pytest.approx(1.0)


def test_cosine_normalises_rows():
    g = Gallery(["ann"], np.array([[10.0, 0.0]]), metric="cosine", threshold=0.1)
    assert g.match(np.array([[0.5, 0.0]]))[0] == Match("ann", 0.0)


def test_euclidean_threshold():
    g = Gallery(["ann"], np.zeros((1, 3)), metric="euclidean", threshold=0.6)
    near, far = g.match(np.array([[0.5, 0, 0], [0.7, 0, 0]]))
    assert near.identity == "ann" and far.identity is None and far.distance == pytest.approx(0.7)


def test_several_rows_per_person_and_remove():
    g = Gallery(metric="cosine", threshold=0.3)
    g.add("ann", np.stack([unit(1, 0), unit(0.7, 0.7)]))
    g.add("bob", unit(0, 1))
    assert len(g) == 3 and g.names == ["ann", "bob"]
    assert g.match(unit(0.6, 0.8)[None])[0].identity == "ann"  # nearest is ann's second row
    assert g.remove("ann") == 2
    assert g.names == ["bob"] and g.match(unit(0.6, 0.8)[None])[0].identity == "bob"
    assert g.remove("bob") == 1 and len(g) == 0


def test_empty_gallery_matches_nobody():
    g = Gallery(metric="cosine", threshold=0.5)
    assert g.match(np.ones((2, 4))) == [Match(None, None), Match(None, None)]


def test_distance_matrix_is_vectorised():
    rows = np.random.default_rng(0).normal(size=(50, 16)).astype(np.float32)
    g = Gallery([f"p{i}" for i in range(50)], rows, metric="euclidean", threshold=1.0)
    d = g.distances(rows[:5])
    assert d.shape == (5, 50)
    np.testing.assert_allclose(np.diag(d[:, :5]), 0, atol=1e-3)
    assert [m.identity for m in g.match(rows[:5])] == ["p0", "p1", "p2", "p3", "p4"]


@pytest.mark.parametrize(
    ("names", "rows", "message"),
    [
        (["a", "b"], np.zeros((1, 4)), "2 names for 1"),
        (["a"], np.full((1, 4), np.nan), "NaN"),
        (["a"], None, "without"),
    ],
)
def test_bad_input(names, rows, message):
    with pytest.raises(ValueError, match=message):
        Gallery(names, rows, metric="euclidean", threshold=1)


def test_dimension_mismatch_and_metric():
    g = Gallery(["a"], np.zeros((1, 4)), metric="euclidean", threshold=1)
    with pytest.raises(ValueError, match="does not fit"):
        g.add("b", np.zeros(3))
    with pytest.raises(ValueError, match="metric"):
        Gallery(metric="manhattan", threshold=1)


def test_variant_rows_match_only_within_their_own_threshold():
    g = Gallery(metric="cosine", threshold=0.3, variant_threshold=0.1)
    g.add("ann", unit(1, 0, 0))
    g.add("ann", unit(0, 1, 0), variant=True)
    near_variant = unit(0.2, 1, 0)  # distance ~0.02 to the variant, far from the plain row
    loose_variant = unit(0.6, 1, 0)  # ~0.14 to the variant: too far for a variant row
    assert g.match(near_variant[None])[0].identity == "ann"
    loose = g.match(loose_variant[None])[0]
    assert loose.identity is None and loose.distance == pytest.approx(1 - 1 / np.sqrt(1.36), abs=1e-4)
    assert g.remove("ann") == 2 and len(g) == 0


def test_variant_flags_must_fit():
    with pytest.raises(ValueError, match="variant flags"):
        Gallery(["a", "b"], np.eye(2), metric="cosine", threshold=0.3, variants=[True])
