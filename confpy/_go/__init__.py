"""Go's own rules that several layers share, at the bottom of the flow: path (Clean, Match),
strconv (FormatFloat, ParseInt, ParseFloat, Quote, Go strings as bytes, the int64 range), encjson
(encoding/json's decoding and its errors, and its encoding), regexp (Go's RE2 syntax on Python's
re) and yamlv2 (gopkg.in/yaml.v2's scalar resolution, which confd's file backend reads with).
It imports nothing else of confpy; its errors are ValueErrors that each caller turns into its own
ConfpyError.

Its layer: below `confpy.store`, above `confpy.log`.
"""
