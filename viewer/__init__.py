"""The run and tree viewer: a self-contained static site made from the trace store (`journeyforge view`).

`collect` reads a run into plain dicts, `plots` draws its summary charts, `site` writes the pages and
their data files, `serve` serves the folder on 127.0.0.1. The browser code is `static/` (our own
small scripts plus vendored KaTeX), so the site opens from the file system with no network.
"""
