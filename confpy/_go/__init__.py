"""Go's own rules that several layers share: path (Clean, Match), strconv (FormatFloat, ParseInt,
Quote). A leaf: it imports nothing of confpy but the errors.
"""
