"""The modes a process runs in: -onetime, -interval, -watch (snapshot, watch streams, mirror,
workers), the long-running service with its signals, hot reload and health.
"""
