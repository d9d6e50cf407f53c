"""Build the benchmark corpus: real English text from installed packages, each line once, never repeated.

    apt-get install -y --no-install-recommends linux-doc-6.1 debian-handbook python3.11-doc \
        postgresql-doc-15 perl-doc git-doc sqlite3-doc emacs-common fortunes gnu-standards debian-reference-en \
        rust-doc python-django-doc python-scipy-doc python-pandas-doc python-sqlalchemy-doc python-sympy-doc \
        cmake-doc gimp-help-en apache2-doc libreoffice-help-en-us octave-doc maxima-doc openjdk-17-doc scala-doc
    python -m jobs.make_corpus --out ~/w2v-bench-corpus          # prints its size and sources
    python -m jobs.benchmark --corpus ~/w2v-bench-corpus/corpus.txt

A second corpus of another kind of text (`--kind reference`: dictionaries, scripture and its
commentaries, novels, quotations, news; 9.0M words), for quality figures that do not hold for software
documentation alone:

    apt-get install -y --no-install-recommends dict-gcide dict-devil wordnet-base sword-text-kjv \
        sword-comm-tdavid sword-comm-mhcc sword-comm-scofield r-cran-janeaustenr fortunes
    python -m jobs.make_corpus --kind reference --out ~/.cache/w2v-bench-reference

Why these sources: a benchmark of a distributed trainer must not repeat text (repeating hands every
actor the same sentences, so their deltas agree and staleness looks free; see README "What the
quality follows"), and tests and benchmarks download nothing. So the text comes from what ships with
packages: gensim's Wikipedia sample (through gensim's own `WikiCorpus` extraction) and the Lee news
corpus, plus Debian's documentation packages: prose manuals (the Debian Administrator's Handbook,
the Linux kernel's documentation, Python's, PostgreSQL's, Perl's, git's, the GNU info manuals and
coding standards) and the fortune files. A source that is not installed is skipped and said so.
The reference kind reads GCIDE (Webster's 1913 dictionary with its literary quotations, dictd's
format), WordNet's glosses and examples, the King James Bible and three commentaries on it
(Spurgeon's Treasury of David, Matthew Henry's, Scofield's notes; SWORD modules), Jane Austen's six
novels (R's janeaustenr data, read without R), Bierce's Devil's Dictionary, the fortune files that
are not about computers, and gensim's Lee news corpus.

What it writes: `corpus.txt`, one sentence per line, lowercase words of letters only (so the
evaluation sets' words match), sentences of fewer than 5 words dropped, every line that was
already written dropped (exact duplicates: boilerplate, licences, navigation), and `sources.json`
with words and lines per source. `--max-words N` stops early, for smaller corpora from the same
text (the scaling law needs several sizes); sources are interleaved file by file (a source that
is one big file, like a dictionary, in parts of about 8,000 words) so that a prefix is a mix of all
of them. It also prints the corpus's kind of text (`jobs.corpus_kind`: top-1,000 share, Heaps
exponent, vocabulary in the first million tokens), which `sources.json` keeps.
"""

from __future__ import annotations

import argparse
import bz2
import glob
import gzip
import hashlib
import html.parser
import json
import lzma
import os
import re
import struct
import sys
import time
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from jobs.corpus_kind import CorpusKind, KindMeter

WORD = re.compile(r"[a-z]+")
SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n\s*\n")  # sentence punctuation or a blank line
MIN_WORDS = 5  # shorter lines are mostly headings, table cells and code
MAX_WORDS = 1_000  # longer "sentences" are tables or code dumps; cut (gensim's own limit is 10,000)


@dataclass(frozen=True)
class Source:
    """One kind of installed text: where its files are and how to get prose out of them."""

    name: str
    patterns: tuple[str, ...]  # globs (recursive)
    reader: str  # "text", "html", "info", "pod", "man", "fortune", "wiki", "dict", "wordnet", "sword", "rdata"
    package: str  # what to install (Debian or PyPI) when it is missing


def _gensim_data(name: str) -> str:
    from gensim.test.utils import datapath

    return datapath(name)


