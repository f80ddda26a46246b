"""The differential sample: every mutation under RSA-2048, P-384 and Ed25519, sign and auth.

Our verdict must never be an untyped exception, and must equal openssl's and
pyhanko-certvalidator's unless tests/differential/allowed.py lists that disagreement with a
reason. The full run over every key family is ``bench/differential.py``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.differential.allowed import ALLOWED
from tests.differential.generator import Case, cases
from tests.differential.oracles import ORACLES, Verdict, judge

SAMPLE_FAMILIES = ["rsa2048", "p384", "ed25519"]

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None,
                                reason="the openssl CLI is the differential's first oracle")


@pytest.fixture(scope="module")
def verdicts() -> list[tuple[Case, dict[str, Verdict]]]:
    return [(case, judge(case)) for case in cases(SAMPLE_FAMILIES)]


def _disagreements(verdicts) -> Iterator[tuple[Case, str, Verdict, Verdict]]:  # type: ignore[no-untyped-def]
    for case, v in verdicts:
        for oracle in ORACLES:
            if v[oracle].accept != v["ours"].accept:
                yield case, oracle, v["ours"], v[oracle]


def test_sample_is_a_few_hundred_cases(verdicts):
    assert len(verdicts) >= 300


def test_ours_never_crashes(verdicts):
    crashed = [(c.id, v["ours"].detail) for c, v in verdicts if v["ours"].crashed]
    assert crashed == []


def test_every_disagreement_is_explained(verdicts):
    unexplained = [f"{c.id}: ours {o.detail} vs {oracle} {other.detail}"
                   for c, oracle, o, other in _disagreements(verdicts)
                   if (c.mutation, oracle) not in ALLOWED]
    assert unexplained == []


def test_every_allowed_disagreement_still_happens(verdicts):
    seen = {(c.mutation, oracle) for c, oracle, _o, _other in _disagreements(verdicts)}
    assert sorted(set(ALLOWED) - seen) == []


def test_baseline_and_next_generation_accepted_by_all(verdicts):
    for case, v in verdicts:
        if case.mutation == "baseline" or case.mutation.startswith("next-generation-aki"):
            assert all(x.accept for x in v.values()), (case.id, v)


def test_a_listed_certificate_is_never_accepted(verdicts):
    # Whatever the spelling of the CRL's issuer or partition name, revoked stays revoked.
    for case, v in verdicts:
        if "revoked" in case.mutation or case.mutation == "crl-partition-name-case":
            assert v["ours"].detail == "CERT_REVOKED/revoked", case.id
