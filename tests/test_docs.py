"""The documentation runs: README's and the user guide's Python blocks, every gallery example,
the doctests of the public modules; every object of the API reference (docs/api.rst), and
every public method and property of its classes, has a numpydoc docstring describing each
parameter and an Examples section; and nothing outside tests/ and benchmarks/ refers to a
path outside the repository.

Blocks and examples run in this process (a fresh namespace each, in a temporary working
directory, matplotlib on the non-interactive Agg backend), so they share the already
imported (and compiled) package and take seconds.
"""
import doctest
import importlib
import importlib.util
import inspect
import os
import pkgutil
import re
import runpy
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))

#: Pages whose ```python blocks, run in order in one namespace, need nothing but the
#: package and its test dependencies (no data files, no cluster).
RUNNABLE_PAGES = [
    "README.md",
    "docs/index.md",
    "docs/getting_started.md",
    "docs/user_guide/solvers.md",
    "docs/user_guide/penalties.md",
    "docs/user_guide/losses.md",
    "docs/user_guide/standard_errors.md",
    "docs/user_guide/model_files.md",
]

#: Modules whose docstring examples are run: at least every module that defines an object
#: of the API reference (test_api_reference_is_doctested keeps this list complete).
DOCTEST_MODULES = [
    "fastlogit",
    "fastlogit.estimator",
    "fastlogit.sgd_estimator",
    "fastlogit.persistence",
    "fastlogit.model_selection",
    "fastlogit.group_dro",
    "fastlogit.calibration",
    "fastlogit.svm",
    "fastlogit.svm_dcd",
    "fastlogit.svm_newton",
    "fastlogit.margin_losses",
    "fastlogit.max_margin",
    "fastlogit.dask._estimator",
    "fastlogit.dask._readers",
    "fastlogit.dask._local_sgd",
    "fastlogit.dask._data",
    "fastlogit.io.svmlight",
    "fastlogit.io.cache",
    "fastlogit.datasets",
    "fastlogit.outofcore",
    "fastlogit.summary",
    "fastlogit.objective",
    "fastlogit.penalties",
    "fastlogit.extras",
    "fastlogit.row_merge",
    "fastlogit.solvers",
    "fastlogit.solvers._result",
    "fastlogit.kernels",
    "fastlogit.ovr",
]

#: numpydoc validation codes every object of the API reference passes: each parameter
#: documented (PR01) and described (PR07), no unknown parameter (PR02: usually a paragraph
#: read as one), a docstring at all (GL08), an Examples section (EX01).
NUMPYDOC_CHECKS = ("PR01", "PR02", "PR07", "GL08", "EX01")

#: Public members (methods, properties) of API-reference classes not validated yet, by where
#: they are defined ("module.Class.member"; subclasses that inherit one are skipped too).
#: Empty now that every member validates; an entry added here must be left out by
#: docs/conf.py's numpydoc_validation_exclude too (checked below).
PENDING_MEMBERS = set()


def api_names():
    """Fully qualified names of the objects in docs/api.rst's autosummary tables."""
    names, module, in_table = [], None, False
    for line in (ROOT / "docs" / "api.rst").read_text(encoding="utf-8").splitlines():
        match = re.match(r"\.\. currentmodule:: (\S+)", line)
        if match:
            module = match.group(1)
        elif line.startswith(".. autosummary::"):
            in_table = True
        elif in_table and re.fullmatch(r"   [A-Za-z_][\w.]*", line):
            names.append(f"{module}.{line.strip()}")
        elif in_table and line and not line.startswith("   "):
            in_table = False
    return names


API_NAMES = api_names()
HAVE_DASK = all(importlib.util.find_spec(m) is not None for m in ("dask", "distributed"))


def _needs_dask(name):
    return name.startswith("fastlogit.dask")