LEE = Source("gensim lee news corpus", ("gensim:lee_background.cor",), "text", "gensim (PyPI)")  # in both kinds

SOURCES = (
    Source("gensim wikipedia sample", ("gensim:enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2",),
           "wiki", "gensim (PyPI)"),
    LEE,
    Source("debian handbook", ("/usr/share/doc/debian-handbook/html/en-US/**/*.html",), "html", "debian-handbook"),
    Source("linux kernel documentation", ("/usr/share/doc/linux-doc-6.1/html/_sources/**/*.txt",), "text",
           "linux-doc-6.1"),
    Source("python documentation", ("/usr/share/doc/python3.11/html/_sources/**/*.txt",), "text", "python3.11-doc"),
    Source("postgresql documentation", ("/usr/share/doc/postgresql-doc-15/html/*.html",), "html", "postgresql-doc-15"),
    Source("perl documentation", ("/usr/share/perl/5.*/pod/*.pod",), "pod", "perl-doc"),
    Source("git documentation", ("/usr/share/doc/git-doc/*.html",), "html", "git-doc"),
    Source("sqlite documentation", ("/usr/share/doc/sqlite3/**/*.html",), "html", "sqlite3-doc"),
    Source("gnu info manuals", ("/usr/share/info/**/*.info*.gz", "/usr/share/info/*.gz"), "info", "emacs-common"),
    Source("debian reference", ("/usr/share/doc/debian-reference-en/**/*.html", "/usr/share/debian-reference/**/*.en.html"),
           "html", "debian-reference-en"),
    Source("fortunes", ("/usr/share/games/fortunes/*",), "fortune", "fortunes"),
    Source("manual pages", ("/usr/share/man/man[1-9]/*.gz",), "man", "the installed packages' own manual pages"),
    Source("rust books and std documentation", ("/usr/share/doc/rust-doc/html/book/**/*.html",
                                                "/usr/share/doc/rust-doc/html/reference/**/*.html",
                                                "/usr/share/doc/rust-doc/html/nomicon/**/*.html",
                                                "/usr/share/doc/rust-doc/html/rust-by-example/**/*.html",
                                                "/usr/share/doc/rust-doc/html/edition-guide/**/*.html",
                                                "/usr/share/doc/rust-doc/html/embedded-book/**/*.html",
                                                "/usr/share/doc/rust-doc/html/rustc/**/*.html",
                                                "/usr/share/doc/rust-doc/html/unstable-book/**/*.html",
                                                "/usr/share/doc/rust-doc/html/std/**/*.html",
                                                "/usr/share/doc/rust-doc/html/core/**/*.html",
                                                "/usr/share/doc/rust-doc/html/alloc/**/*.html"), "html", "rust-doc"),
    Source("django documentation", ("/usr/share/doc/python-django-doc/html/**/*.html",), "html", "python-django-doc"),
    Source("scipy documentation", ("/usr/share/doc/python-scipy-doc/html/**/*.html",), "html", "python-scipy-doc"),
    Source("pandas documentation", ("/usr/share/doc/python-pandas-doc/html/_sources/**/*.txt",), "text",
           "python-pandas-doc"),
    Source("sqlalchemy documentation", ("/usr/share/doc/python-sqlalchemy-doc/rst/**/*.rst",), "text",
           "python-sqlalchemy-doc"),
    Source("sympy documentation", ("/usr/share/doc/python-sympy-doc/html/_sources/**/*.txt",), "text",
           "python-sympy-doc"),
    Source("cmake documentation", ("/usr/share/doc/cmake-data/html/_sources/**/*.txt",), "text", "cmake-doc"),
    Source("gimp manual", ("/usr/share/gimp/2.0/help/en/**/*.html",), "html", "gimp-help-en"),
    Source("apache manual", ("/usr/share/doc/apache2-doc/manual/en/**/*.html",), "html", "apache2-doc"),
    Source("libreoffice help", ("/usr/share/libreoffice/help/en-US/text/**/*.html",), "html", "libreoffice-help-en-us"),
    Source("octave manual", ("/usr/share/doc/octave/octave.html/*.html",), "html", "octave-doc"),
    Source("maxima manual", ("/usr/share/doc/maxima-doc/html/*.html",), "html", "maxima-doc"),
    Source("scala api documentation", ("/usr/share/doc/scala-2.*/api/**/*.html",), "html", "scala-doc"),
    Source("java api documentation", ("/usr/share/doc/openjdk-17-jre-headless/api/**/*.html",), "html",
           "openjdk-17-doc"),
)

