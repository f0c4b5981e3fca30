"""``python -m mlops_nb.serving.worker``: run the model worker (see ``main``)."""

import sys

from mlops_nb.serving.worker.main import main

sys.exit(main())
