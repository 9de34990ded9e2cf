"""The container sidecar, a run with a service attached: `confpy register` (keys on a lease),
`confpy wait` (block until keys exist), `confpy exec` (register, wait, render through
confpy.runtime, then supervise the service as child.py's process).

Its layer: below `confpy.cli`, above `confpy.runtime`.
"""