# Not software documentation: dictionaries with their literary quotations, scripture and its
# commentaries, novels, quotations, news. The other dictionaries Debian ships are about computing (FOLDOC,
# the Jargon File) and so left out; the fortune files about computers, Debian and Star Trek too.
LITERARY_FORTUNES = ("art", "drugs", "education", "ethnic", "food", "humorists", "kids", "law", "literature", "love",
                     "magic", "medicine", "men-women", "miscellaneous", "people", "pets", "platitudes", "politics",
                     "riddles", "science", "songs-poems", "sports", "tao", "wisdom", "work")
REFERENCE_SOURCES = (
    Source("gcide (webster 1913 with quotations)", ("/usr/share/dictd/gcide.dict.dz",), "dict", "dict-gcide"),
    Source("wordnet glosses", ("/usr/share/wordnet/data.*",), "wordnet", "wordnet-base"),
    Source("king james bible", ("/usr/share/sword/modules/texts/ztext/engKJV2006eb/*.bzz",), "sword", "sword-text-kjv"),
    Source("spurgeon's treasury of david", ("/usr/share/sword/modules/comments/zcom/tdavid/*.czz",), "sword",
           "sword-comm-tdavid"),
    Source("matthew henry's concise commentary", ("/usr/share/sword/modules/comments/zcom/mhcc/*.bzz",), "sword",
           "sword-comm-mhcc"),
    Source("scofield reference notes", ("/usr/share/sword/modules/comments/zcom/scofield/*.bzz",), "sword",
           "sword-comm-scofield"),
    Source("jane austen's novels", ("/usr/lib/R/site-library/janeaustenr/data/Rdata.rdb",), "rdata",
           "r-cran-janeaustenr"),
    Source("devil's dictionary", ("/usr/share/dictd/devil.dict.dz",), "dict", "dict-devil"),
    Source("literary fortunes", tuple(f"/usr/share/games/fortunes/{name}" for name in LITERARY_FORTUNES), "fortune",
           "fortunes"),
    LEE,
)
KINDS = ("docs", "reference")  # --kind: SOURCES (software documentation, the default) or REFERENCE_SOURCES


