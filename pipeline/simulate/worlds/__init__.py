"""The family of simulated organisations, by name: each differs from the others in structure."""

from __future__ import annotations

from ..world import World
from . import media, saas, shop

DEFAULT_WORLD = "shop"

WORLDS: dict[str, World] = {
    "shop": shop.WORLD,
    "saas": saas.WORLD,
    "media": media.WORLD,
}


def world_named(name: str) -> World:
    if name not in WORLDS:
        raise ValueError(f"unknown world {name!r}: expected one of {', '.join(WORLDS)}")
    return WORLDS[name]
