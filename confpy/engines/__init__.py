"""Rendering: a resource's template and a key store in, text out. Jinja2 and confd's Go templates
(gotemplate/), confd's functions and confpy's filters, and the Go -> Jinja2 converter.
"""
