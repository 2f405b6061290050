"""Serve the dashboards' notebooks with Voila, offline, with Panel output working.

Voila 0.5 does not show Panel output on its own: the pyviz JupyterLab extension
that ``pn.extension()`` relies on fails to load in Voila, and with
``comms='ipywidgets'`` (jupyter_bokeh) BokehJS never arrives. This module
supplies what is missing, with nothing fetched from a CDN:

- the Voila template ``plexus`` (``app/voila_template/``, based on ``lab``),
  which loads a local bundle of BokehJS, Panel and the extensions' JS and CSS;
- :func:`build_bundle` writes that bundle for the installed versions (again only
  when they change); :func:`install` puts template and bundle in the first
  Jupyter data folder, normally this environment's
  ``share/jupyter/voila/templates/plexus``, so bundle and packages match;
- :func:`notebook_extension`, the call a dashboard notebook makes instead of
  ``pn.extension``, does the right thing where it runs (:func:`detect_context`);
- :func:`voila_args` is the Voila command line.

``python -m app.voila`` installs and prints the command. A notebook whose
metadata holds ``{"voila": {"template": "plexus"}}`` also renders with a plain
``voila NOTEBOOK.ipynb`` (and under Jupyter server's ``/voila/render/``).
"""

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

__all__ = ["TEMPLATE_NAME", "build_bundle", "bundle_versions", "detect_context", "install",
           "notebook_extension", "template_dir", "voila_args"]

TEMPLATE_NAME = "plexus"
TEMPLATE_SOURCE = Path(__file__).with_name("voila_template")
DEFAULT_EXTENSIONS = ("tabulator", "vtk")  # what the dashboards use
BUNDLE_JS = "plexus-bundle.js"
BUNDLE_STAMP = "plexus-bundle.json"
PANEL_DIST = "panel"  # static/panel: the CSS, fonts and icons of Panel's dist folder
_BUNDLE_FORMAT = 1  # bump when the recipe changes, to rebuild existing bundles
_VERSIONED = ("bokeh", "panel", "holoviews", "jupyter_bokeh")
_ENV_CONTEXT = "PLEXUS_NOTEBOOK_CONTEXT"
_CONTEXTS = ("server", "voila", "jupyter", "python")


def template_dir():
    """Return the folder Voila reads the ``plexus`` template from.

    The first Jupyter data folder (``jupyter --paths``) holding
    ``voila/templates/plexus``, as Voila searches them in that order; if none
    does yet, where :func:`install` creates it: this environment's
    ``share/jupyter`` if writable, else the user's Jupyter data folder.

    Returns
    -------
    pathlib.Path
    """
    from jupyter_core.paths import jupyter_data_dir, jupyter_path

    for folder in jupyter_path("voila", "templates", TEMPLATE_NAME):
        if (Path(folder) / "conf.json").is_file():
            return Path(folder)
    env_root = Path(sys.prefix) / "share" / "jupyter"
    existing = next(p for p in (env_root, *env_root.parents) if p.exists())
    root = env_root if os.access(existing, os.W_OK) else Path(jupyter_data_dir())
    return root / "voila" / "templates" / TEMPLATE_NAME


def bundle_versions(extensions=DEFAULT_EXTENSIONS):
    """Return what a bundle is built from: package versions and extension names.

    Parameters
    ----------
    extensions : iterable of str
        Panel extension names (``'tabulator'``, ``'vtk'``, ...).

    Returns
    -------
    dict
        The content of the stamp file saved beside a bundle.
    """
    versions = {"format": _BUNDLE_FORMAT}
    for name in _VERSIONED:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return {**versions, "extensions": sorted(set(extensions))}


