"""The assistant: routes an inbound message through the handlers and answers it."""
