"""The docs say what the code does: their reference lists, quoted `--help` output, examples and
package map match the code, and every relative link points at a file (and heading) that exists.

README.md's runnable example and the `make demo` options are checked in tests/system/test_readme.py.
"""

from __future__ import annotations

import ast
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest
import typer
from typer.testing import CliRunner

import confpy
from confpy.cli.app import app
from confpy.cli.command import MAIN_FLAGS
from confpy.cli.goflags import parse
from confpy.config.resource import FIELDS, load_resource, load_resources
from confpy.config.settings import BACKENDS, CONNECTION, SETTINGS
from confpy.engines.filters import VALIDATING_FILTERS
from confpy.engines.forkfuncs import FORK_FUNCTIONS
from confpy.engines.functions import make_functions
from confpy.engines.gotemplate.confd import SIGNATURES
from confpy.store import KeyStore
from confpy.testing import render_confdir
from tests.support.docs import DOC_FILES, backticked, between, blocks, page, relative, section
from tests.support.helpers import make_confdir
from tests.support.paths import REPO

# --- reference lists ----------------------------------------------------------------------------


def _flags(name: str | None = None) -> set[str]:
    """The flags of the main command (or of subcommand `name`) as the docs name them: the
    single-dash spelling, or the double-dash one where there is no other (typer's completion)."""
    root = typer.main.get_command(app)
    ctx = root.make_context("confpy", [], resilient_parsing=True)
    command = root if name is None else root.commands[name]
    if name is not None:
        ctx = command.make_context(name, [], parent=ctx, resilient_parsing=True)
    found = set()
    for param in command.get_params(ctx):
        if param.param_type_name != "option":
            continue
        names = [*param.opts, *param.secondary_opts]
        found |= {n for n in names if not n.startswith("--")} or set(names)
    return found


def test_the_flags_list_names_every_flag() -> None:
    text = between(page("configuration.md"), "Flags: ", "\n\n")
    assert backticked(text) == _flags()


def test_the_settings_table_is_the_code_s() -> None:
    """Every setting, in declaration order, with its flag, confd.toml keys and variables."""
    table = section(page("configuration.md"), "Every setting")
    rows = [
        [re.findall(r"`([^`]+)`", cell) for cell in line.strip("|").split("|")]
        for line in table.splitlines()
        if line.startswith("| `")
    ]
    assert rows == [[[f"-{s.flag}"], list(s.toml), list(s.env)] for s in SETTINGS]


def test_the_resource_fields_list_names_every_field() -> None:
    text = between(page("resources.md"), "`[template]` fields: ", "\n\n")
    assert backticked(text, r"[a-z_]+") == {f.name for f in FIELDS}


def test_the_fields_table_and_the_safety_fields_are_the_code_s() -> None:
    text = page("resources.md")
    rows = re.findall(r"^\| `(\w+)` \| (.+) \|$", section(text, "Every field"), re.MULTILINE)
    assert rows == [(f.name, f.kind + (" (a safety field)" if f.safety else "")) for f in FIELDS]
    safety = backticked(between(" ".join(text.split()), "A field close to a safety field (", ";"), r"\w+")
    assert safety == {f.name for f in FIELDS if f.safety}


def test_the_backend_table_keys_are_the_connection_settings() -> None:
    """A resource's `[backend]` keys, as backends.md lists them, are what `backend_settings` reads."""
    text = " ".join(page("backends.md").split())
    listed = backticked(between(text, "for the connection: ", ". "), r"\w+")
    assert listed == {key for s in SETTINGS if s.name in CONNECTION for key in s.toml}


def test_the_sidecar_commands_flags_are_listed() -> None:
    text = page("sidecar.md")
    described = text.partition("## Their `--help`")[0]
    connection = backticked(between(text, "same connection flags as the main command (", ")"))
    main, helps = _flags(), {"-h", "-help"}
    for name in ("register", "wait"):
        assert (_flags(name) & main) - helps == connection, name
    assert main - _flags("exec") == backticked(between(text, "takes the main command's flags except", ";"))
    for name in ("register", "wait", "exec"):
        for flag in _flags(name) - main:
            assert re.search(rf"`{flag}[ `]", described), f"confpy {name} {flag} is not described"


