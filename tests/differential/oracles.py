"""Three verdicts on one case: ours, ``openssl verify`` and pyhanko-certvalidator's own context.

Each oracle answers ``Verdict(accept, detail)``. Ours is the product's path (path validation,
revocation when a CRL is given, and the SAN identity for sign, as ``myna verify-cert`` does);
``crashed`` marks an untyped exception, which is a failure whatever the others say. openssl
runs with ``-x509_strict``, the case's policy as an explicit policy, and ``-crl_check`` when
the case has a CRL; certvalidator runs with its own defaults (``moment`` and offline apart),
the same policy and key usage, and revocation required when the case has a CRL.
"""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import pem
from asn1crypto import x509 as ax509

from agent.verification.errors import VerificationError, error_code_for
from agent.verification.identity import identity_from_certificate
from agent.verification.revocation import RevocationSource
from agent.verification.trust import Purpose, TrustAnchor, TrustMode, TrustStore
from agent.verification.verify import KEY_USAGE, validate_certificate
from tests.differential.generator import Case

ORACLES = ("openssl", "certvalidator")


@dataclass(frozen=True)
class Verdict:
    accept: bool
    detail: str
    crashed: bool = False


def ours(case: Case, workdir: Path) -> Verdict:
    store = TrustStore(TrustMode.TEST, tuple(TrustAnchor(r, "test", None, True)
                                             for r in case.roots))
    revocation = None
    if case.crl is not None:
        path = workdir / "ours.crl"
        path.write_bytes(case.crl)
        revocation = RevocationSource.crl_file(path)
    purpose = Purpose(case.purpose)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # as in production: warnings are not errors there
            v = validate_certificate(case.ee, store, purpose=purpose, at=case.at,
                                     revocation=revocation)
            if purpose is Purpose.SIGN:
                identity_from_certificate(v.certificate)
    except VerificationError as e:
        code, _message, extra = error_code_for(e)
        return Verdict(False, f"{code}/{extra.get('reason', '-')}")
    except Exception as e:  # noqa: BLE001 - exactly what the differential looks for
        return Verdict(False, f"crash:{type(e).__name__}", crashed=True)
    return Verdict(True, "+".join(v.assurance))


def openssl(case: Case, workdir: Path) -> Verdict:
    roots, ee = workdir / "roots.pem", workdir / "ee.pem"
    roots.write_bytes(b"".join(pem.armor("CERTIFICATE", r) for r in case.roots))
    ee.write_bytes(pem.armor("CERTIFICATE", case.ee))
    cmd = ["openssl", "verify", "-x509_strict", "-no-CApath", "-no-CAstore",
           "-attime", str(int(case.at.timestamp())), "-CAfile", str(roots),
           "-policy", case.policy, "-explicit_policy"]
    if case.crl is not None:
        crl = workdir / "crl.pem"
        crl.write_bytes(pem.armor("X509 CRL", case.crl))
        cmd += ["-CRLfile", str(crl), "-crl_check"]
    out = subprocess.run([*cmd, str(ee)],  # noqa: S603 - fixed argv, our own temp files
                         capture_output=True, text=True, timeout=30, check=False)
    text = (out.stdout + out.stderr).strip()
    if out.returncode == 0 and text.endswith("OK"):
        return Verdict(True, "OK")
    errors = [line.split(":", 1)[-1].strip() for line in text.splitlines()
              if line.startswith("error ")]
    return Verdict(False, errors[0] if errors else text.splitlines()[-1][:80] if text else "?")


def certvalidator(case: Case, workdir: Path) -> Verdict:
    from pyhanko_certvalidator import CertificateValidator, ValidationContext
    from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError
    from pyhanko_certvalidator.errors import ValidationError as CvValidationError
    from pyhanko_certvalidator.policy_decl import PKIXValidationParams

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ee = ax509.Certificate.load(case.ee)
            context = ValidationContext(
                trust_roots=[ax509.Certificate.load(r) for r in case.roots], moment=case.at,
                allow_fetching=False, crls=[case.crl] if case.crl else [],
                revocation_mode="require" if case.crl else "soft-fail")
            params = PKIXValidationParams(user_initial_policy_set=frozenset({case.policy}),
                                          initial_explicit_policy=True)
            validator = CertificateValidator(ee, validation_context=context,
                                             pkix_params=params)
            asyncio.run(validator.async_validate_usage(KEY_USAGE[Purpose(case.purpose)]))
    except (PathBuildingError, PathValidationError, CvValidationError) as e:
        return Verdict(False, type(e).__name__)
    except Exception as e:  # noqa: BLE001 - the oracle's own crash is a finding, not an answer
        return Verdict(False, f"crash:{type(e).__name__}", crashed=True)
    return Verdict(True, "OK")


def judge(case: Case) -> dict[str, Verdict]:
    """All three verdicts on ``case``."""
    with tempfile.TemporaryDirectory(prefix="myna-diff-") as tmp:
        work = Path(tmp)
        return {"ours": ours(case, work), "openssl": openssl(case, work),
                "certvalidator": certvalidator(case, work)}
