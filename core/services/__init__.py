"""Use-case services. Each takes ports, checks permissions and records its audit events."""
