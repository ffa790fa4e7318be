"""What each process of `bentoml serve` imports: memory the service pays for every library.

`bentoml serve` starts a serving process that imports serving/service.py only to read the
service's shape (its routes and IO models), and a worker that builds the service. The serving
process holds no data: pandas, LightGBM and MLflow there cost ~220 MB for nothing. The worker
reads the ranker's plain files: MLflow there costs ~55 MB for nothing.
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA_LIBRARIES = ("pandas", "pyarrow", "lightgbm", "sklearn", "scipy", "mlflow", "pandera")


def _imported_after(code: str) -> set[str]:
    """The top-level packages a fresh interpreter holds after running `code` in the repo."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_the_serving_process_reads_the_service_without_any_data_library():
    imported = _imported_after("import serving.service")
    assert "bentoml" in imported  # the import did run
    assert imported.isdisjoint(DATA_LIBRARIES), sorted(imported & set(DATA_LIBRARIES))


def test_the_worker_builds_its_engine_without_mlflow():
    # what JourneyRank.__init__ imports, and where it finds the ranker's files
    imported = _imported_after(
        "import serving.service, serving.engine, serving.adapters, serving.forwarder\n"
        "serving.service.ranker_folder('model')"
    )
    assert {"pandas", "lightgbm"} <= imported  # the worker does hold the model and its data
    assert "mlflow" not in imported
