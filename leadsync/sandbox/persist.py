"""The sandbox's state file: JSON, written atomically so a crash never leaves half a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: State file format marker and version.
STATE_FORMAT = "leadsync-sandbox-state"
STATE_VERSION = 1


def read_json(path: Path) -> dict[str, Any]:
    """The JSON object stored at ``path``; ValueError naming the file otherwise."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a leadsync sandbox state file (not UTF-8)") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a leadsync sandbox state file")
    return data
