"""Settings from the environment (pydantic-settings). Read when a server or CLI command starts, never at import.

Every variable is documented in README.md ("Configuration").
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Optional

from pydantic import Field, SecretStr, field_validator
from pydantic_core import PydanticUseDefault
from pydantic_settings import BaseSettings, SettingsConfigDict

from alice_mcp.data.errors import ConfigError

log = logging.getLogger(__name__)

APP_NAME = "alice-mcp"
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}")


def _ignore_placeholder(value: object, name: str) -> object:
    """A host that leaves ``${user_config.x}`` unsubstituted means "not set": warn and ignore it."""
    if isinstance(value, str) and _PLACEHOLDER.search(value):
        log.warning("%s=%r looks like an unsubstituted host placeholder; ignoring it", name, value)
        return None
    if isinstance(value, str) and not value.strip():
        return None
    return value


class Settings(BaseSettings):
    """Operator settings. ``FAL_KEY`` is optional here: the server starts without it and says how to set it."""

    model_config = SettingsConfigDict(env_prefix="ALICE_", extra="ignore", populate_by_name=True)

    fal_key: Optional[SecretStr] = Field(default=None, validation_alias="FAL_KEY")
    output_dir: Optional[Path] = None
    data_dir: Optional[Path] = None
    log_level: str = "INFO"
    price_overrides: Optional[str] = None
    upload_ttl: str = "1d"
    poll_interval_s: float = Field(default=0.5, gt=0, le=10)
    http_timeout_s: float = Field(default=60.0, gt=0)
    max_concurrent_jobs: int = Field(default=16, ge=1, le=64)
    retry_attempts: int = Field(default=5, ge=1, le=20)
    retry_backoff_s: float = Field(default=0.5, ge=0, le=30)
    # Safety and spend (README "Safety"). Operator-only: no tool argument can change these.
    allowed_dirs: Optional[str] = None
    max_input_mb: float = Field(default=2048, gt=0, allow_inf_nan=False)
    allow_http: bool = False
    private_outputs: bool = False  # results 600; output_policy reads ALICE_PRIVATE_OUTPUTS directly at publish
    max_cost_per_call_usd: Optional[float] = Field(default=5.0, ge=0, allow_inf_nan=False)
    daily_budget_usd: Optional[float] = Field(default=25.0, ge=0, allow_inf_nan=False)
    confirm_spend_above_usd: Optional[float] = Field(default=1.0, ge=0, allow_inf_nan=False)
    # The longest soundtrack one call may make (s): a whole video's soundtrack is many paid windows.
    max_soundtrack_seconds: float = Field(default=600.0, gt=0, le=86_400, allow_inf_nan=False)

    @field_validator("output_dir", "data_dir", mode="before")
    @classmethod
    def _no_placeholders(cls, value: object, info) -> object:  # type: ignore[no-untyped-def]
        return _ignore_placeholder(value, f"ALICE_{info.field_name.upper()}")

    @field_validator("allowed_dirs", mode="before")
    @classmethod
    def _dirs_placeholder(cls, value: object) -> object:
        return _ignore_placeholder(value, "ALICE_ALLOWED_DIRS")

    @field_validator("max_cost_per_call_usd", "daily_budget_usd", "confirm_spend_above_usd", mode="before")
    @classmethod
    def _usd_limit(cls, value: object, info) -> object:  # type: ignore[no-untyped-def]
        """``off``/``none`` switches a limit off; a placeholder or an empty value keeps the safe default."""
        if isinstance(value, str) and value.strip().lower() in ("off", "none", "unlimited", "never"):
            return None
        if _ignore_placeholder(value, f"ALICE_{info.field_name.upper()}") is None:
            raise PydanticUseDefault()
        return value

    @field_validator("fal_key", mode="before")
    @classmethod
    def _key_placeholder(cls, value: object) -> object:
        return _ignore_placeholder(value, "FAL_KEY")

    def resolved_output_dir(self) -> Path:
        """Where results go: ``ALICE_OUTPUT_DIR``, else the user's Videos folder / alice-mcp. Never the cwd."""
        if self.output_dir is not None:
            path = self.output_dir.expanduser()
            if not path.is_absolute():
                raise ConfigError(
                    f"ALICE_OUTPUT_DIR must be an absolute path (got {str(self.output_dir)!r}); "
                    "the server's working directory is not a place for results."
                )
            return path
        import platformdirs

        return Path(platformdirs.user_videos_dir()) / APP_NAME

    def resolved_data_dir(self) -> Path:
        """Where the ledger and logs live: ``ALICE_DATA_DIR``, else the platform's user data folder."""
        if self.data_dir is not None:
            return self.data_dir.expanduser()
        import platformdirs

        return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))

    def ledger_path(self) -> Path:
        """The job ledger (SQLite) inside the data folder."""
        return self.resolved_data_dir() / "ledger.sqlite3"

    def require_fal_key(self) -> str:
        """The fal API key, or a :class:`ConfigError` telling the user how to set it in their MCP host."""
        if self.fal_key is None or not self.fal_key.get_secret_value().strip():
            raise ConfigError(
                "FAL_KEY is not set, so alice-mcp cannot call fal.ai. Create a key at https://fal.ai/dashboard/keys "
                'and add it to this server\'s "env" block in your MCP host config (for Claude Desktop: '
                'claude_desktop_config.json → "mcpServers" → "alice-mcp" → "env": {"FAL_KEY": "..."}), '
                "then restart the host.",
                code="missing_key",
            )
        key = self.fal_key.get_secret_value().strip()
        if any(ch.isspace() or not ch.isprintable() or not ch.isascii() for ch in key):
            raise ConfigError(
                "FAL_KEY contains spaces, line breaks or other characters no fal key has (the value is not shown). "
                "Copy the key again from https://fal.ai/dashboard/keys into the server's env block and restart the host.",
                code="missing_key",
            )
        return key


def load_settings() -> Settings:
    """Read the settings from the environment; a malformed value becomes a :class:`ConfigError`."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(f"ALICE_{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"Invalid setting: {problems}") from exc
