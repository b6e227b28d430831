"""Every catalogue is valid for GNU msgfmt (translators' tools and distributions use it, not
only Babel): syntax, plural forms, header fields and matching printf placeholders."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.catalogues import ROOT

CATALOGUES = sorted(ROOT.glob("*/locale/*/LC_MESSAGES/messages.po"))
MSGFMT = shutil.which("msgfmt")


def test_every_package_has_catalogues():
    packages = {path.relative_to(ROOT).parts[0] for path in CATALOGUES}
    assert {"ecosystem", "labs", "incubator", "hackathon"} <= packages
    locales = {path.relative_to(ROOT).parts[2] for path in CATALOGUES}
    assert {"vi", "en"} <= locales


@pytest.mark.skipif(MSGFMT is None, reason="GNU msgfmt is not installed (apt-get install gettext)")
@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: str(p.relative_to(ROOT)))
def test_msgfmt_accepts_the_catalogue(path):
    result = subprocess.run(
        [MSGFMT, "--check-format", "--check-header", "-o", "/dev/null", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    # Warnings (a header field left at its template value) count as failures too.
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
