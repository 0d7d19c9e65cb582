"""The RALA demo: a real Home Assistant, a broker and simulated tents on this machine.

``scripts/demo`` runs :mod:`demo.__main__`; the browser check (``tests/browser``) starts
the same stack (:class:`demo.stack.DemoStack`) and inspects the dashboard it creates
(:mod:`demo.dashboard_check`).
"""
