"""What several `polydesk` subcommands share: loading settings with a one-line error, reaching Redis."""

from __future__ import annotations

import sys
from typing import TypeVar

from shared.config import ServiceSettings, load_settings
from shared.errors import ConfigurationError

SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


def settings_or_none(cls: type[SettingsT], prog: str) -> SettingsT | None:
    """The settings, or None after printing `prog: <what is wrong>` on stderr."""
    try:
        return load_settings(cls)
    except ConfigurationError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return None
