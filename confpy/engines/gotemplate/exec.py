"""Executing a parsed Go template (text/template/exec.go), precompiled into closures.

Each node compiles once into a Python closure: statements are `run(ctx, frame, dot)`,
expressions `ev(ctx, frame, dot)`; a command fed by a pipe evaluates the previous command first
and passes its value as the last argument, as Go does.
Variables are resolved to slots of a per-call `frame` list at compile time; Go's variable
scoping is lexical, so this is exactly Go's push/pop stack without the name lookups.

Go's errors name the node being evaluated: closures raise `ExecFailure(node, tree, message)`
and `GoTemplate.execute` formats it as Go does, with the template's line and byte column.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Collection, Mapping
from typing import Any

from confpy._go.strconv import go_bytes, quote
from confpy.engines.gotemplate import nodes as n
from confpy.engines.gotemplate.fmt import is_struct, sort_keys, sprint, type_name
from confpy.engines.gotemplate.funcs import BUILTINS, SEES_INTERFACE, is_true
from confpy.engines.gotemplate.gotypes import (
    ANY,
    BOOL,
    INT,
    STRING,
    GoError,
    GoType,
    Iface,
    Signature,
    adopt,
    arity_error,
    type_of,
    validate,
    zero,
)
from confpy.engines.gotemplate.parser import parse_trees
from confpy.errors import TemplateError, reason

__all__ = ["ExecFailure", "GoTemplate", "parse"]

Frame = list[Any]
Eval = Callable[["_Ctx", Frame, Any], Any]
Run = Callable[["_Ctx", Frame, Any], None]

MAX_EXEC_DEPTH = 100000  # Go's maxExecDepth; Python's own recursion limit comes first
_FUNCTION_TYPES = (types.FunctionType, types.BuiltinFunctionType, types.MethodType)


class ExecFailure(Exception):
    """An execution error at a node of the named template; formatted by GoTemplate.execute.
    A node of None is where an and/or stopped (error_at): the execution's _Ctx.at."""

    def __init__(self, node: n.Node | None, tree: str, message: str) -> None:
        super().__init__(message)
        self.node = node
        self.tree = tree
        self.message = message


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


_BREAK = _Break()
_CONTINUE = _Continue()
_PASS_THROUGH = (ExecFailure, _Break, _Continue)

#: A frame slot whose variable Go's executor has not pushed, or has popped again (exec.go's
#: variable stack: if/with pop what they pushed at their end, range after each iteration).
_UNSET: Any = type("_Unset", (), {"__slots__": (), "__repr__": lambda self: "<unset>"})()


#: Pieces of output held before they go to the caller's writer, checked after each range
#: iteration and template call: the rest of a template's output is bounded by its text.
SPILL_AT = 512


class _Ctx:
    """One execution's state: the output, the functions, the templates, the depth.

    Output pieces go to a list (`write` is its append, a C call) and reach the caller's writer
    joined, a few hundred at a time (`spill`): a writer of the caller's own (the stage file's,
    which counts against the size limit) called per piece cost 15 % of a render.
    """

    __slots__ = ("at", "depth", "funcs", "out", "sink", "templates", "write")

    def __init__(
        self,
        funcs: Mapping[str, Callable[..., Any]],
        templates: dict[str, _Compiled],
        sink: Callable[[str], Any],
    ) -> None:
        self.funcs = funcs
        self.templates = templates
        self.depth = 0
        self.out: list[str] = []
        self.write = self.out.append
        self.sink = sink
        self.at: n.Node | None = None  # where Go's executor is after an and/or (see _short_circuit)

    def spill(self) -> None:
        """Hand what is held to the caller's writer."""
        out = self.out
        if out:
            text = "".join(out)
            out.clear()
            self.sink(text)


class _Compiled:
    """One compiled tree: its body and how many variable slots a call needs."""

    __slots__ = ("body", "frame_size", "name")

    def __init__(self, name: str, body: Run, frame_size: int) -> None:
        self.name = name
        self.body = body
        self.frame_size = frame_size

    def run(self, ctx: _Ctx, dot: Any) -> None:
        frame: Frame = [_UNSET] * self.frame_size
        frame[0] = dot
        self.body(ctx, frame, dot)


def print_value(v: Any) -> str:
    """How `{{pipeline}}` prints a value: fmt.Print, a missing value as `<no value>`."""
    cls = type(v)
    if cls is str:
        return str(v)
    if cls is int:
        return str(v)
    if v is None:
        return "<no value>"
    if cls is bool:
        return "true" if v else "false"
    return sprint(v)


def error_at(node: n.Node) -> n.Node | None:
    """The node Go's executor last visits evaluating `node`: errors after it name this node. None
    where that is an and/or's argument: which one depends on where it short-circuited, so
    _short_circuit records it in _Ctx.at."""
    if isinstance(node, n.PipeNode):
        return error_at(node.cmds[-1])
    if isinstance(node, n.CommandNode):
        first = node.args[0]
        if len(node.args) > 1 and isinstance(first, n.IdentifierNode) and first.ident in ("and", "or"):
            return None
        if len(node.args) > 1 and isinstance(
            first, (n.IdentifierNode, n.FieldNode, n.ChainNode, n.VariableNode)
        ):
            return error_at(node.args[-1])
        return error_at(first)
    if isinstance(node, n.ChainNode):
        return error_at(node.node)
    return node


