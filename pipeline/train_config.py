"""Read a training config file, turning its mistakes into one clear bad-input message."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from features.errors import ContractError
from models.config import TrainConfig


def load_train_config(path: Path | None) -> TrainConfig:
    if path is None:
        return TrainConfig()
    if not path.is_file():
        raise ContractError(str(path), "", "a readable YAML file", got="no such file")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        line = getattr(getattr(err, "problem_mark", None), "line", None)
        raise ContractError(
            path.name, "", "valid YAML", row=None if line is None else line + 1
        ) from err
    try:
        return TrainConfig.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ContractError(path.name, where, first["msg"].lower(), got=first.get("input")) from err
