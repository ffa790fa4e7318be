"""The data contract, the journey map, impact labels and feature definitions (no upward imports)."""
