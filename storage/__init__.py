"""Storage: SQLModel tables, the engine, and small keyword-only query functions."""

# The audit log's account column refers to the console's accounts: their table must be known
# whenever the models are, whichever module a program imports first.
import storage.console  # noqa: F401
