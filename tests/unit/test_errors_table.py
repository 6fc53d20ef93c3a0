"""Domain errors to wire errors (herald.protocols.errors).

The SNS table against two sources of truth: the class tree of herald.errors (a caller's
fault is never a 5xx, ours never a 4xx) and botocore's SNS model (a code botocore knows
comes with the status and fault botocore expects).
"""

from __future__ import annotations

import inspect

import botocore.session
import pytest

from herald import errors as e
from herald.protocols import errors as wire


def error_classes(base: type[e.HeraldError]) -> list[type[e.HeraldError]]:
    """Every class in herald.errors that is ``base`` or derives from it."""
    return [
        cls
        for _, cls in inspect.getmembers(e, inspect.isclass)
        if issubclass(cls, base) and cls.__module__ == e.__name__
    ]


CALLER_FAULTS = error_classes(e.CallerFault)
SERVICE_FAULTS = error_classes(e.ServiceFault)


def names(classes: list[type[e.HeraldError]]) -> list[str]:
    return [cls.__name__ for cls in classes]


def modelled_errors() -> dict[str, dict[str, object]]:
    """Error code → {httpStatusCode, senderFault} from botocore's SNS model."""
    model = botocore.session.get_session().get_service_model("sns")
    found = {}
    for shape in model.error_shapes:
        error = shape.metadata.get("error")
        if error:
            found[error["code"]] = dict(error)
    return found


MODEL = modelled_errors()


# -- the class tree --------------------------------------------------------------------


@pytest.mark.parametrize("cls", CALLER_FAULTS, ids=names(CALLER_FAULTS))
def test_every_caller_fault_is_a_4xx_in_sns(cls: type[e.HeraldError]) -> None:
    # Given any error the caller can fix
    found = wire.lookup(wire.SNS, cls("message"))
    # Then SNS answers it with a 4xx, blaming the sender
    assert 400 <= found.status < 500, f"{cls.__name__} → {found}"
    assert found.sender_fault


@pytest.mark.parametrize("cls", SERVICE_FAULTS, ids=names(SERVICE_FAULTS))
def test_every_service_fault_is_a_5xx_in_sns(cls: type[e.HeraldError]) -> None:
    found = wire.lookup(wire.SNS, cls("message"))
    assert found.status >= 500
    assert not found.sender_fault
    assert found.kind == "Receiver"


# -- resolution along the MRO ----------------------------------------------------------

SNS_ROWS = {
    e.InvalidParameter: ("InvalidParameter", 400),
    e.InvalidParameterValue: ("ParameterValueInvalid", 400),
    e.ValidationFailed: ("ValidationError", 400),
    e.NotFound: ("NotFound", 404),
    e.ResourceNotFound: ("ResourceNotFound", 404),
    e.AccessDenied: ("AuthorizationError", 403),
    e.TagLimitExceeded: ("TagLimitExceeded", 400),
    e.TopicLimitExceeded: ("TopicLimitExceeded", 403),
    e.Throttled: ("Throttled", 429),
    e.MissingAction: ("MissingAction", 400),
    e.InvalidAction: ("InvalidAction", 400),
    e.InvalidVersion: ("InvalidAction", 400),
    e.SignatureMismatch: ("SignatureDoesNotMatch", 403),
    e.MalformedRequest: ("MalformedQueryString", 404),
    e.RequestTooLarge: ("RequestEntityTooLarge", 413),
    e.StoreUnavailable: ("InternalError", 500),
}


@pytest.mark.parametrize(("cls", "expected"), SNS_ROWS.items(), ids=[c.__name__ for c in SNS_ROWS])
def test_the_most_specific_class_wins(cls: type[e.HeraldError], expected: tuple[str, int]) -> None:
    found = wire.lookup(wire.SNS, cls("message"))
    assert (found.code, found.status) == expected


def test_a_subclass_unknown_to_the_table_takes_its_parents_entry() -> None:
    # Given an error class the table has never heard of, below TopicLimitExceeded
    class TopicQuotaForTests(e.TopicLimitExceeded):
        pass

    # When it is looked up, Then it answers as its parent does
    assert wire.lookup(wire.SNS, TopicQuotaForTests("m")) == wire.SNS[e.TopicLimitExceeded]


UNKNOWN = {
    "RuntimeError": RuntimeError("boom"),
    "ValueError": ValueError("bad"),
    "KeyError": KeyError("k"),
    "HeraldError itself": e.HeraldError("neither caller nor service"),
}


@pytest.mark.parametrize("table", [wire.SNS, wire.COMMON], ids=["SNS", "COMMON"])
@pytest.mark.parametrize("exc", UNKNOWN.values(), ids=UNKNOWN.keys())
def test_an_unknown_exception_is_an_internal_failure(
    exc: BaseException, table: wire.ErrorTable
) -> None:
    found = wire.lookup(table, exc)
    assert found == wire.INTERNAL
    assert (found.code, found.status, found.kind) == ("InternalFailure", 500, "Receiver")


# -- botocore's SNS model --------------------------------------------------------------

IN_MODEL = {cls: found for cls, found in wire.SNS.items() if found.code in MODEL}


def test_the_sns_table_uses_the_models_codes() -> None:
    # The model must be found, and most of SNS's own entries must be in it; otherwise
    # the comparison below would pass by comparing nothing.
    assert len(IN_MODEL) >= 15


@pytest.mark.parametrize(("cls", "found"), IN_MODEL.items(), ids=[c.__name__ for c in IN_MODEL])
def test_a_modelled_code_has_the_models_status_and_fault(
    cls: type[BaseException], found: wire.WireError
) -> None:
    modelled = MODEL[found.code]
    assert found.status == modelled["httpStatusCode"]
    assert found.sender_fault == bool(modelled.get("senderFault", False))