class _Compiler:
    """Compiles one tree; tracks its variable scope (name -> frame slot).

    The scope is the parser's (parse.go's vars: a name is usable until its control's {{end}}),
    which decides what parses. Which of those variables exist at run time is exec.go's stack:
    a slot is _UNSET until its declaration runs and again once its control pops it, and a name
    resolves to the innermost of its slots that is set, as exec.go's varValue and setVar search
    the stack from the top.
    """

    def __init__(
        self, tree: str, builtin_names: Collection[str], signatures: Mapping[str, Signature]
    ) -> None:
        self.tree = tree
        self.builtins = builtin_names
        self.signatures = signatures
        self.scope: list[tuple[str, int]] = [("$", 0)]
        self.frame_size = 1

    def failing(self, node: n.Node | None, message: str) -> Eval:
        """An expression that fails when (and only when) it is evaluated, as Go's checks do."""

        def ev(ctx: _Ctx, frame: Frame, dot: Any) -> Any:
            raise ExecFailure(node, self.tree, message)

        return ev

    # -- variables --

    def declare(self, name: str) -> int:
        slot = self.frame_size
        self.frame_size += 1
        self.scope.append((name, slot))
        return slot

    def lookup(self, name: str) -> tuple[int, ...]:
        """The slots of `name` in scope, innermost first."""
        return tuple(slot for var, slot in reversed(self.scope) if var == name)

    # -- statements --

    def compile_list(self, lst: n.ListNode) -> Run:
        """The list's nodes in order; text next to a printing action is written by the action
        (`    server {{.Value}};` is one step, not three), comments are dropped."""
        items: list[str | n.Node] = []  # adjacent texts joined (a comment between them prints nothing)
        for node in lst.nodes:
            if isinstance(node, n.TextNode) and items and isinstance(items[-1], str):
                items[-1] += node.text
            elif isinstance(node, n.TextNode):
                items.append(node.text)
            elif not isinstance(node, n.CommentNode):
                items.append(node)
        runs: list[Run] = []
        before = ""  # the text that came last, not yet written by a run
        i = 0
        while i < len(items):
            item = items[i]
            i += 1
            if isinstance(item, str):
                before = item
                continue
            if isinstance(item, n.ActionNode) and not item.pipe.decl:
                following = items[i] if i < len(items) else None
                after = following if isinstance(following, str) else ""
                i += bool(after)
                runs.append(self.compile_action(item, before, after))
            else:
                if before:
                    runs.append(self.text_run(before))
                compiled = self.compile_node(item)
                if compiled is not None:
                    runs.append(compiled)
            before = ""
        if before:
            runs.append(self.text_run(before))
        if not runs:
            return self.text_run("")
        if len(runs) == 1:
            return runs[0]
        steps = tuple(runs)

        def run(ctx: _Ctx, frame: Frame, dot: Any) -> None:
            for step in steps:
                step(ctx, frame, dot)

        return run

    @staticmethod
    def text_run(text: str) -> Run:
        def run(ctx: _Ctx, frame: Frame, dot: Any) -> None:
            ctx.write(text)

        run.text = text  # type: ignore[attr-defined]
        return run

    def compile_node(self, node: n.Node) -> Run | None:
        if isinstance(node, n.TextNode):
            return self.text_run(node.text)
        if isinstance(node, n.ActionNode):
            return self.compile_action(node)
        if isinstance(node, n.IfNode):
            return self.compile_if_with(node, set_dot=False)
        if isinstance(node, n.WithNode):
            return self.compile_if_with(node, set_dot=True)
        if isinstance(node, n.RangeNode):
            return self.compile_range(node)
        if isinstance(node, n.TemplateNode):
            return self.compile_template(node)
        if isinstance(node, n.BreakNode):
            return _raise_break
        if isinstance(node, n.ContinueNode):
            return _raise_continue
        return None  # comments

    def compile_action(self, node: n.ActionNode, before: str = "", after: str = "") -> Run:
        """An action; one that prints writes the texts `before` and `after` it as well."""
        ev = self.compile_pipeline(node.pipe)
        if node.pipe.decl:

            def run_decl(ctx: _Ctx, frame: Frame, dot: Any) -> None:
                ev(ctx, frame, dot)

            return run_decl
        tree = self.tree
        field = getattr(ev, "dot_field", None)

        def run(ctx: _Ctx, frame: Frame, dot: Any) -> None:
            write = ctx.write
            if before:
                write(before)
            if field is None:
                v = ev(ctx, frame, dot)
            else:  # `.Name` on a struct, ev's fast path inlined: the commonest action there is
                fields = getattr(type(dot), "_fields", None)
                v = getattr(dot, field) if fields is not None and field in fields else ev(ctx, frame, dot)
            if type(v) is str:
                write(v)
            elif isinstance(v, _FUNCTION_TYPES):
                raise ExecFailure(node, tree, f"can't print {node} of type {type_name(v)}")
            else:
                write(print_value(v))
            if after:
                write(after)

        return run

    def compile_if_with(self, node: n.BranchNode, set_dot: bool) -> Run:
        mark, first = len(self.scope), self.frame_size
        cond = self.compile_pipeline(node.pipe)
        body = self.compile_list(node.list)
        orelse = self.compile_list(node.else_list) if node.else_list is not None else None
        del self.scope[mark:]
        pushed = slice(first, self.frame_size)
        popped = (_UNSET,) * (self.frame_size - first)

        def run(ctx: _Ctx, frame: Frame, dot: Any) -> None:
            v = cond(ctx, frame, dot)
            if is_true(v):
                body(ctx, frame, v if set_dot else dot)
            elif orelse is not None:
                orelse(ctx, frame, dot)
            if popped:
                frame[pushed] = popped

        return run

    def compile_range(self, node: n.RangeNode) -> Run:
        mark, first = len(self.scope), self.frame_size
        source = self.compile_pipeline(node.pipe)
        slots = [self.lookup(v.ident[0])[0] for v in node.pipe.decl]
        elem_slot = slots[-1] if slots else None
        key_slot = slots[0] if len(slots) > 1 else None
        body_first = self.frame_size
        body = self.compile_list(node.list)
        orelse = self.compile_list(node.else_list) if node.else_list is not None else None
        del self.scope[mark:]
        in_body = slice(body_first, self.frame_size)
        body_popped = (_UNSET,) * (self.frame_size - body_first)
        pushed = slice(first, self.frame_size)
        popped = (_UNSET,) * (self.frame_size - first)
        loops = _has_loop_control(node.list)
        error_node = error_at(node.pipe)
        tree = self.tree

        def run(ctx: _Ctx, frame: Frame, dot: Any) -> None:
            v = source(ctx, frame, dot)
            if type(v) is list or type(v) is tuple:  # []interface {}: elements held in interfaces
                items: Any = ((i, Iface(x)) for i, x in enumerate(v))
            elif isinstance(v, (list, tuple)) and not is_struct(v):
                items = enumerate(v)
            elif isinstance(v, dict):
                items = ((k, Iface(v[k])) for k in sort_keys(v))
            elif isinstance(v, int) and not isinstance(v, bool):
                if key_slot is not None:
                    raise ExecFailure(
                        error_node, tree, f"can't use {sprint(v)} to iterate over more than one variable"
                    )
                items = ((i, i) for i in range(v))
            elif v is None:
                items = ()
            else:
                raise ExecFailure(error_node, tree, f"range can't iterate over {sprint(v)}")
            ran = False
            out = ctx.out
            for key, elem in items:
                if len(out) >= SPILL_AT:
                    ctx.spill()
                ran = True
                if elem_slot is not None:
                    frame[elem_slot] = elem
                if key_slot is not None:
                    frame[key_slot] = key
                if loops:
                    try:
                        body(ctx, frame, elem)
                    except _Continue:
                        pass
                    except _Break:
                        break
                    finally:
                        if body_popped:
                            frame[in_body] = body_popped
                else:
                    body(ctx, frame, elem)
                    if body_popped:
                        frame[in_body] = body_popped
            if not ran and orelse is not None:
                orelse(ctx, frame, dot)
            if popped:
                frame[pushed] = popped

        return run

    def compile_template(self, node: n.TemplateNode) -> Run:
        pipe = self.compile_pipeline(node.pipe) if node.pipe is not None else None
        name, tree = node.name, self.tree

        def run(ctx: _Ctx, frame: Frame, dot: Any) -> None:
            target = ctx.templates.get(name)
            if target is None:
                raise ExecFailure(node, tree, f"template {quote(name)} not defined")
            new_dot = pipe(ctx, frame, dot) if pipe is not None else None
            if ctx.depth >= MAX_EXEC_DEPTH:
                raise ExecFailure(node, tree, f"exceeded maximum template depth ({MAX_EXEC_DEPTH})")
            ctx.depth += 1
            try:
                target.run(ctx, new_dot)
            except RecursionError:
                raise ExecFailure(node, tree, f"exceeded maximum template depth ({MAX_EXEC_DEPTH})") from None
            ctx.depth -= 1
            if len(ctx.out) >= SPILL_AT:
                ctx.spill()

        return run

    # -- expressions --

    def compile_pipeline(self, pipe: n.PipeNode) -> Eval:
        ev = self.compile_command(pipe.cmds[0], None, pipe)
        for before, cmd in zip(pipe.cmds, pipe.cmds[1:], strict=False):
            # the previous value is this command's last argument
            ev = self.compile_command(cmd, ev, error_at(before))
        if not pipe.decl:
            return ev
        tree = self.tree
        if pipe.is_assign:
            targets = [(v.ident[0], self.lookup(v.ident[0])) for v in pipe.decl]
            for name, candidates in targets:
                if not candidates:
                    self.declare(name)  # the parser lets later actions use the name
            node = error_at(pipe)

            def assign(ctx: _Ctx, frame: Frame, dot: Any) -> Any:
                value = ev(ctx, frame, dot)
                for name, candidates in targets:
                    for slot in candidates:
                        if frame[slot] is not _UNSET:
                            frame[slot] = value
                            break
                    else:
                        raise ExecFailure(node, tree, f"undefined variable: {name}")
                return value

            return assign
        slots = [self.declare(v.ident[0]) for v in pipe.decl]
        if len(slots) == 1:
            slot = slots[0]

            def set_one(ctx: _Ctx, frame: Frame, dot: Any) -> Any:
                frame[slot] = value = ev(ctx, frame, dot)
                return value

            return set_one

        def set_all(ctx: _Ctx, frame: Frame, dot: Any) -> Any:
            value = ev(ctx, frame, dot)
            for s in slots:
                frame[s] = value
            return value

        return set_all

    def compile_command(self, cmd: n.CommandNode, prev: Eval | None, at: n.Node | None) -> Eval:
        """A command; `prev`, the previous command of the pipeline, supplies its last argument.

        `at` is the node Go's executor was last at when the command starts (for its errors).
        """
        first = cmd.args[0]
        args = cmd.args[1:]
        if isinstance(first, n.IdentifierNode):
            return self.compile_call(first, cmd, args, prev)
        if isinstance(first, n.FieldNode):
            return self.compile_fields(first, _dot, first.ident, args, prev, first)
        if isinstance(first, n.ChainNode):
            if isinstance(first.node, n.NilNode):
                return self.failing(first, f"indirection through explicit nil in {first}")
            head = self.compile_arg(first.node)
            return self.compile_fields(first, head, first.field, args, prev, error_at(first.node))
        if isinstance(first, n.VariableNode):
            head = self.compile_variable(first.ident[0], first)
            if len(first.ident) > 1:
                return self.compile_fields(first, head, first.ident[1:], args, prev, first)
            value = _unwrapping(head)
        elif isinstance(first, n.PipeNode):
            value = self.compile_pipeline(first)
        elif isinstance(first, n.NilNode):
            value = self.failing(first, "nil is not a command")
        else:
            value = self.compile_arg(first)
        if args or prev is not None:
            where = at if isinstance(first, n.PipeNode) else first
            fail = self.failing(where, f"can't give argument to non-function {first}")
            if isinstance(first, n.VariableNode):  # evalVariableNode looks the variable up first
                fail = _then(value, fail)
            return fail if prev is None else _then(prev, fail)
        return value

    def compile_variable(self, name: str, node: n.Node) -> Eval:
        slots = self.lookup(name)
        if slots == (0,):
            return _dollar
        tree = self.tree

        def ev(ctx: _Ctx, frame: Frame, dot: Any) -> Any:
            for slot in slots:
                value = frame[slot]
                if value is not _UNSET:
                    return value
            raise ExecFailure(node, tree, f"undefined variable: {name}")

        return ev

    def compile_arg(self, node: n.Node, keep: bool = False) -> Eval:
        """An argument (Go's evalArg with an interface{} parameter): the value it holds, or with
        `keep` the Iface that holds it, for a typed or reflect.Value parameter that tells."""
        if isinstance(node, n.DotNode):
            return _dot if keep else _dot_value
        if isinstance(node, n.NilNode):
            return _nil
        if isinstance(node, n.FieldNode):
            return self.compile_fields(node, _dot, node.ident, [], None, node, keep)
        if isinstance(node, n.VariableNode):
            head = self.compile_variable(node.ident[0], node)
            if len(node.ident) == 1:
                return head if keep else _unwrapping(head)
            return self.compile_fields(node, head, node.ident[1:], [], None, node, keep)
        if isinstance(node, n.PipeNode):
            return self.compile_pipeline(node)
        if isinstance(node, n.IdentifierNode):
            return self.compile_call(node, node, [], None)
        if isinstance(node, n.ChainNode):
            cmd = n.CommandNode(node.pos)
            cmd.args.append(node)
            return self.compile_command(cmd, None, node)
        if isinstance(node, n.BoolNode):
            return _constant(node.value)
        if isinstance(node, n.StringNode):
            return _constant(node.text)
        if isinstance(node, n.NumberNode):
            return self.compile_number(node)
        return self.failing(node, f"can't handle {node} for arg of type interface {{}}")

    def compile_number(self, node: n.NumberNode) -> Eval:
        """Go's idealConstant: the literal's syntax picks int, float64 or complex128."""
        text = node.text
        if node.is_complex:
            return _constant(node.as_complex)
        is_hex_int = text[:2] in ("0x", "0X") and "p" not in text.lower()
        if node.is_float and not is_hex_int and text[0] != "'" and any(c in text for c in ".eEpP"):
            return _constant(node.as_float)
        if node.is_int:
            return _constant(node.as_int)
        return self.failing(node, f"{text} overflows int")

    def compile_fields(
        self,
        node: n.Node,
        receiver: Eval,
        names: list[str],
        arg_nodes: list[n.Node],
        prev: Eval | None,
        error_node: n.Node | None,
        keep: bool = False,
    ) -> Eval:
        """receiver.A.B.C, the last possibly a method called with arguments; with `keep` a map
        element stays in its Iface (see compile_arg)."""
        args = [self.compile_arg(a) for a in arg_nodes]
        tree = self.tree
        lead, last = names[:-1], names[-1]
        if not lead and not args and prev is None:
            return _simple_field(receiver, last, tree, node, error_node, keep)

        def ev(ctx: _Ctx, frame: Frame, dot: Any) -> Any:
            final = prev(ctx, frame, dot) if prev is not None else _NO_FINAL
            v = receiver(ctx, frame, dot)
            for name in lead:
                v = _field(v, name, None, tree, node, error_node, ctx, frame, dot)
            if not args and prev is None:
                v = _field(v, last, None, tree, node, error_node, ctx, frame, dot)
            else:
                v = _field(v, last, (args, final, arg_nodes), tree, node, error_node, ctx, frame, dot)
            return v if keep or type(v) is not Iface else v.value

        return ev

    def compile_call(
        self, ident: n.IdentifierNode, cmd: n.Node, arg_nodes: list[n.Node], prev: Eval | None
    ) -> Eval:
        """A function call: a builtin (unless the caller's functions replace it) or a caller's function.

        A function with a Go signature is checked as exec.go evalCall does: the count first (after
        the piped value, the previous command, is evaluated), then each argument against its
        parameter's type in order, then the piped value against the last one.
        """
        name = ident.ident
        tree = self.tree
        target: Callable[..., Any] | str = name
        sig: Signature | None
        if name in self.builtins:
            target, sig = BUILTINS[name]
        else:
            sig = self.signatures.get(name)
        if sig is None:  # a caller's own Python function: no Go type to check against
            args = [self.compile_arg(a) for a in arg_nodes]
            return _call(name, name, args, prev, cmd, tree, builtin=False, ident=ident)
        problem = arity_error(name, sig, len(arg_nodes), prev is not None)
        if problem is not None:
            fail = self.failing(ident, problem)
            return fail if prev is None else _then(prev, fail)
        keep = name in SEES_INTERFACE and name in self.builtins
        args = [self.typed_arg(a, sig.param(i), keep) for i, a in enumerate(arg_nodes)]
        final_check = None
        if prev is not None and sig.param(len(arg_nodes)) is not ANY:
            at = error_at(arg_nodes[-1]) if arg_nodes else ident
            final_check = _checker(sig.param(len(arg_nodes)), at, tree)
        if name in ("and", "or") and name in self.builtins:
            return _short_circuit(args, [error_at(a) for a in arg_nodes], ident, prev, name == "or")
        return _call(
            target,
            name,
            args,
            prev,
            cmd,
            tree,
            builtin=name in self.builtins,
            ident=ident,
            final_check=final_check,
            result=sig.result.new,
        )

    def typed_arg(self, node: n.Node, typ: GoType, keep: bool = False) -> Eval:
        """exec.go evalArg: an argument for a parameter of type `typ`.

        A constant must suit the type as written (`"1"` is no integer, `1e3` is one); any other
        argument is evaluated and its value checked (validateType) at the last node it visited.
        `keep`: an interface{} parameter that sees an Iface (funcs.SEES_INTERFACE).
        """
        if typ is ANY:
            return self.compile_arg(node, keep)
        if isinstance(node, _EVALUATED):
            ev = self.compile_arg(node, keep=True)
            return _then_check(ev, _checker(typ, error_at(node), self.tree))
        try:
            return _constant(constant_arg(node, typ))
        except GoError as err:
            return self.failing(node, str(err))


