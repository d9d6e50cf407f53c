"""The demo text: gensim's files extracted as they are read, in this process, through the storage layer."""

import multiprocessing

import pytest

from w2v import storage
from w2v.storage import demo_text
from w2v.errors import StorageError


def test_the_listed_size_is_the_bytes_streamed_and_the_text_is_one_document_per_line():
    (info,) = storage.list_files("sample://lee")
    with storage.open("sample://lee", "rb") as f:
        data = f.read()
    assert info.size == len(data) and data.endswith(b"\n")
    first = data.split(b"\n", 1)[0].decode()
    assert first == first.lower() and "," not in first and "." not in first
    assert len(data.splitlines()) == 300  # the Lee corpus: 300 articles


def test_the_wikipedia_text_is_extracted_without_forking(monkeypatch):
    """get_texts forks a Pool; a fork of a Ray process inherits its signal handlers and threads."""

    def no_fork(*args, **kwargs):
        raise AssertionError("the demo text must not start processes")

    monkeypatch.setattr(multiprocessing, "Pool", no_fork)
    lines = demo_text.lines("sample://wiki")
    assert next(lines).startswith("anarchism ")
    lines.close()


def test_the_demo_text_is_read_only_and_unknown_names_are_named():
    with pytest.raises(StorageError, match="sample://nope: no such demo text"):
        storage.list_files("sample://nope")
    with pytest.raises(StorageError, match="read-only"):
        storage.open("sample://lee", "wb")
    with pytest.raises(StorageError, match="read-only"):
        storage.check_writable("sample://lee")
