"""``python -m proxy``: the same as the ``consentry`` command."""

from proxy.cli import main

raise SystemExit(main())