class _TextOfHtml(html.parser.HTMLParser):
    """The visible text of an HTML page; block elements end a sentence; scripts, styles and code dropped."""

    BLOCKS = {"p", "div", "li", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "dt", "dd", "br", "tr", "title",
              "section", "blockquote", "table", "ul", "ol", "dl"}
    SKIP = {"script", "style", "pre", "code", "tt", "kbd", "samp"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def _read(path: str) -> str:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        return f.read()


def html_text(path: str) -> str:
    parser = _TextOfHtml()
    parser.feed(_read(path))
    return "".join(parser.parts)


def info_text(path: str) -> str:
    """An info file without its node headers and menus (\\x1f separates nodes)."""
    lines = []
    for line in _read(path).split("\n"):
        if line.startswith(("\x1f", "File:", "* ", "Tag Table", "END ")) or "\x7f" in line:
            lines.append("")
        else:
            lines.append(line)
    return "\n".join(lines)


def pod_text(path: str) -> str:
    """POD without its commands and verbatim (indented) blocks; formatting codes keep their text."""
    out = []
    for para in _read(path).split("\n\n"):
        if para.startswith(("=", " ", "\t")):
            out.append("")
            continue
        out.append(re.sub(r"[A-Z]<+([^<>]*)>+", r"\1", para))
    return "\n\n".join(out)


def man_text(path: str) -> str:
    """A troff manual page without its requests (lines starting with . or ') and escapes (\\fB, \\-, \\(em)."""
    lines = []
    for line in _read(path).split("\n"):
        if line.startswith((".", "'")):
            lines.append("" if line.startswith((".SH", ".SS", ".PP", ".P", ".LP", ".TP", ".IP")) else " ")
            continue
        lines.append(re.sub(r"\\(f[A-Z0-9]|\(..|\*.|.)", " ", line))
    return "\n".join(lines)


def fortune_text(path: str) -> str:
    if path.endswith((".dat", ".u8")) or os.path.isdir(path):
        return ""
    return _read(path).replace("\n%\n", "\n\n")


def text_text(path: str) -> str:
    return _read(path)


_DICT_OFFSET_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _dict_number(digits: str) -> int:
    """A dictd index offset or length: base 64, most significant digit first.

    >>> _dict_number("Kj"), _dict_number("BdqM")
    (675, 383628)
    """
    value = 0
    for digit in digits:
        value = value * 64 + _DICT_OFFSET_DIGITS.index(digit)
    return value


def dict_text(path: str) -> str:
    """The entries of a dictd dictionary (`NAME.dict.dz`, dictzip, which gzip reads, with `NAME.index` beside it).

    Each entry once (several headwords can point at one entry), in file order; the database's own
    entries (headwords `00-database-*`: licence, URL) and the entries GCIDE took from WordNet 1.5
    (the WordNet source has WordNet's own glosses) are dropped. Markup out: `[...]` (etymologies,
    source tags like `[1913 Webster]`, `[Obs.]`) and `\\...\\` (pronunciations); `{cross references}`
    keep their words.
    """
    index = path[: -len(".dict.dz")] + ".index" if path.endswith(".dict.dz") else path + ".index"
    spans: set[tuple[int, int]] = set()  # (byte offset, byte length) of each entry
    with open(index, encoding="utf-8", errors="replace") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 3 or fields[0].startswith("00"):
                continue
            spans.add((_dict_number(fields[1]), _dict_number(fields[2])))
    opener = gzip.open if path.endswith(".dz") else open
    with opener(path, "rb") as f:
        data = f.read()
    entries = []
    for offset, length in sorted(spans):
        entry = data[offset : offset + length].decode("utf-8", errors="replace")
        if "[WordNet" in entry:
            continue
        entry = re.sub(r"\[[^\[\]]*\]", " ", entry)
        entries.append(re.sub(r"\\[^\\\n]*\\", " ", entry))
    return "\n\n".join(entries)


def wordnet_text(path: str) -> str:
    """The glosses of a WordNet `data.POS` file (the text after `| `: a definition, then quoted examples).

    Lines starting with spaces are the licence. Each gloss is its own paragraph.
    """
    glosses = []
    for line in _read(path).split("\n"):
        if line.startswith(" ") or " | " not in line:
            continue
        glosses.append(line.split(" | ", 1)[1].strip())
    return "\n\n".join(glosses)


_OSIS_NOTE = re.compile(r"<note\b[^>]*?(?<!/)>.*?</note>", re.S)  # footnotes and cross references
_OSIS_BLOCK = re.compile(r"</?(?:div|p|title|chapter|item|list|row|cell|table|head|milestone)\b[^>]*>")
_OSIS_TAG = re.compile(r"<[^>]*>")


def sword_text(path: str) -> str:
    """A compressed SWORD module (zText, zCom, zCom4: `ot.bzz`/`nt.bzz` or `.czz`) as plain text, each entry once.

    Beside the compressed blocks (zlib) are a block index (`.bzs`: offset, size, uncompressed size,
    4 bytes each) and an entry index (`.bzv`: block, offset in the block, 2-byte size; `.czv` has a
    4-byte size). Commentaries point several verses at one comment, so an entry is read once.
    OSIS markup out: notes dropped, structural tags (div, title, chapter, ...) end a paragraph,
    word tags (`<w lemma="strong:H0430">God</w>`) keep their word.
    """
    blocks_path, entries_path = path[:-1] + "s", path[:-1] + "v"
    with open(path, "rb") as f:
        data = f.read()
    with open(blocks_path, "rb") as f:
        block_index = f.read()
    with open(entries_path, "rb") as f:
        entry_index = f.read()
    blocks = []
    for at in range(0, len(block_index) - 11, 12):
        offset, size, _ = struct.unpack_from("<III", block_index, at)
        blocks.append(zlib.decompress(data[offset : offset + size]) if size else b"")
    entry_format = "<IIH" if path.endswith(".bzz") else "<III"
    entry_size = struct.calcsize(entry_format)
    seen: set[tuple[int, int, int]] = set()
    entries = []
    for at in range(0, len(entry_index) - entry_size + 1, entry_size):
        entry = struct.unpack_from(entry_format, entry_index, at)
        block, start, size = entry
        if size == 0 or entry in seen or block >= len(blocks):
            continue
        seen.add(entry)
        entries.append(blocks[block][start : start + size].decode("utf-8", errors="replace"))
    text = _OSIS_NOTE.sub(" ", "\n".join(entries))
    text = _OSIS_TAG.sub(" ", _OSIS_BLOCK.sub("\n\n", text))
    return html.unescape(text)


class _RObjects:
    """Reads R's serialization format (XDR, versions 2 and 3): the parts that character data needs.

    Vectors (character, integer, logical, double, list) with their attributes, pairlists, symbols
    and references to symbols; anything else (closures, environments, ALTREP) raises ValueError.
    """

    NIL, SYMBOL, PAIRLIST, CHARS, LOGICAL, INTEGER, DOUBLE, STRINGS, LIST = 254, 1, 2, 9, 10, 13, 14, 16, 19
    REFERENCE = 255

    def __init__(self, data: bytes):
        if data[:2] != b"X\n":
            raise ValueError("not R's XDR serialization")
        self.data = data  # one serialized object, header included
        self.at = 2  # read position (bytes), past the format's "X\n"
        self.symbols: list[str] = []  # what a reference points at, in the order they were first read
        version = self._int()
        self._int(), self._int()  # the writer's R version, the oldest reader's
        if version == 3:
            encoding_name = self._int()  # bytes of the native encoding's name, skipped
            self.at += encoding_name

    def _int(self) -> int:
        (value,) = struct.unpack_from(">i", self.data, self.at)
        self.at += 4
        return value

    def read(self):
        flags = self._int()
        kind, has_attributes, has_tag = flags & 0xFF, flags & (1 << 9), flags & (1 << 10)
        if kind == self.NIL:
            return None
        if kind == self.REFERENCE:
            return self.symbols[(flags >> 8 or self._int()) - 1]
        if kind == self.SYMBOL:
            self.symbols.append(self.read())
            return self.symbols[-1]
        if kind == self.PAIRLIST:  # a list of (tag, value): attributes, the index's entries
            if has_attributes:
                self.read()  # a pairlist's own attributes: none that text needs
            tag = self.read() if has_tag else None
            head = (tag, self.read())
            return [head] + (self.read() or [])
        if kind == self.CHARS:
            length = self._int()
            if length == -1:
                return None  # NA
            raw = self.data[self.at : self.at + length]
            self.at += length
            return raw.decode("latin-1" if (flags >> 12) & 4 else "utf-8", errors="replace")
        length = self._int()
        if kind in (self.STRINGS, self.LIST):
            values = _RVector(self.read() for _ in range(length))
        elif kind in (self.INTEGER, self.LOGICAL):
            values = _RVector(struct.unpack_from(f">{length}i", self.data, self.at))
            self.at += 4 * length
        elif kind == self.DOUBLE:
            values = _RVector(struct.unpack_from(f">{length}d", self.data, self.at))
            self.at += 8 * length
        else:
            raise ValueError(f"R object of type {kind} is not read here")
        if has_attributes:
            values.attributes = dict(self.read())
        return values


class _RVector(list):
    attributes: dict = {}  # name -> value (names, class, ...)

    def named(self) -> dict:
        """The elements by the vector's names (an R named list)."""
        return dict(zip(self.attributes["names"], self))


def _r_lazy_object(rdb: bytes, offset: int, length: int, compression: int):
    """One object of an R lazy-load database: a 4-byte length, then zlib (or, for compression 2 and 3, a type byte)."""
    record = rdb[offset : offset + length]
    if compression in (2, 3):
        body = record[5:]
        method = record[4:5]
        data = (zlib.decompress(body) if method == b"Z" else bz2.decompress(body) if method == b"2"
                else lzma.decompress(body) if method == b"X" else body)
    else:
        data = zlib.decompress(record[4:])
    return _RObjects(data).read()


def rdata_text(path: str) -> str:
    """The character vectors of an R package's lazy-load data (`data/Rdata.rdb` with `Rdata.rdx` beside it).

    janeaustenr keeps each novel as one character vector, a line of the book per element and an
    empty element between paragraphs; each vector is a document, its lines joined by newlines.
    """
    with gzip.open(path[: -len(".rdb")] + ".rdx", "rb") as f:
        index = _RObjects(f.read()).read().named()  # variables (name -> offset, length), compressed
    with open(path, "rb") as f:
        rdb = f.read()
    compression = index.get("compressed", [1])[0]
    texts = []
    for offset, length in index["variables"]:
        value = _r_lazy_object(rdb, offset, length, compression)
        if isinstance(value, list) and value and all(isinstance(v, str) or v is None for v in value):
            texts.append("\n".join(v or "" for v in value))
    return "\n\n".join(texts)


READERS: dict[str, Callable[[str], str]] = {"html": html_text, "info": info_text, "pod": pod_text, "man": man_text,
                                            "fortune": fortune_text, "text": text_text, "dict": dict_text,
                                            "wordnet": wordnet_text, "sword": sword_text, "rdata": rdata_text}


def sentences(text: str) -> Iterator[list[str]]:
    """Lowercase letter-only words per sentence, 5 to 1,000 words.

    >>> list(sentences("The cat sat on the mat. It was 3 o'clock!\\n\\nA short one"))
    [['the', 'cat', 'sat', 'on', 'the', 'mat']]
    """
    for piece in SENTENCE_END.split(text):
        words = WORD.findall(piece.lower())
        for start in range(0, len(words), MAX_WORDS):
            chunk = words[start : start + MAX_WORDS]
            if len(chunk) >= MIN_WORDS:
                yield chunk


def wiki_documents(path: str) -> Iterator[str]:
    """gensim's own extraction of the Wikipedia dump (lowercase tokens, markup removed), one article at a time."""
    from gensim.corpora.wikicorpus import WikiCorpus

    corpus = WikiCorpus(path, dictionary={}, processes=1, lower=True)
    for tokens in corpus.get_texts():
        yield " ".join(tokens)


def source_files(source: Source) -> list[str]:
    files: list[str] = []
    for pattern in source.patterns:
        if pattern.startswith("gensim:"):
            files.append(_gensim_data(pattern[len("gensim:"):]))
        else:
            files.extend(sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p)))
    return sorted(set(files))