def test_the_function_and_filter_lists_are_complete() -> None:
    text = page("templates.md")
    functions = between(text, "confd's complete function set", ". ")
    assert backticked(functions, r"\w+") == set(make_functions(KeyStore()))
    table = section(text, "Validating filters")
    assert set(re.findall(r"^\| `(\w+)` \|", table, re.MULTILINE)) == set(VALIDATING_FILTERS)


def test_the_fork_functions_table_is_the_code_s() -> None:
    """Every function of the maintained fork is in templates.md's table, with the fork's source file."""
    table = section(page("templates.md"), "The maintained fork's functions")
    rows = dict(re.findall(r"^\| `(\w+)` \| (\S+\.go) ", table, re.MULTILINE))
    assert set(rows) == set(FORK_FUNCTIONS) | {"include"}
    assert set(rows) <= set(SIGNATURES)
    assert set(rows.values()) == {"utility_funcs.go", "template_funcs.go", "include.go"}


def test_the_backends_list_names_every_backend() -> None:
    listed = set(re.findall(r"^- `(\w+)`", page("backends.md"), re.MULTILINE))
    assert listed == set(BACKENDS.values())
    assert backticked(between(page("configuration.md"), "Flags: `-backend` (", ")"), r"\w+") == set(BACKENDS)


# --- quoted output ------------------------------------------------------------------------------

_HELP_BLOCKS = [
    (relative(path), content)
    for path in DOC_FILES
    for language, content in blocks(path.read_text(encoding="utf-8"))
    if language == "console" and content.startswith("$ confpy ")
]


def test_the_docs_quote_help_output() -> None:
    quoted = {content.partition("\n")[0] for _, content in _HELP_BLOCKS}
    commands = ["", *typer.main.get_command(app).commands]
    assert quoted == {" ".join(["$ confpy", *([c] if c else []), "--help"]) for c in commands}


@pytest.mark.parametrize(
    ("where", "content"), _HELP_BLOCKS, ids=[c.partition("\n")[0] for _, c in _HELP_BLOCKS]
)
def test_quoted_help_is_what_confpy_prints(where: str, content: str) -> None:
    """As an 80-column terminal shows it (click leaves two columns free: 78)."""
    command, _, quoted = content.partition("\n")
    args = command.split()[2:]
    result = CliRunner().invoke(app, args, prog_name="confpy", terminal_width=78)
    assert result.exit_code == 0, result.output
    assert result.output == quoted, f"{where} quotes an old `{command[2:]}`; paste the new output there"


def _command_lines() -> list[tuple[str, list[str]]]:
    """(page, arguments) of every confpy command line in the docs' shell blocks."""
    found = []
    for path in DOC_FILES:
        for language, content in blocks(path.read_text(encoding="utf-8")):
            if language != "sh":
                continue
            for line in content.replace("\\\n", " ").splitlines():
                words = shlex.split(line, comments=True)
                if words and words[0].endswith("confpy"):
                    found.append((relative(path), words[1:]))
    return found


#: Options that act as they are parsed (install the completion, print and exit): only looked up.
_EAGER = {"--install-completion", "--show-completion", "-version", "-h", "-help"}


def test_the_docs_command_lines_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every flag and argument of the docs' example command lines is one confpy accepts; a run's,
    by Go's rules alone too (confpy.cli.main: the run path, without typer)."""
    monkeypatch.setenv("HOME", str(tmp_path))  # should an eager option ever run, not in the real one
    root = typer.main.get_command(app)
    lines = _command_lines()
    assert len(lines) >= 5
    for where, args in lines:
        if eager := _EAGER & set(args):
            assert eager <= _flags(), f"{where}: confpy {' '.join(args)}"
        elif args and args[0] in root.commands:
            parent = root.make_context("confpy", [], resilient_parsing=True)
            root.commands[args[0]].make_context(args[0], args[1:], parent=parent)
        else:
            root.make_context("confpy", args)
            assert parse(args, MAIN_FLAGS) == (ANY, []), (
                f"{where}: confpy {' '.join(args)} is no run by Go's rules"
            )


