"""Drift guard: the documentation agrees with the code.

- Every ``stn_*`` function declared in include/swiftstn.h is in docs/c-abi.md, and every ``stn_*``
  name and ``STN_*`` constant docs/c-abi.md mentions is declared in the header.
- Every name in ``swiftstn.__all__`` (and ``swiftstn.torch.__all__`` when PyTorch is installed)
  appears as code in docs/operators.md, docs/training.md or docs/torch.md.
- docs/c-abi.md's example compiles against the header and, linked to the installed
  libswiftstn.so, prints what the header's two-call idiom promises.
- Every layer name the network-spec parser accepts (the string literals its ``case`` labels match
  in Sources/SwiftSTN/NN/LayerSpec.swift) and every transform kind appears in docs/c-abi.md's
  "Network specs" section.
- README.md is at most 10 KiB, and every relative link in README.md, ARCHITECTURE.md,
  CHANGELOG.md and docs/*.md points to an existing file (and, for a link into a Markdown file
  with a ``#fragment``, to an existing heading).

The repository is found relative to this file; the tests skip when it is not there (a run against
an installed package alone).
"""
import glob
import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HEADER = os.path.join(ROOT, "include", "swiftstn.h")
if not os.path.isfile(HEADER):
    pytest.skip("the repository (include/swiftstn.h) is not here: installed-package-only run",
                allow_module_level=True)

DOCS = os.path.join(ROOT, "docs")
README_LIMIT = 10 * 1024
FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.M | re.S)
INLINE_CODE = re.compile(r"`+([^`]+)`+")


def read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


def code_of(markdown):
    """The text of a Markdown document's code: fenced blocks and inline code spans."""
    blocks = [m.group(0) for m in FENCE.finditer(markdown)]
    spans = INLINE_CODE.findall(FENCE.sub("", markdown))
    return "\n".join(blocks + spans)


def prose_of(markdown):
    """A Markdown document without its code (where link syntax is literal text)."""
    return INLINE_CODE.sub("", FENCE.sub("", markdown))


def mentions(text, name):
    return re.search(r"(?<!\w)" + re.escape(name) + r"(?!\w)", text) is not None


def section(markdown, title):
    """The body of the ``## title`` section (up to the next heading of level 1 or 2)."""
    m = re.search(r"^## " + re.escape(title) + r"\s*$(.*?)(?=^#{1,2} |\Z)", markdown, re.M | re.S)
    assert m, f"no '## {title}' section"
    return m.group(1)


def c_code(text):
    """C source without its comments."""
    return re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)


# ---- (1) the C ABI ---------------------------------------------------------------------------

def header_declarations():
    code = c_code(read("include", "swiftstn.h"))
    functions = set(re.findall(r"\b(stn_[a-z0-9_]+)\s*\(", code))
    identifiers = set(re.findall(r"\bstn_[a-z0-9_]+\b", code))
    constants = set(re.findall(r"^\s*#define\s+(STN_[A-Z0-9_]+)", code, re.M))
    return functions, identifiers, constants


def test_every_header_function_is_documented():
    functions, _, constants = header_declarations()
    assert len(functions) > 30, f"parsed only {sorted(functions)} from the header"
    doc = read("docs", "c-abi.md")
    missing = sorted(f for f in functions if not mentions(doc, f))
    assert not missing, f"declared in include/swiftstn.h but not in docs/c-abi.md: {missing}"
    missing = sorted(c for c in constants if not mentions(doc, c))
    assert not missing, f"#defined in include/swiftstn.h but not in docs/c-abi.md: {missing}"


def test_every_documented_c_name_is_declared():
    _, identifiers, constants = header_declarations()
    doc = read("docs", "c-abi.md")
    unknown = sorted(set(re.findall(r"(?<![\w.])stn_[a-z0-9_]+\b", doc)) - identifiers)
    assert not unknown, f"named in docs/c-abi.md but not declared in include/swiftstn.h: {unknown}"
    unknown = sorted(set(re.findall(r"(?<![\w.])STN_[A-Z0-9_]+\b", doc)) - constants)
    assert not unknown, f"named in docs/c-abi.md but not #defined in include/swiftstn.h: {unknown}"


