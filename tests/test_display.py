"""display: what a person sees of untrusted text is bounded, free of credentials and of control characters."""

from w2v.display import SHOWN_CHARS, has_userinfo, printable, redact, shown


def test_shown_is_bounded_for_deep_wide_long_and_recursive_values():
    loop: list = []
    loop.append(loop)
    for value in ([[[[[[1]]]]]], list(range(10**6)), "x" * 10**6, {i: i for i in range(10**5)}, loop, b"y" * 10**6):
        assert len(shown(value)) <= SHOWN_CHARS + 3
    assert shown(5) == "5" and shown("window") == "'window'"


def test_redact_removes_userinfo_and_leaves_everything_else():
    assert redact("s3://K:S@b/p and s3://b/a@b.txt /tmp/a@b") == "s3://***@b/p and s3://b/a@b.txt /tmp/a@b"
    assert not has_userinfo("/home/me@work/corpus") and has_userinfo("http://u@host/")


def test_printable_escapes_every_control_character_and_keeps_text():
    assert printable("a\rb\x1b[2Jc\x07\x00\u202e") == "a\\rb\\x1b[2Jc\\x07\\x00\\u202e"
    assert printable("naïve 東京 ok") == "naïve 東京 ok"
