"""The benchmark corpus: prose out of installed documentation, each line once, every source counted."""

import json

import pytest

from jobs import make_corpus
from jobs.make_corpus import (Source, dict_text, html_text, man_text, rdata_text, sentences, sword_text,
                              wordnet_text)


def test_every_line_is_written_once_and_every_source_is_counted(tmp_path, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.html").write_text("<html><title>Guide</title><p>The quick brown fox jumps over the lazy dog.</p>"
                                 "<pre>code that is never prose at all</pre><p>Licensed under the same terms as "
                                 "everything else here.</p></html>")
    (docs / "b.txt").write_text("Licensed under the same terms as everything else here.\n\n"
                                "A second file says something new about foxes and dogs.\n")
    monkeypatch.setattr(make_corpus, "SOURCES", (
        Source("pages", (str(docs / "*.html"),), "html", "pages-doc"),
        Source("texts", (str(docs / "*.txt"),), "text", "texts-doc"),
        Source("absent", (str(tmp_path / "nowhere" / "*.txt"),), "text", "absent-doc"),
    ))
    summary = make_corpus.build(tmp_path / "out")
    lines = (tmp_path / "out" / "corpus.txt").read_text().splitlines()
    assert lines == ["the quick brown fox jumps over the lazy dog",
                     "licensed under the same terms as everything else here",
                     "a second file says something new about foxes and dogs"]
    assert summary["sources"]["texts"]["duplicate_lines"] == 1 and "absent" not in summary["sources"]
    assert summary["words"] == sum(len(line.split()) for line in lines)
    assert json.loads((tmp_path / "out" / "sources.json").read_text())["words"] == summary["words"]


def test_markup_is_dropped_and_prose_kept(tmp_path):
    page = tmp_path / "page.html"
    page.write_text("<p>Use the <code>--flag</code> option when the disk is full.</p><script>var x = 1;</script>")
    assert [" ".join(s) for s in sentences(html_text(str(page)))] == ["use the option when the disk is full"]
    manual = tmp_path / "ls.1"
    manual.write_text(".TH LS 1\n.SH NAME\nls \\- list directory contents\n.SH DESCRIPTION\n"
                      "List \\fBinformation\\fR about the files here.\n")
    assert "list information about the files here" in [" ".join(s) for s in sentences(man_text(str(manual)))]


def _dictd(directory, name, entries):
    """A dictd dictionary as `dictfmt` writes it: entries in a dictzip (gzip) file, base-64 offsets in the index."""
    import gzip

    from jobs.make_corpus import _DICT_OFFSET_DIGITS

    def b64(n):
        digits = ""
        while True:
            digits = _DICT_OFFSET_DIGITS[n % 64] + digits
            n //= 64
            if not n:
                return digits

    body, index = b"", []
    for headwords, text in entries:
        data = text.encode()
        index += [f"{word}\t{b64(len(body))}\t{b64(len(data))}\n" for word in headwords]
        body += data
    with gzip.open(directory / f"{name}.dict.dz", "wb") as f:
        f.write(body)
    (directory / f"{name}.index").write_text("".join(sorted(index)))
    return str(directory / f"{name}.dict.dz")


def test_a_dictionary_gives_each_entry_once_without_its_markup(tmp_path):
    path = _dictd(tmp_path, "webster", [
        (["00-database-info"], "This file was converted from the original database on a Tuesday.\n\n"),
        (["abuse", "abused"], 'Abuse \\A*buse"\\, v. t. [F. abuser; L. abusus.]\n   1. To put to a wrong or bad '
                              "use; to misuse or treat badly.\n      [1913 Webster]\n\n            This principle "
                              "shoots rapidly into popularity. --Froude.\n      [1913 Webster]\n\n"),
        (["lauryl alcohol"], "lauryl alcohol n.\n   1. an insoluble solid alcohol used to make detergents of all "
                             "kinds.\n        [WordNet 1.5]\n\n"),
    ])
    lines = [" ".join(s) for s in sentences(dict_text(path))]
    assert lines == ["to put to a wrong or bad use", "to misuse or treat badly",
                     "this principle shoots rapidly into popularity"]