def test_c_example_compiles_and_runs(tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        pytest.skip("no C compiler")
    import swiftstn

    libdir = os.path.dirname(swiftstn.__file__)
    if not os.path.isfile(os.path.join(libdir, "libswiftstn.so")):
        pytest.skip("swiftstn has no libswiftstn.so beside it")
    doc = read("docs", "c-abi.md")
    example = section(doc, "Example")
    m = re.search(r"```c\n(.*?)```", example, re.S)
    assert m, "docs/c-abi.md's Example section has no C block"
    src = tmp_path / "example.c"
    src.write_text(m.group(1))
    exe = tmp_path / "example"
    subprocess.run([cc, "-std=c11", "-Wall", "-Werror", "-I", os.path.join(ROOT, "include"), str(src),
                    "-L", libdir, "-lswiftstn", f"-Wl,-rpath,{libdir}", "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    # The identity transform samples the input itself: output[5] is pixel 5.
    assert f"swiftstn {swiftstn.__version__}: output 1x1x4x4, output[5] = 5" in out.stdout, out.stdout


# ---- (2) the Python API ----------------------------------------------------------------------

API_DOCS = ("operators.md", "training.md", "torch.md")


def undocumented(names):
    code = "\n".join(code_of(read("docs", page)) for page in API_DOCS)
    return sorted(n for n in names if not mentions(code, n))


def test_every_public_name_is_documented():
    import swiftstn

    missing = undocumented(swiftstn.__all__)
    assert not missing, f"in swiftstn.__all__ but not (as code) in docs/{{{','.join(API_DOCS)}}}: {missing}"


def test_every_public_torch_name_is_documented():
    pytest.importorskip("torch")
    import swiftstn.torch

    missing = undocumented(swiftstn.torch.__all__)
    assert not missing, f"in swiftstn.torch.__all__ but not (as code) in docs/{{{','.join(API_DOCS)}}}: {missing}"


# ---- (3) the network spec --------------------------------------------------------------------

def parser_layer_names():
    src = read("Sources", "SwiftSTN", "NN", "LayerSpec.swift")
    labels = re.findall(r'\bcase\s+("[^"\n]*"(?:\s*,\s*"[^"\n]*")*)\s*:', src)
    names = {name for label in labels for name in re.findall(r'"([^"]*)"', label)}
    assert {"conv", "seq", "stn"} <= names, f"parsed only {sorted(names)} from LayerSpec.swift"
    return names


def transform_kinds():
    src = read("Sources", "SwiftSTN", "NN", "LayerSpec.swift")
    body = re.search(r"enum TransformKind\b.*?\{(.*?)\n\}", src, re.S)
    assert body, "enum TransformKind not found in LayerSpec.swift"
    kinds = dict(re.findall(r"\bcase\s+(\w+)\s*=\s*(\d+)", body.group(1)))
    assert "affine" in kinds, f"parsed only {kinds} from TransformKind"
    return kinds


def test_every_spec_layer_is_documented():
    specs = code_of(section(read("docs", "c-abi.md"), "Network specs"))
    missing = sorted(n for n in parser_layer_names() if not mentions(specs, n))
    assert not missing, f"accepted by the spec parser but not in docs/c-abi.md's Network specs: {missing}"


def test_every_transform_kind_is_documented():
    specs = section(read("docs", "c-abi.md"), "Network specs")
    code = code_of(specs)
    for name, number in transform_kinds().items():
        assert mentions(code, name), f"transform kind {name!r} is not in docs/c-abi.md's Network specs"
        assert re.search(rf"(?<!\w){number}\s+`{name}`", specs), \
            f"transform kind {name!r} is not documented with its code {number} in docs/c-abi.md"


# ---- (4) the README and the links ------------------------------------------------------------

def test_readme_is_short():
    size = os.path.getsize(os.path.join(ROOT, "README.md"))
    assert size <= README_LIMIT, f"README.md is {size} bytes; keep it under {README_LIMIT} (details go to docs/)"


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path):
    found, seen = set(), {}
    with open(path, encoding="utf-8") as f:
        text = FENCE.sub("", f.read())
    for heading in re.findall(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$", text, re.M):
        s = slug(heading)
        n = seen.get(s, 0)
        seen[s] = n + 1
        found.add(s if n == 0 else f"{s}-{n}")
    return found


def documents():
    pages = [os.path.join(ROOT, name) for name in ("README.md", "ARCHITECTURE.md", "CHANGELOG.md")]
    return [p for p in pages if os.path.isfile(p)] + sorted(glob.glob(os.path.join(DOCS, "*.md")))


def links(markdown):
    text = prose_of(markdown)
    inline = re.findall(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", text)
    reference = re.findall(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", text, re.M)
    return inline + reference


def test_documents_exist():
    for name in ("README.md", "ARCHITECTURE.md", "CHANGELOG.md", "LICENSE", "docs/operators.md", "docs/training.md",
                 "docs/torch.md", "docs/c-abi.md", "docs/build.md", "docs/reliability.md", "docs/performance.md"):
        assert os.path.isfile(os.path.join(ROOT, name)), f"{name} is missing"


@pytest.mark.parametrize("page", documents(), ids=lambda p: os.path.relpath(p, ROOT))
def test_relative_links_resolve(page):
    with open(page, encoding="utf-8") as f:
        markdown = f.read()
    broken = []
    for target in links(markdown):
        if re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:", target):   # http:, https:, mailto:
            continue
        path, _, fragment = target.partition("#")
        resolved = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
        if not os.path.exists(resolved):
            broken.append(f"{target} (no file {os.path.relpath(resolved, ROOT)})")
        elif fragment and resolved.endswith(".md") and fragment not in anchors(resolved):
            broken.append(f"{target} (no heading #{fragment} in {os.path.relpath(resolved, ROOT)})")
    assert not broken, f"{os.path.relpath(page, ROOT)}: broken links: {broken}"
