"""Chat platforms: each module adapts one platform to the core's `Inbound` and `Reply`."""