_NO_FINAL = object()


#: the argument nodes exec.go evalArg evaluates before checking the value's type
_EVALUATED = (n.DotNode, n.FieldNode, n.VariableNode, n.PipeNode, n.IdentifierNode, n.ChainNode)


def constant_arg(node: n.Node, typ: GoType) -> Any:
    """exec.go evalArg for a constant or nil: its value as a `typ`, or GoError with Go's reason."""
    if isinstance(node, n.NilNode):
        if typ.can_be_nil():
            return zero(typ)
        raise GoError(f"cannot assign nil to {typ}")
    kind = typ.kind
    value: Any
    if kind == "bool":
        if not isinstance(node, n.BoolNode):
            raise GoError(f"expected bool; found {node}")
        value = node.value
    elif kind == "string":
        if not isinstance(node, n.StringNode):
            raise GoError(f"expected string; found {node}")
        value = node.text
    elif kind == "int":
        if not (isinstance(node, n.NumberNode) and node.is_int):
            raise GoError(f"expected integer; found {node}")
        value = node.as_int
    elif kind == "float64":
        if not (isinstance(node, n.NumberNode) and node.is_float):
            raise GoError(f"expected float; found {node}")
        value = node.as_float
    elif kind == "complex128":
        if not (isinstance(node, n.NumberNode) and node.is_complex):
            raise GoError(f"expected complex; found {node}")
        value = node.as_complex
    else:
        raise GoError(f"can't handle {node} for arg of type {typ}")
    return value if typ.new is None else typ.new(value)


