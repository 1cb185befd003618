"""AWS credentials problems, recognised once for every boto3 adapter (SageMaker, CloudWatch, S3, ECR).

Missing, expired or rejected credentials are not bugs and not target failures: they get one message
that says what to do, in Actions (OIDC) and on a laptop (a profile).
"""

from __future__ import annotations

from typing import Any, Literal

from cd.errors import CredentialsError

RetryMode = Literal["standard", "adaptive"]


def client_config(retry_mode: RetryMode = "standard", max_attempts: int = 5) -> Any:
    """The botocore config every modelcd AWS client uses: explicit, bounded retries and timeouts."""
    from botocore.config import Config

    return Config(
        retries={"mode": retry_mode, "total_max_attempts": max_attempts},
        connect_timeout=10,
        read_timeout=60,
    )


def s3_client() -> Any:
    """An S3 client with the same bounded retries and timeouts as every other modelcd client."""
    import boto3

    return boto3.client("s3", config=client_config())


# Error codes AWS answers when the credentials themselves are expired or not recognised.
REJECTED_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "AuthFailure",
    }
)

HINT = (
    "in GitHub Actions, run aws-actions/configure-aws-credentials with `role-to-assume` (OIDC, and "
    "`permissions: id-token: write`) before this step; elsewhere set AWS_PROFILE (after `aws sso login` "
    "if it is an SSO profile) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
)


def credentials_error(exc: BaseException, what: str) -> CredentialsError | None:
    """A CredentialsError naming `what` was attempted, when `exc` is a credentials problem; else None."""
    from botocore.exceptions import (
        ClientError,
        CredentialRetrievalError,
        NoCredentialsError,
        PartialCredentialsError,
        TokenRetrievalError,
    )

    if isinstance(exc, NoCredentialsError):
        return CredentialsError(f"{what}: no AWS credentials found; {HINT}")
    if isinstance(exc, PartialCredentialsError | CredentialRetrievalError | TokenRetrievalError):
        return CredentialsError(f"{what}: AWS credentials could not be loaded ({exc}); {HINT}")
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if code in REJECTED_CODES:
            message = exc.response.get("Error", {}).get("Message", "")
            return CredentialsError(f"{what}: AWS rejected the credentials ({code}: {message}); {HINT}")
    return None
