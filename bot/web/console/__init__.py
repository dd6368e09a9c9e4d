"""The web console for secretaries and the committee: server-rendered pages over the use cases."""
