"""Channel-neutral core types: no third-party imports live here."""
