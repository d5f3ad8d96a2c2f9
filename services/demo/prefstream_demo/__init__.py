"""Demo agents: concurrent tic-tac-toe players that publish scored candidate moves."""

from prefstream_demo.agents import DemoStats, play_games, run_demo_agents
from prefstream_demo.llm_policy import LLMStats, OfflinePolicy, OpenAIPolicy, chat_completions_url

__all__ = [
    "DemoStats",
    "LLMStats",
    "OfflinePolicy",
    "OpenAIPolicy",
    "chat_completions_url",
    "play_games",
    "run_demo_agents",
]