def test_the_template_examples_render(tmp_path: Path) -> None:
    """templates.md's Jinja examples, each rendered as a template of its own (confpy.testing)."""
    text = page("templates.md")
    examples = [content for language, content in blocks(text) if language == "jinja"]
    examples += re.findall(r"`(\{\{ getv\([^`]*\}\})`", text)  # the functions used as filters
    resources = {
        f"t{i}.toml": f'[template]\nsrc = "t{i}.j2"\ndest = "/t{i}"\nkeys = ["/"]\n'
        for i in range(len(examples))
    }
    confdir = make_confdir(tmp_path, resources, {f"t{i}.j2": example for i, example in enumerate(examples)})
    values = {
        "/app/servers/a": "10.0.0.1:80",
        "/sinatra/4567/host": "10.0.0.2:4567",
        "/cert": "UEVN",
        "/name": "web",
    }
    assert render_confdir(confdir, values) == {
        "t0.toml": "server 10.0.0.1:80; # a\n\n",  # the block ends with a newline after endfor
        "t1.toml": "server 10.0.0.2:4567;\n\n",
        "t2.toml": "PEM",
        "t3.toml": "WEB",
    }


# --- the library page ---------------------------------------------------------------------------


def test_the_library_page_lists_the_public_api() -> None:
    rows = re.findall(r"^\| `(\w+)` \| `([\w.]+)` \|", page("library.md"), re.MULTILINE)
    assert [name for name, _ in rows] == [n for n in confpy._API] + ["__version__"]
    assert {name: module for name, module in rows if name != "__version__"} == confpy._API


def test_the_library_examples_run(tmp_path: Path) -> None:
    """Each Python block of library.md, run with its /etc/confd replaced by a confdir made of the
    README example's resource and template, writing below tmp_path."""
    _, resource, template, _, _ = blocks(section(page("README.md"), "Example: from etcd to a file"))
    confdir = tmp_path / "confd"
    (confdir / "conf.d").mkdir(parents=True)
    (confdir / "templates").mkdir()
    dest = tmp_path / "app" / "app.conf"
    (confdir / "conf.d" / "app.toml").write_text(resource[1].replace("/etc/app/app.conf", str(dest)))
    (confdir / "templates" / "app.conf.j2").write_text(template[1])
    examples = [content for language, content in blocks(page("library.md")) if language == "python"]
    assert len(examples) == 2
    namespaces: list[dict[str, Any]] = []
    for example in examples:
        namespaces.append({})
        exec(compile(example.replace("/etc/confd", str(confdir)), "docs/library.md", "exec"), namespaces[-1])
    assert namespaces[0]["report"].ok
    assert dest.read_text() == "db = 10.0.0.7:5432\n"


# --- the architecture page ----------------------------------------------------------------------


def _entries(package: Path) -> set[str]:
    """The modules and subpackages directly in `package`, as the map names them (`x.py`, `x/`)."""
    return {
        f"{p.name}/" if p.is_dir() else p.name
        for p in package.iterdir()
        if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py" and p.name != "__init__.py")
    }


def test_the_package_map_names_every_package_module_and_layer() -> None:
    """A module added, moved or removed goes into architecture.md's map in the same commit."""
    rows = {
        match.group(1): match.group(2)
        for match in re.finditer(
            r"^\| (.+?) \| (.+) \|$", section(page("architecture.md"), "The package map"), re.M
        )
    }
    first = [re.findall(r"`confpy/([\w.]+/?)`", cell) for cell in rows]
    named = {name for names in first for name in names}
    missing = _entries(REPO / "confpy") - {"__main__.py", "testing.py"} - named  # those two: the public face
    assert not missing, f"docs/architecture.md's package map does not name {sorted(missing)}"
    for names, description in zip(first, rows.values(), strict=True):
        for package in (n for n in names if n.endswith("/")):
            listed = set(re.findall(rf"`(?:{re.escape(package)})?([\w.]+/?)`", description))
            assert _entries(REPO / "confpy" / package) <= listed, (
                f"confpy/{package}: add {_entries(REPO / 'confpy' / package) - listed}"
            )
    layers = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"][0][
        "layers"
    ]
    order = ["confpy." + n.removesuffix("/").removesuffix(".py") for names in first for n in names]
    assert [n for n in order if n in layers] == layers