def test_wordnet_glosses_are_read_without_the_licence_or_the_pointers(tmp_path):
    data = tmp_path / "data.noun"
    data.write_text("  1 This software and database is being provided to you, the LICENSEE, by Princeton.  \n"
                    "00001740 03 n 01 entity 0 003 ~ 00001930 n 0000 | that which is perceived or known or inferred "
                    "to have its own distinct existence  \n"
                    "00406612 04 n 02 fold 0 folding 0 001 @ 00404403 n 0000 | the act of folding; "
                    '"he gave the napkins a double fold"  \n')
    assert [" ".join(s) for s in sentences(wordnet_text(str(data)))] == [
        "that which is perceived or known or inferred to have its own distinct existence",
        "he gave the napkins a double fold"]


def _sword(directory, blocks, entries, four_byte_sizes=False):
    """A zText/zCom module: zlib blocks, a block index (offset, size, size) and an entry index (block, start, size)."""
    import struct
    import zlib

    data, block_index = b"", b""
    for block in blocks:
        packed = zlib.compress(block.encode())
        block_index += struct.pack("<III", len(data), len(packed), len(block.encode()))
        data += packed
    suffix = "c" if four_byte_sizes else "b"
    entry = "<III" if four_byte_sizes else "<IIH"
    (directory / f"ot.{suffix}zz").write_bytes(data)
    (directory / f"ot.{suffix}zs").write_bytes(block_index)
    (directory / f"ot.{suffix}zv").write_bytes(b"".join(struct.pack(entry, *e) for e in entries))
    return str(directory / f"ot.{suffix}zz")


def test_a_sword_module_gives_each_entry_once_without_its_markup(tmp_path):
    verse1 = ('<chapter osisID="Gen.1"/><title>The First Book of Moses</title><w lemma="strong:H07225">In the '
              'beginning</w> <w lemma="strong:H0430">God</w> created the heaven and the earth.<note type="x-study">'
              "Or, the heavens and the whole earth</note>")
    verse2 = "And the earth was without form, and void; and darkness was upon the face of the deep."
    comment = "<div type=\"x-p\"/>The whole chapter speaks of the making of all things &amp; their order."
    block0, block1 = verse1 + verse2, comment
    path = _sword(tmp_path, [block0, block1], [
        (0, 0, 0),  # the module heading: empty
        (0, 0, len(verse1.encode())), (0, len(verse1.encode()), len(verse2.encode())),
        (1, 0, len(comment.encode())), (1, 0, len(comment.encode())),  # one comment on two verses
    ], four_byte_sizes=True)
    assert [" ".join(s) for s in sentences(sword_text(path))] == [
        "the first book of moses",
        "in the beginning god created the heaven and the earth",
        "and the earth was without form and void",
        "and darkness was upon the face of the deep",
        "the whole chapter speaks of the making of all things their order",
    ]
    two_byte = tmp_path / "kjv"
    two_byte.mkdir()
    path = _sword(two_byte, [verse2], [(0, 0, len(verse2.encode()))])
    assert len(list(sentences(sword_text(path)))) == 2


