"""No secrets in the repository: every file git would commit is scanned for key-like strings.

Configuration comes from the environment (SECRET_KEY, SMTP_URL, Stripe keys, …) and the
development secret lives in `var/` (ignored). This test fails when a private key, a live
payment key, a cloud or forge token, or a URL with an embedded password other than the
documented placeholders gets into a tracked or new file.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PATTERNS = {
    "private key": re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----"),
    "Stripe live key": re.compile(r"\b(?:sk|rk|pk)_live_[A-Za-z0-9]{16,}"),
    "Stripe webhook secret": re.compile(r"\bwhsec_[A-Za-z0-9]{32,}"),
    "AWS access key": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b"),
    "password in a URL": re.compile(
        r"\b(?:postgres(?:ql)?|redis|rediss|smtps?|amqp)://[^\s:/@'\"]+:([^\s@'\"]+)@"
    ),
}
# Placeholders the README and docs use on purpose.
URL_PASSWORD_PLACEHOLDERS = {"…", "...", "pass", "password", "secret", "PASSWORD", "user:pass"}
SKIP_SUFFIXES = {
    ".png",
    ".jpg",
    ".jpeg",
    ".webp",
    ".avif",
    ".gif",
    ".ico",
    ".pdf",
    ".ttf",
    ".woff2",
}


def repository_files() -> list[Path]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [ROOT / name for name in listed.split("\0") if name]


def test_no_key_like_string_is_in_a_file_git_would_commit() -> None:
    files = repository_files()
    assert len(files) > 50  # the listing worked
    found: list[str] = []
    for path in files:
        if path.suffix.lower() in SKIP_SUFFIXES or not path.is_file():
            continue
        text = path.read_text(errors="ignore")
        for name, pattern in PATTERNS.items():
            for match in pattern.finditer(text):
                if name == "password in a URL" and match.group(1) in URL_PASSWORD_PLACEHOLDERS:
                    continue
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(ROOT)}:{line}: {name}")
    assert not found, "\n".join(found)


def test_no_environment_or_key_file_is_tracked() -> None:
    names = {path.name for path in repository_files()}
    suspicious = {".env", "secret_key", "id_rsa", "id_ed25519", ".pgpass", ".netrc"}
    assert not names & suspicious
    assert not [n for n in names if n.endswith((".pem", ".key", ".p12", ".pfx"))]


def test_the_scanner_finds_what_it_looks_for() -> None:
    samples = {
        "private key": "-----BEGIN RSA " + "PRIVATE KEY-----",  # split: not a match here
        "Stripe live key": "sk_live_" + "a1B2" * 6,
        "GitHub token": "ghp_" + "x" * 36,
        "password in a URL": "postgres://innovation:" + "hunter2-real@db:5432/x",
    }
    for name, sample in samples.items():
        assert PATTERNS[name].search(sample), name
    placeholder = PATTERNS["password in a URL"].search("postgres://innovation:…@db.internal:5432/")
    assert placeholder and placeholder.group(1) in URL_PASSWORD_PLACEHOLDERS