def _checker(typ: GoType, at: n.Node | None, tree: str) -> Callable[[Any, _Ctx], Any]:
    """validateType for one parameter type, failing at node `at` (None: where an and/or stopped);
    a string's check is one `is`."""

    def check(value: Any, ctx: _Ctx) -> Any:
        if type(value) is cls:
            return value
        node = at or ctx.at
        assert node is not None
        if type(value) is Iface:
            if value.value is None:
                raise ExecFailure(node, tree, f"wrong type for value; expected {typ}; got interface {{}}")
            value = value.value
            if type(value) is cls:
                return value
        try:
            return validate(value, typ)
        except GoError as err:
            raise ExecFailure(node, tree, str(err)) from None

    cls = {STRING: str, INT: int, BOOL: bool}.get(typ, typ.new)
    check.cls = cls  # type: ignore[attr-defined]  # _then_check inlines the `is`
    return check


def _then_check(ev: Eval, check: Callable[[Any, _Ctx], Any]) -> Eval:
    cls = getattr(check, "cls", None)

    def checked(ctx: _Ctx, frame: Frame, dot: Any) -> Any:
        v = ev(ctx, frame, dot)
        return v if type(v) is cls else check(v, ctx)

    return checked


def _dot(ctx: _Ctx, frame: Frame, dot: Any) -> Any:
    return dot


