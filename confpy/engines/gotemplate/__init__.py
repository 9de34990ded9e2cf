"""confpy's own engine for confd's Go templates: Go's text/template, byte for byte.

    tmpl = parse(text, "app.tmpl", func_names)     # parse once (errors: TemplateError)
    out = tmpl.execute(funcs, data=None)           # as often as needed, from any thread

The modules follow Go's packages: lexer/parser/nodes (text/template/parse), exec and funcs
(text/template), fmt (fmt; strconv is confpy._go's), gotime (time.Time's methods and layouts),
gosort (sort), gotypes (Go's types as Python values), confd (the Go signatures of confd's functions).

Its layer: `confpy.engines`'s, used through go.py (and convert.py, which reads its parse trees).
"""

from confpy.engines.gotemplate.exec import GoTemplate, parse

__all__ = ["GoTemplate", "parse"]