def resolve(name):
    """The object ``name`` names: its longest importable module prefix, then attributes."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        candidate = ".".join(parts[:i])
        try:
            obj = importlib.import_module(candidate)
            break
        except ModuleNotFoundError as exc:
            if exc.name != candidate:  # a missing dependency, not an attribute path
                raise
    for attr in parts[i:]:
        obj = getattr(obj, attr)
    return obj


def api_members():
    """(page name, defining name, object) of every public method and property of the classes
    in docs/api.rst that fastlogit defines, inherited ones included (as the API pages show
    them: ``autoclass :inherited-members:``).  Members scikit-learn or Python define
    (get_params, set_params, set_callbacks, the generated set_*_request, ...) are documented
    where they come from and left out, as docs/conf.py's autodoc-skip-member does."""
    members = []
    for name in API_NAMES:
        if _needs_dask(name) and not HAVE_DASK:
            continue
        cls = resolve(name)
        if not inspect.isclass(cls):
            continue
        for attr in sorted(dir(cls)):
            owner = next((k for k in cls.__mro__ if attr in vars(k)), None)
            if attr.startswith("_") or owner is None or not owner.__module__.startswith(
                    "fastlogit"):
                continue
            member = vars(owner)[attr]
            if isinstance(member, (staticmethod, classmethod)):
                member = member.__func__
            if inspect.isfunction(member) or isinstance(member, property):
                members.append((f"{name}.{attr}",
                                f"{owner.__module__}.{owner.__qualname__}.{attr}", member))
    return members


def python_blocks(path):
    """The ```python fenced blocks of a Markdown file, in order."""
    text = path.read_text(encoding="utf-8")
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


@pytest.fixture
def quiet_matplotlib():
    """Agg backend; figures closed afterwards; the 'cannot show' warning silenced."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*non-interactive.*cannot be shown")
        warnings.filterwarnings("ignore", message=".*FigureCanvasAgg is non-interactive")
        yield
    plt.close("all")


def test_readme_has_the_setup_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for command in (
        'python3 -m venv .venv && .venv/bin/pip install -q -e ".[test]" && .venv/bin/fastlogit demo',
        'python3 -m venv .venv && .venv/bin/pip install -q -e ".[test]" && '
        ".venv/bin/python -m pytest -q tests",
    ):
        assert command in readme


@pytest.mark.parametrize("page", RUNNABLE_PAGES)
def test_markdown_python_blocks_run(page, tmp_path, monkeypatch, quiet_matplotlib):
    blocks = python_blocks(ROOT / page)
    assert blocks, f"{page} has no ```python block"
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__main__"}
    for k, block in enumerate(blocks):
        code = compile(block, f"{page} (python block {k + 1})", "exec")
        exec(code, namespace)


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_gallery_example_runs(example, tmp_path, monkeypatch, quiet_matplotlib):
    source = example.read_text(encoding="utf-8")
    if "dask" in source:
        pytest.importorskip("dask.array")
        pytest.importorskip("distributed")
    monkeypatch.chdir(tmp_path)
    import matplotlib.pyplot as plt

    runpy.run_path(str(example), run_name="__main__")
    assert plt.get_fignums(), f"{example.name} draws no figure"


def test_gallery_is_not_empty():
    names = {p.stem for p in EXAMPLES}
    assert {"plot_convergence", "plot_calibration", "plot_regularization_path",
            "plot_out_of_core", "plot_dask"} <= names


@pytest.mark.parametrize("module", DOCTEST_MODULES)
def test_doctests(module, monkeypatch, tmp_path):
    if _needs_dask(module) and not HAVE_DASK:
        pytest.skip("dask and distributed are not installed (the dask extra)")
    mod = importlib.import_module(module)
    monkeypatch.chdir(tmp_path)
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [t for t in finder.find(mod, module) if t.examples]
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} doctest(s) of {module} failed (output above)"


def test_wrapped_methods_are_doctested():
    """test_doctests finds the Examples of methods a decorator from another module wraps
    (LogisticRegression.fit under scikit-learn >= 1.9's with_callbacks: DocTestFinder goes
    by the wrapper's ``__module__``, which functools.wraps copies)."""
    import fastlogit.estimator as mod

    names = {t.name for t in doctest.DocTestFinder().find(mod, mod.__name__) if t.examples}
    assert {"fastlogit.estimator.LogisticRegression.fit",
            "fastlogit.estimator.LinearLogitOutputs.predict_proba"} <= names


def test_api_reference_lists_the_public_objects():
    assert len(API_NAMES) == len(set(API_NAMES)) > 60
    assert {"fastlogit.LogisticRegression", "fastlogit.solvers.solve",
            "fastlogit.kernels.KernelSet", "fastlogit.dask.LogisticRegression"} <= set(API_NAMES)


@pytest.mark.parametrize("name", API_NAMES)
def test_public_objects_have_examples(name):
    if _needs_dask(name) and not HAVE_DASK:
        pytest.skip("dask and distributed are not installed (the dask extra)")
    doc = resolve(name).__doc__ or ""
    assert re.search(r"^\s*Examples\n\s*-{8}\n", doc, re.MULTILINE) and ">>>" in doc, \
        f"{name} has no Examples section with a doctest"


def test_api_reference_is_doctested():
    """Every object of the API reference is defined in a module whose doctests run."""
    missing = {}
    for name in API_NAMES:
        if _needs_dask(name) and not HAVE_DASK:
            continue
        module = resolve(name).__module__
        if module not in DOCTEST_MODULES:
            missing[name] = module
    assert not missing, f"add these modules to DOCTEST_MODULES: {missing}"


def test_fill_doc_puts_the_shared_entries_in_place():
    from fastlogit._docstring import DOCDICT, fill_doc, filler

    def f():
        """Summary.

        Parameters
        ----------
        {C, l1_ratio}
        mask : {0, 1}
            Not a placeholder.
        {extra}
        """

    doc = filler({"extra": "extra : int\n    Local entry."})(f).__doc__
    c_lines = ["        " + line for line in DOCDICT["C"].splitlines()]
    assert "\n".join(c_lines) + "\n        l1_ratio : float" in doc
    assert "        mask : {0, 1}\n" in doc
    assert "        extra : int\n            Local entry.\n" in doc
    with pytest.raises(KeyError, match="nope"):
        fill_doc(type("T", (), {"__doc__": "Doc.\n\n    {nope}\n"}))


def _documented_objects(module):
    """(name, object) of the functions, classes, methods and properties ``module`` defines."""
    for name, obj in vars(module).items():
        if getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj):
            yield f"{module.__name__}.{name}", obj
        elif inspect.isclass(obj):
            yield f"{module.__name__}.{name}", obj
            for attr, member in vars(obj).items():
                member = member.fget if isinstance(member, property) else member
                member = getattr(member, "__func__", member)  # static and class methods
                if inspect.isfunction(member):
                    yield f"{module.__name__}.{name}.{attr}", member