def _dot_value(ctx: _Ctx, frame: Frame, dot: Any) -> Any:
    return dot.value if type(dot) is Iface else dot


def _unwrapping(ev: Eval) -> Eval:
    """`ev`'s value out of its Iface, as evalPipeline unwraps a command's value."""

    def value(ctx: _Ctx, frame: Frame, dot: Any) -> Any:
        v = ev(ctx, frame, dot)
        return v.value if type(v) is Iface else v

    return value


def _dollar(ctx: _Ctx, frame: Frame, dot: Any) -> Any:
    return frame[0]


def _nil(ctx: _Ctx, frame: Frame, dot: Any) -> Any:
    return None


def _constant(value: Any) -> Eval:
    return lambda ctx, frame, dot: value


def _then(first: Eval, second: Eval) -> Eval:
    """Evaluate `first` (for its errors, as Go does), then `second`."""

    def ev(ctx: _Ctx, frame: Frame, dot: Any) -> Any:
        first(ctx, frame, dot)
        return second(ctx, frame, dot)

    return ev


def _raise_break(ctx: _Ctx, frame: Frame, dot: Any) -> None:
    raise _BREAK


def _raise_continue(ctx: _Ctx, frame: Frame, dot: Any) -> None:
    raise _CONTINUE


def _has_loop_control(node: n.Node) -> bool:
    """Whether a range body holds a break/continue of its own (not of a nested range)."""
    if isinstance(node, (n.BreakNode, n.ContinueNode)):
        return True
    if isinstance(node, n.ListNode):
        return any(_has_loop_control(x) for x in node.nodes)
    if isinstance(node, (n.IfNode, n.WithNode)):
        return _has_loop_control(node.list) or (
            node.else_list is not None and _has_loop_control(node.else_list)
        )
    if isinstance(node, n.RangeNode):
        return node.else_list is not None and _has_loop_control(node.else_list)
    return False


