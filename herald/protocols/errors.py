"""Domain errors to AWS error shapes, one table per service.

A class is looked up along its MRO, so the most specific entry wins (as Starlette resolves
exception handlers). Anything unmapped is the service's fault: InternalFailure, 500, and
the traceback goes to the log, never into the response.
"""

from __future__ import annotations

from dataclasses import dataclass

from herald import errors as e
from herald.sqs import attributes as sqs_attributes
from herald.sqs import encryption as sqs_encryption
from herald.sqs import moves as sqs_moves
from herald.sqs import permissions as sqs_permissions
from herald.sqs import service as sqs


@dataclass(frozen=True)
class WireError:
    code: str
    status: int
    sender_fault: bool = True

    @property
    def kind(self) -> str:
        return "Sender" if self.sender_fault else "Receiver"


ErrorTable = dict[type[BaseException], WireError]

# Errors every AWS service answers with the same code (AWS "Common Errors").
COMMON: ErrorTable = {
    # Every caller fault is a 4xx even before it has an entry of its own.
    e.CallerFault: WireError("InvalidRequest", 400),
    e.AuthFailure: WireError("AccessDenied", 403),
    e.AlreadyExists: WireError("AlreadyExists", 400),
    e.LimitExceeded: WireError("LimitExceeded", 400),
    e.AccessDenied: WireError("AccessDenied", 403),
    e.NotFound: WireError("NotFound", 404),
    e.MissingAuthenticationToken: WireError("MissingAuthenticationToken", 403),
    e.IncompleteSignature: WireError("IncompleteSignature", 400),
    e.InvalidClientTokenId: WireError("InvalidClientTokenId", 403),
    e.ExpiredToken: WireError("ExpiredToken", 403),
    e.SignatureMismatch: WireError("SignatureDoesNotMatch", 403),
    e.RequestExpired: WireError("RequestExpired", 400),
    e.InvalidAction: WireError("InvalidAction", 400),
    e.MissingAction: WireError("MissingAction", 400),
    e.InvalidVersion: WireError("InvalidAction", 400),
    e.MalformedRequest: WireError("MalformedQueryString", 404),
    e.RequestTooLarge: WireError("RequestEntityTooLarge", 413),
    e.RequestTimeout: WireError("RequestTimeout", 408),
    e.UnsupportedOperation: WireError("UnsupportedOperation", 400),
    e.InvalidParameter: WireError("InvalidParameterValue", 400),
    e.Throttled: WireError("ThrottlingException", 400),
    e.ServiceFault: WireError("InternalFailure", 500, sender_fault=False),
}

# Codes and statuses from botocore's SNS model (sns/2010-03-31/service-2.json).
SNS: ErrorTable = {
    **COMMON,
    e.InvalidParameter: WireError("InvalidParameter", 400),
    e.InvalidParameterValue: WireError("ParameterValueInvalid", 400),
    # AWS answers model-constraint failures with this unmodelled code.
    e.ValidationFailed: WireError("ValidationError", 400),
    e.NotFound: WireError("NotFound", 404),
    e.ResourceNotFound: WireError("ResourceNotFound", 404),
    e.AccessDenied: WireError("AuthorizationError", 403),
    e.InvalidState: WireError("InvalidState", 400),
    e.Throttled: WireError("Throttled", 429),
    e.TopicLimitExceeded: WireError("TopicLimitExceeded", 403),
    e.SubscriptionLimitExceeded: WireError("SubscriptionLimitExceeded", 403),
    e.TagLimitExceeded: WireError("TagLimitExceeded", 400),
    e.FilterPolicyLimitExceeded: WireError("FilterPolicyLimitExceeded", 403),
    e.InvalidSecurity: WireError("InvalidSecurity", 403),
    e.EmptyBatchRequest: WireError("EmptyBatchRequest", 400),
    e.TooManyEntriesInBatchRequest: WireError("TooManyEntriesInBatchRequest", 400),
    e.BatchEntryIdsNotDistinct: WireError("BatchEntryIdsNotDistinct", 400),
    e.BatchRequestTooLong: WireError("BatchRequestTooLong", 400),
    e.InvalidBatchEntryId: WireError("InvalidBatchEntryId", 400),
    # The key service's failures on the publish path (SNS Publish errors in botocore).
    e.KMSAccessDenied: WireError("KMSAccessDenied", 400),
    e.KMSDisabled: WireError("KMSDisabled", 400),
    e.KMSInvalidState: WireError("KMSInvalidState", 400),
    e.KMSNotFound: WireError("KMSNotFound", 400),
    e.KMSOptInRequired: WireError("KMSOptInRequired", 403),
    e.KMSThrottling: WireError("KMSThrottling", 400),
    e.ServiceFault: WireError("InternalError", 500, sender_fault=False),
}