def documents(source: Source, path: str) -> Iterator[str]:
    if source.reader == "wiki":
        yield from wiki_documents(path)
    else:
        yield READERS[source.reader](path)


PARTED_READERS = {"dict", "wordnet", "sword", "rdata"}  # one file holds a whole source: it takes its turns in parts
PART_CHARS = 50_000  # about 8,000 words: a part of a big file weighs about what one fortune file or manual page does


def parts(text: str, size: int = PART_CHARS) -> Iterator[str]:
    """`text` in pieces of at least `size` characters, cut only at blank lines (which end a sentence anyway).

    >>> list(parts("one.\\n\\ntwo.\\n\\nthree.", size=8))
    ['one.\\n\\ntwo.', 'three.']
    """
    piece: list[str] = []
    length = 0
    for paragraph in text.split("\n\n"):
        piece.append(paragraph)
        length += len(paragraph) + 2
        if length >= size:
            yield "\n\n".join(piece)
            piece, length = [], 0
    if piece:
        yield "\n\n".join(piece)


def turns(source: Source, files: list[str]) -> Iterator[Iterable[str]]:
    """What `source` writes at each of its turns in the round-robin: one file's documents, or a part of a big file."""
    for path in files:
        if source.reader in PARTED_READERS:
            for part in parts(READERS[source.reader](path), PART_CHARS):
                yield (part,)
        else:
            yield documents(source, path)


