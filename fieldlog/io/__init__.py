"""Import, export and analysis snapshot: the bridge to the Excel sheets teams already keep."""

from .importer import KINDS, ImportResult, RowError, import_file

__all__ = ["KINDS", "ImportResult", "RowError", "import_file"]
