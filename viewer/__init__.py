"""The run and tree viewer: a self-contained static site made from the trace store (`journeyforge view`).

`collect` reads a run into plain dicts, `rounds` finds the other rounds of an evolve run and
their trees of the same problems, `plots` draws the run's summary charts, `site` writes the pages and
their data files, `serve` serves the folder on 127.0.0.1. The browser code is `static/` (our own
small scripts plus vendored KaTeX), so the site opens from the file system with no network.
"""
