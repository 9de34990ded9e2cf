"""confpy's own engine for confd's Go templates: Go's text/template, byte for byte.

    tmpl = parse(text, "app.tmpl", func_names)     # parse once (errors: TemplateError)
    out = tmpl.execute(funcs, data=None)           # as often as needed, from any thread

The modules follow Go's packages: lexer/parser/nodes (text/template/parse), exec and funcs
(text/template), fmt and strconv (fmt, strconv), gotime (time.Time's methods and layouts).
"""

from confpy.engines.gotemplate.exec import GoTemplate, parse

__all__ = ["GoTemplate", "parse"]
