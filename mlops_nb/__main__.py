"""``python -m mlops_nb`` is the ``mlops-nb`` command."""

from mlops_nb.cli import main

main()
