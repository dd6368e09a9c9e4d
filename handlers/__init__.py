"""Conversation flows, one module per flow; `ROUTERS` lists them all, in matching order."""