def build(out: Path, max_words: int | None = None, kind: str = "docs") -> dict:
    """Write `out/corpus.txt` and `out/sources.json` from the sources of `kind` (see KINDS); returns the summary."""
    if kind not in KINDS:
        raise ValueError(f"unknown corpus kind {kind!r}: one of {', '.join(KINDS)}")
    out.mkdir(parents=True, exist_ok=True)
    queues = []
    for source in (SOURCES if kind == "docs" else REFERENCE_SOURCES):
        files = source_files(source)
        if not files:
            print(f"  missing: {source.name} (install {source.package})", file=sys.stderr)
            continue
        queues.append((source, files))
    stats = {source.name: {"files": len(files), "words": 0, "lines": 0, "duplicate_lines": 0, "package": source.package}
             for source, files in queues}
    seen: set[bytes] = set()
    words = 0
    meter = KindMeter()  # the corpus's kind of text, counted as it is written (jobs.corpus_kind)
    tmp = out / "corpus.txt.tmp"
    started = time.perf_counter()
    with open(tmp, "w", encoding="utf-8") as f:
        # Round-robin over sources, a file (or a part of a big one) at a time: any prefix of the corpus mixes
        # every source.
        pending = [(source, turns(source, files)) for source, files in queues]
        while pending and not (max_words and words >= max_words):
            for source, source_turns in list(pending):
                turn = next(source_turns, None)
                if turn is None:
                    pending.remove((source, source_turns))
                    continue
                s = stats[source.name]
                for document in turn:
                    for sentence in sentences(document):
                        line = " ".join(sentence)
                        digest = hashlib.blake2b(line.encode(), digest_size=8).digest()
                        if digest in seen:
                            s["duplicate_lines"] += 1
                            continue
                        seen.add(digest)
                        f.write(line + "\n")
                        meter.add(sentence)
                        s["words"] += len(sentence)
                        s["lines"] += 1
                        words += len(sentence)
                if max_words and words >= max_words:
                    break
    os.replace(tmp, out / "corpus.txt")
    summary = {"kind": kind, "words": words, "lines": sum(s["lines"] for s in stats.values()),
               "bytes": os.path.getsize(out / "corpus.txt"), "seconds": round(time.perf_counter() - started, 1),
               "sources": stats, "corpus_kind": asdict(meter.result())}
    (out / "sources.json").write_text(json.dumps(summary, indent=2))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="directory for corpus.txt and sources.json")
    parser.add_argument("--kind", choices=KINDS, default="docs",
                        help="docs: software documentation (the benchmark corpus); reference: dictionaries, "
                             "scripture and commentaries, quotations, news (default: docs)")
    parser.add_argument("--max-words", type=int, default=None, help="stop after this many words (default: all)")
    args = parser.parse_args(argv)
    summary = build(args.out, args.max_words, args.kind)
    print(f"{args.out / 'corpus.txt'}: {summary['words']:,} words, {summary['lines']:,} lines, "
          f"{summary['bytes'] / 1e6:.1f} MB, no line twice ({summary['seconds']} s)")
    print(f"kind of text: {CorpusKind(**summary['corpus_kind']).line()}")
    print("| source | package | files | words | lines | duplicate lines dropped |")
    print("|---|---|---|---|---|---|")
    for name, s in sorted(summary["sources"].items(), key=lambda kv: -kv[1]["words"]):
        print(f"| {name} | {s['package']} | {s['files']:,} | {s['words']:,} | {s['lines']:,} | {s['duplicate_lines']:,} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
