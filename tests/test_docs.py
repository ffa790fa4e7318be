"""The generated docs match the code: a change to a schema or a feature must regenerate them (`make docs`)."""

from __future__ import annotations

import pytest

from pipeline.docs import generated_docs


@pytest.mark.parametrize("path", list(generated_docs()), ids=lambda p: p.name)
def test_generated_doc_is_current(path):
    assert path.exists(), f"{path} is missing: run `make docs`"
    assert path.read_text() == generated_docs()[path], f"{path} is stale: run `make docs`"
