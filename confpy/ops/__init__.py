"""Operating confpy, beside the pipeline: Prometheus metrics and the health endpoints, systemd's
notify protocol, and `confpy check` (a confdir validated and rendered with the engines, without a
backend, for CI).

Its layer: below `confpy.runtime`, above `confpy.pipeline`.
"""
