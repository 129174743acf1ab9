*** Settings ***
Documentation       Acceptance specs of fibery-kb: what it does for its users, in plain language.
...
...                 Each scenario runs the real ``gen`` command, as a user or the Pages workflow
...                 would, in an empty folder, against a local fake Fibery that serves the demo
...                 workspace over real HTTP (with Fibery's API, its token check and its limit of
...                 3 requests per second). The steps are defined in ``fibery_kb.resource``.
...
...                 Run them with ``python -m pytest`` (``tests/test_acceptance.py``), or on their own:
...                 ``python -m robot --outputdir build/acceptance tests/acceptance``.
Metadata            Project    fibery-kb
Test Timeout        3 min