# Codes and statuses from botocore's IAM model (iam/2010-05-08/service-2.json).
IAM: ErrorTable = {
    **COMMON,
    e.InvalidParameter: WireError("InvalidInput", 400),
    e.ValidationFailed: WireError("ValidationError", 400),
    e.MalformedPolicy: WireError("MalformedPolicyDocument", 400),
    e.NotFound: WireError("NoSuchEntity", 404),
    e.AlreadyExists: WireError("EntityAlreadyExists", 409),
    e.InvalidState: WireError("DeleteConflict", 409),
    e.LimitExceeded: WireError("LimitExceeded", 409),
    e.AccessDenied: WireError("AccessDenied", 403),
    e.ServiceFault: WireError("ServiceFailure", 500, sender_fault=False),
}

# Codes and statuses from botocore's STS model (sts/2011-06-15/service-2.json).
STS: ErrorTable = {
    **COMMON,
    e.InvalidParameter: WireError("InvalidParameterValue", 400),
    e.ValidationFailed: WireError("ValidationError", 400),
    e.MalformedPolicy: WireError("MalformedPolicyDocument", 400),
    e.PackedPolicyTooLarge: WireError("PackedPolicyTooLarge", 400),
    e.AccessDenied: WireError("AccessDenied", 403),
    e.ServiceFault: WireError("InternalFailure", 500, sender_fault=False),
}

# Codes from botocore's KMS model (kms/2014-11-01/service-2.json); the JSON protocol
# answers every client error with 400, as AWS KMS does, and uses the JSON services'
# names for authentication failures.
KMS: ErrorTable = {
    e.CallerFault: WireError("ValidationException", 400),
    e.InvalidParameter: WireError("ValidationException", 400),
    e.MalformedRequest: WireError("SerializationException", 400),
    e.RequestTooLarge: WireError("RequestEntityTooLarge", 413),
    e.RequestTimeout: WireError("RequestTimeout", 408),
    e.AuthFailure: WireError("AccessDeniedException", 400),
    e.MissingAuthenticationToken: WireError("MissingAuthenticationTokenException", 400),
    e.IncompleteSignature: WireError("IncompleteSignatureException", 400),
    e.InvalidClientTokenId: WireError("UnrecognizedClientException", 400),
    e.SignatureMismatch: WireError("InvalidSignatureException", 400),
    e.RequestExpired: WireError("InvalidSignatureException", 400),
    e.ExpiredToken: WireError("ExpiredTokenException", 400),
    e.InvalidAction: WireError("UnknownOperationException", 400),
    e.NotFound: WireError("NotFoundException", 400),
    e.KeyDisabled: WireError("DisabledException", 400),
    e.KeyInvalidState: WireError("KMSInvalidStateException", 400),
    e.InvalidState: WireError("KMSInvalidStateException", 400),
    e.InvalidCiphertext: WireError("InvalidCiphertextException", 400),
    e.IncorrectKey: WireError("IncorrectKeyException", 400),
    e.InvalidKeyUsage: WireError("InvalidKeyUsageException", 400),
    e.InvalidAliasName: WireError("InvalidAliasNameException", 400),
    e.InvalidArn: WireError("InvalidArnException", 400),
    e.TagFault: WireError("TagException", 400),
    e.AlreadyExists: WireError("AlreadyExistsException", 400),
    e.LimitExceeded: WireError("LimitExceededException", 400),
    e.MalformedPolicy: WireError("MalformedPolicyDocumentException", 400),
    e.AccessDenied: WireError("AccessDeniedException", 400),
    e.UnsupportedOperation: WireError("UnsupportedOperationException", 400),
    e.Throttled: WireError("ThrottlingException", 400),
    e.OptInRequired: WireError("OptInRequired", 403),
    e.CustomKeyStoreNotFound: WireError("CustomKeyStoreNotFoundException", 400),
    e.DryRunSucceeded: WireError("DryRunOperationException", 400),
    e.Conflict: WireError("ConflictException", 400),
    e.ServiceFault: WireError("KMSInternalException", 500, sender_fault=False),
}

