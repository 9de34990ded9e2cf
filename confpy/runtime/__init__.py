"""When the pipeline runs: the modes a process runs in, -onetime, -interval and -watch (snapshot,
watch streams, mirror, workers), and the long-running service with its signals, hot reload and
health. It loads the confdir (config), opens the backend, fills the stores and calls
confpy.pipeline for each resource that changed.

Its layer: below `confpy.sidecar`, above `confpy.ops`.
"""