def _r_lazy_data(directory, objects):
    """An R package's `data/Rdata.rdb` and `.rdx` as R writes them (XDR serialization, version 3, zlib)."""
    import gzip
    import struct
    import zlib

    def i(*values):
        return struct.pack(f">{len(values)}i", *values)

    def chars(text):
        return i(9 | (8 << 12), -1) if text is None else i(9 | (8 << 12), len(text.encode())) + text.encode()

    symbols = []

    def symbol(name):  # the second time, a reference to the first (R writes REFSXP)
        if name in symbols:
            return i(255 | ((symbols.index(name) + 1) << 8))
        symbols.append(name)
        return i(1) + chars(name)

    def value(v):
        if isinstance(v, dict):  # a named list
            names = i(16, len(v)) + b"".join(chars(k) for k in v)
            items = b"".join(value(x) for x in v.values())
            return i(19 | (1 << 9), len(v)) + items + i(2 | (1 << 10)) + symbol("names") + names + i(254)
        if v is True:
            return i(10, 1, 1)
        if all(isinstance(x, int) for x in v):
            return i(13, len(v), *v)
        return i(16, len(v)) + b"".join(chars(x) for x in v)

    def serialized(v):
        symbols.clear()
        return b"X\n" + i(3, 0x040201, 0x030500, 5) + b"UTF-8" + value(v)

    rdb, variables = b"", {}
    for name, v in objects.items():
        raw = serialized(v)
        record = i(len(raw)) + zlib.compress(raw)
        variables[name] = [len(rdb), len(record)]
        rdb += record
    (directory / "Rdata.rdb").write_bytes(rdb)
    index = serialized({"variables": variables, "references": {}, "compressed": True})
    (directory / "Rdata.rdx").write_bytes(gzip.compress(index))
    return str(directory / "Rdata.rdb")


def test_an_r_packages_character_data_is_read_as_text(tmp_path):
    path = _r_lazy_data(tmp_path, {
        "emma": ["EMMA", "", "By Jane Austen", "", "CHAPTER I", "",
                 "Emma Woodhouse, handsome, clever, and rich, with a comfortable home",
                 "and happy disposition, seemed to unite some of the best blessings.", None,
                 "She was the youngest of the two daughters."],
        "years": [1815, 1816],  # not text: skipped
    })
    assert [" ".join(s) for s in sentences(rdata_text(path))] == [
        "emma woodhouse handsome clever and rich with a comfortable home and happy disposition seemed to unite "
        "some of the best blessings",
        "she was the youngest of the two daughters"]


def test_the_reference_kind_mixes_its_big_files_into_every_prefix(tmp_path, monkeypatch):
    words = tmp_path / "dictionary"
    words.mkdir()
    glosses = "".join(f"0000{i} 03 n 01 thing 0 000 | gloss number {'x' * (i % 7 + 1)} of the {'y' * (i // 7 + 1)} "
                      f"dictionary here  \n" for i in range(300))
    (words / "data.noun").write_text(glosses)
    (tmp_path / "quotes").write_text("A quotation that is short but says enough.\n%\nAnother quotation of five words "
                                     "or more.\n")
    monkeypatch.setattr(make_corpus, "PART_CHARS", 1_000)
    monkeypatch.setattr(make_corpus, "REFERENCE_SOURCES", (
        Source("glosses", (str(words / "data.*"),), "wordnet", "wordnet-base"),
        Source("fortunes", (str(tmp_path / "quotes"),), "fortune", "fortunes"),
    ))
    summary = make_corpus.build(tmp_path / "out", kind="reference")
    lines = (tmp_path / "out" / "corpus.txt").read_text().splitlines()
    assert lines[:40].count("a quotation that is short but says enough") == 1  # the fortunes' turn comes early
    assert summary["kind"] == "reference" and summary["sources"]["glosses"]["lines"] == 300
    assert summary["corpus_kind"]["tokens"] == summary["words"]
    with pytest.raises(ValueError, match="unknown corpus kind"):
        make_corpus.build(tmp_path / "out", kind="novels")


def test_the_kind_option_picks_the_sources(tmp_path, monkeypatch, capsys):
    (tmp_path / "a.txt").write_text("Five words make a sentence here.\n")
    monkeypatch.setattr(make_corpus, "REFERENCE_SOURCES", (Source("a", (str(tmp_path / "a.txt"),), "text", "a"),))
    assert make_corpus.main(["--out", str(tmp_path / "out"), "--kind", "reference"]) == 0
    out = capsys.readouterr().out
    assert "1 lines" in out and "kind of text: 6 tokens" in out and "| a | a | 1 | 6 | 1 | 0 |" in out