def _call_error(name: str, fn: Callable[..., Any], args: list[Any], err: Exception) -> str:
    """Go's message for a failed call: a wrong argument count, or `error calling NAME: ...`."""
    if isinstance(err, TypeError):
        import inspect  # here: a run whose calls all succeed never imports it (nor its ast, dis)

        try:
            sig: inspect.Signature | None = inspect.signature(fn)
        except (TypeError, ValueError):  # nothing to inspect
            sig = None
        if sig is not None:
            try:
                sig.bind(*args)
            except TypeError:
                fixed = [
                    p
                    for p in sig.parameters.values()
                    if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                ]
                want = f"at least {len(fixed)}" if len(sig.parameters) > len(fixed) else str(len(fixed))
                return f"wrong number of args for {name}: want {want} got {len(args)}"
    # A function's own Go wording, else the exception's (an empty one is explained).
    return f"error calling {name}: {getattr(err, 'go_error', None) or reason(err)}"


def _call(
    target: Callable[..., Any] | str,
    name: str,
    args: list[Eval],
    prev: Eval | None,
    cmd: n.Node,
    tree: str,
    builtin: bool,
    ident: n.Node | None = None,
    final_check: Callable[[Any, _Ctx], Any] | None = None,
    result: Callable[[Any], Any] | None = None,
) -> Eval:
    """A function call. `target` is a builtin, or a name looked up in the execution's functions.

    Go evaluates the piped value (prev) first, then the arguments, checks the piped value's type
    (`final_check`), then calls; `result` makes the value one of the declared result type.
    """

    def failure(fn: Callable[..., Any], values: list[Any], err: Exception) -> ExecFailure:
        message = _call_error(name, fn, values, err)
        at = ident if ident is not None and message.startswith("wrong number") else cmd
        return ExecFailure(at, tree, message)

    def resolve(ctx: _Ctx) -> Callable[..., Any]:
        if not isinstance(target, str):
            return target
        fn = ctx.funcs.get(target)
        if fn is None:
            raise ExecFailure(ident or cmd, tree, f"{quote(target)} is not a defined function")
        return fn

    def invoke(fn: Callable[..., Any], values: tuple[Any, ...]) -> Any:
        try:
            value = fn(*values)
        except _PASS_THROUGH:
            raise
        except Exception as err:
            if builtin and not isinstance(err, GoError):
                raise  # a bug in a builtin, not the template's fault
            raise failure(fn, list(values), err) from err
        return value if result is None or type(value) is result else result(value)

    # Calls without a piped value and with up to two arguments are most calls: unrolled.
    if prev is None and not args:
        return lambda ctx, frame, dot: invoke(resolve(ctx), ())
    if prev is None and len(args) == 1:
        a0 = args[0]

        def call1(ctx: _Ctx, frame: Frame, dot: Any) -> Any:  # resolve and invoke inlined
            fn = target if not isinstance(target, str) else ctx.funcs.get(target) or resolve(ctx)
            v = a0(ctx, frame, dot)
            try:
                value = fn(v)
            except _PASS_THROUGH:
                raise
            except Exception as err:
                if builtin and not isinstance(err, GoError):
                    raise
                raise failure(fn, [v], err) from err
            return value if result is None or type(value) is result else result(value)

        return call1
    if prev is None and len(args) == 2:
        a0, a1 = args
        return lambda ctx, frame, dot: invoke(resolve(ctx), (a0(ctx, frame, dot), a1(ctx, frame, dot)))

    def call(ctx: _Ctx, frame: Frame, dot: Any) -> Any:
        final = prev(ctx, frame, dot) if prev is not None else None
        fn = resolve(ctx)
        values = [a(ctx, frame, dot) for a in args]
        if prev is not None:
            values.append(final if final_check is None else final_check(final, ctx))
        return invoke(fn, tuple(values))

    return call


