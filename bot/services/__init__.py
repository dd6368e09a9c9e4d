"""Domain services: the rules, over one database session (one unit of work)."""