def build_bundle(dest=None, *, extensions=DEFAULT_EXTENSIONS, force=False):
    """Write the JavaScript/CSS bundle the ``plexus`` template loads.

    One file, ``plexus-bundle.js``: BokehJS (core, GL, widgets, tables), Panel
    (which also holds HoloViews' models), es-module-shims (for
    ``pn.custom.JSComponent``) and the JS and CSS of the Panel extensions
    (Tabulator with luxon, vtk.js for ``pn.pane.VTK``), inline as Panel saves a
    standalone page. It runs each library as its own script, with the page's
    AMD ``define`` hidden meanwhile (``app/voila_template/bundle_loader.js``
    says why). A stamp file beside it records :func:`bundle_versions`. The
    build runs in a fresh Python process, which sees exactly the installed
    packages and leaves this process's Panel state alone.

    Parameters
    ----------
    dest : path-like, optional
        Folder to write to; default ``template_dir() / 'static'``.
    extensions : iterable of str
        Panel extensions to include, besides the defaults and those of an
        up-to-date bundle there (so notebooks asking for different ones do not
        rebuild in turn). Names without JavaScript are ignored.
    force : bool
        Rebuild even if the stamp matches.

    Returns
    -------
    pathlib.Path
        The bundle file.
    """
    dest = Path(dest) if dest is not None else template_dir() / "static"
    js, stamp = dest / BUNDLE_JS, dest / BUNDLE_STAMP
    wanted = bundle_versions({*extensions, *DEFAULT_EXTENSIONS})
    if js.is_file() and stamp.is_file():
        old = json.loads(stamp.read_text(encoding="utf-8"))
        if {**old, "extensions": None} == {**wanted, "extensions": None}:  # same versions
            if not force and set(wanted["extensions"]) <= set(old["extensions"]):
                return js
            wanted["extensions"] = sorted({*wanted["extensions"], *old["extensions"]})
    dest.mkdir(parents=True, exist_ok=True)
    package_root = str(Path(__file__).resolve().parent.parent)
    code = (f"import sys; sys.path.insert(0, {package_root!r}); "
            "from app.voila import _write_bundle; _write_bundle(sys.argv[1], sys.argv[2:])")
    done = subprocess.run([sys.executable, "-c", code, str(dest), *wanted["extensions"]],
                          capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"building the Voila bundle in {dest} failed:\n{done.stderr}")
    _write_atomic(stamp, json.dumps(wanted, indent=1))
    return js


def _write_bundle(dest, extensions):
    # Runs in the fresh process started by build_bundle.
    import importlib

    from bokeh.resources import INLINE
    from panel.config import panel_extension
    from panel.io import resources as pr

    for name in extensions:
        if name in panel_extension._imports:  # the modules pn.extension imports
            importlib.import_module(panel_extension._imports[name])
    with pr.set_resource_mode("inline"):
        resources = pr.Resources.from_bokeh(INLINE, notebook=True)
        bundle = pr.bundle_resources(None, resources, notebook=True, enable_mathjax=False)
    remote = [str(url) for url in (*bundle.js_files, *bundle.css_files, *bundle.js_modules)]
    if remote:
        raise RuntimeError(f"cannot inline these resources (extensions {extensions}): {remote}")
    css = [*bundle.css_raw, (pr.PANEL_DIR / "_templates/jupyter.css").read_text(encoding="utf-8")]
    scripts = []
    for i, source in enumerate(bundle.js_raw):
        match = re.match(r"\s*/\* BEGIN (\S+) \*/", source)
        name = match.group(1) if match else f"part-{i:02d}.js"
        # sourceURL names each library in the browser's errors and debugger.
        scripts.append(f"{source}\n//# sourceURL=plexus-bundle/{name}\n")
    header = ", ".join(f"{k} {v}" for k, v in bundle_versions(extensions).items() if k != "format")
    loader = (TEMPLATE_SOURCE / "bundle_loader.js").read_text(encoding="utf-8")
    for key, value in (("__HEADER__", header), ("__CSS__", json.dumps("\n".join(css))),
                       ("__SCRIPTS__", json.dumps(scripts))):
        loader = loader.replace(key, value, 1)
    _write_atomic(Path(dest) / BUNDLE_JS, loader)


def _write_atomic(path, text):
    # Voila may be serving the file while a kernel rebuilds it.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def install(*, extensions=DEFAULT_EXTENSIONS, force=False):
    """Install the ``plexus`` Voila template and build its bundle.

    Copies ``app/voila_template/`` into :func:`template_dir`, copies the
    stylesheets, fonts and images of Panel's ``dist`` folder to
    ``static/panel`` (Panel would otherwise fetch the components' CSS from its
    CDN) and runs :func:`build_bundle`. Cheap when all is current.

    Parameters
    ----------
    extensions : iterable of str
        Passed to :func:`build_bundle`.
    force : bool
        Rebuild the bundle even if up to date.

    Returns
    -------
    pathlib.Path
        The template folder.
    """
    import panel

    target = template_dir()
    static = target / "static"
    static.mkdir(parents=True, exist_ok=True)
    for source in TEMPLATE_SOURCE.iterdir():
        if source.suffix in (".j2", ".json"):
            copy, text = target / source.name, source.read_text(encoding="utf-8")
            if not copy.is_file() or copy.read_text(encoding="utf-8") != text:
                _write_atomic(copy, text)
    _copy_panel_assets(Path(panel.__file__).parent / "dist", static / PANEL_DIST)
    build_bundle(static, extensions=extensions, force=force)
    return target


