"""The benchmark corpus: prose out of installed documentation, each line once, every source counted."""

import json

from jobs import make_corpus
from jobs.make_corpus import Source, html_text, man_text, sentences


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
