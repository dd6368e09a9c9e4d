"""Expected refusals a service raises; handlers turn each into a translated answer."""

from __future__ import annotations


class ServiceError(Exception):
    """A rule refused the request; `code` says which, for the handler to translate."""

    def __init__(self, code: str, *, keep_writes: bool = False, **details: object) -> None:
        super().__init__(code)
        self.code = code
        self.details = details
        # Most refusals undo the message's writes; a few must keep them (e.g. counting guesses).
        self.keep_writes = keep_writes
