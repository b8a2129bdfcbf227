"""Loading the URL map must not import the plotting and statistics libraries.

matplotlib, scipy, statsmodels and pandas take seconds to import; the views that draw
charts or run analyses import them when they are first called, so that server start and
every test process's first request stay fast. The check runs in a fresh interpreter,
since this test process has long since imported them all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

HEAVY = ("matplotlib", "scipy", "statsmodels", "pandas", "fpdf")

# Records, for the first import of each heavy package, the chain of our modules that led
# to it; then sets Django up, imports the URL conf and walks every resolver in it.
PROBE = textwrap.dedent("""
    import json
    import sys
    import traceback

    HEAVY = set(sys.argv[1].split(","))
    chains = {}


    class Recorder:
        def find_spec(self, name, path=None, target=None):
            top = name.partition(".")[0]
            if top in HEAVY and top not in chains and top not in sys.modules:
                chains[top] = [f"{frame.filename}:{frame.lineno} ({frame.name})"
                               for frame in traceback.extract_stack()[:-1]
                               if "importlib" not in frame.filename]
            return None


    sys.meta_path.insert(0, Recorder())

    import django

    django.setup()

    from django.conf import settings
    from django.urls import URLResolver, get_resolver

    __import__(settings.ROOT_URLCONF)
    resolver = get_resolver()
    resolver.reverse_dict  # builds the reverse map: every include() is loaded
    modules = set()


    def walk(node):
        for entry in node.url_patterns:
            if isinstance(entry, URLResolver):
                modules.add(getattr(entry.urlconf_module, "__name__", ""))
                walk(entry)
            else:
                callback = getattr(entry.callback, "cls", entry.callback)
                __import__(callback.__module__)
                modules.add(callback.__module__)


    walk(resolver)
    loaded = sorted(name for name in HEAVY if name in sys.modules)
    print(json.dumps({"loaded": loaded, "chains": chains, "modules": len(modules)}))
""")


def test_url_map_does_not_import_heavy_libraries() -> None:
    # The settings this test run uses (pytest-django puts them in the environment).
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"]}
    done = subprocess.run([sys.executable, "-c", PROBE, ",".join(HEAVY)], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["modules"] > 20, "the probe walked too few URL modules to mean anything"
    report = "\n\n".join(
        f"{name} was imported by:\n    " + "\n    ".join(reversed(found["chains"].get(name, [])))
        for name in found["loaded"])
    assert not found["loaded"], f"loading the URL map imported {found['loaded']}\n\n{report}"