def _copy_panel_assets(dist, dest):
    # A copy, not a link: Tornado (6.6) refuses static files reached through a
    # symlink that leaves the served folder. Only what stylesheets use
    # (8.6 MB for Panel 1.9); the JavaScript is in the bundle.
    stamp, wanted = dest / ".panel-version", version("panel")
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == wanted:
        return
    keep = {".css", ".woff", ".woff2", ".ttf", ".eot", ".otf", ".svg", ".png", ".gif",
            ".jpg", ".ico"}

    def ignore(folder, names):
        return [n for n in names
                if not (Path(folder, n).is_dir() or Path(n).suffix.lower() in keep)]

    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    old = dest.with_name(f".{dest.name}.{os.getpid()}.old")
    shutil.copytree(dist, tmp, ignore=ignore)
    (tmp / stamp.name).write_text(wanted, encoding="utf-8")
    if dest.is_symlink() or dest.is_file():
        dest.unlink()
    elif dest.exists():
        dest.rename(old)  # swap quickly: a page loading now sees one or the other
    try:
        tmp.rename(dest)
    except OSError:  # another kernel installed them meanwhile
        shutil.rmtree(tmp, ignore_errors=True)
        if not stamp.is_file():
            raise
    shutil.rmtree(old, ignore_errors=True)


def voila_args(notebook, port=8866, *, ip="127.0.0.1", show_tracebacks=False, extra=()):
    """Return the command line that serves ``notebook`` with Voila and ``plexus``.

    Parameters
    ----------
    notebook : path-like
        The notebook (or a folder, for Voila's tree view).
    port : int
        Port to listen on.
    ip : str
        Address to listen on; the default keeps the server on this machine.
    show_tracebacks : bool
        Show Python tracebacks in the page (for development and tests).
    extra : sequence of str
        More Voila options, appended last.

    Returns
    -------
    list of str
        For ``subprocess`` (``shlex.join`` gives the shell form). It runs
        Voila with this Python, so the kernels share the bundle's environment.

    Examples
    --------
    >>> voila_args("dashboards/explorer.ipynb", 8866)[3:6]
    ['dashboards/explorer.ipynb', '--template=plexus', '--port=8866']
    """
    return [sys.executable, "-m", "voila", os.fspath(notebook), f"--template={TEMPLATE_NAME}",
            f"--port={port}", f"--Voila.ip={ip}", "--no-browser",
            f"--VoilaConfiguration.show_tracebacks={show_tracebacks}", *extra]


def detect_context():
    """Say where this code runs, for :func:`notebook_extension`.

    Returns
    -------
    str
        - ``'server'``: a Bokeh server session renders it (``panel serve``,
          ``pn.serve``): ``pn.state.curdoc`` has a session context.
        - ``'voila'``: an IPython kernel that Voila started; Voila puts
          ``VOILA_BASE_URL``, ``VOILA_KERNEL_ID`` and
          ``SERVER_SOFTWARE=voila/<version>`` in its kernels' environment.
        - ``'jupyter'``: any other IPython kernel: JupyterLab, the classic
          notebook, nbclient/nbconvert, VS Code. A kernel cannot tell these
          apart, nor needs to: ``pn.extension`` serves them all (and detects
          VS Code and Colab itself).
        - ``'python'``: a plain interpreter (a script, pytest).

        The environment variable ``PLEXUS_NOTEBOOK_CONTEXT`` overrides this.
    """
    forced = os.environ.get(_ENV_CONTEXT)
    if forced:
        if forced not in _CONTEXTS:
            raise ValueError(f"{_ENV_CONTEXT} must be one of {_CONTEXTS}, was {forced!r}")
        return forced
    if "panel" in sys.modules:
        from panel.io.state import state

        if state.curdoc is not None and state.curdoc.session_context is not None:
            return "server"
    shell = None
    if "IPython" in sys.modules:  # imported by every IPython kernel
        from IPython import get_ipython

        shell = get_ipython()
    if getattr(shell, "kernel", None) is None:
        return "python"
    if (os.environ.get("VOILA_BASE_URL") is not None or "VOILA_KERNEL_ID" in os.environ
            or os.environ.get("SERVER_SOFTWARE", "").startswith("voila/")):
        return "voila"
    return "jupyter"


