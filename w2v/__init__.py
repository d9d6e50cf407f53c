"""w2v: distributed word2vec training on Ray with gensim, exported as artifacts other teams can load.

The data's path, one module per stage: `config` -> `corpus` -> `vocab` -> `train` (+ `sync`) ->
`evaluate` -> `export`; `job.run` strings them together and `cli` is the command line.
Importing w2v starts nothing: no Ray, no TensorFlow, no logging configuration.
"""

import logging

__version__ = "0.1.0"

from .config import TrainConfig  # noqa: E402
from .errors import ArtifactError, ConfigError, CorpusError, StorageError, W2VError  # noqa: E402
from .export import load, load_arrays, verify  # noqa: E402

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["TrainConfig", "load", "load_arrays", "verify", "W2VError", "ConfigError", "CorpusError",
           "StorageError", "ArtifactError", "__version__"]
