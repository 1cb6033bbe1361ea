"""A Python worker for a Tributary coordinator: train your own PyTorch module on your own data.

>>> from tributary_client import Worker
>>> with Worker("127.0.0.1:7070", token, model=net) as w:
...     w.run(train_fn=lambda model: (examples, {"loss": loss}), updates=10)
"""

from .errors import IntegrityError, ModelMismatchError, TributaryError
from .worker import Summary, Worker

__all__ = ["Worker", "Summary", "TributaryError", "ModelMismatchError", "IntegrityError"]
__version__ = "0.1.0"
