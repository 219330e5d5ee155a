"""The container's configuration: the single list of environment variables the runtime accepts."""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.config import (
    DEFAULT_COOKIE_MAX_AGE_HOURS,
    DEFAULT_IDLE_TIMEOUT_MINUTES,
    ENV_BACKUPS_BUCKET,
    ENV_COOKIE_MAX_AGE_HOURS,
    ENV_ECS_CLUSTER,
    ENV_ECS_SERVICE,
    ENV_IDLE_TIMEOUT_MINUTES,
    ENV_TABLE,
)

PermissionMode = Literal["default", "acceptEdits", "bypassPermissions", "plan"]
# A list setting is read as the README documents it (comma-separated); a JSON list works too.
NameList = Annotated[tuple[str, ...], NoDecode]


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class Settings(BaseSettings):
    """Every field reads exactly one environment variable (its alias); nothing else configures Blu.

    The service stack sets these on the Fargate task and a test compares both lists, so a variable
    the task sets but the runtime ignores (or the reverse) fails the build.
    """

    model_config = SettingsConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    # Serving
    host: str = Field("127.0.0.1", validation_alias=_env("HOST"))
    port: int = Field(8000, ge=1, le=65535, validation_alias=_env("PORT"))
    data_dir: Path = Field(Path(".data"), validation_alias=_env("BLU_DATA_DIR"))
    workspace_dir_override: Path | None = Field(None, validation_alias=_env("BLU_WORKSPACE_DIR"))
    web_dir_override: Path | None = Field(None, validation_alias=_env("BLU_WEB_DIR"))

    # Store
    dynamodb_table: str = Field("", validation_alias=_env(ENV_TABLE))
    aws_region: str | None = Field(None, validation_alias=_env("AWS_REGION"))

    # Login
    auth_password_hash: SecretStr | None = Field(None, validation_alias=_env("AUTH_PASSWORD_HASH"))
    session_secret: SecretStr | None = Field(None, validation_alias=_env("SESSION_SECRET"))
    trust_forwarded_for: bool = Field(False, validation_alias=_env("BLU_TRUST_FORWARDED_FOR"))
    cookie_max_age_hours: int = Field(
        DEFAULT_COOKIE_MAX_AGE_HOURS, ge=1, le=24 * 90, validation_alias=_env(ENV_COOKIE_MAX_AGE_HOURS)
    )

    # Claude (passed through to the CLI)
    anthropic_base_url: str | None = Field(None, validation_alias=_env("ANTHROPIC_BASE_URL"))
    anthropic_api_key: SecretStr | None = Field(None, validation_alias=_env("ANTHROPIC_API_KEY"))
    claude_code_oauth_token: SecretStr | None = Field(None, validation_alias=_env("CLAUDE_CODE_OAUTH_TOKEN"))
    claude_config_dir_override: Path | None = Field(None, validation_alias=_env("CLAUDE_CONFIG_DIR"))
    claude_max_retries: int = Field(2, ge=0, le=10, validation_alias=_env("CLAUDE_CODE_MAX_RETRIES"))
    model: str | None = Field(None, validation_alias=_env("BLU_MODEL"))
    title_model: str = Field("haiku", validation_alias=_env("BLU_TITLE_MODEL"))
    title_mode: Literal["model", "words"] = Field("model", validation_alias=_env("BLU_TITLE_MODE"))

    # Keys of the MCP servers Blu configures itself (runtime/agent/mcp.py); the agent's CLI keeps them.
    github_token: SecretStr | None = Field(None, validation_alias=_env("GITHUB_TOKEN"))
    notion_api_key: SecretStr | None = Field(None, validation_alias=_env("NOTION_API_KEY"))

    # Agent sessions
    # Unset: from the task's memory (runtime/agent/capacity.py, hot_cap).
    max_hot_clients: int | None = Field(None, ge=1, le=32, validation_alias=_env("BLU_MAX_HOT_CLIENTS"))
    turn_timeout_seconds: float = Field(900, gt=0, validation_alias=_env("BLU_TURN_TIMEOUT_SECONDS"))
    watchdog_seconds: float = Field(180, gt=0, validation_alias=_env("BLU_WATCHDOG_SECONDS"))
    max_queued_turns: int = Field(20, ge=1, le=1000, validation_alias=_env("BLU_MAX_QUEUED_TURNS"))
    # The OS user the agent's CLI and its tools run as (Blu must start as root): see docs/architecture.md.
    agent_user: str = Field("", validation_alias=_env("BLU_AGENT_USER"))
    # The task's memory in MiB; unset: the container's cgroup limit (the Fargate task size), else the
    # machine's. It bounds how many Claude Code processes run at once (runtime/agent/capacity.py).
    task_memory_mib: int | None = Field(None, ge=256, validation_alias=_env("BLU_TASK_MEMORY_MIB"))
    permission_mode: PermissionMode = Field("acceptEdits", validation_alias=_env("BLU_PERMISSION_MODE"))
    # The tool policy's defaults (docs/protocol.md, "Approvals"): tools allowed, asked about, refused, and
    # the mode of every tool none of the lists names. MCP tools by `mcp__server__tool` or `mcp__server`.
    # A person changes them at run time (the store's entries win); BLU_PERMISSION_MODE no longer decides.
    allowed_tools: NameList = Field((), validation_alias=_env("BLU_ALLOWED_TOOLS"))
    ask_tools: NameList = Field((), validation_alias=_env("BLU_ASK_TOOLS"))
    disallowed_tools: NameList = Field((), validation_alias=_env("BLU_DISALLOWED_TOOLS"))
    tool_default: Literal["allow", "ask", "deny"] = Field("allow", validation_alias=_env("BLU_TOOL_DEFAULT"))
    # How long a turn stays paused for a person's answer (the task stays awake meanwhile); after it the
    # turn ends, the request stays pending, and an answer later resumes the work in a new turn.
    approval_wait_minutes: float = Field(15, gt=0, le=24 * 60, validation_alias=_env("BLU_APPROVAL_WAIT_MINUTES"))

    # Idle rule (the runtime stops itself by the same rule as the idle checker)
    idle_timeout_minutes: int = Field(
        DEFAULT_IDLE_TIMEOUT_MINUTES, ge=1, le=1440, validation_alias=_env(ENV_IDLE_TIMEOUT_MINUTES)
    )
    # The ECS service to scale to 0 when idle (unset locally: nothing to stop).
    ecs_cluster: str = Field("", validation_alias=_env(ENV_ECS_CLUSTER))
    ecs_service: str = Field("", validation_alias=_env(ENV_ECS_SERVICE))

    # Scheduled runs (runtime/schedules/). The cost guard: no schedule runs more often than this, and a
    # cron or repeat whose occurrences come closer is refused.
    schedule_min_interval_minutes: int = Field(
        15, ge=1, le=24 * 60, validation_alias=_env("BLU_SCHEDULE_MIN_INTERVAL_MINUTES")
    )
    # A run that starts this long after its time is marked late (Blu was asleep or interrupted); a wake
    # from zero takes ~1-2 minutes, so an on-time wake is not late.
    schedule_late_seconds: int = Field(300, ge=0, le=24 * 3600, validation_alias=_env("BLU_SCHEDULE_LATE_SECONDS"))
    # In AWS: the EventBridge Scheduler group, the function it invokes to wake Blu, and the role it does
    # that with (unset locally: schedules run only while Blu is awake).
    schedule_group: str = Field("", validation_alias=_env("BLU_SCHEDULE_GROUP"))
    schedule_target_arn: str = Field("", validation_alias=_env("BLU_SCHEDULE_TARGET_ARN"))
    schedule_role_arn: str = Field("", validation_alias=_env("BLU_SCHEDULE_ROLE_ARN"))

    # Voice (LiveKit room + the voice worker's speech providers)
    livekit_url: str | None = Field(None, validation_alias=_env("LIVEKIT_URL"))
    livekit_api_key: SecretStr | None = Field(None, validation_alias=_env("LIVEKIT_API_KEY"))
    livekit_api_secret: SecretStr | None = Field(None, validation_alias=_env("LIVEKIT_API_SECRET"))
    voice_agent_name: str = Field("blu", min_length=1, validation_alias=_env("BLU_VOICE_AGENT_NAME"))
    voice_token_ttl_seconds: int = Field(600, ge=30, le=3600, validation_alias=_env("BLU_VOICE_TOKEN_TTL_SECONDS"))
    voice_stt_provider: Literal["openai"] = Field("openai", validation_alias=_env("BLU_VOICE_STT_PROVIDER"))
    voice_stt_model: str = Field("gpt-4o-mini-transcribe", validation_alias=_env("BLU_VOICE_STT_MODEL"))
    voice_tts_provider: Literal["openai", "polly"] = Field("openai", validation_alias=_env("BLU_VOICE_TTS_PROVIDER"))
    voice_tts_model: str = Field("gpt-4o-mini-tts", validation_alias=_env("BLU_VOICE_TTS_MODEL"))
    voice_tts_voice: str = Field("", validation_alias=_env("BLU_VOICE_TTS_VOICE"))
    openai_api_key: SecretStr | None = Field(None, validation_alias=_env("OPENAI_API_KEY"))
    openai_base_url: str | None = Field(None, validation_alias=_env("OPENAI_BASE_URL"))

    # Observability
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", validation_alias=_env("BLU_LOG_LEVEL"))

    # Limits
    max_message_chars: int = Field(100_000, ge=1, validation_alias=_env("BLU_MAX_MESSAGE_CHARS"))
    max_upload_bytes: int = Field(25 * 1024 * 1024, ge=1, validation_alias=_env("BLU_MAX_UPLOAD_BYTES"))
    # Files above this go straight to the files bucket (locally: to the runtime's own upload URL), since
    # API Gateway's HTTP API cuts payloads and responses at 10 MB.
    direct_transfer_bytes: int = Field(9 * 1024 * 1024, ge=1, validation_alias=_env("BLU_DIRECT_TRANSFER_BYTES"))
    # The files bucket for those transfers (set in AWS); unset: the runtime stages them on disk.
    files_bucket: str = Field("", validation_alias=_env("BLU_FILES_BUCKET"))

    # Backups (runtime/backup): the backups bucket in AWS (unset: BLU_DATA_DIR/backups); daily snapshots
    # while anything changed, on by default only with a bucket.
    backups_bucket: str = Field("", validation_alias=_env(ENV_BACKUPS_BUCKET))
    daily_backups: bool | None = Field(None, validation_alias=_env("BLU_DAILY_BACKUPS"))

    # Local runs: serve the offline stand-in model when no Claude credentials are configured
    standin: Literal["auto", "on", "off"] = Field("auto", validation_alias=_env("BLU_STANDIN"))

    @field_validator("allowed_tools", "ask_tools", "disallowed_tools", mode="before")
    @classmethod
    def _split_tools(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().startswith("["):
            value = json.loads(value)
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @classmethod
    def env_var_names(cls) -> set[str]:
        """The environment variables this runtime reads (for the service stack's test)."""
        names: set[str] = set()
        for field in cls.model_fields.values():
            alias = field.validation_alias
            if isinstance(alias, AliasChoices):
                names.update(str(choice) for choice in alias.choices)
        return names

    @cached_property
    def workspace_dir(self) -> Path:
        return self.workspace_dir_override or self.data_dir / "workspace"

    @cached_property
    def claude_config_dir(self) -> Path:
        """Claude's config and transcripts; on EFS (/state) in AWS so warm resume survives restarts."""
        return self.claude_config_dir_override or self.data_dir / "claude"

    @property
    def has_claude_credentials(self) -> bool:
        return bool(self.claude_code_oauth_token or self.anthropic_api_key)

    @property
    def use_standin(self) -> bool:
        """Whether to answer with the offline stand-in model instead of Claude."""
        if self.standin == "auto":
            return not self.has_claude_credentials
        return self.standin == "on"

    @property
    def voice_configured(self) -> bool:
        """Whether LiveKit is configured: tokens can be issued and the voice worker can join rooms."""
        return bool(self.livekit_url and self.livekit_api_key and self.livekit_api_secret)

    @property
    def tts_voice(self) -> str:
        """The configured voice, or the provider's default one."""
        return self.voice_tts_voice or ("Joanna" if self.voice_tts_provider == "polly" else "alloy")

    @property
    def wake_schedules_configured(self) -> bool:
        """Whether schedules wake Blu from zero (EventBridge Scheduler, in AWS)."""
        return bool(self.schedule_group and self.schedule_target_arn and self.schedule_role_arn)

    @property
    def self_stop_configured(self) -> bool:
        return bool(self.ecs_cluster and self.ecs_service)

    def secret_values(self) -> tuple[str, ...]:
        """Every secret this process was given, for the log scrubber."""
        values = (getattr(self, name) for name in type(self).model_fields)
        return tuple(v.get_secret_value() for v in values if isinstance(v, SecretStr) and v.get_secret_value())

    @property
    def backups_daily(self) -> bool:
        return bool(self.backups_bucket) if self.daily_backups is None else self.daily_backups

    @property
    def is_local(self) -> bool:
        return not self.dynamodb_table