def test_no_docstring_keeps_a_placeholder():
    """Every ``{name}`` line of fastlogit._docstring was filled (its object decorated)."""
    import fastlogit
    from fastlogit._docstring import _PLACEHOLDER

    unfilled = []
    for info in pkgutil.walk_packages(fastlogit.__path__, "fastlogit."):
        if info.name == "fastlogit.__main__" or (_needs_dask(info.name) and not HAVE_DASK):
            continue
        try:
            module = importlib.import_module(info.name)
        except ImportError:  # an optional compiled backend that is not built here
            continue
        unfilled += [name for name, obj in _documented_objects(module)
                     if obj.__doc__ and _PLACEHOLDER.search(obj.__doc__)]
    assert not unfilled, f"docstrings with an unfilled {{name}} line (add @fill_doc): {unfilled}"


def test_api_reference_docstrings_validate():
    """numpydoc validation (PR01, PR02, PR07, GL08, EX01) of every object in docs/api.rst."""
    validate = pytest.importorskip("numpydoc.validate").validate
    failures = []
    for name in API_NAMES:
        if _needs_dask(name) and not HAVE_DASK:
            continue
        failures += [f"{name}: {code} {message}" for code, message in validate(name)["errors"]
                     if code in NUMPYDOC_CHECKS]
    assert not failures, (f"{len(failures)} numpydoc error(s) in the API reference:\n"
                          + "\n".join(failures))


API_MEMBERS = api_members()


