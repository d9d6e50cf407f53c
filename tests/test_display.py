"""display: what a person sees of untrusted text is bounded, free of credentials and of control characters."""

import pytest

from w2v.display import SHOWN_CHARS, credentials_refused, has_userinfo, printable, redact, redacted, shown


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


# Real AWS secret keys are 40 characters of base64: about half hold a `/`, many a `+`; passwords hold `@`.
SECRETS = ["wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "p@ss", "a/b@c+d", "/lead/", "9/x@y"]


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize("form", ["s3://AKIAFAKE:{}@bucket/corpus/x.txt", "http://user:{}@host:8080/x.txt"])
def test_redact_hides_userinfo_up_to_the_last_at_before_the_host_whatever_the_secret_holds(secret, form):
    uri = form.format(secret)
    shown_uri = redact(f"reading '{uri}': not found")
    assert secret not in shown_uri and "AKIAFAKE" not in shown_uri and "user" not in shown_uri
    assert shown_uri == f"reading '{form.split('://')[0]}://***@{form.split('@', 1)[1]}': not found"
    assert has_userinfo(uri)


def test_redact_hides_a_login_without_password_up_to_the_last_at():
    assert redact("https://tok@en@host/x.txt and ftp://a@b") == "https://***@host/x.txt and ftp://***@b"


def test_redact_hides_the_secret_parameters_of_a_presigned_url_and_keeps_the_rest():
    url = ("https://b.s3.amazonaws.com/c/x.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAFAKE%2F2026"
           "&X-Amz-Security-Token=IQoJb3%2B%2Fz&X-Amz-Signature=f00dcafe&X-Amz-Expires=3600#member=a")
    assert redact(f"{url}: HTTP 403") == (
        "https://b.s3.amazonaws.com/c/x.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=***"
        "&X-Amz-Security-Token=***&X-Amz-Signature=***&X-Amz-Expires=3600#member=a: HTTP 403")
    legacy = "https://h/x?AWSAccessKeyId=AKIAFAKE&Signature=c2ln%2B&Expires=1;sig=abc&access_token=t&monkey=banana"
    assert redact(legacy) == ("https://h/x?AWSAccessKeyId=***&Signature=***&Expires=1;sig=***&access_token=***"
                              "&monkey=banana")
    assert redacted({"corpus": [url], "n": 1})["corpus"][0].count("***") == 3


def test_redact_leaves_paths_with_at_signs_and_ports_alone():
    for uri in ("s3://bucket/a@b.txt", "https://medium.com/@user/post", "http://127.0.0.1:8265", "/home/me@work/x"):
        assert redact(uri) == uri and not has_userinfo(uri)


def test_the_refusal_of_credentials_in_an_http_url_does_not_send_the_user_to_aws():
    assert "AWS" not in credentials_refused("http://u:p@h/x") and "AWS" in credentials_refused("s3://K:S@b/x")
    assert "MLFLOW_TRACKING_PASSWORD" in credentials_refused("http://u:p@h", "mlflow")