def notebook_extension(*extensions, **params):
    """Load Panel for a dashboard notebook, wherever it runs.

    Call this once, first, instead of ``pn.extension(...)``. Outside Voila it
    is ``pn.extension(*extensions, **params)``. In Voila it also:

    - sets ``comms='ipywidgets'``: Panel objects display as jupyter_bokeh
      widgets, which Voila renders and keeps in sync with the kernel;
    - keeps ``pn.extension`` from publishing its JavaScript: Voila would run
      it and load BokehJS a second time, from the CDN;
    - makes sure the template's bundle is current and holds these extensions
      (:func:`install`; the template loads it after the cells have run);
    - has the components' stylesheets served by Voila (the template's
      ``static/panel``) instead of Panel's CDN.

    Parameters
    ----------
    *extensions : str
        Panel extensions, as for ``pn.extension`` (``'tabulator'``, ``'vtk'``).
    **params
        Passed to ``pn.extension``.

    Returns
    -------
    str
        The context found by :func:`detect_context`.
    """
    import panel as pn

    context = detect_context()
    if context != "voila":
        pn.extension(*extensions, **params)
        return context
    if params.setdefault("comms", "ipywidgets") != "ipywidgets":
        raise ValueError(f"Voila needs comms='ipywidgets', got comms={params['comms']!r}")
    if not (template_dir() / "conf.json").is_file():
        warnings.warn(f"the Voila template {TEMPLATE_NAME!r} is not installed, so Panel "
                      "output will not show: run  python -m app.voila", stacklevel=2)
    else:
        try:
            install(extensions=extensions)
        except OSError as error:  # e.g. a read-only system-wide install
            warnings.warn(f"could not update the Voila bundle ({error}); if Panel "
                          "output is missing, run  python -m app.voila", stacklevel=2)
    with _no_published_javascript():
        pn.extension(*extensions, **params)
    base_url = os.environ.get("VOILA_BASE_URL", "/").rstrip("/")
    _set_dist_url(f"{base_url}/voila/templates/{TEMPLATE_NAME}/static/{PANEL_DIST}/")
    return context


@contextmanager
def _no_published_javascript():
    # pn.extension (and HoloViews through it) publishes its loader through
    # IPython.display.publish_display_data, looked up at call time.
    import IPython.display

    original = IPython.display.publish_display_data
    IPython.display.publish_display_data = lambda *args, **kwargs: None
    try:
        yield
    finally:
        IPython.display.publish_display_data = original


def _set_dist_url(dist_url):
    # Panel points component stylesheets at its CDN unless the Bokeh Document
    # carries a 'dist_url' template variable (so Panel's own Jupyter preview
    # serves them). A displayed object becomes a widget through
    # panel.io.notebook.ipywidget: give its Documents the variable.
    import panel
    import panel.io
    import panel.viewable
    from panel.io import notebook

    current = notebook.ipywidget
    original = getattr(current, "__wrapped__", current)

    @functools.wraps(original)
    def ipywidget(obj, doc=None, **kwargs):
        from bokeh.document import Document

        doc = Document() if doc is None else doc
        doc._template_variables.setdefault("dist_url", dist_url)  # the first render
        widget = original(obj, doc=doc, **kwargs)
        # jupyter_bokeh puts the root in a Document of its own, which later
        # updates (and a re-display) use.
        model = getattr(widget, "_model", None)
        if getattr(model, "document", None) is not None:
            model.document._template_variables.setdefault("dist_url", dist_url)
        return widget

    for module in (notebook, panel.viewable, panel.io, panel):
        if getattr(module, "ipywidget", None) in (current, original):
            module.ipywidget = ipywidget


def main(argv=None):
    """Install the template and bundle, then print the Voila command."""
    import argparse
    import shlex

    parser = argparse.ArgumentParser(prog="python -m app.voila", description=main.__doc__)
    parser.add_argument("notebook", nargs="?", default="dashboards/NOTEBOOK.ipynb")
    parser.add_argument("--port", type=int, default=8866)
    parser.add_argument("--force", action="store_true", help="rebuild the bundle")
    args = parser.parse_args(argv)
    folder = install(force=args.force)
    stamp = json.loads((folder / "static" / BUNDLE_STAMP).read_text(encoding="utf-8"))
    print(f"Voila template {TEMPLATE_NAME!r} and its bundle "
          f"({', '.join(f'{k} {v}' for k, v in stamp.items())}) in {folder}")
    print("Serve a notebook (or open it with a plain `voila` if its metadata names the "
          "template) with:\n  " + shlex.join(voila_args(args.notebook, args.port)))


if __name__ == "__main__":
    main()
