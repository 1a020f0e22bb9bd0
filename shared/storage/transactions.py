"""DynamoDB transactions whose failed conditions are reported by the name of the operation that failed."""

from __future__ import annotations

import functools

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from shared.errors import StorageUnavailableError
from shared.storage.models import TipItem

_CONDITION_FAILED = "ConditionalCheckFailed"


@functools.cache
def connection(region: str) -> Connection:
    """One connection per container: each new one builds a botocore client (about 45 ms)."""
    return Connection(region=region)


def is_condition_failure(error: Exception) -> bool:
    """Whether a single PutItem/UpdateItem failed on its condition (as opposed to DynamoDB being unavailable)."""
    return getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException"


class ConditionFailedError(Exception):
    def __init__(self, operation: str) -> None:
        super().__init__(operation)
        self.operation = operation


def commit(operations: list) -> None:
    """Run named operations as one transaction; ConditionFailedError names the first whose condition failed."""
    named = NamedTransaction()
    try:
        with TransactWrite(connection=connection(TipItem.Meta.region)) as transaction:
            named.transaction = transaction
            for name, operation in operations:
                named.current = name
                operation(named)
    except TransactWriteError as error:
        reasons = error.cancellation_reasons or []
        for name, reason in zip(named.sent_order(), reasons, strict=False):
            if reason is not None and reason.code == _CONDITION_FAILED:
                raise ConditionFailedError(name) from error
        if any(reason is not None and reason.code == "TransactionConflict" for reason in reasons):
            raise ConditionFailedError("conflict") from error  # another transaction on the same item: retry
        raise StorageUnavailableError("transaction failed") from error


class NamedTransaction:
    """Passes operations to the transaction and remembers their names in the order PynamoDB sends them (all puts,
    then all updates), which is the order of DynamoDB's cancellation reasons. No deletes: IAM lets the functions
    put and update, never delete."""

    def __init__(self) -> None:
        self.transaction: TransactWrite | None = None
        self.current = ""
        self._puts: list[str] = []
        self._updates: list[str] = []

    def save(self, *args, **kwargs) -> None:
        self._puts.append(self.current)
        self.transaction.save(*args, **kwargs)  # type: ignore[union-attr]

    def update(self, *args, **kwargs) -> None:
        self._updates.append(self.current)
        self.transaction.update(*args, **kwargs)  # type: ignore[union-attr]

    def sent_order(self) -> list[str]:
        return self._puts + self._updates
