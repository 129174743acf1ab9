"""Everything that turns a published ``Workspace`` into the files of the site.

``plan.py`` decides every path once (``SitePlan``, frozen); ``links.py`` resolves links for
the pages of one depth; ``fields.py`` renders field values; ``jinja.py`` holds the Jinja
environment and its escaping internals; ``pages.py`` turns the plan into page jobs that the
build keeps, renders or skips; ``keys.py`` says what each page depends on; ``state.py`` is
the render cache's record of an output folder; ``writer.py`` stages and swaps the files;
``status.py`` renders ``status.html``. Nothing here imports the sources, the Fibery client,
the plugins or the commands.
"""
