"""The one error every loader raises for bad input: which file, where in it, and what was expected."""

from __future__ import annotations

_LINE_SUFFIXES = (".yaml", ".yml")


class Verbatim(str):
    """A `got` text shown as is (a description such as 'an empty file'), not quoted as a value."""

    __slots__ = ()


class ContractError(ValueError):
    """Input that breaks the data contract; the CLI turns it into exit code 2 and its one-line message.

    `row` is the 1-based data row (header excluded) for tables and the 1-based line for YAML.
    `got` is the offending value; None means there is no single value to show.
    """

    def __init__(
        self,
        file: str,
        where: str,
        expected: str,
        row: int | None = None,
        got: object = None,
    ) -> None:
        self.file = file
        self.where = where
        self.expected = expected
        self.row = row
        self.got = got
        super().__init__(self.message)

    @property
    def message(self) -> str:
        location = ", ".join(part for part in (self.where, self._row_text()) if part)
        head = f"{self.file}: {location}: " if location else f"{self.file}: "
        tail = "" if self.got is None else f"; got {format_got(self.got)}"
        return f"{head}expected {self.expected}{tail}"

    def _row_text(self) -> str:
        if self.row is None:
            return ""
        # YAML problems are located by line, table problems by data row.
        unit = "line" if self.file.lower().endswith(_LINE_SUFFIXES) else "row"
        return f"{unit} {self.row}"

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[type, tuple[object, ...]]:
        # Exceptions pickle through their args; ours has five fields, not one message.
        return (type(self), (self.file, self.where, self.expected, self.row, self.got))


def format_got(value: object) -> str:
    """Show a value the way a user typed it: text quoted, numbers and descriptions bare."""
    if isinstance(value, Verbatim):
        return str(value)
    if isinstance(value, str):
        return repr(value)
    return str(value)
