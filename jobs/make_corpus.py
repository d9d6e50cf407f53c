"""Build the benchmark corpus: real English text from installed packages, each line once, never repeated.

    apt-get install -y --no-install-recommends linux-doc-6.1 debian-handbook python3.11-doc \
        postgresql-doc-15 perl-doc git-doc sqlite3-doc emacs-common fortunes gnu-standards debian-reference-en \
        rust-doc python-django-doc python-scipy-doc python-pandas-doc python-sqlalchemy-doc python-sympy-doc \
        cmake-doc gimp-help-en apache2-doc libreoffice-help-en-us octave-doc maxima-doc openjdk-17-doc scala-doc
    python -m jobs.make_corpus --out ~/w2v-bench-corpus          # prints its size and sources
    python -m jobs.benchmark --corpus ~/w2v-bench-corpus/corpus.txt

Why these sources: a benchmark of a distributed trainer must not repeat text (repeating hands every
actor the same sentences, so their deltas agree and staleness looks free; see README "What the
quality follows"), and tests and benchmarks download nothing. So the text comes from what ships with
packages: gensim's Wikipedia sample (through gensim's own `WikiCorpus` extraction) and the Lee news
corpus, plus Debian's documentation packages: prose manuals (the Debian Administrator's Handbook,
the Linux kernel's documentation, Python's, PostgreSQL's, Perl's, git's, the GNU info manuals and
coding standards) and the fortune files. A source that is not installed is skipped and said so.

What it writes: `corpus.txt`, one sentence per line, lowercase words of letters only (so the
evaluation sets' words match), sentences of fewer than 5 words dropped, every line that was
already written dropped (exact duplicates: boilerplate, licences, navigation), and `sources.json`
with words and lines per source. `--max-words N` stops early, for smaller corpora from the same
text (the scaling law needs several sizes); sources are interleaved file by file so that a
prefix is a mix of all of them.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import hashlib
import html.parser
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

WORD = re.compile(r"[a-z]+")
SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n\s*\n")  # sentence punctuation or a blank line
MIN_WORDS = 5  # shorter lines are mostly headings, table cells and code
MAX_WORDS = 1_000  # longer "sentences" are tables or code dumps; cut (gensim's own limit is 10,000)


@dataclass(frozen=True)
class Source:
    """One kind of installed text: where its files are and how to get prose out of them."""

    name: str
    patterns: tuple[str, ...]  # globs (recursive)
    reader: str  # "text", "html", "info", "pod", "fortune", "wiki"
    package: str  # what to install (Debian or PyPI) when it is missing


def _gensim_data(name: str) -> str:
    from gensim.test.utils import datapath

    return datapath(name)


SOURCES = (
    Source("gensim wikipedia sample", ("gensim:enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2",),
           "wiki", "gensim (PyPI)"),
    Source("gensim lee news corpus", ("gensim:lee_background.cor",), "text", "gensim (PyPI)"),
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


READERS: dict[str, Callable[[str], str]] = {"html": html_text, "info": info_text, "pod": pod_text, "man": man_text,
                                            "fortune": fortune_text, "text": text_text}


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


def build(out: Path, max_words: int | None = None) -> dict:
    """Write `out/corpus.txt` and `out/sources.json`; returns the summary."""
    out.mkdir(parents=True, exist_ok=True)
    queues = []
    for source in SOURCES:
        files = source_files(source)
        if not files:
            print(f"  missing: {source.name} (install {source.package})", file=sys.stderr)
            continue
        queues.append((source, files))
    stats = {source.name: {"files": len(files), "words": 0, "lines": 0, "duplicate_lines": 0, "package": source.package}
             for source, files in queues}
    seen: set[bytes] = set()
    words = 0
    tmp = out / "corpus.txt.tmp"
    started = time.perf_counter()
    with open(tmp, "w", encoding="utf-8") as f:
        # Round-robin over sources, file by file: any prefix of the corpus mixes every source.
        position = [0] * len(queues)
        while any(position[i] < len(files) for i, (_, files) in enumerate(queues)):
            for i, (source, files) in enumerate(queues):
                if position[i] >= len(files):
                    continue
                path = files[position[i]]
                position[i] += 1
                s = stats[source.name]
                for document in documents(source, path):
                    for sentence in sentences(document):
                        line = " ".join(sentence)
                        digest = hashlib.blake2b(line.encode(), digest_size=8).digest()
                        if digest in seen:
                            s["duplicate_lines"] += 1
                            continue
                        seen.add(digest)
                        f.write(line + "\n")
                        s["words"] += len(sentence)
                        s["lines"] += 1
                        words += len(sentence)
                if max_words and words >= max_words:
                    break
            if max_words and words >= max_words:
                break
    os.replace(tmp, out / "corpus.txt")
    summary = {"words": words, "lines": sum(s["lines"] for s in stats.values()),
               "bytes": os.path.getsize(out / "corpus.txt"), "seconds": round(time.perf_counter() - started, 1),
               "sources": stats}
    (out / "sources.json").write_text(json.dumps(summary, indent=2))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="directory for corpus.txt and sources.json")
    parser.add_argument("--max-words", type=int, default=None, help="stop after this many words (default: all)")
    args = parser.parse_args(argv)
    summary = build(args.out, args.max_words)
    print(f"{args.out / 'corpus.txt'}: {summary['words']:,} words, {summary['lines']:,} lines, "
          f"{summary['bytes'] / 1e6:.1f} MB, no line twice ({summary['seconds']} s)")
    print("| source | package | files | words | lines | duplicate lines dropped |")
    print("|---|---|---|---|---|---|")
    for name, s in sorted(summary["sources"].items(), key=lambda kv: -kv[1]["words"]):
        print(f"| {name} | {s['package']} | {s['files']:,} | {s['words']:,} | {s['lines']:,} | {s['duplicate_lines']:,} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
