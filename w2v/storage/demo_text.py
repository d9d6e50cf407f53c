"""The demo corpus: unstemmed English text that ships with gensim, extracted while it is read.

`sample:` is two texts, each served by the storage layer under a `sample://NAME` URI:

- `sample://wiki`: gensim's Wikipedia sample (`enwiki-latest-pages-articles1.xml-...-shortened.bz2`,
  106 articles, about 450,000 words) through gensim's own extraction, the tokens of
  `WikiCorpus(path, dictionary={}, processes=1).get_texts()`: markup removed, lowercased, words of
  2-15 characters, one article per line. `wiki_articles` runs get_texts' steps in this process:
  get_texts always forks a `multiprocessing.Pool`, and a fork of a Ray driver or worker inherits
  Ray's signal handlers (its pool child printed "SIGTERM received" stack traces into the demo)
  and its threads. The tests check the tokens equal get_texts' own.
- `sample://lee`: gensim's Lee news background corpus (300 short articles, one per line),
  lowercased and with punctuation stripped by the same rule (`wikicorpus.tokenize`).

Nothing is written to disk: every read extracts the text again (about 3 s for the Wikipedia
sample), so there is no cache to go stale or to be left half-written, and every node of a
cluster reads the same bytes from its own gensim install. Its size in bytes, which the planner
needs, is measured by one extraction per process. This module does not tokenize for training:
the extracted lines are read like any file (`corpus.iter_sentences`).
"""

from __future__ import annotations

import functools
import io
import os
from typing import IO, Any, Iterator

from ..errors import StorageError
from .base import FileInfo, ReadOnlyBackend, S3Settings

SCHEME = "sample://"
TEXTS = {  # name -> the file of gensim's test data it is extracted from
    "wiki": "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2",
    "lee": "lee_background.cor",
}


def is_demo(uri: str) -> bool:
    """Whether `uri` names a demo text (of any name: an unknown one is refused when read).

    >>> is_demo("sample://wiki"), is_demo("sample:"), is_demo("/data/sample://x")
    (True, False, False)
    """
    return uri.lower().startswith(SCHEME)


def uri(name: str) -> str:
    """The storage URI of one demo text.

    >>> uri("lee")
    'sample://lee'
    """
    return SCHEME + name


def _source(text_uri: str) -> tuple[str, str]:
    """(name, path of the gensim file) of a `sample://NAME` URI; a StorageError for an unknown name."""
    from gensim.test.utils import datapath

    name = text_uri[len(SCHEME) :] if text_uri.startswith(SCHEME) else text_uri
    if name not in TEXTS:
        raise StorageError(f"{text_uri}: no such demo text (there are {', '.join(uri(n) for n in TEXTS)})")
    path = datapath(TEXTS[name])
    if not os.path.isfile(path):
        raise StorageError(f"{text_uri}: gensim ships no {TEXTS[name]!r} in this install")
    return name, path


def wiki_articles(path: str) -> Iterator[list[str]]:
    """The tokens of each article `WikiCorpus(path, dictionary={}).get_texts()` yields, in this process (no fork)."""
    import bz2

    from gensim.corpora.wikicorpus import IGNORED_NAMESPACES, WikiCorpus, _process_article, extract_pages

    wiki = WikiCorpus(path, dictionary={}, processes=1)  # dictionary={}: no vocabulary pass; its settings only
    settings = (wiki.tokenizer_func, wiki.token_min_len, wiki.token_max_len, wiki.lower)
    with bz2.BZ2File(path) as dump:
        for title, text, pageid in extract_pages(dump, wiki.filter_namespaces, wiki.filter_articles):
            tokens, title, _ = _process_article((text, title, pageid, settings))
            # get_texts' own filter: redirects, stubs and pages of ignored namespaces are left out
            if len(tokens) >= wiki.article_min_tokens and not any(
                    title.startswith(namespace + ":") for namespace in IGNORED_NAMESPACES):
                yield tokens


def lines(text_uri: str) -> Iterator[str]:
    """The text's documents, one per line: tokens joined by single spaces, each line ending in "\\n"."""
    from gensim.corpora.wikicorpus import TOKEN_MAX_LEN, TOKEN_MIN_LEN, tokenize

    name, path = _source(text_uri)
    if name == "wiki":
        documents: Iterator[list[str]] = wiki_articles(path)
    else:
        with open(path, encoding="utf-8") as f:
            documents = iter([tokenize(line, TOKEN_MIN_LEN, TOKEN_MAX_LEN, True) for line in f])
    for tokens in documents:
        if tokens:
            yield " ".join(tokens) + "\n"


@functools.lru_cache(maxsize=None)
def size(text_uri: str) -> int:
    """Bytes of the text (UTF-8), measured by extracting it once in this process."""
    return sum(len(line.encode("utf-8")) for line in lines(text_uri))


def mtime(text_uri: str) -> float:
    """The modification time of the gensim file it comes from: a changed install reads as a changed corpus."""
    return os.path.getmtime(_source(text_uri)[1])


class TextReader(io.RawIOBase):
    """The UTF-8 bytes of one demo text, extracted as they are read (not seekable)."""

    def __init__(self, text_uri: str):
        self.lines = lines(text_uri)  # the extraction, advanced as bytes are read
        self.pending = b""  # bytes of the current line not yet handed out

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self.pending:
            line = next(self.lines, None)
            if line is None:
                return 0
            self.pending = line.encode("utf-8")
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n

    def close(self) -> None:
        if not self.closed:
            self.lines.close()
        super().close()


class DemoTextBackend(ReadOnlyBackend):
    """The demo text (`sample://wiki`, `sample://lee`): extracted from gensim's files as it is read, read-only."""

    what = "the demo text"

    def list_files(self, uri: str, settings: S3Settings) -> list[FileInfo]:
        return [FileInfo(uri=uri, size=size(uri), mtime=mtime(uri))]

    def open(self, uri: str, mode: str, settings: S3Settings, **kwargs: Any) -> IO:
        if mode != "rb":
            raise StorageError(f"{uri}: the demo text is read-only")
        return TextReader(uri)

    def exists(self, uri: str, settings: S3Settings) -> bool:
        return uri[len(SCHEME) :] in TEXTS
