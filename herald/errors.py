"""Domain errors.

Domain code raises these and knows neither HTTP status codes nor AWS error names;
``herald.protocols.errors`` maps each class (along its MRO) to the wire shape of the
service that answered. Messages must never carry key material, message bodies or
credentials.
"""

from __future__ import annotations


class HeraldError(Exception):
    """Base of every error Herald raises on purpose."""

    def __init__(self, message: str, resource: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.resource = resource  # the ARN the error is about, for audit trails


class CallerFault(HeraldError):
    """The caller can fix it (4xx)."""


class ServiceFault(HeraldError):
    """Our fault (5xx)."""


# -- generic caller faults -------------------------------------------------------------


class InvalidParameter(CallerFault):
    """A parameter is missing, malformed or out of range."""


class InvalidParameterValue(InvalidParameter):
    """A value is well-formed but not acceptable (SNS: message attributes)."""


class ValidationFailed(InvalidParameter):
    """A value breaks a constraint of the API model (length, required member)."""


class MalformedPolicy(InvalidParameter):
    """A policy document that is not valid policy language."""


class NotFound(CallerFault):
    """The named resource does not exist."""


class ResourceNotFound(NotFound):
    """The resource named by an ARN in a tagging call does not exist."""


class AlreadyExists(CallerFault):
    """A resource with that name already exists with other settings."""


class AccessDenied(CallerFault):
    """The principal is not allowed to do this."""


class InvalidState(CallerFault):
    """The resource is not in a state that allows this."""


class Throttled(CallerFault):
    """Too many requests."""


class LimitExceeded(CallerFault):
    """A quota was reached."""


class TopicLimitExceeded(LimitExceeded):
    pass


class SubscriptionLimitExceeded(LimitExceeded):
    pass


class TagLimitExceeded(LimitExceeded):
    pass


class FilterPolicyLimitExceeded(LimitExceeded):
    pass


class UnsupportedOperation(CallerFault):
    """The operation exists in AWS but Herald does not offer it."""


class InvalidSecurity(CallerFault):
    """The request must be made over HTTPS and signed with SigV4."""


# -- batch requests --------------------------------------------------------------------


class EmptyBatchRequest(CallerFault):
    pass


class TooManyEntriesInBatchRequest(CallerFault):
    pass


class BatchEntryIdsNotDistinct(CallerFault):
    pass


class BatchRequestTooLong(CallerFault):
    pass


class InvalidBatchEntryId(CallerFault):
    pass


# -- request framing and authentication -------------------------------------------------


class MalformedRequest(CallerFault):
    """The request cannot be parsed at all."""


class RequestTooLarge(CallerFault):
    """The request body is over the size limit."""


class RequestTimeout(CallerFault):
    """The request did not arrive in time."""


class InvalidAction(CallerFault):
    """The Action (or X-Amz-Target) names no operation of the service."""


class MissingAction(InvalidAction):
    pass


class InvalidVersion(CallerFault):
    """The Version parameter names an API version the service does not speak."""


class AuthFailure(CallerFault):
    """Base for authentication failures."""


class MissingAuthenticationToken(AuthFailure):
    pass


class IncompleteSignature(AuthFailure):
    pass


class InvalidClientTokenId(AuthFailure):
    pass


class ExpiredToken(AuthFailure):
    """Temporary credentials past their expiration."""


class PackedPolicyTooLarge(CallerFault):
    """Session policies (and tags) that exceed STS's packed size."""


class SignatureMismatch(AuthFailure):
    pass


class RequestExpired(AuthFailure):
    pass


# -- service faults --------------------------------------------------------------------


class StoreUnavailable(ServiceFault):
    """The store could not complete the request."""


# -- the key service ---------------------------------------------------------------------


class KeyDisabled(CallerFault):
    """The key is disabled (DisabledException)."""


class KeyInvalidState(InvalidState):
    """The key's state does not allow the operation (KMSInvalidStateException)."""


class InvalidCiphertext(CallerFault):
    """A ciphertext that does not open: every such failure looks the same to the caller."""


class IncorrectKey(CallerFault):
    """A ciphertext of another key than the one named."""


class InvalidKeyUsage(CallerFault):
    pass


class InvalidAliasName(InvalidParameter):
    pass


class InvalidArn(InvalidParameter):
    pass


class TagFault(InvalidParameter):
    """A tag the key service refuses (TagException)."""


class OptInRequired(CallerFault):
    """The operator has switched the key service off for the account."""


class CustomKeyStoreNotFound(NotFound):
    """A custom key store that does not exist (Herald has none)."""


class Conflict(CallerFault):
    """Another change to the same resource was being made at the same moment."""


class DryRunSucceeded(CallerFault):
    """The request would have succeeded, but the caller asked only to try it (DryRun)."""


# -- topic encryption: the key service's failures as SNS reports them --------------------


class KMSFault(CallerFault):
    """The key service refused a request SNS made for the publisher."""


class KMSAccessDenied(KMSFault):
    pass


class KMSDisabled(KMSFault):
    pass


class KMSInvalidState(KMSFault):
    pass


class KMSNotFound(KMSFault):
    pass


class KMSOptInRequired(KMSFault):
    pass


class KMSThrottling(KMSFault):
    pass