# SQS over JSON 1.0: codes are botocore's shape names; SQS_QUERY_CODES gives the Query
# protocol's codes that the x-amzn-query-error header carries (what SDKs report).
SQS: ErrorTable = {
    e.CallerFault: WireError("InvalidParameterValueException", 400),
    e.InvalidParameter: WireError("InvalidParameterValueException", 400),
    e.ValidationFailed: WireError("ValidationException", 400),
    e.MalformedRequest: WireError("SerializationException", 400),
    e.RequestTooLarge: WireError("InvalidParameterValueException", 400),
    e.RequestTimeout: WireError("RequestTimeout", 408),
    e.AuthFailure: WireError("AccessDenied", 403),
    e.MissingAuthenticationToken: WireError("MissingAuthenticationToken", 403),
    e.IncompleteSignature: WireError("IncompleteSignature", 400),
    e.InvalidClientTokenId: WireError("InvalidClientTokenId", 403),
    e.SignatureMismatch: WireError("SignatureDoesNotMatch", 403),
    e.RequestExpired: WireError("RequestExpired", 400),
    e.ExpiredToken: WireError("ExpiredToken", 403),
    e.InvalidAction: WireError("InvalidAction", 400),
    e.AccessDenied: WireError("AccessDenied", 403),
    e.NotFound: WireError("QueueDoesNotExist", 400),
    e.LimitExceeded: WireError("OverLimit", 400),
    e.UnsupportedOperation: WireError("UnsupportedOperation", 400),
    e.EmptyBatchRequest: WireError("EmptyBatchRequest", 400),
    e.TooManyEntriesInBatchRequest: WireError("TooManyEntriesInBatchRequest", 400),
    e.BatchEntryIdsNotDistinct: WireError("BatchEntryIdsNotDistinct", 400),
    e.BatchRequestTooLong: WireError("BatchRequestTooLong", 400),
    e.InvalidBatchEntryId: WireError("InvalidBatchEntryId", 400),
    sqs_attributes.InvalidAttributeName: WireError("InvalidAttributeName", 400),
    sqs_attributes.InvalidAttributeValue: WireError("InvalidAttributeValue", 400),
    sqs.QueueDoesNotExist: WireError("QueueDoesNotExist", 400),
    sqs.QueueNameExists: WireError("QueueNameExists", 400),
    sqs.ReceiptHandleIsInvalid: WireError("ReceiptHandleIsInvalid", 400),
    sqs.PurgeQueueInProgress: WireError("PurgeQueueInProgress", 403),
    sqs.QueueDeletedRecently: WireError("QueueDeletedRecently", 400),
    sqs.InvalidMessageContents: WireError("InvalidMessageContents", 400),
    sqs.MissingParameter: WireError("MissingRequiredParameterException", 400),
    sqs_moves.MoveTaskNotFound: WireError("ResourceNotFoundException", 404),
    sqs_permissions.TooManyActions: WireError("OverLimit", 403),
    sqs_encryption.KmsAccessDenied: WireError("KmsAccessDenied", 400),
    sqs_encryption.KmsDisabled: WireError("KmsDisabled", 400),
    sqs_encryption.KmsInvalidState: WireError("KmsInvalidState", 400),
    sqs_encryption.KmsNotFound: WireError("KmsNotFound", 400),
    sqs_encryption.KmsOptInRequired: WireError("KmsOptInRequired", 403),
    sqs_encryption.KmsThrottled: WireError("KmsThrottled", 400),
    e.ServiceFault: WireError("InternalError", 500, sender_fault=False),
}
SQS_QUERY_CODES = {
    "QueueDoesNotExist": "AWS.SimpleQueueService.NonExistentQueue",
    "QueueNameExists": "QueueAlreadyExists",
    "PurgeQueueInProgress": "AWS.SimpleQueueService.PurgeQueueInProgress",
    "QueueDeletedRecently": "AWS.SimpleQueueService.QueueDeletedRecently",
    "EmptyBatchRequest": "AWS.SimpleQueueService.EmptyBatchRequest",
    "TooManyEntriesInBatchRequest": "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
    "BatchEntryIdsNotDistinct": "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
    "BatchRequestTooLong": "AWS.SimpleQueueService.BatchRequestTooLong",
    "InvalidBatchEntryId": "AWS.SimpleQueueService.InvalidBatchEntryId",
    "UnsupportedOperation": "AWS.SimpleQueueService.UnsupportedOperation",
    "InvalidParameterValueException": "InvalidParameterValue",
    "InvalidAttributeName": "InvalidAttributeName",
    "InvalidAttributeValue": "InvalidAttributeValue",
    "ReceiptHandleIsInvalid": "ReceiptHandleIsInvalid",
    "InvalidMessageContents": "InvalidMessageContents",
    "MissingRequiredParameterException": "MissingParameter",
    "OverLimit": "OverLimit",
    "AccessDenied": "AccessDenied",
    "KmsAccessDenied": "KMS.AccessDeniedException",
    "KmsDisabled": "KMS.DisabledException",
    "KmsInvalidState": "KMS.InvalidStateException",
    "KmsNotFound": "KMS.NotFoundException",
    "KmsOptInRequired": "KMS.OptInRequired",
    "KmsThrottled": "KMS.ThrottlingException",
}

# The same errors as the SQS Query protocol names them.
SQS_QUERY: ErrorTable = {
    cls: WireError(SQS_QUERY_CODES.get(wire.code, wire.code), wire.status, wire.sender_fault)
    for cls, wire in SQS.items()
}

INTERNAL = WireError("InternalFailure", 500, sender_fault=False)


def lookup(table: ErrorTable, exc: BaseException) -> WireError:
    """The wire error for ``exc``: the entry of the nearest class in its MRO."""
    for cls in type(exc).__mro__:
        found = table.get(cls)
        if found is not None:
            return found
    return INTERNAL