def _short_circuit(
    args: list[Eval], ats: list[n.Node | None], ident: n.Node, prev: Eval | None, is_or: bool
) -> Eval:
    """and/or: the first argument that decides, else the last one (the piped value, if any).

    Records in ctx.at the node of the last argument evaluated (`ats`; None where that argument's
    own and/or recorded it), as an error after the call names it in Go.
    """
    steps = list(zip(args, ats, strict=True))

    def call(ctx: _Ctx, frame: Frame, dot: Any) -> Any:
        final = prev(ctx, frame, dot) if prev is not None else None
        ctx.at = ident
        v = None
        for a, at in steps:
            v = a(ctx, frame, dot)
            if at is not None:
                ctx.at = at
            if is_true(v) == is_or:
                return v
        return final if prev is not None else v

    return call


def _simple_field(
    receiver: Eval, name: str, tree: str, node: n.Node, error_node: n.Node | None, keep: bool
) -> Eval:
    """receiver.Name without arguments: the common case, with fast paths for maps and NamedTuples.

    With `keep` (a typed argument, `base .Key`) a map's element stays in its Iface, which `_field`
    makes; a NamedTuple's field is the same either way.
    """
    if keep and receiver is _dot:

        def ev_keep_dot(ctx: _Ctx, frame: Frame, dot: Any) -> Any:
            fields = getattr(type(dot), "_fields", None)
            if fields is not None and name in fields:
                return getattr(dot, name)
            return _field(dot, name, None, tree, node, error_node, ctx, frame, dot)

        return ev_keep_dot
    if keep:

        def ev_keep(ctx: _Ctx, frame: Frame, dot: Any) -> Any:
            v = receiver(ctx, frame, dot)
            fields = getattr(type(v), "_fields", None)
            if fields is not None and name in fields:
                return getattr(v, name)
            return _field(v, name, None, tree, node, error_node, ctx, frame, dot)

        return ev_keep

    def ev(ctx: _Ctx, frame: Frame, dot: Any) -> Any:
        v = receiver(ctx, frame, dot)
        cls = type(v)
        if cls is dict:
            return v.get(name)
        fields = getattr(cls, "_fields", None)
        if fields is not None and name in fields:
            return getattr(v, name)
        return _field(v, name, None, tree, node, error_node, ctx, frame, dot)

    if receiver is not _dot:
        return ev

    # ev again with dot for the receiver's value: `.Name` is the hottest evaluation there is, and
    # this saves a call per field (a shared helper would cost the call back).
    def ev_dot(ctx: _Ctx, frame: Frame, dot: Any) -> Any:
        cls = type(dot)
        if cls is dict:
            return dot.get(name)
        fields = getattr(cls, "_fields", None)
        if fields is not None and name in fields:
            return getattr(dot, name)
        return _field(dot, name, None, tree, node, error_node, ctx, frame, dot)

    ev_dot.dot_field = name  # type: ignore[attr-defined]  # compile_action inlines it
    return ev_dot


