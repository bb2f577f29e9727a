"""IdIndex (adapters' id -> row map): the in-order append path agrees with a dict model."""

import numpy as np

from vecbench.adapters._base import IdIndex


def test_appends_inserts_assigns_and_removes_agree_with_a_dict():
    rng = np.random.default_rng(0)
    index, model = IdIndex(), {}
    top = 0
    for step in range(300):
        kind = step % 5
        if kind in (0, 1, 2):  # ids in increasing order past the largest: the append path
            ids = np.arange(top, top + int(rng.integers(1, 700)), dtype=np.int64)
            top = int(ids[-1]) + 1
        elif kind == 3:  # ids anywhere, some present: assign (update + insert)
            ids = np.unique(rng.integers(0, top + 50, size=40)).astype(np.int64)
            top = max(top, int(ids[-1]) + 1)
        else:
            gone = np.unique(rng.integers(0, top, size=30)).astype(np.int64)
            values = index.remove(gone)
            assert values.tolist() == [model.pop(int(i)) for i in gone if int(i) in model]
            continue
        values = rng.integers(0, 1 << 40, size=ids.size).astype(np.int64)
        index.assign(ids, values)
        model.update(zip(ids.tolist(), values.tolist(), strict=True))
        assert len(index) == len(model)
    probe = np.arange(-3, top + 3, dtype=np.int64)
    assert index.lookup(probe).tolist() == [model.get(int(i), -1) for i in probe]
    assert index.nbytes == 16 * len(model)
