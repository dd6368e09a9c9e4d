"""HTTP routes other than the chat webhooks: calendar feeds and single-use downloads."""