def test_api_members_are_found():
    """The member list covers the estimators' methods, inherited ones included, and the
    layer below (Objective, KernelSet), and no scikit-learn method."""
    pages = {page for page, _, _ in API_MEMBERS}
    assert {"fastlogit.LogisticRegression.fit", "fastlogit.LogisticRegression.predict_proba",
            "fastlogit.SGDLogisticRegression.partial_fit", "fastlogit.objective.Objective.hessp",
            "fastlogit.extras.FocalObjective.value_grad", "fastlogit.kernels.KernelSet.gram",
            "fastlogit.kernels.Design.nnz"} <= pages
    assert not {p for p in pages if p.rsplit(".", 1)[1] in ("get_params", "set_params")}
    defined = {definer for _, definer, _ in API_MEMBERS}
    assert not PENDING_MEMBERS - defined, \
        f"PENDING_MEMBERS names members that do not exist: {sorted(PENDING_MEMBERS - defined)}"


def test_api_reference_members_validate():
    """numpydoc validation (PR01, PR02, PR07, GL08, EX01) of every public method and property
    of the API reference's classes but PENDING_MEMBERS: each parameter documented and
    described, an Examples section."""
    validate = pytest.importorskip("numpydoc.validate").validate
    failures = []
    for page, definer, _ in API_MEMBERS:
        if definer in PENDING_MEMBERS:
            continue
        failures += [f"{page}: {code} {message}" for code, message in validate(page)["errors"]
                     if code in NUMPYDOC_CHECKS]
    assert not failures, (f"{len(failures)} numpydoc error(s) in API-reference members:\n"
                          + "\n".join(failures))


def test_validated_members_are_doctested():
    """Every validated member is defined in a module whose doctests run."""
    missing = {definer: member.__module__ for _, definer, member in API_MEMBERS
               if definer not in PENDING_MEMBERS
               and getattr(member, "fget", member).__module__ not in DOCTEST_MODULES}
    assert not missing, f"add these modules to DOCTEST_MODULES: {missing}"


def test_sphinx_validates_the_same_members():
    """docs/conf.py's numpydoc_validation_exclude leaves out exactly the pending members (as
    the API pages name them), so that ``sphinx-build -W`` checks what this file checks."""
    import ast

    tree = ast.parse((ROOT / "docs" / "conf.py").read_text(encoding="utf-8"))
    exclude = next(ast.literal_eval(node.value) for node in ast.walk(tree)
                   if isinstance(node, ast.Assign)
                   and getattr(node.targets[0], "id", None) == "numpydoc_validation_exclude")
    # as numpydoc does: the patterns joined by "|", no excluder at all when there are none
    # (an empty pattern would match every name)
    excluder = re.compile("|".join(exclude)) if exclude else None
    wrong = [f"{page} ({'pending' if definer in PENDING_MEMBERS else 'validated'})"
             for page, definer, _ in API_MEMBERS
             if bool(excluder and excluder.search(page)) != (definer in PENDING_MEMBERS)]
    assert not wrong, ("docs/conf.py's numpydoc_validation_exclude disagrees with "
                       "PENDING_MEMBERS on: " + ", ".join(wrong))


def _scanned_files():
    """Files of the repository that users get or read: not tests/, benchmarks/, builds."""
    skip_dirs = {".git", ".venv", "build", "dist", "__pycache__", "_build", "generated",
                 "auto_examples", ".asv", ".hypothesis", ".pytest_cache", "tests",
                 "benchmarks"}
    suffixes = {".py", ".pyx", ".pxd", ".h", ".md", ".rst", ".txt", ".toml", ".cfg", ".in",
                ".cff", ".json", ""}
    for dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = [d for d in dirnames
                       if d not in skip_dirs and not d.endswith(".egg-info")
                       and not (Path(dirpath) == ROOT and d.startswith("."))]
        for name in filenames:
            path = Path(dirpath) / name
            if path.suffix in suffixes and path.name != "sg_execution_times.rst":
                yield path


