"""Go's own rules that several layers share: path (Clean, Match), strconv (FormatFloat, ParseInt,
ParseFloat, Quote) and yaml (gopkg.in/yaml.v2's scalar resolution, which confd's file backend reads
with). A leaf: it imports nothing of confpy; its errors are ValueErrors that each caller turns into
its own ConfpyError.
"""
