"""An offline stand-in for the Anthropic Messages API, scripted by `[[...]]` directives in prompts."""

from runtime.standin.cli_env import offline_cli_env
from runtime.standin.messages_api import LoggedRequest, StandinConfig, StandinServer, StandinState, create_app

__all__ = ["LoggedRequest", "StandinConfig", "StandinServer", "StandinState", "create_app", "offline_cli_env"]
