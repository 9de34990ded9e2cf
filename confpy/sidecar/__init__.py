"""The container sidecar: `confpy register` (keys on a lease), `confpy wait` (block until keys
exist), `confpy exec` (register, wait, render, then supervise the service).
"""