def test_no_file_refers_outside_the_repository():
    """Only tests and benchmarks may read ../shared (and skip without it)."""
    pattern = re.compile(r"\.\./shared|/work/|DESIGN\.md")
    offenders = []
    for path in _scanned_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for lineno, line in enumerate(text.splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{lineno}: {line.strip()}")
    assert not offenders, "paths outside the repository:\n" + "\n".join(offenders)


# ---------------------------------------------------------------- packaging
LOCAL_MODULES = {"fastlogit", "benchmarks", "conftest", "tests"}


def _imported_top_level(folder):
    """Top-level names imported (or importorskip'ed) by the .py files under ``folder``."""
    import ast
    import sys

    names = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
            elif (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "importorskip"
                  and node.args and isinstance(node.args[0], ast.Constant)):
                names.add(str(node.args[0].value).split(".")[0])
    local = LOCAL_MODULES | {p.stem for p in folder.glob("*.py")}
    return {n for n in names if n not in sys.stdlib_module_names and n not in local}


def _requirement_names(requirements):
    return {re.match(r"[A-Za-z0-9_.\-]+", r).group(0).lower().replace("_", "-")
            for r in requirements}


@pytest.fixture(scope="module")
def project():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)["project"]


@pytest.mark.parametrize("folder, extras", [("fastlogit", ("dask", "plot")), ("tests", ("test",))])
def test_every_imported_package_is_declared(project, folder, extras):
    """The package's imports are runtime dependencies or behind the extras named for them;
    every import of the test suite is installed by ``pip install -e ".[test]"``."""
    from importlib.metadata import packages_distributions

    declared = _requirement_names(project["dependencies"])
    for extra in extras:
        declared |= _requirement_names(project["optional-dependencies"][extra])
    dists = packages_distributions()
    missing = {}
    for name in sorted(_imported_top_level(ROOT / folder)):
        candidates = {d.lower().replace("_", "-") for d in dists.get(name, [name])}
        if not candidates & declared:
            missing[name] = sorted(candidates)
    assert not missing, f"imported by {folder}/ but not declared in {extras}: {missing}"


def test_version_in_one_place(project):
    """pyproject reads the version from fastlogit.__version__ instead of repeating it."""
    import fastlogit

    assert "version" not in project and "version" in project.get("dynamic", [])
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.dev\d+|rc\d+)?", fastlogit.__version__)


@pytest.mark.skipif(os.environ.get("FASTLOGIT_TEST_WHEEL") != "1",
                    reason="builds the wheel (minutes): set FASTLOGIT_TEST_WHEEL=1 to run")
def test_wheel_installs_and_fits_without_a_compiler(tmp_path):
    """python -m build makes a wheel that installs in a fresh venv and fits a model with no
    C compiler on PATH (the dependencies come from this interpreter's site-packages, so
    the check runs offline)."""
    import subprocess
    import sys
    import sysconfig

    pytest.importorskip("build")
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)],
                   check=True, capture_output=True)
    wheel = next(dist.glob("fastlogit-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    str(wheel)], check=True)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], check=True, capture_output=True, text=True)
    # Dependencies from this interpreter; a path in a .pth is added to sys.path without
    # running the .pth files found there, so an editable fastlogit is not picked up.
    (Path(site.stdout.strip()) / "deps.pth").write_text(sysconfig.get_paths()["purelib"])
    script = (
        "import shutil, fastlogit\n"
        "from sklearn.datasets import load_breast_cancer\n"
        "assert not any(shutil.which(c) for c in ('cc', 'gcc', 'clang'))\n"
        f"assert fastlogit.__file__.startswith({str(venv)!r}), fastlogit.__file__\n"
        "X, y = load_breast_cancer(return_X_y=True)\n"
        "clf = fastlogit.LogisticRegression(C=0.1, max_iter=500).fit(X, y)\n"
        "assert clf.score(X, y) > 0.9\n"
        "print(fastlogit.available_backends())\n"
    )
    env = {"PATH": str(venv / "bin"), "HOME": str(tmp_path), "CC": "/nonexistent/cc"}
    out = subprocess.run([str(python), "-c", script], env=env, capture_output=True, text=True,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "cython" in out.stdout  # the compiled kernels came with the wheel