def test_every_package_says_its_layer() -> None:
    """Each package's docstring ends with its place in the layers, as the contract lists them: the
    top-level layers name their neighbours, a subpackage the layer it belongs to."""
    layers = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"][0][
        "layers"
    ]
    for init in sorted((REPO / "confpy").rglob("__init__.py")):
        if init.parent == REPO / "confpy":
            continue
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        name = "confpy." + ".".join(init.parent.relative_to(REPO / "confpy").parts)
        said = doc.rpartition("\n\nIts layer: ")[2]
        assert said != doc, f"{relative(init)}: its docstring does not end with `Its layer: ...`"
        if name in layers:
            index = layers.index(name)
            if index > 0:
                assert f"below `{layers[index - 1]}`" in said, f"{relative(init)}: {said}"
            assert f"above `{layers[index + 1]}`" in said, f"{relative(init)}: {said}"
        else:
            assert said.startswith(f"`{name.rpartition('.')[0]}`'s"), f"{relative(init)}: {said}"


def test_every_module_the_docs_name_exists() -> None:
    for path in DOC_FILES:
        for name in re.findall(r"`(confpy/[\w/]+(?:\.py)?)`", path.read_text(encoding="utf-8")):
            assert (REPO / name).exists(), f"{relative(path)} names {name}, which does not exist"
    for name in re.findall(r"`((?!confpy/)[a-z_]+/[\w/]*\.py)`", page("architecture.md")):
        assert (REPO / "confpy" / name).exists(), f"docs/architecture.md names {name}, which does not exist"


# --- links --------------------------------------------------------------------------------------


def _anchors(text: str) -> set[str]:
    """GitHub's anchor for each heading: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", re.sub(r"^```.*?^```$", "", text, flags=re.M | re.S), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_every_relative_link_points_at_a_file_that_exists() -> None:
    for path in DOC_FILES:
        text = path.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", re.sub(r"^```.*?^```$", "", text, flags=re.M | re.S)):
            if re.match(r"[a-z]+:", target):
                continue
            file, _, anchor = target.partition("#")
            linked = (path.parent / file).resolve() if file else path
            assert linked.exists(), f"{relative(path)} links to {target}, which does not exist"
            if anchor:
                assert anchor in _anchors(linked.read_text(encoding="utf-8")), (
                    f"{relative(path)} links to {target}: no such heading"
                )


def test_every_doc_page_is_linked_from_the_readme() -> None:
    linked = set(re.findall(r"\]\(docs/([\w.-]+\.md)\)", page("README.md")))
    assert linked == {p.name for p in (REPO / "docs").glob("*.md")}


def test_the_public_modules_say_where_they_are_documented() -> None:
    for module in ("__init__.py", "testing.py"):
        doc = ast.get_docstring(ast.parse((REPO / "confpy" / module).read_text(encoding="utf-8")))
        assert doc and "docs/library.md" in doc, (
            f"confpy/{module}'s docstring should point at docs/library.md"
        )


@pytest.mark.parametrize(
    ("where", "content"),
    [
        (f"{path.name} block {i}", content)
        for path in DOC_FILES
        for i, (lang, content) in enumerate(blocks(path.read_text(encoding="utf-8")))
        if lang == "toml" and "[template]" in content
    ],
)
def test_the_resource_examples_load(
    where: str, content: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Every conf.d example in the docs is a resource confpy loads as written, without a warning
    (an unknown or misspelt field would only be warned about)."""
    path = tmp_path / "example.toml"
    path.write_text(content)
    with caplog.at_level("WARNING"):
        load_resource(path, name="example.toml")
    assert not caplog.records, [r.getMessage() for r in caplog.records]


def test_the_commit_group_example_loads_as_one_group(tmp_path: Path) -> None:
    """resources.md's two members agree on what a group needs (one backend, one reload)."""
    text = section(page("resources.md"), "Files that change together: `commit_group`")
    confdir = tmp_path / "confdir"
    (confdir / "conf.d").mkdir(parents=True)
    members = [content for lang, content in blocks(text) if lang == "toml"]
    for i, content in enumerate(members):
        (confdir / "conf.d" / f"m{i}.toml").write_text(content)
    resources, errors = load_resources(confdir)
    assert errors == [] and len(members) == 2
    assert {r.commit_group for r in resources} == {"tls"}
