"""Integrations with agent frameworks (``agentpulse.instruments.langchain``)."""
