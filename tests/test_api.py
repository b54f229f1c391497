from __future__ import annotations

import pytest

import gridplan


@pytest.mark.parametrize("name", [n for n in gridplan.__all__ if n != "__version__"])
def test_public_names_resolve(name):
    obj = getattr(gridplan, name)
    assert obj is not None
    assert name in dir(gridplan)


def test_unknown_name():
    with pytest.raises(AttributeError, match="no attribute"):
        gridplan.not_a_thing  # noqa: B018
