"""w2v: distributed word2vec training on Ray with gensim, exported as artifacts other teams can load.

The data's path, one module per stage: `config` -> `storage` (a package: one module per backend) ->
`corpus` -> `vocab` -> `driver` (+ `trainer`, `exchange`, `sync`) -> `evaluation` (a package: everything
that uses TensorFlow; `evaluation.stage` runs it here or as a Ray task) -> `export` (+ `report`);
`pipeline.run` strings them together and `cli` is the command line;
`progress` draws the driver's bars for the long stages.
`load`, `embedding_matrix`, `keras_embedding`, `to_indices` and `phrase` (`evaluation.keras_io`)
are how other teams read an artifact.
Importing w2v starts nothing: no Ray, no TensorFlow, no logging configuration. The core install
(numpy, gensim, smart_open, boto3) is enough for all of this but `keras_embedding`; training and
the evaluation need extras (`extras`), imported only when used.
"""

import logging

from .version import __version__  # noqa: E402

from .config import TrainConfig  # noqa: E402
from .errors import (ArtifactError, ClusterError, ConfigError, CorpusError, EvaluationError,  # noqa: E402
                     EvaluationFailedError, MissingExtraError, StorageError, StorageUnavailableError,
                     TrainingError, W2VError)
from .export import load, load_arrays, verify  # noqa: E402
from .evaluation.keras_io import embedding_matrix, keras_embedding, phrase, to_indices  # noqa: E402

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["TrainConfig", "load", "load_arrays", "verify", "embedding_matrix", "keras_embedding", "to_indices",
           "phrase",
           "W2VError", "ConfigError", "CorpusError", "StorageError", "ArtifactError", "EvaluationError",
           "ClusterError", "TrainingError", "EvaluationFailedError", "MissingExtraError", "StorageUnavailableError",
           "__version__"]
