"""Operating confpy: Prometheus metrics and health endpoints, systemd's notify protocol, and
`confpy check` (a confdir validated without a backend, for CI).
"""
