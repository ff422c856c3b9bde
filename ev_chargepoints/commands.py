"""The CLI subcommands: each adapts arguments to the core Workspace facade."""

from __future__ import annotations
