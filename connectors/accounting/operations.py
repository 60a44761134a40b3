"""``accounting.export``: one revision of a record, as one row, in every sink, once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from connectors.accounting.columns import build_row
from connectors.accounting.files import FileTarget
from connectors.accounting.folder import safe_folder
from connectors.accounting.formats import FORMATS
from connectors.accounting.ledger import export_key, reversal_key
from connectors.accounting.models import ExportArgs
from hub.connector import Operation, operation_table
from hub.core import ConfigError

if TYPE_CHECKING:
    from connectors.accounting import AccountingApi

__all__ = ["OPERATIONS", "export"]


def export(api: AccountingApi, args: ExportArgs) -> dict[str, Any]:
    """Write (or skip) the row; answers ``{key, written, outcomes}``."""
    columns = args.typed_columns()
    names = list(columns)
    amounts = {name for name, col in columns.items() if col.type == "amount"}
    if args.entry == "reversal":
        key = reversal_key(args.id, args.revision)
        row = {}
    else:
        key = export_key(args.id, args.revision)
        row = build_row(columns, where=f"accounting.export of {key}")
    outcomes = []
    if args.files is not None:
        target = FileTarget(
            folder=safe_folder(api.export_dir, args.files.folder),
            name=args.files.name,
            formats=tuple(FORMATS[f] for f in dict.fromkeys(args.files.formats)),
        )
        outcomes += api.files.write(target, key, names, row, amounts)
    if args.http is not None:
        if api.http is None:
            raise ConfigError("accounting.export has `http:` but ACCOUNTING_URL is not set")
        outcomes.append(api.http.write(args.http.path, key, names, row, amounts))
    return {
        "key": key,
        "written": any(o.written for o in outcomes),
        "outcomes": [o.as_dict() for o in outcomes],
    }


OPERATIONS = operation_table(
    Operation(
        "export",
        ExportArgs,
        export,
        "Write one revision of a record (or its reversal) as a row to files and/or an "
        "HTTP endpoint, once per export key.",
        writes=True,
    )
)
