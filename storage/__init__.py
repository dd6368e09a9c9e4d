"""Storage: SQLModel tables, the engine, and small keyword-only query functions."""