def _field(
    receiver: Any,
    name: str,
    call_args: tuple[list[Eval], Any, list[n.Node]] | None,
    tree: str,
    node: n.Node,
    error_node: n.Node | None,
    ctx: _Ctx,
    frame: Frame,
    dot: Any,
) -> Any:
    """Go's evalField: a method of `receiver`'s Go type, a map key, or a struct field.

    A map's element comes back in its Iface (None for a missing key: Go's invalid value); an
    Iface receiver is looked into, its static type `interface {}` named in errors.
    """
    held = type(receiver) is Iface
    if held:
        receiver = receiver.value
        if receiver is None:
            raise ExecFailure(error_node, tree, f"nil pointer evaluating interface {{}}.{name}")
    if receiver is None:
        return None
    if isinstance(receiver, dict):
        if call_args is not None:
            raise ExecFailure(error_node, tree, f"{name} is not a method but has arguments")
        return Iface(receiver[name]) if name in receiver else None
    typ = type_of(receiver)
    if typ is not None and name in typ.methods:
        impl, sig = typ.methods[name]
        args, final, arg_nodes = call_args if call_args is not None else ([], _NO_FINAL, [])
        problem = arity_error(name, sig, len(arg_nodes), final is not _NO_FINAL)
        if problem is not None:
            raise ExecFailure(error_node, tree, problem)
        typed = [
            _method_arg(a, ev, sig.param(i), tree, ctx, frame, dot)
            for i, (a, ev) in enumerate(zip(arg_nodes, args, strict=True))
        ]
        if final is not _NO_FINAL:
            at = error_at(arg_nodes[-1]) if arg_nodes else error_node
            typed.append(_checker(sig.param(len(arg_nodes)), at, tree)(final, ctx))
        try:
            return adopt(sig.result, impl(receiver, *typed))
        except GoError as err:
            raise ExecFailure(node, tree, f"error calling {name}: {err}") from err
    method: Callable[..., Any] | None = None
    if is_struct(receiver) and name in _field_names(receiver):
        if call_args is not None:
            raise ExecFailure(error_node, tree, f"{name} has arguments but cannot be invoked as function")
        return getattr(receiver, name)
    elif not isinstance(receiver, (str, int, float, complex, list, tuple)) and not name.startswith("_"):
        attr = getattr(receiver, name, None)
        if callable(attr):
            method = attr
        elif attr is not None or hasattr(receiver, name):
            if call_args is not None:
                raise ExecFailure(error_node, tree, f"{name} has arguments but cannot be invoked as function")
            return attr
    if method is None:
        static = "interface {}" if held else type_name(receiver)
        raise ExecFailure(error_node, tree, f"can't evaluate field {name} in type {static}")
    values: list[Any] = []
    if call_args is not None:
        values = [a(ctx, frame, dot) for a in call_args[0]]
        if call_args[1] is not _NO_FINAL:
            values.append(call_args[1])
    try:
        return method(*values)
    except Exception as err:
        raise ExecFailure(node, tree, _call_error(name, method, values, err)) from err


def _method_arg(node: n.Node, ev: Eval, typ: GoType, tree: str, ctx: _Ctx, frame: Frame, dot: Any) -> Any:
    """typed_arg at run time: a method's signature is known only once its receiver is."""
    if typ is ANY:
        return ev(ctx, frame, dot)
    if isinstance(node, _EVALUATED):
        return _checker(typ, error_at(node), tree)(ev(ctx, frame, dot), ctx)
    try:
        return constant_arg(node, typ)
    except GoError as err:
        raise ExecFailure(node, tree, str(err)) from None


def _field_names(v: Any) -> tuple[str, ...]:
    fields = getattr(v, "_fields", None)
    if fields is not None:
        return tuple(fields)
    return tuple(getattr(v, "__dataclass_fields__", {}))


class GoTemplate:
    """A parsed Go template and the templates it defines; reusable and thread-safe."""

    def __init__(self, text: str, name: str, func_names: Collection[str]) -> None:
        self.name = name
        self.text = text
        trees = parse_trees(text, name, func_names)
        builtin_names = set(BUILTINS) - set(func_names)
        signatures: Mapping[str, Signature] = (
            {k: v for k, v in func_names.items() if isinstance(v, Signature)}
            if isinstance(func_names, Mapping)
            else {}
        )
        self._templates: dict[str, _Compiled] = {}
        for tree_name, root in trees.items():
            compiler = _Compiler(tree_name, builtin_names, signatures)
            body = compiler.compile_list(root)
            self._templates[tree_name] = _Compiled(tree_name, body, compiler.frame_size)

    @property
    def templates(self) -> list[str]:
        """Names of the templates this text defines (the top-level one included)."""
        return sorted(self._templates)

    def execute(self, funcs: Mapping[str, Callable[..., Any]], data: Any = None) -> str:
        """Render with confd's functions `funcs` and `data` as dot (confd passes nil)."""
        out: list[str] = []
        self.stream(out.append, funcs, data)
        return "".join(out)

    def stream(
        self, write: Callable[[str], Any], funcs: Mapping[str, Callable[..., Any]], data: Any = None
    ) -> None:
        """Render as `execute` does, handing the output to `write` in order as it is made, a few
        hundred pieces at a time (`_Ctx`), as Go's Execute writes to an io.Writer: confd renders
        straight into its stage file. A failed execution hands on nothing more."""
        ctx = _Ctx(funcs, self._templates, write)
        try:
            self._templates[self.name].run(ctx, data)
        except ExecFailure as failure:
            if failure.node is None:
                failure.node = ctx.at
            raise self._error(failure) from (failure.__cause__ or None)
        ctx.spill()

    def _error(self, failure: ExecFailure) -> TemplateError:
        """Go's `template: NAME:LINE:COL: executing "TREE" at <NODE>: MESSAGE`, and its line."""
        assert failure.node is not None, "an and/or recorded where it stopped"
        before = self.text[: failure.node.pos]
        line = before.count("\n") + 1
        column = len(go_bytes(before[before.rfind("\n") + 1 :]))
        return TemplateError(
            f"template: {self.name}:{line}:{column}: executing {quote(failure.tree)} "
            f"at <{failure.node}>: {failure.message}",
            line=line,
        )


def parse(text: str, name: str, func_names: Collection[str]) -> GoTemplate:
    """Parse a Go template once; execute the result as often as needed."""
    return GoTemplate(text, name, func_names)
